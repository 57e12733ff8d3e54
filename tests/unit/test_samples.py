import datetime as dt

import pytest

from gateway.exchange.validation import validator_for
from schemas import registry
from schemas.samples import sample_records


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
