"""The sequential surveillance kernel: decoded units in, decision rows out.

For each trade, in input order: drop a repeated ExecID, find the symbol's book and the
series the execution belongs to, take the series' reference price, pick the rulebook
row and test the band. A print that stands (or has no reference) becomes the symbol's
last sale; an erroneous one is a *candidate* and waits in the open multi-stock window.
When the window closes (a later fill is past it, or the caller flushes), the distinct
symbols among its candidates give the event size; in an event every candidate is judged
again by the event row, and a candidate it clears becomes a last sale after all.

Series and their reference: engine.core.series and engine.core.book. With the rulebook's
series_inference on, a new series is judged against the last sale before its
TransactTime, so every execution of one matching event gets the same reference whatever
order its drop copies come in; with it off, against the last sale received.

The multi-stock window holds only candidates within its length of each other by
TransactTime, in either direction: it keeps its earliest and latest times, and a
candidate outside [latest - window, earliest + window] closes it and opens a new one.
"""

from __future__ import annotations

import numpy as np

from engine import codes
from engine.core.band import breaks_band, threshold_ppm
# N_SYM_COLS, N_KEY_COLS and the seeding kernels are the core state's (re-exported).
from engine.core.book import (C_SYMBOLS, N_SYM_COLS, S_LAST, S_LEVERAGE, S_MARK,  # noqa: F401
                              S_SRC, record_sale, sale_before, seed_symbol, seed_symbols,
                              symbol_slot, venue_amend)
from engine.core.series import (K_EXEC, K_FIND, K_OWN, K_SYM, N_KEY_COLS,  # noqa: F401
                                aggressor_role, series_keys, series_reference)
from engine.core.tables import BUCKET, GEN_CURRENT, probe, seen_or_add
from engine.fix import decoder as d
from engine.fix.hashing import hash_spans
from engine.jit import cached, kernel, prefetch, prefetch_write
from engine.rules.clock import session_of
from engine.rules.rulebook import FLAG_EVENT_WINDOW_NS, FLAG_INCLUSIVE, FLAG_SERIES_INFERENCE

# Columns of an output (decision) row.
O_LINE = 0
O_CHUNK = 1
O_VERDICT = 2
O_PRICE = 3
O_REF = 4
O_REF_SRC = 5
O_PPM = 6
O_EVENT = 7
O_SESSION = 8
O_LEVERAGE = 9
O_RULE = 10
O_SIDE = 11
O_REASON = 12
O_BAD_TAG = 13
O_TIME_NS = 14
# (offset, length) pairs into the chunk the unit came from.
O_EXEC = 15
O_SYMBOL = 17
O_QTY = 19
O_TIME = 21
O_MATCH = 23
O_BAD = 25
O_MSG = 27
O_ORDER = 29
O_CLORD = 31
# 128-bit keys: the symbol's (symbol slots move when the table grows) and the ExecID's.
O_SYM_KEY = 33
O_KEY = 35
N_OUT_COLS = 37

# Counters shared across calls.
# (0 is engine.core.book's C_SYMBOLS)
C_WINDOW_OPEN = 1
C_WINDOW_START = 2  # the open window's earliest candidate time
C_PENDING = 3
C_STAMP = 4
C_DUPLICATES = 5
C_VENUE_BUSTS = 6
C_VENUE_CORRECTIONS = 7
C_EVENTS = 8
C_UNKNOWN_REFS = 9
C_TRADES = 10
C_WINDOW_END = 11  # its latest candidate time
C_LEGACY_FILLS = 12  # 150=1/2 on FIX.4.3+ not judged (decoder.LEGACY_FILLS unset)
N_COUNTERS = 13

# Why `process` stopped before the end of its units.
STATUS_DONE = 0
STATUS_GROW_SYMBOLS = 1
STATUS_GROW_PENDING = 2

# The cursor of decode_and_judge: where it stopped in buf and in its batch of units.
CUR_POS = 0
CUR_UNITS = 1
CUR_LINE_START = 2
CUR_BATCH_LEN = 3
CUR_BATCH_NEXT = 4
CUR_N_OUT = 5
CUR_LINE = 6  # the line number at CUR_POS (decoder.decode_next's `line`)
CUR_FLAGS = 7  # decoder flags (decoder.NUMBER_UNITS, decoder.LEGACY_FILLS)
N_CURSOR = 8

