"""``gateway openapi``: the node's OpenAPI document, without a running node."""

from __future__ import annotations

import json
from pathlib import Path

import click

from gateway.http.openapi import document

__all__ = ["openapi_command"]


@click.command("openapi")
@click.option(
    "--out",
    "out_file",
    default=None,
    type=click.Path(dir_okay=False),
    help="write it to FILE instead of printing it",
)
def openapi_command(out_file: str | None) -> None:
    """Print the OpenAPI 3.1 document of the node's HTTP API (also at GET /openapi.json)."""
    text = json.dumps(document(), indent=2, ensure_ascii=False) + "\n"
    if out_file is None:
        click.echo(text, nl=False)
    else:
        Path(out_file).write_text(text, encoding="utf-8")
        click.echo(out_file, err=True)
