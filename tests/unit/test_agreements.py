"""Signed agreements: every party's detached JWS over the canonical form, or refused."""

import base64
import datetime as dt
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.crypto import detached_jws
from gateway.crypto.keys import NodeKeys, init_keys
from gateway.node import agreements
from gateway.node.config import (
    AgreementRefused,
    ConfigError,
    canonical_form,
    load_node_config,
    load_parties,
    merge_agreements,
    read_signed_agreement,
    scan_agreements,
    signature_file,
)

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "config" / "agreements" / "mou-pemkot-bekasi-ombudsman-ri-2021.toml"
PARTIES = ("pemkot-bekasi", "ombudsman-ri")
ENV = {"GATEWAY_KEY_PASSPHRASE": "test-passphrase"}


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """Keys for both shipped parties and a third, made once for the module."""
    base = tmp_path_factory.mktemp("keys")
    for party in (*PARTIES, "pemkot-depok"):
        init_keys(base / party, environ=ENV, note_names=(f"{party}/audit", f"{party}/witness"))
    return base


@pytest.fixture
def config(tmp_path, keys):
    """A copy of config/ whose registry points at ``keys``; the agreement not yet signed."""
    shutil.copytree(ROOT / "config", tmp_path / "config", ignore=shutil.ignore_patterns("*.jws"))
    shutil.copytree(keys, tmp_path / "keys")
    return tmp_path / "config"


def agreement(config: Path) -> Path:
    return config / "agreements" / SHIPPED.name


def signing_key(config: Path, party: str):
    return NodeKeys.from_directory(config.parent / "keys" / party, environ=ENV).signing


def sign_all(config: Path, file: Path | None = None) -> None:
    registry = load_parties(config / "parties")
    for party in PARTIES:
        agreements.sign(file or agreement(config), party, signing_key(config, party), registry)


def refusal(config: Path) -> str:
    with pytest.raises(AgreementRefused) as refused:
        read_signed_agreement(agreement(config), load_parties(config / "parties"))
    return refused.value.reason


def test_an_agreement_signed_by_every_party_is_taken_up(config):
    sign_all(config)
    taken = read_signed_agreement(agreement(config), load_parties(config / "parties"))
    assert taken.id == "mou-pemkot-bekasi-ombudsman-ri-2021" and taken.version == 1
    assert list(taken.parties) == list(PARTIES)
    assert {d.agreement_id for d in taken.flows} == {taken.id}


def test_a_missing_signature_is_refused_naming_the_party(config):
    registry = load_parties(config / "parties")
    key = signing_key(config, "ombudsman-ri")
    agreements.sign(agreement(config), "ombudsman-ri", key, registry)
    assert refusal(config) == (
        "not signed by pemkot-bekasi: "
        "mou-pemkot-bekasi-ombudsman-ri-2021.pemkot-bekasi.jws is missing"
    )


@pytest.mark.parametrize("change", [
    ("max_records_per_batch = 1000", "max_records_per_batch = 1001"),
    ("retention_days = 90", "retention_days = 91"),
    ('receiver = "pemkot-bekasi"', 'receiver = "pemkot-bekasi" '),  # layout only: still valid
])
def test_one_byte_of_content_changed_is_refused(config, change):
    sign_all(config)
    file = agreement(config)
    file.write_text(file.read_text(encoding="utf-8").replace(*change, 1), encoding="utf-8")
    if change[1].endswith(" "):
        read_signed_agreement(file, load_parties(config / "parties"))  # content unchanged
        return
    assert refusal(config) == (
        "the signature of pemkot-bekasi does not match this content "
        "(the agreement, or the signature, changed after it was signed)"
    )


def test_a_signature_with_one_byte_changed_is_refused(config):
    sign_all(config)
    where = signature_file(agreement(config), "ombudsman-ri")
    token = where.read_text().strip()
    flipped = token[:-5] + ("A" if token[-5] != "A" else "B") + token[-4:]
    where.write_text(flipped)
    assert refusal(config).startswith("the signature of ombudsman-ri does not match")


def test_a_signature_by_another_partys_key_is_refused(config):
    sign_all(config)
    mine = signature_file(agreement(config), "ombudsman-ri")
    theirs = signature_file(agreement(config), "pemkot-bekasi")
    shutil.copyfile(theirs, mine)  # Pemkot's valid signature, filed as the Ombudsman's
    assert refusal(config) == (
        f"{mine.name} is not signed by a registered key of ombudsman-ri"
    )


