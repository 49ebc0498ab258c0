"""The drop-copy sessions, held to what the journal has (journal/store.py `inbound`).

QuickFIX advances a session's expected MsgSeqNum after fromApp returns, whether or not
the journal took the fill. The journal records the MsgSeqNum of the last fill it has per
session; setting the expected number back to that + 1 before the Logon's own number is
checked (fromAdmin, and at start-up) makes QuickFIX treat the Logon as "too high" and
send a ResendRequest: the matching engine resends what the journal does not have.
Incoming messages are never in QuickFIX's store, so setting the number back loses nothing.
"""

from __future__ import annotations

import quickfix as fix


class DropCopySessions:
    def __init__(self, session_ids: list[fix.SessionID]) -> None:
        self._ids = {sid.toString(): sid for sid in session_ids}
        self._logged_out: set[str] = set()  # sessions disabled by log_out, to enable again

    def names(self) -> list[str]:
        return list(self._ids)

    def realign(self, session: str, last_journaled: int | None) -> tuple[int, int] | None:
        """Set the next expected MsgSeqNum to `last_journaled` + 1 when QuickFIX's store
        is ahead of it; returns (store's number, new number) when it moved.

        Never forward: a store behind the journal (a crash before QuickFIX saved its
        number) gets the journaled fills again as PossDup resends, dropped by ExecID.
        """
        live = fix.Session.lookupSession(self._ids[session])
        if live is None or last_journaled is None:
            return None
        expected = live.getExpectedTargetNum()
        if expected <= last_journaled + 1:
            return None
        live.setNextTargetMsgSeqNum(last_journaled + 1)
        return expected, last_journaled + 1

    def log_out(self, reason: str) -> None:
        """Log out every logged-on drop-copy session with `reason` (Text 58)."""
        for name, sid in self._ids.items():
            live = fix.Session.lookupSession(sid)
            if live is not None and live.isEnabled() and live.isLoggedOn():
                live.logout(reason)
                self._logged_out.add(name)

    def after_logout(self, session: str) -> None:
        """Enable a session `log_out` disabled once its Logout is done: QuickFIX drops a
        disabled session's logon without a word, an enabled one reaches fromAdmin, which
        refuses it with the reason while the journal is down."""
        if session in self._logged_out:
            self._logged_out.discard(session)
            live = fix.Session.lookupSession(self._ids[session])
            if live is not None:
                live.logon()
