"""The case ledger at a hub: each partner's cases fall due by the rules of its own
agreement, name their peer, and can be digested apart (gateway audit reconcile)."""

import dataclasses
import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from gateway.cases import ledger, reports
from gateway.cases.calendar import load_calendar, wib_date
from gateway.errors import BadRequest
from gateway.node.config import Deadline, ServiceLevels, load_agreement, merge_agreements
from gateway.store.database import Store
from gateway.store.tables import case_steps, cases
from gateway.timestamps import parse

SHIPPED = Path("config/agreements/mou-pemkot-bekasi-ombudsman-ri-2021.toml")
HUB, PEMKOT, BOGOR, DEPOK = "ombudsman-ri", "pemkot-bekasi", "pemkab-bogor", "pemkot-depok"
RECEIPT = "2026-11-02T03:00:00.000000Z"  # a Monday, 10:00 in Asia/Jakarta
FIVE_DAYS = ServiceLevels(
    deadlines={**ServiceLevels().deadlines, "klarifikasi": Deadline(working_days=5)}
)


def _with(base, partner, *, agreement_id, levels=None, ends_on=None):
    """``base`` (Pemkot Bekasi's agreement with the Ombudsman) made one with ``partner``."""

    def swap(party):
        return partner if party == PEMKOT else party

    flows = tuple(
        dataclasses.replace(f, sender=swap(f.sender), receiver=swap(f.receiver),
                            agreement_id=agreement_id)
        for f in base.flows
    )  # fmt: skip
    parties = {HUB: base.parties[HUB],
               partner: dataclasses.replace(base.parties[PEMKOT], id=partner)}  # fmt: skip
    return dataclasses.replace(
        base, id=agreement_id, flows=flows, parties=parties,
        service_levels=levels or base.service_levels, ends_on=ends_on,
    )  # fmt: skip


@pytest.fixture
def hub(tmp_path):
    """A stand-in for the Ombudsman's node at a hub of three agreements: with Pemkot
    Bekasi (14 working days for an answer), Pemkab Bogor (5), and Pemkot Depok (5,
    ended: its cases are kept)."""
    shipped = load_agreement(SHIPPED)
    members = [
        shipped,
        _with(shipped, BOGOR, agreement_id="mou-bogor", levels=FIVE_DAYS),
        _with(shipped, DEPOK, agreement_id="mou-depok", levels=FIVE_DAYS,
              ends_on=dt.date(2026, 1, 1)),
    ]  # fmt: skip
    merged = merge_agreements(
        shipped.parties[HUB], members, today=dt.date(2026, 11, 2), source=tmp_path
    )
    store = Store(f"sqlite:///{tmp_path / 'hub.db'}")
    store.create_schema()
    config = SimpleNamespace(agreement=merged, calendar_files=(), case_ledger=True)
    yield SimpleNamespace(config=config, party_id=HUB, store=store,
                          now=lambda: parse(RECEIPT))  # fmt: skip
    store.dispose()


def request(number, round_=1):
    return {"case": number, "kind": "request", "round": round_, "unit": "3275.DISDUKCAPIL"}


def deliver(node, batch_id, partner, facts, *, sent=True, at=RECEIPT):
    """Record a delivered batch of clarification requests (or answers, ``sent=False``)."""
    with node.store.write() as conn:
        ledger.record_batch(
            conn, node, batch_id=batch_id,
            dataset="permintaan_klarifikasi" if sent else "tanggapan_klarifikasi",
            schema_version="2.0", sender=HUB if sent else partner,
            receiver=partner if sent else HUB, receipt_at=at, facts=enumerate(facts),
        )  # fmt: skip


def rows(node, table):
    with node.store.read() as conn:
        return {r["case_number"]: dict(r) for r in conn.execute(select(table)).mappings()}


