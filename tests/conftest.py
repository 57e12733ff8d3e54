"""Shared fixtures: a throw-away two-party deployment with real keys and databases.

Which tests run on which database backend
-----------------------------------------
``GATEWAY_TEST_BACKEND`` (``sqlite``, the default, or ``postgresql``) chooses the
database of the nodes of a test deployment, and nothing else: a deployment's
database URL comes from :func:`make_deployment`, and tests get a deployment only
through the ``deployment_factory`` fixture (directly, or through a fixture that
requests it: ``deployment``, ``apps``, ``running``, a module's own fixtures...).

The rule, applied by :func:`pytest_collection_modifyitems` from the fixtures a
test requests, not from any list kept by hand:

* on SQLite the whole suite runs;
* on PostgreSQL only the tests that request ``deployment_factory`` run (the
  others are deselected): a test that makes no deployment cannot depend on the
  backend, and already ran in the SQLite pass. A slow test that makes one but
  whose backend-dependent part other tests cover on both says so with the
  ``sqlite_pass`` marker, and runs in the SQLite pass only (a reverse proxy in
  front of a node, ten thousand requests, a property over the agreed limits).
  Tests of PostgreSQL itself (the ``postgres_url`` fixture) use it whatever the
  backend: they run in the SQLite pass when a server answers (and once more if
  they also make a deployment).

So that no test that depends on the backend can leave the PostgreSQL pass
unnoticed, a node database of the backend (:func:`make_deployment` makes them) is
refused to a test that does not request ``deployment_factory`` (one that calls
:func:`make_deployment` directly, or gets the fixture by
``request.getfixturevalue``): the SQLite pass, which runs every test, fails it.
Tests never read ``BACKEND`` themselves.

Under pytest-xdist (``-n``, as ``scripts/test`` runs the suite), each worker puts
its PostgreSQL schemas in a database of its own (:func:`_worker_database`): the
advisory locks that the nodes' scheduled jobs take are per database, and one
worker's nodes must not find them held by another's. Everything else a test
makes is its own already: temporary directories, SQLite files, free ports.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gateway.crypto import atrest
from gateway.crypto.atrest import Cipher, load_cipher
from gateway.crypto.keys import init_keys
from gateway.http.app import create_app
from gateway.node.config import NodeConfig, load_node_config
from gateway.node.node import Node
from gateway.ops.process import free_port
from gateway.peers import signed_requests

PASSPHRASE = "test-passphrase"
PARTIES = ("pemkot-bekasi", "ombudsman-ri")
TOKENS = {
    "pemkot-bekasi": {
        "sistem-pengaduan": "token-pemkot-pengaduan",
        "inspektorat": "token-insp",
        "auditor": "token-pemkot-auditor",
        "operator": "token-pemkot-operator",
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
retention_days = 90
{permintaan_personal}
{chunk}
{retry}

[[datasets]]
name = "tanggapan_klarifikasi"
sender = "pemkot-bekasi"
receiver = "ombudsman-ri"
schema_versions = ["1.0", "2.0"]
purpose = 1
schedule = {{ interval_seconds = {interval} }}
max_records_per_batch = {max_records}
max_batch_bytes = {max_batch_bytes}
retention_days = 90
{tanggapan_personal}
{chunk}
{retry}
{delivery}
[[datasets]]
name = "kegiatan_pengembangan"
sender = "pemkot-bekasi"
receiver = "ombudsman-ri"
schema_versions = ["1.0"]
purpose = 1
schedule = {{ interval_seconds = {interval} }}
max_records_per_batch = {max_records}
max_batch_bytes = {max_batch_bytes}
{chunk}
{retry}

[[datasets]]
name = "kegiatan_pengembangan"
sender = "ombudsman-ri"
receiver = "pemkot-bekasi"
schema_versions = ["1.0"]
purpose = 1
schedule = {{ interval_seconds = {interval} }}
max_records_per_batch = {max_records}
max_batch_bytes = {max_batch_bytes}
{chunk}
{retry}
"""

