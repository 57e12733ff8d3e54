import pytest

from gateway.exchange.validation import validator_for
from schemas.samples import sample_records


def codes(records):
    return [(e.path, e.code) for e in validator_for("rekap_pengaduan", "1.0").errors(records)]


def sample():
    return sample_records("rekap_pengaduan", 1, seed=12)[0]


def with_row(record, index, **change):
    rows = [dict(r) for r in record["baris"]]
    rows[index] = dict(rows[index], **change)
    return dict(record, baris=rows)


def test_samples_suppress_small_counts():
    rows = [r for rec in sample_records("rekap_pengaduan", 20, seed=2) for r in rec["baris"]]
    assert any(r["disamarkan"] for r in rows)
    assert all(r["jumlah"] is None or r["jumlah"] == 0 or r["jumlah"] >= 5 for r in rows)


@pytest.mark.parametrize("count", [1, 2, 3, 4])
def test_a_count_under_five_is_refused(count):
    record = with_row(sample(), 2, jumlah=count, disamarkan=False)
    assert codes([record]) == [("/records/0/baris/2/jumlah", "count_not_suppressed")]


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"jumlah": 7, "disamarkan": True}, "suppressed_count_sent", "jumlah"),
        ({"jumlah": None, "disamarkan": False}, "count_required", "jumlah"),
        ({"jumlah": -5}, "range", "jumlah"),
        ({"nilai": "pertanahan"}, "value_not_in_dimension", "nilai"),  # a substansi, not a channel
        ({"dimensi": "usia"}, "one_of", "dimensi"),
        ({"nama_pelapor": "Budi"}, "unknown_field", "nama_pelapor"),
    ],
)
def test_row_rules(change, code, field):
    assert codes([with_row(sample(), 0, **change)]) == [(f"/records/0/baris/0/{field}", code)]


def test_zero_is_sent_and_rows_are_not_counted_twice():
    record = with_row(sample(), 0, jumlah=0, disamarkan=False)
    assert codes([record]) == []
    twice = dict(record, baris=[*record["baris"], record["baris"][0]])
    assert codes([twice]) == [(f"/records/0/baris/{len(record['baris'])}/nilai", "duplicate_row")]


@pytest.mark.parametrize("period", ["2026-13", "2026-1", "26-11", "2026-11-01"])
def test_the_period_is_a_month(period):
    assert codes([dict(sample(), periode=period)]) == [("/records/0/periode", "format")]
