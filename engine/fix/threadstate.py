"""Keep a Python thread state on QuickFIX's threads between callbacks.

QuickFIX calls the Application from threads of its own. For each callback SWIG's
director takes the GIL with PyGILState_Ensure and gives it back with PyGILState_Release;
on a thread Python does not know, that creates a thread state and deletes it again each
time, and the deletion unmaps the state's frame stack: a munmap whose TLB shoot-down
interrupts the other core (where the journal writer runs). Measured with perf on the
live benchmark: about 8% of the process's CPU. One extra PyGILState_Ensure, never
released, on a thread's first fill keeps its state alive, so later callbacks only take
and give back the GIL.

The cost: each QuickFIX thread that delivered a fill keeps its thread state (a few
tens of KB) after the thread ends, until the process exits. The threaded acceptor runs
one thread per connection, and only a logged-on session delivers fills, so this grows
with reconnections of known counterparties, not with connection attempts.
"""

from __future__ import annotations

import ctypes
import threading

_ensure = ctypes.pythonapi.PyGILState_Ensure
_ensure.restype = ctypes.c_int
_ensure.argtypes = []


class ThreadStates:
    """pin(): keep the calling thread's Python thread state (once per thread)."""

    def __init__(self) -> None:
        self._pinned: set[int] = set()

    def pin(self) -> None:
        ident = threading.get_ident()
        if ident in self._pinned:
            return
        _ensure()  # the GIL is held: this only counts one more user of the state
        self._pinned.add(ident)

    def __len__(self) -> int:
        return len(self._pinned)
