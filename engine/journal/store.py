"""The journal: an SQLite file (WAL) of every fill received, every decision, every bust.

The live engine writes it in batches from a thread of its own (engine/live/engine.py:
group commit): one transaction holds the fills that arrived while the previous one
committed, their decisions, their pending busts and, per session, the MsgSeqNum (34)
of the last fill journaled (table `inbound`). QuickFIX advances its inbound sequence
number when fromApp returns, before the batch is durable, so the journal keeps its own
account: at start-up and at every logon of a drop-copy session the session's expected
sequence number is set back to the journal's + 1 when QuickFIX's store is ahead, and
QuickFIX asks the matching engine to resend the rest (engine/live/sessions.py).
At a clean stop `inbound` is moved to how far each session was fully processed
(mark_processed), so the next start asks for nothing that was not a fill. Table
`gap_fills` records each gap fill over MsgSeqNums ceguard had asked to have resent
(engine/fix/resends.py): fills possibly lost.
The fills table is cut into trading days (engine/journal/days.py); the current day's
fills, replayed in order with the recorded window closes over the closes its rollover
carried, rebuild the surveillance core exactly (reference prices, seen ExecIDs, pending
candidates); the busts table says which busts still have to go out after a restart.
Reading for people (`ceguard journal`) is engine/journal/queries.py.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from engine.journal import days

SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fills (
    seq INTEGER PRIMARY KEY,          -- arrival order; the 'line' of its decision
    received_at TEXT NOT NULL,        -- UTC, ISO 8601
    session TEXT NOT NULL,            -- QuickFIX session id it arrived on
    raw BLOB NOT NULL                 -- the message exactly as QuickFIX handed it over
);
CREATE TABLE IF NOT EXISTS window_closes (
    after_seq INTEGER PRIMARY KEY,    -- the settle window closed after this fill
    closed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS decisions (
    fill_seq INTEGER PRIMARY KEY REFERENCES fills(seq),
    exec_id TEXT,
    symbol TEXT,
    verdict TEXT NOT NULL,
    decided_at TEXT NOT NULL,
    record TEXT NOT NULL              -- the decision record (schemas/decision.schema.json)
);
CREATE INDEX IF NOT EXISTS decisions_exec_id ON decisions(exec_id);
CREATE INDEX IF NOT EXISTS decisions_verdict ON decisions(verdict, fill_seq);
CREATE TABLE IF NOT EXISTS busts (
    bust_exec_id TEXT NOT NULL,
    session TEXT NOT NULL,            -- the recipient's session
    exec_id TEXT NOT NULL,            -- the busted execution
    fill_seq INTEGER NOT NULL REFERENCES fills(seq),
    recipient TEXT NOT NULL,          -- 'venue' or 'firm'
    firm TEXT,
    status TEXT NOT NULL,             -- pending, sent, queued, failed, unroutable, rejected
    detail TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (bust_exec_id, session)
);
CREATE INDEX IF NOT EXISTS busts_status ON busts(status);
CREATE TABLE IF NOT EXISTS inbound (
    session TEXT PRIMARY KEY,         -- drop-copy session id
    last_msg_seq_num INTEGER NOT NULL,  -- MsgSeqNum (34) of its last journaled fill, or
                                      -- at a clean stop how far the session was processed
    fill_seq INTEGER NOT NULL         -- the last fill's number (0: none yet)
);
CREATE TABLE IF NOT EXISTS gap_fills (
    session TEXT NOT NULL,            -- drop-copy session id
    first_seq INTEGER NOT NULL,       -- MsgSeqNums skipped that ceguard had asked for
    last_seq INTEGER NOT NULL,
    possibly_lost INTEGER NOT NULL,   -- of them, not known to be other than fills
    requested TEXT NOT NULL,          -- the ResendRequests' ranges, BeginSeqNo-EndSeqNo
    received_at TEXT NOT NULL
);
"""


SCHEMA = _SCHEMA + days.SCHEMA  # every table of the journal (an archived day's file too)

