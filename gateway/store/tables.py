"""The node's tables: what its database holds, as SQLAlchemy Core metadata.

The migrations in gateway/store/migrations make the database; a test keeps them
and :data:`metadata` equal.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from gateway.store.encrypted_columns import Encrypted

__all__ = [
    "MAX_INTEGER",
    "agreement_refusals",
    "agreements",
    "audit_checkpoints",
    "audit_cosignatures",
    "audit_events",
    "audit_tree",
    "auth_failures",
    "case_events",
    "case_inbox",
    "case_ledger_version",
    "case_step_stats",
    "case_steps",
    "cases",
    "console_sessions",
    "inbound_batches",
    "inbound_chunks",
    "inbound_transfers",
    "managed_clients",
    "metadata",
    "outbound_batches",
    "outbound_chunks",
    "outbox_record_bodies",
    "outbox_records",
    "peer_jwks",
    "pull_refusals",
    "refusal_counts",
    "request_nonces",
    "submissions",
    "witness_alerts",
    "witness_rotation",
    "witnessed_logs",
]

metadata = MetaData()

# The largest value an Integer column holds on every backend (PostgreSQL's INTEGER is
# 32-bit): a number from a request that is compared with one is refused above it, or the
# database would fail the query.
MAX_INTEGER = 2**31 - 1

submissions = Table(
    "submissions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("client_id", String(64), nullable=False),
    Column("dataset", String(64), nullable=False),
    Column("schema_version", String(16), nullable=False),
    Column("record_count", Integer, nullable=False),
    Column("records_sha256", String(64), nullable=False),
    Column("received_at", String(40), nullable=False),
    # The client's Idempotency-Key (draft-ietf-httpapi-idempotency-key-header), if it
    # sent one, and the SHA-256 of the request body it came with: the same key again
    # with the same body is answered with this submission; with another, refused.
    Column("idempotency_key", String(255), nullable=True),
    Column("request_sha256", String(64), nullable=True),
    # The party the records are for (revision 0015); NULL: submitted before it, to the
    # one receiver its dataset had.
    Column("receiver", String(64), nullable=True),
    # A key is taken once per client, also by concurrent requests to other workers or
    # replicas: the second insert fails and is answered as a repeat.
    Index(
        "uq_submissions_idempotency_key",
        "client_id",
        "idempotency_key",
        unique=True,
        sqlite_where=text("idempotency_key IS NOT NULL"),
        postgresql_where=text("idempotency_key IS NOT NULL"),
    ),
    # Keyed by the id alone: one B-tree instead of a rowid table plus an index.
    sqlite_with_rowid=False,
)

outbox_records = Table(
    "outbox_records",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("submission_id", String(36), nullable=False),
    Column("dataset", String(64), nullable=False),
    Column("schema_version", String(16), nullable=False),
    # The record itself is in outbox_record_bodies, under the same seq.
    Column("record_sha256", String(64), nullable=False),
    Column("batch_id", String(36), nullable=True),
    Column("created_at", String(40), nullable=False),
    # What the case ledger keeps of the record (gateway.cases.facts), JSON; null for a
    # dataset the ledger does not read. Ids, dates and unit codes only.
    Column("case_facts", Text, nullable=True),
    # The party it is for (a dataset may go to many partners); NULL: submitted before
    # revision 0015, for the one receiver its dataset had.
    Column("receiver", String(64), nullable=True),
    Index("ix_outbox_pending", "dataset", "batch_id", "seq"),
    # A channel's pending records, oldest first (gateway.exchange.sending): one dataset
    # goes to many partners, each sealed on its own.
    Index("ix_outbox_channel_pending", "dataset", "receiver", "batch_id", "seq"),
    # Where a submission's records are (GET /api/v1/submissions/<id>).
    Index("ix_outbox_submission", "submission_id"),
)

# Each outbox record's content, apart from the row that says where it goes: claiming a
# batch rewrites its records' batch_id, and with the content beside it every claim
# rewrote 1-2 KB a record (revision 0020, docs/PERFORMANCE.md "Eighth round").
outbox_record_bodies = Table(
    "outbox_record_bodies",
    metadata,
    Column(
        "seq",
        Integer,
        ForeignKey("outbox_records.seq", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    # RFC 8785 canonical JSON of the record, sealed under the storage key (gateway.crypto.atrest);
    # "" once its batch is purged (gateway.exchange.retention).
    Column("record", Encrypted, nullable=False),
)

outbound_batches = Table(
    "outbound_batches",
    metadata,
    Column("batch_id", String(36), primary_key=True),
    Column("dataset", String(64), nullable=False),
    Column("schema_version", String(16), nullable=False),
    Column("receiver", String(64), nullable=False),
    Column("record_count", Integer, nullable=False),
    # The batch's digest: records_sha256 for a batch sent whole, records_root
    # (hex RFC 9162 root over the records' digests) for a chunked one.
    Column("records_sha256", String(64), nullable=True),
    Column("records_root", String(64), nullable=True),
    Column("chunk_count", Integer, nullable=False, default=1),
    # How many chunks the receiver has acknowledged, in order.
    Column("chunks_acked", Integer, nullable=False, default=0),
    # The sealed batch, or of a chunked batch its sealed manifest.
    Column("envelope", Text, nullable=False),
    Column("status", String(16), nullable=False),  # sealed | delivered | dead | cancelled
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", String(40), nullable=False),
    Column("last_attempt_at", String(40), nullable=True),
    Column("delivered_at", String(40), nullable=True),
    Column("receipt", Text, nullable=True),
    Column("last_error", String(200), nullable=True),
    # When a sealed batch that failed may be sent again (NULL: now).
    Column("next_attempt_at", String(40), nullable=True),
    # Its number on the channel (receiver, dataset), in the order sealed.
    Column("sequence", Integer, nullable=False, default=0),
    # When its records and envelope were purged under the flow's retention_days.
    Column("purged_at", String(40), nullable=True),
    Index("ix_outbound_status", "status", "dataset"),
    Index("ix_outbound_channel", "receiver", "dataset", "sequence"),
)

inbound_batches = Table(
    "inbound_batches",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),  # the pull cursor
    Column("sender", String(64), nullable=False),
    Column("batch_id", String(36), nullable=False),
    Column("dataset", String(64), nullable=False),
    Column("schema_version", String(16), nullable=False),
    Column("record_count", Integer, nullable=False),
    Column("records_sha256", String(64), nullable=True),  # of a batch sent whole
    Column("records_root", String(64), nullable=True),  # of a chunked batch
    Column("chunk_count", Integer, nullable=False, default=1),
    Column("signer_kid", String(64), nullable=False),
    # The sender's verified JWS (of a chunked batch: its manifest): proof of origin,
    # sealed under the storage key (gateway.crypto.atrest), as every payload column.
    Column("signed", Encrypted, nullable=False),
    Column("receipt", Text, nullable=False),
    Column("received_at", String(40), nullable=False),
    Column("acked_at", String(40), nullable=True),
    Column("acked_by", String(64), nullable=True),
    # The batch's number on its channel (sender, dataset): each is taken once.
    Column("sequence", Integer, nullable=False, default=0),
    # When its records were purged under the flow's retention_days (digests are kept).
    Column("purged_at", String(40), nullable=True),
    # Batch ids are UUIDs chosen by senders; one id is accepted once, from one sender.
    UniqueConstraint("batch_id", name="uq_inbound_batch_id"),
    Index(
        "uq_inbound_channel_sequence",
        "sender",
        "dataset",
        "sequence",
        unique=True,
        sqlite_where=text("sequence > 0"),
        postgresql_where=text("sequence > 0"),
    ),
    Index("ix_inbound_dataset_seq", "dataset", "seq"),
)

# The chunks of chunked outbound batches. Chunk ``idx`` is the batch's records with
# ``seq`` from ``first_seq`` to ``last_seq``; envelopes are sealed when sent.
outbound_chunks = Table(
    "outbound_chunks",
    metadata,
    Column("batch_id", String(36), primary_key=True),
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("record_count", Integer, nullable=False),
    Column("records_sha256", String(64), nullable=False),
    Column("first_seq", Integer, nullable=False),
    Column("last_seq", Integer, nullable=False),
    sqlite_with_rowid=False,
)

# Chunked batches being received: the verified manifest and how far the chunks
# have come. The batch is committed (a row in inbound_batches) with its last chunk.
inbound_transfers = Table(
    "inbound_transfers",
    metadata,
    Column("batch_id", String(36), primary_key=True),
    Column("sender", String(64), nullable=False),
    Column("dataset", String(64), nullable=False),
    Column("schema_version", String(16), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("record_count", Integer, nullable=False),
    Column("chunk_count", Integer, nullable=False),
    Column("records_root", String(64), nullable=False),
    Column("manifest", Encrypted, nullable=False),  # the sender's verified manifest JWS
    Column("manifest_sha256", String(64), nullable=False),  # of its envelope
    Column("signer_kid", String(64), nullable=False),
    # How many chunks from the first are here without a gap (folded into the tree).
    Column("chunks_received", Integer, nullable=False),
    Column("bytes_received", Integer, nullable=False),  # of the chunks' signed documents
    # The records tree so far (gateway.tlog.merkle.Frontier), to check records_root.
    Column("frontier", LargeBinary, nullable=False),
    Column("started_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
)

# Chunks received, in any order, each the sender's verified JWS (its records inside).
inbound_chunks = Table(
    "inbound_chunks",
    metadata,
    Column("batch_id", String(36), primary_key=True),
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("record_count", Integer, nullable=False),
    Column("records_sha256", String(64), nullable=False),
    Column("signer_kid", String(64), nullable=False),
    # The chunk's leaves of the records tree (32 bytes a record), so that chunks that
    # arrive out of order are folded into it once the ones before them are here.
    Column("leaves", LargeBinary, nullable=False),
    # What the case ledger keeps of its records: JSON [[index in the chunk, facts], ...].
    Column("case_facts", Text, nullable=True),
    # Its records inside: about 2 MB, so last, and in a table with a rowid (on SQLite a
    # column after it is read by walking its overflow pages; revision 0019).
    Column("signed", Encrypted, nullable=False),
)


# Append-only: rows are inserted, never updated or deleted. ``entry`` is the
# RFC 8785 canonical JSON that the Merkle log hashes as a leaf.
audit_events = Table(
    "audit_events",
    metadata,
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("at", String(40), nullable=False),
    Column("event", String(40), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("dataset", String(64), nullable=True),
    Column("batch_id", String(36), nullable=True),
    Column("submission_id", String(36), nullable=True),
    Column("peer", String(64), nullable=True),
    Column("entry", Text, nullable=False),
    # Only batch events carry a batch id; submission events stay out of the index.
    Index(
        "ix_audit_batch",
        "batch_id",
        sqlite_where=text("batch_id IS NOT NULL"),
        postgresql_where=text("batch_id IS NOT NULL"),
    ),
)


# The Merkle tree over the audit entries (RFC 9162), as the hashes of its complete
# subtrees: (level, index) covers entries [index << level, (index + 1) << level);
# level 0 holds the leaf hashes. Any proof then costs O(log n) point reads.
audit_tree = Table(
    "audit_tree",
    metadata,
    Column("level", Integer, primary_key=True, autoincrement=False),
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
    sqlite_with_rowid=False,
)

# Every checkpoint this node signed (C2SP tlog-checkpoint as a signed note).
audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("size", Integer, primary_key=True, autoincrement=False),
    Column("root_hash", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
)

# Cosignatures (C2SP tlog-cosignature) that peers' witnesses gave our checkpoints.
# By witness and size too: the size a witness last cosigned, from which its next
# consistency proof starts, is one index read however long ago it was asked.
audit_cosignatures = Table(
    "audit_cosignatures",
    metadata,
    Column("size", Integer, primary_key=True, autoincrement=False),
    Column("witness", String(255), primary_key=True),
    Column("signature", Text, nullable=False),  # the note signature line
    Column("timestamp", Integer, nullable=False),
    Index("ix_audit_cosignatures_witness_size", "witness", "size"),
)

# Whose turn it is to witness this node's log (gateway.peers.witness): the position
# in the node's list of witnesses where the next publication starts asking.
witness_rotation = Table(
    "witness_rotation",
    metadata,
    Column("origin", String(255), primary_key=True),
    Column("next_turn", Integer, nullable=False),
)

# This node as a witness: the last checkpoint it cosigned, per peer log.
witnessed_logs = Table(
    "witnessed_logs",
    metadata,
    Column("origin", String(255), primary_key=True),
    Column("size", Integer, nullable=False),
    Column("root_hash", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("updated_at", String(40), nullable=False),
)


# What this node as a witness refused, with the evidence: one row per distinct
# (log, kind, size, root), however often it is presented again.
witness_alerts = Table(
    "witness_alerts",
    metadata,
    Column("origin", String(255), primary_key=True),
    Column("kind", String(16), primary_key=True),  # fork | inconsistent
    Column("size", Integer, primary_key=True, autoincrement=False),
    Column("root_hash", LargeBinary(32), primary_key=True),
    Column("witnessed_size", Integer, nullable=False),
    Column("witnessed_note", Text, nullable=False),  # the checkpoint cosigned before
    Column("request", Text, nullable=False),  # the refused request: its note and proof
    Column("first_seen", String(40), nullable=False),
    Column("last_seen", String(40), nullable=False),
    Column("count", Integer, nullable=False),
)

# The ids (jti) of signed node-to-node requests already taken (gateway.peers.signed_requests),
# kept until their signature's time window closes, so that a replay is refused,
# also by another replica of the node.
request_nonces = Table(
    "request_nonces",
    metadata,
    Column("jti", String(36), primary_key=True),
    Column("expires_at", String(40), nullable=False),
    Index("ix_request_nonces_expires", "expires_at"),
)

# Refusals of callers that did not authenticate (and of clients over their rate
# limit), counted per kind and interval instead of audited one by one; a closed
# interval becomes one audit entry and its row is deleted (gateway.node.refusals).
# ``subject``: the peer or client named in the entry, "" for none.
refusal_counts = Table(
    "refusal_counts",
    metadata,
    Column("kind", String(40), primary_key=True),
    Column("subject", String(64), primary_key=True),
    Column("interval_start", Integer, primary_key=True, autoincrement=False),
    Column("interval_end", Integer, nullable=False),
    Column("count", Integer, nullable=False),
)

# Failed authentications per source address and fixed window, shared by every
# worker and replica (gateway.node.refusals). ``source`` is a keyed hash of the
# address, never the address; rows are deleted once their window has passed.
auth_failures = Table(
    "auth_failures",
    metadata,
    Column("scope", String(16), primary_key=True),
    Column("source", String(64), primary_key=True),
    Column("window_end", Integer, primary_key=True, autoincrement=False),
    Column("count", Integer, nullable=False),
    Index("ix_auth_failures_window_end", "window_end"),
)


# Pull mode, at the receiver: the batches it fetched from a sender's outbox and refused
# (docs/ENVELOPE.md 9.5.3). Not fetched again; the sender is told (reported_at) and
# dead-letters the batch. A batch listed again after that was retried by the sender's
# operator on purpose, and is fetched again.
pull_refusals = Table(
    "pull_refusals",
    metadata,
    Column("batch_id", String(36), primary_key=True),
    Column("sender", String(64), nullable=False),
    Column("dataset", String(64), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("refused_at", String(40), nullable=False),
    Column("reported_at", String(40), nullable=True),
)

# Clients of the node's own systems managed with "gateway clients" (the node
# config may name others). Tokens are stored only as their SHA-256.
managed_clients = Table(
    "managed_clients",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("token_sha256", String(64), nullable=False),
    Column("submit", Text, nullable=False),  # JSON arrays of dataset names and roles
    Column("pull", Text, nullable=False),
    Column("roles", Text, nullable=False),
    Column("rate_limit", String(40), nullable=True),
    Column("created_at", String(40), nullable=False),
    Column("expires_at", String(40), nullable=True),
    Column("rotated_at", String(40), nullable=True),
    Column("revoked_at", String(40), nullable=True),
    UniqueConstraint("token_sha256", name="uq_managed_clients_token"),
)


# Auditor console sessions (gateway.node.console_sessions), one row per signed-in browser,
# shared by every worker and replica: a session is valid only while its row is. The
# cookie carries a random session id; only its SHA-256 is kept here. The token's
# SHA-256 ends the session when the client's token is rotated.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id_sha256", String(64), primary_key=True),
    Column("client_id", String(64), nullable=False),
    Column("token_sha256", String(64), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("seen_at", String(40), nullable=False),
    Index("ix_console_sessions_client", "client_id"),
)


# Each peer's JWKS as its node last served it (gateway.peers.jwks): where a rotated
# key that the agreement pins, and the validity of every key, are learnt.
peer_jwks = Table(
    "peer_jwks",
    metadata,
    Column("party", String(64), primary_key=True),
    Column("jwks", Text, nullable=False),
    Column("jwks_sha256", String(64), nullable=False),
    Column("fetched_at", String(40), nullable=False),
)


# The case ledger (gateway.cases): what the records that crossed the gateway say of
# each case, as ids, dates, unit codes and statuses; never personal data. One event
# per record of a ledger dataset, kept once the receiver's receipt for its batch is
# signed (received) or verified (sent); the steps and the cases are computed from
# the events, again for a case whenever one of its events comes.
case_events = Table(
    "case_events",
    metadata,
    Column("batch_id", String(36), primary_key=True),
    Column("idx", Integer, primary_key=True, autoincrement=False),  # the record's place
    Column("case_number", String(64), nullable=False),
    Column("dataset", String(64), nullable=False),
    Column("schema_version", String(16), nullable=False),
    Column("sender", String(64), nullable=False),
    Column("receiver", String(64), nullable=False),
    Column("receipt_at", String(40), nullable=False),  # as the signed receipt states it
    Column("facts", Text, nullable=False),  # JSON: the record's ids, dates, unit codes
    Index("ix_case_events_case", "case_number"),
)

# Delivered batches of ledger datasets waiting to be projected into the ledger
# (gateway.cases.projection): one row added in the transaction that makes the batch
# delivered, removed in the one that projects its last records.
case_inbox = Table(
    "case_inbox",
    metadata,
    Column("batch_id", String(36), primary_key=True),
    Column("dataset", String(64), nullable=False),
    Column("schema_version", String(16), nullable=False),
    Column("sender", String(64), nullable=False),
    Column("receiver", String(64), nullable=False),
    Column("receipt_at", String(40), nullable=False),
    Column("record_count", Integer, nullable=False),
    Column("source", String(8), nullable=False),  # outbox | chunks | inline
    Column("facts", Text, nullable=True),  # inline: JSON [[place, fact], ...]
    Column("projected", Integer, nullable=False),  # records projected so far, from the first
    Index("ix_case_inbox_order", "receipt_at", "batch_id"),
)

# One step of a case: something a party owes by a date (an answer to a clarification
# request, the follow-up report on a corrective action or a recommendation).
case_steps = Table(
    "case_steps",
    metadata,
    Column("case_number", String(64), primary_key=True),
    Column("step", String(200), primary_key=True),  # e.g. klarifikasi/1
    Column("kind", String(32), nullable=False),  # gateway.node.config.STEP_KINDS
    Column("unit", String(32), nullable=True),  # the responsible unit's code
    Column("start_on", String(10), nullable=False),  # a date in Asia/Jakarta
    Column("start_basis", String(16), nullable=False),  # receipt | declared
    Column("due_on", String(10), nullable=False),
    Column("done_on", String(10), nullable=True),
    Column("response_days", Integer, nullable=True),  # working days from start to done
    Column("outcome", String(32), nullable=True),  # the Ombudsman's verdict on it
    Column("opened_by", String(48), nullable=False),  # batch_id#idx of the opening record
    Column("closed_by", String(48), nullable=True),
    Index("ix_case_steps_unit_due", "unit", "due_on"),
    Index(
        "ix_case_steps_open",
        "due_on",
        "unit",
        sqlite_where=text("done_on IS NULL"),
        postgresql_where=text("done_on IS NULL"),
    ),
)

# One row per case: what its steps add up to, for lists and filters over many cases.
# ``state`` does not depend on the day (open | done_on_time | done_late); whether an
# open case is overdue or due soon is its next_due_on against today.
cases = Table(
    "cases",
    metadata,
    Column("case_number", String(64), primary_key=True),
    Column("unit", String(32), nullable=True),
    Column("opened_on", String(10), nullable=False),
    Column("state", String(16), nullable=False),
    Column("next_due_on", String(10), nullable=True),  # earliest due date of an open step
    Column("steps", Integer, nullable=False),
    Column("open_steps", Integer, nullable=False),
    Column("late_steps", Integer, nullable=False),
    Column("events", Integer, nullable=False),
    Column("updated_at", String(40), nullable=False),  # the latest receipt
    Column("digest", String(64), nullable=False),  # of its steps and events (reconcile)
    # The first two hex digits of the SHA-256 of the case number: reconciliation
    # compares two ledgers bucket by bucket.
    Column("bucket", String(2), nullable=False),
    # The other party of the case's events, from this node's point of view: a hub
    # reconciles its cases with each partner apart. NULL: events with more than one
    # peer, or a row from before revision 0017 (gateway cases rebuild fills it);
    # such a case counts with every peer.
    Column("peer", String(64), nullable=True),
    Index("ix_cases_state", "state", "case_number"),
    Index("ix_cases_unit_state", "unit", "state", "case_number"),
    Index("ix_cases_opened", "opened_on"),
    Index("ix_cases_due", "next_due_on"),
    Index("ix_cases_bucket", "bucket", "case_number"),
    Index("ix_cases_peer_bucket", "peer", "bucket", "case_number"),
)

# One row, id 1: a number that grows with every change of the ledger (a projection, a
# rebuild), so that what is computed from the ledger can be kept until it changes.
case_ledger_version = Table(
    "case_ledger_version",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", Integer, nullable=False),
)

# Steps done, counted by unit, month of their due date, kind, lateness and
# response time in working days: monthly figures without reading every step.
case_step_stats = Table(
    "case_step_stats",
    metadata,
    Column("unit", String(32), primary_key=True),  # "" when the unit is not known
    Column("month", String(7), primary_key=True),  # YYYY-MM of the due date
    Column("kind", String(32), primary_key=True),
    Column("late", Boolean, primary_key=True),
    Column("response_days", Integer, primary_key=True, autoincrement=False),
    Column("count", Integer, nullable=False),
    # A period's figures read a range of months, over every unit: this index covers them.
    Index("ix_case_step_stats_month", "month", "unit", "late", "response_days", "count"),
)


# The signed agreements this node has taken up (gateway.node.agreement_reload), one row
# per agreement id: the version in force (or the last one, once ended), the SHA-256 and
# the RFC 8785 canonical JSON of its content (so that the flows and retention of an
# agreement whose file was removed are still known), and when it was taken up or
# ended. Every change of a row takes the next ``generation`` (the largest plus one),
# so that a worker learns whether another worker or replica recorded anything new
# by reading one indexed maximum.
agreements = Table(
    "agreements",
    metadata,
    Column("agreement_id", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("parties", Text, nullable=False),  # JSON list of party ids
    Column("status", String(16), nullable=False),  # in_force | ended
    Column("content", Text, nullable=False),
    Column("file_name", String(255), nullable=False),
    Column("taken_up_at", String(40), nullable=False),
    Column("ended_at", String(40), nullable=True),
    Column("ended_reason", String(255), nullable=True),
    # Each party's detached JWS of the version taken up, JSON {party: token}: so that
    # every process re-verifies it when the file beside it is refused (a rollback).
    Column("signatures", Text, nullable=True),
    Column("generation", Integer, nullable=False),
    Index("ix_agreements_generation", "generation"),
)

# Agreement files refused, once per file name and content (SHA-256 of the file's
# bytes): a broken file is recorded and audited once, not at every look.
agreement_refusals = Table(
    "agreement_refusals",
    metadata,
    Column("file_name", String(255), primary_key=True),
    Column("file_sha256", String(64), primary_key=True),
    Column("agreement_id", String(64), nullable=True),
    Column("reason", Text, nullable=False),
    Column("refused_at", String(40), nullable=False),
)
