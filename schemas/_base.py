"""Shared building blocks of the agreed schemas.

Every error a schema raises is a stable *code* (``required``, ``one_of``,
``nik_invalid``, ...), never free text: :mod:`schemas.registry` turns codes into
messages, so the wording can change (or be translated) without breaking the
clients that act on the codes.

Field metadata marks personal data (UU 27/2022):

* ``personal``: personal data of a natural person;
* ``specific``: specific personal data (health, biometric, children's, ...);
* ``confidential``: withheld when a report is confidential (UU 37/2008 Pasal 24(2)).

Before any field is read, every object is screened (:meth:`AgreedSchema._screen`):

* text that is not Unicode (a lone surrogate such as ``"\\ud800"``, which JSON's
  ``\\u`` escapes can carry) is refused with ``invalid_text``, in a member name or
  a value, at any depth: RFC 8259 section 8.2 and I-JSON (RFC 7493 section 2.1)
  allow only Unicode scalar values, and RFC 8785 cannot write anything else;
* an object with more than :data:`MAX_UNKNOWN_FIELDS` members the schema does not
  have is refused as a whole, with one ``too_many_unknown_fields``, instead of
  one ``unknown_field`` per member: the work and the answer stay bounded.

Every number has agreed bounds within the I-JSON range (``validate.Range``,
at most 2**53 - 1 in magnitude: :data:`MAX_SAFE_INTEGER`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from functools import cache, cached_property
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, pre_load, validate

from schemas.registers import register, substance_areas, unit_codes

JAKARTA = dt.timezone(dt.timedelta(hours=7), "WIB")

PERSONAL = {"personal": True}
CONFIDENTIAL_PERSONAL = {"personal": True, "confidential": True}

# The largest integer every JSON implementation reads exactly (I-JSON, RFC 7493 section
# 2.2) and RFC 8785 writes; every numeric field's bounds lie within plus or minus it.
MAX_SAFE_INTEGER = 2**53 - 1
# Members an object may have that its schema does not; more refuse it as a whole.
MAX_UNKNOWN_FIELDS = 10
# The end of a whole-value pattern: "$" would also match before a final newline in
# Python, so nothing may follow instead (the same in ECMAScript, for the exported schemas).
END = r"(?![\s\S])"


def is_unicode(text: str) -> bool:
    """True if ``text`` holds Unicode scalar values only (no lone surrogate), so that it
    can be written as UTF-8."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text_errors(value: Any) -> Any:
    """The ``invalid_text`` errors of a value of this object: a text, or a list (of lists)
    of them. An object inside is screened by its own schema."""
    if isinstance(value, str):
        return None if value.isascii() or is_unicode(value) else ["invalid_text"]
    if isinstance(value, list):
        found = {
            i: e
            for i, item in enumerate(value)
            if not isinstance(item, dict) and (e := _text_errors(item)) is not None
        }
        return found or None
    return None


class AgreedSchema(Schema):
    """Base of every agreed schema: unknown fields are an error, errors are codes."""

    class Meta:
        unknown = RAISE

    # marshmallow reports an unknown field with this message; make it a code too.
    error_messages = {"unknown": "unknown_field", "type": "invalid_type"}

    def on_bind_field(self, field_name: str, field_obj: fields.Field[Any]) -> None:
        # Replace each built-in message with its own key, which is stable.
        _codify(field_obj)

    @cached_property
    def _names(self) -> frozenset[str]:
        """The member names this schema reads."""
        return frozenset(f.data_key or name for name, f in self.load_fields.items())

    @staticmethod
    def _all_unicode(data: Mapping[Any, Any]) -> bool:
        """The common case, quickly: every member name and text of ``data`` is Unicode.
        Joined: a surrogate never pairs with another in a Python string."""
        texts = [v for v in data.values() if isinstance(v, str)]
        try:
            texts.extend(data)
            joined = "".join(texts)
        except TypeError:  # a member name that is not text (not from JSON): look closer
            return False
        if not (joined.isascii() or is_unicode(joined)):
            return False
        lists = [v for v in data.values() if isinstance(v, list)]
        return not lists or all(_text_errors(v) is None for v in lists)

    @pre_load
    def _screen(self, data: Any, **_: Any) -> Any:
        """Refuse text that is not Unicode and a flood of unknown members, before the
        fields are read (see the module's docstring).

        Only this object's member names and the texts of its values (and of lists in
        them) are looked at: an object in a value is a nested agreed schema, which
        screens it in turn, or a value of the wrong type, refused as such.
        """
        if not isinstance(data, dict) and not isinstance(data, Mapping):
            return data  # marshmallow refuses it as invalid_type
        if len(data) > MAX_UNKNOWN_FIELDS and (
            sum(1 for key in data if key not in self._names) > MAX_UNKNOWN_FIELDS
        ):
            raise ValidationError(["too_many_unknown_fields"])
        if self._all_unicode(data):
            return data
        errors: dict[Any, Any] = {}
        for key, value in data.items():
            if isinstance(key, str) and not is_unicode(key):
                # Not in the path: a path is text, and this name cannot be written.
                errors["_schema"] = ["invalid_text"]
                continue
            found = _text_errors(value)
            if found is not None:
                errors[key] = found
        if errors:
            raise ValidationError(errors)
        return data


