"""A small signed deployment for tests: a hub node whose agreements are a directory of
format 2 files, each signed by its parties (gateway.node.agreements.sign), and a
party registry. Built inside a test deployment's root (tests/conftest.py), so that
the hub's database is of the backend under test and its keys are already made.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from gateway.crypto.keys import NodeKeys, init_keys
from gateway.node import agreements
from gateway.node.config import load_parties, signature_file
from gateway.ops.process import free_port
from tests.conftest import LOG_ORIGINS, PASSPHRASE, TOKENS, WITNESS_NAMES, Deployment, _sha256

HUB = "ombudsman-ri"
ENV = {"GATEWAY_KEY_PASSPHRASE": PASSPHRASE}

PARTY = """\
id = "{id}"
name = "{id}"
base_url = "http://127.0.0.1:{port}"
jwks_file = "../keys/{id}/jwks.json"
log_origin = "{log_origin}"
witness_name = "{witness_name}"
note_keys_file = "../keys/{id}/note-keys.txt"
"""

AGREEMENT = """\
format = 2
id = "{id}"
version = {version}
title = "Perjanjian kerja sama {id}"
timezone = "Asia/Jakarta"
parties = {parties}
{ends_on}
[purposes]
1 = "Pertukaran informasi atau data"
{datasets}"""

FLOW = """
[[datasets]]
name = "{name}"
sender = "{sender}"
receiver = "{receiver}"
schema_versions = ["1.0"]
purpose = 1
schedule = {{ interval_seconds = 3600 }}
max_records_per_batch = 1000
max_batch_bytes = 262144
retention_days = {retention_days}
"""

NODE = """\
[node]
party = "{party}"
agreements = "agreements"
parties = "parties"
listen = "127.0.0.1:{port}"
database_url = "{db}"
key_dir = "keys/{party}"
max_body_bytes = 1000000
peer_timeout_seconds = 5
workers = {workers}
agreements_poll_seconds = {poll}

[[clients]]
id = "simpel"
token_sha256 = "{simpel}"
submit = ["permintaan_klarifikasi", "kegiatan_pengembangan", "rekap_pengaduan"]

[[clients]]
id = "auditor"
token_sha256 = "{auditor}"
roles = ["auditor"]

[[clients]]
id = "operator"
token_sha256 = "{operator}"
roles = ["operator"]
"""

OPERATOR_TOKEN = "token-hub-operator"


@dataclass
class SignedHub:
    """The hub's config, its agreements directory and party registry, in ``root``."""

    root: Path
    deployment: Deployment

    @property
    def config_path(self) -> Path:
        return self.root / f"signed-{HUB}.toml"

    @property
    def agreements_dir(self) -> Path:
        return self.root / "agreements"

    @property
    def parties_dir(self) -> Path:
        return self.root / "parties"

    def add_party(self, party_id: str) -> None:
        """Register a party (its keys made if it has none): parties/<id>.toml."""
        key_dir = self.root / "keys" / party_id
        names = (
            LOG_ORIGINS.get(party_id, f"{party_id}.test/audit"),
            WITNESS_NAMES.get(party_id, f"{party_id}.test/witness"),
        )
        if not (key_dir / "jwks.json").exists():
            init_keys(key_dir, environ=ENV, note_names=names)
        port = self.deployment.ports.get(party_id) or free_port()
        write_atomically(
            self.parties_dir / f"{party_id}.toml",
            PARTY.format(id=party_id, port=port, log_origin=names[0], witness_name=names[1]),
        )

    def drop_agreement(
        self,
        agreement_id: str,
        *,
        partner: str,
        dataset: str,
        version: int = 1,
        ends_on: dt.date | None = None,
        retention_days: int = 90,
        signers: tuple[str, ...] | None = None,
        file_name: str | None = None,
    ) -> Path:
        """Write an agreement between the hub and ``partner`` (the hub sends ``dataset``),
        signed by ``signers`` (default: both), into the directory as an operator
        would: signed in a staging directory, the signatures moved in, the file last."""
        text = agreement_text(
            agreement_id,
            version=version,
            parties=(HUB, partner),
            flows=[(dataset, HUB, partner)],
            ends_on=ends_on,
            retention_days=retention_days,
        )
        staging = self.root / "staging"
        staging.mkdir(exist_ok=True)
        name = file_name or f"{agreement_id}.toml"
        staged = staging / name
        staged.write_text(text, encoding="utf-8")
        registry = load_parties(self.parties_dir)
        for party in signers if signers is not None else (HUB, partner):
            key = NodeKeys.from_directory(self.root / "keys" / party, environ=ENV).signing
            agreements.sign(staged, party, key, registry)
        for party in (HUB, partner):
            sig = signature_file(staged, party)
            if sig.exists():
                os.replace(sig, self.agreements_dir / sig.name)
        final = self.agreements_dir / name
        os.replace(staged, final)
        return final

    def remove_agreement(self, file_name: str) -> None:
        (self.agreements_dir / file_name).unlink()
        for sig in self.agreements_dir.glob(f"{Path(file_name).stem}.*.jws"):
            sig.unlink()


def agreement_text(
    agreement_id: str,
    *,
    version: int,
    parties: tuple[str, ...],
    flows: list[tuple[str, str, str]],
    ends_on: dt.date | None = None,
    retention_days: int = 90,
) -> str:
    """A format 2 agreement: ``flows`` are (dataset, sender, receiver)."""
    return AGREEMENT.format(
        id=agreement_id,
        version=version,
        parties="[" + ", ".join(f'"{p}"' for p in parties) + "]",
        ends_on=f"ends_on = {ends_on.isoformat()}" if ends_on else "",
        datasets="".join(
            FLOW.format(name=n, sender=s, receiver=r, retention_days=retention_days)
            for n, s, r in flows
        ),
    )


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.tmp")
    staged.write_text(text, encoding="utf-8")
    os.replace(staged, path)


def signed_hub(
    deployment: Deployment, *, partners: tuple[str, ...] = (), workers: int = 1, poll: float = 0.5
) -> SignedHub:
    """The hub of ``deployment`` (the Ombudsman's node) reading signed agreements, with
    the parties ``partners`` registered and no agreement yet."""
    hub = SignedHub(root=deployment.root, deployment=deployment)
    hub.agreements_dir.mkdir(exist_ok=True)
    for party in (HUB, *partners):
        hub.add_party(party)
    hub.config_path.write_text(
        NODE.format(
            party=HUB,
            port=deployment.ports[HUB],
            db=deployment.urls[HUB],
            workers=workers,
            poll=poll,
            simpel=_sha256(TOKENS[HUB]["simpel"]),
            auditor=_sha256(TOKENS[HUB]["auditor"]),
            operator=_sha256(OPERATOR_TOKEN),
        ),
        encoding="utf-8",
    )
    return hub
