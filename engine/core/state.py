"""The kernel's memory: every table as numpy arrays, grown or rotated, never per fill."""

from __future__ import annotations

import numpy as np

from engine.core import pipeline as p
from engine.core.book import S_PREV_CLOSE, carry_closes, roll_book
from engine.core.instruments import Instrument
from engine.core.tables import grow_table, new_generations, new_recent_set, zeroed


class CoreState:
    """Reference-price book, series, matches, seen ExecIDs and the multi-stock window.

    Memory is bounded: symbols grow with the number of securities, the two-generation
    tables are fixed (they remember at least half their capacity of recent keys), the
    ExecID set remembers roughly the last `exec_ids` executions, and the pending window
    grows only with the candidates of one window.
    """

    # Series and matches only need remembering for the milliseconds a sweep takes, so
    # their tables are small enough to stay in cache; ExecIDs are kept for resends.
    def __init__(self, symbols: int = 1 << 14, series: int = 1 << 16, matches: int = 1 << 16,
                 exec_ids: int = 1 << 20, pending: int = 1 << 10) -> None:
        self.sym_keys = np.zeros((symbols, 2), np.int64)
        self.sym = zeroed((symbols, p.N_SYM_COLS))
        self.series = new_generations(series)
        self.matches = new_generations(matches)
        self.exec_ids = new_recent_set(exec_ids)
        self.pending = np.zeros((pending, p.N_OUT_COLS), np.int64)
        self.counters = np.zeros(p.N_COUNTERS, np.int64)

    def as_tuple(self) -> tuple:
        return (self.sym_keys, self.sym, *self.series, *self.matches, self.exec_ids,
                self.pending, self.counters)

    def seed(self, instruments: list[Instrument]) -> None:
        """Load the instruments, in one kernel call (thousands of calls from Python were a
        tenth of start-up)."""
        if not instruments:
            return
        # room as if they were added one by one, each into a table less than half full
        while (self.counters[p.C_SYMBOLS] + len(instruments) - 1) * 2 >= self.sym_keys.shape[0]:
            self.grow_symbols()
        names = [inst.symbol.encode() for inst in instruments]
        p.seed_symbols(np.frombuffer(b"".join(names), np.uint8),
                       np.cumsum([len(name) for name in names], dtype=np.int64),
                       np.array([inst.leverage for inst in instruments], np.int64),
                       np.array([inst.prev_close for inst in instruments], np.int64),
                       self.sym_keys, self.sym, self.counters)

    def roll(self) -> None:
        """A new trading day (the multi-stock window already closed): the day's closes
        become the references; series, matches and ExecIDs start afresh (an ExecID is
        unique within its day). The tables are cleared in place: the live path's compiled
        entry point keeps its arrays' types."""
        roll_book(self.sym_keys, self.sym)
        for table in (*self.series, *self.matches, self.exec_ids):
            table.fill(0)

    def closes(self) -> tuple[np.ndarray, np.ndarray]:
        """(keys (n, 2), previous closes (n,)) of the symbols that have one: what a
        rollover carries into the next day, journaled with it."""
        held = (self.sym_keys[:, 0] != 0) & (self.sym[:, S_PREV_CLOSE] > 0)
        return self.sym_keys[held].copy(), self.sym[held, S_PREV_CLOSE].copy()

    def carry(self, keys: np.ndarray, closes: np.ndarray) -> None:
        """Closes a rollover journaled, over the instruments' (a restart mid-day)."""
        while (self.counters[p.C_SYMBOLS] + len(closes)) * 2 >= self.sym_keys.shape[0]:
            self.grow_symbols()
        carry_closes(np.ascontiguousarray(keys[:, 0]), np.ascontiguousarray(keys[:, 1]),
                     closes.astype(np.int64), self.sym_keys, self.sym, self.counters)

    def grow_symbols(self) -> None:
        keys = np.zeros((self.sym_keys.shape[0] * 2, 2), np.int64)
        vals = zeroed((keys.shape[0], p.N_SYM_COLS))
        grow_table(self.sym_keys, self.sym, keys, vals)
        self.sym_keys, self.sym = keys, vals

    def grow_pending(self) -> None:
        bigger = np.zeros((self.pending.shape[0] * 2, p.N_OUT_COLS), np.int64)
        bigger[: self.pending.shape[0]] = self.pending
        self.pending = bigger

    def count(self, counter: int) -> int:
        return int(self.counters[counter])
