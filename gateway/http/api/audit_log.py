"""The auditor API: checkpoints, entries, search and proofs (auditor role only).

Hashes are standard base64 (RFC 4648 section 4), as in the C2SP formats. An
entry is returned as the exact text that was hashed, so that anyone can
recompute its leaf hash: SHA-256(0x00 || UTF-8 bytes of ``entry``).
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import and_, or_, select

from gateway import timestamps
from gateway.errors import BadRequest, Forbidden, NotFound
from gateway.http.request_helpers import client, node
from gateway.node import audit_log
from gateway.node.config import ClientConfig
from gateway.store.tables import (
    MAX_INTEGER,
    audit_checkpoints,
    audit_events,
    audit_tree,
    witnessed_logs,
)
from gateway.tlog import note

bp = Blueprint("audit", __name__, url_prefix="/api/v1/audit")

MAX_PAGE = 10_000
NOTE_TYPE = "text/plain; charset=utf-8"
PROOF_TYPE = "text/plain; charset=utf-8"


def _auditor() -> ClientConfig:
    who = client()
    if "auditor" not in who.roles:
        raise Forbidden("this client does not have the auditor role")
    return who


def _int_arg(name: str, default: int | None = None, *, minimum: int = 0) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        if default is None:
            raise BadRequest(f"{name} is required", path=name)
        return default
    if (
        len(raw) > 10
        or not (raw.isascii() and raw.isdigit())
        or not minimum <= int(raw) <= MAX_INTEGER
    ):
        raise BadRequest(f"{name} must be an integer from {minimum} to {MAX_INTEGER}", path=name)
    return int(raw)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _checkpoint(conn: Any, size: int | None, *, cosigned: int = 0) -> audit_log.SignedCheckpoint:
    found = audit_log.latest_checkpoint(conn, size, cosigned=cosigned)
    if found is None:
        if size is not None:
            carrying = f" with {cosigned} cosignature(s)" if cosigned else ""
            raise NotFound(f"no checkpoint of size {size}{carrying}", path="size")
        if cosigned > 1:
            raise NotFound(f"no checkpoint has been cosigned by {cosigned} witnesses yet")
        raise NotFound(f"no checkpoint has been {'cosigned' if cosigned else 'signed'} yet")
    return found


@bp.get("/checkpoint")
def checkpoint() -> Response:
    """The latest checkpoint (or ``?size=``) as a signed note with its cosignatures.

    ``?cosigned=N``: the latest checkpoint that carries at least N cosignatures
    (``1``: the latest that a witness has cosigned).
    """
    _auditor()
    size = _int_arg("size") if request.args.get("size") else None
    cosigned = _int_arg("cosigned", 0)
    with node().store.read() as conn:
        signed = _checkpoint(conn, size, cosigned=cosigned)
        text = audit_log.cosigned_note(conn, signed)
    return Response(text, content_type=NOTE_TYPE)


@bp.get("/witnessed")
def witnessed() -> Response:
    """The other parties' logs this node witnesses: the last checkpoint it cosigned of each."""
    _auditor()
    w = witnessed_logs.c
    with node().store.read() as conn:
        rows = conn.execute(select(w.origin, w.size, w.note, w.updated_at).order_by(w.origin))
        found = [
            {"origin": r.origin, "size": r.size, "checkpoint": r.note, "updated_at": r.updated_at}
            for r in rows
        ]
    return jsonify({"logs": found})


@bp.get("/checkpoints")
def checkpoints() -> Response:
    """Every checkpoint signed, oldest first, paged by ``after`` (a size)."""
    _auditor()
    after = _int_arg("after") if request.args.get("after") else -1
    limit = _int_arg("limit", 1000, minimum=1)
    if limit > 1000:
        raise BadRequest("limit must be at most 1000", path="limit")
    c = audit_checkpoints.c
    with node().store.read() as conn:
        rows = conn.execute(
            select(c.size, c.note, c.created_at).where(c.size > after).order_by(c.size).limit(limit)
        ).all()
    found = [{"size": r.size, "checkpoint": r.note, "created_at": r.created_at} for r in rows]
    return jsonify(
        {"checkpoints": found, "next_after": found[-1]["size"] if len(found) == limit else None}
    )


def _entries(rows: Any, leaves: dict[int, bytes]) -> list[dict[str, Any]]:
    return [
        {
            "index": row.idx,
            "entry": row.entry,
            "leaf_hash": _b64(leaves[row.idx]) if row.idx in leaves else None,
        }
        for row in rows
    ]


def _leaves(conn: Any, indexes: list[int]) -> dict[int, bytes]:
    if not indexes:
        return {}
    t = audit_tree.c
    if max(indexes) - min(indexes) < 2 * len(indexes):  # a page of entries: one range read
        where = t.idx.between(min(indexes), max(indexes))
    else:  # scattered search hits: point reads
        where = t.idx.in_(indexes)
    rows = conn.execute(select(t.idx, t.hash).where(t.level == 0, where)).all()
    wanted = set(indexes)
    return {int(i): bytes(h) for i, h in rows if i in wanted}


