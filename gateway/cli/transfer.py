"""``gateway transfer``: sending and pulling batches now, and the operator's hand on batches."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from gateway.cli.common import config_option, opened_node, operator_option
from gateway.exchange import batch_admin, pull, sending

__all__ = ["transfer_group"]


@click.group("transfer")
def transfer_group() -> None:
    """Send pending records to peers, or pull what peers sealed for this node."""


@transfer_group.command("run")
@config_option
@click.option("--dataset", default=None, help="only this outgoing dataset")
@click.option(
    "--receiver",
    default=None,
    help="only to this party (default: every receiver with records or batches waiting)",
)
def transfer_run(config_path: str | None, dataset: str | None, receiver: str | None) -> None:
    """Seal pending records and deliver sealed batches now, to each receiver with work."""
    bars: dict[str, Any] = {}

    def progress(name: str, done: int, total: int) -> None:
        # A bar per dataset on a terminal (click draws nothing when stderr is not one).
        if total == 0:
            return
        bar = bars.get(name)
        if bar is None or done < bar.pos:  # the same dataset to the next receiver
            bar = bars[name] = click.progressbar(
                length=total, label=f"sending {name}", file=sys.stderr
            )
        bar.update(done - bar.pos)
        if done == total:
            bar.render_finish()

    with opened_node(config_path) as node:
        report = sending.run(node, dataset=dataset, receiver=receiver, progress=progress)
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
    with opened_node(config_path) as node:
        report = pull.run(node, dataset=dataset, exclusive=True)
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


@transfer_group.command("status")
@config_option
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
def transfer_status(config_path: str | None, as_json: bool) -> None:
    """Records pending and batches per state, per dataset and peer, with the oldest's age."""
    with opened_node(config_path) as node:
        rows = batch_admin.status(node)
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
    """An age for the status table, in its largest whole unit: 3d, 5h, 12m, 40s."""
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
    with opened_node(config_path) as node:
        click.echo(json.dumps(batch_admin.retry(node, batch_id, operator=operator)))


@transfer_group.command("cancel")
@config_option
@operator_option
@click.option("--release", is_flag=True, help="put the batch's records back to be sealed anew")
@click.argument("batch_id")
def transfer_cancel(config_path: str | None, operator: str, release: bool, batch_id: str) -> None:
    """Stop sending a batch that is not delivered."""
    with opened_node(config_path) as node:
        result = batch_admin.cancel(node, batch_id, operator=operator, release=release)
    click.echo(json.dumps(result))
