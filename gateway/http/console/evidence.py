"""What the auditor console shows, read from the node and verified as auditors' tools do.

* :func:`exchanges`: the batches this node sent and received, filtered and paged.
* :func:`batch_view`: one batch's timeline on both nodes. This node's entries come
  from its own log, the peer's from the peer node (a signed request for its
  evidence bundle, :func:`peer_bundle` on the other side). Both bundles are
  checked with :func:`gateway.tlog.auditor.verify_bundle` against the agreement's keys,
  the code behind ``gateway audit verify``.
* :func:`log_view`: the latest checkpoint, its cosignatures, the logs this node
  witnesses and its witness alerts, and the whole log verified with
  :func:`gateway.tlog.auditor.verify_log` (read from the database by :class:`NodeLog`
  instead of over HTTP).

Nothing here reads a record: an audit entry holds identifiers, counts, digests
and codes only (docs/AUDIT.md), which is all the console shows.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, select, union_all

from gateway.cases.calendar import WIB
from gateway.crypto import strict_json
from gateway.errors import NotFound, PeerError
from gateway.exchange import pull
from gateway.node import audit_log
from gateway.node.node import Node
from gateway.peers import bundles, signed_requests
from gateway.store.tables import (
    audit_checkpoints,
    audit_events,
    audit_tree,
    inbound_batches,
    outbound_batches,
    outbox_records,
    witness_alerts,
    witnessed_logs,
)
from gateway.timestamps import iso
from gateway.tlog import auditor
from gateway.tlog.auditor import LogReport, Problem, VerificationError

__all__ = [
    "PEER_BUNDLE_PATH",
    "Badge",
    "BatchView",
    "ExchangeFilter",
    "ExchangePage",
    "LogView",
    "NodeLog",
    "Step",
    "batch_view",
    "exchanges",
    "log_view",
    "peer_bundle",
]

log = logging.getLogger(__name__)

# Where a node serves its evidence of a batch to the batch's other party (signed GET).
PEER_BUNDLE_PATH = "/exchange/v1/audit/batches/{batch_id}"
# An evidence bundle of one batch: its entries (a few per chunk) with their proofs.
_MAX_BUNDLE_BYTES = 4 * 1024 * 1024
_PEER_TIMEOUT = 5.0

STATUSES = ("sealed", "delivered", "dead", "cancelled", "received", "acknowledged")
DIRECTIONS = ("outgoing", "incoming")

# The steps of an exchange, in the order they happen.
STEP_ORDER = (
    "submission_accepted",
    "batch_sealed",
    "batch_transfer_started",
    "batch_resumed",
    "batch_send_failed",
    "batch_sent",
    "batch_chunk_received",
    "batch_received",
    "batch_received_duplicate",
    "receipt_verified",
    "batch_pulled",
    "batch_acknowledged",
)


# -- the exchange list ---------------------------------------------------------------------


@dataclass(frozen=True)
class ExchangeFilter:
    dataset: str | None = None
    direction: str | None = None
    peer: str | None = None
    status: str | None = None
    since: str | None = None  # ISO 8601 UTC, inclusive
    until: str | None = None  # ISO 8601 UTC, exclusive


@dataclass(frozen=True)
class Exchange:
    batch_id: str
    direction: str
    dataset: str
    peer: str
    status: str
    record_count: int
    at: str


@dataclass(frozen=True)
class ExchangePage:
    items: list[Exchange]
    total: int
    page: int
    pages: int


def _union() -> Any:
    o, i = outbound_batches.c, inbound_batches.c
    sent = select(
        o.batch_id,
        literal("outgoing").label("direction"),
        o.dataset,
        o.receiver.label("peer"),
        o.status,
        o.record_count,
        o.created_at.label("at"),
    )
    # A received batch is "received" until its receiver's system acknowledges it.
    received = select(
        i.batch_id,
        literal("incoming").label("direction"),
        i.dataset,
        i.sender.label("peer"),
        case((i.acked_at.is_not(None), literal("acknowledged")), else_=literal("received")).label(
            "status"
        ),
        i.record_count,
        i.received_at.label("at"),
    )
    return union_all(sent, received).subquery("exchanges")


def exchanges(node: Node, wanted: ExchangeFilter, *, page: int, per_page: int) -> ExchangePage:
    """The batches matching ``wanted``, newest first, one page of them."""
    union = _union()
    x = union.c
    conditions: list[ColumnElement[bool]] = []
    for value, column in (
        (wanted.dataset, x.dataset),
        (wanted.direction, x.direction),
        (wanted.peer, x.peer),
        (wanted.status, x.status),
    ):
        if value:
            conditions.append(column == value)
    if wanted.since:
        conditions.append(x.at >= wanted.since)
    if wanted.until:
        conditions.append(x.at < wanted.until)
    where = and_(True, *conditions)
    with node.store.read() as conn:
        total = int(
            conn.execute(select(func.count()).select_from(union).where(where)).scalar() or 0
        )
        pages = max(1, -(-total // per_page))
        page = min(max(page, 1), pages)
        rows = conn.execute(
            select(x.batch_id, x.direction, x.dataset, x.peer, x.status, x.record_count, x.at)
            .select_from(union)
            .where(where)
            .order_by(x.at.desc(), x.batch_id)
            .limit(per_page)
            .offset((page - 1) * per_page)
        ).all()
    items = [
        Exchange(r.batch_id, r.direction, r.dataset, r.peer, r.status, int(r.record_count), r.at)
        for r in rows
    ]
    return ExchangePage(items=items, total=total, page=page, pages=pages)


# -- one batch on both nodes ---------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One audit entry of the batch, on the node of ``party``."""

    pending: bool  # not yet in a checkpoint: its inclusion cannot be shown yet
    party: str
    index: int
    event: str
    at: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class Badge:
    """One verification result: ``ok`` True (passed), False (failed) or None (not known)."""

    name: str
    ok: bool | None
    detail: str = ""


