"""gateway.tlog.merkle against published RFC 6962 test vectors and the RFC 9162 definitions."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.tlog.merkle import (
    EMPTY_ROOT,
    MemoryTree,
    ProofError,
    consistency_proof,
    consistency_ranges,
    inclusion_proof,
    inclusion_ranges,
    leaf_hash,
    node_hash,
    range_hash,
    root,
    subtrees,
    verify_consistency,
    verify_inclusion,
)

# ---------------------------------------------------------------------------
# Published test vectors.
#
# Copied from github.com/transparency-dev/merkle:
#   proof/verify_test.go   (leaves, roots, inclusionProofs, consistencyProofs,
#                           sha256EmptyTreeHash, sha256SomeHash;
#                           commit 02194e9afb6c1d95b5381350007963aa70fff472)
#   testonly/constants.go  (NodeHashes; commit 582a6ad190b6848f1d26f8bf08ddef29955d9db1)
# The same leaves, roots, inclusion paths and consistency proofs (all but the 6 -> 7
# one) are in github.com/google/certificate-transparency
# cpp/merkletree/merkle_tree_test.cc (kInputs, kSHA256Roots, kSHA256Paths,
# kSHA256Proofs), where they were generated from a reference implementation.
# ---------------------------------------------------------------------------

LEAF_INPUTS_HEX = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
]

EMPTY_TREE_HASH_HEX = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
SOME_HASH_HEX = "abacaba000000000000000000000000000000000000000000060061e00123456"

# Root of the tree of the first 1, 2, ..., 8 leaves.
ROOTS_HEX = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

# NodeHashes()[level][index]: the complete subtrees of the 8-leaf tree.
NODE_HASHES_HEX = [
    [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    [
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    [
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    [
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ],
]

# inclusionProofs: (leaf, tree size, path). The source numbers leaves from 1, as
# here; the leaf index is leaf - 1. Its first entry, {0, 0, nil}, names no leaf and
# is tested with the invalid arguments below.
INCLUSION_PROOFS_HEX: list[tuple[int, int, list[str]]] = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        3,
        3,
        [
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        ],
    ),
    (
        2,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]

# consistencyProofs: (size1, size2, proof).
CONSISTENCY_PROOFS_HEX: list[tuple[int, int, list[str]]] = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]

LEAF_INPUTS = [bytes.fromhex(h) for h in LEAF_INPUTS_HEX]
LEAF_HASHES = [leaf_hash(entry) for entry in LEAF_INPUTS]
EMPTY_TREE_HASH = bytes.fromhex(EMPTY_TREE_HASH_HEX)
SOME_HASH = bytes.fromhex(SOME_HASH_HEX)
ROOTS = [EMPTY_TREE_HASH] + [bytes.fromhex(h) for h in ROOTS_HEX]  # indexed by tree size
PUBLISHED_NODES = {
    (level, index): bytes.fromhex(h)
    for level, hashes in enumerate(NODE_HASHES_HEX)
    for index, h in enumerate(hashes)
}
INCLUSION_PROOFS = [
    (leaf - 1, size, [bytes.fromhex(h) for h in path]) for leaf, size, path in INCLUSION_PROOFS_HEX
]
CONSISTENCY_PROOFS = [
    (size1, size2, [bytes.fromhex(h) for h in proof])
    for size1, size2, proof in CONSISTENCY_PROOFS_HEX
]


def _published_mth(start: int, end: int) -> bytes:
    """MTH of a proof range of the vector tree, from the published node hashes alone."""
    return range_hash(start, end, PUBLISHED_NODES)


def _flip(digest: bytes, bit: int) -> bytes:
    flipped = bytearray(digest)
    flipped[bit // 8] ^= 1 << (bit % 8)
    return bytes(flipped)


def _replaced(proof: Sequence[bytes], position: int, digest: bytes) -> list[bytes]:
    result = list(proof)
    result[position] = digest
    return result


# ---------------------------------------------------------------------------
# Reference: RFC 9162 section 2.1 written out literally, over the entries.
# ---------------------------------------------------------------------------


def _ref_split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(entries: Sequence[bytes]) -> bytes:
    """MTH(D[n]) as RFC 9162 section 2.1.1 defines it."""
    n = len(entries)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + entries[0]).digest()
    k = _ref_split(n)
    return hashlib.sha256(b"\x01" + ref_mth(entries[:k]) + ref_mth(entries[k:])).digest()


def ref_path(m: int, entries: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) as RFC 9162 section 2.1.3.1 defines it."""
    n = len(entries)
    if n == 1:
        return []
    k = _ref_split(n)
    if m < k:
        return [*ref_path(m, entries[:k]), ref_mth(entries[k:])]
    return [*ref_path(m - k, entries[k:]), ref_mth(entries[:k])]


