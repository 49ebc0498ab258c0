"""Hostile input over the wire: raw TCP peers against a real `ceguard serve`.

Each test talks raw FIX bytes to the acceptor (messages built by hand, then broken) on
the FIX.4.2 drop-copy session, while a well-behaved matching engine (QuickFIX
initiator) keeps sending fills on FIX.4.4: after every attack its fills are still
judged and busted. What QuickFIX does is asserted as it is: a Reject (35=3 with the
reason in 373) for a message type the dictionary does not define (a drop-copy session's
validation is otherwise lenient: ceguard's decoder judges the fill), a silent drop for a garbled
one (bad CheckSum or BodyLength), a disconnect without an answer for a garbled Logon,
a disconnect for a logged-on peer that stops short of a whole message (HeartBtInt 1 s,
set by the peer's Logon), and nothing at all for a peer that never completes a Logon
(QuickFIX has no logon timeout on an acceptor; a thread per connection keeps it from
stalling the others). Messages QuickFIX accepts
but ceguard cannot judge are journaled as `rejected` and answered with a
BusinessMessageReject (35=j). Every reason is counted.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from datetime import datetime, timezone

import pytest

from engine.sim.dropcopy import Fill, drop_copy_body, encode, fix_time
from live import (busts_for, firms, journal_rows, matching_engine, send, sides, start_server,
                  wait_for)

SESSION = "FIX.4.2:CEGUARD->MATCHING1"  # the one the raw peer uses
SOH = b"\x01"


class RawPeer:
    """A FIX peer on a bare socket: it frames and numbers what it is told to send."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.seq = 1
        self.buffer = b""

    def close(self) -> None:
        self.sock.close()

    def message(self, msg_type: str, body: list[tuple[int, str]], seq: int | None = None,
                begin: str = "FIX.4.2", sender: str = "MATCHING1") -> bytes:
        if seq is None:
            seq, self.seq = self.seq, self.seq + 1
        header = [(35, msg_type), (49, sender), (56, "CEGUARD"), (34, str(seq)),
                  (52, fix_time(datetime.now(timezone.utc)))]
        return encode(begin, header + body).encode("latin-1")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def logon(self, heartbeat: int = 1) -> None:
        # 141=Y: both sides start again at 1, so each test's peer is independent.
        self.send(self.message("A", [(98, "0"), (108, str(heartbeat)), (141, "Y")]))
        assert self.receive("A") is not None, "no Logon response"

    def receive(self, msg_type: str, timeout: float = 10.0) -> dict[int, str] | None:
        """The next message of `msg_type` (others are skipped); None if the acceptor
        closes the connection first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            end = self.buffer.find(SOH + b"10=")
            if end >= 0 and self.buffer.find(SOH, end + 1) > 0:
                stop = self.buffer.find(SOH, end + 1) + 1
                raw, self.buffer = self.buffer[:stop], self.buffer[stop:]
                fields = dict(f.split(b"=", 1) for f in raw.split(SOH) if b"=" in f)
                fields = {int(k): v.decode("latin-1") for k, v in fields.items()}
                if fields.get(35) == msg_type:
                    return fields
                continue
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                return None
            self.buffer += chunk
        raise AssertionError(f"no {msg_type} and no disconnect within {timeout} s")

    def closed_by_acceptor(self, timeout: float = 10.0) -> bool:
        """True once the acceptor has closed the connection (messages are skipped)."""
        return self.receive("(nothing)", timeout) is None


def fill_body(exec_id: str, symbol: str = "FAT", price: str = "60.00") -> list[tuple[int, str]]:
    fill = Fill(exec_id, f"O-{exec_id}", f"M-{exec_id}", symbol, "1", price, 100, True,
                "FIRMA", datetime.now(timezone.utc))
    return drop_copy_body(fill, "FIX.4.2", fix_time(fill.moment))


def bad_checksum(message: bytes) -> bytes:
    """The message with a CheckSum (10) that does not match it."""
    checksum = int(message[-4:-1])
    return message[:-4] + b"%03d" % ((checksum + 1) % 256) + SOH


def without(body: list[tuple[int, str]], tag: int) -> list[tuple[int, str]]:
    return [(t, v) for t, v in body if t != tag]


def replaced(body: list[tuple[int, str]], tag: int, value: str) -> list[tuple[int, str]]:
    return [(t, value if t == tag else v) for t, v in body]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    directory = tmp_path_factory.mktemp("hostile")
    server = start_server(directory)
    engine = matching_engine(server, directory / "me", versions=("FIX.4.4",))
    firm_peers = firms(server, directory / "firms")
    assert engine.wait_logon() and firm_peers.wait_logon()
    yield server, engine, firm_peers
    engine.stop()
    firm_peers.stop()
    server.stop()


@pytest.fixture
def peer(live):
    server = live[0]
    raw = RawPeer(server.fix_port)
    yield raw
    raw.close()
    # Let QuickFIX notice the close before the next test logs on to the session again.
    wait_for(lambda: server.metric("ceguard_session_up", session=SESSION) == 0, 10,
             "the raw session to be down")


MATCHES = iter(range(1, 10**6))


def assert_still_serving(live) -> None:
    """A normal fill pair (FIX.4.4) is judged, and an erroneous one busted to the firm."""
    server, engine, firm_peers = live
    n = next(MATCHES)
    decided = server.metric("ceguard_decisions_total")
    send(engine, "FIX.4.4", sides(f"OK{n}", "AWAY", "60.00", f"OK-O{n}"))
    send(engine, "FIX.4.4", sides(f"BAD{n}", "AWAY", "30.00", f"BAD-O{n}"))
    wait_for(lambda: server.metric("ceguard_decisions_total") >= decided + 4, 15,
             "the matching engine's fills to be judged")
    wait_for(lambda: [b for b in busts_for(firm_peers.peer, "FIX.4.4:FIRMB->CEGUARD", "AWAY")
                      if b.get(19) == f"P-BAD{n}"], 15, "the bust at FIRMB")


def decision_of(server, exec_id: str) -> dict | None:
    for (record,) in journal_rows(server, "SELECT record FROM decisions"):
        record = json.loads(record)
        if record.get("exec_id") == exec_id:
            return record
    return None


def test_garbage_before_logon_is_unanswered_and_harmless(live, peer):
    server = live[0]
    peer.send(b"GET / HTTP/1.1\r\nHost: ceguard\r\n\r\n" + bytes(range(256)) * 8)
    assert_still_serving(live)
    peer.sock.settimeout(0.5)
    with pytest.raises(socket.timeout):  # neither an answer nor a hang-up
        peer.sock.recv(1)
    peer.sock.settimeout(5)
    # A garbled frame for no configured session: dropped, counted, connection closed.
    unknown = server.metric("ceguard_dropped_messages_total", reason="unknown_session")
    peer.send(peer.message("A", [(98, "0"), (108, "1")], sender="NOBODY"))
    assert peer.closed_by_acceptor()
    wait_for(lambda: server.metric("ceguard_dropped_messages_total",
                                   reason="unknown_session") > unknown, 10, "the count")


def test_logon_with_a_bad_checksum_is_dropped_and_disconnected(live, peer):
    server = live[0]
    before = server.metric("ceguard_dropped_messages_total", session=SESSION,
                           reason="bad_checksum")
    logon = peer.message("A", [(98, "0"), (108, "1"), (141, "Y")])
    peer.send(bad_checksum(logon))
    assert peer.closed_by_acceptor()  # no Logon answer: "Logon message is not valid"
    wait_for(lambda: server.metric("ceguard_dropped_messages_total", session=SESSION,
                                   reason="bad_checksum") > before, 10, "the count")


def test_garbled_messages_are_dropped_silently_and_counted(live, peer):
    server = live[0]
    peer.logon()
    counts = {r: server.metric("ceguard_dropped_messages_total", session=SESSION, reason=r)
              for r in ("bad_checksum", "bad_body_length")}
    good = peer.message("8", fill_body("CK1"))
    bad_sum = bad_checksum(good)
    head, _, rest = good.partition(b"\x019=")
    length, _, tail = rest.partition(SOH)
    bad_length = head + b"\x019=" + str(int(length) - 5).encode() + SOH + tail
    peer.send(bad_sum)
    time.sleep(0.3)
    peer.send(bad_length)
    time.sleep(0.3)
    peer.send(good)  # the same MsgSeqNum, framed right: accepted, no gap
    wait_for(lambda: decision_of(server, "CK1"), 10, "the good copy to be judged")
    for reason, before in counts.items():
        wait_for(lambda: server.metric("ceguard_dropped_messages_total", session=SESSION,
                                       reason=reason) == before + 1, 10, reason)
    fills = [raw for (raw,) in journal_rows(server, "SELECT raw FROM fills")
             if b"\x0117=CK1\x01" in raw]
    assert len(fills) == 1  # the garbled copies never reached the engine
    assert_still_serving(live)


def test_a_non_numeric_body_length_is_dropped_and_asked_for_again(live, peer):
    server = live[0]
    peer.logon()
    before = server.metric("ceguard_dropped_messages_total", session=SESSION,
                           reason="bad_body_length")
    head, _, rest = peer.message("8", fill_body("BL1")).partition(b"\x019=")
    peer.send(head + b"\x019=abc" + SOH + rest.partition(SOH)[2])
    wait_for(lambda: server.metric("ceguard_dropped_messages_total", session=SESSION,
                                   reason="bad_body_length") == before + 1, 10, "the count")
    peer.send(peer.message("8", fill_body("BL2")))  # one MsgSeqNum past the lost one
    resend = peer.receive("2")
    assert resend is not None and resend[7] == str(peer.seq - 2)  # BeginSeqNo: the lost one


def test_an_undefined_message_type_gets_a_session_reject(live, peer):
    server = live[0]
    peer.logon()
    before = server.metric("ceguard_session_rejects_total", session=SESSION,
                           reason="invalid_msgtype")
    peer.send(peer.message("ZZ", [(58, "what is this")]))
    reject = peer.receive("3")
    assert reject is not None and reject[45] == str(peer.seq - 1)
    wait_for(lambda: server.metric("ceguard_session_rejects_total", session=SESSION,
                                   reason="invalid_msgtype") == before + 1, 10, "the count")
    assert_still_serving(live)


@pytest.mark.parametrize("exec_id, body, reason, reason_380", [
    ("NP1", replaced(fill_body("NP1"), 31, "-5.00"), "not_positive", "0"),
    ("NL1", without(fill_body("NL1"), 31), "missing_field", "5"),
    ("ZP1", replaced(fill_body("ZP1"), 31, "0"), "not_positive", "0"),
    # Once QuickFIX's own Rejects (incorrect data format, required tag missing): a
    # drop-copy session's dictionary is lenient, ceguard's decoder says what is wrong.
    ("NN1", replaced(fill_body("NN1"), 31, "abc"), "not_a_number", "0"),
    ("NS1", without(fill_body("NS1"), 55), "missing_field", "5"),
])
def test_fills_quickfix_accepts_but_ceguard_cannot_judge_are_rejected(live, peer, exec_id,
                                                                        body, reason,
                                                                        reason_380):
    server = live[0]
    peer.logon()
    before = server.metric("ceguard_rejects_total", reason=reason)
    peer.send(peer.message("8", body))
    record = wait_for(lambda: decision_of(server, exec_id), 10, "the rejected record")
    assert (record["verdict"], record["reason_code"]) == ("rejected", reason)
    assert server.metric("ceguard_rejects_total", reason=reason) == before + 1
    assert [e for e in server.events("rejected") if e.get("exec_id") == exec_id]
    answer = peer.receive("j")  # after the record is journaled
    assert answer is not None
    assert (answer[45], answer[372], answer[380], answer[379]) == \
        (str(peer.seq - 1), "8", reason_380, exec_id)
    assert answer[58] == record["reason"]
    assert_still_serving(live)


def test_a_newline_in_a_text_field_does_not_cost_the_next_fill_its_decision(live, peer):
    server = live[0]
    peer.logon()
    peer.send(peer.message("8", fill_body("NLT1") + [(58, "first line\nsecond line")]))
    peer.send(peer.message("8", fill_body("NLT2")))
    for exec_id in ("NLT1", "NLT2"):
        record = wait_for(lambda: decision_of(server, exec_id), 10, exec_id)
        assert record["verdict"] == "stands", record


def test_a_huge_message_is_judged_like_any_other(live, peer):
    server = live[0]
    peer.logon()
    peer.send(peer.message("8", fill_body("HUGE1") + [(58, "x" * 2_000_000)]))
    record = wait_for(lambda: decision_of(server, "HUGE1"), 20, "the huge fill's decision")
    assert record["verdict"] == "stands"
    assert_still_serving(live)


def test_slow_loris_before_logon_does_not_stall_the_other_sessions(live, peer):
    stop = threading.Event()
    logon = peer.message("A", [(98, "0"), (108, "1"), (141, "Y")])

    def dribble() -> None:
        for byte in logon[:-1]:  # never the last byte: the Logon never completes
            if stop.wait(0.2):
                return
            peer.send(bytes([byte]))

    thread = threading.Thread(target=dribble, daemon=True)
    thread.start()
    try:
        time.sleep(0.5)
        assert_still_serving(live)  # with one loop for all sockets, this timed out
        assert thread.is_alive()  # still dribbling, never answered: QuickFIX waits
    finally:
        stop.set()
        thread.join()


def test_slow_loris_after_logon_is_timed_out(live, peer):
    server = live[0]
    peer.logon(heartbeat=1)
    before = server.metric("ceguard_session_timeouts_total", session=SESSION)
    partial = peer.message("8", fill_body("SL1"))
    for byte in partial[:12]:  # bytes, but never a whole message
        peer.send(bytes([byte]))
        time.sleep(0.1)
    assert peer.closed_by_acceptor()
    wait_for(lambda: server.metric("ceguard_session_timeouts_total", session=SESSION)
             == before + 1, 10, "the count")
    assert_still_serving(live)
