"""Peer-pull mode: a receiver that cannot accept inbound connections fetches its batches.

A flow with ``delivery = "pull"`` in the agreement is sealed by its sender as
usual (:func:`gateway.exchange.sending.seal_pending`) but never posted. The sealed
batches wait in the sender's outbox, which the receiving party reads over
``/exchange/v1/outbox`` with requests signed by its registered key
(:mod:`gateway.peers.signed_requests`; docs/ENVELOPE.md section 9.5):

* the **sender's side** (:func:`outbox_listing`, :func:`outbox_envelope`,
  :func:`outbox_chunk`, :func:`take_receipt`) shows a party only the sealed,
  undelivered batches of pull flows addressed to it, and marks a batch delivered
  when the receipt it hands back verifies (:func:`gateway.exchange.sending.accept_receipt`);
* the **receiver's side** (:func:`run`, scheduled per pull flow) lists the
  outbox, fetches each envelope, and receives it locally with the very code a
  pushed batch goes through (:func:`gateway.exchange.receiving.receive`, or for a chunked
  batch :func:`gateway.exchange.chunked_receiving.receive_manifest` and
  :func:`gateway.exchange.chunked_receiving.receive_chunk`), then hands the receipt back.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

# requests is imported where it is used: a node's HTTP workers make no outbound
# request and do not load it (about 4 MiB each; docs/PERFORMANCE.md).
from sqlalchemy import delete, select, update

from gateway.crypto import canonical, strict_json
from gateway.crypto.envelope import BATCH_ID, verify_receipt
from gateway.errors import (
    EnvelopeRejected,
    GatewayError,
    NotFound,
    PeerError,
    ReceiptRejected,
    VerificationFailed,
)
from gateway.exchange import chunked_receiving, receiving, sending
from gateway.node import outbound_tls
from gateway.node.config import DatasetAgreement, Party
from gateway.node.node import Node
from gateway.peers import signed_requests
from gateway.store import audit_entries
from gateway.store.tables import outbound_batches, pull_refusals
from gateway.timestamps import iso

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "OUTBOX_PATH",
    "PullReport",
    "Requester",
    "http_request",
    "lock_name",
    "outbox_chunk",
    "outbox_envelope",
    "outbox_listing",
    "pull_flows",
    "run",
    "take_receipt",
    "take_refusal",
]

log = logging.getLogger(__name__)

OUTBOX_PATH = "/exchange/v1/outbox"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
JSON_MEDIA_TYPE = "application/json"


def lock_name(flow: DatasetAgreement) -> str:
    """The leader lock of a pull flow: one replica (or command) pulls it at a time."""
    return f"pull:{flow.name}:{flow.sender}"


def pull_flows(node: Node) -> list[DatasetAgreement]:
    """The flows this node receives in pull mode."""
    return [d for d in node.config.agreement.incoming(node.party_id) if d.delivery == "pull"]


# -- the sender's side: its outbox, as the receiving party sees it ---------------------------


def _outgoing_pull_flow(node: Node, dataset: str, receiver: str) -> DatasetAgreement | None:
    flow = node.config.agreement.flow(dataset, sender=node.party_id, receiver=receiver)
    if flow is None or flow.delivery != "pull":
        return None
    return flow


def outbox_listing(node: Node, party: str, *, dataset: str | None, limit: int) -> dict[str, Any]:
    """The sealed, undelivered batches of pull flows addressed to ``party``, oldest first."""
    names = [
        d.name
        for d in node.config.agreement.outgoing(node.party_id)
        if d.delivery == "pull" and d.receiver == party and dataset in (None, d.name)
    ]
    if not names:
        return {"batches": []}
    b = outbound_batches.c
    with node.store.read() as conn:
        rows = conn.execute(
            select(b.batch_id, b.dataset, b.sequence, b.chunk_count, b.record_count)
            .where(b.receiver == party, b.dataset.in_(names), b.status == "sealed")
            .order_by(b.created_at, b.sequence, b.batch_id)
            .limit(limit)
        ).all()
    return {
        "batches": [
            {
                "batch_id": r.batch_id,
                "dataset": r.dataset,
                "sequence": r.sequence,
                "chunk_count": r.chunk_count,
                "record_count": r.record_count,
            }
            for r in rows
        ]
    }


def _outbox_row(
    node: Node, party: str, batch_id: str, *, statuses: Iterable[str] = ("sealed",)
) -> tuple[Any, DatasetAgreement]:
    """A batch of a pull flow to ``party`` in one of ``statuses``, with its flow.

    Anything else (unknown, another party's, a push flow's, cancelled, dead) is
    the same :class:`NotFound`, so that nothing can be learnt by probing.
    """
    if not BATCH_ID.fullmatch(batch_id):  # PostgreSQL would refuse some, e.g. a NUL
        raise NotFound(f"no batch {batch_id!r} for this party", path="batch_id")
    with node.store.read() as conn:
        row = (
            conn.execute(select(outbound_batches).where(outbound_batches.c.batch_id == batch_id))
            .mappings()
            .first()
        )
    flow = None
    if row is not None and row["receiver"] == party and row["status"] in statuses:
        flow = _outgoing_pull_flow(node, row["dataset"], party)
    if row is None or flow is None:
        raise NotFound(f"no batch {batch_id!r} in the outbox for this party", path="batch_id")
    return row, flow


def outbox_envelope(node: Node, party: str, batch_id: str) -> str:
    """The stored envelope of a sealed batch: the whole batch, or a chunked one's manifest."""
    row, _ = _outbox_row(node, party, batch_id)
    return str(row["envelope"])


