"""Witnessing between nodes: C2SP tlog-witness, with C2SP tlog-cosignature answers.

Each node is a witness for its peers' audit logs. A peer submits each new
checkpoint with a consistency proof from the last one this node cosigned; the
witness checks the log's signature and the proof, remembers the new checkpoint
and answers with its cosignature. A checkpoint that is not consistent with the
one cosigned before (a fork), or that is smaller (a rollback), is refused, the
refusal is recorded in this node's own audit log as a ``witness_alert``, and
logged at CRITICAL for the operators' alerting.

The submitting side (:func:`publish`) runs after every transfer and on the
checkpoint schedule, and stores each cosignature it receives.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import requests
from sqlalchemy import func, select, update

from gateway import audit, merkle, note, tlog
from gateway.config import Party
from gateway.node import Node, iso
from gateway.storage import audit_cosignatures, witnessed_logs

__all__ = [
    "ADD_CHECKPOINT_PATH",
    "PublishReport",
    "WitnessAnswer",
    "add_checkpoint",
    "publish",
]

log = logging.getLogger(__name__)

ADD_CHECKPOINT_PATH = "/exchange/v1/witness/add-checkpoint"
SIZE_MEDIA_TYPE = "text/x.tlog.size"
TEXT = "text/plain; charset=utf-8"
# A request body larger than this is refused before parsing (63 proof hashes and a note).
MAX_REQUEST_BYTES = 64 * 1024


@dataclass(frozen=True)
class WitnessAnswer:
    status: int
    body: str
    content_type: str = TEXT


def _signature_line(signature: note.Signature) -> str:
    return note.format_note(note.Note("x\n", (signature,))).split("\n\n", 1)[1]


def _alert(node: Node, party: Party, *, reason: str, size: int, witnessed: int) -> None:
    log.critical(
        "ALERT witness: %s's log %s presented a checkpoint of size %d that is not consistent "
        "with the checkpoint of size %d this node cosigned (%s)",
        party.id,
        party.log_origin,
        size,
        witnessed,
        reason,
    )
    with node.store.write() as conn:
        audit.append(
            conn,
            event="witness_alert",
            actor=node.party_id,
            at=node.now(),
            peer=party.id,
            reason=reason,
            tree_size=size,
            witnessed_size=witnessed,
        )


def add_checkpoint(node: Node, body: bytes) -> WitnessAnswer:
    """Answer a C2SP tlog-witness ``add-checkpoint`` request.

    Status codes as the specification defines them: 200 with the cosignature
    line, 400 for a malformed request, 403 for a checkpoint without a valid
    signature of the log, 404 for a log this node does not witness, 409 with
    this witness's size when the request's old size is not it (or when it is,
    but the root differs), 422 for a consistency proof that does not verify.
    """
    if len(body) > MAX_REQUEST_BYTES:
        return WitnessAnswer(400, "request too large\n")
    try:
        request = note.parse_add_checkpoint(body)
        origin = request.checkpoint.split("\n", 1)[0]
    except note.NoteError as exc:
        return WitnessAnswer(400, f"malformed request: {exc}\n")
    party = next(
        (
            p
            for p in node.config.agreement.parties.values()
            if p.log_origin == origin and p.id != node.party_id
        ),
        None,
    )
    if party is None:
        return WitnessAnswer(404, "unknown log\n")
    try:
        opened = note.open_note(request.checkpoint, [node.note_keys[party.id].log])
        checkpoint = note.Checkpoint.from_text(opened.text)
    except note.SignatureError:
        return WitnessAnswer(403, "the checkpoint is not signed by the log's key\n")
    except note.NoteError as exc:
        return WitnessAnswer(400, f"malformed checkpoint: {exc}\n")

    with node.store.read() as conn:
        state = conn.execute(
            select(witnessed_logs.c.size, witnessed_logs.c.root_hash).where(
                witnessed_logs.c.origin == origin
            )
        ).first()
    known_size, known_root = (0, merkle.EMPTY_ROOT) if state is None else (state[0], state[1])
    if checkpoint.size < known_size:
        _alert(node, party, reason="rollback", size=checkpoint.size, witnessed=known_size)
    if request.old_size != known_size:
        return WitnessAnswer(409, f"{known_size}\n", SIZE_MEDIA_TYPE)
    if checkpoint.size < request.old_size:
        return WitnessAnswer(400, "the checkpoint is smaller than the old size\n")
    if checkpoint.size == known_size and state is not None and checkpoint.root_hash != known_root:
        # The same size with another root: two histories of one log.
        _alert(node, party, reason="fork", size=checkpoint.size, witnessed=known_size)
        return WitnessAnswer(409, f"{known_size}\n", SIZE_MEDIA_TYPE)
    try:
        merkle.verify_consistency(
            known_size,
            checkpoint.size,
            bytes(known_root),
            checkpoint.root_hash,
            request.consistency_proof,
        )
    except merkle.ProofError:
        _alert(node, party, reason="fork", size=checkpoint.size, witnessed=known_size)
        return WitnessAnswer(422, "the consistency proof does not verify\n")

    if checkpoint.size > known_size or state is None:
        now = iso(node.now())
        values = {
            "size": checkpoint.size,
            "root_hash": checkpoint.root_hash,
            "note": request.checkpoint,
            "updated_at": now,
        }
        with node.store.write() as conn:
            if state is None:
                conn.execute(witnessed_logs.insert().values(origin=origin, **values))
            else:
                # Compare and set: a concurrent request that moved the size wins.
                moved = conn.execute(
                    update(witnessed_logs)
                    .where(witnessed_logs.c.origin == origin, witnessed_logs.c.size == known_size)
                    .values(**values)
                ).rowcount
                if moved != 1:
                    current = conn.execute(
                        select(witnessed_logs.c.size).where(witnessed_logs.c.origin == origin)
                    ).scalar_one()
                    return WitnessAnswer(409, f"{current}\n", SIZE_MEDIA_TYPE)
    timestamp = int(node.now().timestamp())
    signature = node.witness_signer.cosign(opened.text, timestamp)
    return WitnessAnswer(200, _signature_line(signature))


Poster = Callable[[str, bytes, float], requests.Response]


def _http_post(url: str, body: bytes, timeout: float) -> requests.Response:
    return requests.post(url, data=body, headers={"Content-Type": TEXT}, timeout=timeout)


@dataclass
class PublishReport:
    checkpoint: tlog.SignedCheckpoint
    cosigned_by: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def _cosigned_size(node: Node, witness: str) -> int:
    c = audit_cosignatures.c
    with node.store.read() as conn:
        found = conn.execute(select(func.max(c.size)).where(c.witness == witness)).scalar()
    return int(found or 0)


def _submit(node: Node, party: Party, signed: tlog.SignedCheckpoint, post: Poster) -> None:
    old = _cosigned_size(node, party.witness_name)
    if old == signed.size:
        return  # cosigned already
    url = party.base_url + ADD_CHECKPOINT_PATH
    for _attempt in range(2):
        if old > signed.size:
            raise WitnessRefused(
                f"the witness has cosigned size {old}, more than this log's {signed.size}"
            )
        with node.store.read() as conn:
            proof = tlog.consistency_proof(conn, old, signed.size) if old else []
        body = note.format_add_checkpoint(note.AddCheckpoint(old, tuple(proof), signed.note))
        answer = post(url, body.encode("utf-8"), node.config.peer_timeout_seconds)
        if answer.status_code == 409 and answer.text.strip().isdigit():
            # The witness knows another size of our log (we lost its last answer): retry from it.
            old = int(answer.text.strip())
            continue
        if answer.status_code != 200:
            raise WitnessRefused(f"HTTP {answer.status_code}: {answer.text.strip()[:200]}")
        text = note.parse_note(signed.note).text
        verifier = node.note_keys[party.id].witness
        try:
            cosigned = note.parse_note(signed.note + answer.text)
        except note.NoteError as exc:
            raise WitnessRefused(f"malformed cosignature: {exc}") from None
        for signature in cosigned.signatures:
            if signature.name != verifier.name or signature.key_hash != verifier.key_hash:
                continue
            try:
                timestamp = verifier.verify(text, signature)
            except note.SignatureError:
                raise WitnessRefused("the cosignature does not verify") from None
            with node.store.write() as conn:
                exists = conn.execute(
                    select(audit_cosignatures.c.size).where(
                        audit_cosignatures.c.size == signed.size,
                        audit_cosignatures.c.witness == verifier.name,
                    )
                ).first()
                if exists is None:
                    conn.execute(
                        audit_cosignatures.insert().values(
                            size=signed.size,
                            witness=verifier.name,
                            signature=_signature_line(signature).rstrip("\n"),
                            timestamp=timestamp,
                        )
                    )
            return
        raise WitnessRefused("the answer holds no cosignature by the registered witness key")
    raise WitnessRefused("the witness kept changing its size")


class WitnessRefused(Exception):
    """A peer's witness did not cosign our checkpoint."""


def publish(node: Node, *, post: Poster = _http_post) -> PublishReport:
    """Make a checkpoint and have every peer's witness cosign it."""
    signed = tlog.checkpoint(node)
    report = PublishReport(signed)
    if signed.size == 0:
        return report
    for party in node.config.agreement.parties.values():
        if party.id == node.party_id:
            continue
        try:
            _submit(node, party, signed, post)
        except (WitnessRefused, requests.RequestException, tlog.LogIntegrityError) as exc:
            reason = str(exc) if isinstance(exc, WitnessRefused) else type(exc).__name__
            log.warning(
                "checkpoint %d: witness %s did not cosign: %s", signed.size, party.id, reason
            )
            report.failed[party.id] = reason
        else:
            report.cosigned_by.append(party.witness_name)
    return report
