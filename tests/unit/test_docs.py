from pathlib import Path

from gateway.cli.schemas import agreement_flows
from schemas import registry
from schemas.docs import dataset_page, index_page

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "datasets"


def test_the_dataset_pages_in_docs_are_current():
    # Regenerate with: gateway schemas docs
    assert (DOCS / "README.md").read_text(encoding="utf-8") == index_page()
    flows = agreement_flows(
        str(ROOT / "config" / "agreements" / "mou-pemkot-bekasi-ombudsman-ri-2021.toml"))
    for dataset in registry.dataset_names():
        page = (DOCS / f"{dataset}.md").read_text(encoding="utf-8")
        expected = dataset_page(dataset, flows.get(dataset, []))
        assert page == expected, f"docs/datasets/{dataset}.md is out of date"


def test_every_command_the_operations_guide_names_exists():
    import re

    import click

    from gateway.cli.main import cli

    text = (DOCS.parent / "OPERATIONS.md").read_text(encoding="utf-8")
    # As commands are written there: in code spans, code blocks and after a bin/ path.
    named = set(re.findall(r"(?:`|^|bin/)gateway ([a-z]+(?: [a-z][a-z-]*)?)", text, re.MULTILINE))
    assert len(named) > 20
    ctx = click.Context(cli)
    for words in sorted(named):
        group, _, sub = words.partition(" ")
        command = cli.get_command(ctx, group)
        assert command is not None, f"docs/OPERATIONS.md: no command 'gateway {group}'"
        if isinstance(command, click.Group) and sub:
            assert sub in command.commands, f"docs/OPERATIONS.md: no 'gateway {words}'"
