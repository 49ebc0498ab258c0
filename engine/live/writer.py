"""The journal writer's side of the live path: the batch it commits, and its thread.

fromApp (QuickFIX's thread) judges a fill and appends it to the pending Batch; the
writer thread takes the whole batch and commits it in one transaction, then sends its
busts (engine/live/engine.py). Whatever arrives while a commit runs forms the next
batch: one fill at a time at low rates, many under load (group commit).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

# Fills per batch at most: fromApp waits (QuickFIX stops reading, the socket pushes back)
# while this many wait for the disk, so memory and one transaction's size stay bounded.
MAX_BATCH = 1000


@dataclass
class Batch:
    # (seq, time.time() at arrival, session, raw, MsgSeqNum, perf_counter at arrival,
    #  whether the core dropped it as a repeated ExecID)
    fills: list[tuple[int, float, str, bytes, int, float, bool]] = field(default_factory=list)
    # (kernel row as Python ints, raw of its fill, session of its fill, its arrival)
    rows: list[tuple[list[int], bytes, str, float]] = field(default_factory=list)
    closes: list[int] = field(default_factory=list)  # settle window closed after these fills
    pending: int = 0  # candidates the core held when the batch was taken

    def __bool__(self) -> bool:
        return bool(self.fills or self.rows or self.closes)


class UtcClock:
    """time.time() as ISO 8601 UTC with microseconds, as datetime.isoformat writes it;
    the date and time of day are formatted once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def iso(self, wall: float) -> str:
        second = int(wall)
        micros = round((wall - second) * 1e6)
        if micros == 1_000_000:
            second, micros = second + 1, 0
        if second != self._second:
            self._second = second
            self._prefix = datetime.fromtimestamp(second, timezone.utc).strftime(
                "%Y-%m-%dT%H:%M:%S")
        return f"{self._prefix}.{micros:06d}+00:00"

    def now(self) -> str:
        return self.iso(time.time())


class WriterThread:
    """Runs `write` whenever `has_work` says so; on stop, once more until nothing is left."""

    def __init__(self, condition: threading.Condition, has_work: Callable[[], bool],
                 write: Callable[[], None], log) -> None:
        self._condition = condition  # over the engine's intake lock
        self._has_work = has_work
        self._write = write
        self._log = log
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="journal-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Call holding the condition's lock."""
        self._condition.notify()

    def stop(self) -> None:
        """Commit what is pending, then end the thread."""
        with self._condition:
            self._stopping = True
            self._condition.notify()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._stopping and not self._has_work():
                    self._condition.wait()
                if self._stopping and not self._has_work():
                    return
            try:
                self._write()
            except Exception:
                # Journal errors are handled inside `write` (the engine halts); anything
                # else is a bug: logged, and the thread goes on rather than die silently.
                self._log.exception("journal_writer_failed")
                time.sleep(0.1)