def outbox_chunk(node: Node, party: str, batch_id: str, index: int) -> bytes:
    """Chunk ``index`` of a sealed chunked batch, sealed now from its stored records."""
    row, flow = _outbox_row(node, party, batch_id)
    if not 0 <= index < int(row["chunk_count"]) or row["chunk_count"] < 2:
        raise NotFound(f"batch {batch_id!r} has no chunk {index}", path="index")
    return sending.seal_stored_chunk(node, flow, sending.stored_header(node, row), index)


def take_receipt(node: Node, party: str, batch_id: str, receipt: str) -> dict[str, Any]:
    """The receiver's receipt for a pulled batch: the batch is delivered if it verifies.

    Idempotent: the receipt of a batch already delivered is answered the same way.
    A receipt that does not verify raises :class:`ReceiptRejected`, audited, and
    the batch stays sealed.
    """
    row, _ = _outbox_row(node, party, batch_id, statuses=("sealed", "delivered"))
    answer = {"batch_id": batch_id, "status": "delivered"}
    try:
        if row["status"] == "delivered":
            if receipt != row["receipt"]:
                # Another receipt for it: it must verify too; the first one stays.
                verify_receipt(
                    receipt,
                    peer_keys=node.peers,
                    receiver=party,
                    batch_id=batch_id,
                    records_sha256=row["records_sha256"],
                    records_root=row["records_root"],
                )
            return answer
        sending.accept_receipt(node, row, receipt)
    except VerificationFailed as exc:
        log.warning("receipt for batch %s from %s rejected: %s", batch_id, party, exc)
        with node.store.write() as conn:
            audit_entries.append(
                conn,
                event="receipt_rejected",
                actor=party,
                at=node.now(),
                peer=party,
                dataset=row["dataset"],
                batch_id=batch_id,
                reason="bad_receipt",
                receipt_sha256=hashlib.sha256(receipt.encode("utf-8", "replace")).hexdigest(),
            )
        raise ReceiptRejected("receipt rejected") from None
    log.info("batch %s pulled by %s: delivered", batch_id, party)
    receiving.checkpoint_after(node, batch_id)
    return answer


# What the sender records as the reason of a batch its pulling receiver refused.
REFUSED = "refused_by_receiver"


def take_refusal(node: Node, party: str, batch_id: str) -> dict[str, Any]:
    """The pulling receiver refused a batch it fetched: dead-letter it here; idempotent.

    The receiver says no reason (a peer learns nothing from a refusal; its operator
    has the reason in its audit log, by batch id). The batch is no longer listed;
    ``gateway transfer retry`` offers it again, ``gateway transfer cancel`` ends it.
    """
    row, _ = _outbox_row(node, party, batch_id, statuses=("sealed", "dead"))
    answer = {"batch_id": batch_id, "status": "dead"}
    if row["status"] == "dead":
        return answer
    b = outbound_batches.c
    now = node.now()
    attempts = int(row["attempts"]) + 1
    common = {"dataset": row["dataset"], "batch_id": batch_id, "peer": party}
    with node.store.write() as conn:
        marked = conn.execute(
            update(outbound_batches)
            .where(b.batch_id == batch_id, b.status == "sealed")
            .values(
                status="dead",
                attempts=attempts,
                last_attempt_at=iso(now),
                last_error=REFUSED,
                next_attempt_at=None,
            )
        )
        if marked.rowcount == 0:
            return answer  # dead or delivered meanwhile
        for event in ("batch_send_failed", "batch_dead_lettered"):
            audit_entries.append(
                conn,
                event=event,
                actor=party,
                at=now,
                **common,
                reason=REFUSED,
                attempts=attempts,
            )
    log.error(
        "batch %s: refused by %s, which pulled it; dead (its operator has the reason, by "
        "batch id); 'gateway transfer retry %s' offers it again",
        batch_id,
        party,
        batch_id,
    )
    return answer


