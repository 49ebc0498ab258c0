"""Exact decimal prices as fixed-point integers.

Every price is an int64 count of billionths (nano-dollars): FX (1.0850123), crypto
(43250.12345678) and sub-penny (0.0001234) prices are kept exactly. Thresholds are parts
per million, so a band test is `abs(P - R) * 1_000_000 >= ppm * R`: integer arithmetic
only (engine/core/band.py evaluates it without forming the products, which pass int64).
"""

from __future__ import annotations

import numpy as np

from engine import codes
from engine.jit import kernel

PRICE_DECIMALS = 9
PRICE_SCALE = 10**PRICE_DECIMALS
MAX_PRICE = 1_000_000 * PRICE_SCALE  # $1,000,000: above any US-listed share price
PPM = 1_000_000
PPM_DECIMALS = 6
# 10**k for k < 19: a scale-up by table, where LLVM made a vector loop of `value *= 10`.
POW10 = np.array([10**k for k in range(19)], np.int64)
# The largest value that 10**k scales without overflowing int64: a compare, not a division.
SAFE_TO_SCALE = np.array([(2**63 - 1) // 10**k for k in range(19)], np.int64)


@kernel
def parse_fixed(buf, start, end, decimals, limit):
    """Parse buf[start:end] (ASCII decimal) into an integer scaled by 10**decimals.

    Returns (value, reason) where reason is codes.REASON_NONE on success. Accepts
    "12", "12.5", ".5", "12." ; rejects signs, exponents and digits past `decimals`
    unless they are zeros (at 9: "10.5000000000" is exact, "10.1234567891" is not).
    `limit` must be below 2**63 - 9 (the last digit is added before the final check).
    """
    if start >= end:
        return 0, codes.REASON_MISSING_FIELD
    if buf[start] == 45:  # '-'
        return 0, codes.REASON_NOT_POSITIVE
    before_last_digit = limit // 10  # above it, one more digit passes the limit
    value = 0
    frac_digits = 0
    seen_dot = False
    seen_digit = False
    for i in range(start, end):
        c = buf[i]
        if c == 46:  # '.'
            if seen_dot:
                return 0, codes.REASON_NOT_A_NUMBER
            seen_dot = True
        elif 48 <= c <= 57:
            seen_digit = True
            if seen_dot:
                if frac_digits == decimals:
                    if c != 48:
                        return 0, codes.REASON_TOO_MANY_DECIMALS
                    continue
                frac_digits += 1
            if value > before_last_digit:  # digits only add: it stays past the limit
                return 0, codes.REASON_TOO_LARGE
            value = value * 10 + (c - 48)
        else:
            return 0, codes.REASON_NOT_A_NUMBER
    if not seen_digit:
        return 0, codes.REASON_NOT_A_NUMBER
    missing = decimals - frac_digits
    if missing >= POW10.shape[0]:  # 10**missing alone is past int64
        return (0, codes.REASON_NONE) if value == 0 else (0, codes.REASON_TOO_LARGE)
    if value > SAFE_TO_SCALE[missing]:  # the scale-up would overflow int64
        return 0, codes.REASON_TOO_LARGE
    value *= POW10[missing]
    if value > limit:
        return 0, codes.REASON_TOO_LARGE
    return value, codes.REASON_NONE


class PriceError(ValueError):
    """A price or percentage given by a person (CLI, config) is not a usable decimal."""


_WHY = {
    codes.REASON_MISSING_FIELD: "it is empty",
    codes.REASON_NOT_POSITIVE: "it is negative",
    codes.REASON_NOT_A_NUMBER: "it is not a plain decimal number",
    codes.REASON_TOO_MANY_DECIMALS: "it has more decimal places than are kept",
    codes.REASON_TOO_LARGE: "it is larger than the supported maximum",
}


def to_fixed(text: str, decimals: int = PRICE_DECIMALS, limit: int = MAX_PRICE) -> int:
    """Decimal text to a fixed-point int, with the same parser the decoder uses."""
    values, reasons = to_fixed_many([text], decimals, limit)
    if reasons[0] != codes.REASON_NONE:
        raise price_error(text, int(reasons[0]), decimals)
    return int(values[0])


def to_fixed_many(texts: list[str], decimals: int = PRICE_DECIMALS,
                  limit: int = MAX_PRICE) -> tuple[np.ndarray, np.ndarray]:
    """(values, reasons) of many decimal texts in one kernel call (a call from Python costs
    more than the parse: instruments files have thousands of prices). reasons[i] is
    codes.REASON_NONE where texts[i] is usable; price_error says why another is not."""
    raw = [text.strip().encode("ascii", "replace") for text in texts]
    ends = np.cumsum([len(r) for r in raw], dtype=np.int64)
    values = np.zeros(len(raw), np.int64)
    reasons = np.zeros(len(raw), np.int64)
    _parse_spans(np.frombuffer(b"".join(raw), np.uint8), ends, decimals, limit, values, reasons)
    return values, reasons


@kernel
def _parse_spans(buf, ends, decimals, limit, values, reasons):
    """parse_fixed of each span buf[ends[i - 1]:ends[i]] (the first starts at 0)."""
    start = 0
    for i in range(ends.shape[0]):
        values[i], reasons[i] = parse_fixed(buf, start, ends[i], decimals, limit)
        start = ends[i]


def price_error(text: str, reason: int, decimals: int = PRICE_DECIMALS) -> PriceError:
    return PriceError(f"{text!r}: {_WHY[reason]} (at most {decimals} decimal places)")


def format_fixed(value: int, decimals: int = PRICE_DECIMALS, keep: int = 0) -> str:
    """Fixed-point int to exact decimal text with at least `keep` decimals.

    format_fixed(61 * 10**9) == "61", format_fixed(61 * 10**9, keep=2) == "61.00",
    format_fixed(1) == "0.000000001": never rounded.
    """
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), 10**decimals)
    digits = f"{frac:0{decimals}d}".rstrip("0").ljust(keep, "0")
    return f"{sign}{whole}.{digits}" if digits else f"{sign}{whole}"


def format_price(value: int, decimals: int = PRICE_DECIMALS) -> str:
    """A price as people write it: exact, at least cents ("94.00", "0.0051")."""
    return format_fixed(value, decimals, keep=2)


def format_ratio(numerator: int, denominator: int, decimals: int) -> str:
    """An exact fraction rounded half-even to `decimals` places, for display only."""
    scaled, rem = divmod(abs(numerator) * 10**decimals, denominator)
    if rem * 2 > denominator or (rem * 2 == denominator and scaled % 2):
        scaled += 1
    text = format_fixed(scaled, decimals, keep=decimals)
    return "-" + text if numerator < 0 and scaled else text
