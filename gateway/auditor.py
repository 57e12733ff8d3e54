"""Verifying audit logs without trusting the node: the auditor's side.

Everything here works from what a node serves (or a bundle it exported) and
from public keys the auditor already trusts (the agreement's registered vkeys):
it recomputes the Merkle tree, checks the checkpoint's signature and its
cosignatures, checks consistency with the last checkpoint the auditor saved,
and names the first entry that is wrong, with what was expected and found.

Nothing here touches a node's database; :func:`export_bundle` is the one
function that runs on a node.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import select

from gateway import merkle, note

__all__ = [
    "BUNDLE_FORMAT",
    "LogClient",
    "LogReport",
    "Problem",
    "SavedState",
    "TrustedKeys",
    "export_bundle",
    "reconcile",
    "verify_bundle",
    "verify_log",
]

BUNDLE_FORMAT = "bekasi-ombudsman-gateway/audit-bundle@v1"
ENTRY_VERSION = 1
PAGE = 10_000


@dataclass(frozen=True)
class Problem:
    """One finding: where, what was expected, what was found."""

    message: str
    index: int | None = None
    expected: str | None = None
    found: str | None = None

    def __str__(self) -> str:
        parts = [self.message if self.index is None else f"entry {self.index}: {self.message}"]
        if self.expected is not None:
            parts.append(f"expected {self.expected}")
        if self.found is not None:
            parts.append(f"found {self.found}")
        return "; ".join(parts)


class VerificationError(Exception):
    """The log or bundle does not verify; ``problem`` says what and where."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


@dataclass(frozen=True)
class TrustedKeys:
    """The public keys an auditor trusts for one log: its own, and its witnesses'."""

    log: note.Verifier
    witnesses: tuple[note.CosignatureVerifier, ...] = ()
    source: str = "the agreement"


@dataclass
class LogReport:
    origin: str
    size: int
    root_hash: bytes
    checkpoint: str
    cosigned_by: list[tuple[str, int]] = field(default_factory=list)
    entries_checked: int = 0
    previous_size: int | None = None
    problems: list[Problem] = field(default_factory=list)
    entries: list[str] = field(default_factory=list)  # kept only when asked for
    party: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


def _hex(data: bytes) -> str:
    return data.hex()


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise VerificationError(Problem(f"{what} is not base64")) from None


# -- checkpoints ---------------------------------------------------------------------------


def open_checkpoint(
    signed: str, keys: TrustedKeys
) -> tuple[note.Checkpoint, str, list[tuple[str, int]]]:
    """Verify a cosigned checkpoint note; the checkpoint, its text and the valid cosigners."""
    try:
        opened = note.open_note(signed, [keys.log])
    except note.SignatureError:
        raise VerificationError(
            Problem(
                f"the checkpoint has no valid signature by the log key {keys.log.name!r}",
                expected=f"a signature by {keys.log.name} ({keys.source})",
                found="none that verifies",
            )
        ) from None
    except note.NoteError as exc:
        raise VerificationError(Problem(f"the checkpoint is malformed: {exc}")) from None
    try:
        checkpoint = note.Checkpoint.from_text(opened.text)
    except note.NoteError as exc:
        raise VerificationError(Problem(f"the checkpoint is malformed: {exc}")) from None
    if checkpoint.origin != keys.log.name:
        raise VerificationError(
            Problem(
                "the checkpoint is of another log", expected=keys.log.name, found=checkpoint.origin
            )
        )
    cosigners: list[tuple[str, int]] = []
    every = note.parse_note(signed).signatures  # open_note keeps the log's signature only
    for witness in keys.witnesses:
        for signature in every:
            if signature.name != witness.name or signature.key_hash != witness.key_hash:
                continue
            try:
                cosigners.append((witness.name, witness.verify(opened.text, signature)))
            except note.SignatureError:
                raise VerificationError(
                    Problem(f"the cosignature of witness {witness.name!r} does not verify")
                ) from None
    return checkpoint, opened.text, cosigners


# -- the auditor's saved state -------------------------------------------------------------


