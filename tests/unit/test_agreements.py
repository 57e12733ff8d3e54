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
    one = run_cli("verify", file, cwd=where)  # one file, the registry beside its directory
    assert one.returncode == 0 and one.stdout.count("ok ") == 1, one.stdout + one.stderr
    verified = run_cli("verify", "config/agreements", cwd=where)
    assert verified.returncode == 0, verified.stdout + verified.stderr
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
    alone = run_cli("verify", file, cwd=where)
    assert alone.returncode == 1 and "does not match this content" in alone.stdout
    assert "gone.pemkot-bekasi.jws" not in alone.stdout


# One bad file never stops the others: what goes wrong refuses that file, with a reason.

def forged_signature(header: dict) -> str:
    """A detached JWS with ``header`` and a signature of zeros (it never verifies)."""
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    return f"{b64(json.dumps(header).encode())}..{b64(bytes(64))}\n"


@pytest.mark.parametrize("kid", [["x"], {"a": 1}, 7, 1.5, True])
def test_a_signature_whose_kid_is_not_a_string_is_refused(config, kid):
    sign_all(config)
    signature_file(agreement(config), "pemkot-bekasi").write_text(forged_signature(
        {"alg": "Ed25519", "kid": kid, "typ": "gateway-agreement+jws"}))
    assert refusal(config).endswith(
        f"is not a detached agreement JWS (kid must be a string, got {type(kid).__name__})")
    node = load_node_config(config / "ombudsman-ri.toml", environ={})
    assert node.agreement.members == ()
    assert [r.agreement_id for r in node.refused_agreements] == [
        "mou-pemkot-bekasi-ombudsman-ri-2021"]


@pytest.mark.parametrize(("change", "reason"), [
    (("version = 1", "version = 9007199254740993"),
     "version: must be at most 9007199254740991 in size, got 9007199254740993"),
    (("version = 1", "version = 2147483648"),
     "version: must be at most 2147483647, got 2147483648"),
    (("retention_days = 90", "retention_days = -9007199254740992"),
     "datasets[0].retention_days: must be at most 9007199254740991 in size"),
    (("retention_days = 90", "retention_days = inf"),
     "datasets[0].retention_days: must be a finite number, got inf"),
    (("retention_days = 90", "retention_days = nan"),
     "datasets[0].retention_days: must be a finite number, got nan"),
    (("[[datasets]]\n", "[[datasets]]\nextra = [[1e400]]\n"),
     "datasets[0].extra[0][0]: must be a finite number, got inf"),
])
def test_a_number_the_canonical_form_cannot_hold_is_refused_naming_its_key(config, change, reason):
    file = agreement(config)
    text = file.read_text(encoding="utf-8")
    assert change[0] in text
    file.write_text(text.replace(*change, 1), encoding="utf-8")
    assert refusal(config).startswith(reason)
    node = load_node_config(config / "ombudsman-ri.toml", environ={})
    assert [r.path_of_file.name for r in node.refused_agreements] == [file.name]


def test_any_error_reading_one_file_refuses_that_file_only(config, monkeypatch, caplog):
    sign_all(config)
    sign_all(config, second_agreement(config, agreement_id="mou-other", ends_on="2020-01-01"))
    read = read_signed_agreement

    def broken(file, registry):
        if file.name == "mou-other.toml":
            raise RecursionError("deep")
        return read(file, registry)

    monkeypatch.setattr("gateway.node.config.read_signed_agreement", broken)
    registry = load_parties(config / "parties")
    scan = scan_agreements(config / "agreements", registry, "ombudsman-ri")
    assert [a.id for a in scan.agreements] == ["mou-pemkot-bekasi-ombudsman-ri-2021"]
    assert [(r.path_of_file.name, r.reason) for r in scan.refused] == [
        ("mou-other.toml", "cannot be read (RecursionError); the node's log says why")]
    assert "mou-other.toml cannot be read" in caplog.text
    found = agreements.examine(config / "agreements", registry, today=dt.date(2026, 1, 1))
    assert [(f.file.name, f.status) for f in found] == [
        ("mou-other.toml", "refused"), (agreement(config).name, "in force")]


