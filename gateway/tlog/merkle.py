"""RFC 9162 (RFC 6962) Merkle tree hashing, proofs and proof verification.

The audit log is a Merkle tree in the sense of RFC 9162 section 2.1, with SHA-256
as the hash. Everything here is a pure function over raw 32-byte digests (the
leaf hashes, not the entries), except :class:`MemoryTree`, which keeps a whole
tree in memory for tests, tools and the offline verifier.

Terms used below:

* ``MTH(D[a:b])`` is the Merkle Tree Hash of leaves ``a`` to ``b - 1``
  (RFC 9162 section 2.1.1); the hash of a tree of ``size`` leaves is
  ``MTH(D[0:size])``.
* A *complete subtree* ``(level, index)`` is the perfect subtree whose
  ``2**level`` leaves are ``[index << level, (index + 1) << level)``. Storage
  keeps the hashes of complete subtrees, and every hash that appears in an
  inclusion or consistency proof is a fold of a few of them
  (:func:`subtrees`, :func:`range_hash`).
* A proof is described first as leaf ranges (:func:`inclusion_ranges`,
  :func:`consistency_ranges`) and then hashed with whatever ``mth(a, b)`` the
  caller has (:func:`inclusion_proof`, :func:`consistency_proof`), so the same
  code serves the in-memory tree and stored trees.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

from gateway.errors import GatewayError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Frontier",
    "MemoryTree",
    "ProofError",
    "consistency_proof",
    "consistency_ranges",
    "inclusion_proof",
    "inclusion_ranges",
    "leaf_hash",
    "node_hash",
    "range_hash",
    "root",
    "subtrees",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Size in bytes of every hash handled here (SHA-256)."""

_sha256 = hashlib.sha256
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

EMPTY_ROOT: bytes = _sha256(b"").digest()
"""MTH({}), the hash of the empty tree: SHA-256 of the empty string (RFC 9162 section 2.1.1)."""


class ProofError(GatewayError, ValueError):
    """An inclusion or consistency proof did not verify; the message says what failed."""

    code = "proof_failed"
    internal = True


