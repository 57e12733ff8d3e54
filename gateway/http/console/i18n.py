"""The console's languages: Bahasa Indonesia first, English available.

The texts are written in English in the templates and translated by gettext
catalogues (``translations/<locale>/LC_MESSAGES/messages.po``, the format every
translation tool reads), compiled in memory with Babel when the app starts, so
there is no build step and no compiled file in the repository. Dates and
numbers are formatted for the locale by Babel as well.
"""

from __future__ import annotations

import datetime as dt
import io
from functools import cache, lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, dates, numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from gateway import timestamps

__all__ = [
    "DEFAULT",
    "LOCALES",
    "format_date",
    "format_month",
    "format_number",
    "format_share",
    "format_time",
    "format_wib",
    "translations",
]

LOCALES = ("id", "en")
DEFAULT = "id"
_HERE = Path(__file__).parent / "translations"
# Asia/Jakarta: the time of Pemkot Bekasi and of the agreement's deadlines.
WIB = ZoneInfo("Asia/Jakarta")


@cache
def _locale(code: str) -> Locale:
    """The Babel locale of a language code, parsed once."""
    return Locale.parse(code)


@cache
def translations(locale: str) -> NullTranslations:
    """The catalogue of ``locale``; English is the templates' own text."""
    path = _HERE / locale / "LC_MESSAGES" / "messages.po"
    if locale not in LOCALES or not path.exists():
        return NullTranslations()
    with path.open("rb") as source:
        catalog = read_po(source, locale=locale)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(fp=compiled)


def format_time(stamp: Any, locale: str) -> str:
    """An ISO 8601 UTC time stamp as the locale writes date and time, in UTC."""
    return _moment(stamp, locale, dt.UTC, "UTC")


def format_number(value: Any, locale: str) -> str:
    if type(value) is int:  # the tables' counts: few distinct ones, formatted once each
        return _format_int(value, locale)
    try:
        return numbers.format_decimal(value, locale=_locale(locale))
    except (TypeError, ValueError):
        return str(value)


@lru_cache(maxsize=16384)
def _format_int(value: int, locale: str) -> str:
    return str(numbers.format_decimal(value, locale=_locale(locale)))


def format_wib(stamp: Any, locale: str) -> str:
    """An ISO 8601 UTC time stamp as the locale writes date and time, in WIB (Asia/Jakarta)."""
    return _moment(stamp, locale, WIB, "WIB")


def _moment(stamp: Any, locale: str, zone: dt.tzinfo, name: str) -> str:
    if not stamp:
        return ""
    try:
        moment = timestamps.parse(str(stamp))
    except ValueError:
        return str(stamp)
    text = dates.format_datetime(moment, format="medium", tzinfo=zone, locale=_locale(locale))
    return f"{text} {name}"


@lru_cache(maxsize=16384)
def format_date(day: Any, locale: str) -> str:
    """A date (``YYYY-MM-DD``) as the locale writes it."""
    if not day:
        return ""
    try:
        value = dt.date.fromisoformat(str(day))
    except ValueError:
        return str(day)
    return dates.format_date(value, format="medium", locale=_locale(locale))


def format_month(month: str, locale: str) -> str:
    """A month (``YYYY-MM``) as the locale abbreviates it: ``Agu 2026``, ``Aug 2026``."""
    try:
        value = dt.date.fromisoformat(f"{month}-01")
    except ValueError:
        return month
    return dates.format_date(value, format="MMM yyyy", locale=_locale(locale))


@lru_cache(maxsize=16384)
def format_share(value: float | None, locale: str) -> str:
    """A share (0 to 1) as a percentage with one decimal; a dash when there is none."""
    if value is None:
        return "\N{EN DASH}"
    return numbers.format_percent(value, format="#,##0.0%", locale=_locale(locale))
