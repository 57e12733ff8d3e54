"""Free text that the sending system must have redacted: no NIK, phone number or e-mail.

UU 27/2022 (purpose limitation) and the reporter's protection against retaliation
(UU 37/2008 Pasal 24(2)) keep the reporter's identity numbers and contact details out
of what the reported unit receives. A name can be held apart and withheld; a number
typed into a summary cannot. So a :class:`RedactedText` is refused when it holds
anything shaped like one, each kind with its own code:

* ``text_contains_nik``: 16 digits in a row (a NIK, or a KK or card number, which are
  as personal), or 16 digits with spaces, dots or dashes between them whose first
  digits read as a NIK (a province code, a day of birth 01-31 or 41-71, a month);
* ``text_contains_phone``: an Indonesian number: ``+62``, ``62`` or ``0`` (also ``(0``
  of an area code), then 8 to 13 digits, in groups of two or more that spaces, dots or
  dashes may separate. A number that starts inside another (``Rp 62.500.000.000``,
  ``1.062.812.345``) is not one; a date or time (``01-02-2026``, ``08.00``) is not one
  since a group of one digit follows its leading zero;
* ``text_contains_email``: ``local@domain.tld``.

The shapes are found in that order, and a value found as one kind is not looked at
again as another: a NIK is not also a phone number. The check cannot tell a phone
number from a bank account number of the same shape, and refuses both: both are
personal data the reported unit does not need.
"""

from __future__ import annotations

import re
from typing import Any

from marshmallow import ValidationError

from schemas._base import PROVINCE_CODES, Text

__all__ = ["RedactedText", "identifiers_in"]

_EMAIL = re.compile(r"[\w.%+\-]+@[\w\-]+(?:\.[\w\-]+)*\.[^\W\d_]{2,}")
# Between two digits of a number: a space, or a dot or dash with a space either side or not.
_SEP = r"(?:[ \u00a0]?[.\-][ \u00a0]?|[ \u00a0])"
# Every run of 16 digits, with a separator or none between two of them, that is not part
# of a longer run of digits; overlapping, so that none hides another.
_SIXTEEN = re.compile(rf"(?<![0-9])(?=([0-9](?:{_SEP}?[0-9]){{15}})(?![0-9]))")
_PHONE = re.compile(
    # Not inside another number, nor an amount of money.
    r"(?<![0-9+])(?<![0-9][ .\-])(?<!rp)(?<!rp )(?<!rp\.)(?<!rp\. )"
    rf"(?:\+62{_SEP}?\(0\){_SEP}?|\+62{_SEP}?|62{_SEP}?|\(0|0)"
    rf"([1-9][0-9]+\)?(?:{_SEP}?[0-9]{{2,}})*)",
    re.IGNORECASE,
)
_GROUP = re.compile(r"[0-9]+")
_SCREEN = re.compile(r"[0-9@]")  # nothing to look for without a digit or an @
_PHONE_DIGITS = range(8, 14)  # after +62, 62 or 0


def _nik_shaped(run: str) -> bool:
    digits = "".join(_GROUP.findall(run))
    if digits == run:
        return True  # 16 digits in a row
    day, month = int(digits[6:8]), int(digits[8:10])
    return digits[:2] in PROVINCE_CODES and (1 <= day <= 31 or 41 <= day <= 71) and (
        1 <= month <= 12
    )


def _phone_shaped(national: str) -> bool:
    """True if the groups after the prefix add up to 8-13 digits at some group's end
    (a number may run on into the next one: its first groups are the phone number)."""
    total = 0
    for group in _GROUP.findall(national):
        total += len(group)
        if total in _PHONE_DIGITS:
            return True
    return False


def _cut(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each span blanked out (so no other shape is found in it)."""
    for start, end in spans:
        text = text[:start] + " " * (end - start) + text[end:]
    return text


def identifiers_in(text: str) -> list[str]:
    """The codes of the kinds of identifier ``text`` holds (empty if none), in the order
    ``text_contains_nik``, ``text_contains_phone``, ``text_contains_email``."""
    if not _SCREEN.search(text):
        return []
    found = []
    emails = [m.span() for m in _EMAIL.finditer(text)]
    rest = _cut(text, emails)
    niks = [(m.start(1), m.end(1)) for m in _SIXTEEN.finditer(rest) if _nik_shaped(m.group(1))]
    if niks:
        found.append("text_contains_nik")
        rest = _cut(rest, niks)
    if any(_phone_shaped(m.group(1)) for m in _PHONE.finditer(rest)):
        found.append("text_contains_phone")
    if emails:
        found.append("text_contains_email")
    return found


def check_no_identifiers(value: str) -> None:
    """A validator: refuse text that holds a NIK-, phone- or e-mail-shaped value, with
    the codes of :func:`identifiers_in`."""
    found = identifiers_in(value)
    if found:
        raise ValidationError(found)


class RedactedText(Text):
    """A :class:`Text` that holds no NIK-, phone- or e-mail-shaped value (see the module)."""

    def __init__(self, *, max_length: int = 500, **kwargs: Any) -> None:
        super().__init__(max_length=max_length, **kwargs)
        self._max_length = max_length

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if len(text) > self._max_length:
            return text  # refused for its length: not worth reading
        found = identifiers_in(text)
        if found:
            raise ValidationError(found)
        return text
