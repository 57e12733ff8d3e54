"""``gateway retention``: purging delivered payloads now rather than at the next hourly run."""

from __future__ import annotations

import click

from gateway.cli.common import config_option, opened_node
from gateway.exchange import retention

__all__ = ["retention_group"]


@click.group("retention")
def retention_group() -> None:
    """Purging delivered payloads after the agreed retention period."""


@retention_group.command("purge")
@config_option
def retention_purge(config_path: str | None) -> None:
    """Purge now the batches past their flow's retention_days (the schedule does it hourly)."""
    with opened_node(config_path) as node:
        report = retention.purge(node)
    click.echo(f"purged {len(report.sent)} sent and {len(report.received)} received batches")
