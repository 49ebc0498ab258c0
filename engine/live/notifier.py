"""Hands bust ExecutionReports to QuickFIX, and says what became of each one.

A session that is not logged on still takes the message: QuickFIX stores it
(PersistMessages=Y) and resends it when the counterparty logs on and asks for the gap.
"""

from __future__ import annotations

from pathlib import Path

import quickfix as fix

from engine.live.fixstore import next_seq_nums, store_prefix, stored_exec_ids

SENT = "sent"
QUEUED = "queued"
FAILED = "failed"
UNROUTABLE = "unroutable"  # a firm's bust with no session to go to (no executing firm found)
REJECTED = "rejected"  # the recipient answered the bust with a Reject or BusinessMessageReject


class Notifier:
    def __init__(self, session_ids: list[fix.SessionID], settings: fix.SessionSettings
                 ) -> None:
        self._sessions = {sid.toString(): sid for sid in session_ids}
        self._begin_strings = {name: sid.getBeginString().getValue()
                               for name, sid in self._sessions.items()}
        self._stores: dict[str, Path | None] = {
            name: store_prefix(settings, sid) for name, sid in self._sessions.items()}

    def known(self, session: str) -> bool:
        return session in self._sessions

    def stored_exec_ids(self, session: str) -> set[str]:
        """ExecIDs of the messages QuickFIX's store holds for `session` (outgoing)."""
        return stored_exec_ids(self._stores.get(session))

    def next_target_seq_num(self, session: str) -> int | None:
        """The MsgSeqNum QuickFIX's store expects next from `session` (None: no store).
        Read from the store's file: a stopped acceptor has unregistered its sessions."""
        numbers = next_seq_nums(self._stores.get(session))
        return numbers[1] if numbers is not None else None

    def begin_string(self, session: str) -> str:
        return self._begin_strings[session]

    def send(self, session: str, message: fix.Message) -> tuple[str, str | None]:
        """(result, why it failed)."""
        sid = self._sessions.get(session)
        if sid is None:
            return FAILED, f"no QuickFIX session {session}"
        live = fix.Session.lookupSession(sid)
        if live is None:
            return FAILED, f"QuickFIX session {session} is not running"
        logged_on = live.isLoggedOn()
        try:
            accepted = fix.Session.sendToTarget(message, sid)
        except fix.SessionNotFound:
            return FAILED, f"QuickFIX session {session} not found"
        if not accepted:
            return FAILED, "QuickFIX did not store the message (sendToTarget returned False)"
        return (SENT if logged_on else QUEUED), None
