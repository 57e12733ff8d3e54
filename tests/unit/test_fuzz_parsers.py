"""Property-based fuzzing of every parser that reads outside input.

The one property everywhere: a parser either succeeds or refuses with the
exception its module documents (EnvelopeRejected, VerificationFailed, NoteError
or SignatureError, ConfigError, RequestRejected); an HTTP endpoint answers
anything but 500, with an ``{"error": {"code": ...}}`` body when it refuses.
Nothing else may escape. The cases it found (a receipt's record_count of another
type, unreadable or NUL-holding config paths, an unparseable base_url, a batch id
in a URL path that PostgreSQL cannot store) are kept as tests of their own.

Deterministic (``derandomize=True``) and small enough for CI.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import datetime as dt
import hashlib
import json
import math
import tomllib
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from joserfc import jwe
from joserfc.jwk import OKPKey

from gateway.crypto import envelope as env
from gateway.crypto.keys import PeerKey, PeerKeys
from gateway.errors import ConfigError, EnvelopeRejected, RequestRejected, VerificationFailed
from gateway.node.config import load_agreement, load_node_config
from gateway.peers import signed_requests, witness
from gateway.tlog import note
from tests.conftest import LOG_ORIGINS, PASSPHRASE, TOKENS, build_apps

REPO = Path(__file__).resolve().parents[2]


def fuzz(n: int) -> Any:
    return settings(
        max_examples=n,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                               HealthCheck.data_too_large],
        database=None,
    )


# -- shared strategies ---------------------------------------------------------------------

def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)

# JSON *text* fragments that json.dumps never writes: what a hostile signer can.
ADVERSARIAL_FRAGMENTS = [
    "NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1E999999", "4.9e-325", "-0", "0.0",
    "1.0", "1", "0", "-1", "true", "false", "null", '""', "[]", "{}",
    "9007199254740993", "-9007199254740993", "123456789012345678901234567890",
    "1" * 5000,  # over Python's int-from-string digit limit
    "[" * 5000 + "]" * 5000,  # deeper than the recursion limit
    '{"a":' * 3000 + "1" + "}" * 3000,
    '"\\ud800"', '"\\udc00\\ud800"', '"\\u0000"', '"\U0001f600"',
    '"' + "a" * 70_000 + '"',
    '"2026-11-28T03:00:00"', '"2026-11-28"', '"9999-12-31T23:59:59+14:00"',
    '"7d1f3c9e-0000-4000-8000-000000000001"', '"' + "0" * 64 + '"', '"' + "A" * 64 + '"',
    '"ombudsman-ri"', '"pemkot-bekasi"', "[1e400]", '[{"record_count":1e400}]',
    '[{"record_count":1,"records_sha256":"' + "0" * 64 + '"}]',
]
fragments = st.one_of(
    st.sampled_from(ADVERSARIAL_FRAGMENTS),
    json_values.map(lambda v: json.dumps(v)),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats().map(lambda f: "NaN" if math.isnan(f) else json.dumps(f)),
)


def json_object_text(items: list[tuple[str, str]]) -> bytes:
    """A JSON object from (key, value text) pairs, duplicates and all."""
    return ("{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in items) + "}").encode()


@st.composite
def mutated_document(draw: Any, base: dict[str, Any]) -> bytes:
    """``base`` as JSON text, with fields replaced, dropped, duplicated or added."""
    items = [(k, json.dumps(v)) for k, v in base.items()]
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["replace", "drop", "duplicate", "add"]))
        if op == "add" or not items:
            items.append((draw(st.text(max_size=10)), draw(fragments)))
            continue
        i = draw(st.integers(0, len(items) - 1))
        if op == "replace":
            items[i] = (items[i][0], draw(fragments))
        elif op == "drop":
            del items[i]
        else:
            items.insert(draw(st.integers(0, len(items))), (items[i][0], draw(fragments)))
    return json_object_text(items)


def whole_documents() -> Any:
    """Anything at all where a JSON document is expected."""
    return st.one_of(
        st.binary(max_size=200),
        fragments.map(str.encode),
        json_values.map(lambda v: json.dumps(v).encode()),
    )


@st.composite
def byte_mutation(draw: Any, token: str) -> bytes:
    """A valid compact token, damaged: flipped, cut, inserted, spliced or re-encoded."""
    raw = bytearray(token.encode())
    op = draw(st.sampled_from(["flip", "truncate", "insert", "splice", "segment", "swap_header",
                               "delete", "dots"]))
    if op == "flip":
        for _ in range(draw(st.integers(1, 4))):
            i = draw(st.integers(0, len(raw) - 1))
            raw[i] ^= draw(st.integers(1, 255))
    elif op == "truncate":
        raw = raw[: draw(st.integers(0, len(raw) - 1))]
    elif op == "insert":
        i = draw(st.integers(0, len(raw)))
        raw[i:i] = draw(st.binary(min_size=1, max_size=20))
    elif op == "delete":
        i = draw(st.integers(0, len(raw) - 1))
        del raw[i : i + draw(st.integers(1, 50))]
    elif op == "dots":
        raw = bytearray(draw(st.sampled_from([b".", b"..", b"...."])).join(
            [bytes(raw)] * draw(st.integers(1, 2))))
    else:
        parts = token.split(".")
        i = draw(st.integers(0, len(parts) - 1))
        if op == "splice":
            j = draw(st.integers(0, len(parts) - 1))
            parts[i], parts[j] = parts[j], parts[i]
            if draw(st.booleans()):
                del parts[draw(st.integers(0, len(parts) - 1))]
        elif op == "segment":
            parts[i] = draw(st.one_of(
                st.binary(max_size=64).map(b64url), st.text(max_size=30),
                st.just(""), st.just(parts[i] + "=="), st.just(parts[i][::-1]),
            ))
        else:  # swap_header: another JSON header, base64url-encoded
            try:
                header = json.loads(base64.urlsafe_b64decode(parts[0] + "=="))
            except ValueError:  # not a JOSE token (a witness body): start from nothing
                header = {}
            if not isinstance(header, dict):
                header = {}
            parts[0] = b64url(draw(mutated_document(header)))
        raw = bytearray(".".join(parts).encode("utf-8", "surrogatepass"))
    return bytes(raw)


def compact_jws(key: OKPKey, header: bytes, payload: bytes) -> str:
    """A compact JWS over any header and payload bytes, signed with ``key`` (Ed25519)."""
    signing_input = f"{b64url(header)}.{b64url(payload)}".encode()
    signature = key.private_key.sign(signing_input)  # type: ignore[union-attr]
    return f"{signing_input.decode()}.{b64url(signature)}"


# -- envelopes (gateway/crypto/envelope.py) -------------------------------------------------------

O_SIG = OKPKey.generate_key("Ed25519")
O_ENC = OKPKey.generate_key("X25519")
P_SIG = OKPKey.generate_key("Ed25519")
P_ENC = OKPKey.generate_key("X25519")
PEERS = PeerKeys([
    PeerKey("ombudsman-ri", OKPKey.import_key(O_SIG.as_dict(private=False)), "sig"),
    PeerKey("ombudsman-ri", OKPKey.import_key(O_ENC.as_dict(private=False)), "enc"),
    PeerKey("pemkot-bekasi", OKPKey.import_key(P_SIG.as_dict(private=False)), "sig"),
])
BATCH_ID = "7d1f3c9e-0000-4000-8000-000000000001"
NOW = dt.datetime(2026, 11, 28, 3, 0, tzinfo=dt.UTC)
HEADER = env.BatchHeader(sender="ombudsman-ri", receiver="pemkot-bekasi",
                         dataset="permintaan_klarifikasi", schema_version="1.0",
                         batch_id=BATCH_ID, created_at=NOW, sequence=3)
RECORDS = [{"n": 1, "text": "satu"}, {"n": 2, "text": "dua"}]
FORMS = [json.dumps(r, separators=(",", ":"), sort_keys=True).encode() for r in RECORDS]
DIGEST = env.records_digest(RECORDS)
ROOT = "ab" * 32

KINDS = {
    "batch": (env.open_batch, env.BATCH_JWS_TYP, env.BATCH_JWE_TYP),
    "manifest": (env.open_manifest, env.MANIFEST_JWS_TYP, env.MANIFEST_JWE_TYP),
    "chunk": (env.open_chunk, env.CHUNK_JWS_TYP, env.CHUNK_JWE_TYP),
}
_COMMON = {"v": 1, "sender": "ombudsman-ri", "receiver": "pemkot-bekasi",
           "dataset": "permintaan_klarifikasi", "schema_version": "1.0", "batch_id": BATCH_ID}
DOCUMENTS = {
    "batch": {**_COMMON, "sequence": 3, "created_at": "2026-11-28T03:00:00.000000Z",
              "record_count": 2, "records_sha256": DIGEST, "records": RECORDS},
    "manifest": {**_COMMON, "sequence": 3, "created_at": "2026-11-28T03:00:00.000000Z",
                 "record_count": 2, "records_root": ROOT, "chunk_count": 1,
                 "chunks": [{"record_count": 2, "records_sha256": DIGEST}]},
    "chunk": {**_COMMON, "chunk": 0, "record_count": 2, "records_sha256": DIGEST,
              "records": RECORDS},
}
VALID = {
    "batch": env.seal_batch(HEADER, RECORDS, signing_key=O_SIG, recipient_key=P_ENC,
                            max_bytes=1_000_000),
    "manifest": env.seal_manifest(HEADER, records_root=ROOT,
                                  chunks=[env.ChunkInfo(2, DIGEST)], signing_key=O_SIG,
                                  recipient_key=P_ENC),
    "chunk": env.seal_chunk(HEADER, 0, [env.canonical.dumps(r) for r in RECORDS],
                            signing_key=O_SIG, recipient_key=P_ENC, max_bytes=1_000_000),
}
kinds = st.sampled_from(sorted(KINDS))


def open_kind(kind: str, token: str | bytes) -> Any:
    """Open an envelope; anything but success or EnvelopeRejected fails the property."""
    opener = KINDS[kind][0]
    try:
        return opener(token, own_party="pemkot-bekasi", decryption_key=P_ENC, peer_keys=PEERS,
                      max_bytes=1_000_000)
    except EnvelopeRejected as exc:
        event(f"refused: {exc.reason}")
        return None


def seal_raw(kind: str, jws_header: bytes, payload: bytes, *, signer: OKPKey = O_SIG,
             jwe_typ: str | None = None) -> str:
    """An envelope around any inner JWS: a hostile but correctly keyed sender."""
    signed = compact_jws(signer, jws_header, payload)
    return jwe.encrypt_compact(
        {"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "kid": P_ENC.thumbprint(), "cty": "JOSE",
         "typ": jwe_typ or KINDS[kind][2]},
        signed, P_ENC, registry=env._jwe_registry(len(signed) + 8192))


def jws_header(kind: str, signer: OKPKey = O_SIG) -> bytes:
    return json.dumps({"alg": "Ed25519", "kid": signer.thumbprint(),
                       "typ": KINDS[kind][1]}).encode()


def test_the_valid_envelopes_open():
    for kind in KINDS:
        assert open_kind(kind, VALID[kind]) is not None


@fuzz(150)
@given(kind=kinds, data=st.one_of(st.binary(max_size=600), st.text(max_size=600)))
def test_envelope_openers_refuse_random_input(kind, data):
    open_kind(kind, data)


@fuzz(60)
@given(kind=kinds, parts=st.lists(st.one_of(st.binary(max_size=80).map(b64url),
                                            st.text(max_size=20)), min_size=5, max_size=5))
def test_envelope_openers_refuse_five_random_segments(kind, parts):
    open_kind(kind, ".".join(parts))


@fuzz(150)
@given(data=st.data(), kind=kinds)
def test_envelope_openers_refuse_damaged_envelopes(data, kind):
    token = data.draw(byte_mutation(VALID[kind]))
    open_kind(kind, token)
    open_kind(kind, token.decode("latin-1"))


@fuzz(200)
@given(kind=kinds, data=st.data())
def test_signed_adversarial_documents_are_refused_or_opened(kind, data):
    """Correctly signed and encrypted, so every document reaches the field checks."""
    document = data.draw(st.one_of(mutated_document(DOCUMENTS[kind]),
                                   mutated_document(DOCUMENTS[kind]), whole_documents()),
                         label="document")
    open_kind(kind, seal_raw(kind, jws_header(kind), document))


@st.composite
def records_documents(draw: Any, kind: str) -> bytes:
    """A document whose records are arbitrary and whose digest and count match them."""
    records = draw(st.lists(st.one_of(json_values, st.sampled_from(ADVERSARIAL_FRAGMENTS[:30])
                                      .map(lambda f: ("raw", f))), max_size=4))
    texts = [r[1] if isinstance(r, tuple) and len(r) == 2 and r[0] == "raw"
             else json.dumps(r) for r in records]
    try:
        digest = env.forms_digest([env.canonical.dumps(json.loads(t)) for t in texts])
    except Exception:  # not canonicalisable: the opener must refuse it
        digest = "0" * 64
    items = [(k, json.dumps(v)) for k, v in DOCUMENTS[kind].items()
             if k not in ("records", "record_count", "records_sha256")]
    items += [("record_count", str(len(texts))), ("records_sha256", json.dumps(digest)),
              ("records", "[" + ",".join(texts) + "]")]
    return json_object_text(items)


@fuzz(120)
@given(kind=st.sampled_from(["batch", "chunk"]), data=st.data())
def test_signed_documents_with_arbitrary_records(kind, data):
    open_kind(kind, seal_raw(kind, jws_header(kind), data.draw(records_documents(kind))))


@fuzz(100)
@given(kind=kinds, header=st.one_of(
    mutated_document({"alg": "Ed25519", "kid": O_SIG.thumbprint(), "typ": "gw-batch+jws"}),
    whole_documents()), wrong_jwe_typ=st.booleans())
def test_signed_envelopes_with_arbitrary_inner_headers(kind, header, wrong_jwe_typ):
    doc = json.dumps(DOCUMENTS[kind]).encode()
    open_kind(kind, seal_raw(kind, header, doc, jwe_typ="gw-x+jwe" if wrong_jwe_typ else None))


@fuzz(30)
@given(kind=kinds, signer=st.sampled_from(["stranger", "receiver"]))
def test_envelopes_signed_by_another_key_are_refused(kind, signer):
    key = OKPKey.generate_key("Ed25519") if signer == "stranger" else P_SIG
    token = seal_raw(kind, jws_header(kind, key), json.dumps(DOCUMENTS[kind]).encode(),
                     signer=key)
    assert open_kind(kind, token) is None


# -- receipts (verify_receipt) -------------------------------------------------------------

RECEIPT = {"v": 1, "batch_id": BATCH_ID, "sender": "ombudsman-ri", "receiver": "pemkot-bekasi",
           "dataset": "permintaan_klarifikasi", "record_count": 2,
           "received_at": "2026-11-28T03:00:01.000000Z", "records_sha256": DIGEST}
RECEIPT_HEADER = json.dumps({"alg": "Ed25519", "kid": P_SIG.thumbprint(),
                             "typ": "gw-receipt+jws"}).encode()


def check_receipt(token: Any) -> Any:
    try:
        return env.verify_receipt(token, peer_keys=PEERS, receiver="pemkot-bekasi",
                                  batch_id=BATCH_ID, records_sha256=DIGEST)
    except VerificationFailed as exc:
        event(f"refused: {str(exc)[:24]}")
        return None


def test_a_valid_receipt_verifies():
    assert check_receipt(compact_jws(P_SIG, RECEIPT_HEADER, json.dumps(RECEIPT).encode()))


@fuzz(100)
@given(token=st.one_of(st.text(max_size=300),
                       byte_mutation(compact_jws(P_SIG, RECEIPT_HEADER,
                                                 json.dumps(RECEIPT).encode()))
                       .map(lambda b: b.decode("latin-1"))))
def test_receipts_refuse_random_and_damaged_tokens(token):
    check_receipt(token)


@fuzz(150)
@given(document=st.one_of(mutated_document(RECEIPT), whole_documents()),
       header=st.one_of(st.just(RECEIPT_HEADER), mutated_document(
           {"alg": "Ed25519", "kid": P_SIG.thumbprint(), "typ": "gw-receipt+jws"})))
def test_signed_adversarial_receipts_are_refused_or_verified(document, header):
    check_receipt(compact_jws(P_SIG, header, document))


@fuzz(20)
@example(fragment='"x"')
@given(fragment=st.sampled_from(['"x"', "[1]", "{}", "1e400", "NaN", '"1.5"']))
def test_receipt_with_non_integer_record_count_is_refused(fragment):
    items = [(k, json.dumps(v)) for k, v in RECEIPT.items() if k != "record_count"]
    document = json_object_text([*items, ("record_count", fragment)])
    check_receipt(compact_jws(P_SIG, RECEIPT_HEADER, document))


# -- C2SP notes (gateway/tlog/note.py) ----------------------------------------------------------

_LOG_KEY = Ed25519PrivateKey.generate()
_WITNESS_KEY = Ed25519PrivateKey.generate()
LOG_SIGNER = note.Signer("example.test/log", _LOG_KEY)
COSIGNER = note.CosignatureSigner("example.test/witness", _WITNESS_KEY)
CHECKPOINT = note.Checkpoint("example.test/log", 5, bytes(range(32)), ("ext line",))
SIGNED = note.sign_note(CHECKPOINT.to_text(), LOG_SIGNER)
COSIGNED = SIGNED + note.format_signature_lines(
    [COSIGNER.cosign(CHECKPOINT.to_text(), 1_700_000_000)])
ADD = note.format_add_checkpoint(note.AddCheckpoint(3, (bytes(32), bytes([1]) * 32), SIGNED))
PROOF = note.format_tlog_proof(note.TlogProof(2, (bytes(32),), COSIGNED, b"extra"))
NOTE_REFUSALS = (note.NoteError, note.SignatureError)


def _note_parsers() -> list[tuple[str, Any]]:
    verifiers = [LOG_SIGNER.verifier(), COSIGNER.verifier()]
    return [
        ("parse_note", note.parse_note),
        ("open_note", lambda d: note.open_note(d, verifiers, required=1)),
        ("open_note2", lambda d: note.open_note(d, verifiers, required=2)),
        ("checkpoint", lambda d: note.Checkpoint.from_text(
            d if isinstance(d, str) else d.decode("utf-8", "replace"))),
        ("add_checkpoint", note.parse_add_checkpoint),
        ("signature_lines", note.parse_signature_lines),
        ("tlog_size", note.parse_tlog_size),
        ("tlog_proof", note.parse_tlog_proof),
        ("vkey", lambda d: note.Verifier.from_vkey(_text(d))),
        ("cosig_vkey", lambda d: note.CosignatureVerifier.from_vkey(_text(d))),
        ("skey", lambda d: note.signer_from_skey(_text(d))),
        ("cosig_verify", lambda d: COSIGNER.verifier().verify(
            _text(d), note.parse_note(COSIGNED).signatures[1])),
    ]


def _text(data: str | bytes) -> str:
    return data if isinstance(data, str) else data.decode("utf-8", "replace")


NOTE_PARSERS = _note_parsers()
NOTE_SAMPLES = [SIGNED, COSIGNED, ADD, PROOF, CHECKPOINT.to_text(), "5\n",
                LOG_SIGNER.verifier().vkey(), COSIGNER.verifier().vkey(),
                note.skey("k", _LOG_KEY), note.format_signature_lines(
                    note.parse_note(COSIGNED).signatures)]
note_bits = st.sampled_from([*"\n \u2014+/=0123456789abcAZ.", "\x00", "\t", "\ud800",
                             "\u00a0", "old ", "\u2014 ", "\n\n"])


@st.composite
def note_mutation(draw: Any) -> str | bytes:
    text = draw(st.sampled_from(NOTE_SAMPLES))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["insert", "delete", "replace", "dupline", "truncate"]))
        i = draw(st.integers(0, len(text)))
        if op == "insert":
            text = text[:i] + "".join(draw(st.lists(note_bits, min_size=1, max_size=5))) + text[i:]
        elif op == "delete":
            text = text[:i] + text[i + draw(st.integers(1, 10)):]
        elif op == "replace" and i < len(text):
            text = text[:i] + draw(note_bits) + text[i + 1:]
        elif op == "dupline":
            lines = text.split("\n")
            j = draw(st.integers(0, len(lines) - 1))
            lines.insert(j, lines[j] * draw(st.integers(1, 70)))
            text = "\n".join(lines)
        else:
            text = text[:i]
    if draw(st.booleans()):
        return text.encode("utf-8", "surrogatepass")
    return text


@fuzz(400)
@given(parser=st.sampled_from(NOTE_PARSERS), data=st.one_of(
    st.binary(max_size=300), st.text(max_size=300), note_mutation(),
    st.sampled_from(NOTE_SAMPLES)))
def test_note_parsers_refuse_with_note_errors(parser, data):
    _, parse = parser
    with contextlib.suppress(NOTE_REFUSALS):
        parse(data)


@fuzz(100)
@given(origin=st.text(min_size=1, max_size=20), size=st.integers(0, 2**64),
       root=st.binary(max_size=40), ext=st.lists(st.text(max_size=10), max_size=3),
       old=st.integers(0, 2**64), proof=st.lists(st.binary(max_size=40), max_size=3))
def test_add_checkpoint_bodies_built_from_random_fields(origin, size, root, ext, old, proof):
    text = "".join(f"{line}\n" for line in [origin, str(size),
                                            base64.b64encode(root).decode(), *ext])
    for body in (
        f"old {old}\n" + "".join(base64.b64encode(h).decode() + "\n" for h in proof) + "\n"
        + text + "\n— example.test/log " + base64.b64encode(bytes(70)).decode() + "\n",
    ):
        with contextlib.suppress(NOTE_REFUSALS):
            note.parse_add_checkpoint(body)
        with contextlib.suppress(NOTE_REFUSALS):
            note.open_note(text + "\n— a " + base64.b64encode(bytes(68)).decode() + "\n",
                           [LOG_SIGNER.verifier()])


# -- the witness endpoint's handler (witness.add_checkpoint) -------------------------------

@pytest.fixture(scope="module")
def node_apps(deployment_factory):
    """Both nodes of a fresh deployment as in-process apps, for the whole module."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GATEWAY_KEY_PASSPHRASE", PASSPHRASE)
        apps = build_apps(deployment_factory(max_chunk_bytes=65536))
    yield apps
    for node_app in apps.values():
        node_app.app.extensions["gateway.node"].store.dispose()


