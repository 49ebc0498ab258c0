"""Retention: old trading days leave the journal for the archive, old archives are deleted.

Run at each rollover (and at start-up) under the journal's lock. `journal_days` trading
days stay in the journal, the current one included; an older day is archived
(engine/journal/archive.py) and its rows deleted, unless it is still needed: a bust of one
of its fills not yet delivered (pending, queued or failed: the start-up and the firms'
logons still act on it) or a review case on one of its fills not yet final. Such a day
stays, and is tried again at the next rollover. An archived day is deleted
`archive_days` calendar days after it (its journal file and its FIX message logs).
"""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from engine.journal import archive, days
from engine.journal.days import Day
from engine.journal.store import SCHEMA, Journal

UNDELIVERED = ("pending", "queued", "failed")
CASE_DONE = ("final", "merged", "dissolved")  # engine/review/cases.py: nothing left to do


@dataclass
class RetentionRun:
    archived: list[date] = field(default_factory=list)
    kept: dict[date, str] = field(default_factory=dict)  # day: why it was not archived
    deleted: list[date] = field(default_factory=list)
    fills_archived: int = 0


def run(journal: Journal, journal_days: int, archive_days: int, folder: Path,
        today: date) -> RetentionRun:
    """Archive what is past `journal_days`, delete archives past `archive_days`."""
    result = RetentionRun()
    db = journal.connection()
    if journal_days > 0:
        for day in days.all_days(db)[:-journal_days]:
            why = still_needed(db, day)
            if why is not None:
                result.kept[day.day] = why
                continue
            archive.write(db, SCHEMA, day, folder)
            journal.begin()
            try:
                result.fills_archived += archive.delete_rows(db, day)
                journal.commit()
            except BaseException:
                journal.rollback()
                raise
            result.archived.append(day.day)
    if archive_days > 0:
        oldest_kept = today - timedelta(days=archive_days)
        held = {day.day for day in days.all_days(db)}
        for day in archive.archived_days(folder):
            if day < oldest_kept and day not in held:
                shutil.rmtree(archive.day_folder(folder, day))
                result.deleted.append(day)
    return result


def still_needed(db: sqlite3.Connection, day: Day) -> str | None:
    """Why the day must stay in the journal, or None."""
    where, args = day.where("fill_seq")
    marks = ",".join("?" * len(UNDELIVERED))
    (busts,) = db.execute(f"SELECT COUNT(*) FROM busts WHERE {where} AND status IN ({marks})",
                          (*args, *UNDELIVERED)).fetchone()
    if busts:
        return f"{busts} bust(s) not yet delivered"
    if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'case_executions'").fetchone():
        where, args = day.where("e.fill_seq")
        marks = ",".join("?" * len(CASE_DONE))
        (cases,) = db.execute(
            "SELECT COUNT(DISTINCT c.id) FROM case_executions e JOIN cases c "
            f"ON c.id = e.case_id WHERE {where} AND c.state NOT IN ({marks})",
            (*args, *CASE_DONE)).fetchone()
        if cases:
            return f"{cases} review case(s) still open"
    return None
