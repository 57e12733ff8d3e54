"""Payloads encrypted at rest: the storage key, the JWE of each value, the column type."""

import base64
import json
import logging
import sqlite3
import stat

import pytest
from joserfc import jwe
from joserfc.jwk import OctKey
from sqlalchemy import insert, select, text
from sqlalchemy.exc import StatementError

from gateway.crypto import atrest
from gateway.crypto.atrest import Cipher, StorageKey, StoredPayloadError
from gateway.crypto.keys import init_keys
from gateway.errors import GatewayError, KeyMaterialError
from gateway.node.startup_checks import problems
from gateway.store import migrate
from gateway.store.database import FastInsert, Store
from gateway.store.tables import inbound_batches, outbox_record_bodies, outbox_records
from tests.conftest import PASSPHRASE, PRODUCTION_PBES2_COUNT

ENV = {"GATEWAY_KEY_PASSPHRASE": PASSPHRASE}
RECORD = '{"nama":"Siti Rahayu","nik":"3275014107900001","telepon":"+6281234567890"}'


def header_of(token):
    part = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


@pytest.fixture
def key():
    return StorageKey.generate()


def test_a_value_is_a_compact_jwe_that_opens_again(key):
    cipher = Cipher([key])
    sealed = cipher.seal(RECORD)
    _, encrypted_key, iv, _, tag = sealed.split(".")
    assert header_of(sealed) == {"alg": "dir", "enc": "A256GCM", "kid": key.kid}
    assert encrypted_key == "" and len(iv) == 16 and len(tag) == 22
    assert "Siti" not in sealed and "3275014107900001" not in sealed
    assert cipher.open(sealed) == RECORD
    assert cipher.seal(RECORD) != sealed  # a fresh IV each time
    assert cipher.open(cipher.seal("é ✓ ∑")) == "é ✓ ∑"


def test_any_jose_library_opens_it_and_it_opens_theirs(key):
    cipher = Cipher([key])
    opened = jwe.decrypt_compact(cipher.seal(RECORD), OctKey.import_key(key.jwk()),
                                 algorithms=["dir", "A256GCM"])
    assert opened.plaintext.decode() == RECORD
    jwcrypto = pytest.importorskip("jwcrypto.jwe")
    from jwcrypto.jwk import JWK

    token = jwcrypto.JWE()
    token.deserialize(cipher.seal(RECORD), key=JWK(**key.jwk()))
    assert token.payload.decode() == RECORD
    # A value sealed by joserfc (another header encoding) opens by its kid.
    theirs = jwe.encrypt_compact({"enc": "A256GCM", "kid": key.kid, "alg": "dir"}, RECORD,
                                 OctKey.import_key(key.jwk()), algorithms=["dir", "A256GCM"])
    assert cipher.open(theirs) == RECORD


def test_another_key_an_unknown_kid_and_altered_values_are_refused(key):
    cipher = Cipher([key])
    sealed = cipher.seal(RECORD)
    impostor = StorageKey(kid=key.kid, secret=StorageKey.generate().secret)
    with pytest.raises(StoredPayloadError, match="altered, or sealed under another key"):
        Cipher([impostor]).open(sealed)
    with pytest.raises(StoredPayloadError, match=f"storage key '{key.kid}'"):
        Cipher([StorageKey.generate()]).open(sealed)
    head, _, iv, body, tag = sealed.split(".")
    flipped = body[:10] + ("A" if body[10] != "A" else "B") + body[11:]
    other_header = base64.urlsafe_b64encode(json.dumps(
        {"kid": key.kid, "alg": "dir", "enc": "A256GCM"}).encode()).rstrip(b"=").decode()
    for altered in (f"{head}..{iv}.{flipped}.{tag}",  # the ciphertext
                    f"{head}..{iv}.{body}.{'B' if tag[0] == 'A' else 'A'}{tag[1:]}",  # the tag
                    f"{head}..{tag[:16]}.{body}.{tag}",  # the IV
                    f"{other_header}..{iv}.{body}.{tag}"):  # the header (authenticated)
        with pytest.raises(StoredPayloadError):
            cipher.open(altered)
    for garbled in (f"{head}..{iv}.{body[:-1]}!.{tag}", f"{head}..{iv}.{body}.{tag}é",
                    # the other alphabet's characters, padding, a length no encoding has
                    f"{head}..{iv}.{body[:-1]}+.{tag}", f"{head}..{iv}.{body[:-1]}/.{tag}",
                    f"{head}..{iv}.{body}==.{tag}", f"{head}..{iv}.{body}A.{tag}"):
        with pytest.raises(StoredPayloadError):
            cipher.open(garbled)


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 11, 12, 16, 1021, 1024, 2_000_003])
def test_values_are_base64url_without_padding_as_rfc_4648_writes_it(key, size):
    # The encoder is pybase64's; the reference is the standard library's.
    cipher = Cipher([key])
    plaintext = "".join(chr(0x20 + (i * 7919) % 0x5F) for i in range(size))
    sealed = cipher.seal(plaintext)
    for part in sealed.split(".")[2:]:
        assert "=" not in part
        padded = part + "=" * (-len(part) % 4)
        assert base64.urlsafe_b64encode(base64.urlsafe_b64decode(padded)).decode() == padded
    assert cipher.open(sealed) == plaintext


