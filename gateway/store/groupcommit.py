"""Group commit: many small write transactions share one durable commit.

Each durable commit costs an fsync, and SQLite admits one writer at a time.
When several requests of one process want to write at the same moment, the
first becomes the *leader*: it begins a transaction (waiting, if need be, for
the database's write lock), then takes every request queued by then, applies
all of them with one call of ``run_batch`` (so a batch of rows is one statement,
not one per request), commits once, and wakes the others with their results.
Where the database makes a commit durable in a separate step (``durable``: on
SQLite, an fsync of the write-ahead log after the write lock is released), the
leader hands leadership on first, so that the next group's transaction runs
while this group's commit goes to disk. Nobody is answered before the commit
that holds their write is on disk, so every acknowledgement stays durable. If
the batch fails, the transaction is rolled back and each request is run again
alone, so only the failing one fails. With no concurrency a request simply
commits alone.

Pure threading; the transaction and the batch function are supplied by the caller.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Generic, TypeVar

__all__ = ["GroupCommit"]

Conn = TypeVar("Conn")
P = TypeVar("P")
R = TypeVar("R")


class _Signal:
    """A one-time signal from one thread to another: what ``threading.Event`` does here,
    with one lock (taken at once, released by :meth:`set`) instead of a ``Condition``
    and a lock for each waiter. There is one per write on the request path.

    :meth:`set` may be called twice, never by two threads at once: a leader wakes its
    successor under the group's mutex, and the successor sets its own signal again only
    after it woke from the first.
    """

    __slots__ = ("_lock", "_set")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()
        self._set = False

    def set(self) -> None:
        if not self._set:
            self._set = True
            self._lock.release()

    def wait(self) -> None:
        with self._lock:  # returns once set; a later wait() returns at once
            pass


class _Item(Generic[P, R]):
    __slots__ = ("done", "error", "lead", "payload", "result")

    def __init__(self, payload: P) -> None:
        self.payload = payload
        self.done = _Signal()
        self.lead = False
        self.result: R | None = None
        self.error: BaseException | None = None

    def outcome(self) -> R:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]


class GroupCommit(Generic[Conn, P, R]):
    """Applies payloads in shared transactions.

    ``transaction()`` returns a context manager that commits when its block
    ends normally and rolls back when it raises. ``run_batch(conn, payloads)``
    applies the payloads in order and returns one result per payload.
    ``durable()``, if given, makes every commit so far durable; it runs after
    the commit and before anyone in the group is answered.
    """

    def __init__(
        self,
        transaction: Callable[[], AbstractContextManager[Conn]],
        run_batch: Callable[[Conn, list[P]], list[R]],
        *,
        durable: Callable[[], None] | None = None,
        max_batch: int = 256,
    ) -> None:
        self._transaction = transaction
        self._run_batch = run_batch
        self._durable = durable
        self._max_batch = max_batch
        self._mutex = threading.Lock()
        self._pending: list[_Item[P, R]] = []
        self._leading = False

    def run(self, payload: P) -> R:
        """Apply ``payload``; return its result once the transaction holding it is committed."""
        item: _Item[P, R] = _Item(payload)
        with self._mutex:
            self._pending.append(item)
            follower = self._leading
            self._leading = True
        if follower:
            item.done.wait()
            if not item.lead:
                return item.outcome()
        self._lead()
        return item.outcome()

    def _lead(self) -> None:
        batch: list[_Item[P, R]] = []
        try:
            if not self._run_together(batch, take_pending=True) and len(batch) > 1:
                # The batch failed and its transaction was rolled back: give each
                # payload a transaction of its own, so that only the failing one fails.
                for item in batch:
                    try:
                        self._run_together([item])
                    except Exception:  # noqa: S112 - recorded in item.error; try the rest
                        continue
        except BaseException as exc:
            if not batch:  # the transaction could not even begin
                self._take(batch)
                for item in batch:
                    item.error = exc
            raise
        finally:
            # The next group may begin while this one's commit goes to disk.
            self._hand_over()
            try:
                self._make_durable(batch)
            finally:
                for item in batch:
                    item.done.set()

    def _hand_over(self) -> None:
        with self._mutex:
            if self._pending:
                # Hand leadership to the oldest waiter; it commits the next group.
                successor = self._pending[0]
                successor.lead = True
                successor.done.set()
            else:
                self._leading = False

    def _make_durable(self, batch: list[_Item[P, R]]) -> None:
        committed = [item for item in batch if item.error is None]
        if self._durable is None or not committed:
            return
        try:
            self._durable()
        except BaseException as exc:
            # Committed, but not known to be on disk: nobody may be told it is stored.
            for item in committed:
                item.result = None
                item.error = exc
            raise

    def _take(self, batch: list[_Item[P, R]]) -> None:
        with self._mutex:
            taken = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
        for item in taken:
            item.error = RuntimeError("not committed")
        batch.extend(taken)

    def _run_together(self, batch: list[_Item[P, R]], *, take_pending: bool = False) -> bool:
        """Apply the items in one transaction; False if ``run_batch`` failed.

        With ``take_pending``, the items are taken from the queue only once the
        transaction has begun: whoever queued while the leader waited for the
        database's write lock joins this commit instead of waiting for the next.
        """
        try:
            with self._transaction() as conn:
                if take_pending:
                    self._take(batch)
                try:
                    results = self._run_batch(conn, [item.payload for item in batch])
                except Exception as exc:
                    if len(batch) == 1:
                        batch[0].error = exc
                    raise _Rollback from exc
                if len(results) != len(batch):
                    raise RuntimeError(
                        f"run_batch returned {len(results)} results for {len(batch)} payloads"
                    )
        except _Rollback:
            return False
        except BaseException as exc:
            # The commit itself failed: nothing in this transaction is durable.
            for item in batch:
                item.error = exc
            raise
        for item, result in zip(batch, results, strict=True):
            item.result = result
            item.error = None
        return True


class _Rollback(Exception):
    """Raised inside the shared transaction to roll it back."""
