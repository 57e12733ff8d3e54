"""Keeping the large, short-lived buffers of sealing and opening from pinning memory.

Every chunk sealed or opened makes a handful of buffers of one to a few MiB
(payload, signature input, base64 forms, ciphertext). glibc's malloc serves
allocations above a threshold with their own ``mmap`` and returns them to the
system when freed, but by default it raises that threshold each time such a
block is freed (up to 32 MiB on 64-bit systems), after which the buffers come
from the heap, where freed space is kept: a node's resident memory then grows
by hundreds of MiB while its live objects stay a few MiB (measured in
docs/PERFORMANCE.md). Fixing the threshold with ``mallopt(M_MMAP_THRESHOLD)``,
the documented equivalent of the ``MALLOC_MMAP_THRESHOLD_`` environment
variable, keeps it where it is. Elsewhere than glibc this does nothing.

A process that seals chunks one after the other (``gateway serve``, whose schedule
sends) pays for that bound in fresh pages: each of a chunk's buffers is a new
``mmap``, faulted in and zeroed page by page, and sealing a chunk spent as much
time in the kernel as in Python. :func:`reuse_large_buffers` lets such a process
serve its buffers from the heap and keep what it freed for the next chunk; the
process's hold stays bounded because its scheduled jobs end with
:func:`release_free_memory` (docs/PERFORMANCE.md, "Seventh round"), once none of them
is running any more (``gateway.exchange.schedule.IdleExecutor``): a short job that
ended beside a transfer would otherwise hand back the buffers it is about to reuse.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Any

__all__ = [
    "LARGE_REQUEST_BYTES",
    "MMAP_THRESHOLD",
    "bound_large_allocations",
    "release_free_memory",
    "reuse_large_buffers",
]

_M_TRIM_THRESHOLD = -1  # from glibc's malloc.h
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
MMAP_THRESHOLD = 64 * 1024
# reuse_large_buffers: allocations up to glibc's largest mmap threshold come from the
# heap, and freed space at its top is kept up to the size of a thread's heap (64 MiB,
# HEAP_MAX_SIZE on 64-bit systems), so that no arena is trimmed between two chunks.
REUSE_MMAP_THRESHOLD = 32 * 1024 * 1024
REUSE_TRIM_THRESHOLD = 64 * 1024 * 1024


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


_LIBC = _libc()


def _mallopt() -> Any:
    """glibc's ``mallopt``, its argument types set; None if not glibc."""
    mallopt = getattr(_LIBC, "mallopt", None)
    if mallopt is not None:
        mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        mallopt.restype = ctypes.c_int
    return mallopt


def bound_large_allocations(threshold: int = MMAP_THRESHOLD) -> bool:
    """Serve allocations of ``threshold`` bytes and more by ``mmap``; False if not glibc."""
    mallopt = _mallopt()
    if mallopt is None:
        return False
    # Threads that seal or open envelopes would each get an arena of their own,
    # which keeps what they freed; two are enough for a node's few busy threads.
    mallopt(_M_ARENA_MAX, 2)
    return bool(mallopt(_M_MMAP_THRESHOLD, threshold))


def reuse_large_buffers() -> bool:
    """Serve large buffers from the heap and keep freed ones for reuse; False if not glibc.

    For a process that seals chunk after chunk and calls :func:`release_free_memory`
    when a run of them ends (the schedule's jobs): between the two its resident memory
    stays at its busiest moment's, a few tens of MiB, instead of every buffer being
    mapped, faulted in and unmapped again. The arenas stay at two
    (:func:`bound_large_allocations`).
    """
    mallopt = _mallopt()
    if mallopt is None:
        return False
    mallopt(_M_ARENA_MAX, 2)
    trimmed = mallopt(_M_TRIM_THRESHOLD, REUSE_TRIM_THRESHOLD)
    return bool(mallopt(_M_MMAP_THRESHOLD, REUSE_MMAP_THRESHOLD) and trimmed)


# A request body from this size on (a chunk of a batch, a bulk submission) leaves its
# worker's heap with free space worth returning (release_free_memory).
LARGE_REQUEST_BYTES = 256 * 1024

_TRIM = getattr(_LIBC, "malloc_trim", None)


def release_free_memory() -> bool:
    """Return the free memory inside the heap to the system (glibc's ``malloc_trim``).

    The records of a chunk or of a ledger slice are many objects of a few hundred bytes
    to a few KiB, from the heap, between others that live on: freed, their space stays
    the process's, and its resident memory grows by what the busiest moments needed.
    ``malloc_trim`` hands the free pages back (a few milliseconds). False if not glibc.
    """
    if _TRIM is None:
        return False
    _TRIM(0)
    return True
