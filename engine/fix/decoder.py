"""Raw FIX bytes to flat arrays, in numba: the one decoder of live and replay.

Input is any mix of QuickFIX FileLog lines (`<timestamp> : <message>`), raw SOH streams
(messages back to back, no newlines) and `|`-delimited text. A *unit* is one FIX
message, or one line holding none (garbage); units are numbered from 1 in input order,
which is the line number of a one-message-per-line log and the message number of a raw
stream. Each unit becomes one row of `units` (columns U_*): its kind, the byte spans of
the fields the core needs, and the parsed price and time. Nothing is validated against a
dictionary here; CheckSum and BodyLength are not checked (vendor and ticket logs get them
wrong), exactly like QuickFIX with ValidateLengthAndChecksum=N.
"""

from __future__ import annotations

import numpy as np

from engine import codes
from engine.jit import WINDOW, eq_masks, inline_kernel, kernel, load_u64, trailing_zeros
from engine.prices import MAX_PRICE, POW10, PRICE_DECIMALS, parse_fixed

SOH = 1
PIPE = 124
NEWLINE = 10
MAX_QTY = 10**9 * 10**PRICE_DECIMALS  # a billion shares, at the prices' fixed point
MAX_YEAR = 2261  # ns since the epoch overflow int64 in April 2262

# Columns of a unit row.
U_KIND = 0
U_LINE = 1
U_MSG_OFF = 2
U_MSG_LEN = 3
U_REASON = 4
U_BAD_TAG = 5
U_BAD_OFF = 6
U_BAD_LEN = 7
U_PRICE = 8
U_SIDE = 9
U_AGGRESSOR = 10  # 1 = 1057=Y, 0 = 1057=N, -1 = absent
U_POSSDUP = 11
U_TIME_NS = 12
# (offset, length) pairs of field values; length -1 = field absent.
U_EXEC = 13
U_SYMBOL = 15
U_QTY = 17
U_TIME = 19
U_MATCH = 21
U_ORDER = 23
U_EXEC_REF = 25
U_MARKET = 27
U_CLORD = 29
U_PRICE_TEXT = 31
U_MSGTYPE = 33
U_EXECTYPE = 35
U_TRANSTYPE = 37
U_LIQUIDITY = 39  # LastLiquidityInd 851 (2 = removed liquidity: the aggressor)
U_BEGIN = 41  # BeginString 8: which FIX version's enums apply
U_SENDING = 43  # SendingTime 52: the clock of a fill without TransactTime
U_SKIPPED = 45  # scratch: the spans of fields the core does not need land here
N_UNIT_COLS = 47

MAX_UNIT_BYTES = 1 << 20  # a line or message longer than this is cut into a rejected unit


@kernel
def _at(buf, i):
    """buf[i] for an i known to be >= 0: an unsigned index spares numba's negative-index
    fix-up on every byte read (about a tenth of the decoder's time)."""
    return buf[np.uint64(i)]


# What the decoder does with a field, by tag: keep its span in column >= 0 (U_*), or one
# of the actions below. Any other tag is skipped: its span is stored too, in the scratch
# columns, so that keeping or skipping a field takes no branch. A table, not a chain of
# compares.
_SKIP = U_SKIPPED
_SIDE = -2
_AGGRESSOR = -3
_POSSDUP = -4
_BEGIN_STRING = -5  # 8: skipped, but "8=FIX" after the first field begins a message
_CHECKSUM = -6  # 10: skipped, and ends the message
_UNKNOWN = -7  # from _short_tag_action: not a plain number, read it digit by digit
_SPAN_TAGS = ((17, U_EXEC), (55, U_SYMBOL), (32, U_QTY), (60, U_TIME), (880, U_MATCH),
              (37, U_ORDER), (19, U_EXEC_REF), (30, U_MARKET), (11, U_CLORD),
              (31, U_PRICE_TEXT), (35, U_MSGTYPE), (150, U_EXECTYPE), (20, U_TRANSTYPE),
              (851, U_LIQUIDITY), (52, U_SENDING))
_TAG_ACTION = np.full(1058, _SKIP, np.int64)
for _tag, _col in _SPAN_TAGS:
    _TAG_ACTION[_tag] = _col
_TAG_ACTION[54] = _SIDE
_TAG_ACTION[1057] = _AGGRESSOR
_TAG_ACTION[43] = _POSSDUP  # PossDupFlag
_TAG_ACTION[97] = _POSSDUP  # PossResend
_TAG_ACTION[8] = _BEGIN_STRING
_TAG_ACTION[10] = _CHECKSUM


