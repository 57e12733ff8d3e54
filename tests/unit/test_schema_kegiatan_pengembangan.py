import datetime as dt

import pytest

from gateway.exchange.validation import validator_for
from schemas.samples import sample_records


def codes(records):
    return [(e.path, e.code) for e in validator_for("kegiatan_pengembangan", "1.0").errors(records)]


def sample():
    return next(r for r in sample_records("kegiatan_pengembangan", 30, seed=14)
                if r["rencana_tindak_lanjut"] and r["peserta_laki_laki"] is not None)


def test_an_activity_ends_on_or_after_its_start():
    record = sample()
    start = dt.date.fromisoformat(record["tanggal_mulai"])
    before = (start - dt.timedelta(days=1)).isoformat()
    assert codes([dict(record, tanggal_selesai=before)]) == [
        ("/records/0/tanggal_selesai", "end_before_start")
    ]


def test_men_and_women_add_up():
    record = sample()
    assert codes([dict(record, peserta_laki_laki=record["peserta_laki_laki"] + 1)]) == [
        ("/records/0/jumlah_peserta", "participant_counts_mismatch")
    ]
    assert codes([dict(record, peserta_laki_laki=None, peserta_perempuan=None)]) == []


def test_follow_up_targets_come_after_the_activity():
    record = sample()
    plans = [dict(p) for p in record["rencana_tindak_lanjut"]]
    plans[0]["target_tanggal"] = record["tanggal_mulai"]
    if record["tanggal_mulai"] == record["tanggal_selesai"]:
        plans[0]["target_tanggal"] = "2000-01-01"
    assert codes([dict(record, rencana_tindak_lanjut=plans)]) == [
        ("/records/0/rencana_tindak_lanjut/0/target_tanggal", "target_before_end")
    ]


@pytest.mark.parametrize(
    ("change", "path", "code"),
    [
        ({"jenis": "rapat"}, "jenis", "one_of"),
        ({"unit_sasaran": []}, "unit_sasaran", "length"),
        ({"jumlah_peserta": "30"}, "jumlah_peserta", "invalid"),
        ({"daftar_peserta": ["Budi"]}, "daftar_peserta", "unknown_field"),  # no lists of people
    ],
)
def test_field_rules(change, path, code):
    assert codes([dict(sample(), **change)]) == [(f"/records/0/{path}", code)]
