"""Witnessing by quorum: a hub asks its witnesses in turn and stops at the quorum.

An agreement of four parties, every node in process on its own database: the
Ombudsman (the hub) publishes its checkpoints, and the other three parties'
witnesses (the real ``witness.add_checkpoint``) answer through an injected poster
that records every request, so that the tests can tell who was asked, with which
consistency proof, and make any witness fail.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import select, text

from gateway.cli.main import cli
from gateway.crypto.keys import init_keys
from gateway.http.console.evidence import NodeLog
from gateway.node import audit_log
from gateway.node.config import load_node_config
from gateway.node.node import Node
from gateway.peers import bundles, witness
from gateway.store import audit_entries
from gateway.store.tables import witness_rotation
from gateway.tlog import auditor, merkle, note
from tests.conftest import NODE, PASSPHRASE, Deployment

HUB = "ombudsman-ri"
# The other parties, in the agreement's order: the hub's witnesses take turns in it.
WITNESSES = ("pemkot-bekasi", "pemkot-depok", "pemkot-bogor")
NEW_PARTIES = ("pemkot-depok", "pemkot-bogor")
T0 = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)

PARTY = """
[[parties]]
id = "{party}"
name = "{party}"
base_url = "http://{party}.test"
jwks_file = "keys/{party}/jwks.json"
log_origin = "{party}.test/audit"
witness_name = "{party}.test/witness"
note_keys_file = "keys/{party}/note-keys.txt"
"""


@dataclass
class Request:
    """One add-checkpoint request the hub made, and the witness's answer."""

    party: str
    old: int
    new: int
    status: int


@dataclass
class Network:
    """The witnesses' nodes behind the hub's poster; ``down`` parties cannot be reached."""

    nodes: dict[str, Node]
    down: set[str] = field(default_factory=set)
    requests: list[Request] = field(default_factory=list)

    def post(self, url: str, body: bytes, timeout: float, headers: Any) -> witness.PeerAnswer:
        party = next(p for p, n in self.nodes.items() if url.startswith(n.config.party.base_url))
        assert url.endswith(witness.ADD_CHECKPOINT_PATH)
        if party in self.down:
            raise requests.ConnectionError(f"{party} is down")
        answer = witness.add_checkpoint(self.nodes[party], body, requester=HUB)
        request = note.parse_add_checkpoint(body)
        new = note.Checkpoint.from_text(note.parse_note(request.checkpoint).text).size
        self.requests.append(Request(party, request.old_size, new, answer.status))
        return witness.PeerAnswer(answer.status, answer.body)

    def asked(self) -> list[str]:
        """The parties asked since the last call, and forget them."""
        asked = [r.party for r in self.requests]
        self.requests.clear()
        return asked


@pytest.fixture
def four(
    deployment_factory: Callable[..., Deployment], monkeypassphrase: None
) -> Iterator[Callable[..., tuple[Node, Network]]]:
    """Makes the four-party deployment: the hub's node (its ``[node.witnessing]`` as given)
    and the network of its witnesses."""
    opened: list[Node] = []

    def make(witnessing: str = "") -> tuple[Node, Network]:
        root = deployment_factory().root
        if witnessing:
            hub_config = root / f"{HUB}.toml"
            hub_config.write_text(f"{hub_config.read_text()}\n[node.witnessing]\n{witnessing}\n")
        agreement = root / "agreement.toml"
        for party in NEW_PARTIES:
            init_keys(
                root / "keys" / party,
                environ={"GATEWAY_KEY_PASSPHRASE": PASSPHRASE},
                note_names=(f"{party}.test/audit", f"{party}.test/witness"),
            )
            agreement.write_text(agreement.read_text() + PARTY.format(party=party))
            # Witnesses only: their databases are SQLite whatever the backend under test
            # (the hub's is the deployment's).
            (root / f"{party}.toml").write_text(
                NODE.format(
                    party=party,
                    port=9,
                    db=f"sqlite:///{root / party}.db",
                    max_body=1_000_000,
                    workers=1,
                )
            )
        nodes = {}
        for party in (HUB, *WITNESSES):
            nodes[party] = Node.from_config(load_node_config(root / f"{party}.toml", environ={}))
            opened.append(nodes[party])
        hub = nodes.pop(HUB)
        return hub, Network(nodes)

    yield make
    for node in opened:
        node.store.dispose()


