"""Comparing two nodes' case ledgers by their digests (``gateway audit reconcile``).

Both nodes hold the same receipts and records, so they compute the same ledger
(:mod:`gateway.cases.ledger`); :func:`gateway.cases.reports.digest` summarises a
ledger as one digest over 256 buckets of cases. Two digest documents give the
buckets that differ (:func:`differing_buckets`); the two sides' documents of one
such bucket give the cases that differ (:func:`differing_cases`). Pure functions:
fetching the documents is the caller's business. A document that is not what a
node serves raises :class:`ValueError`, saying what is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["CaseDifference", "LedgerDigest", "differing_buckets", "differing_cases", "read_digest"]

_BUCKET = re.compile(r"[0-9a-f]{2}\Z")
_SHA256 = re.compile(r"[0-9a-f]{64}\Z")
_MAX_CASE_NUMBER = 64  # as long as the ledger's case_number column


@dataclass(frozen=True)
class LedgerDigest:
    """What a node's ``GET /api/v1/cases-digest`` says of its ledger."""

    cases: int
    digest: str
    buckets: Mapping[str, str]
    # Delivered batches the node's ledger has not taken yet (its case_inbox).
    pending: int = 0


@dataclass(frozen=True)
class CaseDifference:
    """A case the two ledgers disagree on: ``only_at`` names the one side that holds it,
    or is None when both hold it with different steps or events."""

    case_number: str
    only_at: str | None = None


def read_digest(document: Any) -> LedgerDigest:
    """A ledger digest document, checked member by member."""
    if not isinstance(document, dict):
        raise ValueError("the ledger digest is not a JSON object")
    count, top, buckets = document.get("cases"), document.get("digest"), document.get("buckets")
    if type(count) is not int or count < 0:
        raise ValueError("the ledger digest's cases is not a count")
    if not isinstance(top, str) or not _SHA256.match(top):
        raise ValueError("the ledger digest's digest is not a SHA-256 in hex")
    if not isinstance(buckets, dict) or not all(
        isinstance(k, str) and _BUCKET.match(k) and isinstance(v, str) and _SHA256.match(v)
        for k, v in buckets.items()
    ):
        raise ValueError("the ledger digest's buckets are not two hex digits to a SHA-256")
    pending = document.get("pending", 0)
    if type(pending) is not int or pending < 0:
        raise ValueError("the ledger digest's pending is not a count")
    return LedgerDigest(count, top, dict(buckets), pending)


def differing_buckets(a: LedgerDigest, b: LedgerDigest) -> list[str]:
    """The buckets whose digests differ, or that one side has and the other not, in order."""
    if a.digest == b.digest:
        return []
    names = set(a.buckets) | set(b.buckets)
    return sorted(n for n in names if a.buckets.get(n) != b.buckets.get(n))


def _bucket_cases(document: Any, bucket: str) -> dict[str, str]:
    if not isinstance(document, dict) or document.get("bucket") != bucket:
        raise ValueError(f"the ledger digest of bucket {bucket} is not that bucket's")
    found = document.get("cases")
    if not isinstance(found, dict) or not all(
        isinstance(k, str) and 0 < len(k) <= _MAX_CASE_NUMBER and isinstance(v, str)
        and _SHA256.match(v)
        for k, v in found.items()
    ):  # fmt: skip
        raise ValueError(f"the ledger digest of bucket {bucket} does not map cases to digests")
    return found


def differing_cases(
    a: Any, b: Any, *, bucket: str, parties: tuple[str, str]
) -> list[CaseDifference]:
    """The cases of one bucket that differ between side ``a`` and side ``b`` (each a
    bucket document, ``{"bucket", "cases": {case number: digest}}``), by case number.

    ``parties``: the names of the two sides, for :attr:`CaseDifference.only_at`.
    """
    at_a, at_b = _bucket_cases(a, bucket), _bucket_cases(b, bucket)
    found = []
    for number in sorted(set(at_a) | set(at_b)):
        if number not in at_b:
            found.append(CaseDifference(number, parties[0]))
        elif number not in at_a:
            found.append(CaseDifference(number, parties[1]))
        elif at_a[number] != at_b[number]:
            found.append(CaseDifference(number))
    return found
