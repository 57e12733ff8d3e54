"""Verifying audit logs without trusting the node: the auditor's side.

Everything here works from what a node serves (or a bundle it exported) and
from public keys the auditor already trusts (the agreement's registered vkeys):
it recomputes the Merkle tree, checks the checkpoint's signature and its
cosignatures, checks consistency with the last checkpoint the auditor saved,
and names the first entry that is wrong, with what was expected and found.

Nothing here touches a node: what runs on one (exporting a bundle, the keys
the agreement registers) is :mod:`gateway.peers.bundles`.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from gateway.crypto import strict_json
from gateway.errors import GatewayError
from gateway.tlog import merkle, note

if TYPE_CHECKING:  # imported where a client is made: the node's workers make none
    import requests

__all__ = [
    "BUNDLE_FORMAT",
    "PAGE",
    "Gap",
    "LogClient",
    "LogReport",
    "LogSource",
    "Problem",
    "Reconciliation",
    "SavedState",
    "TrustedKeys",
    "VerificationError",
    "cross_check",
    "keys_from_bundle",
    "open_checkpoint",
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


class VerificationError(GatewayError):
    """The log or bundle does not verify; ``problem`` says what and where."""

    code = "log_verification_failed"
    internal = True

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
    latest_size: int | None = None  # of the newest checkpoint, witnessed or not

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

_STATE_MAGIC = b"gateway-audit-state/v1\n"


@dataclass
class SavedState:
    """What an auditor verified last time, kept locally: the checkpoint and every leaf hash.

    With it, a later run catches a rollback (a smaller checkpoint), a fork (a
    checkpoint inconsistent with the saved one) and names any entry changed
    since (its leaf hash differs from the one saved). One file, replaced
    atomically; runs on the same folder take turns on a lock file.
    """

    directory: Path

    @property
    def _file(self) -> Path:
        return self.directory / "state"

    @contextmanager
    def locked(self) -> Iterator[None]:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fh = open(self.directory / "lock", "a+b")  # noqa: SIM115
        except OSError as exc:
            raise VerificationError(Problem(f"cannot use the state folder: {exc}")) from None
        with fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield

    def load(self) -> tuple[str, bytes] | None:
        """The saved checkpoint note and leaf hashes, or None if nothing was saved."""
        try:
            data = self._file.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise VerificationError(Problem(f"cannot read the saved state: {exc}")) from None
        try:
            if not data.startswith(_STATE_MAGIC):
                raise ValueError("not a state file")
            rest = data[len(_STATE_MAGIC) :]
            length, _, rest = rest.partition(b"\n")
            note_length = int(length)
            saved = rest[:note_length].decode("utf-8")
            leaves = rest[note_length:]
            if len(leaves) % 32:
                raise ValueError("truncated")
        except (ValueError, UnicodeDecodeError):
            raise VerificationError(
                Problem(f"the saved state {self._file} is damaged; move it away to start afresh")
            ) from None
        return saved, leaves

    def save(self, checkpoint: str, leaves: Sequence[bytes]) -> None:
        note_bytes = checkpoint.encode("utf-8")
        try:
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".state-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(_STATE_MAGIC + str(len(note_bytes)).encode() + b"\n" + note_bytes)
                    fh.write(b"".join(leaves))
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self._file)
            except BaseException:
                with suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise
            dir_fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            raise VerificationError(Problem(f"cannot save the verified state: {exc}")) from None


# -- fetching from a node ------------------------------------------------------------------

# Bounds on what a node may make the verifier do.
MAX_PAGES = 100_000


def _malformed(path: str, what: str) -> VerificationError:
    return VerificationError(Problem(f"the node's answer to {path} is malformed: {what}"))


class LogSource(Protocol):
    """Where a log is read from for verification: a node's auditor API (:class:`LogClient`),
    or the node's own database when the node checks itself (the auditor console)."""

    def checkpoint(self, size: int | None = None, *, cosigned: int = 0) -> str:
        """The latest checkpoint (or that of ``size``) with its cosignatures; with
        ``cosigned``, the latest that carries at least that many."""
        ...

    def entry_pages(self, start: int, end: int) -> Iterator[list[tuple[int, str, str]]]: ...

    def consistency(self, old: int, new: int) -> list[bytes]: ...

    def checkpoints(self) -> Iterator[str]: ...


