"""The ledger's stored JSON is written exactly as json.dumps wrote it, whatever writes it."""

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.cases.facts import json_text

_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
    | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=500, deadline=None)
@given(_values, st.booleans())
def test_json_text_is_json_dumps_compact(value, sort_keys):
    assert json_text(value, sort_keys=sort_keys) == json.dumps(
        value, separators=(",", ":"), sort_keys=sort_keys
    )


@pytest.mark.parametrize("value", [1e-05, 2e-06, math.nan, math.inf, 0.1, -0.0, 1e21])
def test_floats_are_written_as_json_writes_them(value):
    fact = {"case": "1/LM", "x": [value]}
    assert json_text(fact, sort_keys=True) == json.dumps(fact, separators=(",", ":"),
                                                         sort_keys=True)


def test_what_json_refuses_is_still_refused():
    import datetime as dt

    with pytest.raises(TypeError):
        json_text({"at": dt.date(2026, 12, 7)})
