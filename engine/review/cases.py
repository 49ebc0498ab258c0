"""Review cases in the journal's SQLite file: the cases, their executions, every step.

State machine (RULES.md section 4, the six-step playbook):

    open -> under_review -> determined (bust | stand) -> notified -> appealed -> final
                                                             \\-> final (appeal window closed)

A case merged into a declared event is `merged`, an event split into trades `dissolved`.
Every change is a row of case_steps with who, when and why, written in the same
transaction as the change.
The store runs on the journal's own connection, under the live engine's lock, so a case
opened for a fill commits with that fill.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

OPEN = "open"
UNDER_REVIEW = "under_review"
DETERMINED = "determined"
NOTIFIED = "notified"
APPEALED = "appealed"
FINAL = "final"
MERGED = "merged"  # its executions moved into a declared multi-stock event case
DISSOLVED = "dissolved"  # an event case split back into one case per trade
STATES = (OPEN, UNDER_REVIEW, DETERMINED, NOTIFIED, APPEALED, FINAL, MERGED, DISSOLVED)
ACTIVE = (OPEN, UNDER_REVIEW)  # not yet determined: executions can still join
BUST = "bust"
STAND = "stand"
UPHELD = "upheld"
OVERTURNED = "overturned"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cases (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,               -- 'trade' or 'event' (multi-stock event)
    origin TEXT NOT NULL,             -- 'surveillance' or 'request'
    state TEXT NOT NULL,
    opened_at REAL NOT NULL,          -- Unix seconds, UTC
    deadline_at REAL,                 -- determination, then appeal deadline; NULL when none
    deadline_kind TEXT,               -- 'determination' or 'appeal'
    warned TEXT NOT NULL DEFAULT '',  -- '', 'nearing', 'passed': what was logged of it
    analyst TEXT,
    outcome TEXT,                     -- 'bust' or 'stand'
    reason TEXT,
    notified_at REAL,
    appeal_outcome TEXT,              -- 'upheld' or 'overturned'
    merged_into INTEGER
);
CREATE INDEX IF NOT EXISTS cases_state ON cases(state, deadline_at);
CREATE TABLE IF NOT EXISTS case_executions (
    case_id INTEGER NOT NULL REFERENCES cases(id),
    fill_seq INTEGER NOT NULL,
    exec_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    trade_id TEXT,
    firm TEXT,                        -- executing firm (PartyRole 1), NULL if none
    PRIMARY KEY (case_id, fill_seq)
);
CREATE INDEX IF NOT EXISTS case_executions_fill ON case_executions(fill_seq);
CREATE TABLE IF NOT EXISTS case_keys (      -- what joins an execution to others of its series
    fill_seq INTEGER NOT NULL,
    key TEXT NOT NULL,                -- e.g. 'time XYZ 2026-01-15T15:00:00.000Z'
    PRIMARY KEY (key, fill_seq)
);
CREATE INDEX IF NOT EXISTS case_executions_firm ON case_executions(firm);
CREATE TABLE IF NOT EXISTS case_steps (
    id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases(id),
    at REAL NOT NULL,
    actor TEXT NOT NULL,              -- 'surveillance', 'analyst:<name>', 'firm:<PartyID>', 'clock'
    action TEXT NOT NULL,
    state TEXT NOT NULL,              -- the case's state after the step
    detail TEXT
);
CREATE TABLE IF NOT EXISTS case_notices (
    case_id INTEGER NOT NULL REFERENCES cases(id),
    at REAL NOT NULL,
    kind TEXT NOT NULL,               -- 'determination' or 'appeal_decision'
    firm TEXT NOT NULL,
    session TEXT NOT NULL,
    status TEXT NOT NULL,             -- sent, queued, failed
    detail TEXT
);
"""


