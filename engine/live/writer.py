"""The journal writer's side of the live path: the batch it commits, and its thread.

The intake thread (or fromApp) judges a fill and appends it to the pending Batch; the
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

import numpy as np

# Fills per batch at most: the intake thread waits while this many wait for the disk (and
# then QuickFIX, once as many are queued: it stops reading, the socket pushes back), so
# memory and one transaction's size stay bounded.
MAX_BATCH = 1000
# How long the first fill of a batch may wait for others before the batch is committed.
# Without it a fast journal (synchronous=normal) committed batches of a few fills: each
# transaction's fixed cost (statements, WAL frames, wake-ups, GIL hand-overs between the
# writer and QuickFIX's thread) then halved the throughput. It adds at most this much to
# a batch's latency; a batch holding an erroneous decision (a bust to send) does not wait.
LINGER_SECONDS = 0.0005
# Fills that make a batch worth committing at once, lingering or not.
FULL_ENOUGH = 200


@dataclass
class Batch:
    opened: float = 0.0  # time.monotonic() when its first fill came
    # Journal rows of the fills: (seq, microseconds since the epoch at arrival, session, raw)
    fills: list[tuple[int, int, str, bytes]] = field(default_factory=list)
    received: list[float] = field(default_factory=list)  # perf_counter at each fill's arrival
    last: dict[str, tuple[int, int]] = field(default_factory=dict)  # session: (MsgSeqNum, seq)
    duplicates: list[tuple[int, str]] = field(default_factory=list)  # repeated ExecIDs dropped
    # Decision rows (kernel rows, copied), and for each row the (raw, session, perf_counter
    # at arrival) of the fill it belongs to (it may be an earlier batch's)
    row_blocks: list[np.ndarray] = field(default_factory=list)
    row_fills: list[tuple[bytes, str, float]] = field(default_factory=list)
    closes: list[int] = field(default_factory=list)  # settle window closed after these fills
    urgent: bool = False  # holds an erroneous decision: committed without lingering
    pending: int = 0  # candidates the core held when the batch was taken

    def __bool__(self) -> bool:
        return bool(self.fills or self.row_blocks or self.closes)


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
    """Runs `write` once `has_work` says there is work and `wait` that it need not wait
    any longer (seconds still to wait; 0 to write now); on stop, once more until nothing
    is left, without waiting."""

    def __init__(self, condition: threading.Condition, has_work: Callable[[], bool],
                 wait: Callable[[], float], write: Callable[[], None], log) -> None:
        self._condition = condition  # over the engine's intake lock
        self._has_work = has_work
        self._wait = wait
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
                while not self._stopping and (wait := self._wait()) > 0:
                    self._condition.wait(wait)
            try:
                self._write()
            except Exception:
                # Journal errors are handled inside `write` (the engine halts); anything
                # else is a bug: logged, and the thread goes on rather than die silently.
                self._log.exception("journal_writer_failed")
                time.sleep(0.1)
