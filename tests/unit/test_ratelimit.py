"""The per-client rate limit (gateway.http.ratelimit) decides as the limits library's
moving window does, and starts no thread."""

import math
import random
import threading
import types
from unittest import mock

import pytest
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from gateway.errors import RateLimited
from gateway.http.ratelimit import ClientLimits


class _NeverExpires:
    """In place of the reference storage's expiry timer. Its thread reads the test's clock
    from beside the test and can drop an entry while one is added (the library takes a
    lock it may just have removed), which made the reference miss a hit now and then.
    The reference's reads skip expired entries anyway, so it decides the same without it."""

    def is_alive(self) -> bool:
        return True

    def cancel(self) -> None:
        pass


def _reference_storage() -> MemoryStorage:
    storage = MemoryStorage()
    storage.timer.cancel()
    storage.timer = _NeverExpires()  # type: ignore[assignment]
    return storage


@pytest.mark.parametrize("rate", ["3/minute", "1/second", "5/2 seconds", "0/minute", "10/second"])
def test_the_window_refuses_and_says_when_to_retry_as_the_limits_moving_window(rate):
    clock = [1000.0]
    with mock.patch("time.time", lambda: clock[0]):
        mine = ClientLimits(types.SimpleNamespace(client_rate_limit=rate))
        reference, item = MovingWindowRateLimiter(_reference_storage()), parse(rate)
        client = types.SimpleNamespace(id="c", rate_limit=None)
        rng = random.Random(rate)
        for _ in range(2000):
            clock[0] += rng.choice([0, 0.001, 0.1, 0.5, 1, 7, 20, 59.999, 60])
            expected = None
            if not reference.hit(item, "c"):
                reset = reference.get_window_stats(item, "c").reset_time
                expected = max(1, math.ceil(reset - clock[0]))
            try:
                mine.check(client)
                got = None
            except RateLimited as exc:
                got = exc.retry_after
                assert str(item) in exc.message
            assert got == expected


def test_each_client_has_its_own_window_and_no_thread_is_started():
    limits = ClientLimits(types.SimpleNamespace(client_rate_limit="2/minute"))
    one, other = (types.SimpleNamespace(id=i, rate_limit=None) for i in ("one", "other"))
    threads = threading.active_count()
    limits.check(one)
    limits.check(one)
    with pytest.raises(RateLimited):
        limits.check(one)
    limits.check(other)
    limits.check(types.SimpleNamespace(id="one", rate_limit="3/minute"))  # a window of its own
    assert threading.active_count() == threads
