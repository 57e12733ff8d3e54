import pytest

from gateway.validation import validator_for
from schemas.samples import sample_records


def codes(records):
    return [(e.path, e.code) for e in
            validator_for("monitoring_tindak_lanjut", "1.0").errors(records)]


def sample(status):
    return next(r for r in sample_records("monitoring_tindak_lanjut", 60, seed=13)
                if r["status"] == status)


@pytest.mark.parametrize("status", ["dilaksanakan_sebagian", "tidak_dilaksanakan"])
def test_a_reason_is_required_unless_done(status):
    assert codes([dict(sample(status), alasan=None)]) == [("/records/0/alasan", "reason_required")]
    assert codes([dict(sample("dilaksanakan"), alasan=None)]) == []


def test_evidence_unless_not_done():
    assert codes([dict(sample("dilaksanakan"), bukti=[])]) == [("/records/0/bukti",
                                                                "evidence_required")]
    assert codes([dict(sample("tidak_dilaksanakan"), bukti=[])]) == []


def test_a_corrective_action_names_its_index():
    record = dict(sample("dilaksanakan"), jenis_rujukan="tindakan_korektif", urutan_tindakan=None)
    assert codes([record]) == [("/records/0/urutan_tindakan", "action_index_required")]


@pytest.mark.parametrize(
    ("change", "path", "code"),
    [
        ({"status": "selesai"}, "status", "one_of"),
        ({"bukti": [{"nama_berkas": "a.pdf", "sha256": "ABC"}]}, "bukti/0/sha256",
         "sha256_format"),
        ({"urutan_tindakan": -1}, "urutan_tindakan", "range"),
        ({"nomor_rujukan": ""}, "nomor_rujukan", "length"),
    ],
)
def test_field_rules(change, path, code):
    assert codes([dict(sample("dilaksanakan"), **change)]) == [(f"/records/0/{path}", code)]
