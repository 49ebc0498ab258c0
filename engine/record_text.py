"""Decision records as JSON text, many at once in numba, for the live journal.

engine/records.py builds a record as a dict (replay, the review desk, logs). The live
engine journals every decision, and building a dict and dumping it cost the journal
writer ~11 us of Python per fill, under the GIL that QuickFIX's thread needs for fromApp.
This renders the same records, as the text `json.dumps(record, separators=(",", ":"))`
writes (same keys, order, escapes), for a whole batch in one call that does not hold
the GIL. tests/test_record_text.py checks it against RecordMaker byte for byte.

A row it cannot render exactly is left to RecordMaker: a rejected decision (its reason
is prose) and a row whose numbers are past any the core makes (a band over 10,000%, a
price more than 9e12 times its reference), which could overflow int64 here
(Python's integers do not overflow). Every price up to MAX_PRICE renders here.
"""

from __future__ import annotations

import json

import numpy as np
from engine import codes
from engine.core import pipeline as p
from engine.jit import nogil_kernel
from engine.prices import PPM, PPM_DECIMALS, PRICE_DECIMALS

# Text fragments the kernel copies, by index: keys with their punctuation, names quoted.
_FRAGMENTS = (
    '{"line":', ',"exec_id":', ',"trade_id":', ',"symbol":', ',"side":', ',"price":"',
    ',"qty":', ',"transact_time":"', ',"session":', ',"reference_price":',
    ',"reference_source":', ',"leverage":"', ',"event_size":',
    ',"threshold_pct":null,"deviation_pct":null,"band_low":null,"band_high":null,"rule":null',
    ',"threshold_pct":"', '","deviation_pct":"', '","band_low":"', '","band_high":"', '"',
    ',"rule":', ',"verdict":', ',"harmed_side":"buy"}', ',"harmed_side":"sell"}', "}",
    "null", '"buy"', '"sell"', '"sell_short"', '"sell_short_exempt"', '"other"',
)
(F_LINE, F_EXEC, F_TRADE, F_SYMBOL, F_SIDE, F_PRICE, F_QTY, F_TIME, F_SESSION, F_REF,
 F_REF_SRC, F_LEVERAGE, F_EVENT, F_NO_BAND, F_THRESHOLD, F_DEVIATION, F_LOW, F_HIGH,
 F_QUOTE, F_RULE, F_VERDICT, F_HARMED_BUY, F_HARMED_SELL, F_CLOSE, F_NULL, F_BUY, F_SELL,
 F_SHORT, F_SHORT_EXEMPT, F_OTHER) = range(len(_FRAGMENTS))


