"""The intake thread: hands the fills QuickFIX queued (engine/fix/intake.py) to the engine.

QuickFIX's threads queue the fills without Python; this thread waits for them with the
GIL released and gives each batch to the engine, which judges them in arrival order into
the journal writer's pending batch (engine/live/engine.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from engine.fix.intake import FillQueue

# How long one wait for fills lasts: how soon the thread sees that it is to stop.
WAIT_SECONDS = 0.05


class IntakeThread:
    def __init__(self, queue: FillQueue, take: Callable[[], int], log) -> None:
        self._queue = queue
        self._take = take  # judges the queued fills (LiveEngine.take_queued)
        self._log = log
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fill-intake", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ends the thread; what is still queued is left to the caller."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                if self._queue.wait(WAIT_SECONDS):
                    self._take()
            except Exception:
                # take_queued guards each fill; anything else is a bug: logged, and the
                # thread goes on rather than die silently.
                self._log.exception("intake_failed")
                time.sleep(0.1)
