"""What intake stores of each record beside the record: the case ledger's fact, as JSON text."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.cases.facts import LEDGER_DATASETS, fact_of, json_text
from gateway.exchange import intake
from schemas.samples import sample_records, sample_versions


def _stored_before(dataset, records):
    """The text stored for each record's fact before the encoder was changed."""
    return [json.dumps(fact_of(dataset, r) or {}, separators=(",", ":")) for r in records]


@pytest.mark.parametrize("dataset", sorted(LEDGER_DATASETS))
def test_case_facts_are_stored_as_json_dumps_wrote_them(dataset):
    for version in sample_versions(dataset):
        records = sample_records(dataset, 30, seed=5, version=version)
        assert intake.case_facts(dataset, records) == _stored_before(dataset, records)
    assert intake.case_facts("rekap_pengaduan", [{}, {}]) == [None, None]


_FACT_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=12),
              st.text(st.characters(), max_size=4),  # lone surrogates too
              st.sampled_from(["\x7f", "\x00\x1f\n\t", "\u00e9", "😀", "\u2028", '"\\/'])),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=10,
)


@settings(max_examples=500, deadline=None, derandomize=True, database=None)
@given(fact=st.dictionaries(st.text(max_size=8), _FACT_VALUES, max_size=6))
def test_a_fact_is_written_as_json_dumps_writes_it(fact):
    assert json_text(fact) == json.dumps(fact, separators=(",", ":"))


@pytest.mark.parametrize("value", ["\ud800", 2**70, "\x7f", "\u00e9", "😀", "\n"])
def test_what_the_fast_encoder_does_not_write_alike_goes_to_json(value):
    fact = {"case": "1/LM", "x": [value]}
    assert json_text(fact) == json.dumps(fact, separators=(",", ":"))
