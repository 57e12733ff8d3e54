"""``gateway audit``: the node's audit log, and verifying any node's log with keys one trusts.

``verify`` and ``reconcile`` need no node of one's own: an auditor runs them
against evidence bundles or against nodes' auditor APIs. ``reconcile`` compares
the two nodes' case ledgers too, by their digests (gateway.cases.compare): each
node's digest of its cases with the other, so that a hub's cases with its other
partners are not counted. Given a node's config, they require that node's
witnessing quorum of its own log.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import requests

from gateway.cases import compare
from gateway.cli.common import config_option, opened_node
from gateway.crypto import strict_json
from gateway.errors import GatewayError
from gateway.node import audit_log
from gateway.node.config import NodeConfig, load_agreement, load_node_config
from gateway.node.outbound_tls import system_trust_store
from gateway.peers import witness
from gateway.peers.bundles import export_bundle, trusted_keys
from gateway.timestamps import from_unix
from gateway.tlog import auditor
from gateway.tlog.auditor import SavedState

__all__ = ["audit_group"]


@click.group("audit")
def audit_group() -> None:
    """The tamper-evident audit log: checkpoints, evidence bundles, verification."""


@audit_group.command("checkpoint")
@config_option
def audit_checkpoint(config_path: str | None) -> None:
    """Sign a checkpoint of the whole log and have its quorum of witnesses cosign it."""
    with opened_node(config_path) as node:
        report = witness.publish(node)
        with node.store.read() as conn:
            click.echo(audit_log.cosigned_note(conn, report.checkpoint), nl=False)
    for party, reason in report.failed.items():
        click.echo(f"gateway: warning: witness {party} did not cosign: {reason}", err=True)
    if report.checkpoint.size and not report.quorum_met:
        click.echo(
            f"gateway: warning: checkpoint {report.checkpoint.size} carries "
            f"{len(report.cosigned_by)} of the {report.quorum} cosignatures it needs "
            "([node.witnessing] quorum)",
            err=True,
        )


@audit_group.command("export")
@config_option
@click.option("--batch", "batch_id", required=True, help="the batch id")
@click.option("--out", "out", type=click.File("w"), default="-", help="output file (default: -)")
def audit_export(config_path: str | None, batch_id: str, out: Any) -> None:
    """Write the evidence bundle of one batch: entries, inclusion proofs, checkpoint, keys."""
    with opened_node(config_path) as node:
        try:
            bundle = export_bundle(node, batch_id)
        except LookupError as exc:
            raise GatewayError(str(exc)) from None
    json.dump(bundle, out, indent=2)
    out.write("\n")


def _trusted(agreement_path: str, origin: str) -> Any:
    """The party keeping the log named ``origin``, and the keys the agreement has for it."""
    agreement = load_agreement(agreement_path)
    party = agreement.party_by_origin(origin)
    if party is None:
        raise GatewayError(f"no party of {agreement_path} keeps a log named {origin!r}")
    return party.id, trusted_keys(agreement, party.id, source=agreement_path)


def _audited_node(config_path: str | None) -> NodeConfig | None:
    """The node config of ``--config`` or $GATEWAY_CONFIG, if either is given."""
    path = config_path or os.environ.get("GATEWAY_CONFIG")
    return load_node_config(path) if path else None


def _min_cosignatures(given: int | None, config: NodeConfig | None, origin: str) -> int:
    """What a checkpoint of the log ``origin`` needs: ``--min-cosignatures`` if given; for
    the log of the node of ``--config``, that node's ``[node.witnessing]`` quorum; else one."""
    if given is not None:
        return given
    if config is not None and config.party.log_origin == origin:
        return config.witnessing.quorum
    return 1


def _state_for(state_dir: str | None, no_state: bool, origin: str) -> Any:
    """Where the last verified checkpoint of the log ``origin`` is kept (None with --no-state)."""
    if no_state:
        return None
    base = Path(state_dir) if state_dir else Path(click.get_app_dir("gateway-audit"))
    return SavedState(base / origin.replace("/", "_"))


def _origin_of(signed: str) -> str:
    """The log's name: the first line of a signed checkpoint."""
    return signed.split("\n", 1)[0]


