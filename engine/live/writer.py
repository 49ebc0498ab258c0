"""The journal writer's side of the live path: the batch it commits, and its thread.

The writer thread takes the fills QuickFIX queued (engine/fix/intake.py), judges them
into the pending Batch, and commits the batch in one transaction, then sends its busts
(engine/live/engine.py). Whatever QuickFIX queues while a commit runs forms the next
batch: one fill at a time at low rates, many under load (group commit). One thread
does both: Python runs one thread at a time anyway, and a fill handed from an intake
thread to the writer waited for that thread to wake and for the GIL at every hand-over.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np

from engine.fix.intake import FillQueue

# Fills per batch at most, and queued in QuickFIX at most: while this many wait for the
# disk, QuickFIX waits (it stops reading, the socket pushes back), so memory and one
# transaction's size stay bounded.
MAX_BATCH = 1000
# How long the first fill of a batch (or the first bust status) may wait for others
# before the batch is committed. Each transaction has a fixed cost (statements, WAL
# frames, ~0.3 ms of Python at 5,000 fills/s); committed a few fills at a time, it kept
# the writer busy most of the time, and a bust found it busy. A fill that stands waits
# for nobody: only the check-latency metric sees the linger. A batch holding an erroneous
# decision (a bust to send) does not wait.
LINGER_SECONDS = 0.002
# Fills that make a batch worth committing at once, lingering or not.
FULL_ENOUGH = 200
# How long the writer waits when there is nothing to write: how soon it sees a stop it
# was not woken for.
IDLE_SECONDS = 0.05


@dataclass
class Batch:
    opened: float = 0.0  # time.monotonic() when its first fill came
    # Journal rows of the fills: (seq, microseconds since the epoch at arrival, session, raw)
    fills: list[tuple[int, int, str, bytes]] = field(default_factory=list)
    received: list[float] = field(default_factory=list)  # perf_counter at each fill's arrival
    last: dict[str, tuple[int, int]] = field(default_factory=dict)  # session: (MsgSeqNum, seq)
    duplicates: list[tuple[int, str]] = field(default_factory=list)  # repeated ExecIDs dropped
    legacy_fills: list[tuple[int, str]] = field(default_factory=list)  # 150=1/2 on 4.3+, unjudged
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
    """Takes QuickFIX's queued fills with `take` and runs `write` once `has_work` says
    there is work and `wait` that it need not wait any longer (seconds still to wait; 0
    to write now); on stop, once more until nothing is left, without waiting.

    It waits on QuickFIX's queue (the GIL released) once given one (take_from), so that
    a fill ends the wait at once; otherwise on `condition`. wake() ends either."""

    def __init__(self, condition: threading.Condition, has_work: Callable[[], bool],
                 wait: Callable[[], float], write: Callable[[], None], log) -> None:
        self._condition = condition  # over the engine's intake lock
        self._has_work = has_work
        self._wait = wait
        self._write = write
        self._log = log
        self._queue: FillQueue | None = None
        self._take: Callable[[], int] = lambda: 0
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="journal-writer", daemon=True)

    def take_from(self, queue: FillQueue, take: Callable[[], int]) -> None:
        """Before start: wait on `queue`, and judge what it holds with `take`."""
        self._queue = queue
        self._take = take

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Call holding the condition's lock."""
        if threading.get_ident() == self._thread.ident:
            return  # the writer itself: it looks at the batch before it waits again
        self._condition.notify()
        if self._queue is not None:
            self._queue.wake()

    def stop(self) -> None:
        """Commit what is pending, then end the thread."""
        with self._condition:
            self._stopping = True
            self.wake()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while True:
            self._guarded(self._take)
            with self._condition:
                if self._stopping:
                    break
                wait = self._wait() if self._has_work() else IDLE_SECONDS
                if wait > 0 and self._queue is None:
                    self._condition.wait(wait)
                    continue
            if wait > 0:
                self._queue.wait(wait)  # ends early when a fill comes or wake() is called
                continue
            self._guarded(self._write)
        while True:  # stopping: what is queued and pending, without waiting
            self._guarded(self._take)
            with self._condition:
                if not self._has_work():
                    return
            self._guarded(self._write)

    def _guarded(self, work: Callable[[], object]) -> None:
        try:
            work()
        except Exception:
            # Journal errors are handled inside `write` (the engine halts), and each fill's
            # inside `take`; anything else is a bug: logged, and the thread goes on rather
            # than die silently.
            self._log.exception("journal_writer_failed")
            time.sleep(0.1)
