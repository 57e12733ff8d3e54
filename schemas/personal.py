"""Which fields of a record hold personal data, and where a record carries them.

A field is personal when its schema metadata marks it ``personal``, ``specific``
or ``confidential`` (:mod:`schemas.redact`). Each is named by a *field path*: the
JSON Pointer of the field in a record, with ``*`` for any item of a list, e.g.
``/pelapor/nama`` or ``/tindakan_korektif/*/pihak``. The agreement names, per flow,
the field paths whose values may cross (docs/CONFIGURATION.md, ``personal_data``);
:func:`carried` lists the values a record actually carries, so that a node can
refuse one its flow does not allow.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from marshmallow import Schema, fields

from schemas import registry
from schemas.redact import is_sensitive

__all__ = ["ANY_ITEM", "Carried", "allows_all", "carried", "field_paths", "personal_fields"]

# The step of a field path that stands for any item of a list.
ANY_ITEM = "*"

_Walked = Iterator[tuple[str, fields.Field[Any], bool]]


def _token(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _nested(field: fields.Nested) -> Schema:
    schema = field.schema
    assert isinstance(schema, Schema)
    return schema


def _walk(schema: Schema, prefix: str) -> _Walked:
    """(field path, field, personal) of every field of ``schema``, depth first."""
    for name, field in schema.fields.items():
        yield from _walk_field(field, f"{prefix}/{_token(field.data_key or name)}")


def _walk_field(field: fields.Field[Any], path: str) -> _Walked:
    yield path, field, is_sensitive(field)
    if is_sensitive(field):
        return  # the whole value is personal: what it holds is not named apart
    if isinstance(field, fields.Nested):
        yield from _walk(_nested(field), path)
    elif isinstance(field, fields.List):
        yield from _walk_field(field.inner, f"{path}/{ANY_ITEM}")


@cache
def field_paths(dataset: str, version: str) -> tuple[str, ...]:
    """Every field path of a dataset version (lists' items as ``*``)."""
    schema = registry.schema_class(dataset, version)()
    return tuple(path for path, _, _ in _walk(schema, ""))


@cache
def personal_fields(dataset: str, version: str) -> tuple[str, ...]:
    """The field paths of a dataset version whose values are personal data."""
    schema = registry.schema_class(dataset, version)()
    return tuple(path for path, _, personal in _walk(schema, "") if personal)


@lru_cache(maxsize=1024)
def allows_all(dataset: str, version: str, allowed: frozenset[str]) -> bool:
    """Whether ``allowed`` names every personal field of a dataset version (or it has none).

    Then no record of it can carry a personal value of a field not allowed: every
    value :func:`carried` lists belongs to one of :func:`personal_fields`.
    """
    return allowed.issuperset(personal_fields(dataset, version))


@dataclass(frozen=True)
class Carried:
    """A personal value in a record: where it is, and the field it belongs to."""

    pointer: str  # e.g. /tindakan_korektif/2/pihak
    field: str  # e.g. /tindakan_korektif/*/pihak


@lru_cache(maxsize=1024)
def _tree(dataset: str, version: str, besides: frozenset[str]) -> Mapping[str, Any]:
    """The personal fields but those in ``besides`` as a tree: each step (a member's
    reference token, or ``*`` for list items) maps to the member's name and what lies
    below it, a field path at a leaf. Empty: no field to look for."""
    tree: dict[str, Any] = {}
    for path in personal_fields(dataset, version):
        if path in besides:
            continue
        node = tree
        tokens = path.split("/")[1:]
        for token in tokens[:-1]:
            node = node.setdefault(token, (_name(token), {}))[1]
        node[tokens[-1]] = (_name(tokens[-1]), path)
    return tree


def _name(token: str) -> str:
    """The member name a JSON Pointer reference token stands for (RFC 6901 section 4)."""
    return token.replace("~1", "/").replace("~0", "~")


def carried(
    dataset: str, version: str, record: Any, *, besides: frozenset[str] = frozenset()
) -> list[Carried]:
    """The personal values ``record`` carries (present and not null), in the order of
    the schema's fields; with ``besides``, only those of other fields (the values a
    flow that lets ``besides`` cross must refuse). Only the fields looked for are
    walked: a record is not read further than they reach."""
    tree = _tree(dataset, version, besides)
    if not tree or not isinstance(record, Mapping):
        return []
    found: list[Carried] = []
    _collect(tree, record, "", found)
    return found


def _collect(tree: Mapping[str, Any], value: Any, pointer: str, found: list[Carried]) -> None:
    if isinstance(value, Mapping):
        for step, (name, sub) in tree.items():
            if step == ANY_ITEM:
                continue
            item = value.get(name)
            if item is not None:
                _descend(sub, item, f"{pointer}/{step}", found)
    elif isinstance(value, list) and ANY_ITEM in tree:
        sub = tree[ANY_ITEM][1]
        for i, item in enumerate(value):
            if item is not None:
                _descend(sub, item, f"{pointer}/{i}", found)


def _descend(sub: Any, value: Any, pointer: str, found: list[Carried]) -> None:
    if isinstance(sub, str):
        found.append(Carried(pointer=pointer, field=sub))
    else:
        _collect(sub, value, pointer, found)
