"""``gateway schemas``: the agreed schemas as JSON Schema and Markdown, checks, diffs, samples."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import click

from gateway.errors import GatewayError
from gateway.exchange.validation import validator_for
from gateway.messages import field_message
from gateway.node.config import load_agreement
from schemas import registry
from schemas.diff import diff
from schemas.docs import Flow, dataset_page, index_page
from schemas.export import json_schema
from schemas.reader import ReadError, csv_text, read_records
from schemas.samples import sample_records, sample_versions

__all__ = ["schemas_group"]


@click.group("schemas")
def schemas_group() -> None:
    """The agreed schemas: export them as JSON Schema."""


def agreement_flows(agreement_path: str) -> dict[str, list[Flow]]:
    """The agreement's flows by dataset, as the pages and the export describe them."""
    found: dict[str, list[Flow]] = {}
    for flow in load_agreement(Path(agreement_path)).flows:
        personal = flow.personal_data
        found.setdefault(flow.name, []).append(
            Flow(
                sender=flow.sender,
                receiver=flow.receiver,
                versions=flow.schema_versions,
                purpose=flow.purpose,
                personal_fields=tuple(sorted(personal.fields)),
                personal_purpose=personal.purpose,
                legal_basis=personal.legal_basis,
                retention_days=flow.retention_days,
            )
        )
    return found


@schemas_group.command("export")
@click.option(
    "--out",
    "out_dir",
    default="json-schema",
    show_default=True,
    type=click.Path(file_okay=False),
    help="directory to write DATASET/VERSION.schema.json into",
)
@click.option(
    "--agreement",
    "agreement_path",
    default="config/agreements/mou-pemkot-bekasi-ombudsman-ri-2021.toml",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="the agreement whose flows flows.json describes",
)
def schemas_export(out_dir: str, agreement_path: str) -> None:
    """Write the JSON Schema (draft 2020-12) of every dataset version, and flows.json:
    each flow of the agreement, and the personal data that may cross in it."""
    flows = agreement_flows(agreement_path)
    root = Path(out_dir)
    for dataset in registry.dataset_names():
        for version in registry.versions(dataset):
            target = root / dataset / f"{version}.schema.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            document = json.dumps(json_schema(dataset, version), indent=2, ensure_ascii=False)
            target.write_text(document + "\n", encoding="utf-8")
            click.echo(str(target))
    listing = [
        {"dataset": dataset, **asdict(flow)} for dataset in sorted(flows) for flow in flows[dataset]
    ]
    target = root / "flows.json"
    target.write_text(json.dumps(listing, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
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
@click.option("--schema-version", "version", default=None, help="default: the newest with samples")
@click.option("--jsonl", is_flag=True, help="one record per line instead of a JSON array")
@click.option(
    "--csv", "as_csv", is_flag=True, help="CSV, as 'schemas validate' and gateway-client read it"
)
def schemas_sample(
    dataset: str, count: int, seed: int, version: str | None, jsonl: bool, as_csv: bool
) -> None:
    """Print COUNT valid, realistic records of DATASET (the same for a seed on a given day)."""
    if jsonl and as_csv:
        raise click.UsageError("give --jsonl or --csv, not both")
    chosen = version or (sample_versions(dataset) or ["none"])[-1]
    try:
        records = sample_records(dataset, count, seed=seed, version=chosen)
    except KeyError:
        raise GatewayError(
            f"no sample generator for dataset {dataset!r} version {chosen!r}"
        ) from None
    if as_csv:
        schema = registry.schema_class(dataset, chosen)()
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
@click.option(
    "--agreement",
    "agreement_path",
    default="config/agreements/mou-pemkot-bekasi-ombudsman-ri-2021.toml",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="the agreement whose flows the pages describe",
)
def schemas_docs(out_dir: str, agreement_path: str) -> None:
    """Write a Markdown page per dataset, and an index, from the agreed schemas; each page
    says what of its dataset crosses in each flow of the agreement."""
    flows = agreement_flows(agreement_path)
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    (root / "README.md").write_text(index_page(), encoding="utf-8")
    for dataset in registry.dataset_names():
        page = dataset_page(dataset, flows.get(dataset, []))
        (root / f"{dataset}.md").write_text(page, encoding="utf-8")
        click.echo(str(root / f"{dataset}.md"))
