"""The live path of one fill: decode, judge, journal, bust (DESIGN.md "The path of one fill").

Runs inside QuickFIX's fromApp (and the settle timer) under one lock: the core, the
journal and the notifier are used by one thread at a time. Each received execution
report becomes journal fill number `seq`, which is also its chunk id in the core and
the `line` of its decision record. The journal transaction commits before fromApp
returns; busts are recorded as pending in that transaction and sent after it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from engine.core import pipeline as p
from engine.core.surveillance import Surveillance
from engine.fix.busts import build_bust, bust_exec_id, executing_firms
from engine.fix.decoder import N_UNIT_COLS, decode
from engine.journal.store import BustRow, Journal
from engine.live.notifier import FAILED, Notifier
from engine.obs.metrics import Metrics
from engine.records import RecordMaker

_UNIT_ROWS = 1  # one QuickFIX message is one decoder unit
VENUE = "venue"
FIRM = "firm"


@dataclass(frozen=True)
class HeldFill:
    raw: bytes
    session: str
    received: float  # perf_counter at arrival, for fill-to-bust latency


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


class LiveEngine:
    def __init__(self, core: Surveillance, journal: Journal, metrics: Metrics,
                 firms: dict[str, str], settle_seconds: float, log) -> None:
        self.core = core
        self.journal = journal
        self.metrics = metrics
        self.firms = firms
        self.settle_seconds = settle_seconds
        self.log = log
        self.notifier: Notifier | None = None
        self.lock = threading.Lock()
        self._records = RecordMaker(core.rule_codes)
        self._units = np.empty((_UNIT_ROWS, N_UNIT_COLS), np.int64)
        self._held: dict[int, HeldFill] = {}  # fills that candidates still point into
        self._next_seq = journal.next_seq()
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

    def attach(self, notifier: Notifier) -> None:
        self.notifier = notifier

    def resend_unsent(self) -> int:
        """Busts recorded as pending but not handed to QuickFIX before a stop."""
        with self.lock:
            unsent = self.journal.unsent_busts()
            for bust in unsent:
                session, raw = self.journal.fill(bust.fill_seq)
                record = self.journal.decision(bust.fill_seq)
                self._send(bust, raw, record, time.perf_counter())
            return len(unsent)

    # The live path.

    def on_fill(self, raw: bytes, session: str) -> None:
        received = time.perf_counter()
        with self.lock:
            seq = self._next_seq
            duplicates = self.core.state.count(p.C_DUPLICATES)
            rows = self._judge(seq, raw)
            self._held[seq] = HeldFill(raw, session, received)
            closed = False
            if self.settle_seconds == 0 and self._window_open():
                rows = np.concatenate([rows, self.core.flush()])
                closed = True
            decided, busts = self._commit(rows, seq, closed, fill=(seq, session, raw))
            self._next_seq = seq + 1
            self.metrics.fills.labels(session).inc()
            if self.core.state.count(p.C_DUPLICATES) > duplicates:
                self.metrics.duplicates.labels(session).inc()
                self.log.info("duplicate_dropped", session=session, fill_seq=seq)
            self.metrics.check_latency.observe(time.perf_counter() - received)
            self._after(decided, busts)

    def tick(self) -> None:
        """Close the settle window once it has been open settle_seconds (main loop)."""
        if self._window_opened is None or \
                time.monotonic() - self._window_opened < self.settle_seconds:
            return
        with self.lock:
            if not self._window_open():
                self._window_opened = None
                return
            rows = self.core.flush()
            decided, busts = self._commit(rows, self._next_seq - 1, closed=True, fill=None)
            self._after(decided, busts)

    # Internals, all under the lock.

    def _judge(self, seq: int, raw: bytes) -> np.ndarray:
        # One QuickFIX message is one unit: a newline inside a value (Text 58 may hold
        # one) must not end it, nor start a second unit numbered like the next fill.
        # Same length, so the records' offsets into `raw` stay right.
        buf = np.frombuffer(raw.replace(b"\n", b" "), np.uint8)
        count, _ = decode(buf, 0, len(raw), True, seq, True, self._units)
        return self.core.judge(buf, self._units, count, seq).copy()

    def _window_open(self) -> bool:
        return self.core.state.count(p.C_WINDOW_OPEN) != 0

    def _pending(self) -> int:
        return self.core.state.count(p.C_PENDING)

    def _commit(self, rows: np.ndarray, seq: int, closed: bool,
                fill: tuple[int, str, bytes] | None) -> tuple[list, list]:
        """One journal transaction: the fill, its final decisions, their pending busts.

        Returns the new decisions as (record, session) and the busts to send.
        """
        now = utc_now()
        decided = []
        busts = []
        started = time.perf_counter()
        self.journal.begin()
        try:
            if fill is not None:
                seq_of_fill, session, raw = fill
                self.journal.add_fill(seq_of_fill, now, session, raw)
            if closed:
                self.journal.add_window_close(seq, now)
            for row in rows:
                held = self._held[int(row[p.O_CHUNK])]
                record = self._records.decision(row, held.raw, int(row[p.O_LINE]))
                if not self.journal.add_decision(int(row[p.O_LINE]), record, now):
                    continue
                decided.append((record, held.session))
                if record["verdict"] == "erroneous":
                    for bust in self._busts_for(int(row[p.O_LINE]), held, record):
                        if self.journal.add_bust(bust, now):
                            busts.append((bust, held.raw, record, held.received))
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
            self.metrics.decisions.labels(record["verdict"]).inc()
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

    def _send(self, bust: BustRow, raw: bytes, record: dict, received: float) -> None:
        if bust.status == FAILED:
            result, detail = FAILED, bust.detail
        elif self.notifier is None or not self.notifier.known(bust.session):
            result, detail = FAILED, f"no QuickFIX session {bust.session}"
        else:
            message = build_bust(self.notifier.begin_string(bust.session), raw, record)
            result, detail = self.notifier.send(bust.session, message)
            self.metrics.bust_latency.observe(time.perf_counter() - received)
        self.journal.set_bust_status(bust.bust_exec_id, bust.session, result, detail, utc_now())
        self.metrics.busts.labels(bust.recipient, result).inc()
        log = self.log.error if result == FAILED else self.log.warning
        log("bust", session=bust.session, recipient=bust.recipient, firm=bust.firm,
            symbol=record["symbol"], exec_id=bust.exec_id, bust_exec_id=bust.bust_exec_id,
            result=result, detail=detail)

    def _forget_settled(self) -> None:
        waiting = set(self.core.pending_chunks().tolist())
        for seq in [s for s in self._held if s not in waiting]:
            del self._held[seq]