# -- the receiver's side: the pull job --------------------------------------------------------

# Refusals that are not final: they come before the envelope's signature is known to be
# the sender's (an answer damaged on the way, or by someone on it, must not make this
# node give up a batch, nor tell the sender to), or from a key or limit that an update of
# the agreement may change. A batch refused so is fetched again at the next run. (A
# "header" or "malformed" after the signature verified is counted here too.) And a chunk
# whose transfer expired between the manifest and it (no_manifest): the next run starts
# the batch again from its manifest.
_NOT_FINAL = frozenset(
    {
        "size",
        "recipient_key",
        "decrypt",
        "header",
        "malformed",
        "unknown_key",
        "signature",
        "no_manifest",
    }
)

# (method, url, headers, body, timeout) -> (status, body). Tests cut the network here.
Requester = Callable[[str, str, Mapping[str, str], bytes, float], tuple[int, bytes]]


def http_request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    timeout: float,
    *,
    max_bytes: int = 16 * 1024 * 1024,
) -> tuple[int, bytes]:
    """One HTTP exchange with ``requests``; an answer over ``max_bytes`` raises PeerError."""
    import requests

    with requests.request(
        method,
        url,
        data=body or None,
        headers=dict(headers),
        timeout=timeout,
        stream=True,
        allow_redirects=False,
        **outbound_tls.tls_for(url),
    ) as response:
        parts: list[bytes] = []
        size = 0
        for part in response.iter_content(chunk_size=256 * 1024):
            size += len(part)
            if size > max_bytes:
                raise PeerError(f"{method} {url}: the answer is over {max_bytes} bytes")
            parts.append(part)
        return response.status_code, b"".join(parts)


@dataclass
class PullReport:
    received: list[str] = field(default_factory=list)  # batches taken in (or held already)
    delivered: list[str] = field(default_factory=list)  # and the sender took the receipt
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # flows whose run stopped early
    unreachable: list[str] = field(default_factory=list)  # senders that did not answer
    refused: list[str] = field(default_factory=list)  # refused here, not to be fetched again


class _Sender:
    """The sending party's node, asked with requests signed by this node."""

    def __init__(self, node: Node, party: Party, request: Requester) -> None:
        self.node = node
        self.party = party
        self.request = request

    def call(
        self, method: str, target: str, body: bytes = b"", *, content_type: str | None = None
    ) -> tuple[int, bytes]:
        """``target``: the path and query string under the sender's base URL."""
        url = self.party.base_url + target
        headers = signed_requests.headers(self.node, self.party, method, url, body)
        if content_type is not None:
            headers["Content-Type"] = content_type
        return self.request(method, url, headers, body, self.node.config.peer_timeout_seconds)


def _error_code(body: bytes) -> str | None:
    try:
        error = strict_json.loads(body).get("error")
    except (ValueError, AttributeError):
        return None
    code = error.get("code") if isinstance(error, dict) else None
    return str(code)[:64] if code is not None else None


@dataclass(frozen=True)
class _Listed:
    batch_id: str
    chunk_count: int


def _listing(body: bytes, dataset: str) -> list[_Listed]:
    """The listed batches of ``dataset``; raises PeerError if the answer is not a listing."""
    try:
        items = strict_json.loads(body)["batches"]
        listed = []
        for item in items:
            batch_id, chunks = item["batch_id"], item["chunk_count"]
            # The id goes into a URL: it must be what the sender seals, a lower-case UUID.
            if not isinstance(batch_id, str) or not BATCH_ID.fullmatch(batch_id):
                raise ValueError("batch_id is not a lower-case UUID")
            if type(chunks) is not int or chunks < 1:
                raise ValueError("chunk_count is not a positive integer")
            if item.get("dataset") == dataset:
                listed.append(_Listed(batch_id, chunks))
    except (ValueError, KeyError, TypeError) as exc:
        raise PeerError(f"the outbox listing is malformed: {exc}") from None
    return listed


