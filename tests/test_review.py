"""The review playbook end to end: `ceguard serve` in review mode as a process, the case API
over HTTP, the matching engine and both firms as real QuickFIX initiators, the journal."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from tests.live import (ROOT, STOCK_SPECS, busts_for, journal_rows, logged_on, send, sides,
                        validate, wait_for)
from tests.review_live import of_type, raw_of_type, start_review_server

FIRMA = "FIX.4.4:FIRMA->CEGUARD"
FIRMB = "FIX.4.4:FIRMB->CEGUARD"
VENUE = "FIX.4.4:MATCHING1->CEGUARD"


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    """Review mode with the rules' deadlines; the matching engine and both firms on."""
    directory = tmp_path_factory.mktemp("review")
    server = start_review_server(directory)
    with logged_on(server, directory, versions=("FIX.4.4",)) as running:
        yield running


def test_an_erroneous_trade_opens_a_case_and_a_determination_busts_it(desk):
    server, engine, firm_peers = desk
    send(engine, "FIX.4.4", sides("REV-1", "FAT", "66.00", order="REV-O1", aggressor_side="1"))
    case = wait_for(lambda: (x := server.case_of("P-REV-1")) and len(x["exec_ids"]) == 2 and x,
                    what="a case for both sides of the fat finger")
    assert sorted(case["exec_ids"]) == ["A-REV-1", "P-REV-1"]  # both sides, one case
    assert case["state"] == "open" and case["deadline"] == "determination"
    assert case["firms"] == ["FIRMA", "FIRMB"]
    assert journal_rows(server, "SELECT COUNT(*) FROM busts WHERE exec_id LIKE '%REV-1'"
                        ) == [(0,)]  # review mode: no bust before a determination

    # A firm cannot act as an analyst, and sees only its own cases.
    status, refusal = server.call("FIRMA", "POST", f"/api/cases/{case['id']}/take")
    assert status == 403 and "analyst" in refusal["error"]
    assert case["id"] in [x["id"] for x in server.ok("FIRMB", "GET", "/api/cases")["cases"]]

    server.ok("alice", "POST", f"/api/cases/{case['id']}/take")
    status, refusal = server.call("alice", "POST", f"/api/cases/{case['id']}/take")
    assert status == 409 and "under_review" in refusal["error"]
    done = server.ok("alice", "POST", f"/api/cases/{case['id']}/determine",
                     {"outcome": "bust", "reason": "66.00 is 10% over the 60.00 close"})
    assert done["state"] == "notified" and done["deadline"] == "appeal"

    # The busts of the live path, to the venue and to each firm; News to both parties.
    wait_for(lambda: len(busts_for(engine.peer, VENUE, "FAT")) == 2, what="venue busts")
    wait_for(lambda: busts_for(firm_peers.peer, FIRMA, "FAT")
             and busts_for(firm_peers.peer, FIRMB, "FAT"), what="firm busts")
    assert {b[19] for b in busts_for(engine.peer, VENUE, "FAT")} == {"A-REV-1", "P-REV-1"}
    assert [b[19] for b in busts_for(firm_peers.peer, FIRMB, "FAT")] == ["A-REV-1"]
    assert [b[19] for b in busts_for(firm_peers.peer, FIRMA, "FAT")] == ["P-REV-1"]
    for session in (FIRMA, FIRMB):
        news = wait_for(lambda: [n for n in of_type(firm_peers.peer, session, "B")
                                 if n[148] == f"CEE CASE {case['id']} DETERMINATION BUST"],
                        what=f"the determination notice at {session}")
        assert news[0][33] == "5"  # determination, reason, 2 executions, appeal deadline
        text = "".join(raw_of_type(firm_peers.peer, session, "B"))
        assert "Reason: 66.00 is 10% over the 60.00 close" in text and "(yours)" in text
    for raw in firm_peers.peer.messages():
        validate(raw, "FIX.4.4", STOCK_SPECS)
        validate(raw, "FIX.4.4", ROOT / "fix_configs")

    # A party appeals within 30 minutes; the appeal does not stay the busts.
    appealed = server.ok("FIRMB", "POST", f"/api/cases/{case['id']}/appeal",
                         {"reason": "the print was a genuine sweep"})
    assert appealed["state"] == "appealed"
    final = server.ok("alice", "POST", f"/api/cases/{case['id']}/appeal-decision",
                      {"outcome": "upheld", "reason": "no news, 10% over the band"})
    assert final["state"] == "final" and final["appeal_outcome"] == "upheld"
    for session in (FIRMA, FIRMB):
        wait_for(lambda: any(n[148] == f"CEE CASE {case['id']} APPEAL UPHELD"
                             for n in of_type(firm_peers.peer, session, "B")),
                 what="the appeal notice")
    steps = [(s["actor"], s["action"]) for s in final["steps"]]
    assert steps[:3] == [("surveillance", "opened"), ("surveillance", "execution_added"),
                         ("analyst:alice", "taken")]
    assert ("firm:FIRMB", "appealed") in steps and ("analyst:alice", "appeal_upheld") in steps
    assert {(n["firm"], n["status"]) for n in final["notices"]} == {("FIRMA", "sent"),
                                                                   ("FIRMB", "sent")}
    assert len(busts_for(engine.peer, VENUE, "FAT")) == 2  # nothing busted twice
    assert server.metric("ceguard_review_determinations_total", outcome="bust") == 1
    assert server.metric("ceguard_review_appeals_total", step="upheld") == 1


