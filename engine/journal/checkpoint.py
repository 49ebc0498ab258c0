"""Checkpoints the journal's WAL from a thread of its own, mostly off the path of a fill.

SQLite's automatic checkpoint runs inside the COMMIT that takes the WAL past its limit
(1000 pages by default): that batch of fills waits while the WAL is copied into the
database file and both are fsynced (under synchronous=normal, the only fsyncs there are;
measured, they were half of the journal's time and its p99). `ceguard serve` raises that limit to
BACKSTOP_PAGES and runs a PASSIVE checkpoint here every INTERVAL_SECONDS: it copies
what the writer has committed without blocking it (sqlite releases the GIL meanwhile).
Under sustained load a passive checkpoint never quite catches up with the writer, so the
WAL only starts over when the writer's own checkpoint runs at the backstop; by then most
frames are copied, and it happens ten times less often.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

INTERVAL_SECONDS = 0.1
BACKSTOP_PAGES = 10_000  # the writer's own checkpoint: ~40 MB of WAL at 4 KB pages


class Checkpointer:
    def __init__(self, path: Path, synchronous: str, log,
                 interval: float = INTERVAL_SECONDS) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        # A checkpoint's fsyncs follow the setting of the connection that runs it.
        self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
        self._interval = interval
        self._log = log
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="journal-checkpoint",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._db.close()

    def _run(self) -> None:
        failing = False
        while not self._stop.wait(self._interval):
            try:
                self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                failing = False
            except sqlite3.Error as exc:
                # Not fatal: the writer's backstop checkpoint still bounds the WAL.
                if not failing:
                    self._log.error("journal_checkpoint_failed", error=str(exc))
                failing = True
