"""What the agreed schemas accept can be canonicalised.

* every number has bounds within the I-JSON range (an integer above 2**53 - 1 passed
  the schema and crashed RFC 8785 canonicalisation: a 500 with no audit entry);
* text that is not Unicode (a lone surrogate) is refused with ``invalid_text`` in
  every text, list item and member name, at any depth;
* a property test over every dataset and version: a record that validates
  canonicalises.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import Schema, fields, validate

from gateway.crypto import canonical
from gateway.exchange.validation import validator_for
from gateway.messages import LANGUAGES, field_message
from schemas import registry
from schemas._base import MAX_SAFE_INTEGER, AgreedSchema
from schemas.samples import sample_records

DATASETS = [(d, v) for d in registry.dataset_names() for v in registry.versions(d)]


def samples(dataset: str, version: str, n: int = 6) -> list[dict[str, Any]]:
    """Valid sample records of ``version``."""
    records = sample_records(dataset, n, seed=7, version=version)
    assert validator_for(dataset, version).errors(records) == []
    return records


def _numeric_fields(schema: Schema, prefix: str = "") -> Iterator[tuple[str, fields.Field]]:
    """Every numeric field of ``schema``, nested and list items included, by dotted path."""
    for name, field in schema.fields.items():
        yield from _walk(field, f"{prefix}{name}")


def _walk(field: fields.Field, path: str) -> Iterator[tuple[str, fields.Field]]:
    if isinstance(field, fields.Number):
        yield path, field
    elif isinstance(field, fields.List):
        yield from _walk(field.inner, f"{path}[]")
    elif isinstance(field, fields.Nested):
        assert isinstance(field.schema, AgreedSchema), f"{path}: not an AgreedSchema"
        yield from _numeric_fields(field.schema, f"{path}.")


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every scalar of a record with its path (keys and list indexes)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, (*path, i))
    else:
        yield path, value


def _objects(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every object in a record, the record itself included."""
    if isinstance(value, dict):
        yield path
        for k, v in value.items():
            yield from _objects(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _objects(v, (*path, i))


def _set(record: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(record)
    target: Any = out
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return out


def _get(record: dict[str, Any], path: tuple[Any, ...]) -> Any:
    for step in path:
        record = record[step]
    return record


def _pointer(path: tuple[Any, ...]) -> str:
    return "/records/0" + "".join(f"/{p}" for p in path)


# -- numbers ---------------------------------------------------------------------------------


def test_every_numeric_field_has_bounds_within_the_i_json_range():
    seen = 0
    for dataset, version in DATASETS:
        schema = registry.schema_class(dataset, version)()
        for path, field in _numeric_fields(schema):
            seen += 1
            ranges = [v for v in field.validators if isinstance(v, validate.Range)]
            where = f"{dataset} {version} {path}"
            assert ranges, f"{where}: no validate.Range"
            low = max((r.min for r in ranges if r.min is not None), default=None)
            high = min((r.max for r in ranges if r.max is not None), default=None)
            assert low is not None and high is not None, f"{where}: unbounded"
            assert -MAX_SAFE_INTEGER <= low <= high <= MAX_SAFE_INTEGER, where
            if isinstance(field, fields.Integer):
                assert field.strict, f"{where}: a numeric string would be taken"
    assert seen >= 10


@pytest.mark.parametrize(
    ("dataset", "path"),
    [
        ("standar_pelayanan", ("biaya_tarif", "jumlah_rupiah")),
        ("standar_pelayanan", ("jumlah_pelaksana",)),
        ("rekap_pengaduan", ("baris", 0, "jumlah")),
    ],
)
@pytest.mark.parametrize("value", [2**53, 2**53 - 1, 10**30, -(2**53)])
def test_integers_beyond_the_agreed_bounds_are_refused(dataset, path, value):
    record = _set(samples(dataset, "1.0", 1)[0], path, value)
    if dataset == "rekap_pengaduan":
        record["baris"][0]["disamarkan"] = False
    errors = validator_for(dataset, "1.0").errors([record])
    assert [(e.path, e.code) for e in errors] == [(_pointer(path), "range")]


@pytest.mark.parametrize(("dataset", "version"), DATASETS)
def test_every_number_at_its_bounds_and_beyond(dataset, version):
    """Each numeric value of the samples set to its field's bounds, just past them and far
    past them: accepted ones canonicalise, the others are refused with a code."""
    validator = validator_for(dataset, version)
    for record in samples(dataset, version, 3):
        for path, value in _leaves(record):
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            for candidate in (0, -1, 2**53 - 1, 2**53, -(2**53), 10**400, 1e308, -1e308):
                mutated = _set(record, path, candidate)
                if not validator.errors([mutated]):
                    canonical.dumps(mutated)


# -- text ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("dataset", "version"), DATASETS)
@pytest.mark.parametrize("surrogate", ["\ud800", "\udfff", "\udc00\ud800"])
def test_a_lone_surrogate_in_any_text_is_refused_as_invalid_text(dataset, version, surrogate):
    validator = validator_for(dataset, version)
    checked = 0
    for record in samples(dataset, version, 4):
        for path, value in _leaves(record):
            if not isinstance(value, str):
                continue
            for text in (surrogate, f"a{surrogate}b", value[:1] + surrogate + value[1:]):
                errors = validator.errors([_set(record, path, text)])
                assert [(e.path, e.code) for e in errors] == [(_pointer(path), "invalid_text")]
                checked += 1
    assert checked > 10


@pytest.mark.parametrize(("dataset", "version"), DATASETS)
def test_a_lone_surrogate_in_a_member_name_is_refused_at_its_object(dataset, version):
    validator = validator_for(dataset, version)
    for record in samples(dataset, version, 3):
        for path in _objects(record):
            mutated = copy.deepcopy(record)
            _get(mutated, path)["kolom\ud800"] = "x"
            errors = validator.errors([mutated])
            # The name cannot be written in a path (a path is text): its object is named.
            assert [(e.path, e.code) for e in errors] == [(_pointer(path), "invalid_text")]


def test_other_unicode_is_text_like_any():
    record = samples("standar_pelayanan", "1.0", 1)[0]
    for text in ("Layanan \U0001f600", "a\u2028b", "\ufeffx", "a\u0000b", "\U0010ffff"):
        mutated = dict(record, nama_layanan=text)
        assert validator_for("standar_pelayanan", "1.0").errors([mutated]) == []
        canonical.dumps(mutated)


def test_invalid_text_has_a_message_in_every_language():
    for code in ("invalid_text", "too_large"):
        for language in LANGUAGES:
            assert field_message(code, language) != code


# -- the property: validates => canonicalises ------------------------------------------------

_EXTREMES = [0, 1, -1, 2**53 - 1, 2**53, -(2**53), 2**63, 10**400, 0.5, -0.0,
             1e-7, 99.99, 100.0, 100.001, 1e308, 5e-324]  # fmt: skip
_NUMBERS = st.one_of(
    st.sampled_from(_EXTREMES),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
)
_ODD = st.sampled_from(["\ud800", "\udfff", "\U0001f600", "\u0000", "\u2028", "\ufeff",
                        "\u0301", "\U0010ffff", "\x7f", "\\", '"'])  # fmt: skip
_TEXTS = st.one_of(
    st.text(max_size=12),
    st.lists(st.one_of(_ODD, st.text(max_size=3)), min_size=1, max_size=4).map("".join),
)


@st.composite
def _mutated(draw: st.DrawFn) -> tuple[str, str, dict[str, Any]]:
    dataset, version = draw(st.sampled_from(DATASETS))
    record = draw(st.sampled_from(samples(dataset, version)))
    leaves = [(p, v) for p, v in _leaves(record) if p]
    for _ in range(draw(st.integers(1, 3))):
        path, value = draw(st.sampled_from(leaves))
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            record = _set(record, path, draw(_NUMBERS))
        elif isinstance(value, str):
            # Keep it valid but for the odd characters: insert them inside the text.
            cut = draw(st.integers(0, len(value)))
            odd = draw(_TEXTS)
            record = _set(record, path, value[:cut] + odd + value[cut:])
    if draw(st.booleans()):
        where = draw(st.sampled_from(list(_objects(record))))
        record = copy.deepcopy(record)
        _get(record, where)[draw(_TEXTS)] = draw(st.one_of(_NUMBERS, _TEXTS))
    return dataset, version, record


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
@given(case=_mutated())
def test_a_record_that_validates_canonicalises(case):
    dataset, version, record = case
    if not validator_for(dataset, version).errors([record]):
        canonical.dumps(record)


def _all_fields(schema: Schema, prefix: str = "") -> Iterator[tuple[str, fields.Field]]:
    """Every field of ``schema``, nested and list items included, by dotted path."""
    for name, field in schema.fields.items():
        path = f"{prefix}{name}"
        yield path, field
        if isinstance(field, fields.List):
            yield f"{path}[]", field.inner
            if isinstance(field.inner, fields.Nested):
                yield from _all_fields(field.inner.schema, f"{path}[].")
        elif isinstance(field, fields.Nested):
            yield from _all_fields(field.schema, f"{path}.")


@pytest.mark.parametrize(("dataset", "version"), DATASETS)
def test_no_pattern_lets_a_final_newline_through(dataset, version):
    # Python's "$" matches before a final newline too, and marshmallow's Regexp uses
    # re.match: a pattern must end with schemas._base.END instead.
    schema = registry.schema_class(dataset, version)()
    for path, field in _all_fields(schema):
        for validator in field.validators:
            if isinstance(validator, validate.Regexp):
                assert not validator.regex.pattern.endswith("$"), f"{dataset} {version} {path}"


@pytest.mark.parametrize(("dataset", "version", "where"), [
    ("rekap_pengaduan", "1.0", ("periode",)),
    ("permintaan_klarifikasi", "1.0", ("pelapor", "telepon")),
    ("permintaan_klarifikasi", "2.0", ("nomor_identitas", "nik")),
])
def test_a_value_with_a_final_newline_is_refused(dataset, version, where):
    record = next(r for r in samples(dataset, version, 20) if _has_text(r, where))
    changed = _set(record, where, _get(record, where) + "\n")
    assert [e.path for e in validator_for(dataset, version).errors([changed])] == [
        "/records/0/" + "/".join(where)]


def _has_text(record: dict[str, Any], path: tuple[Any, ...]) -> bool:
    try:
        return isinstance(_get(record, path), str)
    except (KeyError, TypeError):  # a confidential reporter has no pelapor at all
        return False