# Fills from a JSON array of [seq, received_at in microseconds since the epoch, index
# into the sessions array, start, length in the raws blob]; received_at written as
# datetime.isoformat writes UTC.
_INSERT_FILLS = """
INSERT INTO fills
SELECT json_extract(value, '$[0]'),
       strftime('%Y-%m-%dT%H:%M:%S', json_extract(value, '$[1]') / 1000000, 'unixepoch')
           || printf('.%06d+00:00', json_extract(value, '$[1]') % 1000000),
       json_extract(?3, '$[' || json_extract(value, '$[2]') || ']'),
       COALESCE(substr(?2, json_extract(value, '$[3]'), json_extract(value, '$[4]')), X'')
FROM json_each(?1)
"""  # (an empty blob is bound as NULL: COALESCE keeps an empty raw a blob)
_dumps = json.JSONEncoder(separators=(",", ":")).encode  # json.dumps without its checks


@dataclass(frozen=True)
class BustRow:
    bust_exec_id: str
    session: str
    exec_id: str
    fill_seq: int
    recipient: str
    firm: str | None
    status: str
    detail: str | None = None


class Journal:
    """One connection, used under the live engine's lock."""

    def __init__(self, path: Path, synchronous: str = "full",
                 autocheckpoint_pages: int = 1000) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
        # 1000 is SQLite's default; serve raises it and checkpoints from a thread
        # (journal.checkpoint), so that a commit rarely runs the checkpoint itself.
        self._db.execute(f"PRAGMA wal_autocheckpoint={int(autocheckpoint_pages)}")
        self._db.executescript(SCHEMA)
        # Written only when it changes (a reader such as `ceguard journal` writes nothing).
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                         (str(SCHEMA_VERSION),))
        self._db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version' AND value <> ?",
                         (str(SCHEMA_VERSION), str(SCHEMA_VERSION)))

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def connection(self) -> sqlite3.Connection:
        """The connection itself, for tables kept beside these (engine.review's cases)."""
        return self._db

    def next_seq(self) -> int:
        (last,) = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM fills").fetchone()
        return last + 1

    def begin(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self._db.execute("COMMIT")

    def rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def add_fills(self, fills: list[tuple[int, int, str, bytes]],
                  last_msg_seq_nums: dict[str, tuple[int, int]]) -> None:
        """(seq, received_at as microseconds since the epoch, session, raw) rows, and per
        session (MsgSeqNum, seq) of the last of them.

        One statement for all the fills: the raws go as one blob, the rest as a JSON
        array, and SQLite cuts them apart and formats received_at. executemany released
        and took back the GIL for every row, and each time waited for QuickFIX's thread."""
        sessions = list(dict.fromkeys([fill[2] for fill in fills]))
        index = {session: i for i, session in enumerate(sessions)}
        rows = []
        start = 1  # substr() counts from 1
        for seq, received_us, session, raw in fills:
            rows.append((seq, received_us, index[session], start, len(raw)))
            start += len(raw)
        self._db.execute(_INSERT_FILLS, (_dumps(rows), b"".join([fill[3] for fill in fills]),
                                         _dumps(sessions)))
        self._db.executemany("INSERT OR REPLACE INTO inbound VALUES (?, ?, ?)",
                             [(session, msg, seq)
                              for session, (msg, seq) in last_msg_seq_nums.items()])

    def mark_processed(self, processed: dict[str, int]) -> None:
        """At a clean stop: every MsgSeqNum up to processed[session] was handled (the fills
        among them are journaled), whatever the last fill's was."""
        self.begin()
        try:
            self._db.executemany(
                "INSERT INTO inbound VALUES (?, ?, 0) ON CONFLICT(session) "
                "DO UPDATE SET last_msg_seq_num = excluded.last_msg_seq_num",
                list(processed.items()))
            self.commit()
        except BaseException:
            self.rollback()
            raise

    def add_gap_fill(self, session: str, first: int, last: int, possibly_lost: int,
                     requested: str, at: str) -> None:
        self._db.execute("INSERT INTO gap_fills VALUES (?, ?, ?, ?, ?, ?)",
                         (session, first, last, possibly_lost, requested, at))

    def probe(self, at: str) -> None:
        """A write that must reach the disk: is the journal usable again?"""
        self.begin()
        try:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('last_probe', ?)", (at,))
            self.commit()
        except BaseException:
            self.rollback()
            raise

    def add_window_close(self, after_seq: int, closed_at: str) -> None:
        self._db.execute("INSERT OR IGNORE INTO window_closes VALUES (?, ?)",
                         (after_seq, closed_at))

    def add_decisions(self, decisions: list[tuple[int, dict]], decided_at: str) -> int:
        """(fill_seq, record) rows at once; how many were new (see add_decision)."""
        cursor = self._db.executemany(
            "INSERT OR IGNORE INTO decisions VALUES (?, ?, ?, ?, ?, ?)",
            [(fill_seq, record.get("exec_id"), record.get("symbol"), record["verdict"],
              decided_at, _dumps(record)) for fill_seq, record in decisions])
        return cursor.rowcount

    def add_decision_array(self, records: str, decided_at: str) -> int:
        """Decision records given as one JSON array text (engine.record_text), in one
        statement: SQLite splits it, without the GIL. How many were new."""
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO decisions SELECT json_extract(value, '$.line'), "
            "json_extract(value, '$.exec_id'), json_extract(value, '$.symbol'), "
            "json_extract(value, '$.verdict'), ?2, value FROM json_each(?1)",
            (records, decided_at))
        return cursor.rowcount

    def add_decision(self, fill_seq: int, record: dict, decided_at: str) -> bool:
        """False when this fill already has a decision (a rebuild re-deciding it)."""
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO decisions VALUES (?, ?, ?, ?, ?, ?)",
            (fill_seq, record.get("exec_id"), record.get("symbol"), record["verdict"],
             decided_at, _dumps(record)))
        return cursor.rowcount == 1

    def add_bust(self, bust: BustRow, at: str) -> bool:
        """False when this bust was already recorded for this recipient."""
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO busts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (bust.bust_exec_id, bust.session, bust.exec_id, bust.fill_seq, bust.recipient,
             bust.firm, bust.status, bust.detail, at, at))
        return cursor.rowcount == 1

    def set_bust_statuses(self, statuses: list[tuple[str, str | None, str, str, str]]
                          ) -> None:
        """(status, detail, at, bust_exec_id, session) rows at once."""
        self._db.executemany(
            "UPDATE busts SET status = ?, detail = ?, updated_at = ? "
            "WHERE bust_exec_id = ? AND session = ?", statuses)

    # Trading days (engine/journal/days.py).

    def current_day(self) -> tuple[date, int, tuple[np.ndarray, np.ndarray] | None] | None:
        """(day, its first fill's seq, the closes its rollover carried) of the newest day."""
        return days.current(self._db)

    def open_day(self, day: date, first_seq: int, at: str,
                 closes: tuple[np.ndarray, np.ndarray] | None) -> None:
        """A new trading day from fill `first_seq` on, in a transaction of its own."""
        self.begin()
        try:
            days.open_day(self._db, day, first_seq, at, closes)
            self.commit()
        except BaseException:
            self.rollback()
            raise

    # Reading (the rebuild after a restart; `ceguard journal` reads with queries.py).

    def fills(self, first_seq: int = 1) -> Iterator[tuple[int, str, bytes]]:
        """The fills from `first_seq` on (the current trading day's, at a rebuild)."""
        yield from self._db.execute("SELECT seq, session, raw FROM fills WHERE seq >= ? "
                                    "ORDER BY seq", (first_seq,))

    def last_msg_seq_nums(self) -> dict[str, int]:
        """Per drop-copy session, the MsgSeqNum of the last fill journaled from it."""
        return dict(self._db.execute("SELECT session, last_msg_seq_num FROM inbound"))

    def window_closes(self, first_seq: int = 1) -> set[int]:
        return {seq for (seq,) in self._db.execute(
            "SELECT after_seq FROM window_closes WHERE after_seq >= ?", (first_seq,))}

    def fill(self, seq: int) -> tuple[str, bytes] | None:
        return self._db.execute("SELECT session, raw FROM fills WHERE seq = ?",
                                (seq,)).fetchone()

    def decision(self, fill_seq: int) -> dict:
        (record,) = self._db.execute("SELECT record FROM decisions WHERE fill_seq = ?",
                                     (fill_seq,)).fetchone()
        return json.loads(record)

    def unsent_busts(self) -> list[BustRow]:
        rows = self._db.execute(
            "SELECT bust_exec_id, session, exec_id, fill_seq, recipient, firm, status, detail "
            "FROM busts WHERE status = 'pending' ORDER BY fill_seq")
        return [BustRow(*row) for row in rows]
