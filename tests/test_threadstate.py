"""ThreadStates.pin keeps the Python thread state of QuickFIX's threads between callbacks.

A real threaded acceptor and initiator in this process: the acceptor's fromApp counts
its calls in a threading.local, which lives in the thread state. Without the pin each
callback gets a new state (the count starts again at 1); with it, the state lives on.
"""

from __future__ import annotations

import threading

from engine.fix.threadstate import ThreadStates
from tests.quickfix_pair import Quiet, deliver

MESSAGES = 5


class Counting(Quiet):
    def __init__(self, pin: bool) -> None:
        super().__init__()
        self.states = ThreadStates() if pin else None
        self.local = threading.local()
        self.counts: list[int] = []

    def fromApp(self, message, session_id):
        if self.states is not None:
            self.states.pin()
        self.local.count = getattr(self.local, "count", 0) + 1
        self.counts.append(self.local.count)


def counts_seen(directory, pin: bool) -> list[int]:
    app = Counting(pin)
    deliver(directory, app, MESSAGES, lambda: len(app.counts))
    return app.counts


def test_a_pinned_quickfix_thread_keeps_its_python_state(tmp_path):
    (tmp_path / "plain").mkdir()
    (tmp_path / "pinned").mkdir()
    assert counts_seen(tmp_path / "plain", pin=False) == [1] * MESSAGES  # a new state each
    assert counts_seen(tmp_path / "pinned", pin=True) == list(range(1, MESSAGES + 1))