# Units judged per batch (their identifiers' keys: engine.core.series K_* columns).
BATCH = 16


@kernel
def _copy_row(dst, src):
    for c in range(dst.shape[0]):  # `dst[:] = src` may allocate a temporary
        dst[c] = src[c]


@kernel
def _copy_span(out_row, o_col, unit, u_col):
    out_row[o_col] = unit[u_col]
    out_row[o_col + 1] = unit[u_col + 1]


@kernel
def _fill_row(out_row, unit, chunk_id):
    out_row[:] = 0
    out_row[O_LINE] = unit[d.U_LINE]
    out_row[O_CHUNK] = chunk_id
    out_row[O_PRICE] = unit[d.U_PRICE]
    out_row[O_SIDE] = unit[d.U_SIDE]
    out_row[O_TIME_NS] = unit[d.U_TIME_NS]
    out_row[O_MSG] = unit[d.U_MSG_OFF]
    out_row[O_MSG + 1] = unit[d.U_MSG_LEN]
    _copy_span(out_row, O_EXEC, unit, d.U_EXEC)
    _copy_span(out_row, O_SYMBOL, unit, d.U_SYMBOL)
    _copy_span(out_row, O_QTY, unit, d.U_QTY)
    _copy_span(out_row, O_TIME, unit, d.U_TIME)
    _copy_span(out_row, O_MATCH, unit, d.U_MATCH)
    _copy_span(out_row, O_ORDER, unit, d.U_ORDER)
    _copy_span(out_row, O_CLORD, unit, d.U_CLORD)


@kernel
def close_window(state, rulebook, out, n_out):
    """Finish the open multi-stock window: size the event, re-judge, emit. Returns n_out."""
    sym_keys, sym, series, ser_meta, matches, mat_meta, \
        exec_ids, pend, counters = state
    flags, up_to, regular_bps, outside_bps, event_min, event_bps = rulebook
    n_pend = counters[C_PENDING]
    counters[C_STAMP] += 1
    stamp = counters[C_STAMP]
    distinct = 0
    for k in range(n_pend):
        s, _ = probe(sym_keys, pend[k, O_SYM_KEY], pend[k, O_SYM_KEY + 1])
        if sym[s, S_MARK] != stamp:
            sym[s, S_MARK] = stamp
            distinct += 1
    is_event = event_min.shape[0] > 0 and distinct >= event_min[0]
    if is_event:
        counters[C_EVENTS] += 1
    for k in range(n_pend):
        row = pend[k]
        if is_event:
            ppm, rule = threshold_ppm(row[O_REF], row[O_SESSION], row[O_LEVERAGE], distinct,
                                      rulebook)
            row[O_PPM] = ppm
            row[O_RULE] = rule
            row[O_EVENT] = distinct
            if not breaks_band(row[O_PRICE], row[O_REF], ppm, flags[FLAG_INCLUSIVE] != 0):
                row[O_VERDICT] = codes.STANDS
                s, _ = probe(sym_keys, row[O_SYM_KEY], row[O_SYM_KEY + 1])
                record_sale(sym, s, row[O_PRICE], row[O_KEY], row[O_KEY + 1], row[O_LINE],
                            row[O_TIME_NS])
        _copy_row(out[n_out], row)
        n_out += 1
    counters[C_PENDING] = 0
    counters[C_WINDOW_OPEN] = 0
    return n_out


@kernel
def _venue_of(buf, unit, clock):
    names = clock[0]
    if names.shape[0] > 1 and unit[d.U_MARKET + 1] > 0:
        off = unit[d.U_MARKET]
        h1, h2 = hash_spans(buf, off, off + unit[d.U_MARKET + 1], 0, 0)
        for v in range(1, names.shape[0]):
            if names[v, 0] == h1 and names[v, 1] == h2:
                return v
    return 0


