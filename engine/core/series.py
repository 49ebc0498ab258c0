"""Series: which executions share one reference price (DESIGN.md "Series").

A series is the executions of one aggressing order with the passive sides matched to
them. The venue says which order aggressed with AggressorIndicator (1057=Y), or where
1057 is absent with LastLiquidityInd (851=2, removed liquidity; 851=1 is passive), and
which executions are the two sides of one match with TrdMatchID (880).

Where it says neither, and the rulebook's series_inference is on ("order-side-time"):
- executions of one OrderID and Side at one TransactTime are one series;
- without 880, the two sides of a match are paired by symbol, LastPx, LastQty,
  TransactTime and opposite Side (each side is filed under its own Side and looks for
  the other's).

An execution that pairs with a match seen before takes that match's series, so both
sides of a match always get the same reference, hence the same verdict; its own order's
series, if new, starts with that reference too. Otherwise its own series (an aggressor's
order, or an inferred one), else its match's, is looked up or started with the reference
the caller gives for a new series.
"""

from __future__ import annotations

import numpy as np
from numba import uint64

from engine.core.tables import GEN_CURRENT, GEN_VALUE, gen_find, gen_insert
from engine.fix import decoder as d
from engine.fix.hashing import hash_spans
from engine.jit import kernel

# Columns of a unit's 128-bit keys (pipeline's `keys` scratch array).
K_SYM = 0
K_EXEC = 2
K_FIND = 4  # the match to join: 880, or the other side's inferred key
K_PUT = 6   # the match to file this execution under: 880, or its own side's inferred key
K_OWN = 8   # its own series: the aggressor's order, or OrderID + Side + TransactTime
N_KEY_COLS = 10

# Series values (columns of a series slot): reference price and its source. A match's
# values are the key of its series.
V_REF = GEN_VALUE
V_SRC = GEN_VALUE + 1

_MATCH_NAMESPACE = 0x5A5A5A5A5A5A5A5A  # keeps match-started series apart from order ones
_MIX_A = uint64(0x9E3779B97F4A7C15)
_MIX_B = uint64(0xC2B2AE3D27D4EB4F)
_BUY = 1
_SELL = 2


@kernel
def aggressor_role(buf, unit):
    """1 aggressor, 0 passive, -1 unknown: 1057, else 851 (2 removed, 1 added liquidity)."""
    role = unit[d.U_AGGRESSOR]
    if role >= 0:
        return role
    if unit[d.U_LIQUIDITY + 1] == 1:
        value = buf[unit[d.U_LIQUIDITY]]
        if value == 50:  # '2'
            return 1
        if value == 49:  # '1'
            return 0
    return -1


@kernel
def _side_class(side):
    """_BUY (1 Buy, 3 Buy minus), _SELL (2 Sell, 4 Sell plus, 5 and 6 Sell short), else 0."""
    if side == 49 or side == 51:
        return _BUY
    if side == 50 or side == 52 or side == 53 or side == 54:
        return _SELL
    return 0


@kernel
def _mix(h1, h2, value):
    """The key (h1, h2) combined with an integer: another key for each value."""
    a = (uint64(h1) ^ uint64(value)) * _MIX_A
    b = (uint64(h2) + uint64(value)) * _MIX_B
    a ^= a >> uint64(29)
    b ^= b >> uint64(31)
    return np.int64(a | uint64(1)), np.int64(b)  # h1 != 0: 0 marks an empty slot


