"""Agreements taken up, updated and ended while the node runs, each an audited event.

Every process of a node (each gunicorn worker, and the process that runs the
schedule) holds its own view of the agreements in force, ``node.config``. An
:class:`AgreementWatch` per process keeps it current without a restart:

* **When it looks.** When the node is opened (:meth:`AgreementWatch.check`, from
  ``Node.from_config``), then every ``agreements_poll_seconds`` in a thread of the
  process (:meth:`AgreementWatch.start`). A look is cheap: it compares three things
  with the last look's, and reads the directory again only when one changed:

  1. a fingerprint of the agreements directory (its ``*.toml`` and ``*.jws``) and
     of the party registry directory (every file): name, size, modification time
     and inode of each, from ``stat`` alone, no file read. A full fingerprint
     rather than the directories' own modification times: a file edited in place
     (not written then renamed) changes its own time, not its directory's;
  2. the largest ``generation`` of the ``agreements`` table (one indexed read),
     which grows whenever any worker or replica records a change: so an agreement
     ended on one replica (its file removed there) also ends on the others;
  3. the day in Asia/Jakarta (``node.now()``): an agreement's ``ends_on`` arriving
     ends it with no file changed.

  So every worker sees a change within ``agreements_poll_seconds`` plus the time
  to read the directory.

* **What it decides.** Each verified agreement file (``scan_agreements``) is held
  against the table's row for its id. A new id, or a higher version, is taken up.
  The same version and content as the row is what is in force already (or ended,
  if the row says so). A LOWER version, or the SAME version with other content, is
  a rollback and is refused. A refused file of an agreement in force (a rollback,
  an update missing a signature, a broken or tampered file) leaves the version taken
  up in force in every process alike, a running one as well as one that starts:
  it is read again from the content and signatures the table stored when it was
  taken up, and verified again against the registry as it is now. If that fails
  too (a key that signed it is revoked), the agreement is *suspended*: out of force
  here, not ended, until a file that verifies is back. A row in force whose file
  this process had and that is gone from its directory has ended; a row this
  process never had in force from its own directory (a replica whose copy is
  behind, a process that starts) is not here yet, and is not ended by it. An
  agreement whose ``ends_on`` is today or before has ended.

* **What it records, once.** Each change is a row of ``agreements`` (or of
  ``agreement_refusals``) written in the same transaction as its audit entry
  (``agreement_taken_up``, ``agreement_ended``, ``agreement_refused``; docs/AUDIT.md),
  under a lock (``Store.serialize``: an advisory lock on PostgreSQL, the one writer
  on SQLite) inside which the rows are read again: whichever worker or replica
  comes first records it, the others find it recorded. A refused file is recorded
  once per file name and SHA-256 of its bytes.

* **How it swaps.** The new view (``merge_agreements``) and what the node derives
  from it (peers' keys, note keys, TLS of the peers' URLs) are built in full, then
  assigned (``Node.use_agreements``); a request sees the old view or the new one.
  Callbacks on ``node.on_agreements_changed`` (the scheduler's reconciliation of its
  jobs) run after.

An ended agreement's flows are no longer in ``config.agreement.flows`` (intake,
sending and receiving refuse them as not agreed); its data is kept and purged
after its ``retention_days`` (gateway.exchange.retention reads :func:`ended_flows`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from gateway.crypto.envelope import envelope_limit
from gateway.crypto.keys import load_note_keys
from gateway.errors import ConfigError, KeyMaterialError
from gateway.node.config import (
    Agreement,
    AgreementRefused,
    NodeConfig,
    Party,
    agreement_data,
    canonical_form,
    jakarta_today,
    load_parties,
    merge_agreements,
    read_stored_agreement,
    scan_agreements,
    signature_file,
)
from gateway.store import audit_entries
from gateway.store.database import Store
from gateway.store.tables import agreement_refusals, agreements
from gateway.timestamps import iso

if TYPE_CHECKING:
    import datetime as dt

    from gateway.node.node import Node

__all__ = [
    "AgreementWatch",
    "RetainedFlow",
    "StoredAgreement",
    "counts",
    "ended_flows",
    "fingerprint",
    "report",
    "stored_agreements",
]

log = logging.getLogger(__name__)

IN_FORCE = "in_force"
ENDED = "ended"
# Taken up, not ended, but not in force in this process: its file is refused here (a
# signature that no longer verifies, a rollback, a broken file) or missing.
SUSPENDED = "suspended"
_LOCK = "agreements:record"


@dataclass(frozen=True)
class StoredAgreement:
    """A row of the ``agreements`` table."""

    agreement_id: str
    version: int
    sha256: str
    parties: tuple[str, ...]
    status: str
    content: str
    file_name: str
    taken_up_at: str
    ended_at: str | None
    ended_reason: str | None
    signatures: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> StoredAgreement:
        return cls(
            agreement_id=row["agreement_id"],
            version=int(row["version"]),
            sha256=row["sha256"],
            parties=tuple(json.loads(row["parties"])),
            status=row["status"],
            content=row["content"],
            file_name=row["file_name"],
            taken_up_at=row["taken_up_at"],
            ended_at=row["ended_at"],
            ended_reason=row["ended_reason"],
            signatures=row["signatures"],
        )


@dataclass(frozen=True)
class RetainedFlow:
    """A flow of an ended agreement, as its stored content says: what retention needs."""

    name: str
    sender: str
    receiver: str
    retention_days: int | None


def stored_agreements(conn: Connection) -> dict[str, StoredAgreement]:
    """Every agreement this node has taken up, by id."""
    rows = conn.execute(select(agreements)).mappings().all()
    return {row["agreement_id"]: StoredAgreement.from_row(row) for row in rows}


def ended_flows(store: Store) -> list[RetainedFlow]:
    """The flows of every ended agreement the table holds, from its stored content
    (a removed file's flows included)."""
    with store.read() as conn:
        rows = conn.execute(
            select(agreements.c.content).where(agreements.c.status == ENDED)
        ).all()
    found: list[RetainedFlow] = []
    for (content,) in rows:
        for d in json.loads(content).get("datasets", []):
            days = d.get("retention_days")
            found.append(
                RetainedFlow(
                    name=str(d["name"]),
                    sender=str(d["sender"]),
                    receiver=str(d["receiver"]),
                    retention_days=int(days) if isinstance(days, int) else None,
                )
            )
    return found


def report(node: Node) -> dict[str, Any]:
    """What is in force in this process, what ended, and the files refused: for the
    agreements API (auditors, operators) and the metric ``gateway_agreements``."""
    agreement = node.config.agreement
    with node.store.read() as conn:
        rows = stored_agreements(conn)
    listed: list[dict[str, Any]] = []
    for status, members in ((IN_FORCE, agreement.members), (ENDED, agreement.ended)):
        for a in members:
            row = rows.pop(a.id, None)
            listed.append(
                {
                    "id": a.id,
                    "version": a.version,
                    "sha256": a.sha256,
                    "status": status,
                    "parties": list(a.parties),
                    "flows": len(a.flows),
                    "ends_on": a.ends_on.isoformat() if a.ends_on else None,
                    "taken_up_at": row.taken_up_at if row is not None else None,
                    "ended_reason": row.ended_reason if row is not None else None,
                }
            )
    for row in rows.values():
        # In force in the table but not in this process: its file is refused (the
        # refused files say why) or not here; its flows stop here until it is back.
        listed.append(
            {
                "id": row.agreement_id,
                "version": row.version,
                "sha256": row.sha256,
                "status": row.status if row.status == ENDED else SUSPENDED,
                "parties": list(row.parties),
                "flows": len(json.loads(row.content).get("datasets", [])),
                "ends_on": None,
                "taken_up_at": row.taken_up_at,
                "ended_reason": row.ended_reason,
            }
        )
    return {
        "agreements": listed,
        "refused": [
            {"file": r.path_of_file.name, "agreement_id": r.agreement_id, "reason": r.reason}
            for r in node.config.refused_agreements
        ],
    }


def counts(node: Node) -> dict[str, int]:
    """How many agreements are in force in this process, ended, suspended (taken up, not
    in force here) and refused: one grouped query, whatever the number of agreements."""
    with node.store.read() as conn:
        by_status = {
            str(status): int(n)
            for status, n in conn.execute(
                select(agreements.c.status, func.count()).group_by(agreements.c.status)
            )
        }
    here = len(node.config.agreement.members) if node.config.agreements_dir else 0
    return {
        IN_FORCE: here,
        ENDED: by_status.get(ENDED, 0),
        SUSPENDED: max(0, by_status.get(IN_FORCE, 0) - here),
        "refused": len(node.config.refused_agreements),
    }


def fingerprint(agreements_dir: Path, parties_dir: Path) -> tuple[Any, ...]:
    """What ``stat`` says of the agreement files and the registry: changes with any file."""
    return (
        _stats(agreements_dir, (".toml", ".jws")),
        _stats(parties_dir, None),
    )


def _stats(directory: Path, suffixes: tuple[str, ...] | None) -> tuple[Any, ...]:
    found = []
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if suffixes is not None and not entry.name.endswith(suffixes):
                    continue
                try:
                    st = entry.stat()
                except FileNotFoundError:
                    continue  # removed while looked at: the next look sees it gone
                found.append((entry.name, st.st_size, st.st_mtime_ns, st.st_ino))
    except FileNotFoundError:
        return ("missing",)
    return tuple(sorted(found))


_GENERATION = select(func.coalesce(func.max(agreements.c.generation), 0))


def _generation(store: Store) -> int:
    with store.read() as conn:
        return int(conn.execute(_GENERATION).scalar_one())


@dataclass
class _Plan:
    """What one look decided: the agreements in force and ended, the refused files,
    and the rows and audit entries to write."""

    in_force: list[Agreement] = field(default_factory=list)
    ended: list[Agreement] = field(default_factory=list)
    refused: list[AgreementRefused] = field(default_factory=list)
    # (agreement, previous row or None, new status, reason of an end)
    changes: list[tuple[Agreement, StoredAgreement | None, str, str | None]] = field(
        default_factory=list
    )
    removed: list[StoredAgreement] = field(default_factory=list)
    # refused files not recorded yet: (refusal, SHA-256 of the file's bytes, reason code)
    new_refusals: list[tuple[AgreementRefused, str, str]] = field(default_factory=list)

    @property
    def writes(self) -> bool:
        return bool(self.changes or self.removed or self.new_refusals)


class _Changed(Exception):
    """A file changed while it was being read: look again at the next poll."""


class _Unreadable(Exception):
    """The registry or the directory cannot be read as a whole: look again once it changes."""


class AgreementWatch:
    """Keeps one process's view of a node's signed agreements current (module text)."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._last: tuple[Any, ...] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Until the first look, the node's view is the config as read, unchecked
        # against the table: nothing of it is kept when a file is refused.
        self._checked = False

    def check(self, *, force: bool = False) -> bool:
        """Look once; record and take up what changed. Whether the node's view changed."""
        config = self._node.config
        assert config.agreements_dir is not None and config.parties_dir is not None
        with self._lock:
            signals = (
                fingerprint(config.agreements_dir, config.parties_dir),
                _generation(self._node.store),
                jakarta_today(self._node.now()),
            )
            if not force and signals == self._last:
                return False
            try:
                changed = self._refresh(config, today=signals[2])
            except _Changed:
                return False  # self._last not updated: looked at again next time
            except _Unreadable:
                self._last = signals
                return False
            # What this process recorded itself moves the generation on, so the next
            # look reads the directory once more and finds nothing new: a change another
            # replica recorded meanwhile is not missed.
            self._last = signals
            return changed

    def start(self) -> None:
        """Look every ``agreements_poll_seconds`` in a thread of this process."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name="gateway-agreements", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self._node.config.agreements_poll_seconds):
            try:
                self.check()
            except Exception:  # the thread must go on looking; the cause goes to the log
                log.exception("looking for changed agreements failed; looked at again later")

    def _refresh(self, config: NodeConfig, *, today: dt.date) -> bool:
        assert config.agreements_dir is not None and config.parties_dir is not None
        node = self._node
        try:
            registry = load_parties(config.parties_dir)
            if node.party_id not in registry:
                raise ConfigError(str(config.parties_dir), "-", f"{node.party_id} has no file")
            scan = scan_agreements(config.agreements_dir, registry, node.party_id, today=today)
        except ConfigError as exc:
            # The registry or the directory cannot be read as a whole: nothing can be
            # decided; what is in force stays until it can.
            log.error("the agreements cannot be read again (%s); those in force stay", exc)
            raise _Unreadable from exc
        previous = {a.id: a for a in config.agreement.agreements} if self._checked else {}
        with node.store.read() as conn:
            plan = _decide(
                config, scan.agreements, scan.refused, conn, previous, today, registry
            )
        if plan.writes:
            with node.store.write() as conn:
                Store.serialize(conn, _LOCK)
                plan = _decide(
                config, scan.agreements, scan.refused, conn, previous, today, registry
            )
                _record(conn, node, plan)
        self._checked = True
        merged = merge_agreements(
            registry[node.party_id], plan.in_force, today=today, source=config.agreements_dir
        )
        merged = dataclasses.replace(merged, ended=(*merged.ended, *plan.ended))
        refused = tuple(plan.refused)
        if merged == config.agreement and _reasons(refused) == _reasons(
            config.refused_agreements
        ):
            return False
        node.use_agreements(
            dataclasses.replace(config, agreement=merged, refused_agreements=refused)
        )
        log.info(
            "agreements in force: %s; ended: %s; refused files: %s",
            sorted(f"{a.id} v{a.version}" for a in merged.agreements) or "none",
            sorted(a.id for a in merged.ended) or "none",
            sorted(r.path_of_file.name for r in refused) or "none",
        )
        return True


def _reasons(refused: Iterable[AgreementRefused]) -> list[tuple[str, str]]:
    return [(r.path_of_file.name, r.reason) for r in refused]


def _unfit(agreement: Agreement, config: NodeConfig) -> str | None:
    """Why a verified agreement cannot be taken up by this running node, if it cannot."""
    for d in agreement.flows:
        needs = envelope_limit(d.max_chunk_bytes)
        if d.receiver == config.party_id and needs > config.max_body_bytes:
            return (
                f"its flow {d.name} from {d.sender} needs envelopes of up to "
                f"{needs} bytes, above this node's max_body_bytes "
                f"({config.max_body_bytes}); raise it and restart the node"
            )
    for party in agreement.parties.values():
        try:
            load_note_keys(
                party.note_keys_file, log_origin=party.log_origin, witness_name=party.witness_name
            )
        except KeyMaterialError as exc:
            return f"the note keys of {party.id} cannot be read: {exc}"
    return None


def _decide(
    config: NodeConfig,
    verified: Iterable[Agreement],
    refused: Iterable[AgreementRefused],
    conn: Connection,
    previous: Mapping[str, Agreement],
    today: dt.date,
    registry: Mapping[str, Party],
) -> _Plan:
    """What is in force, ended and refused, against the table as ``conn`` reads it."""
    assert config.agreements_dir is not None
    verified = list(verified)
    rows = stored_agreements(conn)
    plan = _Plan(refused=list(refused))
    codes = {id(r): "invalid" for r in plan.refused}
    seen: set[str] = set()
    for a in verified:
        seen.add(a.id)
        row = rows.get(a.id)
        problem = _unfit(a, config)
        code = "unfit"
        if problem is None and row is not None and a.version < row.version:
            problem, code = (
                f"version {a.version} is lower than version {row.version}, which is in "
                "force: a rollback is refused",
                "rollback",
            )
        elif (
            problem is None
            and row is not None
            and a.version == row.version
            and a.sha256 != row.sha256
        ):
            problem, code = (
                f"version {a.version} with other content (sha256 {a.sha256}) than the "
                f"version {row.version} taken up (sha256 {row.sha256}): an update needs "
                "a higher version, signed again",
                "same_version_changed",
            )
        dropped = sorted(set(row.parties) - set(a.parties)) if row is not None else []
        if problem is None and row is not None and dropped and a.version > row.version:
            problem, code = (
                f"version {a.version} leaves out {', '.join(dropped)}, a party of the version "
                "taken up, who did not sign it: end the agreement (ends_on) and make a new "
                "one instead",
                "parties_changed",
            )
        if problem is not None:
            refusal = AgreementRefused(a.source, problem, agreement_id=a.id)
            plan.refused.append(refusal)
            codes[id(refusal)] = code
            continue
        ends = not a.in_force_on(today)
        if row is not None and row.version == a.version and row.status == ENDED:
            plan.ended.append(a)  # ended before (by date, or its file removed somewhere)
            continue
        status = ENDED if ends else IN_FORCE
        if row is None or row.version < a.version or row.status != status:
            reason = f"ends_on {a.ends_on} reached" if ends else None
            plan.changes.append((a, row, status, reason))
        (plan.ended if ends else plan.in_force).append(a)
    # A refused file of an agreement in force (a rollback, a broken file): the version
    # taken up stays, re-verified from what the table stored of it, in every process.
    named = {r.agreement_id for r in plan.refused} | {r.path_of_file.name for r in plan.refused}
    taken = {a.id for a in (*plan.in_force, *plan.ended)}
    for row in rows.values():
        if row.status != IN_FORCE or row.agreement_id in taken:
            continue
        if row.agreement_id not in named and row.file_name not in named:
            continue
        kept = _stored(row, config, registry)
        if kept is not None and kept.in_force_on(today):
            plan.in_force.append(kept)
            seen.add(row.agreement_id)
    # Ended as removed: only an agreement this process had in force from its own
    # directory, whose file is gone from it. A row this process never saw in force
    # (a replica whose copy of the directory is behind, a process that starts) is
    # not here yet, not removed; a file that is there but refused is not removed.
    present = {r.path_of_file.name for r in plan.refused} | {a.source.name for a in verified}
    for row in rows.values():
        if (
            row.status == IN_FORCE
            and row.agreement_id not in seen
            and row.agreement_id in previous
            and row.file_name not in present
            and not (config.agreements_dir / row.file_name).exists()
        ):
            plan.removed.append(row)
    _new_refusals(conn, plan, codes)
    return plan


def _stored(
    row: StoredAgreement, config: NodeConfig, registry: Mapping[str, Party]
) -> Agreement | None:
    """The version ``row`` took up, verified again from its stored content and
    signatures; None if it no longer verifies (a key revoked) or none were stored."""
    assert config.agreements_dir is not None
    if row.signatures is None:
        return None
    try:
        return read_stored_agreement(
            config.agreements_dir / row.file_name, row.content, json.loads(row.signatures),
            registry,
        )
    except (AgreementRefused, ValueError) as exc:
        log.warning("agreement %s is suspended: %s", row.agreement_id, exc)
        return None


def _new_refusals(conn: Connection, plan: _Plan, codes: Mapping[int, str]) -> None:
    if not plan.refused:
        return
    r = agreement_refusals.c
    names = [x.path_of_file.name for x in plan.refused]
    known = {
        (row[0], row[1])
        for row in conn.execute(select(r.file_name, r.file_sha256).where(r.file_name.in_(names)))
    }
    for refusal in plan.refused:
        digest = _file_sha256(refusal.path_of_file)
        if (refusal.path_of_file.name, digest) not in known:
            plan.new_refusals.append((refusal, digest, codes.get(id(refusal), "invalid")))


def _file_sha256(file: Path) -> str:
    """The SHA-256 of an agreement file and its signature files: a refusal is recorded
    again when either changes (a signature swapped for another is a new refusal)."""
    digest = hashlib.sha256()
    try:
        digest.update(file.read_bytes())
        for signature in sorted(file.parent.glob(f"{file.stem}.*.jws")):
            digest.update(b"\0" + signature.name.encode() + b"\0" + signature.read_bytes())
    except OSError:
        return ""
    return digest.hexdigest()


def _content(a: Agreement) -> str:
    """The canonical JSON of ``a``'s file as read now; :class:`_Changed` if it is not
    what was verified."""
    try:
        content = canonical_form(agreement_data(a.source))
    except (OSError, ConfigError):
        raise _Changed from None
    if hashlib.sha256(content).hexdigest() != a.sha256:
        raise _Changed
    return content.decode("utf-8")


def _signatures(a: Agreement) -> str:
    """Each party's detached JWS of ``a`` as its files hold it now, JSON."""
    try:
        found = {
            pid: signature_file(a.source, pid).read_text(encoding="ascii").strip()
            for pid in a.parties
        }
    except (OSError, UnicodeDecodeError):
        raise _Changed from None
    return json.dumps(found, sort_keys=True)


def _record(conn: Connection, node: Node, plan: _Plan) -> None:
    """Write the plan's rows and audit entries (inside the caller's locked transaction)."""
    now = node.now()
    at = iso(now)
    generation = int(conn.execute(_GENERATION).scalar_one())
    c = agreements.c
    for a, row, status, reason in plan.changes:
        generation += 1
        values = {
            "version": a.version,
            "sha256": a.sha256,
            "parties": json.dumps(list(a.parties)),
            "status": status,
            "content": _content(a),
            "signatures": _signatures(a),
            "file_name": a.source.name,
            "taken_up_at": at,
            "ended_at": at if status == ENDED else None,
            "ended_reason": reason,
            "generation": generation,
        }
        if row is None:
            conn.execute(insert(agreements).values(agreement_id=a.id, **values))
        elif row.version == a.version:
            # Same version, now ended by its date: only the end is written.
            values = {k: values[k] for k in ("status", "ended_at", "ended_reason", "generation")}
            conn.execute(update(agreements).where(c.agreement_id == a.id).values(**values))
        else:
            conn.execute(update(agreements).where(c.agreement_id == a.id).values(**values))
        common = {
            "agreement_id": a.id,
            "version": a.version,
            "agreement_sha256": a.sha256,
            "parties": list(a.parties),
        }
        if status == IN_FORCE:
            audit_entries.append(
                conn,
                event="agreement_taken_up",
                actor=node.party_id,
                at=now,
                previous_version=row.version if row is not None else None,
                file=a.source.name,
                **common,
            )
        else:
            audit_entries.append(
                conn,
                event="agreement_ended",
                actor=node.party_id,
                at=now,
                previous_version=(
                    row.version if row is not None and row.version != a.version else None
                ),
                reason="ends_on",
                detail=reason,
                **common,
            )
    for row in plan.removed:
        generation += 1
        conn.execute(
            update(agreements)
            .where(c.agreement_id == row.agreement_id)
            .values(
                status=ENDED,
                ended_at=at,
                ended_reason=f"its file {row.file_name} was removed",
                generation=generation,
            )
        )
        audit_entries.append(
            conn,
            event="agreement_ended",
            actor=node.party_id,
            at=now,
            agreement_id=row.agreement_id,
            version=row.version,
            agreement_sha256=row.sha256,
            parties=list(row.parties),
            reason="file_removed",
            file=row.file_name,
        )
    _record_refusals(conn, node, plan, now)


def _record_refusals(conn: Connection, node: Node, plan: _Plan, now: dt.datetime) -> None:
    for refusal, digest, code in plan.new_refusals:
        conn.execute(
            insert(agreement_refusals).values(
                file_name=refusal.path_of_file.name,
                file_sha256=digest,
                agreement_id=refusal.agreement_id,
                reason=refusal.reason,
                refused_at=iso(now),
            )
        )
        audit_entries.append(
            conn,
            event="agreement_refused",
            actor=node.party_id,
            at=now,
            file=refusal.path_of_file.name,
            file_sha256=digest or None,
            agreement_id=refusal.agreement_id,
            reason=code,
            detail=refusal.reason,
        )
