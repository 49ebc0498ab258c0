"""The symbol book: per symbol, its instrument values and the sales a reference comes from.

A row of `sym` (columns S_*) keeps two views of the symbol's sales that stood:
- by arrival: the last sale received (S_LAST), today's reference when series are not
  inferred;
- by TransactTime: the newest sale (S_TOP, at S_TOP_TIME) and the newest sale before that
  time (S_BELOW, at S_BELOW_TIME; the previous close, or nothing, when there is none),
  so that every execution of one matching event, whatever order its drop copies come
  in, can be judged against the sale before the event (`sale_before`).
The last RING sales are remembered too (price, ExecID key h1, h2, arrival, time), so a
venue bust or correction can undo or re-price one and both views be recomputed.
"""

from __future__ import annotations

from engine import codes
from engine.core.tables import probe
from engine.fix.hashing import hash_spans
from engine.jit import kernel

S_LAST = 0
S_SRC = 1
S_LEVERAGE = 2
S_PREV_CLOSE = 3
S_MARK = 4
S_LAST_SEQ = 5
S_TOP = 6         # price of the newest sale by TransactTime; 0 = no sale yet
S_TOP_TIME = 7
S_BELOW = 8       # the newest sale before S_TOP_TIME, else the previous close (or 0)
S_BELOW_SRC = 9
S_BELOW_TIME = 10
S_RING_N = 11
S_RING = 12
RING = 8
RING_WIDTH = 5
R_PRICE = 0
R_H1 = 1
R_H2 = 2
R_SEQ = 3
R_TIME = 4
N_SYM_COLS = S_RING + RING * RING_WIDTH

NO_TIME = -(1 << 62)  # the previous close's "time": before every sale
C_SYMBOLS = 0  # the counter (pipeline's counters array) of symbols in the book


@kernel
def symbol_slot(sym_keys, sym, counters, h1, h2):
    """Slot of the symbol, inserting it (leverage 1, no close) when new."""
    slot, found = probe(sym_keys, h1, h2)
    if not found:
        sym_keys[slot, 0] = h1
        sym_keys[slot, 1] = h2
        sym[slot, :] = 0
        sym[slot, S_LEVERAGE] = 100
        sym[slot, S_BELOW_TIME] = NO_TIME
        counters[C_SYMBOLS] += 1
    return slot


@kernel
def seed_symbol(sym_keys, sym, counters, h1, h2, leverage, prev_close):
    """Load one instrument: its leverage, and its previous close as the first reference."""
    slot = symbol_slot(sym_keys, sym, counters, h1, h2)
    sym[slot, S_LEVERAGE] = leverage
    sym[slot, S_PREV_CLOSE] = prev_close
    if sym[slot, S_RING_N] == 0:
        _set_close(sym, slot, prev_close)


@kernel
def seed_symbols(names, ends, leverages, prev_closes, sym_keys, sym, counters):
    """seed_symbol of each instrument: names[ends[i - 1]:ends[i]] is the i-th symbol (the
    first starts at 0). The caller makes room for them all."""
    start = 0
    for i in range(ends.shape[0]):
        h1, h2 = hash_spans(names, start, ends[i], 0, 0)
        seed_symbol(sym_keys, sym, counters, h1, h2, leverages[i], prev_closes[i])
        start = ends[i]


@kernel
def sale_before(sym, s, t):
    """(price, source) of the newest sale before time t, else the previous close.

    An execution older than the newest sale but not newer than the one before it (out
    of order by more than one step) gets that older sale: the oldest the book keeps."""
    if sym[s, S_TOP] > 0 and sym[s, S_TOP_TIME] < t:
        return sym[s, S_TOP], codes.REF_LAST_SALE
    return sym[s, S_BELOW], sym[s, S_BELOW_SRC]


@kernel
def record_sale(sym, s, price, h1, h2, seq, t):
    """A print that stands: remember it, make it the last sale unless a later one (by
    arrival) is, and place it in the by-time view."""
    n = sym[s, S_RING_N]
    if n < RING:
        k = n
        sym[s, S_RING_N] = n + 1
    else:  # replace the oldest
        k = 0
        for j in range(1, RING):
            if sym[s, S_RING + j * RING_WIDTH + R_SEQ] < sym[s, S_RING + k * RING_WIDTH + R_SEQ]:
                k = j
    base = S_RING + k * RING_WIDTH
    sym[s, base + R_PRICE] = price
    sym[s, base + R_H1] = h1
    sym[s, base + R_H2] = h2
    sym[s, base + R_SEQ] = seq
    sym[s, base + R_TIME] = t
    if seq >= sym[s, S_LAST_SEQ]:
        sym[s, S_LAST] = price
        sym[s, S_SRC] = codes.REF_LAST_SALE
        sym[s, S_LAST_SEQ] = seq
    if sym[s, S_TOP] == 0:
        sym[s, S_TOP] = price
        sym[s, S_TOP_TIME] = t
    elif t > sym[s, S_TOP_TIME]:
        _set_below(sym, s, sym[s, S_TOP], codes.REF_LAST_SALE, sym[s, S_TOP_TIME])
        sym[s, S_TOP] = price
        sym[s, S_TOP_TIME] = t
    elif t == sym[s, S_TOP_TIME]:
        sym[s, S_TOP] = price
    elif t >= sym[s, S_BELOW_TIME]:  # late, but newer than the sale before the newest
        _set_below(sym, s, price, codes.REF_LAST_SALE, t)


