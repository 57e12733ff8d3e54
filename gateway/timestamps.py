"""UTC time as the gateway writes and reads it: RFC 3339 text ending in ``Z``.

Every timestamp the node stores, signs or shows is written by :func:`iso`
(microseconds unless a format says otherwise) and read back by :func:`parse`.
The clock is injected (:data:`Clock`) wherever a test needs to move time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Literal

__all__ = ["Clock", "age_seconds", "from_unix", "iso", "parse", "utc_now"]

Clock = Callable[[], dt.datetime]

Timespec = Literal["seconds", "milliseconds", "microseconds"]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime, *, timespec: Timespec = "microseconds") -> str:
    """``moment`` in UTC as RFC 3339 text with ``Z``: the one format the node stores."""
    return moment.astimezone(dt.UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def from_unix(seconds: float, *, timespec: Timespec = "seconds") -> str:
    """A Unix time (seconds since the epoch) as :func:`iso` text."""
    return iso(dt.datetime.fromtimestamp(seconds, dt.UTC), timespec=timespec)


def parse(stamp: str) -> dt.datetime:
    """The moment of RFC 3339 text written by :func:`iso` (``Z`` or an offset).

    :class:`ValueError` if it is not one.
    """
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def age_seconds(now: dt.datetime, stamp: str) -> float:
    """Seconds from a stored timestamp (see :func:`iso`) to ``now``."""
    return (now - parse(stamp)).total_seconds()
