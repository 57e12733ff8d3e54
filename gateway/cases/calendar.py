"""The working days of Indonesian government offices, in Asia/Jakarta.

A working day is a Monday to Friday that is neither a *hari libur nasional* nor a day of
*cuti bersama*. Both are set each year by the joint decree (SKB) of the Menteri Agama, the
Menteri Ketenagakerjaan and the Menteri PANRB, and its amendments; they are data, shipped
in ``data/hari_libur.toml`` (one table a year, with the decrees it comes from), never code.
:func:`load_calendar` reads that file and any later ones, a year of a later file replacing
the same year of an earlier one: that is how a new year or an amended one is deployed.

A date outside the years of the calendar raises :class:`CalendarNotCovered`, never a guess;
a file that cannot be read raises :class:`CalendarError` naming the file and the place.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from gateway.errors import CalendarError, CalendarNotCovered

__all__ = [
    "CUTI_BERSAMA",
    "KINDS",
    "LIBUR_NASIONAL",
    "SHIPPED",
    "WIB",
    "CalendarError",
    "CalendarNotCovered",
    "CalendarYear",
    "Holiday",
    "Source",
    "WorkingCalendar",
    "load_calendar",
    "read_calendar_file",
    "wib_date",
]

WIB = ZoneInfo("Asia/Jakarta")

LIBUR_NASIONAL = "libur_nasional"
CUTI_BERSAMA = "cuti_bersama"
KINDS = frozenset({LIBUR_NASIONAL, CUTI_BERSAMA})

SHIPPED = Path(__file__).parent / "data" / "hari_libur.toml"

# The national holidays on a fixed calendar date (Keppres 8/2024), as (month, day, from year,
# name): every year of the calendar lists them, whatever day of the week they fall on. Hari
# Buruh is a national holiday from 2014, Hari Lahir Pancasila from 2017.
FIXED_HOLIDAYS: tuple[tuple[int, int, int, str], ...] = (
    (1, 1, 1, "Tahun Baru Masehi"),
    (5, 1, 2014, "Hari Buruh Internasional"),
    (6, 1, 2017, "Hari Lahir Pancasila"),
    (8, 17, 1, "Hari Kemerdekaan"),
    (12, 25, 1, "Hari Raya Natal"),
)

# date.toordinal() is 1 on Monday 0001-01-01, so an ordinal's weekday is (ordinal - 1) % 7.
_WEEK = 7
_WORKWEEK = 5
_LAST_ORDINAL = dt.date.max.toordinal()


def wib_date(moment: dt.datetime) -> dt.date:
    """The date in Jakarta (WIB, UTC+7) of a timezone-aware instant.

    :class:`ValueError` for a naive datetime: its instant is unknown.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a naive datetime has no instant: give one with a timezone")
    return moment.astimezone(WIB).date()


@dataclass(frozen=True)
class Holiday:
    """A day the offices are closed: a hari libur nasional or a day of cuti bersama."""

    date: dt.date
    name: str
    kind: str


@dataclass(frozen=True)
class Source:
    """A decree a year comes from: an SKB's three numbers (Menteri Agama, Menteri
    Ketenagakerjaan, Menteri PANRB), or a Keppres's one."""

    title: str
    numbers: tuple[str, ...]
    signed: dt.date | None = None
    url: str = ""


@dataclass(frozen=True)
class CalendarYear:
    """One year of holidays and cuti bersama, with its sources.

    ``unconfirmed`` is true when its decree, or an amendment, was not found; ``note`` says
    what the sources changed and what is not confirmed.
    """

    year: int
    sources: tuple[Source, ...]
    days: tuple[Holiday, ...]
    unconfirmed: bool = False
    note: str = ""

    def count(self, kind: str) -> int:
        """The number of days of ``kind`` (:data:`LIBUR_NASIONAL` or :data:`CUTI_BERSAMA`)."""
        return sum(1 for day in self.days if day.kind == kind)


def _weekdays_through(ordinal: int) -> int:
    """The number of Mondays to Fridays from 0001-01-01 through the day of ``ordinal``."""
    weeks, rest = divmod(ordinal, _WEEK)
    return weeks * _WORKWEEK + min(rest, _WORKWEEK)


def _weekday_number(count: int) -> int:
    """The ordinal of the ``count``-th Monday to Friday from 0001-01-01 (count >= 1)."""
    weeks, rest = divmod(count, _WORKWEEK)
    if rest == 0:
        return weeks * _WEEK - 2  # the Friday of the last full week
    return weeks * _WEEK + rest