# Renewals and updates: which of several files is taken.

def test_an_ended_agreement_and_its_renewal_with_the_same_flows_are_both_taken(config):
    sign_all(config)  # the renewal (no ends_on), after the old one by file name
    sign_all(config, second_agreement(config, agreement_id="mou-2020", ends_on="2026-12-01"))
    registry = load_parties(config / "parties")
    scan = scan_agreements(config / "agreements", registry, "ombudsman-ri",
                           today=dt.date(2026, 12, 1))
    assert [a.id for a in scan.agreements] == ["mou-2020", "mou-pemkot-bekasi-ombudsman-ri-2021"]
    assert scan.refused == ()
    view = merge_agreements(registry["ombudsman-ri"], scan.agreements,
                            today=dt.date(2026, 12, 1), source=config / "agreements")
    assert [a.id for a in view.agreements] == ["mou-pemkot-bekasi-ombudsman-ri-2021"]
    assert [a.id for a in view.ended] == ["mou-2020"]
    # The day before, both are in force: the renewal's flows are the old one's.
    scan = scan_agreements(config / "agreements", registry, "ombudsman-ri",
                           today=dt.date(2026, 11, 30))
    assert [a.id for a in scan.agreements] == ["mou-2020"]
    assert [r.reason for r in scan.refused] == [
        "the flow permintaan_klarifikasi from ombudsman-ri to pemkot-bekasi is already agreed "
        "in 'mou-2020', which is in force"]
    found = agreements.examine(config / "agreements", registry, party_id="ombudsman-ri",
                               today=dt.date(2026, 11, 30))
    assert [(f.file.name, f.status, f.problem) for f in found] == [
        ("mou-2020.toml", "in force", ""),
        (agreement(config).name, "refused", scan.refused[0].reason)]


def test_of_several_files_with_one_id_the_highest_version_is_taken(config):
    sign_all(config)
    text = agreement(config).read_text(encoding="utf-8")
    update = config / "agreements" / "zz-update.toml"  # after the first version by name
    update.write_text(text.replace("version = 1", "version = 2"), encoding="utf-8")
    sign_all(config, update)
    same = config / "agreements" / "zzz-same.toml"
    same.write_text(text.replace("version = 1", "version = 2").replace(
        "retention_days = 90", "retention_days = 91", 1), encoding="utf-8")
    sign_all(config, same)
    registry = load_parties(config / "parties")
    scan = scan_agreements(config / "agreements", registry, "ombudsman-ri")
    assert [(a.source.name, a.version) for a in scan.agreements] == [("zz-update.toml", 2)]
    name = "'mou-pemkot-bekasi-ombudsman-ri-2021'"
    assert [(r.path_of_file.name, r.reason) for r in scan.refused] == [
        (agreement(config).name, f"agreement {name} version 1 is also in zz-update.toml, which "
                                 "is taken: this file has a lower version than version 2"),
        ("zzz-same.toml", f"agreement {name} version 2 is also in zz-update.toml, which is "
                          "taken: this file has the same version, and comes after it by file name"),
    ]
    found = agreements.examine(config / "agreements", registry, today=dt.date(2026, 1, 1))
    assert [(f.file.name, f.problem) for f in found] == [
        (agreement(config).name, scan.refused[0].reason),
        ("zz-update.toml", ""),
        ("zzz-same.toml", scan.refused[1].reason)]


def test_verify_refuses_what_the_node_refuses(config):
    """``gateway agreements verify`` applies the node's rules, flows in force included."""
    sign_all(config)
    sign_all(config, second_agreement(config, agreement_id="mou-copy"))
    registry = load_parties(config / "parties")
    node = load_node_config(config / "ombudsman-ri.toml", environ={})
    refused = run_cli("verify", "--config", "config/ombudsman-ri.toml", cwd=config.parent)
    assert refused.returncode == 1
    assert refused.stdout.splitlines()[:2] == [
        "ok       mou-copy.toml: mou-copy version 1, in force, signed by "
        "pemkot-bekasi, ombudsman-ri",
        f"REFUSED  {agreement(config).name}: {node.refused_agreements[0].reason}",
    ]
    found = agreements.examine(config / "agreements", registry, party_id="ombudsman-ri",
                               today=dt.date(2026, 1, 1))
    assert [f.problem for f in found if not f.ok] == [
        r.reason for r in node.refused_agreements]


