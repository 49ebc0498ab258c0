"""The fills QuickFIX queues without Python: the ctypes side of quickfix patch item 8.

ceguard's patched QuickFIX offers each message to its intake before the Python fromApp:
an ExecutionReport of a registered drop-copy session is copied, with the session's
index, its MsgSeqNum and its arrival times, into a bounded queue in C++, and fromApp
returns without taking the GIL (deploy/quickfix/patch_quickfix.py, item 8). While the
queue is closed every message goes to the Python fromApp, as in stock QuickFIX. The
engine's journal writer waits for fills here and takes them a batch at a time; other
threads wake it here when they leave it work.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

import numpy as np
import quickfix as fix

from engine.fix.session_names import session_address

# Columns of each fill taken (the C++ side's order).
SESSION, MSG_SEQ_NUM, WALL_MICROS, MONOTONIC_NANOS, OFFSET, LENGTH = range(6)
_COLUMNS = 6
_TEXT_BYTES = 1 << 20  # room for the texts of one take; grows for a longer fill


@dataclass
class Taken:
    """Fills taken, in arrival order: their texts one after the other, and per fill the
    columns above (OFFSET and LENGTH locate its text)."""
    text: bytes
    columns: np.ndarray

    def __len__(self) -> int:
        return len(self.columns)


class FillQueue:
    """The patched QuickFIX's intake queue; one per process (it is QuickFIX's)."""

    def __init__(self, max_take: int) -> None:
        try:
            library = ctypes.CDLL(fix._quickfix.__file__)
            self._register = library.ceguard_intake_register
            self._open = library.ceguard_intake_open
            self._close = library.ceguard_intake_close
            self._reset = library.ceguard_intake_reset
            self._wait = library.ceguard_intake_wait
            self._wake = library.ceguard_intake_wake
            self._take = library.ceguard_intake_take
        except AttributeError:
            raise RuntimeError("the installed quickfix lacks ceguard's patch item 8 "
                               "(deploy/quickfix/patch_quickfix.py): rebuild it as the "
                               "Makefile does (make clean test)") from None
        self._register.argtypes = [ctypes.c_void_p, ctypes.c_int64]
        self._open.argtypes = [ctypes.c_int64]
        self._wait.argtypes = [ctypes.c_int64]
        self._wait.restype = ctypes.c_int64
        self._take.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p,
                               ctypes.c_int64]
        self._take.restype = ctypes.c_int64
        self._text = np.empty(_TEXT_BYTES, np.uint8)
        self._columns = np.empty((max_take, _COLUMNS), np.int64)
        self._reset()  # a queue left over by an earlier engine in this process

    def register(self, sessions: list[fix.SessionID]) -> None:
        """Drop-copy sessions of a built acceptor, numbered by their place in the list.

        The queue knows a session by the address of the SessionID QuickFIX passes to
        fromApp (engine/fix/session_names.py). Call while the queue is closed."""
        for index, sid in enumerate(sessions):
            address = session_address(sid)
            if address is not None:
                self._register(address, index)

    def open(self, capacity: int) -> None:
        """Queue fills from now on, at most `capacity` waiting (fromApp then waits)."""
        self._open(capacity)

    def close(self) -> None:
        """Every fill goes to the Python fromApp from now on; those queued stay to be
        taken. A fromApp waiting for room goes to Python too."""
        self._close()

    def reset(self) -> None:
        """Closed, no sessions, nothing queued."""
        self._reset()

    def wait(self, timeout_seconds: float) -> int:
        """Fills queued, once there is one, or wake() was called (before or meanwhile), or
        after the timeout (the GIL is released)."""
        return self._wait(int(timeout_seconds * 1e6))

    def wake(self) -> None:
        """Ends the current or the next wait()."""
        self._wake()

    def take(self, most: int) -> Taken:
        """The fills queued, oldest first: at most `most` (and max_take); none when none
        wait."""
        most = min(most, len(self._columns))
        while True:
            n = self._take(self._text.ctypes.data, len(self._text), self._columns.ctypes.data,
                           most)
            if n >= 0:
                break
            self._text = np.empty(max(-n, 2 * len(self._text)), np.uint8)  # a long fill
        columns = self._columns[:n].copy()
        used = int(columns[-1, OFFSET] + columns[-1, LENGTH]) if n else 0
        return Taken(self._text[:used].tobytes(), columns)
