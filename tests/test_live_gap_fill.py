"""A matching engine that answers ceguard's ResendRequest with a gap fill over its fills
(issue 15, item 4), end to end: a real `ceguard serve` restarted, and a QuickFIX
initiator whose application refuses to resend (DoNotSend: QuickFIX then gap-fills over
the application messages, as one independent engine does by default).

A clean stop is not a false alarm: the next start does not ask again for the Logout
that followed the last fill (the journal marks how far each session was processed).
The venue logs out and stays away while ceguard is down: a QuickFIX initiator that
keeps trying to reconnect uses up a MsgSeqNum per attempt (its Logon is stored), and
those would be gap-filled and counted too ("possibly" lost: the residual, documented).
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from contextlib import closing

import quickfix as fix

from engine.sim.live import Peer, drop_copy
from live import journal_rows, matching_engine, send, sides, start_server, wait_for
from test_live_faults import fill_up, small_disk

SESSION = "FIX.4.4:CEGUARD->MATCHING1"
VENUE = "FIX.4.4:MATCHING1->CEGUARD"


class NoResends(Peer):
    """A matching engine with no resend store: every resent fill becomes a gap fill."""

    def toApp(self, message, session_id):
        header = message.getHeader()
        if header.isSetField(43) and header.getField(43) == "Y":
            raise fix.DoNotSend()


def venue_session(engine) -> fix.Session:
    return fix.Session.lookupSession(engine.session_ids[VENUE])


def stop_while_away(server, engine) -> None:
    """The venue logs out and stays disabled (no reconnect attempts); ceguard stops."""
    venue_session(engine).logout()
    wait_for(lambda: not engine.peer.logged_on(VENUE), what="the venue's logout")
    server.stop()


def start_and_return(server, engine) -> None:
    server.start()
    venue_session(engine).logon()
    assert engine.wait_logon()


def lost(server) -> float:
    return server.metric("ceguard_fills_possibly_lost_total", session=SESSION)


def test_a_gap_fill_over_requested_fills_is_counted_journaled_and_shown(tmp_path):
    server = start_server(tmp_path)
    engine = matching_engine(server, tmp_path / "venue", versions=("FIX.4.4",), peer=NoResends())
    try:
        assert engine.wait_logon()
        send(engine, "FIX.4.4", sides("GF-1", "FAT", "60.00", order="GF-O1"))
        wait_for(lambda: journal_rows(server, "SELECT COUNT(*) FROM fills")[0][0] == 2,
                 what="the first fills journaled")

        # A clean restart with nothing missed: no resend asked for, nothing counted.
        stop_while_away(server, engine)
        start_and_return(server, engine)
        send(engine, "FIX.4.4", sides("GF-2", "FAT", "60.10", order="GF-O2"))
        wait_for(lambda: journal_rows(server, "SELECT COUNT(*) FROM fills")[0][0] == 4,
                 what="the fills after the restart journaled")
        assert lost(server) == 0
        assert not server.events("seqnum_realigned")  # the journal had all it asked for
        assert not server.events("fills_possibly_lost")

        # Fills sent while ceguard is down are asked for at the next logon, and gap-filled.
        stop_while_away(server, engine)
        send(engine, "FIX.4.4", sides("GF-3", "FAT", "60.20", order="GF-O3"))  # stored
        start_and_return(server, engine)
        wait_for(lambda: lost(server) == 2, what="two fills counted as possibly lost")
        (event,) = server.events("fills_possibly_lost")
        assert event["possibly_lost"] == 2
        assert event["last_seq"] == event["first_seq"] + 2  # the two fills and the Logon
        rows = journal_rows(server, "SELECT session, first_seq, last_seq, possibly_lost "
                                    "FROM gap_fills")
        assert rows == [(SESSION, event["first_seq"], event["last_seq"], 2)]
        # The session goes on: later fills are judged.
        send(engine, "FIX.4.4", sides("GF-4", "FAT", "60.30", order="GF-O4"))
        wait_for(lambda: journal_rows(server, "SELECT COUNT(*) FROM decisions "
                                              "WHERE exec_id LIKE '%GF-4'")[0][0] == 2,
                 what="the next fills judged")
        assert journal_rows(server, "SELECT COUNT(*) FROM decisions WHERE exec_id LIKE "
                                    "'%GF-3'")[0][0] == 0
        text = subprocess.run([sys.executable, "-m", "engine", "journal", "--path",
                               str(server.journal)], capture_output=True, text=True,
                              check=True).stdout
        assert f"{SESSION}  MsgSeqNum {event['first_seq']}-{event['last_seq']}: " \
               "2 possibly lost" in text
    finally:
        engine.stop()
        server.stop()


def test_fills_refused_for_a_journal_failure_then_gap_filled_are_counted(tmp_path):
    """The issue's case: fills QuickFIX took but the journal did not (here a full disk),
    asked for again at the next logon (seqnum_realigned), and gap-filled by the venue."""
    with small_disk(tmp_path / "jdisk") as disk:
        server = start_server(tmp_path, journal_name="jdisk/journal.sqlite")
        engine = matching_engine(server, tmp_path / "venue", versions=("FIX.4.4",),
                                 peer=NoResends())
        try:
            assert engine.wait_logon()
            send(engine, "FIX.4.4", sides("JF-1", "FAT", "60.50", order="JF-O1"))
            wait_for(lambda: journal_rows(server, "SELECT COUNT(*) FROM decisions")[0][0] == 2,
                     what="the first decisions")
            with closing(sqlite3.connect(disk / "journal.sqlite")) as db:
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # see test_live_faults
            filler = fill_up(disk)
            refused = [drop_copy(one, "FIX.4.4") for one in
                       sides("JF-2", "FAT", "66.00", order="JF-O2") +
                       sides("JF-3", "FAT", "61.00", order="JF-O3")]
            for message in refused:
                assert engine.send(VENUE, message)
            numbers = [int(m.getHeader().getField(34)) for m in refused]
            wait_for(lambda: server.events("journal_failed"), what="the journal failure")
            filler.unlink()
            wait_for(lambda: server.events("journal_resumed"), what="the journal to resume")
            wait_for(lambda: lost(server) >= len(refused), timeout=30,
                     what="the gap-filled fills counted")
            assert server.events("seqnum_realigned")
            (event,) = server.events("fills_possibly_lost")
            assert event["first_seq"] <= min(numbers) and max(numbers) <= event["last_seq"]
            assert journal_rows(server, "SELECT COUNT(*) FROM decisions")[0][0] == 2
            (row,) = journal_rows(server, "SELECT first_seq, last_seq, possibly_lost "
                                          "FROM gap_fills")
            assert row == (event["first_seq"], event["last_seq"], event["possibly_lost"])
        finally:
            engine.stop()
            server.stop()