class WorkingCalendar:
    """The working days of the years given: Monday to Friday, less the holidays.

    Counting is arithmetic on ordinals: the weekdays between two dates by formula, less the
    holidays on weekdays between them (a bisection in one sorted tuple), so a span of years
    costs no more than a span of days.
    """

    def __init__(self, years: Iterable[CalendarYear]) -> None:
        by_year: dict[int, CalendarYear] = {}
        for year in years:
            if year.year in by_year:
                raise CalendarError(f"the year {year.year} is given twice")
            by_year[year.year] = year
        self._years = dict(sorted(by_year.items()))
        closed = {
            day.date.toordinal()
            for year in self._years.values()
            for day in year.days
            if day.date.weekday() < _WORKWEEK
        }
        self._closed = tuple(sorted(closed))
        self._closed_set = frozenset(closed)

    @property
    def years(self) -> tuple[int, ...]:
        """The years covered, in order."""
        return tuple(self._years)

    def calendar_year(self, year: int) -> CalendarYear:
        """The data of ``year``; :class:`CalendarNotCovered` if it is not covered."""
        try:
            return self._years[year]
        except KeyError:
            raise CalendarNotCovered(self._not_covered(year)) from None

    def holidays(self, year: int) -> tuple[Holiday, ...]:
        """The holidays and days of cuti bersama of ``year``, by date."""
        return tuple(sorted(self.calendar_year(year).days, key=lambda day: day.date))

    def covers(self, day: dt.date) -> bool:
        """Whether the year of ``day`` is in the calendar."""
        return day.year in self._years

    def is_working_day(self, day: dt.date) -> bool:
        """Whether ``day`` is a working day; :class:`CalendarNotCovered` outside the years."""
        self._require(day.year, day.year)
        return day.weekday() < _WORKWEEK and day.toordinal() not in self._closed_set

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """The number of working days ``d`` with ``start < d <= end`` (0 if ``end <= start``)."""
        if end <= start:
            return 0
        self._require((start + dt.timedelta(days=1)).year, end.year)
        first, last = start.toordinal(), end.toordinal()
        return _weekdays_through(last) - _weekdays_through(first) - self._closed_in(first, last)

    def add_working_days(self, start: dt.date, n: int) -> dt.date:
        """The ``n``-th working day after ``start``, counting from the day after (``n`` >= 0;
        ``start`` itself when ``n`` is 0).

        :class:`CalendarNotCovered` if ``start`` or a day up to the answer is outside the years.
        """
        if n < 0:
            raise ValueError(f"the number of working days cannot be negative: {n}")
        self._require(start.year, start.year)
        if n == 0:
            return start
        first = start.toordinal()
        base = _weekdays_through(first)
        closed = 0
        while True:
            # The (n + closed)-th weekday after start: n working days if exactly `closed` of
            # the weekdays up to it are holidays; each pass counts the holidays it stepped over.
            candidate = _weekday_number(base + n + closed)
            if candidate > _LAST_ORDINAL:  # past 9999-12-31: past the calendar's years too
                raise CalendarNotCovered(self._not_covered(max(self._years) + 1))
            self._require(start.year, dt.date.fromordinal(candidate).year)
            found = self._closed_in(first, candidate)
            if found == closed:
                return dt.date.fromordinal(candidate)
            closed = found

    def check(self) -> list[str]:
        """The problems of the data, one line each; empty when all is well."""
        problems: list[str] = []
        if self._years:
            first, last = min(self._years), max(self._years)
            problems += [
                f"{year}: missing (the calendar covers {first} to {last})"
                for year in range(first, last + 1)
                if year not in self._years
            ]
        for year in self._years.values():
            problems += _year_problems(year)
        return problems

    def _closed_in(self, first: int, last: int) -> int:
        """The holidays on weekdays with ordinals in ``(first, last]``."""
        return bisect.bisect_right(self._closed, last) - bisect.bisect_right(self._closed, first)

    def _require(self, first: int, last: int) -> None:
        for year in range(first, last + 1):
            if year not in self._years:
                raise CalendarNotCovered(self._not_covered(year))

    def _not_covered(self, year: int) -> str:
        covered = f"{min(self._years)} to {max(self._years)}" if self._years else "no year"
        return (
            f"the working-day calendar does not cover {year} (it covers {covered}); "
            "add the year's decree of holidays and cuti bersama"
        )


