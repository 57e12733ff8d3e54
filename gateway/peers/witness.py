"""Witnessing between nodes: C2SP tlog-witness, with C2SP tlog-cosignature answers.

Each node is a witness for its peers' audit logs. A peer submits each new
checkpoint with a consistency proof from the last one this node cosigned; the
witness checks the log's signature and the proof, remembers the new checkpoint
and answers with its cosignature. A checkpoint that is not consistent with the
one cosigned before (a fork), or that is smaller (a rollback), is refused, the
refusal is recorded in this node's own audit log as a ``witness_alert``, and
logged at CRITICAL for the operators' alerting.

The submitting side (:func:`publish`) runs after every transfer and on the
checkpoint schedule, and stores each cosignature it receives. It does not ask
every party: it asks the node's witnesses (``[node.witnessing]``) in turn, from
where the previous publication stopped, until the checkpoint carries ``quorum``
cosignatures, so that one publication costs O(quorum + failures) requests
however many parties the agreement has, and the turns go round them all.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

# requests is imported where it is used: a node's HTTP workers make no outbound
# request and do not load it (about 4 MiB each; docs/PERFORMANCE.md).
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from gateway.errors import GatewayError
from gateway.node import audit_log, outbound_tls
from gateway.node.config import Agreement, Party
from gateway.node.node import Node
from gateway.peers import signed_requests
from gateway.store import audit_entries
from gateway.store.tables import (
    audit_cosignatures,
    witness_alerts,
    witness_rotation,
    witnessed_logs,
)
from gateway.timestamps import iso
from gateway.tlog import merkle, note

__all__ = [
    "ADD_CHECKPOINT_PATH",
    "PublishReport",
    "WitnessAnswer",
    "WitnessRefused",
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


def _alert(
    node: Node,
    party: Party,
    *,
    kind: str,
    checkpoint: note.Checkpoint,
    witnessed: tuple[int, str],
    request: str,
) -> None:
    """Record a refused checkpoint with its evidence; alert once per distinct checkpoint.

    A peer (or anyone holding one of its signed checkpoints) may present the same
    refused checkpoint again and again: it is stored, logged and audited the first
    time only, and counted at most once a minute after that.
    """
    a = witness_alerts.c
    key = (
        (a.origin == party.log_origin)
        & (a.kind == kind)
        & (a.size == checkpoint.size)
        & (a.root_hash == checkpoint.root_hash)
    )
    now = node.now()
    with node.store.read() as conn:
        seen = conn.execute(select(a.last_seen).where(key)).scalar()
    if seen is not None:
        if seen < iso(now - dt.timedelta(seconds=60)):
            with node.store.write() as conn:
                conn.execute(
                    update(witness_alerts).where(key).values(last_seen=iso(now), count=a.count + 1)
                )
        return
    log.critical(
        "ALERT witness: %s's log %s: checkpoint of size %d is not consistent with the checkpoint "
        "of size %d this node cosigned (%s); evidence kept in witness_alerts",
        party.id,
        party.log_origin,
        checkpoint.size,
        witnessed[0],
        kind,
    )
    try:
        with node.store.write() as conn:
            conn.execute(
                witness_alerts.insert().values(
                    origin=party.log_origin,
                    kind=kind,
                    size=checkpoint.size,
                    root_hash=checkpoint.root_hash,
                    witnessed_size=witnessed[0],
                    witnessed_note=witnessed[1],
                    request=request,
                    first_seen=iso(now),
                    last_seen=iso(now),
                    count=1,
                )
            )
            audit_entries.append(
                conn,
                event="witness_alert",
                actor=node.party_id,
                at=now,
                peer=party.id,
                reason=kind,
                tree_size=checkpoint.size,
                witnessed_size=witnessed[0],
            )
    except IntegrityError:
        pass  # a concurrent request recorded the same alert


@dataclass(frozen=True)
class _Submission:
    """An add-checkpoint request from a log this node witnesses, signed by the log's key."""

    request: note.AddCheckpoint
    party: Party
    text: str  # the checkpoint's note text, which the cosignature signs
    checkpoint: note.Checkpoint


@dataclass(frozen=True)
class _Witnessed:
    """What this witness last cosigned of a log: size 0 and the empty tree's root if nothing."""

    size: int = 0
    root_hash: bytes = merkle.EMPTY_ROOT
    note: str = ""
    stored: bool = False  # whether witnessed_logs has the log's row yet


def _size_answer(size: int) -> WitnessAnswer:
    """409 with this witness's size of the log (tlog-witness "add-checkpoint")."""
    return WitnessAnswer(409, note.format_tlog_size(size), SIZE_MEDIA_TYPE)


