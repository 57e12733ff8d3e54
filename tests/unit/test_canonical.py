"""gateway.crypto.canonical writes exactly what the rfc8785 reference writes, or refuses alike."""

from __future__ import annotations

import json
import random
import tracemalloc
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.crypto import canonical, strict_json
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


# -- the plain path: values read by strict_json, marked when they need no check -----------

_JSON_TEXT = st.text(
    st.one_of(
        st.characters(),  # any code point, lone surrogates included
        st.sampled_from(_CHARS),
    ),
    max_size=8,
)
_JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**53 - 1), 2**53 - 1),
        st.integers(),  # big integers too
        st.floats(allow_nan=False, allow_infinity=False),
        _JSON_TEXT,
    ),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_JSON_TEXT, inner, max_size=4),
    max_leaves=12,
)


def _holds_nothing_to_check(value: Any) -> bool:
    """What a PlainObject promises of its values: no float, no integer beyond
    2**53 - 1, no character above U+FFFF (lone surrogates may be there)."""
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, int):
        return abs(value) <= 2**53 - 1
    if isinstance(value, float):
        return False
    if isinstance(value, str):
        return all(c <= "\uffff" for c in value)
    if isinstance(value, list):
        return all(_holds_nothing_to_check(v) for v in value)
    return all(_holds_nothing_to_check(k) and _holds_nothing_to_check(v)
               for k, v in value.items())


def _has_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return any("\ud800" <= c <= "\udfff" for c in value)
    if isinstance(value, list):
        return any(_has_surrogate(v) for v in value)
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value.items())
    return False


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(records=st.lists(_JSON_VALUES, min_size=1, max_size=4), ascii_only=st.booleans())
def test_plain_marked_values_are_written_as_the_reference_writes_them(records, ascii_only):
    text = json.dumps({"records": records}, ensure_ascii=ascii_only)
    try:
        body = strict_json.loads(text, mark_plain=True)
    except strict_json.InvalidJSON:
        return  # e.g. an integer of more digits than Python reads
    parsed = body["records"]
    marked = isinstance(body, strict_json.PlainObject)
    # The mark is never given to a text holding a float, a big integer or an astral
    # character; it is given whenever there is none (and no surrogate, escaped or not).
    if marked:
        assert _holds_nothing_to_check(parsed)
    elif not _has_surrogate(parsed):
        assert not _holds_nothing_to_check(parsed)
    for record in parsed:
        expected = _reference(record)
        writers = [canonical.dumps, canonical.dumps_plain] if marked else [canonical.dumps]
        for write in writers:
            if isinstance(expected, bytes):
                assert write(record) == expected, repr(record)
            else:
                with pytest.raises(expected):
                    write(record)


@pytest.mark.parametrize(
    ("text", "marked"),
    [
        ('{"a": [1, "x", true, null, {"b": -9007199254740991}]}', True),
        ('{"a": "\\u00e9\\u20ac\\uffff \\n"}', True),
        ('{"a": "\u00e9\u20ac\uffff"}', True),
        ('{"a": 1.0}', False),
        ('{"a": [1e2]}', False),
        ('{"a": 9007199254740992}', False),
        ('{"a": -9007199254740992}', False),
        ('{"a": "\U0001f600"}', False),
        ('{"\U0001f600": 1}', False),
        ('{"a": "\\ud83d\\ude00"}', False),
        ('{"a": "\\uD800"}', False),  # a lone surrogate, escaped: the reference decides
        ('{"a": "\\\\ud800"}', False),  # a backslash, then text: not told apart, not marked
        ("[1]", False),  # only an object is marked
    ],
)
def test_what_strict_json_marks_plain(text, marked):
    value = strict_json.loads(text, mark_plain=True)
    assert isinstance(value, strict_json.PlainObject) == marked
    assert value == json.loads(text)
    assert type(strict_json.loads(text)) is type(json.loads(text))  # unmarked unless asked
    assert isinstance(strict_json.loads(text.encode(), mark_plain=True),
                      strict_json.PlainObject) == marked


@pytest.mark.parametrize("dumps", [canonical.dumps, canonical.dumps_plain])
def test_a_form_keeps_no_more_memory_than_its_length(dumps):
    """orjson reserves several times what it writes and hands that buffer back; the
    forms a chunk or a submission keeps must not carry it (about 8 KiB for 1 KiB)."""
    records = [{"ringkasan": "x" * 1000 + str(i), "nomor": i} for i in range(200)]
    tracemalloc.start()
    try:
        forms = [dumps(r) for r in records]
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    written = sum(len(f) for f in forms)
    assert kept < 1.5 * written, (kept, written)