def test_a_rotated_key_seals_and_the_old_one_still_opens(key):
    old = Cipher([key]).seal(RECORD)
    rotated = Cipher([StorageKey.generate(), key])
    assert rotated.open(old) == RECORD
    assert header_of(rotated.seal(RECORD))["kid"] == rotated.kid != key.kid
    with pytest.raises(KeyMaterialError, match="same kid"):
        Cipher([key, key])


def test_values_from_before_and_purged_values_are_read_as_they_are(key):
    cipher = Cipher([key])
    signed = "eyJhbGciOiJFZDI1NTE5In0.eyJyZWNvcmRzIjpbXX0.c2ln"  # a JWS: three parts
    for value in (RECORD, signed, ""):
        assert cipher.open(value) == value
        assert not atrest.is_sealed(value)
    assert atrest.is_sealed(cipher.seal(""))


def test_the_key_file_is_a_pbes2_jwe_of_a_jwk_readable_only_by_its_owner(tmp_path, monkeypatch):
    monkeypatch.setattr(atrest, "PBES2_COUNT", PRODUCTION_PBES2_COUNT)
    assert PRODUCTION_PBES2_COUNT >= 210_000
    init_keys(tmp_path, environ=ENV)
    path = tmp_path / "storage.jwk"
    token = path.read_text().strip()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    header = header_of(token)
    assert (header["alg"], header["enc"], header["cty"]) == ("PBES2-HS512+A256KW", "A256GCM",
                                                           "jwk+json")
    assert header["p2c"] == PRODUCTION_PBES2_COUNT and len(token.split(".")) == 5
    # Standard JOSE: joserfc unwraps it with the passphrase alone.
    jwk = json.loads(jwe.decrypt_compact(token, OctKey.import_key(PASSPHRASE.encode()),
                                         algorithms=["PBES2-HS512+A256KW", "A256GCM"]).plaintext)
    assert (jwk["kty"], jwk["alg"], len(base64.urlsafe_b64decode(jwk["k"] + "="))) == (
        "oct", "dir", 32)
    cipher = atrest.load_cipher(tmp_path, environ=ENV)
    assert cipher.kid == jwk["kid"]
    assert atrest.key_file_encrypted(path) is True
    with pytest.raises(KeyMaterialError, match="set GATEWAY_KEY_PASSPHRASE"):
        atrest.load_cipher(tmp_path, environ={})
    with pytest.raises(KeyMaterialError, match="cannot decrypt the storage key"):
        atrest.load_cipher(tmp_path, environ={"GATEWAY_KEY_PASSPHRASE": "not-the-passphrase"})