def ref_subproof(m: int, entries: Sequence[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) as RFC 9162 section 2.1.4.1 defines it."""
    n = len(entries)
    if m == n:
        return [] if b else [ref_mth(entries)]
    k = _ref_split(n)
    if m <= k:
        return [*ref_subproof(m, entries[:k], b), ref_mth(entries[k:])]
    return [*ref_subproof(m - k, entries[k:], False), ref_mth(entries[:k])]


def ref_proof(m: int, entries: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 9162 section 2.1.4.1 (empty for m == 0 by convention)."""
    return [] if m == 0 else ref_subproof(m, entries, True)


def ref_nodes(leaf_hashes: Sequence[bytes]) -> dict[tuple[int, int], bytes]:
    """Every complete subtree hash, built bottom-up with hashlib alone."""
    nodes: dict[tuple[int, int], bytes] = {}
    level_hashes = list(leaf_hashes)
    level = 0
    while level_hashes:
        nodes.update(((level, index), h) for index, h in enumerate(level_hashes))
        level_hashes = [
            hashlib.sha256(b"\x01" + level_hashes[i] + level_hashes[i + 1]).digest()
            for i in range(0, len(level_hashes) - 1, 2)
        ]
        level += 1
    return nodes


# ---------------------------------------------------------------------------
# Hashing and roots against the vectors.
# ---------------------------------------------------------------------------


def test_hash_primitives_match_the_published_node_hashes() -> None:
    assert EMPTY_ROOT == EMPTY_TREE_HASH
    assert [h.hex() for h in LEAF_HASHES] == NODE_HASHES_HEX[0]
    for (level, index), expected in PUBLISHED_NODES.items():
        if level:
            left = PUBLISHED_NODES[(level - 1, 2 * index)]
            right = PUBLISHED_NODES[(level - 1, 2 * index + 1)]
            assert node_hash(left, right) == expected


@pytest.mark.parametrize("size", range(9))
def test_roots_of_every_prefix(size: int) -> None:
    expected = ROOTS[size]
    assert root(LEAF_HASHES[:size]) == expected
    assert MemoryTree(LEAF_HASHES[:size]).root() == expected
    assert MemoryTree(LEAF_HASHES).root(size) == expected
    assert _published_mth(0, size) == expected
    appended = MemoryTree()
    for h in LEAF_HASHES[:size]:
        appended.append(h)
    assert appended.size == size
    assert appended.root() == expected
    assert ref_mth(LEAF_INPUTS[:size]) == expected


def test_memory_tree_holds_the_published_node_hashes() -> None:
    full = MemoryTree(LEAF_HASHES)
    appended = MemoryTree()
    for h in LEAF_HASHES:
        appended.append(h)
    for (level, index), expected in PUBLISHED_NODES.items():
        start, end = index << level, (index + 1) << level
        assert full.mth(start, end) == expected
        assert appended.mth(start, end) == expected


# ---------------------------------------------------------------------------
# Inclusion proofs against the vectors.
# ---------------------------------------------------------------------------

INCLUSION_IDS = [f"leaf{index}-of-{size}" for index, size, _ in INCLUSION_PROOFS]
CONSISTENCY_IDS = [f"{size1}-to-{size2}" for size1, size2, _ in CONSISTENCY_PROOFS]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_PROOFS, ids=INCLUSION_IDS)
def test_inclusion_vectors_are_generated(index: int, size: int, proof: list[bytes]) -> None:
    assert MemoryTree(LEAF_HASHES).inclusion_proof(index, size) == proof
    assert MemoryTree(LEAF_HASHES[:size]).inclusion_proof(index) == proof
    assert inclusion_proof(index, size, _published_mth) == proof
    assert ref_path(index, LEAF_INPUTS[:size]) == proof


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_PROOFS, ids=INCLUSION_IDS)
def test_inclusion_vectors_verify(index: int, size: int, proof: list[bytes]) -> None:
    verify_inclusion(LEAF_HASHES[index], index, size, proof, ROOTS[size])
    verify_inclusion(LEAF_HASHES[index], index, size, tuple(proof), ROOTS[size])


