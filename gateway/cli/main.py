"""The ``gateway`` command: thin Click wrappers over the core functions."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import ssl
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click
import requests

from gateway.crypto import strict_json
from gateway.crypto.envelope import BatchHeader, open_batch, seal_batch
from gateway.crypto.keyring import REVOCATION_REASONS
from gateway.crypto.keys import NodeKeys, init_keys
from gateway.errors import GatewayError, KeyMaterialError
from gateway.exchange import sending
from gateway.exchange.validation import validator_for
from gateway.node.config import NodeConfig, TLSConfig, load_node_config
from gateway.node.node import Node, peer_keys
from gateway.ops import logs
from gateway.ops.malloc import bound_large_allocations
from gateway.timestamps import from_unix, utc_now

CONFIG_HELP = "the node's config file (default: $GATEWAY_CONFIG)"


def _config(path: str | None) -> NodeConfig:
    path = path or os.environ.get("GATEWAY_CONFIG")
    if not path:
        raise click.UsageError("give --config or set GATEWAY_CONFIG")
    return load_node_config(path)


config_option = click.option("--config", "config_path", metavar="FILE", help=CONFIG_HELP)
operator_option = click.option(
    "--operator",
    default=lambda: os.environ.get("USER") or "operator",
    show_default="the login name",
    help="who does this, for the audit log",
)


@click.group()
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Secure data-exchange gateway node (Pemkot Bekasi - Ombudsman RI).

    Log lines go to standard error: JSON objects under 'serve' (the node), plain text
    for the other commands; GATEWAY_LOG_FORMAT=json or text chooses for all.
    """
    try:
        logs.configure("json" if ctx.invoked_subcommand == "serve" else "text")
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


@cli.group()
def keys() -> None:
    """Manage the node's key pairs."""


@keys.command("init")
@config_option
@click.option(
    "--insecure-dev-keys", is_flag=True, help="store private keys unencrypted (development only)"
)
def keys_init(config_path: str | None, insecure_dev_keys: bool) -> None:
    """Create the node's missing keys; print the public JWKS.

    The keys: Ed25519 for signing batches, X25519 for receiving them, two
    Ed25519 keys for the audit log (checkpoints, cosignatures), and the storage
    key that encrypts stored payloads (storage.jwk). The public JWKS and the
    C2SP vkeys are written beside them as jwks.json and note-keys.txt.
    """
    config = _config(config_path)
    party = config.party
    jwks = init_keys(
        config.key_dir,
        insecure=insecure_dev_keys,
        note_names=(party.log_origin, party.witness_name),
    )
    click.echo(json.dumps(jwks, indent=2))
    click.echo(f"keys written to {config.key_dir}", err=True)


@keys.command("jwks")
@config_option
def keys_jwks(config_path: str | None) -> None:
    """Print the node's public JWKS."""
    config = _config(config_path)
    click.echo(json.dumps(NodeKeys.from_directory(config.key_dir).public_jwks(), indent=2))


@keys.command("vkeys")
@config_option
def keys_vkeys(config_path: str | None) -> None:
    """Print the C2SP vkeys of the node's log and witness keys."""
    config = _config(config_path)
    party = config.party
    for vkey in NodeKeys.from_directory(config.key_dir).vkeys(party.log_origin, party.witness_name):
        click.echo(vkey)


@keys.command("list")
@config_option
def keys_list(config_path: str | None) -> None:
    """Every signing and encryption key of the node: its state, and whether it is pinned."""
    from gateway.node import key_lifecycle

    for row in key_lifecycle.describe(_config(config_path)):
        click.echo(json.dumps(row))


@keys.command("rotate")
@config_option
@operator_option
@click.option(
    "--use", type=click.Choice(["sig", "enc"]), required=True, help="signing or encryption"
)
@click.option(
    "--insecure-dev-keys", is_flag=True, help="store the new key unencrypted (development only)"
)
def keys_rotate(config_path: str | None, operator: str, use: str, insecure_dev_keys: bool) -> None:
    """Make a new signing or encryption key; the old one works on for the grace period."""
    from gateway.node import key_lifecycle

    config = _config(config_path)
    entry = key_lifecycle.rotate(config, use, operator=operator, insecure=insecure_dev_keys)
    click.echo(entry.kid)
    click.echo(
        f"new {use} key {entry.kid}: pin it in the agreement (key_pins of {config.party_id}) "
        "at both parties and restart the nodes; the key it replaces works for "
        f"{config.agreement.keys.grace_period_days} more days, then 'gateway keys retire' it",
        err=True,
    )


@keys.command("retire")
@config_option
@operator_option
@click.argument("kid")
@click.option("--force", is_flag=True, help="even before its grace period is over")
def keys_retire(config_path: str | None, operator: str, kid: str, force: bool) -> None:
    """End a key replaced by a rotation and destroy its private key."""
    from gateway.node import key_lifecycle

    entry = key_lifecycle.retire(_config(config_path), kid, operator=operator, force=force)
    click.echo(f"key {entry.kid} retired; restart the node to stop using it", err=True)


