"""The QuickFIX Application of `ceguard serve`.

No exception may escape a callback: quickfix's SWIG director turns any Python exception
other than its own FIX ones into Py_Exit, which hangs the process (FIX_NOTES.md 1.2).
Every callback body is therefore guarded; fromApp raises only UnsupportedMessageType,
which QuickFIX answers with a BusinessMessageReject (35=j), and fromAdmin only
RejectLogon, which QuickFIX answers with a Logout carrying the reason.

Besides fills and Logons, the callbacks watch what the session layer could lose: the
MsgSeqNum of every bust that goes out and the Rejects that refuse one (bust_outcomes.py),
and the ResendRequests ceguard sends and the gap fills that skip over them (resends.py).
"""

from __future__ import annotations

import quickfix as fix

from engine.fix.auth import JOURNAL_UNWRITABLE, LogonGate
from engine.fix.bust_outcomes import BustOutcomes
from engine.fix.rejects import msg_seq_num
from engine.fix.resends import ResendWatch
from engine.fix.session_events import SessionEvents
from engine.fix.session_names import SessionNames
from engine.fix.threadstate import ThreadStates
from engine.live.engine import LiveEngine
from engine.live.sessions import DropCopySessions
from engine.obs.metrics import INTERNAL_ERROR, Metrics

_EXECUTION_REPORT = b"\x0135=8\x01"
_BUSINESS_REJECT = b"\x0135=j\x01"