def add_checkpoint(node: Node, body: bytes, *, requester: str | None = None) -> WitnessAnswer:
    """Answer a C2SP tlog-witness ``add-checkpoint`` request.

    Status codes as the specification defines them: 200 with the cosignature
    line, 400 for a malformed request, 403 for a checkpoint without a valid
    signature of the log, 404 for a log this node does not witness, 409 with
    this witness's size when the request's old size is not it (or when it is,
    but the root differs), 422 for a consistency proof that does not verify.

    Alerts are raised only on evidence: another root for the size this witness
    cosigned (two signed checkpoints of one size: a fork), or a signed checkpoint
    that no proof from the cosigned one supports. A checkpoint smaller than the
    one cosigned is answered 409 without an alert: an old checkpoint replayed by
    anyone looks the same; a log that really went back is caught when it grows
    again (fork), by its own submitting side, and by auditors.

    ``requester``: the party whose signed request this is; it may submit only its
    own log's checkpoints (any other log is answered as unknown).
    """
    submission = _open_submission(node, body, requester)
    if isinstance(submission, WitnessAnswer):
        return submission
    known = _last_cosigned(node, submission.party.log_origin)
    refusal = _refusal(node, submission, known, body)
    if refusal is not None:
        return refusal
    if submission.checkpoint.size > known.size or not known.stored:
        conflict = _remember(node, submission, known)
        if conflict is not None:
            return conflict
    timestamp = int(node.now().timestamp())
    signature = node.witness_signer.cosign(submission.text, timestamp)
    return WitnessAnswer(200, note.format_signature_lines([signature]))


def _open_submission(node: Node, body: bytes, requester: str | None) -> _Submission | WitnessAnswer:
    """The request parsed and its checkpoint's signature verified, or the answer refusing it."""
    if len(body) > MAX_REQUEST_BYTES:
        return WitnessAnswer(400, "request too large\n")
    try:
        request = note.parse_add_checkpoint(body)
        origin = request.checkpoint.split("\n", 1)[0]
    except note.NoteError as exc:
        return WitnessAnswer(400, f"malformed request: {exc}\n")
    party = node.config.agreement.party_by_origin(origin)
    if party is None or party.id == node.party_id or requester not in (None, party.id):
        return WitnessAnswer(404, "unknown log\n")
    try:
        opened = note.open_note(request.checkpoint, [node.note_keys[party.id].log])
        checkpoint = note.Checkpoint.from_text(opened.text)
    except note.SignatureError:
        return WitnessAnswer(403, "the checkpoint is not signed by the log's key\n")
    except note.NoteError as exc:
        return WitnessAnswer(400, f"malformed checkpoint: {exc}\n")
    return _Submission(request, party, opened.text, checkpoint)


def _last_cosigned(node: Node, origin: str) -> _Witnessed:
    w = witnessed_logs.c
    with node.store.read() as conn:
        state = conn.execute(select(w.size, w.root_hash, w.note).where(w.origin == origin)).first()
    if state is None:
        return _Witnessed()
    return _Witnessed(int(state[0]), bytes(state[1]), str(state[2]), stored=True)


def _refusal(
    node: Node, submission: _Submission, known: _Witnessed, body: bytes
) -> WitnessAnswer | None:
    """The answer refusing a checkpoint that does not follow the one cosigned before, if it
    does not; a fork or an inconsistent checkpoint is alerted on (:func:`_alert`)."""
    request, checkpoint = submission.request, submission.checkpoint
    if request.old_size != known.size:
        if checkpoint.size < known.size:
            log.warning(
                "witness: %s presented checkpoint %d, older than the cosigned %d (refused)",
                submission.party.log_origin,
                checkpoint.size,
                known.size,
            )
        return _size_answer(known.size)
    witnessed, refused = (known.size, known.note), body.decode("utf-8")
    if known.stored and checkpoint.size == known.size and checkpoint.root_hash != known.root_hash:
        _alert(
            node,
            submission.party,
            kind="fork",
            checkpoint=checkpoint,
            witnessed=witnessed,
            request=refused,
        )
        return _size_answer(known.size)
    try:
        merkle.verify_consistency(
            known.size,
            checkpoint.size,
            known.root_hash,
            checkpoint.root_hash,
            request.consistency_proof,
        )
    except merkle.ProofError:
        _alert(
            node,
            submission.party,
            kind="inconsistent",
            checkpoint=checkpoint,
            witnessed=witnessed,
            request=refused,
        )
        return WitnessAnswer(422, "the consistency proof does not verify\n")
    return None