class LogClient:
    """The auditor API of one node. Every answer is checked before it is used."""

    def __init__(
        self, base_url: str, token: str, *, session: requests.Session | None = None
    ) -> None:
        import requests

        self.base_url = base_url.rstrip("/") + "/api/v1/audit"
        self.session = session or requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def _get(self, path: str, **params: Any) -> requests.Response:
        answer = self.session.get(self.base_url + path, params=params, timeout=60)
        if answer.status_code != 200:
            try:
                detail = strict_json.loads(answer.content)["error"]["message"]
            except (ValueError, KeyError, TypeError):
                detail = answer.text[:200]
            raise VerificationError(
                Problem(f"the node answered {path} with HTTP {answer.status_code}: {detail}")
            )
        return answer

    def _json(self, path: str, **params: Any) -> dict[str, Any]:
        try:
            data = strict_json.loads(self._get(path, **params).content)
        except ValueError:
            raise _malformed(path, "not JSON") from None
        if not isinstance(data, dict):
            raise _malformed(path, "not a JSON object")
        return data

    def _pages(self, path: str, member: str, **params: Any) -> Iterator[dict[str, Any]]:
        after: int | None = None
        for _ in range(MAX_PAGES):
            data = self._json(path, **params, **({} if after is None else {"after": after}))
            items, following = data.get(member), data.get("next_after")
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                raise _malformed(path, f"{member} is not a list of objects")
            yield from items
            if following is None:
                return
            if not isinstance(following, int) or (after is not None and following <= after):
                raise _malformed(path, "next_after does not move forward")
            after = following
        raise _malformed(path, f"more than {MAX_PAGES} pages")

    def checkpoint(self, size: int | None = None, *, cosigned: int = 0) -> str:
        params: dict[str, Any] = {} if size is None else {"size": size}
        if cosigned:
            params["cosigned"] = int(cosigned)
        return self._get("/checkpoint", **params).text

    def entry_pages(self, start: int, end: int) -> Iterator[list[tuple[int, str, str]]]:
        """Entries [start, end) as pages of ``(index, leaf hash or "-", entry)``.

        The next page is fetched while the caller checks the current one.
        """

        def fetch(a: int) -> list[tuple[int, str, str]]:
            text = self._get("/entries", start=a, end=min(end, a + PAGE), format="lines").text
            page = []
            for line in text.splitlines():
                index, _, rest = line.partition(" ")
                leaf, _, entry = rest.partition(" ")
                if not (index.isascii() and index.isdigit()) or not entry:
                    raise _malformed(
                        "/entries", f"a line is not '<index> <leaf> <entry>': {line[:80]!r}"
                    )
                page.append((int(index), leaf, entry))
            return page

        with ThreadPoolExecutor(max_workers=1) as pool:
            following = pool.submit(fetch, start) if start < end else None
            while following is not None:
                page = following.result()
                start = min(end, start + PAGE)
                complete = len(page) == PAGE
                following = pool.submit(fetch, start) if complete and start < end else None
                yield page
                if not complete:
                    return

    def consistency(self, old: int, new: int) -> list[bytes]:
        hashes = self._json("/proof/consistency", old=old, new=new).get("hashes")
        if not isinstance(hashes, list) or not all(isinstance(h, str) for h in hashes):
            raise _malformed("/proof/consistency", "hashes is not a list of strings")
        return [_b64decode(h, "a proof hash") for h in hashes]

    def checkpoints(self) -> Iterator[str]:
        """Every checkpoint the node signed, oldest first (signed notes, unverified)."""
        for item in self._pages("/checkpoints", "checkpoints"):
            yield str(item.get("checkpoint", ""))

    def witnessed(self) -> list[dict[str, Any]]:
        """The peers' checkpoints this node last cosigned as a witness (unverified)."""
        logs = self._json("/witnessed").get("logs")
        if not isinstance(logs, list) or not all(isinstance(i, dict) for i in logs):
            raise _malformed("/witnessed", "logs is not a list of objects")
        return logs

    def search(self, **params: Any) -> Iterator[dict[str, Any]]:
        yield from self._pages("/search", "entries", limit=1000, **params)


# -- verifying a whole log -----------------------------------------------------------------


def _check_entry(position: int, text: Any) -> tuple[bytes, Problem | None]:
    """The leaf hash of one entry, and a problem if the entry is not well-formed there."""
    if not isinstance(text, str):
        return merkle.leaf_hash(b""), Problem("the entry is not text", index=position)
    return merkle.leaf_hash(text.encode("utf-8")), _entry_problem(position, text)


