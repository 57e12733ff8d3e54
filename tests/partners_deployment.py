"""A hub and its partners under signed agreements: a deployment to build tests on.

:func:`make_partners_deployment` writes, under one root, what a hub that exchanges with
many partner governments runs with (docs/CONFIGURATION.md, signed agreements):

* ``parties/<id>.toml``: the party registry, one file per institution;
* ``agreements/mou-<partner>-<hub>.toml``: one format 2 agreement per partner (hub and
  partner), each signed by both (``<file>.<party>.jws``, :func:`sign_agreement`), with
  flows both ways: ``permintaan_klarifikasi`` and ``kegiatan_pengembangan`` from the hub,
  ``tanggapan_klarifikasi`` and ``kegiatan_pengembangan`` to it;
* ``<party>.toml``: each node's config, with ``agreements = "agreements"``;
* ``keys/<party>/``: every party's keys (``init_keys``, under :data:`PASSPHRASE`).

Each node reads the same directory and sees only the agreements it is a party of. The
databases follow the test backend as conftest's ``make_deployment`` does, so a test
that uses this module requests ``deployment_factory`` (tests/conftest.py says why).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from gateway.crypto.keys import NodeKeys, init_keys
from gateway.node import agreements
from gateway.node.config import agreement_data, load_parties
from gateway.ops.process import free_port
from tests.conftest import PASSPHRASE, PERSONAL_DATA, Deployment, _database_url

__all__ = [
    "HUB",
    "HUB_TOKEN",
    "PartnersDeployment",
    "make_partners_deployment",
    "partner_token",
    "sign_agreement",
]

HUB = "ombudsman-ri"
HUB_TOKEN = "token-hub-simpel"
ENV = {"GATEWAY_KEY_PASSPHRASE": PASSPHRASE}

PARTY = """\
id = "{id}"
name = "{name}"
base_url = "http://127.0.0.1:{port}"
jwks_file = "../keys/{id}/jwks.json"
log_origin = "{id}.test/audit"
witness_name = "{id}.test/witness"
note_keys_file = "../keys/{id}/note-keys.txt"
"""

FLOW = """\
[[datasets]]
name = "{name}"
sender = "{sender}"
receiver = "{receiver}"
schema_versions = {versions}
purpose = 1
schedule = {{ interval_seconds = {interval} }}
max_records_per_batch = 1000
max_batch_bytes = 262144
{extra}
"""

AGREEMENT = """\
format = 2
id = "{id}"
version = 1
title = "MoU {partner} - {hub}"
timezone = "Asia/Jakarta"
parties = ["{partner}", "{hub}"]

[purposes]
1 = "Percepatan penanganan laporan"

"""

NODE = """\
[node]
party = "{party}"
agreements = "agreements"
listen = "127.0.0.1:{port}"
database_url = "{db}"
key_dir = "keys/{party}"
max_records_per_submission = 500
peer_timeout_seconds = 10
workers = 1
checkpoint_interval_seconds = 1
{settings}
[[clients]]
id = "sistem"
token_sha256 = "{token_sha256}"
submit = {submit}
pull = {pull}
"""


def partner_token(partner: str) -> str:
    """The bearer token of a partner node's one client, ``sistem``."""
    return f"token-{partner}-sistem"


def _personal(dataset: str) -> str:
    fields = PERSONAL_DATA.get(dataset)
    if fields is None:
        return ""
    quoted = ", ".join(f'"{f}"' for f in fields)
    return (
        f"personal_data = {{ fields = [{quoted}], purpose = 1, "
        'legal_basis = "UU 37/2008 Pasal 28; UU 27/2022 Pasal 20 ayat (2) huruf e" }'
    )


