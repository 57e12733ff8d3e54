"""The ledger's stored JSON is written exactly as json.dumps wrote it, whatever writes it."""

import json

from hypothesis import given
from hypothesis import strategies as st

from gateway.cases.facts import json_text

_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                 max_size=4),
    max_leaves=12,
)


@given(_values, st.booleans())
def test_json_text_is_json_dumps_compact(value, sort_keys):
    assert json_text(value, sort_keys=sort_keys) == json.dumps(
        value, separators=(",", ":"), sort_keys=sort_keys
    )

