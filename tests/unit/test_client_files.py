"""Records files as gateway-client reads them, and as `gateway schemas sample --csv` writes them."""

import json
import subprocess
import sys

import pytest

from gateway.client.files import InputError, cell_reader, read_records, write_durably
from schemas import registry
from schemas.export import json_schema
from schemas.reader import csv_text
from schemas.reader import read_records as read_as_validate_does
from schemas.samples import sample_records


@pytest.mark.parametrize(("dataset", "version"), [
    (d, v) for d in registry.dataset_names() for v in registry.versions(d)])
def test_csv_is_read_by_the_nodes_json_schema_as_by_the_marshmallow_schema(
        tmp_path, dataset, version):
    schema = registry.schema_class(dataset, version)()
    records = sample_records(dataset, 60, seed=11, version=version)
    path = tmp_path / "records.csv"
    path.write_text(csv_text(records, schema), encoding="utf-8")
    found = read_records(path, path.read_bytes(), "csv", schema=json_schema(dataset, version))
    assert found.records == records  # csv_text and both readers agree, nulls included
    assert found.records == read_as_validate_does(path, schema)
    assert found.lines[:2] == [2, 3]


def test_cells_are_typed_by_the_schema():
    read = cell_reader({"properties": {
        "teks": {"type": "string"}, "angka": {"type": ["integer", "null"]},
        "benar": {"type": "boolean"}, "daftar": {"type": "array"},
        "pilihan": {"anyOf": [{"type": "number"}, {"type": "null"}]}}})
    assert read("teks", "007") == "007"
    assert read("angka", "7") == 7 and read("angka", "null") is None
    assert read("angka", "07") == "07"  # not a number: kept, for the node to name
    assert read("benar", "TRUE") is True and read("benar", "ya") == "ya"
    assert read("daftar", '["a", 1]') == ["a", 1]
    assert read("pilihan", "2.5") == 2.5
    assert read("tidak_dikenal", "1") == "1"


def test_line_numbers_and_a_multiline_cell(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text('a,b\n1,"x\ny"\n\n2,z\n', encoding="utf-8")
    found = read_records(path, path.read_bytes(), "csv", schema={})
    assert found.records == [{"a": "1", "b": "x\ny"}, {"a": "2", "b": "z"}]
    assert found.lines == [2, 5]
    assert found.where(1) == "record 1 (line 5)"
    path.write_bytes(b"\xef\xbb\xbfa\n1\n")  # a byte-order mark, as spreadsheets write
    assert read_records(path, path.read_bytes(), "csv").records == [{"a": "1"}]
    with pytest.raises(InputError, match="no records"):
        read_records(path, b"[]", "json")


def test_a_durable_write_replaces_whole(tmp_path):
    target = tmp_path / "batch.json"
    write_durably(target, b"old")
    write_durably(target, b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["batch.json"]


def test_schemas_sample_writes_csv(tmp_path):
    run = [sys.executable, "-m", "gateway", "schemas", "sample", "kegiatan_pengembangan",
           "--count", "5", "--seed", "3"]
    done = subprocess.run([*run, "--csv"], capture_output=True, text=True, timeout=60,
                          check=True)
    path = tmp_path / "k.csv"
    path.write_text(done.stdout, encoding="utf-8")
    expected = json.loads(subprocess.run(run, capture_output=True, text=True, timeout=60,
                                         check=True).stdout)
    schema = registry.schema_class("kegiatan_pengembangan", "2.0")()  # the newest, as sampled
    assert read_as_validate_does(path, schema) == expected
    both = subprocess.run([*run, "--csv", "--jsonl"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert both.returncode != 0 and "give --jsonl or --csv, not both" in both.stderr


@pytest.mark.parametrize(("name", "text"), [
    ("twice.json", '[{"nik": "3275011202900001", "nik": "3275011202900002"}]'),
    ("twice.jsonl", '{"a": 1}\n{"nik": "1", "\\u006eik": "2"}\n'),
])
def test_a_record_with_a_member_given_twice_is_refused(tmp_path, name, text):
    from schemas import reader

    path = tmp_path / name
    path.write_text(text)
    fmt = "json" if name.endswith(".json") else "jsonl"
    with pytest.raises(InputError, match="duplicate member name 'nik'"):
        read_records(path, text.encode(), fmt)
    # As `gateway schemas validate` reads it.
    schema = registry.schema_class("tanggapan_klarifikasi", "1.0")()
    with pytest.raises(reader.ReadError, match="duplicate member name 'nik'"):
        reader.read_records(path, schema)