def _remember(node: Node, submission: _Submission, known: _Witnessed) -> WitnessAnswer | None:
    """Store the checkpoint as the log's newest cosigned one; 409 with the size a concurrent
    request stored instead, if one did first."""
    origin = submission.party.log_origin
    w = witnessed_logs.c
    values = {
        "size": submission.checkpoint.size,
        "root_hash": submission.checkpoint.root_hash,
        "note": submission.request.checkpoint,
        "updated_at": iso(node.now()),
    }
    moved = 1
    with node.store.write() as conn:
        if not known.stored:
            try:
                with conn.begin_nested():
                    conn.execute(witnessed_logs.insert().values(origin=origin, **values))
            except IntegrityError:
                moved = 0  # a concurrent first submission won
        else:
            # Compare and set: a concurrent request that moved the size wins.
            moved = conn.execute(
                update(witnessed_logs)
                .where(w.origin == origin, w.size == known.size)
                .values(**values)
            ).rowcount
        if moved != 1:
            current = conn.execute(select(w.size).where(w.origin == origin)).scalar_one()
            return _size_answer(current)
    return None


class Answer(Protocol):
    @property
    def status_code(self) -> int: ...

    @property
    def text(self) -> str: ...


@dataclass(frozen=True)
class PeerAnswer:
    status_code: int
    text: str


# (url, body, timeout, headers) -> answer. Tests cut the network here.
Poster = Callable[[str, bytes, float, Mapping[str, str]], Answer]

# A witness answers with a line or two; anything longer is not read.
MAX_ANSWER_BYTES = 16 * 1024


def _http_post(url: str, body: bytes, timeout: float, headers: Mapping[str, str]) -> PeerAnswer:
    import requests

    with requests.post(
        url,
        data=body,
        headers={**headers, "Content-Type": TEXT},
        timeout=timeout,
        stream=True,
        allow_redirects=False,
        **outbound_tls.tls_for(url),
    ) as answer:
        data = answer.raw.read(MAX_ANSWER_BYTES + 1, decode_content=True)
        if len(data) > MAX_ANSWER_BYTES:
            raise WitnessRefused("the witness's answer is too long")
        return PeerAnswer(answer.status_code, data.decode("utf-8", errors="replace"))


@dataclass
class PublishReport:
    """What one publication did."""

    checkpoint: audit_log.SignedCheckpoint
    # The witness names whose cosignature the checkpoint now carries: those it held
    # already (an earlier publication of the same checkpoint), then those given now.
    cosigned_by: list[str] = field(default_factory=list)
    # The parties whose witness was asked and did not cosign, with why.
    failed: dict[str, str] = field(default_factory=dict)
    # The parties whose witness was asked, in order.
    asked: list[str] = field(default_factory=list)
    quorum: int = 1
    # Whether the checkpoint carries ``quorum`` cosignatures.
    quorum_met: bool = False


def _cosigned_size(node: Node, witness: str) -> int:
    c = audit_cosignatures.c
    with node.store.read() as conn:
        found = conn.execute(select(func.max(c.size)).where(c.witness == witness)).scalar()
    return int(found or 0)


def _submit(node: Node, party: Party, signed: audit_log.SignedCheckpoint, post: Poster) -> None:
    old = _cosigned_size(node, party.witness_name)
    if old == signed.size:
        return  # cosigned already
    url = party.base_url + ADD_CHECKPOINT_PATH
    for _attempt in range(2):
        if old > signed.size:
            log.critical(
                "ALERT log: witness %s has cosigned size %d of this log, which has only %d "
                "entries: the log was rolled back (restored from a backup?)",
                party.witness_name,
                old,
                signed.size,
            )
            raise WitnessRefused(
                f"the witness has cosigned size {old}, more than this log's {signed.size}"
            )
        with node.store.read() as conn:
            proof = audit_log.consistency_proof(conn, old, signed.size) if old else []
        body = note.format_add_checkpoint(note.AddCheckpoint(old, tuple(proof), signed.note))
        data = body.encode("utf-8")
        answer = post(
            url,
            data,
            node.config.peer_timeout_seconds,
            signed_requests.headers(node, party, "POST", url, data),
        )
        if answer.status_code == 409:
            # The witness knows another size of our log (we lost its last answer): retry from it.
            try:
                old = note.parse_tlog_size(answer.text)
            except note.NoteError:
                raise WitnessRefused("HTTP 409 without a valid size") from None
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
                            signature=note.format_signature_lines([signature]).rstrip("\n"),
                            timestamp=timestamp,
                        )
                    )
            return
        raise WitnessRefused("the answer holds no cosignature by the registered witness key")
    raise WitnessRefused("the witness kept changing its size")


