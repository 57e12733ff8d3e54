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
"""

from __future__ import annotations

import ctypes
import ctypes.util

__all__ = [
    "LARGE_REQUEST_BYTES",
    "MMAP_THRESHOLD",
    "bound_large_allocations",
    "release_free_memory",
]

_M_MMAP_THRESHOLD = -3  # from glibc's malloc.h
_M_ARENA_MAX = -8
MMAP_THRESHOLD = 64 * 1024


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


_LIBC = _libc()


def bound_large_allocations(threshold: int = MMAP_THRESHOLD) -> bool:
    """Serve allocations of ``threshold`` bytes and more by ``mmap``; False if not glibc."""
    mallopt = getattr(_LIBC, "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # Threads that seal or open envelopes would each get an arena of their own,
    # which keeps what they freed; two are enough for a node's few busy threads.
    mallopt(_M_ARENA_MAX, 2)
    return bool(mallopt(_M_MMAP_THRESHOLD, threshold))


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
