from pathlib import Path

from schemas import registry
from schemas.docs import dataset_page, index_page

DOCS = Path(__file__).resolve().parents[2] / "docs" / "datasets"


def test_the_dataset_pages_in_docs_are_current():
    # Regenerate with: gateway schemas docs
    assert (DOCS / "README.md").read_text(encoding="utf-8") == index_page()
    for dataset in registry.dataset_names():
        page = (DOCS / f"{dataset}.md").read_text(encoding="utf-8")
        assert page == dataset_page(dataset), f"docs/datasets/{dataset}.md is out of date"