@kernel
def _tag_action(tag):
    return _TAG_ACTION[tag] if tag < _TAG_ACTION.shape[0] else _SKIP


# The same table keyed by a tag's text (1-7 digits, no leading zero: one number has one
# such text) read as one little-endian word, in 64 slots chosen by a multiplicative hash: a field's action is
# then a load, a multiply and a compare instead of a digit loop. The multiplier is the
# first (of a fixed sequence) that gives every keyed tag a slot of its own.
def _tag_text_key(tag: int) -> int:
    return int.from_bytes(str(tag).encode(), "little")


def _perfect_multiplier(keys: list[int]) -> int:
    candidate = 0x9E3779B97F4A7C15
    while len({((key * candidate) % 2**64) >> 58 for key in keys}) < len(keys):
        candidate = (candidate * 6364136223846793005 + 1442695040888963407) % 2**64 | 1
    return candidate


_KEYED_TAGS = [int(tag) for tag in np.nonzero(_TAG_ACTION != _SKIP)[0]]
_KEY_MULTIPLIER = np.uint64(_perfect_multiplier([_tag_text_key(t) for t in _KEYED_TAGS]))
_KEY_TEXT = np.zeros(64, np.uint64)
_KEY_ACTION = np.full(64, _SKIP, np.int64)
for _tag in _KEYED_TAGS:
    _slot = ((_tag_text_key(_tag) * int(_KEY_MULTIPLIER)) % 2**64) >> 58
    _KEY_TEXT[_slot] = _tag_text_key(_tag)
    _KEY_ACTION[_slot] = _TAG_ACTION[_tag]
_ZEROS = np.uint64(0x3030303030303030)  # '0' in every byte
_HIGH_NIBBLES = np.uint64(0xF0F0F0F0F0F0F0F0)
_SIXES = np.uint64(0x0606060606060606)


@inline_kernel
def _short_tag_action(buf, q, length):
    """The action of the tag buf[q:q + length] for 0 < length < 8 (and q + 8 <= len(buf)),
    or _UNKNOWN when those bytes are not a number without leading zero."""
    mask = (np.uint64(1) << np.uint64(8 * length)) - np.uint64(1)
    text = load_u64(buf, q) & mask
    zeros = _ZEROS & mask
    # each byte 0x30-0x3F, and none above 0x39 (+6 carries into no other byte then)
    if ((text & _HIGH_NIBBLES) ^ zeros) | (((text + (_SIXES & mask)) & _HIGH_NIBBLES) ^ zeros) \
            or (text & np.uint64(0xFF)) == np.uint64(48):
        return _UNKNOWN
    slot = (text * _KEY_MULTIPLIER) >> np.uint64(58)
    return _KEY_ACTION[slot] if _KEY_TEXT[slot] == text else _SKIP


@kernel
def _digits(buf, start, count):
    value = 0
    for i in range(start, start + count):
        c = buf[i]
        if c < 48 or c > 57:
            return -1
        value = value * 10 + (c - 48)
    return value


