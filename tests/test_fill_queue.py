"""QuickFIX's queue of fills (quickfix patch item 8, engine/fix/intake.py), with a real
threaded acceptor and initiator in this process: ExecutionReports of a registered
session are queued without the Python fromApp, everything else reaches it."""

from __future__ import annotations

import threading
import time

import quickfix as fix

from engine.fix.intake import (LENGTH, MONOTONIC_NANOS, MSG_SEQ_NUM, OFFSET, SESSION,
                               WALL_MICROS, FillQueue)
from tests.quickfix_pair import Quiet, deliver, news


def execution_report(n: int) -> fix.Message:
    message = fix.Message()
    message.getHeader().setField(fix.MsgType("8"))
    message.setField(fix.ExecID(f"E{n}"))
    message.setField(fix.Symbol("ABC"))
    message.setField(fix.Text(f"fill {n} \u20ac"))  # UTF-8 on the wire: queued byte for byte
    return message


def reports_then_news(n: int) -> fix.Message:
    return execution_report(n) if n % 2 == 0 else news(n)


class Seen(Quiet):
    """What reached the Python fromApp: the messages' texts."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[bytes] = []

    def fromApp(self, message, session_id):
        self.texts.append(message.toString().encode())


class Collector:
    """Takes from the queue whenever asked how many fills have come."""

    def __init__(self, queue: FillQueue, app: Seen, most: int) -> None:
        self.queue = queue
        self.app = app
        self.most = most  # fills per take at most
        self.fills: list[tuple[bytes, list[int]]] = []  # (text, columns)
        self.takes: list[int] = []  # fills per take

    def count(self) -> int:
        taken = self.queue.take(self.most)
        if len(taken):
            self.takes.append(len(taken))
        for columns in taken.columns.tolist():
            start = columns[OFFSET]
            self.fills.append((taken.text[start:start + columns[LENGTH]], columns))
        return len(self.fills) + len(self.app.texts)


def run(tmp_path, count: int, capacity: int, message, register: bool = True,
        open_queue: bool = True, most: int = 100) -> Collector:
    queue = FillQueue(max_take=100)
    app = Seen()
    collector = Collector(queue, app, most)

    def built(acceptor):
        if register:
            queue.register(list(acceptor.getSessions()))
        if open_queue:
            queue.open(capacity)

    try:
        deliver(tmp_path, app, count, collector.count, built=built, message=message)
    finally:
        queue.reset()
    return collector


def test_execution_reports_are_queued_and_other_messages_reach_python(tmp_path):
    before_wall = time.time_ns() // 1000
    before = time.perf_counter_ns()
    got = run(tmp_path, 6, capacity=100, message=reports_then_news)
    after = time.perf_counter_ns()
    assert [text.split(b"\x0158=")[1][:6] for text, _ in got.fills] == \
        [b"fill 0", b"fill 2", b"fill 4"]
    assert all(b"\x0135=8\x01" in text and "\u20ac".encode() in text for text, _ in got.fills)
    assert [b"\x0135=B\x01" in text for text in got.app.texts] == [True] * 3
    columns = [c for _, c in got.fills]
    assert [c[SESSION] for c in columns] == [0, 0, 0]
    # The logon was 1; News took every other number.
    assert [c[MSG_SEQ_NUM] for c in columns] == [2, 4, 6]
    assert all(before <= c[MONOTONIC_NANOS] <= after for c in columns)  # perf_counter's clock
    assert all(before_wall <= c[WALL_MICROS] <= time.time_ns() // 1000 for c in columns)
    assert all(f"\x0134={c[MSG_SEQ_NUM]}\x01".encode() in text for text, c in got.fills)


def test_a_closed_queue_or_an_unregistered_session_leaves_every_fill_to_python(tmp_path):
    for register, open_queue in ((True, False), (False, True)):
        directory = tmp_path / f"{register}-{open_queue}"
        directory.mkdir()
        got = run(directory, 3, capacity=100,
                  message=execution_report, register=register, open_queue=open_queue)
        assert got.fills == []
        assert len(got.app.texts) == 3


def test_a_full_queue_holds_quickfix_back_and_loses_nothing(tmp_path):
    got = run(tmp_path, 12, capacity=2, message=execution_report)
    assert got.app.texts == []
    assert [c[MSG_SEQ_NUM] for _, c in got.fills] == list(range(2, 14))  # all, in order
    assert max(got.takes) <= 2  # never more than the capacity waited


def test_a_take_stops_at_the_number_asked_for(tmp_path):
    got = run(tmp_path, 5, capacity=100, message=execution_report, most=1)
    assert got.takes == [1] * 5
    assert [c[MSG_SEQ_NUM] for _, c in got.fills] == [2, 3, 4, 5, 6]


def test_wake_ends_a_wait_for_fills_even_one_not_yet_begun():
    queue = FillQueue(max_take=10)
    queue.reset()
    try:
        queue.wake()  # before the wait: not lost
        waiter = threading.Thread(target=queue.wait, args=(60.0,))
        waiter.start()
        waiter.join(10.0)
        assert not waiter.is_alive()

        waiter = threading.Thread(target=queue.wait, args=(60.0,))
        waiter.start()
        time.sleep(0.1)  # waiting by now, most likely; either way wake() must end it
        queue.wake()
        waiter.join(10.0)
        assert not waiter.is_alive()
    finally:
        queue.reset()
