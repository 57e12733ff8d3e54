import datetime as dt

import pytest

from gateway.exchange.validation import validator_for
from schemas import registry
from schemas.samples import sample_records, sample_versions


@pytest.mark.parametrize("dataset", registry.dataset_names())
def test_every_dataset_has_valid_realistic_samples(dataset):
    latest = registry.versions(dataset)[-1]
    for seed in (1, 2, 3):
        records = sample_records(dataset, 20, seed=seed, today=dt.date(2026, 11, 28))
        assert validator_for(dataset, latest).errors(records) == []
    # The same seed gives the same records.
    assert sample_records(dataset, 3, seed=5) == sample_records(dataset, 3, seed=5)


@pytest.mark.parametrize("dataset", registry.dataset_names())
def test_every_field_is_described(dataset):
    from marshmallow import fields

    def undescribed(schema, prefix=""):
        for name, field in schema.fields.items():
            if not field.metadata.get("description"):
                yield prefix + name
            if isinstance(field, fields.List):
                field = field.inner
            if isinstance(field, fields.Nested):
                yield from undescribed(field.schema, f"{prefix}{name}.")

    for version in registry.versions(dataset):
        assert list(undescribed(registry.schema_class(dataset, version)())) == []


def _texts(value, path=""):
    """(path, text) of every string in a record."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _texts(item, f"{path}/{key}")
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item, f"{path}/*")
    elif isinstance(value, str):
        yield path, value


@pytest.mark.parametrize(("dataset", "version"), [
    (d, v) for d in registry.dataset_names() for v in sample_versions(d)])
def test_samples_name_no_reporter_in_free_text_and_give_officials_indonesian_titles(
        dataset, version):
    from schemas import vocab

    for record in sample_records(dataset, 30, seed=9, version=version):
        for path, text in _texts(record):
            if path.endswith("/jabatan"):
                first = text.removeprefix("Plt. ").removeprefix("Plh. ").split()[0].lower()
                assert first in vocab.AWALAN_JABATAN, (path, text)
            assert "Sdr. " not in text and "Sdri. " not in text, (path, text)
