"""The case ledger's read API: cases by unit, status and period, one case, the digest.

Who may read it: a client with the ``auditor`` role, and a client of the node's own
systems that submits or pulls a dataset that feeds the ledger
(:data:`gateway.cases.facts.LEDGER_DATASETS`); every other client is refused 403.
The work is :mod:`gateway.cases.reports`'s; the statuses are read on today's date in
Asia/Jakarta at this node. A query parameter the route does not read, or one given
twice, is refused 400: a misspelt filter must not widen the answer unnoticed.
``peer`` (the list, the digest) must name a party of the node's agreements other
than its own: 400 ``bad_request``, path ``peer``, otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Blueprint, Response, jsonify, request

from gateway.cases import reports
from gateway.cases.facts import LEDGER_DATASETS
from gateway.errors import BadRequest, Forbidden
from gateway.http.request_helpers import client, node
from gateway.node.config import ClientConfig

bp = Blueprint("cases", __name__, url_prefix="/api/v1")

LIST_PARAMETERS = ("unit", "status", "period", "after", "limit", "peer")
DEFAULT_LIMIT = 100


def may_read_ledger(who: ClientConfig, datasets: frozenset[str]) -> bool:
    """Whether ``who`` may read the case ledger of a node whose agreement has ``datasets``."""
    if "auditor" in who.roles:
        return True
    return bool((who.submit | who.pull) & LEDGER_DATASETS & datasets)


def _reader() -> ClientConfig:
    who = client()
    if not may_read_ledger(who, node().config.agreement.dataset_names):
        raise Forbidden(
            "this client may not read the case ledger: it needs the auditor role, or to "
            "submit or pull a dataset of a case"
        )
    return who


def _query(allowed: tuple[str, ...]) -> Mapping[str, str]:
    """The query's parameters, each one of ``allowed`` and given once."""
    for name in request.args:
        if name not in allowed:
            expected = ", ".join(allowed) if allowed else "none"
            raise BadRequest(
                f"unknown query parameter {name[:40]!r} (expected: {expected})", path=name[:40]
            )
        if len(request.args.getlist(name)) > 1:
            raise BadRequest(f"{name} is given more than once", path=name)
    return {name: request.args[name] for name in request.args}


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    # isascii: str.isdigit() is true of "²", which int() refuses.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 4:
        raise BadRequest(f"limit must be an integer from 1 to {reports.MAX_LIMIT}", path="limit")
    return int(raw)  # reports.list_cases checks the range


@bp.get("/cases")
def list_cases() -> Response:
    """One page of cases by case number, filtered; ``next`` is the cursor of the next page."""
    _reader()
    args = _query(LIST_PARAMETERS)
    return jsonify(
        reports.list_cases(
            node(),
            unit=args.get("unit"),
            status=args.get("status"),
            period=args.get("period"),
            after=args.get("after"),
            limit=_limit(args.get("limit")),
            peer=args.get("peer"),
        )
    )


@bp.get("/cases/<path:case_number>")
def get_case(case_number: str) -> Response:
    """One case with its steps and the exchanges they come from."""
    _reader()
    _query(())
    return jsonify(reports.case_detail(node(), case_number))


@bp.get("/cases-digest")
def cases_digest() -> Response:
    """The ledger's digest (``?bucket=hh``: one bucket's cases; ``?peer=``: the cases with
    one partner), for reconciliation."""
    _reader()
    args = _query(("bucket", "peer"))
    return jsonify(reports.digest(node(), bucket=args.get("bucket"), peer=args.get("peer")))
