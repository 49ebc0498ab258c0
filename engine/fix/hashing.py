"""128-bit keys for FIX identifiers (Symbol, OrderID, TrdMatchID, ExecID).

Two independent 64-bit FNV-1a style hashes of the bytes; tables compare both halves, so
a wrong match needs a 128-bit collision. (0, 0) never occurs and marks an empty slot.
"""

from __future__ import annotations

import numpy as np
from numba import njit, uint64

from engine.jit import inline_kernel

_SEED_A = uint64(0xCBF29CE484222325)
_SEED_B = uint64(0x84222325CBF29CE4)
_PRIME_A = uint64(0x100000001B3)
_PRIME_B = uint64(0x9E3779B97F4A7C15)


@njit(cache=True, inline="always")
def _finish(h):
    h ^= h >> uint64(33)
    h *= uint64(0xFF51AFD7ED558CCD)
    h ^= h >> uint64(33)
    return h


@inline_kernel
def hash_spans(buf, a_start, a_end, b_start, b_end):
    """Key of buf[a_start:a_end] followed by buf[b_start:b_end] (pass b_start == b_end for one span)."""
    ha = _SEED_A
    hb = _SEED_B
    for i in range(a_start, a_end):
        c = uint64(buf[uint64(i)])  # unsigned: no negative-index fix-up
        ha = (ha ^ c) * _PRIME_A
        hb = (hb ^ c) * _PRIME_B
    ha = (ha ^ uint64(0x1FF)) * _PRIME_A  # separator outside the byte range
    hb = (hb ^ uint64(0x1FF)) * _PRIME_B
    for i in range(b_start, b_end):
        c = uint64(buf[uint64(i)])
        ha = (ha ^ c) * _PRIME_A
        hb = (hb ^ c) * _PRIME_B
    return np.int64(_finish(ha) | uint64(1)), np.int64(_finish(hb))


def hash_text(text: str) -> tuple[int, int]:
    raw = np.frombuffer(text.encode(), dtype=np.uint8)
    h1, h2 = hash_spans(raw, 0, len(raw), 0, 0)
    return int(h1), int(h2)
