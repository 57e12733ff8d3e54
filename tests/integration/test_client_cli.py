"""The ``gateway-client`` command against two nodes' apps, in process.

``main()`` runs as the console script does; its HTTP session is one whose
requests go to a node's app (tests/flask_adapter.py), so that a run can be
stopped at an exact request.
"""

import json
import os
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gateway.client import cli
from gateway.exchange import sending
from gateway.store.tables import inbound_batches, outbox_records, submissions
from schemas import registry
from schemas.reader import csv_text
from schemas.samples import sample_records
from tests.conftest import TOKENS
from tests.flask_adapter import session_for
from tests.integration.test_api import bridge, count, node

TANGGAPAN = "tanggapan_klarifikasi"


class Runner:
    """Runs ``gateway-client`` in process against one node's app."""

    def __init__(self, monkeypatch, capsys, tmp_path):
        self.monkeypatch = monkeypatch
        self.capsys = capsys
        self.state_dir = tmp_path / "state"
        monkeypatch.setenv("GATEWAY_CLIENT_STATE_DIR", str(self.state_dir))
        monkeypatch.setenv("GATEWAY_URL", "http://node.test")
        self.tokens = set()

    def __call__(self, app, *args, after=None, client_id=None):
        token = TOKENS[app.party][client_id or next(iter(TOKENS[app.party]))]
        self.tokens.add(token)
        self.monkeypatch.setenv("GATEWAY_TOKEN", token)
        session, adapter = session_for(app.app, after=after)
        self.monkeypatch.setattr(cli, "new_session", lambda: session)
        self.requests = adapter.requests
        try:
            cli.main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code
        out, err = self.capsys.readouterr()
        assert not any(t in out + err for t in self.tokens), "a token was printed"
        return code, out, err


@pytest.fixture
def run(monkeypatch, capsys, tmp_path):
    return Runner(monkeypatch, capsys, tmp_path)


def write_csv(path, records, version="1.0"):
    path.write_text(csv_text(records, registry.schema_class(TANGGAPAN, version)()),
                    encoding="utf-8")
    return path


def submission_posts(requests):
    return [r for r in requests if r.method == "POST" and r.url.endswith("/records")]


def test_submit_in_chunks_and_again(run, pemkot, tmp_path):
    records = sample_records(TANGGAPAN, 25, seed=1)
    file = write_csv(tmp_path / "tanggapan.csv", records)
    code, out, err = run(pemkot, "submit", "--dataset", TANGGAPAN, "--chunk-size", 10, file)
    assert code == 0, err
    ids = out.split()
    assert len(ids) == 3
    assert "25 records of tanggapan_klarifikasi (schema 2.0) stored in 3 submission(s)" in err
    assert count(pemkot, submissions) == 3 and count(pemkot, outbox_records) == 25
    # The same command again sends nothing: the node has every chunk.
    code, again, err = run(pemkot, "submit", "--dataset", TANGGAPAN, "--chunk-size", 10, file)
    assert (code, again.split()) == (0, ids)
    assert "3 of them by an earlier run" in err
    assert submission_posts(run.requests) == []
    code, out, _ = run(pemkot, "submit", "--dataset", TANGGAPAN, "--chunk-size", 10, "--json",
                       "--quiet", file)
    report = json.loads(out)
    assert [s["submission_id"] for s in report["submissions"]] == ids
    assert [s["first_record"] for s in report["submissions"]] == [0, 10, 20]
    assert count(pemkot, submissions) == 3


def test_what_the_node_no_longer_has_is_sent_again(run, pemkot, tmp_path):
    """A state file outlives the node's database: a node restored from an older backup,
    or a new one at the same address, gets the chunks it lacks, once."""
    file = write_csv(tmp_path / "tanggapan.csv", sample_records(TANGGAPAN, 25, seed=4))
    args = ("submit", "--dataset", TANGGAPAN, "--chunk-size", 10, file)
    code, first, err = run(pemkot, *args)
    assert code == 0, err
    lost = first.split()[1:]
    with node(pemkot).store.write() as conn:  # the newest two submissions are gone
        conn.execute(outbox_records.delete().where(outbox_records.c.submission_id.in_(lost)))
        conn.execute(submissions.delete().where(submissions.c.id.in_(lost)))
    code, out, err = run(pemkot, *args)
    assert code == 0, err
    for submission_id in lost:
        assert f"the node no longer has submission {submission_id}" in err
    assert len(submission_posts(run.requests)) == 2
    assert out.split()[0] == first.split()[0] and set(out.split()[1:]).isdisjoint(lost)
    assert count(pemkot, submissions) == 3 and count(pemkot, outbox_records) == 25


