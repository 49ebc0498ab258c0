"""Archived trading days: a day's rows of the journal as a compressed SQLite file of its own.

`archive/<day>/journal.sqlite.gz` holds the day's fills, decisions, busts, window closes
and its `days` row, in the journal's own schema, so `ceguard journal --date D` (and any
SQLite tool, once decompressed) reads an archived day as it reads the journal. The FIX
message logs of the day go beside it (`archive/<day>/fixlog/`, engine/live/rollover.py).
"""

from __future__ import annotations

import gzip
import shutil
import sqlite3
import tempfile
from datetime import date
from pathlib import Path

from engine.journal.days import Day

ARCHIVED_TABLES = (("fills", "seq"), ("decisions", "fill_seq"), ("busts", "fill_seq"),
                   ("window_closes", "after_seq"))
JOURNAL_FILE = "journal.sqlite.gz"


def day_folder(archive: Path, day: date) -> Path:
    return archive / day.isoformat()


def write(db: sqlite3.Connection, schema: str, day: Day, archive: Path) -> Path:
    """Copy the day's rows into a new SQLite file, compressed into the archive; its path.
    `db`: a connection in autocommit mode (isolation_level None). Written under a
    temporary name and renamed: a crash leaves no half archive."""
    folder = day_folder(archive, day.day)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / JOURNAL_FILE
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        plain = Path(scratch) / "journal.sqlite"
        copy = sqlite3.connect(plain)
        copy.executescript(schema)
        copy.close()
        db.execute("ATTACH DATABASE ? AS archived", (str(plain),))
        try:
            db.execute("BEGIN")  # one snapshot of the day
            for table, column in ARCHIVED_TABLES:
                where, args = day.where(column)
                db.execute(f"INSERT INTO archived.{table} SELECT * FROM main.{table} "
                           f"WHERE {where}", args)
            db.execute("INSERT INTO archived.days SELECT * FROM main.days WHERE day = ?",
                       (day.day.isoformat(),))
            db.execute("COMMIT")
        finally:
            if db.in_transaction:
                db.execute("ROLLBACK")
            db.execute("DETACH DATABASE archived")
        packed = Path(scratch) / JOURNAL_FILE
        with open(plain, "rb") as source, gzip.open(packed, "wb", compresslevel=6) as out:
            shutil.copyfileobj(source, out, 1 << 20)
        packed.replace(target)
    return target


def delete_rows(db: sqlite3.Connection, day: Day) -> int:
    """The day's rows out of the journal (after write); how many fills went."""
    removed = 0
    for table, column in ARCHIVED_TABLES:
        where, args = day.where(column)
        cursor = db.execute(f"DELETE FROM {table} WHERE {where}", args)
        if table == "fills":
            removed = cursor.rowcount
    db.execute("DELETE FROM days WHERE day = ?", (day.day.isoformat(),))
    return removed


def open_archived(archive: Path, day: date, scratch: Path) -> Path | None:
    """The archived day decompressed into `scratch` (a folder the caller removes); None
    when the archive does not hold it."""
    packed = day_folder(archive, day) / JOURNAL_FILE
    if not packed.is_file():
        return None
    plain = scratch / f"journal-{day.isoformat()}.sqlite"
    with gzip.open(packed, "rb") as source, open(plain, "wb") as out:
        shutil.copyfileobj(source, out, 1 << 20)
    return plain


def archived_days(archive: Path) -> list[date]:
    """Days with a folder in the archive, oldest first."""
    if not archive.is_dir():
        return []
    days = []
    for folder in archive.iterdir():
        try:
            days.append(date.fromisoformat(folder.name))
        except ValueError:
            continue  # not ours
    return sorted(days)
