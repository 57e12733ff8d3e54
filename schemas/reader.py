"""Reading records to validate from JSON, JSON Lines or CSV files.

JSON: an array of records (or one record). JSON Lines: one record per line.
CSV: one record per row, a column per top-level field; a cell is read as the
field's type says: text stays text (so a NIK keeps its digits as written),
booleans are ``true``/``false``, numbers are numbers, and lists and nested
records are written as JSON inside the cell. An empty cell leaves the field out.
:func:`csv_text` writes records so, the other way round.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from marshmallow import Schema, fields

from gateway.crypto import strict_json
from gateway.errors import InvalidJSON

__all__ = ["FORMATS", "ReadError", "csv_text", "read_records"]

FORMATS = ("json", "jsonl", "csv")


class ReadError(ValueError):
    """The file cannot be read as records; the message says where and why."""


def read_records(path: Path, schema: Schema, *, fmt: str | None = None) -> list[Any]:
    fmt = fmt or _format_of(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ReadError(f"{path}: not UTF-8") from None
    if fmt == "json":
        try:
            data = strict_json.loads(text)
        except InvalidJSON as exc:
            raise ReadError(f"{path}: not JSON: {exc.message}") from None
        return data if isinstance(data, list) else [data]
    if fmt == "jsonl":
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append(strict_json.loads(line))
            except InvalidJSON as exc:
                raise ReadError(f"{path}:{number}: not JSON: {exc.message}") from None
        return records
    if fmt == "csv":
        return [_from_row(schema, row, path, n) for n, row in _rows(text)]
    raise ReadError(f"{path}: unknown format {fmt!r} (one of {', '.join(FORMATS)})")


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("json", "csv"):
        return suffix
    if suffix in ("jsonl", "ndjson"):
        return "jsonl"
    raise ReadError(f"{path}: cannot tell the format from the name; give --format")


def _rows(text: str) -> list[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    return [(n, row) for n, row in enumerate(reader, start=2)]  # row 1 is the header


def _from_row(schema: Schema, row: dict[str, str], path: Path, number: int) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for name, cell in row.items():
        if name is None:
            raise ReadError(f"{path}:{number}: more cells than columns")
        if cell is None or cell == "":
            continue
        record[name] = _cell(schema.fields.get(name), cell)
    return record


def _cell(field: fields.Field[Any] | None, cell: str) -> Any:
    if isinstance(field, fields.String) or field is None:
        return cell
    if isinstance(field, fields.Boolean):
        lowered = cell.strip().lower()
        return {"true": True, "false": False}.get(lowered, cell)
    try:
        return strict_json.loads(cell)
    except InvalidJSON:
        return cell  # let the schema say what is wrong with it


def csv_text(records: Iterable[Mapping[str, Any]], schema: Schema) -> str:
    """``records`` as CSV that :func:`read_records` reads back as they are.

    A column per top-level field any record has, in the schema's order (fields
    the schema does not know last, by name). Text is written as it is, booleans
    as ``true``/``false``, numbers, lists and nested records as JSON. A field that
    is absent is an empty cell; so is a null text field (text cannot say null),
    while a null of another type is written ``null``.
    """
    rows = list(records)
    present = {name for row in rows for name in row}
    known = [name for name in schema.fields if name in present]
    columns = known + sorted(present - set(known))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(
            [_to_cell(schema.fields.get(name), row.get(name, _ABSENT)) for name in columns]
        )
    return out.getvalue()


_ABSENT = object()


def _to_cell(field: fields.Field[Any] | None, value: Any) -> str:
    if value is _ABSENT:
        return ""
    if isinstance(field, fields.String) or field is None:
        if value is None:
            return ""
        if isinstance(value, str):
            return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
