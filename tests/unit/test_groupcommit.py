import threading
from contextlib import contextmanager

import pytest

from gateway.ops.process import wait_until
from gateway.store.groupcommit import GroupCommit


def run_each(conn, works):
    """A run_batch for payloads that are functions of the connection."""
    return [work(conn) for work in works]


class FakeDB:
    """Transactions that record what they committed; the first can be held open."""

    def __init__(self):
        self.committed: list[list[str]] = []
        self.hold = threading.Event()
        self.entered = threading.Event()
        self.fail_commit = False

    @contextmanager
    def transaction(self):
        tx: list[str] = []
        self.entered.set()
        self.hold.wait(timeout=10)
        yield tx
        if self.fail_commit:
            raise OSError("disk full")
        self.committed.append(tx)


def run_concurrently(group, works):
    results = [None] * len(works)

    def call(i):
        try:
            results[i] = group.run(works[i])
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(works))]
    return threads, results


def test_waiting_writers_share_one_commit_and_each_gets_its_own_result():
    db = FakeDB()
    group = GroupCommit(db.transaction, run_each)

    def work(name):
        def apply(tx):
            tx.append(name)
            return name.upper()

        return apply

    threads, results = run_concurrently(group, [work(f"w{i}") for i in range(6)])
    threads[0].start()
    assert db.entered.wait(timeout=10)  # w0 leads; its transaction waits for the write lock
    for t in threads[1:]:
        t.start()
    wait_until(lambda: len(group._pending) == 6, timeout=10, what="six queued writers")
    db.hold.set()
    for t in threads:
        t.join(timeout=10)
    assert results == ["W0", "W1", "W2", "W3", "W4", "W5"]
    # Whoever queued while the leader waited for the lock joined its commit.
    assert len(db.committed) == 1
    assert sorted(db.committed[0]) == ["w0", "w1", "w2", "w3", "w4", "w5"]


def test_a_failing_writer_is_undone_alone():
    db = FakeDB()
    db.hold.set()
    group = GroupCommit(db.transaction, run_each)

    def bad(tx):
        tx.append("half")
        raise ValueError("bad record")

    db.hold.clear()
    threads, results = run_concurrently(
        group, [lambda tx: tx.append("a"), bad, lambda tx: tx.append("b") or "ok"]
    )
    threads[0].start()
    assert db.entered.wait(timeout=10)
    threads[1].start()
    threads[2].start()
    wait_until(lambda: len(group._pending) == 3, timeout=10, what="three queued writers")
    db.hold.set()
    for t in threads:
        t.join(timeout=10)
    assert isinstance(results[1], ValueError)
    assert results[2] == "ok"
    assert db.committed == [["a"], ["b"]]


def test_a_failed_commit_fails_every_writer_in_it():
    db = FakeDB()
    db.hold.set()
    db.fail_commit = True
    group = GroupCommit(db.transaction, run_each)
    with pytest.raises(OSError, match="disk full"):
        group.run(lambda tx: tx.append("x"))
    db.fail_commit = False
    assert group.run(lambda tx: "after") == "after"  # leadership was released


def test_a_transaction_that_cannot_begin_fails_its_writers():
    group = GroupCommit(_broken_transaction, run_each)
    with pytest.raises(OSError, match="database is locked"):
        group.run(lambda tx: "never")
    assert group._pending == [] and not group._leading


@contextmanager
def _broken_transaction():
    raise OSError("database is locked")
    yield  # pragma: no cover


def test_a_lone_writer_commits_alone():
    db = FakeDB()
    db.hold.set()
    group = GroupCommit(db.transaction, run_each)
    assert group.run(lambda tx: tx.append("solo") or 1) == 1
    assert db.committed == [["solo"]]