@dataclass
class SavedState:
    """What an auditor verified last time, kept locally: the checkpoint and every leaf hash.

    With it, a later run catches a rollback (a smaller checkpoint), a fork (a
    checkpoint inconsistent with the saved one) and names any entry changed
    since (its leaf hash differs from the one saved).
    """

    directory: Path

    @property
    def _checkpoint_file(self) -> Path:
        return self.directory / "checkpoint"

    @property
    def _leaves_file(self) -> Path:
        return self.directory / "leaves"

    def checkpoint(self) -> str | None:
        try:
            return self._checkpoint_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def leaves(self) -> bytes:
        try:
            return self._leaves_file.read_bytes()
        except FileNotFoundError:
            return b""

    def save(self, checkpoint: str, leaves: Sequence[bytes]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        for path, data in (
            (self._leaves_file, b"".join(leaves)),
            (self._checkpoint_file, checkpoint.encode("utf-8")),
        ):
            tmp = path.with_suffix(".tmp")
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)


# -- fetching from a node ------------------------------------------------------------------


class LogClient:
    """The auditor API of one node."""

    def __init__(
        self, base_url: str, token: str, *, session: requests.Session | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/api/v1/audit"
        self.session = session or requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def _get(self, path: str, **params: Any) -> requests.Response:
        answer = self.session.get(self.base_url + path, params=params, timeout=60)
        if answer.status_code != 200:
            try:
                detail = answer.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                detail = answer.text[:200]
            raise VerificationError(
                Problem(f"the node answered {path} with HTTP {answer.status_code}: {detail}")
            )
        return answer

    def checkpoint(self, size: int | None = None) -> str:
        params = {} if size is None else {"size": size}
        return self._get("/checkpoint", **params).text

    def entries(self, start: int, end: int) -> Iterator[dict[str, Any]]:
        while start < end:
            stop = min(end, start + PAGE)
            page = self._get("/entries", start=start, end=stop).json()["entries"]
            yield from page
            if len(page) < stop - start:
                return
            start = stop

    def consistency(self, old: int, new: int) -> list[bytes]:
        data = self._get("/proof/consistency", old=old, new=new).json()
        return [_b64decode(h, "a proof hash") for h in data["hashes"]]

    def checkpoints(self) -> Iterator[str]:
        """Every checkpoint the node signed, oldest first (signed notes, unverified)."""
        after: int | None = None
        while True:
            data = self._get("/checkpoints", **({} if after is None else {"after": after})).json()
            for item in data["checkpoints"]:
                yield item["checkpoint"]
            after = data["next_after"]
            if after is None:
                return

    def search(self, **params: Any) -> Iterator[dict[str, Any]]:
        after: int | None = None
        while True:
            query = {**params, "limit": 1000, **({} if after is None else {"after": after})}
            data = self._get("/search", **query).json()
            yield from data["entries"]
            after = data["next_after"]
            if after is None:
                return


# -- verifying a whole log -----------------------------------------------------------------


def _check_entry(position: int, text: Any) -> tuple[bytes, Problem | None]:
    """The leaf hash of one entry, and a problem if the entry is not well-formed there."""
    if not isinstance(text, str):
        return merkle.leaf_hash(b""), Problem("the entry is not text", index=position)
    leaf = merkle.leaf_hash(text.encode("utf-8"))
    try:
        entry = json.loads(text)
    except ValueError:
        return leaf, Problem("the entry is not JSON", index=position)
    if not isinstance(entry, dict):
        return leaf, Problem("the entry is not a JSON object", index=position)
    if entry.get("index") != position:
        return leaf, Problem(
            "the entry is out of place (an entry was deleted, inserted or moved)",
            index=position,
            expected=f"index {position}",
            found=f"index {entry.get('index')!r}",
        )
    if entry.get("v") != ENTRY_VERSION:
        return leaf, Problem(
            "unknown entry version",
            index=position,
            expected=str(ENTRY_VERSION),
            found=repr(entry.get("v")),
        )
    return leaf, None


def verify_log(
    client: LogClient,
    keys: TrustedKeys,
    *,
    state: SavedState | None = None,
    progress: Callable[[int, int], None] | None = None,
    keep_entries: bool = False,
) -> LogReport:
    """Fetch and verify a node's whole log against its latest checkpoint.

    Raises :class:`VerificationError` for a checkpoint that cannot be trusted at
    all; otherwise returns a report whose ``problems`` name the first bad entry.
    The saved state is updated only when everything verifies.
    """
    signed = client.checkpoint()
    checkpoint, _, cosigners = open_checkpoint(signed, keys)
    report = LogReport(checkpoint.origin, checkpoint.size, checkpoint.root_hash, signed, cosigners)

    saved_leaves = b""
    if state is not None and (saved := state.checkpoint()) is not None:
        previous, _, _ = open_checkpoint(saved, keys)
        report.previous_size = previous.size
        saved_leaves = state.leaves()
        if previous.size > checkpoint.size:
            report.problems.append(
                Problem(
                    "rollback: the log's latest checkpoint is smaller than the one you "
                    "verified before",
                    expected=f"size at least {previous.size}",
                    found=f"size {checkpoint.size}",
                )
            )
            return report
        try:
            merkle.verify_consistency(
                previous.size,
                checkpoint.size,
                previous.root_hash,
                checkpoint.root_hash,
                client.consistency(previous.size, checkpoint.size) if previous.size else [],
            )
        except merkle.ProofError as exc:
            report.problems.append(
                Problem(
                    f"fork: checkpoint {checkpoint.size} is not consistent with checkpoint "
                    f"{previous.size} that you verified before ({exc})"
                )
            )
            return report

    leaves: list[bytes] = []
    for position, item in enumerate(client.entries(0, checkpoint.size)):
        leaf, problem = _check_entry(position, item.get("entry"))
        if problem is None and position * 32 < len(saved_leaves):
            before = saved_leaves[position * 32 : position * 32 + 32]
            if before != leaf:
                problem = Problem(
                    "the entry changed since you verified it",
                    index=position,
                    expected=f"leaf hash {_hex(before)}",
                    found=f"leaf hash {_hex(leaf)}",
                )
        served = item.get("leaf_hash")
        if problem is None and served is not None:
            held = _b64decode(served, "a leaf hash")
            if held != leaf:
                problem = Problem(
                    "the entry does not hash to the leaf the log's tree holds",
                    index=position,
                    expected=f"leaf hash {_hex(held)}",
                    found=f"leaf hash {_hex(leaf)} (recomputed from the entry)",
                )
        if problem is not None:
            report.problems.append(problem)
            return report
        leaves.append(leaf)
        if keep_entries:
            report.entries.append(item["entry"])
        if progress is not None:
            progress(len(leaves), checkpoint.size)
    report.entries_checked = len(leaves)
    if len(leaves) != checkpoint.size:
        report.problems.append(
            Problem(
                f"entries {len(leaves)}..{checkpoint.size - 1} are missing (the log was truncated)",
                index=len(leaves),
                expected=f"{checkpoint.size} entries (the checkpoint's size)",
                found=f"{len(leaves)}",
            )
        )
        return report
    computed = merkle.root(leaves)
    if computed != checkpoint.root_hash:
        report.problems.append(_locate(client, keys, checkpoint, leaves, computed))
        return report
    if state is not None:
        state.save(signed, leaves)
    return report


def _locate(
    client: LogClient,
    keys: TrustedKeys,
    checkpoint: note.Checkpoint,
    leaves: Sequence[bytes],
    computed: bytes,
) -> Problem:
    """Narrow down which entries the log's signed checkpoints no longer commit to.

    Every checkpoint the node ever signed is a signed commitment to a prefix of
    the log: the first one whose root differs from the root of the same prefix
    of the entries served now bounds the change to the entries since the
    checkpoint before it. (Which entry in that range changed cannot be proven
    from roots alone: the node's own tree was changed with it.)
    """
    tree = merkle.MemoryTree(leaves)
    matched = 0
    for signed in client.checkpoints():
        try:
            earlier, _, _ = open_checkpoint(signed, keys)
        except VerificationError:
            continue  # an unsigned or altered old checkpoint commits to nothing
        if earlier.size > checkpoint.size:
            break
        if tree.root(earlier.size) == earlier.root_hash:
            matched = max(matched, earlier.size)
            continue
        return Problem(
            f"entries {matched}..{earlier.size - 1} were changed: checkpoint {matched} still "
            f"matches, checkpoint {earlier.size} does not",
            index=matched,
            expected=f"root {_hex(earlier.root_hash)} for size {earlier.size} (signed)",
            found=f"root {_hex(tree.root(earlier.size))} recomputed from the entries",
        )
    return Problem(
        "the entries are not the ones the signed checkpoint commits to",
        expected=f"root {_hex(checkpoint.root_hash)} for size {checkpoint.size}",
        found=f"root {_hex(computed)} recomputed from the entries",
    )


# -- bundles -------------------------------------------------------------------------------


def export_bundle(node: Any, batch_id: str) -> dict[str, Any]:
    """The self-contained evidence of one batch on this node (runs on the node)."""
    from gateway import tlog, witness
    from gateway.storage import audit_events

    e = audit_events.c
    with node.store.read() as conn:
        rows = conn.execute(
            select(e.idx, e.entry).where(e.batch_id == batch_id).order_by(e.idx)
        ).all()
        latest = tlog.latest_checkpoint(conn)
    if not rows:
        raise LookupError(f"this node's log has no entry for batch {batch_id}")
    if latest is None or latest.size <= rows[-1].idx:
        witness.publish(node)  # a checkpoint that covers the batch, cosigned where reachable
    with node.store.read() as conn:
        signed = tlog.latest_checkpoint(conn)
        assert signed is not None
        cosigned = tlog.cosigned_note(conn, signed)
        proofs = [tlog.inclusion_proof(conn, r.idx, signed.size) for r in rows]
    party = node.config.party
    own = node.note_keys[party.id]
    return {
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
            for r, p in zip(rows, proofs, strict=True)
        ],
    }