def grow(node: Node, count: int = 3) -> list[str]:
    """Append ``count`` entries to the node's log, each of a batch of its own; their ids."""
    batches = []
    with node.store.write() as conn:
        first = int(conn.execute(text("SELECT count(*) FROM audit_events")).scalar() or 0)
        for i in range(first, first + count):
            batches.append(f"00000000-0000-4000-8000-{i:012d}")
            audit_entries.append(
                conn,
                event="batch_sealed",
                actor=node.party_id,
                at=T0 + dt.timedelta(seconds=i),
                dataset="lahp",
                batch_id=batches[-1],
                record_count=1,
            )
    return batches


def witnessed_size(network: Network, party: str, hub: Node) -> int:
    """The size of the hub's log that ``party``'s witness last cosigned, by its own record."""
    with network.nodes[party].store.read() as conn:
        found = conn.execute(
            text("SELECT size FROM witnessed_logs WHERE origin = :o"),
            {"o": hub.config.party.log_origin},
        ).scalar()
    return int(found or 0)


def name(party: str) -> str:
    """The name of the party's witness key."""
    return "pemkot.test/witness" if party == "pemkot-bekasi" else f"{party}.test/witness"


# -- turns and the quorum ----------------------------------------------------------------------


def test_only_the_quorum_is_asked_in_turn_and_each_proves_from_its_own_size(four):
    hub, network = four("quorum = 2")
    last: dict[str, int] = {}  # the size each witness cosigned, as the hub saw it
    turns = []
    for _ in range(6):
        grow(hub)
        report = witness.publish(hub, post=network.post)
        assert report.quorum_met and report.quorum == 2 and not report.failed
        assert len(report.cosigned_by) == 2 and len(network.requests) == 2
        turns.append(report.asked)
        for request in network.requests:
            # Each witness is sent a proof from the size it last cosigned, however many
            # checkpoints it missed; the witness checked it (200, not 409 or 422).
            assert request.status == 200
            assert request.old == last.get(request.party, 0)
            assert request.new == report.checkpoint.size
            last[request.party] = request.new
            assert witnessed_size(network, request.party, hub) == request.new
        network.asked()
    # Two of three per checkpoint, in turn: each witness was asked four times in six.
    assert (
        turns
        == [
            ["pemkot-bekasi", "pemkot-depok"],
            ["pemkot-bogor", "pemkot-bekasi"],
            ["pemkot-depok", "pemkot-bogor"],
        ]
        * 2
    )
    with hub.store.read() as conn:
        assert conn.execute(select(witness_rotation.c.next_turn)).scalar() == 0


def test_a_witness_skipped_for_many_checkpoints_gets_a_proof_from_its_old_size(four):
    hub, network = four('quorum = 1\nwitnesses = ["pemkot-depok", "pemkot-bekasi"]')
    sizes = []
    for _ in range(5):
        grow(hub, 2)
        report = witness.publish(hub, post=network.post)
        sizes.append(report.checkpoint.size)
    # Only the two listed witnesses take turns, one per checkpoint; Bogor is never asked.
    assert [(r.party, r.old, r.new) for r in network.requests] == [
        ("pemkot-depok", 0, sizes[0]),
        ("pemkot-bekasi", 0, sizes[1]),
        ("pemkot-depok", sizes[0], sizes[2]),
        ("pemkot-bekasi", sizes[1], sizes[3]),
        ("pemkot-depok", sizes[2], sizes[4]),
    ]
    # Bekasi is away for a while: Depok cosigns alone as the hub's log grows.
    network.requests.clear()
    network.down.add("pemkot-bekasi")
    for _ in range(4):
        grow(hub, 5)
        report = witness.publish(hub, post=network.post)
    assert [r.party for r in network.requests] == ["pemkot-depok"] * 4
    assert network.requests[0].old == sizes[4]
    assert witnessed_size(network, "pemkot-bekasi", hub) == sizes[3]
    # Back, at its turn: a proof from the size it cosigned long ago, which it accepts.
    network.down.clear()
    network.requests.clear()
    grow(hub)
    report = witness.publish(hub, post=network.post)
    assert report.asked == ["pemkot-bekasi"] and report.quorum_met
    assert (network.requests[-1].old, network.requests[-1].status) == (sizes[3], 200)
    with hub.store.read() as conn:
        proof = audit_log.consistency_proof(conn, sizes[3], report.checkpoint.size)
        old = audit_log.latest_checkpoint(conn, sizes[3])
    assert old is not None
    merkle.verify_consistency(
        sizes[3], report.checkpoint.size, old.root_hash, report.checkpoint.root_hash, proof
    )


