"""Which review case a flagged execution belongs in: its series' case, and the multi-stock
event it forms with other securities' candidates.

A series (engine/core/series.py), as the desk can tell it from a fill and its record:
executions of one symbol at one TransactTime (one matching event: a sweep whose venue
sends no AggressorIndicator, with its passive sides), of one aggressing order (1057=Y, or
851=2 where 1057 is absent), or of one TrdMatchID (880). Executions sharing any of these
keys are one case. Two independent erroneous orders in one symbol at the very same
TransactTime are therefore one case too (the analyst sees both).

An event forms, whatever the settle window, once the candidates in active surveillance
cases span at least the rulebook's smallest multi-stock row of securities within its
window by TransactTime: those cases gather into one event case, and later candidates
within the window of the event's earliest and latest join it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from engine.fix.busts import fields_of


def series_keys(record: dict, raw: bytes) -> list[str]:
    """The keys that join a flagged execution to the others of its series."""
    symbol = record["symbol"]
    keys = [f"time {symbol} {record['transact_time']}"]
    if record.get("trade_id"):
        keys.append(f"match {symbol} {record['trade_id']}")
    fields = fields_of(raw)
    aggressor = fields.get(1057)
    if fields.get(37) and (aggressor == "Y" or (aggressor is None and fields.get(851) == "2")):
        keys.append(f"order {symbol} {fields[37]}")
    return keys


NS = 10**9


def nanoseconds(transact_time: str) -> int:
    """Unix nanoseconds of a record's transact_time (2026-01-15T15:00:00.123456789Z)."""
    whole, _, fraction = transact_time.rstrip("Z").partition(".")
    base = int(datetime.fromisoformat(whole + "+00:00").timestamp()) * NS
    return base + int((fraction + "000000000")[:9])


@dataclass(frozen=True)
class Candidate:
    """An execution in an active case that surveillance opened."""

    case_id: int
    kind: str  # 'trade' or 'event'
    symbol: str
    at: int  # TransactTime, Unix nanoseconds


def candidates(rows: list[tuple[int, str, str, str]]) -> list[Candidate]:
    return [Candidate(case_id, kind, symbol, nanoseconds(at))
            for case_id, kind, symbol, at in rows]


def fitting_event(found: list[Candidate], at: int, window: int) -> int | None:
    """The oldest active event case that a candidate at `at` keeps within `window` (ns)
    from its earliest to its latest candidate."""
    spans: dict[int, tuple[int, int]] = {}
    for c in found:
        if c.kind == "event":
            low, high = spans.get(c.case_id, (c.at, c.at))
            spans[c.case_id] = (min(low, c.at), max(high, c.at))
    for case_id in sorted(spans):
        low, high = spans[case_id]
        if high - window <= at <= low + window:
            return case_id
    return None


def forming_event(found: list[Candidate], at: int, window: int, min_securities: int
                  ) -> list[int]:
    """The trade cases whose candidates, with the one at `at`, span `min_securities` or
    more securities within `window` (ns): their ids, or [] when no event forms."""
    trades = [c for c in found if c.kind == "trade"]
    best: set[str] = set()
    best_cases: set[int] = set()
    for start in sorted({c.at for c in trades if at - window <= c.at <= at}):
        inside = [c for c in trades if start <= c.at <= start + window]
        symbols = {c.symbol for c in inside}
        if len(symbols) > len(best):
            best, best_cases = symbols, {c.case_id for c in inside}
    return sorted(best_cases) if len(best) >= min_securities else []
