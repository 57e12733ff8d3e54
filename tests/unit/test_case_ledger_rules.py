"""The case ledger's rules: facts picked from records, steps derived from events, deadlines."""

import datetime as dt
import itertools
import random
from pathlib import Path

import pytest

from gateway.cases.calendar import load_calendar
from gateway.cases.facts import LEDGER_DATASETS, fact_of
from gateway.cases.ledger import Deadlines, Event, case_row, derive
from gateway.cases.reports import Figures, Today, case_status, parse_period, step_status
from gateway.errors import BadRequest, ConfigError
from gateway.node.config import Deadline, ServiceLevels, load_agreement, load_parties
from schemas.samples import sample_records

RULES = Deadlines(ServiceLevels(), load_calendar())
PERSONAL_NAMES = {"ringkasan", "pelapor", "nomor_identitas", "penjelasan", "uraian", "alasan",
                  "pejabat_penanggung_jawab", "tindakan", "bukti", "dokumen_diminta", "nama"}


def event(batch, at, facts, idx=0):
    return Event(batch, idx, "x", at, {"case": "C", **facts})


def steps_of(*events):
    return {s.step: s for s in derive("C", events, RULES)}


# --- facts -----------------------------------------------------------------------------


@pytest.mark.parametrize("dataset", sorted(LEDGER_DATASETS))
def test_every_sample_version_gives_a_fact_without_personal_data(dataset):
    from schemas.samples import sample_versions

    for version in sample_versions(dataset):
        for record in sample_records(dataset, 20, seed=3, version=version):
            fact = fact_of(dataset, record)
            if record.get("nomor_laporan") is None:  # monitoring 1.0 may name no case
                assert fact is None
                continue
            assert fact is not None and fact["case"] == record["nomor_laporan"]
            flat = repr(fact)
            for name in PERSONAL_NAMES:
                assert f"'{name}'" not in flat
            for value in _strings(record, skip={"nomor_laporan"}):
                if len(value) > 40:  # free text never reaches the fact
                    assert value not in flat


def _strings(value, skip):
    if isinstance(value, dict):
        for k, v in value.items():
            if k not in skip:
                yield from _strings(v, skip)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v, skip)
    elif isinstance(value, str):
        yield value


def test_facts_keep_unit_codes_only_and_refuse_odd_values():
    assert fact_of("rekap_pengaduan", {"nomor_laporan": "x"}) is None
    assert fact_of("permintaan_klarifikasi", {"ringkasan": "no case"}) is None
    assert fact_of("permintaan_klarifikasi", ["not", "a", "record"]) is None
    fact = fact_of("permintaan_klarifikasi", {
        "nomor_laporan": "1/LM", "unit_terlapor": "Dinas Pendidikan Kota Bekasi",
        "putaran_klarifikasi": 10**9, "batas_waktu_tanggapan": "5 Desember"})
    assert fact == {"case": "1/LM", "kind": "request"}
    fact = fact_of("tanggapan_klarifikasi", {"nomor_laporan": "1/LM", "unit_penanggung_jawab":
                                             "3275.DISDIK", "status": "selesai"})
    assert fact == {"case": "1/LM", "kind": "answer", "unit": "3275.DISDIK", "status": "selesai"}
    assert fact_of("lahp", {"nomor_laporan": "x" * 65}) is None


def test_lahp_1_0_actions_are_numbered_as_monitoring_1_0_numbers_them():
    fact = fact_of("lahp", {"nomor_laporan": "1/LM", "nomor_lahp": "LHP/1", "tindakan_korektif": [
        {"pihak": "Kepala Dinas", "tindakan": "Memperbaiki", "batas_waktu": "2026-02-01"},
        {"pihak": "Sekretaris", "tindakan": "Menyusun", "batas_waktu": "2026-03-01"}]})
    assert [a["id"] for a in fact["actions"]] == ["1", "2"]
    followup = fact_of("monitoring_tindak_lanjut", {"nomor_laporan": "1/LM", "urutan_tindakan": 1})
    assert followup["action"] == "2"


# --- steps -----------------------------------------------------------------------------


def test_a_request_is_due_in_working_days_from_its_receipt_in_wib():
    # 2025-03-26T18:00Z is 27 March 01:00 in Jakarta: the clock starts on the 27th.
    [step] = steps_of(event("b1", "2025-03-26T18:00:00Z", {"kind": "request", "round": 1})).values()
    assert step.start_on == dt.date(2025, 3, 27)
    assert step.due_on == RULES.add_working_days(dt.date(2025, 3, 27), 14)
    assert RULES.add_working_days(dt.date(2025, 3, 27), 1) == dt.date(2025, 4, 8)