@keys.command("revoke")
@config_option
@operator_option
@click.argument("kid")
@click.option(
    "--reason",
    type=click.Choice(REVOCATION_REASONS),
    default="keyCompromise",
    show_default=True,
)
@click.option(
    "--insecure-dev-keys", is_flag=True, help="store a replacement unencrypted (development only)"
)
def keys_revoke(
    config_path: str | None, operator: str, kid: str, reason: str, insecure_dev_keys: bool
) -> None:
    """Stop trusting a key at once (a compromise) and destroy its private key."""
    from gateway.node import key_lifecycle

    config = _config(config_path)
    revoked, replacement = key_lifecycle.revoke(
        config, kid, operator=operator, reason=reason, insecure=insecure_dev_keys
    )
    click.echo(
        f"key {revoked.kid} revoked; list it in revoked_keys of {config.party_id} in the "
        "agreement at both parties, and restart the node",
        err=True,
    )
    if replacement is not None:
        click.echo(replacement.kid)
        click.echo(
            f"its replacement {replacement.kid} must be pinned (key_pins) before the node "
            "can use it",
            err=True,
        )


@keys.command("refresh")
@config_option
def keys_refresh(config_path: str | None) -> None:
    """Fetch the peers' JWKS now (the schedule does it every jwks_refresh_seconds)."""
    from gateway.peers import jwks

    node = Node.from_config(_config(config_path))
    try:
        report = jwks.refresh(node)
    finally:
        node.store.dispose()
    click.echo(
        json.dumps(
            {"updated": report.updated, "unchanged": report.unchanged, "failed": report.failed}
        )
    )
    if report.failed:
        sys.exit(1)


@cli.group()
def envelope() -> None:
    """Seal and open batch envelopes (for interoperability tests)."""


@envelope.command("seal")
@config_option
@click.option("--dataset", required=True)
@click.option("--schema-version", required=True)
@click.option("--batch-id", default=None, help="default: a new UUID")
@click.argument("records_file", type=click.File("rb"))
def envelope_seal(
    config_path: str | None,
    dataset: str,
    schema_version: str,
    batch_id: str | None,
    records_file: Any,
) -> None:
    """Seal a JSON array of records from RECORDS_FILE ('-' for stdin) to the dataset's receiver."""
    config = _config(config_path)
    agreed = config.agreement.flow(dataset, sender=config.party_id)
    if agreed is None:
        raise GatewayError(f"{config.party_id} sends no dataset named {dataset!r}")
    try:
        records = strict_json.loads(records_file.read())
    except ValueError as exc:
        raise GatewayError(f"{records_file.name}: not JSON: {exc}") from None
    if not isinstance(records, list):
        raise GatewayError(f"{records_file.name}: expected a JSON array of records")
    if schema_version not in agreed.schema_versions:
        raise GatewayError(
            f"schema version {schema_version!r} of {dataset!r} is not accepted "
            f"under the agreement (accepted: {list(agreed.schema_versions)})"
        )
    validator_for(dataset, schema_version).check(records)
    own = NodeKeys.from_directory(config.key_dir)
    try:
        header = BatchHeader(
            sender=config.party_id,
            receiver=agreed.receiver,
            dataset=dataset,
            schema_version=schema_version,
            batch_id=batch_id or str(uuid.uuid4()),
            created_at=utc_now(),
        )
        token = seal_batch(
            header,
            records,
            signing_key=own.signing,
            recipient_key=peer_keys(config).encryption_key_of(agreed.receiver),
            max_bytes=agreed.max_chunk_bytes,
        )
    except ValueError as exc:
        raise GatewayError(str(exc)) from None
    click.echo(token)


@envelope.command("open")
@config_option
@click.argument("envelope_file", type=click.File("rb"))
def envelope_open(config_path: str | None, envelope_file: Any) -> None:
    """Decrypt and verify an envelope addressed to this node; print the signed document."""
    config = _config(config_path)
    own = NodeKeys.from_directory(config.key_dir)
    max_bytes = config.agreement.largest_incoming_envelope(config.party_id)
    try:
        opened = open_batch(
            envelope_file.read().strip(),
            own_party=config.party_id,
            decryption_key=own.decryption,
            peer_keys=peer_keys(config),
            max_bytes=max_bytes,
        )
    except GatewayError as exc:
        # Locally, the operator may see exactly why.
        raise GatewayError(f"envelope rejected: {getattr(exc, 'detail', exc)}") from None
    click.echo(
        json.dumps(
            {"signer_kid": opened.signer_kid, "document": opened.document},
            indent=2,
            ensure_ascii=False,
        )
    )


@cli.group("transfer")
def transfer_group() -> None:
    """Send pending records to peers, or pull what peers sealed for this node."""


@transfer_group.command("run")
@config_option
@click.option("--dataset", default=None, help="only this outgoing dataset")
def transfer_run(config_path: str | None, dataset: str | None) -> None:
    """Seal pending records and deliver sealed batches now."""
    node = Node.from_config(_config(config_path))
    bars: dict[str, Any] = {}

    def progress(name: str, done: int, total: int) -> None:
        # A bar per dataset on a terminal (click draws nothing when stderr is not one).
        if total == 0:
            return
        bar = bars.get(name)
        if bar is None:
            bar = bars[name] = click.progressbar(
                length=total, label=f"sending {name}", file=sys.stderr
            )
        bar.update(done - bar.pos)
        if done == total:
            bar.render_finish()

    report = sending.run(node, dataset=dataset, progress=progress)
    click.echo(
        json.dumps(
            {
                "sealed": len(report.sealed),
                "delivered": len(report.delivered),
                "failed": len(report.failed),
                "errors": report.errors,
            }
        )
    )
    if report.failed or report.errors:
        sys.exit(3)


