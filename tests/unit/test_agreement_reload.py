"""Agreements taken up, updated, refused and ended while a node runs."""

import dataclasses
import datetime as dt
import json
import shutil

import pytest

from gateway.crypto.keys import NodeKeys
from gateway.errors import UnknownDataset
from gateway.exchange import intake
from gateway.node import agreement_reload
from gateway.node.agreement_reload import ended_flows, fingerprint
from gateway.node.config import load_node_config
from gateway.node.node import Node
from tests.agreement_files import ENV, HUB, signed_hub

BEKASI, DEPOK = "pemkot-bekasi", "pemkot-depok"


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


_OPENED = []


@pytest.fixture(autouse=True)
def _close_nodes():
    yield
    while _OPENED:
        _OPENED.pop().store.dispose()


def open_node(hub, clock=None, config=None):
    node = Node.from_config(config or load_node_config(hub.config_path, environ=ENV),
                            clock=clock, environ=ENV)
    _OPENED.append(node)
    return node


def events(node, event):
    with node.store.read() as conn:
        rows = conn.exec_driver_sql(
            "SELECT entry FROM audit_events WHERE event = ? ORDER BY idx"
            if node.store.is_sqlite else
            "SELECT entry FROM audit_events WHERE event = %(e)s ORDER BY idx",
            (event,) if node.store.is_sqlite else {"e": event}).all()
    return [json.loads(r[0]) for r in rows]


def in_force(node):
    return {a.id: a.version for a in node.config.agreement.agreements}


def simpel(node):
    return next(c for c in node.config.clients if c.id == "simpel")


@pytest.fixture
def hub(deployment_factory):
    hub = signed_hub(deployment_factory(), partners=(BEKASI, DEPOK))
    hub.drop_agreement("mou-bekasi", partner=BEKASI, dataset="kegiatan_pengembangan")
    return hub


def test_the_fingerprint_changes_with_any_file_and_only_then(tmp_path):
    agreements, parties = tmp_path / "a", tmp_path / "p"
    agreements.mkdir()
    parties.mkdir()
    (agreements / "x.toml").write_text("format = 2\n")
    first = fingerprint(agreements, parties)
    assert fingerprint(agreements, parties) == first
    (agreements / "notes.txt").write_text("not an agreement file")
    assert fingerprint(agreements, parties) == first
    (agreements / "x.ombudsman-ri.jws").write_text("sig")
    second = fingerprint(agreements, parties)
    assert second != first
    (parties / "p.toml").write_text("id = 'p'\n")
    third = fingerprint(agreements, parties)
    assert third != second
    (agreements / "x.toml").write_text("format = 2\nid = 'changed in place'\n")
    assert fingerprint(agreements, parties) != third


def test_a_new_agreement_is_taken_up_by_every_worker_and_recorded_once(hub):
    one, two = open_node(hub), open_node(hub)  # two workers of one node, one database
    assert in_force(one) == in_force(two) == {"mou-bekasi": 1}
    assert len(events(one, "agreement_taken_up")) == 1  # at the first start, once
    with pytest.raises(UnknownDataset, match="rekap_pengaduan"):
        intake.may_submit(one, simpel(one), "rekap_pengaduan")

    hub.drop_agreement("mou-depok", partner=DEPOK, dataset="rekap_pengaduan")
    assert one.agreement_watch.check() and two.agreement_watch.check()
    assert not one.agreement_watch.check()  # nothing changed since
    for node in (one, two):
        assert in_force(node) == {"mou-bekasi": 1, "mou-depok": 1}
        assert intake.may_submit(node, simpel(node), "rekap_pengaduan") == (DEPOK,)
        assert DEPOK in node.note_keys
        assert node.peers.kids(DEPOK)
    [entry] = [e for e in events(one, "agreement_taken_up") if e["agreement_id"] == "mou-depok"]
    assert entry["version"] == 1 and entry["parties"] == [HUB, DEPOK]
    assert "previous_version" not in entry and entry["file"] == "mou-depok.toml"
    assert len(entry["agreement_sha256"]) == 64

    hub.drop_agreement("mou-depok", partner=DEPOK, dataset="rekap_pengaduan", version=2)
    assert two.agreement_watch.check() and one.agreement_watch.check()
    assert in_force(one) == in_force(two) == {"mou-bekasi": 1, "mou-depok": 2}
    updates = [e for e in events(one, "agreement_taken_up") if e["version"] == 2]
    assert [e["previous_version"] for e in updates] == [1]