def _print_report(report: Any, party: str) -> None:
    """What was verified of one log, and every problem found."""
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
        default=None,
        help="cosignatures by the agreement's witnesses a checkpoint needs to be trusted "
        "[default: for the log of the node of --config, its witnessing quorum; else 1]",
    ),
    click.option(
        "--config",
        "config_path",
        metavar="FILE",
        help="a node's config file: its log needs the node's witnessing quorum, and "
        "--agreement defaults to its agreement (default: $GATEWAY_CONFIG, if set)",
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
    session = requests.Session()
    session.verify = tls_ca or system_trust_store()
    if tls_cert is not None and tls_key is not None:
        session.cert = (tls_cert, tls_key)
    return session


F = TypeVar("F", bound=Callable[..., Any])


def _with_options(options: list[Any]) -> Callable[[F], F]:
    """A decorator adding a list of options, so that two commands can share them."""

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
    min_cosignatures: int | None,
    config_path: str | None,
    tls_ca: str | None,
    tls_cert: str | None,
    tls_key: str | None,
) -> None:
    """Verify an evidence bundle, or a node's whole log, with keys you trust.

    Exit status 0 when everything verifies, 1 when something does not (the
    first bad entry is named), 2 for a usage error.
    """
    if (bundle is None) == (url is None):
        raise click.UsageError("give a BUNDLE file or --url")
    config = _audited_node(config_path)
    if config is not None and not agreement_path:
        agreement_path = str(config.agreement.source)
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
                min_cosignatures=_min_cosignatures(min_cosignatures, config, origin),
            )
        else:
            if not token:
                raise click.UsageError("--url needs --token or $GATEWAY_AUDIT_TOKEN")
            if not agreement_path:
                raise click.UsageError("--url needs --agreement (the keys to trust)")
            session = _audit_session(tls_ca, tls_cert, tls_key)
            client = auditor.LogClient(str(url), token, session=session)
            required = functools.partial(_min_cosignatures, min_cosignatures, config)
            report = _verify_url(client, agreement_path, state_dir, no_state, required)
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
    min_cosignatures: Callable[[str], int],
    *,
    keep: bool = False,
) -> Any:
    """Verify the whole log a node serves, with a progress bar; the report names its party.

    ``min_cosignatures``: what a checkpoint of the log needs, by the log's origin.
    """
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
            min_cosignatures=min_cosignatures(origin),
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
    min_cosignatures: int | None,
    config_path: str | None,
    tls_ca: str | None,
    tls_cert: str | None,
    tls_key: str | None,
) -> None:
    """Verify two nodes' logs, check every batch one sent the other received, then
    compare the two nodes' case ledgers.

    Lists every gap and every case that differs; exit status 1 when there is one (or
    a log does not verify).
    """
    config = _audited_node(config_path)
    if config is not None and not agreement_path:
        agreement_path = str(config.agreement.source)
    required = functools.partial(_min_cosignatures, min_cosignatures, config)
    if not agreement_path:
        raise click.UsageError("reconcile needs --agreement (the keys to trust)")
    logs: dict[str, list[str]] = {}
    reports, witnessed = [], []
    nodes: list[tuple[str, str, requests.Session]] = []
    failed = False
    try:
        for url, token in ((url_a, token_a), (url_b, token_b)):
            session = _audit_session(tls_ca, tls_cert, tls_key)
            client = auditor.LogClient(url, token, session=session)
            report = _verify_url(client, agreement_path, state_dir, no_state, required, keep=True)
            reports.append(report)
            witnessed.append(client.witnessed())
            logs[report.party] = report.entries
            nodes.append((report.party, url, client.session))
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
    ledgers_agree = _reconcile_ledgers(nodes[0], nodes[1], in_flight=bool(result.pending))
    if not result.ok or not ledgers_agree:
        sys.exit(1)


LEDGER_DIGEST = "/api/v1/cases-digest"


def _ledger_digest(
    node: tuple[str, str, requests.Session], peer: str, bucket: str | None = None
) -> Any:
    """A node's ledger digest document of its cases with ``peer`` (of one bucket, if
    given), read as strict JSON."""
    party, url, session = node
    params = {"peer": peer} if bucket is None else {"peer": peer, "bucket": bucket}
    try:
        answer = session.get(url.rstrip("/") + LEDGER_DIGEST, params=params, timeout=60)
    except requests.RequestException as exc:
        raise GatewayError(f"cannot reach {party}'s node: {type(exc).__name__}") from None
    if answer.status_code != 200:
        try:
            detail = strict_json.loads(answer.content)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            detail = answer.text[:200]
        raise GatewayError(
            f"{party}: the node answered {LEDGER_DIGEST} with HTTP {answer.status_code}: {detail}"
        )
    try:
        return strict_json.loads(answer.content)
    except ValueError:
        raise GatewayError(f"{party}: the ledger digest is not JSON") from None


def _reconcile_ledgers(
    a: tuple[str, str, requests.Session],
    b: tuple[str, str, requests.Session],
    *,
    in_flight: bool = False,
) -> bool:
    """Compare the two nodes' case ledgers: the digests, then the buckets that differ.

    Each node's of its cases with the other (``?peer=``): a hub's ledger also holds its
    cases with other partners.

    Prints the number of cases and one line per case that differs; True when none does,
    or when the differences may be only what is on its way: a delivered batch one
    ledger has not taken yet (its node's ``pending``), or a batch the logs found
    pending (``in_flight``). Those are listed as PENDING, as the logs' are.
    """
    parties = (a[0], b[0])
    try:
        digests = []
        for node, other in ((a, b), (b, a)):
            try:
                digests.append(compare.read_digest(_ledger_digest(node, other[0])))
            except ValueError as exc:
                raise GatewayError(f"{node[0]}: {exc}") from None
        differences: list[compare.CaseDifference] = []
        for bucket in compare.differing_buckets(digests[0], digests[1]):
            differences += compare.differing_cases(
                _ledger_digest(a, b[0], bucket), _ledger_digest(b, a[0], bucket), bucket=bucket,
                parties=parties,
            )  # fmt: skip
    except ValueError as exc:
        raise GatewayError(f"ledger: {exc}") from None
    # The cases at A, and those only B holds: every case of either ledger.
    total = digests[0].cases + sum(1 for d in differences if d.only_at == parties[1])
    waiting = {p: d.pending for p, d in zip(parties, digests, strict=True) if d.pending}
    pending = bool(differences) and (in_flight or bool(waiting))
    because = ", ".join(f"{n} delivered batches not yet in the ledger at {p}"
                        for p, n in waiting.items()) or "batches on their way"  # fmt: skip
    click.echo(f"ledger: {total} cases, {len(differences)} differ"
               + (f" (pending: {because}; run again)" if pending else ""))  # fmt: skip
    label = "PENDING" if pending else "LEDGER"
    for difference in differences:
        where = "differs" if difference.only_at is None else f"only at {difference.only_at}"
        click.echo(f"  {label}: {difference.case_number} {where}")
    return pending or not differences
