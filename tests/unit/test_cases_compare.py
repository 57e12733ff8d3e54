"""Comparing two ledgers' digests (gateway.cases.compare), as gateway audit reconcile does."""

import hashlib

import pytest

from gateway.cases.compare import (
    CaseDifference,
    differing_buckets,
    differing_cases,
    read_digest,
)


def h(text):
    return hashlib.sha256(text.encode()).hexdigest()


def digest(**buckets):
    return {"cases": len(buckets), "digest": h(repr(sorted(buckets.items()))),
            "buckets": {k[1:]: v for k, v in buckets.items()}}


def test_equal_digests_differ_nowhere():
    a = read_digest(digest(b0a=h("x"), b1f=h("y")))
    assert differing_buckets(a, read_digest(digest(b0a=h("x"), b1f=h("y")))) == []


def test_buckets_that_differ_or_that_one_side_lacks_are_named_in_order():
    a = read_digest(digest(b0a=h("x"), b1f=h("y"), bff=h("z")))
    b = read_digest(digest(b0a=h("x"), b1f=h("other"), b3c=h("w")))
    assert differing_buckets(a, b) == ["1f", "3c", "ff"]
    assert differing_buckets(b, a) == ["1f", "3c", "ff"]


def test_the_cases_of_a_bucket_that_differ():
    a = {"bucket": "1f", "cases": {"0001/LM/I/2026/JKT": h("1"), "0002/LM/I/2026/JKT": h("2"),
                                   "0003/LM/I/2026/JKT": h("3")}}
    b = {"bucket": "1f", "cases": {"0001/LM/I/2026/JKT": h("1"), "0002/LM/I/2026/JKT": h("two"),
                                   "0004/LM/I/2026/JKT": h("4")}}
    assert differing_cases(a, b, bucket="1f", parties=("pemkot-bekasi", "ombudsman-ri")) == [
        CaseDifference("0002/LM/I/2026/JKT"),
        CaseDifference("0003/LM/I/2026/JKT", "pemkot-bekasi"),
        CaseDifference("0004/LM/I/2026/JKT", "ombudsman-ri"),
    ]


@pytest.mark.parametrize(("document", "problem"), [
    ([], "not a JSON object"),
    ({"cases": -1, "digest": h("x"), "buckets": {}}, "cases is not a count"),
    ({"cases": True, "digest": h("x"), "buckets": {}}, "cases is not a count"),
    ({"cases": 1, "digest": "abc", "buckets": {}}, "not a SHA-256"),
    ({"cases": 1, "digest": h("x"), "buckets": {"zz": h("y")}}, "buckets are not"),
    ({"cases": 1, "digest": h("x"), "buckets": {"0a": 5}}, "buckets are not"),
    ({"cases": 1, "digest": h("x")}, "buckets are not"),
])
def test_a_digest_that_is_not_a_nodes_is_refused(document, problem):
    with pytest.raises(ValueError, match=problem):
        read_digest(document)


@pytest.mark.parametrize("document", [
    {"bucket": "0b", "cases": {}},  # another bucket
    {"bucket": "0a", "cases": []},
    {"bucket": "0a", "cases": {"x" * 65: h("1")}},
    {"bucket": "0a", "cases": {"0001/LM/I/2026/JKT": "not a digest"}},
    "text",
])
def test_a_bucket_document_that_is_not_the_bucket_asked_for_is_refused(document):
    good = {"bucket": "0a", "cases": {}}
    with pytest.raises(ValueError, match="bucket 0a"):
        differing_cases(good, document, bucket="0a", parties=("a", "b"))


def test_a_digest_says_how_many_delivered_batches_wait_for_the_ledger():
    document = {"cases": 0, "digest": "0" * 64, "buckets": {}}
    assert read_digest(document).pending == 0  # a node of before the queue
    assert read_digest({**document, "pending": 3}).pending == 3
    for bad in (-1, "3", True, 1.5):
        with pytest.raises(ValueError, match="pending"):
            read_digest({**document, "pending": bad})
