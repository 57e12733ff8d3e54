"""What ``gateway-client pull`` writes, and where: only inside ``--out``, owner-only.

The node is a small real HTTP server on 127.0.0.1 playing a hostile node (a
compromised one, or anyone in the middle of a plain-HTTP link) that answers a
listing with the batch ids it likes: the client must write nothing, acknowledge
nothing, and say why on one line. What it does write (the batch files, the
directories it makes, its state) is readable by its owner only, whatever the
umask.
"""

from __future__ import annotations

import json
import os
import stat
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from gateway.client import GatewayClient, InvalidIdentifier, ProtocolError, cli
from gateway.client.api import records_sha256

DATASET = "tanggapan_klarifikasi"
GOOD = "0190f5b2-7c1e-7a3b-9c4d-5e6f7a8b9c0d"

# Every form of a batch id the client must refuse: each would lead outside --out,
# name another file, or is not the node's canonical form of a UUID.
HOSTILE = [
    "../../x",
    "..",
    ".",
    "",
    "../" + GOOD,
    GOOD + "/../../x",
    "/x",
    "sub/" + GOOD,
    "..\\..\\x",
    GOOD.upper(),
    GOOD + "\n",
    "\n" + GOOD,
    GOOD + ".json",
    GOOD[:-1],
    "{" + GOOD + "}",
    GOOD.replace("-", ""),
    "urn:uuid:" + GOOD,
    GOOD[:-1] + "\u0660",  # a non-ASCII digit
    "%2e%2e%2fx",
]


def summary(batch_id: Any, records: list[Any]) -> dict[str, Any]:
    return {
        "batch_id": batch_id, "cursor": "c1", "dataset": DATASET, "schema_version": "1.0",
        "sender": "pemkot-bekasi", "record_count": len(records),
        "records_sha256": records_sha256(records), "records_root": None, "chunk_count": 1,
        "received_at": "2026-11-29T00:00:00Z", "acknowledged_at": None, "purged_at": None,
    }