def test_answers_close_rounds_oldest_first_and_a_request_sent_again_counts_once():
    found = steps_of(
        event("b1", "2025-05-05T03:00:00Z", {"kind": "request", "round": 1}),
        event("b2", "2025-05-06T03:00:00Z", {"kind": "request", "round": 1}),  # again
        event("b3", "2025-05-20T03:00:00Z", {"kind": "request", "round": 2}),
        event("b4", "2025-05-21T03:00:00Z", {"kind": "answer"}),
    )
    assert set(found) == {"klarifikasi/1", "klarifikasi/2"}
    assert found["klarifikasi/1"].closed_by == "b4#0" and found["klarifikasi/1"].opened_by == "b1#0"
    assert found["klarifikasi/2"].done_on is None


def test_an_answer_without_a_request_opens_nothing():
    assert steps_of(event("b1", "2025-05-05T03:00:00Z", {"kind": "answer"})) == {}


def test_events_learnt_in_any_order_give_the_same_steps():
    events = [
        event("b1", "2025-05-05T03:00:00Z", {"kind": "request", "round": 1, "unit": "3275.DISDIK"}),
        event("b2", "2025-05-09T03:00:00Z", {"kind": "answer"}),
        event("b3", "2025-06-02T03:00:00Z", {"kind": "lhp", "ref": "LHP/7", "actions": [
            {"id": "TK-01", "unit": "3275.DISDIK", "due": "2025-07-01"},
            {"id": "TK-02", "unit": "3275.BAPENDA", "due": "2025-06-20"}]}),
        event("b4", "2025-06-30T03:00:00Z", {"kind": "followup", "ref_kind": "tindakan_korektif",
                                             "ref": "LHP/7", "action": "TK-01"}),
        event("b5", "2025-07-03T03:00:00Z", {"kind": "verdict", "ref_kind": "tindakan_korektif",
                                             "ref": "LHP/7", "action": "TK-01",
                                             "verdict": "perlu_klarifikasi", "due": "2025-07-17"}),
        event("b6", "2025-07-10T03:00:00Z", {"kind": "followup", "ref_kind": "tindakan_korektif",
                                             "ref": "LHP/7", "action": "TK-01"}),
    ]
    expected = {k: s.row() for k, s in steps_of(*events).items()}
    rng = random.Random(5)
    for _ in range(20):
        shuffled = events[:]
        rng.shuffle(shuffled)
        assert {k: s.row() for k, s in steps_of(*shuffled).items()} == expected
    first = case_row("C", derive("C", events, RULES), events)
    assert first == case_row("C", derive("C", events[::-1], RULES), events[::-1])
    # What the events say.
    assert expected["tindakan_korektif/LHP/7/TK-01"]["done_on"] == "2025-06-30"
    assert expected["tindakan_korektif/LHP/7/TK-01"]["outcome"] == "perlu_klarifikasi"
    assert expected["tindakan_korektif/LHP/7/TK-02"]["done_on"] is None
    asked = expected["klarifikasi_tindak_lanjut/LHP/7/TK-01/1"]
    assert (asked["due_on"], asked["done_on"], asked["unit"]) == ("2025-07-17", "2025-07-10",
                                                                    "3275.DISDIK")
    assert first["state"] == "open" and first["next_due_on"] == dt.date(2025, 6, 20)


def test_a_recommendation_starts_on_the_day_received_the_report_declares():
    found = steps_of(event("b1", "2025-10-20T03:00:00Z", {
        "kind": "followup", "ref_kind": "rekomendasi", "ref": "001/RM.03.01/VIII/2025",
        "action": "1", "received_on": "2025-08-01", "unit": "3275.DISDIK"}))
    [step] = found.values()
    assert step.start_basis == "declared" and step.start_on == dt.date(2025, 8, 1)
    assert step.due_on == dt.date(2025, 9, 30)  # 60 days, not working days
    assert step.done_on == dt.date(2025, 10, 20) and step.late


def test_a_corrective_action_without_a_stated_date_falls_back_to_working_days():
    [step] = steps_of(event("b1", "2025-06-02T03:00:00Z", {
        "kind": "lhp", "ref": "L", "actions": [{"id": "1"}]})).values()
    assert step.due_on == RULES.add_working_days(dt.date(2025, 6, 2), 30)


def test_beyond_the_calendar_weekdays_are_counted():
    calendar = load_calendar()
    last = max(calendar.years)
    start = dt.date(last + 1, 1, 5)
    assert RULES.add_working_days(start, 5).weekday() < 5
    assert RULES.working_days_between(start, start + dt.timedelta(days=7)) == 5


