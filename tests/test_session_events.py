"""SessionEvents and EventLogTail on real QuickFIX messages and real event-log files."""

from __future__ import annotations

import quickfix as fix

from engine.fix.auth import LogonGate
from engine.fix.session_events import NO_SESSION, EventLogTail, SessionEvents
from engine.obs.logging import get_logger
from engine.obs.metrics import Metrics

SESSION = "FIX.4.4:CEGUARD->MATCHING1"


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def outgoing(events: SessionEvents, msg_type: str, fields: dict[int, str]) -> None:
    message = fix.Message()
    message.getHeader().setField(35, msg_type)
    for tag, value in fields.items():
        message.setField(tag, value)
    events.outgoing(message, fix.SessionID("FIX.4.4", "CEGUARD", "MATCHING1"))


def test_rejects_and_logouts_sent_are_counted_by_reason():
    metrics = Metrics()
    events = SessionEvents(metrics, get_logger())
    outgoing(events, "3", {45: "7", 371: "31", 373: "6"})
    outgoing(events, "3", {45: "8", 58: "Unsupported message type"})  # no 373 (FIX.4.0/4.1)
    outgoing(events, "j", {45: "9", 380: "3"})
    outgoing(events, "5", {58: "MsgSeqNum too low, expecting 10 but received 4"})
    outgoing(events, "5", {})
    outgoing(events, "0", {})  # a Heartbeat: not counted anywhere
    total = "ceguard_session_rejects_total"
    assert sample(metrics, total, session=SESSION, reason="incorrect_data_format") == 1
    assert sample(metrics, total, session=SESSION, reason="unspecified") == 1
    assert sample(metrics, "ceguard_business_rejects_total", session=SESSION,
                  reason="unsupported_message_type") == 1
    for reason in ("seqnum_too_low", "none"):
        assert sample(metrics, "ceguard_logouts_sent_total", session=SESSION,
                      reason=reason) == 1


def test_the_tail_counts_new_event_lines_once_even_when_cut_mid_line(tmp_path):
    session_log = tmp_path / "FIX.4.4-CEGUARD-MATCHING1.event.current.log"
    global_log = tmp_path / "GLOBAL.event.current.log"
    session_log.write_text("20260115-15:00:00.000000000 : Invalid message: Expected "
                           "CheckSum=1, Received CheckSum=2\n")  # before start: not counted
    metrics = Metrics()
    tail = EventLogTail({SESSION: session_log, NO_SESSION: global_log},
                        SessionEvents(metrics, get_logger()).event)
    with session_log.open("a") as f:
        f.write("20260115-15:00:01.000000000 : Invalid message: Expected BodyLength=90, Rec")
    tail.poll()
    with session_log.open("a") as f:
        f.write("eived BodyLength=85\n20260115-15:00:02.000000000 : Timed out waiting for "
                "heartbeat\n20260115-15:00:03.000000000 : Received logon request\n")
    global_log.write_text("20260115-15:00:04.000000000 : Session not found for incoming "
                          "message: 8=FIX.4.4\x019=5\x0135=A\x0110=000\x01\n")
    tail.poll()
    tail.poll()
    dropped = "ceguard_dropped_messages_total"
    assert sample(metrics, dropped, session=SESSION, reason="bad_checksum") == 0
    assert sample(metrics, dropped, session=SESSION, reason="bad_body_length") == 1
    assert sample(metrics, dropped, session=NO_SESSION, reason="unknown_session") == 1
    assert sample(metrics, "ceguard_session_timeouts_total", session=SESSION) == 1
    session_log.write_text("20260115-15:00:05.000000000 : Invalid message: CheckSum is "
                           "missing\n")  # a new, shorter file: read from its start
    tail.poll()
    assert sample(metrics, dropped, session=SESSION, reason="bad_checksum") == 1


def test_the_tail_hands_each_line_to_every_handler_and_the_gate_counts_refused_logons(tmp_path):
    session_log = tmp_path / "FIX.4.4-CEGUARD-MATCHING1.event.current.log"
    global_log = tmp_path / "GLOBAL.event.current.log"
    metrics = Metrics()
    gate = LogonGate({}, metrics, get_logger())
    tail = EventLogTail({SESSION: session_log, NO_SESSION: global_log},
                        SessionEvents(metrics, get_logger()).event, gate.on_event)
    at = "20260115-15:00:00.000000000 : "
    global_log.write_text(
        f"{at}Session not found for incoming message: 8=FIX.4.4\x019=5\x0135=A\x01"
        "49=INTRUDER\x0156=CEGUARD\x01554=********\x0110=000\x01\n"
        f"{at}Session already logged on for incoming message: 8=FIX.4.4\x019=5\x0135=A\x01"
        "49=MATCHING1\x0156=CEGUARD\x0110=000\x01\n"
        f"{at}Session not found for incoming message: 8=FIX.4.4\x019=5\x0135=0\x01"
        "49=NOBODY\x0156=CEGUARD\x0110=000\x01\n")  # not a Logon: dropped, not refused
    session_log.write_text(f"{at}Session not found for incoming message: 8=FIX.4.4\x01"
                           "35=A\x0110=000\x01\n")  # only the GLOBAL log's lines count
    tail.poll()
    refused = "ceguard_logons_refused_total"
    assert sample(metrics, refused, reason="unknown_session") == 1
    assert sample(metrics, refused, reason="already_logged_on") == 1
    assert sample(metrics, "ceguard_dropped_messages_total", session=NO_SESSION,
                  reason="unknown_session") == 2