def test_an_interrupted_submit_resumes_without_storing_twice(run, pemkot, tmp_path):
    file = tmp_path / "tanggapan.jsonl"
    records = sample_records(TANGGAPAN, 25, seed=2)
    file.write_text("".join(json.dumps(r) + "\n" for r in records))
    posts = []

    def stop_after_second_chunk(request, response):
        if request.method == "POST":
            posts.append(request.headers["Idempotency-Key"])
            if len(posts) == 2:  # stored by the node, its answer never read
                raise KeyboardInterrupt

    args = ("submit", "--dataset", TANGGAPAN, "--chunk-size", 10, "--schema-version", "1.0", file)
    code, out, err = run(pemkot, *args, after=stop_after_second_chunk)
    assert code == 130
    assert out == ""
    assert "run the same command again to resume (nothing is stored twice)" in err
    assert count(pemkot, submissions) == 2
    code, out, err = run(pemkot, *args)
    assert code == 0, err
    resent = [r.headers["Idempotency-Key"] for r in submission_posts(run.requests)]
    assert resent[0] == posts[1]  # the chunk in flight, under its key
    assert len(resent) == 2
    assert len(out.split()) == 3
    assert count(pemkot, submissions) == 3 and count(pemkot, outbox_records) == 25


def test_a_refused_record_is_named_in_the_file_and_the_fixed_file_sends_the_rest(
        run, pemkot, tmp_path):
    records = sample_records(TANGGAPAN, 25, seed=3)
    broken = [dict(r) for r in records]
    broken[13]["status"] = "sudah"
    file = write_csv(tmp_path / "tanggapan.csv", broken)
    args = ("submit", "--dataset", TANGGAPAN, "--chunk-size", 10, "--schema-version", "1.0", file)
    code, out, err = run(pemkot, *args)
    assert code == 1 and out == ""
    lines = err.splitlines()
    assert lines[0] == (
        f"gateway-client: error: chunk 1 (records 10-19 of {file}) refused: HTTP 422 "
        "validation_failed: 1 of 10 records do not match the agreed schema; nothing was stored")
    assert lines[1].startswith("gateway-client:   record 13 (line 15) /status: one_of: ")
    assert "1 of 3 chunks are stored (10 records)" in lines[2]
    assert count(pemkot, submissions) == 1
    write_csv(file, records)  # fixed
    code, out, err = run(pemkot, *args)
    assert code == 0, err
    assert len(out.split()) == 3
    assert "1 of them by an earlier run" in err
    assert len(submission_posts(run.requests)) == 2
    assert count(pemkot, submissions) == 3 and count(pemkot, outbox_records) == 25
    # The run that was taken over is finished; a stored chunk changed is refused.
    broken[3]["penjelasan"] = "Diubah setelah dikirim."
    write_csv(file, broken)
    code, _, err = run(pemkot, *args)
    assert code == 1  # a new submission of the changed file: its chunk 1 is refused again
    assert count(pemkot, submissions) == 4
    write_csv(file, records[:10] + broken[10:])
    code, _, err = run(pemkot, *args)
    assert code == 2
    assert "has changed in records that an unfinished earlier run stored (chunk 0" in err
    assert len(err.splitlines()) == 1
    code, _, err = run(pemkot, *args, "--restart")  # a new submission: chunk 1 refused again
    assert code == 1 and "1 of 3 chunks are stored" in err
    assert count(pemkot, submissions) == 5