@bp.get("/entries")
def entries() -> Response:
    """Entries [start, end), at most 10,000, with the leaf hash the stored tree holds.

    ``?format=lines``: the same as text, a line per entry (what verifiers use).
    """
    _auditor()
    start = _int_arg("start", 0)
    end = _int_arg("end", start + 1000)
    if end < start or end - start > MAX_PAGE:
        raise BadRequest(f"end must be from start to start + {MAX_PAGE}", path="end")
    e, t = audit_events.c, audit_tree.c
    with node().store.read() as conn:
        rows = conn.execute(
            select(e.idx, t.hash, e.entry)
            .select_from(audit_events.outerjoin(audit_tree, (t.level == 0) & (t.idx == e.idx)))
            .where(e.idx >= start, e.idx < end)
            .order_by(e.idx)
        ).all()
        size = audit_log.tree_size(conn)
    if request.args.get("format") == "lines":
        # For verifiers fetching a whole log: a line per entry, "<index> <leaf hash> <entry>"
        # ("-" for an entry not yet in the tree); entries are canonical JSON, one line each.
        body = "".join(
            f"{idx} {_b64(leaf) if leaf is not None else '-'} {entry}\n"
            for idx, leaf, entry in rows
        )
        return Response(body, content_type=NOTE_TYPE)
    found = [
        {"index": idx, "entry": entry, "leaf_hash": None if leaf is None else _b64(leaf)}
        for idx, leaf, entry in rows
    ]
    return jsonify({"start": start, "end": end, "tree_size": size, "entries": found})


def _moment(name: str) -> str | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        moment = timestamps.parse(raw)
        utc = moment.astimezone(dt.UTC) if moment.tzinfo is not None else None
    except (ValueError, OverflowError):
        raise BadRequest(f"{name} must be an ISO 8601 date-time", path=name) from None
    if utc is None:
        raise BadRequest(
            f"{name} must carry a UTC offset, e.g. 2026-11-29T08:00:00+07:00", path=name
        )
    return timestamps.iso(utc)


@bp.get("/search")
def search() -> Response:
    """Entries by batch id, dataset, party, event and time, oldest first, paged by ``after``."""
    _auditor()
    e = audit_events.c
    conditions = []
    for arg, column in (("batch_id", e.batch_id), ("dataset", e.dataset), ("event", e.event)):
        value = request.args.get(arg)
        if value:
            conditions.append(column == value)
    party = request.args.get("party")
    if party:
        conditions.append(or_(e.actor == party, e.peer == party))
    since, until = _moment("since"), _moment("until")
    if since:
        conditions.append(e.at >= since)
    if until:
        conditions.append(e.at < until)
    after = _int_arg("after") if request.args.get("after") else -1
    limit = _int_arg("limit", 100, minimum=1)
    if limit > 1000:
        raise BadRequest("limit must be at most 1000", path="limit")
    with node().store.read() as conn:
        rows = conn.execute(
            select(e.idx, e.entry)
            .where(and_(e.idx > after, *conditions))
            .order_by(e.idx)
            .limit(limit)
        ).all()
        leaves = _leaves(conn, [r.idx for r in rows])
    found = _entries(rows, leaves)
    return jsonify(
        {
            "entries": found,
            "next_after": found[-1]["index"] if len(found) == limit else None,
        }
    )


@bp.get("/proof/inclusion")
def inclusion() -> Response:
    """The inclusion proof of entry ``index`` in checkpoint ``size`` (default: the latest).

    ``?format=tlog-proof`` answers in the C2SP tlog-proof text format instead of JSON.
    """
    _auditor()
    index = _int_arg("index")
    size = _int_arg("size", minimum=1) if request.args.get("size") else None
    with node().store.read() as conn:
        signed = _checkpoint(conn, size)
        if index >= signed.size:
            raise BadRequest(
                f"index must be below the checkpoint's size {signed.size}", path="index"
            )
        proof = audit_log.inclusion_proof(conn, index, signed.size)
        leaf = _leaves(conn, [index])[index]
        cosigned = audit_log.cosigned_note(conn, signed)
    if request.args.get("format") == "tlog-proof":
        text = note.format_tlog_proof(note.TlogProof(index, tuple(proof), cosigned))
        return Response(text, content_type=PROOF_TYPE)
    return jsonify(
        {
            "index": index,
            "tree_size": signed.size,
            "leaf_hash": _b64(leaf),
            "hashes": [_b64(h) for h in proof],
            "checkpoint": cosigned,
        }
    )


@bp.get("/proof/consistency")
def consistency() -> Response:
    """The consistency proof from checkpoint ``old`` to ``new`` (default: the latest)."""
    _auditor()
    old = _int_arg("old")
    new = _int_arg("new", minimum=1) if request.args.get("new") else None
    with node().store.read() as conn:
        signed = _checkpoint(conn, new)
        if old > signed.size:
            raise BadRequest(f"old must be at most {signed.size}", path="old")
        proof = audit_log.consistency_proof(conn, old, signed.size)
        cosigned = audit_log.cosigned_note(conn, signed)
    return jsonify(
        {
            "old_size": old,
            "new_size": signed.size,
            "hashes": [_b64(h) for h in proof],
            "checkpoint": cosigned,
        }
    )