def _inclusion_corruptions(
    index: int, size: int, proof: list[bytes], leaf: bytes, expected_root: bytes
) -> list[tuple[str, tuple[bytes, int, int, list[bytes], bytes]]]:
    """The probes of transparency-dev/merkle's corruptInclusionProof, and a few more."""
    probes = [
        ("index - 1", (leaf, index - 1, size, proof, expected_root)),
        ("index + 1", (leaf, index + 1, size, proof, expected_root)),
        ("index ^ 2", (leaf, index ^ 2, size, proof, expected_root)),
        ("size * 2", (leaf, index, size * 2, proof, expected_root)),
        ("size // 2", (leaf, index, size // 2, proof, expected_root)),
        ("wrong leaf", (LEAF_HASHES[(index + 1) % 8], index, size, proof, expected_root)),
        ("short leaf", (b"WrongLeaf", index, size, proof, expected_root)),
        ("empty root", (leaf, index, size, proof, EMPTY_TREE_HASH)),
        ("random root", (leaf, index, size, proof, SOME_HASH)),
        ("trailing garbage", (leaf, index, size, [*proof, b""], expected_root)),
        ("trailing root", (leaf, index, size, [*proof, expected_root], expected_root)),
        ("preceding garbage", (leaf, index, size, [b"", *proof], expected_root)),
        ("preceding root", (leaf, index, size, [expected_root, *proof], expected_root)),
    ]
    for position in range(len(proof)):
        wrong = _replaced(proof, position, _flip(proof[position], 3))
        probes.append((f"proof[{position}] bit 3", (leaf, index, size, wrong, expected_root)))
        wrong = _replaced(proof, position, EMPTY_TREE_HASH)
        probes.append((f"proof[{position}] replaced", (leaf, index, size, wrong, expected_root)))
    if proof:
        probes.append(("removed component", (leaf, index, size, proof[:-1], expected_root)))
        probes.append(("removed first", (leaf, index, size, proof[1:], expected_root)))
    if len(proof) > 1:
        wrong = [proof[0], SOME_HASH, *proof[1:]]
        probes.append(("inserted component", (leaf, index, size, wrong, expected_root)))
    return probes


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_PROOFS, ids=INCLUSION_IDS)
def test_inclusion_vectors_reject_corruptions(index: int, size: int, proof: list[bytes]) -> None:
    probes = _inclusion_corruptions(index, size, proof, LEAF_HASHES[index], ROOTS[size])
    accepted = []
    for name, args in probes:
        try:
            verify_inclusion(*args)
        except ProofError:
            continue
        accepted.append(name)
    assert accepted == []


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_PROOFS, ids=INCLUSION_IDS)
def test_inclusion_vectors_reject_every_single_bit_flip(
    index: int, size: int, proof: list[bytes]
) -> None:
    leaf, expected_root = LEAF_HASHES[index], ROOTS[size]
    for bit in range(256):
        for position in range(len(proof)):
            wrong = _replaced(proof, position, _flip(proof[position], bit))
            with pytest.raises(ProofError):
                verify_inclusion(leaf, index, size, wrong, expected_root)
        with pytest.raises(ProofError):
            verify_inclusion(_flip(leaf, bit), index, size, proof, expected_root)
        with pytest.raises(ProofError):
            verify_inclusion(leaf, index, size, proof, _flip(expected_root, bit))


