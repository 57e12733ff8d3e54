"""Purpose limitation by the agreement: only the personal data a flow names crosses.

Each flow's ``personal_data.fields`` names the personal fields whose values may
cross (docs/CONFIGURATION.md). The sending node refuses a record that carries any
other (422, with the paths), and so does the receiving node.
"""

import pytest
from sqlalchemy import select

from gateway.errors import ConfigError
from gateway.exchange import sending
from gateway.exchange.validation import validator_for
from gateway.node.config import PersonalData, load_agreement
from gateway.store.tables import inbound_batches
from schemas import registry
from schemas.personal import allows_all, carried, personal_fields
from schemas.samples import sample_records
from tests.conftest import PERSONAL_DATA
from tests.integration.test_api import PERMINTAAN, bridge, events, node, submit

REPORTER = {"nama": "Siti Rahmawati", "nik": "3275014509870003", "telepon": "081234567890",
            "email": "siti@example.id"}


def _open_record():
    """A valid permintaan_klarifikasi 1.0 record whose reporter is named in full."""
    record = sample_records(PERMINTAAN, 1, seed=5, version="1.0")[0]
    record["pelapor_dirahasiakan"] = False
    record["pelapor"] = dict(REPORTER)
    return record


def _without(deployment, field):
    """The deployment's agreement with ``field`` no longer allowed to cross."""
    path = deployment.root / "agreement.toml"
    path.write_text(path.read_text().replace(f'"{field}", ', "", 1))


def test_the_personal_fields_of_a_schema_are_named_by_their_paths():
    assert personal_fields(PERMINTAAN, "1.0") == (
        "/ringkasan", "/pelapor/nama", "/pelapor/nik", "/pelapor/telepon", "/pelapor/email")
    assert "/tindakan_korektif/*/pihak" in personal_fields("lahp", "1.0")
    assert personal_fields("rekap_pengaduan", "1.0") == ()
    found = carried(PERMINTAAN, "1.0", {**_open_record(), "pelapor": {"nama": "A", "nik": None}})
    assert [(c.pointer, c.field) for c in found] == [
        ("/ringkasan", "/ringkasan"), ("/pelapor/nama", "/pelapor/nama")]
    lahp = sample_records("lahp", 20, seed=1, version="1.0")
    with_actions = next(r for r in lahp if r.get("tindakan_korektif"))
    pointers = [c.pointer for c in carried("lahp", "1.0", with_actions)]
    assert "/tindakan_korektif/0/pihak" in pointers


def test_the_values_of_fields_not_allowed_are_those_of_all_personal_values():
    """``carried(..., besides=...)`` walks only the fields a flow must refuse: it finds
    exactly the values of the full walk whose field is not allowed, in the same order,
    for every dataset version, every field left out alone and every set of fields."""
    checked = 0
    for dataset in registry.dataset_names():
        for version in registry.versions(dataset):
            every = personal_fields(dataset, version)
            records = sample_records(dataset, 40, seed=11, version=version)
            if dataset == PERMINTAAN and version == "1.0":
                records.append(_open_record())
            allowed_sets = [frozenset(), frozenset(every), frozenset({"/not/a/field"})]
            allowed_sets += [frozenset(every) - {field} for field in every]
            allowed_sets += [frozenset(every[i::2]) for i in range(2)]
            for record in [*records, {}, {"pelapor": None}, "not an object"]:
                full = carried(dataset, version, record)
                for allowed in allowed_sets:
                    expected = [c for c in full if c.field not in allowed]
                    assert carried(dataset, version, record, besides=allowed) == expected
                    checked += bool(expected)
    assert checked > 100


@pytest.mark.parametrize(("dataset", "version"), [(PERMINTAAN, "1.0"), ("lahp", "1.0")])
def test_the_check_is_skipped_only_when_every_personal_field_may_cross(dataset, version):
    every = frozenset(personal_fields(dataset, version))
    assert allows_all(dataset, version, every)
    assert allows_all(dataset, version, every | {"/not/a/field"})
    assert allows_all("rekap_pengaduan", "1.0", frozenset())  # no personal field at all
    validator = validator_for(dataset, version)
    records = sample_records(dataset, 30, seed=3, version=version)
    if dataset == PERMINTAAN:
        records.append(_open_record())
    carrying = [r for r in records if carried(dataset, version, r)]
    assert carrying
    assert validator.errors(records, personal=PersonalData(fields=every)) == []
    # One field fewer: as strict as ever, every value of that field is refused.
    for missing in every:
        allowed = every - {missing}
        assert not allows_all(dataset, version, allowed)
        refused = {(e.path, e.code) for e in
                   validator.errors(records, personal=PersonalData(fields=allowed))}
        expected = {(f"/records/{i}{c.pointer}", "personal_field_not_allowed")
                    for i, r in enumerate(records) for c in carried(dataset, version, r)
                    if c.field == missing}
        assert refused == expected


def test_the_sender_refuses_a_personal_field_its_flow_does_not_allow(deployment, make_apps):
    _without(deployment, "/pelapor/nik")
    apps = make_apps(deployment)
    ombudsman = apps["ombudsman-ri"]
    answer = submit(ombudsman, [_open_record()], dataset=PERMINTAAN)
    assert answer.status_code == 422
    errors = answer.get_json()["error"]["errors"]
    assert [(e["path"], e["code"]) for e in errors] == [
        ("/records/0/pelapor/nik", "personal_field_not_allowed")]
    # Nothing stored; the refusal is audited without the value.
    assert [e["event"] for e in events(ombudsman)] == ["submission_rejected"]
    assert REPORTER["nik"] not in str(events(ombudsman))
    # Without the field, the same record is taken.
    record = _open_record()
    del record["pelapor"]["nik"]
    assert submit(ombudsman, [record], dataset=PERMINTAAN).status_code == 202


def test_the_receiver_refuses_it_too(deployment, make_apps):
    apps = make_apps(deployment)
    ombudsman, pemkot = apps["ombudsman-ri"], apps["pemkot-bekasi"]
    assert submit(ombudsman, [_open_record()], dataset=PERMINTAAN).status_code == 202
    # The receiver's agreement no longer lets the reporter's phone number cross.
    _without(deployment, "/pelapor/telepon")
    node(pemkot).config = deployment.config("pemkot-bekasi")
    report = sending.run(node(ombudsman), post=bridge(apps))
    assert not report.delivered
    with node(pemkot).store.read() as conn:
        assert conn.execute(select(inbound_batches.c.batch_id)).all() == []
    [refused] = [e for e in events(pemkot) if e["event"] == "envelope_rejected"]
    assert refused["reason"] == "schema"


def test_the_agreement_names_real_personal_fields_a_basis_and_a_retention(deployment):
    path = deployment.root / "agreement.toml"
    text = path.read_text()
    cases = {
        '"/pelapor/nik"': ('"/pelapor/alamat"', "not a personal-data field"),
        "legal_basis = ": ("legal_basisx = ", "legal_basisx: is not a known setting"),
        "retention_days = 90\n": ("", "retention_days: is required"),
    }
    for old, (new, problem) in cases.items():
        path.write_text(text.replace(old, new, 1))
        with pytest.raises(ConfigError, match=problem):
            load_agreement(path)
    path.write_text(text)
    flow = load_agreement(path).flow(PERMINTAAN, sender="ombudsman-ri")
    assert flow is not None
    assert flow.personal_data.fields == frozenset(PERSONAL_DATA[PERMINTAAN])
    assert flow.personal_data.purpose == "1" and flow.personal_data.legal_basis