def _entry_problem(position: int, text: str) -> Problem | None:
    try:
        entry = strict_json.loads(text)
    except ValueError as exc:  # strict_json.InvalidJSON: says what, never a value
        return Problem("the entry is not JSON", index=position, found=str(exc))
    if not isinstance(entry, dict):
        return Problem("the entry is not a JSON object", index=position)
    if entry.get("index") != position:
        return Problem(
            "the entry is out of place (an entry was deleted, inserted or moved)",
            index=position,
            expected=f"index {position}",
            found=f"index {entry.get('index')!r}",
        )
    if entry.get("v") != ENTRY_VERSION:
        return Problem(
            "unknown entry version",
            index=position,
            expected=str(ENTRY_VERSION),
            found=repr(entry.get("v")),
        )
    return None


def verify_log(
    client: LogSource,
    keys: TrustedKeys,
    *,
    state: SavedState | None = None,
    progress: Callable[[int, int], None] | None = None,
    keep_entries: bool = False,
    min_cosignatures: int = 1,
) -> LogReport:
    """Fetch and verify a node's whole log against its latest witnessed checkpoint.

    The checkpoint must carry at least ``min_cosignatures`` valid cosignatures
    by witnesses the auditor trusts: the operator holds the log key and could
    re-sign a rewritten history, but cannot make the other party's witness
    cosign it. Raises :class:`VerificationError` for a checkpoint that cannot be
    trusted; otherwise returns a report whose ``problems`` name the first bad
    entry. The saved state is updated only when everything verifies, and only
    from a cosigned checkpoint.
    """
    if state is None:
        return _verify_log(client, keys, None, progress, keep_entries, min_cosignatures)
    with state.locked():
        return _verify_log(client, keys, state, progress, keep_entries, min_cosignatures)


def _require_cosigned(checkpoint: note.Checkpoint, cosigners: Sequence[Any], wanted: int) -> None:
    if len(cosigners) < wanted:
        raise VerificationError(
            Problem(
                f"checkpoint {checkpoint.size} is not witnessed: it carries {len(cosigners)} "
                f"valid cosignature(s) by the agreement's witnesses, {wanted} required",
            )
        )


def _verify_log(
    client: LogSource,
    keys: TrustedKeys,
    state: SavedState | None,
    progress: Callable[[int, int], None] | None,
    keep_entries: bool,
    min_cosignatures: int,
) -> LogReport:
    signed = client.checkpoint(cosigned=min_cosignatures)
    checkpoint, _, cosigners = open_checkpoint(signed, keys)
    _require_cosigned(checkpoint, cosigners, min_cosignatures)
    report = LogReport(checkpoint.origin, checkpoint.size, checkpoint.root_hash, signed, cosigners)
    if min_cosignatures > 0:
        latest, _, _ = open_checkpoint(client.checkpoint(), keys)
        report.latest_size = latest.size

    saved_leaves = b""
    loaded = state.load() if state is not None else None
    if loaded is not None:
        saved, saved_leaves = loaded
        previous, _, _ = open_checkpoint(saved, keys)
        report.previous_size = previous.size
        problem = _against_saved(client, previous, checkpoint)
        if problem is not None:
            report.problems.append(problem)
            return report

    leaves = _read_leaves(client, checkpoint, saved_leaves, report, progress, keep_entries)
    if leaves is None:
        return report
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
    if state is not None and cosigners:
        state.save(signed, leaves)
    return report


def _against_saved(
    client: LogSource, previous: note.Checkpoint, checkpoint: note.Checkpoint
) -> Problem | None:
    """A rollback or a fork since the checkpoint the auditor verified before, if there is one."""
    if previous.size > checkpoint.size:
        return Problem(
            "rollback: the log's latest checkpoint is smaller than the one you verified before",
            expected=f"size at least {previous.size}",
            found=f"size {checkpoint.size}",
        )
    try:
        merkle.verify_consistency(
            previous.size,
            checkpoint.size,
            previous.root_hash,
            checkpoint.root_hash,
            client.consistency(previous.size, checkpoint.size) if previous.size else [],
        )
    except merkle.ProofError as exc:
        return Problem(
            f"fork: checkpoint {checkpoint.size} is not consistent with checkpoint "
            f"{previous.size} that you verified before ({exc})"
        )
    return None


