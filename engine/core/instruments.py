"""The instruments file: symbol, leverage and previous close of each security.

CSV with a header (schemas/instruments.schema.json): `symbol,leverage,prev_close` and
any further columns, which are kept for people and ignored here. Leverage may be
negative (inverse funds); an empty prev_close means none is known. A symbol absent from
the file trades with leverage 1 and no previous close.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import NamedTuple

from engine import codes
from engine.core.band import MAX_ABS_LEVERAGE
from engine.errors import ConfigError
from engine.prices import price_error, to_fixed_many


class Instrument(NamedTuple):  # a tuple: thousands are made at every start-up
    symbol: str
    leverage: int  # hundredths, signed: -300 is a -3x inverse fund
    prev_close: int  # fixed-point price, 0 = unknown


def load_instruments(path: str | Path) -> list[Instrument]:
    source = str(path)
    try:
        handle = open(path, newline="", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(source, "(file)", f"cannot be read ({exc.strerror})",
                          "give the path of an instruments CSV file") from exc
    with handle:
        reader = csv.reader(handle)
        header = [h.strip() for h in next(reader, [])]
        if "symbol" not in header:
            raise ConfigError(source, "line 1 (header)", f"has no 'symbol' column (found {header})",
                              "start the file with a header such as: symbol,leverage,prev_close")
        rows = [(reader.line_num, row) for row in reader if row]  # as csv.DictReader does
    column = {name: i for i, name in enumerate(header)}  # a repeated name: its last column

    def cells(name: str) -> list[str]:
        if name not in column:
            return [""] * len(rows)
        i = column[name]
        return [(row[i] if i < len(row) else "").strip() for _, row in rows]

    symbols, leverages, closes = cells("symbol"), cells("leverage"), cells("prev_close")
    # every number in two kernel calls; errors are then raised in file order
    lev_values, lev_reasons = to_fixed_many([t.lstrip("+-") for t in leverages], 2, 10**6)
    close_values, close_reasons = to_fixed_many(closes)
    seen: dict[str, int] = {}
    instruments = []
    for k, (line, _) in enumerate(rows):
        symbol = symbols[k]
        if not symbol:
            raise ConfigError(source, f"line {line} column symbol", "is empty",
                              "give the security's FIX Symbol (55)")
        if symbol in seen:
            raise ConfigError(source, f"line {line} column symbol",
                              f"{symbol!r} is listed again (first on line {seen[symbol]})",
                              "keep one row per symbol")
        seen[symbol] = line
        leverage = _leverage(source, line, leverages[k], int(lev_values[k]), int(lev_reasons[k]))
        prev_close = _prev_close(source, line, closes[k], int(close_values[k]),
                                 int(close_reasons[k]))
        instruments.append(Instrument(symbol, leverage, prev_close))
    return instruments


def _leverage(source: str, line: int, text: str, value: int, reason: int) -> int:
    """The leverage column's `text`, parsed (without its sign) to `value` or `reason`."""
    if not text:
        return 100
    if reason != codes.REASON_NONE:
        raise ConfigError(source, f"line {line} column leverage",
                          str(price_error(text.lstrip("+-"), reason, 2)),
                          "write the multiplier as a number such as 2, -3 or 1.5")
    if value == 0 or value > MAX_ABS_LEVERAGE:
        raise ConfigError(source, f"line {line} column leverage", f"{text!r} is out of range",
                          "use a multiplier between -9 and 9, not 0 (1 for ordinary stocks)")
    return -value if text.startswith("-") else value


def _prev_close(source: str, line: int, text: str, value: int, reason: int) -> int:
    if not text:
        return 0
    if reason != codes.REASON_NONE:
        raise ConfigError(source, f"line {line} column prev_close",
                          str(price_error(text, reason)),
                          "write the previous close as a positive decimal, e.g. 41.27")
    if value == 0:
        raise ConfigError(source, f"line {line} column prev_close", "is zero",
                          "leave it empty when no previous close is known")
    return value