NODE = """\
[node]
party = "{party}"
agreement = "agreement.toml"
unsigned_agreement = true
listen = "127.0.0.1:{port}"
database_url = "{db}"
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

[[clients]]
id = "operator"
token_sha256 = "{h4}"
roles = ["operator"]
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


# The PBKDF2 count that wraps storage keys in production. The tests' many throw-away key
# directories wrap theirs with the least count joserfc takes without a warning: about
# 0.1 s less for each storage key made or read.
PRODUCTION_PBES2_COUNT = atrest.PBES2_COUNT


@pytest.fixture(scope="session", autouse=True)
def _cheap_storage_key_wrapping() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(atrest, "PBES2_COUNT", 1000)
        yield


# Which database the nodes of the test deployments use: "sqlite" (the default) or
# "postgresql" (scripts/test runs the suite once more so when a server answers).
BACKEND = os.environ.get("GATEWAY_TEST_BACKEND", "sqlite")
_SCHEMAS: list[str] = []  # PostgreSQL schemas made for this run, dropped at its end


@dataclass
class Deployment:
    root: Path
    ports: dict[str, int]
    urls: dict[str, str]

    def config_path(self, party: str) -> Path:
        return self.root / f"{party}.toml"

    def config(self, party: str) -> NodeConfig:
        return load_node_config(self.config_path(party), environ={})

    def query(self, party: str, sql: str, **params: Any) -> list[Any]:
        """Rows of a statement run on a node's database (a change is committed)."""
        from sqlalchemy import create_engine, text
        from sqlalchemy.pool import NullPool

        engine = create_engine(self.urls[party], poolclass=NullPool)
        try:
            with engine.begin() as conn:
                result = conn.execute(text(sql), params)
                return list(result.all()) if result.returns_rows else []
        finally:
            engine.dispose()

    @property
    def env(self) -> dict[str, str]:
        return {"GATEWAY_KEY_PASSPHRASE": PASSPHRASE}

    def cipher(self, party: str) -> Cipher:
        """A node's storage key, to read the payloads that :meth:`query` returns sealed."""
        return load_cipher(self.root / "keys" / party, environ=self.env)


# The fixtures through which a test's nodes get a database of the backend under test.
BACKEND_FIXTURES = frozenset({"deployment_factory"})
_RUNNING: list[pytest.Item] = []  # the test being set up, run or torn down, if any


def makes_databases(item: pytest.Item) -> bool:
    """Whether a test requests a fixture that makes databases of the backend under test."""
    return not BACKEND_FIXTURES.isdisjoint(getattr(item, "fixturenames", ()))


def uses_backend(item: pytest.Item) -> bool:
    """Whether a test runs in the PostgreSQL pass: it makes databases, and is not marked
    to run in the SQLite pass only."""
    return makes_databases(item) and item.get_closest_marker("sqlite_pass") is None


def pytest_report_header(config: pytest.Config) -> str:
    if BACKEND == "postgresql":
        return ("nodes on PostgreSQL: only the tests that request deployment_factory "
                "(the others ran on SQLite)")
    return f"nodes on {BACKEND}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On PostgreSQL, keep only the tests whose outcome can depend on the backend."""
    if BACKEND != "postgresql":
        return
    kept = [item for item in items if uses_backend(item)]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if not uses_backend(item)])
        items[:] = kept


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    _RUNNING.append(item)
    try:
        return (yield)
    finally:
        _RUNNING.remove(item)


# The personal data each flow of the test agreement lets cross (docs/CONFIGURATION.md).
PERSONAL_DATA = {
    "permintaan_klarifikasi": [
        "/ringkasan", "/pelapor/nama", "/pelapor/nik", "/pelapor/telepon", "/pelapor/email",
    ],
    "tanggapan_klarifikasi": ["/penjelasan", "/pejabat_penanggung_jawab/nama"],
}


def _personal_data(fields: list[str]) -> str:
    return (f"personal_data = {{ fields = {json.dumps(fields)}, purpose = 1, "
            'legal_basis = "UU 37/2008 Pasal 28; UU 27/2022 Pasal 20 ayat (2) huruf e" }')