def _read_leaves(
    client: LogSource,
    checkpoint: note.Checkpoint,
    saved_leaves: bytes,
    report: LogReport,
    progress: Callable[[int, int], None] | None,
    keep_entries: bool,
) -> list[bytes] | None:
    """The leaf hashes of the entries the node serves up to the checkpoint, each checked.

    None when an entry is wrong: the report names it. Entries the auditor verified
    before (``saved_leaves``) need only be unchanged.
    """
    leaves: list[bytes] = []
    items = (item for page in client.entry_pages(0, checkpoint.size) for item in page)
    saved_count = len(saved_leaves) // 32
    leaf_hash = merkle.leaf_hash
    for position, (index, served, text) in enumerate(items):
        leaf = leaf_hash(text.encode("utf-8"))
        if position < saved_count:
            before = saved_leaves[position * 32 : position * 32 + 32]
            problem = _changed_problem(position, before, leaf)
        else:
            problem = _served_problem(position, served, text, leaf)
        if problem is None and index != position:
            problem = Problem(
                "the node served entries out of order", index=position, found=f"index {index}"
            )
        if problem is not None:
            report.problems.append(problem)
            return None
        leaves.append(leaf)
        if keep_entries:
            report.entries.append(text)
        if progress is not None:
            progress(len(leaves), checkpoint.size)
    report.entries_checked = len(leaves)
    return leaves


def _changed_problem(position: int, before: bytes, leaf: bytes) -> Problem | None:
    """An entry checked in full when it was verified before: now it must just be unchanged."""
    if before == leaf:
        return None
    return Problem(
        "the entry changed since you verified it",
        index=position,
        expected=f"leaf hash {_hex(before)}",
        found=f"leaf hash {_hex(leaf)}",
    )


def _served_problem(position: int, served: str, text: str, leaf: bytes) -> Problem | None:
    """A problem with an entry not verified before: its form, and the leaf hash the node
    served with it (``-`` for none)."""
    problem = _entry_problem(position, text)
    if problem is None and served != "-":
        held = _b64decode(served, "a leaf hash")
        if held != leaf:
            problem = Problem(
                "the entry does not hash to the leaf the log's tree holds",
                index=position,
                expected=f"leaf hash {_hex(held)}",
                found=f"leaf hash {_hex(leaf)} (recomputed from the entry)",
            )
    return problem


def _locate(
    client: LogSource,
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
    bundle: Any,
    keys: TrustedKeys,
    *,
    state: SavedState | None = None,
    min_cosignatures: int = 1,
) -> LogReport:
    """Verify every entry of a bundle by its inclusion proof in the bundle's checkpoint.

    The checkpoint must be cosigned by ``min_cosignatures`` trusted witnesses.
    With a saved state, a checkpoint of the saved size must be the saved one;
    other sizes cannot be related to it offline (no consistency proof travels
    in a bundle), which the report says.
    """
    if not isinstance(bundle, Mapping) or bundle.get("format") != BUNDLE_FORMAT:
        raise VerificationError(Problem("not an audit bundle", expected=BUNDLE_FORMAT))
    checkpoint, _, cosigners = open_checkpoint(str(bundle.get("checkpoint", "")), keys)
    _require_cosigned(checkpoint, cosigners, min_cosignatures)
    report = LogReport(
        checkpoint.origin, checkpoint.size, checkpoint.root_hash, bundle["checkpoint"], cosigners
    )
    loaded = state.load() if state is not None else None
    if loaded is not None:
        previous, _, _ = open_checkpoint(loaded[0], keys)
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
        if problem is None and index >= checkpoint.size:
            problem = Problem("the entry is beyond the checkpoint", index=index)
        if problem is None and strict_json.loads(item["entry"]).get("batch_id") != batch_id:
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
    # Not gaps: the other log's witnessed part ends before the batch could be in it.
    pending: list[Gap] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.gaps


@dataclass(frozen=True)
class _Route:
    """One direction of the exchange: the events of its batches in the two logs, by batch id."""

    sender: str
    receiver: str
    sealed: dict[str, dict[str, Any]]
    verified: dict[str, dict[str, Any]]
    sent: dict[str, dict[str, Any]]
    received: dict[str, dict[str, Any]]
    refused: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class _Finding:
    """What is wrong with one batch. ``awaited`` is the event after which ``log_of``'s log
    should hold what is missing: when that log ends before it, the batch is pending."""

    problem: str
    awaited: dict[str, Any] | None = None
    log_of: str = ""


def _route(events: Mapping[str, list[dict[str, Any]]], sender: str, receiver: str) -> _Route:
    def by_batch(party: str, event: str, peer: str) -> dict[str, dict[str, Any]]:
        return {
            e["batch_id"]: e
            for e in events[party]
            if e.get("event") == event
            and e.get("peer") == peer
            and isinstance(e.get("batch_id"), str)
        }

    return _Route(
        sender,
        receiver,
        sealed=by_batch(sender, "batch_sealed", receiver),
        verified=by_batch(sender, "receipt_verified", receiver),
        sent=by_batch(sender, "batch_sent", receiver),
        received=by_batch(receiver, "batch_received", sender),
        refused=by_batch(receiver, "envelope_rejected", sender),
    )