def keys_from_bundle(bundle: Mapping[str, Any]) -> TrustedKeys:
    try:
        return TrustedKeys(
            log=note.Verifier.from_vkey(bundle["keys"]["log"]),
            witnesses=tuple(
                note.CosignatureVerifier.from_vkey(v) for v in bundle["keys"]["witnesses"]
            ),
            source="the bundle itself",
        )
    except (KeyError, TypeError, note.NoteError) as exc:
        raise VerificationError(Problem(f"the bundle's keys are unusable: {exc}")) from None


def verify_bundle(
    bundle: Mapping[str, Any], keys: TrustedKeys, *, state: SavedState | None = None
) -> LogReport:
    """Verify every entry of a bundle by its inclusion proof in the bundle's checkpoint."""
    if not isinstance(bundle, Mapping) or bundle.get("format") != BUNDLE_FORMAT:
        raise VerificationError(Problem("not an audit bundle", expected=BUNDLE_FORMAT))
    checkpoint, _, cosigners = open_checkpoint(str(bundle.get("checkpoint", "")), keys)
    report = LogReport(
        checkpoint.origin, checkpoint.size, checkpoint.root_hash, bundle["checkpoint"], cosigners
    )
    if state is not None and (saved := state.checkpoint()) is not None:
        previous, _, _ = open_checkpoint(saved, keys)
        report.previous_size = previous.size
        if previous.size == checkpoint.size and previous.root_hash != checkpoint.root_hash:
            report.problems.append(
                Problem(
                    f"fork: a different checkpoint of size {checkpoint.size} than the one "
                    "you saved",
                    expected=f"root {_hex(previous.root_hash)}",
                    found=f"root {_hex(checkpoint.root_hash)}",
                )
            )
            return report
    entries = bundle.get("entries")
    if not isinstance(entries, list) or not entries:
        report.problems.append(Problem("the bundle holds no entries"))
        return report
    batch_id = bundle.get("batch_id")
    for item in entries:
        index = item.get("index") if isinstance(item, dict) else None
        if not isinstance(index, int):
            report.problems.append(Problem("an entry without an index"))
            return report
        leaf, problem = _check_entry(index, item.get("entry"))
        if problem is None and json.loads(item["entry"]).get("batch_id") != batch_id:
            problem = Problem("the entry is of another batch", index=index, expected=str(batch_id))
        if problem is None:
            problem = _check_proof(index, leaf, item.get("proof"), checkpoint, keys)
        if problem is not None:
            report.problems.append(problem)
            return report
        report.entries_checked += 1
    return report


