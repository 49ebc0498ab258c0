"""SessionNames: fromApp's SessionID is found by address among the acceptor's sessions.

A real threaded acceptor and initiator in this process (the settings of
tests/test_threadstate.py): the acceptor's fromApp looks each SessionID up.
"""

from __future__ import annotations

import time

import quickfix as fix

from engine.fix.session_names import SessionNames
from tests.live import free_port
from tests.test_threadstate import LoggedOn, settings

MESSAGES = 3


class Naming(fix.Application):
    def __init__(self, names: SessionNames) -> None:
        super().__init__()
        self.names = names
        self.seen: list[tuple[str | None, str]] = []  # (found by address, toString())

    def onCreate(self, session_id): pass
    def onLogon(self, session_id): pass
    def onLogout(self, session_id): pass
    def toAdmin(self, message, session_id): pass
    def fromAdmin(self, message, session_id): pass
    def toApp(self, message, session_id): pass

    def fromApp(self, message, session_id):
        self.seen.append((self.names.get(session_id), session_id.toString()))


def test_fromapp_session_ids_are_found_by_address(tmp_path):
    port = free_port()
    names = SessionNames()
    app = Naming(names)
    peer = LoggedOn()
    acceptor = fix.ThreadedSocketAcceptor(
        app, fix.MemoryStoreFactory(), settings(tmp_path / "acceptor.cfg", "acceptor", port))
    initiator = fix.SocketInitiator(
        peer, fix.MemoryStoreFactory(), settings(tmp_path / "initiator.cfg", "initiator", port))
    names.learn(list(acceptor.getSessions()))
    unknown = fix.SessionID("FIX.4.4", "ACC", "INI")  # equal, but not the session's own
    assert names.get(unknown) is None
    acceptor.start()
    initiator.start()
    try:
        assert peer.up.wait(20), "no logon"
        for n in range(MESSAGES):
            news = fix.Message()
            news.getHeader().setField(fix.MsgType("B"))
            news.setField(fix.Headline(f"news {n}"))
            assert fix.Session.sendToTarget(news, fix.SessionID("FIX.4.4", "INI", "ACC"))
        deadline = time.monotonic() + 20
        while len(app.seen) < MESSAGES and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        initiator.stop()
        acceptor.stop()
    assert app.seen == [("FIX.4.4:ACC->INI", "FIX.4.4:ACC->INI")] * MESSAGES
