"""SessionNames: fromApp's SessionID is found by address among the acceptor's sessions,
with a real threaded acceptor and initiator in this process."""

from __future__ import annotations

import quickfix as fix

from engine.fix.session_names import SessionNames
from tests.quickfix_pair import ACCEPTOR_SESSION, Quiet, deliver

MESSAGES = 3


class Naming(Quiet):
    def __init__(self, names: SessionNames) -> None:
        super().__init__()
        self.names = names
        self.seen: list[tuple[str | None, str]] = []  # (found by address, toString())

    def fromApp(self, message, session_id):
        self.seen.append((self.names.get(session_id), session_id.toString()))


def test_fromapp_session_ids_are_found_by_address(tmp_path):
    names = SessionNames()
    app = Naming(names)
    deliver(tmp_path, app, MESSAGES, lambda: len(app.seen),
            built=lambda acceptor: names.learn(list(acceptor.getSessions())))
    assert app.seen == [(ACCEPTOR_SESSION, ACCEPTOR_SESSION)] * MESSAGES
    # An equal SessionID that is not the session's own is not found (the caller then
    # asks it for its name).
    assert names.get(fix.SessionID("FIX.4.4", "ACC", "INI")) is None
