"""Every line on `ceguard serve`'s stdout is JSON, whoever writes it.

QuickFIX's TLS code prints certificate verification lines with C's printf: plain text on
file descriptor 1, between the JSON log lines. ForeignOutput points descriptor 1 at a
pipe and hands ceguard's own log a stream on the original stdout; a thread reads the
pipe and logs each line it carries as a `foreign_output` event (Python's sys.stdout
writes to descriptor 1 too: a library's print is wrapped the same way). C's stdout is
made line buffered, so that a line reaches the log when printed, not when a 4 KB buffer
fills.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from typing import TextIO

_IOLBF = 1  # glibc's setvbuf mode: line buffered


class ForeignOutput:
    """Captures what is written to descriptor 1 by others than ceguard's log."""

    def __init__(self) -> None:
        sys.stdout.flush()
        self._saved = os.dup(1)
        self.stream: TextIO = os.fdopen(os.dup(self._saved), "w", buffering=1,
                                        encoding="utf-8")
        read_end, write_end = os.pipe()
        os.dup2(write_end, 1)
        os.close(write_end)
        self._libc = _libc()
        if self._libc is not None:
            try:
                c_stdout = ctypes.c_void_p.in_dll(self._libc, "stdout")
                self._libc.setvbuf(c_stdout, None, _IOLBF, 0)
            except (AttributeError, ValueError):
                pass  # not glibc: lines arrive when C flushes them (at the latest, at stop)
        self._reader = threading.Thread(target=self._read, args=(read_end,),
                                        name="foreign-stdout", daemon=True)
        self._log = None

    def start(self, log) -> None:
        """Log what arrives on the pipe with `log` (ceguard's logger, on `stream`)."""
        self._log = log
        self._reader.start()

    def close(self) -> None:
        """Flush C's buffers, put the original stdout back, and log the last lines."""
        sys.stdout.flush()
        if self._libc is not None:
            self._libc.fflush(None)
        os.dup2(self._saved, 1)  # the pipe's last write end closes: the reader sees its end
        os.close(self._saved)
        if self._reader.is_alive():
            self._reader.join(timeout=5)

    def _read(self, read_end: int) -> None:
        log = self._log
        with os.fdopen(read_end, "rb") as pipe:
            for line in pipe:
                text = line.decode("utf-8", "replace").rstrip("\r\n")
                if text:
                    log.info("foreign_output", text=text)


def _libc():
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None