def test_a_rollback_is_refused_and_the_version_taken_up_stays_in_every_process(hub):
    node = open_node(hub)
    hub.drop_agreement("mou-bekasi", partner=BEKASI, dataset="kegiatan_pengembangan", version=3)
    assert node.agreement_watch.check()
    assert in_force(node) == {"mou-bekasi": 3}

    hub.drop_agreement("mou-bekasi", partner=BEKASI, dataset="kegiatan_pengembangan", version=2)
    node.agreement_watch.check()
    # Version 3 stays, verified again from what the node stored when it took it up: in
    # this process, and in one that starts now and never read version 3's file.
    assert in_force(node) == {"mou-bekasi": 3} == in_force(open_node(hub))
    [refused] = node.config.refused_agreements
    assert "lower than version 3" in refused.reason
    node.agreement_watch.check(force=True)  # looked at again: not recorded again
    [entry] = events(node, "agreement_refused")
    assert entry["reason"] == "rollback" and entry["agreement_id"] == "mou-bekasi"
    assert entry["file"] == "mou-bekasi.toml" and len(entry["file_sha256"]) == 64
    assert not events(node, "agreement_ended")
    assert agreement_reload.counts(node) == {
        "in_force": 1, "ended": 0, "suspended": 0, "refused": 1}

    # The same version with other content (a flow added) is refused alike.
    hub.drop_agreement("mou-bekasi", partner=BEKASI, dataset="kegiatan_pengembangan", version=3,
                       retention_days=30)
    node.agreement_watch.check()
    assert in_force(node) == {"mou-bekasi": 3}
    assert node.config.agreement.flows[0].retention_days == 90
    assert [e["reason"] for e in events(node, "agreement_refused")] == [
        "rollback", "same_version_changed"]


def test_a_revoked_signing_key_suspends_its_agreement_in_every_process(hub):
    node = open_node(hub)
    kid = NodeKeys.from_directory(hub.root / "keys" / BEKASI, environ=ENV).signing.thumbprint()
    assert kid in node.peers.kids(BEKASI)
    party = hub.parties_dir / f"{BEKASI}.toml"
    party.write_text(party.read_text() + f'revoked_keys = ["{kid}"]\n')
    node.agreement_watch.check()
    # Its file no longer verifies, nor does what was stored: out of force, not ended.
    assert in_force(node) == {} == in_force(open_node(hub))
    assert BEKASI not in node.config.agreement.parties and not node.peers.kids(BEKASI)
    listed = {a["id"]: a["status"] for a in agreement_reload.report(node)["agreements"]}
    assert listed == {"mou-bekasi": "suspended"}
    assert agreement_reload.counts(node)["suspended"] == 1
    assert not events(node, "agreement_ended")


def test_an_update_cannot_leave_out_a_party_that_did_not_sign_it(hub):
    node = open_node(hub)
    # Version 2 of Bekasi's agreement, between the hub and Depok: Bekasi never signed it.
    hub.drop_agreement("mou-bekasi", partner=DEPOK, dataset="kegiatan_pengembangan", version=2)
    node.agreement_watch.check()
    assert in_force(node) == {"mou-bekasi": 1}  # the version taken up stays
    [entry] = events(node, "agreement_refused")
    assert entry["reason"] == "parties_changed" and "pemkot-bekasi" in entry["detail"]


def test_a_replica_whose_directory_is_behind_ends_nothing(hub, tmp_path):
    """A replica that has not got a new agreement's file yet sees it in the table only:
    it is not here yet, not removed; once the file arrives it is taken up there too."""
    one = open_node(hub)
    behind = tmp_path / "behind"
    shutil.copytree(hub.agreements_dir, behind)
    hub.drop_agreement("mou-depok", partner=DEPOK, dataset="rekap_pengaduan")
    assert one.agreement_watch.check()
    config = load_node_config(hub.config_path, environ=ENV)
    two = open_node(hub, config=dataclasses.replace(config, agreements_dir=behind))
    assert in_force(two) == {"mou-bekasi": 1}
    two.agreement_watch.check(force=True)
    one.agreement_watch.check(force=True)
    assert not events(one, "agreement_ended")
    assert in_force(one) == {"mou-bekasi": 1, "mou-depok": 1}
    for file in hub.agreements_dir.glob("mou-depok.*"):
        shutil.copyfile(file, behind / file.name)
    assert two.agreement_watch.check()
    assert in_force(two) == {"mou-bekasi": 1, "mou-depok": 1}


