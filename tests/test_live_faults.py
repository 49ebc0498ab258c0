"""Faults (issue 4), each against its own `ceguard serve` over loopback: the journal's
disk filling up, a firm offline across an engine restart, a sequence gap from the
matching engine. The crash test (SIGKILL mid-stream) is in test_live_crash.py.

Every test stops its initiators before the next starts: QuickFIX's session registry is
process-wide and the tests re-use session ids.
"""

from __future__ import annotations

import errno
import json
import re
import socket
import sqlite3
import subprocess
import threading
from contextlib import closing, contextmanager
from pathlib import Path

import quickfix as fix

from engine.sim.live import Initiator, Peer, initiator_settings
from tests.live import busts_for, fields, firms, journal_rows, matching_engine, \
    send, sides, start_server, wait_for


class AdminPeer(Peer):
    """A Peer that also keeps the Logout texts it receives."""

    def __init__(self) -> None:
        super().__init__()
        self.logouts: list[str] = []

    def fromAdmin(self, message, session_id):
        try:
            if message.getHeader().getField(35) == "5":
                text = message.getField(58) if message.isSetField(58) else ""
                with self._lock:
                    self.logouts.append(text)
        except Exception as exc:  # never let an exception reach QuickFIX
            print(f"AdminPeer: {exc}")


