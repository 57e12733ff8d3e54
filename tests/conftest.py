"""Shared fixtures: a throw-away two-party deployment with real keys and databases."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gateway.app import create_app
from gateway.config import NodeConfig, load_node_config
from gateway.keys import init_keys
from gateway.process import free_port

PASSPHRASE = "test-passphrase"
PARTIES = ("pemkot-bekasi", "ombudsman-ri")
TOKENS = {
    "pemkot-bekasi": {
        "sistem-pengaduan": "token-pemkot-pengaduan",
        "inspektorat": "token-insp",
        "auditor": "token-pemkot-auditor",
    },
    "ombudsman-ri": {"simpel": "token-ombudsman-simpel", "auditor": "token-ombudsman-auditor"},
}
LOG_ORIGINS = {"pemkot-bekasi": "pemkot.test/audit", "ombudsman-ri": "ombudsman.test/audit"}
WITNESS_NAMES = {"pemkot-bekasi": "pemkot.test/witness", "ombudsman-ri": "ombudsman.test/witness"}



def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


AGREEMENT = """\
format = 1
id = "test-agreement"
title = "Test agreement"
timezone = "Asia/Jakarta"

[purposes]
1 = "Percepatan penanganan laporan"

[[parties]]
id = "pemkot-bekasi"
name = "Pemerintah Kota Bekasi"
base_url = "http://127.0.0.1:{pemkot_port}"
jwks_file = "keys/pemkot-bekasi/jwks.json"
log_origin = "pemkot.test/audit"
witness_name = "pemkot.test/witness"
note_keys_file = "keys/pemkot-bekasi/note-keys.txt"

[[parties]]
id = "ombudsman-ri"
name = "Ombudsman RI"
base_url = "http://127.0.0.1:{ombudsman_port}"
jwks_file = "keys/ombudsman-ri/jwks.json"
log_origin = "ombudsman.test/audit"
witness_name = "ombudsman.test/witness"
note_keys_file = "keys/ombudsman-ri/note-keys.txt"

[[datasets]]
name = "permintaan_klarifikasi"
sender = "ombudsman-ri"
receiver = "pemkot-bekasi"
schema_versions = ["1.0"]
purpose = 1
schedule = {{ interval_seconds = {interval} }}
max_records_per_batch = {max_records}
max_batch_bytes = {max_batch_bytes}

[[datasets]]
name = "tanggapan_klarifikasi"
sender = "pemkot-bekasi"
receiver = "ombudsman-ri"
schema_versions = ["1.0", "2.0"]
purpose = 1
schedule = {{ interval_seconds = {interval} }}
max_records_per_batch = {max_records}
max_batch_bytes = {max_batch_bytes}
[[datasets]]
name = "kegiatan_pengembangan"
sender = "pemkot-bekasi"
receiver = "ombudsman-ri"
schema_versions = ["1.0"]
purpose = 1
schedule = {{ interval_seconds = {interval} }}
max_records_per_batch = {max_records}
max_batch_bytes = {max_batch_bytes}

[[datasets]]
name = "kegiatan_pengembangan"
sender = "ombudsman-ri"
receiver = "pemkot-bekasi"
schema_versions = ["1.0"]
purpose = 1
schedule = {{ interval_seconds = {interval} }}
max_records_per_batch = {max_records}
max_batch_bytes = {max_batch_bytes}
"""

NODE = """\
[node]
party = "{party}"
agreement = "agreement.toml"
listen = "127.0.0.1:{port}"
database_url = "sqlite:///{db}"
key_dir = "keys/{party}"
max_body_bytes = {max_body}
max_records_per_submission = 500
peer_timeout_seconds = 10
workers = {workers}
checkpoint_interval_seconds = 1
"""

CLIENTS = {
    "pemkot-bekasi": """
[[clients]]
id = "sistem-pengaduan"
token_sha256 = "{h1}"
submit = ["tanggapan_klarifikasi", "kegiatan_pengembangan"]
pull = ["permintaan_klarifikasi", "kegiatan_pengembangan"]

[[clients]]
id = "inspektorat"
token_sha256 = "{h2}"
pull = ["permintaan_klarifikasi"]

