"""Checkpoints the journal's WAL from a thread of its own, mostly off the path of a fill.

SQLite's automatic checkpoint runs inside the COMMIT that takes the WAL past its limit
(1000 pages by default): that batch of fills waits while the WAL is copied into the
database file and both are fsynced (under synchronous=normal, the only fsyncs there are;
measured, they were half of the journal's time and its p99). `ceguard serve` raises that
limit to BACKSTOP_PAGES and runs a PASSIVE checkpoint here every INTERVAL_SECONDS: it
copies what the writer has committed without blocking it (sqlite releases the GIL
meanwhile).

The WAL starts over only when a transaction begins with every frame copied, which under
steady load never happens: the writer commits while a checkpoint runs (its fsync takes
3-5 ms). Left alone, the WAL grew to the backstop every second at 5,000 fills/s, and the
COMMIT that ran the writer's own checkpoint took 5-9 ms, holding back the busts behind
it. So once the WAL holds RESTART_PAGES and a passive checkpoint has copied all it saw,
another runs holding the journal's lock: it copies the few frames committed meanwhile
(the writer waits 3-11 ms, mostly for two fsyncs), and the writer's next transaction
starts the WAL over.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

INTERVAL_SECONDS = 0.1
RESTART_PAGES = 20_000  # ~80 MB of WAL at 4 KB pages: ~2 s at 5,000 fills/s
BACKSTOP_PAGES = 50_000  # the writer's own checkpoint, should the restart not happen


class Checkpointer:
    def __init__(self, path: Path, synchronous: str, journal_lock: threading.Lock, log,
                 interval: float = INTERVAL_SECONDS,
                 restart_pages: int = RESTART_PAGES) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        # A checkpoint's fsyncs follow the setting of the connection that runs it.
        self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
        self._journal_lock = journal_lock  # the writer commits under it
        self._interval = interval
        self._restart_pages = restart_pages
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
                self._checkpoint()
                failing = False
            except sqlite3.Error as exc:
                # Not fatal: the writer's backstop checkpoint still bounds the WAL.
                if not failing:
                    self._log.error("journal_checkpoint_failed", error=str(exc))
                failing = True

    def _checkpoint(self) -> None:
        _, frames, copied = self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        # copied < frames: a reader holds an older snapshot; the restart would not happen.
        if frames >= self._restart_pages and copied == frames:
            with self._journal_lock:
                self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