def describe(schema_cls: type[Schema], **descriptions: str) -> None:
    """Attach a description to declared fields of ``schema_cls`` (shown in the docs and
    the exported JSON Schema), keeping the field definitions themselves short."""
    for name, text in descriptions.items():
        field_obj = schema_cls._declared_fields[name]
        field_obj.metadata = {**field_obj.metadata, "description": text}


def _codify(field_obj: fields.Field[Any]) -> None:
    field_obj.error_messages = {key: key for key in field_obj.error_messages}
    inner = getattr(field_obj, "inner", None)
    if isinstance(inner, fields.Field):
        _codify(inner)


class Text(fields.String):
    """A trimmed, non-empty string of bounded length."""

    def __init__(self, *, max_length: int = 500, **kwargs: Any) -> None:
        super().__init__(validate=validate.Length(min=1, max=max_length, error="length"), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if text != text.strip():
            raise ValidationError("untrimmed")
        return text


class Choice(fields.String):
    """A value from a closed vocabulary."""

    def __init__(self, choices: tuple[str, ...], **kwargs: Any) -> None:
        metadata = {**kwargs.pop("metadata", {}), "enum": list(choices)}
        super().__init__(
            validate=validate.OneOf(choices, error="one_of"), metadata=metadata, **kwargs
        )


class Date(fields.Date):
    """An ISO 8601 calendar date (YYYY-MM-DD), a day in Asia/Jakarta."""


class DateTime(fields.AwareDateTime):
    """An ISO 8601 instant with an explicit offset; kept in Asia/Jakarta."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="iso", **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.datetime:
        return super()._deserialize(value, attr, data, **kwargs).astimezone(JAKARTA)


_NIK = re.compile(r"[0-9]{16}")

# Kemendagri province codes: the first two digits of every NIK.
PROVINCE_CODES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "16",
        "17",
        "18",
        "19",
        "21",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "51",
        "52",
        "53",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "72",
        "73",
        "74",
        "75",
        "76",
        "81",
        "82",
        "91",
        "92",
        "93",
        "94",
        "95",
        "96",
    ]
)
KOTA_BEKASI = "3275"


def check_nik(value: str) -> None:
    """NIK: 16 digits; a real region prefix; day of birth (plus 40 for women) forms a
    real date; sequence not 0000."""
    # fullmatch and [0-9]: "$" would pass a trailing newline, "\\d" other scripts' digits.
    if not isinstance(value, str) or not _NIK.fullmatch(value):
        raise ValidationError("nik_format")
    province, city, district = value[0:2], value[2:4], value[4:6]
    if province not in PROVINCE_CODES or city == "00" or district == "00":
        raise ValidationError("nik_region")
    if value[:4] == KOTA_BEKASI and f"32.75.{district}" not in region_codes():
        raise ValidationError("nik_region")  # Kota Bekasi's kecamatan are known exactly
    day, month, year = int(value[6:8]), int(value[8:10]), int(value[10:12])
    if day > 40:
        day -= 40
    try:
        # The two-digit year cannot tell 1900s from 2000s; any leap year checks 29 Feb.
        dt.date(2000 + year, month, day)
    except ValueError:
        raise ValidationError("nik_birth_date") from None
    if value[12:] == "0000":
        raise ValidationError("nik_sequence")


class NIK(fields.String):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=check_nik, metadata={**PERSONAL, "confidential": True}, **kwargs)


@cache
def region_codes() -> dict[str, str]:
    """Kemendagri region codes of Kota Bekasi (the ``wilayah`` register): code -> level."""
    return {code: row["tingkat"] for code, row in register("wilayah").rows.items()}


def check_region(value: str) -> None:
    if value not in region_codes():
        raise ValidationError("region_unknown")


class RegionCode(fields.String):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=check_region, **kwargs)


def check_unit(value: str) -> None:
    if value not in unit_codes():
        raise ValidationError("unit_unknown")


class UnitCode(fields.String):
    """A perangkat daerah of Kota Bekasi by its code in the units register
    (schemas/data/perangkat_daerah_kota_bekasi.csv), so that a unit's cases,
    standards, complaints and compliance can be joined."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {**kwargs.pop("metadata", {}), "register": "perangkat_daerah"}
        super().__init__(validate=check_unit, metadata=metadata, **kwargs)


class SubstanceArea(Choice):
    """A substance area of Ombudsman statistics (schemas/data/substansi.csv)."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {**kwargs.pop("metadata", {}), "register": "substansi"}
        super().__init__(substance_areas(), metadata=metadata, **kwargs)


__all__ = [
    "CONFIDENTIAL_PERSONAL",
    "END",
    "EXCLUDE",
    "JAKARTA",
    "MAX_SAFE_INTEGER",
    "MAX_UNKNOWN_FIELDS",
    "NIK",
    "PERSONAL",
    "AgreedSchema",
    "Choice",
    "Date",
    "DateTime",
    "RegionCode",
    "SubstanceArea",
    "Text",
    "UnitCode",
    "check_nik",
    "check_unit",
    "describe",
    "is_unicode",
    "region_codes",
]
