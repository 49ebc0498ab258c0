"""The instruments file: symbol, leverage and previous close of each security.

CSV with a header (schemas/instruments.schema.json): `symbol,leverage,prev_close` and
any further columns, which are kept for people and ignored here. Leverage may be
negative (inverse funds); an empty prev_close means none is known. A symbol absent from
the file trades with leverage 1 and no previous close.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from engine.core.band import MAX_ABS_LEVERAGE
from engine.errors import ConfigError
from engine.prices import PriceError, to_fixed


@dataclass(frozen=True)
class Instrument:
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
        reader = csv.DictReader(handle)
        header = [h.strip() for h in (reader.fieldnames or [])]
        if "symbol" not in header:
            raise ConfigError(source, "line 1 (header)", f"has no 'symbol' column (found {header})",
                              "start the file with a header such as: symbol,leverage,prev_close")
        reader.fieldnames = header
        seen: dict[str, int] = {}
        instruments = []
        for row in reader:
            line = reader.line_num
            symbol = (row.get("symbol") or "").strip()
            if not symbol:
                raise ConfigError(source, f"line {line} column symbol", "is empty",
                                  "give the security's FIX Symbol (55)")
            if symbol in seen:
                raise ConfigError(source, f"line {line} column symbol",
                                  f"{symbol!r} is listed again (first on line {seen[symbol]})",
                                  "keep one row per symbol")
            seen[symbol] = line
            instruments.append(Instrument(symbol, _leverage(source, line, row.get("leverage")),
                                          _prev_close(source, line, row.get("prev_close"))))
    return instruments


def _leverage(source: str, line: int, text: str | None) -> int:
    text = (text or "").strip()
    if not text:
        return 100
    negative = text.startswith("-")
    try:
        value = to_fixed(text.lstrip("+-"), decimals=2, limit=10**6)
    except PriceError as exc:
        raise ConfigError(source, f"line {line} column leverage", str(exc),
                          "write the multiplier as a number such as 2, -3 or 1.5") from exc
    if value == 0 or value > MAX_ABS_LEVERAGE:
        raise ConfigError(source, f"line {line} column leverage", f"{text!r} is out of range",
                          "use a multiplier between -9 and 9, not 0 (1 for ordinary stocks)")
    return -value if negative else value


def _prev_close(source: str, line: int, text: str | None) -> int:
    text = (text or "").strip()
    if not text:
        return 0
    try:
        value = to_fixed(text)
    except PriceError as exc:
        raise ConfigError(source, f"line {line} column prev_close", str(exc),
                          "write the previous close as a positive decimal, e.g. 41.27") from exc
    if value == 0:
        raise ConfigError(source, f"line {line} column prev_close", "is zero",
                          "leave it empty when no previous close is known")
    return value