[[clients]]
id = "auditor"
token_sha256 = "{h3}"
roles = ["auditor"]
""",
    "ombudsman-ri": """
[[clients]]
id = "simpel"
token_sha256 = "{h1}"
submit = ["permintaan_klarifikasi", "kegiatan_pengembangan"]
pull = ["tanggapan_klarifikasi", "kegiatan_pengembangan"]

[[clients]]
id = "auditor"
token_sha256 = "{h2}"
roles = ["auditor"]
""",
}


@dataclass
class Deployment:
    root: Path
    ports: dict[str, int]

    def config_path(self, party: str) -> Path:
        return self.root / f"{party}.toml"

    def config(self, party: str) -> NodeConfig:
        return load_node_config(self.config_path(party), environ={})

    def db_path(self, party: str) -> Path:
        return self.root / f"{party}.db"

    @property
    def env(self) -> dict[str, str]:
        return {"GATEWAY_KEY_PASSPHRASE": PASSPHRASE}


def make_deployment(
    root: Path, *, interval: int = 3600, max_records: int = 1000, workers: int = 1,
    max_body: int = 1_000_000, max_batch_bytes: int = 262144,
) -> Deployment:
    ports = {"pemkot-bekasi": free_port(), "ombudsman-ri": free_port()}
    root.mkdir(parents=True, exist_ok=True)
    (root / "agreement.toml").write_text(AGREEMENT.format(
        pemkot_port=ports["pemkot-bekasi"], ombudsman_port=ports["ombudsman-ri"],
        interval=interval, max_records=max_records, max_batch_bytes=max_batch_bytes))
    for party in PARTIES:
        tokens = list(TOKENS[party].values())
        hashes = {f"h{i + 1}": _sha256(t) for i, t in enumerate(tokens)}
        (root / f"{party}.toml").write_text(
            NODE.format(party=party, port=ports[party], db=root / f"{party}.db",
                        max_body=max_body, workers=workers)
            + CLIENTS[party].format(**hashes))
        init_keys(root / "keys" / party, environ={"GATEWAY_KEY_PASSPHRASE": PASSPHRASE},
                  note_names=(LOG_ORIGINS[party], WITNESS_NAMES[party]))
    return Deployment(root=root, ports=ports)


@pytest.fixture(scope="session")
def deployment_factory(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Deployment]:
    def make(**kwargs: Any) -> Deployment:
        return make_deployment(tmp_path_factory.mktemp("deploy"), **kwargs)

    return make


@pytest.fixture
def deployment(deployment_factory: Callable[..., Deployment]) -> Deployment:
    return deployment_factory()


@pytest.fixture
def monkeypassphrase(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_KEY_PASSPHRASE", PASSPHRASE)


@dataclass
class NodeApp:
    party: str
    app: Flask
    client: FlaskClient

    def auth(self, client_id: str | None = None) -> dict[str, str]:
        tokens = TOKENS[self.party]
        return {"Authorization": f"Bearer {tokens[client_id or next(iter(tokens))]}"}


def build_apps(deployment: Deployment) -> dict[str, NodeApp]:
    """Both nodes as in-process Flask apps on real SQLite databases."""
    out = {}
    for party in PARTIES:
        app = create_app(deployment.config(party))
        out[party] = NodeApp(party=party, app=app, client=app.test_client())
    return out


@pytest.fixture
def make_apps(monkeypassphrase: None) -> Iterator[Callable[[Deployment], dict[str, NodeApp]]]:
    """Builds both nodes' apps for a deployment; closes their databases afterwards."""
    built: list[dict[str, NodeApp]] = []

    def make(deployment: Deployment) -> dict[str, NodeApp]:
        built.append(build_apps(deployment))
        return built[-1]

    yield make
    for apps in built:
        for node_app in apps.values():
            node_app.app.extensions["gateway.node"].store.dispose()


@pytest.fixture
def apps(deployment: Deployment, make_apps: Callable[[Deployment], dict[str, NodeApp]]
         ) -> dict[str, NodeApp]:
    return make_apps(deployment)
