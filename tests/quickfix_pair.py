"""A real threaded QuickFIX acceptor and initiator in this process, for tests of what
QuickFIX's own threads see in their callbacks: the initiator sends News (35=B) or
what the test asks for."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import quickfix as fix

from tests.live import free_port

ACCEPTOR_SESSION = "FIX.4.4:ACC->INI"


class Quiet(fix.Application):
    """Every callback does nothing; subclasses override what they watch."""

    def onCreate(self, session_id): pass
    def onLogon(self, session_id): pass
    def onLogout(self, session_id): pass
    def toAdmin(self, message, session_id): pass
    def fromAdmin(self, message, session_id): pass
    def toApp(self, message, session_id): pass
    def fromApp(self, message, session_id): pass


class LoggedOn(Quiet):
    def __init__(self) -> None:
        super().__init__()
        self.up = threading.Event()

    def onLogon(self, session_id):
        self.up.set()


def settings(path: Path, role: str, port: int) -> fix.SessionSettings:
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


def news(n: int) -> fix.Message:
    message = fix.Message()
    message.getHeader().setField(fix.MsgType("B"))
    message.setField(fix.Headline(f"news {n}"))
    return message


def deliver(directory: Path, app: fix.Application, count: int, delivered: Callable[[], int],
            built: Callable[[fix.ThreadedSocketAcceptor], None] = lambda acceptor: None,
            message: Callable[[int], fix.Message] = news) -> None:
    """Log on, send `count` messages (`message(n)`, News by default) to `app` (the
    acceptor's), wait until `delivered()` says all came (at most 20 s), stop both.
    `built` sees the acceptor before it starts."""
    port = free_port()
    peer = LoggedOn()
    acceptor = fix.ThreadedSocketAcceptor(
        app, fix.MemoryStoreFactory(), settings(directory / "acceptor.cfg", "acceptor", port))
    initiator = fix.SocketInitiator(
        peer, fix.MemoryStoreFactory(), settings(directory / "initiator.cfg", "initiator", port))
    built(acceptor)
    acceptor.start()
    initiator.start()
    try:
        assert peer.up.wait(20), "no logon"
        for n in range(count):
            assert fix.Session.sendToTarget(message(n), fix.SessionID("FIX.4.4", "INI", "ACC"))
        deadline = time.monotonic() + 20
        while delivered() < count and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        initiator.stop()
        acceptor.stop()
