"""The decoder's word-at-a-time scans find what a byte-by-byte loop finds."""

import numpy as np
from hypothesis import given, settings, strategies as st

from engine.fix.decoder import _find, _message_start

# Bytes the scans look for, mixed with plain text so that hits land anywhere in a word.
BYTES = st.binary(max_size=40).map(lambda b: bytes(c % 8 for c in b)).map(
    lambda b: b.translate(bytes.maketrans(b"\x00\x02\x03\x04\x05\x06\x07",
                                          b"\x01|\n=8FX")))


def naive_find(data: bytes, i: int, n: int, targets: bytes) -> int:
    while i < n and data[i] not in targets:
        i += 1
    return i


def naive_message_start(data: bytes, p: int, n: int) -> int:
    while p < n and data[p] != 10 and not (p + 4 < n and data[p:p + 5] == b"8=FIX"):
        p += 1
    return p


# No deadline: the first example may compile (or load) the numba kernels.
@settings(deadline=None)
@given(BYTES, st.integers(0, 45), st.integers(0, 40))
def test_find_matches_a_byte_loop(data, start, end):
    buf = np.frombuffer(data, np.uint8)
    n = min(end, len(data))
    for targets in (b"\x01|\n", b"=\n\n", b"\x00\n\n"):
        assert _find(buf, start, n, *targets) == naive_find(data, start, n, targets)


@settings(deadline=None)
@given(BYTES.map(lambda b: b.replace(b"8F", b"8=FIX")), st.integers(0, 40))
def test_message_start_matches_a_byte_loop(data, start):
    buf = np.frombuffer(data, np.uint8)
    start = min(start, len(data))
    assert _message_start(buf, start, len(data)) == naive_message_start(data, start, len(data))
