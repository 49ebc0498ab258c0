"""The journal's trading days: which fills belong to which day, and what each day began with.

Fills are numbered across days (`fills.seq`), so a decision, a bust or a review case names
its fill without a date. Table `days` cuts the numbering into trading days: a day holds
the fills from its `first_seq` up to the next day's. With each day the closes its
rollover carried are kept (`closes`: the symbols' hash keys and previous closes, int64
triples), so a restart rebuilds the core from the current day alone: the instruments,
then these closes, then the day's fills (engine/live/engine.py rebuild). A journal
written before days existed is one day, from its first fill.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date

import numpy as np

SCHEMA = """
CREATE TABLE IF NOT EXISTS days (
    day TEXT PRIMARY KEY,             -- the trading day, YYYY-MM-DD
    first_seq INTEGER NOT NULL,       -- its first fill's seq (later fills up to the next day's)
    opened_at TEXT NOT NULL,          -- UTC, ISO 8601
    closes BLOB                       -- int64 (h1, h2, close) per symbol; NULL: the instruments'
);
"""


@dataclass(frozen=True)
class Day:
    day: date
    first_seq: int
    end_seq: int | None  # the next day's first_seq; None for the current day

    def where(self, column: str) -> tuple[str, tuple]:
        """An SQL condition limiting `column` (a fill's seq) to this day, its parameters."""
        if self.end_seq is None:
            return f"{column} >= ?", (self.first_seq,)
        return f"{column} >= ? AND {column} < ?", (self.first_seq, self.end_seq)


def current(db: sqlite3.Connection) -> tuple[date, int, np.ndarray | None] | None:
    """(day, first_seq, closes as keys (n, 2) and values (n,), or None) of the newest day."""
    row = db.execute("SELECT day, first_seq, closes FROM days ORDER BY first_seq DESC, day DESC "
                     "LIMIT 1").fetchone()
    if row is None:
        return None
    day, first_seq, closes = row
    return date.fromisoformat(day), first_seq, _unpack(closes)


def open_day(db: sqlite3.Connection, day: date, first_seq: int, at: str,
             closes: tuple[np.ndarray, np.ndarray] | None) -> None:
    blob = None
    if closes is not None:
        keys, values = closes
        blob = np.column_stack([keys, values]).astype(np.int64).tobytes()
    db.execute("INSERT OR REPLACE INTO days VALUES (?, ?, ?, ?)",
               (day.isoformat(), first_seq, at, blob))


def all_days(db: sqlite3.Connection) -> list[Day]:
    """Every day the journal holds, oldest first."""
    rows = db.execute("SELECT day, first_seq FROM days ORDER BY first_seq, day").fetchall()
    days = []
    for i, (day, first_seq) in enumerate(rows):
        end = rows[i + 1][1] if i + 1 < len(rows) else None
        days.append(Day(date.fromisoformat(day), first_seq, end))
    return days


def find(db: sqlite3.Connection, day: date) -> Day | None:
    for held in all_days(db):
        if held.day == day:
            return held
    return None


def _unpack(blob: bytes | None) -> tuple[np.ndarray, np.ndarray] | None:
    if blob is None:
        return None
    table = np.frombuffer(blob, np.int64).reshape(-1, 3)
    return table[:, :2].copy(), table[:, 2].copy()