def _check_proof(
    index: int, leaf: bytes, text: Any, checkpoint: note.Checkpoint, keys: TrustedKeys
) -> Problem | None:
    try:
        proof = note.parse_tlog_proof(str(text))
    except note.NoteError as exc:
        return Problem(f"the inclusion proof is malformed: {exc}", index=index)
    if proof.index != index:
        return Problem("the proof is for another entry", index=index, found=f"index {proof.index}")
    proved, _, _ = open_checkpoint(proof.checkpoint, keys)
    if (proved.size, proved.root_hash) != (checkpoint.size, checkpoint.root_hash):
        return Problem("the proof is against another checkpoint", index=index)
    try:
        merkle.verify_inclusion(leaf, index, checkpoint.size, proof.hashes, checkpoint.root_hash)
    except merkle.ProofError as exc:
        return Problem(
            "the entry is not in the checkpoint's tree (it was altered)",
            index=index,
            expected=f"root {_hex(checkpoint.root_hash)}",
            found=str(exc),
        )
    return None


# -- reconciliation ------------------------------------------------------------------------


@dataclass
class Gap:
    batch_id: str
    dataset: str | None
    sender: str
    receiver: str
    problem: str

    def __str__(self) -> str:
        route = f"{self.sender} -> {self.receiver}"
        return f"batch {self.batch_id} ({self.dataset}) {route}: {self.problem}"