@kernel
def series_keys(buf, unit, key, inference):
    """K_FIND, K_PUT and K_OWN of a trade (0 = none); K_SYM must be set."""
    sym_off = unit[d.U_SYMBOL]
    sym_end = sym_off + unit[d.U_SYMBOL + 1]
    for c in range(K_FIND, N_KEY_COLS):
        key[c] = 0
    t = unit[d.U_TIME_NS]
    if unit[d.U_MATCH + 1] > 0:
        off = unit[d.U_MATCH]
        h1, h2 = hash_spans(buf, off, off + unit[d.U_MATCH + 1], sym_off, sym_end)
        key[K_FIND] = h1
        key[K_FIND + 1] = h2
        key[K_PUT] = h1
        key[K_PUT + 1] = h2
    elif inference:
        side = _side_class(unit[d.U_SIDE])
        if side != 0:
            off = unit[d.U_QTY]
            h1, h2 = hash_spans(buf, off, off + max(unit[d.U_QTY + 1], 0), sym_off, sym_end)
            h1, h2 = _mix(h1, h2, unit[d.U_PRICE])
            h1, h2 = _mix(h1, h2, t)
            key[K_PUT], key[K_PUT + 1] = _mix(h1, h2, side)
            key[K_FIND], key[K_FIND + 1] = _mix(h1, h2, _BUY + _SELL - side)
    role = aggressor_role(buf, unit)
    if unit[d.U_ORDER + 1] > 0 and (role == 1 or (role < 0 and inference)):
        off = unit[d.U_ORDER]
        h1, h2 = hash_spans(buf, off, off + unit[d.U_ORDER + 1], sym_off, sym_end)
        if role < 0:  # inferred: one OrderID and Side at one TransactTime
            h1, h2 = _mix(h1, h2, unit[d.U_SIDE])
            h1, h2 = _mix(h1, h2, t)
        key[K_OWN] = h1
        key[K_OWN + 1] = h2


@kernel
def _find_or_start(series, meta, h1, h2, ref, source):
    """(reference, source) of the series, started with (ref, source) when new."""
    slot = gen_find(series, meta, h1, h2)
    if slot < 0:
        slot = gen_insert(series, meta, h1, h2)
        cur = meta[GEN_CURRENT]
        series[cur, slot, V_REF] = ref
        series[cur, slot, V_SRC] = source
        return ref, source
    cur = meta[GEN_CURRENT]
    return series[cur, slot, V_REF], series[cur, slot, V_SRC]


@kernel
def series_reference(series, ser_meta, matches, mat_meta, key, new_ref, new_source):
    """(reference, source) of the execution with keys `key`; (new_ref, new_source) is the
    reference of a series it starts (and of an execution in no series)."""
    series_h1 = 0
    series_h2 = 0
    joined = False
    if key[K_FIND] != 0:
        slot = gen_find(matches, mat_meta, key[K_FIND], key[K_FIND + 1])
        if slot >= 0:
            cur = mat_meta[GEN_CURRENT]
            series_h1 = matches[cur, slot, GEN_VALUE]
            series_h2 = matches[cur, slot, GEN_VALUE + 1]
            joined = True
    put_h1 = key[K_PUT]
    put_h2 = key[K_PUT + 1]
    if not joined:
        if key[K_OWN] != 0:
            series_h1 = key[K_OWN]
            series_h2 = key[K_OWN + 1]
        elif put_h1 != 0:  # a passive side first: its match starts the series
            series_h1 = put_h1
            series_h2 = put_h2 ^ _MATCH_NAMESPACE
        if put_h1 != 0:
            same = put_h1 == key[K_FIND] and put_h2 == key[K_FIND + 1]  # 880: not there
            if same or gen_find(matches, mat_meta, put_h1, put_h2) < 0:
                slot = gen_insert(matches, mat_meta, put_h1, put_h2)
                cur = mat_meta[GEN_CURRENT]
                matches[cur, slot, GEN_VALUE] = series_h1
                matches[cur, slot, GEN_VALUE + 1] = series_h2
    if series_h1 == 0:
        return new_ref, new_source
    ref, source = _find_or_start(series, ser_meta, series_h1, series_h2, new_ref, new_source)
    own_h1 = key[K_OWN]
    own_h2 = key[K_OWN + 1]
    if joined and own_h1 != 0 and not (own_h1 == series_h1 and own_h2 == series_h2):
        _find_or_start(series, ser_meta, own_h1, own_h2, ref, source)
    return ref, source
