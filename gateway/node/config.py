"""Loading and checking the exchange agreement and a node's own configuration.

TOML files describe a node (see ``docs/CONFIGURATION.md``):

* the **agreements** (``config/agreements/<id>.toml``): each an MoU in machine
  form, the same file at every party it names and signed by each of them:
  datasets, who sends what to whom, schema versions, schedules, batch limits and
  the MoU clause each serves; a node merges those it is a party to into one view;
* the **party registry** (``config/parties/<id>.toml``): each institution's
  endpoint and the files of its public keys, exchanged out of band;
* the **node config** (``config/<party>.toml``): which party this node is, where
  it listens, its database, its key directory and its client systems.

Values are layered in one fixed order: built-in defaults, then the file, then
``GATEWAY_*`` environment variables, then explicit overrides (tests). Any
problem raises :class:`ConfigError` naming the file, the key and what is wrong.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
import os
import re
import ssl
import tomllib
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property, partial
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from limits import parse

from gateway.crypto import canonical, detached_jws
from gateway.crypto.canonical import NotCanonical
from gateway.crypto.compact_jws import JWSRefused
from gateway.crypto.envelope import envelope_limit
from gateway.crypto.keys import PeerKey, PeerKeys, load_jwks_file
from gateway.errors import ConfigError, KeyMaterialError
from schemas import registry as schema_registry
from schemas.personal import personal_fields

__all__ = [
    "DELIVERY_MODES",
    "STEP_KINDS",
    "Agreement",
    "ClientConfig",
    "DatasetAgreement",
    "Deadline",
    "Delivery",
    "KeyPolicy",
    "NodeConfig",
    "Party",
    "RetryPolicy",
    "Schedule",
    "ServiceLevels",
    "TLSConfig",
    "Witnessing",
    "load_agreement",
    "load_node_config",
]

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Party:
    id: str
    name: str
    base_url: str
    jwks_file: Path
    # The party's transparency log (docs/AUDIT.md): its C2SP origin line, which is
    # also the name of the key that signs its checkpoints, and the name under
    # which the party's node cosigns its peers' checkpoints as a witness.
    log_origin: str
    witness_name: str
    # C2SP vkeys of the log and witness keys, exchanged out of band like the JWKS.
    note_keys_file: Path
    # RFC 7638 thumbprints of keys the party publishes at its JWKS endpoint beyond
    # those in jwks_file (a rotated key): the only keys picked up from there.
    key_pins: tuple[str, ...] = ()
    # Thumbprints of the party's keys that nobody may trust any more.
    revoked_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class KeyPolicy:
    """The agreement's rules for key rotation (docs/SECURITY.md, key lifecycle)."""

    # How long a key replaced by 'gateway keys rotate' still verifies and decrypts.
    grace_period_days: int = 7
    # How often a node fetches its peers' JWKS to pick up their pinned new keys.
    jwks_refresh_seconds: int = 300


@dataclass(frozen=True)
class Schedule:
    """When a dataset's pending records are sealed and sent (Asia/Jakarta time)."""

    interval_seconds: int | None = None
    cron: str | None = None
    # A run that could not start on time (the node was down or busy) still runs if
    # it is at most this late; later ones are skipped until the next due time.
    misfire_grace_seconds: int = 300
    # Runs missed in a row are run once, not once each.
    coalesce: bool = True
    # The time zone its cron expression is read in: its agreement's.
    timezone: str = "Asia/Jakarta"

    def describe(self) -> str:
        return f"every {self.interval_seconds} s" if self.interval_seconds else f"cron {self.cron}"


@dataclass(frozen=True)
class RetryPolicy:
    """How a batch that the peer did not take is retried, then given up on (dead-lettered).

    Attempt n (from 1) that fails waits ``min(max_seconds, initial_seconds *
    multiplier ** (n - 1))``, halved and topped up with a random part of the
    other half (jitter, so that many senders do not retry in step). After
    ``max_attempts`` failed attempts the batch is dead: it is no longer sent
    until an operator retries it.
    """

    max_attempts: int = 12
    initial_seconds: float = 30.0
    max_seconds: float = 3600.0
    multiplier: float = 2.0

    def delay(self, attempts: int, unit_random: float) -> float:
        """Seconds to wait after the ``attempts``-th failure; ``unit_random`` in [0, 1)."""
        ceiling = min(self.max_seconds, self.initial_seconds * self.multiplier ** (attempts - 1))
        return ceiling / 2 + unit_random * ceiling / 2


DEFAULT_MAX_CHUNK_BYTES = 4 * 1024 * 1024
# Three days: beyond a sender's whole default retry schedule (12 attempts, at most an
# hour apart), and a long weekend of either node being down.
DEFAULT_TRANSFER_EXPIRY_HOURS = 72
# How a flow's batches travel: pushed by the sender, or pulled by the receiver.
Delivery = Literal["push", "pull"]
DELIVERY_MODES: tuple[Delivery, ...] = ("push", "pull")
# Room for a chunk's own fields besides its records (gateway.crypto.envelope.records_budget).
_MIN_CHUNK_BYTES = 2048


@dataclass(frozen=True)
class PersonalData:
    """The personal data a flow lets cross: which fields, for which MoU clause, on what law.

    ``fields`` are field paths (schemas.personal: ``/pelapor/nama``, ``*`` for list
    items). Both nodes refuse a record that carries a personal value of any other field
    (UU 27/2022 purpose limitation). No fields: nothing personal crosses.
    """

    fields: frozenset[str] = frozenset()
    purpose: str | None = None
    legal_basis: str | None = None


@dataclass(frozen=True)
class DatasetAgreement:
    """One flow of a dataset: ``sender`` sends ``name`` to ``receiver``.

    A dataset that both parties send (``kegiatan_pengembangan``) has one flow
    per direction, each with its own schedule and limits.
    """

    name: str
    sender: str
    receiver: str
    schema_versions: tuple[str, ...]
    purpose: str
    schedule: Schedule
    max_records_per_batch: int
    max_batch_bytes: int
    retry: RetryPolicy = RetryPolicy()
    # The largest signed document of one envelope. A batch larger than this is
    # sent as chunks of at most this size under a signed manifest.
    max_chunk_bytes: int = DEFAULT_MAX_CHUNK_BYTES
    # "push": the sender's node posts each batch to the receiver's node; "pull": the
    # sender only seals, and the receiver's node fetches the batches from the
    # sender's outbox (for a receiver that cannot accept inbound connections).
    delivery: Delivery = "push"
    # Days after which a delivered batch's records are purged from the sender, and an
    # acknowledged one's from the receiver; the audit log keeps their digests. None: kept.
    retention_days: int | None = None
    # Hours after its last chunk (or its manifest) that the receiver drops a chunked
    # batch left half-way; the sender then starts it again from its manifest.
    transfer_expiry_hours: int = DEFAULT_TRANSFER_EXPIRY_HOURS
    # The personal data this flow lets cross; by default none.
    personal_data: PersonalData = PersonalData()
    # The agreement it belongs to (gateway.node.agreements): a flow (dataset, sender,
    # receiver) is in at most one agreement in force.
    agreement_id: str = ""

    @property
    def partner(self) -> tuple[str, str]:
        """The flow's two parties, in sorted order."""
        a, b = sorted((self.sender, self.receiver))
        return a, b

    @property
    def chunked(self) -> bool:
        """Whether a batch of this flow can be larger than one envelope."""
        return self.max_batch_bytes > self.max_chunk_bytes


STEP_KINDS = ("klarifikasi", "tindakan_korektif", "rekomendasi", "klarifikasi_tindak_lanjut")


@dataclass(frozen=True)
class Deadline:
    """When one kind of case step falls due (the agreement's ``[service_levels.KIND]``).

    ``stated``: the date the opening record states (a corrective action's
    ``batas_waktu``, a verdict's ``batas_waktu_tanggapan``), when it states one;
    otherwise ``working_days`` working days or ``days`` calendar days after the
    step starts. ``basis`` names the rule's legal source; ``unconfirmed`` marks one
    whose source was secondary.
    """

    working_days: int | None = None
    days: int | None = None
    stated: bool = False
    basis: str = ""
    unconfirmed: bool = False


@dataclass(frozen=True)
class ServiceLevels:
    """The deadlines the case ledger tracks (gateway.cases), by step kind."""

    deadlines: Mapping[str, Deadline] = field(
        default_factory=lambda: {
            "klarifikasi": Deadline(working_days=14, unconfirmed=True),
            "tindakan_korektif": Deadline(stated=True, working_days=30),
            "rekomendasi": Deadline(days=60),
            "klarifikasi_tindak_lanjut": Deadline(stated=True, working_days=14),
        }
    )
    # A step is "due soon" from this many working days before its due date.
    due_soon_working_days: int = 3