def test_inclusion_with_no_such_leaf() -> None:
    # The vectors' {0, 0, nil}: leaf 0 of the empty tree does not exist.
    with pytest.raises(ValueError, match="not in a tree of size 0"):
        inclusion_ranges(0, 0)
    with pytest.raises(ValueError):
        MemoryTree(LEAF_HASHES).inclusion_proof(0, 0)
    with pytest.raises(ValueError):
        MemoryTree(LEAF_HASHES).inclusion_proof(8)
    with pytest.raises(ValueError):
        MemoryTree(LEAF_HASHES).inclusion_proof(0, 9)
    with pytest.raises(ValueError):
        inclusion_ranges(-1, 3)
    # transparency-dev/merkle TestVerifyInclusion probes.
    for index, size in [(0, 0), (1, 0), (2, 1), (-1, 1)]:
        with pytest.raises(ProofError):
            verify_inclusion(SOME_HASH, index, size, [], EMPTY_TREE_HASH)


def test_inclusion_single_entry() -> None:
    # transparency-dev/merkle TestVerifyInclusionSingleEntry: the root of a
    # one-entry tree is its leaf hash and the proof is empty.
    h = leaf_hash(b"data")
    verify_inclusion(h, 0, 1, [], h)
    for leaf, expected_root in [(h, b""), (b"", h), (b"", b"")]:
        with pytest.raises(ProofError, match="bytes, expected 32"):
            verify_inclusion(leaf, 0, 1, [], expected_root)


def test_inclusion_error_messages() -> None:
    index, size, proof = INCLUSION_PROOFS[2]
    leaf = LEAF_HASHES[index]
    with pytest.raises(ProofError, match=r"^inclusion proof has 2 hashes, expected 3$"):
        verify_inclusion(leaf, index, size, proof[:2], ROOTS[size])
    with pytest.raises(ProofError, match=r"^inclusion proof hash 1 is 31 bytes, expected 32$"):
        verify_inclusion(leaf, index, size, _replaced(proof, 1, proof[1][:31]), ROOTS[size])
    with pytest.raises(
        ProofError,
        match=r"^calculated root [0-9a-f]{8}\.\. does not match the expected root 76e67dad\.\.$",
    ):
        verify_inclusion(leaf, index, size, proof, ROOTS[6])


# ---------------------------------------------------------------------------
# Consistency proofs against the vectors.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("size1", "size2", "proof"), CONSISTENCY_PROOFS, ids=CONSISTENCY_IDS)
def test_consistency_vectors_are_generated(size1: int, size2: int, proof: list[bytes]) -> None:
    assert MemoryTree(LEAF_HASHES).consistency_proof(size1, size2) == proof
    assert MemoryTree(LEAF_HASHES[:size2]).consistency_proof(size1) == proof
    assert consistency_proof(size1, size2, _published_mth) == proof
    assert ref_proof(size1, LEAF_INPUTS[:size2]) == proof


@pytest.mark.parametrize(("size1", "size2", "proof"), CONSISTENCY_PROOFS, ids=CONSISTENCY_IDS)
def test_consistency_vectors_verify(size1: int, size2: int, proof: list[bytes]) -> None:
    verify_consistency(size1, size2, ROOTS[size1], ROOTS[size2], proof)
    verify_consistency(size1, size2, ROOTS[size1], ROOTS[size2], tuple(proof))


