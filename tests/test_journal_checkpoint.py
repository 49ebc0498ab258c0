"""The journal's checkpoint thread (serve's) copies committed fills into the database file."""

import shutil
import sqlite3
import threading
import time

from engine.journal.checkpoint import BACKSTOP_PAGES, Checkpointer
from engine.journal.store import Journal
from tests.live import wait_for


class Log:
    def __init__(self) -> None:
        self.errors: list[tuple] = []

    def error(self, event: str, **fields) -> None:
        self.errors.append((event, fields))


def fills_in_database_file(path, tmp_path) -> int:
    """Fills readable from the database file alone, without its WAL."""
    copy = tmp_path / "copy.sqlite"
    shutil.copyfile(path, copy)
    with sqlite3.connect(copy) as db:
        return db.execute("SELECT COUNT(*) FROM fills").fetchone()[0]


def test_the_checkpointer_copies_the_wal_while_the_writer_does_not(tmp_path):
    path = tmp_path / "journal.sqlite"
    journal = Journal(path, "normal", BACKSTOP_PAGES)
    for seq in range(1, 301):
        journal.begin()
        journal.add_fills([(seq, 1_768_487_400_000_000, "FIX.4.4:CEGUARD->MATCHING1",
                            b"x" * 300)], {"FIX.4.4:CEGUARD->MATCHING1": (seq, seq)})
        journal.commit()
    assert path.stat().st_size <= 4096  # its first page only: the fills are all in the WAL

    log = Log()
    checkpointer = Checkpointer(path, "normal", threading.Lock(), log, interval=0.01)
    checkpointer.start()
    try:
        wait_for(lambda: path.stat().st_size > 300 * 300, what="the checkpoint")
    finally:
        checkpointer.stop()
    assert fills_in_database_file(path, tmp_path) == 300
    assert log.errors == []
    journal.close()


def test_the_wal_starts_over_although_the_writer_never_stops(tmp_path):
    """A writer that commits all the time, as the live engine under load: the WAL would
    grow until the writer's own checkpoint (disabled here); the checkpointer lets it
    start over instead, so its file stays the size of a few restarts' worth."""
    path = tmp_path / "journal.sqlite"
    journal = Journal(path, "normal", autocheckpoint_pages=0)  # 0: SQLite's never runs
    journal_lock = threading.Lock()
    session = "FIX.4.4:CEGUARD->MATCHING1"
    log = Log()
    checkpointer = Checkpointer(path, "normal", journal_lock, log, interval=0.01,
                                restart_pages=200)
    checkpointer.start()
    commits = 5000
    try:
        for seq in range(1, commits + 1):
            with journal_lock:
                journal.begin()
                journal.add_fills([(seq, 1_768_487_400_000_000, session, b"x" * 1500)],
                                  {session: (seq, seq)})
                journal.commit()
            time.sleep(0.0001)  # the engine's writer, too, lets go of the lock between batches
    finally:
        checkpointer.stop()
    wal_pages = (tmp_path / "journal.sqlite-wal").stat().st_size // 4096
    # Each commit wrote a page of fills at least: 5,000 pages had the WAL never restarted.
    assert wal_pages < 2000
    assert fills_in_database_file(path, tmp_path) > commits // 2  # checkpointed as it went
    assert log.errors == []
    journal.close()
