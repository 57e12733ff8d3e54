"""``gateway envelope``: sealing and opening batch envelopes by hand, for interoperability tests."""

from __future__ import annotations

import json
import uuid
from typing import Any

import click

from gateway.cli.common import config_option, node_config
from gateway.crypto import strict_json
from gateway.crypto.envelope import BatchHeader, open_batch, seal_batch
from gateway.crypto.keys import NodeKeys
from gateway.errors import GatewayError
from gateway.exchange.validation import validator_for
from gateway.node.node import peer_keys
from gateway.timestamps import utc_now

__all__ = ["envelope_group"]


@click.group("envelope")
def envelope_group() -> None:
    """Seal and open batch envelopes (for interoperability tests)."""


@envelope_group.command("seal")
@config_option
@click.option("--dataset", required=True)
@click.option("--schema-version", required=True)
@click.option("--batch-id", default=None, help="default: a new UUID")
@click.option(
    "--receiver", default=None, help="the party it is for (required if the dataset goes to several)"
)
@click.argument("records_file", type=click.File("rb"))
def envelope_seal(
    config_path: str | None,
    dataset: str,
    schema_version: str,
    batch_id: str | None,
    receiver: str | None,
    records_file: Any,
) -> None:
    """Seal a JSON array of records from RECORDS_FILE ('-' for stdin) to the dataset's receiver."""
    config = node_config(config_path)
    agreed = config.agreement.flow(dataset, sender=config.party_id, receiver=receiver)
    if agreed is None:
        receivers = config.agreement.receivers(dataset, sender=config.party_id)
        if receivers and receiver is None:
            raise GatewayError(
                f"{config.party_id} sends {dataset!r} to several parties: name one with "
                f"--receiver ({', '.join(receivers)})"
            )
        to = "" if receiver is None else f" to {receiver!r}"
        raise GatewayError(f"{config.party_id} sends no dataset named {dataset!r}{to}")
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


@envelope_group.command("open")
@config_option
@click.argument("envelope_file", type=click.File("rb"))
def envelope_open(config_path: str | None, envelope_file: Any) -> None:
    """Decrypt and verify an envelope addressed to this node; print the signed document."""
    config = node_config(config_path)
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