def _consistency_corruptions(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes]
) -> list[tuple[str, tuple[int, int, bytes, bytes, list[bytes]]]]:
    """The probes of transparency-dev/merkle's corruptConsistencyProof, and a few more."""
    probes = [
        ("size1 - 1", (size1 - 1, size2, root1, root2, proof)),
        ("size1 + 1", (size1 + 1, size2, root1, root2, proof)),
        ("size1 ^ 2", (size1 ^ 2, size2, root1, root2, proof)),
        ("size2 * 2", (size1, size2 * 2, root1, root2, proof)),
        ("size2 // 2", (size1, size2 // 2, root1, root2, proof)),
        ("wrong root1", (size1, size2, SOME_HASH, root2, proof)),
        ("wrong root2", (size1, size2, root1, SOME_HASH, proof)),
        ("short root1", (size1, size2, b"WrongRoot", root2, proof)),
        ("short root2", (size1, size2, root1, b"WrongRoot", proof)),
        ("swapped roots", (size1, size2, root2, root1, proof)),
        ("empty proof", (size1, size2, root1, root2, [])),
        ("trailing garbage", (size1, size2, root1, root2, [*proof, b""])),
        ("trailing root1", (size1, size2, root1, root2, [*proof, root1])),
        ("trailing root2", (size1, size2, root1, root2, [*proof, root2])),
        ("preceding garbage", (size1, size2, root1, root2, [b"", *proof])),
        ("preceding root1", (size1, size2, root1, root2, [root1, *proof])),
        ("preceding root2", (size1, size2, root1, root2, [root2, *proof])),
        ("preceding proof[0]", (size1, size2, root1, root2, [proof[0], *proof])),
        ("truncated proof", (size1, size2, root1, root2, proof[:-1])),
        ("removed first", (size1, size2, root1, root2, proof[1:])),
        ("reversed proof", (size1, size2, root1, root2, proof[::-1])),
    ]
    for position in range(len(proof)):
        wrong = _replaced(proof, position, _flip(proof[position], 4))
        probes.append((f"proof[{position}] bit 4", (size1, size2, root1, root2, wrong)))
        wrong = _replaced(proof, position, EMPTY_TREE_HASH)
        probes.append((f"proof[{position}] replaced", (size1, size2, root1, root2, wrong)))
    return probes


NONTRIVIAL_CONSISTENCY = [vector for vector in CONSISTENCY_PROOFS if vector[2]]
NONTRIVIAL_IDS = [f"{size1}-to-{size2}" for size1, size2, _ in NONTRIVIAL_CONSISTENCY]


@pytest.mark.parametrize(("size1", "size2", "proof"), NONTRIVIAL_CONSISTENCY, ids=NONTRIVIAL_IDS)
def test_consistency_vectors_reject_corruptions(size1: int, size2: int, proof: list[bytes]) -> None:
    probes = _consistency_corruptions(size1, size2, ROOTS[size1], ROOTS[size2], proof)
    accepted = []
    for name, args in probes:
        try:
            verify_consistency(*args)
        except ProofError:
            continue
        accepted.append(name)
    assert accepted == []


@pytest.mark.parametrize(("size1", "size2", "proof"), CONSISTENCY_PROOFS, ids=CONSISTENCY_IDS)
def test_consistency_vectors_reject_every_single_bit_flip(
    size1: int, size2: int, proof: list[bytes]
) -> None:
    root1, root2 = ROOTS[size1], ROOTS[size2]
    for bit in range(256):
        for position in range(len(proof)):
            wrong = _replaced(proof, position, _flip(proof[position], bit))
            with pytest.raises(ProofError):
                verify_consistency(size1, size2, root1, root2, wrong)
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, _flip(root1, bit), root2, proof)
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, root1, _flip(root2, bit), proof)


def test_consistency_edge_cases() -> None:
    # After transparency-dev/merkle TestVerifyConsistency, with 32-byte roots.
    root1, root2 = ROOTS[1], ROOTS[2]
    # Always consistent: equal sizes with equal roots, and the empty tree.
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(1, 1, root1, root1, [])
    verify_consistency(0, 1, EMPTY_ROOT, root1, [])
    verify_consistency(0, 8, EMPTY_ROOT, ROOTS[8], [])
    failing = [
        (0, 0, EMPTY_ROOT, root2, []),  # roots differ
        (1, 1, root1, root2, []),  # roots differ
        (1, 0, root1, root2, []),  # time travel to the past
        (2, 1, root1, root2, []),
        (-1, 1, root1, root2, []),
        (1, 2, root1, root2, []),  # empty proof
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT]),  # roots match, proof not empty
        (0, 1, EMPTY_ROOT, root1, [EMPTY_ROOT]),
        (1, 1, root1, root1, [EMPTY_ROOT]),
        (0, 1, root1, root1, []),  # old root is not the empty tree's
    ]
    for args in failing:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    with pytest.raises(ValueError):
        consistency_ranges(2, 1)
    with pytest.raises(ValueError):
        consistency_ranges(-1, 1)
    with pytest.raises(ValueError):
        MemoryTree(LEAF_HASHES).consistency_proof(1, 9)
    assert consistency_ranges(0, 5) == []
    assert consistency_ranges(5, 5) == []


