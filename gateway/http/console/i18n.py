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
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale, dates, numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from gateway import timestamps

__all__ = ["DEFAULT", "LOCALES", "format_number", "format_time", "translations"]

LOCALES = ("id", "en")
DEFAULT = "id"
_HERE = Path(__file__).parent / "translations"


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
    if not stamp:
        return ""
    try:
        moment = timestamps.parse(str(stamp))
    except ValueError:
        return str(stamp)
    text = dates.format_datetime(
        moment, format="medium", tzinfo=dt.UTC, locale=Locale.parse(locale)
    )
    return f"{text} UTC"


def format_number(value: Any, locale: str) -> str:
    try:
        return numbers.format_decimal(value, locale=Locale.parse(locale))
    except (TypeError, ValueError):
        return str(value)