def test_each_partner_s_cases_fall_due_by_its_own_agreement(hub):
    deliver(hub, "b-pemkot", PEMKOT, [request("0001/LM/XI/2026/JKT")])
    deliver(hub, "b-bogor", BOGOR, [request("0002/LM/XI/2026/JKT")])
    deliver(hub, "b-depok", DEPOK, [request("0003/LM/XI/2026/JKT")])
    start = wib_date(parse(RECEIPT))
    calendar = load_calendar()
    due = {number: step["due_on"] for number, step in rows(hub, case_steps).items()}
    assert due == {
        "0001/LM/XI/2026/JKT": calendar.add_working_days(start, 14).isoformat(),
        "0002/LM/XI/2026/JKT": calendar.add_working_days(start, 5).isoformat(),
        # An ended agreement's cases keep its rules.
        "0003/LM/XI/2026/JKT": calendar.add_working_days(start, 5).isoformat(),
    }
    peers = {number: case["peer"] for number, case in rows(hub, cases).items()}
    assert peers == {"0001/LM/XI/2026/JKT": PEMKOT, "0002/LM/XI/2026/JKT": BOGOR,
                     "0003/LM/XI/2026/JKT": DEPOK}  # fmt: skip
    # One set of rules per distinct rule table, not per partner.
    assert ledger.deadlines_for(hub, BOGOR) is ledger.deadlines_for(hub, DEPOK)
    assert ledger.deadlines_for(hub, PEMKOT) is ledger.deadlines_for(hub)
    assert ledger.deadlines_for(hub, PEMKOT) is not ledger.deadlines_for(hub, BOGOR)

    # Computed again from the stored events, the ledger is the same.
    before = rows(hub, cases)
    with hub.store.write() as conn:
        assert ledger.rebuild(conn, hub) == 3
    assert rows(hub, cases) == before


def test_an_answer_closes_the_step_under_the_rules_that_opened_it(hub):
    deliver(hub, "b-1", BOGOR, [request("0004/LM/XI/2026/JKT")])
    later = "2026-11-12T03:00:00.000000Z"  # eight working days on: late by Bogor's five
    deliver(hub, "b-2", BOGOR, [{"case": "0004/LM/XI/2026/JKT", "kind": "answer"}],
            sent=False, at=later)  # fmt: skip
    [step] = rows(hub, case_steps).values()
    assert step["done_on"] == "2026-11-12" and step["response_days"] == 8
    case = rows(hub, cases)["0004/LM/XI/2026/JKT"]
    assert case["state"] == "done_late" and case["peer"] == BOGOR and case["events"] == 2


def test_the_digest_of_one_partner_s_cases(hub):
    deliver(hub, "b-pemkot", PEMKOT, [request("0001/LM/XI/2026/JKT"),
                                      request("0005/LM/XI/2026/JKT")])  # fmt: skip
    deliver(hub, "b-bogor", BOGOR, [request("0002/LM/XI/2026/JKT")])
    # One report number used with two partners: the case names no single peer.
    deliver(hub, "b-both", BOGOR, [request("0005/LM/XI/2026/JKT", 2)])
    assert rows(hub, cases)["0005/LM/XI/2026/JKT"]["peer"] is None

    whole = reports.digest(hub)
    assert whole["cases"] == 3 and whole["peer"] is None
    pemkot = reports.digest(hub, peer=PEMKOT)
    assert pemkot["cases"] == 2 and pemkot["peer"] == PEMKOT
    assert pemkot["digest"] != whole["digest"]
    bogor = reports.digest(hub, peer=BOGOR)
    assert bogor["cases"] == 2
    found = {}
    for bucket in pemkot["buckets"]:
        one = reports.digest(hub, bucket=bucket, peer=PEMKOT)
        assert one["peer"] == PEMKOT
        found.update(one["cases"])
    assert sorted(found) == ["0001/LM/XI/2026/JKT", "0005/LM/XI/2026/JKT"]
    # The list, too.
    listed = reports.list_cases(hub, peer=BOGOR)["cases"]
    assert [(c["case_number"], c["peer"]) for c in listed] == [
        ("0002/LM/XI/2026/JKT", BOGOR), ("0005/LM/XI/2026/JKT", None)]  # fmt: skip
    # A partner of an ended agreement is known; the node itself and strangers are not.
    assert reports.digest(hub, peer=DEPOK)["cases"] == 1  # only the case of no single peer
    for peer in (HUB, "pemkot-nowhere", ""):
        with pytest.raises(BadRequest, match="peer must be the id of a party") as refused:
            reports.digest(hub, peer=peer)
        assert refused.value.path == "peer"
        with pytest.raises(BadRequest, match="peer must be"):
            reports.list_cases(hub, peer=peer)


def test_a_case_row_names_its_peer_outside_its_digest():
    event = ledger.Event("b", 0, "permintaan_klarifikasi", RECEIPT, request("C"), PEMKOT)
    rules = ledger.Deadlines(ServiceLevels(), load_calendar())
    steps = ledger.derive("C", [event], rules)
    here = ledger.case_row("C", steps, [event])
    there = ledger.case_row("C", steps, [dataclasses.replace(event, peer=HUB)])
    assert (here["peer"], there["peer"]) == (PEMKOT, HUB)
    assert here["digest"] == there["digest"]
    unknown = ledger.case_row("C", steps, [dataclasses.replace(event, peer="")])
    assert unknown["peer"] is None