@dataclass
class SideEvidence:
    """What one node's log says of the batch, and whether it verifies."""

    party: str
    origin: str = ""
    available: bool = False
    unavailable_reason: str = ""
    steps: list[Step] = field(default_factory=list)
    badges: list[Badge] = field(default_factory=list)
    checkpoint_size: int | None = None
    cosigned_by: list[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return self.available and all(b.ok for b in self.badges)


@dataclass
class BatchView:
    batch_id: str
    direction: str
    dataset: str
    schema_version: str
    peer: str
    status: str
    record_count: int
    sender: str
    receiver: str
    digests: dict[str, str]
    signer_kids: list[tuple[str, str]]  # (what signed, kid)
    own: SideEvidence
    other: SideEvidence
    cross: list[Badge]

    @property
    def steps(self) -> list[Step]:
        rank = {name: n for n, name in enumerate(STEP_ORDER)}
        every = self.own.steps + self.other.steps
        return sorted(every, key=lambda s: (s.at, rank.get(s.event, len(rank)), s.party))


def _batch_row(node: Node, batch_id: str) -> dict[str, Any] | None:
    o, i = outbound_batches.c, inbound_batches.c
    with node.store.read() as conn:
        sent = conn.execute(
            select(
                o.dataset,
                o.schema_version,
                o.receiver,
                o.status,
                o.record_count,
                o.records_sha256,
                o.records_root,
            ).where(o.batch_id == batch_id)
        ).first()
        if sent is not None:
            return {
                "direction": "outgoing",
                "dataset": sent.dataset,
                "schema_version": sent.schema_version,
                "peer": sent.receiver,
                "status": sent.status,
                "record_count": sent.record_count,
                "sender": node.party_id,
                "receiver": sent.receiver,
            }
        got = conn.execute(
            select(
                i.dataset, i.schema_version, i.sender, i.acked_at, i.record_count, i.signer_kid
            ).where(i.batch_id == batch_id)
        ).first()
    if got is None:
        return None
    return {
        "direction": "incoming",
        "dataset": got.dataset,
        "schema_version": got.schema_version,
        "peer": got.sender,
        "status": "acknowledged" if got.acked_at else "received",
        "record_count": got.record_count,
        "sender": got.sender,
        "receiver": node.party_id,
    }


def peer_bundle(node: Node, party: str, batch_id: str) -> dict[str, Any]:
    """This node's evidence bundle of a batch, for the batch's other party only.

    Any other batch, or one this node's log has no entry of, is :class:`NotFound`
    alike, so a party learns nothing of batches that are not its own.
    """
    row = _batch_row(node, batch_id)
    if row is None or row["peer"] != party:
        raise NotFound("no such batch", path="batch_id")
    try:
        return bundles.export_bundle(node, batch_id, publish=False)
    except LookupError:
        raise NotFound("no such batch", path="batch_id") from None


def _steps(party: str, bundle: dict[str, Any]) -> list[Step]:
    steps = []
    proven = bundle.get("entries", [])
    unproven = bundle.get("unproven", [])
    if not isinstance(proven, list) or not isinstance(unproven, list):
        return []
    for pending, item in [(False, i) for i in proven] + [(True, i) for i in unproven]:
        try:
            entry = strict_json.loads(item["entry"])
        except (KeyError, TypeError, ValueError):
            continue  # verify_bundle reports it
        if not isinstance(entry, dict):
            continue
        shown = {
            k: v for k, v in entry.items() if k not in {"v", "index", "at", "event", "batch_id"}
        }
        steps.append(
            Step(  # an entry after the latest checkpoint has no proof yet
                pending,
                party,
                int(item.get("index", -1)),
                str(entry.get("event")),
                str(entry.get("at")),
                shown,
            )
        )
    return steps


def _submission_steps(node: Node, batch_id: str) -> list[Step]:
    """The accepted submissions whose records went into the batch (its sender's log)."""
    r, e = outbox_records.c, audit_events.c
    with node.store.read() as conn:
        ids = select(r.submission_id).where(r.batch_id == batch_id).distinct()
        rows = conn.execute(
            select(e.idx, e.entry)
            .where(e.event == "submission_accepted", e.submission_id.in_(ids))
            .order_by(e.idx)
        ).all()
    bundle = {"entries": [{"index": row.idx, "entry": row.entry} for row in rows]}
    return _steps(node.party_id, bundle)


def _verify_side(
    node: Node,
    party: str,
    bundle: dict[str, Any],
    side: SideEvidence,
    witness_names: dict[str, str],
) -> None:
    keys = bundles.trusted_keys(node.config.agreement, party)
    side.origin = keys.log.name
    if not bundle.get("entries"):  # no checkpoint covers an entry of the batch yet
        side.badges = [
            Badge(name, None) for name in ("checkpoint_signature", "inclusion", "cosigned")
        ]
        return
    # This node's own quorum for its own log; another party's is not known here: one.
    quorum = node.config.witnessing.quorum if party == node.party_id else 1
    try:
        report = auditor.verify_bundle(bundle, keys, min_cosignatures=0)
    except VerificationError as exc:
        side.badges = [
            Badge("checkpoint_signature", False, str(exc.problem)),
            Badge("inclusion", None),
            Badge("cosigned", None),
        ]
        return
    side.checkpoint_size = report.size
    side.cosigned_by = [witness_names.get(name, name) for name, _ in report.cosigned_by]
    side.badges = [
        Badge("checkpoint_signature", True, keys.log.name),
        Badge(
            "inclusion",
            report.ok,
            str(report.problems[0]) if report.problems else f"{report.entries_checked}",
        ),
        Badge("cosigned", len(report.cosigned_by) >= quorum, ", ".join(side.cosigned_by)),
    ]


def _witness_parties(node: Node) -> dict[str, str]:
    """Each party's witness key name, to its party id (how cosigners are shown)."""
    return {p.witness_name: p.id for p in node.config.agreement.parties.values()}


def _fetch_peer_bundle(
    node: Node, party_id: str, batch_id: str, request: pull.Requester
) -> dict[str, Any]:
    party = node.config.agreement.parties[party_id]
    url = party.base_url + PEER_BUNDLE_PATH.format(batch_id=batch_id)
    headers = signed_requests.headers(node, party, "GET", url, b"")
    timeout = min(_PEER_TIMEOUT, node.config.peer_timeout_seconds)
    status, body = request("GET", url, headers, b"", timeout)
    if status == 404:
        raise LookupError("no_entry")
    if status != 200:
        raise PeerError(f"http_{status}")
    try:
        found = strict_json.loads(body)
    except ValueError:
        raise PeerError("malformed") from None
    if not isinstance(found, dict):
        raise PeerError("malformed")
    return found


def _cross_badges(own: SideEvidence, other: SideEvidence, sender: str) -> list[Badge]:
    """Do the sender's and the receiver's entries name the same batch contents?"""
    by_party = {own.party: own.steps, other.party: other.steps}
    sent = [s for s in by_party.get(sender, []) if s.event in {"batch_sealed", "batch_sent"}]
    received = [
        s
        for p, steps in by_party.items()
        if p != sender
        for s in steps
        if s.event in {"batch_received", "batch_pulled"}
    ]
    if not (own.available and other.available) or not sent or not received:
        return [Badge("digests_match", None)]
    compared, differing = [], []
    for name in ("record_count", "records_sha256", "records_root", "envelope_sha256"):
        mine = {s.fields[name] for s in sent if name in s.fields}
        theirs = {s.fields[name] for s in received if name in s.fields}
        if mine and theirs:
            compared.append(name)
            if mine != theirs:
                differing.append(name)
    if differing:
        return [Badge("digests_match", False, ", ".join(differing))]
    return [Badge("digests_match", bool(compared), ", ".join(compared))]


def _http_get(
    method: str, url: str, headers: Mapping[str, str], body: bytes, timeout: float
) -> tuple[int, bytes]:
    return pull.http_request(method, url, headers, body, timeout, max_bytes=_MAX_BUNDLE_BYTES)


def batch_view(node: Node, batch_id: str, *, request: pull.Requester | None = None) -> BatchView:
    """One batch with its timeline on both nodes and the badges of each log.

    ``request``: how the peer node is asked (tests hand it to an in-process app).
    """
    row = _batch_row(node, batch_id)
    if row is None:
        raise NotFound("no such batch", path="batch_id")
    witness_names = _witness_parties(node)
    own = SideEvidence(party=node.party_id)
    try:
        mine = bundles.export_bundle(node, batch_id, publish=False)
    except LookupError:
        own.unavailable_reason = "no_entry"
    else:
        own.available = True
        own.steps = _steps(node.party_id, mine)
        if row["direction"] == "outgoing":
            own.steps = _submission_steps(node, batch_id) + own.steps
        _verify_side(node, node.party_id, mine, own, witness_names)
    other = SideEvidence(party=row["peer"])
    try:
        theirs = _fetch_peer_bundle(node, row["peer"], batch_id, request or _http_get)
    except LookupError:
        other.unavailable_reason = "no_entry"
    except (PeerError, OSError, ValueError) as exc:
        # requests' errors are OSErrors; nothing of the peer's answer is shown.
        log.warning(
            "console: evidence of batch %s from %s: %s", batch_id, row["peer"], type(exc).__name__
        )
        other.unavailable_reason = "unreachable"
    else:
        other.available = True
        other.steps = _steps(row["peer"], theirs)
        _verify_side(node, row["peer"], theirs, other, witness_names)
    digests: dict[str, str] = {}
    kids: list[tuple[str, str]] = []
    for step in own.steps + other.steps:
        for name in ("records_sha256", "records_root", "envelope_sha256", "receipt_sha256"):
            if name in step.fields:
                digests.setdefault(name, str(step.fields[name]))
        kid = step.fields.get("signer_kid")
        if kid and (step.event, kid) not in kids:
            kids.append((step.event, str(kid)))
    return BatchView(
        batch_id=batch_id,
        direction=row["direction"],
        dataset=row["dataset"],
        schema_version=row["schema_version"],
        peer=row["peer"],
        status=row["status"],
        record_count=int(row["record_count"]),
        sender=row["sender"],
        receiver=row["receiver"],
        digests=digests,
        signer_kids=kids,
        own=own,
        other=other,
        cross=_cross_badges(own, other, row["sender"]),
    )


# -- the log ----------------------------------------------------------------------------------


class NodeLog:
    """A :class:`gateway.tlog.auditor.LogSource` reading this node's log from its database.

    It serves what the auditor API serves (the same tables, the same stored leaf
    hashes), so :func:`gateway.tlog.auditor.verify_log` checks the node exactly as
    ``gateway audit verify --url`` would.
    """

    def __init__(self, node: Node) -> None:
        self.node = node

    def checkpoint(self, size: int | None = None, *, cosigned: int = 0) -> str:
        with self.node.store.read() as conn:
            signed = audit_log.latest_checkpoint(conn, size, cosigned=cosigned)
            if signed is None:
                what = f"cosigned by {int(cosigned)} witness(es)" if cosigned else "signed"
                raise VerificationError(Problem(f"no checkpoint has been {what} yet"))
            return audit_log.cosigned_note(conn, signed)

    def entry_pages(self, start: int, end: int) -> Iterator[list[tuple[int, str, str]]]:
        e, t = audit_events.c, audit_tree.c
        while start < end:
            stop = min(end, start + auditor.PAGE)
            with self.node.store.read() as conn:
                rows = conn.execute(
                    select(e.idx, t.hash, e.entry)
                    .select_from(
                        audit_events.outerjoin(audit_tree, (t.level == 0) & (t.idx == e.idx))
                    )
                    .where(e.idx >= start, e.idx < stop)
                    .order_by(e.idx)
                ).all()
            yield [
                (int(idx), "-" if leaf is None else base64.b64encode(leaf).decode(), entry)
                for idx, leaf, entry in rows
            ]
            if len(rows) < stop - start:
                return
            start = stop

    def consistency(self, old: int, new: int) -> list[bytes]:
        with self.node.store.read() as conn:
            return audit_log.consistency_proof(conn, old, new)

    def checkpoints(self) -> Iterator[str]:
        c = audit_checkpoints.c
        with self.node.store.read() as conn:
            notes = conn.execute(select(c.note).order_by(c.size)).scalars().all()
        yield from notes


@dataclass
class LogView:
    origin: str
    checkpoint: str | None
    checkpoint_size: int | None
    checkpoint_at: str | None
    cosigned_by: list[str]
    entries: int
    badges: list[Badge]
    problem: str | None
    witnessed: list[dict[str, Any]]
    alerts: list[dict[str, Any]]


def _verify_own(node: Node, witnessed: bool) -> LogReport | Problem:
    """The whole log verified, every time it is asked for: an entry edited in place
    changes neither the checkpoint nor the count, so no cheaper key could tell.

    Against the newest checkpoint with the node's quorum of cosignatures, if one has
    it (``witnessed``); else against the newest checkpoint."""
    keys = bundles.trusted_keys(node.config.agreement, node.party_id)
    quorum = node.config.witnessing.quorum if witnessed else 0
    try:
        return auditor.verify_log(NodeLog(node), keys, min_cosignatures=quorum)
    except VerificationError as exc:
        return exc.problem


def _rows(conn: Any, query: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(query)]


def log_view(node: Node) -> LogView:
    """This node's log: the latest checkpoint, witnesses, alerts and a verification."""
    origin = node.config.party.log_origin
    w, a = witnessed_logs.c, witness_alerts.c
    with node.store.read() as conn:
        latest = audit_log.latest_checkpoint(conn)
        text = audit_log.cosigned_note(conn, latest) if latest is not None else None
        witnessed_one = (
            audit_log.latest_checkpoint(conn, cosigned=node.config.witnessing.quorum) is not None
        )
        entries = int(conn.execute(select(func.count()).select_from(audit_events)).scalar() or 0)
        witnessed = _rows(conn, select(w.origin, w.size, w.updated_at).order_by(w.origin))
        alerts = _rows(
            conn,
            select(a.origin, a.kind, a.size, a.witnessed_size, a.first_seen, a.last_seen, a.count)
            .order_by(a.last_seen.desc())
            .limit(100),
        )
    if latest is None or text is None:
        return LogView(
            origin,
            None,
            None,
            None,
            [],
            entries,
            [Badge("log_verified", None)],
            None,
            witnessed,
            alerts,
        )
    result = _verify_own(node, witnessed_one)
    cosigners: list[str] = []
    names = _witness_parties(node)
    if isinstance(result, Problem):
        badges = [Badge("checkpoint_signature", False, str(result))]
        problem: str | None = str(result)
    else:
        cosigners = [names.get(name, name) for name, _ in result.cosigned_by]
        problem = str(result.problems[0]) if result.problems else None
        badges = [
            Badge("checkpoint_signature", True, origin),
            Badge("log_verified", result.ok, problem or f"{result.entries_checked}"),
            Badge(
                "cosigned",
                len(cosigners) >= node.config.witnessing.quorum,
                ", ".join(cosigners),
            ),
        ]
    return LogView(
        origin=origin,
        checkpoint=text,
        checkpoint_size=latest.size,
        checkpoint_at=latest.created_at,
        cosigned_by=cosigners,
        entries=entries,
        badges=badges,
        problem=problem,
        witnessed=witnessed,
        alerts=alerts,
    )


def parse_day(text: str, *, end: bool = False) -> str:
    """``YYYY-MM-DD``, a day in WIB (Asia/Jakarta), as the ISO 8601 UTC time its start
    (of the next day, for ``end``) is: the console's days are Jakarta's, as its times."""
    day = dt.date.fromisoformat(text)
    try:
        if end:
            day += dt.timedelta(days=1)
        return iso(dt.datetime.combine(day, dt.time(), tzinfo=WIB).astimezone(dt.UTC))
    except OverflowError:  # the first or the last day a date can be
        raise ValueError(f"day out of range: {text}") from None


def dataset_names(node: Node) -> Sequence[str]:
    agreement, party = node.config.agreement, node.party_id
    return sorted({d.name for d in agreement.outgoing(party) + agreement.incoming(party)})
