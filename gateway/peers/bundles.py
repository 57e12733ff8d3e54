"""Evidence bundles exported from this node's log for auditors, and the keys an auditor
trusts from the agreement.

The verifying side, which needs no node, is :mod:`gateway.tlog.auditor`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from gateway.node import audit_log
from gateway.node.config import Agreement
from gateway.node.node import Node, note_keys
from gateway.peers import witness
from gateway.store.tables import audit_events
from gateway.tlog import note
from gateway.tlog.auditor import BUNDLE_FORMAT, TrustedKeys

__all__ = ["export_bundle", "trusted_keys"]


def export_bundle(node: Node, batch_id: str, *, publish: bool = True) -> dict[str, Any]:
    """The self-contained evidence of one batch on this node.

    The checkpoint is the newest witnessed one (it carries the node's quorum of
    cosignatures, ``[node.witnessing]``) that covers the batch. ``publish``: when
    there is none yet, sign one and have it cosigned first (a call to the
    witnesses); if that does not reach the quorum either, the bundle carries the
    newest checkpoint with the cosignatures it has, which verifiers requiring more
    refuse. Without ``publish``, the bundle is made from the checkpoints there are:
    entries after the latest one are listed under ``unproven`` without a proof
    (the auditor console shows them as not yet in a checkpoint; verifiers ignore
    them).
    """
    quorum = node.config.witnessing.quorum
    e = audit_events.c
    with node.store.read() as conn:
        rows = conn.execute(
            select(e.idx, e.entry).where(e.batch_id == batch_id).order_by(e.idx)
        ).all()
        latest = audit_log.latest_checkpoint(conn, cosigned=quorum)
    if not rows:
        raise LookupError(f"this node's log has no entry for batch {batch_id}")
    if publish and (latest is None or latest.size <= rows[-1].idx):
        # No witnessed checkpoint covers the batch yet: sign one and have it cosigned.
        witness.publish(node)
    with node.store.read() as conn:
        signed = audit_log.latest_checkpoint(conn, cosigned=quorum)
        if signed is None or signed.size <= rows[-1].idx:
            # Not witnessed by the quorum: verifiers will say so unless they need fewer.
            signed = audit_log.latest_checkpoint(conn)
        size = 0 if signed is None else signed.size
        proven = [r for r in rows if r.idx < size]
        cosigned = "" if signed is None else audit_log.cosigned_note(conn, signed)
        proofs = [audit_log.inclusion_proof(conn, r.idx, size) for r in proven]
    party = node.config.party
    own = node.note_keys[party.id]
    bundle: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "batch_id": batch_id,
        "party": party.id,
        "origin": party.log_origin,
        "checkpoint": cosigned,
        "keys": {
            "log": own.log.vkey(),
            "witnesses": [
                node.note_keys[p.id].witness.vkey()
                for p in node.config.agreement.parties.values()
                if p.id != party.id
            ],
        },
        "entries": [
            {
                "index": r.idx,
                "entry": r.entry,
                "proof": note.format_tlog_proof(note.TlogProof(r.idx, tuple(p), cosigned)),
            }
            for r, p in zip(proven, proofs, strict=True)
        ],
    }
    if len(proven) < len(rows):
        bundle["unproven"] = [{"index": r.idx, "entry": r.entry} for r in rows[len(proven) :]]
    return bundle


def trusted_keys(
    agreement: Agreement, party_id: str, *, source: str = "the agreement"
) -> TrustedKeys:
    """The keys the agreement registers for ``party_id``'s log and for its witnesses
    (every other party)."""
    keys = note_keys(agreement)
    witnesses = tuple(k.witness for pid, k in keys.items() if pid != party_id)
    return TrustedKeys(log=keys[party_id].log, witnesses=witnesses, source=source)
