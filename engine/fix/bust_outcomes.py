"""Busts a recipient refused: a Reject (35=3) or BusinessMessageReject (35=j) naming one.

A counterparty whose dictionary does not take a bust answers it with a session Reject
(RefSeqNum 45 = the bust's MsgSeqNum, reason in SessionRejectReason 373) or a
BusinessMessageReject (45, or BusinessRejectRefID 379 = the bust's ExecID, reason in
BusinessRejectReason 380). The bust then did not arrive where it matters, whatever
QuickFIX's "sent" says. ceguard notes each bust's MsgSeqNum as it goes out (toApp, also
for resends) and recognises the refusal that comes back (fromAdmin, fromApp).

Called on QuickFIX's threads: callers guard against exceptions (FIX_NOTES.md 1.2).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import quickfix as fix

from engine.fix.busts import BUST_PREFIX
from engine.fix.session_events import BUSINESS_REJECT_REASONS, SESSION_REJECT_REASONS

KEEP_PER_SESSION = 100_000  # busts remembered per session, newest kept


@dataclass(frozen=True)
class Refusal:
    session: str
    bust_exec_id: str
    reason: str  # the 373 or 380 name, a metric label
    detail: str  # for the journal and the log


class BustOutcomes:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sent: dict[str, OrderedDict[int, str]] = {}  # session -> MsgSeqNum -> ExecID

    def outgoing(self, message: fix.Message, session: str) -> None:
        """From toApp: remember the MsgSeqNum of a bust."""
        header = message.getHeader()
        if header.getField(35) != "8" or not message.isSetField(17):
            return
        exec_id = message.getField(17)
        if not exec_id.startswith(BUST_PREFIX):
            return
        seq = int(header.getField(34))
        with self._lock:
            sent = self._sent.setdefault(session, OrderedDict())
            sent[seq] = exec_id
            sent.move_to_end(seq)
            if len(sent) > KEEP_PER_SESSION:
                sent.popitem(last=False)

    def refusal(self, message: fix.Message, session: str) -> Refusal | None:
        """A 35=3 or 35=j that refers to a bust of this session, or None."""
        msg_type = message.getHeader().getField(35)
        if msg_type not in ("3", "j"):
            return None
        exec_id = _field(message, 379) if msg_type == "j" else ""
        if not exec_id.startswith(BUST_PREFIX):
            ref = _field(message, 45)
            with self._lock:
                exec_id = self._sent.get(session, {}).get(int(ref)) if ref.isdigit() else None
            if exec_id is None:
                return None
        tag, names, kind = (373, SESSION_REJECT_REASONS, "Reject (35=3)") if msg_type == "3" \
            else (380, BUSINESS_REJECT_REASONS, "BusinessMessageReject (35=j)")
        code = _field(message, tag)
        reason = names.get(int(code), "unknown_code") if code.isdigit() else "unspecified"
        parts = [f"{kind} from the recipient, reason {code or '-'} {reason}"]
        if _field(message, 371):
            parts.append(f"tag {_field(message, 371)}")
        if _field(message, 58):
            parts.append(_field(message, 58))
        return Refusal(session, exec_id, reason, ": ".join(parts))


def _field(message: fix.Message, tag: int) -> str:
    return message.getField(tag) if message.isSetField(tag) else ""
