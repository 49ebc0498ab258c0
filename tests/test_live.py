"""End to end over loopback: `ceguard serve` as a process, real QuickFIX initiators as the
matching engine and the firms, the journal file, the metrics endpoint and the JSON log."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.live import (ROOT, SESSIONS, STOCK_SPECS, busts_for, journal_rows, logged_on, send,
                        sides, start_server, validate, wait_for)

SHIPPED_SPECS = ROOT / "fix_configs"
SWEEP = ["98.00", "96.00", "94.01", "94.00", "90.00", "85.00"]  # RULES.md 8.5, 2x at $100
ERRONEOUS_LEVELS = (3, 4, 5)  # 94.00 (exactly the 6% band), 90.00, 85.00


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """One server with the matching engine (three sessions) and both firms logged on."""
    directory = tmp_path_factory.mktemp("serve")
    server = start_server(directory)
    with logged_on(server, directory) as running:
        yield running


@pytest.mark.parametrize("version", list(SESSIONS))
def test_sweep_busts_exactly_the_erroneous_prints_to_each_party(live, version):
    server, engine, firm_peers = live
    symbol = f"LEVX{version[4:].replace('.', '')}"
    fills = []
    for level, price in enumerate(SWEEP):
        fills += sides(f"{symbol}-{level}", symbol, price, order=f"SWEEP-{symbol}")
    send(engine, version, fills)

    venue_session = f"{SESSIONS[version]}:MATCHING1->CEGUARD"
    wait_for(lambda: len(busts_for(engine.peer, venue_session, symbol)) >= 6, what="6 busts")
    wait_for(lambda: len(busts_for(firm_peers.peer, "FIX.4.4:FIRMA->CEGUARD", symbol)) >= 3
             and len(busts_for(firm_peers.peer, "FIX.4.4:FIRMB->CEGUARD", symbol)) >= 3,
             what="3 busts per firm")
    busted_aggressors = {f"A-{symbol}-{level}" for level in ERRONEOUS_LEVELS}
    busted_passives = {f"P-{symbol}-{level}" for level in ERRONEOUS_LEVELS}

    venue = busts_for(engine.peer, venue_session, symbol)
    seller = busts_for(firm_peers.peer, "FIX.4.4:FIRMA->CEGUARD", symbol)
    buyer = busts_for(firm_peers.peer, "FIX.4.4:FIRMB->CEGUARD", symbol)
    assert sorted(b[19] for b in venue) == sorted(busted_aggressors | busted_passives)
    assert sorted(b[19] for b in seller) == sorted(busted_aggressors)  # FIRMA sold
    assert sorted(b[19] for b in buyer) == sorted(busted_passives)
    for bust in venue + seller + buyer:
        assert bust[17] == f"BUST-{bust[19]}"
        assert bust[55] == symbol and bust[32] == "100"
        assert bust[31] in ("94.00", "90.00", "85.00") or bust[31] in ("94", "90", "85")
        assert "Clearly erroneous" in bust[58]
    for bust in venue:
        if version == "FIX.4.2":
            assert bust[20] == "1" and bust[150] in ("0", "1")
        else:
            assert bust[150] == "H" and 20 not in bust

    # Every bust validates against the receiving side's dictionary, shipped and stock.
    begin = SESSIONS[version]
    for raw in engine.peer.messages(venue_session):
        validate(raw, begin, SHIPPED_SPECS)
        validate(raw, begin, STOCK_SPECS)
    for raw in firm_peers.peer.messages():
        validate(raw, "FIX.4.4", STOCK_SPECS)

    verdicts = journal_rows(server, "SELECT verdict, COUNT(*) FROM decisions WHERE symbol = ? "
                                    "GROUP BY verdict", symbol)
    assert dict(verdicts) == {"stands": 6, "erroneous": 6}


def test_a_possdup_repeat_changes_nothing(live):
    server, engine, firm_peers = live
    fat = sides("DUPE-1", "DUPE", "66.00", order="DUPE-O", aggressor_side="1")
    send(engine, "FIX.4.4", fat)
    wait_for(lambda: len(busts_for(engine.peer, "FIX.4.4:MATCHING1->CEGUARD", "DUPE")) == 2,
             what="the fat finger's busts")
    duplicates_before = server.metric("ceguard_duplicate_fills_total")
    decisions_before = journal_rows(server, "SELECT COUNT(*) FROM decisions")[0][0]

    send(engine, "FIX.4.4", fat, poss_dup=True)
    wait_for(lambda: server.metric("ceguard_duplicate_fills_total") == duplicates_before + 2,
             what="both repeats counted as duplicates")
    assert journal_rows(server, "SELECT COUNT(*) FROM decisions")[0][0] == decisions_before
    assert len(busts_for(engine.peer, "FIX.4.4:MATCHING1->CEGUARD", "DUPE")) == 2
    assert journal_rows(server, "SELECT COUNT(*) FROM busts WHERE exec_id LIKE '%DUPE-1'"
                        )[0][0] == 4  # venue and firm, for each side, once


def test_metrics_and_json_log_show_the_work(live):
    server, engine, firm_peers = live
    send(engine, "FIX.4.4", sides("AFTER-1", "AFTER", "70.00", order="AFTER-O"))
    wait_for(lambda: busts_for(engine.peer, "FIX.4.4:MATCHING1->CEGUARD", "AFTER"),
             what="a bust")
    erroneous = journal_rows(server, "SELECT COUNT(*) FROM decisions "
                                     "WHERE verdict = 'erroneous'")[0][0]
    fills = journal_rows(server, "SELECT COUNT(*) FROM fills")[0][0]
    wait_for(lambda: server.metric("ceguard_decisions_total", verdict="erroneous") == erroneous,
             what="the erroneous count in the metrics")
    assert server.metric("ceguard_fills_received_total") == fills
    assert server.metric("ceguard_busts_sent_total", recipient="venue", result="sent") \
        == erroneous
    assert server.metric("ceguard_busts_sent_total", recipient="firm", result="sent") \
        == erroneous
    assert server.metric("ceguard_session_up", session="FIX.4.4:CEGUARD->FIRMA") == 1
    assert server.metric("ceguard_check_latency_seconds_count") == fills
    assert server.metric("ceguard_build_info") == 1

    flags = {e["exec_id"] for e in server.events("flag")}
    busts = server.events("bust")
    assert {"A-AFTER-1", "P-AFTER-1"} <= flags
    assert {(b["exec_id"], b["recipient"]) for b in busts if "AFTER" in b["exec_id"]} == {
        ("A-AFTER-1", "venue"), ("A-AFTER-1", "firm"), ("P-AFTER-1", "venue"),
        ("P-AFTER-1", "firm")}
    assert all(b["session"] and b["bust_exec_id"].startswith("BUST-") for b in busts)
    assert any(e["session"] == "FIX.4.4:CEGUARD->FIRMA" for e in server.events("logon"))
    assert not server.events("flag") or all("symbol" in e for e in server.events("flag"))


def test_dashboard_uses_only_metrics_the_server_exports(live):
    server, _, _ = live
    dashboard = (ROOT / "deploy" / "grafana" / "ceguard-dashboard.json").read_text()
    used = set(re.findall(r"ceguard_[a-z_]+", dashboard))
    exported = set(re.findall(r"^# TYPE (ceguard_[a-z_]+)", server.scrape(), re.M))
    exported |= {f"{name}_{suffix}" for name in exported
                 for suffix in ("total", "bucket", "count", "sum")}
    assert used, "the dashboard queries no ceguard metric"
    assert used <= exported, f"not exported: {sorted(used - exported)}"
    json.loads(dashboard)


def test_journal_command_shows_flags_and_busts(live):
    server, engine, _ = live
    send(engine, "FIX.4.4", sides("JRNL-1", "AFTER", "80.00", order="JRNL-O"))
    wait_for(lambda: journal_rows(server, "SELECT COUNT(*) FROM busts "
                                          "WHERE exec_id = 'A-JRNL-1'")[0][0] == 2,
             what="the busts journaled")
    command = [sys.executable, "-m", "engine", "journal", "--path", str(server.journal)]
    text = subprocess.run(command + ["--limit", "500"], capture_output=True, text=True,
                          check=True).stdout
    # The earlier AFTER print at 70.00 was erroneous, so the reference is still the close.
    assert re.search(r"erroneous\s+AFTER\s+sell\s+100 @ 80.00\s+ref 60.00 \(prev_close\)", text)
    assert "BUST-A-JRNL-1" in text and "-> FIX.4.4:CEGUARD->FIRMA" in text
    lines = subprocess.run(command + ["--format", "jsonl", "--limit", "500"],
                           capture_output=True, text=True, check=True).stdout.splitlines()
    records = [json.loads(line) for line in lines]
    busts = [r for r in records if r["kind"] == "bust" and r["exec_id"] == "P-JRNL-1"]
    assert {(b["recipient"], b["status"]) for b in busts} == {("venue", "sent"),
                                                               ("firm", "sent")}
