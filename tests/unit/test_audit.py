import datetime as dt
import json
import random

import pytest
import rfc8785

from gateway.store import audit_entries

AT = dt.datetime(2026, 11, 28, 3, 4, 5, 678901, tzinfo=dt.UTC)


@pytest.mark.parametrize("seed", range(20))
def test_prepared_entries_are_exactly_rfc8785(seed):
    rng = random.Random(seed)
    fields = {name: rng.choice([f"v-{rng.randint(0, 9)}", rng.randint(0, 10**6), None])
              for name in audit_entries._FIELDS if rng.random() < 0.5}
    event = audit_entries.prepare(event=rng.choice(sorted(audit_entries.EVENTS)), actor="simpel",
                                  at=AT, **fields)
    index = rng.choice([0, 7, 10**9])
    expected = {"v": 1, "index": index, "at": "2026-11-28T03:04:05.678901Z",
                "event": event.columns["event"], "actor": "simpel"}
    expected.update({k: v for k, v in fields.items() if v is not None})
    assert event.entry(index) == rfc8785.dumps(expected).decode()
    assert json.loads(event.entry(index)) == expected


def test_entries_refuse_unknown_events_and_fields():
    with pytest.raises(ValueError, match="unknown audit event"):
        audit_entries.prepare(event="record_viewed", actor="x", at=AT)
    with pytest.raises(ValueError, match=r"may not carry \['nik'\]"):
        audit_entries.prepare(event="batch_pulled", actor="x", at=AT, nik="3275011202900001")


def test_an_entry_with_a_member_given_twice_is_a_problem():
    from gateway.tlog import auditor

    text = audit_entries.prepare(event="batch_pulled", actor="simpel", at=AT).entry(0)
    assert auditor._entry_problem(0, text) is None
    for member in ('"index":5', '"\\u0069ndex":0', '"v":1'):
        problem = auditor._entry_problem(0, "{" + member + "," + text[1:])
        assert problem is not None and problem.message == "the entry is not JSON"
        assert "duplicate member name" in str(problem.found)


@pytest.mark.parametrize("text", [
    '{"party": "a", "party": "b", "checkpoint": "", "entries": []}',
    '{"party": "a", "checkpoint": "", "entries": [{"index": 0, "index": 1}]}',
])
def test_audit_verify_refuses_a_bundle_with_a_member_given_twice(tmp_path, text):
    import subprocess
    import sys

    bundle = tmp_path / "bundle.json"
    bundle.write_text(text)
    done = subprocess.run([sys.executable, "-m", "gateway", "audit", "verify", "--no-state",
                           str(bundle)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "not JSON" in done.stderr and "duplicate member name" in done.stderr
