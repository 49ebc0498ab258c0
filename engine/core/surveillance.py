"""One surveillance core for live and replay: rulebook + instruments + state + kernel."""

from __future__ import annotations

import numpy as np

from engine.core import pipeline as p
from engine.core.instruments import Instrument
from engine.core.state import CoreState
from engine.fix.decoder import N_UNIT_COLS
from engine.rules.rulebook import Rulebook


class Surveillance:
    """Feeds decoded units to the kernel, growing its tables when it asks."""

    def __init__(self, rulebook: Rulebook, instruments: list[Instrument]) -> None:
        self.rulebook = rulebook
        self.rule_codes = rulebook.rule_codes()
        self._rules = rulebook.kernel_arrays()
        self._clock = rulebook.clock_arrays()
        self.state = CoreState()
        self.state.seed(instruments)
        self._out = np.empty((0, p.N_OUT_COLS), np.int64)
        self._batch = np.empty((p.BATCH, N_UNIT_COLS), np.int64)
        self._keys = np.empty((p.BATCH, p.N_KEY_COLS), np.int64)
        self._cursor = np.zeros(p.N_CURSOR, np.int64)
        self._entry = None  # judge_message's compiled entry point, once known

    def judge(self, buf: np.ndarray, units: np.ndarray, n_units: int, chunk_id: int) -> np.ndarray:
        """Decision rows (pipeline.O_* columns) that became final with these units.

        The rows are a view of a buffer the next call reuses: consume them first.
        """
        out = self._out
        n_out = 0
        first = 0
        while True:
            out = self._room(out, n_out, n_units - first)
            first, n_out, status = p.process(buf, units, first, n_units, chunk_id,
                                             self.state.as_tuple(), self._rules, self._clock,
                                             out, n_out)
            if status == p.STATUS_DONE:
                self._out = out
                return out[:n_out]
            if status == p.STATUS_GROW_SYMBOLS:
                self.state.grow_symbols()
            else:
                self.state.grow_pending()

    def decode_and_judge(self, buf: np.ndarray, pos: int, n: int, final: bool, line: int,
                         at_line_start: bool, chunk_id: int, max_units: int,
                         keep: np.ndarray, dropped: np.ndarray, flags: int = 0
                         ) -> tuple[int, int, int, bool, np.ndarray]:
        """`decoder.decode` into an array of `max_units` rows, then `judge`, in one pass.

        `line`: the line number at buf[pos]; `flags`: the decoder's (NUMBER_UNITS,
        LEGACY_FILLS). Returns what they would: (units decoded, end position, the line
        number there, whether it begins a line, decision rows), less the rows whose
        verdict code is not marked in `keep`; those are counted in `dropped[verdict]`.
        The rows are a view of a buffer the next call reuses.
        """
        cursor = self._cursor
        cursor[:] = 0
        cursor[p.CUR_POS] = pos
        cursor[p.CUR_LINE_START] = at_line_start
        cursor[p.CUR_LINE] = line
        cursor[p.CUR_FLAGS] = flags
        rows = self._resume(buf, n, final, chunk_id, max_units, keep, dropped)
        return (int(cursor[p.CUR_UNITS]), int(cursor[p.CUR_POS]), int(cursor[p.CUR_LINE]),
                bool(cursor[p.CUR_LINE_START]), rows)

    def _resume(self, buf: np.ndarray, n: int, final: bool, chunk_id: int, max_units: int,
                keep: np.ndarray, dropped: np.ndarray) -> np.ndarray:
        """Run the kernel from where the cursor stands until done, growing tables."""
        cursor = self._cursor
        while True:
            out = self._room(self._out, int(cursor[p.CUR_N_OUT]),
                             max_units - int(cursor[p.CUR_UNITS]))
            self._out = out
            status = p.decode_and_judge(buf, n, final, cursor, max_units,
                                        self._batch, self._keys, chunk_id,
                                        self.state.as_tuple(), self._rules, self._clock, out,
                                        keep, dropped)
            if status == p.STATUS_DONE:
                return out[: cursor[p.CUR_N_OUT]]
            self._grow(status)

    def _grow(self, status: int) -> None:
        if status == p.STATUS_GROW_SYMBOLS:
            self.state.grow_symbols()
        else:
            self.state.grow_pending()

    def judge_message(self, raw: bytes, line: int, keep: np.ndarray, dropped: np.ndarray,
                      flags: int = 0) -> np.ndarray:
        """decode_and_judge of one live message, as unit `line` of its own chunk `line`
        (`flags`: the decoder's, LEGACY_FILLS for a session that has them judged): the
        decision rows that became final (a view the next call reuses).

        The live path's call, once per fill: it calls the kernel's compiled entry point,
        skipping the dispatcher's typing of fourteen arguments (a third of the call). That
        is sound only because every argument's type is fixed here: `raw` is bytes, the
        arrays are the core's own (grown tables keep their dtype and layout), `keep` and
        `dropped` are the caller's, which must always be the same arrays' types.
        """
        buf = np.frombuffer(raw, np.uint8)
        cursor = self._cursor
        cursor.fill(0)
        cursor[p.CUR_LINE_START] = 1
        cursor[p.CUR_LINE] = line
        cursor[p.CUR_FLAGS] = flags
        out = self._out
        if out.shape[0] < 1 + self.state.pending.shape[0]:
            out = self._out = self._room(out, 0, 1)
        args = (buf, len(raw), True, cursor, 1, self._batch, self._keys, line,
                self.state.as_tuple(), self._rules, self._clock, out, keep, dropped)
        if self._entry is None:
            status = p.decode_and_judge(*args)
            self._entry = _entry_point(p.decode_and_judge, args)
        else:
            status = self._entry(*args)
        if status == p.STATUS_DONE:
            return out[: cursor[p.CUR_N_OUT]]
        # A table must grow: the general loop resumes from the cursor.
        self._grow(status)
        return self._resume(buf, len(raw), True, line, 1, keep, dropped)

    def flush(self) -> np.ndarray:
        """Close the open multi-stock window (end of input): its candidates' final rows."""
        if not self.state.counters[p.C_WINDOW_OPEN]:
            return np.empty((0, p.N_OUT_COLS), np.int64)
        out = self._room(np.empty((0, p.N_OUT_COLS), np.int64), 0, 0)
        n_out = p.close_window(self.state.as_tuple(), self._rules, out, 0)
        return out[:n_out]

    def roll_day(self) -> np.ndarray:
        """The end of a trading day: the open multi-stock window closes (its final rows are
        returned: a window never spans two days), then the state rolls (CoreState.roll)."""
        rows = self.flush().copy()
        self.state.roll()
        return rows

    def pending_chunks(self) -> np.ndarray:
        """Chunk ids that rows still waiting in the window point into."""
        return self.state.pending[: self.state.counters[p.C_PENDING], p.O_CHUNK]

    def _room(self, out: np.ndarray, n_out: int, n_units: int) -> np.ndarray:
        need = n_out + n_units + self.state.pending.shape[0]
        if out.shape[0] >= need:
            return out
        bigger = np.empty((need, p.N_OUT_COLS), np.int64)
        bigger[:n_out] = out[:n_out]
        return bigger


def _entry_point(dispatcher, args: tuple):
    """The compiled function `dispatcher` chose for arguments of these types, callable
    without the dispatcher (numba's CompileResult.entry_point); the dispatcher itself
    when numba no longer offers it."""
    try:
        signature = tuple(dispatcher.typeof_pyval(a) for a in args)
        return dispatcher.overloads[signature].entry_point
    except (AttributeError, KeyError):
        return dispatcher
