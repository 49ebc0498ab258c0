"""The live path of one fill: decode, judge, journal, bust (DESIGN.md "The path of one fill").

Runs inside QuickFIX's fromApp (and the settle timer) under one lock: the core, the
journal and the notifier are used by one thread at a time. Each received execution
report becomes journal fill number `seq`, which is also its chunk id in the core and
the `line` of its decision record. The journal transaction commits before fromApp
returns; busts are recorded as pending in that transaction and sent after it.

When the journal cannot be written (disk full, read-only, I/O error) the engine halts:
the fill is not kept (the core is rebuilt from the journal before fills are accepted
again, so it never remembers a fill the journal lost), the drop-copy sessions are logged
out and their logons refused, and the main loop probes the journal until a write goes
through. QuickFIX has meanwhile advanced its sequence numbers over the fills that were
not journaled; the logon after the resume sets them back to the journal's (sessions.py),
so the matching engine resends those fills.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol

import numpy as np

from engine import codes
from engine.core import pipeline as p
from engine.core.surveillance import Surveillance
from engine.fix.busts import build_bust, bust_exec_id, executing_firms
from engine.journal.store import BustRow, Journal
from engine.live.notifier import FAILED, SENT, Notifier
from engine.live.sessions import DropCopySessions
from engine.obs.metrics import Metrics
from engine.records import RecordMaker

_UNIT_ROWS = 1  # one QuickFIX message is one decoder unit
_KEEP_ALL = np.ones(len(codes.VERDICT_NAMES), np.bool_)  # every decision row is journaled
VENUE = "venue"
FIRM = "firm"
PROBE_SECONDS = 1.0  # how often a halted engine tries the journal again
# What a journal that cannot be written raises (disk full, read-only, I/O error, gone).
JOURNAL_ERRORS = (sqlite3.Error, OSError)


class CaseOpener(Protocol):
    def open_cases(self, flagged: list[tuple[int, str, bytes, dict]]) -> None:
        """Open review cases for (fill_seq, session, raw, record) of erroneous decisions."""


@dataclass(frozen=True)
class HeldFill:
    raw: bytes
    session: str
    received: float  # perf_counter at arrival, for fill-to-bust latency


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


class LiveEngine:
    def __init__(self, new_core: Callable[[], Surveillance],
                 open_journal: Callable[[], Journal], metrics: Metrics,
                 firms: dict[str, str], settle_seconds: float, log) -> None:
        self._new_core = new_core
        self._open_journal = open_journal
        self.core = new_core()
        self.journal = open_journal()
        self.metrics = metrics
        self.firms = firms
        self.settle_seconds = settle_seconds
        self.log = log
        self.notifier: Notifier | None = None
        self.sessions: DropCopySessions | None = None
        self.review: CaseOpener | None = None  # set in review mode (engine.review)
        self.lock = threading.Lock()
        self.halted: str | None = None  # why fills are refused, while the journal is unusable
        self._next_probe = 0.0
        self._records = RecordMaker(self.core.rule_codes)
        self._dropped = np.zeros(len(codes.VERDICT_NAMES), np.int64)  # stays 0: keeps all
        self._held: dict[int, HeldFill] = {}  # fills that candidates still point into
        self._next_seq = self.journal.next_seq()
        self._window_opened: float | None = None  # monotonic time the settle window opened

    # Start-up.

    def rebuild(self) -> int:
        """Replay the journal through the core: the state it had when it stopped."""
        closes = self.journal.window_closes()
        count = 0
        for seq, session, raw in self.journal.fills():
            self._judge(seq, raw)
            self._held[seq] = HeldFill(raw, session, time.perf_counter())
            if seq in closes:
                self.core.flush()
            self._forget_settled()
            count += 1
        self._next_seq = self.journal.next_seq()
        if self._window_open():
            self._window_opened = time.monotonic()
        self.metrics.pending.set(self._pending())
        return count

    def attach(self, notifier: Notifier, sessions: DropCopySessions) -> None:
        self.notifier = notifier
        self.sessions = sessions

    def resend_unsent(self) -> tuple[int, int]:
        """Busts recorded as pending when the engine stopped: (sent now, found handed over).

        A crash can fall between sendToTarget and the journal's status update; such a
        bust is already in QuickFIX's store, which delivers it, so it is not sent again.
        """
        with self.lock:
            return self._resend_unsent()

    def realign(self) -> None:
        """Every drop-copy session's next expected MsgSeqNum back to the journal's."""
        with self.lock:
            last = self.journal.last_msg_seq_nums()
            for session in self.sessions.names():
                self._realign(session, last.get(session))

    def admit_logon(self, session: str) -> str | None:
        """At a drop-copy session's Logon: why it is refused, or None once it is realigned
        (so that QuickFIX asks for a resend of whatever the journal does not have)."""
        with self.lock:
            if self.halted is not None:
                return self.halted
            try:
                last = self.journal.last_msg_seq_nums().get(session)
            except JOURNAL_ERRORS as exc:
                self._halt(exc)
                return self.halted
            self._realign(session, last)
            return None

    # The live path.

    def on_fill(self, raw: bytes, session: str, msg_seq_num: int) -> None:
        received = time.perf_counter()
        with self.lock:
            if self.halted is not None:
                self.metrics.refused.labels(session).inc()
                return
            seq = self._next_seq
            try:
                self._accept(raw, session, msg_seq_num, received)
            except JOURNAL_ERRORS as exc:
                if self._next_seq == seq:  # not journaled (else a bust status update failed)
                    self.metrics.refused.labels(session).inc()
                self._halt(exc)

    def _accept(self, raw: bytes, session: str, msg_seq_num: int, received: float) -> None:
        seq = self._next_seq
        duplicates = self.core.state.count(p.C_DUPLICATES)
        rows = self._judge(seq, raw)
        self._held[seq] = HeldFill(raw, session, received)
        closed = False
        if self.settle_seconds == 0 and self._window_open():
            rows = np.concatenate([rows, self.core.flush()])
            closed = True
        decided, busts = self._commit(rows, seq, closed,
                                      fill=(seq, session, raw, msg_seq_num))
        self._next_seq = seq + 1
        self.metrics.child(self.metrics.fills, session).inc()
        if self.core.state.count(p.C_DUPLICATES) > duplicates:
            self.metrics.duplicates.labels(session).inc()
            self.log.info("duplicate_dropped", session=session, fill_seq=seq)
        self.metrics.check_latency.observe(time.perf_counter() - received)
        self._after(decided, busts)

    def tick(self) -> None:
        """Close the settle window once it has been open settle_seconds; probe a journal
        that failed (main loop)."""
        if self.halted is not None:
            if time.monotonic() >= self._next_probe:
                with self.lock:
                    self._try_resume()
            return
        if self._window_opened is None or \
                time.monotonic() - self._window_opened < self.settle_seconds:
            return
        with self.lock:
            if self.halted is not None or not self._window_open():
                self._window_opened = None
                return
            try:
                rows = self.core.flush()
                decided, busts = self._commit(rows, self._next_seq - 1, closed=True, fill=None)
                self._after(decided, busts)
            except JOURNAL_ERRORS as exc:
                self._halt(exc)

    # Journal failure and recovery, under the lock.

    def _halt(self, exc: BaseException) -> None:
        if self.halted is None:
            self.halted = (f"ceguard cannot write its journal {self.journal.path} "
                           f"({type(exc).__name__}: {exc}); fills are refused until it can")
            self.log.error("journal_failed", journal=str(self.journal.path),
                           error=f"{type(exc).__name__}: {exc}",
                           action="drop-copy sessions logged out, logons refused, fills "
                                  "not acknowledged; the journal is retried every "
                                  f"{PROBE_SECONDS:.0f} s")
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
            journal.probe(utc_now())
            old, self.journal = self.journal, journal
            try:
                old.close()
            except JOURNAL_ERRORS:
                pass  # the failed connection: nothing of it is needed
            # The core may hold the fill that failed (its ExecID seen, a reference moved):
            # only the journal's fills count.
            self.core = self._new_core()
            self._held.clear()
            self._window_opened = None
            rebuilt = self.rebuild()
            self.halted = None
            self.metrics.journal_writable.set(1)
            resent, recovered = self._resend_unsent()
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
            # gap fill); after a journal failure it is what brings the refused fills back.
            self.log.info("seqnum_realigned", session=session, store_expected=moved[0],
                          journal_expected=moved[1],
                          detail="expected MsgSeqNum set back to the last journaled fill's "
                                 "+ 1: QuickFIX asks for a resend of what follows")

    # Internals, all under the lock.

    def _judge(self, seq: int, raw: bytes) -> np.ndarray:
        # One QuickFIX message is one unit: a newline inside a value (Text 58 may hold
        # one) must not end it, nor start a second unit numbered like the next fill.
        # Same length, so the records' offsets into `raw` stay right. Decoded and judged
        # in one numba call: one dispatch per fill, not two.
        buf = np.frombuffer(raw.replace(b"\n", b" "), np.uint8)
        _, _, rows = self.core.decode_and_judge(buf, 0, len(raw), True, seq, True, seq,
                                                _UNIT_ROWS, _KEEP_ALL, self._dropped)
        return rows.copy()

    def _window_open(self) -> bool:
        return self.core.state.count(p.C_WINDOW_OPEN) != 0

    def _pending(self) -> int:
        return self.core.state.count(p.C_PENDING)

    def _commit(self, rows: np.ndarray, seq: int, closed: bool,
                fill: tuple[int, str, bytes, int] | None) -> tuple[list, list]:
        """One journal transaction: the fill, its final decisions, their pending busts.

        Returns the new decisions as (record, session) and the busts to send.
        """
        now = utc_now()
        decided = []
        busts = []
        flagged = []
        started = time.perf_counter()
        self.journal.begin()
        try:
            if fill is not None:
                seq_of_fill, session, raw, msg_seq_num = fill
                self.journal.add_fill(seq_of_fill, now, session, raw, msg_seq_num)
            if closed:
                self.journal.add_window_close(seq, now)
            for row in rows.tolist():  # Python ints: no numpy scalar per field read
                held = self._held[row[p.O_CHUNK]]
                record = self._records.decision(row, held.raw, row[p.O_LINE])
                if not self.journal.add_decision(row[p.O_LINE], record, now):
                    continue
                decided.append((record, held.session))
                if record["verdict"] == "erroneous":
                    if self.review is not None:  # review mode: a case, not a bust
                        flagged.append((row[p.O_LINE], held.session, held.raw, record))
                        continue
                    for bust in self._busts_for(row[p.O_LINE], held, record):
                        if self.journal.add_bust(bust, now):
                            busts.append((bust, held.raw, record, held.received))
            if flagged:
                self.review.open_cases(flagged)  # in this transaction
            self.journal.commit()
        except BaseException:
            self.journal.rollback()
            raise
        self.metrics.journal_latency.observe(time.perf_counter() - started)
        return decided, busts

    def _busts_for(self, fill_seq: int, held: HeldFill, record: dict) -> list[BustRow]:
        """One bust to the matching engine's session and one to each executing firm's."""
        bust_id = bust_exec_id(record["exec_id"])
        rows = [BustRow(bust_id, held.session, record["exec_id"], fill_seq, VENUE, None,
                        "pending")]
        for firm in executing_firms(held.raw):
            session = self.firms.get(firm)
            if session is None:
                rows.append(BustRow(bust_id, f"(no session for firm {firm})", record["exec_id"],
                                    fill_seq, FIRM, firm, FAILED,
                                    f"PartyID {firm} is not in the [firms] map of the config"))
            else:
                rows.append(BustRow(bust_id, session, record["exec_id"], fill_seq, FIRM, firm,
                                    "pending"))
        return rows

    def _after(self, decided: list[tuple[dict, str]], busts: list) -> None:
        """Metrics, logs and busts of decisions that are now durable."""
        event_sizes = set()
        for record, session in decided:
            if record["verdict"] == "rejected":
                self._log_rejected(record, session)
                continue
            self.metrics.child(self.metrics.decisions, record["verdict"]).inc()
            if record["event_size"] > 0:
                event_sizes.add(record["event_size"])
            if record["verdict"] == "erroneous":
                self._log_flag(record, session)
        for size in event_sizes:
            self.metrics.events.inc()
            self.log.info("multi_stock_event", securities=size)
        for bust, raw, record, received in busts:
            self._send(bust, raw, record, received)
        self._forget_settled()
        pending = self._pending()
        self.metrics.pending.set(pending)
        if pending == 0:
            self._window_opened = None
        elif self._window_opened is None:
            self._window_opened = time.monotonic()

    def _log_rejected(self, record: dict, session: str) -> None:
        self.metrics.rejects.labels(record["reason_code"]).inc()
        self.log.warning("rejected", session=session, exec_id=record.get("exec_id"),
                         fill_seq=record["line"], reason=record["reason"])

    def _log_flag(self, record: dict, session: str) -> None:
        self.log.warning("flag", session=session, symbol=record["symbol"],
                         exec_id=record["exec_id"], fill_seq=record["line"],
                         price=record["price"], reference_price=record["reference_price"],
                         deviation_pct=record["deviation_pct"],
                         threshold_pct=record["threshold_pct"], rule=record["rule"],
                         event_size=record["event_size"])

    # Review mode: busts of a determination (engine.review), called under the lock.

    def bust_determined(self, fill_seqs: list[int]) -> int:
        """Record and send the busts of executions a review case determined to bust.

        Idempotent like the live path: a bust already recorded is not sent again.
        """
        now = utc_now()
        busts = []
        self.journal.begin()
        try:
            for seq in fill_seqs:
                session, raw = self.journal.fill(seq)
                record = self.journal.decision(seq)
                for bust in self._busts_for(seq, HeldFill(raw, session, 0.0), record):
                    if self.journal.add_bust(bust, now):
                        busts.append((bust, raw, record, None))
            self.journal.commit()
        except BaseException:
            self.journal.rollback()
            raise
        for bust, raw, record, received in busts:
            self._send(bust, raw, record, received)
        return len(busts)

    def _resend_unsent(self) -> tuple[int, int]:
        resent = recovered = 0
        stored: dict[str, set[str]] = {}
        for bust in self.journal.unsent_busts():
            record = self.journal.decision(bust.fill_seq)
            if bust.session not in stored:
                stored[bust.session] = self.notifier.stored_exec_ids(bust.session)
            if bust.bust_exec_id in stored[bust.session]:
                self._record(bust, record, SENT, "handed to QuickFIX before the stop or "
                                                 "journal failure (found in its store); "
                                                 "not sent again")
                recovered += 1
            else:
                session, raw = self.journal.fill(bust.fill_seq)
                self._send(bust, raw, record, None)
                resent += 1
        return resent, recovered

    def _send(self, bust: BustRow, raw: bytes, record: dict, received: float | None) -> None:
        if bust.status == FAILED:
            result, detail = FAILED, bust.detail
        elif self.notifier is None or not self.notifier.known(bust.session):
            result, detail = FAILED, f"no QuickFIX session {bust.session}"
        else:
            message = build_bust(self.notifier.begin_string(bust.session), raw, record)
            result, detail = self.notifier.send(bust.session, message)
            if received is not None:  # None: a resent or reviewed bust, not live latency
                self.metrics.bust_latency.observe(time.perf_counter() - received)
        self._record(bust, record, result, detail)

    def _record(self, bust: BustRow, record: dict, result: str, detail: str | None) -> None:
        self.journal.set_bust_status(bust.bust_exec_id, bust.session, result, detail, utc_now())
        self.metrics.busts.labels(bust.recipient, result).inc()
        log = self.log.error if result == FAILED else self.log.warning
        log("bust", session=bust.session, recipient=bust.recipient, firm=bust.firm,
            symbol=record["symbol"], exec_id=bust.exec_id, bust_exec_id=bust.bust_exec_id,
            result=result, detail=detail)

    def _forget_settled(self) -> None:
        if self._pending() == 0:  # the usual case: no candidate waits in a window
            self._held.clear()
            return
        waiting = set(self.core.pending_chunks().tolist())
        for seq in [s for s in self._held if s not in waiting]:
            del self._held[seq]