def make_deployment(
    root: Path, *, interval: int = 3600, max_records: int = 1000, workers: int = 1,
    max_body: int = 1_000_000, max_batch_bytes: int = 262144, retry: str = "",
    max_chunk_bytes: int | None = None, delivery: str | None = None, node_settings: str = "",
) -> Deployment:
    """``node_settings``: lines added to both nodes' ``[node]`` table."""
    ports = {"pemkot-bekasi": free_port(), "ombudsman-ri": free_port()}
    root.mkdir(parents=True, exist_ok=True)
    urls = {party: _database_url(root, party) for party in PARTIES}
    (root / "agreement.toml").write_text(AGREEMENT.format(
        pemkot_port=ports["pemkot-bekasi"], ombudsman_port=ports["ombudsman-ri"],
        interval=interval, max_records=max_records, max_batch_bytes=max_batch_bytes,
        retry=f"retry = {{ {retry} }}" if retry else "",
        chunk=f"max_chunk_bytes = {max_chunk_bytes}" if max_chunk_bytes else "",
        # The tanggapan_klarifikasi flow only (Pemkot to the Ombudsman).
        delivery=f'delivery = "{delivery}"' if delivery else "",
        permintaan_personal=_personal_data(PERSONAL_DATA["permintaan_klarifikasi"]),
        tanggapan_personal=_personal_data(PERSONAL_DATA["tanggapan_klarifikasi"])))
    for party in PARTIES:
        tokens = list(TOKENS[party].values())
        hashes = {f"h{i + 1}": _sha256(t) for i, t in enumerate(tokens)}
        (root / f"{party}.toml").write_text(
            NODE.format(party=party, port=ports[party], db=urls[party],
                        max_body=max_body, workers=workers)
            + node_settings
            + CLIENTS[party].format(**hashes))
        init_keys(root / "keys" / party, environ={"GATEWAY_KEY_PASSPHRASE": PASSPHRASE},
                  note_names=(LOG_ORIGINS[party], WITNESS_NAMES[party]))
    return Deployment(root=root, ports=ports, urls=urls)


def _database_url(root: Path, party: str) -> str:
    for item in _RUNNING:
        if not makes_databases(item):
            raise RuntimeError(
                f"{item.nodeid} makes a node database but does not request the "
                "deployment_factory fixture, so the PostgreSQL pass would leave it out: make "
                "the deployment with deployment_factory (tests/conftest.py says why)")
    if BACKEND == "sqlite":
        shutil.copyfile(_sqlite_template(), root / f"{party}.db")
        return f"sqlite:///{root / party}.db"
    if BACKEND != "postgresql":
        raise RuntimeError(f"GATEWAY_TEST_BACKEND must be sqlite or postgresql, not {BACKEND!r}")
    base = _postgres_base()
    if base is None:
        raise RuntimeError(f"GATEWAY_TEST_BACKEND=postgresql, but no PostgreSQL answers at "
                           f"{os.environ.get(POSTGRES_ENV, POSTGRES_DEFAULT)}")
    return f"{base}?options=-csearch_path%3D{_new_schema(base)}"


@functools.cache
def _sqlite_template() -> Path:
    """An empty node database at this release's revision, made once per test process by
    the migrations, as a node makes its own. A deployment's SQLite databases start as
    copies of it: each node would otherwise run every migration again when it first
    opens its database (a tenth of a second, and Alembic imported, in every node of
    every test). The migrations themselves are tested on databases of their own
    (tests/unit/test_migrate.py)."""
    import sqlite3
    import tempfile

    from gateway.store.database import Store

    folder = tempfile.mkdtemp(prefix="gateway-test-template-")
    atexit.register(shutil.rmtree, folder, True)
    path = Path(folder) / "node.db"
    store = Store(f"sqlite:///{path}")
    try:
        store.create_schema()
    finally:
        store.dispose()
    # Everything in the one file, none of it left in a write-ahead log beside it (a node
    # puts its database back in WAL mode when it connects).
    plain = sqlite3.connect(path)
    try:
        plain.execute("PRAGMA journal_mode=DELETE")
    finally:
        plain.close()
    return path