def test_consistency_error_messages() -> None:
    size1, size2, proof = CONSISTENCY_PROOFS[2]  # 6 -> 8
    root1, root2 = ROOTS[size1], ROOTS[size2]
    with pytest.raises(ProofError, match=r"^consistency proof has 2 hashes, expected 3$"):
        verify_consistency(size1, size2, root1, root2, proof[:2])
    with pytest.raises(ProofError, match=r"calculated old root .* expected old root 4e3bbb1f\.\."):
        verify_consistency(size1, size2, ROOTS[5], root2, proof)
    with pytest.raises(ProofError, match=r"calculated new root .* expected new root ddb89be4\.\."):
        verify_consistency(size1, size2, root1, ROOTS[7], proof)
    with pytest.raises(ProofError, match=r"^old root is 9 bytes, expected 32$"):
        verify_consistency(size1, size2, b"WrongRoot", root2, proof)
    with pytest.raises(ProofError, match="differ"):
        verify_consistency(3, 3, ROOTS[3], ROOTS[4], [])


def test_tree_size_is_bound_by_the_signed_checkpoint_not_by_the_root() -> None:
    # RFC 9162 roots do not encode the tree size. When another size gives a path of
    # the same shape, the same proof verifies against the same root: the RFC
    # algorithms accept it, so the size must come from the signed checkpoint.
    index, size, proof = INCLUSION_PROOFS[4]  # leaf 1 of 5
    verify_inclusion(LEAF_HASHES[index], index, 6, proof, ROOTS[size])
    size1, size2, proof = CONSISTENCY_PROOFS[1]  # 1 -> 8
    verify_consistency(size1, 7, ROOTS[size1], ROOTS[size2], proof)


# ---------------------------------------------------------------------------
# Ranges, subtrees and argument checks.
# ---------------------------------------------------------------------------


def test_ranges_of_the_vectors() -> None:
    assert inclusion_ranges(0, 1) == []
    assert inclusion_ranges(0, 8) == [(1, 2), (2, 4), (4, 8)]
    assert inclusion_ranges(5, 8) == [(4, 5), (6, 8), (0, 4)]
    assert inclusion_ranges(2, 3) == [(0, 2)]
    assert inclusion_ranges(1, 5) == [(0, 1), (2, 4), (4, 5)]
    assert consistency_ranges(1, 8) == [(1, 2), (2, 4), (4, 8)]
    assert consistency_ranges(6, 8) == [(4, 6), (6, 8), (0, 4)]
    assert consistency_ranges(2, 5) == [(2, 4), (4, 5)]
    assert consistency_ranges(6, 7) == [(4, 6), (6, 7), (0, 4)]


def test_subtrees_examples() -> None:
    assert subtrees(0, 0) == []
    assert subtrees(5, 5) == []
    assert subtrees(0, 8) == [(3, 0)]
    assert subtrees(0, 7) == [(2, 0), (1, 2), (0, 6)]
    assert subtrees(3, 13) == [(0, 3), (2, 1), (2, 2), (0, 12)]
    for start, end in [(-1, 2), (3, 2)]:
        with pytest.raises(ValueError):
            subtrees(start, end)


