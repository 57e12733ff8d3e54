"""The working-day calendar: the shipped years, the counting, and the files that amend it."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest

from gateway.cases.calendar import (
    CUTI_BERSAMA,
    LIBUR_NASIONAL,
    WIB,
    CalendarError,
    CalendarNotCovered,
    CalendarYear,
    Holiday,
    Source,
    WorkingCalendar,
    load_calendar,
    wib_date,
)
from gateway.errors import GatewayError

D = dt.date
SHIPPED_YEARS = tuple(range(2021, 2028))
SOURCE = Source(title="Keputusan Bersama (test)", numbers=("1/2030", "1/2030", "1/2030"))


@pytest.fixture(scope="module")
def calendar() -> WorkingCalendar:
    return load_calendar()


def slow_add(calendar: WorkingCalendar, start: dt.date, n: int) -> dt.date:
    day = start
    while n:
        day += dt.timedelta(days=1)
        if calendar.is_working_day(day):
            n -= 1
    return day


def slow_between(calendar: WorkingCalendar, start: dt.date, end: dt.date) -> int:
    count, day = 0, start
    while day < end:
        day += dt.timedelta(days=1)
        count += calendar.is_working_day(day)
    return count


def year_file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def fixed_days(year: int) -> str:
    return "\n".join(
        f'  {{ date = {year}-{md}, kind = "libur_nasional", name = "{name}" }},'
        for md, name in (("01-01", "Tahun Baru"), ("05-01", "Hari Buruh"),
                         ("06-01", "Hari Lahir Pancasila"), ("08-17", "Proklamasi"),
                         ("12-25", "Natal"))
    )


def toml_year(year: int, extra_days: str = "", *, note: str = "") -> str:
    return f"""
[[years]]
year = {year}
note = "{note}"
days = [
{fixed_days(year)}
{extra_days}
]