def test_without_a_passphrase_the_key_is_a_plain_jwk_and_loudly_warned_about(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        init_keys(tmp_path, environ={}, insecure=True)
    assert "INSECURE: storage key" in caplog.text
    jwk = json.loads((tmp_path / "storage.jwk").read_text())
    assert jwk["kty"] == "oct" and atrest.key_file_encrypted(tmp_path / "storage.jwk") is False
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert atrest.load_cipher(tmp_path, environ={}).kid == jwk["kid"]
    assert "INSECURE: storage key" in caplog.text


def test_init_adds_a_storage_key_to_older_keys_and_never_replaces_it(tmp_path):
    init_keys(tmp_path, environ=ENV)
    pems = {p.name: p.read_bytes() for p in tmp_path.glob("*.pem")}
    (tmp_path / "storage.jwk").unlink()  # keys made before encryption at rest
    with pytest.raises(KeyMaterialError, match=r"storage key not found \(run 'gateway keys init'"):
        atrest.load_cipher(tmp_path, environ=ENV)
    init_keys(tmp_path, environ=ENV)
    assert {p.name: p.read_bytes() for p in tmp_path.glob("*.pem")} == pems
    kid = atrest.load_cipher(tmp_path, environ=ENV).kid
    with pytest.raises(KeyMaterialError, match="already holds every key"):
        init_keys(tmp_path, environ=ENV)
    assert atrest.load_cipher(tmp_path, environ=ENV).kid == kid


def test_production_refuses_a_plain_storage_key(deployment):
    config = deployment.config("pemkot-bekasi")
    assert problems(config, ENV) == []
    init_keys(deployment.root / "plain", environ={}, insecure=True)
    plain = (deployment.root / "plain" / "storage.jwk").read_bytes()
    (config.key_dir / "storage.jwk").write_bytes(plain)
    assert problems(config, ENV) == [f"{config.key_dir / 'storage.jwk'} is not encrypted"]


# -- the column type, on SQLite and PostgreSQL -------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'node.db'}"
    return request.getfixturevalue("postgres_url")


def outbox_row(seq):
    return {"seq": seq, "submission_id": "s", "dataset": "d", "schema_version": "1.0",
            "record_sha256": "0" * 64, "created_at": "2026-11-30T00:00:00Z"}


def body(seq, record):
    return {"seq": seq, "record": record}


def with_records(conn, seqs):
    conn.execute(insert(outbox_records), [outbox_row(seq) for seq in seqs])


def raw(store, sql):
    with store.engine.connect() as conn:
        return [r[0] for r in conn.execute(text(sql))]


def test_payload_columns_are_stored_sealed_and_read_in_clear(url, key):
    store = Store(url, cipher=Cipher([key]))
    try:
        store.create_schema()
        fast = FastInsert(outbox_record_bodies, ["seq", "record"])
        with store.write() as conn:
            with_records(conn, range(1, 7))
            fast.execute(conn, [body(1, RECORD), body(2, RECORD)])  # SQLite: raw
            conn.execute(insert(outbox_record_bodies), [body(3, RECORD)])  # executemany
            conn.execute(insert(outbox_record_bodies).values(body(4, RECORD)))
            fast.execute(conn, [body(5, store.seal(RECORD)), body(6, "")])
        stored = raw(store, "SELECT record FROM outbox_record_bodies ORDER BY seq")
        assert all(atrest.is_sealed(v) for v in stored[:5]) and stored[5] == ""
        assert not any("3275014107900001" in v for v in stored)
        assert len(set(stored[:5])) == 5
        with store.read() as conn:
            read = conn.execute(
                select(outbox_record_bodies.c.record).order_by(outbox_record_bodies.c.seq))
            assert list(read.scalars()) == [RECORD] * 5 + [""]
    finally:
        store.dispose()


def test_a_store_without_the_key_neither_stores_nor_reads_payloads(url, key):
    keyed = Store(url, cipher=Cipher([key]))
    try:
        keyed.create_schema()
        with keyed.write() as conn:
            with_records(conn, [1, 2])
            conn.execute(insert(outbox_record_bodies).values(body(1, RECORD)))
    finally:
        keyed.dispose()
    bare = Store(url)
    try:
        # SQLAlchemy wraps what a bind processor raises in a StatementError.
        with pytest.raises((StoredPayloadError, StatementError), match="no storage key"), \
                bare.write() as conn:
            conn.execute(insert(outbox_record_bodies).values(body(2, RECORD)))
        with pytest.raises(StoredPayloadError, match="no storage key"), bare.read() as conn:
            conn.execute(select(outbox_record_bodies.c.record)).all()
    finally:
        bare.dispose()


def plaintext_rows(store):
    """Rows as a release before encryption at rest stored them."""
    with store.engine.begin() as conn:
        for seq in (1, 2, 3):
            conn.execute(text(
                "INSERT INTO outbox_records (seq, submission_id, dataset, schema_version, record, "
                "record_sha256, created_at) VALUES (:s, 's', 'd', '1.0', :r, :h, 't')"),
                {"s": seq, "r": RECORD if seq < 3 else "", "h": "0" * 64})
        conn.execute(text(
            "INSERT INTO inbound_batches (sender, batch_id, dataset, schema_version, "
            "record_count, chunk_count, signer_kid, signed, receipt, received_at, sequence) "
            "VALUES ('p', 'b', 'd', '1.0', 2, 2, 'k', :m, 'r', 't', 1)"), {"m": "manifest.jws.x"})
        for idx in (0, 1):
            conn.execute(text(
                "INSERT INTO inbound_chunks (batch_id, idx, record_count, records_sha256, "
                "signer_kid, signed, leaves) VALUES ('b', :i, 1, :h, 'k', :s, :l)"),
                {"i": idx, "h": "0" * 64, "s": f"chunk{idx}.{RECORD}.sig", "l": b""})


def at_revision(url, revision):
    from alembic import command

    store = Store(url)
    with store.engine.begin() as conn:
        command.upgrade(migrate._config(conn), revision)
    return store


def test_the_migration_seals_payloads_stored_before_and_the_downgrade_opens_them(url, key):
    old = at_revision(url, "0008")
    try:
        plaintext_rows(old)
        with pytest.raises(GatewayError, match="needs the node's storage key"):
            old.create_schema()  # no key: the upgrade is refused, nothing changes
        assert migrate.current(old.engine) == "0008"
    finally:
        old.dispose()
    store = Store(url, cipher=Cipher([key]))
    try:
        store.create_schema()
        assert migrate.current(store.engine) == migrate.head()
        records = raw(store, "SELECT record FROM outbox_record_bodies ORDER BY seq")
        chunks = raw(store, "SELECT signed FROM inbound_chunks ORDER BY idx")
        batches = raw(store, "SELECT signed FROM inbound_batches")
        assert [atrest.is_sealed(v) for v in records + chunks + batches] == [True] * 2 + [False] + [
            True] * 3
        with store.read() as conn:
            stored = select(outbox_record_bodies.c.record).order_by(outbox_record_bodies.c.seq)
            assert list(conn.execute(stored).scalars()) == [RECORD, RECORD, ""]
            assert conn.execute(select(inbound_batches.c.signed)).scalar() == "manifest.jws.x"
        from alembic import command

        with store.engine.begin() as conn:
            command.downgrade(migrate._config(conn), "0008")
        assert raw(store, "SELECT record FROM outbox_records ORDER BY seq") == [RECORD, RECORD, ""]
        assert raw(store, "SELECT signed FROM inbound_chunks ORDER BY idx") == [
            f"chunk{i}.{RECORD}.sig" for i in (0, 1)]
    finally:
        store.dispose()


def test_a_fresh_database_needs_no_key_to_be_made(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        store.create_schema()
        assert migrate.current(store.engine) == migrate.head()
    finally:
        store.dispose()
    db = sqlite3.connect(tmp_path / "fresh.db")
    try:
        assert db.execute("SELECT count(*) FROM outbox_records").fetchone() == (0,)
    finally:
        db.close()


def test_a_storage_key_written_by_hand_in_either_base64_alphabet_is_read():
    # RFC 7517 writes k in base64url without padding; an earlier release also read the
    # standard alphabet, padded, with whitespace, as a key made by hand may be.
    secret = bytes(range(200, 232))
    for k in (base64.urlsafe_b64encode(secret).decode().rstrip("="),
              base64.b64encode(secret).decode(),
              " ".join(base64.b64encode(secret).decode()[i:i + 8] for i in range(0, 44, 8))):
        assert StorageKey.from_jwk({"kty": "oct", "kid": "k1", "k": k}, "storage.jwk").secret \
            == secret
    with pytest.raises(KeyMaterialError, match="the key is 31 bytes"):
        StorageKey.from_jwk({"kty": "oct", "kid": "k1", "k": base64.b64encode(secret[:31])
                             .decode()}, "storage.jwk")