@transfer_group.command("pull")
@config_option
@click.option("--dataset", default=None, help="only this dataset, of those pulled in pull mode")
def transfer_pull(config_path: str | None, dataset: str | None) -> None:
    """Fetch the batches sealed for this node from the senders of its pull flows now."""
    from gateway.exchange import pull

    node = Node.from_config(_config(config_path))
    try:
        report = pull.run(node, dataset=dataset, exclusive=True)
    finally:
        node.store.dispose()
    click.echo(
        json.dumps(
            {
                "received": len(report.received),
                "delivered": len(report.delivered),
                "failed": len(report.failed),
                "errors": report.errors,
            }
        )
    )
    if report.failed or report.errors:
        sys.exit(3)


@cli.group("clients")
def clients_group() -> None:
    """Credentials of the node's own systems: add, list, rotate, revoke."""


@contextmanager
def _clients_node(config_path: str | None) -> Iterator[Node]:
    node = Node.from_config(_config(config_path))
    try:
        yield node
    finally:
        node.store.dispose()


@cli.group("console")
def console_group() -> None:
    """The auditor console."""


@console_group.group("sessions")
def console_sessions_group() -> None:
    """Console sessions on this node: list, end."""


@console_sessions_group.command("list")
@config_option
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
def console_sessions_list(config_path: str | None, as_json: bool) -> None:
    """Every console session kept: client, start, last use (never a session id)."""
    from gateway.http.console import sessions

    with _clients_node(config_path) as node:
        rows = sessions.listing(node)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{'client':<24} {'status':<8} {'started':<28} last used")
    for row in rows:
        click.echo(
            f"{row['client']:<24} {row['status']:<8} {row['started_at']:<28} {row['seen_at']}"
        )


@console_sessions_group.command("end")
@config_option
@click.option("--client", "client_id", help="end every session of this client")
@click.option("--all", "end_all", is_flag=True, help="end every session of every client")
@click.option(
    "--expired", is_flag=True, help="only delete the sessions past their idle or total lifetime"
)
def console_sessions_end(
    config_path: str | None, client_id: str | None, end_all: bool, expired: bool
) -> None:
    """End console sessions now: their cookies are refused at the next request."""
    from gateway.http.console import sessions

    if sum((client_id is not None, end_all, expired)) != 1:
        raise click.UsageError("give one of --client ID, --all or --expired")
    with _clients_node(config_path) as node:
        if expired:
            count = sessions.purge_expired(node)
        else:
            count = sessions.end_all(node, client_id=client_id)
    click.echo(f"ended {count} console sessions")


@cli.group("retention")
def retention_group() -> None:
    """Purging delivered payloads after the agreed retention period."""


@retention_group.command("purge")
@config_option
def retention_purge(config_path: str | None) -> None:
    """Purge now the batches past their flow's retention_days (the schedule does it hourly)."""
    from gateway.exchange import retention

    with _clients_node(config_path) as node:
        report = retention.purge(node)
    click.echo(f"purged {len(report.sent)} sent and {len(report.received)} received batches")


@clients_group.command("add")
@config_option
@operator_option
@click.argument("client_id")
@click.option("--name", help="what the system is (default: its id)")
@click.option("--submit", "submit", multiple=True, help="a dataset it may submit (repeatable)")
@click.option("--pull", "pull", multiple=True, help="a dataset it may pull (repeatable)")
@click.option("--role", "roles", multiple=True, help="auditor or operator (repeatable)")
@click.option(
    "--expires-days",
    type=click.IntRange(min=1),
    default=365,
    show_default=True,
    help="days until the token stops working",
)
@click.option("--rate-limit", help="its own rate limit, e.g. 20/second")
def clients_add(
    config_path: str | None,
    operator: str,
    client_id: str,
    name: str | None,
    submit: tuple[str, ...],
    pull: tuple[str, ...],
    roles: tuple[str, ...],
    expires_days: int,
    rate_limit: str | None,
) -> None:
    """Make a client; its token is printed once and kept only as a hash."""
    from gateway.node import credentials

    with _clients_node(config_path) as node:
        token = credentials.add(
            node,
            client_id,
            name=name,
            submit=submit,
            pull=pull,
            roles=roles,
            expires_in_days=expires_days,
            rate_limit=rate_limit,
            operator=operator,
        )
    click.echo(token)
    click.echo(
        f"token of {client_id}: shown once, now; give it to the system over a safe "
        f"channel (it expires in {expires_days} days)",
        err=True,
    )


@clients_group.command("rotate")
@config_option
@operator_option
@click.argument("client_id")
def clients_rotate(config_path: str | None, operator: str, client_id: str) -> None:
    """Give a client a new token; the old one stops working now."""
    from gateway.node import credentials

    with _clients_node(config_path) as node:
        token = credentials.rotate(node, client_id, operator=operator)
    click.echo(token)
    click.echo(f"new token of {client_id}: shown once; the old one no longer works", err=True)


@clients_group.command("revoke")
@config_option
@operator_option
@click.argument("client_id")
def clients_revoke(config_path: str | None, operator: str, client_id: str) -> None:
    """Stop a client's token from working."""
    from gateway.node import credentials

    with _clients_node(config_path) as node:
        credentials.revoke(node, client_id, operator=operator)
    click.echo(f"{client_id}: revoked")