def test_bad_input_is_one_line_and_stores_nothing(run, pemkot, tmp_path):
    good = write_csv(tmp_path / "ok.csv", sample_records(TANGGAPAN, 3, seed=4))
    cases = {
        "unbalanced.csv": ('nomor_laporan,status\n"0123/LM,selesai\n', "malformed CSV"),
        "extra.csv": ("nomor_laporan,status\n1,selesai,x\n", "3 cells, more than the 2 columns"),
        "twice.csv": ("status,status\nselesai,selesai\n", "appears more than once"),
        "empty.csv": ("", "no header row"),
        "bad.json": ('[{"a": 1},', "not JSON"),
        "nan.jsonl": ('{"a": NaN}\n', "not JSON"),
        "latin1.csv": ("status\nsudah\xe9\n".encode("latin-1"), "not UTF-8"),
        "records.txt": ("", "cannot tell the format from the name; give --format"),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        code, out, err = run(pemkot, "submit", "--dataset", TANGGAPAN, path)
        assert code == 2, (name, err)
        assert out == "" and len(err.splitlines()) == 1, (name, err)
        assert err.startswith("gateway-client: error: ") and message in err, (name, err)
    code, _, err = run(pemkot, "submit", "--dataset", TANGGAPAN, tmp_path / "absent.csv")
    assert code == 2 and len(err.splitlines()) == 1 and "cannot read" in err
    code, _, err = run(pemkot, "submit", "--dataset", "permintaan_klarifikasi", good)
    assert code == 1 and "may not submit 'permintaan_klarifikasi'" in err
    code, _, err = run(pemkot, "submit", "--dataset", TANGGAPAN, "--schema-version", "9.9", good)
    assert code == 2 and "schema version '9.9' of tanggapan_klarifikasi is not agreed" in err
    run.monkeypatch.delenv("GATEWAY_URL")
    code, _, err = run(pemkot, "submit", "--dataset", TANGGAPAN, good)
    assert code == 2
    assert err == "gateway-client: error: give the node's URL: --url or $GATEWAY_URL\n"
    assert count(pemkot, submissions) == 0


def test_pull_writes_durably_then_acknowledges_and_resumes(run, apps, pemkot, ombudsman,
                                                           tmp_path):
    records = sample_records(TANGGAPAN, 12, seed=5)
    for part in (records[:5], records[5:]):  # two batches
        file = tmp_path / "part.json"
        file.write_text(json.dumps(part))
        code, _, _ = run(pemkot, "submit", "--dataset", TANGGAPAN, "--schema-version", "1.0", file)
        assert code == 0
        code, out, _ = run(pemkot, "status")
        assert code == 0
        assert f"{file} (tanggapan_klarifikasi 1.0): 1 of 1 chunks stored; records: " in out
        assert len(sending.run(node(pemkot), post=bridge(apps)).delivered) == 1

    out_dir = tmp_path / "received"

    def crash_on_second_ack(request, response):
        if request.url.endswith("/ack") and sum(r.url.endswith("/ack")
                                                for r in run.requests) == 2:
            raise KeyboardInterrupt  # the node has it acknowledged; the answer is lost

    code, out, _ = run(ombudsman, "pull", "--dataset", TANGGAPAN, "--out", out_dir,
                       after=crash_on_second_ack)
    assert code == 130
    files = sorted(out_dir.glob("*.json"))
    assert len(files) == 2 and len(out.split()) == 1
    first = json.loads(Path(out.strip()).read_text())
    assert first["provenance"]["signed_batch"] and first["acknowledged_at"] is None
    stat = {f: os.stat(f) for f in files}

    def unacked():
        with node(ombudsman).store.read() as conn:
            return conn.execute(select(func.count()).where(
                inbound_batches.c.acked_at.is_(None))).scalar_one()

    assert unacked() == 0  # the second ack reached the node before the run stopped
    code, out, _ = run(ombudsman, "pull", "--dataset", TANGGAPAN, "--out", out_dir, "--json")
    assert code == 0
    report = json.loads(out)
    assert [b["action"] for b in report["batches"]] == []  # both acknowledged: nothing to do
    assert {f: os.stat(f) for f in files} == stat  # not written again
    pulled = [r for f in files for r in json.loads(f.read_text())["records"]]
    assert sorted(json.dumps(r, sort_keys=True) for r in pulled) == sorted(
        json.dumps(r, sort_keys=True) for r in records)

    code, out, _ = run(pemkot, "status", "--json")
    status = json.loads(out)
    assert status["health"] == "ok"
    assert [s["dataset"] for s in status["client"]["submit"]] == [
        "kegiatan_pengembangan", TANGGAPAN]
    assert status["submissions"] and all(s["finished"] for s in status["submissions"])
    code, out, _ = run(pemkot, "status")
    assert "local submissions: all finished" in out


def test_a_batch_written_but_not_acknowledged_is_acknowledged_next_time(run, apps, pemkot,
                                                                        ombudsman, tmp_path):
    file = tmp_path / "t.json"
    file.write_text(json.dumps(sample_records(TANGGAPAN, 6, seed=6)))
    assert run(pemkot, "submit", "--dataset", TANGGAPAN, "--schema-version", "1.0", file)[0] == 0
    [batch_id] = sending.run(node(pemkot), post=bridge(apps)).delivered
    out_dir = tmp_path / "received"

    def crash_before_ack(request, response):
        if request.url.endswith(f"/batches/{batch_id}"):
            raise KeyboardInterrupt  # as if the run stopped between writing and acknowledging

    # The run stops once the batch is fetched: nothing written, nothing acknowledged.
    code, _, _ = run(ombudsman, "pull", "--dataset", TANGGAPAN, "--out", out_dir, "--format",
                     "jsonl", after=crash_before_ack)
    assert code == 130 and list(out_dir.iterdir()) == []
    # Written (durably) but not acknowledged: the state a crash right after the rename leaves.
    original = cli._pull_one

    def write_only(client, url, out, fmt, summary, action):
        client.ack = lambda batch_id: (_ for _ in ()).throw(KeyboardInterrupt)
        return original(client, url, out, fmt, summary, action)

    run.monkeypatch.setattr(cli, "_pull_one", write_only)
    code, _, _ = run(ombudsman, "pull", "--dataset", TANGGAPAN, "--out", out_dir, "--format",
                     "jsonl")
    assert code == 130
    records_file, meta_file = out_dir / f"{batch_id}.jsonl", out_dir / f"{batch_id}.meta.json"
    assert len(records_file.read_text().splitlines()) == 6
    assert json.loads(meta_file.read_text())["batch_id"] == batch_id
    before = os.stat(records_file)
    run.monkeypatch.setattr(cli, "_pull_one", original)
    code, out, err = run(ombudsman, "pull", "--dataset", TANGGAPAN, "--out", out_dir, "--format",
                         "jsonl")
    assert code == 0, err
    assert out.split() == [str(records_file)]
    assert not any(r.url.endswith(f"/batches/{batch_id}") for r in run.requests)
    assert os.stat(records_file) == before
    assert "0 batch(es) of tanggapan_klarifikasi written" in err and "1 acknowledged" in err
    code, out, err = run(ombudsman, "status", "--json")
    assert json.loads(out)["waiting"][TANGGAPAN] == {"batches": 0, "records": 0}