def leaf_hash(entry: bytes) -> bytes:
    """The leaf hash ``SHA-256(0x00 || entry)`` (RFC 9162 section 2.1.1)."""
    return _sha256(_LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The interior node hash ``SHA-256(0x01 || left || right)`` (RFC 9162 section 2.1.1)."""
    return _sha256(_NODE_PREFIX + left + right).digest()


def _pair_up(level: Sequence[bytes]) -> list[bytes]:
    """The node hashes of adjacent pairs in ``level``; an odd last hash is left out."""
    sha256 = _sha256  # local names: this loop is the hot path of root()
    prefix = _NODE_PREFIX
    pairs = iter(level)
    return [
        sha256(prefix + left + right).digest() for left, right in zip(pairs, pairs, strict=False)
    ]


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over already-hashed leaves (RFC 9162 section 2.1.1); :data:`EMPTY_ROOT` for none.

    The RFC splits ``D[0:n]`` at the largest power of two ``k < n``. Hashing level
    by level instead, pairing adjacent hashes and carrying an odd last hash up
    unchanged, builds exactly the same tree: the left ``k`` leaves form a perfect
    subtree that pairs up cleanly, and the right part is the same construction on
    fewer leaves. This form needs no recursion and one list comprehension per
    level, which matters when a million-entry log is verified.
    """
    count = len(leaf_hashes)
    if count == 0:
        return EMPTY_ROOT
    if count == 1:
        return leaf_hashes[0]
    level = leaf_hashes
    while count > 1:
        upper = _pair_up(level)
        if count & 1:
            upper.append(level[-1])
        level = upper
        count = len(upper)
    return level[0]


def subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """The maximal aligned complete subtrees covering leaves ``[start, end)``, left to right.

    Each is given as ``(level, index)`` and covers ``[index << level, (index + 1) << level)``.
    Taking, at each position, the largest subtree that is aligned there and still
    fits gives the unique cover in which no subtree's parent lies inside the range.
    ``[start, start)`` has no subtrees. Raises :class:`ValueError` unless
    ``0 <= start <= end``.
    """
    if not 0 <= start <= end:
        raise ValueError(f"invalid leaf range [{start}, {end})")
    result: list[tuple[int, int]] = []
    position = start
    while position < end:
        level = (end - position).bit_length() - 1  # the largest subtree that fits
        if position:
            level = min(level, (position & -position).bit_length() - 1)  # alignment
        result.append((level, position >> level))
        position += 1 << level
    return result


def _check_proof_range(start: int, end: int) -> None:
    """Raise :class:`ValueError` unless ``[start, end)`` is a range proofs can contain.

    Every ``MTH(D[a:b])`` that RFC 9162 sections 2.1.3.1 and 2.1.4.1 put in a proof
    has ``a`` divisible by the smallest power of two ``>= b - a``; for such a range
    the RFC's split points coincide with the boundaries of its maximal subtrees.
    """
    if not 0 <= start <= end:
        raise ValueError(f"invalid leaf range [{start}, {end})")
    width = end - start
    if width > 1 and start & ((1 << (width - 1).bit_length()) - 1):
        raise ValueError(
            f"leaf range [{start}, {end}) is not aligned: its start is not a multiple"
            f" of {1 << (width - 1).bit_length()}"
        )


def _fold(hashes: list[bytes]) -> bytes:
    """``node_hash(h0, node_hash(h1, ... h_last))``, or :data:`EMPTY_ROOT` for no hashes."""
    if not hashes:
        return EMPTY_ROOT
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def range_hash(start: int, end: int, nodes: Mapping[tuple[int, int], bytes]) -> bytes:
    """``MTH(D[start:end])`` from stored complete-subtree hashes (RFC 9162 section 2.1.1).

    ``nodes`` maps ``(level, index)`` to the hash of that complete subtree and must
    hold at least the keys :func:`subtrees` gives for the range (a missing one raises
    :class:`KeyError`). The range must be one that can appear in a proof: ``start``
    a multiple of the smallest power of two ``>= end - start``, otherwise
    :class:`ValueError`. The MTH is then the right fold of the subtree hashes,
    ``node_hash(h0, node_hash(h1, ... h_last))``; a single subtree is its own MTH,
    and the empty range gives :data:`EMPTY_ROOT`.
    """
    _check_proof_range(start, end)
    return _fold([nodes[key] for key in subtrees(start, end)])


def _split(width: int) -> int:
    """The largest power of two smaller than ``width`` (which must be at least 2)."""
    return 1 << ((width - 1).bit_length() - 1)


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTHs make up the inclusion proof of leaf ``index``.

    This is ``PATH(index, D[0:size])`` of RFC 9162 section 2.1.3.1, unrolled: the
    ranges come in the order the RFC lists the hashes, from the leaf's sibling up
    to the child of the root. A tree of one leaf has an empty path. Raises
    :class:`ValueError` unless ``0 <= index < size``.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    top_down: list[tuple[int, int]] = []
    low, high = 0, size
    while high - low > 1:
        middle = low + _split(high - low)
        if index < middle:  # PATH(m, D[0:k]) : MTH(D[k:n])
            top_down.append((middle, high))
            high = middle
        else:  # PATH(m - k, D[k:n]) : MTH(D[0:k])
            top_down.append((low, middle))
            low = middle
    top_down.reverse()
    return top_down


def consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTHs make up the consistency proof from ``old_size`` to ``new_size``.

    This is ``PROOF(m, D[0:n]) = SUBPROOF(m, D[0:n], true)`` of RFC 9162
    section 2.1.4.1, unrolled, in the order the RFC lists the hashes. It is empty
    when the sizes are equal and, by convention, when ``old_size`` is 0 (every tree
    extends the empty one). Raises :class:`ValueError` unless
    ``0 <= old_size <= new_size``.
    """
    if not 0 <= old_size <= new_size:
        raise ValueError(f"cannot prove consistency from size {old_size} to size {new_size}")
    if old_size in (0, new_size):
        return []
    top_down: list[tuple[int, int]] = []
    low, high = 0, new_size
    known = True  # SUBPROOF's flag b: the verifier already has MTH(D[low:low + m])
    m = old_size
    while m != high - low:
        k = _split(high - low)
        if m <= k:  # SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
            top_down.append((low + k, high))
            high = low + k
        else:  # SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
            top_down.append((low, low + k))
            low += k
            m -= k
            known = False
    if not known:  # SUBPROOF(m, D[m], false) = {MTH(D[m])}
        top_down.append((low, high))
    top_down.reverse()
    return top_down


def inclusion_proof(index: int, size: int, mth: Callable[[int, int], bytes]) -> list[bytes]:
    """The RFC 9162 section 2.1.3.1 inclusion proof, hashing each range with ``mth(a, b)``."""
    return [mth(a, b) for a, b in inclusion_ranges(index, size)]


def consistency_proof(
    old_size: int, new_size: int, mth: Callable[[int, int], bytes]
) -> list[bytes]:
    """The RFC 9162 section 2.1.4.1 consistency proof, hashing each range with ``mth(a, b)``."""
    return [mth(a, b) for a, b in consistency_ranges(old_size, new_size)]


def _short(digest: bytes) -> str:
    return digest[:4].hex() + ".."


def _check_size(what: str, digest: bytes) -> None:
    if len(digest) != HASH_SIZE:
        raise ProofError(f"{what} is {len(digest)} bytes, expected {HASH_SIZE}")


def _check_proof_hashes(kind: str, proof: Sequence[bytes], expected: int) -> None:
    if len(proof) != expected:
        raise ProofError(f"{kind} proof has {len(proof)} hashes, expected {expected}")
    for position, digest in enumerate(proof):
        _check_size(f"{kind} proof hash {position}", digest)


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], expected_root: bytes
) -> None:
    """Check that leaf hash ``leaf`` is at ``index`` in the ``size``-leaf tree ``expected_root``.

    Implements the verification algorithm of RFC 9162 section 2.1.3.2 as written,
    after checking the arguments (hash sizes, ``0 <= index < size``, and the proof
    length the RFC's PATH has for this index and size, so that a wrong length gets
    a clear message). Raises :class:`ProofError` saying what failed.
    """
    _check_size("leaf hash", leaf)
    _check_size("expected root", expected_root)
    # Step 1: leaf_index must be below tree_size.
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    _check_proof_hashes("inclusion", proof, len(inclusion_ranges(index, size)))
    # Steps 2 and 3.
    fn, sn = index, size - 1
    r = leaf
    # Step 4.
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    # Step 5.
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the path to the root")
    if r != expected_root:
        raise ProofError(
            f"calculated root {_short(r)} does not match the expected root {_short(expected_root)}"
        )


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of ``new_size`` leaves with ``new_root`` extends the one of ``old_size``.

    Implements the verification algorithm of RFC 9162 section 2.1.4.2 as written.
    Before it, the cases the algorithm does not cover: equal sizes need an empty
    proof and equal roots; ``old_size`` 0 needs an empty proof and ``old_root``
    equal to :data:`EMPTY_ROOT`, the hash of the empty tree. The hash sizes and the
    proof length (that of the RFC's PROOF for these sizes) are checked first too.
    Raises :class:`ProofError` saying what failed, naming the old or new root when
    a calculated root does not match.
    """
    _check_size("old root", old_root)
    _check_size("new root", new_root)
    if not 0 <= old_size <= new_size:
        raise ProofError(f"cannot prove consistency from size {old_size} to size {new_size}")
    _check_proof_hashes("consistency", proof, len(consistency_ranges(old_size, new_size)))
    if old_size == new_size:
        if old_root != new_root:
            raise ProofError(
                f"old root {_short(old_root)} and new root {_short(new_root)} differ"
                f" for the same size {old_size}"
            )
        return
    if old_size == 0:
        if old_root != EMPTY_ROOT:
            raise ProofError(
                f"old root {_short(old_root)} is not the empty tree root {_short(EMPTY_ROOT)}"
            )
        return
    # Step 1: an empty consistency_path fails (ruled out by the length check above).
    if not proof:
        raise ProofError("consistency proof is empty")
    # Step 2: if first is an exact power of 2, prepend first_hash.
    path = [old_root, *proof] if old_size & (old_size - 1) == 0 else list(proof)
    # Step 3.
    fn, sn = old_size - 1, new_size - 1
    # Step 4.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # Step 5.
    fr = sr = path[0]
    # Step 6.
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is longer than the path to the new root")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    # Step 7.
    if sn != 0:
        raise ProofError("consistency proof is shorter than the path to the new root")
    if fr != old_root:
        raise ProofError(
            f"calculated old root {_short(fr)} does not match the expected old root"
            f" {_short(old_root)}"
        )
    if sr != new_root:
        raise ProofError(
            f"calculated new root {_short(sr)} does not match the expected new root"
            f" {_short(new_root)}"
        )


class MemoryTree:
    """A whole tree in memory (all levels), for tests, tools and the offline verifier.

    ``levels[l]`` holds the hashes of the complete subtrees of level ``l`` in order,
    so ``levels[0]`` are the leaf hashes and ``levels[l][i]`` is MTH of leaves
    ``[i << l, (i + 1) << l)``. Subtrees that are not yet complete are not stored;
    any proof hash is a fold of at most two stored hashes per level, so roots,
    :meth:`mth` and proofs take O(log n) hashing.
    """

    __slots__ = ("_levels",)

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        leaves = list(leaf_hashes)
        for position, digest in enumerate(leaves):
            if len(digest) != HASH_SIZE:
                raise ValueError(
                    f"leaf hash {position} is {len(digest)} bytes, expected {HASH_SIZE}"
                )
        self._levels: list[list[bytes]] = [leaves]
        level = leaves
        while len(level) > 1:
            level = _pair_up(level)
            self._levels.append(level)

    def append(self, leaf_hash: bytes) -> None:
        """Add one leaf hash, completing whatever subtrees it completes."""
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"leaf hash is {len(leaf_hash)} bytes, expected {HASH_SIZE}")
        levels = self._levels
        levels[0].append(leaf_hash)
        level = 0
        while len(levels[level]) % 2 == 0:
            below = levels[level]
            if level + 1 == len(levels):
                levels.append([])
            levels[level + 1].append(node_hash(below[-2], below[-1]))
            level += 1

    @property
    def size(self) -> int:
        """The number of leaves."""
        return len(self._levels[0])

    def _size_or_current(self, size: int | None) -> int:
        if size is None:
            return self.size
        if not 0 <= size <= self.size:
            raise ValueError(f"tree size {size} is not between 0 and {self.size}")
        return size

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` leaves (default: all of them)."""
        return self.mth(0, self._size_or_current(size))

    def mth(self, start: int, end: int) -> bytes:
        """``MTH(D[start:end])`` for any range a proof can hold (as :func:`range_hash` needs)."""
        _check_proof_range(start, end)
        if end > self.size:
            raise ValueError(f"leaf range [{start}, {end}) is beyond the tree size {self.size}")
        levels = self._levels
        return _fold([levels[level][index] for level, index in subtrees(start, end)])

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """The RFC 9162 section 2.1.3.1 inclusion proof of leaf ``index`` at tree size ``size``."""
        return inclusion_proof(index, self._size_or_current(size), self.mth)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """The RFC 9162 section 2.1.4.1 consistency proof from ``old_size`` to ``new_size``."""
        return consistency_proof(old_size, self._size_or_current(new_size), self.mth)

    def __repr__(self) -> str:
        return f"MemoryTree(size={self.size}, root={self.root().hex()})"


class Frontier:
    """The right edge of a growing tree: enough to append leaves and compute the root.

    It holds one hash per set bit of the tree size (the complete subtrees the
    leaves so far form, largest first), so a tree of any size is carried in
    O(log n) space and can be stored between requests (:meth:`to_bytes`). The
    receiver of a chunked batch folds each chunk's record digests into it and
    compares the root with the one the sender signed.
    """

    __slots__ = ("_hashes", "size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if size < 0 or len(hashes) != size.bit_count():
            raise ValueError(f"a frontier of size {size} holds {size.bit_count()} hashes")
        for digest in hashes:
            _check_size("frontier hash", digest)
        self.size = size
        self._hashes = list(hashes)

    def append(self, leaf_hash: bytes) -> None:
        _check_size("leaf hash", leaf_hash)
        hashes = self._hashes
        merged = leaf_hash
        size = self.size
        # Each trailing set bit of the old size is a subtree the new leaf completes.
        while size & 1:
            merged = node_hash(hashes.pop(), merged)
            size >>= 1
        hashes.append(merged)
        self.size += 1

    def root(self) -> bytes:
        """MTH of all leaves appended so far (RFC 9162 section 2.1.1)."""
        return _fold(self._hashes)

    def to_bytes(self) -> bytes:
        return self.size.to_bytes(8, "big") + b"".join(self._hashes)

    @classmethod
    def from_bytes(cls, data: bytes) -> Frontier:
        size = int.from_bytes(data[:8], "big")
        rest = data[8:]
        if len(rest) != HASH_SIZE * size.bit_count():
            raise ValueError("truncated frontier")
        return cls(size, [rest[i : i + HASH_SIZE] for i in range(0, len(rest), HASH_SIZE)])
