"""What QuickFIX does about bad input on its own, counted and logged.

QuickFIX answers most bad messages itself, without calling the application: a session
Reject (35=3, reason in SessionRejectReason 373), a BusinessMessageReject (35=j, 380) or
a Logout (35=5, reason in Text 58). ceguard sees those as they go out (toAdmin/toApp).
A garbled message (bad CheckSum or BodyLength, broken framing) or one for no configured
session is dropped without any answer, as FIX says (but a Logon for no session gets a
Logout from ceguard's patch to QuickFIX, counted by LogonGate.on_event); the only trace is
an event line in QuickFIX's FileLog, which EventLogTail reads from serve's main loop.

`outgoing` runs inside QuickFIX callbacks: it never raises (FIX_NOTES.md 1.2).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import quickfix as fix

from engine.obs.metrics import Metrics

NO_SESSION = "(none)"  # a message QuickFIX could not tie to a configured session

# SessionRejectReason (373) and BusinessRejectReason (380) as metric label values.
SESSION_REJECT_REASONS = {
    0: "invalid_tag_number", 1: "required_tag_missing", 2: "tag_not_defined_for_msgtype",
    3: "undefined_tag", 4: "tag_without_value", 5: "value_is_incorrect",
    6: "incorrect_data_format", 7: "decryption_problem", 8: "signature_problem",
    9: "compid_problem", 10: "sending_time_accuracy", 11: "invalid_msgtype",
    13: "tag_appears_more_than_once", 14: "tag_out_of_order",
    15: "group_fields_out_of_order", 16: "incorrect_numingroup_count",
    17: "value_contains_soh", 99: "other",
}
BUSINESS_REJECT_REASONS = {
    0: "other", 1: "unknown_id", 2: "unknown_security", 3: "unsupported_message_type",
    4: "application_not_available", 5: "conditionally_required_field_missing",
    6: "not_authorized", 7: "deliverto_firm_not_available",
}
# Logout Text (58) that QuickFIX writes, by its beginning.
LOGOUT_REASONS = (("MsgSeqNum too low", "seqnum_too_low"),
                  ("Incorrect BeginString", "incorrect_begin_string"))
# Event lines of QuickFIX's Log that mean "dropped without an answer", by their beginning.
DROP_REASONS = (("Invalid message: Expected CheckSum", "bad_checksum"),
                ("Invalid message: CheckSum", "bad_checksum"),
                ("Invalid message: Expected BodyLength", "bad_body_length"),
                ("Invalid message: BodyLength", "bad_body_length"),
                ("Invalid message", "malformed"),
                ("Session not found for incoming message", "unknown_session"))
TIMEOUT_EVENT = "Timed out waiting for heartbeat"

# Called with (session id, or NO_SESSION for the GLOBAL log; the event's text).
EventHandler = Callable[[str, str], None]


class SessionEvents:
    """Counts and logs the Rejects and Logouts ceguard sends and the messages dropped."""

    def __init__(self, metrics: Metrics, log) -> None:
        self.metrics = metrics
        self.log = log

    def outgoing(self, message: fix.Message, session_id: fix.SessionID) -> None:
        """From toAdmin/toApp: count a Reject, BusinessMessageReject or Logout."""
        try:
            msg_type = message.getHeader().getField(35)
            if msg_type not in ("3", "j", "5"):
                return
            session = session_id.toString()
            text = _field(message, 58)
            if msg_type == "5":
                reason = next((r for prefix, r in LOGOUT_REASONS if text.startswith(prefix)),
                              "other" if text else "none")
                self.metrics.logouts_sent.labels(session, reason).inc()
                self.log.info("logout_sent", session=session, reason=reason, text=text)
                return
            tag, names = (373, SESSION_REJECT_REASONS) if msg_type == "3" else \
                (380, BUSINESS_REJECT_REASONS)
            code = _field(message, tag)
            reason = names.get(int(code), "unknown_code") if code.isdigit() else "unspecified"
            counter = self.metrics.session_rejects if msg_type == "3" else \
                self.metrics.business_rejects
            counter.labels(session, reason).inc()
            self.log.warning("session_reject" if msg_type == "3" else "business_reject",
                             session=session, reason=reason, ref_seq_num=_field(message, 45),
                             ref_tag=_field(message, 371), text=text)
        except Exception:
            self.log.exception("callback_failed", callback="outgoing")

    def event(self, session: str, text: str) -> None:
        """From EventLogTail: count a message dropped without an answer, or a timeout."""
        try:
            if text.startswith(TIMEOUT_EVENT):
                self.metrics.session_timeouts.labels(session).inc()
                self.log.warning("session_timeout", session=session, detail=text)
                return
            reason = next((r for prefix, r in DROP_REASONS if text.startswith(prefix)), None)
            if reason is None:
                return
            self.metrics.dropped_messages.labels(session, reason).inc()
            # The message itself is not logged: a logon may carry a password.
            self.log.warning("message_dropped", session=session, reason=reason,
                             detail=text if reason != "unknown_session" else None)
        except Exception:
            self.log.exception("callback_failed", callback="log_event")


def _field(message: fix.Message, tag: int) -> str:
    if message.isSetField(tag):
        return message.getField(tag)
    header = message.getHeader()
    return header.getField(tag) if header.isSetField(tag) else ""


class EventLogTail:
    """Reads the lines QuickFIX's FileLog appends to its event logs (one per session, and
    GLOBAL for connections no session claimed) and hands each to every handler
    (SessionEvents.event, LogonGate.on_event), which must not raise.

    A tail, not a Python fix.Log: no Python on the path of every message, and no object
    lifetimes shared with QuickFIX's C++ (a director Log crashed the process at exit).
    Events written before start-up are not counted again.
    """

    def __init__(self, files: dict[str, Path], *handlers: EventHandler) -> None:
        self.handlers = handlers
        self._files = files  # session (or NO_SESSION) -> its *.event.current.log
        self._offsets = {s: _size(path) for s, path in files.items()}
        self._partial = {s: b"" for s in files}

    def poll(self) -> None:
        for session, path in self._files.items():
            size = _size(path)
            if size < self._offsets[session]:  # the log was reset or rotated
                self._offsets[session] = 0
                self._partial[session] = b""
            if size == self._offsets[session]:
                continue
            try:
                with open(path, "rb") as f:
                    f.seek(self._offsets[session])
                    data = self._partial[session] + f.read(size - self._offsets[session])
            except OSError:
                continue
            self._offsets[session] = size
            *lines, self._partial[session] = data.split(b"\n")
            for line in lines:
                _, sep, text = line.decode("latin-1").partition(" : ")
                if sep:
                    for handler in self.handlers:
                        handler(session, text)


def event_logs(settings: fix.SessionSettings, session_ids: list[fix.SessionID]) -> dict[str, Path]:
    """The FileLog event files of the acceptor (QuickFIX's FileLog naming)."""
    files = {}
    default = settings.get()
    if default.has("FileLogPath"):
        files[NO_SESSION] = Path(default.getString("FileLogPath")) / "GLOBAL.event.current.log"
    for sid in session_ids:
        own = settings.get(sid)
        if own.has("FileLogPath"):
            prefix = "-".join(x for x in (sid.getBeginString().getValue(),
                                          sid.getSenderCompID().getValue(),
                                          sid.getTargetCompID().getValue(),
                                          sid.getSessionQualifier()) if x)
            files[sid.toString()] = Path(own.getString("FileLogPath")) / \
                f"{prefix}.event.current.log"
    return files


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
