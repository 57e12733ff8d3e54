"""The reference lists the schemas check codes against, and where each comes from."""

import pytest
from marshmallow import ValidationError

from schemas._base import AgreedSchema, SubstanceArea, UnitCode, region_codes
from schemas.registers import registers, substance_areas, unit_codes


def test_every_register_says_where_it_comes_from():
    found = registers()
    assert set(found) >= {"wilayah", "perangkat_daerah", "substansi"}
    for register in found.values():
        assert register.rows, register.name
        assert register.source and register.edition and register.title, register.name
        assert register.status in ("confirmed", "unconfirmed"), register.name


def test_the_units_register_has_unique_codes_and_known_parents():
    rows = registers()["perangkat_daerah"].rows
    assert len(rows) == len(unit_codes())
    for code, row in rows.items():
        assert code.startswith("3275."), code
        assert row["nama"].strip() == row["nama"] and row["nama"], code
        assert not row["induk"] or row["induk"] in rows, code
    # Every kecamatan of the region codes is a unit.
    kecamatan = {c for c, level in region_codes().items() if level == "kecamatan"}
    assert len([r for r in rows.values() if r["jenis"] == "kecamatan"]) == len(kecamatan) == 12


def test_twenty_seven_substance_areas():
    assert len(substance_areas()) == len(set(substance_areas())) == 27


class _Probe(AgreedSchema):
    unit = UnitCode(required=True)
    area = SubstanceArea(required=True)


def test_unit_codes_and_substance_areas_are_checked_against_the_registers():
    assert _Probe().load({"unit": "3275.DINKES", "area": "kesehatan"})
    with pytest.raises(ValidationError) as refused:
        _Probe().load({"unit": "Dinas Kesehatan", "area": "lainnya_x"})
    assert refused.value.messages == {"unit": ["unit_unknown"], "area": ["one_of"]}
