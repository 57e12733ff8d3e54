"""The agreed, versioned schemas of the datasets exchanged under the MoU."""

from schemas.registry import dataset_names, schema_class, versions

__all__ = ["dataset_names", "schema_class", "versions"]