@st.composite
def witness_bodies(draw: Any, signer: note.Signer) -> bytes:
    size = draw(st.integers(0, 2**63 - 1) | st.integers(0, 20))
    root = draw(st.binary(min_size=32, max_size=32))
    origin = draw(st.sampled_from([signer.name] * 3 + [LOG_ORIGINS["pemkot-bekasi"],
                                                      "other.test/log"]))
    text = note.Checkpoint(origin, size, root).to_text()
    good = draw(st.sampled_from([True, True, True, False]))
    signed = note.sign_note(text, signer if good else LOG_SIGNER)
    old = draw(st.sampled_from([0, size]) | st.integers(0, size) | st.integers(0, 2**63 - 1))
    proof = draw(st.lists(st.binary(min_size=32, max_size=32), max_size=4))
    body = f"old {old}\n" + "".join(base64.b64encode(h).decode() + "\n" for h in proof)
    body += "\n" + signed
    if draw(st.integers(0, 3)) == 0:
        return bytes(draw(byte_mutation(body)))
    return body.encode()


@fuzz(120)
@given(data=st.data())
def test_witness_answers_garbage_with_4xx_and_never_raises(node_apps, data):
    node = node_apps["pemkot-bekasi"].app.extensions["gateway.node"]
    peer = node_apps["ombudsman-ri"].app.extensions["gateway.node"]
    signer = peer.keys.log_signer(LOG_ORIGINS["ombudsman-ri"])
    body = data.draw(st.one_of(
        witness_bodies(signer), witness_bodies(signer), witness_bodies(signer),
        st.binary(max_size=300),
        st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
        note_mutation().map(
            lambda t: t if isinstance(t, bytes) else t.encode("utf-8", "surrogatepass"))))
    answer = witness.add_checkpoint(node, body)
    event(f"status {answer.status}")
    assert isinstance(answer, witness.WitnessAnswer)
    assert answer.status in (200, 400, 403, 404, 409, 422), answer
    assert isinstance(answer.body, str)