def test_a_key_the_registry_revokes_no_longer_signs(config):
    sign_all(config)
    kid = signing_key(config, "pemkot-bekasi").thumbprint()
    party = config / "parties" / "pemkot-bekasi.toml"
    party.write_text(party.read_text(encoding="utf-8") + f'revoked_keys = ["{kid}"]\n')
    assert "not signed by a registered key of pemkot-bekasi" in refusal(config)


@pytest.mark.parametrize("token", ["", "not a jws", "a.b.c", "..", "eyJhbGciOiJub25lIn0..", "é"])
def test_a_malformed_signature_file_is_refused(config, token):
    sign_all(config)
    signature_file(agreement(config), "pemkot-bekasi").write_text(token, encoding="utf-8")
    assert "pemkot-bekasi" in refusal(config)


def test_a_signature_of_another_kind_is_refused(config):
    """A JWS the party made for something else (typ) does not sign an agreement."""
    sign_all(config)
    data = canonical_form(tomllib.loads(agreement(config).read_text()))
    other = detached_jws.sign(data, signing_key(config, "pemkot-bekasi"), typ="receipt+jws")
    signature_file(agreement(config), "pemkot-bekasi").write_text(other, encoding="ascii")
    assert "is not a detached agreement JWS" in refusal(config)


def test_a_party_not_in_the_registry_is_refused(config):
    file = agreement(config)
    file.write_text(file.read_text(encoding="utf-8").replace(
        'parties = ["pemkot-bekasi", "ombudsman-ri"]',
        'parties = ["pemkot-bekasi", "ombudsman-ri", "pemkot-depok"]'))
    assert refusal(config).startswith("parties[2]: 'pemkot-depok' is not in the party registry")


def test_the_signature_verifies_with_a_plain_ed25519_library(config):
    """A counterparty needs no gateway code: base64url the canonical form, verify RFC 7515."""
    sign_all(config)
    token = signature_file(agreement(config), "pemkot-bekasi").read_text().strip()
    header_b64, empty, signature_b64 = token.split(".")
    assert empty == ""
    header = json.loads(base64.urlsafe_b64decode(header_b64 + "=" * (-len(header_b64) % 4)))
    assert header == {"alg": "Ed25519", "kid": header["kid"], "typ": "gateway-agreement+jws"}
    jwks = json.loads((config.parent / "keys" / "pemkot-bekasi" / "jwks.json").read_text())
    jwk = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    public = Ed25519PublicKey.from_public_bytes(
        base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4)))
    payload = canonical_form(tomllib.loads(agreement(config).read_text()))
    signing_input = f"{header_b64}.".encode() + base64.urlsafe_b64encode(payload).rstrip(b"=")
    public.verify(base64.urlsafe_b64decode(signature_b64 + "=" * (-len(signature_b64) % 4)),
                  signing_input)


def test_signing_with_a_key_the_registry_does_not_hold_is_refused(config):
    registry = load_parties(config / "parties")
    with pytest.raises(AgreementRefused, match="not registered for pemkot-bekasi"):
        agreements.sign(agreement(config), "pemkot-bekasi", signing_key(config, "pemkot-depok"),
                        registry)
    with pytest.raises(AgreementRefused, match="not a party of agreement"):
        agreements.sign(agreement(config), "pemkot-depok", signing_key(config, "pemkot-depok"),
                        registry)
    assert not list((config / "agreements").glob("*.jws"))


def second_agreement(config: Path, *, agreement_id: str, version: int = 1,
                     ends_on: str | None = None) -> Path:
    """A copy of the shipped agreement under another id (same flows)."""
    text = agreement(config).read_text(encoding="utf-8").replace(
        'id = "mou-pemkot-bekasi-ombudsman-ri-2021"', f'id = "{agreement_id}"').replace(
        "version = 1", f"version = {version}" + (f"\nends_on = {ends_on}" if ends_on else ""))
    file = config / "agreements" / f"{agreement_id}.toml"
    file.write_text(text, encoding="utf-8")
    return file


def test_a_flow_already_agreed_elsewhere_is_refused(config):
    sign_all(config)
    sign_all(config, second_agreement(config, agreement_id="mou-copy"))
    registry = load_parties(config / "parties")
    scan = scan_agreements(config / "agreements", registry, "ombudsman-ri")
    assert [a.id for a in scan.agreements] == ["mou-copy"]  # the first file by name
    assert [r.reason.split(" is already")[0] for r in scan.refused] == [
        "the flow permintaan_klarifikasi from ombudsman-ri to pemkot-bekasi"]