@clients_group.command("list")
@config_option
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
def clients_list(config_path: str | None, as_json: bool) -> None:
    """Every client with its rights and state (never a token)."""
    from gateway.node import credentials

    with _clients_node(config_path) as node:
        rows = credentials.listing(node)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{'client':<24} {'source':<8} {'status':<8} {'expires':<12} rights")
    for row in rows:
        rights = ", ".join(
            [f"submit {d}" for d in row["submit"]]
            + [f"pull {d}" for d in row["pull"]]
            + [f"role {r}" for r in row["roles"]]
        )
        expires = (row["expires_at"] or "-")[:10]
        click.echo(
            f"{row['id']:<24} {row['source']:<8} {row['status']:<8} {expires:<12} {rights or '-'}"
        )


@transfer_group.command("status")
@config_option
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
def transfer_status(config_path: str | None, as_json: bool) -> None:
    """Records pending and batches per state, per dataset and peer, with the oldest's age."""
    from gateway.exchange import batch_admin

    node = Node.from_config(_config(config_path))
    try:
        rows = batch_admin.status(node)
    finally:
        node.store.dispose()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    states = ("pending", "in_flight", "retrying", "dead", "cancelled", "delivered")
    click.echo(f"{'dataset':<28} {'peer':<15}" + "".join(f" {s:>16}" for s in states))
    for row in rows:
        cells = []
        for state in states:
            item = row[state]
            count = item["records"] if state == "pending" else item["batches"]
            age = item["oldest_age_seconds"]
            cells.append(f"{count}" + (f" ({_ago(age)})" if age is not None and count else ""))
        click.echo(f"{row['dataset']:<28} {row['peer']:<15}" + "".join(f" {c:>16}" for c in cells))