def reconcile(logs: Mapping[str, Sequence[str]]) -> Reconciliation:
    """Compare two parties' verified logs: every batch sent is received, with equal digests.

    ``logs`` maps each party id to its log's entries (their JSON texts, as
    :func:`verify_log` keeps them). A batch is matched when the sender sealed it,
    the receiver stored it with the same records digest, record count, schema
    version and envelope digest, and the receipt the sender verified is the one
    the receiver issued. The two logs are witnessed at different moments: what
    one log could not hold yet (its last entry is older than the other side's
    event) is *pending*, not a gap.
    """
    parties = list(logs)
    if len(parties) != 2:
        raise ValueError("reconcile compares exactly two logs")
    events: dict[str, list[dict[str, Any]]] = {}
    for party in parties:
        parsed = (strict_json.loads(text) for text in logs[party])
        events[party] = [e for e in parsed if isinstance(e, dict)]
    horizon = {p: max((str(e.get("at", "")) for e in events[p]), default="") for p in parties}
    result = Reconciliation()
    for sender in parties:
        route = _route(events, sender, next(p for p in parties if p != sender))
        for batch_id in sorted(set(route.sealed) | set(route.received)):
            result.batches += 1
            finding = _check_batch(route, batch_id)
            if finding is None:
                result.matched += 1
                continue
            s, r = route.sealed.get(batch_id), route.received.get(batch_id)
            dataset = (s or r or {}).get("dataset")
            gap = Gap(batch_id, dataset, route.sender, route.receiver, finding.problem)
            awaited, log_of = finding.awaited, finding.log_of
            if awaited is not None and horizon[log_of] < str(awaited.get("at", "")):
                gap.problem += f" (pending: {log_of}'s witnessed log ends before it)"
                result.pending.append(gap)
            else:
                result.gaps.append(gap)
    return result


def _check_batch(route: _Route, batch_id: str) -> _Finding | None:
    """What is wrong with one batch of a route, or None when its two logs match."""
    sender, receiver = route.sender, route.receiver
    s, r = route.sealed.get(batch_id), route.received.get(batch_id)
    if s is None:
        assert r is not None
        return _Finding(f"received by {receiver} but never sealed by {sender}", r, sender)
    if r is None:
        if batch_id in route.refused:
            reason = route.refused[batch_id].get("reason")
            return _Finding(f"sealed by {sender}, refused by {receiver} ({reason})")
        if batch_id in route.verified:
            return _Finding(
                f"{sender} holds a verified receipt but {receiver} has no record of it",
                route.verified[batch_id],
                receiver,
            )
        return _Finding(f"sealed by {sender}, not (yet) received by {receiver}", s, receiver)
    mismatches = [
        name
        for name in ("records_sha256", "record_count", "dataset", "schema_version", "sequence")
        if s.get(name) != r.get(name)
    ]
    envelope = (route.sent.get(batch_id) or s).get("envelope_sha256")
    if envelope != r.get("envelope_sha256"):
        mismatches.append("envelope_sha256")
    if mismatches:
        return _Finding(f"{', '.join(mismatches)} differ between the two logs")
    receipt = route.verified.get(batch_id)
    if receipt is None:
        return _Finding(
            f"received by {receiver}, but {sender} has not verified a receipt", r, sender
        )
    if receipt.get("receipt_sha256") != r.get("receipt_sha256"):
        return _Finding("the receipt the sender verified is not the one the receiver issued")
    return None


def cross_check(
    report: LogReport, witnessed_by_peer: Sequence[Mapping[str, Any]], keys: TrustedKeys
) -> Problem | None:
    """Whether a log serves at least what the other party's witness last cosigned of it.

    A log that hides its newer entries (or went back to an older state) serves
    a witnessed checkpoint smaller than the one the peer's witness holds.
    """
    for item in witnessed_by_peer:
        if item.get("origin") != report.origin:
            continue
        held, _, _ = open_checkpoint(str(item.get("checkpoint", "")), keys)
        if held.size > max(report.size, report.latest_size or 0):
            return Problem(
                "the log serves less than the other party's witness cosigned",
                expected=f"a witnessed checkpoint of size at least {held.size}",
                found=f"size {report.size}",
            )
    return None
