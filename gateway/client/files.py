"""Records files to submit, and files written so that a crash cannot leave half of one.

Formats: JSON (an array of records, or one record), JSON Lines (a record per
line; blank lines are skipped) and CSV (a header row naming top-level fields,
then a record per row), all UTF-8 (a byte-order mark is allowed). A CSV cell is
read as the field's type in the dataset's JSON Schema (as the node serves it at
``/api/v1/schemas/<dataset>/<version>``) says: text stays text (so a NIK keeps
its digits as written), booleans are ``true``/``false``, numbers are numbers,
and lists and nested records are JSON inside the cell. An empty cell leaves the
field out. These are the rules of ``gateway schemas validate``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.client._json import loads as strict_loads

__all__ = [
    "FORMATS",
    "InputError",
    "RecordsFile",
    "cell_reader",
    "format_of",
    "make_private_dir",
    "read_records",
    "write_durably",
]

FORMATS = ("json", "jsonl", "csv")


class InputError(ValueError):
    """A records file cannot be read; the message (one line) says where and why."""


@dataclass(frozen=True)
class RecordsFile:
    """The records of a file, and the line each begins on (None where lines mean nothing)."""

    records: list[Any]
    lines: list[int | None]

    def where(self, index: int) -> str:
        """``record 17`` or ``record 17 (line 19)``, for messages."""
        line = self.lines[index] if 0 <= index < len(self.lines) else None
        return f"record {index}" + (f" (line {line})" if line is not None else "")


def format_of(path: Path, fmt: str | None = None) -> str:
    """The format given, or the one the file's extension names."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise InputError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
        return fmt
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("json", "csv"):
        return suffix
    if suffix in ("jsonl", "ndjson"):
        return "jsonl"
    raise InputError(f"{path}: cannot tell the format from the name; give --format")


def _json(text: str) -> Any:
    return strict_loads(text)


def read_records(
    path: Path,
    data: bytes,
    fmt: str,
    *,
    schema: Mapping[str, Any] | None = None,
) -> RecordsFile:
    """The records in ``data``, the contents of ``path`` (named in messages).

    ``schema``: the dataset's JSON Schema, which types the cells of a CSV file.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 (byte {exc.start})") from None
    if fmt == "json":
        try:
            value = _json(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None
        except ValueError as exc:
            raise InputError(f"{path}: not JSON: {exc}") from None
        records = value if isinstance(value, list) else [value]
        found = RecordsFile(records, [None] * len(records))
    elif fmt == "jsonl":
        found = _read_jsonl(path, text)
    elif fmt == "csv":
        found = _read_csv(path, text, cell_reader(schema or {}))
    else:
        raise InputError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    if not found.records:
        raise InputError(f"{path}: no records")
    return found


def _read_jsonl(path: Path, text: str) -> RecordsFile:
    records: list[Any] = []
    lines: list[int | None] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(_json(line))
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{number}:{exc.colno}: not JSON: {exc.msg}") from None
        except ValueError as exc:
            raise InputError(f"{path}:{number}: not JSON: {exc}") from None
        lines.append(number)
    return RecordsFile(records, lines)


def _read_csv(path: Path, text: str, cell: Callable[[str, str], Any]) -> RecordsFile:
    # Strict: a stray or unbalanced quote is an error, not text swallowed into a cell.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[Any] = []
    lines: list[int | None] = []
    try:
        header = next(reader, None)
        if header is None or not any(header):
            raise InputError(f"{path}: no header row")
        blank = [i + 1 for i, name in enumerate(header) if not name.strip()]
        if blank:
            raise InputError(f"{path}:1: column {blank[0]} has no name")
        twice = sorted({name for name in header if header.count(name) > 1})
        if twice:
            raise InputError(f"{path}:1: column {twice[0]!r} appears more than once")
        start = reader.line_num + 1
        for row in reader:
            if not row:  # a blank line
                start = reader.line_num + 1
                continue
            if len(row) > len(header):
                raise InputError(
                    f"{path}:{start}: {len(row)} cells, more than the {len(header)} columns"
                )
            # A row with fewer cells than columns leaves the last fields out.
            cells = zip(header, row, strict=False)
            records.append({name: cell(name, c) for name, c in cells if c != ""})
            lines.append(start)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise InputError(f"{path}:{reader.line_num}: malformed CSV: {exc}") from None
    return RecordsFile(records, lines)


def _types(prop: Any) -> set[str]:
    """The JSON types a JSON Schema property allows (of ``type``, or of its alternatives)."""
    if not isinstance(prop, Mapping):
        return set()
    declared = prop.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return {t for t in declared if isinstance(t, str)}
    found: set[str] = set()
    for key in ("anyOf", "oneOf"):
        for option in prop.get(key) or ():
            found |= _types(option)
    return found


def cell_reader(schema: Mapping[str, Any]) -> Callable[[str, str], Any]:
    """A function (column, cell) -> value that types CSV cells by ``schema``'s properties.

    A cell that is not what its type needs is kept as text: the node then says
    what is wrong with it, with its path.
    """
    properties = schema.get("properties")
    kinds: dict[str, str] = {}
    for name, prop in (properties if isinstance(properties, Mapping) else {}).items():
        types = _types(prop)
        if not types or "string" in types:
            kinds[name] = "text"
        elif types - {"null"} == {"boolean"}:
            kinds[name] = "boolean"
        else:
            kinds[name] = "json"

    def read(column: str, cell: str) -> Any:
        kind = kinds.get(column, "text")
        if kind == "text":
            return cell
        if kind == "boolean":
            return {"true": True, "false": False}.get(cell.strip().lower(), cell)
        try:
            return _json(cell)
        except ValueError:
            return cell

    return read


def write_durably(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Write ``path`` so that after a crash it holds all of ``data`` or what it held before.

    A temporary file in the same directory is written and synced, renamed over
    ``path``, and the directory synced so that the rename itself is on disk.
    ``mode``: of the file whatever the umask; owner-only by default, as what is
    written holds personal data. The temporary file is made new (``O_EXCL``)
    and owner-only, so it is never readable by others either, not even briefly.
    """
    directory = path.parent
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), mode)
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    sync_directory(directory)


def make_private_dir(path: Path) -> None:
    """Make the directory ``path`` and any missing parent owner-only (0700), whatever the umask.

    A directory that exists already is left as it is: its owner chose its mode.
    """
    missing: list[Path] = []
    step = path
    while not step.is_dir():
        missing.append(step)
        if step.parent == step:
            break
        step = step.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=0o700)
        except FileExistsError:
            if not directory.is_dir():
                raise
            continue  # made meanwhile by another run: its mode is that run's
        os.chmod(directory, 0o700)  # the umask may have cut what mkdir was given


def sync_directory(directory: Path) -> None:
    """Put the directory's entries (a file created, renamed or removed) on disk."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
