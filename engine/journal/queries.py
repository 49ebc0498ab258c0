"""What `ceguard journal` reads: recent decisions, busts and gap fills, and counts, of the
whole journal or of one trading day (a range of fill numbers, engine/journal/days.py)."""

from __future__ import annotations

import json
import sqlite3

from engine.journal.days import Day
from engine.journal.store import BustRow


def _in_day(day: Day | None, column: str) -> tuple[str, tuple]:
    return day.where(column) if day is not None else ("1", ())


def recent_decisions(db: sqlite3.Connection, limit: int, verdicts: tuple[str, ...] | None,
                     day: Day | None = None) -> list[tuple[int, str, dict]]:
    where, args = _in_day(day, "fill_seq")
    if verdicts:
        where += f" AND verdict IN ({','.join('?' * len(verdicts))})"
        args += tuple(verdicts)
    rows = db.execute(f"SELECT fill_seq, decided_at, record FROM decisions WHERE {where} "
                      "ORDER BY fill_seq DESC LIMIT ?", (*args, limit))
    return [(seq, at, json.loads(record)) for seq, at, record in rows][::-1]


def recent_busts(db: sqlite3.Connection, limit: int, day: Day | None = None
                 ) -> list[tuple[str, BustRow]]:
    where, args = _in_day(day, "fill_seq")
    rows = db.execute(
        "SELECT updated_at, bust_exec_id, session, exec_id, fill_seq, recipient, firm, "
        f"status, detail FROM busts WHERE {where} ORDER BY fill_seq DESC, session LIMIT ?",
        (*args, limit))
    return [(row[0], BustRow(*row[1:])) for row in rows][::-1]


def gap_fills(db: sqlite3.Connection, limit: int) -> list[tuple[str, str, int, int, int, str]]:
    """(received_at, session, first, last, possibly_lost, requested), oldest first."""
    rows = db.execute(
        "SELECT received_at, session, first_seq, last_seq, possibly_lost, requested "
        "FROM gap_fills ORDER BY rowid DESC LIMIT ?", (limit,)).fetchall()
    return rows[::-1]


def counts(db: sqlite3.Connection, day: Day | None = None) -> dict[str, int]:
    where, args = _in_day(day, "seq")
    (fills,) = db.execute(f"SELECT COUNT(*) FROM fills WHERE {where}", args).fetchone()
    result = {"fills": fills}
    where, args = _in_day(day, "fill_seq")
    for verdict, n in db.execute(
            f"SELECT verdict, COUNT(*) FROM decisions WHERE {where} GROUP BY verdict", args):
        result[verdict] = n
    for status, n in db.execute(
            f"SELECT status, COUNT(*) FROM busts WHERE {where} GROUP BY status", args):
        result[f"busts_{status}"] = n
    if day is None:  # gap fills are the sessions', not a day's
        (lost,) = db.execute("SELECT COALESCE(SUM(possibly_lost), 0) FROM gap_fills"
                             ).fetchone()
        if lost:
            result["fills_possibly_lost"] = lost
    return result
