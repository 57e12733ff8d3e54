"""The node's hold on freed memory (gateway.ops.malloc), in fresh interpreters."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from gateway.ops import gunicorn_config, malloc

# Many freed objects of a few hundred bytes to a few KiB between a few that live on (what
# a chunk's records leave in a worker), then the process's anonymous memory: after the
# free, and after release_free_memory.
_FRAGMENTED = """
import random
from gateway.ops.malloc import bound_large_allocations, release_free_memory

def anonymous_kib():
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("RssAnon"))

bound_large_allocations()
rng = random.Random(7)
kept, freed = [], []
for i in range(150_000):
    freed.append("x" * rng.randint(500, 3000))
    if i % 10 == 0:
        kept.append("y" * 700)
del freed
before = anonymous_kib()
released = release_free_memory()
print(released, before, anonymous_kib())
"""


def test_freed_memory_between_live_objects_goes_back_to_the_system():
    if not malloc.release_free_memory():
        pytest.skip("not glibc: nothing to release this way")
    done = subprocess.run([sys.executable, "-c", _FRAGMENTED], capture_output=True, text=True,
                          timeout=120, check=True)
    released, before, after = done.stdout.split()
    assert released == "True"
    # About 250 MB freed, held by the process until released; a few MB live on.
    assert int(before) > 150_000 and int(after) < int(before) // 4


# Fifty buffers of 2 MiB, each written through and freed (what sealing a chunk makes
# of its payload, signature input and ciphertext), then the pages faulted in for them,
# and the anonymous memory before and after release_free_memory.
_REUSED = """
import resource, sys
from gateway.ops.malloc import bound_large_allocations, release_free_memory, reuse_large_buffers

def anonymous_kib():
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("RssAnon"))

bound_large_allocations()
if sys.argv[1] == "reuse":
    assert reuse_large_buffers()
kept = []
for i in range(53):
    if i == 3:  # after a few, as a schedule's job does after its first chunks
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    buffer = b"x" * (2 << 20)
    kept.append("k" * 700)  # small objects that live on between them
    del buffer
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
held = anonymous_kib()
release_free_memory()
print(faults, held, anonymous_kib())
"""


@pytest.mark.parametrize("mode", ["bound", "reuse"])
def test_a_sealing_process_reuses_its_freed_buffers_until_it_releases_them(mode):
    if not malloc.release_free_memory():
        pytest.skip("not glibc: the allocator is not tuned")
    done = subprocess.run([sys.executable, "-c", _REUSED, mode], capture_output=True,
                          text=True, timeout=120, check=True)
    faults, held, after = (int(n) for n in done.stdout.split())
    if mode == "bound":  # every buffer its own mmap: 512 fresh pages each
        assert faults > 50 * 400
    else:  # the pages of the buffer before, and the freed space handed back at the end
        assert faults < 50 * 40
        assert held - after >= 1536


@pytest.mark.parametrize(("length", "released"), [
    (str(malloc.LARGE_REQUEST_BYTES), True),
    (str(4 * 1024 * 1024), True),
    (str(malloc.LARGE_REQUEST_BYTES - 1), False),
    ("", False),
    (None, False),
    ("not a number", False),
    ("²" * 7, False),
])
def test_a_worker_releases_freed_memory_after_a_large_request_only(monkeypatch, length,
                                                                     released):
    calls = []
    monkeypatch.setattr(gunicorn_config, "release_free_memory", lambda: calls.append(1))
    environ = {} if length is None else {"CONTENT_LENGTH": length}
    gunicorn_config.post_request(None, None, environ, None)
    assert calls == ([1] if released else [])


# In a fresh interpreter: gunicorn's master (a stand-in with the two settings read) before
# it forks its workers.
_MASTER = """
import gc, sys, types
from gateway.ops import gunicorn_config
server = types.SimpleNamespace(app=types.SimpleNamespace(app_uri=sys.argv[1]),
                               cfg=types.SimpleNamespace(workers=int(sys.argv[2])))
gunicorn_config._import_application(server)
print("gateway.http.app" in sys.modules, gc.get_freeze_count() > 0)
"""


@pytest.mark.parametrize(("workers", "shared"), [(2, True), (4, True), (1, False)])
def test_the_master_imports_the_application_for_its_workers_to_share(tmp_path, workers, shared):
    done = subprocess.run(
        [sys.executable, "-c", _MASTER, "gateway.http.app:create_app()", str(workers)],
        capture_output=True, text=True, timeout=60, check=True,
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)},
    )
    assert done.stdout.split() == [str(shared), str(shared)]
    # The app is made in each worker, not here: no metrics of the master's own.
    assert os.listdir(tmp_path) == []

