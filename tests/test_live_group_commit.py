"""Journal group commit: fills that arrive while a commit runs share the next transaction;
busts go out only once their batch is durable; a stop commits what is pending."""

from __future__ import annotations

import threading

import structlog

from engine.core.surveillance import Surveillance
from engine.journal import queries
from engine.journal.store import Journal
from engine.live import engine as live_engine
from engine.live.engine import LiveEngine
from engine.obs.metrics import Metrics
from engine.rules.rulebook import load_rulebook
from engine.sim.dropcopy import drop_copy_body, encode, fix_time
from engine.sim.live import Peer
from tests.live import SESSIONS, fields, journal_rows, matching_engine, send, sides, \
    start_server, wait_for

MATCHES = 200  # per session, all standing, then one erroneous match
SESSION = "FIX.4.4:CEGUARD->MATCHING1"


def test_a_burst_from_three_sessions_is_committed_in_batches_busts_after(tmp_path):
    server = start_server(tmp_path)  # synchronous = "full": an fsync per transaction
    busts: list[tuple[str, int]] = []  # (busted ExecID, its decisions journaled by then)
    lock = threading.Lock()

    def on_message(session: str, raw: str) -> None:
        exec_id = fields(raw)[19]
        (found,) = journal_rows(server, "SELECT COUNT(*) FROM decisions WHERE exec_id = ? "
                                        "AND verdict = 'erroneous'", exec_id)[0]
        with lock:
            busts.append((exec_id, found))

    engine = matching_engine(server, tmp_path / "venue-peer", peer=Peer(on_message))
    try:
        assert engine.wait_logon()
        burst = {}
        for version in SESSIONS:  # a 2x fund at 100.00: 85.00 is erroneous
            symbol = f"LEVX{version[4:].replace('.', '')}"
            fills = []
            for n in range(MATCHES):
                fills += sides(f"GC{symbol}-{n}", symbol, "100.00", order=f"GC{symbol}-O{n}")
            burst[version] = fills + sides(f"GC{symbol}-X", symbol, "85.00",
                                           order=f"GC{symbol}-OX")
        for version, fills in burst.items():
            send(engine, version, fills)
        total = sum(len(fills) for fills in burst.values())
        wait_for(lambda: journal_rows(server, "SELECT COUNT(*) FROM decisions")[0][0] == total,
                 timeout=60, what="every fill decided")
        wait_for(lambda: len(busts) == 2 * len(SESSIONS), what="the venue's busts")

        # Every fill journaled once, in fewer transactions than fills.
        assert journal_rows(server, "SELECT COUNT(*), COUNT(DISTINCT raw) FROM fills") == [
            (total, total)]
        assert server.metric("ceguard_fills_received_total") == total
        assert server.metric("ceguard_journal_batch_fills_sum") == total
        transactions = server.metric("ceguard_journal_batch_fills_count")
        print(f"\n{total} fills in {transactions:.0f} transactions")
        assert 1 <= transactions < total
        # Each bust arrived after its decision was committed, and once.
        expected = {f"{side}-GCLEVX{version[4:].replace('.', '')}-X"
                    for version in SESSIONS for side in "AP"}
        assert sorted(busts) == sorted((exec_id, 1) for exec_id in expected)
        # Each session's last MsgSeqNum is journaled: Logon is 1, the fills follow.
        inbound = dict(journal_rows(server, "SELECT session, last_msg_seq_num FROM inbound"))
        assert inbound == {f"{SESSIONS[v]}:CEGUARD->MATCHING1": 1 + len(burst[v])
                           for v in SESSIONS}
    finally:
        engine.stop()
        server.stop()


def test_close_commits_the_pending_batch(tmp_path):
    """In-process, without the writer thread: what fromApp took is journaled at close."""
    path = tmp_path / "journal.sqlite"
    rulebook = load_rulebook(None)
    engine = LiveEngine(lambda: Surveillance(rulebook, []), lambda: Journal(path),
                        Metrics(), {}, 0, structlog.get_logger())
    fills = sides("CLOSE-1", "CLS", "10.00", order="CLOSE-O") + \
        sides("CLOSE-2", "CLS", "10.01", order="CLOSE-O")
    for seq, fill in enumerate(fills, 2):
        when = fix_time(fill.moment)
        header = [(35, "8"), (34, str(seq)), (49, "MATCHING1"), (52, when), (56, "CEGUARD")]
        raw = encode("FIX.4.4", header + drop_copy_body(fill, "FIX.4.4", when)).encode()
        engine.on_fill(raw, SESSION, seq)
    assert Journal(path).next_seq() == 1  # nothing committed yet
    engine.close()
    journal = Journal(path)
    try:
        assert queries.counts(journal.connection())["fills"] == 4
        assert journal.last_msg_seq_nums() == {SESSION: 5}
        assert [journal.decision(seq)["exec_id"] for seq in range(1, 5)] == [
            "A-CLOSE-1", "P-CLOSE-1", "A-CLOSE-2", "P-CLOSE-2"]
    finally:
        journal.close()


def test_a_batch_holding_an_erroneous_decision_does_not_linger(tmp_path, monkeypatch):
    """In-process, without the writer thread: how long the writer would still wait."""
    monkeypatch.setattr(live_engine, "LINGER_SECONDS", 60.0)  # no race with the clock
    rulebook = load_rulebook(None)
    engine = LiveEngine(lambda: Surveillance(rulebook, []),
                        lambda: Journal(tmp_path / "journal.sqlite"), Metrics(), {}, 0,
                        structlog.get_logger())
    standing = sides("LINGER-1", "LGR", "10.00", order="LINGER-O1")
    erroneous = sides("LINGER-2", "LGR", "12.00", order="LINGER-O2")  # 20% off, band 10%
    try:
        for seq, fill in enumerate(standing + erroneous, 2):
            when = fix_time(fill.moment)
            header = [(35, "8"), (34, str(seq)), (49, "MATCHING1"), (52, when), (56, "CEGUARD")]
            raw = encode("FIX.4.4", header + drop_copy_body(fill, "FIX.4.4", when)).encode()
            engine.on_fill(raw, SESSION, seq)
            if seq == 3:  # the standing match: a small batch may wait for more fills
                assert engine._linger() > 0
        assert engine._linger() == 0  # the erroneous one: its bust is waited for
    finally:
        engine.close()
    journal = Journal(tmp_path / "journal.sqlite")
    try:
        assert [journal.decision(seq)["verdict"] for seq in range(1, 5)] == [
            "no_reference", "no_reference", "erroneous", "erroneous"]
    finally:
        journal.close()