# --- statuses ----------------------------------------------------------------------------


def test_step_and_case_statuses_on_a_day():
    at = Today(dt.date(2025, 6, 10), dt.date(2025, 6, 13))
    assert step_status("2025-06-09", None, at) == "overdue"
    assert step_status("2025-06-10", None, at) == "due_soon"
    assert step_status("2025-06-13", None, at) == "due_soon"
    assert step_status("2025-06-16", None, at) == "open"
    assert step_status("2025-06-09", "2025-06-09", at) == "done_on_time"
    assert step_status("2025-06-09", "2025-06-10", at) == "done_late"
    assert case_status("done_late", None, at) == "done_late"
    assert case_status("open", None, at) == "open"
    assert case_status("open", "2025-06-01", at) == "overdue"


def test_percentiles_are_nearest_rank():
    f = Figures(on_time=7, late=2, overdue=1)
    f.response_days.update({1: 5, 3: 4, 10: 1})
    assert f.percentile(50) == 1 and f.percentile(90) == 3 and f.percentile(100) == 10
    assert f.as_dict()["share_on_time"] == 0.7
    assert Figures().as_dict()["median_response_days"] is None


@pytest.mark.parametrize("text", ["2025-13", "25", "2025-1", "2025/01", "x" * 100, "0000",
                                  "0000-01", "20251"])
def test_a_bad_period_is_refused_with_its_path(text):
    with pytest.raises(BadRequest) as refused:
        parse_period(text)
    assert refused.value.path == "period"


def test_periods():
    assert parse_period("2024-02") == ("2024-02-01", "2024-02-29")
    assert parse_period("2025") == ("2025-01-01", "2025-12-31")
    assert parse_period("9999-12") == ("9999-12-01", "9999-12-31")


# --- the agreement's rules ---------------------------------------------------------------


def test_the_shipped_agreement_states_every_rule():
    levels = load_agreement(SHIPPED).service_levels
    assert levels.deadlines["klarifikasi"] == Deadline(
        working_days=14, basis=levels.deadlines["klarifikasi"].basis, unconfirmed=True)
    assert levels.deadlines["rekomendasi"].days == 60
    assert levels.deadlines["tindakan_korektif"].stated
    assert levels.due_soon_working_days == 3


SERVICE_LEVELS = """
[service_levels]
due_soon_working_days = 2
[service_levels.klarifikasi]
working_days = 10
[service_levels.tindakan_korektif]
stated = true
working_days = 30
[service_levels.rekomendasi]
days = 60
[service_levels.klarifikasi_tindak_lanjut]
stated = true
working_days = 14
"""
SHIPPED = Path("config/agreements/mou-pemkot-bekasi-ombudsman-ri-2021.toml")


@pytest.mark.parametrize(("change", "problem"), [
    (("working_days = 10", "working_days = 10\ndays = 3"), "exactly one"),
    (("working_days = 10", "working_days = 0"), "1 to 366"),
    (("working_days = 10", 'working_days = "10"'), "integer"),
    (("[service_levels.rekomendasi]\ndays = 60\n", ""), "required"),
    (("due_soon_working_days = 2", "due_soon_working_days = 99"), "0 to 60"),
    (("due_soon_working_days = 2", "hari = 2"), "not a known setting"),
])
def test_a_bad_rule_is_refused_naming_its_key(tmp_path, change, problem):
    text = SHIPPED.read_text(encoding="utf-8")
    text = text[: text.index("[service_levels]")] + SERVICE_LEVELS.replace(*change)
    text = text.replace("../keys/", str(_keys()) + "/")
    path = tmp_path / "agreement.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_agreement(path, registry=load_parties(Path("config/parties")))
    assert problem in str(refused.value) and "service_levels" in str(refused.value)


def test_a_good_rule_table_is_read(tmp_path):
    text = SHIPPED.read_text(encoding="utf-8")
    text = text[: text.index("[service_levels]")] + SERVICE_LEVELS
    path = tmp_path / "agreement.toml"
    path.write_text(text.replace("../keys/", str(_keys()) + "/"), encoding="utf-8")
    levels = load_agreement(path, registry=load_parties(Path("config/parties"))).service_levels
    assert levels.deadlines["klarifikasi"].working_days == 10 and levels.due_soon_working_days == 2


def _keys():
    return (Path("config") / "../keys").resolve()


def test_kinds_and_steps_are_closed_sets():
    assert set(ServiceLevels().deadlines) == {
        "klarifikasi", "tindakan_korektif", "rekomendasi", "klarifikasi_tindak_lanjut"}
    assert list(itertools.islice(iter(LEDGER_DATASETS), 0)) == []
