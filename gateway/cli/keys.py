"""``gateway keys``: the node's key pairs, their rotation and revocation, and the peers' JWKS."""

from __future__ import annotations

import json
import sys

import click

from gateway.cli.common import config_option, node_config, opened_node, operator_option
from gateway.crypto.keyring import REVOCATION_REASONS
from gateway.crypto.keys import NodeKeys, init_keys
from gateway.node import key_lifecycle
from gateway.peers import jwks

__all__ = ["keys_group"]


@click.group("keys")
def keys_group() -> None:
    """Manage the node's key pairs."""


@keys_group.command("init")
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
    config = node_config(config_path)
    party = config.party
    jwks = init_keys(
        config.key_dir,
        insecure=insecure_dev_keys,
        note_names=(party.log_origin, party.witness_name),
    )
    click.echo(json.dumps(jwks, indent=2))
    click.echo(f"keys written to {config.key_dir}", err=True)


@keys_group.command("jwks")
@config_option
def keys_jwks(config_path: str | None) -> None:
    """Print the node's public JWKS."""
    config = node_config(config_path)
    click.echo(json.dumps(NodeKeys.from_directory(config.key_dir).public_jwks(), indent=2))


@keys_group.command("vkeys")
@config_option
def keys_vkeys(config_path: str | None) -> None:
    """Print the C2SP vkeys of the node's log and witness keys."""
    config = node_config(config_path)
    party = config.party
    for vkey in NodeKeys.from_directory(config.key_dir).vkeys(party.log_origin, party.witness_name):
        click.echo(vkey)


@keys_group.command("list")
@config_option
def keys_list(config_path: str | None) -> None:
    """Every signing and encryption key of the node: its state, and whether it is pinned."""
    for row in key_lifecycle.describe(node_config(config_path)):
        click.echo(json.dumps(row))


@keys_group.command("rotate")
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
    config = node_config(config_path)
    entry = key_lifecycle.rotate(config, use, operator=operator, insecure=insecure_dev_keys)
    click.echo(entry.kid)
    click.echo(
        f"new {use} key {entry.kid}: pin it in the agreement (key_pins of {config.party_id}) "
        "at both parties and restart the nodes; the key it replaces works for "
        f"{config.agreement.keys.grace_period_days} more days, then 'gateway keys retire' it",
        err=True,
    )


@keys_group.command("retire")
@config_option
@operator_option
@click.argument("kid")
@click.option("--force", is_flag=True, help="even before its grace period is over")
def keys_retire(config_path: str | None, operator: str, kid: str, force: bool) -> None:
    """End a key replaced by a rotation and destroy its private key."""
    entry = key_lifecycle.retire(node_config(config_path), kid, operator=operator, force=force)
    click.echo(f"key {entry.kid} retired; restart the node to stop using it", err=True)


@keys_group.command("revoke")
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
    config = node_config(config_path)
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


@keys_group.command("refresh")
@config_option
def keys_refresh(config_path: str | None) -> None:
    """Fetch the peers' JWKS now (the schedule does it every jwks_refresh_seconds)."""
    with opened_node(config_path) as node:
        report = jwks.refresh(node)
    click.echo(
        json.dumps(
            {"updated": report.updated, "unchanged": report.unchanged, "failed": report.failed}
        )
    )
    if report.failed:
        sys.exit(1)