@dataclass(frozen=True)
class Agreement:
    """An agreement, or the agreements a node has in force seen as one.

    One agreement (a file) has its own ``id``, ``version`` and parties. A node that
    serves several (gateway.node.agreements) sees them merged: ``members`` are the
    agreements in force, ``parties`` every party they name, ``flows`` all their
    flows; ``ended`` keeps the flows of agreements that ended, whose data is still
    kept for their retention period. Lookups are by index: their cost does not grow
    with the number of agreements.
    """

    id: str
    title: str
    timezone: str
    purposes: Mapping[str, str]
    parties: Mapping[str, Party]
    flows: tuple[DatasetAgreement, ...]
    source: Path
    keys: KeyPolicy = KeyPolicy()
    service_levels: ServiceLevels = ServiceLevels()
    # Of one signed agreement: its version (an update has a higher one), the day it
    # ends (Asia/Jakarta; None: in force until replaced), and the SHA-256 of its
    # RFC 8785 canonical form. 0 / None / "" for an unsigned (format 1) file.
    version: int = 0
    ends_on: dt.date | None = None
    sha256: str = ""
    # Of a merged view: the agreements in force, and those that ended.
    merged: bool = False
    agreements: tuple[Agreement, ...] = ()
    ended: tuple[Agreement, ...] = ()

    @property
    def members(self) -> tuple[Agreement, ...]:
        """The single agreements this one is made of (itself, if it is one)."""
        return self.agreements if self.merged else (self,)

    def party(self, party_id: str) -> Party:
        return self.parties[party_id]

    def in_force_on(self, day: dt.date) -> bool:
        """Whether this agreement holds on ``day`` (Asia/Jakarta): before its ``ends_on``."""
        return self.ends_on is None or self.ends_on > day

    @cached_property
    def dataset_names(self) -> frozenset[str]:
        return frozenset(d.name for d in self.flows)

    @cached_property
    def _by_sender(self) -> dict[tuple[str, str], tuple[DatasetAgreement, ...]]:
        index: dict[tuple[str, str], list[DatasetAgreement]] = {}
        for d in self.flows:
            index.setdefault((d.name, d.sender), []).append(d)
        return {key: tuple(found) for key, found in index.items()}

    @cached_property
    def _by_flow(self) -> dict[tuple[str, str, str], DatasetAgreement]:
        return {(d.name, d.sender, d.receiver): d for d in self.flows}

    @cached_property
    def _by_party(self) -> dict[tuple[str, str], tuple[DatasetAgreement, ...]]:
        index: dict[tuple[str, str], list[DatasetAgreement]] = {}
        for d in self.flows:
            index.setdefault(("out", d.sender), []).append(d)
            index.setdefault(("in", d.receiver), []).append(d)
        return {key: tuple(found) for key, found in index.items()}

    @cached_property
    def _by_origin(self) -> dict[str, Party]:
        return {p.log_origin: p for p in self.parties.values()}

    @cached_property
    def _by_witness(self) -> dict[str, Party]:
        return {p.witness_name: p for p in self.parties.values()}

    @cached_property
    def _turns(self) -> dict[tuple[str, Witnessing], tuple[Party, ...]]:
        return {}

    def flow(
        self, dataset: str, *, sender: str, receiver: str | None = None
    ) -> DatasetAgreement | None:
        """The agreed flow of ``dataset`` from ``sender`` (to ``receiver``), if there is one.

        Without ``receiver``, the one flow of ``dataset`` from ``sender``, or None if
        there is none or several (a hub sends a dataset to many partners: name one).
        """
        if receiver is not None:
            return self._by_flow.get((dataset, sender, receiver))
        found = self._by_sender.get((dataset, sender), ())
        return found[0] if len(found) == 1 else None

    @cached_property
    def _receivers(self) -> dict[tuple[str, str], tuple[str, ...]]:
        return {key: tuple(d.receiver for d in found) for key, found in self._by_sender.items()}

    def receivers(self, dataset: str, *, sender: str) -> tuple[str, ...]:
        """Whom ``sender`` sends ``dataset`` to, in agreement order."""
        return self._receivers.get((dataset, sender), ())

    def outgoing(self, party_id: str) -> list[DatasetAgreement]:
        """Dataset flows that ``party_id`` sends."""
        return list(self._by_party.get(("out", party_id), ()))

    def incoming(self, party_id: str) -> list[DatasetAgreement]:
        """Dataset flows that ``party_id`` receives."""
        return list(self._by_party.get(("in", party_id), ()))

    def party_by_origin(self, log_origin: str) -> Party | None:
        """The party whose audit log has this C2SP origin."""
        return self._by_origin.get(log_origin)

    def party_by_witness(self, witness_name: str) -> Party | None:
        """The party whose witness cosigns under this name."""
        return self._by_witness.get(witness_name)

    def witness_turns(self, party_id: str, witnessing: Witnessing) -> tuple[Party, ...]:
        """The parties whose witnesses ``party_id``'s node asks, in the order of their
        turns: worked out once per view of the agreements."""
        key = (party_id, witnessing)
        found = self._turns.get(key)
        if found is None:
            found = tuple(self.parties[p] for p in witnessing.parties(self, party_id))
            self._turns[key] = found
        return found

    @cached_property
    def _largest_incoming(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for d in self.flows:
            found[d.receiver] = max(found.get(d.receiver, 0), d.max_chunk_bytes)
        return found

    def largest_incoming_envelope(self, party_id: str) -> int:
        """The largest ``max_chunk_bytes`` of the datasets ``party_id`` receives (0 if none)."""
        return self._largest_incoming.get(party_id, 0)

    @cached_property
    def _member_of_pair(self) -> dict[tuple[str, str], Agreement]:
        found: dict[tuple[str, str], Agreement] = {}
        # The agreements in force first, then those ended: the cases of an ended
        # agreement keep its rules while their data is kept (gateway cases rebuild).
        for member in (*self.members, *self.ended):
            for d in member.flows:
                found.setdefault(d.partner, member)
        return found

    @cached_property
    def known_party_ids(self) -> frozenset[str]:
        """The parties of the agreements in force and of those ended (whose data is kept)."""
        return frozenset(self.parties).union(*(member.parties for member in self.ended))

    def service_levels_between(self, a: str, b: str) -> ServiceLevels:
        """The service levels of the agreement under which ``a`` and ``b`` exchange (or
        exchanged, for an agreement that ended)."""
        pair = (a, b) if a < b else (b, a)
        member = self._member_of_pair.get(pair)
        return member.service_levels if member is not None else self.service_levels

    @property
    def ended_flows(self) -> tuple[DatasetAgreement, ...]:
        """The flows of the agreements that ended (their data kept for retention)."""
        return tuple(d for member in self.ended for d in member.flows)


@dataclass(frozen=True)
class ClientConfig:
    """One internal system of the node's own institution."""

    id: str
    name: str
    token_sha256: str
    submit: frozenset[str]
    pull: frozenset[str]
    # "auditor": may read the audit log, its checkpoints and proofs;
    # "operator": may read the node's metrics.
    roles: frozenset[str] = frozenset()
    # Requests allowed per window (the ``limits`` notation, e.g. "10/second");
    # None: the node's client_rate_limit.
    rate_limit: str | None = None


ROLES = frozenset({"auditor", "operator"})

# Requests per client and window, unless the node or the client says otherwise: a
# ceiling against a runaway system; operators set a client's own limit lower.
DEFAULT_CLIENT_RATE_LIMIT = "1000/second"
# Failed bearer-token authentications allowed per source address (gateway.node.refusals).
DEFAULT_FAILED_AUTH_RATE_LIMIT = "30/minute"


def _rate_limit(t: _Table, key: str) -> str:
    """A rate limit in the ``limits`` notation ("100/second", "10 per minute", ...)."""
    text: str = t.get(key, str)
    try:
        parse(text)
    except ValueError:
        raise t.fail(
            key, f"must be a rate such as '100/minute' or '10/second', got {text!r}"
        ) from None
    return text


def _trusted_proxies(t: _Table) -> int:
    """How many reverse proxies in front of the node append to X-Forwarded-For (0 to 8)."""
    value: int = t.get("trusted_proxies", int, 0)
    if not 0 <= value <= 8:
        raise t.fail("trusted_proxies", f"must be an integer from 0 to 8, got {value}")
    return value


@dataclass(frozen=True)
class TLSConfig:
    """The node's ``[node.tls]``: TLS for its own server and for its calls to peers.

    Every field is optional; a node without any serves and calls plain HTTP, as
    its agreement's ``base_url`` values say (behind a TLS-terminating proxy, say).
    """

    # The node's certificate (chain) and its unencrypted key: gunicorn serves HTTPS.
    cert_file: Path | None = None
    key_file: Path | None = None
    # When set, every client (internal systems and peer nodes alike) must present a
    # certificate issued by a CA in this bundle, or the TLS handshake fails.
    client_ca_file: Path | None = None
    # The CA bundle that peers' server certificates are checked against on outbound
    # https calls; None: the system's trust store (gateway.node.outbound_tls).
    peer_ca_file: Path | None = None
    # The certificate presented to peers as a TLS client; None: cert_file and key_file.
    client_cert_file: Path | None = None
    client_key_file: Path | None = None

    @property
    def serves_https(self) -> bool:
        return self.cert_file is not None

    @property
    def client_cert(self) -> tuple[Path, Path] | None:
        """The (certificate, key) this node presents to its peers, if any."""
        if self.client_cert_file is not None and self.client_key_file is not None:
            return self.client_cert_file, self.client_key_file
        if self.cert_file is not None and self.key_file is not None:
            return self.cert_file, self.key_file
        return None


@dataclass(frozen=True)
class Witnessing:
    """The node's ``[node.witnessing]``: whom it asks to cosign its checkpoints, and how
    many cosignatures make a checkpoint witnessed (docs/AUDIT.md section 4)."""

    # Valid cosignatures a checkpoint needs; a publication stops asking once it has them.
    quorum: int = 1
    # The party ids asked, in turn; None: every other party of the agreement, in its order.
    witnesses: tuple[str, ...] | None = None

    def parties(self, agreement: Agreement, party_id: str) -> tuple[str, ...]:
        """The ids of the parties whose witnesses are asked, in the order of their turns."""
        if self.witnesses is not None:  # those of them in an agreement in force
            return tuple(p for p in self.witnesses if p in agreement.parties)
        return tuple(p for p in agreement.parties if p != party_id)


@dataclass(frozen=True)
class NodeConfig:
    party_id: str
    agreement: Agreement
    listen: str
    database_url: str
    key_dir: Path
    clients: tuple[ClientConfig, ...]
    max_body_bytes: int
    max_records_per_submission: int
    peer_timeout_seconds: float
    workers: int
    threads: int
    scheduler_enabled: bool
    source: Path
    checkpoint_interval_seconds: int = 60
    overrides: Mapping[str, Any] = field(default_factory=dict)
    client_rate_limit: str = DEFAULT_CLIENT_RATE_LIMIT
    # Unauthenticated refusals are counted per interval of this many seconds, then
    # written to the audit log as one entry per kind (gateway.node.refusals).
    refusal_interval_seconds: int = 300
    failed_auth_rate_limit: str = DEFAULT_FAILED_AUTH_RATE_LIMIT
    # Reverse proxies in front of the node whose X-Forwarded-For is believed (0: none).
    trusted_proxies: int = 0
    # "production" (the default) refuses development secrets (gateway.node.startup_checks).
    mode: str = "production"
    tls: TLSConfig = TLSConfig()
    # The case ledger (gateway.cases): kept unless switched off; extra calendar files
    # (holidays of a year not shipped yet, or an amended one) in the order given.
    case_ledger: bool = True
    calendar_files: tuple[Path, ...] = ()
    # Signed agreements (gateway.node.agreements): the directory they are read from, the
    # party registry, and the files found wanting when this config was read. None: the
    # node reads one unsigned agreement file (``agreement``).
    agreements_dir: Path | None = None
    parties_dir: Path | None = None
    refused_agreements: tuple[AgreementRefused, ...] = ()
    # How often each worker looks for a changed agreement or party file.
    agreements_poll_seconds: float = 5.0
    witnessing: Witnessing = Witnessing()

    @property
    def party(self) -> Party:
        return self.agreement.party(self.party_id)


class _Table:
    """A view on one TOML table that reports problems with file and dotted key."""

    def __init__(self, file: Path, prefix: str, data: Mapping[str, Any]) -> None:
        self.file = file
        self.prefix = prefix
        self.data = data

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}" if name else self.prefix.rstrip(".")

    def fail(self, name: str, problem: str) -> ConfigError:
        return ConfigError(str(self.file), self.key(name), problem)

    def get(self, name: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        if name not in self.data:
            if default is ...:
                raise self.fail(name, "is required but missing")
            return default
        value = self.data[name]
        # bool is an int in Python; an integer setting must not accept true/false.
        if isinstance(value, bool) and kind is not bool:
            raise self.fail(name, f"must be {_kind_name(kind)}, got a boolean")
        if not isinstance(value, kind):
            raise self.fail(name, f"must be {_kind_name(kind)}, got {type(value).__name__}")
        if isinstance(value, str) and "\x00" in value:
            raise self.fail(name, "must not contain a NUL character")
        return value

    def positive_int(self, name: str, default: Any = ...) -> int:
        value: int = self.get(name, int, default)
        if value <= 0:
            raise self.fail(name, f"must be a positive integer, got {value}")
        return value

    def strings(self, name: str) -> list[str]:
        items: list[Any] = self.get(name, list, [])
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise self.fail(f"{name}[{i}]", f"must be a string, got {type(item).__name__}")
        return items

    def table(self, name: str) -> _Table:
        return _Table(self.file, f"{self.prefix}{name}.", self.get(name, dict))

    def tables(self, name: str) -> list[_Table]:
        items = self.get(name, list)
        out = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise self.fail(f"{name}[{i}]", "must be a table")
            out.append(_Table(self.file, f"{self.prefix}{name}[{i}].", item))
        return out

    def reject_unknown(self, allowed: set[str]) -> None:
        for name in self.data:
            if name not in allowed:
                raise self.fail(
                    name, f"is not a known setting (expected one of: {sorted(allowed)})"
                )


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "true or false",
        list: "a list",
        dict: "a table",
    }
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(str(path), "-", "file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "-", f"not valid TOML: {exc}") from None
    except OSError as exc:  # a directory, no permission ...
        raise ConfigError(str(path), "-", f"cannot be read: {exc.strerror}") from None


def _check_url(t: _Table, name: str) -> str:
    url: str = t.get(name, str)
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:
        raise t.fail(name, f"must be an http(s) URL, got {url!r}") from None
    if parts.scheme not in ("http", "https") or not hostname:
        raise t.fail(name, f"must be an http(s) URL, got {url!r}")
    return url.rstrip("/")


def _schedule(t: _Table, timezone: str) -> Schedule:
    t.reject_unknown({"interval_seconds", "cron", "misfire_grace_seconds", "coalesce"})
    interval = t.data.get("interval_seconds")
    cron = t.data.get("cron")
    if (interval is None) == (cron is None):
        raise t.fail("", "needs exactly one of interval_seconds or cron")
    rules = {
        "misfire_grace_seconds": t.positive_int("misfire_grace_seconds", 300),
        "coalesce": t.get("coalesce", bool, True),
    }
    if interval is not None:
        return Schedule(
            interval_seconds=t.positive_int("interval_seconds"), timezone=timezone, **rules
        )
    expr: str = t.get("cron", str)
    try:
        CronTrigger.from_crontab(expr, timezone=timezone)
    except ValueError as exc:
        raise t.fail("cron", f"is not a valid crontab expression: {exc}") from None
    return Schedule(cron=expr, timezone=timezone, **rules)


def _retry(t: _Table) -> RetryPolicy:
    t.reject_unknown({"max_attempts", "initial_seconds", "max_seconds", "multiplier"})
    default = RetryPolicy()
    numbers = {}
    for name in ("initial_seconds", "max_seconds", "multiplier"):
        value = float(t.get(name, (int, float), getattr(default, name)))
        if not 0 < value <= 7 * 24 * 3600:
            raise t.fail(name, f"must be above 0 and at most a week, got {value}")
        numbers[name] = value
    if numbers["multiplier"] < 1:
        raise t.fail("multiplier", "must be at least 1")
    if numbers["max_seconds"] < numbers["initial_seconds"]:
        raise t.fail("max_seconds", "must be at least initial_seconds")
    return RetryPolicy(max_attempts=t.positive_int("max_attempts", default.max_attempts), **numbers)


# C2SP signed-note key names: non-empty, no white space, no "+".
_NOTE_NAME = re.compile(r"^[^\s+]{1,255}$")


def _note_name(t: _Table, key: str) -> str:
    value: str = t.get(key, str)
    if not _NOTE_NAME.fullmatch(value) or not value.isprintable():
        raise t.fail(
            key, f"must be a key name without spaces or '+', e.g. host/path; got {value!r}"
        )
    return value


# Format 1: one unsigned agreement that lists its parties and their key files (the
# ``agreement`` setting). Format 2: a signed agreement in an agreements directory,
# naming its parties by id from the node's party registry (gateway.node.agreements).
_FORMAT_1_KEYS = {
    "format",
    "id",
    "title",
    "signed_on",
    "timezone",
    "purposes",
    "keys",
    "parties",
    "datasets",
    "service_levels",
}
_FORMAT_2_KEYS = _FORMAT_1_KEYS | {"version", "ends_on"}


def agreement_data(path: Path) -> dict[str, Any]:
    """An agreement file's TOML, read (no check beyond being TOML)."""
    return _read_toml(path)


def load_agreement(
    path: str | os.PathLike[str], *, registry: Mapping[str, Party] | None = None
) -> Agreement:
    """Read and check an agreement file.

    A format 2 (signed) agreement names its parties by id; ``registry`` holds them
    (default: the party files in the ``parties`` directory beside the agreement's
    directory). Its signatures are checked by gateway.node.agreements, not here.
    """
    file = Path(path).resolve()
    return parse_agreement(file, _read_toml(file), registry=registry)


def parse_agreement(
    file: Path, data: Mapping[str, Any], *, registry: Mapping[str, Party] | None = None
) -> Agreement:
    """Check an agreement's TOML ``data`` read from ``file``."""
    root = _Table(file, "", data)
    form = root.get("format", int)
    if form not in (1, 2):
        raise root.fail("format", f"must be 1 (unsigned) or 2 (signed), got {form}")
    root.reject_unknown(_FORMAT_1_KEYS if form == 1 else _FORMAT_2_KEYS)
    # What the parties sign: checked first, so that a number the canonical form cannot
    # hold is refused naming its key, not met as an error of the JSON library.
    signed = _signed_form(root) if form == 2 else b""
    agreement_id: str = root.get("id", str)
    if not _ID.fullmatch(agreement_id):
        raise root.fail("id", f"must be lower-case letters, digits and '-', got {agreement_id!r}")
    timezone = _timezone(root)
    purposes_t = root.table("purposes")
    purposes = {k: purposes_t.get(k, str) for k in purposes_t.data}
    if form == 1:
        parties = _parties(root, file)
    else:
        if registry is None:
            registry = load_parties(file.parent.parent / "parties")
        parties = _named_parties(root, registry)
    flows: dict[tuple[str, str], DatasetAgreement] = {}
    for t in root.tables("datasets"):
        flow = _flow(t, parties, purposes, timezone, taken=flows.keys())
        flows[(flow.name, flow.sender)] = replace(flow, agreement_id=agreement_id)
    return Agreement(
        id=agreement_id,
        title=root.get("title", str),
        timezone=timezone,
        purposes=purposes,
        parties=parties,
        flows=tuple(flows.values()),
        source=file,
        keys=_key_policy(root.table("keys")) if "keys" in root.data else KeyPolicy(),
        service_levels=(
            _service_levels(root.table("service_levels"))
            if "service_levels" in root.data
            else ServiceLevels()
        ),
        version=_version(root) if form == 2 else 0,
        ends_on=_ends_on(root) if form == 2 else None,
        sha256=hashlib.sha256(signed).hexdigest() if form == 2 else "",
    )


# A version is compared, stored and printed as an integer; 2**31 - 1 fits every column
# and is more updates than an MoU will see.
_MAX_VERSION = 2**31 - 1
# RFC 8785 numbers are I-JSON's (RFC 7493 section 2.2): integers of magnitude up to
# 2**53 - 1, and finite.
_MAX_SAFE_INTEGER = 2**53 - 1


def _version(root: _Table) -> int:
    version = root.positive_int("version")
    if version > _MAX_VERSION:
        raise root.fail("version", f"must be at most {_MAX_VERSION}, got {version}")
    return version


def _signed_form(root: _Table) -> bytes:
    """The canonical form of a signed agreement, or ConfigError naming what it cannot hold."""
    for key, value in _numbers(root.data, ""):
        if isinstance(value, float) and not math.isfinite(value):
            raise root.fail(key, f"must be a finite number, got {value}")
        if isinstance(value, int) and abs(value) > _MAX_SAFE_INTEGER:
            raise root.fail(key, f"must be at most {_MAX_SAFE_INTEGER} in size, got {value}")
    try:
        return canonical_form(root.data)
    except NotCanonical as exc:  # what the walk above does not foresee
        raise ConfigError(str(root.file), "-", f"has no RFC 8785 canonical form: {exc}") from None


def _numbers(value: Any, key: str) -> Iterator[tuple[str, int | float]]:
    """Every number in TOML data, with its dotted key."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _numbers(v, f"{key}.{k}" if key else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _numbers(v, f"{key}[{i}]")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield key, value


def canonical_form(data: Mapping[str, Any]) -> bytes:
    """The RFC 8785 canonical JSON of an agreement's TOML: what its parties sign.

    TOML dates and times become their RFC 3339 text; comments and layout are not
    part of it, so only a change of content changes the signed bytes.
    """
    return canonical.dumps(_jsonable(data))


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.time)):  # datetime is a date
        return value.isoformat()
    return value


def _ends_on(root: _Table) -> dt.date | None:
    if "ends_on" not in root.data:
        return None
    value = root.data["ends_on"]
    if type(value) is not dt.date:
        raise root.fail("ends_on", "must be a date (YYYY-MM-DD), the first day it no longer holds")
    return value


def _named_parties(root: _Table, registry: Mapping[str, Party]) -> dict[str, Party]:
    """A signed agreement's ``parties``: ids of at least two registered parties."""
    ids = root.strings("parties")
    if len(ids) < 2:
        raise root.fail("parties", "must name at least two parties")
    if len(set(ids)) != len(ids):
        raise root.fail("parties", "names a party twice")
    for i, pid in enumerate(ids):
        if pid not in registry:
            raise root.fail(
                f"parties[{i}]",
                f"{pid!r} is not in the party registry (register its keys first: "
                "docs/OPERATIONS.md, 'Add a partner institution')",
            )
    return {pid: registry[pid] for pid in ids}


_PARTY_KEYS = {
    "id",
    "name",
    "base_url",
    "jwks_file",
    "log_origin",
    "witness_name",
    "note_keys_file",
    "key_pins",
    "revoked_keys",
}


def load_parties(directory: Path) -> dict[str, Party]:
    """The party registry: one ``<id>.toml`` per institution, with its keys' files.

    Paths in a party file are relative to it. Every log origin and witness name is
    distinct across the registry, and so is every signing key its JWKS files hold: a
    key registered for two parties could sign for either. A JWKS file that is not
    there (yet) is not checked here; :func:`read_signed_agreement` then refuses an
    agreement two of whose parties signed with one key.
    """
    if not directory.is_dir():
        raise ConfigError(str(directory), "-", "the party registry directory does not exist")
    parties: dict[str, Party] = {}
    names: dict[str, str] = {}
    signers: dict[str, str] = {}
    for file in sorted(directory.glob("*.toml")):
        t = _Table(file, "", _read_toml(file))
        party = _party(t, file)
        if file.stem != party.id:
            raise t.fail("id", f"must be the file's name ({file.stem!r}), got {party.id!r}")
        for name in (party.log_origin, party.witness_name):
            if name in names:
                raise t.fail("log_origin", f"{name!r} is already used by party {names[name]!r}")
            names[name] = party.id
        for kid in sorted(_registered_signing_kids(party)):
            if kid in signers:
                raise t.fail(
                    "jwks_file",
                    f"{party.jwks_file.name} holds the signing key {kid}, which is registered "
                    f"for party {signers[kid]!r} too: each party signs with keys of its own",
                )
            signers[kid] = party.id
        parties[party.id] = party
    return parties


def _registered_signing_kids(party: Party) -> set[str]:
    """The ids of the Ed25519 keys in ``party``'s JWKS file; none if it does not read.

    A JWKS file that is missing or broken is not the registry's problem as a whole:
    each agreement naming the party is refused for it, naming the file.
    """
    try:
        found = PeerKeys.from_jwks({party.id: load_jwks_file(party.jwks_file)})
    except KeyMaterialError:
        return set()
    return {kid for kid in found.kids(party.id) if found.signing_key(kid) is not None}


# The JWS "typ" of a party's signature on an agreement (gateway.crypto.detached_jws).
AGREEMENT_TYP = "gateway-agreement+jws"
_MAX_SIGNATURE_BYTES = 16 * 1024

# An absolute path inside a message (a KeyMaterialError's, a library's): the directory
# part goes, the file name stays. Not after a letter, '.', '/' or ':' (a URL's path).
_ABSOLUTE_PATH = re.compile(r"(?<![\w./:~-])/(?:[^\s/'\"]+/)+(?=[^\s/'\"])")


def _file_names_only(text: str) -> str:
    return _ABSOLUTE_PATH.sub("", text)


class AgreementRefused(ConfigError):
    """A signed agreement that is not taken up: why, in words an operator can act on.

    The ``reason`` names files by their names only: it is shown by ``gateway agreements``,
    kept in the audit log and reported to monitoring, none of which needs to know
    where this node keeps its files (the exception's message, for the log, has the path).
    """

    def __init__(self, file: Path, reason: str, *, agreement_id: str | None = None) -> None:
        reason = _file_names_only(reason)
        super().__init__(str(file), "-", reason)
        self.path_of_file = file
        self.reason = reason
        self.agreement_id = agreement_id


def signature_file(agreement_file: Path, party_id: str) -> Path:
    """Where ``party_id``'s detached JWS over ``agreement_file`` is kept: beside it."""
    return agreement_file.with_name(f"{agreement_file.stem}.{party_id}.jws")


def party_signing_keys(party: Party) -> dict[str, PeerKey]:
    """The keys that may sign for ``party``: the Ed25519 keys of its registered JWKS
    file, less those the registry revokes. Published keys do not count here."""
    found = PeerKeys.from_jwks({party.id: load_jwks_file(party.jwks_file)})
    return {
        kid: key
        for kid in found.kids(party.id)
        if (key := found.signing_key(kid)) is not None and kid not in party.revoked_keys
    }


def read_signed_agreement(file: Path, registry: Mapping[str, Party]) -> Agreement:
    """A signed (format 2) agreement whose every party's signature verifies.

    Raises :class:`AgreementRefused` saying what is wrong: not an agreement, a party
    not registered, a signature missing, made with a key not registered for that
    party or with the same key as another party's, or not over this content (one
    byte changed).
    """
    try:
        data = _read_toml(file)
        if data.get("format") != 2:
            raise AgreementRefused(
                file,
                "is not a signed agreement (format = 2); format 1 files are read only "
                "through a node's 'agreement' setting",
            )
        agreement = parse_agreement(file, data, registry=registry)
    except AgreementRefused:
        raise
    except ConfigError as exc:
        raise AgreementRefused(
            file, f"{exc.key}: {exc.problem}" if exc.key != "-" else exc.problem
        ) from None
    _check_signatures(file, agreement, canonical_form(data), registry, _signature_of_file)
    return agreement


def read_stored_agreement(
    file: Path, content: str, signatures: Mapping[str, str], registry: Mapping[str, Party]
) -> Agreement:
    """An agreement as a node stored it when it took it up (its canonical JSON and each
    party's detached JWS), verified again against ``registry`` as if read from ``file``.

    So every process of a node, one that runs and one that starts alike, keeps the
    version it took up when the file beside it is refused (a rollback, a broken
    file), and only while every signature still verifies with a key the registry
    holds (a revoked key stops it). Raises :class:`AgreementRefused`.
    """
    try:
        data = json.loads(content)
        if isinstance(data.get("ends_on"), str):  # a TOML date, stored as its text
            data["ends_on"] = dt.date.fromisoformat(data["ends_on"])
        agreement = parse_agreement(file, data, registry=registry)
    except (ValueError, TypeError, AttributeError):
        raise AgreementRefused(file, "the stored agreement does not read") from None
    except ConfigError as exc:
        raise AgreementRefused(file, f"the stored agreement: {exc.problem}") from None

    def stored(where: Path, party: Party, refused: Any) -> str:
        if party.id not in signatures:
            raise refused(f"no stored signature of {party.id}")
        return str(signatures[party.id])

    _check_signatures(file, agreement, canonical_form(data), registry, stored)
    return agreement


def _signature_of_file(where: Path, party: Party, refused: Any) -> str:
    """The detached JWS in ``where``, bounded in size."""
    try:
        if where.stat().st_size > _MAX_SIGNATURE_BYTES:
            raise refused(f"{where.name} is too large to be a signature")
        return where.read_text(encoding="ascii")
    except FileNotFoundError:
        raise refused(f"not signed by {party.id}: {where.name} is missing") from None
    except (OSError, UnicodeDecodeError):
        raise refused(f"{where.name} cannot be read as a detached JWS") from None


def _check_signatures(
    file: Path,
    agreement: Agreement,
    payload: bytes,
    registry: Mapping[str, Party],
    token_of: Callable[[Path, Party, Any], str],
) -> None:
    """Every party's signature over ``payload`` verifies, each with a key of its own."""
    signers: dict[str, str] = {}
    for party_id in agreement.parties:
        kid = _check_signature(file, agreement, payload, registry[party_id], token_of)
        if kid in signers:
            raise AgreementRefused(
                file,
                f"{signers[kid]} and {party_id} signed with one key ({kid}): each party "
                "signs with a key of its own (the party registry holds it for both)",
                agreement_id=agreement.id,
            )
        signers[kid] = party_id


def _check_signature(
    file: Path,
    agreement: Agreement,
    payload: bytes,
    party: Party,
    token_of: Callable[[Path, Party, Any], str],
) -> str:
    """The key id of ``party``'s valid signature on ``agreement``, or AgreementRefused."""
    where = signature_file(file, party.id)
    refused = partial(AgreementRefused, file, agreement_id=agreement.id)
    token = token_of(where, party, refused)
    try:
        keys = party_signing_keys(party)
    except KeyMaterialError as exc:
        problem = str(exc).replace(str(party.jwks_file), party.jwks_file.name)
        raise refused(f"the registered keys of {party.id} cannot be read: {problem}") from None
    try:
        verified = detached_jws.verify(token, payload, keys.get, typ=AGREEMENT_TYP)
    except JWSRefused as exc:
        problem = {
            "malformed": f"{where.name} is not a detached agreement JWS ({exc.detail})",
            "unknown_key": f"{where.name} is not signed by a registered key of {party.id}",
            "signature": f"the signature of {party.id} does not match this content "
            "(the agreement, or the signature, changed after it was signed)",
        }[exc.step]
        raise refused(problem) from None
    return str(verified.kid)


@dataclass(frozen=True)
class AgreementScan:
    """What an agreements directory holds for one node."""

    # Verified agreements naming the node's party and taken, by file name.
    agreements: tuple[Agreement, ...]
    # Every file not taken, with its reason, by file name.
    refused: tuple[AgreementRefused, ...]
    # Verified agreements that do not name the node's party: not its own, not refused.
    others: tuple[Agreement, ...] = ()


def scan_agreements(
    directory: Path,
    registry: Mapping[str, Party],
    party_id: str | None,
    *,
    today: dt.date | None = None,
) -> AgreementScan:
    """Every ``*.toml`` in ``directory``: taken, not this node's, or refused with its reason.

    One file never stops the others: whatever goes wrong reading a file refuses that
    file (the cause goes to the log). An agreement that does not name ``party_id`` is
    not this node's (``others``; with ``party_id`` None every agreement counts).

    Of several files with one agreement id the highest version is taken (of equal
    versions the first by file name) and the others are refused. A flow (dataset,
    sender, receiver) is in at most one agreement in force on ``today`` (default:
    today in Asia/Jakarta): a file agreeing a flow that an earlier file in force
    agrees is refused. An agreement that has ended stays beside its renewal, which
    carries the same flows: its data is kept for its retention period.
    """
    if not directory.is_dir():
        raise ConfigError(str(directory), "-", "the agreements directory does not exist")
    today = jakarta_today() if today is None else today
    verified: list[Agreement] = []
    refused: list[AgreementRefused] = []
    for file in sorted(directory.glob("*.toml")):
        try:
            verified.append(read_signed_agreement(file, registry))
        except AgreementRefused as exc:
            refused.append(exc)
        except Exception as exc:  # one file must not keep the others from being read
            log.exception("the agreement file %s cannot be read; it is refused", file)
            refused.append(
                AgreementRefused(
                    file, f"cannot be read ({type(exc).__name__}); the node's log says why"
                )
            )
    latest, superseded = _one_per_id(verified)
    refused.extend(superseded)
    taken: list[Agreement] = []
    others: list[Agreement] = []
    flows: dict[tuple[str, str, str], str] = {}
    for agreement in latest:
        if party_id is not None and party_id not in agreement.parties:
            others.append(agreement)
            continue
        if agreement.in_force_on(today):
            conflict = _flow_conflict(agreement, flows)
            if conflict is not None:
                refused.append(conflict)
                continue
            flows.update({(d.name, d.sender, d.receiver): agreement.id for d in agreement.flows})
        taken.append(agreement)
    refused.sort(key=lambda r: r.path_of_file.name)
    return AgreementScan(tuple(taken), tuple(refused), tuple(others))


def _one_per_id(
    verified: Sequence[Agreement],
) -> tuple[list[Agreement], list[AgreementRefused]]:
    """Of several files with one agreement id, the highest version (then the first file)."""
    best: dict[str, Agreement] = {}
    for a in verified:
        if a.id not in best or a.version > best[a.id].version:
            best[a.id] = a
    refused = []
    for a in verified:
        kept = best[a.id]
        if kept is a:
            continue
        why = (
            f"a lower version than version {kept.version}"
            if a.version < kept.version
            else "the same version, and comes after it by file name"
        )
        refused.append(
            AgreementRefused(
                a.source,
                f"agreement {a.id!r} version {a.version} is also in {kept.source.name}, "
                f"which is taken: this file has {why}",
                agreement_id=a.id,
            )
        )
    return [a for a in verified if best[a.id] is a], refused


def _flow_conflict(
    agreement: Agreement, flows: Mapping[tuple[str, str, str], str]
) -> AgreementRefused | None:
    for d in agreement.flows:
        other = flows.get((d.name, d.sender, d.receiver))
        if other is not None:
            return AgreementRefused(
                agreement.source,
                f"the flow {d.name} from {d.sender} to {d.receiver} is already agreed in "
                f"{other!r}, which is in force",
                agreement_id=agreement.id,
            )
    return None


def merge_agreements(
    party: Party, agreements: Sequence[Agreement], *, today: dt.date, source: Path
) -> Agreement:
    """The agreements of one node seen as one: those in force, and those ended.

    An agreement whose ``ends_on`` is ``today`` or before has ended: its flows stop,
    its data stays for its retention period (``ended``).
    """
    in_force = tuple(a for a in agreements if a.in_force_on(today))
    ended = tuple(a for a in agreements if a not in in_force)
    parties: dict[str, Party] = {party.id: party}
    purposes: dict[str, str] = {}
    for a in in_force:
        parties.update(a.parties)
        for key, text in a.purposes.items():
            purposes.setdefault(key, text)
    first = in_force[0] if in_force else None
    return Agreement(
        id=first.id if len(in_force) == 1 and first else "agreements",
        title=first.title if len(in_force) == 1 and first else f"{len(in_force)} agreements",
        timezone=first.timezone if first else "Asia/Jakarta",
        purposes=purposes,
        parties=parties,
        flows=tuple(d for a in in_force for d in a.flows),
        source=source,
        keys=KeyPolicy(
            grace_period_days=max((a.keys.grace_period_days for a in in_force), default=7),
            jwks_refresh_seconds=min((a.keys.jwks_refresh_seconds for a in in_force), default=300),
        ),
        service_levels=first.service_levels if first else ServiceLevels(),
        merged=True,
        agreements=in_force,
        ended=ended,
    )


def jakarta_today(now: dt.datetime | None = None) -> dt.date:
    """Today in Asia/Jakarta, the day agreements begin and end on."""
    return (now or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo("Asia/Jakarta")).date()


def _service_levels(t: _Table) -> ServiceLevels:
    """``[service_levels]``: every step kind's deadline, and when a step is due soon."""
    t.reject_unknown({"due_soon_working_days", *STEP_KINDS})
    deadlines = {}
    for kind in STEP_KINDS:
        if kind not in t.data:
            raise t.fail(kind, "is required but missing: every kind of step has a deadline")
        deadlines[kind] = _deadline(t.table(kind))
    soon: int = t.get("due_soon_working_days", int, 3)
    if not 0 <= soon <= 60:
        raise t.fail("due_soon_working_days", f"must be 0 to 60, got {soon}")
    return ServiceLevels(deadlines=deadlines, due_soon_working_days=soon)


def _deadline(t: _Table) -> Deadline:
    t.reject_unknown({"working_days", "days", "stated", "basis", "unconfirmed"})
    counts = {}
    for name in ("working_days", "days"):
        if name in t.data:
            value: int = t.get(name, int)
            if not 0 < value <= 366:
                raise t.fail(name, f"must be 1 to 366, got {value}")
            counts[name] = value
    if len(counts) != 1:
        raise t.fail("", "needs exactly one of working_days and days (with stated, the fallback)")
    return Deadline(
        working_days=counts.get("working_days"),
        days=counts.get("days"),
        stated=t.get("stated", bool, False),
        basis=t.get("basis", str, ""),
        unconfirmed=t.get("unconfirmed", bool, False),
    )


def _timezone(root: _Table) -> str:
    """The agreement's time zone, in which its cron schedules are read."""
    timezone: str = root.get("timezone", str, "Asia/Jakarta")
    try:
        ZoneInfo(timezone)
    except (KeyError, ValueError):
        raise root.fail("timezone", f"unknown time zone {timezone!r}") from None
    return timezone


def _parties(root: _Table, file: Path) -> dict[str, Party]:
    """A format 1 agreement's ``[[parties]]`` by id, with distinct log and witness names."""
    parties: dict[str, Party] = {}
    for t in root.tables("parties"):
        party = _party(t, file)
        if party.id in parties:
            raise t.fail("id", f"duplicate party id {party.id!r}")
        parties[party.id] = party
    names = [n for p in parties.values() for n in (p.log_origin, p.witness_name)]
    if len(names) != len(set(names)):
        raise root.fail("parties", "every log_origin and witness_name must be unique")
    return parties


def _party(t: _Table, file: Path) -> Party:
    """One party: its endpoint, key files (relative to ``file``), log and witness names."""
    t.reject_unknown(_PARTY_KEYS)
    pid: str = t.get("id", str)
    if not _ID.fullmatch(pid):
        raise t.fail("id", f"must be lower-case letters, digits and '-', got {pid!r}")
    party = Party(
        id=pid,
        name=t.get("name", str),
        base_url=_check_url(t, "base_url"),
        jwks_file=(file.parent / t.get("jwks_file", str)).resolve(),
        log_origin=_note_name(t, "log_origin"),
        witness_name=_note_name(t, "witness_name"),
        note_keys_file=(file.parent / t.get("note_keys_file", str)).resolve(),
        key_pins=_thumbprints(t, "key_pins"),
        revoked_keys=_thumbprints(t, "revoked_keys"),
    )
    if party.log_origin == party.witness_name:
        raise t.fail("witness_name", "must differ from log_origin")
    return party


def _flow(
    t: _Table,
    parties: Mapping[str, Party],
    purposes: Mapping[str, str],
    timezone: str,
    *,
    taken: Collection[tuple[str, str]],
) -> DatasetAgreement:
    """One ``[[datasets]]`` table; ``taken``: the (name, sender) of the flows before it."""
    t.reject_unknown(
        {
            "name",
            "sender",
            "receiver",
            "schema_versions",
            "purpose",
            "schedule",
            "max_records_per_batch",
            "max_batch_bytes",
            "max_chunk_bytes",
            "retry",
            "delivery",
            "retention_days",
            "transfer_expiry_hours",
            "personal_data",
        }
    )
    name: str = t.get("name", str)
    known = schema_registry.versions(name)
    if not known:
        raise t.fail(
            "name",
            f"no agreed schema exists for dataset {name!r} "
            f"(known: {schema_registry.dataset_names()})",
        )
    sender, receiver = _flow_ends(t, name, parties, taken)
    versions = t.get("schema_versions", list)
    if not versions:
        raise t.fail("schema_versions", "must name at least one version")
    for v in versions:
        if v not in known:
            raise t.fail("schema_versions", f"no schema {name} {v!r} (known: {known})")
    purpose = str(t.get("purpose", (str, int)))
    if purpose not in purposes:
        raise t.fail("purpose", f"must name a clause in [purposes], got {purpose!r}")
    max_batch_bytes, max_chunk_bytes = _batch_sizes(t)
    delivery = _delivery(t)
    retention_days = t.positive_int("retention_days") if "retention_days" in t.data else None
    personal = (
        _personal_data(t.table("personal_data"), name, versions, purposes)
        if "personal_data" in t.data
        else PersonalData()
    )
    if personal.fields and retention_days is None:
        raise t.fail(
            "retention_days",
            "is required: the flow lets personal data cross (personal_data.fields), and "
            "personal data may not be kept without end (UU 27/2022)",
        )
    return DatasetAgreement(
        name=name,
        sender=sender,
        receiver=receiver,
        schema_versions=tuple(versions),
        purpose=purpose,
        schedule=_schedule(t.table("schedule"), timezone),
        max_records_per_batch=t.positive_int("max_records_per_batch", 1000),
        max_batch_bytes=max_batch_bytes,
        retry=_retry(t.table("retry")) if "retry" in t.data else RetryPolicy(),
        max_chunk_bytes=max_chunk_bytes,
        delivery=delivery,
        retention_days=retention_days,
        transfer_expiry_hours=t.positive_int(
            "transfer_expiry_hours", DEFAULT_TRANSFER_EXPIRY_HOURS
        ),
        personal_data=personal,
    )


def _personal_data(
    t: _Table, name: str, versions: Sequence[str], purposes: Mapping[str, str]
) -> PersonalData:
    """A flow's ``personal_data`` table: each field must be a personal field of the
    dataset in one of the flow's versions; a clause and a legal basis are required."""
    t.reject_unknown({"fields", "purpose", "legal_basis"})
    known = {path for v in versions for path in personal_fields(name, v)}
    fields = t.strings("fields")
    for i, path in enumerate(fields):
        if path not in known:
            raise t.fail(
                f"fields[{i}]",
                f"{path!r} is not a personal-data field of {name} "
                f"{', '.join(versions)} (they are: {', '.join(sorted(known)) or 'none'})",
            )
    if not fields:
        return PersonalData()
    purpose = str(t.get("purpose", (str, int)))
    if purpose not in purposes:
        raise t.fail("purpose", f"must name a clause in [purposes], got {purpose!r}")
    legal_basis: str = t.get("legal_basis", str)
    if not legal_basis.strip():
        raise t.fail("legal_basis", "must say on what law the personal data crosses")
    return PersonalData(fields=frozenset(fields), purpose=purpose, legal_basis=legal_basis)


def _flow_ends(
    t: _Table, name: str, parties: Mapping[str, Party], taken: Collection[tuple[str, str]]
) -> tuple[str, str]:
    """A flow's sender and receiver: two parties, and no earlier flow of ``name`` from the same."""
    sender, receiver = t.get("sender", str), t.get("receiver", str)
    for key, value in (("sender", sender), ("receiver", receiver)):
        if value not in parties:
            raise t.fail(key, f"unknown party {value!r} (parties: {sorted(parties)})")
    if sender == receiver:
        raise t.fail("receiver", "must differ from sender")
    if (name, sender) in taken:
        raise t.fail("name", f"duplicate dataset {name!r} from {sender!r}")
    return sender, receiver


def _batch_sizes(t: _Table) -> tuple[int, int]:
    """A flow's ``max_batch_bytes`` and ``max_chunk_bytes`` (at most the former)."""
    max_batch_bytes = t.positive_int("max_batch_bytes", 8 * 1024 * 1024)
    max_chunk_bytes = t.positive_int(
        "max_chunk_bytes", min(max_batch_bytes, DEFAULT_MAX_CHUNK_BYTES)
    )
    if max_chunk_bytes > max_batch_bytes:
        raise t.fail("max_chunk_bytes", f"must be at most max_batch_bytes ({max_batch_bytes})")
    if max_chunk_bytes < _MIN_CHUNK_BYTES:
        # Below this a record and a chunk's own fields, or a manifest listing two
        # chunks, may not fit one envelope: no batch could ever be delivered.
        key = "max_chunk_bytes" if "max_chunk_bytes" in t.data else "max_batch_bytes"
        raise t.fail(key, f"must be at least {_MIN_CHUNK_BYTES}")
    return max_batch_bytes, max_chunk_bytes


def _delivery(t: _Table) -> Delivery:
    """How a flow's batches travel: ``push`` unless the table says ``pull``."""
    delivery: str = t.get("delivery", str, "push")
    if delivery not in DELIVERY_MODES:
        raise t.fail(
            "delivery",
            f"must be one of {list(DELIVERY_MODES)} (the sender posts, or the receiver "
            f"fetches), got {delivery!r}",
        )
    return "pull" if delivery == "pull" else "push"


# An RFC 7638 SHA-256 thumbprint: 43 base64url characters.
_THUMBPRINT = re.compile(r"^[A-Za-z0-9_-]{43}$")


def _thumbprints(t: _Table, name: str) -> tuple[str, ...]:
    values = t.strings(name)
    for i, value in enumerate(values):
        if not _THUMBPRINT.fullmatch(value):
            raise t.fail(f"{name}[{i}]", f"must be an RFC 7638 key thumbprint, got {value!r}")
    return tuple(values)


def _key_policy(t: _Table) -> KeyPolicy:
    t.reject_unknown({"grace_period_days", "jwks_refresh_seconds"})
    return KeyPolicy(
        grace_period_days=t.positive_int("grace_period_days", KeyPolicy.grace_period_days),
        jwks_refresh_seconds=t.positive_int("jwks_refresh_seconds", KeyPolicy.jwks_refresh_seconds),
    )


_TLS_PAIRS = (("cert_file", "key_file"), ("client_cert_file", "client_key_file"))
_TLS_CAS = ("client_ca_file", "peer_ca_file")


def _tls(t: _Table, base: Path) -> TLSConfig:
    """``[node.tls]``: every file must exist and load; keys must match their certificates."""
    names = {name for pair in _TLS_PAIRS for name in pair} | set(_TLS_CAS)
    t.reject_unknown(names)
    paths = {name: _existing_file(t, name, base) for name in sorted(names) if name in t.data}
    for cert, key in _TLS_PAIRS:
        if (cert in paths) != (key in paths):
            given, missing = (cert, key) if cert in paths else (key, cert)
            raise t.fail(missing, f"is required with {t.key(given)}")
        if cert in paths:
            _check_key_pair(t, cert, paths[cert], key, paths[key])
    if "client_ca_file" in paths and "cert_file" not in paths:
        raise t.fail(
            "client_ca_file",
            "needs cert_file and key_file: only a node that serves HTTPS can ask for "
            "client certificates",
        )
    for name in _TLS_CAS:
        if name in paths:
            try:
                ssl.create_default_context().load_verify_locations(cafile=paths[name])
            except ssl.SSLError:
                raise t.fail(name, f"{paths[name]} holds no PEM CA certificate") from None
    return TLSConfig(**paths)


def _existing_file(t: _Table, name: str, base: Path) -> Path:
    value: str = t.get(name, str)
    if not value:
        raise t.fail(name, "must not be empty")
    path = (base / value).resolve()
    if not path.exists():
        raise t.fail(name, f"file not found: {path}")
    if not path.is_file():
        raise t.fail(name, f"is not a file: {path}")
    return path


def _calendar_files(node: _Table, base: Path) -> tuple[Path, ...]:
    """``calendar_files``: existing files, relative to the node config."""
    found = []
    for i, value in enumerate(node.strings("calendar_files")):
        path = (base / value).resolve()
        if not path.is_file():
            raise node.fail(f"calendar_files[{i}]", f"file not found: {path}")
        found.append(path)
    return tuple(found)


def _check_key_pair(t: _Table, cert_name: str, cert: Path, key_name: str, key: Path) -> None:
    try:
        encrypted = b"ENCRYPTED" in key.read_bytes()
    except OSError as exc:
        raise t.fail(key_name, f"cannot be read: {exc.strerror}") from None
    if encrypted:
        raise t.fail(
            key_name,
            f"{key} is encrypted; a TLS key is read without a passphrase, so keep it "
            "unencrypted and readable by the node's user only",
        )
    try:
        ssl.create_default_context().load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        if "KEY_VALUES_MISMATCH" in str(exc):
            raise t.fail(key_name, f"{key} is not the private key of {t.key(cert_name)}") from None
        raise t.fail(
            cert_name, f"{cert} and {key} do not load as a PEM certificate and its private key"
        ) from None
    except OSError as exc:
        raise t.fail(key_name, f"cannot be read: {exc.strerror}") from None


_ENV = {
    "database_url": "GATEWAY_DATABASE_URL",
    "listen": "GATEWAY_LISTEN",
    "key_dir": "GATEWAY_KEY_DIR",
    "workers": "GATEWAY_WORKERS",
    "threads": "GATEWAY_THREADS",
}


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, key in _ENV.items():
        value = environ.get(key)
        if not value:
            continue
        if name in ("workers", "threads"):
            if not (value.isascii() and value.isdigit()) or int(value) < 1:
                raise ConfigError("environment", key, f"must be a positive integer, got {value!r}")
            out[name] = int(value)
        else:
            out[name] = value
    return out


def load_node_config(
    path: str | os.PathLike[str],
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> NodeConfig:
    """Read a node config, its agreement, and apply environment and explicit overrides."""
    file = Path(path).resolve()
    root = _Table(file, "", _read_toml(file))
    root.reject_unknown({"node", "clients"})
    node = _node_table(root)
    mode = node.get("mode", str, "production")
    if mode not in ("production", "development"):
        raise node.fail("mode", f'must be "production" or "development", got {mode!r}')
    party_id: str = node.get("party", str)
    source = _agreement_source(node, file.parent, party_id, mode)
    agreement = source.agreement
    layered = _layered(node, party_id, environ, overrides or {})
    database_url = (
        layered["database_url"] or f"sqlite:///{file.parent.parent / 'var' / party_id}.db"
    )
    clients = _clients(root, agreement, party_id, signed=source.directory is not None)
    max_body_bytes, peer_timeout = _transfer_limits(node, agreement, party_id)
    return NodeConfig(
        party_id=party_id,
        agreement=agreement,
        listen=layered["listen"],
        database_url=database_url,
        key_dir=(file.parent / layered["key_dir"]).resolve(),
        clients=clients,
        max_body_bytes=max_body_bytes,
        max_records_per_submission=node.positive_int("max_records_per_submission", 10_000),
        peer_timeout_seconds=peer_timeout,
        workers=layered["workers"],
        threads=layered["threads"],
        scheduler_enabled=node.get("scheduler", bool, True),
        source=file,
        checkpoint_interval_seconds=node.positive_int("checkpoint_interval_seconds", 60),
        mode=mode,
        client_rate_limit=(
            _rate_limit(node, "client_rate_limit")
            if "client_rate_limit" in node.data
            else DEFAULT_CLIENT_RATE_LIMIT
        ),
        refusal_interval_seconds=node.positive_int("refusal_interval_seconds", 300),
        failed_auth_rate_limit=(
            _rate_limit(node, "failed_auth_rate_limit")
            if "failed_auth_rate_limit" in node.data
            else DEFAULT_FAILED_AUTH_RATE_LIMIT
        ),
        trusted_proxies=_trusted_proxies(node),
        overrides=dict(overrides or {}),
        tls=_tls(node.table("tls"), file.parent) if "tls" in node.data else TLSConfig(),
        case_ledger=node.get("case_ledger", bool, True),
        calendar_files=_calendar_files(node, file.parent),
        agreements_dir=source.directory,
        parties_dir=source.registry,
        refused_agreements=source.refused,
        agreements_poll_seconds=_poll_seconds(node),
        witnessing=_witnessing(node, agreement, party_id, registry=source.registered),
    )


@dataclass(frozen=True)
class _AgreementSource:
    agreement: Agreement
    directory: Path | None = None
    registry: Path | None = None
    refused: tuple[AgreementRefused, ...] = ()
    registered: frozenset[str] | None = None  # the party registry's ids


def _agreement_source(node: _Table, base: Path, party_id: str, mode: str) -> _AgreementSource:
    """The node's agreements: a directory of signed ones, or one unsigned file."""
    if ("agreements" in node.data) == ("agreement" in node.data):
        raise node.fail(
            "agreements",
            "set exactly one of agreements (a directory of signed agreements) and agreement "
            "(one unsigned agreement file, for tests and migration)",
        )
    if "agreement" in node.data:
        if mode != "development" and not node.get("unsigned_agreement", bool, False):
            raise node.fail(
                "agreement",
                "is one agreement that no party signed; a production node reads signed "
                "agreements (agreements = a directory, docs/CONFIGURATION.md). To run an "
                "unsigned file anyway, say so: unsigned_agreement = true",
            )
        agreement = load_agreement(base / node.get("agreement", str))
        if party_id not in agreement.parties:
            raise node.fail(
                "party",
                f"is not a party of agreement {agreement.id!r} "
                f"(parties: {sorted(agreement.parties)})",
            )
        return _AgreementSource(agreement)
    directory = (base / node.get("agreements", str)).resolve()
    registry_dir = (
        (base / node.get("parties", str)).resolve()
        if "parties" in node.data
        else directory.parent / "parties"
    )
    registry = load_parties(registry_dir)
    if party_id not in registry:
        raise node.fail("party", f"{party_id!r} has no file in the party registry {registry_dir}")
    scan = scan_agreements(directory, registry, party_id)
    agreement = merge_agreements(
        registry[party_id], scan.agreements, today=jakarta_today(), source=directory
    )
    return _AgreementSource(
        agreement, directory, registry_dir, scan.refused, registered=frozenset(registry)
    )


def _poll_seconds(node: _Table) -> float:
    value = float(node.get("agreements_poll_seconds", (int, float), 5))
    if not 0.5 <= value <= 3600:
        raise node.fail("agreements_poll_seconds", f"must be 0.5 to 3600, got {value}")
    return value


def _node_table(root: _Table) -> _Table:
    """The node config's ``[node]`` table, holding only known settings."""
    node = root.table("node")
    node.reject_unknown(
        {
            "party",
            "agreement",
            "agreements",
            "parties",
            "unsigned_agreement",
            "agreements_poll_seconds",
            "listen",
            "database_url",
            "key_dir",
            "max_body_bytes",
            "max_records_per_submission",
            "peer_timeout_seconds",
            "workers",
            "threads",
            "scheduler",
            "checkpoint_interval_seconds",
            "client_rate_limit",
            "refusal_interval_seconds",
            "failed_auth_rate_limit",
            "trusted_proxies",
            "mode",
            "tls",
            "case_ledger",
            "calendar_files",
            "witnessing",
        }
    )
    return node


def _witnessing(
    node: _Table, agreement: Agreement, party_id: str, *, registry: Collection[str] | None = None
) -> Witnessing:
    """``[node.witnessing]``: a quorum that the witnesses asked can reach.

    Without the table, a node of an agreement with no other party has no witness
    (and its checkpoints no quorum); with it, that is a configuration error. With
    signed agreements (``registry``: the registered party ids), which come and go
    while the node runs, listed witnesses must be registered parties, and a quorum
    of "every other party" is not checked against those in force at start.
    """
    given = "witnessing" in node.data
    t = node.table("witnessing") if given else _Table(node.file, f"{node.prefix}witnessing.", {})
    t.reject_unknown({"quorum", "witnesses"})
    quorum = t.positive_int("quorum", 1)
    witnesses: tuple[str, ...] | None = None
    if "witnesses" in t.data:
        listed = t.strings("witnesses")
        for i, pid in enumerate(listed):
            if pid == party_id:
                raise t.fail(f"witnesses[{i}]", f"{pid!r} is this node's own party")
            known = agreement.parties if registry is None else registry
            if pid not in known:
                raise t.fail(
                    f"witnesses[{i}]", f"unknown party {pid!r} (parties: {sorted(known)})"
                )
            if pid in listed[:i]:
                raise t.fail(f"witnesses[{i}]", f"{pid!r} is listed twice")
        witnesses = tuple(listed)
    found = Witnessing(quorum=quorum, witnesses=witnesses)
    if registry is not None:
        available = len(witnesses) if witnesses is not None else quorum
    else:
        available = len(found.parties(agreement, party_id))
    if quorum > available and (given or available > 0):
        whom = "listed in witnesses" if witnesses is not None else "other parties of the agreement"
        raise t.fail(
            "quorum", f"{quorum} is more than the {available} witnesses there are ({whom})"
        )
    return found


def _layered(
    node: _Table,
    party_id: str,
    environ: Mapping[str, str] | None,
    overrides: Mapping[str, Any],
) -> dict[str, Any]:
    """The settings that ``GATEWAY_*`` variables and overrides can replace, in that order."""
    layered: dict[str, Any] = {
        "listen": node.get("listen", str, "127.0.0.1:8700"),
        "database_url": node.get("database_url", str, ""),
        "key_dir": node.get("key_dir", str, f"../keys/{party_id}"),
        "workers": node.positive_int("workers", 3),
        "threads": node.positive_int("threads", 6),
    }
    from_env = _env_overrides(os.environ if environ is None else environ)
    layered.update(from_env)
    layered.update(overrides)
    if not re.fullmatch(r"[\w.\-\[\]:]+:\d{1,5}", layered["listen"]):
        problem = f"must be host:port, got {layered['listen']!r}"
        # Blame the layer the bad value came from.
        if "listen" in from_env and "listen" not in overrides:
            raise ConfigError("environment", _ENV["listen"], problem)
        raise node.fail("listen", problem)
    return layered


def _known_datasets(t: _Table, submit: frozenset[str], pull: frozenset[str]) -> None:
    known = set(schema_registry.dataset_names())
    for key, names in (("submit", submit), ("pull", pull)):
        for name in sorted(names - known):
            raise t.fail(key, f"no agreed schema exists for dataset {name!r}")


def _clients(
    root: _Table, agreement: Agreement, party_id: str, *, signed: bool = False
) -> tuple[ClientConfig, ...]:
    """The node config's ``[[clients]]``: distinct ids and tokens, rights within the agreement."""
    clients: list[ClientConfig] = []
    sends = {d.name for d in agreement.outgoing(party_id)}
    receives = {d.name for d in agreement.incoming(party_id)}
    for t in root.tables("clients") if "clients" in root.data else []:
        t.reject_unknown({"id", "name", "token_sha256", "submit", "pull", "roles", "rate_limit"})
        cid: str = t.get("id", str)
        if not _ID.fullmatch(cid):
            raise t.fail("id", f"must be lower-case letters, digits and '-', got {cid!r}")
        if any(c.id == cid for c in clients):
            raise t.fail("id", f"duplicate client id {cid!r}")
        digest: str = t.get("token_sha256", str)
        if not _HEX64.fullmatch(digest):
            raise t.fail("token_sha256", "must be the lower-case hex SHA-256 of the token")
        if any(c.token_sha256 == digest for c in clients):
            raise t.fail("token_sha256", "the same token is already given to another client")
        submit = frozenset(t.strings("submit"))
        pull = frozenset(t.strings("pull"))
        roles = frozenset(t.strings("roles"))
        rate_limit = _rate_limit(t, "rate_limit") if "rate_limit" in t.data else None
        if not roles <= ROLES:
            raise t.fail("roles", f"unknown roles {sorted(roles - ROLES)} (known: {sorted(ROLES)})")
        # The agreement's direction rules are enforced here, once, at start-up. Signed
        # agreements come and go while the node runs: then a client may name any
        # agreed dataset, and its rights apply to the flows in force at the time.
        if signed:
            _known_datasets(t, submit, pull)
            sends = receives = set()
        for key, names, allowed, verb in (
            ("submit", submit, sends, "sends"),
            ("pull", pull, receives, "receives"),
        ):
            for name in sorted(names):
                if not signed and name not in allowed:
                    raise t.fail(
                        key,
                        f"dataset {name!r} is not one that {party_id} {verb} "
                        f"under the agreement (allowed: {sorted(allowed)})",
                    )
        clients.append(
            ClientConfig(
                id=cid,
                name=t.get("name", str, cid),
                token_sha256=digest,
                submit=submit,
                pull=pull,
                roles=roles,
                rate_limit=rate_limit,
            )
        )
    return tuple(clients)


def _transfer_limits(node: _Table, agreement: Agreement, party_id: str) -> tuple[int, float]:
    """``max_body_bytes`` (room for every incoming envelope) and ``peer_timeout_seconds``."""
    max_body_bytes = node.positive_int("max_body_bytes", 16 * 1024 * 1024)
    peer_timeout = float(node.get("peer_timeout_seconds", (int, float), 30))
    if not 0 < peer_timeout <= 600:
        raise node.fail(
            "peer_timeout_seconds", f"must be above 0 and at most 600, got {peer_timeout}"
        )
    for dataset in agreement.incoming(party_id):
        if envelope_limit(dataset.max_chunk_bytes) > max_body_bytes:
            raise node.fail(
                "max_body_bytes",
                (
                    f"{max_body_bytes} is too small for {dataset.name} envelopes of up to "
                    f"{envelope_limit(dataset.max_chunk_bytes)} bytes (max_chunk_bytes "
                    f"{dataset.max_chunk_bytes} in the agreement)"
                ),
            )
    return max_body_bytes, peer_timeout