# -- configuration files (gateway/node/config.py) -----------------------------------------------

# The unsigned (format 1) form, which a node reads as one file; signed agreements are
# fuzzed in test_agreements.py.
AGREEMENT_TOML = (REPO / "tests" / "data" / "unsigned-agreement.toml").read_text()
NODE_TOML = (REPO / "config" / "pemkot-bekasi.toml").read_text().replace(
    "../keys/pemkot-bekasi", "keys").replace(
    'agreements = "agreements"\nparties = "parties"',
    'agreement = "agreement.toml"\nunsigned_agreement = true')
AGREEMENT_DATA = tomllib.loads(AGREEMENT_TOML)
NODE_DATA = tomllib.loads(NODE_TOML)


def toml_value(value: Any) -> str:
    """TOML for a value (inline tables and arrays only)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") \
            if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return toml_str(value)
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_str(k)} = {toml_value(v)}" for k, v in value.items()) \
            + "}"
    raise TypeError(type(value))


def toml_str(text: str) -> str:
    """A TOML basic string (JSON's escapes, but no surrogate pairs, and DEL escaped)."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def toml_document(data: dict[str, Any]) -> str:
    return "".join(f"{toml_str(k)} = {toml_value(v)}\n" for k, v in data.items())


toml_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
toml_scalars = st.one_of(
    st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(), toml_text,
    st.dates(), st.sampled_from([
        "", ".", "..", "x", "1.0", "2.0", "Asia/Jakarta", "UTC", "America", "../etc/passwd",
        "http://x", "https://[::1]:8700", "ftp://x", "http://", "0 2 * * *", "* * * *",
        "61 25 32 13 8", "*/0 * * * *", "pemkot-bekasi", "ombudsman-ri", "lahp", "push",
        "pull", "auditor", "operator", "127.0.0.1:0", "host:99999", "a" * 300,
        "e8831417c4cd760e84a39a09a09409890d72e0b5b47e22a8fef8e3bad824423c",
    ]), st.sampled_from([0, -1, 1, 2**63 - 1, 0.5, 1e-300, 604801, 600, 601])
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["interval_seconds", "cron", "id", "name", "x", "max_attempts",
                         "multiplier", "initial_seconds", "max_seconds", "1"]) | toml_text,
        inner, max_size=3),
    max_leaves=6,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside nested dicts and lists."""
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


AGREEMENT_PATHS = _paths(AGREEMENT_DATA)
NODE_PATHS = _paths(NODE_DATA)


def _copy(value: Any) -> Any:
    return copy.deepcopy(value)


@st.composite
def mutated_toml(draw: Any, data: dict[str, Any], paths: list[tuple[Any, ...]]) -> dict[str, Any]:
    data = _copy(data)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths))
        parent: Any = data
        try:
            for step in path[:-1]:
                parent = parent[step]
            op = draw(st.sampled_from(["set", "set", "set", "delete", "add"]))
            if op == "set":
                parent[path[-1]] = draw(toml_values)
            elif op == "delete":
                del parent[path[-1]]
            elif isinstance(parent, dict):
                parent[draw(toml_text)] = draw(toml_values)
            else:
                parent.append(draw(toml_values))
        except (KeyError, IndexError, TypeError):
            pass  # an earlier mutation removed or retyped the path
    return data


PATH_KEYS = ("agreement", "key_dir", "jwks_file", "note_keys_file")


def load_both(root: Path, agreement_text: str, node_text: str) -> None:
    (root / "agreement.toml").write_text(agreement_text, encoding="utf-8")
    (root / "node.toml").write_text(node_text, encoding="utf-8")
    for what, load in (("agreement", lambda: load_agreement(root / "agreement.toml")),
                       ("node", lambda: load_node_config(root / "node.toml", environ={}))):
        try:
            load()
            event(f"{what}: loaded")
        except ConfigError as exc:
            event(f"{what}: refused at {exc.key.split('[')[0].split('.')[0]}")


def test_the_shipped_configuration_loads(tmp_path):
    (tmp_path / "agreement.toml").write_text(toml_document(AGREEMENT_DATA))
    (tmp_path / "node.toml").write_text(toml_document(NODE_DATA))
    assert load_node_config(tmp_path / "node.toml", environ={}).party_id == "pemkot-bekasi"


@fuzz(120)
@given(data=st.data())
def test_config_loaders_refuse_broken_toml(tmp_path, data):
    junk = st.one_of(st.text(st.sampled_from(list("[]{}=\"'#\n.,\\ x1")), max_size=8),
                     toml_text)

    def draw_text(original: str) -> str:
        choice = data.draw(st.sampled_from(["as is", "random", "damaged"]))
        if choice == "as is":
            return original
        if choice == "random":
            return data.draw(toml_text)
        i = data.draw(st.integers(0, len(original)))
        return original[:i] + data.draw(junk) + original[i + data.draw(st.integers(0, 8)):]

    agreement = draw_text(AGREEMENT_TOML)
    node = draw_text(NODE_TOML)
    load_both(tmp_path, agreement, node)


@fuzz(250)
@given(data=st.data())
def test_config_loaders_refuse_wrong_types_and_values(tmp_path, data):
    agreement = data.draw(st.one_of(mutated_toml(AGREEMENT_DATA, AGREEMENT_PATHS),
                                    st.just(AGREEMENT_DATA)))
    node = data.draw(st.one_of(mutated_toml(NODE_DATA, NODE_PATHS), st.just(NODE_DATA)))
    load_both(tmp_path, toml_document(agreement), toml_document(node))


def _with(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    data = _copy(data)
    parent = data
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return data


@fuzz(5)
@example(target="")
@given(target=st.sampled_from(["", ".", "..", "/"]))
def test_agreement_path_naming_a_directory_is_a_config_error(tmp_path, target):
    load_both(tmp_path, AGREEMENT_TOML, toml_document(_with(NODE_DATA, ("node", "agreement"),
                                                             target)))


@fuzz(10)
@example(where="key_dir")
@given(where=st.sampled_from(PATH_KEYS))
def test_nul_in_a_path_setting_is_a_config_error(tmp_path, where):
    agreement, node = AGREEMENT_DATA, NODE_DATA
    if where in ("agreement", "key_dir"):
        node = _with(NODE_DATA, ("node", where), "a\x00b")
    else:
        agreement = _with(AGREEMENT_DATA, ("parties", 0, where), "a\x00b")
    load_both(tmp_path, toml_document(agreement), toml_document(node))


@fuzz(10)
@example(url="http://[")
@given(url=st.sampled_from(["http://[", "http://[::1", "https://]", "http://[x]:1/"]))
def test_unparseable_base_url_is_a_config_error(tmp_path, url):
    load_both(tmp_path, toml_document(_with(AGREEMENT_DATA, ("parties", 0, "base_url"), url)),
              toml_document(NODE_DATA))


# -- signed node-to-node requests (signed_requests.verify) ----------------------------------

REQ_KEY = O_SIG
REQ_NOW = dt.datetime(2026, 11, 30, 3, 0, tzinfo=dt.UTC)
TARGET = "/exchange/v1/outbox?dataset=lahp&limit=100"
CLAIMS = {"iss": "ombudsman-ri", "aud": "pemkot-bekasi", "htm": "GET", "htu": TARGET,
          "iat": int(REQ_NOW.timestamp()), "jti": str(uuid.UUID(int=7, version=4)),
          "body_sha256": hashlib.sha256(b"").hexdigest()}
REQ_HEADER = {"alg": "Ed25519", "kid": REQ_KEY.thumbprint(), "typ": "gw-request+jws"}


def check_request(header: Any) -> Any:
    try:
        return signed_requests.verify(header, peer_keys=PEERS, audience="pemkot-bekasi",
                                     method="GET", target=TARGET, body=b"", now=REQ_NOW)
    except RequestRejected as exc:
        event(f"refused: {exc.reason}")
        return None


def test_a_valid_signed_request_verifies():
    token = compact_jws(REQ_KEY, json.dumps(REQ_HEADER).encode(), json.dumps(CLAIMS).encode())
    assert check_request(f"GatewaySignature {token}") is not None


@fuzz(150)
@given(header=st.one_of(
    st.none(), st.text(max_size=200),
    st.text(max_size=300).map(lambda t: "GatewaySignature " + t),
    byte_mutation(compact_jws(REQ_KEY, json.dumps(REQ_HEADER).encode(),
                              json.dumps(CLAIMS).encode()))
    .map(lambda b: "gatewaysignature  " + b.decode("latin-1")),
))
def test_signed_request_refuses_random_headers(header):
    check_request(header)


@fuzz(200)
@given(claims=st.one_of(mutated_document(CLAIMS), whole_documents()),
       protected=st.one_of(st.just(json.dumps(REQ_HEADER).encode()), mutated_document(REQ_HEADER),
                           whole_documents()))
def test_signed_request_refuses_signed_adversarial_claims(claims, protected):
    check_request("GatewaySignature " + compact_jws(REQ_KEY, protected, claims))


# -- HTTP request bodies (the in-process Flask apps) ---------------------------------------

def assert_clean(answer: Any) -> None:
    assert answer.status_code != 500, answer.get_data()[:500]
    assert answer.status_code < 500, answer.status_code
    if answer.status_code >= 400:  # a 3xx is Werkzeug's path normalisation
        body = answer.get_json(silent=True)
        assert isinstance(body, dict) and isinstance(body.get("error"), dict), answer.get_data()
        assert isinstance(body["error"].get("code"), str)


SUBMITTER = {"Authorization": f"Bearer {TOKENS['pemkot-bekasi']['sistem-pengaduan']}"}
DATASETS = st.sampled_from(["tanggapan_klarifikasi", "kegiatan_pengembangan",
                            "permintaan_klarifikasi", "nope", "%00", "a" * 300])


@fuzz(120)
@given(dataset=DATASETS, body=st.one_of(
    json_values,
    st.fixed_dictionaries({"schema_version": json_values | st.sampled_from(["1.0", "2.0"]),
                           "records": st.lists(json_values, max_size=3) | json_values}),
    st.fixed_dictionaries({"schema_version": st.just("1.0"),
                           "records": st.lists(st.dictionaries(st.sampled_from(
                               ["id", "nomor", "tanggal", "status", "x"]), json_values,
                               max_size=4), min_size=1, max_size=3)}),
))
def test_records_endpoint_answers_arbitrary_json_cleanly(node_apps, dataset, body):
    client = node_apps["pemkot-bekasi"].client
    assert_clean(client.post(f"/api/v1/datasets/{dataset}/records", json=body,
                             headers=SUBMITTER))


@fuzz(80)
@given(dataset=DATASETS, body=st.one_of(
    st.binary(max_size=200), st.sampled_from(ADVERSARIAL_FRAGMENTS).map(str.encode),
    mutated_document({"schema_version": "1.0", "records": [{"a": 1}]})),
    content_type=st.sampled_from(["application/json", "application/json; charset=latin-1",
                                  "text/plain", "application/jose", ""]))
def test_records_endpoint_answers_arbitrary_bytes_cleanly(node_apps, dataset, body,
                                                          content_type):
    client = node_apps["pemkot-bekasi"].client
    assert_clean(client.post(f"/api/v1/datasets/{dataset}/records", data=body,
                             content_type=content_type, headers=SUBMITTER))


@pytest.fixture(scope="module")
def peer_envelopes(node_apps):
    """Valid envelopes from the Ombudsman's node to Pemkot's, to damage."""
    sender = node_apps["ombudsman-ri"].app.extensions["gateway.node"].keys
    receiver = node_apps["pemkot-bekasi"].app.extensions["gateway.node"].keys
    header = env.BatchHeader(sender="ombudsman-ri", receiver="pemkot-bekasi",
                             dataset="permintaan_klarifikasi", schema_version="1.0",
                             batch_id=str(uuid.UUID(int=99, version=4)), created_at=NOW)
    keys = {"signing_key": sender.signing, "recipient_key": receiver.encryption}
    return {
        "batch": env.seal_batch(header, [{"x": 1}], max_bytes=100_000, **keys),
        "manifest": env.seal_manifest(header, records_root=ROOT, chunks=[env.ChunkInfo(1, DIGEST)],
                                      **keys),
        "chunk": env.seal_chunk(header, 0, [b'{"x":1}'], max_bytes=100_000, **keys),
    }


EXCHANGE_PATHS = {
    "batch": "/exchange/v1/batches",
    "manifest": f"/exchange/v1/batches/{BATCH_ID}/manifest",
    "chunk": f"/exchange/v1/batches/{BATCH_ID}/chunks/0",
}


@fuzz(120)
@given(kind=kinds, data=st.data(), content_type=st.sampled_from(
    ["application/jose", "application/jose", "application/json", "text/plain"]),
    # A NUL or over 36 characters: see test_odd_batch_id_in_the_path_is_refused_cleanly.
    batch_path=st.sampled_from([BATCH_ID, "x", "%01", "%FF", "A" * 36, "..%2f"]))
def test_exchange_endpoints_answer_arbitrary_bytes_cleanly(node_apps, peer_envelopes, kind, data,
                                                           content_type, batch_path):
    body = data.draw(st.one_of(st.binary(max_size=300), st.text(max_size=300).map(
        lambda t: t.encode("utf-8", "surrogatepass")), byte_mutation(peer_envelopes[kind])))
    path = EXCHANGE_PATHS[kind].replace(BATCH_ID, batch_path)
    # Signed by the peer, as every exchange request must be, so the body reaches the parsers.
    assert_clean(node_apps["pemkot-bekasi"].peer_post(path, body, content_type=content_type))


@fuzz(40)
@given(body=st.one_of(st.binary(max_size=300), note_mutation().map(
    lambda t: t if isinstance(t, bytes) else t.encode("utf-8", "surrogatepass"))))
def test_witness_endpoint_never_answers_500(node_apps, body):
    answer = node_apps["pemkot-bekasi"].peer_post(witness.ADD_CHECKPOINT_PATH, body,
                                                  content_type="text/plain")
    assert answer.status_code in (200, 400, 403, 404, 409, 422), answer.get_data()[:300]


@pytest.mark.parametrize("batch_id", ["%00", "A" * 37])
@pytest.mark.parametrize("kind", ["manifest", "chunk"])
def test_odd_batch_id_in_the_path_is_refused_cleanly(node_apps, kind, batch_id):
    path = EXCHANGE_PATHS[kind].replace(BATCH_ID, batch_id)
    assert_clean(node_apps["pemkot-bekasi"].client.post(path, data=b"",
                                                        content_type="application/jose"))