@dataclass
class Reconciliation:
    batches: int = 0
    matched: int = 0
    gaps: list[Gap] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.gaps


def reconcile(logs: Mapping[str, Sequence[str]]) -> Reconciliation:
    """Compare two parties' verified logs: every batch sent is received, with equal digests.

    ``logs`` maps each party id to its log's entries (their JSON texts, as
    :func:`verify_log` keeps them). A batch is matched when the sender sealed it,
    the receiver stored it
    with the same records digest, record count and envelope digest, and the
    receipt the sender verified is the one the receiver issued.
    """
    parties = list(logs)
    if len(parties) != 2:
        raise ValueError("reconcile compares exactly two logs")
    events = {p: [json.loads(text) for text in logs[p]] for p in parties}
    result = Reconciliation()
    for sender in parties:
        receiver = next(p for p in parties if p != sender)

        def by_batch(party: str, event: str, peer: str) -> dict[str, dict[str, Any]]:
            return {
                e["batch_id"]: e
                for e in events[party]
                if e.get("event") == event and e.get("peer") == peer
            }

        sealed = by_batch(sender, "batch_sealed", receiver)
        verified = by_batch(sender, "receipt_verified", receiver)
        sent = by_batch(sender, "batch_sent", receiver)
        received = by_batch(receiver, "batch_received", sender)
        for batch_id in sorted(set(sealed) | set(received)):
            result.batches += 1
            s, r = sealed.get(batch_id), received.get(batch_id)
            dataset = (s or r or {}).get("dataset")

            def gap(
                problem: str,
                batch_id: str = batch_id,
                dataset: Any = dataset,
                sender: str = sender,
                receiver: str = receiver,
            ) -> None:
                result.gaps.append(Gap(batch_id, dataset, sender, receiver, problem))

            if s is None:
                gap(f"received by {receiver} but never sealed by {sender}")
                continue
            if r is None:
                if batch_id in verified:
                    gap(f"{sender} holds a verified receipt but {receiver} has no record of it")
                else:
                    gap(f"sealed by {sender}, not (yet) received by {receiver}")
                continue
            mismatches = [
                name
                for name in ("records_sha256", "record_count", "dataset", "schema_version")
                if s.get(name) != r.get(name)
            ]
            envelope = (sent.get(batch_id) or s).get("envelope_sha256")
            if envelope != r.get("envelope_sha256"):
                mismatches.append("envelope_sha256")
            if mismatches:
                gap(f"{', '.join(mismatches)} differ between the two logs")
                continue
            receipt = verified.get(batch_id)
            if receipt is None:
                gap(f"received by {receiver}, but {sender} has not verified a receipt")
                continue
            if receipt.get("receipt_sha256") != r.get("receipt_sha256"):
                gap("the receipt the sender verified is not the one the receiver issued")
                continue
            result.matched += 1
    return result


def utc(timestamp: int) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat().replace("+00:00", "Z")
