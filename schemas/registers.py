"""Reference lists shipped with the schemas: region codes, units, substance areas.

Each register is a CSV file in ``schemas/data`` and an entry in
``schemas/data/registers.toml`` that records its source, its edition and whether it
was checked against that source. A new edition is a new file (or new rows), not new
code: the schemas read the codes from here.
"""

from __future__ import annotations

import csv
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["Register", "register", "registers", "substance_areas", "unit_codes"]


@dataclass(frozen=True)
class Register:
    """One reference list: its rows (by code), and where it comes from."""

    name: str
    title: str
    source: str
    edition: str
    status: str  # "confirmed" or "unconfirmed"
    rows: dict[str, dict[str, str]]

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(self.rows)


def _data(name: str) -> str:
    return resources.files("schemas").joinpath("data", name).read_text("utf-8")


@cache
def registers() -> dict[str, Register]:
    """Every register, by name, as ``registers.toml`` lists them."""
    index = tomllib.loads(_data("registers.toml"))
    found = {}
    for name, meta in index.items():
        rows = csv.DictReader(_data(meta["file"]).splitlines())
        found[name] = Register(
            name=name,
            title=meta["title"],
            source=meta["source"],
            edition=meta["edition"],
            status=meta["status"],
            rows={row["kode"]: row for row in rows},
        )
    return found


def register(name: str) -> Register:
    return registers()[name]


@cache
def unit_codes() -> frozenset[str]:
    """The codes of Kota Bekasi's perangkat daerah (and their named UPTD units)."""
    return register("perangkat_daerah").codes


@cache
def substance_areas() -> tuple[str, ...]:
    """The substance areas of Ombudsman statistics, in the register's order."""
    return tuple(register("substansi").rows)
