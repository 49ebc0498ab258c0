"""End to end over loopback, each test with its own `ceguard serve`: a firm offline
during a bust, the settle window, a restart.

QuickFIX keeps one process-wide registry of sessions, so these tests live apart from
test_live.py's module-wide peers, which use the same session ids.
"""

from __future__ import annotations

import json

from tests.live import busts_for, firms, journal_rows, matching_engine, send, sides, \
    start_server, wait_for


def test_an_offline_firm_receives_its_bust_after_logon(tmp_path):
    server = start_server(tmp_path)
    engine = matching_engine(server, tmp_path / "venue-peer", versions=("FIX.4.4",))
    firm_peers = None
    try:
        assert engine.wait_logon()
        send(engine, "FIX.4.4", sides("AWAY-1", "AWAY", "50.00", order="AWAY-O"))
        wait_for(lambda: len(busts_for(engine.peer, "FIX.4.4:MATCHING1->CEGUARD", "AWAY")) == 2,
                 what="the venue's busts")
        wait_for(lambda: server.metric("ceguard_busts_sent_total", recipient="firm",
                                       result="queued") == 2, what="two queued firm busts")

        firm_peers = firms(server, tmp_path / "firm-peers")
        assert firm_peers.wait_logon()
        wait_for(lambda: busts_for(firm_peers.peer, "FIX.4.4:FIRMA->CEGUARD", "AWAY")
                 and busts_for(firm_peers.peer, "FIX.4.4:FIRMB->CEGUARD", "AWAY"),
                 what="the busts resent at logon")
        (seller,) = busts_for(firm_peers.peer, "FIX.4.4:FIRMA->CEGUARD", "AWAY")
        (buyer,) = busts_for(firm_peers.peer, "FIX.4.4:FIRMB->CEGUARD", "AWAY")
        assert (seller[19], buyer[19]) == ("A-AWAY-1", "P-AWAY-1")
        assert seller[43] == "Y"  # a resend from QuickFIX's store
        statuses = journal_rows(server, "SELECT recipient, status FROM busts ORDER BY 1, 2")
        assert statuses == [("firm", "queued"), ("firm", "queued"), ("venue", "sent"),
                            ("venue", "sent")]
    finally:
        engine.stop()
        if firm_peers:
            firm_peers.stop()
        server.stop()


def test_settle_window_lets_a_multi_stock_event_clear_its_candidates(tmp_path):
    server = start_server(tmp_path, settle_seconds=2)
    engine = matching_engine(server, tmp_path / "venue-peer", versions=("FIX.4.4",))
    try:
        assert engine.wait_logon()
        fills = []
        for i in range(8):  # 8 securities 7% down: each alone breaks 3% (6% out of hours)
            price = f"{(60 + i) * 0.93:.2f}"
            fills += sides(f"EVT{i}-1", f"EVT{i}", price, order=f"EVT{i}-O")
        send(engine, "FIX.4.4", fills)
        wait_for(lambda: journal_rows(server, "SELECT COUNT(*) FROM decisions")[0][0] == 16,
                 timeout=20, what="the window to close")
        records = [json.loads(r) for (r,) in journal_rows(server, "SELECT record FROM decisions")]
        assert {r["verdict"] for r in records} == {"stands"}
        assert {r["event_size"] for r in records} == {8}
        assert {r["rule"] for r in records} == {"MSE-5"}  # the 5-19 securities row: 10%
        assert journal_rows(server, "SELECT COUNT(*) FROM busts")[0][0] == 0
        assert journal_rows(server, "SELECT COUNT(*) FROM window_closes")[0][0] == 1
        assert server.metric("ceguard_multi_stock_events_total") == 1
        assert not engine.peer.messages()
    finally:
        engine.stop()
        server.stop()


def test_restart_rebuilds_the_book_and_the_seen_execids(tmp_path):
    server = start_server(tmp_path)
    engine = matching_engine(server, tmp_path / "venue-peer", versions=("FIX.4.4",))
    try:
        assert engine.wait_logon()
        send(engine, "FIX.4.4", sides("FAT-1", "FAT", "61.00", order="FAT-O1"))
        wait_for(lambda: journal_rows(server, "SELECT COUNT(*) FROM decisions")[0][0] == 2,
                 what="two decisions")
        engine.stop()
        server.stop()

        server.start()
        assert server.events("serving")[-1]["fills_rebuilt"] == 2
        engine = matching_engine(server, tmp_path / "venue-peer", versions=("FIX.4.4",))
        assert engine.wait_logon()
        # The reference is 61.00, the last sale before the restart, not the 60.00 close;
        # 62.50 is within the band of either session from it.
        send(engine, "FIX.4.4", sides("FAT-2", "FAT", "62.50", order="FAT-O2"))
        send(engine, "FIX.4.4", sides("FAT-1", "FAT", "61.00", order="FAT-O1"), poss_dup=True)
        wait_for(lambda: journal_rows(server, "SELECT COUNT(*) FROM fills")[0][0] == 6,
                 what="four more fills journaled")
        records = [json.loads(r) for (r,) in journal_rows(
            server, "SELECT record FROM decisions ORDER BY fill_seq")]
        assert len(records) == 4  # the repeats of FAT-1 were not decided again
        assert records[2]["reference_price"] == "61.00"
        assert records[2]["reference_source"] == "last_sale"
        assert records[2]["verdict"] == "stands"
    finally:
        engine.stop()
        server.stop()