def test_a_failing_witness_is_followed_by_the_next(four, caplog):
    hub, network = four("quorum = 2")
    network.down.add("pemkot-depok")
    grow(hub)
    with caplog.at_level(logging.WARNING, logger="gateway.peers.witness"):
        report = witness.publish(hub, post=network.post)
    assert report.asked == list(WITNESSES)
    assert report.failed == {"pemkot-depok": "ConnectionError"}
    assert report.cosigned_by == [name("pemkot-bekasi"), name("pemkot-bogor")]
    assert report.quorum_met
    assert "witness pemkot-depok did not cosign: ConnectionError" in caplog.text
    # The next publication starts after the last one asked: Bekasi, then Depok (down).
    grow(hub)
    report = witness.publish(hub, post=network.post)
    assert report.asked == ["pemkot-bekasi", "pemkot-depok", "pemkot-bogor"]


def test_a_refusing_witness_is_followed_by_the_next(four):
    hub, network = four("quorum = 1")
    grow(hub)
    real = network.post

    def refusing(url: str, body: bytes, timeout: float, headers: Any) -> witness.PeerAnswer:
        if url.startswith(hub.config.agreement.party("pemkot-bekasi").base_url):
            return witness.PeerAnswer(403, "the checkpoint is not signed by the log's key\n")
        return real(url, body, timeout, headers)

    report = witness.publish(hub, post=refusing)
    assert report.asked == ["pemkot-bekasi", "pemkot-depok"]
    assert report.failed == {
        "pemkot-bekasi": "HTTP 403: the checkpoint is not signed by the log's key"
    }
    assert report.cosigned_by == [name("pemkot-depok")] and report.quorum_met
    assert witnessed_size(network, "pemkot-bekasi", hub) == 0


def test_a_quorum_not_met_is_reported_and_completed_later(four, caplog):
    hub, network = four("quorum = 2")
    network.down |= {"pemkot-bekasi", "pemkot-depok"}
    grow(hub)
    with caplog.at_level(logging.WARNING, logger="gateway.peers.witness"):
        report = witness.publish(hub, post=network.post)
    # Every witness asked once, no more; one cosignature of the two needed.
    assert report.asked == list(WITNESSES) and len(network.requests) == 1
    assert report.cosigned_by == [name("pemkot-bogor")] and not report.quorum_met
    assert set(report.failed) == {"pemkot-bekasi", "pemkot-depok"}
    assert f"checkpoint {report.checkpoint.size} carries 1 of the 2 cosignatures" in caplog.text
    # Not witnessed: neither served as such nor in a bundle.
    with hub.store.read() as conn:
        assert audit_log.latest_checkpoint(conn, cosigned=2) is None
        assert audit_log.latest_checkpoint(conn, cosigned=1) == report.checkpoint
    # The same checkpoint, published again once a witness is back: Bogor's cosignature
    # counts, and only the one missing is asked for.
    network.down.clear()
    network.asked()
    again = witness.publish(hub, post=network.post)
    assert again.checkpoint == report.checkpoint
    assert again.asked == ["pemkot-bekasi"] and again.quorum_met
    assert sorted(again.cosigned_by) == sorted([name("pemkot-bogor"), name("pemkot-bekasi")])
    # Witnessed now: published again, nobody is asked.
    network.asked()
    third = witness.publish(hub, post=network.post)
    assert third.quorum_met and third.asked == [] and network.asked() == []


def test_the_turn_is_kept_in_the_database(four):
    hub, network = four("quorum = 1")
    grow(hub)
    assert witness.publish(hub, post=network.post).asked == ["pemkot-bekasi"]
    # Another process (a restart, a replica) of the same node takes the next turn.
    again = Node.from_config(hub.config)
    try:
        grow(again)
        assert witness.publish(again, post=network.post).asked == ["pemkot-depok"]
    finally:
        again.store.dispose()


