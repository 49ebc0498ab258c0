"""ThreadStates.pin keeps the Python thread state of QuickFIX's threads between callbacks.

A real threaded acceptor and initiator in this process: the acceptor's fromApp counts
its calls in a threading.local, which lives in the thread state. Without the pin each
callback gets a new state (the count starts again at 1); with it, the state lives on.
"""

from __future__ import annotations

import threading
import time

import quickfix as fix

from engine.fix.threadstate import ThreadStates
from tests.live import free_port

MESSAGES = 5


class Counting(fix.Application):
    def __init__(self, pin: bool) -> None:
        super().__init__()
        self.states = ThreadStates() if pin else None
        self.local = threading.local()
        self.counts: list[int] = []

    def onCreate(self, session_id): pass
    def onLogon(self, session_id): pass
    def onLogout(self, session_id): pass
    def toAdmin(self, message, session_id): pass
    def fromAdmin(self, message, session_id): pass
    def toApp(self, message, session_id): pass

    def fromApp(self, message, session_id):
        if self.states is not None:
            self.states.pin()
        self.local.count = getattr(self.local, "count", 0) + 1
        self.counts.append(self.local.count)


class LoggedOn(Counting):
    def __init__(self) -> None:
        super().__init__(pin=False)
        self.up = threading.Event()

    def onLogon(self, session_id):
        self.up.set()


def settings(path, role: str, port: int) -> fix.SessionSettings:
    ours, theirs = ("ACC", "INI") if role == "acceptor" else ("INI", "ACC")
    path.write_text(f"""[DEFAULT]
ConnectionType={role}
FileStorePath={path.parent / (role + "-store")}
StartTime=00:00:00
EndTime=00:00:00
HeartBtInt=30
UseDataDictionary=N
ReconnectInterval=1
SocketAcceptPort={port}
SocketConnectHost=127.0.0.1
SocketConnectPort={port}
[SESSION]
BeginString=FIX.4.4
SenderCompID={ours}
TargetCompID={theirs}
""")
    return fix.SessionSettings(str(path))


def counts_seen(tmp_path, pin: bool) -> list[int]:
    port = free_port()
    acceptor_settings = settings(tmp_path / "acceptor.cfg", "acceptor", port)
    initiator_settings = settings(tmp_path / "initiator.cfg", "initiator", port)
    app = Counting(pin)
    peer = LoggedOn()
    acceptor = fix.ThreadedSocketAcceptor(app, fix.MemoryStoreFactory(), acceptor_settings)
    initiator = fix.SocketInitiator(peer, fix.MemoryStoreFactory(), initiator_settings)
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
        while len(app.counts) < MESSAGES and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        initiator.stop()
        acceptor.stop()
    return app.counts


def test_a_pinned_quickfix_thread_keeps_its_python_state(tmp_path):
    (tmp_path / "plain").mkdir()
    (tmp_path / "pinned").mkdir()
    assert counts_seen(tmp_path / "plain", pin=False) == [1] * MESSAGES  # a new state each
    assert counts_seen(tmp_path / "pinned", pin=True) == list(range(1, MESSAGES + 1))