# Keys: one party's signing key is its own; reasons name files, not where they are.

def test_a_registry_holding_one_signing_key_for_two_parties_is_refused(config):
    depok = config / "parties" / "pemkot-depok.toml"
    depok.write_text((config / "parties" / "pemkot-bekasi.toml").read_text(encoding="utf-8")
                     .replace('id = "pemkot-bekasi"', 'id = "pemkot-depok"')
                     .replace("bekasikota.go.id", "depok.go.id"), encoding="utf-8")
    kid = signing_key(config, "pemkot-bekasi").thumbprint()
    with pytest.raises(ConfigError, match=(
            f"jwks_file: jwks.json holds the signing key {kid}, which is registered for "
            "party 'pemkot-bekasi' too")):
        load_parties(config / "parties")


def test_two_parties_signing_with_one_key_are_refused(config):
    """A JWKS file missing when the registry is read is checked when it is used."""
    registry = load_parties(config / "parties")
    theirs = registry["ombudsman-ri"].jwks_file
    theirs.unlink()
    registry = load_parties(config / "parties")  # the Ombudsman's keys are to come
    shutil.copyfile(registry["pemkot-bekasi"].jwks_file, theirs)
    key = signing_key(config, "pemkot-bekasi")
    for party in PARTIES:
        agreements.sign(agreement(config), party, key, registry)
    with pytest.raises(AgreementRefused) as refused:
        read_signed_agreement(agreement(config), registry)
    assert refused.value.reason == (
        f"pemkot-bekasi and ombudsman-ri signed with one key ({key.thumbprint()}): each party "
        "signs with a key of its own (the party registry holds it for both)")
    with pytest.raises(ConfigError, match="registered for party 'ombudsman-ri' too"):
        load_parties(config / "parties")  # and the registry, read again, is refused


@pytest.mark.parametrize("damage", ["missing", "not json"])
def test_a_refusal_names_files_not_where_they_are(config, damage):
    sign_all(config)
    jwks = load_parties(config / "parties")["pemkot-bekasi"].jwks_file
    if damage == "missing":
        jwks.unlink()
    else:
        jwks.write_text("{", encoding="utf-8")
    reason = refusal(config)
    assert reason.startswith("the registered keys of pemkot-bekasi cannot be read: jwks.json: ")
    assert str(config.parent) not in reason and "/" not in reason
    node = load_node_config(config / "ombudsman-ri.toml", environ={})
    assert [r.reason for r in node.refused_agreements] == [reason]


def test_signing_with_a_config_uses_the_registry_it_names(config):
    """``sign --config`` reads the node's ``parties`` setting, not a guess beside FILE."""
    (config / "parties").rename(config / "registry")
    for party in PARTIES:
        node = config / f"{party}.toml"
        node.write_text(node.read_text(encoding="utf-8").replace(
            'parties = "parties"', 'parties = "registry"'), encoding="utf-8")
    file = str(agreement(config).relative_to(config.parent))
    for party in PARTIES:
        done = run_cli("sign", file, "--config", f"config/{party}.toml", cwd=config.parent)
        assert done.returncode == 0, done.stderr
    read_signed_agreement(agreement(config), load_parties(config / "registry"))
    # --parties still says which registry, with or without --config.
    other = run_cli("sign", file, "--party", "pemkot-bekasi", "--config",
                    "config/pemkot-bekasi.toml", "--parties", "config/none", cwd=config.parent)
    assert other.returncode != 0 and "the party registry directory does not exist" in (
        other.stdout + other.stderr)