def _table(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Texts as one byte array and their end offsets (the first starts at 0)."""
    data = [t.encode("ascii") for t in texts]
    return (np.frombuffer(b"".join(data), np.uint8).copy(),
            np.cumsum([len(d) for d in data]).astype(np.int64))


FRAGMENTS, FRAGMENT_ENDS = _table(list(_FRAGMENTS))
_quoted = [json.dumps(n) for n in (*codes.SESSION_NAMES, *codes.REF_SOURCE_NAMES,
                                   *codes.VERDICT_NAMES)]
NAMES, NAME_ENDS = _table(_quoted)
SESSION_AT, REF_SOURCE_AT = 0, len(codes.SESSION_NAMES)
VERDICT_AT = REF_SOURCE_AT + len(codes.REF_SOURCE_NAMES)

INT64_MAX = 2**63 - 1
MAX_RENDERED_PPM = 10**8  # 10,000%: the rulebook's widest band is 900%
_HEX = np.frombuffer(b"0123456789abcdef", np.uint8).copy()
_POW10 = np.array([10**k for k in range(19)], np.int64)

@nogil_kernel
def _put(out, pos, table, ends, index):
    """Copy entry `index` of a (table, ends) pair."""
    start = ends[index - 1] if index > 0 else 0
    for i in range(start, ends[index]):
        out[pos] = table[i]
        pos += 1
    return pos


@nogil_kernel
def _put_byte(out, pos, c):
    out[pos] = c
    return pos + 1


@nogil_kernel
def _put_escaped(out, pos, buf, start, end):
    """buf[start:end] (latin-1) as json.dumps writes it inside quotes (ensure_ascii)."""
    for i in range(start, end):
        c = buf[i]
        if c == 34 or c == 92:  # " and \
            out[pos] = 92
            out[pos + 1] = c
            pos += 2
        elif 32 <= c < 127:  # printable ASCII; DEL is escaped too
            out[pos] = c
            pos += 1
        elif c == 8 or c == 9 or c == 10 or c == 12 or c == 13:
            out[pos] = 92
            out[pos + 1] = (98, 116, 110, 0, 102, 114)[c - 8]  # b t n - f r
            pos += 2
        else:  # other control characters and bytes past ASCII: \u00xx
            out[pos] = 92
            out[pos + 1] = 117
            out[pos + 2] = 48
            out[pos + 3] = 48
            out[pos + 4] = _HEX[c >> 4]
            out[pos + 5] = _HEX[c & 15]
            pos += 6
    return pos


@nogil_kernel
def _put_text(out, pos, buf, base, off, length):
    """A text field of the fill: a JSON string, or null when absent."""
    if length <= 0:
        return _put(out, pos, FRAGMENTS, FRAGMENT_ENDS, F_NULL)
    out[pos] = 34
    pos = _put_escaped(out, pos + 1, buf, base + off, base + off + length)
    out[pos] = 34
    return pos + 1


@nogil_kernel
def _put_int(out, pos, value):
    if value < 0:
        out[pos] = 45
        pos += 1
        value = -value
    digits = 1
    while digits < 19 and value >= _POW10[digits]:
        digits += 1
    for k in range(digits - 1, -1, -1):
        out[pos] = 48 + (value // _POW10[k]) % 10
        pos += 1
    return pos


@nogil_kernel
def _put_fixed(out, pos, value, decimals, keep):
    """engine.prices.format_fixed: exact decimal text, trailing zeros cut to `keep`."""
    if value < 0:
        out[pos] = 45
        pos += 1
        value = -value
    scale = _POW10[decimals]
    return _put_decimal(out, pos, value // scale, value % scale, decimals, keep)


@nogil_kernel
def _put_decimal(out, pos, whole, frac, decimals, keep):
    """whole.frac, where frac holds `decimals` digits, its trailing zeros cut to `keep`."""
    pos = _put_int(out, pos, whole)
    shown = decimals
    while shown > keep and frac % 10 == 0:
        frac //= 10
        shown -= 1
    if shown == 0:
        return pos
    out[pos] = 46
    for k in range(shown - 1, -1, -1):
        out[pos + 1 + k] = 48 + frac % 10
        frac //= 10
    return pos + 1 + shown


@nogil_kernel
def _put_band_edge(out, pos, ref, factor):
    """format_price(ref * factor, PRICE_DECIMALS + PPM_DECIMALS), the band edge of
    records.band_fields (factor = 1e6 -+ ppm), for ref > 0. The product passes int64 from
    a reference of ~$8,400, so it is summed in parts: ref = dollars + nanos / 1e9 gives
    ref * factor / 1e15 = (dollars * factor + nanos * factor / 1e9) / 1e6. The caller
    checks that ref <= INT64_MAX // 10 and |factor| <= PPM + MAX_RENDERED_PPM."""
    magnitude = -factor if factor < 0 else factor
    scale = _POW10[PRICE_DECIMALS]
    low = (ref % scale) * magnitude  # in 1e-15, below 1.01e17
    micros = (ref // scale) * magnitude + low // scale
    if factor < 0:
        out[pos] = 45
        pos += 1
    frac = (micros % PPM) * scale + low % scale  # the 15 decimals, < 1e15
    return _put_decimal(out, pos, micros // PPM, frac, PRICE_DECIMALS + PPM_DECIMALS, 2)


@nogil_kernel
def _put_ratio(out, pos, numerator, denominator, decimals):
    """engine.prices.format_ratio: the fraction rounded half-even to `decimals` places.
    Digit by digit: numerator * 10**decimals passes int64 for a price move of $9,223.
    The caller checks that denominator * 10 and the quotient times 10**decimals (plus
    one) fit int64."""
    magnitude = -numerator if numerator < 0 else numerator
    scaled = magnitude // denominator
    rem = magnitude % denominator
    for _ in range(decimals):
        rem *= 10
        scaled = scaled * 10 + rem // denominator
        rem %= denominator
    if rem * 2 > denominator or (rem * 2 == denominator and scaled % 2 == 1):
        scaled += 1
    if numerator < 0 and scaled != 0:
        out[pos] = 45
        pos += 1
    return _put_fixed(out, pos, scaled, decimals, decimals)


@nogil_kernel
def _exact(row):
    """Whether the record's numbers stay inside int64 on their way to text (else
    RecordMaker renders it): the limits of _put_band_edge and _put_ratio."""
    if row[p.O_VERDICT] == codes.NO_REFERENCE:  # no band, no deviation
        return True
    price = row[p.O_PRICE]
    ref = row[p.O_REF]
    ppm = row[p.O_PPM]
    if ref <= 0 or ppm < 0 or price < 0 or ppm > MAX_RENDERED_PPM or ref > INT64_MAX // 10:
        return False
    diff = price - ref if price > ref else ref - price
    if diff > INT64_MAX // 100:
        return False
    return diff * 100 // ref < INT64_MAX // _POW10[4]


@nogil_kernel
def _render_row(out, pos, row, buf, base, rules, rule_ends):
    pos = _put(out, pos, FRAGMENTS, FRAGMENT_ENDS, F_LINE)
    pos = _put_int(out, pos, row[p.O_LINE])
    pos = _put(out, pos, FRAGMENTS, FRAGMENT_ENDS, F_EXEC)
    pos = _put_text(out, pos, buf, base, row[p.O_EXEC], row[p.O_EXEC + 1])
    pos = _put(out, pos, FRAGMENTS, FRAGMENT_ENDS, F_TRADE)
    pos = _put_text(out, pos, buf, base, row[p.O_MATCH], row[p.O_MATCH + 1])
    pos = _put(out, pos, FRAGMENTS, FRAGMENT_ENDS, F_SYMBOL)
    pos = _put_text(out, pos, buf, base, row[p.O_SYMBOL], row[p.O_SYMBOL + 1])
    pos = _put(out, pos, FRAGMENTS, FRAGMENT_ENDS, F_SIDE)
    side = row[p.O_SIDE]
    name = F_OTHER
    if side == 49:
        name = F_BUY
    elif side == 50:
        name = F_SELL
    elif side == 53:
        name = F_SHORT
    elif side == 54:
        name = F_SHORT_EXEMPT
    pos = _put(out, pos, FRAGMENTS, FRAGMENT_ENDS, name)
    price = row[p.O_PRICE]
    ref = row[p.O_REF]
    ppm = row[p.O_PPM]
    pos = _put(out, pos, FRAGMENTS, FRAGMENT_ENDS, F_PRICE)
    pos = _put_fixed(out, pos, price, PRICE_DECIMALS, 2)
    pos = _put(out, pos, FRAGMENTS, FRAGMENT_ENDS, F_QUOTE)
    pos = _put(out, pos, FRAGMENTS, FRAGMENT_ENDS, F_QTY)
    pos = _put_text(out, pos, buf, base, row[p.O_QTY], row[p.O_QTY + 1])
    # transact_time: records.iso_time, the digits as sent: YYYY-MM-DDTHH:MM:SS.fffZ
    pos = _put(out, pos, FRAGMENTS, FRAGMENT_ENDS, F_TIME)
    start = base + row[p.O_TIME]
    end = start + row[p.O_TIME + 1]
    pos = _put_escaped(out, pos, buf, start, min(start + 4, end))
    pos = _put_byte(out, pos, 45)
    pos = _put_escaped(out, pos, buf, min(start + 4, end), min(start + 6, end))
    pos = _put_byte(out, pos, 45)
    pos = _put_escaped(out, pos, buf, min(start + 6, end), min(start + 8, end))
    pos = _put_byte(out, pos, 84)
    pos = _put_escaped(out, pos, buf, min(start + 9, end), end)
    pos = _put_byte(out, pos, 90)
    pos = _put_byte(out, pos, 34)
    pos = _put(out, pos, FRAGMENTS, FRAGMENT_ENDS, F_SESSION)
    pos = _put(out, pos, NAMES, NAME_ENDS, SESSION_AT + row[p.O_SESSION])
    pos = _put(out, pos, FRAGMENTS, FRAGMENT_ENDS, F_REF)
    if ref != 0:
        pos = _put_byte(out, pos, 34)
        pos = _put_fixed(out, pos, ref, PRICE_DECIMALS, 2)
        pos = _put_byte(out, pos, 34)
    else:
        pos = _put(out, pos, FRAGMENTS, FRAGMENT_ENDS, F_NULL)
    pos = _put(out, pos, FRAGMENTS, FRAGMENT_ENDS, F_REF_SRC)
    pos = _put(out, pos, NAMES, NAME_ENDS, REF_SOURCE_AT + row[p.O_REF_SRC])
    pos = _put(out, pos, FRAGMENTS, FRAGMENT_ENDS, F_LEVERAGE)
    pos = _put_fixed(out, pos, row[p.O_LEVERAGE], 2, 0)
    pos = _put(out, pos, FRAGMENTS, FRAGMENT_ENDS, F_QUOTE)
    pos = _put(out, pos, FRAGMENTS, FRAGMENT_ENDS, F_EVENT)
    pos = _put_int(out, pos, row[p.O_EVENT])
    verdict = row[p.O_VERDICT]
    if verdict == codes.NO_REFERENCE:
        pos = _put(out, pos, FRAGMENTS, FRAGMENT_ENDS, F_NO_BAND)
    else:
        # records.band_fields: band edges R x (1 -+ t) exact, at 15 decimals
        pos = _put(out, pos, FRAGMENTS, FRAGMENT_ENDS, F_THRESHOLD)
        pos = _put_fixed(out, pos, ppm, 4, 0)
        pos = _put(out, pos, FRAGMENTS, FRAGMENT_ENDS, F_DEVIATION)
        pos = _put_ratio(out, pos, (price - ref) * 100, ref, 4)
        pos = _put(out, pos, FRAGMENTS, FRAGMENT_ENDS, F_LOW)
        pos = _put_band_edge(out, pos, ref, PPM - ppm)
        pos = _put(out, pos, FRAGMENTS, FRAGMENT_ENDS, F_HIGH)
        pos = _put_band_edge(out, pos, ref, PPM + ppm)
        pos = _put(out, pos, FRAGMENTS, FRAGMENT_ENDS, F_QUOTE)
        pos = _put(out, pos, FRAGMENTS, FRAGMENT_ENDS, F_RULE)
        pos = _put(out, pos, rules, rule_ends, row[p.O_RULE])
    pos = _put(out, pos, FRAGMENTS, FRAGMENT_ENDS, F_VERDICT)
    pos = _put(out, pos, NAMES, NAME_ENDS, VERDICT_AT + verdict)
    if verdict == codes.ERRONEOUS:
        # The rule is one-sided: a buyer is harmed by a print above the reference.
        return _put(out, pos, FRAGMENTS, FRAGMENT_ENDS,
                    F_HARMED_BUY if price > ref else F_HARMED_SELL)
    return _put(out, pos, FRAGMENTS, FRAGMENT_ENDS, F_CLOSE)


@nogil_kernel
def render_array(rows, wanted, buf, bases, rules, rule_ends, out, rendered):
    """A JSON array of the records of rows whose verdict is marked in `wanted` and that
    render exactly; rendered[i] says which. Row i's text fields are at bases[i] in buf.
    Returns the length written; `out` must hold RecordText.bound(...) bytes (the kernel
    does not check: it runs without bounds checks)."""
    pos = 0
    out[pos] = 91  # [
    pos += 1
    first = True
    for i in range(rows.shape[0]):
        row = rows[i]
        rendered[i] = wanted[row[p.O_VERDICT]] and _exact(row)
        if not rendered[i]:
            continue
        if not first:
            out[pos] = 44  # ,
            pos += 1
        first = False
        pos = _render_row(out, pos, row, buf, bases[i], rules, rule_ends)
    out[pos] = 93  # ]
    return pos + 1


# Per row at most: every fragment and name once, eight numbers of up to 40 characters.
_ROW_TEXT = len(FRAGMENTS) + len(NAMES) + 8 * 40


class RecordText:
    """render_array with the rulebook's rule codes."""

    def __init__(self, rule_codes: list[str]) -> None:
        self.rules, self.rule_ends = _table([json.dumps(code) for code in rule_codes])
        self._row_text = _ROW_TEXT + int(np.diff(self.rule_ends, prepend=0).max(initial=0))

    def bound(self, n_rows: int, n_bytes: int) -> int:
        """Bytes render_array may write for n_rows rows over n_bytes of fills: fixed
        text and the longest rule code per row, 6 per byte (escaped: \\u00xx)."""
        return 2 + n_rows * self._row_text + 6 * n_bytes

    def render(self, rows: np.ndarray, wanted: np.ndarray, raws: list[bytes]
               ) -> tuple[str, np.ndarray]:
        """(JSON array text, which rows it holds) of rows[i] read from raws[i]."""
        buf = np.frombuffer(b"".join(raws), np.uint8)
        lengths = np.fromiter(map(len, raws), np.int64, len(raws))
        bases = np.cumsum(lengths) - lengths
        out = np.empty(self.bound(len(rows), len(buf)), np.uint8)
        rendered = np.empty(len(rows), np.bool_)
        end = render_array(rows, wanted, buf, bases, self.rules, self.rule_ends, out,
                           rendered)
        return out[:end].tobytes().decode("ascii"), rendered
