"""The name of the session a fill came on, without a call into quickfix's wrapper.

Every call into the wrapper (SessionID.toString() too) gives up the GIL and takes it
back; under load QuickFIX's thread then waits for the journal writer once more per
fill. QuickFIX hands fromApp the SessionID that is a member of its Session object
(Session::fromCallback passes m_sessionID), so that object's address names the
session while the acceptor lives, and reading it is a Python attribute read.
ceguard's sessions are all created with the acceptor (it configures no dynamic
sessions), so the addresses are learned once, after the acceptor is built.
"""

from __future__ import annotations

import quickfix as fix


def session_address(session_id: fix.SessionID) -> int | None:
    """The address of the SessionID that QuickFIX passes to callbacks for this session
    (its Session object's own); None when the acceptor has no such session."""
    session = fix.Session.lookupSession(session_id)
    return None if session is None else int(session.getSessionID().this)


class SessionNames:
    def __init__(self) -> None:
        self._by_address: dict[int, str] = {}

    def learn(self, session_ids: list[fix.SessionID]) -> None:
        """The sessions of an acceptor that has been built."""
        for sid in session_ids:
            address = session_address(sid)
            if address is not None:
                self._by_address[address] = sid.toString()

    def get(self, session_id: fix.SessionID) -> str | None:
        """The name of a SessionID QuickFIX passed to a callback; None if not learned."""
        return self._by_address.get(int(session_id.this))
