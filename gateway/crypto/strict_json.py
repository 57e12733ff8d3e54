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

Optionally too, :func:`loads` notes whether the text held anything that RFC 8785
canonical JSON must look at (a float, an integer beyond 2**53 - 1, a character
above U+FFFF, written or escaped): an object read from a text that held none is
a :class:`PlainObject`, whose values :func:`gateway.crypto.canonical.dumps_plain`
writes without looking.

Every refusal is :class:`gateway.errors.InvalidJSON` (code ``invalid_json``),
whose message names the problem (and a duplicate member's name, never a value).
It is also a :class:`ValueError`, like the standard library's own parse errors.

Pure: imports no Flask, database or HTTP library.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from gateway.errors import InvalidJSON

__all__ = ["MAX_DEPTH", "InvalidJSON", "PlainObject", "check_depth", "loads"]

# No document the gateway exchanges nests deeper (a record of the agreed schemas is a
# few levels inside {"records": [...]}).
MAX_DEPTH = 32
# How much of a duplicate member's name an error message repeats.
_NAME_SHOWN = 64
# The largest integer every JSON implementation holds exactly (RFC 8785, I-JSON).
_MAX_SAFE_INTEGER = 2**53 - 1


class PlainObject(dict[str, Any]):
    """A JSON object that :func:`loads` read, with ``mark_plain``, from a text holding
    no float, no integer beyond 2**53 - 1 and no character above U+FFFF (written or
    escaped as a surrogate pair), so :func:`gateway.crypto.canonical.dumps_plain`
    writes each value in it as :func:`gateway.crypto.canonical.dumps` does.
    Otherwise a dict like any other; the mark holds only while nothing changes it.
    """

    __slots__ = ()


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


class _Scan:
    """Notes, while a text is parsed, whether it holds a float or an integer beyond
    2**53 - 1 (called by the decoder for numbers only: nothing per string or object)."""

    def __init__(self) -> None:
        self.plain = True

    def float(self, text: str) -> float:
        self.plain = False
        return float(text)

    def int(self, text: str) -> int:
        value = int(text)
        if not -_MAX_SAFE_INTEGER <= value <= _MAX_SAFE_INTEGER:
            self.plain = False
        return value


_BELOW_F0 = bytes(range(0xF0))
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89abAB]")


def _astral(text: str) -> bool:
    """Whether the JSON text may hold a character above U+FFFF (written, or escaped as
    a surrogate: a lone one goes to the reference encoder too)."""
    # In UTF-8, the lead byte of a four-byte sequence is the sign of one.
    if not text.isascii() and text.encode("utf-8", "surrogatepass").translate(None, _BELOW_F0):
        return True
    return "\\" in text and _ESCAPED_SURROGATE.search(text) is not None


def loads(
    text: str | bytes | bytearray,
    *,
    max_depth: int | None = None,
    parse_float: Callable[[str], Any] | None = None,
    parse_int: Callable[[str], Any] | None = None,
    mark_plain: bool = False,
) -> Any:
    """Parse ``text`` (bytes are UTF-8) under the rules above; raises :class:`InvalidJSON`.

    ``parse_float`` and ``parse_int`` are as for :func:`json.loads`. ``mark_plain``
    (not with them): an object read from a text that holds no float, no integer
    beyond 2**53 - 1 and no character above U+FFFF is returned as a :class:`PlainObject`.
    """
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidJSON("the JSON text is not UTF-8", path="") from None
    scan = None
    if mark_plain:
        if parse_float is not None or parse_int is not None:
            raise TypeError("mark_plain takes no parse_float or parse_int")
        scan = _Scan()
        parse_float, parse_int = scan.float, scan.int
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
    if scan is not None and scan.plain and type(value) is dict and not _astral(text):
        return PlainObject(value)
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