@kernel
def _days_from_civil(year, month, day):
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    if month <= 2:
        year -= 1
    era = (year if year >= 0 else year - 399) // 400
    yoe = year - era * 400
    mp = (month + 9) % 12
    doy = (153 * mp + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


@kernel
def parse_utc_timestamp(buf, start, end):
    """FIX UTCTimestamp YYYYMMDD-HH:MM:SS[.f{1,9}] to ns since the epoch; -1 if invalid."""
    n = end - start
    if n < 17 or buf[start + 8] != 45 or buf[start + 11] != 58 or buf[start + 14] != 58:
        return -1
    year = _digits(buf, start, 4)
    month = _digits(buf, start + 4, 2)
    day = _digits(buf, start + 6, 2)
    hour = _digits(buf, start + 9, 2)
    minute = _digits(buf, start + 12, 2)
    second = _digits(buf, start + 15, 2)
    if year < 1970 or year > MAX_YEAR or month < 1 or month > 12 or day < 1 or day > 31:
        return -1
    if hour < 0 or hour > 23 or minute < 0 or minute > 59 or second < 0 or second > 60:
        return -1
    frac_ns = 0
    if n > 17:
        digits = n - 18
        if buf[start + 17] != 46 or digits < 1 or digits > 9:
            return -1
        frac = _digits(buf, start + 18, digits)
        if frac < 0:
            return -1
        frac_ns = frac * POW10[9 - digits]
    days = _days_from_civil(year, month, day)
    return ((days * 24 + hour) * 60 + minute) * 60_000_000_000 + second * 1_000_000_000 + frac_ns


@kernel
def _reject(row, reason, tag, off, length):
    if row[U_REASON] == codes.REASON_NONE:  # keep the first fault found
        row[U_KIND] = codes.UNIT_BAD
        row[U_REASON] = reason
        row[U_BAD_TAG] = tag
        row[U_BAD_OFF] = off
        row[U_BAD_LEN] = length


@kernel
def _first_char(buf, row, col):
    if row[col + 1] <= 0:
        return 0
    return buf[row[col]]


@kernel
def _positive(buf, row, col, tag, limit):
    """The fixed-point value of the field at `col`; rejects the unit unless it is > 0."""
    off, length = row[col], row[col + 1]
    if length < 0:
        _reject(row, codes.REASON_MISSING_FIELD, tag, row[U_MSG_OFF], 0)
        return 0
    value, why = parse_fixed(buf, off, off + length, PRICE_DECIMALS, limit)
    if why == codes.REASON_NONE and value == 0:
        why = codes.REASON_NOT_POSITIVE
    if why != codes.REASON_NONE:
        _reject(row, why, tag, off, length)
    return value


@kernel
def _classify(buf, row):
    """Decide the unit's kind from 35/150/20 and check the fields that kind needs."""
    if row[U_MSGTYPE + 1] <= 0:
        _reject(row, codes.REASON_NO_MSGTYPE, 35, row[U_MSG_OFF], 0)
        return
    if row[U_MSGTYPE + 1] != 1 or buf[row[U_MSGTYPE]] != 56:  # not an ExecutionReport
        row[U_KIND] = codes.UNIT_OTHER
        return
    exec_type = _first_char(buf, row, U_EXECTYPE)
    trans_type = _first_char(buf, row, U_TRANSTYPE)
    if trans_type == 49 or (trans_type == 0 and exec_type == 72):  # 20=1 or 150=H
        kind = codes.UNIT_VENUE_BUST
    elif trans_type == 50 or (trans_type == 0 and exec_type == 71):  # 20=2 or 150=G
        kind = codes.UNIT_VENUE_CORRECT
    elif exec_type == 70 or ((exec_type == 49 or exec_type == 50) and trans_type in (0, 48)):
        kind = codes.UNIT_TRADE  # 150=F, or FIX.4.2 150=1/2 with 20=0
    else:
        row[U_KIND] = codes.UNIT_OTHER
        return
    row[U_KIND] = kind

    if row[U_SYMBOL + 1] <= 0:
        _reject(row, codes.REASON_MISSING_FIELD, 55, row[U_MSG_OFF], 0)
    if kind != codes.UNIT_TRADE:
        if row[U_EXEC_REF + 1] <= 0:
            _reject(row, codes.REASON_NO_REF_ID, 19, row[U_MSG_OFF], 0)
    if kind == codes.UNIT_VENUE_BUST:
        return

    if kind == codes.UNIT_TRADE:
        if row[U_EXEC + 1] <= 0:
            _reject(row, codes.REASON_MISSING_FIELD, 17, row[U_MSG_OFF], 0)
    row[U_PRICE] = _positive(buf, row, U_PRICE_TEXT, 31, MAX_PRICE)
    if kind != codes.UNIT_TRADE:
        return

    _positive(buf, row, U_QTY, 32, MAX_QTY)
    if row[U_SIDE] == 0:
        _reject(row, codes.REASON_MISSING_FIELD, 54, row[U_MSG_OFF], 0)
    off, length = row[U_TIME], row[U_TIME + 1]
    if length < 0:
        _reject(row, codes.REASON_MISSING_FIELD, 60, row[U_MSG_OFF], 0)
    else:
        row[U_TIME_NS] = parse_utc_timestamp(buf, off, off + length)
        if row[U_TIME_NS] < 0:
            _reject(row, codes.REASON_BAD_TIME, 60, off, length)


@kernel
def _is_fix_start(buf, p, n):
    return (p + 4 < n and _at(buf, p) == 56 and _at(buf, p + 1) == 61
            and _at(buf, p + 2) == 70 and _at(buf, p + 3) == 73
            and _at(buf, p + 4) == 88)  # "8=FIX"


_ONES = np.uint64(0x0101010101010101)
_HIGHS = np.uint64(0x8080808080808080)


@kernel
def _find(buf, i, n, a, b, c):
    """First index in [i, n) of byte a, b or c, else max(i, n); eight bytes per step."""
    pa = _ONES * np.uint64(a)
    pb = _ONES * np.uint64(b)
    pc = _ONES * np.uint64(c)
    while i + 8 <= n:
        w = load_u64(buf, i)
        hits = _zero_bytes(w ^ pa) | _zero_bytes(w ^ pb) | _zero_bytes(w ^ pc)
        if hits != 0:
            return i + np.int64(trailing_zeros(hits) >> np.uint64(3))
        i += 8
    while i < n and _at(buf, i) != a and _at(buf, i) != b and _at(buf, i) != c:
        i += 1
    return i


@kernel
def _zero_bytes(x):
    """The high bit of each zero byte of x; only the lowest is exact (borrows), which is all
    _find uses."""
    return (x - _ONES) & ~x & _HIGHS


@inline_kernel
def _window(buf, base, n, delim):
    """Bitmasks of buf[base:base + WINDOW] for base <= n (bit k: byte base + k): '=',
    "ends" (the delimiter or a newline) and the delimiter alone (none when delim is 0).
    No bits from n on, except bit n - base of ends when n is in the window: a sentinel,
    so that a scan stops at n."""
    if base + WINDOW <= buf.shape[0]:
        eq, at_delim, at_newline = eq_masks(buf, base, 61, delim, NEWLINE)
    else:  # the last bytes of the array: a vector load would read past its end
        eq, at_delim, at_newline = _window_bytewise(buf, base, n, delim)
    ends = at_delim | at_newline
    if delim == 0:
        at_delim = np.uint64(0)
    if n - base < WINDOW:
        below_n = (np.uint64(1) << np.uint64(n - base)) - np.uint64(1)
        eq &= below_n
        at_delim &= below_n
        ends = (ends & below_n) | (np.uint64(1) << np.uint64(n - base))
    return eq, ends, at_delim


@kernel
def _window_bytewise(buf, base, n, delim):
    """eq_masks of the bytes before n, a byte at a time (kept out of line: rare)."""
    eq = np.uint64(0)
    at_delim = np.uint64(0)
    at_newline = np.uint64(0)
    for k in range(min(n - base, WINDOW)):
        c = _at(buf, base + k)
        bit = np.uint64(1) << np.uint64(k)
        if c == 61:
            eq |= bit
        elif c == delim:
            at_delim |= bit
        elif c == NEWLINE:
            at_newline |= bit
    return eq, at_delim, at_newline


@kernel
def _message_start(buf, p, n):
    """First index >= p where "8=FIX" begins or a line ends, else n."""
    while p < n and _at(buf, p) != NEWLINE and not _is_fix_start(buf, p, n):
        # Nothing before the next '=' but the byte just ahead of it can begin "8=FIX".
        j = _find(buf, p + 1, n, 61, NEWLINE, NEWLINE)
        p = j - 1 if (j < n and _at(buf, j) == 61 and j - 1 > p) else j
    return p


@kernel
def decode_next(buf, pos, n, final, start_of_line, line, row):
    """Decode the unit that begins at or after buf[pos] (after blank space) into `row`.

    Returns (decoded, position after it, start_of_line). Not decoded: nothing left, or
    without `final` a unit that reaches the end of the buffer (its bytes are left for the
    next call); the position returned is then past the blank space skipped.
    """
    while pos < n and (buf[pos] == NEWLINE or buf[pos] == 13 or buf[pos] == 32):
        if buf[pos] == NEWLINE:
            start_of_line = True
        pos += 1
    if pos >= n:
        return False, pos, start_of_line
    start = pos
    p = _message_start(buf, pos, n)
    if p >= n and not final and n - start < MAX_UNIT_BYTES:
        return False, pos, start_of_line  # the line may go on in the next chunk
    row[:] = 0
    for col in range(U_EXEC, N_UNIT_COLS, 2):
        row[col] = start
        row[col + 1] = -1
    row[U_AGGRESSOR] = -1
    row[U_LINE] = line
    if p >= n or buf[p] == NEWLINE or (p > start and not start_of_line):
        # a line with no FIX message in it, or junk between two messages
        row[U_MSG_OFF] = start
        row[U_MSG_LEN] = p - start
        _reject(row, codes.REASON_NO_FIX, 0, start, p - start)
        return True, p, start_of_line

    msg = p
    row[U_MSG_OFF] = msg
    q = _find(buf, msg, n, SOH, PIPE, NEWLINE)
    delim = buf[q] if q < n and buf[q] != NEWLINE else 0
    # Walk the fields.
    complete = False
    need_more = False
    open_ended = not final and n - start < MAX_UNIT_BYTES
    q = msg
    # Field boundaries come from the bitmasks of a window of WINDOW bytes at `base` (see
    # _window): a shift and a trailing-zero count each, where a scan byte by byte (or
    # word by word) put a load and its compares between one field and the next.
    base = q - WINDOW  # no window loaded yet
    eq = ends = delims = np.uint64(0)
    while q < n and _at(buf, q) != NEWLINE:
        # Fast path, a field "tag=value" whose end is in the loaded window: the value
        # ends at the first end at or after q, and q of the next field follows from the
        # masks alone, so one field's walk waits on the next by a few register operations
        # instead of a scan and a byte load. Otherwise the scans below.
        t = e = q
        step = 0
        fast = False
        rel = q - base
        if rel < WINDOW:
            rest = ends >> np.uint64(rel)
            if rest != 0:
                e = q + np.int64(trailing_zeros(rest))
                t = q + np.int64(trailing_zeros((ends | eq) >> np.uint64(rel)))
                fast = t < e  # an '=' before the end
                if fast:  # skip the delimiter (not a newline, nor n)
                    step = np.int64((delims >> np.uint64(e - base)) & np.uint64(1))
        if not fast:
            i = q  # the tag ends at the first '=', delimiter or newline (or n)
            while True:
                if i >= base + WINDOW:
                    base = i
                    eq, ends, delims = _window(buf, base, n, delim)
                hits = (ends | eq) >> np.uint64(i - base)
                if hits != 0:  # certain when n is in the window (the sentinel)
                    break
                i = base + WINDOW
            t = i + np.int64(trailing_zeros(hits))
        action = _UNKNOWN
        if fast and t - q < 8 and q + 8 <= buf.shape[0] and t > q:
            action = _short_tag_action(buf, q, t - q)  # buf[t] is '=': a good tag
        bad = False
        if action == _UNKNOWN:
            tag = 0
            for k in range(q, t):
                c = _at(buf, k)
                if 48 <= c <= 57 and tag < 100_000_000:
                    tag = tag * 10 + (c - 48)
                else:
                    tag = -1_000_000_000_000
            bad = t >= n or _at(buf, t) != 61 or tag <= 0
            action = _tag_action(tag) if tag > 0 else _SKIP
        if action == _BEGIN_STRING and q > msg and _is_fix_start(buf, q, n):
            complete = True  # next message begins: this one had no CheckSum
            break
        v = t + 1
        if not fast:
            e = v  # the value ends at the first delimiter or newline (or n)
            while e < n:
                if e >= base + WINDOW:
                    base = e
                    eq, ends, delims = _window(buf, base, n, delim)
                hits = ends >> np.uint64(e - base)
                if hits != 0:
                    e += np.int64(trailing_zeros(hits))
                    break
                e = base + WINDOW
            if e < n and _at(buf, e) == delim and delim != 0:
                step = 1
        if e >= n and open_ended:
            need_more = True  # the field may go on in the next chunk
            break
        if bad:
            _reject(row, codes.REASON_BAD_TAG, 0, q, e - q)
        elif action >= 0:
            row[action] = v
            row[action + 1] = e - v
        elif action == _SIDE:
            if e - v == 1:
                row[U_SIDE] = _at(buf, v)
            else:
                _reject(row, codes.REASON_BAD_SIDE, 54, v, e - v)
        elif action == _AGGRESSOR:
            row[U_AGGRESSOR] = 1 if (e - v == 1 and _at(buf, v) == 89) else 0
        elif action == _POSSDUP:
            if e - v == 1 and _at(buf, v) == 89:
                row[U_POSSDUP] = 1
        elif action == _BEGIN_STRING and q == msg:
            row[U_BEGIN] = v
            row[U_BEGIN + 1] = e - v
        q = e + step
        if action == _CHECKSUM:
            complete = True
            break
    if need_more or (not complete and q >= n and open_ended):
        return False, pos, start_of_line  # the message continues in the next chunk
    if not complete:
        if delim == 0:
            _reject(row, codes.REASON_UNTERMINATED, 0, msg, q - msg)
    row[U_MSG_LEN] = q - msg
    if row[U_KIND] != codes.UNIT_BAD:
        _classify(buf, row)
    return True, q, False


@kernel
def decode(buf, pos, n, final, first_line, at_line_start, units):
    """Decode complete units of buf[pos:n] into `units` (offsets are into buf).

    Returns (units written, position after the last one). Without `final`, a unit that
    reaches the end of the buffer is left for the next call (its bytes are not consumed).
    `at_line_start` says whether buf[pos] begins a line: text before a message is a
    FileLog prefix only there; between two messages on one line it is junk.
    """
    count = 0
    start_of_line = at_line_start
    while count < units.shape[0]:
        decoded, pos, start_of_line = decode_next(buf, pos, n, final, start_of_line,
                                                  first_line + count, units[count])
        if not decoded:
            break
        count += 1
    return count, pos