class CeguardApplication(fix.Application):
    def __init__(self, engine: LiveEngine, metrics: Metrics, bust_only: set[str], log,
                 gate: LogonGate) -> None:
        super().__init__()
        self.gate = gate  # who may log on (engine/fix/auth.py)
        self.engine = engine
        self.metrics = metrics
        self.bust_only = bust_only  # firm sessions: they receive busts, send no fills
        self.log = log
        self.sessions: DropCopySessions | None = None  # set once the acceptor exists
        self.session_events = SessionEvents(metrics, log)  # Rejects and Logouts sent
        self.thread_states = ThreadStates()  # QuickFIX's threads that delivered fills
        self.session_names = SessionNames()  # learned once the acceptor is built
        self.bust_outcomes = BustOutcomes()  # busts' MsgSeqNums, refusals of them
        self.resends = ResendWatch()  # ResendRequests sent, gap fills over them

    def onCreate(self, session_id: fix.SessionID) -> None:
        try:
            self.metrics.add_session(session_id.toString())
        except Exception:
            self.log.exception("callback_failed", callback="onCreate")

    def onLogon(self, session_id: fix.SessionID) -> None:
        try:
            session = session_id.toString()
            self.metrics.session_up.labels(session).set(1)
            self.log.info("logon", session=session)
        except Exception:
            self.log.exception("callback_failed", callback="onLogon")

    def onLogout(self, session_id: fix.SessionID) -> None:
        try:
            session = session_id.toString()
            self.metrics.session_up.labels(session).set(0)
            self.log.info("logout", session=session)
            self.resends.forget(session)
            if self.sessions is not None:
                self.sessions.after_logout(session)
        except Exception:
            self.log.exception("callback_failed", callback="onLogout")

    def toAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        self.session_events.outgoing(message, session_id)  # guarded: never raises
        try:
            self.resends.requested(message, session_id.toString())
        except Exception:
            self.log.exception("callback_failed", callback="toAdmin")

    def fromAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        # The gate raises RejectLogon (QuickFIX answers with a Logout carrying its text),
        # the one exception let out; it refuses a Logon itself if its check fails.
        refusal = None
        try:
            self.gate.check_logon(message, session_id.toString())
        except fix.RejectLogon as exc:
            refusal = exc
        except Exception:
            self.log.exception("callback_failed", callback="fromAdmin")
        if refusal is not None:
            raise refusal
        journal_refusal = self._journal_refusal(message, session_id)
        if journal_refusal is not None:
            raise fix.RejectLogon(journal_refusal)
        self._watch_admin(message, session_id)

    def _watch_admin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        """A Logon's MsgSeqNum, a gap fill over requested MsgSeqNums, a refused bust."""
        try:
            header = message.getHeader()
            msg_type = header.getField(35)
            if msg_type not in ("A", "4", "3"):
                return
            session = session_id.toString()
            if msg_type == "A":
                self.resends.logon(session, int(header.getField(34)))
            elif msg_type == "4" and session not in self.bust_only:  # firms send no fills
                self._sequence_reset(message, session_id, session)
            else:
                self._refused(message, session)
        except Exception:
            self.log.exception("callback_failed", callback="fromAdmin")

    def _sequence_reset(self, message: fix.Message, session_id: fix.SessionID,
                        session: str) -> None:
        """Before QuickFIX moves the expected MsgSeqNum to NewSeqNo (36): what it skips."""
        live = fix.Session.lookupSession(session_id)
        expected = live.getExpectedTargetNum() if live is not None else \
            int(message.getHeader().getField(34))
        skipped = self.resends.skipped(session, expected, int(message.getField(36)))
        if skipped is None or skipped.possibly_lost == 0:
            return
        self.metrics.fills_possibly_lost.labels(session).inc(skipped.possibly_lost)
        gap_fill = message.isSetField(123) and message.getField(123) == "Y"
        self.log.error("fills_possibly_lost", session=session, first_seq=skipped.first,
                       last_seq=skipped.last, possibly_lost=skipped.possibly_lost,
                       requested=skipped.requested,
                       detail=("a SequenceReset-GapFill" if gap_fill else "a SequenceReset")
                       + " skipped MsgSeqNums ceguard asked to have resent: any fills "
                         "among them were not judged; reconcile with the venue")
        self.engine.journal_gap_fill(session, skipped.first, skipped.last,
                                     skipped.possibly_lost, skipped.requested)

    def _refused(self, message: fix.Message, session: str) -> None:
        """A Reject or BusinessMessageReject received: a bust's refusal, or logged."""
        refusal = self.bust_outcomes.refusal(message, session)
        if refusal is not None:
            self.engine.bust_rejected(session, refusal.bust_exec_id, refusal.reason,
                                      refusal.detail)
            return
        self.log.warning("reject_received", session=session,
                         msg_type=message.getHeader().getField(35),
                         ref_seq_num=message.getField(45) if message.isSetField(45) else None,
                         text=message.getField(58) if message.isSetField(58) else None)

    def _journal_refusal(self, message: fix.Message, session_id: fix.SessionID) -> str | None:
        """A drop-copy Logon: the reason to refuse it while the journal is unusable;
        otherwise its expected MsgSeqNum is set back to the journal's (engine.admit_logon)
        before QuickFIX checks the Logon's own, so missing fills are asked for again."""
        try:
            session = session_id.toString()
            if message.getHeader().getField(35) != "A" or session in self.bust_only:
                return None
            refusal = self.engine.admit_logon(session)
            if refusal is not None:
                self.metrics.logons_refused.labels(JOURNAL_UNWRITABLE).inc()
                self.log.warning("logon_refused", session=session, reason=JOURNAL_UNWRITABLE,
                                 detail=refusal)
            return refusal
        except Exception:
            self.log.exception("callback_failed", callback="fromAdmin")
            return None

    def toApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        self.session_events.outgoing(message, session_id)  # BusinessMessageRejects
        try:
            self.bust_outcomes.outgoing(message, session_id.toString())
        except Exception:
            self.log.exception("callback_failed", callback="toApp")

    def fromApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        # While QuickFIX's queue of fills is open, the drop-copy sessions' fills do not
        # come here (engine/fix/intake.py): this is every other message's path, and the
        # fills' while the queue is closed (a journal failure: they are refused).
        unsupported = False
        try:
            self.thread_states.pin()
            raw = message.toString().encode("latin-1")  # the message is borrowed: copy now
            session = self.session_names.get(session_id) or session_id.toString()
            if _BUSINESS_REJECT in raw:  # a recipient refusing a bust, or another 35=j
                self._refused(message, session)
            elif session in self.bust_only or _EXECUTION_REPORT not in raw:
                unsupported = True
                self.log.warning("unsupported_message", session=session,
                                 msg_type=message.getHeader().getField(35))
            else:
                # MsgSeqNum read from the text already copied: cheaper than two SWIG calls;
                # QuickFIX has validated that the header has one.
                self.engine.on_fill(raw, session, msg_seq_num(raw))
        except Exception:
            # Not re-raised (that would kill the process); counted and logged loudly.
            self.metrics.rejects.labels(INTERNAL_ERROR).inc()
            self.log.exception("fill_failed", session=session_id.toString())
        if unsupported:
            raise fix.UnsupportedMessageType()
