"""Busts out: who gets one, handing them to QuickFIX, and their statuses for the journal.

The live engine decides and journals a bust as `pending` (engine/live/engine.py); only
once that transaction has committed does it come here to be sent. Each bust's outcome
(sent, queued, failed, unroutable, later rejected by its recipient) is kept as a status
that the journal writer records in its next transaction: a crash before that leaves the
bust `pending`, which the start-up reconciles with QuickFIX's store (resend_unsent).
Fills ceguard cannot judge are answered here too, with a BusinessMessageReject.

Not thread-safe by itself: the engine calls it under its journal lock.
"""

from __future__ import annotations

import time

from engine.fix.busts import (bust_exec_id, bust_message, bust_text, executing_firms,
                              unroutable_reason)
from engine.fix.rejects import business_reject, msg_seq_num
from engine.journal.store import BustRow, Journal
from engine.live.notifier import FAILED, REJECTED, SENT, UNROUTABLE, Notifier
from engine.live.writer import UtcClock
from engine.obs.metrics import Metrics

VENUE = "venue"
FIRM = "firm"
# (bust, the busted fill's raw, its record, perf_counter at the fill's arrival or None)
Outgoing = tuple[BustRow, bytes, dict, float | None]
# (status, detail, at, bust_exec_id, session): a row of Journal.set_bust_statuses
Status = tuple[str, str | None, str, str, str]


class BustDispatch:
    def __init__(self, firms: dict[str, str], metrics: Metrics, log, clock: UtcClock) -> None:
        self.firms = firms  # PartyID -> the firm's session ([firms] of the config)
        self.metrics = metrics
        self.log = log
        self.notifier: Notifier | None = None  # the FIX side, once attached
        self._clock = clock
        self._statuses: list[Status] = []
        self.statuses_since = 0.0  # monotonic time the first waiting status was recorded

    # Who gets a bust.

    def busts_for(self, fill_seq: int, raw: bytes, session: str, record: dict
                  ) -> list[BustRow]:
        """One bust to the matching engine's session and one to each executing firm's.

        A firm that cannot be found (no Parties group, no PartyRole 452=1, a PartyID not
        in [firms]) gets an `unroutable` row saying why: logged and counted when it is
        "sent" (send_all), never silent."""
        exec_id = record["exec_id"]
        bust_id = bust_exec_id(exec_id)
        rows = [BustRow(bust_id, session, exec_id, fill_seq, VENUE, None, "pending")]
        firms = executing_firms(raw)
        if not firms:
            rows.append(BustRow(bust_id, "(no executing firm)", exec_id, fill_seq, FIRM, None,
                                UNROUTABLE, unroutable_reason(raw)))
        for firm in firms:
            firm_session = self.firms.get(firm)
            if firm_session is None:
                rows.append(BustRow(bust_id, f"(no session for firm {firm})", exec_id,
                                    fill_seq, FIRM, firm, UNROUTABLE,
                                    f"PartyID {firm} is not in the [firms] map of the config"))
            else:
                rows.append(BustRow(bust_id, firm_session, exec_id, fill_seq, FIRM, firm,
                                    "pending"))
        return rows

    # Sending.

    def send_all(self, busts: list[Outgoing]) -> None:
        """Hand the busts to QuickFIX, then record them: every bust goes out before any is
        logged, and a fill's bust text is built once per FIX version, not per recipient."""
        texts: dict[tuple[str, str], str] = {}
        results = [self._send(bust, raw, record, received, texts)
                   for bust, raw, record, received in busts]
        for (bust, _, record, _), (result, detail) in zip(busts, results):
            self._record(bust, record, result, detail)

    def resend_unsent(self, journal: Journal) -> tuple[int, int]:
        """Busts the journal holds as pending: (sent now, found handed over already).

        A crash can fall between sendToTarget and the journal's status update; such a
        bust is already in QuickFIX's store, which delivers it, so it is not sent again."""
        recovered = 0
        resend = []
        stored: dict[str, set[str]] = {}
        for bust in journal.unsent_busts():
            record = journal.decision(bust.fill_seq)
            if bust.session not in stored:
                stored[bust.session] = self.notifier.stored_exec_ids(bust.session)
            if bust.bust_exec_id in stored[bust.session]:
                self._record(bust, record, SENT, "handed to QuickFIX before the stop or "
                                                 "journal failure (found in its store); "
                                                 "not sent again")
                recovered += 1
            else:
                _, raw = journal.fill(bust.fill_seq)
                resend.append((bust, raw, record, None))
        self.send_all(resend)
        return len(resend), recovered

    def answer_rejected(self, record: dict, session: str, raw: bytes) -> None:
        """A BusinessMessageReject to the sender of a fill that could not be judged (its
        record is journaled). QuickFIX's toApp counts and logs it (SessionEvents)."""
        ref_seq_num = msg_seq_num(raw)
        if self.notifier is None or ref_seq_num is None:
            return
        try:
            result, detail = self.notifier.send(session, business_reject(record, ref_seq_num))
        except Exception as exc:  # a bug or a QuickFIX error: this answer, not the batch
            result, detail = FAILED, f"{type(exc).__name__}: {exc}"
        if result == FAILED:
            self.log.error("business_reject_failed", session=session,
                           exec_id=record.get("exec_id"), ref_seq_num=ref_seq_num,
                           detail=detail)

    def _send(self, bust: BustRow, raw: bytes, record: dict, received: float | None,
              texts: dict[tuple[str, str], str]) -> tuple[str, str | None]:
        if bust.status in (FAILED, UNROUTABLE):
            return bust.status, bust.detail
        if self.notifier is None or not self.notifier.known(bust.session):
            return FAILED, f"no QuickFIX session {bust.session}"
        begin_string = self.notifier.begin_string(bust.session)
        key = (bust.bust_exec_id, begin_string)
        if key not in texts:
            texts[key] = bust_text(begin_string, raw, record)
        outcome = self.notifier.send(bust.session, bust_message(texts[key]))
        if received is not None:  # None: a resent or reviewed bust, not live latency
            self.metrics.bust_latency.observe(time.perf_counter() - received)
        return outcome

    # Statuses, for the journal writer's next transaction.

    def rejected(self, session: str, bust_exec_id: str, reason: str, detail: str) -> None:
        """A recipient refused a bust: `rejected`, counted and logged."""
        self._add_status((REJECTED, detail, self._clock.now(), bust_exec_id, session))
        self.metrics.busts_rejected.labels(session, reason).inc()
        self.log.error("bust_rejected", session=session, bust_exec_id=bust_exec_id,
                       reason=reason, detail=detail)

    def has_statuses(self) -> bool:
        return bool(self._statuses)

    def take_statuses(self) -> list[Status]:
        """The statuses waiting to be journaled, handed over (the list starts again)."""
        statuses, self._statuses = self._statuses, []
        return statuses

    def _record(self, bust: BustRow, record: dict, result: str, detail: str | None) -> None:
        self._add_status((result, detail, self._clock.now(), bust.bust_exec_id, bust.session))
        self.metrics.busts.labels(bust.recipient, result).inc()
        log = self.log.error if result in (FAILED, UNROUTABLE) else self.log.warning
        log("bust", session=bust.session, recipient=bust.recipient, firm=bust.firm,
            symbol=record["symbol"], exec_id=bust.exec_id, bust_exec_id=bust.bust_exec_id,
            result=result, detail=detail)

    def _add_status(self, status: Status) -> None:
        if not self._statuses:
            self.statuses_since = time.monotonic()
        self._statuses.append(status)
