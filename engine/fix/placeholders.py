"""Delimiter placeholders of logs pasted from tickets and docs, turned into SOH for the decoder.

A FIX message's delimiter is what follows its BeginString value (`8=FIX.4.4`): SOH or
`|` (the decoder reads both), or one of the placeholders below, in which case every
occurrence of it up to the end of that message's line (or the next `8=FIX`) becomes
SOH. The choice is made per message: a `^A` in the Text (58) of an SOH-delimited
message stays text, and one line's placeholder never changes how another line is read.

Placeholders: `^A` (`cat -v`, `less`), `<SOH>`, `\\u0001` (JSON dumps) and spaced pipes
` | ` (a trailing ` |` at the end of a line too).

Nothing scans for them ahead: the decoder, given STOP_AT_PLACEHOLDERS, stops at the first
message that has one (delimiter_mode), and replay rewrites the lines from there
(normalized) before decoding them.
"""

from __future__ import annotations

import numpy as np

from engine.jit import kernel

SOH = 1
NEWLINE = 10
_CARET, _ANGLE, _ESCAPED, _SPACED = 1, 2, 3, 4  # modes; 0: no placeholder
_CARET_A = np.frombuffer(b"^A", np.uint8).copy()
_ANGLE_SOH = np.frombuffer(b"<SOH>", np.uint8).copy()
_ESCAPED_SOH = np.frombuffer(b"\\u0001", np.uint8).copy()
_SPACED_PIPE = np.frombuffer(b" | ", np.uint8).copy()


@kernel
def _is_fix_start(buf, i, n):
    return (i + 4 < n and buf[i] == 56 and buf[i + 1] == 61 and buf[i + 2] == 70
            and buf[i + 3] == 73 and buf[i + 4] == 88)  # "8=FIX"


@kernel
def _begin_string_end(buf, msg, n):
    """Where the BeginString value of the message at buf[msg] ("8=FIX...") ends."""
    j = msg + 2
    while j < n and (48 <= buf[j] <= 57 or 65 <= buf[j] <= 90 or buf[j] == 46):
        j += 1
    return j


@kernel
def delimiter_mode(buf, msg, n):
    """The placeholder (a mode > 0) the message at buf[msg] is delimited by, else 0."""
    return _mode_at(buf, _begin_string_end(buf, msg, n), n)


@kernel
def placeholder_message_at(buf, pos, n):
    """Whether the first message on the line from buf[pos] is delimited by a placeholder."""
    i = pos
    while i < n and buf[i] != NEWLINE and not _is_fix_start(buf, i, n):
        i += 1
    return i < n and buf[i] != NEWLINE and delimiter_mode(buf, i, n) != 0


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
            j = _begin_string_end(src, i, n)
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


# What ends the field before a message that begins mid-line: a delimiter of any notation.
_FIELD_ENDS = (b"\x01", b"|", b"^A", b"<SOH>", b"\\u0001", b"| ")


def safe_cut(data, start: int = 0, end: int | None = None) -> int:
    """Where data[start:end] (bytes or mmap), which begins a unit, can be cut so that
    each part is whole units: after its last newline, else where its last message begins
    (an "8=FIX" after a delimiter, not in a value such as 108=FIX.4.4, and not the first:
    text before that is its prefix), else nowhere (`start`)."""
    end = len(data) if end is None else end
    newline = data.rfind(b"\n", start, end)
    if newline >= 0:
        return newline + 1
    first = data.find(b"8=FIX", start, end)
    at = data.rfind(b"8=FIX", first + 1, end) if first >= 0 else -1
    while at > first:
        if bytes(data[max(at - 6, start):at]).endswith(_FIELD_ENDS):
            return at
        at = data.rfind(b"8=FIX", first + 1, at)
    return start
