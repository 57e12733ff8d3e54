"""Group commit: many small write transactions share one durable commit.

Each durable commit costs an fsync. When several requests of one process want
to write at the same moment, the first becomes the *leader*: it runs every
waiting request's work in one transaction, commits once, and wakes the others with
their results. Nobody is answered before the commit that holds their work is
on disk, so every acknowledgement stays durable. If one request's work fails,
the shared transaction is rolled back and each request is run again alone, so
only the failing one fails. With no concurrency a request simply commits alone.

Pure threading; the transaction itself is supplied by the caller.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Generic, TypeVar

__all__ = ["GroupCommit"]

T = TypeVar("T")
Conn = TypeVar("Conn")


class _Rollback(Exception):
    """Raised inside the shared transaction to roll it back."""


class _Item(Generic[T]):
    __slots__ = ("done", "error", "lead", "result", "work")

    def __init__(self, work: Callable[[Any], T]) -> None:
        self.work = work
        self.done = threading.Event()
        self.lead = False
        self.result: T | None = None
        self.error: BaseException | None = None

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]


class GroupCommit(Generic[Conn]):
    """Runs units of work in shared transactions opened by ``transaction()``.

    ``transaction()`` must return a context manager that commits when its block
    ends normally and rolls back when it raises.
    """

    def __init__(
        self,
        transaction: Callable[[], AbstractContextManager[Conn]],
        *,
        max_batch: int = 256,
    ) -> None:
        self._transaction = transaction
        self._max_batch = max_batch
        self._mutex = threading.Lock()
        self._pending: list[_Item[Any]] = []
        self._leading = False

    def run(self, work: Callable[[Conn], T]) -> T:
        """Run ``work(conn)`` in a transaction; return once that transaction is committed."""
        item: _Item[T] = _Item(work)
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
        batch: list[_Item[Any]] = []
        try:
            if not self._run_together(batch, take_pending=True) and len(batch) > 1:
                # Some work failed and the shared transaction was rolled back: give each
                # item a transaction of its own, so that only the failing one fails.
                for item in batch:
                    self._run_together([item])
        except BaseException as exc:
            if not batch:  # the transaction could not even begin
                self._take(batch)
                for item in batch:
                    item.error = exc
            raise
        finally:
            for item in batch:
                item.done.set()
            with self._mutex:
                if self._pending:
                    # Hand leadership to the oldest waiter; it commits the next group.
                    successor = self._pending[0]
                    successor.lead = True
                    successor.done.set()
                else:
                    self._leading = False

    def _take(self, batch: list[_Item[Any]]) -> None:
        with self._mutex:
            taken = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
        for item in taken:
            item.error = RuntimeError("not committed")
        batch.extend(taken)

    def _run_together(self, batch: list[_Item[Any]], *, take_pending: bool = False) -> bool:
        """Run the items' work in one transaction; False if some work failed.

        With ``take_pending``, the items are taken from the queue only once the
        transaction has begun: whoever queued while the leader waited for the
        database's write lock joins this commit instead of waiting for the next.
        There is no savepoint per item: input is validated before it gets here,
        so work rarely fails, and a savepoint would cost more than the work.
        """
        results: list[Any] = []
        try:
            with self._transaction() as conn:
                if take_pending:
                    self._take(batch)
                for item in batch:
                    try:
                        results.append(item.work(conn))
                    except Exception as exc:
                        item.error = exc
                        raise _Rollback from exc
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
