"""Liveness and readiness of `ceguard serve`, answered at /livez and /readyz.

Ready means a fill that arrives now is judged at once: the kernels are loaded (no
compile waits for it), the journal takes writes, and the acceptor listens. Live means
the process is not wedged: its main loop has run lately (or it is still starting).
Each answer is a short JSON body that says what is not ready or not live.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

KERNELS = "kernels"
JOURNAL = "journal"
ACCEPTOR = "acceptor"
# The main loop runs every 50 ms; this long without a run is a wedged process.
STALL_SECONDS = 10.0


class Health:
    """The state of each readiness condition: None when met, else why not."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._problems: dict[str, str | None] = {
            KERNELS: "not loaded yet", JOURNAL: "not opened yet",
            ACCEPTOR: "not listening yet"}
        self._probes: dict[str, Callable[[], str | None]] = {}
        self._beat: float | None = None  # monotonic time of the main loop's last run

    def mark(self, condition: str, problem: str | None) -> None:
        """Set a condition: None when met, else a short reason."""
        with self._lock:
            self._probes.pop(condition, None)
            self._problems[condition] = problem

    def watch(self, condition: str, probe: Callable[[], str | None]) -> None:
        """Ask `probe` at every readiness check (it must be cheap and never raise)."""
        with self._lock:
            self._probes[condition] = probe

    def beat(self) -> None:
        """The main loop ran."""
        self._beat = time.monotonic()

    def readiness(self) -> tuple[bool, dict[str, object]]:
        with self._lock:
            problems = dict(self._problems)
            probes = dict(self._probes)
        for condition, probe in probes.items():
            problems[condition] = probe()
        not_ready = {c: p for c, p in problems.items() if p is not None}
        return not not_ready, {"ready": not not_ready, "not_ready": not_ready}

    def liveness(self) -> tuple[bool, dict[str, object]]:
        beat = self._beat
        if beat is None:
            return True, {"live": True, "detail": "starting"}
        stalled = time.monotonic() - beat
        if stalled > STALL_SECONDS:
            return False, {"live": False,
                           "detail": f"the main loop has not run for {stalled:.0f} s"}
        return True, {"live": True}
