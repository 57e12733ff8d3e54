"""Strict JSON for the client: the node's rules (:mod:`gateway.crypto.strict_json`), here again
because this package imports nothing of the node.

UTF-8 only; a member name given twice in one object, at any depth, is refused (RFC 8259
section 4: names SHOULD be unique, and readers differ on which one counts); ``NaN``,
``Infinity`` and ``-Infinity`` are refused. Every refusal is a :class:`ValueError`
(:class:`json.JSONDecodeError` for malformed text). ``tests/unit/test_strict_json.py``
holds both to the same cases.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["loads"]


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise ValueError(f"duplicate member name {name[:64]!r}")
            seen.add(name)
    return value


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(object_pairs_hook=_object, parse_constant=_constant)


def loads(text: str | bytes) -> Any:
    """Parse ``text`` (bytes are UTF-8); raises ValueError."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")  # UnicodeDecodeError is a ValueError
    return _DECODER.decode(text)