def test_a_commit_failure_while_retrying_alone_does_not_reach_committed_writers():
    db = FakeDB()
    db.hold.set()
    commits = []

    @contextmanager
    def transaction():
        tx: list[str] = []
        yield tx
        if "boom" in tx:
            raise OSError("commit failed")
        commits.append(tx)

    def batch(tx, payloads):
        for p in payloads:
            if p == "poison":
                raise ValueError("bad")
            tx.append(p)
        return [p.upper() for p in payloads]

    group = GroupCommit(transaction, batch)
    # Queue three writers behind a held leader so that they form one group.
    gate = threading.Event()

    @contextmanager
    def gated():
        gate.wait(timeout=10)
        with transaction() as tx:
            yield tx

    group._transaction = gated
    results = {}

    def call(p):
        try:
            results[p] = group.run(p)
        except Exception as exc:
            results[p] = type(exc).__name__

    threads = [threading.Thread(target=call, args=(p,)) for p in ("a", "poison", "boom", "b")]
    threads[0].start()
    wait_until(lambda: len(group._pending) == 1 and group._leading, timeout=10, what="leader")
    for t in threads[1:]:
        t.start()
    wait_until(lambda: len(group._pending) == 4, timeout=10, what="four queued writers")
    gate.set()
    for t in threads:
        t.join(timeout=10)
    assert results == {"a": "A", "poison": "ValueError", "boom": "OSError", "b": "B"}
    assert commits == [["a"], ["b"]]


def test_nobody_is_answered_before_the_group_is_durable_and_the_next_group_need_not_wait():
    db = FakeDB()
    db.hold.set()
    syncing = threading.Event()
    release_sync = threading.Event()
    synced: list[int] = []

    def durable():
        synced.append(len(db.committed))
        if len(synced) == 1:  # hold the first group's sync on the "disk"
            syncing.set()
            assert release_sync.wait(timeout=10)

    group = GroupCommit(db.transaction, run_each, durable=durable)
    answered: dict[str, str] = {}

    def call(name):
        answered[name] = group.run(lambda tx: tx.append(name) or name)

    first = threading.Thread(target=call, args=("first",))
    first.start()
    assert syncing.wait(timeout=10)  # committed, now syncing
    assert db.committed == [["first"]] and "first" not in answered
    # Leadership was handed over before the sync: a second writer commits meanwhile.
    second = threading.Thread(target=call, args=("second",))
    second.start()
    wait_until(lambda: "second" in answered, timeout=10, what="the second group")
    assert db.committed == [["first"], ["second"]] and "first" not in answered
    release_sync.set()
    first.join(timeout=10)
    second.join(timeout=10)
    assert answered == {"first": "first", "second": "second"}
    assert synced == [1, 2]


def test_a_failed_sync_fails_the_writers_whose_commit_it_was_to_make_durable():
    db = FakeDB()
    db.hold.set()
    fail = [True]

    def durable():
        if fail[0]:
            raise OSError("I/O error")

    group = GroupCommit(db.transaction, run_each, durable=durable)
    with pytest.raises(OSError, match="I/O error"):
        group.run(lambda tx: tx.append("x") or "stored")
    fail[0] = False
    assert group.run(lambda tx: "after") == "after"  # leadership was released


def test_no_sync_when_nothing_was_committed():
    calls = []
    group = GroupCommit(_broken_transaction, run_each, durable=lambda: calls.append(1))
    with pytest.raises(OSError):
        group.run(lambda tx: "never")
    assert calls == []


def test_a_writer_that_queued_during_a_commit_is_handed_leadership_and_answered():
    """The waiter's wake-up is sent twice: by the leader handing over, then by the
    waiter itself once its own group is committed. Both must be harmless."""
    db = FakeDB()
    db.hold.set()
    applying = threading.Event()
    go = threading.Event()
    group = GroupCommit(db.transaction, run_each, durable=lambda: None)
    answered: dict[str, object] = {}

    def first(tx):
        tx.append("first")
        applying.set()
        assert go.wait(timeout=10)  # the commit takes a while...
        return "first"

    def call(name, work):
        try:
            answered[name] = group.run(work)
        except Exception as exc:  # the test reports it
            answered[name] = exc

    a = threading.Thread(target=call, args=("first", first))
    a.start()
    assert applying.wait(timeout=10)
    # ...and a second writer queues meanwhile: it waits, then leads the next group.
    b = threading.Thread(target=call, args=("second", lambda tx: tx.append("second") or "2"))
    b.start()
    wait_until(lambda: len(group._pending) == 1, timeout=10, what="the second writer queued")
    go.set()
    a.join(timeout=10)
    b.join(timeout=10)
    assert answered == {"first": "first", "second": "2"}
    assert db.committed == [["first"], ["second"]]
    # Nobody is left leading: a third writer commits alone.
    assert group.run(lambda tx: tx.append("third") or "3") == "3"
    assert db.committed[-1] == ["third"]