def test_the_witness_finds_a_log_by_its_origin_in_an_index_built_once(four):
    hub, network = four()
    bekasi = network.nodes["pemkot-bekasi"]
    agreement = bekasi.config.agreement
    index = agreement._by_origin  # built once per view of the agreements
    assert agreement._by_origin is index
    assert agreement.party_by_origin("ombudsman.test/audit").id == HUB
    grow(hub)
    signed = audit_log.checkpoint(hub)
    body = note.format_add_checkpoint(note.AddCheckpoint(0, (), signed.note)).encode()
    assert witness.add_checkpoint(bekasi, body, requester=HUB).status == 200
    # Only the log's own party may submit it, and nobody this node's own log.
    assert witness.add_checkpoint(bekasi, body, requester="pemkot-depok").status == 404
    grow(bekasi)
    own = audit_log.checkpoint(bekasi)
    body = note.format_add_checkpoint(note.AddCheckpoint(0, (), own.note)).encode()
    assert witness.add_checkpoint(bekasi, body).status == 404


# -- what checks cosignatures requires the quorum ----------------------------------------------


def test_an_auditor_with_the_hubs_config_requires_its_quorum(four, tmp_path):
    hub, network = four("quorum = 2")
    [witnessed] = grow(hub, 1)
    assert witness.publish(hub, post=network.post).quorum_met  # two cosignatures
    bundle = bundles.export_bundle(hub, witnessed, publish=False)
    keys = bundles.trusted_keys(hub.config.agreement, HUB)
    report = auditor.verify_bundle(bundle, keys, min_cosignatures=2)
    assert len(report.cosigned_by) == 2 and report.ok
    good = tmp_path / "good.json"
    good.write_text(json.dumps(bundle))

    # A newer checkpoint that only one witness cosigned is not the witnessed one: the
    # bundle of a batch it alone covers carries it, with its one cosignature.
    network.down |= {"pemkot-bekasi", "pemkot-depok"}
    [newer] = grow(hub, 1)
    short = witness.publish(hub, post=network.post)
    assert not short.quorum_met and len(short.cosigned_by) == 1
    again = bundles.export_bundle(hub, witnessed, publish=False)
    assert again["checkpoint"] == bundle["checkpoint"]
    thin = bundles.export_bundle(hub, newer, publish=False)
    assert thin["checkpoint"].startswith(short.checkpoint.note)
    thin_file = tmp_path / "thin.json"
    thin_file.write_text(json.dumps(thin))

    verify = ["audit", "verify", "--config", str(hub.config.source), "--no-state"]
    runner = CliRunner()
    done = runner.invoke(cli, [*verify, str(good)])
    assert done.exit_code == 0, done.output
    assert "OK" in done.output
    # The hub's quorum is required of its log by default; a checkpoint with one is not
    # trusted, unless the auditor asks for fewer.
    done = runner.invoke(cli, [*verify, str(thin_file)])
    assert done.exit_code == 1
    assert "carries 1 valid cosignature(s) by the agreement's witnesses, 2 required" in (
        done.output
    )
    done = runner.invoke(cli, [*verify, "--min-cosignatures", "1", str(thin_file)])
    assert done.exit_code == 0, done.output


def test_the_whole_log_is_verified_against_the_newest_checkpoint_with_the_quorum(four):
    hub, network = four("quorum = 2")
    grow(hub)
    witnessed = witness.publish(hub, post=network.post).checkpoint
    network.down |= {"pemkot-bekasi", "pemkot-depok"}
    grow(hub)
    assert not witness.publish(hub, post=network.post).quorum_met
    keys = bundles.trusted_keys(hub.config.agreement, HUB)
    report = auditor.verify_log(NodeLog(hub), keys, min_cosignatures=2)
    assert report.ok and report.size == witnessed.size and len(report.cosigned_by) == 2
    assert report.latest_size == witnessed.size + 3  # not yet witnessed by the quorum
    with pytest.raises(auditor.VerificationError, match="no checkpoint"):
        auditor.verify_log(NodeLog(hub), keys, min_cosignatures=3)
