import copy
import datetime as dt

import pytest

from gateway.exchange.validation import validator_for
from schemas import vocab
from schemas.diff import diff
from schemas.samples import sample_records


def codes(records):
    return [(e.path, e.code) for e in validator_for("kegiatan_pengembangan", "1.0").errors(records)]


def sample():
    return next(r for r in sample_records("kegiatan_pengembangan", 30, seed=14, version="1.0")
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


# -- 2.0 ----------------------------------------------------------------------------------------


def codes_v2(records):
    return [(e.path, e.code)
            for e in validator_for("kegiatan_pengembangan", "2.0").errors(records)]


def samples_v2():
    return sample_records("kegiatan_pengembangan", 60, seed=14, version="2.0",
                          today=dt.date(2026, 11, 28))


def sample_v2(status, *, follow_up=False, split=False):
    """A 2.0 sample of ``status`` (with a follow-up plan, with men and women counted)."""
    return copy.deepcopy(next(
        r for r in samples_v2() if r["status"] == status
        and (not follow_up or r.get("rencana_tindak_lanjut"))
        and (not split or "peserta_laki_laki" in r["realisasi"])))


def days_after(date, days):
    return (dt.date.fromisoformat(date) + dt.timedelta(days=days)).isoformat()


def test_v2_samples_are_valid_and_cover_every_status_and_kind():
    records = samples_v2()
    assert codes_v2(records) == []
    assert {r["status"] for r in records} == {"direncanakan", "terlaksana", "dibatalkan"}
    assert {r["jenis"] for r in records} == set(vocab.JENIS_KEGIATAN_PENGEMBANGAN)
    assert "status" in sample_records("kegiatan_pengembangan", 1)[0]  # 2.0 is the default


@pytest.mark.parametrize("kind", ["pelatihan", "bimbingan_teknis", "pendampingan",
                                  "monitoring_evaluasi", "sosialisasi",
                                  "focus_group_discussion", "forum_konsultasi_publik"])
def test_v2_kinds_used_in_practice(kind):
    record = sample_v2("terlaksana")
    changed = dict(record, jenis=kind, klausul_mou=vocab.KLAUSUL_KEGIATAN[kind])
    assert codes_v2([changed]) == []
    assert codes_v2([dict(record, jenis="rapat")]) == [("/records/0/jenis", "one_of")]


def test_v2_the_clause_follows_from_the_kind():
    assert vocab.KLAUSUL_KEGIATAN["pelatihan"] == 5
    assert vocab.KLAUSUL_KEGIATAN["bimbingan_teknis"] == 5
    assert vocab.KLAUSUL_KEGIATAN["pendampingan"] == 6
    assert vocab.KLAUSUL_KEGIATAN["sosialisasi"] == 2
    record = sample_v2("terlaksana")
    for kind, clause in vocab.KLAUSUL_KEGIATAN.items():
        for other in {2, 5, 6} - {clause}:
            assert codes_v2([dict(record, jenis=kind, klausul_mou=other)]) == [
                ("/records/0/klausul_mou", "clause_kind_mismatch")], (kind, other)
    assert codes_v2([dict(record, klausul_mou=1)]) == [("/records/0/klausul_mou", "one_of")]
    assert codes_v2([dict(record, klausul_mou="5")]) == [("/records/0/klausul_mou", "invalid")]
    record.pop("klausul_mou")
    assert codes_v2([record]) == [("/records/0/klausul_mou", "required")]


def test_v2_target_units_are_codes_of_the_register_each_once():
    record = sample_v2("direncanakan")
    units = record["unit_sasaran"]
    assert codes_v2([dict(record, unit_sasaran=["Dinas Kesehatan"])]) == [
        ("/records/0/unit_sasaran/0", "unit_unknown")]
    assert codes_v2([dict(record, unit_sasaran=[units[0], units[0]])]) == [
        ("/records/0/unit_sasaran", "duplicate_value")]
    assert codes_v2([dict(record, unit_sasaran=[])]) == [("/records/0/unit_sasaran", "length")]


def test_v2_the_plan_ends_on_or_after_its_start():
    record = sample_v2("direncanakan")
    plan = record["rencana"]
    plan["tanggal_selesai"] = days_after(plan["tanggal_mulai"], -1)
    assert codes_v2([record]) == [("/records/0/rencana/tanggal_selesai", "end_before_start")]
    plan["tanggal_selesai"] = plan["tanggal_mulai"]
    assert codes_v2([record]) == []


def test_v2_the_plan_counts_its_participants():
    record = sample_v2("direncanakan")
    for count, code in ((0, "range"), (None, "null"), ("30", "invalid")):
        record["rencana"]["jumlah_peserta"] = count
        assert codes_v2([record]) == [("/records/0/rencana/jumlah_peserta", code)]
    record.pop("rencana")
    assert codes_v2([record]) == [("/records/0/rencana", "required")]


def test_v2_the_realisation_ends_on_or_after_its_start():
    record = sample_v2("terlaksana")
    done = record["realisasi"]
    done["tanggal_selesai"] = days_after(done["tanggal_mulai"], -1)
    record["rencana_tindak_lanjut"] = []
    assert codes_v2([record]) == [("/records/0/realisasi/tanggal_selesai", "end_before_start")]


def test_v2_realised_men_and_women_add_up():
    record = sample_v2("terlaksana", split=True)
    record["realisasi"]["peserta_laki_laki"] += 1
    assert codes_v2([record]) == [("/records/0/realisasi/jumlah_peserta",
                                   "participant_counts_mismatch")]
    record["realisasi"].pop("peserta_laki_laki")
    assert codes_v2([record]) == []
    record["realisasi"]["jumlah_peserta"] = 0
    assert codes_v2([record]) == [("/records/0/realisasi/jumlah_peserta", "range")]


def test_v2_an_activity_carried_out_has_its_realisation():
    record = sample_v2("terlaksana")
    record["rencana_tindak_lanjut"] = []
    record.pop("realisasi")
    assert codes_v2([record]) == [("/records/0/realisasi", "realisation_required")]
    assert codes_v2([dict(record, realisasi=None)]) == [
        ("/records/0/realisasi", "realisation_required")]


@pytest.mark.parametrize("status", ["direncanakan", "dibatalkan"])
def test_v2_only_an_activity_carried_out_has_a_realisation(status):
    record = sample_v2(status)
    realised = dict(record["rencana"])
    assert codes_v2([dict(record, realisasi=realised)]) == [
        ("/records/0/realisasi", "realisation_without_completion")]


def test_v2_a_cancelled_activity_says_why():
    record = sample_v2("dibatalkan")
    record.pop("alasan_pembatalan")
    assert codes_v2([record]) == [("/records/0/alasan_pembatalan",
                                   "cancellation_reason_required")]
    assert codes_v2([dict(record, alasan_pembatalan=None)]) == [
        ("/records/0/alasan_pembatalan", "cancellation_reason_required")]


@pytest.mark.parametrize("status", ["direncanakan", "terlaksana"])
def test_v2_only_a_cancelled_activity_has_a_cancellation_reason(status):
    record = sample_v2(status)
    assert codes_v2([dict(record, alasan_pembatalan="Ditunda")]) == [
        ("/records/0/alasan_pembatalan", "cancellation_reason_without_cancellation")]


@pytest.mark.parametrize("status", ["direncanakan", "dibatalkan"])
def test_v2_only_an_activity_carried_out_has_a_follow_up_plan(status):
    record = sample_v2(status)
    plans = [{"kegiatan": "Memperbarui maklumat pelayanan",
              "unit_penanggung_jawab": record["unit_sasaran"][0],
              "target_tanggal": days_after(record["rencana"]["tanggal_selesai"], 30)}]
    assert codes_v2([dict(record, rencana_tindak_lanjut=plans)]) == [
        ("/records/0/rencana_tindak_lanjut", "follow_up_without_completion")]


def test_v2_follow_up_targets_come_after_the_realised_end():
    record = sample_v2("terlaksana", follow_up=True)
    end = record["realisasi"]["tanggal_selesai"]
    plans = record["rencana_tindak_lanjut"]
    plans[-1]["target_tanggal"] = days_after(end, -1)
    assert codes_v2([record]) == [(f"/records/0/rencana_tindak_lanjut/{len(plans) - 1}"
                                   "/target_tanggal", "target_before_end")]
    plans[-1]["target_tanggal"] = end
    assert codes_v2([record]) == []


def test_v2_the_unit_responsible_for_follow_up_is_a_code():
    record = sample_v2("terlaksana", follow_up=True)
    record["rencana_tindak_lanjut"][0]["unit_penanggung_jawab"] = "Inspektorat"
    assert codes_v2([record]) == [
        ("/records/0/rencana_tindak_lanjut/0/unit_penanggung_jawab", "unit_unknown")]


@pytest.mark.parametrize(("change", "path"), [
    ({"daftar_peserta": ["Budi"]}, "daftar_peserta"),
    ({"realisasi": {"daftar_peserta": ["Budi"]}}, "realisasi/daftar_peserta"),
])
def test_v2_participants_are_counted_never_listed(change, path):
    record = sample_v2("terlaksana")
    if "realisasi" in change:
        change = {"realisasi": {**record["realisasi"], **change["realisasi"]}}
    assert codes_v2([dict(record, **change)]) == [(f"/records/0/{path}", "unknown_field")]


def test_v2_status_is_a_closed_vocabulary():
    record = sample_v2("direncanakan")
    assert codes_v2([dict(record, status="ditunda")]) == [("/records/0/status", "one_of")]


def test_v2_is_a_breaking_change_from_v1():
    changes = {(c.path, c.description): c.breaking
               for c in diff("kegiatan_pengembangan", "1.0", "2.0")}
    assert changes[("/tanggal_mulai", "field removed")] is True
    for name in ("klausul_mou", "status", "rencana"):
        assert changes[(f"/{name}", "new required field")] is True
    assert changes[("/realisasi", "new optional field")] is False
