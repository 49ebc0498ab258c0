"""Retention: old trading days leave the journal for the archive, old archives are deleted.

Run after each rollover and at start-up, from serve's main loop. `journal_days` trading
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
import threading
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


def run(journal: Journal, lock: threading.Lock, journal_days: int, archive_days: int,
        folder: Path, today: date) -> RetentionRun:
    """Archive what is past `journal_days`, delete archives past `archive_days`.

    A day is copied into its archive over a connection of its own (a read: the live
    engine's writer goes on meanwhile); only the deletion of its rows takes the journal's
    lock, after checking again that nothing needs it."""
    result = RetentionRun()
    if journal_days > 0:
        reader = sqlite3.connect(journal.path, isolation_level=None)
        try:
            for day in days.all_days(reader)[:-journal_days]:
                why = still_needed(reader, day)
                if why is None:
                    archive.write(reader, SCHEMA, day, folder)
                    with lock:
                        why = still_needed(journal.connection(), day)
                        if why is None:
                            result.fills_archived += _delete(journal, day)
                            result.archived.append(day.day)
                if why is not None:
                    result.kept[day.day] = why
        finally:
            reader.close()
    if archive_days > 0:
        oldest_kept = today - timedelta(days=archive_days)
        with lock:
            held = {day.day for day in days.all_days(journal.connection())}
        for day in archive.archived_days(folder):
            if day < oldest_kept and day not in held:
                shutil.rmtree(archive.day_folder(folder, day))
                result.deleted.append(day)
    return result


def _delete(journal: Journal, day: Day) -> int:
    journal.begin()
    try:
        removed = archive.delete_rows(journal.connection(), day)
        journal.commit()
    except BaseException:
        journal.rollback()
        raise
    return removed


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