def agreement_text(hub: str, partner: str, *, interval: int = 3600, extra: str = "") -> str:
    """The agreement between ``hub`` and ``partner``, its flows both ways."""
    flows = [
        ("permintaan_klarifikasi", hub, partner, '["1.0"]'),
        ("kegiatan_pengembangan", hub, partner, '["1.0"]'),
        ("tanggapan_klarifikasi", partner, hub, '["1.0", "2.0"]'),
        ("kegiatan_pengembangan", partner, hub, '["1.0"]'),
    ]
    text = AGREEMENT.format(id=f"mou-{partner}-{hub}", partner=partner, hub=hub)
    for name, sender, receiver, versions in flows:
        text += FLOW.format(
            name=name,
            sender=sender,
            receiver=receiver,
            versions=versions,
            interval=interval,
            extra="\n".join(x for x in (_personal(name), "retention_days = 90", extra) if x),
        )
    return text


def sign_agreement(file: Path, parties_dir: Path, keys_dir: Path) -> list[Path]:
    """Sign the agreement ``file`` for every party it names, with each party's signing key
    in ``keys_dir/<party>``; the signature files written."""
    registry = load_parties(parties_dir)
    signed = []
    for party in agreement_data(file)["parties"]:
        key = NodeKeys.from_directory(keys_dir / party, environ=ENV).signing
        signed.append(agreements.sign(file, party, key, registry))
    return signed


@dataclass
class PartnersDeployment:
    """A hub and its partners: where their configs are, their ports and databases."""

    root: Path
    hub: str
    partners: tuple[str, ...]
    ports: dict[str, int]
    urls: dict[str, str]

    @property
    def parties(self) -> tuple[str, ...]:
        return (self.hub, *self.partners)

    def config_path(self, party: str) -> Path:
        return self.root / f"{party}.toml"

    def agreement_file(self, partner: str) -> Path:
        return self.root / "agreements" / f"mou-{partner}-{self.hub}.toml"

    def as_deployment(self) -> Deployment:
        """The conftest view of it (configs, queries, ciphers) for its helpers."""
        return Deployment(root=self.root, ports=self.ports, urls=self.urls)


def make_partners_deployment(
    root: Path,
    partners: Iterable[str],
    *,
    hub: str = HUB,
    interval: int = 3600,
    flow_settings: str = "",
    node_settings: str = "",
    databases: bool = True,
) -> PartnersDeployment:
    """Write a hub, its partners and one signed agreement per partner under ``root``.

    ``flow_settings``: lines added to every flow; ``node_settings``: to every node's
    ``[node]`` table. ``databases=False`` leaves the database URLs as SQLite files
    without the backend's check (for tests that only read the configuration).
    """
    partners = tuple(partners)
    parties = (hub, *partners)
    root.mkdir(parents=True, exist_ok=True)
    for folder in ("parties", "agreements", "keys"):
        (root / folder).mkdir(exist_ok=True)
    ports = {party: free_port() for party in parties}
    urls = {
        party: _database_url(root, party) if databases else f"sqlite:///{root / party}.db"
        for party in parties
    }
    for party in parties:
        init_keys(
            root / "keys" / party,
            environ=ENV,
            note_names=(f"{party}.test/audit", f"{party}.test/witness"),
        )
        (root / "parties" / f"{party}.toml").write_text(
            PARTY.format(id=party, name=party.replace("-", " ").title(), port=ports[party])
        )
    for partner in partners:
        file = root / "agreements" / f"mou-{partner}-{hub}.toml"
        file.write_text(agreement_text(hub, partner, interval=interval, extra=flow_settings))
        sign_agreement(file, root / "parties", root / "keys")
    hub_datasets = '["permintaan_klarifikasi", "kegiatan_pengembangan"]'
    partner_datasets = '["tanggapan_klarifikasi", "kegiatan_pengembangan"]'
    for party in parties:
        token = HUB_TOKEN if party == hub else partner_token(party)
        (root / f"{party}.toml").write_text(
            NODE.format(
                party=party,
                port=ports[party],
                db=urls[party],
                settings=node_settings,
                token_sha256=hashlib.sha256(token.encode()).hexdigest(),
                submit=hub_datasets if party == hub else partner_datasets,
                pull=partner_datasets if party == hub else hub_datasets,
            )
        )
    return PartnersDeployment(root=root, hub=hub, partners=partners, ports=ports, urls=urls)
