"""The one strict JSON parser (gateway.crypto.strict_json) and the client's copy of its rules."""

import json

import pytest

from gateway.client import _json as client_json
from gateway.crypto import strict_json
from gateway.errors import GatewayError, InvalidJSON

DUPLICATES = [
    ('{"a": 1, "a": 2}', "a"),
    ('{"a": 1, "a": 1}', "a"),  # the same value twice is still two members
    ('{"a": 1, "\\u0061": 2}', "a"),  # names are compared decoded
    ('{"records": [{"n": 1}], "records": []}', "records"),
    ('{"records": [{"nik": "3275011202900001", "nik": "3275011202900002"}]}', "nik"),
    ('[[{"x": {"y": 1, "y": 2}}]]', "y"),  # inside arrays and objects
    ('{"keys": [{"kty": "OKP", "crv": "Ed25519", "kty": "oct"}]}', "kty"),
    ('{"": 1, "": 2}', ""),
    ('{"\\u00e9": 1, "\u00e9": 2}', "\u00e9"),
]


@pytest.mark.parametrize(("text", "name"), DUPLICATES)
def test_a_member_name_given_twice_is_refused_at_any_depth(text, name):
    with pytest.raises(InvalidJSON) as info:
        strict_json.loads(text)
    assert info.value.code == "invalid_json" and info.value.status == 400
    assert info.value.message == f"duplicate member name {name!r}"
    assert "3275011202900002" not in info.value.message  # a name, never a value
    with pytest.raises(InvalidJSON, match="duplicate member name"):
        strict_json.loads(text.encode("utf-8"))
    with pytest.raises(ValueError, match="duplicate member name"):
        client_json.loads(text.encode("utf-8"))


@pytest.mark.parametrize("text", ["NaN", '{"a": Infinity}', "[-Infinity]"])
def test_nan_and_infinity_are_refused(text):
    with pytest.raises(InvalidJSON, match="is not valid JSON"):
        strict_json.loads(text)
    with pytest.raises(ValueError, match="is not JSON"):
        client_json.loads(text)


@pytest.mark.parametrize("text", [b'{"a": 1', b"\xff\xfe{}", b'{"a": "\xc3"}', b""])
def test_malformed_or_not_utf8_text_is_refused(text):
    with pytest.raises(InvalidJSON):
        strict_json.loads(text)
    with pytest.raises(ValueError):
        client_json.loads(text)


def test_the_error_is_a_gateway_error_and_a_value_error():
    with pytest.raises(GatewayError):
        strict_json.loads('{"a": 1, "a": 2}')
    with pytest.raises(ValueError):  # as callers that caught json's own errors expect
        strict_json.loads('{"a": 1, "a": 2}')


@pytest.mark.parametrize("text", [
    '{"a": 1, "b": {"a": 2}, "c": [{"a": 3}, {"a": 4}]}',  # one name in different objects
    '{"A": 1, "a": 2}',  # names are case-sensitive
    '{"records": [{"n": 1.5, "s": "\\u0000"}], "ok": true, "none": null}',
    "[]",
    '"text"',
])
def test_what_is_valid_reads_as_the_standard_library_reads_it(text):
    assert strict_json.loads(text) == json.loads(text)
    assert client_json.loads(text) == json.loads(text)


def test_depth_is_bounded_when_asked():
    deep = "[" * 40 + "]" * 40
    assert strict_json.loads(deep) is not None
    with pytest.raises(InvalidJSON, match="nested deeper than 32 levels"):
        strict_json.loads(deep, max_depth=32)


def test_number_hooks_are_passed_on():
    seen = []
    value = strict_json.loads('{"a": 1, "b": [2.5]}', parse_int=lambda t: seen.append(t) or 0,
                              parse_float=lambda t: seen.append(t) or 0.0)
    assert value == {"a": 0, "b": [0.0]} and seen == ["1", "2.5"]
    with pytest.raises(InvalidJSON, match="duplicate member name 'a'"):
        strict_json.loads('{"a": 1, "a": 2}', parse_int=int)


@pytest.mark.parametrize(("text", "message"), [
    *((text, f"duplicate member name {name!r}") for text, name in DUPLICATES),
    ('{"a": NaN}', "NaN is not valid JSON"),
    ('{"a": [Infinity]}', "Infinity is not valid JSON"),
    ('{"a": ' + "[" * 40 + "]" * 40 + "}", "JSON nested deeper than 32 levels"),
    ('{"a": 1', "malformed JSON at line 1 column 8"),
    ('{"a": ' + "1" * 5000 + "}", "malformed JSON: Exceeds the limit"),
    (b'{"a": "\xc3"}', "the JSON text is not UTF-8"),
])
def test_marking_plain_values_refuses_all_the_same(text, message):
    for mark in (False, True):
        with pytest.raises(InvalidJSON) as info:
            strict_json.loads(text, max_depth=32, mark_plain=mark)
        assert info.value.message.startswith(message)


def test_depth_is_counted_in_arrays_and_objects_alike():
    for opening, closing in (("[", "]"), ('{"a":', "}"), ('[{"a":', "}]")):
        for levels in (15, 16, 17):
            text = opening * levels + "1" + closing * levels
            depth = levels * (opening.count("[") + opening.count("{"))
            if depth <= 32:
                assert strict_json.loads(text, max_depth=32) == json.loads(text)
            else:
                with pytest.raises(InvalidJSON, match="nested deeper than 32 levels"):
                    strict_json.loads(text, max_depth=32)


def test_mark_plain_takes_no_number_hooks():
    with pytest.raises(TypeError):
        strict_json.loads("{}", mark_plain=True, parse_int=int)