@kernel
def _keep_rows(out, first, n_out, keep, dropped):
    """Compact out[first:n_out] to the rows whose verdict `keep` marks; count the others."""
    w = first
    for k in range(first, n_out):
        verdict = out[k, O_VERDICT]
        if keep[verdict]:
            if w != k:
                _copy_row(out[w], out[k])
            w += 1
        else:
            dropped[verdict] += 1
    return w


@kernel
def _hash_ahead(buf, units, first, end, keys, state, inference):
    """Hash the identifiers of units[first:end] into keys[0:end - first] (K_* columns) and
    prefetch the table slots their look-ups start at, so the cache misses of a batch
    overlap instead of stalling one unit at a time. Only the first line of each: more
    prefetches than the CPU has line buffers stall the loop (measured slower)."""
    sym_keys, sym, series, ser_meta, matches, mat_meta, \
        exec_ids, pend, counters = state
    for i in range(first, end):
        unit = units[i]
        key = keys[i - first]
        kind = unit[d.U_KIND]
        if kind == codes.UNIT_OTHER or kind == codes.UNIT_BAD or kind == codes.UNIT_LEGACY_FILL:
            continue
        sym_off = unit[d.U_SYMBOL]
        sym_end = sym_off + unit[d.U_SYMBOL + 1]
        key[K_SYM], key[K_SYM + 1] = hash_spans(buf, sym_off, sym_end, 0, 0)
        slot = key[K_SYM + 1] & (sym_keys.shape[0] - 1)
        prefetch(sym_keys, slot * 2)
        prefetch(sym, slot * N_SYM_COLS)
        id_col = d.U_EXEC if kind == codes.UNIT_TRADE else d.U_EXEC_REF
        off = unit[id_col]
        key[K_EXEC], key[K_EXEC + 1] = hash_spans(buf, off, off + unit[id_col + 1],
                                                  sym_off, sym_end)
        if kind != codes.UNIT_TRADE:
            continue
        prefetch(exec_ids, (key[K_EXEC + 1] & (exec_ids.shape[0] - 1)) * BUCKET * 2)
        series_keys(buf, unit, key, inference)
        if key[K_FIND] != 0:
            _prefetch_generations(matches, mat_meta, key[K_FIND + 1])
        if key[K_OWN] != 0:
            _prefetch_generations(series, ser_meta, key[K_OWN + 1])


@kernel
def _prefetch_generations(slots, meta, h2):
    """The key's slot in both generations (a look-up may probe both), the current one's
    to write (a new key's insert writes it: a store miss there stalls too)."""
    capacity = slots.shape[1]
    slot = h2 & (capacity - 1)
    cur = meta[GEN_CURRENT]
    prefetch_write(slots, (cur * capacity + slot) * 4)
    prefetch(slots, ((1 - cur) * capacity + slot) * 4)


@cached
def process(buf, units, first, n_units, chunk_id, state, rulebook, clock, out, n_out):
    """Judge units[first:n_units]; rows go to out[n_out:].

    Returns (next unit, n_out, status): a status other than STATUS_DONE asks the caller
    to grow a table (CoreState.grow_symbols / grow_pending) and call again from `next unit`.
    """
    keep = np.ones(len(codes.VERDICT_NAMES), np.int64)
    keys = np.empty((BATCH, N_KEY_COLS), np.int64)
    return _judge_units(buf, units, first, n_units, chunk_id, state, rulebook, clock, out,
                        n_out, keep, np.zeros_like(keep), keys)


