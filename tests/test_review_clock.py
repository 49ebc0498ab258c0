"""Review deadlines of a few seconds against `ceguard serve` as a process: a determination
deadline passes (logged, counted, visible), an appeal window closes (a late appeal is refused),
and a multi-stock event is one case that an analyst can dissolve and declare again.

Its own module: QuickFIX's session registry is process-wide, so these initiators must not
live beside those of test_review.py's module fixture (same session ids)."""

from __future__ import annotations

from collections import Counter

from tests.live import busts_for, firms, matching_engine, send, sides, wait_for
from tests.review_live import start_review_server

VENUE = "FIX.4.4:MATCHING1->CEGUARD"
FIRMA = "FIX.4.4:FIRMA->CEGUARD"
FIRMB = "FIX.4.4:FIRMB->CEGUARD"


def test_deadlines_expire_and_events_are_one_case(tmp_path):
    """Deadlines of seconds: the determination deadline passes, the appeal window closes."""
    server = start_review_server(tmp_path, settle_seconds=1, determination_seconds=1,
                                 appeal_seconds=1, nearing_seconds=0.5)
    firm_peers = firms(server, tmp_path / "firm-peers")
    engine = matching_engine(server, tmp_path / "venue-peer", versions=("FIX.4.4",))
    try:
        assert firm_peers.wait_logon() and engine.wait_logon()
        drop = []
        for i in range(8):  # 25% below the close in 8 securities: one multi-stock event
            drop += sides(f"EV-{i}", f"EVT{i}", f"{(60 + i) * 0.75:.2f}", order=f"EV-O{i}")
        send(engine, "FIX.4.4", drop)
        event = wait_for(lambda: server.case_of("A-EV-0"), what="the event case")
        assert event["kind"] == "event" and len(event["exec_ids"]) == 16
        assert len(event["symbols"]) == 8

        wait_for(lambda: server.events("case_deadline_passed"), what="the deadline to pass")
        assert server.case_of("A-EV-0")["deadline_status"] == "passed"
        wait_for(lambda: server.metric("ceguard_review_deadlines_missed_total",
                                       deadline="determination") >= 1, what="the count")
        assert server.metric("ceguard_review_deadlines", deadline="determination",
                             status="passed") >= 1

        parts = server.ok("alice", "POST", f"/api/cases/{event['id']}/dissolve",
                          {"reason": "unrelated prints"})["cases"]
        assert len(parts) == 8
        joined = server.ok("alice", "POST", "/api/events",
                           {"case_ids": parts[:5], "reason": "one market-wide drop"})
        assert joined["kind"] == "event" and len(joined["exec_ids"]) == 10

        server.ok("alice", "POST", f"/api/cases/{joined['id']}/take")
        server.ok("alice", "POST", f"/api/cases/{joined['id']}/determine",
                  {"outcome": "stand", "reason": "event row clears nothing; stands"})
        wait_for(lambda: server.ok("alice", "GET", f"/api/cases/{joined['id']}")["state"]
                 == "final", what="the appeal window to close")
        status, refusal = server.call("FIRMA", "POST", f"/api/cases/{joined['id']}/appeal",
                                      {"reason": "too late"})
        assert status == 422 and refusal["error"].startswith("late: the appeal window")
        steps = server.ok("alice", "GET", f"/api/cases/{joined['id']}")["steps"]
        assert ("clock", "appeal_window_closed") in [(s["actor"], s["action"]) for s in steps]
        assert not busts_for(engine.peer, VENUE, "EVT0")

        # A restart: the cases are in the journal, the rebuild opens none again, the clock
        # does not warn twice, and a determination after it busts at both firms.
        cases_before = len(server.ok("alice", "GET", "/api/cases")["cases"])
        server.stop()
        server.start()
        wait_for(lambda: firm_peers.peer.logged_on(FIRMA) and firm_peers.peer.logged_on(FIRMB)
                 and engine.peer.logged_on(VENUE), what="the sessions back")
        assert len(server.ok("alice", "GET", "/api/cases")["cases"]) == cases_before
        left = server.ok("alice", "GET", f"/api/cases/{parts[7]}")
        assert left["state"] == "open" and left["deadline_status"] == "passed"
        symbol = left["symbols"][0]
        server.ok("alice", "POST", f"/api/cases/{parts[7]}/take")
        server.ok("alice", "POST", f"/api/cases/{parts[7]}/determine",
                  {"outcome": "bust", "reason": "25% under the close, not an event"})
        wait_for(lambda: busts_for(firm_peers.peer, FIRMA, symbol)
                 and busts_for(firm_peers.peer, FIRMB, symbol)
                 and len(busts_for(engine.peer, VENUE, symbol)) == 2, what="the busts")
        warned = Counter(e["case"] for e in server.events("case_deadline_passed"))
        assert warned and max(warned.values()) == 1
    finally:
        engine.stop()
        firm_peers.stop()
        server.stop()