def test_range_hash_rejects_unaligned_ranges() -> None:
    for start, end in [(1, 3), (2, 5), (4, 9), (6, 9), (-1, 0), (3, 2)]:
        with pytest.raises(ValueError):
            range_hash(start, end, PUBLISHED_NODES)
        with pytest.raises(ValueError):
            MemoryTree(LEAF_HASHES).mth(start, end)
    assert range_hash(3, 3, {}) == EMPTY_ROOT
    assert range_hash(4, 7, PUBLISHED_NODES) == node_hash(
        PUBLISHED_NODES[(1, 2)], PUBLISHED_NODES[(0, 6)]
    )
    with pytest.raises(KeyError):
        range_hash(8, 9, PUBLISHED_NODES)
    with pytest.raises(ValueError, match="beyond the tree size"):
        MemoryTree(LEAF_HASHES).mth(8, 9)


def test_memory_tree_rejects_bad_leaf_hashes_and_sizes() -> None:
    with pytest.raises(ValueError):
        MemoryTree([b"short"])
    tree = MemoryTree()
    with pytest.raises(ValueError):
        tree.append(b"\x00" * 33)
    assert tree.size == 0
    assert tree.root() == EMPTY_ROOT
    with pytest.raises(ValueError):
        tree.root(1)
    with pytest.raises(ValueError):
        tree.root(-1)


# ---------------------------------------------------------------------------
# Properties.
# ---------------------------------------------------------------------------

PROPERTY_SETTINGS = settings(derandomize=True, database=None, deadline=None, max_examples=40)


def _entries(count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(rng.randrange(0, 17)) for _ in range(count)]


trees = st.builds(_entries, st.integers(1, 300), st.integers(0, 2**32 - 1))


@PROPERTY_SETTINGS
@given(st.builds(_entries, st.integers(0, 300), st.integers(0, 2**32 - 1)))
def test_root_is_the_rfc_mth(entries: list[bytes]) -> None:
    hashes = [leaf_hash(entry) for entry in entries]
    expected = ref_mth(entries)
    assert root(hashes) == expected
    assert root(tuple(hashes)) == expected
    assert MemoryTree(hashes).root() == expected


@PROPERTY_SETTINGS
@given(trees, st.data())
def test_memory_tree_append_matches_bulk_and_reference(
    entries: list[bytes], data: st.DataObject
) -> None:
    hashes = [leaf_hash(entry) for entry in entries]
    bulk = MemoryTree(hashes)
    appended = MemoryTree()
    for h in hashes:
        appended.append(h)
    assert appended.size == bulk.size == len(entries)
    for size in data.draw(st.lists(st.integers(0, len(entries)), min_size=1, max_size=5)):
        expected = ref_mth(entries[:size])
        assert bulk.root(size) == appended.root(size) == root(hashes[:size]) == expected