[[years.sources]]
title = "Keputusan Bersama (test)"
numbers = ["1/{year - 1}", "1/{year - 1}", "1/{year - 1}"]
signed = {year - 1}-09-01
"""


# --- the shipped data ---------------------------------------------------------------------------


def test_one_working_day_after_the_eve_of_nyepi_and_lebaran_2025_is_8_april(calendar):
    # SKB 1017/2024, 2/2024, 2/2024: cuti bersama Fri 28 March, Nyepi Sat 29 March, Idul Fitri
    # Mon 31 March and Tue 1 April, cuti bersama 2, 3, 4 and 7 April.
    assert calendar.add_working_days(D(2025, 3, 27), 1) == D(2025, 4, 8)
    assert calendar.working_days_between(D(2025, 3, 27), D(2025, 4, 8)) == 1
    assert calendar.working_days_between(D(2025, 3, 27), D(2025, 4, 7)) == 0
    for day in (D(2025, 3, 28), D(2025, 3, 31), D(2025, 4, 1), D(2025, 4, 2), D(2025, 4, 3),
                D(2025, 4, 4), D(2025, 4, 7)):
        assert not calendar.is_working_day(day), day
    assert calendar.is_working_day(D(2025, 3, 27)) and calendar.is_working_day(D(2025, 4, 8))


def test_weekends_are_not_working_days(calendar):
    assert not calendar.is_working_day(D(2025, 3, 1))  # Saturday
    assert not calendar.is_working_day(D(2025, 3, 2))  # Sunday
    assert calendar.is_working_day(D(2025, 3, 3))  # Monday
    assert calendar.add_working_days(D(2025, 3, 7), 1) == D(2025, 3, 10)  # Friday to Monday
    assert calendar.add_working_days(D(2025, 3, 8), 1) == D(2025, 3, 10)  # from a Saturday
    assert calendar.working_days_between(D(2025, 3, 7), D(2025, 3, 9)) == 0
    assert calendar.add_working_days(D(2025, 3, 8), 0) == D(2025, 3, 8)


def test_every_shipped_year_is_covered_and_checks_clean(calendar):
    assert calendar.years == SHIPPED_YEARS
    assert calendar.check() == []
    for year in SHIPPED_YEARS:
        data = calendar.calendar_year(year)
        assert data.sources and all(s.title and s.numbers for s in data.sources)
        assert calendar.covers(D(year, 1, 1)) and calendar.covers(D(year, 12, 31))
    assert not calendar.covers(D(2020, 12, 31)) and not calendar.covers(D(2028, 1, 1))


def test_the_joint_decrees_are_three_numbers_and_signed(calendar):
    for year in SHIPPED_YEARS[:-1]:
        first = calendar.calendar_year(year).sources[0]
        assert len(first.numbers) == 3 and first.signed is not None
        assert first.signed.year == year - 1 and first.url.startswith("https://")


@pytest.mark.parametrize("year", SHIPPED_YEARS)
def test_the_fixed_holidays_are_listed_each_year(calendar, year):
    national = {d.date: d.name for d in calendar.holidays(year) if d.kind == LIBUR_NASIONAL}
    for month, day in ((1, 1), (5, 1), (6, 1), (8, 17), (12, 25)):
        assert D(year, month, day) in national, (year, month, day)


# Idul Fitri, its cuti bersama and other days of each year as its decree and amendments set
# them (the sources of data/hari_libur.toml).
KNOWN = {
    2021: {"libur_nasional": ["2021-05-13", "2021-05-14", "2021-07-20", "2021-08-11",
                              "2021-10-20"],
           "cuti_bersama": ["2021-05-12"],
           "working": ["2021-05-17", "2021-05-18", "2021-05-19", "2021-08-10", "2021-10-19",
                       "2021-12-24", "2021-12-27", "2021-03-12"]},
    2022: {"libur_nasional": ["2022-05-02", "2022-05-03", "2022-07-10", "2022-10-08"],
           "cuti_bersama": ["2022-04-29", "2022-05-04", "2022-05-05", "2022-05-06"],
           "working": ["2022-12-26", "2022-07-11"]},
    2023: {"libur_nasional": ["2023-04-22", "2023-04-23", "2023-06-29"],
           "cuti_bersama": ["2023-04-19", "2023-04-20", "2023-04-21", "2023-04-24",
                            "2023-04-25", "2023-06-28", "2023-06-30", "2023-12-26"],
           "working": ["2023-04-26", "2023-04-18"]},
    2024: {"libur_nasional": ["2024-04-10", "2024-04-11", "2024-02-14", "2024-11-27",
                              "2024-03-31"],
           "cuti_bersama": ["2024-04-08", "2024-04-09", "2024-04-12", "2024-04-15",
                            "2024-06-18"],
           "working": ["2024-04-16"]},
    2025: {"libur_nasional": ["2025-03-31", "2025-04-01", "2025-06-06", "2025-09-05"],
           "cuti_bersama": ["2025-04-02", "2025-04-03", "2025-04-04", "2025-04-07",
                            "2025-08-18", "2025-12-26"],
           "working": ["2025-08-19"]},
    2026: {"libur_nasional": ["2026-03-19", "2026-03-21", "2026-03-22", "2026-05-27"],
           "cuti_bersama": ["2026-03-18", "2026-03-20", "2026-03-23", "2026-03-24",
                            "2026-12-24"],
           "working": ["2026-03-25", "2026-03-17"]},
    2027: {"libur_nasional": ["2027-03-26", "2027-05-06"], "cuti_bersama": [], "working": []},
}


@pytest.mark.parametrize("year", SHIPPED_YEARS)
def test_known_days_of_each_year(calendar, year):
    kinds = {d.date: d.kind for d in calendar.holidays(year)}
    for kind in (LIBUR_NASIONAL, CUTI_BERSAMA):
        for text in KNOWN[year][kind]:
            assert kinds.get(D.fromisoformat(text)) == kind, (text, kind)
    for text in KNOWN[year]["working"]:
        assert calendar.is_working_day(D.fromisoformat(text)), text
    assert calendar.calendar_year(year).count(LIBUR_NASIONAL) > 0


def test_the_counts_of_each_year(calendar):
    counts = {y: (calendar.calendar_year(y).count(LIBUR_NASIONAL),
                  calendar.calendar_year(y).count(CUTI_BERSAMA)) for y in SHIPPED_YEARS}
    # 2021: 16 holidays on 15 dates (13 May was Kenaikan and Idul Fitri); 2024: 17 and the two
    # voting days made holidays by Keppres.
    assert counts == {2021: (15, 1), 2022: (16, 4), 2023: (16, 11), 2024: (19, 10),
                      2025: (17, 11), 2026: (17, 8), 2027: (8, 0)}


def test_only_2027_is_unconfirmed_and_says_so(calendar):
    flagged = [y for y in SHIPPED_YEARS if calendar.calendar_year(y).unconfirmed]
    assert flagged == [2027]
    assert "not found" in calendar.calendar_year(2027).note


def test_holidays_are_by_date(calendar):
    days = calendar.holidays(2025)
    assert [d.date for d in days] == sorted(d.date for d in days)
    assert days[0] == Holiday(D(2025, 1, 1), "Tahun Baru 2025 Masehi", LIBUR_NASIONAL)


# --- counting -----------------------------------------------------------------------------------


def test_counting_agrees_with_a_day_by_day_count_over_random_spans(calendar):
    rng = random.Random(20250327)
    first, last = D(2021, 1, 1).toordinal(), D(2027, 12, 31).toordinal()
    for _ in range(300):
        start = D.fromordinal(rng.randint(first, last - 200))
        end = D.fromordinal(rng.randint(start.toordinal(), min(last, start.toordinal() + 400)))
        assert calendar.working_days_between(start, end) == slow_between(calendar, start, end)
        n = rng.randint(0, 60)
        due = calendar.add_working_days(start, n)
        assert due == slow_add(calendar, start, n), (start, n)
        assert calendar.working_days_between(start, due) == n
        assert n == 0 or calendar.is_working_day(due)


def test_counting_across_years(calendar):
    start, end = D(2021, 1, 1), D(2027, 12, 31)
    total = calendar.working_days_between(start, end)
    assert total == slow_between(calendar, start, end)
    assert calendar.add_working_days(start, total) == slow_add(calendar, start, total)
    assert calendar.working_days_between(end, start) == 0
    assert calendar.working_days_between(start, start) == 0


def test_a_negative_number_of_working_days_is_refused(calendar):
    with pytest.raises(ValueError):
        calendar.add_working_days(D(2025, 1, 2), -1)


def test_a_date_outside_the_years_is_not_covered(calendar):
    with pytest.raises(CalendarNotCovered) as refused:
        calendar.is_working_day(D(2020, 12, 31))
    assert "2020" in str(refused.value) and "2021 to 2027" in str(refused.value)
    assert isinstance(refused.value, GatewayError) and refused.value.code == "calendar_not_covered"
    with pytest.raises(CalendarNotCovered):
        calendar.add_working_days(D(2027, 12, 30), 5)  # runs into 2028
    with pytest.raises(CalendarNotCovered):
        calendar.add_working_days(D(2020, 12, 31), 0)
    with pytest.raises(CalendarNotCovered, match="2028"):
        calendar.add_working_days(D(2025, 1, 2), 10**12)  # past 9999 as well
    with pytest.raises(CalendarNotCovered):
        calendar.working_days_between(D(2027, 12, 1), D(2028, 1, 5))
    with pytest.raises(CalendarNotCovered):
        calendar.holidays(2030)


def test_counting_needs_every_year_of_the_span():
    def year(y: int) -> CalendarYear:
        return CalendarYear(y, (SOURCE,), ())

    gapped = WorkingCalendar([year(2030), year(2032)])
    with pytest.raises(CalendarNotCovered, match="2031"):
        gapped.working_days_between(D(2030, 12, 1), D(2032, 1, 10))
    assert gapped.check()[0] == "2031: missing (the calendar covers 2030 to 2032)"


def test_wib_date():
    assert wib_date(dt.datetime(2025, 3, 27, 17, 0, tzinfo=dt.UTC)) == D(2025, 3, 28)
    assert wib_date(dt.datetime(2025, 3, 27, 16, 59, tzinfo=dt.UTC)) == D(2025, 3, 27)
    assert wib_date(dt.datetime(2025, 3, 28, 0, 30, tzinfo=WIB)) == D(2025, 3, 28)
    with pytest.raises(ValueError):
        wib_date(dt.datetime(2025, 3, 27, 12, 0))


# --- check --------------------------------------------------------------------------------------


def test_check_names_each_problem():
    bad = CalendarYear(
        2030,
        (),
        (
            Holiday(D(2030, 1, 1), "Tahun Baru", LIBUR_NASIONAL),
            Holiday(D(2031, 2, 1), "Elsewhere", LIBUR_NASIONAL),
            Holiday(D(2030, 3, 4), "Twice", CUTI_BERSAMA),
            Holiday(D(2030, 3, 4), "Twice again", CUTI_BERSAMA),
            Holiday(D(2030, 3, 5), "Odd", "libur_daerah"),
            Holiday(D(2030, 3, 6), "  ", CUTI_BERSAMA),
            Holiday(D(2030, 5, 1), "Hari Buruh", CUTI_BERSAMA),
        ),
    )
    problems = WorkingCalendar([bad]).check()
    assert problems == [
        "2030: no sources (the decrees the year comes from)",
        "2030: 2031-02-01: not in 2030",
        "2030: 2030-03-04: listed twice (give one entry, both names in its name)",
        "2030: 2030-03-05: unknown kind 'libur_daerah' (one of ['cuti_bersama', 'libur_nasional'])",
        "2030: 2030-03-06: no name",
        "2030: Hari Buruh Internasional (2030-05-01) is not listed as libur_nasional",
        "2030: Hari Lahir Pancasila (2030-06-01) is not listed as libur_nasional",
        "2030: Hari Kemerdekaan (2030-08-17) is not listed as libur_nasional",
        "2030: Hari Raya Natal (2030-12-25) is not listed as libur_nasional",
    ]


def test_hari_lahir_pancasila_is_a_holiday_from_2017():
    year = CalendarYear(2016, (SOURCE,), tuple(
        Holiday(D(2016, m, d), "fixed", LIBUR_NASIONAL) for m, d in ((1, 1), (5, 1), (8, 17),
                                                                    (12, 25))))
    assert WorkingCalendar([year]).check() == []


def test_a_year_given_twice_is_refused():
    with pytest.raises(CalendarError):
        WorkingCalendar([CalendarYear(2030, (SOURCE,), ()), CalendarYear(2030, (SOURCE,), ())])


# --- files --------------------------------------------------------------------------------------


def test_an_extra_file_replaces_a_year_and_adds_one(tmp_path):
    amended = year_file(tmp_path, "amended.toml", toml_year(
        2025, '  { date = 2025-04-08, kind = "cuti_bersama", name = "Cuti bersama (test)" },',
        note="an amendment") + toml_year(2028))
    calendar = load_calendar(amended)
    assert calendar.years == (*SHIPPED_YEARS, 2028)
    assert calendar.check() == []
    assert calendar.calendar_year(2025).note == "an amendment"
    # 2025 is now the file's alone: Idul Fitri is gone and 8 April is cuti bersama.
    assert calendar.is_working_day(D(2025, 3, 31))
    assert calendar.add_working_days(D(2025, 4, 7), 1) == D(2025, 4, 9)
    assert calendar.add_working_days(D(2027, 12, 31), 1) == D(2028, 1, 3)
    assert calendar.calendar_year(2028).sources[0].signed == D(2027, 9, 1)
    # The shipped calendar is untouched.
    assert load_calendar().add_working_days(D(2025, 3, 27), 1) == D(2025, 4, 8)


def test_a_later_file_wins(tmp_path):
    first = year_file(tmp_path, "first.toml", toml_year(2028, note="first"))
    second = year_file(tmp_path, "second.toml", toml_year(2028, note="second"))
    assert load_calendar(first, second).calendar_year(2028).note == "second"
    assert load_calendar(second, first).calendar_year(2028).note == "first"


def test_dates_may_be_written_as_text(tmp_path):
    path = year_file(tmp_path, "text.toml", toml_year(2028).replace(
        "date = 2028-08-17", 'date = "2028-08-17"'))
    assert D(2028, 8, 17) in {d.date for d in load_calendar(path).holidays(2028)}


MALFORMED = {
    "not TOML": ("[[years]\nyear = 2028\n", "not valid TOML"),
    "a bad date": (toml_year(2028).replace("2028-08-17", '"2028-08-32"'),
                   "years[0].days[3].date: '2028-08-32' is not a date"),
    "an impossible TOML date": (toml_year(2028).replace("2028-08-17", "2028-02-30"),
                                "not valid TOML"),
    "a date-time": (toml_year(2028).replace("2028-08-17", "2028-08-17T00:00:00"),
                    "years[0].days[3].date"),
    "no name": (toml_year(2028).replace(', name = "Natal"', ""),
                "years[0].days[4]: name is missing"),
    "no year": (toml_year(2028).replace("year = 2028\n", ""), "years[0]: year is missing"),
    "no days": ("[[years]]\nyear = 2028\n", "years[0]: days is missing"),
    "a year as text": (toml_year(2028).replace("year = 2028", 'year = "2028"'),
                       "years[0].year: '2028' is not an integer"),
    "no years": ('title = "nothing"\n', "years: missing"),
    "a source without numbers": (toml_year(2028).replace('numbers = ["1/2027", "1/2027", '
                                                         '"1/2027"]\n', ""),
                                 "years[0].sources[0]: numbers is missing"),
    "a year twice": (toml_year(2028) + toml_year(2028), "years[1]: the year 2028 is listed twice"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_file_is_one_line_naming_the_file_and_the_place(tmp_path, case):
    text, expected = MALFORMED[case]
    path = year_file(tmp_path, "bad.toml", text)
    with pytest.raises(CalendarError) as refused:
        load_calendar(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: ") and expected in message, message
    assert "\n" not in message
    assert refused.value.code == "calendar_error"


def test_a_missing_file_is_a_calendar_error(tmp_path):
    with pytest.raises(CalendarError, match="cannot be read"):
        load_calendar(tmp_path / "absent.toml")


def test_the_shipped_calendar_is_read_once():
    assert load_calendar() is load_calendar()