def _ago(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


@transfer_group.command("retry")
@config_option
@operator_option
@click.argument("batch_id")
def transfer_retry(config_path: str | None, operator: str, batch_id: str) -> None:
    """Send a dead (or waiting) batch again at the next run."""
    from gateway.exchange import batch_admin

    node = Node.from_config(_config(config_path))
    try:
        click.echo(json.dumps(batch_admin.retry(node, batch_id, operator=operator)))
    finally:
        node.store.dispose()


@transfer_group.command("cancel")
@config_option
@operator_option
@click.option("--release", is_flag=True, help="put the batch's records back to be sealed anew")
@click.argument("batch_id")
def transfer_cancel(config_path: str | None, operator: str, release: bool, batch_id: str) -> None:
    """Stop sending a batch that is not delivered."""
    from gateway.exchange import batch_admin

    node = Node.from_config(_config(config_path))
    try:
        result = batch_admin.cancel(node, batch_id, operator=operator, release=release)
    finally:
        node.store.dispose()
    click.echo(json.dumps(result))


@cli.group("audit")
def audit_group() -> None:
    """The tamper-evident audit log: checkpoints, evidence bundles, verification."""


@audit_group.command("checkpoint")
@config_option
def audit_checkpoint(config_path: str | None) -> None:
    """Sign a checkpoint of the whole log and have the peers' witnesses cosign it."""
    from gateway.node import audit_log
    from gateway.peers import witness

    node = Node.from_config(_config(config_path))
    try:
        report = witness.publish(node)
        with node.store.read() as conn:
            click.echo(audit_log.cosigned_note(conn, report.checkpoint), nl=False)
    finally:
        node.store.dispose()
    for party, reason in report.failed.items():
        click.echo(f"gateway: warning: witness {party} did not cosign: {reason}", err=True)


@audit_group.command("export")
@config_option
@click.option("--batch", "batch_id", required=True, help="the batch id")
@click.option("--out", "out", type=click.File("w"), default="-", help="output file (default: -)")
def audit_export(config_path: str | None, batch_id: str, out: Any) -> None:
    """Write the evidence bundle of one batch: entries, inclusion proofs, checkpoint, keys."""
    from gateway.peers.bundles import export_bundle

    node = Node.from_config(_config(config_path))
    try:
        bundle = export_bundle(node, batch_id)
    except LookupError as exc:
        raise GatewayError(str(exc)) from None
    finally:
        node.store.dispose()
    json.dump(bundle, out, indent=2)
    out.write("\n")


def _trusted(agreement_path: str, origin: str) -> Any:
    from gateway.node.config import load_agreement
    from gateway.peers.bundles import trusted_keys

    agreement = load_agreement(agreement_path)
    party = next((p for p in agreement.parties.values() if p.log_origin == origin), None)
    if party is None:
        raise GatewayError(f"no party of {agreement_path} keeps a log named {origin!r}")
    return party.id, trusted_keys(agreement, party.id, source=agreement_path)


def _state_for(state_dir: str | None, no_state: bool, origin: str) -> Any:
    from pathlib import Path

    from gateway.tlog.auditor import SavedState

    if no_state:
        return None
    base = Path(state_dir) if state_dir else Path(click.get_app_dir("gateway-audit"))
    return SavedState(base / origin.replace("/", "_"))


def _origin_of(signed: str) -> str:
    return signed.split("\n", 1)[0]


def _print_report(report: Any, party: str) -> None:

    cosigners = ", ".join(f"{name} at {from_unix(ts)}" for name, ts in report.cosigned_by) or "none"
    click.echo(f"log {report.origin} ({party})")
    click.echo(f"  checkpoint: size {report.size}, root {report.root_hash.hex()}")
    click.echo(f"  cosigned by: {cosigners}")
    if report.latest_size is not None and report.latest_size > report.size:
        unwitnessed = report.latest_size - report.size
        click.echo(
            f"  not yet witnessed: {unwitnessed} newer entries (checkpoint {report.latest_size})"
        )
    if report.previous_size is not None:
        click.echo(f"  consistent with the checkpoint of size {report.previous_size} saved before")
    click.echo(f"  entries verified: {report.entries_checked}")
    for problem in report.problems:
        click.echo(f"  FAILED: {problem}")


audit_state_options = [
    click.option(
        "--agreement",
        "agreement_path",
        metavar="FILE",
        help="trust the log and witness keys this agreement registers",
    ),
    click.option(
        "--state",
        "state_dir",
        metavar="DIR",
        help="where the last verified checkpoints are kept "
        "(default: the user's gateway-audit folder)",
    ),
    click.option("--no-state", is_flag=True, help="neither read nor save a verified checkpoint"),
    click.option(
        "--min-cosignatures",
        type=click.IntRange(min=0),
        default=1,
        show_default=True,
        help="cosignatures by the agreement's witnesses a checkpoint needs to be trusted",
    ),
]


# For a node that asks its clients for certificates ([node.tls] client_ca_file).
audit_tls_options = [
    click.option(
        "--tls-ca",
        metavar="FILE",
        type=click.Path(exists=True, dir_okay=False),
        help="CA bundle to verify the node's certificate (default: the system's)",
    ),
    click.option(
        "--tls-cert",
        metavar="FILE",
        type=click.Path(exists=True, dir_okay=False),
        help="client certificate to present to the node",
    ),
    click.option(
        "--tls-key",
        metavar="FILE",
        type=click.Path(exists=True, dir_okay=False),
        help="the key of --tls-cert",
    ),
]


def _audit_session(
    tls_ca: str | None, tls_cert: str | None, tls_key: str | None
) -> requests.Session:
    """A session for the auditor API: the node's certificate verified, ours shown if given."""
    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together")
    from gateway.node.outbound_tls import system_trust_store

    session = requests.Session()
    session.verify = tls_ca or system_trust_store()
    if tls_cert is not None and tls_key is not None:
        session.cert = (tls_cert, tls_key)
    return session


F = TypeVar("F", bound=Callable[..., Any])


def _with_options(options: list[Any]) -> Callable[[F], F]:
    def wrap(f: F) -> F:
        for option in reversed(options):
            f = option(f)
        return f

    return wrap


@audit_group.command("verify")
@click.argument("bundle", type=click.File("r"), required=False)
@click.option("--url", help="verify the whole log of the node at this URL instead of a bundle")
@click.option("--token", envvar="GATEWAY_AUDIT_TOKEN", help="auditor token ($GATEWAY_AUDIT_TOKEN)")
@_with_options(audit_state_options)
@_with_options(audit_tls_options)
def audit_verify(
    bundle: Any,
    url: str | None,
    token: str | None,
    agreement_path: str | None,
    state_dir: str | None,
    no_state: bool,
    min_cosignatures: int,
    tls_ca: str | None,
    tls_cert: str | None,
    tls_key: str | None,
) -> None:
    """Verify an evidence bundle, or a node's whole log, with keys you trust.

    Exit status 0 when everything verifies, 1 when something does not (the
    first bad entry is named), 2 for a usage error.
    """
    from gateway.tlog import auditor

    if (bundle is None) == (url is None):
        raise click.UsageError("give a BUNDLE file or --url")
    try:
        if bundle is not None:
            try:
                data = strict_json.loads(bundle.read())
            except ValueError as exc:
                raise GatewayError(f"{bundle.name}: not JSON ({exc})") from None
            if not isinstance(data, dict):
                raise GatewayError(f"{bundle.name}: not an audit bundle (a JSON object)")
            origin = _origin_of(str(data.get("checkpoint", "")))
            if agreement_path:
                party, keys = _trusted(agreement_path, origin)
            else:
                party, keys = str(data.get("party")), auditor.keys_from_bundle(data)
                click.echo(
                    "gateway: warning: no --agreement: the keys come from the bundle itself, "
                    "which shows the bundle is intact, not who signed it",
                    err=True,
                )
            report = auditor.verify_bundle(
                data,
                keys,
                state=_state_for(state_dir, no_state, origin),
                min_cosignatures=min_cosignatures,
            )
        else:
            if not token:
                raise click.UsageError("--url needs --token or $GATEWAY_AUDIT_TOKEN")
            if not agreement_path:
                raise click.UsageError("--url needs --agreement (the keys to trust)")
            session = _audit_session(tls_ca, tls_cert, tls_key)
            client = auditor.LogClient(str(url), token, session=session)
            report = _verify_url(client, agreement_path, state_dir, no_state, min_cosignatures)
            party = report.party
    except auditor.VerificationError as exc:
        click.echo(f"gateway: verification failed: {exc}", err=True)
        sys.exit(1)
    except requests.RequestException as exc:
        raise GatewayError(f"cannot reach the node: {type(exc).__name__}") from None
    _print_report(report, party)
    if not report.ok:
        sys.exit(1)
    click.echo("  OK")


def _verify_url(
    client: Any,
    agreement_path: str,
    state_dir: str | None,
    no_state: bool,
    min_cosignatures: int,
    *,
    keep: bool = False,
) -> Any:
    from gateway.tlog import auditor

    origin = _origin_of(client.checkpoint())
    party, keys = _trusted(agreement_path, origin)
    bars: list[Any] = []

    def progress(done: int, total: int) -> None:
        if not bars:
            bars.append(
                click.progressbar(length=total, label=f"verifying {origin}", file=sys.stderr)
            )
        if done % 1000 == 0 or done == total:
            bars[0].update(done - bars[0].pos)

    try:
        report = auditor.verify_log(
            client,
            keys,
            state=_state_for(state_dir, no_state, origin),
            progress=progress,
            keep_entries=keep,
            min_cosignatures=min_cosignatures,
        )
    finally:
        if bars:
            bars[0].render_finish()
    report.party = party
    return report


@audit_group.command("reconcile")
@click.argument("url_a")
@click.argument("url_b")
@click.option(
    "--token-a",
    envvar="GATEWAY_AUDIT_TOKEN_A",
    required=True,
    help="auditor token at A ($GATEWAY_AUDIT_TOKEN_A)",
)
@click.option(
    "--token-b",
    envvar="GATEWAY_AUDIT_TOKEN_B",
    required=True,
    help="auditor token at B ($GATEWAY_AUDIT_TOKEN_B)",
)
@_with_options(audit_state_options)
@_with_options(audit_tls_options)
def audit_reconcile(
    url_a: str,
    url_b: str,
    token_a: str,
    token_b: str,
    agreement_path: str | None,
    state_dir: str | None,
    no_state: bool,
    min_cosignatures: int,
    tls_ca: str | None,
    tls_cert: str | None,
    tls_key: str | None,
) -> None:
    """Verify two nodes' logs, then check every batch one sent the other received.

    Lists every gap; exit status 1 when there is one (or a log does not verify).
    """
    from gateway.tlog import auditor

    if not agreement_path:
        raise click.UsageError("reconcile needs --agreement (the keys to trust)")
    logs: dict[str, list[str]] = {}
    reports, witnessed = [], []
    failed = False
    try:
        for url, token in ((url_a, token_a), (url_b, token_b)):
            session = _audit_session(tls_ca, tls_cert, tls_key)
            client = auditor.LogClient(url, token, session=session)
            report = _verify_url(
                client, agreement_path, state_dir, no_state, min_cosignatures, keep=True
            )
            reports.append(report)
            witnessed.append(client.witnessed())
            logs[report.party] = report.entries
        # Each log must serve at least what the other party's witness cosigned of it.
        for report, other in zip(reports, reversed(witnessed), strict=True):
            _, keys = _trusted(agreement_path, report.origin)
            behind = auditor.cross_check(report, other, keys)
            if behind is not None:
                report.problems.append(behind)
        for report in reports:
            _print_report(report, report.party)
            failed = failed or not report.ok
    except auditor.VerificationError as exc:
        click.echo(f"gateway: verification failed: {exc}", err=True)
        sys.exit(1)
    except requests.RequestException as exc:
        raise GatewayError(f"cannot reach a node: {type(exc).__name__}") from None
    if failed:
        sys.exit(1)
    if len(logs) != 2:
        raise GatewayError("both URLs serve the same party's log")
    result = auditor.reconcile(logs)
    click.echo(
        f"reconciliation: {result.batches} batches, {result.matched} matched, "
        f"{len(result.gaps)} gaps, {len(result.pending)} pending"
    )
    for gap in result.gaps:
        click.echo(f"  GAP: {gap}")
    for gap in result.pending:
        click.echo(f"  PENDING: {gap}")
    if not result.ok:
        sys.exit(1)


@cli.group("db")
def db_group() -> None:
    """The node's database: migrations."""


@db_group.command("upgrade")
@config_option
def db_upgrade(config_path: str | None) -> None:
    """Create or upgrade the node's tables to this release (also done at start).

    Payloads stored before encryption at rest are sealed on the way, with the
    storage key in the node's key directory (and the key passphrase).
    """
    from gateway.crypto import atrest
    from gateway.store import migrate
    from gateway.store.database import Store

    config = _config(config_path)
    cipher: atrest.Cipher | None = None
    # Needed only if there are payloads to seal; the migration then says so.
    with contextlib.suppress(KeyMaterialError):
        cipher = atrest.load_cipher(config.key_dir)
    store = Store(config.database_url, cipher=cipher)
    try:
        migrate.upgrade(store.engine)
        click.echo(f"database at revision {migrate.current(store.engine)}")
    finally:
        store.dispose()


@db_group.command("current")
@config_option
def db_current(config_path: str | None) -> None:
    """Print the database's revision and this release's newest one."""
    from gateway.store import migrate
    from gateway.store.database import Store

    store = Store(_config(config_path).database_url)
    try:
        click.echo(
            f"database: {migrate.current(store.engine) or 'none'}, release: {migrate.head()}"
        )
    finally:
        store.dispose()


@cli.group("backup")
def backup_group() -> None:
    """Back up the node while it runs: its SQLite database, its keys (keep them apart)."""


@backup_group.command("db")
@config_option
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="a new file")
def backup_db(config_path: str | None, out: str) -> None:
    """Copy the node's SQLite database consistently, while the node runs (online backup).

    PostgreSQL: use pg_dump instead (docs/OPERATIONS.md).
    """
    from pathlib import Path

    from gateway.store.backup import backup_database

    done = backup_database(_config(config_path).database_url, Path(out))
    click.echo(
        f"database backed up to {done.path}: revision {done.revision or 'none'}, "
        f"{done.audit_entries} audit entries, newest checkpoint of size {done.checkpoint_size}"
    )