def _year_problems(year: CalendarYear) -> list[str]:
    """The problems of one year's data."""
    problems: list[str] = []
    if not year.sources:
        problems.append(f"{year.year}: no sources (the decrees the year comes from)")
    seen: set[dt.date] = set()
    for day in year.days:
        where = f"{year.year}: {day.date.isoformat()}"
        if day.date.year != year.year:
            problems.append(f"{where}: not in {year.year}")
        if day.date in seen:
            problems.append(f"{where}: listed twice (give one entry, both names in its name)")
        seen.add(day.date)
        if day.kind not in KINDS:
            problems.append(f"{where}: unknown kind {day.kind!r} (one of {sorted(KINDS)})")
        if not day.name.strip():
            problems.append(f"{where}: no name")
    national = {day.date for day in year.days if day.kind == LIBUR_NASIONAL}
    for month, day_of_month, since, name in FIXED_HOLIDAYS:
        if year.year >= since and dt.date(year.year, month, day_of_month) not in national:
            problems.append(
                f"{year.year}: {name} ({year.year}-{month:02d}-{day_of_month:02d}) "
                "is not listed as libur_nasional"
            )
    return problems


# --- reading the files ------------------------------------------------------------------------


_EXPECTED: dict[type, str] = {
    dt.date: "a date (YYYY-MM-DD)",
    int: "an integer",
    str: "text",
    bool: "true or false",
    list: "a list",
}


def _field(table: Mapping[str, Any], key: str, kind: type, where: str, *, required: bool) -> Any:
    """``table[key]``, checked to be a ``kind``; ``None`` when it is absent and optional."""
    if key not in table:
        if required:
            raise CalendarError(f"{where}: {key} is missing")
        return None
    value = table[key]
    if kind is dt.date and isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise CalendarError(f"{where}.{key}: {value!r} is not a date (YYYY-MM-DD)") from None
    # A TOML date-time is a datetime, which is also a date (and a bool is an int): neither is
    # what is asked for.
    if (
        not isinstance(value, kind)
        or (kind is dt.date and isinstance(value, dt.datetime))
        or (kind is int and isinstance(value, bool))
    ):
        raise CalendarError(f"{where}.{key}: {value!r} is not {_EXPECTED[kind]}")
    return value


def _tables(value: Any, where: str) -> list[Mapping[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise CalendarError(f"{where}: not a list of tables")
    return value


def _source(table: Mapping[str, Any], where: str) -> Source:
    numbers = _field(table, "numbers", list, where, required=True)
    if not numbers or not all(isinstance(number, str) and number for number in numbers):
        raise CalendarError(f"{where}.numbers: not a list of the decree's numbers (text)")
    return Source(
        title=_field(table, "title", str, where, required=True),
        numbers=tuple(numbers),
        signed=_field(table, "signed", dt.date, where, required=False),
        url=_field(table, "url", str, where, required=False) or "",
    )


def _holiday(table: Mapping[str, Any], where: str) -> Holiday:
    return Holiday(
        date=_field(table, "date", dt.date, where, required=True),
        name=_field(table, "name", str, where, required=True),
        kind=_field(table, "kind", str, where, required=True),
    )


def _calendar_year(table: Mapping[str, Any], where: str) -> CalendarYear:
    sources = _tables(table.get("sources", []), f"{where}.sources")
    days = _tables(_field(table, "days", list, where, required=True), f"{where}.days")
    return CalendarYear(
        year=_field(table, "year", int, where, required=True),
        sources=tuple(_source(s, f"{where}.sources[{i}]") for i, s in enumerate(sources)),
        days=tuple(_holiday(d, f"{where}.days[{i}]") for i, d in enumerate(days)),
        unconfirmed=bool(_field(table, "unconfirmed", bool, where, required=False)),
        note=" ".join((_field(table, "note", str, where, required=False) or "").split()),
    )


def read_calendar_file(path: Path) -> tuple[CalendarYear, ...]:
    """The years of one calendar file (the layout of ``data/hari_libur.toml``).

    :class:`CalendarError`, one line naming the file and the place, if it cannot be read.
    """
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CalendarError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CalendarError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise CalendarError(f"{path}: not valid TOML: {exc}") from None
    if "years" not in document:
        raise CalendarError(f"{path}: years: missing (a [[years]] table a year)")
    years: list[CalendarYear] = []
    for index, table in enumerate(_tables(document["years"], f"{path}: years")):
        year = _calendar_year(table, f"{path}: years[{index}]")
        if any(seen.year == year.year for seen in years):
            raise CalendarError(f"{path}: years[{index}]: the year {year.year} is listed twice")
        years.append(year)
    return tuple(years)


@functools.cache
def _shipped_calendar() -> WorkingCalendar:
    return WorkingCalendar(read_calendar_file(SHIPPED))


def load_calendar(*extra: Path) -> WorkingCalendar:
    """The shipped calendar, then each of ``extra`` in order: a year in a later file
    replaces the same year of an earlier one (an amended year, or a new one, without code).

    The shipped calendar alone is read once per process.
    """
    if not extra:
        return _shipped_calendar()
    years = {year.year: year for year in read_calendar_file(SHIPPED)}
    for path in extra:
        years.update((year.year, year) for year in read_calendar_file(path))
    return WorkingCalendar(years.values())
