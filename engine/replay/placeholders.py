"""Delimiter placeholders of logs pasted from tickets and docs, turned into SOH for the decoder.

A FIX message's delimiter is what follows its BeginString value (`8=FIX.4.4`): SOH or
`|` (the decoder reads both), or one of the placeholders below, in which case every
occurrence of it up to the end of that message's line (or the next `8=FIX`) becomes
SOH. The choice is made per message: a `^A` in the Text (58) of an SOH-delimited
message stays text, and one line's placeholder never changes how another line is read.

Placeholders: `^A` (`cat -v`, `less`), `<SOH>`, `\\u0001` (JSON dumps) and spaced pipes
` | ` (a trailing ` |` at the end of a line too).
"""

from __future__ import annotations

import numpy as np

from engine.fix.decoder import NEWLINE, SOH, _is_fix_start
from engine.jit import kernel

# Byte strings whose presence in a block means it may need normalize(); a superset
# check, so a block without any of them is decoded as it is, without a copy.
PLACEHOLDERS = (b"^A", b"<SOH>", b"\\u0001", b" |")
_CARET, _ANGLE, _ESCAPED, _SPACED = 1, 2, 3, 4  # modes; 0: no placeholder
_CARET_A = np.frombuffer(b"^A", np.uint8).copy()
_ANGLE_SOH = np.frombuffer(b"<SOH>", np.uint8).copy()
_ESCAPED_SOH = np.frombuffer(b"\\u0001", np.uint8).copy()
_SPACED_PIPE = np.frombuffer(b" | ", np.uint8).copy()


def has_placeholders(data, start: int = 0, end: int | None = None) -> bool:
    """Whether data[start:end] (bytes or mmap) holds any byte string of PLACEHOLDERS."""
    end = len(data) if end is None else end
    return any(data.find(marker, start, end) >= 0 for marker in PLACEHOLDERS)


@kernel
def _matches(buf, i, n, text):
    if i + text.shape[0] > n:
        return False
    for k in range(text.shape[0]):
        if buf[i + k] != text[k]:
            return False
    return True


@kernel
def _mode_at(buf, i, n):
    """Which placeholder (if any) begins at buf[i], right after a BeginString value."""
    if _matches(buf, i, n, _CARET_A):
        return _CARET
    if _matches(buf, i, n, _ANGLE_SOH):
        return _ANGLE
    if _matches(buf, i, n, _ESCAPED_SOH):
        return _ESCAPED
    if _placeholder_length(buf, i, n, _SPACED) > 0:
        return _SPACED
    return 0


@kernel
def _placeholder_length(buf, i, n, mode):
    """Length of the mode's placeholder at buf[i], 0 if none is there."""
    if mode == _CARET:
        return 2 if _matches(buf, i, n, _CARET_A) else 0
    if mode == _ANGLE:
        return 5 if _matches(buf, i, n, _ANGLE_SOH) else 0
    if mode == _ESCAPED:
        return 6 if _matches(buf, i, n, _ESCAPED_SOH) else 0
    if _matches(buf, i, n, _SPACED_PIPE):
        return 3
    if i + 1 < n and buf[i] == 32 and buf[i + 1] == 124 \
            and (i + 2 == n or buf[i + 2] == NEWLINE or buf[i + 2] == 13):
        return 2  # " |" ending the line
    return 0


@kernel
def normalize(src, dst):
    """src with each message's placeholder delimiters replaced by SOH, into dst (at least
    as long as src); returns the length written."""
    n = src.shape[0]
    i = 0
    w = 0
    mode = 0
    while i < n:
        c = src[i]
        if c == NEWLINE:
            mode = 0
        elif c == 56 and _is_fix_start(src, i, n):  # "8=FIX": read its BeginString
            j = i + 2
            while j < n and (48 <= src[j] <= 57 or 65 <= src[j] <= 90 or src[j] == 46):
                j += 1
            mode = _mode_at(src, j, n)
            for k in range(i, j):
                dst[w] = src[k]
                w += 1
            i = j
            continue
        elif mode != 0:
            skip = _placeholder_length(src, i, n, mode)
            if skip > 0:
                dst[w] = SOH
                w += 1
                i += skip
                continue
        dst[w] = c
        w += 1
        i += 1
    return w


def normalized(data: bytes) -> bytes:
    """data with placeholder delimiters as SOH (see the module's docstring)."""
    src = np.frombuffer(data, np.uint8)
    dst = np.empty(len(data), np.uint8)
    return dst[:normalize(src, dst)].tobytes()


def safe_cut(data: bytes) -> int:
    """Where data can be cut so that normalize() reads both parts as it reads the whole:
    after its last newline, else at its last "8=FIX", else nowhere (0)."""
    newline = data.rfind(b"\n")
    if newline >= 0:
        return newline + 1
    return max(data.rfind(b"8=FIX"), 0)
