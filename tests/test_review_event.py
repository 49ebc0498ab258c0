"""A multi-stock event in review mode with the settle window at 0 (the default): `ceguard serve`
as a process, the matching engine and both firms as real QuickFIX initiators, the case API.

Its own module and server: every candidate within the window counts towards an event, so
no other test's cases may be near (and QuickFIX's session registry is process-wide)."""

from __future__ import annotations

import http.cookiejar
import urllib.parse
import urllib.request

import pytest

from tests.live import logged_on, send, sides, wait_for
from tests.review_live import TOKENS, active_cases, start_review_server

VENUE = "FIX.4.4:MATCHING1->CEGUARD"


@pytest.fixture
def desk(tmp_path):
    with logged_on(start_review_server(tmp_path), tmp_path, versions=("FIX.4.4",)) as running:
        yield running[:2]


def test_securities_dropping_together_gather_into_one_event_case_as_it_forms(desk):
    server, engine = desk
    for i in range(8):  # 25% under the close in 8 securities, settle window 0
        send(engine, "FIX.4.4", sides(f"DROP-{i}", f"EVT{i}", f"{(60 + i) * 0.75:.2f}",
                                      order=f"DROP-O{i}"))
    event = wait_for(lambda: (x := server.case_of("A-DROP-7")) and len(x["exec_ids"]) == 16
                     and x, what="the event case with all 16 executions")
    assert event["kind"] == "event" and event["origin"] == "surveillance"
    assert event["symbols"] == [f"EVT{i}" for i in range(8)]
    evt_cases = [c for c in active_cases(server) if any(s.startswith("EVT") for s in c["symbols"])]
    assert [c["id"] for c in evt_cases] == [event["id"]]  # no case per security left open
    merged = [c for c in server.ok("alice", "GET", "/api/cases")["cases"]
              if c["state"] == "merged" and c["merged_into"] == event["id"]]
    assert len(merged) == 5  # the first five securities' cases formed it; the rest joined
    detail = server.ok("alice", "GET", f"/api/cases/{event['id']}")
    assert any(s["action"] == "opened" and "multi-stock event forming: 5 securities"
               in s["detail"] for s in detail["steps"])
    opened = [e for e in server.events("case_opened") if e["case"] == event["id"]]
    assert opened and opened[0]["kind"] == "event" and len(opened[0]["merged"]) == 5

    # The analyst console says what the case is, not "multi-stock event: none".
    browser = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    browser.open(server.api + "/console/login",
                 urllib.parse.urlencode({"token": TOKENS["alice"]}).encode(), timeout=10)
    with browser.open(f"{server.api}/console/cases/{event['id']}", timeout=10) as page:
        html = page.read().decode()
    assert "8 securities in this case (each judged alone)" in html
