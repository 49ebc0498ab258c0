"""Faults (issue 4), each against its own `ceguard serve` over loopback: the journal's
disk filling up, a firm offline across an engine restart, a sequence gap from the
matching engine. The crash test (SIGKILL mid-stream) is in test_live_crash.py.

Every test stops its initiators before the next starts: QuickFIX's session registry is
process-wide and the tests re-use session ids.
"""

from __future__ import annotations

import errno
import json
import subprocess
from contextlib import contextmanager
from pathlib import Path

import quickfix as fix

from engine.sim.live import Peer
from tests.live import SESSIONS, busts_for, fields, firms, journal_rows, matching_engine, \
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