class WitnessRefused(GatewayError):
    """A peer's witness did not cosign our checkpoint."""

    code = "witness_refused"
    internal = True


_publishing: dict[str, threading.Lock] = {}
_publishing_lock = threading.Lock()


def publish(node: Node, *, post: Poster = _http_post) -> PublishReport:
    """Make a checkpoint and have ``quorum`` of the node's witnesses cosign it.

    The witnesses are asked in turn, from where the previous publication stopped;
    asking stops as soon as the checkpoint carries ``quorum`` cosignatures (those
    it got from an earlier publication count), a witness that fails or refuses is
    followed by the next, and none is asked twice. Each witness gets a consistency
    proof from the size it last cosigned, however long ago that was.

    One publication at a time per node in this process (the transfer jobs and
    the checkpoint job run in parallel threads), each with the latest
    checkpoint: a witness never sees this log's checkpoints out of order.
    """
    with _publishing_lock:
        lock = _publishing.setdefault(node.store.url, threading.Lock())
    with lock:
        return _publish(node, post)


def _publish(node: Node, post: Poster) -> PublishReport:
    signed = audit_log.checkpoint(node)
    witnessing = node.config.witnessing
    report = PublishReport(signed, quorum=witnessing.quorum)
    if signed.size == 0:
        return report
    agreement = node.config.agreement
    report.cosigned_by = _held(node, signed.size, agreement)
    turns = agreement.witness_turns(node.party_id, witnessing)
    if len(report.cosigned_by) < witnessing.quorum and turns:
        _ask_in_turn(node, signed, turns, report, post)
    report.quorum_met = len(report.cosigned_by) >= witnessing.quorum
    if not report.quorum_met:
        log.warning(
            "checkpoint %d carries %d of the %d cosignatures it needs (asked: %s)",
            signed.size,
            len(report.cosigned_by),
            witnessing.quorum,
            ", ".join(report.asked) or "none",
        )
    return report


def _held(node: Node, size: int, agreement: Agreement) -> list[str]:
    """The other parties' witnesses whose cosignature of checkpoint ``size`` is stored
    (whether or not they are among this node's witnesses now: auditors trust them all)."""
    c = audit_cosignatures.c
    with node.store.read() as conn:
        names = conn.execute(select(c.witness).where(c.size == size).order_by(c.witness))
        return [
            name
            for name in names.scalars()
            if (party := agreement.party_by_witness(name)) is not None
            and party.id != node.party_id
        ]


def _ask_in_turn(
    node: Node,
    signed: audit_log.SignedCheckpoint,
    turns: tuple[Party, ...],
    report: PublishReport,
    post: Poster,
) -> None:
    """Ask the witnesses from this publication's turn on until the quorum is met or each
    was asked once; the next publication starts after the last one asked."""
    import requests

    start = _next_turn(node) % len(turns)
    step = 0
    while step < len(turns) and len(report.cosigned_by) < report.quorum:
        party = turns[(start + step) % len(turns)]
        step += 1
        if party.witness_name in report.cosigned_by:
            continue  # it cosigned this checkpoint in an earlier publication
        report.asked.append(party.id)
        try:
            _submit(node, party, signed, post)
        except (WitnessRefused, requests.RequestException, audit_log.LogIntegrityError) as exc:
            reason = str(exc) if isinstance(exc, WitnessRefused) else type(exc).__name__
            log.warning(
                "checkpoint %d: witness %s did not cosign: %s", signed.size, party.id, reason
            )
            report.failed[party.id] = reason
        else:
            report.cosigned_by.append(party.witness_name)
    _set_next_turn(node, (start + step) % len(turns))


def _next_turn(node: Node) -> int:
    r = witness_rotation.c
    with node.store.read() as conn:
        found = conn.execute(
            select(r.next_turn).where(r.origin == node.config.party.log_origin)
        ).scalar()
    return int(found or 0)


def _set_next_turn(node: Node, turn: int) -> None:
    r = witness_rotation.c
    origin = node.config.party.log_origin
    with node.store.write() as conn:
        moved = conn.execute(
            update(witness_rotation).where(r.origin == origin).values(next_turn=turn)
        ).rowcount
        if moved == 0:
            try:
                with conn.begin_nested():
                    conn.execute(witness_rotation.insert().values(origin=origin, next_turn=turn))
            except IntegrityError:
                pass  # another replica's publication stored its turn first: as good
