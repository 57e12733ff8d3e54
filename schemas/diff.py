"""Classifying a change between two versions of an agreed schema.

A change is *compatible* when every record valid under the old version is
valid under the new one, so a receiver can accept the new version without
refusing what senders still send. It is *breaking* otherwise: a field removed
(records still carrying it are refused, since unknown fields are errors), a
field that became required, a vocabulary that lost values, a bound that
tightened, a type that changed. Adding an optional field, widening a
vocabulary or loosening a bound is compatible.

The comparison is made on the exported JSON Schemas (:mod:`schemas.export`),
so it sees what a counterparty sees. Rules that JSON Schema cannot state
(cross-field rules) are not compared; a new one should come with a new version
and be listed in the changelog of the agreement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marshmallow import Schema

from schemas import registry
from schemas.export import schema_body

__all__ = ["Change", "diff", "diff_schemas"]

# Keywords where a larger value in the new version accepts less.
_RAISING_TIGHTENS = ("minLength", "minItems", "minimum", "exclusiveMinimum")
# Keywords where a smaller value in the new version accepts less.
_LOWERING_TIGHTENS = ("maxLength", "maxItems", "maximum", "exclusiveMaximum")


@dataclass(frozen=True)
class Change:
    path: str  # JSON Pointer into the record, e.g. /pejabat_penanggung_jawab/nama
    description: str
    breaking: bool


def diff(dataset: str, old: str, new: str) -> list[Change]:
    """Every difference between two registered versions of ``dataset``, breaking ones first."""
    return diff_schemas(registry.schema_class(dataset, old), registry.schema_class(dataset, new))


def diff_schemas(old: type[Schema], new: type[Schema]) -> list[Change]:
    changes: list[Change] = []
    _compare(schema_body(old), schema_body(new), "", changes)
    return sorted(changes, key=lambda c: (not c.breaking, c.path, c.description))


def _types(node: dict[str, Any]) -> set[str]:
    kind = node.get("type")
    if kind is None:
        return set()
    return {kind} if isinstance(kind, str) else set(kind)


def _compare(old: dict[str, Any], new: dict[str, Any], path: str, out: list[Change]) -> None:
    where = path or "/"
    old_types, new_types = _types(old), _types(new)
    if old_types - new_types:
        out.append(Change(where, f"type {sorted(old_types)} -> {sorted(new_types)}", True))
    elif new_types - old_types:
        out.append(Change(where, f"type {sorted(old_types)} -> {sorted(new_types)}", False))
    if "enum" in old or "enum" in new:
        old_values, new_values = set(old.get("enum") or []), set(new.get("enum") or [])
        if "enum" not in old:
            out.append(Change(where, "now limited to a closed vocabulary", True))
        elif "enum" in new:
            if old_values - new_values:
                out.append(Change(where, f"values removed: {sorted(old_values - new_values)}",
                                  True))
            if new_values - old_values:
                out.append(Change(where, f"values added: {sorted(new_values - old_values)}",
                                  False))
        else:
            out.append(Change(where, "no longer a closed vocabulary", False))
    for key in _RAISING_TIGHTENS + _LOWERING_TIGHTENS:
        if old.get(key) == new.get(key):
            continue
        before, after = old.get(key), new.get(key)
        if before is None:
            tighter = True
        elif after is None:
            tighter = False
        else:
            tighter = after > before if key in _RAISING_TIGHTENS else after < before
        out.append(Change(where, f"{key} {before} -> {after}", tighter))
    for key in ("pattern", "format"):
        if old.get(key) != new.get(key):
            out.append(Change(where, f"{key} {old.get(key)!r} -> {new.get(key)!r}",
                              new.get(key) is not None))
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
    for name in sorted(set(old_props) | set(new_props)):
        sub = f"{path}/{name}"
        if name not in new_props:
            closed = new.get("additionalProperties") is False
            out.append(Change(sub, "field removed", closed))
        elif name not in old_props:
            required = name in new_required
            out.append(Change(sub, "new required field" if required else "new optional field",
                              required))
        else:
            if name in new_required and name not in old_required:
                out.append(Change(sub, "now required", True))
            elif name in old_required and name not in new_required:
                out.append(Change(sub, "now optional", False))
            _compare(old_props[name], new_props[name], sub, out)
    if "items" in old and "items" in new:
        _compare(old["items"], new["items"], f"{path}/*", out)