def test_firm_requests_within_the_window_late_ones_refused(desk):
    server, engine, firm_peers = desk
    send(engine, "FIX.4.4", sides("REQ-1", "AWAY", "60.50", order="REQ-O1"))
    old = datetime.now(timezone.utc) - timedelta(minutes=40)
    send(engine, "FIX.4.4", sides("REQ-2", "AWAY", "60.40", order="REQ-O2"), when=old)
    wait_for(lambda: journal_rows(server, "SELECT COUNT(*) FROM decisions WHERE exec_id LIKE "
                                          "'%REQ-%'")[0][0] == 4, what="four decisions")

    status, refusal = server.call("FIRMA", "POST", "/api/requests",
                                  {"exec_id": "P-REQ-1", "reason": "wrong side"})
    assert status == 403 and "not an execution of FIRMA" in refusal["error"]  # FIRMB's
    status, refusal = server.call("FIRMA", "POST", "/api/requests",
                                  {"exec_id": "A-REQ-2", "reason": "fat finger"})
    assert status == 422 and refusal["error"].startswith("late: filed 40.")
    assert "within 30 minutes" in refusal["error"]
    routed = server.ok("FIRMA", "POST", "/api/requests",
                       {"exec_id": "A-REQ-2", "reason": "fat finger", "routed": True})
    assert routed["origin"] == "request"  # 60 minutes for a routed execution

    case = server.ok("FIRMA", "POST", "/api/requests",
                     {"exec_id": "A-REQ-1", "reason": "price far from the market"})
    assert sorted(case["exec_ids"]) == ["A-REQ-1", "P-REQ-1"] and case["state"] == "open"
    assert case["steps"][0]["actor"] == "firm:FIRMA"
    status, _ = server.call("FIRMB", "GET", f"/api/cases/{routed['id']}")
    assert status == 200  # FIRMB is the other party
    server.ok("alice", "POST", f"/api/cases/{case['id']}/take")
    stood = server.ok("alice", "POST", f"/api/cases/{case['id']}/determine",
                      {"outcome": "stand", "reason": "0.8% from the close: inside the band"})
    assert stood["state"] == "notified"
    for session in (FIRMA, FIRMB):
        wait_for(lambda: any(n[148] == f"CEE CASE {case['id']} DETERMINATION STAND"
                             for n in of_type(firm_peers.peer, session, "B")),
                 what="the stand notice")
    assert not busts_for(engine.peer, VENUE, "AWAY")
    assert server.metric("ceguard_review_requests_total", result="refused_late") == 1
    assert server.metric("ceguard_review_requests_total", result="refused_not_party") == 1
    assert server.metric("ceguard_review_requests_total", result="accepted") == 2
    status, _ = server.call("FIRMA", "POST", "/api/requests", {"exec_id": "A-REQ-1"})
    assert status == 400
    assert server.metric("ceguard_review_api_errors_total", status="400") >= 1


def test_cases_command_lists_and_acts(desk):
    server, engine, firm_peers = desk
    send(engine, "FIX.4.4", sides("CLI-1", "DUPE", "70.00", order="CLI-O1"))
    case = wait_for(lambda: (x := server.case_of("P-CLI-1")) and len(x["exec_ids"]) == 2 and x,
                    what="the case")

    def cases(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "engine", "cases", "--url", server.api,
                               "--token-file", str(server.directory / "secrets" / "alice"),
                               *argv], capture_output=True, text=True)

    listing = cases("list")
    assert listing.returncode == 0
    assert re.search(rf"^\s+{case['id']}\s+open\s+trade\s+determination \+\d+\.\d min\s+"
                     r"DUPE \(2\) FIRMA FIRMB", listing.stdout, re.M), listing.stdout
    assert cases("act", str(case["id"]), "take").returncode == 0
    done = cases("act", str(case["id"]), "bust", "--reason", "70.00 is 16.7% over 60.00")
    assert done.returncode == 0 and "determined bust by alice" in done.stdout
    wait_for(lambda: busts_for(firm_peers.peer, FIRMA, "DUPE")
             and busts_for(firm_peers.peer, FIRMB, "DUPE"), what="the busts at both firms")
    again = cases("act", str(case["id"]), "stand", "--reason", "changed my mind")
    assert again.returncode == 1 and "refused (409)" in again.stderr
    shown = cases("show", str(case["id"]))
    assert "analyst:alice" in shown.stdout and "determined_bust" in shown.stdout
    assert re.search(r"A-CLI-1\s+DUPE\s+sell\s+100 @ 70.00\s+FIRMA\s+ref 60.00 \(prev_close\)",
                     shown.stdout), shown.stdout
