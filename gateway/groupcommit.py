"""Group commit: many small write transactions share one durable commit.

Each durable commit costs an fsync. When several requests of one process want
to write at the same moment, the first becomes the *leader*: it runs every
waiting request's work in one transaction, each inside its own savepoint (so one
failure undoes only its own work), commits once, and wakes the others with
their results. Nobody is answered before the commit that holds their work is
on disk, so every acknowledgement stays durable. With no concurrency a request
simply commits alone.

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

    ``savepoint(conn)`` must return a context manager that rolls back to a
    savepoint when its block raises, and releases it otherwise.
    """

    def __init__(
        self,
        transaction: Callable[[], AbstractContextManager[Conn]],
        savepoint: Callable[[Conn], AbstractContextManager[Any]],
        *,
        max_batch: int = 256,
    ) -> None:
        self._transaction = transaction
        self._savepoint = savepoint
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
        with self._mutex:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
        try:
            self._commit(batch)
        finally:
            with self._mutex:
                if self._pending:
                    # Hand leadership to the oldest waiter; it commits the next group.
                    successor = self._pending[0]
                    successor.lead = True
                    successor.done.set()
                else:
                    self._leading = False

    def _commit(self, batch: list[_Item[Any]]) -> None:
        try:
            with self._transaction() as conn:
                if len(batch) == 1:
                    # Alone in its transaction: a failure rolls the whole of it back.
                    batch[0].result = batch[0].work(conn)
                    return
                for item in batch:
                    try:
                        with self._savepoint(conn):
                            item.result = item.work(conn)
                    except Exception as exc:  # only this item's work is undone
                        item.error = exc
        except BaseException as exc:
            # The commit itself failed: nothing in this group is durable.
            for item in batch:
                if item.error is None:
                    item.error = exc
                    item.result = None
            raise
        finally:
            for item in batch:
                item.done.set()