class HostileNode:
    """A tiny HTTP node: a listing of ``listed`` ids; a batch whose body names ``answered``."""

    def __init__(self) -> None:
        self.records = [{"nomor_laporan": "0001/LM/2026"}]
        self.listed: list[Any] = [GOOD]
        self.answered: Any = GOOD
        self.requests: list[tuple[str, str]] = []
        node = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def answer(self, body: Any, status: int = 200) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                node.requests.append(("GET", self.path))
                if self.path.startswith(f"/api/v1/datasets/{DATASET}/batches"):
                    self.answer({"dataset": DATASET, "next_cursor": None,
                                 "batches": [summary(i, node.records) for i in node.listed]})
                elif self.path.startswith("/api/v1/batches/"):
                    self.answer({**summary(node.answered, node.records),
                                 "records": node.records, "provenance": {"sender": "x"}})
                else:
                    self.answer({"error": {"code": "not_found", "message": "no"}}, 404)

            def do_POST(self) -> None:
                node.requests.append(("POST", self.path))
                self.answer({"batch_id": node.answered, "acknowledged_at": "2026-11-29T00:00:01Z",
                             "acknowledged_by": "sistem"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def posts(self) -> list[str]:
        return [path for method, path in self.requests if method == "POST"]


@pytest.fixture
def hostile() -> Iterator[HostileNode]:
    node = HostileNode()
    thread = threading.Thread(target=node.server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield node
    finally:
        node.server.shutdown()
        node.server.server_close()
        thread.join()


def pull(node: HostileNode, out: Any, state_dir: Any, capsys: Any, *extra: str) -> tuple[int, str]:
    args = ["pull", "--url", node.url, "--token", "rahasia", "--state-dir", str(state_dir),
            "--dataset", DATASET, "--out", str(out), "--quiet", *extra]
    try:
        cli.main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


def files_under(root: Any) -> set[str]:
    return {os.path.relpath(os.path.join(d, f), root)
            for d, _, names in os.walk(root) for f in names}


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_a_hostile_batch_id_in_the_listing_writes_and_acknowledges_nothing(
        hostile, tmp_path, capsys, fmt):
    root = tmp_path / "site"
    out = root / "a" / "b" / "received"
    state_dir = tmp_path / "state"
    for batch_id in [*HOSTILE, str(root / "absolute")]:
        hostile.listed = [GOOD, batch_id]  # a good batch first: not written either
        hostile.requests.clear()
        code, err = pull(hostile, out, state_dir, capsys, "--format", fmt)
        assert code != 0, batch_id
        assert len(err.splitlines()) == 1, (batch_id, err)
        assert err.startswith("gateway-client: error: cannot list the batches of "), err
        assert "is not a lower-case UUID" in err, err
        assert files_under(root) == set(), batch_id  # nothing in --out, nothing beside it
        assert hostile.posts() == [], batch_id  # nothing acknowledged
        assert [p for _, p in hostile.requests if p.startswith("/api/v1/batches")] == []
    # The state's cursor did not move: the good batch is pulled once the listing is sane.
    hostile.listed = [GOOD]
    code, err = pull(hostile, out, state_dir, capsys, "--format", fmt)
    assert code == 0, err
    assert files_under(root) == {
        os.path.join("a", "b", "received", name)
        for name in ([f"{GOOD}.json"] if fmt == "json" else [f"{GOOD}.jsonl",
                                                                f"{GOOD}.meta.json"])}
    assert hostile.posts() == [f"/api/v1/batches/{GOOD}/ack"]


def test_a_batch_answered_under_another_id_is_refused(hostile, tmp_path, capsys):
    out = tmp_path / "received"
    for answered in ("../../x", str(uuid.uuid4())):
        hostile.answered = answered
        hostile.requests.clear()
        code, err = pull(hostile, out, tmp_path / "state", capsys)
        assert code != 0 and len(err.splitlines()) == 1, err
        assert f"cannot get batch {GOOD}: " in err, err
        assert list(out.iterdir()) == [] and files_under(tmp_path / "received") == set()
        assert hostile.posts() == []


def test_the_library_refuses_such_ids_before_sending_anything(hostile):
    client = GatewayClient(hostile.url, "rahasia")
    for batch_id in HOSTILE:
        for call in (client.get_batch, client.ack, client.submission_status):
            with pytest.raises(InvalidIdentifier) as caught:
                call(batch_id)
            assert caught.value.value == batch_id
            assert isinstance(caught.value, ProtocolError) and isinstance(caught.value, ValueError)
            assert "\n" not in str(caught.value)
    for name in ("..", ".", ""):
        with pytest.raises(InvalidIdentifier):
            client.list_batches(name)
        with pytest.raises(InvalidIdentifier):
            client.schema(DATASET, name)
    assert hostile.requests == []
    hostile.listed = [GOOD, "../../x"]
    with pytest.raises(InvalidIdentifier, match="from the node is not a lower-case UUID"):
        client.list_batches(DATASET)
    hostile.listed = [GOOD]
    assert client.get_batch(GOOD).records == hostile.records


def test_the_files_of_a_batch_are_files_of_out_itself(tmp_path):
    out = tmp_path / "received"
    out.mkdir()
    (tmp_path / "elsewhere").mkdir()
    assert cli._batch_files(out, GOOD, "json") == (out / f"{GOOD}.json", None)
    for batch_id in ("../x", GOOD + "/..", GOOD.upper()):
        with pytest.raises(cli.Failure, match="is not a lower-case UUID"):
            cli._batch_files(out, batch_id, "json")
    # A link in --out under a batch's name, to a file elsewhere, is not followed.
    (out / f"{GOOD}.meta.json").symlink_to(tmp_path / "elsewhere" / "meta.json")
    with pytest.raises(cli.Failure, match="would be outside"):
        cli._batch_files(out, GOOD, "jsonl")


def mode(path: Any) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_pulled_files_and_the_state_are_owner_only_whatever_the_umask(
        hostile, tmp_path, capsys, monkeypatch, umask, fmt):
    seen: list[int] = []
    replace = os.replace

    def replace_seen(source: Any, target: Any) -> None:  # the temporary file, before the rename
        seen.append(mode(source))
        replace(source, target)

    monkeypatch.setattr(os, "replace", replace_seen)
    out = tmp_path / "site" / "received"
    state_dir = tmp_path / "home" / "state"
    old = os.umask(umask)
    try:
        code, err = pull(hostile, out, state_dir, capsys, "--format", fmt)
    finally:
        os.umask(old)
    assert code == 0, err
    written = sorted(out.iterdir())
    assert len(written) == (1 if fmt == "json" else 2)
    for path in written:
        assert mode(path) == 0o600, path
    for directory in (tmp_path / "site", out, tmp_path / "home", state_dir):
        assert mode(directory) == 0o700, directory  # made by the client
    [state] = state_dir.glob("pull-*.json")
    assert mode(state) == 0o600
    assert mode(f"{state}.lock") == 0o600
    assert seen and set(seen) == {0o600}
    # A directory that was there before keeps the mode its owner gave it.
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o750)
    os.chmod(mine, 0o750)  # noqa: S103 (a mode its owner chose, kept)
    hostile.listed = [str(uuid.uuid4())]
    hostile.answered = hostile.listed[0]
    old = os.umask(umask)
    try:
        code, err = pull(hostile, mine, state_dir, capsys, "--format", fmt)
    finally:
        os.umask(old)
    assert code == 0, err
    assert mode(mine) == 0o750
    assert {mode(p) for p in mine.iterdir()} == {0o600}
