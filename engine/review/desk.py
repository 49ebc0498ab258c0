"""The review desk: the workflow of RULES.md section 4 over the cases of engine.review.cases.

Every action takes the live engine's lock (one journal connection, one writer at a time)
and writes its change and its step in one transaction. A determination to bust records
and sends the busts of the live path (LiveEngine.bust_determined); every determination and
appeal decision is then told to each party over its FIX session (engine.review.notices).
A clock thread logs and counts deadlines nearing and passed, and closes appeal windows.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime

from engine.fix.busts import executing_firms
from engine.live.engine import LiveEngine
from engine.live.notifier import FAILED
from engine.review import cases as c
from engine.review import grouping, views
from engine.review.cases import CaseError, CaseStore, Execution
from engine.review.metrics import ReviewMetrics
from engine.review.notices import appeal_lines, build_notice, determination_lines, iso_utc
from engine.review.settings import ReviewConfig

SURVEILLANCE = "surveillance"
CLOCK = "clock"
CEGUARD = "ceguard"
CLOCK_SECONDS = 0.5


class ReviewDesk:
    def __init__(self, engine: LiveEngine, config: ReviewConfig, metrics: ReviewMetrics,
                 log) -> None:
        self.engine = engine
        self.config = config
        self.metrics = metrics
        self.log = log
        # The journal's current connection: the live engine reopens it after a disk failure.
        self.store = CaseStore(lambda: engine.journal.connection())

    # Identification.

    def open_cases(self, flagged: list[tuple[int, str, bytes, dict]]) -> None:
        """Called by the live engine inside its journal transaction, under its lock.

        Each execution joins the active case of its series (engine.review.grouping: both
        sides of a match, a sweep by one order), else the event case whose window it fits,
        else opens one. Then cases whose candidates form a multi-stock event gather into
        one event case, whatever the settle window.
        """
        now = time.time()
        for seq, _, raw, record in flagged:
            execution = _execution(seq, raw, record)
            keys = grouping.series_keys(record, raw)
            at = grouping.nanoseconds(record["transact_time"])
            case_id = self.store.active_case_with_key(keys)
            if case_id is None and self.engine.core.rulebook.event_rows:
                case_id = grouping.fitting_event(self._candidates(), at, self._window())
            self.store.add_keys(seq, keys)
            if case_id is not None:
                self.store.add_executions(case_id, [execution])
                self.store.step(case_id, now, SURVEILLANCE, "execution_added",
                                self.store.get(case_id)["state"],
                                f"{execution.exec_id} {record['deviation_pct']}% from "
                                f"{record['reference_price']}")
            else:
                case_id = self._open(execution, record, now)
            self._gather(case_id, at, now)

    def _open(self, execution: Execution, record: dict, now: float) -> int:
        if record["event_size"] > 0:
            kind = "event"
            detail = f"multi-stock event of {record['event_size']} securities"
        else:
            kind = "trade"
            detail = (f"{record['symbol']} {record['price']} is {record['deviation_pct']}% "
                      f"from {record['reference_price']} (band {record['threshold_pct']}%, "
                      f"rule {record['rule']})")
        case_id = self.store.create(kind, SURVEILLANCE, now,
                                    now + self.config.determination_seconds, SURVEILLANCE,
                                    detail, [execution])
        self._opened(case_id, kind, [execution])
        return case_id

    def _gather(self, case_id: int, at: int, now: float) -> None:
        """A trade case whose candidate at `at` joins an event forming within the window:
        into that event's case, or, with the cases it forms one with, into a new one."""
        rows = self.engine.core.rulebook.event_rows
        case = self.store.get(case_id)
        if not rows or case["kind"] != "trade" or case["origin"] != SURVEILLANCE:
            return
        found = self._candidates()
        window = self._window()
        event = grouping.fitting_event(found, at, window)
        members = [case_id] if event is not None else \
            grouping.forming_event(found, at, window, rows[0].min_securities)
        if not members:
            return
        cases = [self.store.get(i) for i in members]
        symbols = len({x.symbol for x in found if x.case_id in members or x.case_id == event})
        detail = (f"multi-stock event forming: {symbols} securities within "
                  f"{window // grouping.NS} s")
        opened = event is None
        if opened:
            event = self.store.create("event", SURVEILLANCE, now,
                                      min(x["deadline_at"] for x in cases), SURVEILLANCE,
                                      detail, [])
        self._merge(cases, event, now, SURVEILLANCE, detail)
        if opened:
            self._opened(event, "event", self.store.executions(event), merged=members)

    def _candidates(self) -> list[grouping.Candidate]:
        return grouping.candidates(self.store.active_surveillance_executions())

    def _window(self) -> int:
        """The rulebook's multi-stock window, in nanoseconds."""
        return self.engine.core.rulebook.event_window_seconds * grouping.NS

    def _merge(self, cases: list[dict], event: int, now: float, actor: str,
               reason: str) -> None:
        """Move the cases' executions into the event case, whose deadline becomes the
        earliest of theirs (in the caller's transaction)."""
        deadline = min([self.store.get(event)["deadline_at"]] +
                       [x["deadline_at"] for x in cases])
        self.store.update(event, deadline_at=deadline)
        for case in cases:
            self.store.move_executions(case["id"], event)
            self.store.update(case["id"], state=c.MERGED, merged_into=event,
                              deadline_at=None, deadline_kind=None)
            self.store.step(case["id"], now, actor, "merged", c.MERGED,
                            f"into event case {event}: {reason}")
            self.store.step(event, now, actor, "case_merged", self.store.get(event)["state"],
                            f"case {case['id']}: {reason}")

    def file_request(self, firm: str, exec_id: str, reason: str, routed: bool) -> dict:
        """A firm's request for review of one of its executions (within the window)."""
        if not reason.strip():
            raise CaseError(400, "give the factual basis of the request in 'reason'")
        with self.engine.lock:
            now = time.time()
            found = self.store.db.execute("SELECT fill_seq, record FROM decisions WHERE exec_id = ? "
                                    "ORDER BY fill_seq DESC LIMIT 1", (exec_id,)).fetchone()
            if found is None:
                return self._refuse(firm, "unknown", 404, f"no execution {exec_id} is known")
            seq, record = found[0], json.loads(found[1])
            _, raw = self.engine.journal.fill(seq)
            if firm not in executing_firms(raw):
                return self._refuse(firm, "not_party", 403,
                                    f"execution {exec_id} is not an execution of {firm}")
            window = self.config.routed_request_seconds if routed \
                else self.config.request_seconds
            executed = datetime.fromisoformat(record["transact_time"]).timestamp()
            if now - executed > window:
                return self._refuse(
                    firm, "late", 422,
                    f"late: filed {(now - executed) / 60:.1f} minutes after the execution "
                    f"at {record['transact_time']}; a request must be filed within "
                    f"{window / 60:g} minutes of the execution"
                    + (" (routed)" if routed else " (60 for a routed execution)"))
            if self.store.db.execute("SELECT 1 FROM busts WHERE exec_id = ? LIMIT 1",
                               (exec_id,)).fetchone():
                return self._refuse(firm, "busted", 409, f"execution {exec_id} is already "
                                    "busted")
            actor = f"firm:{firm}"
            detail = f"{exec_id}{' (routed)' if routed else ''}: {reason}"
            self.engine.journal.begin()
            try:
                case_id = self.store.case_of_fill(seq)
                if case_id is not None:
                    case = self.store.get(case_id)
                    if case["state"] not in c.ACTIVE:
                        raise CaseError(409, f"execution {exec_id} is in case {case_id}, "
                                        f"already {case['state']}; appeal it instead")
                    self.store.step(case_id, now, actor, "request", case["state"], detail)
                else:
                    executions = self._trade_executions(seq, record)
                    case_id = self.store.create(
                        "trade", "request", now, now + self.config.determination_seconds,
                        actor, detail, executions)
                    self.metrics.opened.labels("trade", "request").inc()
                self.engine.journal.commit()
            except BaseException:
                self.engine.journal.rollback()
                raise
            self.metrics.requests.labels("accepted").inc()
            self.log.warning("case_request", case=case_id, firm=firm, exec_id=exec_id,
                             routed=routed)
            return self._view(case_id)

    # Review and determination.

    def take(self, case_id: int, analyst: str) -> dict:
        with self.engine.lock:
            case = self._in_state(case_id, (c.OPEN,), "taken under review")
            self._change(case_id, f"analyst:{analyst}", "taken", c.UNDER_REVIEW, None,
                         analyst=analyst)
            self.log.info("case_taken", case=case_id, analyst=analyst, kind=case["kind"])
            return self._view(case_id)

    def determine(self, case_id: int, analyst: str, outcome: str, reason: str) -> dict:
        if outcome not in (c.BUST, c.STAND):
            raise CaseError(400, f"outcome must be 'bust' or 'stand', not {outcome!r}")
        if not reason.strip():
            raise CaseError(400, "give the reason of the determination")
        with self.engine.lock:
            self._in_state(case_id, (c.UNDER_REVIEW,), "determined (take it under review "
                           "first)")
            self._change(case_id, f"analyst:{analyst}", f"determined_{outcome}", c.DETERMINED,
                         reason, analyst=analyst, outcome=outcome, reason=reason,
                         deadline_at=None, deadline_kind=None, warned="")
            self.metrics.determinations.labels(outcome).inc()
            self.log.warning("case_determined", case=case_id, analyst=analyst,
                             outcome=outcome, reason=reason)
            self._notify_determination(case_id)
            return self._view(case_id)

    def resume(self) -> int:
        """At start-up: determinations journaled but not yet notified (a stop between)."""
        with self.engine.lock:
            pending = self.store.list((c.DETERMINED,))
            for case in pending:
                self._notify_determination(case["id"])
            return len(pending)

    # Appeals.

    def appeal(self, case_id: int, firm: str, reason: str) -> dict:
        if not reason.strip():
            raise CaseError(400, "give the grounds of the appeal in 'reason'")
        with self.engine.lock:
            self._party(case_id, firm)
            case = self.store.get(case_id)
            now = time.time()
            closes = (case["notified_at"] or 0) + self.config.appeal_seconds
            if case["notified_at"] is not None and case["appeal_outcome"] is None \
                    and case["state"] in (c.NOTIFIED, c.FINAL) and now > closes:
                self.metrics.appeals.labels("refused").inc()
                self.log.warning("case_appeal_refused", case=case_id, firm=firm, reason="late")
                minutes = self.config.appeal_seconds / 60
                raise CaseError(422, f"late: the appeal window of case {case_id} closed at "
                                f"{iso_utc(closes)} ({minutes:g} minutes after the notice)")
            if case["state"] != c.NOTIFIED:
                self.metrics.appeals.labels("refused").inc()
                raise CaseError(409, f"case {case_id} is {case['state']}; only a notified "
                                "determination can be appealed")
            self._change(case_id, f"firm:{firm}", "appealed", c.APPEALED, reason,
                         deadline_at=None, deadline_kind=None, warned="")
            self.metrics.appeals.labels("filed").inc()
            self.log.warning("case_appealed", case=case_id, firm=firm, reason=reason)
            return self._view(case_id)

    def decide_appeal(self, case_id: int, analyst: str, outcome: str, reason: str) -> dict:
        """upheld: the determination stays; overturned: the other outcome. Overturning a
        stand busts the executions; overturning a bust is journaled and notified (FIX has
        no un-bust: the venue reinstates the trade)."""
        if outcome not in (c.UPHELD, c.OVERTURNED):
            raise CaseError(400, f"outcome must be 'upheld' or 'overturned', not {outcome!r}")
        if not reason.strip():
            raise CaseError(400, "give the reason of the appeal decision")
        with self.engine.lock:
            case = self._in_state(case_id, (c.APPEALED,), "decided on appeal")
            self._change(case_id, f"analyst:{analyst}", f"appeal_{outcome}", c.FINAL, reason,
                         appeal_outcome=outcome)
            self.metrics.appeals.labels(outcome).inc()
            self.log.warning("case_appeal_decided", case=case_id, analyst=analyst,
                             outcome=outcome, reason=reason)
            executions = self.store.executions(case_id)
            if outcome == c.OVERTURNED and case["outcome"] == c.STAND:
                self.engine.bust_determined([e.fill_seq for e in executions])
            self._notify(case_id, "appeal_decision", lambda firm: appeal_lines(
                case, executions, firm, outcome, reason, analyst))
            return self._view(case_id)

    # Multi-stock events declared or dissolved by an analyst.

    def declare_event(self, case_ids: list[int], analyst: str, reason: str) -> dict:
        if len(set(case_ids)) < 2:
            raise CaseError(400, "name at least two cases to join into one event")
        with self.engine.lock:
            cases = [self._in_state(i, c.ACTIVE, "joined into an event") for i in case_ids]
            now = time.time()
            actor = f"analyst:{analyst}"
            self.engine.journal.begin()
            try:
                event = self.store.create("event", "analyst", now,
                                          min(x["deadline_at"] for x in cases), actor,
                                          f"declared from cases {sorted(set(case_ids))}: "
                                          f"{reason}", [])
                self._merge(cases, event, now, actor, reason)
                self.engine.journal.commit()
            except BaseException:
                self.engine.journal.rollback()
                raise
            self.metrics.opened.labels("event", "analyst").inc()
            self.log.warning("case_event_declared", case=event, analyst=analyst,
                             cases=sorted(set(case_ids)))
            return self._view(event)

    def dissolve_event(self, case_id: int, analyst: str, reason: str) -> list[int]:
        with self.engine.lock:
            case = self._in_state(case_id, c.ACTIVE, "dissolved")
            if case["kind"] != "event":
                raise CaseError(409, f"case {case_id} is not a multi-stock event")
            now = time.time()
            actor = f"analyst:{analyst}"
            trades: dict[tuple, list[Execution]] = {}
            for e in self.store.executions(case_id):
                trades.setdefault((e.symbol, e.trade_id or e.exec_id), []).append(e)
            self.engine.journal.begin()
            try:
                created = [self.store.create("trade", "analyst", now, case["deadline_at"],
                                             actor, f"from dissolved event case {case_id}: "
                                             f"{reason}", executions)
                           for executions in trades.values()]
                self.store.update(case_id, state=c.DISSOLVED, deadline_at=None,
                                  deadline_kind=None)
                self.store.step(case_id, now, actor, "dissolved", c.DISSOLVED,
                                f"into cases {created}: {reason}")
                self.engine.journal.commit()
            except BaseException:
                self.engine.journal.rollback()
                raise
            self.metrics.opened.labels("trade", "analyst").inc(len(created))
            self.log.warning("case_event_dissolved", case=case_id, analyst=analyst,
                             cases=created)
            return created

    # Reading.

    def list(self, states: tuple[str, ...] = (), firm: str | None = None) -> list[dict]:
        with self.engine.lock:
            now = time.time()
            return [views.summary(self.store, case, now, self.config.nearing_seconds)
                    for case in self.store.list(states, firm)]

    def view(self, case_id: int, firm: str | None = None) -> dict:
        with self.engine.lock:
            if firm is not None:
                self._party(case_id, firm)
            return self._view(case_id)

    def chart(self, case_id: int) -> dict:
        """Prices of the case's first symbol around its executions, for the console."""
        with self.engine.lock:
            return views.chart(self.store, self.engine.journal, case_id)


    # The clock.

    def start_clock(self, stop: threading.Event) -> threading.Thread:
        def run() -> None:
            while not stop.wait(CLOCK_SECONDS):
                try:
                    self.tick()
                except Exception:  # the clock must keep running
                    self.log.exception("case_clock_failed")
        thread = threading.Thread(target=run, name="case-clock", daemon=True)
        thread.start()
        return thread

    def tick(self, now: float | None = None) -> None:
        """Deadlines: log once when nearing and once when passed, count, close windows."""
        with self.engine.lock:
            now = time.time() if now is None else now
            nearing = {"determination": 0, "appeal": 0}
            passed = {"determination": 0, "appeal": 0}
            for case in self.store.due(now + self.config.nearing_seconds):
                kind = case["deadline_kind"]
                if kind == "appeal" and case["deadline_at"] <= now:
                    self._change(case["id"], CLOCK, "appeal_window_closed", c.FINAL,
                                 f"no appeal by {iso_utc(case['deadline_at'])}",
                                 deadline_at=None, deadline_kind=None)
                    self.log.info("case_final", case=case["id"], outcome=case["outcome"])
                elif case["deadline_at"] <= now:
                    passed[kind] += 1
                    if case["warned"] != "passed":
                        self._warned(case, "passed")
                        self.metrics.deadlines_missed.labels(kind).inc()
                        self.log.error("case_deadline_passed", case=case["id"],
                                       deadline=kind, due=iso_utc(case["deadline_at"]),
                                       state=case["state"])
                else:
                    nearing[kind] += 1
                    if case["warned"] == "":
                        self._warned(case, "nearing")
                        self.log.warning("case_deadline_nearing", case=case["id"],
                                         deadline=kind, due=iso_utc(case["deadline_at"]),
                                         state=case["state"])
            for kind in nearing:
                self.metrics.deadlines.labels(kind, "nearing").set(nearing[kind])
                self.metrics.deadlines.labels(kind, "passed").set(passed[kind])
            counts = self.store.counts()
            for state in c.STATES:
                self.metrics.cases.labels(state).set(counts.get(state, 0))

    # Internals, under the lock.

    def _opened(self, case_id: int, kind: str, executions: list[Execution],
                merged: list[int] | None = None) -> None:
        """Count and log a case surveillance opened (`merged`: the cases it gathered)."""
        self.metrics.opened.labels(kind, SURVEILLANCE).inc()
        self.log.warning("case_opened", case=case_id, kind=kind,
                         symbols=sorted({e.symbol for e in executions}),
                         exec_ids=[e.exec_id for e in executions],
                         **({"merged": merged} if merged else {}))

    def _refuse(self, firm: str, why: str, status: int, message: str) -> dict:
        self.metrics.requests.labels(f"refused_{why}").inc()
        self.log.warning("case_request_refused", firm=firm, reason=message)
        raise CaseError(status, message)

    def _trade_executions(self, seq: int, record: dict) -> list[Execution]:
        """The execution and, by TrdMatchID, the other side of its match."""
        seqs = [seq]
        if record.get("trade_id"):
            seqs = [s for (s,) in self.store.db.execute(
                "SELECT fill_seq FROM decisions WHERE symbol = ? AND "
                "json_extract(record, '$.trade_id') = ? ORDER BY fill_seq",
                (record["symbol"], record["trade_id"]))]
        result = []
        for s in seqs:
            _, raw = self.engine.journal.fill(s)
            result.append(_execution(s, raw, self.engine.journal.decision(s)))
        return result

    def _in_state(self, case_id: int, states: tuple[str, ...], action: str) -> dict:
        case = self.store.get(case_id)
        if case["state"] not in states:
            raise CaseError(409, f"case {case_id} is {case['state']}; it cannot be {action}")
        return case

    def _party(self, case_id: int, firm: str) -> None:
        self.store.get(case_id)
        if firm not in {e.firm for e in self.store.executions(case_id)}:
            raise CaseError(403, f"case {case_id} holds no execution of {firm}")

    def _change(self, case_id: int, actor: str, action: str, state: str,
                detail: str | None, **columns: object) -> None:
        self.engine.journal.begin()
        try:
            self.store.update(case_id, state=state, **columns)
            self.store.step(case_id, time.time(), actor, action, state, detail)
            self.engine.journal.commit()
        except BaseException:
            self.engine.journal.rollback()
            raise

    def _warned(self, case: dict, level: str) -> None:
        self._change(case["id"], CLOCK, f"deadline_{level}", case["state"],
                     f"{case['deadline_kind']} due {iso_utc(case['deadline_at'])}",
                     warned=level)

    def _notify_determination(self, case_id: int) -> None:
        """Busts (if bust), then the notices with the appeal deadline, then `notified`."""
        case = self.store.get(case_id)
        executions = self.store.executions(case_id)
        if case["outcome"] == c.BUST:
            self.engine.bust_determined([e.fill_seq for e in executions])
        now = time.time()
        case = {**case, "deadline_at": now + self.config.appeal_seconds,
                "deadline_kind": "appeal"}
        self._notify(case_id, "determination",
                     lambda firm: determination_lines(case, executions, firm),
                     state=c.NOTIFIED, notified_at=now, deadline_at=case["deadline_at"],
                     deadline_kind="appeal", warned="")

    def _notify(self, case_id: int, kind: str, lines_for, **columns: object) -> None:
        """A notice to every party's session; the results (and any change) in one commit."""
        parties = sorted({e.firm for e in self.store.executions(case_id) if e.firm})
        notifier = self.engine.notifier
        now = time.time()
        results = []
        for firm in parties:
            session = self.engine.dispatch.firms.get(firm)
            if session is None or notifier is None or not notifier.known(session):
                results.append((firm, session or f"(no session for firm {firm})", FAILED,
                                f"PartyID {firm} has no FIX session in [firms]"))
                continue
            headline, lines = lines_for(firm)
            message = build_notice(notifier.begin_string(session), headline, lines, now)
            status, detail = notifier.send(session, message)
            results.append((firm, session, status, detail))
        self.engine.journal.begin()
        try:
            for firm, session, status, detail in results:
                self.store.add_notice(case_id, now, kind, firm, session, status, detail)
            if columns:
                self.store.update(case_id, **columns)
                self.store.step(case_id, now, CEGUARD, "notified", columns["state"],
                                f"{kind} to {', '.join(parties) or 'no party'}")
            self.engine.journal.commit()
        except BaseException:
            self.engine.journal.rollback()
            raise
        for firm, session, status, detail in results:
            self.metrics.notices.labels(kind, status).inc()
            log = self.log.error if status == FAILED else self.log.info
            log("case_notice", case=case_id, kind=kind, firm=firm, session=session,
                result=status, detail=detail)

    def _view(self, case_id: int) -> dict:
        return views.detail(self.store, self.engine.journal, case_id,
                            self.config.nearing_seconds)


def _execution(seq: int, raw: bytes, record: dict) -> Execution:
    firms = executing_firms(raw)
    return Execution(seq, record["exec_id"], record["symbol"], record.get("trade_id"),
                     firms[0] if firms else None)
