"""gateway.crypto.canonical writes exactly what the rfc8785 reference writes, or refuses alike."""

from __future__ import annotations

import random
from typing import Any

import pytest
import rfc8785

from gateway.crypto import canonical
from schemas.samples import sample_records

# Characters chosen for where serialisers differ: escapes and controls, DEL,
# line/paragraph separators, the top of the BMP (which sorts after surrogates in
# UTF-16), characters above U+FFFF, and a lone surrogate.
_CHARS = [
    "a", "Z", "0", " ", '"', "\\", "/", "\b", "\t", "\n", "\f", "\r", "\x00", "\x1f", "\x7f",
    "é", "ß", "ĳ", "\u2028", "\u2029", "€", "\ue000", "\uffff", "😀", "\U00010000", "𝄞",
    "\ud800",
]  # fmt: skip


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(_CHARS) for _ in range(rng.randint(0, 6)))


def _value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 7, 2**31, 2**53 - 1, -(2**53 - 1), 2**53, -(2**60)])
    if kind == 3:
        return rng.choice([0.0, -0.0, 1.5, 1e21, 1e-7, 123456789.125, 5e-324, 100.0])
    if kind in (4, 5):
        return _text(rng)
    if kind == 6:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {_text(rng): _value(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def _reference(value: Any) -> bytes | type[Exception]:
    try:
        return rfc8785.dumps(value)
    except Exception as exc:
        return type(exc)


@pytest.mark.parametrize("seed", range(40))
def test_same_bytes_as_the_reference_on_generated_values(seed):
    rng = random.Random(seed)
    for _ in range(50):
        value = _value(rng)
        expected = _reference(value)
        if isinstance(expected, bytes):
            assert canonical.dumps(value) == expected, repr(value)
        else:
            with pytest.raises(expected):
                canonical.dumps(value)


@pytest.mark.parametrize(
    "value",
    [
        {"\uffff": 1, "😀": 2},  # UTF-16 order puts the emoji (a surrogate pair) first
        {"b": [1, 2.5], "a": "x"},  # a float anywhere sends the value to the reference
        2**53,  # outside the I-JSON range: refused
        "\ud800",  # a lone surrogate: refused
    ],
)
def test_the_cases_the_fast_path_must_hand_over(value):
    expected = _reference(value)
    if isinstance(expected, bytes):
        assert canonical.dumps(value) == expected
    else:
        with pytest.raises(expected):
            canonical.dumps(value)


def test_agreed_records_take_the_fast_path(monkeypatch):
    records = sample_records("tanggapan_klarifikasi", 20, seed=7)
    expected = [rfc8785.dumps(r) for r in records]
    # With the reference unavailable, plain records are still canonicalised.
    monkeypatch.setattr(rfc8785, "dumps", lambda value: pytest.fail("reference used"))
    assert [canonical.dumps(r) for r in records] == expected


def test_every_character_of_the_bmp_is_written_as_the_reference_writes_it():
    # Names and values: escapes, the controls, DEL, U+2028/2029 and the order of names.
    chars = [chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF]
    for start in range(0, len(chars), 4096):
        part = chars[start:start + 4096]
        value = {c: [c, f"x{c}y"] for c in part}
        assert canonical.dumps(value) == rfc8785.dumps(value)
        assert canonical.dumps_plain(value) == rfc8785.dumps(value)
