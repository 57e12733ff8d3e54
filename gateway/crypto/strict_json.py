"""The one JSON parser for what the gateway reads from outside or verifies.

Everything a node parses from a peer, a client, a file or a signed or canonical
document goes through :func:`loads`, so the rules live here only:

* the text is UTF-8 (RFC 8259 section 8.1);
* member names are unique in every object, at any depth. RFC 8259 section 4
  says names SHOULD be unique and that parsers differ on what a duplicate
  means; RFC 7515 and RFC 7516 section 5.2 ask a JOSE header with duplicate
  names to be rejected (or only its lexically last one used). A signed document
  whose reader keeps the last ``"records"`` and another keeps the first says
  two things at once, so a duplicate is refused, not resolved. Names are
  compared decoded: ``{"a":1,"\\u0061":2}`` repeats ``a``;
* the constants ``NaN``, ``Infinity`` and ``-Infinity``, which are not JSON,
  are refused;
* optionally, nesting is bounded (RFC 8259 section 9 lets a parser set a limit).

Every refusal is :class:`gateway.errors.InvalidJSON` (code ``invalid_json``),
whose message names the problem (and a duplicate member's name, never a value).
It is also a :class:`ValueError`, like the standard library's own parse errors.

Pure: imports no Flask, database or HTTP library.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from gateway.errors import InvalidJSON

__all__ = ["MAX_DEPTH", "InvalidJSON", "check_depth", "loads"]

# No document the gateway exchanges nests deeper (a record of the agreed schemas is a
# few levels inside {"records": [...]}).
MAX_DEPTH = 32
# How much of a duplicate member's name an error message repeats.
_NAME_SHOWN = 64


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """The object of ``pairs``; refuses a name given twice.

    Building the dict and comparing lengths keeps the common case at C speed.
    """
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                shown = name if len(name) <= _NAME_SHOWN else name[:_NAME_SHOWN] + "..."
                raise InvalidJSON(f"duplicate member name {shown!r}", path="")
            seen.add(name)
    return value


def _constant(name: str) -> Any:
    raise InvalidJSON(f"{name} is not valid JSON", path="")


# Built once: json.loads with options builds a new decoder on every call.
_DECODER = json.JSONDecoder(object_pairs_hook=_object, parse_constant=_constant)


def loads(
    text: str | bytes | bytearray,
    *,
    max_depth: int | None = None,
    parse_float: Callable[[str], Any] | None = None,
    parse_int: Callable[[str], Any] | None = None,
) -> Any:
    """Parse ``text`` (bytes are UTF-8) under the rules above; raises :class:`InvalidJSON`.

    ``parse_float`` and ``parse_int`` are as for :func:`json.loads`.
    """
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidJSON("the JSON text is not UTF-8", path="") from None
    decoder = _DECODER
    if parse_float is not None or parse_int is not None:
        decoder = json.JSONDecoder(
            object_pairs_hook=_object,
            parse_constant=_constant,
            parse_float=parse_float,
            parse_int=parse_int,
        )
    try:
        value = decoder.decode(text)
    except InvalidJSON:
        raise
    except json.JSONDecodeError as exc:
        raise InvalidJSON(
            f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", path=""
        ) from None
    except RecursionError:
        raise InvalidJSON("JSON nested too deep", path="") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise InvalidJSON(f"malformed JSON: {exc}", path="") from None
    if max_depth is not None:
        check_depth(value, max_depth)
    return value


# What nests: the objects and arrays the parser makes (exactly these types).
_NESTS = frozenset((dict, list))


def check_depth(value: Any, max_depth: int = MAX_DEPTH) -> None:
    """Refuse a value nested deeper than ``max_depth`` levels, without recursion.

    Below the top, only ``dict`` and ``list`` values nest (as the parser makes
    them, not their subclasses): the test is a set look-up per value.
    """
    level = [value]
    for _ in range(max_depth):
        below: list[Any] = []
        add = below.append
        for item in level:
            if isinstance(item, dict):
                item = item.values()
            elif not isinstance(item, list):
                continue
            for v in item:
                if type(v) in _NESTS:
                    add(v)
        if not below:
            return
        level = below
    raise InvalidJSON(f"JSON nested deeper than {max_depth} levels", path="")
