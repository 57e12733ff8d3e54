"""``gateway agreements``: sign, verify, list and show the signed agreements a node serves."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import click
from joserfc.jwk import OKPKey

from gateway.cli.common import config_option, node_config
from gateway.crypto.keys import NodeKeys, load_private
from gateway.crypto.passphrase import passphrase_of
from gateway.node import agreements
from gateway.node.config import Party, jakarta_today, load_parties

__all__ = ["agreements_group"]


@click.group("agreements")
def agreements_group() -> None:
    """The signed agreements: each party's signature, and what a node takes up."""


def _where(
    config_path: str | None, agreements_dir: str | None, parties_dir: str | None
) -> tuple[Path, dict[str, Party], str | None]:
    """The agreements directory, the party registry, and the node's party (if a config)."""
    if agreements_dir is None:
        config = node_config(config_path)
        if config.agreements_dir is None or config.parties_dir is None:
            raise click.UsageError(
                f"{config.source} reads one unsigned agreement (agreement =), not a "
                "directory of signed ones (agreements =)"
            )
        return config.agreements_dir, load_parties(config.parties_dir), config.party_id
    directory = Path(agreements_dir).resolve()
    registry = Path(parties_dir).resolve() if parties_dir else directory.parent / "parties"
    return directory, load_parties(registry), None


def _signing_registry(
    file: Path, config_path: str | None, agreements_dir: str | None, parties_dir: str | None
) -> tuple[dict[str, Party], str | None]:
    """The registry to sign against: that of --agreements/--parties if given, else that
    of the node's config (its ``parties`` setting), else the one beside FILE's directory."""
    if agreements_dir is None and parties_dir is None and config_path is not None:
        _, registry, own = _where(config_path, None, None)
        return registry, own
    _, registry, _ = _where(None, agreements_dir or str(file.parent), parties_dir)
    return registry, None


def _dirs(command: Callable[..., None]) -> Callable[..., None]:
    command = click.option(
        "--parties",
        "parties_dir",
        metavar="DIR",
        help="the party registry (default: 'parties' beside the agreements directory)",
    )(command)
    command = click.option(
        "--agreements",
        "agreements_dir",
        metavar="DIR",
        help="an agreements directory, instead of the one of --config",
    )(command)
    return config_option(command)


def _key(path: str | None, config_path: str | None) -> OKPKey:
    """The signing key: a PEM file, or the node's current signing key."""
    if path is None:
        return NodeKeys.from_directory(node_config(config_path).key_dir).signing
    return OKPKey.import_key(load_private(Path(path), passphrase_of(os.environ)))


@agreements_group.command("sign")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@_dirs
@click.option("--party", "party_id", help="the party that signs (default: the node's)")
@click.option(
    "--key",
    "key_path",
    metavar="PEM",
    help="the party's Ed25519 private key (default: the node's signing key; "
    "an encrypted key's passphrase from GATEWAY_KEY_PASSPHRASE)",
)
def agreements_sign(
    file: str,
    config_path: str | None,
    agreements_dir: str | None,
    parties_dir: str | None,
    party_id: str | None,
    key_path: str | None,
) -> None:
    """Sign the agreement FILE for one party: write FILE's <stem>.<party>.jws beside it.

    The signature is a detached JWS (Ed25519) over the agreement's RFC 8785
    canonical form; every party the agreement names signs the same content.
    """
    registry, own = _signing_registry(Path(file), config_path, agreements_dir, parties_dir)
    if party_id is None:
        own = node_config(config_path).party_id if own is None else own
    signer = party_id or own
    if signer is None:
        raise click.UsageError("give --party, or --config of the signing party's node")
    where = agreements.sign(Path(file).resolve(), signer, _key(key_path, config_path), registry)
    click.echo(f"signed {Path(file).name} for {signer}: {where.name}")


@agreements_group.command("verify")
@click.argument("path", required=False, type=click.Path(exists=True))
@_dirs
def agreements_verify(
    path: str | None,
    config_path: str | None,
    agreements_dir: str | None,
    parties_dir: str | None,
) -> None:
    """Check the signatures of every agreement (or of the one agreement file PATH, or of
    the agreements directory PATH); exit 1 on any problem.

    A problem: a signature missing, made with a key not registered for its party,
    not over this content; an agreement that does not read; a signature file
    without its agreement.
    """
    only: Path | None = None
    if path is not None:
        target = Path(path).resolve()
        only = target if target.is_file() else None
        if agreements_dir is None and config_path is None:
            agreements_dir = str(target.parent if only is not None else target)
    directory, registry, party = _where(config_path, agreements_dir, parties_dir)
    findings = agreements.examine(directory, registry, party_id=party, today=jakarta_today())
    if only is not None:
        stem = f"{only.stem}."
        findings = [f for f in findings if f.file == only or f.file.name.startswith(stem)]
        if not findings:
            raise click.ClickException(f"{only.name} is not an agreement file of {directory}")
    for f in findings:
        if f.ok and f.agreement is not None:
            a = f.agreement
            click.echo(
                f"ok       {f.file.name}: {a.id} version {a.version}, {f.status}, "
                f"signed by {', '.join(a.parties)}"
            )
        else:
            click.echo(f"REFUSED  {f.file.name}: {f.problem}")
    bad = [f for f in findings if not f.ok]
    if bad:
        raise click.ClickException(f"{len(bad)} of {len(findings)} file(s) refused")
    click.echo(f"{len(findings)} agreement(s) verified in {directory}")


@agreements_group.command("list")
@_dirs
def agreements_list(
    config_path: str | None, agreements_dir: str | None, parties_dir: str | None
) -> None:
    """One JSON line per agreement file: id, version, status, parties, flows."""
    directory, registry, party = _where(config_path, agreements_dir, parties_dir)
    for f in agreements.examine(directory, registry, party_id=party, today=jakarta_today()):
        row = agreements.describe(f, registry)
        row.pop("signatures", None)
        row["flows"] = len(row.get("flows", []))
        click.echo(json.dumps(row, ensure_ascii=False))


@agreements_group.command("show")
@click.argument("agreement_id")
@_dirs
def agreements_show(
    agreement_id: str,
    config_path: str | None,
    agreements_dir: str | None,
    parties_dir: str | None,
) -> None:
    """An agreement in full: parties, each party's signing key, flows, status."""
    directory, registry, party = _where(config_path, agreements_dir, parties_dir)
    findings = agreements.examine(directory, registry, party_id=party, today=jakarta_today())
    found = _find(findings, agreement_id, registry)
    if found is None:
        raise click.ClickException(f"no agreement {agreement_id!r} in {directory}")
    click.echo(json.dumps(found, indent=2, ensure_ascii=False))


def _find(
    findings: list[agreements.Finding], wanted: str, registry: Mapping[str, Party]
) -> dict[str, object] | None:
    for f in findings:
        if (f.agreement is not None and f.agreement.id == wanted) or f.file.stem == wanted:
            return agreements.describe(f, registry)
    return None