@backup_group.command("keys")
@config_option
@click.option(
    "--out", "out", required=True, type=click.Path(file_okay=False), help="a new directory"
)
def backup_keys(config_path: str | None, out: str) -> None:
    """Copy the node's key directory (private keys stay encrypted with the passphrase)."""
    from pathlib import Path

    from gateway.store.backup import backup_keys as copy_keys

    written = copy_keys(_config(config_path).key_dir, Path(out))
    click.echo(f"{len(written)} key files backed up to {out}; store them apart from the database")


@cli.group("schemas")
def schemas_group() -> None:
    """The agreed schemas: export them as JSON Schema."""


@schemas_group.command("export")
@click.option(
    "--out",
    "out_dir",
    default="json-schema",
    show_default=True,
    type=click.Path(file_okay=False),
    help="directory to write DATASET/VERSION.schema.json into",
)
def schemas_export(out_dir: str) -> None:
    """Write the JSON Schema (draft 2020-12) of every dataset version."""
    from pathlib import Path

    from schemas import registry
    from schemas.export import json_schema

    root = Path(out_dir)
    for dataset in registry.dataset_names():
        for version in registry.versions(dataset):
            target = root / dataset / f"{version}.schema.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            document = json.dumps(json_schema(dataset, version), indent=2, ensure_ascii=False)
            target.write_text(document + "\n", encoding="utf-8")
            click.echo(str(target))