@contextmanager
def small_disk(path: Path, size: str = "4m"):
    """A tmpfs of its own for the journal, so that filling it up touches nothing else."""
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                              str(path)], capture_output=True, text=True)
    assert mounted.returncode == 0, (
        "the disk-trouble test mounts a small tmpfs for the journal, which needs root "
        f"(CAP_SYS_ADMIN): {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def fill_up(disk: Path) -> Path:
    """Write a file until the filesystem is full (ENOSPC)."""
    filler = disk / "filler"
    chunk = b"\0" * 65536
    with open(filler, "wb", buffering=0) as out:
        try:
            while True:
                out.write(chunk)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    return filler


def decisions(server) -> list[dict]:
    return [json.loads(r) for (r,) in journal_rows(
        server, "SELECT record FROM decisions ORDER BY fill_seq")]


def test_a_full_journal_disk_stops_fills_and_loses_none(tmp_path):
    with small_disk(tmp_path / "jdisk") as disk:
        server = start_server(tmp_path, journal_name="jdisk/journal.sqlite")
        venue = AdminPeer()
        engine = matching_engine(server, tmp_path / "venue-peer", versions=("FIX.4.4",),
                                 peer=venue)
        session = "FIX.4.4:MATCHING1->CEGUARD"
        try:
            assert engine.wait_logon()
            send(engine, "FIX.4.4", sides("FAT-1", "FAT", "60.50", order="FAT-O1"))
            wait_for(lambda: len(decisions(server)) == 2, what="the first two decisions")
            assert server.metric("ceguard_journal_writable") == 1

            # An emptied WAL: its allocated pages would otherwise take the next commits even
            # on a full disk (serve's checkpointer lets SQLite reuse them).
            with closing(sqlite3.connect(disk / "journal.sqlite")) as db:
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            filler = fill_up(disk)
            # 66.00 against the last sale 60.50 is erroneous; 61.00 after it stands.
            send(engine, "FIX.4.4", sides("FAT-2", "FAT", "66.00", order="FAT-O2"))
            send(engine, "FIX.4.4", sides("FAT-3", "FAT", "61.00", order="FAT-O3"))
            wait_for(lambda: server.events("journal_failed"), what="the journal failure")
            failure = server.events("journal_failed")[0]
            assert "disk is full" in failure["error"]
            assert failure["journal"].endswith("jdisk/journal.sqlite")
            assert server.metric("ceguard_journal_writable") == 0
            assert server.metric("ceguard_journal_failures_total") >= 1
            # The engine logs the matching engine out, saying why, and refuses it again.
            wait_for(lambda: venue.logouts, what="a Logout from ceguard")
            assert "cannot write its journal" in venue.logouts[0]
            wait_for(lambda: server.events("logon_refused"), what="a refused logon")
            refused = server.metric("ceguard_fills_refused_total",
                                    session="FIX.4.4:CEGUARD->MATCHING1")
            assert refused >= 1
            assert not engine.peer.messages()  # no bust went out for an unjournaled fill
            assert len(decisions(server)) == 2

            filler.unlink()
            wait_for(lambda: server.events("journal_resumed"), what="the journal to resume")
            wait_for(lambda: len(decisions(server)) == 6, timeout=20,
                     what="the resent fills decided")
            wait_for(lambda: len(busts_for(engine.peer, session, "FAT")) == 2,
                     what="the busts of FAT-2")
            records = decisions(server)
            assert [r["exec_id"] for r in records] == [
                "A-FAT-1", "P-FAT-1", "A-FAT-2", "P-FAT-2", "A-FAT-3", "P-FAT-3"]
            assert [r["verdict"] for r in records] == ["stands", "stands", "erroneous",
                                                       "erroneous", "stands", "stands"]
            # FAT-3 is judged against 60.50: the refused FAT-2 never became a last sale.
            assert records[4]["reference_price"] == "60.50"
            assert sorted(fields(raw)[19] for raw in engine.peer.messages(session)) == [
                "A-FAT-2", "P-FAT-2"]
            assert server.events("seqnum_realigned")
            assert server.metric("ceguard_journal_writable") == 1
            # Every fill journaled once: the realignment asked exactly for what was missing.
            (fills,) = journal_rows(server, "SELECT COUNT(*) FROM fills")[0]
            assert fills == 6
        finally:
            engine.stop()
            server.stop()


def sweep(match_prefix: str, symbol: str, prices: list[str]) -> list:
    """One aggressing sell order printing at each price: FIRMA sells, FIRMB buys."""
    fills = []
    for n, price in enumerate(prices, 1):
        fills += sides(f"{match_prefix}-{n}", symbol, price, order=f"{match_prefix}-O")
    return fills


# A 2x fund with reference 100.00: the prints at or below 94.00 are erroneous.
SWEEP = ["98.00", "96.00", "94.01", "94.00", "90.00", "85.00"]


def test_an_offline_firm_gets_all_its_busts_in_order_across_a_restart(tmp_path):
    server = start_server(tmp_path)
    engine = matching_engine(server, tmp_path / "venue-peer", versions=("FIX.4.4",))
    firm_peers = None
    try:
        assert engine.wait_logon()
        send(engine, "FIX.4.4", sweep("OFF", "LEVX44", SWEEP))
        wait_for(lambda: server.metric("ceguard_busts_sent_total", recipient="firm",
                                       result="queued") == 6, what="six queued firm busts")
        engine.stop()
        server.kill()  # the harshest restart: no logout, nothing closed
        server.start()
        firm_peers = firms(server, tmp_path / "firm-peers")
        assert firm_peers.wait_logon()
        for firm, side in (("FIRMA", "A"), ("FIRMB", "P")):
            session = f"FIX.4.4:{firm}->CEGUARD"
            wait_for(lambda: len(firm_peers.peer.messages(session)) >= 3,
                     what=f"{firm}'s busts")
            received = [fields(raw) for raw in firm_peers.peer.messages(session)]
            assert [r[19] for r in received] == [f"{side}-OFF-4", f"{side}-OFF-5",
                                                 f"{side}-OFF-6"]
            assert [r[31] for r in received] == ["94.00", "90.00", "85.00"]
            assert {r[43] for r in received} == {"Y"}  # resent from QuickFIX's store
        assert server.events("serving")[-1]["busts_resent"] == 0
        firm_peers.stop()
        server.stop()  # nothing more can arrive: count again
        assert len(firm_peers.peer.messages()) == 6
    finally:
        engine.stop()
        if firm_peers:
            firm_peers.stop()
        server.stop()


class LossyProxy:
    """A loopback TCP relay in front of ceguard that loses chosen drop copies on their
    way in, once each (their resends, 43=Y, pass): messages lost on the wire."""

    _MESSAGE = re.compile(rb"8=FIX.*?\x0110=\d{3}\x01", re.S)

    def __init__(self, target_port: int, lose: set[str]) -> None:
        self.target_port = target_port
        self.lose = {f"\x0117={exec_id}\x01".encode() for exec_id in lose}
        self.lost: list[str] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True
                             ).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True
                             ).start()

    def _pump(self, source: socket.socket, sink: socket.socket, inbound: bool) -> None:
        pending = b""
        try:
            while data := source.recv(65536):
                if not inbound:
                    sink.sendall(data)
                    continue
                pending += data
                out, end = [], 0
                for match in self._MESSAGE.finditer(pending):
                    message, end = match.group(), match.end()
                    hit = next((m for m in self.lose if m in message), None)
                    if hit and b"\x0143=Y\x01" not in message:
                        self.lose.discard(hit)
                        self.lost.append(hit.decode())
                        continue
                    out.append(message)
                pending = pending[end:]
                sink.sendall(b"".join(out))
        except OSError:
            pass
        finally:
            source.close()
            sink.close()

    def close(self) -> None:
        self.listener.close()