class CaseError(Exception):
    """An action the case's state or the caller's rights do not allow (HTTP 409/403/404)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Execution:
    fill_seq: int
    exec_id: str
    symbol: str
    trade_id: str | None
    firm: str | None


class CaseStore:
    def __init__(self, connection: Callable[[], sqlite3.Connection]) -> None:
        self._connection = connection
        self.db.executescript(_SCHEMA)

    @property
    def db(self) -> sqlite3.Connection:
        return self._connection()

    # Writing (inside a transaction the caller holds).

    def create(self, kind: str, origin: str, at: float, deadline: float, actor: str,
               detail: str, executions: list[Execution]) -> int:
        cursor = self.db.execute(
            "INSERT INTO cases (kind, origin, state, opened_at, deadline_at, deadline_kind) "
            "VALUES (?, ?, ?, ?, ?, 'determination')", (kind, origin, OPEN, at, deadline))
        case_id = cursor.lastrowid
        self.add_executions(case_id, executions)
        self.step(case_id, at, actor, "opened", OPEN, detail)
        return case_id

    def add_executions(self, case_id: int, executions: list[Execution]) -> None:
        self.db.executemany(
            "INSERT OR IGNORE INTO case_executions VALUES (?, ?, ?, ?, ?, ?)",
            [(case_id, e.fill_seq, e.exec_id, e.symbol, e.trade_id, e.firm)
             for e in executions])

    def move_executions(self, from_case: int, to_case: int) -> None:
        self.db.execute("UPDATE case_executions SET case_id = ? WHERE case_id = ?",
                        (to_case, from_case))

    def step(self, case_id: int, at: float, actor: str, action: str, state: str,
             detail: str | None = None) -> None:
        self.db.execute("INSERT INTO case_steps (case_id, at, actor, action, state, detail) "
                        "VALUES (?, ?, ?, ?, ?, ?)", (case_id, at, actor, action, state, detail))

    def update(self, case_id: int, **columns: object) -> None:
        names = ", ".join(f"{name} = ?" for name in columns)
        self.db.execute(f"UPDATE cases SET {names} WHERE id = ?", (*columns.values(), case_id))

    def add_notice(self, case_id: int, at: float, kind: str, firm: str, session: str,
                   status: str, detail: str | None) -> None:
        self.db.execute("INSERT INTO case_notices VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (case_id, at, kind, firm, session, status, detail))

    # Reading.

    def get(self, case_id: int) -> dict:
        row = self._rows("SELECT * FROM cases WHERE id = ?", case_id)
        if not row:
            raise CaseError(404, f"no case {case_id}")
        return row[0]

    def list(self, states: tuple[str, ...] = (), firm: str | None = None) -> list[dict]:
        sql, args = "SELECT * FROM cases WHERE 1 = 1", []
        if states:
            sql += f" AND state IN ({','.join('?' * len(states))})"
            args += states
        if firm is not None:
            sql += " AND id IN (SELECT case_id FROM case_executions WHERE firm = ?)"
            args.append(firm)
        # Open work first, by deadline; then the rest, newest first.
        sql += " ORDER BY deadline_at IS NULL, deadline_at, id DESC"
        return self._rows(sql, *args)

    def executions(self, case_id: int) -> list[Execution]:
        rows = self.db.execute(
            "SELECT fill_seq, exec_id, symbol, trade_id, firm FROM case_executions "
            "WHERE case_id = ? ORDER BY fill_seq", (case_id,))
        return [Execution(*row) for row in rows]

    def steps(self, case_id: int) -> list[dict]:
        return self._rows("SELECT at, actor, action, state, detail FROM case_steps "
                          "WHERE case_id = ? ORDER BY id", case_id)

    def notices(self, case_id: int) -> list[dict]:
        return self._rows("SELECT at, kind, firm, session, status, detail FROM case_notices "
                          "WHERE case_id = ? ORDER BY rowid", case_id)

    def add_keys(self, fill_seq: int, keys: list[str]) -> None:
        self.db.executemany("INSERT OR IGNORE INTO case_keys VALUES (?, ?)",
                            [(fill_seq, key) for key in keys])

    def active_case_with_key(self, keys: list[str]) -> int | None:
        """The newest active case holding an execution with one of these keys."""
        row = self.db.execute(
            "SELECT c.id FROM case_keys k JOIN case_executions e ON e.fill_seq = k.fill_seq "
            f"JOIN cases c ON c.id = e.case_id WHERE k.key IN ({_marks(tuple(keys))}) "
            f"AND c.state IN ({_marks(ACTIVE)}) ORDER BY c.id DESC LIMIT 1",
            (*keys, *ACTIVE)).fetchone()
        return row[0] if row else None

    def active_surveillance_executions(self) -> list[tuple[int, str, str, str]]:
        """(case id, case kind, symbol, transact_time) of every execution in an active
        case that surveillance opened."""
        return self.db.execute(
            "SELECT c.id, c.kind, e.symbol, json_extract(d.record, '$.transact_time') "
            "FROM cases c JOIN case_executions e ON e.case_id = c.id "
            "JOIN decisions d ON d.fill_seq = e.fill_seq "
            f"WHERE c.origin = 'surveillance' AND c.state IN ({_marks(ACTIVE)})",
            ACTIVE).fetchall()

    def case_of_fill(self, fill_seq: int) -> int | None:
        row = self.db.execute(
            "SELECT c.id FROM cases c JOIN case_executions e ON e.case_id = c.id "
            "WHERE e.fill_seq = ? AND c.state NOT IN (?, ?) ORDER BY c.id DESC LIMIT 1",
            (fill_seq, MERGED, DISSOLVED)).fetchone()
        return row[0] if row else None

    def due(self, before: float) -> list[dict]:
        """Cases with a deadline at or before `before` (nearing or past)."""
        return self._rows("SELECT * FROM cases WHERE deadline_at IS NOT NULL "
                          "AND deadline_at <= ? ORDER BY deadline_at", before)

    def counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT state, COUNT(*) FROM cases GROUP BY state"))

    def _rows(self, sql: str, *args: object) -> list[dict]:
        cursor = self.db.execute(sql, args)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor]


def _marks(values: tuple) -> str:
    return ",".join("?" * len(values))