def _new_schema(base: str) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    schema = f"t_{os.urandom(6).hex()}"
    engine = create_engine(base, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    _SCHEMAS.append(schema)
    return schema


@pytest.fixture(scope="session", autouse=True)
def _drop_test_schemas() -> Iterator[None]:
    yield
    base = _postgres_base() if _SCHEMAS else None
    if base is None:
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(base, poolclass=NullPool)
    for schema in _SCHEMAS:  # one at a time: a single transaction runs out of lock slots
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


POSTGRES_ENV = "GATEWAY_TEST_POSTGRES"  # a SQLAlchemy URL of a database tests may use
POSTGRES_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@functools.cache
def _postgres_base() -> str | None:
    """The PostgreSQL server for the tests, if one answers (else those tests are skipped)."""
    url = os.environ.get(POSTGRES_ENV, POSTGRES_DEFAULT)
    if url == "":
        return None
    try:
        import psycopg  # noqa: F401
        from sqlalchemy import create_engine, text

        engine = create_engine(url, connect_args={"connect_timeout": 2})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception:  # no driver, no server: PostgreSQL tests are skipped, and say so
        return None
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # "gw0", "gw1"... under pytest -n
    return _worker_database(url, worker) if worker else url


def _worker_database(url: str, worker: str) -> str:
    """The URL of the xdist worker's own database beside ``url``'s, made on first use.

    PostgreSQL scopes advisory locks, which the nodes' scheduled jobs take, to a
    database: in a database of its own, a worker's nodes never find a lock held by
    another worker's. The database is kept for the next run (dropping one makes the
    server write a checkpoint, which can take long); each run drops its schemas.
    """
    from sqlalchemy import create_engine, make_url, text
    from sqlalchemy.pool import NullPool

    base = make_url(url)
    name = f"{base.database or base.username}_{worker}"
    engine = create_engine(base, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    exists = text("SELECT 1 FROM pg_database WHERE datname = :name")
    try:
        with engine.connect() as conn:
            if conn.execute(exists, {"name": name}).first() is None:
                try:
                    conn.execute(text(f'CREATE DATABASE "{name}"'))
                except Exception as exc:  # made meanwhile by another run, or not allowed
                    if conn.execute(exists, {"name": name}).first() is None:
                        raise RuntimeError(
                            f"pytest-xdist worker {worker} needs a PostgreSQL database of its "
                            f"own and could not create {name}: {exc} (run without -n, "
                            "or scripts/test with GATEWAY_TEST_WORKERS=0)") from exc
    finally:
        engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL of an empty schema of its own on the test PostgreSQL server, dropped afterwards."""
    base = _postgres_base()
    if base is None:
        pytest.skip(f"no PostgreSQL at ${POSTGRES_ENV} or {POSTGRES_DEFAULT}")

    yield f"{base}?options=-csearch_path%3D{_new_schema(base)}"


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
    # The other nodes of the deployment, by party.
    others: dict[str, NodeApp] = field(default_factory=dict)

    def auth(self, client_id: str | None = None) -> dict[str, str]:
        tokens = TOKENS[self.party]
        return {"Authorization": f"Bearer {tokens[client_id or next(iter(tokens))]}"}

    @property
    def node(self) -> Node:
        found: Node = self.app.extensions["gateway.node"]
        return found

    def signed_by(self, sender: str, path: str, body: bytes | str) -> dict[str, str]:
        """The headers that sign a POST of ``sender``'s node to this one at ``path``."""
        signer = self.others[sender].node
        party = signer.config.agreement.party(self.party)
        data = body.encode() if isinstance(body, str) else body
        return signed_requests.headers(signer, party, "POST", party.base_url + path, data)

    def peer_post(
        self,
        path: str,
        body: bytes | str,
        *,
        content_type: str = "application/jose",
        sender: str | None = None,
    ) -> Any:
        """POST to this node's exchange API as the other node does: signed by it."""
        sender = sender or next(iter(self.others))
        return self.client.post(
            path,
            data=body,
            content_type=content_type,
            headers=self.signed_by(sender, path, body),
        )


def build_apps(deployment: Deployment) -> dict[str, NodeApp]:
    """Both nodes as in-process Flask apps on real SQLite databases."""
    out = {}
    for party in PARTIES:
        app = create_app(deployment.config(party))
        out[party] = NodeApp(party=party, app=app, client=app.test_client())
    for node_app in out.values():
        node_app.others = {p: other for p, other in out.items() if p != node_app.party}
    return out


@pytest.fixture
def pemkot(apps: dict[str, NodeApp]) -> NodeApp:
    return apps["pemkot-bekasi"]


@pytest.fixture
def ombudsman(apps: dict[str, NodeApp]) -> NodeApp:
    return apps["ombudsman-ri"]


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