def _pull_flow(node: Node, flow: DatasetAgreement, request: Requester, report: PullReport) -> None:
    """Fetch and receive every batch the sender lists for one pull flow, oldest first."""
    sender = _Sender(node, node.config.agreement.party(flow.sender), request)
    tried: set[str] = set()
    while True:
        query = urlencode({"dataset": flow.name, "limit": DEFAULT_LIMIT})
        status, body = sender.call("GET", f"{OUTBOX_PATH}?{query}")
        if status != 200:
            log.warning(
                "pull of %s from %s: the outbox answered HTTP %s (%s)",
                flow.name,
                flow.sender,
                status,
                _error_code(body),
            )
            report.errors.append(flow.name)
            return
        try:
            listed = _listing(body, flow.name)
        except PeerError as exc:
            log.warning("pull of %s from %s: %s", flow.name, flow.sender, exc)
            report.errors.append(flow.name)
            return
        new = [item for item in listed if item.batch_id not in tried]
        refused = _refusals(node, flow.sender, [item.batch_id for item in new])
        for item in new:
            tried.add(item.batch_id)
            if item.batch_id in refused:
                reported = refused[item.batch_id]
                if reported is None:
                    # Refused before, and the sender not yet told: tell it, fetch nothing.
                    _report_refusal(sender, item.batch_id)
                    report.refused.append(item.batch_id)
                    continue
                # The sender took the refusal, and lists the batch again: its operator
                # retried it. It is fetched, and checked, once more.
                _forget_refusal(node, item.batch_id)
                log.info(
                    "batch %s, refused before, offered again by %s: fetched again",
                    item.batch_id,
                    flow.sender,
                )
            _pull_batch(sender, item, report, flow.name)
        # A batch refused here for good is not fetched again (see _pull_batch); only
        # a full page with something new in it is worth asking again for.
        if not new or len(listed) < DEFAULT_LIMIT:
            return


def _pull_batch(sender: _Sender, item: _Listed, report: PullReport, dataset: str) -> None:
    """Fetch one batch, receive it as if it had been pushed, and hand back its receipt."""
    node, batch_id = sender.node, item.batch_id
    base = f"{OUTBOX_PATH}/{batch_id}"
    status, envelope = sender.call("GET", base)
    if status != 200:
        log.warning(
            "pull of batch %s from %s: HTTP %s (%s)",
            batch_id,
            sender.party.id,
            status,
            _error_code(envelope),
        )
        report.failed.append(batch_id)
        return
    try:
        receipt = (
            _receive_chunked(sender, batch_id, envelope.strip())
            if item.chunk_count > 1
            else _receive_whole(node, batch_id, envelope.strip())
        )
    except EnvelopeRejected as exc:
        # Audited and logged with its detail where it was refused.
        log.warning("pulled batch %s from %s refused (%s)", batch_id, sender.party.id, exc.reason)
        report.failed.append(batch_id)
        if exc.reason not in _NOT_FINAL:
            # The sender's signed batch, refused: it would be refused the same way at
            # every run. Remembered, not fetched again, and the sender told.
            _remember_refusal(node, batch_id, sender.party.id, dataset, exc.reason)
            report.refused.append(batch_id)
            _report_refusal(sender, batch_id)
        return
    except PeerError as exc:
        log.warning("pull of batch %s from %s: %s", batch_id, sender.party.id, exc)
        report.failed.append(batch_id)
        return
    report.received.append(batch_id)
    body = canonical.dumps({"receipt": receipt})
    status, answer = sender.call("POST", f"{base}/receipt", body, content_type=JSON_MEDIA_TYPE)
    if status != 200:
        log.warning(
            "receipt for pulled batch %s not taken by %s: HTTP %s (%s)",
            batch_id,
            sender.party.id,
            status,
            _error_code(answer),
        )
        report.failed.append(batch_id)
        return
    report.delivered.append(batch_id)


def _refusals(node: Node, sender: str, batch_ids: list[str]) -> dict[str, str | None]:
    """Of ``batch_ids``, those this node refused from ``sender``: when the sender was told."""
    if not batch_ids:
        return {}
    r = pull_refusals.c
    with node.store.read() as conn:
        rows = conn.execute(
            select(r.batch_id, r.reported_at).where(r.sender == sender, r.batch_id.in_(batch_ids))
        ).all()
    return {row.batch_id: row.reported_at for row in rows}