@PROPERTY_SETTINGS
@given(trees, st.data())
def test_inclusion_proofs_verify_and_detect_bit_flips(
    entries: list[bytes], data: st.DataObject
) -> None:
    hashes = [leaf_hash(entry) for entry in entries]
    tree = MemoryTree(hashes)
    size = data.draw(st.integers(1, len(entries)), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    expected_root = ref_mth(entries[:size])
    proof = tree.inclusion_proof(index, size)
    assert proof == ref_path(index, entries[:size])
    assert proof == inclusion_proof(index, size, tree.mth)
    leaf = hashes[index]
    verify_inclusion(leaf, index, size, proof, expected_root)

    bits = st.integers(0, 255)
    for position in range(len(proof)):
        wrong = _replaced(proof, position, _flip(proof[position], data.draw(bits)))
        with pytest.raises(ProofError):
            verify_inclusion(leaf, index, size, wrong, expected_root)
    with pytest.raises(ProofError):
        verify_inclusion(_flip(leaf, data.draw(bits)), index, size, proof, expected_root)
    with pytest.raises(ProofError):
        verify_inclusion(leaf, index, size, proof, _flip(expected_root, data.draw(bits)))


@PROPERTY_SETTINGS
@given(trees, st.data())
def test_consistency_proofs_verify_and_detect_bit_flips(
    entries: list[bytes], data: st.DataObject
) -> None:
    hashes = [leaf_hash(entry) for entry in entries]
    tree = MemoryTree(hashes)
    new_size = data.draw(st.integers(1, len(entries)), label="new_size")
    old_size = data.draw(st.integers(1, new_size), label="old_size")
    old_root, new_root = ref_mth(entries[:old_size]), ref_mth(entries[:new_size])
    proof = tree.consistency_proof(old_size, new_size)
    assert proof == ref_proof(old_size, entries[:new_size])
    assert proof == consistency_proof(old_size, new_size, tree.mth)
    verify_consistency(old_size, new_size, old_root, new_root, proof)
    verify_consistency(0, new_size, EMPTY_ROOT, new_root, [])

    bits = st.integers(0, 255)
    for position in range(len(proof)):
        wrong = _replaced(proof, position, _flip(proof[position], data.draw(bits)))
        with pytest.raises(ProofError):
            verify_consistency(old_size, new_size, old_root, new_root, wrong)
    with pytest.raises(ProofError):
        verify_consistency(old_size, new_size, _flip(old_root, data.draw(bits)), new_root, proof)
    with pytest.raises(ProofError):
        verify_consistency(old_size, new_size, old_root, _flip(new_root, data.draw(bits)), proof)


@PROPERTY_SETTINGS
@given(trees, st.data())
def test_range_hash_over_stored_subtrees_is_the_mth_of_every_proof_range(
    entries: list[bytes], data: st.DataObject
) -> None:
    hashes = [leaf_hash(entry) for entry in entries]
    nodes = ref_nodes(hashes)
    tree = MemoryTree(hashes)
    size = data.draw(st.integers(1, len(entries)), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    old_size = data.draw(st.integers(0, size), label="old_size")
    ranges = inclusion_ranges(index, size) + consistency_ranges(old_size, size) + [(0, size)]
    for start, end in ranges:
        expected = ref_mth(entries[start:end])
        assert range_hash(start, end, nodes) == expected
        assert tree.mth(start, end) == expected


def _check_cover(start: int, end: int, cover: list[tuple[int, int]]) -> None:
    position = start
    for level, index in cover:
        assert level >= 0
        assert index >= 0
        assert index << level == position  # contiguous, left to right
        position = (index + 1) << level
        parent_start = (index >> 1) << (level + 1)
        parent_end = parent_start + (2 << level)
        assert not (start <= parent_start and parent_end <= end), "not maximal"
    assert position == end


@settings(derandomize=True, database=None, deadline=None, max_examples=300)
@given(st.integers(0, 2**48), st.integers(0, 2**48), st.integers(0, 40))
def test_subtrees_cover_the_range_with_maximal_aligned_subtrees(
    start: int, width: int, shift: int
) -> None:
    # Shifting the start makes well-aligned starts (the interesting case) common.
    start <<= shift
    end = start + width
    cover = subtrees(start, end)
    _check_cover(start, end, cover)
    assert len(cover) <= 2 * max(1, width.bit_length())


def test_small_trees_exhaustively() -> None:
    # Every inclusion and consistency proof of every tree up to 33 leaves.
    entries = _entries(33, 6962)
    hashes = [leaf_hash(entry) for entry in entries]
    tree = MemoryTree(hashes)
    nodes = ref_nodes(hashes)

    def stored_mth(start: int, end: int) -> bytes:
        return range_hash(start, end, nodes)

    for size in range(1, len(entries) + 1):
        expected_root = ref_mth(entries[:size])
        assert tree.root(size) == expected_root
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            assert proof == ref_path(index, entries[:size])
            assert proof == inclusion_proof(index, size, stored_mth)
            verify_inclusion(hashes[index], index, size, proof, expected_root)
        for old_size in range(size + 1):
            old_root = ref_mth(entries[:old_size])
            proof = tree.consistency_proof(old_size, size)
            assert proof == ref_proof(old_size, entries[:size])
            assert proof == consistency_proof(old_size, size, stored_mth)
            verify_consistency(old_size, size, old_root, expected_root, proof)
        for start in range(size + 1):
            _check_cover(start, size, subtrees(start, size))