@kernel
def decode_and_judge(buf, n, final, cursor, max_units, batch, keys, chunk_id, state, rulebook,
                     clock, out, keep, dropped):
    """decoder.decode and `process` in one pass, a batch of units at a time: each batch is
    decoded into `batch` (BATCH rows, so it stays in cache) and judged at once.

    `cursor` (CUR_*) is updated in place, so after a status other than STATUS_DONE (grow a
    table, as for `process`) a second call goes on exactly where the first stopped. The
    caller sets CUR_POS, CUR_LINE_START, CUR_LINE and CUR_FLAGS before the first. Stops
    after `max_units` units, like `decode` with a units array that long. Rows whose
    verdict is not marked in `keep` are counted in `dropped` instead of written to `out`.
    """
    pos = cursor[CUR_POS]
    count = cursor[CUR_UNITS]
    start_of_line = cursor[CUR_LINE_START] != 0
    line = cursor[CUR_LINE]
    flags = cursor[CUR_FLAGS]
    batch_len = cursor[CUR_BATCH_LEN]
    next_unit = cursor[CUR_BATCH_NEXT]
    n_out = cursor[CUR_N_OUT]
    status = STATUS_DONE
    while True:
        if next_unit == batch_len:
            next_unit = 0
            batch_len = 0
            while batch_len < batch.shape[0] and count < max_units:
                decoded, pos, start_of_line, line = d.decode_next(
                    buf, pos, n, final, start_of_line, line, flags, batch[batch_len])
                if not decoded:
                    break
                batch_len += 1
                count += 1
            if batch_len == 0:
                break
        next_unit, n_out, status = _judge_units(buf, batch, next_unit, batch_len, chunk_id,
                                                state, rulebook, clock, out, n_out, keep,
                                                dropped, keys)
        if status != STATUS_DONE:
            break
    cursor[CUR_POS] = pos
    cursor[CUR_UNITS] = count
    cursor[CUR_LINE_START] = start_of_line
    cursor[CUR_LINE] = line
    cursor[CUR_BATCH_LEN] = batch_len
    cursor[CUR_BATCH_NEXT] = next_unit
    cursor[CUR_N_OUT] = n_out
    return status


