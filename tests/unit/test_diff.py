from marshmallow import fields

from schemas._base import Choice
from schemas.diff import diff, diff_schemas
from schemas.tanggapan_klarifikasi import Pejabat, TanggapanKlarifikasiV1


def test_the_shipped_v2_is_compatible_with_v1():
    changes = diff("tanggapan_klarifikasi", "1.0", "2.0")
    assert [(c.path, c.description, c.breaking) for c in changes] == [
        ("/tanggal_selesai", "new optional field", False)
    ]
    # Going back is breaking: records carrying the new field would be refused.
    back = diff("tanggapan_klarifikasi", "2.0", "1.0")
    assert [(c.path, c.breaking) for c in back] == [("/tanggal_selesai", True)]


def _variant(**attrs):
    return type("Variant", (TanggapanKlarifikasiV1,), attrs)


def test_breaking_changes_are_named():
    narrowed = _variant(status=Choice(("selesai", "dalam_proses"), required=True))
    required = _variant(catatan=fields.String(required=True))
    shorter = _variant(penjelasan=fields.String(required=True))  # drops length and trim rules
    removed = type("Removed", (TanggapanKlarifikasiV1,), {})
    del removed._declared_fields["bukti"]

    def kinds(new):
        return [(c.path, c.description, c.breaking) for c in
                diff_schemas(TanggapanKlarifikasiV1, new)]

    assert kinds(narrowed) == [("/status", "values removed: ['bukan_kewenangan', "
                                           "'tidak_dapat_ditindaklanjuti']", True)]
    assert kinds(required) == [("/catatan", "new required field", True)]
    assert all(not c[2] for c in kinds(shorter))  # looser: compatible
    assert ("/bukti", "field removed", True) in kinds(removed)


def test_nested_changes_are_found():
    class StricterPejabat(Pejabat):
        nip = fields.String(required=True)

    new = _variant(pejabat_penanggung_jawab=fields.Nested(StricterPejabat, required=True))
    assert [(c.path, c.breaking) for c in diff_schemas(TanggapanKlarifikasiV1, new)] == [
        ("/pejabat_penanggung_jawab/nip", True)
    ]