@kernel
def _set_below(sym, s, price, source, t):
    sym[s, S_BELOW] = price
    sym[s, S_BELOW_SRC] = source
    sym[s, S_BELOW_TIME] = t


@kernel
def _newest(sym, s, before):
    """Index of the remembered sale newest by (time, arrival) with time < before; -1."""
    best = -1
    for j in range(sym[s, S_RING_N]):
        base = S_RING + j * RING_WIDTH
        t = sym[s, base + R_TIME]
        if t >= before:
            continue
        if best < 0:
            best = j
            continue
        best_base = S_RING + best * RING_WIDTH
        best_t = sym[s, best_base + R_TIME]
        if t > best_t or (t == best_t and sym[s, base + R_SEQ] > sym[s, best_base + R_SEQ]):
            best = j
    return best


@kernel
def _recompute(sym, s):
    """After a venue bust or correction: both views again from the remembered sales."""
    close = sym[s, S_PREV_CLOSE]
    close_src = codes.REF_PREV_CLOSE if close > 0 else codes.REF_NONE
    latest = -1
    for j in range(sym[s, S_RING_N]):
        if latest < 0 or sym[s, S_RING + j * RING_WIDTH + R_SEQ] > \
                sym[s, S_RING + latest * RING_WIDTH + R_SEQ]:
            latest = j
    if latest >= 0:
        sym[s, S_LAST] = sym[s, S_RING + latest * RING_WIDTH + R_PRICE]
        sym[s, S_SRC] = codes.REF_LAST_SALE
        sym[s, S_LAST_SEQ] = sym[s, S_RING + latest * RING_WIDTH + R_SEQ]
    else:
        sym[s, S_LAST] = close
        sym[s, S_SRC] = close_src
        sym[s, S_LAST_SEQ] = 0
    top = _newest(sym, s, 1 << 62)
    if top < 0:
        sym[s, S_TOP] = 0
        sym[s, S_TOP_TIME] = 0
        _set_below(sym, s, close, close_src, NO_TIME)
        return
    top_time = sym[s, S_RING + top * RING_WIDTH + R_TIME]
    sym[s, S_TOP] = sym[s, S_RING + top * RING_WIDTH + R_PRICE]
    sym[s, S_TOP_TIME] = top_time
    below = _newest(sym, s, top_time)
    if below < 0:
        _set_below(sym, s, close, close_src, NO_TIME)
    else:
        base = S_RING + below * RING_WIDTH
        _set_below(sym, s, sym[s, base + R_PRICE], codes.REF_LAST_SALE, sym[s, base + R_TIME])


@kernel
def venue_amend(sym, s, h1, h2, new_price):
    """Remove (new_price 0) or re-price the sale with ExecID key (h1, h2); False if unknown."""
    n = sym[s, S_RING_N]
    for j in range(n):
        base = S_RING + j * RING_WIDTH
        if sym[s, base + R_H1] == h1 and sym[s, base + R_H2] == h2:
            if new_price > 0:
                sym[s, base + R_PRICE] = new_price
            else:
                last = S_RING + (n - 1) * RING_WIDTH
                for c in range(RING_WIDTH):
                    sym[s, base + c] = sym[s, last + c]
                sym[s, S_RING_N] = n - 1
            _recompute(sym, s)
            return True
    return False


@kernel
def roll_book(sym_keys, sym):
    """The end of a trading day: each symbol's newest sale by TransactTime (else its
    previous close) becomes the next day's previous close; the day's sales are forgotten.
    Leverage stays; the multi-stock mark stays (stamps only grow)."""
    for s in range(sym_keys.shape[0]):
        if sym_keys[s, 0] == 0:
            continue
        close = sym[s, S_TOP] if sym[s, S_TOP] > 0 else sym[s, S_PREV_CLOSE]
        leverage = sym[s, S_LEVERAGE]
        mark = sym[s, S_MARK]
        sym[s, :] = 0
        sym[s, S_LEVERAGE] = leverage
        sym[s, S_MARK] = mark
        sym[s, S_BELOW_TIME] = NO_TIME
        _set_close(sym, s, close)


@kernel
def carry_closes(h1s, h2s, closes, sym_keys, sym, counters):
    """At a restart: the closes a rollover carried (journaled with the day), over the
    instruments file's. Symbols only the day's trading knew are added (leverage 1). The
    caller makes room for them all."""
    for i in range(h1s.shape[0]):
        s = symbol_slot(sym_keys, sym, counters, h1s[i], h2s[i])
        _set_close(sym, s, closes[i])


@kernel
def _set_close(sym, s, close):
    source = codes.REF_PREV_CLOSE if close > 0 else codes.REF_NONE
    sym[s, S_PREV_CLOSE] = close
    sym[s, S_LAST] = close
    sym[s, S_SRC] = source
    sym[s, S_BELOW] = close
    sym[s, S_BELOW_SRC] = source
