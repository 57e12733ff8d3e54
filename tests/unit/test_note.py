"""gateway.tlog.note against the C2SP specifications and their reference implementations.

Worked examples come from (repository, path):

* golang/mod, sumdb/note/note.go (package documentation) and sumdb/note/note_test.go
  (TestNewVerifier, TestNewSigner, TestSign, TestVerifierList, TestOpen): the PeterNeumann
  and EnochRoot keys, the signed note and its signatures.
* C2SP/C2SP, signed-note.md: the note with an empty line inside its text (quasimodo), as
  stored; the example.com/foo verifier key and note of the specification's later
  revision (commit d4c16da5e7687a016619074e78dad84b2c7238cc; that revision is not in the
  reference store, the vector is the one quoted verbatim by other implementations' tests,
  and it verifies here).
* C2SP/C2SP, tlog-checkpoint.md: the example.com/behind-the-sofa checkpoint.
* C2SP/C2SP, tlog-cosignature.md: the cosigned checkpoint and the Ed25519 signed message.
* C2SP/C2SP, tlog-witness.md: the add-checkpoint request and response bodies.
* C2SP/C2SP, tlog-proof.md: the example proof.
* transparency-dev/formats, note/note_cosigv1_test.go: a type 0x01 and a type 0x04 vkey,
  and a cosignature whose timestamp is 1727964367.

None of the C2SP examples publishes the public key of its log or witness signatures (the
checkpoint example's signature even carries sum.golang.org's key ID, 033de0ae), so those
are parsed, not verified; signatures are verified with the sumdb/note and signed-note keys,
and with keys made here.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.tlog import note
from gateway.tlog.note import (
    AddCheckpoint,
    Checkpoint,
    CosignatureSigner,
    CosignatureVerifier,
    Note,
    NoteError,
    Signature,
    SignatureError,
    Signer,
    TlogProof,
    Verifier,
)

EM = "\u2014"

# --- golang/mod sumdb/note/note.go and note_test.go ---------------------------------------------
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_B64 = (
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
)
ENOCH_B64 = (
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ="
)
PETER_SIG = f"{EM} PeterNeumann {PETER_B64}\n"
ENOCH_SIG = f"{EM} EnochRoot {ENOCH_B64}\n"
GO_NOTE = GO_TEXT + "\n" + PETER_SIG

# --- C2SP/C2SP signed-note.md -------------------------------------------------------------------
FOO_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
FOO_NOTE = (
    "This is an example message.\n"
    "\n"
    "— example.com/foo "
    "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)
QUASIMODO_NOTE = (
    "Ognuno sta solo sul cuor della terra\n"
    "trafitto da un raggio di sole:\n"
    "\n"
    "ed è subito sera.\n"
    "\n"
    "— quasimodo.example/salvatore "
    "NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n"
)

# --- C2SP/C2SP tlog-checkpoint.md, tlog-cosignature.md, tlog-witness.md ------------------------
SOFA_TEXT = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SOFA_LOG_SIG = (
    "— example.com/behind-the-sofa "
    "Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
)
SOFA_CHECKPOINT = SOFA_TEXT + "\n" + SOFA_LOG_SIG
SOFA_COSIGNED = SOFA_CHECKPOINT + (
    "— witness.example.com/w1 "
    "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
)
# tlog-cosignature.md, "Ed25519 signed message".
SOFA_COSIGNED_MESSAGE = (
    b"cosignature/v1\n"
    b"time 1679315147\n"
    b"example.com/behind-the-sofa\n"
    b"20852163\n"
    b"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)
# tlog-witness.md, "add-checkpoint": example request body.
WITNESS_REQUEST = (
    "old 20852014\n"
    "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
    "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n"
    "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n"
    "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n"
    "\n"
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "— example.com/behind-the-sofa "
    "Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    "— example.com/behind-the-sofa "
    "opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=\n"
)
# tlog-witness.md, "add-checkpoint": example response body.
WITNESS_RESPONSE = (
    "— witness.example/w1 "
    "CMp+6LWBU0anHGH5aNDTJkH/gj79sG+T6+iP2ThYN5krrDJbR1HDnucjL39QsZTSvVjyQLrdk3DXDqI5G2HgLatVs0pWh6Up69HVOw==\n"
    "— witness.example/w1 "
    "I7rEps0pvK2UqkS2gSpVUDhrhVtQV9lgF6pRrWAvjJHjyWpW7VcE3SiOlVlbQNt64vWhO+DlkL0+UfzuOBMh9ChdMkP1vi/lCAsmlw==\n"
    "— witness.example/w2 "
    "AWui8Sk55XjYLOijihBjhqEH6nS1ndDymE0a+6idX7pLcnoB+dhnz0854aLZgrrKbYKA7nC3HNJhm/kWl7oJlqU3rXXvpysAdyP3wQ==\n"
)

# --- C2SP/C2SP tlog-proof.md --------------------------------------------------------------------
PROOF_HEAD = (
    "c2sp.org/tlog-proof@v1\n"
    "extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ\n"
    "index 73894\n"
    "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n"
    "B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=\n"
    "EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=\n"
    "RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=\n"
    "AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=\n"
    "\n"
)
FANCY_TEXT = "example.com/fancylog\n109482\nsFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n"
PROOF_VERBATIM = (
    PROOF_HEAD
    + FANCY_TEXT
    + "\n"
    + "— example.com/fancylog hI2DJw[...]1roloI=\n"
    + "— witness1.example mJirIklj[...]qY9v2B/5bg==\n"
    + "— witness2.example TnKKVHLX[...]xwYwrSjgow==\n"
    + "— witness3.example S4X82uH5[...]3oEcROGLFQ==\n"
)

# --- transparency-dev/formats note/note_cosigv1_test.go ----------------------------------------
TD_ED25519_VKEY = "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6"
TD_COSIG_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
TD_COSIG_B64 = (
    "ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiEBYJ"
    "XORmnFBOBA=="
)


def private_key(n: int) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes([n]) * 32)


def peter() -> Verifier:
    return Verifier.from_vkey(PETER_VKEY)


def enoch() -> Verifier:
    return Verifier.from_vkey(ENOCH_VKEY)


LOG = Signer("example.com/log", private_key(1))
OTHER_LOG = Signer("example.com/log", private_key(2))
WITNESS = CosignatureSigner("witness.example/w1", private_key(3))
ROOT = hashlib.sha256(b"root").digest()


def signed_checkpoint(size: int = 10, origin: str = "example.com/log") -> str:
    signer = LOG if origin == LOG.name else Signer(origin, private_key(9))
    return note.sign_note(Checkpoint(origin, size, ROOT).to_text(), signer)


def flip_last_bit(b64: str) -> str:
    raw = bytearray(base64.b64decode(b64))
    raw[-1] ^= 1
    return base64.b64encode(bytes(raw)).decode()


# === signed-note: keys ==========================================================================


@pytest.mark.parametrize(
    "vkey",
    [
        PETER_VKEY,
        ENOCH_VKEY,
        FOO_VKEY,
        "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8",
        TD_ED25519_VKEY,
        TD_COSIG_VKEY,
    ],
)
def test_key_hash_is_sha256_of_name_newline_type_and_key(vkey: str) -> None:
    name, hash16, key64 = vkey.split("+", 2)
    data = base64.b64decode(key64)
    by_hand = hashlib.sha256(name.encode() + b"\n" + data).digest()[:4]
    assert note.key_hash(name, data[0], data[1:]) == by_hand == bytes.fromhex(hash16)


def test_go_skey_gives_the_go_vkey_and_signs_the_go_note_byte_for_byte() -> None:
    signer = note.signer_from_skey(PETER_SKEY)
    assert signer.name == "PeterNeumann"
    assert signer.key_hash == bytes.fromhex("c74f20a3")
    assert signer.vkey() == PETER_VKEY
    assert signer.public_key == base64.b64decode(PETER_VKEY.split("+", 2)[2])[1:]
    seed = base64.b64decode(PETER_SKEY.split("+", 4)[4])[1:]
    assert note.skey("PeterNeumann", Ed25519PrivateKey.from_private_bytes(seed)) == PETER_SKEY

    signature = signer.sign(GO_TEXT)
    assert signature.key_hash + signature.signature == base64.b64decode(PETER_B64)
    assert note.sign_note(GO_TEXT, signer) == GO_NOTE


def test_vkey_parses_and_formats_back() -> None:
    v = peter()
    assert (v.name, v.key_hash, v.vkey()) == ("PeterNeumann", bytes.fromhex("c74f20a3"), PETER_VKEY)
    # A type 0x01 key whose base64 contains '+', the vkey separator.
    assert Verifier.from_vkey(TD_ED25519_VKEY).vkey() == TD_ED25519_VKEY


def mangled(key: str) -> list[str]:
    """Every proper substring and every one-character increment (note_test.go)."""
    out = [key[i:j] for i in range(len(key) + 1) for j in range(i + 1, len(key) + 1)]
    out = [s for s in out if s != key]
    out += [key[:i] + chr(ord(key[i]) + 1) + key[i + 1 :] for i in range(len(key))]
    return out


def test_mangled_vkeys_are_rejected() -> None:
    for bad in mangled(PETER_VKEY):
        with pytest.raises(NoteError):
            Verifier.from_vkey(bad)
    # note_test.go TestNewVerifier: wrong key length and unknown algorithm, hashes adjusted.
    for bad in (
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ):
        with pytest.raises(NoteError):
            Verifier.from_vkey(bad)


def test_mangled_skeys_are_rejected_without_echoing_the_key() -> None:
    for bad in mangled(PETER_SKEY):
        with pytest.raises(NoteError) as caught:
            note.signer_from_skey(bad)
        assert "AYEKFALV" not in str(caught.value)


def test_vkey_of_the_wrong_signature_type_is_rejected() -> None:
    with pytest.raises(NoteError, match="type 0x01, expected 0x04"):
        CosignatureVerifier.from_vkey(PETER_VKEY)
    with pytest.raises(NoteError, match="type 0x01, expected 0x04"):
        CosignatureVerifier.from_vkey(TD_ED25519_VKEY)
    cosigner = CosignatureVerifier.from_vkey(TD_COSIG_VKEY)
    assert cosigner.key_hash == bytes.fromhex("da77ade7")
    assert cosigner.vkey() == TD_COSIG_VKEY
    with pytest.raises(NoteError, match="type 0x04, expected 0x01"):
        Verifier.from_vkey(TD_COSIG_VKEY)


@pytest.mark.parametrize(
    "vkey",
    [
        "",
        "PeterNeumann",
        "PeterNeumann+c74f20a3",
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+0xc74f20+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW\n",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq_LDE4izWy10TW",
    ],
)
def test_malformed_vkeys_are_rejected(vkey: str) -> None:
    with pytest.raises(NoteError, match="verifier key"):
        Verifier.from_vkey(vkey)


def test_generated_keys_round_trip_through_skey_and_vkey() -> None:
    key = Ed25519PrivateKey.generate()
    signer = note.signer_from_skey(note.skey("example.net/k", key))
    verifier = Verifier.from_vkey(Signer("example.net/k", key).vkey())
    text = "hello\n"
    signature = signer.sign(text)
    verifier.verify(text, signature)
    with pytest.raises(SignatureError):
        verifier.verify("hellO\n", signature)
    with pytest.raises(SignatureError):
        verifier.verify(text, Signature("example.net/x", signature.key_hash, signature.signature))
    bad = bytes([signature.signature[0] ^ 1]) + signature.signature[1:]
    with pytest.raises(SignatureError):
        verifier.verify(text, Signature(signature.name, signature.key_hash, bad))


@pytest.mark.parametrize("name", ["", "a+b", "a b", "a\u00a0b", "a\u3000b", "a\tb", "a\x01b"])
def test_invalid_key_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="invalid key name"):
        Signer(name, private_key(1))


# === signed-note: notes =========================================================================


def test_go_example_note_opens() -> None:
    for data in (GO_NOTE, GO_NOTE.encode()):
        opened = note.open_note(data, [peter()])
        assert opened.text == GO_TEXT
        assert opened.signatures == (
            Signature("PeterNeumann", bytes.fromhex("c74f20a3"), base64.b64decode(PETER_B64)[4:]),
        )


def test_unknown_signers_are_ignored_and_known_ones_counted() -> None:
    # note_test.go TestOpen: one known and one unknown key, then both known.
    message = GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG
    assert [s.name for s in note.open_note(message, [peter()]).signatures] == ["PeterNeumann"]
    assert [s.name for s in note.open_note(message, [enoch()]).signatures] == ["EnochRoot"]
    both = note.open_note(message, [peter(), enoch()], required=2)
    assert [s.name for s in both.signatures] == ["PeterNeumann", "EnochRoot"]
    with pytest.raises(SignatureError, match="1 known key"):
        note.open_note(message, [peter()], required=2)
    with pytest.raises(SignatureError, match="0 known key"):
        note.open_note(message, [])
    with pytest.raises(SignatureError, match="0 known key"):
        note.open_note(message, [LOG.verifier()])
    assert len(note.parse_note(message).signatures) == 2


def test_same_name_or_same_hash_alone_is_an_unknown_key() -> None:
    # signed-note "Signatures": ignore keys sharing a name or an ID (but not both).
    impostor = Verifier("PeterNeumann", LOG.public_key)
    with pytest.raises(SignatureError, match="0 known key"):
        note.open_note(GO_NOTE, [impostor])
    renamed = GO_NOTE.replace("PeterNeumann", "PeterNeuman")
    with pytest.raises(SignatureError, match="0 known key"):
        note.open_note(renamed, [peter()])


def test_duplicate_signatures_count_once() -> None:
    message = GO_TEXT + "\n" + PETER_SIG * 3
    opened = note.open_note(message, [peter()])
    assert len(opened.signatures) == 1
    with pytest.raises(SignatureError):
        note.open_note(message, [peter()], required=2)


def test_signed_note_spec_example_verifies() -> None:
    opened = note.open_note(FOO_NOTE, [Verifier.from_vkey(FOO_VKEY)])
    assert opened.text == "This is an example message.\n"
    assert opened.signatures[0].key_hash == bytes.fromhex("530d903a")


def test_text_is_separated_by_the_last_blank_line() -> None:
    parsed = note.parse_note(QUASIMODO_NOTE)
    assert parsed.text == (
        "Ognuno sta solo sul cuor della terra\n"
        "trafitto da un raggio di sole:\n"
        "\n"
        "ed è subito sera.\n"
    )
    assert [s.name for s in parsed.signatures] == ["quasimodo.example/salvatore"]
    assert note.format_note(parsed) == QUASIMODO_NOTE
    # Its key is not published: no known key, so the note is rejected.
    with pytest.raises(SignatureError):
        note.open_note(QUASIMODO_NOTE, [peter()])


def test_a_changed_byte_in_the_text_fails() -> None:
    with pytest.raises(SignatureError, match="line 4: the signature by PeterNeumann"):
        note.open_note(GO_NOTE.replace("cryptography", "cryptographY"), [peter()])


def test_a_changed_signature_fails() -> None:
    # note_test.go TestOpen "Invalid signature".
    with pytest.raises(SignatureError, match="does not verify"):
        note.open_note(GO_TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:], [peter()])
    flipped = f"{EM} PeterNeumann {flip_last_bit(PETER_B64)}\n"
    with pytest.raises(SignatureError, match="does not verify"):
        note.open_note(GO_TEXT + "\n" + flipped, [peter()])
    # A bad signature by a known key rejects the note even beside a good one.
    with pytest.raises(SignatureError, match="line 5"):
        note.open_note(GO_TEXT + "\n" + PETER_SIG + flipped, [peter()])


@pytest.mark.parametrize(
    ("message", "where"),
    [
        # note_test.go TestOpen "Invalid encoded message syntax".
        (GO_TEXT, "line 3: no blank line"),
        (GO_TEXT + "\n", "line 4: no signature lines"),
        (GO_TEXT + "\n" + PETER_SIG[:-1], "line 4: signature line does not end"),
        ("\x01" + GO_TEXT + "\n" + PETER_SIG, "line 1: forbidden character U\\+0001"),
        (GO_TEXT + "\n" + f"{EM} Bad Name {PETER_B64}", "line 4"),
        (
            GO_TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
            "line 5: signature line does not start",
        ),
        # Missing blank line.
        (GO_TEXT + PETER_SIG, "no blank line"),
        # Signature lines must start with an em dash and a space.
        (GO_TEXT + "\n" + PETER_SIG.replace(EM, "\u2013"), "line 4: .*em dash"),
        (GO_TEXT + "\n" + PETER_SIG.replace(EM, "-"), "line 4: .*em dash"),
        (GO_TEXT + "\n" + PETER_SIG.replace(EM + " ", EM), "line 4: .*em dash"),
        (GO_TEXT + "\n" + " " + PETER_SIG, "line 4: .*em dash"),
        (GO_TEXT + "\n" + PETER_SIG.replace("Neumann ", "Neumann\u00a0"), "line 4"),
        (GO_TEXT + "\n" + PETER_SIG.replace("Neumann ", "Neumann  "), "line 4"),
        (
            GO_TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Peter+Neumann"),
            "line 4: invalid key",
        ),
        (GO_TEXT + "\n" + f"{EM}  {PETER_B64}\n", "line 4: invalid key name"),
        # Base64: standard alphabet, padded, canonical; at least a key hash and one byte.
        (GO_TEXT + "\n" + PETER_SIG.replace("=\n", "\n"), "line 4: signature is not standard"),
        (GO_TEXT + "\n" + PETER_SIG.replace("/", "_"), "line 4: signature is not standard"),
        (GO_TEXT + "\n" + PETER_SIG.replace("AM=", "AN="), "line 4: signature is not canonical"),
        (GO_TEXT + "\n" + f"{EM} PeterNeumann AAAAAA==\n", "line 4: signature is shorter"),
        # Control characters other than newline, anywhere.
        (
            GO_TEXT.replace("\n", "\r\n") + "\r\n" + PETER_SIG,
            "line 1: forbidden character U\\+000D",
        ),
        (GO_TEXT.replace("answer", "ans\tw"), "line 1: forbidden character U\\+0009"),
        (GO_TEXT + "\n" + PETER_SIG[:-1] + "\x00\n", "line 4: forbidden character U\\+0000"),
        ("a\ud800\n\n" + PETER_SIG, "line 1: forbidden character U\\+D800"),
        (GO_TEXT + "\n" + PETER_SIG + "\n", "line 6: no signature lines"),
    ],
)
def test_malformed_notes_are_rejected(message: str, where: str) -> None:
    with pytest.raises(NoteError, match=where):
        note.parse_note(message)
    with pytest.raises(NoteError, match=where):
        note.open_note(message, [peter()])


def test_non_utf8_is_rejected_with_its_line() -> None:
    # note_test.go TestOpen: "\xff" + text.
    with pytest.raises(NoteError, match="line 1: note is not valid UTF-8"):
        note.parse_note(b"\xff" + GO_NOTE.encode())
    with pytest.raises(NoteError, match="line 2: note is not valid UTF-8"):
        note.parse_note(GO_NOTE.encode().replace(b"then", b"th\xc3\x28n"))
    # An encoded surrogate is not UTF-8 either.
    with pytest.raises(NoteError, match="not valid UTF-8"):
        note.parse_note(b"a\xed\xa0\x80\n\n" + PETER_SIG.encode())


def test_signature_count_limit() -> None:
    assert note.MAX_SIGNATURES >= 16  # signed-note "Format": MUST accept at least 16
    unknown = [f"{EM} k{i} {base64.b64encode(bytes(68)).decode()}\n" for i in range(101)]
    ok = GO_TEXT + "\n" + PETER_SIG + "".join(unknown[:99])
    assert len(note.open_note(ok, [peter()]).signatures) == 1
    # note_test.go TestOpen "too many signatures": 101 lines.
    with pytest.raises(NoteError, match="line 104: more than 100 signatures"):
        note.parse_note(GO_TEXT + "\n" + PETER_SIG * 101)


def test_format_and_sign_refuse_what_would_not_parse() -> None:
    with pytest.raises(NoteError, match="does not end with a newline"):
        note.sign_note("abc", LOG)
    with pytest.raises(NoteError, match="forbidden character"):
        LOG.sign("a\rb\n")
    with pytest.raises(ValueError, match="at least one signer"):
        note.sign_note("abc\n")
    with pytest.raises(NoteError, match="at least one signature"):
        note.format_note(Note("abc\n", ()))
    with pytest.raises(NoteError, match="invalid key name"):
        note.format_note(Note("abc\n", (Signature("a b", b"\0" * 4, b"\0"),)))
    with pytest.raises(ValueError, match="4 bytes"):
        Signature("a", b"\0" * 3, b"\0")


def test_open_note_arguments() -> None:
    with pytest.raises(ValueError, match="required"):
        note.open_note(GO_NOTE, [peter()], required=0)
    twin = Verifier("PeterNeumann", LOG.public_key)
    twin._key_hash = peter().key_hash  # a key hash colliding with another key
    with pytest.raises(ValueError, match="ambiguous"):
        note.open_note(GO_NOTE, [peter(), twin])
    assert note.open_note(GO_NOTE, [peter(), peter()]).text == GO_TEXT


def test_sign_and_open_with_several_signers() -> None:
    text = "multi\nline\n"
    message = note.sign_note(text, LOG, Signer("example.org/b", private_key(5)))
    opened = note.open_note(
        message, [LOG.verifier(), Signer("example.org/b", private_key(5)).verifier()]
    )
    assert opened.text == text
    assert len(opened.signatures) == 2
    assert note.format_note(note.parse_note(message)) == message


# === tlog-checkpoint ============================================================================


def test_checkpoint_spec_example() -> None:
    parsed = note.parse_note(SOFA_CHECKPOINT)
    checkpoint = Checkpoint.from_text(parsed.text)
    assert checkpoint == Checkpoint(
        "example.com/behind-the-sofa",
        20852163,
        base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="),
    )
    assert checkpoint.to_text() == SOFA_TEXT
    (signature,) = parsed.signatures
    assert signature.name == "example.com/behind-the-sofa"
    assert signature.key_hash == bytes.fromhex("033de0ae")
    assert len(signature.signature) == 64


def test_checkpoint_with_extension_lines_and_empty_tree() -> None:
    checkpoint = Checkpoint("o", 0, ROOT, ("ext one", "ext two"))
    text = checkpoint.to_text()
    assert text == f"o\n0\n{base64.b64encode(ROOT).decode()}\next one\next two\n"
    assert Checkpoint.from_text(text) == checkpoint
    biggest = Checkpoint("o", 2**64 - 1, ROOT)
    assert Checkpoint.from_text(biggest.to_text()) == biggest


ROOT64 = base64.b64encode(ROOT).decode()


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (f"o\n020852163\n{ROOT64}\n", "line 2: tree size '020852163' is not a decimal"),
        (f"o\n00\n{ROOT64}\n", "line 2: tree size"),
        (f"o\n+5\n{ROOT64}\n", "line 2: tree size"),
        (f"o\n-1\n{ROOT64}\n", "line 2: tree size"),
        (f"o\n 5\n{ROOT64}\n", "line 2: tree size"),
        (f"o\n5 \n{ROOT64}\n", "line 2: tree size"),
        (f"o\n1e3\n{ROOT64}\n", "line 2: tree size"),
        (f"o\n\u0663\n{ROOT64}\n", "line 2: tree size"),
        (f"o\n{2**64}\n{ROOT64}\n", "line 2: tree size 18446744073709551616 is larger"),
        ("o\n5\nnot base64!\n", "line 3: root hash is not standard"),
        (f"o\n5\n{ROOT64.rstrip('=')}\n", "line 3: root hash is not standard"),
        (f"o\n5\n{base64.b64encode(ROOT[:31]).decode()}\n", "line 3: root hash is 31 bytes"),
        (f"o\n5\n{base64.b64encode(ROOT + b'x').decode()}\n", "line 3: root hash is 33 bytes"),
        (f"\n5\n{ROOT64}\n", "line 1: empty line"),
        (f"o\n5\n{ROOT64}\n\n", "line 4: empty line"),
        (f"o\n5\n{ROOT64}\next\n\n", "line 5: empty line"),
        ("o\n5\n", "line 2: a checkpoint has at least 3 lines"),
        (f"o\n5\n{ROOT64}", "does not end with a newline"),
        (f"o\r\n5\n{ROOT64}\n", "line 1: forbidden character"),
    ],
)
def test_malformed_checkpoints_are_rejected(text: str, where: str) -> None:
    with pytest.raises(NoteError, match=where):
        Checkpoint.from_text(text)


def test_a_signed_note_is_not_a_checkpoint_text() -> None:
    with pytest.raises(NoteError, match="line 4: empty line"):
        Checkpoint.from_text(SOFA_CHECKPOINT)


@pytest.mark.parametrize(
    "fields",
    [
        ("", 1, ROOT, ()),
        ("o\n", 1, ROOT, ()),
        ("o", -1, ROOT, ()),
        ("o", 2**64, ROOT, ()),
        ("o", True, ROOT, ()),
        ("o", 1, ROOT[:31], ()),
        ("o", 1, ROOT, ("",)),
        ("o", 1, ROOT, ("a\nb",)),
    ],
)
def test_invalid_checkpoints_cannot_be_made(
    fields: tuple[str, int, bytes, tuple[str, ...]],
) -> None:
    with pytest.raises(ValueError):
        Checkpoint(*fields)


# === tlog-cosignature ===========================================================================


def test_cosignature_spec_example() -> None:
    parsed = note.parse_note(SOFA_COSIGNED)
    assert parsed.text == SOFA_TEXT
    _log_sig, witness_sig = parsed.signatures
    assert witness_sig.name == "witness.example.com/w1"
    assert witness_sig.key_hash == bytes.fromhex("8d66cf3f")
    assert len(witness_sig.signature) == 8 + 64
    assert note.cosignature_timestamp(witness_sig) == 1679315147
    # "Ed25519 signed message": the example message of the specification.
    assert note.cosignature_message(parsed.text, 1679315147) == SOFA_COSIGNED_MESSAGE
    # The spec does not publish the witness key, so the example cannot be verified.


def test_cosignature_timestamp_vector_of_transparency_dev() -> None:
    (signature,) = note.parse_signature_lines(f"{EM} w {TD_COSIG_B64}\n")
    assert note.cosignature_timestamp(signature) == 1727964367
    # A plain Ed25519 signature is not a cosignature.
    with pytest.raises(NoteError, match="not an Ed25519 cosignature"):
        note.cosignature_timestamp(note.parse_note(GO_NOTE).signatures[0])


def test_cosign_and_verify_round_trip() -> None:
    text = signed_checkpoint(10).split("\n\n")[0] + "\n"
    signature = WITNESS.cosign(text, 1679315147)
    assert signature.name == "witness.example/w1"
    assert signature.signature[:8] == (1679315147).to_bytes(8, "big")
    assert len(signature.signature) == 72
    assert (
        WITNESS.key_hash
        == hashlib.sha256(b"witness.example/w1\n\x04" + WITNESS.public_key).digest()[:4]
    )
    assert WITNESS.key_hash != note.key_hash(WITNESS.name, note.ED25519, WITNESS.public_key)
    vkey = WITNESS.vkey()
    assert (
        vkey
        == f"witness.example/w1+{WITNESS.key_hash.hex()}+"
        + base64.b64encode(b"\x04" + WITNESS.public_key).decode()
    )
    verifier = CosignatureVerifier.from_vkey(vkey)
    assert verifier.verify(text, signature) == 1679315147
    assert WITNESS.verifier().vkey() == vkey


def test_cosignature_made_by_hand_from_the_spec_message_definition() -> None:
    key = private_key(7)
    name = "witness.example/hand"
    public = CosignatureSigner(name, key).public_key
    timestamp = 1700000000
    checkpoint = signed_checkpoint(42)
    text = checkpoint.split("\n\n")[0] + "\n"
    message = b"cosignature/v1\ntime 1700000000\n" + text.encode()
    raw = timestamp.to_bytes(8, "big") + key.sign(message)
    key_id = hashlib.sha256(name.encode() + b"\n\x04" + public).digest()[:4]
    line = f"{EM} {name} {base64.b64encode(key_id + raw).decode()}\n"

    verifier = CosignatureVerifier(name, public)
    (signature,) = note.parse_signature_lines(line)
    assert verifier.verify(text, signature) == timestamp
    assert CosignatureSigner(name, key).cosign(text, timestamp) == signature  # deterministic
    # As tlog-witness suggests: append the response to the checkpoint and open it.
    opened = note.open_note(checkpoint + line, [LOG.verifier(), verifier], required=2)
    assert [s.name for s in opened.signatures] == ["example.com/log", name]


def test_cosignature_with_a_changed_timestamp_fails() -> None:
    text = Checkpoint("example.com/log", 10, ROOT).to_text()
    signature = WITNESS.cosign(text, 1000)
    changed = (1001).to_bytes(8, "big") + signature.signature[8:]
    verifier = WITNESS.verifier()
    with pytest.raises(SignatureError, match="does not verify"):
        verifier.verify(text, Signature(signature.name, signature.key_hash, changed))
    with pytest.raises(SignatureError, match="does not verify"):
        verifier.verify(Checkpoint("example.com/log", 11, ROOT).to_text(), signature)
    # In a note, a known cosigner whose signature fails rejects the note.
    message = note.sign_note(text, LOG) + note.format_signature_lines(
        [Signature(signature.name, signature.key_hash, changed)]
    )
    with pytest.raises(SignatureError, match=r"line 6: the signature by witness\.example/w1"):
        note.open_note(message, [LOG.verifier(), verifier])


def test_cosignature_covers_extension_lines() -> None:
    # transparency-dev/formats note_cosigv1_test.go TestSigCoversExtensionLines.
    text = "test\n123\nf+7CoKgXKE/tNys9TTXcr/ad6U/K3xvznmzew9y6SP0=\nExtendo\n"
    signature = WITNESS.cosign(text, 5)
    assert WITNESS.verifier().verify(text, signature) == 5
    with pytest.raises(SignatureError):
        WITNESS.verifier().verify(text.replace("Extendo", "Extendo@"), signature)


def test_cosignature_rejections() -> None:
    text = Checkpoint("example.com/log", 10, ROOT).to_text()
    verifier = WITNESS.verifier()
    # A plain note signature by the same key has another key ID (type 0x01, not 0x04).
    plain = Signer(WITNESS.name, private_key(3)).sign(text)
    with pytest.raises(SignatureError, match=r"not witness\.example/w1"):
        verifier.verify(text, plain)
    with pytest.raises(SignatureError, match="not an Ed25519 cosignature"):
        verifier.verify(text, Signature(WITNESS.name, WITNESS.key_hash, b"\0" * 71))
    too_late = (2**63).to_bytes(8, "big") + b"\0" * 64
    with pytest.raises(SignatureError, match="exceeds 2\\^63 - 1"):
        verifier.verify(text, Signature(WITNESS.name, WITNESS.key_hash, too_late))
    for timestamp in (-1, 2**63, True):
        with pytest.raises(ValueError, match="timestamp"):
            WITNESS.cosign(text, timestamp)
    assert WITNESS.cosign(text, 2**63 - 1).signature[:8] == (2**63 - 1).to_bytes(8, "big")
    with pytest.raises(NoteError):
        WITNESS.cosign("not a checkpoint\n", 1)
    with pytest.raises(NoteError):
        verifier.verify("not a checkpoint\n", WITNESS.cosign(text, 1))


# === tlog-witness ===============================================================================


def test_add_checkpoint_spec_example() -> None:
    request = note.parse_add_checkpoint(WITNESS_REQUEST.encode())
    assert request.old_size == 20852014
    assert len(request.consistency_proof) == 4
    assert request.consistency_proof[0] == base64.b64decode(
        "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw="
    )
    assert request.checkpoint == WITNESS_REQUEST.split("\n\n", 1)[1]
    assert Checkpoint.from_text(note.parse_note(request.checkpoint).text).size == 20852163
    assert note.format_add_checkpoint(request) == WITNESS_REQUEST


def test_add_checkpoint_round_trip() -> None:
    checkpoint = signed_checkpoint(10)
    first = AddCheckpoint(0, (), checkpoint)
    assert note.format_add_checkpoint(first) == "old 0\n\n" + checkpoint
    assert note.parse_add_checkpoint(note.format_add_checkpoint(first)) == first
    proof = tuple(hashlib.sha256(bytes([i])).digest() for i in range(63))
    full = AddCheckpoint(7, proof, checkpoint)
    assert note.parse_add_checkpoint(note.format_add_checkpoint(full)) == full
    same = AddCheckpoint(10, (), checkpoint)
    assert note.parse_add_checkpoint(note.format_add_checkpoint(same)) == same


H = base64.b64encode(bytes(32)).decode()
LF = "\n"
CP = signed_checkpoint(10)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b"", "line 1: the old size line does not end"),
        (b"old 5", "line 1: the old size line does not end"),
        (f"Old 5\n\n{CP}".encode(), "line 1: expected the old size line"),
        (f"old5\n\n{CP}".encode(), "line 1: expected the old size line"),
        (f"\n{CP}".encode(), "line 1: expected the old size line"),
        (f"old 05\n{H}\n\n{CP}".encode(), "line 1: old size '05'"),
        (f"old -1\n\n{CP}".encode(), "line 1: old size"),
        (f"old  5\n{H}\n\n{CP}".encode(), "line 1: old size"),
        (f"old 5 \n{H}\n\n{CP}".encode(), "line 1: old size"),
        (
            f"old 11\n{H}\n\n{CP}".encode(),
            "line 1: old size 11 is larger than the checkpoint size 10",
        ),
        (f"old 5\nnot base64\n\n{CP}".encode(), "line 2: consistency proof hash is not standard"),
        (f"old 5\n{H}\n{H[:-2]}B=\n\n{CP}".encode(), "line 3: consistency proof hash is not canon"),
        (
            f"old 5\n{base64.b64encode(bytes(31)).decode()}\n\n{CP}".encode(),
            "line 2: consistency proof hash is 31 bytes",
        ),
        ((f"old 5\n{H}\n" * 1)[:-1].encode(), "line 2: no empty line"),
        (f"old 5\n{H}\n{CP}".encode(), "line 3: consistency proof hash is not"),
        (f"old 5\n{(H + LF) * 64}\n{CP}".encode(), "line 65: more than 63 consistency proof"),
        (f"old 5\n{H}\n\n".encode(), "line 4: no checkpoint"),
        (f"old 5\n{H}\n\n{CP.split(LF + LF)[0]}\n".encode(), "line 7: no blank line"),
        (
            f"old 5\n{H}\n\n{CP.replace(LF + '10' + LF, LF + '010' + LF)}".encode(),
            "line 5: tree size",
        ),
        (f"old 5\r\n{H}\n\n{CP}".encode(), "line 1: old size"),
        (
            f"old 5\n{H}\n\n{CP}".encode().replace(
                b"example.com/log\n", b"ex\xffample.com/log\n", 1
            ),
            "line 4: request body is not valid UTF-8",
        ),
        (f"old 5\n{H}\n\n{CP}{EM} x\n".encode(), "line 9: signature line has no space"),
    ],
)
def test_malformed_add_checkpoint_bodies_are_rejected(body: bytes, where: str) -> None:
    with pytest.raises(NoteError, match=where):
        note.parse_add_checkpoint(body)


def test_format_add_checkpoint_refuses_invalid_requests() -> None:
    with pytest.raises(ValueError, match="larger than the checkpoint size"):
        note.format_add_checkpoint(AddCheckpoint(11, (), CP))
    with pytest.raises(ValueError, match="more than 63"):
        note.format_add_checkpoint(AddCheckpoint(1, (bytes(32),) * 64, CP))
    with pytest.raises(ValueError, match="32 bytes"):
        note.format_add_checkpoint(AddCheckpoint(1, (bytes(31),), CP))
    with pytest.raises(NoteError):
        note.format_add_checkpoint(AddCheckpoint(1, (), Checkpoint("o", 5, ROOT).to_text()))


def test_witness_response_bodies() -> None:
    # 200: the specification's example response.
    signatures = note.parse_signature_lines(WITNESS_RESPONSE.encode())
    assert [s.name for s in signatures] == ["witness.example/w1"] * 2 + ["witness.example/w2"]
    assert all(len(s.signature) == 8 + 64 for s in signatures)
    assert note.format_signature_lines(signatures) == WITNESS_RESPONSE
    # (The example's bytes are filler: the first "timestamp" exceeds 2^63 - 1.)
    with pytest.raises(NoteError, match="exceeds"):
        note.cosignature_timestamp(signatures[0])
    for bad in ("", "\n", WITNESS_RESPONSE[:-1], WITNESS_RESPONSE + "\n", "- a AAAAAAAA\n"):
        with pytest.raises(NoteError):
            note.parse_signature_lines(bad)
    with pytest.raises(ValueError, match="at least one"):
        note.format_signature_lines([])
    # 409: the witness's size in decimal and a newline, as text/x.tlog.size.
    assert note.TLOG_SIZE_CONTENT_TYPE == "text/x.tlog.size"
    assert note.format_tlog_size(20852014) == "20852014\n"
    assert note.parse_tlog_size(b"20852014\n") == 20852014
    assert note.parse_tlog_size("0\n") == 0
    for bad_size in ("012\n", "12", "12\n\n", "-1\n", "\n", " 1\n"):
        with pytest.raises(NoteError):
            note.parse_tlog_size(bad_size)
    assert set(note.WITNESS_STATUS) == {200, 400, 403, 404, 409, 422}
    assert note.ADD_CHECKPOINT_PATH == "/add-checkpoint"


# === tlog-proof =================================================================================

FANCY_LOG = Signer("example.com/fancylog", private_key(11))
FANCY_CHECKPOINT = note.sign_note(FANCY_TEXT, FANCY_LOG)


def test_tlog_proof_spec_example() -> None:
    # The example's checkpoint signatures are elided ("[...]"); sign its checkpoint here.
    text = PROOF_HEAD + FANCY_CHECKPOINT
    proof = note.parse_tlog_proof(text)
    assert proof.extra is not None
    assert proof.extra.startswith(b"age-v1.2.1-darwin-arm64.tar.gz")
    assert proof.index == 73894
    assert len(proof.hashes) == 5
    assert proof.hashes[0] == base64.b64decode("gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=")
    assert proof.checkpoint == FANCY_CHECKPOINT
    assert note.format_tlog_proof(proof) == text
    assert note.parse_tlog_proof(text.encode()) == proof
    opened = note.open_note(proof.checkpoint, [FANCY_LOG.verifier()])
    assert Checkpoint.from_text(opened.text).size == 109482


def test_tlog_proof_spec_example_verbatim_is_rejected_for_its_placeholders() -> None:
    with pytest.raises(NoteError, match="line 14: signature is not standard"):
        note.parse_tlog_proof(PROOF_VERBATIM)


def test_tlog_proof_round_trips() -> None:
    checkpoint = signed_checkpoint(1)
    bare = TlogProof(0, (), checkpoint)
    assert note.format_tlog_proof(bare) == f"c2sp.org/tlog-proof@v1\nindex 0\n\n{checkpoint}"
    assert note.parse_tlog_proof(note.format_tlog_proof(bare)) == bare
    cosigned = signed_checkpoint(1000)
    text = cosigned.split("\n\n")[0] + "\n"
    cosigned += note.format_signature_lines([WITNESS.cosign(text, 1)])
    full = TlogProof(999, tuple(bytes([i]) * 32 for i in range(64)), cosigned, b"\x00extra")
    assert note.parse_tlog_proof(note.format_tlog_proof(full)) == full


PC = signed_checkpoint(100)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("", "line 1: the first line is not"),
        (f"c2sp.org/tlog-proof@v2\nindex 0\n\n{PC}", "line 1: the first line is not"),
        (f"c2sp.org/tlog-proof@v1 \nindex 0\n\n{PC}", "line 1: the first line is not"),
        (f"\nc2sp.org/tlog-proof@v1\nindex 0\n\n{PC}", "line 1: the first line is not"),
        ("c2sp.org/tlog-proof@v1\n", "line 2: expected the index line"),
        (f"c2sp.org/tlog-proof@v1\n\n{PC}", "line 2: expected the index line"),
        (f"c2sp.org/tlog-proof@v1\nindex 01\n\n{PC}", "line 2: index '01'"),
        (f"c2sp.org/tlog-proof@v1\nindex -1\n\n{PC}", "line 2: index"),
        (f"c2sp.org/tlog-proof@v1\nindex  1\n\n{PC}", "line 2: index"),
        (f"c2sp.org/tlog-proof@v1\nIndex 1\n\n{PC}", "line 2: expected the index line"),
        (
            f"c2sp.org/tlog-proof@v1\nindex 100\n\n{PC}",
            "line 2: index 100 is not below the tree size 100",
        ),
        (
            f"c2sp.org/tlog-proof@v1\nextra !!\nindex 1\n\n{PC}",
            "line 2: extra data is not standard",
        ),
        (f"c2sp.org/tlog-proof@v1\nextra \nindex 1\n\n{PC}", "line 2: empty extra data"),
        (f"c2sp.org/tlog-proof@v1\nextra AA==\n\n{PC}", "line 3: expected the index line"),
        (
            f"c2sp.org/tlog-proof@v1\nindex 1\nextra AA==\n\n{PC}",
            "line 3: inclusion proof hash is not",
        ),
        (
            f"c2sp.org/tlog-proof@v1\nindex 1\n{H[:-4]}\n\n{PC}",
            "line 3: inclusion proof hash is 30 bytes",
        ),
        (f"c2sp.org/tlog-proof@v1\nindex 1\n{H}\n{PC}", "line 4: inclusion proof hash is not"),
        (f"c2sp.org/tlog-proof@v1\nindex 1\n{(H + LF) * 65}\n{PC}", "line 67: more than 64"),
        (f"c2sp.org/tlog-proof@v1\nindex 1\n{H}", "line 3: no empty line"),
        (f"c2sp.org/tlog-proof@v1\nindex 1\n{H}\n\n", "line 5: no checkpoint"),
        (
            f"c2sp.org/tlog-proof@v1\nindex 1\n{H}\n\n{PC.split(LF + LF)[0]}\n",
            "no blank line",
        ),
        (
            f"c2sp.org/tlog-proof@v1\nindex 1\n{H}\n\n{PC}trailing\n",
            "line 10: signature line does not start",
        ),
        (f"c2sp.org/tlog-proof@v1\r\nindex 1\n\n{PC}", "line 1: the first line is not"),
    ],
)
def test_malformed_tlog_proofs_are_rejected(text: str, where: str) -> None:
    with pytest.raises(NoteError, match=where):
        note.parse_tlog_proof(text)


def test_format_tlog_proof_refuses_invalid_proofs() -> None:
    with pytest.raises(ValueError, match="extra"):
        note.format_tlog_proof(TlogProof(0, (), PC, b""))
    with pytest.raises(ValueError, match="not in a tree of size 100"):
        note.format_tlog_proof(TlogProof(100, (), PC))
    with pytest.raises(ValueError, match="32 bytes"):
        note.format_tlog_proof(TlogProof(0, (bytes(31),), PC))
    with pytest.raises(ValueError, match="more than 64"):
        note.format_tlog_proof(TlogProof(0, (bytes(32),) * 65, PC))
    with pytest.raises(NoteError):
        note.format_tlog_proof(TlogProof(0, (), "example.com/log\n100\n" + ROOT64 + "\n"))
