"""Crash mid-stream (issue 4): `ceguard serve` is killed with SIGKILL at random points
while a matching engine streams tens of thousands of drop copies with erroneous prints,
and restarted on the same config each time. At the end every fill has exactly one
decision, every erroneous execution exactly one bust per recipient (counted as the
initiators receive them, in fromApp), and the decisions are those of `ceguard replay`.

The journal runs with synchronous = "normal" here: a SIGKILL loses nothing SQLite has
written (the page cache survives the process), only a power loss would, and "full"
would make the stream fsync-bound. The kill points are fill counts from a seeded
generator, spread over the stream; where exactly each kill lands (inside a transaction,
between the journal and QuickFIX, amid a bust) is chance. The figures are printed
(pytest -s).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import zlib
from collections import Counter
from datetime import timedelta

from engine.sim.dropcopy import DropCopyStream, Fill, drop_copy_body, encode, fix_time
from engine.sim.live import drop_copy
from tests.live import ROOT, SESSIONS, Server, fields, firms, free_port, journal_rows, \
    matching_engine, wait_for

MATCHES = 10_000  # two fills each
KILLS = 4
EVENTS = 8  # erroneous events: 2x-fund sweeps and fat-finger prints, alternating
GAP = timedelta(minutes=6)  # events further apart than a multi-stock window (5 min)
RATE = 2_500  # fills per second offered by the matching engine


def crash_scenario(stream: DropCopyStream) -> list[Fill]:
    part = MATCHES // (EVENTS + 1)
    fills: list[Fill] = []
    for i in range(EVENTS):
        fills += stream.normal(part)
        stream.pause(GAP)
        if i % 2 == 0:  # prints at or below 94.00 from a reference of 100 are erroneous
            lev = stream.add_security(f"LEV{i}", "2", 100.0)
            fills += stream.sweep(lev, ["98.00", "96.00", "94.01", "94.00", "90.00", "85.00"])
        else:
            fat = stream.add_security(f"FAT{i}", "1", 60.0)
            fills += stream.sweep(fat, ["66.00"], side="1")
        stream.pause(GAP)
    fills += stream.normal(MATCHES - EVENTS * part)
    return fills


def venue_session(fill: Fill) -> str:
    """The drop-copy session of a symbol, as the simulator spreads them."""
    versions = list(SESSIONS.values())
    return versions[zlib.crc32(fill.symbol.encode()) % len(versions)]


def stream_fills(engine, fills: list[Fill], done: threading.Event) -> None:
    """Offer the fills at RATE; sendToTarget stores them while ceguard is down and
    QuickFIX resends them when it asks."""
    clock = threading.Event()
    for number, fill in enumerate(fills, 1):
        begin = venue_session(fill)
        assert engine.send(f"{begin}:MATCHING1->CEGUARD", drop_copy(fill, begin, fill.moment))
        if number % 250 == 0:
            clock.wait(250 / RATE)
    done.set()


def replay(fills: list[Fill], instruments, tmp_path) -> dict[str, dict]:
    """`ceguard replay` of the same fills, in the order they were generated."""
    path = tmp_path / "streamed.fix"
    with open(path, "w", encoding="latin-1", newline="") as out:
        for seq, fill in enumerate(fills, 1):
            when = fix_time(fill.moment)
            header = [(35, "8"), (34, str(seq)), (49, "MATCHING1"), (52, when), (56, "CEGUARD")]
            out.write(encode("FIX.4.4", header + drop_copy_body(fill, "FIX.4.4", when)) + "\n")
    result = subprocess.run([sys.executable, "-m", "engine", "replay", str(path),
                             "--instruments", str(instruments)],
                            capture_output=True, text=True, cwd=ROOT, check=True)
    records = [json.loads(line) for line in result.stdout.splitlines()]
    return {r["exec_id"]: r for r in records}


def test_sigkill_mid_stream_loses_and_duplicates_nothing(tmp_path):
    stream = DropCopyStream(symbols=200, seed=11)
    fills = crash_scenario(stream)
    instruments = tmp_path / "instruments.csv"
    instruments.write_text(stream.instruments_csv())
    server = Server(tmp_path, free_port(), free_port(), synchronous="normal")
    server.write_config(instruments)
    server.start()
    venue = matching_engine(server, tmp_path / "venue-peer")
    firm_peers = firms(server, tmp_path / "firm-peers")
    rng = random.Random(4)
    kills = 0
    try:
        assert venue.wait_logon() and firm_peers.wait_logon()
        streamed = threading.Event()
        sender = threading.Thread(target=stream_fills, args=(venue, fills, streamed))
        sender.start()
        # Kill points spread over the stream: when the journal reaches random fill counts.
        journaled = lambda: journal_rows(server, "SELECT COALESCE(MAX(seq), 0) FROM fills")
        for point in sorted(rng.uniform(0.05, 0.95) * len(fills) for _ in range(KILLS)):
            wait_for(lambda: journaled()[0][0] >= point, timeout=90,
                     what=f"{point:.0f} fills journaled")
            server.kill()
            kills += 1
            server.start()
        sender.join()

        exec_ids = {f.exec_id for f in fills}
        decided = lambda: journal_rows(server, "SELECT COUNT(DISTINCT exec_id) FROM decisions")
        wait_for(lambda: decided()[0][0] == len(exec_ids), timeout=90,
                 what="a decision for every fill")
        erroneous = [exec_id for (exec_id,) in journal_rows(
            server, "SELECT exec_id FROM decisions WHERE verdict = 'erroneous'")]
        by_id = {f.exec_id: f for f in fills}
        expected = Counter()
        for exec_id in erroneous:
            fill = by_id[exec_id]
            expected[(f"{venue_session(fill)}:MATCHING1->CEGUARD", exec_id)] += 1
            expected[(f"FIX.4.4:{fill.firm}->CEGUARD", exec_id)] += 1

        def received() -> Counter:
            return Counter((session, fields(raw)[19])
                           for peer in (venue.peer, firm_peers.peer)
                           for session, raw in peer.received)
        wait_for(lambda: set(received()) >= set(expected), timeout=60,
                 what="every bust at its recipient")
        server.stop()  # logs the sessions out: nothing more can arrive after this
        got = received()
        lost = sum(1 for key in expected if got[key] == 0)
        duplicates = sum(n - 1 for n in got.values() if n > 1)
        unexpected = [key for key in got if key not in expected]
        print(f"\ncrash test: {len(fills)} fills streamed, {kills} SIGKILLs survived, "
              f"{len(erroneous)} erroneous executions, {sum(expected.values())} busts "
              f"expected, {lost} lost, {duplicates} duplicated")
        assert (lost, duplicates, unexpected) == (0, 0, [])
        assert kills == KILLS
        assert len(erroneous) == 2 * (3 * (EVENTS // 2) + EVENTS // 2)

        # Exactly one decision per fill, and each the one replay makes.
        counts = journal_rows(server, "SELECT exec_id, COUNT(*) FROM decisions GROUP BY 1")
        assert {exec_id for exec_id, _ in counts} == exec_ids
        assert {n for _, n in counts} == {1}
        replayed = replay(fills, instruments, tmp_path)
        live = {r["exec_id"]: r for r in (json.loads(record) for (record,) in journal_rows(
            server, "SELECT record FROM decisions"))}
        assert set(replayed) == set(live)
        differing = [exec_id for exec_id in live
                     if {**live[exec_id], "line": 0} != {**replayed[exec_id], "line": 0}]
        assert differing == []
    finally:
        venue.stop()
        firm_peers.stop()
        server.stop()
