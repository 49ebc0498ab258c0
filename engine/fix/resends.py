"""Gap fills over MsgSeqNums ceguard asked to have resent: fills possibly lost.

When a drop-copy session falls behind, QuickFIX sends a ResendRequest (35=2: BeginSeqNo 7
to EndSeqNo 16, 0 = no end). A matching engine that answers with a SequenceReset-GapFill
(35=4, 123=Y) over application messages skips them: if they were fills they are never
judged, and nothing at the session layer says they were fills (one independent engine
does this by default, FIX_NOTES.md section 7). ceguard sees the request go out (toAdmin)
and the sequence reset come in (fromAdmin, just before QuickFIX moves its expected
MsgSeqNum from where it is to NewSeqNo 36): the MsgSeqNums skipped that it had asked for
are possibly lost fills. "Possibly": they may have been heartbeats. The Logon that
revealed the gap is not counted (QuickFIX handled it), and neither are the messages of
a clean stop's Logout exchange (the journal marks them processed, journal/store.py).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import quickfix as fix

INFINITY = None  # EndSeqNo 0 (FIX.4.2+) or 999999 (FIX.4.0/4.1): up to the newest
_OLD_INFINITY = 999999
_KEEP = 16  # requests remembered per session (each new one usually covers the older)


@dataclass(frozen=True)
class Skipped:
    """MsgSeqNums a sequence reset skipped over that ceguard had asked for."""
    session: str
    first: int
    last: int
    possibly_lost: int  # MsgSeqNums in first..last, less the Logon's own
    requested: str  # the requests it fell in, e.g. "5-0" (0: no end, as on the wire)


class ResendWatch:
    """The ResendRequests ceguard sent per session, until the session logs out.

    Called on QuickFIX's threads (toAdmin, fromAdmin, onLogout): it never raises."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[str, list[tuple[int, int | None]]] = {}
        self._logons: dict[str, int] = {}  # session -> MsgSeqNum of its last Logon

    def requested(self, message: fix.Message, session: str) -> None:
        """From toAdmin: remember a ResendRequest's range."""
        if message.getHeader().getField(35) != "2":
            return
        begin = int(message.getField(7))
        end = int(message.getField(16))
        with self._lock:
            requests = self._requests.setdefault(session, [])
            requests.append((begin, INFINITY if end in (0, _OLD_INFINITY) else end))
            del requests[:-_KEEP]

    def logon(self, session: str, msg_seq_num: int) -> None:
        with self._lock:
            self._logons[session] = msg_seq_num

    def forget(self, session: str) -> None:
        """At logout: a new connection asks again for what it misses."""
        with self._lock:
            self._requests.pop(session, None)

    def skipped(self, session: str, expected: int, new_seq_no: int) -> Skipped | None:
        """A sequence reset moving the expected MsgSeqNum from `expected` to `new_seq_no`:
        what it skips of the requested ranges, or None."""
        last = new_seq_no - 1
        with self._lock:
            requests = list(self._requests.get(session, ()))
            logon = self._logons.get(session)
        covered = []
        for begin, end in requests:
            low, high = max(begin, expected), last if end is INFINITY else min(end, last)
            if low <= high:
                covered.append((low, high, begin, end))
        if not covered:
            return None
        # Requests overlap (a new one repeats the rest of an older one): each MsgSeqNum
        # counts once.
        merged: list[list[int]] = []
        for low, high, _, _ in sorted(covered):
            if merged and low <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], high)
            else:
                merged.append([low, high])
        count = sum(high - low + 1 for low, high in merged)
        if logon is not None and any(low <= logon <= high for low, high in merged):
            count -= 1
        requested = ", ".join(sorted({f"{b}-{e or 0}" for _, _, b, e in covered}))
        return Skipped(session, merged[0][0], merged[-1][1], count, requested)
