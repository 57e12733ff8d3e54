"""Identifiers the node mints."""

from __future__ import annotations

import os
import time
import uuid

__all__ = ["uuid7"]

_VERSION_7 = 0x7 << 76
_VARIANT_RFC = 0x2 << 62
_CLEAR = ~((0xF << 76) | (0x3 << 62))


def uuid7() -> str:
    """A version 7 UUID (RFC 9562 section 5.7), in canonical lower-case form.

    48 bits of Unix time in milliseconds, then 74 random bits. Ids minted later
    sort later (to the millisecond), so new rows go to the end of a database
    index instead of a random page of it. (Python 3.14 adds ``uuid.uuid7``.)
    """
    millis = time.time_ns() // 1_000_000
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    return str(uuid.UUID(int=(value & _CLEAR) | _VERSION_7 | _VARIANT_RFC))