def _remember_refusal(node: Node, batch_id: str, sender: str, dataset: str, reason: str) -> None:
    r = pull_refusals.c
    with node.store.write() as conn:
        if conn.execute(select(r.batch_id).where(r.batch_id == batch_id)).first() is None:
            conn.execute(
                pull_refusals.insert().values(
                    batch_id=batch_id,
                    sender=sender,
                    dataset=dataset,
                    reason=reason,
                    refused_at=iso(node.now()),
                    reported_at=None,
                )
            )


def _forget_refusal(node: Node, batch_id: str) -> None:
    with node.store.write() as conn:
        conn.execute(delete(pull_refusals).where(pull_refusals.c.batch_id == batch_id))


def _report_refusal(sender: _Sender, batch_id: str) -> None:
    """Tell the sender that this node refused the batch (no reason); noted once it took it."""
    status, answer = sender.call(
        "POST",
        f"{OUTBOX_PATH}/{batch_id}/refusal",
        canonical.dumps({}),
        content_type=JSON_MEDIA_TYPE,
    )
    if status != 200:
        log.warning(
            "refusal of pulled batch %s not taken by %s: HTTP %s (%s); told again next run",
            batch_id,
            sender.party.id,
            status,
            _error_code(answer),
        )
        return
    r = pull_refusals.c
    with sender.node.store.write() as conn:
        conn.execute(
            update(pull_refusals)
            .where(r.batch_id == batch_id)
            .values(reported_at=iso(sender.node.now()))
        )


def _receive_whole(node: Node, batch_id: str, token: bytes) -> str:
    delivery = receiving.receive(node, token)
    if delivery.batch_id != batch_id:
        # Stored (it is a batch of the sender's, to us) but not the one asked for.
        raise PeerError(f"served batch {delivery.batch_id} for {batch_id}")
    return delivery.receipt


def _receive_chunked(sender: _Sender, batch_id: str, token: bytes) -> str:
    """The manifest, then each chunk this node does not hold; the last answer is the receipt."""
    node = sender.node
    answer = chunked_receiving.receive_manifest(node, batch_id, token)
    if "receipt" in answer:  # committed already
        return str(answer["receipt"])
    received, total = int(answer["chunks_received"]), int(answer["chunk_count"])
    for index in range(received, total):
        status, envelope = sender.call("GET", f"{OUTBOX_PATH}/{batch_id}/chunks/{index}")
        if status != 200:
            raise PeerError(f"chunk {index}: HTTP {status} ({_error_code(envelope)})")
        answer = chunked_receiving.receive_chunk(node, batch_id, index, envelope.strip())
        if "receipt" in answer:
            return str(answer["receipt"])
    raise PeerError(f"every chunk of batch {batch_id} was taken, yet no receipt came")


def run(
    node: Node,
    *,
    dataset: str | None = None,
    sender: str | None = None,
    request: Requester | None = None,
    exclusive: bool = False,
) -> PullReport:
    """Pull what is sealed for this node, for one pull flow or all of them.

    A sender that cannot be reached ends the run of its flows (the next run
    tries again). ``exclusive``: take each flow's leader lock (as the scheduled
    job does) and skip a flow that is being pulled elsewhere.
    """
    import requests

    flows = pull_flows(node)
    if dataset is not None or sender is not None:
        flows = [f for f in flows if dataset in (None, f.name) and sender in (None, f.sender)]
        if not flows:
            raise GatewayError(
                f"{node.party_id} pulls no dataset named {dataset!r}"
                + (f" from {sender!r}" if sender else "")
            )
    fetch: Requester = request or functools.partial(
        http_request, max_bytes=node.config.max_body_bytes
    )
    report = PullReport()
    for flow in flows:
        if flow.sender in report.unreachable:
            continue
        try:
            if not exclusive:
                _pull_flow(node, flow, fetch, report)
                continue
            with node.store.try_lock(lock_name(flow)) as leader:
                if not leader:
                    log.info("pull of %s from %s runs elsewhere; skipped", flow.name, flow.sender)
                    continue
                _pull_flow(node, flow, fetch, report)
        except requests.RequestException as exc:
            log.warning(
                "pull of %s: sender %s unreachable: %s", flow.name, flow.sender, type(exc).__name__
            )
            report.errors.append(flow.name)
            report.unreachable.append(flow.sender)
        except Exception:
            # One flow's failure must not hold back the others; the next run retries it.
            log.exception("pull of %s from %s failed", flow.name, flow.sender)
            report.errors.append(flow.name)
    return report
