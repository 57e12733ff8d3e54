"""Per-client rate limits: a moving window per client.

Each authenticated request of an internal system counts against its client's
limit (``rate_limit`` of the client, else the node's ``client_rate_limit``); one
over it is answered ``429`` with ``Retry-After``. The counts are kept in the
memory of each worker process, so a node with N workers (or replicas) lets a
client make up to N times its limit in all: the limit bounds what one client
can take from one worker, which is what protects the others' share.

The rates are parsed by the ``limits`` library; the window is kept here, as the
``limits`` moving window keeps it (at most ``amount`` requests in any period of
the rate's length; a refused request is not counted), without its in-memory
storage, which starts a thread to expire entries after nearly every request and
moves every entry of the window along the list on each.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections import deque

from limits import RateLimitItem, parse

from gateway.errors import RateLimited
from gateway.node.config import ClientConfig, NodeConfig

__all__ = ["ClientLimits"]


class ClientLimits:
    def __init__(self, config: NodeConfig) -> None:
        self._default = config.client_rate_limit
        self._items: dict[str, RateLimitItem] = {}  # by the rate's text
        # The times (time.time()) of the counted requests in a window, oldest first, by
        # the rate and client; only the newest ``amount`` matter, so no more are kept.
        self._windows: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, client: ClientConfig) -> None:
        """Count one request of ``client``; :class:`RateLimited` if it is over its limit."""
        rate = client.rate_limit or self._default
        item = self._items.get(rate)
        if item is None:
            item = self._items[rate] = parse(rate)
        key = item.key_for(client.id)
        period = item.get_expiry()
        with self._lock:
            window = self._windows.get(key)
            if window is None:
                window = self._windows[key] = deque(maxlen=item.amount)
            now = time.time()
            # Room in the window, or its oldest counted request more than a period ago:
            # this one is counted and allowed. Otherwise (full, and its oldest inside the
            # period) it is over the limit.
            if item.amount > 0 and (len(window) < item.amount or window[0] < now - period):
                window.append(now)
                return
            # The window ends a period after its oldest request newer than a period ago.
            newer = bisect.bisect_right(window, now - period)
            start = window[newer] if newer < len(window) else window[0] if window else now
        raise RateLimited(
            f"client {client.id!r} is over its limit of {item}; try again later",
            retry_after=max(1, math.ceil(start + period - time.time())),
        )