@kernel
def _judge_units(buf, units, first, n_units, chunk_id, state, rulebook, clock, out, n_out,
                 keep, dropped, keys):
    """The kernel loop: `process`, with `keep` and `dropped` as in decode_and_judge and
    `keys` a (BATCH, N_KEY_COLS) scratch array."""
    sym_keys, sym, series, ser_meta, matches, mat_meta, \
        exec_ids, pend, counters = state
    flags = rulebook[0]
    inclusive = flags[FLAG_INCLUSIVE] != 0
    window_ns = flags[FLAG_EVENT_WINDOW_NS]
    inference = flags[FLAG_SERIES_INFERENCE] != 0
    has_events = rulebook[4].shape[0] > 0
    hours = clock[1]
    change_at = clock[2]
    offsets = clock[3]

    ahead = first  # keys[j] belongs to units[ahead + j]
    _hash_ahead(buf, units, ahead, min(ahead + BATCH, n_units), keys, state, inference)
    for i in range(first, n_units):
        if i == ahead + BATCH:
            ahead = i
            _hash_ahead(buf, units, ahead, min(ahead + BATCH, n_units), keys, state,
                        inference)
        unit = units[i]
        key = keys[i - ahead]
        kind = unit[d.U_KIND]
        if kind == codes.UNIT_OTHER:
            continue
        if kind == codes.UNIT_LEGACY_FILL:
            counters[C_LEGACY_FILLS] += 1
            continue
        if kind == codes.UNIT_BAD:
            row = out[n_out]
            _fill_row(row, unit, chunk_id)
            row[O_VERDICT] = codes.REJECTED
            row[O_REASON] = unit[d.U_REASON]
            row[O_BAD_TAG] = unit[d.U_BAD_TAG]
            row[O_BAD] = unit[d.U_BAD_OFF]
            row[O_BAD + 1] = unit[d.U_BAD_LEN]
            n_out = _keep_rows(out, n_out, n_out + 1, keep, dropped)
            continue
        if counters[C_SYMBOLS] * 2 >= sym_keys.shape[0]:
            return i, n_out, STATUS_GROW_SYMBOLS
        if counters[C_PENDING] + 1 >= pend.shape[0]:
            return i, n_out, STATUS_GROW_PENDING

        sh1 = key[K_SYM]
        sh2 = key[K_SYM + 1]
        s = symbol_slot(sym_keys, sym, counters, sh1, sh2)
        eh1 = key[K_EXEC]  # the ExecID's key, or for a bust or correction its ExecRefID's
        eh2 = key[K_EXEC + 1]

        if kind != codes.UNIT_TRADE:  # a venue bust or correction of an earlier trade
            if kind == codes.UNIT_VENUE_BUST:
                counters[C_VENUE_BUSTS] += 1
                known = venue_amend(sym, s, eh1, eh2, 0)
            else:
                counters[C_VENUE_CORRECTIONS] += 1
                known = venue_amend(sym, s, eh1, eh2, unit[d.U_PRICE])
            if not known:
                counters[C_UNKNOWN_REFS] += 1
            continue

        t = unit[d.U_TIME_NS]
        if counters[C_WINDOW_OPEN] != 0 and t > counters[C_WINDOW_START] + window_ns:
            closed = close_window(state, rulebook, out, n_out)
            n_out = _keep_rows(out, n_out, closed, keep, dropped)

        # One decision per ExecID: a repeat (PossDup resend, replayed log) is dropped.
        if seen_or_add(exec_ids, eh1, eh2):
            counters[C_DUPLICATES] += 1
            continue
        counters[C_TRADES] += 1

        # Which series, hence which reference price.
        new_ref = sym[s, S_LAST]
        new_src = sym[s, S_SRC]
        # A venue that names the aggressor (1057 or 851) and the match (880) has said
        # which prints are one series: the last sale received before it is prior to it,
        # at one TransactTime too. Otherwise the series is inferred, and so is its
        # reference: the last sale before its TransactTime, whatever the drop copies' order.
        stated = unit[d.U_MATCH + 1] > 0 and aggressor_role(buf, unit) >= 0
        if inference and not stated:
            before, before_src = sale_before(sym, s, t)
            if before_src != codes.REF_NONE:  # else the first print (below) is the reference
                new_ref = before
                new_src = before_src
        ref, ref_src = series_reference(series, ser_meta, matches, mat_meta, key, new_ref,
                                        new_src)

        v = _venue_of(buf, unit, clock)
        session = session_of(t, change_at[v], offsets[v], hours[v, 0], hours[v, 1])
        leverage = sym[s, S_LEVERAGE]
        price = unit[d.U_PRICE]
        ppm = 0
        rule = -1
        if ref == 0:
            verdict = codes.NO_REFERENCE
        else:
            ppm, rule = threshold_ppm(ref, session, leverage, 0, rulebook)
            verdict = codes.ERRONEOUS if breaks_band(price, ref, ppm, inclusive) else codes.STANDS
        if verdict != codes.ERRONEOUS:
            record_sale(sym, s, price, eh1, eh2, unit[d.U_LINE], t)
        candidate = verdict == codes.ERRONEOUS and has_events
        if not (candidate or keep[verdict]):
            dropped[verdict] += 1  # the row would be dropped: do not make it
            continue
        if candidate and counters[C_WINDOW_OPEN] != 0 and \
                t < counters[C_WINDOW_END] - window_ns:  # before the window: a new one
            closed = close_window(state, rulebook, out, n_out)
            n_out = _keep_rows(out, n_out, closed, keep, dropped)

        row = out[n_out]
        _fill_row(row, unit, chunk_id)
        row[O_VERDICT] = verdict
        row[O_REF] = ref
        row[O_REF_SRC] = ref_src
        row[O_PPM] = ppm
        row[O_SESSION] = session
        row[O_LEVERAGE] = leverage
        row[O_RULE] = rule
        row[O_SYM_KEY] = sh1
        row[O_SYM_KEY + 1] = sh2
        if not candidate:
            n_out += 1
            continue
        # A candidate: hold it in the multi-stock window.
        row[O_KEY] = eh1
        row[O_KEY + 1] = eh2
        k = counters[C_PENDING]
        _copy_row(pend[k], row)
        counters[C_PENDING] = k + 1
        if counters[C_WINDOW_OPEN] == 0:
            counters[C_WINDOW_OPEN] = 1
            counters[C_WINDOW_START] = t
            counters[C_WINDOW_END] = t
        else:
            counters[C_WINDOW_START] = min(counters[C_WINDOW_START], t)
            counters[C_WINDOW_END] = max(counters[C_WINDOW_END], t)
    return n_units, n_out, STATUS_DONE