@schemas_group.command("validate")
@click.argument("dataset")
@click.argument("records_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--version", "version", default=None, help="schema version (default: the latest)")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "jsonl", "csv"]),
    default=None,
    help="default: from the file name",
)
@click.option("--lang", type=click.Choice(["en", "id"]), default="en", show_default=True)
def schemas_validate(
    dataset: str, records_file: str, version: str | None, fmt: str | None, lang: str
) -> None:
    """Check every record in RECORDS_FILE against the agreed schema; exit 1 if any is invalid."""
    from pathlib import Path

    from gateway.messages import field_message
    from schemas import registry
    from schemas.reader import ReadError, read_records

    known = registry.versions(dataset)
    if not known:
        raise GatewayError(f"unknown dataset {dataset!r} (known: {registry.dataset_names()})")
    version = version or max(known, key=lambda v: tuple(int(p) for p in v.split(".")))
    validator = validator_for(dataset, version)
    try:
        records = read_records(
            Path(records_file), registry.schema_class(dataset, version)(), fmt=fmt
        )
    except ReadError as exc:
        raise GatewayError(str(exc)) from None
    errors = validator.errors(records)
    for e in errors:
        click.echo(f"{e.path}\t{e.code}\t{field_message(e.code, lang)}")
    bad = len({e.path.split("/")[2] for e in errors})
    click.echo(
        f"{dataset} {version}: {len(records) - bad} of {len(records)} records valid", err=True
    )
    if errors:
        sys.exit(1)


@schemas_group.command("diff")
@click.argument("dataset")
@click.argument("old")
@click.argument("new")
def schemas_diff(dataset: str, old: str, new: str) -> None:
    """Classify the change from version OLD to NEW; exit 0 if compatible, 1 if breaking."""
    from schemas.diff import diff

    for version in (old, new):
        validator_for(dataset, version)  # a one-line error for an unknown dataset or version
    changes = diff(dataset, old, new)
    for change in changes:
        kind = "breaking" if change.breaking else "compatible"
        click.echo(f"{kind}\t{change.path}\t{change.description}")
    breaking = any(c.breaking for c in changes)
    click.echo(f"{dataset} {old} -> {new}: {'breaking' if breaking else 'compatible'}", err=True)
    if breaking:
        sys.exit(1)