def test_an_agreement_past_its_end_stops_its_flows_and_is_kept_as_ended(config):
    sign_all(config, second_agreement(config, agreement_id="mou-ended", ends_on="2026-12-01"))
    registry = load_parties(config / "parties")
    scan = scan_agreements(config / "agreements", registry, "ombudsman-ri")
    ended = scan.agreements[0]
    for today, in_force in ((dt.date(2026, 11, 30), True), (dt.date(2026, 12, 1), False)):
        view = merge_agreements(registry["ombudsman-ri"], scan.agreements, today=today,
                                source=config / "agreements")
        assert bool(view.flows) is in_force
        assert view.ended == (() if in_force else (ended,))
        assert (view.flow("lahp", sender="ombudsman-ri") is not None) is in_force
        assert len(view.ended_flows) == (0 if in_force else len(ended.flows))


def test_the_merged_view_finds_flows_by_index(config):
    sign_all(config)
    node = load_node_config(config / "ombudsman-ri.toml", environ={})
    view = node.agreement
    assert view.merged and [a.id for a in view.members] == ["mou-pemkot-bekasi-ombudsman-ri-2021"]
    flow = view.flow("tanggapan_klarifikasi", sender="pemkot-bekasi", receiver="ombudsman-ri")
    assert flow is not None and flow.agreement_id == view.members[0].id
    assert view.flow("tanggapan_klarifikasi", sender="pemkot-bekasi", receiver="pemkot-x") is None
    assert view.receivers("lahp", sender="ombudsman-ri") == ("pemkot-bekasi",)
    assert view.party_by_origin("gateway.bekasikota.go.id/audit").id == "pemkot-bekasi"
    assert node.refused_agreements == ()


def test_an_unsigned_agreement_file_needs_saying_so_outside_development(config, tmp_path):
    node = config / "pemkot-bekasi.toml"
    text = node.read_text(encoding="utf-8")
    shutil.copyfile(ROOT / "tests" / "data" / "unsigned-agreement.toml", config / "one.toml")
    node.write_text(text.replace('agreements = "agreements"\nparties = "parties"',
                                 'agreement = "one.toml"').replace(
        'mode = "development"\n', ""))
    with pytest.raises(ConfigError, match="unsigned_agreement = true"):
        load_node_config(node, environ={})
    node.write_text(node.read_text().replace('agreement = "one.toml"',
                                             'agreement = "one.toml"\nunsigned_agreement = true'))
    assert load_node_config(node, environ={}).agreements_dir is None


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", "agreements", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60,
                          env={"PATH": "", "GATEWAY_KEY_PASSPHRASE": ENV["GATEWAY_KEY_PASSPHRASE"],
                               "PYTHONPATH": str(ROOT)})


def test_the_cli_signs_verifies_lists_and_shows(config):
    where = config.parent
    file = str(agreement(config).relative_to(where))
    unsigned = run_cli("verify", "--config", "config/ombudsman-ri.toml", cwd=where)
    assert unsigned.returncode == 1
    assert "REFUSED  mou-pemkot-bekasi-ombudsman-ri-2021.toml: not signed by pemkot-bekasi" in (
        unsigned.stdout)
    for party in PARTIES:
        done = run_cli("sign", file, "--config", f"config/{party}.toml", cwd=where)
        assert done.returncode == 0, done.stderr
    verified = run_cli("verify", "--agreements", "config/agreements", cwd=where)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.startswith("ok       mou-pemkot-bekasi-ombudsman-ri-2021.toml")
    listed = [json.loads(line) for line in run_cli(
        "list", "--config", "config/pemkot-bekasi.toml", cwd=where).stdout.splitlines()]
    assert [(r["id"], r["version"], r["status"], r["flows"]) for r in listed] == [
        ("mou-pemkot-bekasi-ombudsman-ri-2021", 1, "in force", 10)]
    shown = json.loads(run_cli("show", "mou-pemkot-bekasi-ombudsman-ri-2021", "--config",
                               "config/pemkot-bekasi.toml", cwd=where).stdout)
    assert set(shown["signatures"]) == set(PARTIES)
    assert shown["sha256"] == listed[0]["sha256"]
    # A stray signature file and a changed agreement: verify exits 1 and says why.
    (config / "agreements" / "gone.pemkot-bekasi.jws").write_text("x")
    text = agreement(config).read_text()
    agreement(config).write_text(text.replace("retention_days = 90", "retention_days = 9", 1))
    refused = run_cli("verify", "--config", "config/ombudsman-ri.toml", cwd=where)
    assert refused.returncode == 1
    assert "does not match this content" in refused.stdout
    assert "REFUSED  gone.pemkot-bekasi.jws: a signature without its agreement" in refused.stdout
    assert refused.stderr.strip() == "Error: 2 of 2 file(s) refused"
