"""Per-client rate limits, with the ``limits`` library (a moving window per client).

Each authenticated request of an internal system counts against its client's
limit (``rate_limit`` of the client, else the node's ``client_rate_limit``); one
over it is answered ``429`` with ``Retry-After``. The counts are kept in the
memory of each worker process, so a node with N workers (or replicas) lets a
client make up to N times its limit in all: the limit bounds what one client
can take from one worker, which is what protects the others' share.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from gateway.errors import RateLimited
from gateway.node.config import ClientConfig, NodeConfig

__all__ = ["ClientLimits"]


class ClientLimits:
    def __init__(self, config: NodeConfig) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._default = config.client_rate_limit
        self._items: dict[str, RateLimitItem] = {}  # by the rate's text

    def check(self, client: ClientConfig) -> None:
        """Count one request of ``client``; :class:`RateLimited` if it is over its limit."""
        rate = client.rate_limit or self._default
        item = self._items.get(rate)
        if item is None:
            item = self._items[rate] = parse(rate)
        if self._limiter.hit(item, client.id):
            return
        reset = self._limiter.get_window_stats(item, client.id).reset_time
        raise RateLimited(
            f"client {client.id!r} is over its limit of {item}; try again later",
            retry_after=max(1, math.ceil(reset - time.time())),
        )