def test_a_gap_from_the_matching_engine_is_resent_and_judged_once(tmp_path):
    server = start_server(tmp_path)
    proxy = LossyProxy(server.fix_port, lose={"A-GAP-2", "P-GAP-2", "A-GAP-4"})
    settings = initiator_settings("127.0.0.1", proxy.port, tmp_path / "venue-peer",
                                  [("FIX.4.4", "MATCHING1", "CEGUARD")])
    engine = Initiator(settings, Peer())
    session = "FIX.4.4:MATCHING1->CEGUARD"
    try:
        assert engine.wait_logon()
        fills = sweep("GAP", "LEVX44", SWEEP)
        send(engine, "FIX.4.4", fills[:6])
        # The matching engine skips sequence numbers it never used (a gap it fills).
        live = fix.Session.lookupSession(engine.session_ids[session])
        live.setNextSenderMsgSeqNum(live.getExpectedSenderNum() + 5)
        send(engine, "FIX.4.4", fills[6:])
        wait_for(lambda: len(decisions(server)) == 12, timeout=20, what="twelve decisions")
        assert len(proxy.lost) == 3  # the three were really lost on the way
        records = decisions(server)
        assert [r["exec_id"] for r in records] == [f.exec_id for f in fills]
        assert [r["verdict"] for r in records] == ["stands"] * 6 + ["erroneous"] * 6
        # Each judged against the sale before the sweep (100.00), as without the gap.
        assert {r["reference_price"] for r in records} == {"100.00"}
        (journaled,) = journal_rows(server, "SELECT COUNT(*) FROM fills")[0]
        assert journaled == 12  # nothing came twice
        assert server.metric("ceguard_duplicate_fills_total") == 0
        wait_for(lambda: len(busts_for(engine.peer, session, "LEVX44")) == 6,
                 what="the sweep's busts")
        log = (tmp_path / "fixlog" / "FIX.4.4-CEGUARD-MATCHING1.event.current.log").read_text()
        assert "Sent ResendRequest" in log
    finally:
        engine.stop()
        proxy.close()
        server.stop()


def test_a_bust_quickfix_already_stored_is_not_sent_again_after_a_crash(tmp_path):
    server = start_server(tmp_path)
    engine = matching_engine(server, tmp_path / "venue-peer", versions=("FIX.4.4",))
    session = "FIX.4.4:MATCHING1->CEGUARD"
    firm_peers = None
    try:
        assert engine.wait_logon()
        send(engine, "FIX.4.4", sides("REC-1", "FAT", "66.00", order="REC-O"))
        wait_for(lambda: len(busts_for(engine.peer, session, "FAT")) == 2, what="venue busts")
        wait_for(lambda: server.metric("ceguard_busts_sent_total", recipient="firm",
                                       result="queued") == 2, what="two queued firm busts")
        engine.stop()
        server.stop()
        # The state a crash between sendToTarget and the journal's status update leaves:
        # the journal says pending, QuickFIX's store holds the bust.
        with sqlite3.connect(server.journal) as db:
            db.execute("UPDATE busts SET status = 'pending'")
        server.start()
        serving = server.events("serving")[-1]
        assert (serving["busts_resent"], serving["busts_found_handed_over"]) == (0, 4)

        engine = matching_engine(server, tmp_path / "venue-peer", versions=("FIX.4.4",))
        firm_peers = firms(server, tmp_path / "firm-peers")
        assert engine.wait_logon() and firm_peers.wait_logon()
        wait_for(lambda: len(firm_peers.peer.messages()) == 2, what="the firms' busts")
        engine.stop()
        firm_peers.stop()
        server.stop()  # nothing more can arrive: count
        assert busts_for(engine.peer, session, "FAT") == []  # received before, not again
        assert sorted(fields(raw)[19] for raw in firm_peers.peer.messages()) == [
            "A-REC-1", "P-REC-1"]
        rows = journal_rows(server, "SELECT status, detail FROM busts")
        assert {status for status, _ in rows} == {"sent"}
        assert all("found in its store" in detail for _, detail in rows)
    finally:
        engine.stop()
        if firm_peers:
            firm_peers.stop()
        server.stop()
