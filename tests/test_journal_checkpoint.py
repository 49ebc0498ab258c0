"""The journal's checkpoint thread (serve's) copies committed fills into the database file."""

import shutil
import sqlite3

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
    checkpointer = Checkpointer(path, "normal", log, interval=0.01)
    checkpointer.start()
    try:
        wait_for(lambda: path.stat().st_size > 300 * 300, what="the checkpoint")
    finally:
        checkpointer.stop()
    assert fills_in_database_file(path, tmp_path) == 300
    assert log.errors == []
    journal.close()
