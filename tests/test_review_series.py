"""Review cases follow the series: `ceguard serve` in review mode as a process (settle window
0, the default), the matching engine and both firms as real QuickFIX initiators, the case
API over HTTP.

Its own module: QuickFIX's session registry is process-wide (see test_review_clock.py)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from engine.sim.dropcopy import Fill
from engine.sim.live import drop_copy
from tests.live import busts_for, logged_on, send, sides, wait_for
from tests.review_live import active_cases, start_review_server

VENUE = "FIX.4.4:MATCHING1->CEGUARD"
SWEEP = ["98.00", "96.00", "94.01", "94.00", "90.00", "85.00"]


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    directory = tmp_path_factory.mktemp("review-series")
    with logged_on(start_review_server(directory), directory,
                   versions=("FIX.4.4",)) as running:
        yield running[:2]


def test_a_plain_sweep_by_one_order_is_one_case(desk):
    """No 1057, 880 or 851: the passive sides first, each with its own OrderID."""
    server, engine = desk
    moment = datetime.now(timezone.utc)
    for n, price in enumerate(SWEEP):
        for fill in (Fill(f"PB{n}", f"PR{n}", "", "LEVX44", "1", price, 100, False, "FIRMB",
                          moment),
                     Fill(f"PS{n}", "PAGG", "", "LEVX44", "2", price, 100, True, "FIRMA",
                          moment)):
            message = drop_copy(fill, "FIX.4.4", when=moment)
            message.removeField(880)
            message.removeField(1057)
            assert engine.send(VENUE, message)
    busted = {f"P{side}{n}" for n in (3, 4, 5) for side in "SB"}
    case = wait_for(lambda: (x := server.case_of("PS5")) and set(x["exec_ids"]) == busted
                    and x, what="one case holding the sweep's six erroneous executions")
    assert case["kind"] == "trade" and case["firms"] == ["FIRMA", "FIRMB"]
    assert [c["id"] for c in active_cases(server) if "LEVX44" in c["symbols"]] == [case["id"]]
    steps = server.ok("alice", "GET", f"/api/cases/{case['id']}")["steps"]
    assert [s["action"] for s in steps].count("execution_added") == 5
    assert not busts_for(engine.peer, VENUE, "LEVX44")  # review mode: no bust yet


def test_a_sweep_by_one_aggressor_across_timestamps_is_one_case(desk):
    """1057 and 880 present, each match stamped at its own time: the aggressor's order."""
    server, engine = desk
    fills = []
    for n, price in enumerate(SWEEP):
        fills += sides(f"AG-{n}", "LEVX42", price, order="AG-ORDER")
    send(engine, "FIX.4.4", fills)
    busted = {f"{side}-AG-{n}" for n in (3, 4, 5) for side in "AP"}
    case = wait_for(lambda: (x := server.case_of("A-AG-5")) and set(x["exec_ids"]) == busted
                    and x, what="one case for the aggressor's sweep")
    assert [c["id"] for c in active_cases(server) if "LEVX42" in c["symbols"]] == [case["id"]]