@schemas_group.command("sample")
@click.argument("dataset")
@click.option("--count", "count", type=click.IntRange(1, 100_000), default=10, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--jsonl", is_flag=True, help="one record per line instead of a JSON array")
@click.option(
    "--csv", "as_csv", is_flag=True, help="CSV, as 'schemas validate' and gateway-client read it"
)
def schemas_sample(dataset: str, count: int, seed: int, jsonl: bool, as_csv: bool) -> None:
    """Print COUNT valid, realistic records of DATASET (the same for a seed on a given day)."""
    from schemas.samples import sample_records

    if jsonl and as_csv:
        raise click.UsageError("give --jsonl or --csv, not both")
    try:
        records = sample_records(dataset, count, seed=seed)
    except KeyError:
        raise GatewayError(f"no sample generator for dataset {dataset!r}") from None
    if as_csv:
        from schemas import registry
        from schemas.reader import csv_text

        schema = registry.schema_class(dataset, registry.versions(dataset)[-1])()
        click.echo(csv_text(records, schema), nl=False)
    elif jsonl:
        for record in records:
            click.echo(json.dumps(record, ensure_ascii=False))
    else:
        click.echo(json.dumps(records, ensure_ascii=False, indent=2))


@schemas_group.command("docs")
@click.option(
    "--out", "out_dir", default="docs/datasets", show_default=True, type=click.Path(file_okay=False)
)
def schemas_docs(out_dir: str) -> None:
    """Write a Markdown page per dataset, and an index, from the agreed schemas."""
    from pathlib import Path

    from schemas import registry
    from schemas.docs import dataset_page, index_page

    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    (root / "README.md").write_text(index_page(), encoding="utf-8")
    for dataset in registry.dataset_names():
        (root / f"{dataset}.md").write_text(dataset_page(dataset), encoding="utf-8")
        click.echo(str(root / f"{dataset}.md"))


@cli.command("openapi")
@click.option(
    "--out",
    "out_file",
    default=None,
    type=click.Path(dir_okay=False),
    help="write it to FILE instead of printing it",
)
def openapi_command(out_file: str | None) -> None:
    """Print the OpenAPI 3.1 document of the node's HTTP API (also at GET /openapi.json)."""
    from pathlib import Path

    from gateway.http.openapi import document

    text = json.dumps(document(), indent=2, ensure_ascii=False) + "\n"
    if out_file is None:
        click.echo(text, nl=False)
    else:
        Path(out_file).write_text(text, encoding="utf-8")
        click.echo(out_file, err=True)


@cli.group("proxy")
def proxy_group() -> None:
    """The reverse proxy in front of the node (docs/OPERATIONS.md section 4.1)."""


@proxy_group.command("nginx")
@config_option
@click.option("--listen", required=True, help="where nginx listens, host:port (e.g. 0.0.0.0:443)")
@click.option("--server-name", required=True, help="the host name(s) the node is reached by")
@click.option("--tls-cert", type=click.Path(dir_okay=False), help="nginx's certificate chain")
@click.option("--tls-key", type=click.Path(dir_okay=False), help="its private key")
@click.option(
    "--client-ca",
    type=click.Path(dir_okay=False),
    help="require client certificates issued by a CA in this bundle (mutual TLS)",
)
@click.option(
    "--no-tls",
    is_flag=True,
    help="plain HTTP (another proxy in front terminates TLS, or a test on loopback)",
)
@click.option("--upstream", help="where the node listens, host:port (default: its listen)")
def proxy_nginx(
    config_path: str | None,
    listen: str,
    server_name: str,
    tls_cert: str | None,
    tls_key: str | None,
    client_ca: str | None,
    no_tls: bool,
    upstream: str | None,
) -> None:
    """Print the nginx configuration that serves the node (an http-context file).

    nginx reads every request in full before the node sees it, cuts slow clients
    and limits each address: install it in /etc/nginx/conf.d/.
    """
    from pathlib import Path

    from gateway.ops.proxy import ProxyTLS, render_nginx

    tls = None
    if no_tls:
        if tls_cert or tls_key or client_ca:
            raise click.UsageError("--no-tls takes no --tls-cert, --tls-key or --client-ca")
    elif tls_cert and tls_key:
        tls = ProxyTLS(Path(tls_cert), Path(tls_key), Path(client_ca) if client_ca else None)
    else:
        raise click.UsageError("give --tls-cert and --tls-key, or --no-tls")
    try:
        text = render_nginx(
            _config(config_path),
            listen=listen,
            server_name=server_name,
            tls=tls,
            upstream=upstream,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(text, nl=False)


@cli.command()
@config_option
@click.option("--no-scheduler", is_flag=True, help="serve the API only; run no transfers")
@click.option("--dev-server", is_flag=True, help="Flask's debug server instead of gunicorn")
def serve(config_path: str | None, no_scheduler: bool, dev_server: bool) -> None:
    """Run the node: the HTTP API under gunicorn, and the transfer schedule."""
    config = _config(config_path)
    if dev_server and config.mode == "production":
        raise GatewayError("--dev-server is for development only; this node is in production mode")
    if dev_server and config.tls.serves_https:
        raise GatewayError(
            "--dev-server serves plain HTTP only; a node with [node.tls] cert_file runs "
            "under gunicorn (leave out --dev-server)"
        )
    node = Node.from_config(config)  # fails early on bad keys; creates the schema once
    scheduler = None
    if config.scheduler_enabled and not no_scheduler:
        from gateway.exchange.schedule import build_scheduler

        scheduler = build_scheduler(node)
        scheduler.start()
    env = {
        **os.environ,
        "GATEWAY_CONFIG": str(config.source),
        "GATEWAY_LISTEN": config.listen,
        "GATEWAY_WORKERS": str(config.workers),
        "GATEWAY_THREADS": str(config.threads),
    }
    if dev_server:
        host, _, port = config.listen.rpartition(":")
        argv = [
            sys.executable,
            "-m",
            "flask",
            "--app",
            "gateway.http.app:create_app()",
            "run",
            "--host",
            host,
            "--port",
            port,
        ]
    else:
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "python:gateway.ops.gunicorn_config",
            *gunicorn_tls_arguments(config.tls),
            "gateway.http.app:create_app()",
        ]
    server = subprocess.Popen(argv, env=env)

    def _stop(signum: int, _frame: Any) -> None:
        server.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    code = server.wait()
    if scheduler is not None:
        scheduler.shutdown(wait=True)
    node.store.dispose()
    sys.exit(code)


def gunicorn_tls_arguments(tls: TLSConfig) -> list[str]:
    """gunicorn's options for the node's ``[node.tls]``: none when it serves plain HTTP."""
    if tls.cert_file is None or tls.key_file is None:
        return []
    argv = ["--certfile", str(tls.cert_file), "--keyfile", str(tls.key_file)]
    if tls.client_ca_file is not None:
        # No certificate from a CA in the bundle, no TLS session: the handshake fails.
        argv += ["--ca-certs", str(tls.client_ca_file), "--cert-reqs", str(int(ssl.CERT_REQUIRED))]
    return argv


def main() -> None:
    # Before any envelope is sealed or opened in this process (gateway.ops.malloc).
    bound_large_allocations()
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("gateway: aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (GatewayError, KeyMaterialError) as exc:
        if exc.internal:
            raise  # a fault inside the node (a damaged log, a bug): its traceback, as ever
        click.echo(f"gateway: error: {exc}", err=True)
        sys.exit(1)


__all__ = ["cli", "gunicorn_tls_arguments", "main"]
