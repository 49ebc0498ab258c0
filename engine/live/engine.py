"""The live path of one fill: decode, judge, journal, bust (DESIGN.md "The path of one fill").

A pipeline over two threads (group commit). QuickFIX's thread queues each fill in
C++, without Python (quickfix patch item 8, engine/fix/intake.py), and fromApp returns.
The journal writer thread (engine/live/writer.py) takes the queued fills and, under the
intake lock, decodes and judges each in arrival order (the core's state depends on the
order of fills) into the pending batch (take_queued). (In-process callers, and fromApp
while the queue is closed, call on_fill, which does the same for one fill.) Then it
commits the batch in one transaction (fills, decisions, busts as pending, each
session's last MsgSeqNum, window closes, review cases, statuses of earlier busts), and
only then sends that batch's busts (engine/live/dispatch.py), counts and logs
(engine/live/report.py). While one batch commits QuickFIX
queues the next, and a small batch lingers up to LINGER_SECONDS for more (writer.py):
an fsync and a transaction are paid per batch, not per fill. A batch that holds an
erroneous decision does not linger: its bust is what someone waits for.

A fill fromApp acknowledged but the journal never committed (a crash, a failed commit)
is not lost: the journal records per session the MsgSeqNum of the last fill it holds,
and at start-up and at each drop-copy Logon QuickFIX's expected number is set back to
that + 1 (sessions.py), so the matching engine resends the rest.

When the journal cannot be written (disk full, read-only, I/O error) the engine halts:
the failed batch and the fills pending behind it are dropped (the core is rebuilt from
the journal before fills are accepted again, so it never remembers a fill the journal
lost), the drop-copy sessions are logged out and their logons refused, and the main
loop probes the journal until a write goes through.

Locks: `lock` is the journal's (and the notifier's): the writer, the main loop, the
checkpointer and the review desk take it; `_intake` guards the core, the pending batch
and taking fills from the queue (taking and judging them is one step: a Logon's commit
must find every fill queued before it judged), held by the writer and fromApp only while
they judge. Whoever takes both takes `lock` first.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import Protocol

import numpy as np

from engine import codes
from engine.core import pipeline as p
from engine.core.surveillance import Surveillance
from engine.core.tradingday import TradingDays
from engine.fix.decoder import LEGACY_FILLS
from engine.fix.intake import FillQueue
from engine.journal.store import Journal
from engine.live.dispatch import BustDispatch
from engine.live.notifier import Notifier
from engine.live.report import BatchReport
from engine.live.sessions import DropCopySessions
from engine.live.writer import (FULL_ENOUGH, LINGER_SECONDS, MAX_BATCH, Batch, UtcClock,
                                WriterThread)
from engine.obs.metrics import INTERNAL_ERROR, Metrics
from engine.record_text import RecordText
from engine.records import RecordMaker

_KEEP_ALL = np.ones(len(codes.VERDICT_NAMES), np.bool_)  # every decision row is journaled
_ERRONEOUS = codes.VERDICT_NAMES.index("erroneous")
# Verdicts whose records the journal writer renders in numba (engine/record_text.py).
_RENDERED = np.array([code in (codes.STANDS, codes.NO_REFERENCE)
                      for code in range(len(codes.VERDICT_NAMES))], np.bool_)
_NO_ROWS = np.empty((0, p.N_OUT_COLS), np.int64)
PROBE_SECONDS = 1.0  # how often a halted engine tries the journal again
# What a journal that cannot be written raises (disk full, read-only, I/O error, gone).
JOURNAL_ERRORS = (sqlite3.Error, OSError)


class CaseOpener(Protocol):
    def open_cases(self, flagged: list[tuple[int, str, bytes, dict]]) -> None:
        """Open review cases for (fill_seq, session, raw, record) of erroneous decisions."""


class LiveEngine:
    def __init__(self, new_core: Callable[[], Surveillance],
                 open_journal: Callable[[], Journal], metrics: Metrics,
                 firms: dict[str, str], settle_seconds: float, log,
                 legacy_fill_sessions: frozenset[str] = frozenset(),
                 calendar: TradingDays | None = None) -> None:
        self._new_core = new_core
        self._open_journal = open_journal
        self.core = new_core()
        self.journal = open_journal()
        self.metrics = metrics
        self.settle_seconds = settle_seconds
        self.log = log
        # Sessions whose 150=1/2 on FIX.4.3+ are judged as fills (engine config
        # [sessions."<id>"] legacy_fills); elsewhere counted and logged once per session.
        self.legacy_fill_sessions = legacy_fill_sessions
        self.notifier: Notifier | None = None
        self.sessions: DropCopySessions | None = None
        self.review: CaseOpener | None = None  # set in review mode (engine.review)
        self.lock = threading.Lock()  # the journal's
        intake = threading.Lock()  # the core's and the pending batch's
        self._intake = threading.Condition(intake)  # the writer waits on it for work
        self._room = threading.Condition(intake)  # fills wait on it while the batch is full
        self._queue: FillQueue | None = None  # QuickFIX's queue of fills, once attached
        self._queue_sessions: list[str] = []  # the queue's session numbers: names
        self.halted: str | None = None  # why fills are refused, while the journal is unusable
        self._next_probe = 0.0
        self._records = RecordMaker(self.core.rule_codes)
        self._text = RecordText(self.core.rule_codes)
        self._clock = UtcClock()
        self.dispatch = BustDispatch(firms, metrics, log, self._clock)  # busts out, statuses
        self._report = BatchReport(metrics, log, self.dispatch)  # metrics and logs of a batch
        self._dropped = np.zeros(len(codes.VERDICT_NAMES), np.int64)  # stays 0: keeps all
        # Fills that decision rows may still point into: (raw, session, perf_counter at
        # arrival, for fill-to-bust latency).
        self._held: dict[int, tuple[bytes, str, float]] = {}
        self._next_seq = self.journal.next_seq()
        self._window_opened: float | None = None  # monotonic time the settle window opened
        self._batch = Batch()  # judged, not yet committed (under _intake)
        self._writer = WriterThread(self._intake, self._has_work, self._linger, self.flush,
                                    log)
        self.calendar = calendar or TradingDays()
        self.day: date | None = None  # the current trading day, once rebuilt
        self._day_end = 0  # when it ends, UTC ns
        # Called after each rollover with (the day that ended, the new day), not holding
        # `lock`: retention's work (engine/live/rollover.py).
        self.after_rollover: Callable[[date, date], None] | None = None

    # Start-up and shutdown.

    def rebuild(self) -> int:
        """Replay the current trading day's fills through the core, over the closes its
        rollover carried: the state it had when it stopped, whatever the history."""
        current = self.journal.current_day()
        if current is None:  # a new journal, or one from before days: one day from its start
            day = self.calendar.day_of(time.time_ns())
            self.journal.open_day(day, 1, self._clock.now(), None)
            current = (day, 1, None)
        self.day, first_seq, carried = current
        self._day_end = self.calendar.end_of(self.day)
        if carried is not None:
            self.core.state.carry(*carried)
        closes = self.journal.window_closes(first_seq)
        count = 0
        for seq, session, raw in self.journal.fills(first_seq):
            self._judge(seq, raw, session)
            self._held[seq] = (raw, session, time.perf_counter())
            if seq in closes:
                self.core.flush()
            self._forget_settled()
            count += 1
        self._next_seq = self.journal.next_seq()
        if self._window_open():
            self._window_opened = time.monotonic()
        self.metrics.pending.set(self._pending())
        self.metrics.trading_day_end.set(self._day_end / 1e9)
        return count

    def attach(self, notifier: Notifier, sessions: DropCopySessions,
               queue: FillQueue | None = None) -> None:
        """The FIX side; starts the journal writer, which sends busts through it and,
        given QuickFIX's queue of fills (its drop-copy sessions registered in the order
        of `sessions.names()`), takes the fills from it; opens the queue."""
        self.notifier = notifier
        self.dispatch.notifier = notifier
        self.sessions = sessions
        if queue is not None:
            self._queue = queue
            self._queue_sessions = sessions.names()
            self._writer.take_from(queue, self.take_queued)
        self._writer.start()
        if queue is not None:
            queue.open(MAX_BATCH)

    def close(self) -> None:
        """Commit the pending batch (and bust statuses), then close the journal. Call after
        the acceptor has stopped: no fromApp may add to the batch any more."""
        if self._queue is not None:
            self._queue.close()  # the writer's last round takes what is still queued
        self._writer.stop()
        with self.lock:
            self._write_pending()  # in case the writer never started
            self._mark_processed()
            self.journal.close()

    def _mark_processed(self) -> None:
        """At a clean stop (the acceptor stopped, every fill it took committed): journal
        how far each drop-copy session was fully processed, QuickFIX's expected MsgSeqNum
        - 1. The next start then does not ask again for the heartbeats and the Logout
        that followed the last fill, which a matching engine answers with a gap fill
        (counted as fills possibly lost, engine/fix/resends.py)."""
        if self.halted is not None or self.notifier is None or self.sessions is None:
            return
        processed = {}
        for session in self.sessions.names():
            expected = self.notifier.next_target_seq_num(session)
            if expected is not None:
                processed[session] = expected - 1
        try:
            self.journal.mark_processed(processed)
        except JOURNAL_ERRORS as exc:  # the next start asks for a little more: harmless
            self.log.warning("processed_not_marked", error=f"{type(exc).__name__}: {exc}")

    def resend_unsent(self) -> tuple[int, int]:
        """Busts recorded as pending when the engine stopped: (sent now, found handed over).

        A crash can fall between sendToTarget and the journal's status update; such a
        bust is already in QuickFIX's store, which delivers it, so it is not sent again.
        """
        with self.lock:
            result = self.dispatch.resend_unsent(self.journal)
        self._wake_writer()  # to record their statuses
        return result

    def realign(self) -> None:
        """Every drop-copy session's next expected MsgSeqNum back to the journal's."""
        with self.lock:
            last = self.journal.last_msg_seq_nums()
            for session in self.sessions.names():
                self._realign(session, last.get(session))

    def admit_logon(self, session: str) -> str | None:
        """At a drop-copy session's Logon: why it is refused, or None once it is realigned
        (so that QuickFIX asks for a resend of whatever the journal does not have).

        The fills queued and the pending batch are committed first: fills of this session
        they hold must not be asked for again."""
        with self.lock:
            if self.halted is None:
                self._write_pending()  # an empty batch has room for all that is queued
                self.take_queued()
                self._write_pending()
            if self.halted is not None:
                return self.halted
            try:
                last = self.journal.last_msg_seq_nums().get(session)
            except JOURNAL_ERRORS as exc:
                self._halt(exc)
                return self.halted
            self._realign(session, last)
            return None

    # The live path, on the writer thread (or QuickFIX's): judge and append, no disk.

    def take_queued(self) -> int:
        """Judge the fills QuickFIX queued into the pending batch, in arrival order, as
        many as the batch has room for; how many were taken. The writer's work, and a
        Logon's (admit_logon)."""
        if self._queue is None:
            return 0
        with self._intake:
            taken = self._queue.take(MAX_BATCH - len(self._batch.fills))
            text = taken.text
            names = self._queue_sessions
            for index, msg_seq_num, wall_us, monotonic_ns, offset, length in \
                    taken.columns.tolist():
                session = names[index]
                try:
                    self._add_fill(text[offset:offset + length], session, msg_seq_num,
                                   monotonic_ns / 1e9, wall_us)
                except Exception:  # a bug: this fill is counted and logged, not the rest
                    self.metrics.rejects.labels(INTERNAL_ERROR).inc()
                    self.log.exception("fill_failed", session=session,
                                       msg_seq_num=msg_seq_num)
        return len(taken)

    def on_fill(self, raw: bytes, session: str, msg_seq_num: int) -> None:
        """One fill, from fromApp while QuickFIX's queue is closed or from in-process
        callers; after any still queued, so that fills are judged in arrival order."""
        received = time.perf_counter()
        wall_us = time.time_ns() // 1000
        self.take_queued()
        with self._intake:
            self._add_fill(raw, session, msg_seq_num, received, wall_us)

    def _add_fill(self, raw: bytes, session: str, msg_seq_num: int, received: float,
                  wall_us: int) -> None:
        """Under _intake: judge a fill (or refuse it, halted) and add it to the batch;
        `received` is its arrival on perf_counter's clock."""
        while len(self._batch.fills) >= MAX_BATCH and self.halted is None:
            self._room.wait()
        if self.halted is not None:
            self.metrics.child(self.metrics.refused, session).inc()
            return
        seq = self._next_seq
        self._next_seq = seq + 1
        counters = self.core.state.counters
        duplicates = counters[p.C_DUPLICATES]
        legacy_fills = counters[p.C_LEGACY_FILLS]
        rows = self._judge(seq, raw, session)
        self._held[seq] = (raw, session, received)
        batch = self._batch
        if not batch.fills:
            batch.opened = time.monotonic()
            self._writer.wake()
        batch.fills.append((seq, wall_us, session, raw))
        batch.received.append(received)
        batch.last[session] = (msg_seq_num, seq)
        if counters[p.C_DUPLICATES] != duplicates:
            batch.duplicates.append((seq, session))
        if counters[p.C_LEGACY_FILLS] != legacy_fills:
            batch.legacy_fills.append((seq, session))
        self._add_rows(rows)
        if self.settle_seconds == 0 and self._window_open():
            self._add_rows(self.core.flush())
            batch.closes.append(seq)
        self._settle()

    def tick(self) -> None:
        """Roll the trading day at its end; close the settle window once it has been open
        settle_seconds; probe a journal that failed (main loop)."""
        self.roll_if_due()
        if self.halted is not None:
            if time.monotonic() >= self._next_probe:
                with self.lock:
                    self._try_resume()
            return
        if self._window_opened is None or \
                time.monotonic() - self._window_opened < self.settle_seconds:
            return
        with self._intake:
            if self.halted is not None or not self._window_open():
                self._window_opened = None
                return
            if not self._batch:
                self._writer.wake()
            self._add_rows(self.core.flush())
            self._batch.closes.append(self._next_seq - 1)
            self._settle()

    # Internals of the intake, under _intake.

    def _judge(self, seq: int, raw: bytes, session: str) -> np.ndarray:
        """The decision rows that became final with this fill: a view the next call reuses.

        One QuickFIX message is one unit: a newline inside a value (Text 58 may hold
        one) must not end it, nor start a second unit numbered like the next fill.
        Same length, so the records' offsets into `raw` stay right. Decoded and judged
        in one numba call: one call per fill, not two."""
        flags = LEGACY_FILLS if session in self.legacy_fill_sessions else 0
        return self.core.judge_message(raw.replace(b"\n", b" "), seq, _KEEP_ALL,
                                       self._dropped, flags)

    def _add_rows(self, rows: np.ndarray) -> None:
        """Decision rows with the fill each belongs to (it may be an earlier one's)."""
        if not len(rows):
            return
        batch = self._batch
        batch.row_blocks.append(rows.copy())
        held = self._held
        chunks_verdicts = rows[:, p.O_CHUNK:p.O_VERDICT + 1].tolist()
        batch.row_fills.extend([held[chunk] for chunk, _ in chunks_verdicts])
        if not batch.urgent and any(verdict == _ERRONEOUS for _, verdict in chunks_verdicts):
            batch.urgent = True
            self._writer.wake()  # it may be lingering over this batch

    def _settle(self) -> None:
        if self._pending() == 0:  # the usual case: no candidate waits in a window
            self._held.clear()
            self._window_opened = None
            return
        self._forget_settled()
        if self._window_opened is None:
            self._window_opened = time.monotonic()

    def _window_open(self) -> bool:
        return self.core.state.counters[p.C_WINDOW_OPEN] != 0

    def _pending(self) -> int:
        return int(self.core.state.counters[p.C_PENDING])

    def _forget_settled(self) -> None:
        if self._pending() == 0:  # the usual case: no candidate waits in a window
            self._held.clear()
            return
        waiting = set(self.core.pending_chunks().tolist())
        for seq in [s for s in self._held if s not in waiting]:
            del self._held[seq]

    # The journal writer's side, under lock.

    def _has_work(self) -> bool:
        """Under _intake (the writer's condition)."""
        return self.halted is None and (bool(self._batch) or self.dispatch.has_statuses())

    def _linger(self) -> float:
        """Seconds the writer should still let a small batch fill up (under _intake).

        Bust statuses alone wait too: nobody waits for them (a crash leaves the bust
        pending, which the start-up reconciles), and they ride with the next fills
        instead of costing a transaction of their own after every bust."""
        batch = self._batch
        if self.halted is not None or batch.urgent or len(batch.fills) >= FULL_ENOUGH:
            return 0.0
        if batch.fills:
            opened = batch.opened
        elif batch:  # decisions of a window that closed: no fill will come to wait for
            return 0.0
        else:
            opened = self.dispatch.statuses_since
        return opened + LINGER_SECONDS - time.monotonic()

    def _wake_writer(self) -> None:
        with self._intake:
            self._writer.wake()

    def flush(self) -> None:
        """Commit the pending batch and send its busts: the writer thread's work, and an
        in-process caller's that runs no writer (tests)."""
        with self.lock:
            self._write_pending()

    def _write_pending(self) -> None:
        """Commit the pending batch, then send its busts (under lock)."""
        if self.halted is not None:
            return
        with self._intake:
            batch, self._batch = self._batch, Batch()
            batch.pending = self._pending()
            self._room.notify_all()
        statuses = self.dispatch.take_statuses()
        if not batch and not statuses:
            return
        try:
            decided, busts, rendered = self._commit(batch, statuses)
        except JOURNAL_ERRORS as exc:
            self._halt(exc, batch)
            return
        self.dispatch.send_all(busts)  # first: they are what is waited for
        self._report.committed(batch, decided, rendered)

    def _commit(self, batch: Batch, statuses: list) -> tuple[list, list, np.ndarray]:
        """One journal transaction: the batch's fills, their final decisions, their pending
        busts, review cases; and bust statuses of earlier batches.

        Returns the decisions made in Python as (record, session), the busts to send, and
        the kernel rows of the decisions rendered in numba (see _decide).
        """
        now = self._clock.now()
        started = time.perf_counter()
        journal = self.journal
        journal.begin()
        try:
            if statuses:
                journal.set_bust_statuses(statuses)
            if batch.fills:
                journal.add_fills(batch.fills, batch.last)
            for after_seq in batch.closes:
                journal.add_window_close(after_seq, now)
            decided, busts, rendered = self._decide(batch, now)
            journal.commit()
        except BaseException:
            journal.rollback()
            raise
        self.metrics.journal_latency.observe(time.perf_counter() - started)
        return decided, busts, rendered

    def _decide(self, batch: Batch, now: str) -> tuple[list, list, np.ndarray]:
        """Journal the batch's decisions (in the open transaction).

        Those that stand or have no reference, nearly all, are rendered as JSON by one
        numba call that does not hold the GIL, and inserted by one statement. Erroneous
        and rejected ones, and any the renderer cannot do exactly, go through RecordMaker
        one by one: they need the record (busts, review cases, logs)."""
        if not batch.row_blocks:
            return [], [], _NO_ROWS
        rows = np.concatenate(batch.row_blocks)
        text, rendered = self._text.render(rows, _RENDERED, [f[0] for f in batch.row_fills])
        journal = self.journal
        if len(text) > 2:  # not "[]"
            journal.add_decision_array(text, now)
        decided = []
        busts = []
        flagged = []
        plain = []
        decision = self._records.decision
        for i in np.flatnonzero(~rendered).tolist():
            row = rows[i].tolist()
            raw, session, received = batch.row_fills[i]
            line = row[p.O_LINE]
            try:
                record = decision(row, raw, line)
            except Exception:  # a bug: this decision is lost, not the batch
                self.metrics.rejects.labels(INTERNAL_ERROR).inc()
                self.log.exception("decision_failed", session=session, fill_seq=line)
                continue
            if row[p.O_VERDICT] != _ERRONEOUS:
                plain.append((line, record))
                decided.append((record, session, raw))
                continue
            # One by one: a decision or bust already recorded is not acted on again.
            if not journal.add_decision(line, record, now):
                continue
            decided.append((record, session, raw))
            if self.review is not None:  # review mode: a case, not a bust
                flagged.append((line, session, raw, record))
                continue
            for bust in self.dispatch.busts_for(line, raw, session, record):
                if journal.add_bust(bust, now):
                    busts.append((bust, raw, record, received))
        if plain:
            journal.add_decisions(plain, now)
        if flagged:
            self.review.open_cases(flagged)  # in this transaction
        return decided, busts, rows[rendered]

    # The end of the trading day.

    def roll_if_due(self) -> bool:
        """At the trading day's end: the day's last decisions (an open multi-stock window
        closes: a window never spans two days) are committed and their busts sent, the core
        rolls (the day's newest sales become the references; ExecIDs, series and matches
        start afresh), and the journal opens the new day with the closes carried, from the
        next fill on. Then retention (after_rollover). A halted engine rolls once the
        journal is back (its rebuild reads the day that had not ended)."""
        now = time.time_ns()
        if self.day is None or now < self._day_end or self.halted is not None:
            return False
        with self.lock:
            self._write_pending()  # the fills judged so far are the ending day's
            if self.halted is not None:
                return False
            with self._intake:
                window = self.core.roll_day()
                self._add_rows(window)
                if len(window):
                    self._batch.closes.append(self._next_seq - 1)
                self._window_opened = None
                first_seq = self._next_seq
                closes = self.core.state.closes()
            self._write_pending()  # the window's decisions, the ending day's too
            ended, day = self.day, self.calendar.day_of(now)
            try:
                self.journal.open_day(day, first_seq, self._clock.now(), closes)
            except JOURNAL_ERRORS as exc:
                self._halt(exc)  # the rebuild at the resume reads the ending day again
                return False
            self.day, self._day_end = day, self.calendar.end_of(day)
            self.metrics.trading_day_end.set(self._day_end / 1e9)
            self.metrics.rollovers.inc()
            self.log.info("trading_day_rolled", ended=ended.isoformat(), day=day.isoformat(),
                          first_fill=first_seq, closes_carried=len(closes[1]),
                          window_decisions=len(window),
                          ends_at=self.calendar.describe_end(day))
        if self.after_rollover is not None:
            self.after_rollover(ended, day)  # outside the lock: fills go on meanwhile
        return True

    # Journal failure and recovery, under lock.

    def _halt(self, exc: BaseException, lost: Batch | None = None) -> None:
        """Refuse fills until the journal takes a write; the fills of the failed batch and
        those pending behind it are dropped (the matching engine resends them)."""
        with self._intake:
            dropped = (lost.fills if lost is not None else []) + self._batch.fills
            self._batch = Batch()
            self.dispatch.take_statuses()  # their busts stay pending: reconciled at the resume
            first = self.halted is None
            if first:
                self.halted = (f"ceguard cannot write its journal {self.journal.path} "
                               f"({type(exc).__name__}: {exc}); fills are refused until "
                               "it can")
            self._room.notify_all()
        if self._queue is not None:
            self._queue.close()  # fills go to fromApp, which refuses them; those queued too
        for session, n in Counter([fill[2] for fill in dropped]).items():
            self.metrics.child(self.metrics.refused, session).inc(n)
        if first:
            self.log.error("journal_failed", journal=str(self.journal.path),
                           error=f"{type(exc).__name__}: {exc}", fills_dropped=len(dropped),
                           action="drop-copy sessions logged out, logons refused, fills "
                                  "not journaled are asked for again after the resume; the "
                                  f"journal is retried every {PROBE_SECONDS:.0f} s")
        self.metrics.journal_failures.inc()
        self.metrics.journal_writable.set(0)
        self._next_probe = time.monotonic() + PROBE_SECONDS
        if self.sessions is not None:
            self.sessions.log_out(self.halted)

    def _try_resume(self) -> None:
        """Reopen the journal; if a write goes through, rebuild the core from it."""
        self._next_probe = time.monotonic() + PROBE_SECONDS
        try:
            journal = self._open_journal()
        except JOURNAL_ERRORS:
            return
        try:
            journal.probe(self._clock.now())
            old, self.journal = self.journal, journal
            try:
                old.close()
            except JOURNAL_ERRORS:
                pass  # the failed connection: nothing of it is needed
            with self._intake:
                # The core may hold fills that failed (their ExecIDs seen, references
                # moved): only the journal's fills count.
                self.core = self._new_core()
                self._held.clear()
                self._window_opened = None
                rebuilt = self.rebuild()
                self.halted = None
            if self._queue is not None:
                self._queue.open(MAX_BATCH)
            self.metrics.journal_writable.set(1)
            resent, recovered = self.dispatch.resend_unsent(self.journal)
            self._wake_writer()
            self.log.warning("journal_resumed", journal=str(self.journal.path),
                             fills_rebuilt=rebuilt, busts_resent=resent,
                             busts_found_handed_over=recovered)
        except JOURNAL_ERRORS:
            if self.journal is not journal:
                try:
                    journal.close()
                except JOURNAL_ERRORS:
                    pass

    def _realign(self, session: str, last: int | None) -> None:
        moved = self.sessions.realign(session, last)
        if moved is not None:
            # Routine after heartbeats that followed the last fill (they come back as a
            # gap fill); after a journal failure or a crash it is what brings back the
            # fills that were acknowledged but not journaled.
            self.log.info("seqnum_realigned", session=session, store_expected=moved[0],
                          journal_expected=moved[1],
                          detail="expected MsgSeqNum set back to the last journaled fill's "
                                 "+ 1: QuickFIX asks for a resend of what follows")

    # Review mode: busts of a determination (engine.review), called under the lock.

    def bust_determined(self, fill_seqs: list[int]) -> int:
        """Record and send the busts of executions a review case determined to bust.

        Idempotent like the live path: a bust already recorded is not sent again.
        """
        now = self._clock.now()
        busts = []
        self.journal.begin()
        try:
            for seq in fill_seqs:
                session, raw = self.journal.fill(seq)
                record = self.journal.decision(seq)
                for bust in self.dispatch.busts_for(seq, raw, session, record):
                    if self.journal.add_bust(bust, now):
                        busts.append((bust, raw, record, None))
            self.journal.commit()
        except BaseException:
            self.journal.rollback()
            raise
        self.dispatch.send_all(busts)
        self._wake_writer()  # to record their statuses
        return len(busts)

    def bust_rejected(self, session: str, bust_exec_id: str, reason: str, detail: str
                      ) -> None:
        """A recipient refused a bust (on QuickFIX's thread): journaled `rejected` in the
        writer's next transaction, counted and logged."""
        with self.lock:
            self.dispatch.rejected(session, bust_exec_id, reason, detail)
        self._wake_writer()

    def journal_gap_fill(self, session: str, first: int, last: int, possibly_lost: int,
                         requested: str) -> None:
        """A gap fill over MsgSeqNums ceguard asked for (on QuickFIX's thread), in a
        transaction of its own: rare, and the writer may be idle."""
        with self.lock:
            if self.halted is not None:
                return  # logged and counted by the caller; the journal is down
            try:
                self.journal.begin()
                self.journal.add_gap_fill(session, first, last, possibly_lost, requested,
                                          self._clock.now())
                self.journal.commit()
            except JOURNAL_ERRORS as exc:
                try:
                    self.journal.rollback()
                except JOURNAL_ERRORS:
                    pass
                self._halt(exc)