def test_a_file_that_does_not_verify_is_refused_once(hub):
    node = open_node(hub)
    hub.drop_agreement("mou-depok", partner=DEPOK, dataset="rekap_pengaduan", signers=(HUB,))
    node.agreement_watch.check()
    other = open_node(hub)
    other.agreement_watch.check(force=True)
    assert in_force(node) == in_force(other) == {"mou-bekasi": 1}
    [entry] = events(node, "agreement_refused")
    assert entry["agreement_id"] == "mou-depok" and entry["reason"] == "invalid"
    assert "not signed by pemkot-depok" in entry["detail"]


def test_ends_on_ends_an_agreement_when_the_day_comes(hub):
    # 2030-01-01 00:00 in Jakarta is 2029-12-31 17:00 UTC.
    clock = Clock(dt.datetime(2029, 12, 31, 16, 59, tzinfo=dt.UTC))
    hub.drop_agreement("mou-depok", partner=DEPOK, dataset="rekap_pengaduan",
                       ends_on=dt.date(2030, 1, 1))
    node = open_node(hub, clock)
    assert in_force(node) == {"mou-bekasi": 1, "mou-depok": 1}
    assert not node.agreement_watch.check()
    clock.now = dt.datetime(2029, 12, 31, 17, 0, tzinfo=dt.UTC)
    assert node.agreement_watch.check()  # no file changed: the day did
    assert in_force(node) == {"mou-bekasi": 1}
    assert [a.id for a in node.config.agreement.ended] == ["mou-depok"]
    assert [f.name for f in node.config.agreement.ended_flows] == ["rekap_pengaduan"]
    with pytest.raises(UnknownDataset):
        intake.may_submit(node, simpel(node), "rekap_pengaduan")
    [entry] = events(node, "agreement_ended")
    assert entry["reason"] == "ends_on" and entry["agreement_id"] == "mou-depok"
    assert open_node(hub, clock) and len(events(node, "agreement_ended")) == 1


def test_a_removed_file_ends_its_agreement_and_its_flows_stay_for_retention(hub):
    node, other = open_node(hub), open_node(hub)
    changes = []
    node.on_agreements_changed.append(lambda n: changes.append(in_force(n)))
    hub.drop_agreement("mou-depok", partner=DEPOK, dataset="rekap_pengaduan", retention_days=7)
    node.agreement_watch.check()
    hub.remove_agreement("mou-depok.toml")
    assert node.agreement_watch.check()
    assert changes == [{"mou-bekasi": 1, "mou-depok": 1}, {"mou-bekasi": 1}]
    [entry] = events(node, "agreement_ended")
    assert entry["reason"] == "file_removed" and entry["version"] == 1
    [kept] = ended_flows(node.store)
    assert (kept.name, kept.sender, kept.receiver, kept.retention_days) == (
        "rekap_pengaduan", HUB, DEPOK, 7)
    other.agreement_watch.check()
    assert in_force(other) == {"mou-bekasi": 1}
    assert len(events(node, "agreement_ended")) == 1

    # Back with a new version: taken up again.
    hub.drop_agreement("mou-depok", partner=DEPOK, dataset="rekap_pengaduan", version=2)
    assert node.agreement_watch.check()
    assert in_force(node) == {"mou-bekasi": 1, "mou-depok": 2}
    assert ended_flows(node.store) == []


def test_an_agreement_ended_on_one_replica_ends_on_the_others(hub, tmp_path):
    """Replicas have a directory each; the table's generation tells one what another did."""
    node = open_node(hub)
    hub.drop_agreement("mou-depok", partner=DEPOK, dataset="rekap_pengaduan")
    node.agreement_watch.check()
    # A second replica: the same database, its own copy of the directory.
    copy = tmp_path / "replica"
    shutil.copytree(hub.agreements_dir, copy / "agreements")
    config = load_node_config(hub.config_path, environ=ENV)
    replica = open_node(hub, config=dataclasses.replace(config, agreements_dir=copy / "agreements"))
    assert in_force(replica) == {"mou-bekasi": 1, "mou-depok": 1}
    hub.remove_agreement("mou-depok.toml")
    node.agreement_watch.check()
    assert replica.agreement_watch.check()  # its files did not change; the table did
    assert in_force(replica) == {"mou-bekasi": 1}
    assert len(events(node, "agreement_ended")) == 1
