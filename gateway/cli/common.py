"""What the command groups share: the ``--config`` and ``--operator`` options, and the node."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import click

from gateway.node.config import NodeConfig, load_node_config
from gateway.node.node import Node

__all__ = ["CONFIG_HELP", "config_option", "node_config", "opened_node", "operator_option"]

CONFIG_HELP = "the node's config file (default: $GATEWAY_CONFIG)"


def node_config(path: str | None) -> NodeConfig:
    """The node's config, from ``--config`` or else $GATEWAY_CONFIG (a usage error if neither)."""
    path = path or os.environ.get("GATEWAY_CONFIG")
    if not path:
        raise click.UsageError("give --config or set GATEWAY_CONFIG")
    return load_node_config(path)


@contextmanager
def opened_node(config_path: str | None) -> Iterator[Node]:
    """The node of the config file, its database connections closed however the command ends."""
    node = Node.from_config(node_config(config_path))
    try:
        yield node
    finally:
        node.store.dispose()


config_option = click.option("--config", "config_path", metavar="FILE", help=CONFIG_HELP)
operator_option = click.option(
    "--operator",
    default=lambda: os.environ.get("USER") or "operator",
    show_default="the login name",
    help="who does this, for the audit log",
)
