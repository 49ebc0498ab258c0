"""What the FIX session layer used to lose, end to end over loopback (issue 15, items 2, 5).

A real `ceguard serve`; a QuickFIX initiator as the matching engine (FIX.4.4 and
FIXT.1.1/FIX.5.0SP2), a raw socket peer on FIX.4.2 for what QuickFIX's initiator would
not build (fields out of order), and the firms as a QuickFIX initiator that refuses
busts: FIRMA's dictionary has no ExecType H (its QuickFIX answers a bust with a Reject,
35=3), FIRMB's application refuses them (a BusinessMessageReject, 35=j).
- Drop copies are judged whatever they carry beyond what framing needs; what ceguard
  cannot judge is answered with a 35=j; firm sessions keep strict validation.
- A refused bust is journaled `rejected`, counted and logged; a fill whose executing
  firm cannot be found gets an `unroutable` bust row in every case.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
import quickfix as fix

from engine.sim.dropcopy import Fill, fix_time
from engine.sim.live import ACCEPTOR, Initiator, Peer, drop_copy, initiator_settings
from live import (ROOT, STOCK_SPECS, fields, journal_rows, matching_engine, sides,
                  start_server, validate, wait_for)
from test_wire_hostile import RawPeer, fill_body, replaced

VENUE_44 = "FIX.4.4:MATCHING1->CEGUARD"
VENUE_50 = "FIXT.1.1:MATCHING1->CEGUARD"
RAW_SESSION = "FIX.4.2:CEGUARD->MATCHING1"  # ceguard's name of the raw peer's session
FIRMA = "FIX.4.4:FIRMA->CEGUARD"
FIRMB = "FIX.4.4:FIRMB->CEGUARD"


class RefusingFirms(Peer):
    """FIRMB's application refuses every bust (QuickFIX answers 35=j, 380=3)."""

    def fromApp(self, message, session_id):
        super().fromApp(message, session_id)
        if session_id.getTargetCompID().getValue() == ACCEPTOR and \
                session_id.getSenderCompID().getValue() == "FIRMB":
            raise fix.UnsupportedMessageType()


def without_trade_cancel(directory: Path) -> Path:
    """FIX44.xml whose ExecType (150) has no H: a counterparty that cannot take busts."""
    text = (ROOT / "fix_configs" / "FIX44.xml").read_text()
    text, n = re.subn(r"(<field number='150' name='ExecType'.*?)<value enum='H'[^>]*/>\s*",
                      r"\1", text, flags=re.S)
    assert n == 1
    path = directory / "FIX44-no-H.xml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    directory = tmp_path_factory.mktemp("sessions")
    server = start_server(directory)
    engine = matching_engine(server, directory / "venue", versions=("FIX.4.4", "FIX.5.0SP2"))
    settings = initiator_settings("127.0.0.1", server.fix_port, directory / "firms",
                                  [("FIX.4.4", "FIRMB", ACCEPTOR)])
    firma = fix.Dictionary()  # SessionSettings.set adds [DEFAULT]'s keys
    for key, value in (("BeginString", "FIX.4.4"), ("SenderCompID", "FIRMA"),
                       ("TargetCompID", ACCEPTOR), ("SocketConnectHost", "127.0.0.1"),
                       ("SocketConnectPort", str(server.fix_port)),
                       ("DataDictionary", str(without_trade_cancel(directory)))):
        firma.setString(key, value)
    settings.set(fix.SessionID("FIX.4.4", "FIRMA", ACCEPTOR), firma)
    firm_peers = Initiator(settings, RefusingFirms())
    try:
        assert engine.wait_logon() and firm_peers.wait_logon()
        yield server, engine, firm_peers
    finally:
        engine.stop()
        firm_peers.stop()
        server.stop()


def decision_of(server, exec_id: str) -> dict | None:
    for (record,) in journal_rows(server, "SELECT record FROM decisions WHERE exec_id = ?",
                                  exec_id):
        return json.loads(record)
    return None


def journaled(server, exec_id: str) -> bytes | None:
    for (raw,) in journal_rows(server, "SELECT raw FROM fills"):
        if f"\x0117={exec_id}\x01".encode() in raw:
            return raw
    return None


def fill(exec_id: str, price: str = "60.00", firm: str = "FIRMA", symbol: str = "FAT") -> Fill:
    return Fill(exec_id, f"O-{exec_id}", f"M-{exec_id}", symbol, "1", price, 100, True, firm,
                datetime.now(timezone.utc))


def session_rejects(server, session: str) -> float:
    return server.metric("ceguard_session_rejects_total", session=session)


# Item 2: nothing a drop copy carries beyond framing stops it from being judged.

@pytest.mark.parametrize("version, session, exec_id, extra", [
    ("FIX.4.4", VENUE_44, "X44-TID", {1003: "T-1", 828: "0"}),  # not on a 4.4 ExecRpt
    ("FIX.4.4", VENUE_44, "X44-UDF", {9999: "venue", 5001: "x"}),  # user-defined tags
    ("FIXT.1.1", VENUE_50, "X50-TID", {1003: "T-2", 828: "0", 9999: "venue"}),
])
def test_a_fill_with_tags_its_dictionary_does_not_list_is_judged(live, version, session,
                                                                  exec_id, extra):
    server, engine, _ = live
    ceguard_side = session.replace("MATCHING1->CEGUARD", "CEGUARD->MATCHING1")
    before = session_rejects(server, ceguard_side)
    message = drop_copy(fill(exec_id), version)
    for tag, value in extra.items():
        message.setField(tag, value)
    assert engine.send(session, message)
    record = wait_for(lambda: decision_of(server, exec_id), what=f"{exec_id} judged")
    assert record["verdict"] == "stands"
    raw = journaled(server, exec_id)
    assert all(f"\x01{tag}={value}\x01".encode() in raw for tag, value in extra.items())
    assert session_rejects(server, ceguard_side) == before


def test_a_fill_without_transact_time_is_judged_on_its_sending_time(live):
    """No TransactTime (60), which the dictionary requires: the fill reaches the decoder and
    is judged on SendingTime (52), and its record says which clock it used."""
    server, engine, _ = live
    message = drop_copy(fill("X44-NO60"), "FIX.4.4")
    message.removeField(60)
    assert engine.send(VENUE_44, message)
    record = wait_for(lambda: decision_of(server, "X44-NO60"), what="X44-NO60 judged")
    assert record["verdict"] == "stands" and record["time_source"] == "sending_time"
    assert b"\x0160=" not in journaled(server, "X44-NO60")


@pytest.mark.parametrize("change", ["150=2", "OrderID missing", "39=Z"])
def test_a_fill_outside_the_dictionary_reaches_the_decoder(live, change):
    """A value outside the enum (150=2 is FIX.4.2's fill, not 4.4's; OrdStatus Z) and a
    field the dictionary requires (OrderID 37) but ceguard does not need."""
    server, engine, _ = live
    exec_id = f"E44-{change[:3]}"
    before = session_rejects(server, "FIX.4.4:CEGUARD->MATCHING1")
    message = drop_copy(fill(exec_id), "FIX.4.4")
    if change == "OrderID missing":
        message.removeField(37)
    else:
        tag, _, value = change.partition("=")
        message.setField(int(tag), value)
    assert engine.send(VENUE_44, message)
    wait_for(lambda: journaled(server, exec_id), what=f"{exec_id} journaled")
    if change != "150=2":  # whether 150=2 on 4.4 is a trade is the decoder's to say
        assert decision_of(server, exec_id)["verdict"] == "stands"
    assert session_rejects(server, "FIX.4.4:CEGUARD->MATCHING1") == before


@pytest.fixture
def raw_peer(live):
    server = live[0]
    peer = RawPeer(server.fix_port)
    peer.logon()
    yield peer
    peer.close()
    wait_for(lambda: server.metric("ceguard_session_up", session=RAW_SESSION) == 0, 10,
             "the raw session to be down")


def test_fields_out_of_order_and_a_42_fill_with_150_F_reach_the_decoder(live, raw_peer):
    server = live[0]
    before = session_rejects(server, RAW_SESSION)
    # Header fields after the body (only 8, 9, 35 must lead: that is framing).
    body = fill_body("OOO1")
    seq = str(raw_peer.seq)
    raw_peer.seq += 1
    when = fix_time(datetime.now(timezone.utc))
    text = "".join(f"{t}={v}\x01" for t, v in body + [(49, "MATCHING1"), (56, "CEGUARD"),
                                                      (34, seq), (52, when)])
    head = f"8=FIX.4.2\x019={len(text) + 5}\x0135=8\x01"
    message = head + text
    message += f"10={sum(message.encode()) % 256:03d}\x01"
    raw_peer.send(message.encode())
    # ExecType F is FIX.4.3+: a 4.2 venue sending it with 20=0 is not refused either.
    raw_peer.send(raw_peer.message("8", replaced(fill_body("F42"), 150, "F")))
    record = wait_for(lambda: decision_of(server, "OOO1"), what="the out-of-order fill judged")
    assert record["verdict"] == "stands"
    wait_for(lambda: journaled(server, "F42"), what="the 150=F fill journaled")
    assert session_rejects(server, RAW_SESSION) == before


@pytest.mark.parametrize("exec_id, change, reason_380", [
    ("NOPX", None, "5"),  # LastPx (31) missing: conditionally required field missing
    ("BADPX", "abc", "0"),  # LastPx not a number: other
])
def test_a_fill_ceguard_cannot_judge_is_answered_with_a_business_reject(live, exec_id, change,
                                                                       reason_380):
    server, engine, _ = live
    label = {"5": "conditionally_required_field_missing", "0": "other"}[reason_380]
    answers = server.metric("ceguard_business_rejects_total",
                            session="FIX.4.4:CEGUARD->MATCHING1", reason=label)
    message = drop_copy(fill(exec_id), "FIX.4.4")
    if change is None:
        message.removeField(31)
    else:
        message.setField(31, change)
    assert engine.send(VENUE_44, message)
    record = wait_for(lambda: decision_of(server, exec_id), what="the rejected record")
    assert record["verdict"] == "rejected"
    answer = wait_for(lambda: [fields(m) for m in engine.peer.messages(VENUE_44)
                               if fields(m).get(35) == "j" and fields(m).get(379) == exec_id],
                      what="the BusinessMessageReject")[0]
    ref_seq_num = fields(journaled(server, exec_id).decode())[34]
    assert (answer[45], answer[372], answer[380]) == (ref_seq_num, "8", reason_380)
    assert answer[58] == record["reason"]
    validate(next(m for m in engine.peer.messages(VENUE_44) if f"\x01379={exec_id}\x01" in m),
             "FIX.4.4", STOCK_SPECS)
    assert [e for e in server.events("rejected") if e.get("exec_id") == exec_id]
    wait_for(lambda: server.metric("ceguard_business_rejects_total",
                                   session="FIX.4.4:CEGUARD->MATCHING1", reason=label)
             == answers + 1, what="the 35=j counted")


def test_firm_sessions_keep_strict_validation(live):
    server, _, firm_peers = live
    before = server.metric("ceguard_session_rejects_total", session="FIX.4.4:CEGUARD->FIRMB",
                           reason="value_is_incorrect")
    message = drop_copy(fill("FIRM-SENT"), "FIX.4.4")
    message.setField(150, "2")  # not a FIX.4.4 ExecType
    assert firm_peers.send(FIRMB, message)
    wait_for(lambda: server.metric("ceguard_session_rejects_total",
                                   session="FIX.4.4:CEGUARD->FIRMB",
                                   reason="value_is_incorrect") == before + 1,
             what="QuickFIX's Reject of the firm's message")
    assert journaled(server, "FIRM-SENT") is None


# Item 5: what became of each bust.

def bust_rows(server, exec_id: str) -> dict[str, tuple[str, str | None]]:
    rows = journal_rows(server, "SELECT session, status, detail FROM busts WHERE exec_id = ?",
                        exec_id)
    return {session: (status, detail) for session, status, detail in rows}


def test_busts_the_firms_refuse_are_journaled_rejected_counted_and_logged(live):
    server, engine, _ = live
    pair = sides("REFUSED", "AWAY", "30.00", order="REF-O")  # 50% off AWAY's 60.00 close
    for one in pair:
        assert engine.send(VENUE_44, drop_copy(one, "FIX.4.4"))
    wait_for(lambda: bust_rows(server, "A-REFUSED").get("FIX.4.4:CEGUARD->FIRMA", ("",))[0]
             == "rejected", what="FIRMA's Reject of its bust journaled")
    wait_for(lambda: bust_rows(server, "P-REFUSED").get("FIX.4.4:CEGUARD->FIRMB", ("",))[0]
             == "rejected", what="FIRMB's BusinessMessageReject journaled")
    status, detail = bust_rows(server, "A-REFUSED")["FIX.4.4:CEGUARD->FIRMA"]
    assert "Reject (35=3)" in detail and "value_is_incorrect" in detail and "tag 150" in detail
    status, detail = bust_rows(server, "P-REFUSED")["FIX.4.4:CEGUARD->FIRMB"]
    assert "BusinessMessageReject (35=j)" in detail and "unsupported_message_type" in detail
    # The venue took its busts.
    assert bust_rows(server, "A-REFUSED")["FIX.4.4:CEGUARD->MATCHING1"][0] == "sent"
    assert server.metric("ceguard_busts_rejected_total", session="FIX.4.4:CEGUARD->FIRMA",
                         reason="value_is_incorrect") >= 1
    assert server.metric("ceguard_busts_rejected_total", session="FIX.4.4:CEGUARD->FIRMB",
                         reason="unsupported_message_type") >= 1
    logged = {(e["session"], e["bust_exec_id"]) for e in server.events("bust_rejected")}
    assert {("FIX.4.4:CEGUARD->FIRMA", "BUST-A-REFUSED"),
            ("FIX.4.4:CEGUARD->FIRMB", "BUST-P-REFUSED")} <= logged


def test_fixt_busts_carry_no_appl_ver_id_and_validate(live):
    server, engine, _ = live
    for one in sides("FIXT-BUST", "AFTER", "90.00", order="FB-O"):
        assert engine.send(VENUE_50, drop_copy(one, "FIXT.1.1"))
    busts = wait_for(lambda: [m for m in engine.peer.messages(VENUE_50)
                              if fields(m).get(19, "").endswith("FIXT-BUST")],
                     what="the FIXT busts")
    for raw in busts:
        assert 1128 not in fields(raw)
        validate(raw, "FIXT.1.1", STOCK_SPECS)


@pytest.mark.parametrize("exec_id, parties, reason", [
    ("UNR-NOPARTY", None, "no Parties group"),
    ("UNR-NOROLE", [("FIRMA", "3")], "no executing firm"),
    ("UNR-UNKNOWN", [("NOBODY", "1")], "PartyID NOBODY is not in the [firms] map"),
])
def test_a_fill_whose_executing_firm_cannot_be_found_gets_an_unroutable_bust(
        live, exec_id, parties, reason):
    server, engine, _ = live
    before = server.metric("ceguard_busts_sent_total", recipient="firm", result="unroutable")
    message = drop_copy(fill(exec_id, price="20.00"), "FIX.4.4")  # 2/3 off FAT's close
    message.removeGroup(fix.Group(453, 448))  # every party
    for party, role in parties or []:
        group = fix.Group(453, 448)
        group.setField(448, party)
        group.setField(447, "D")
        group.setField(452, role)
        message.addGroup(group)
    assert engine.send(VENUE_44, message)
    rows = wait_for(lambda: len(bust_rows(server, exec_id)) == 2 and bust_rows(server, exec_id),
                    what="the venue's and the firm's bust rows")
    assert rows["FIX.4.4:CEGUARD->MATCHING1"][0] == "sent"
    ((status, detail),) = [v for s, v in rows.items() if s.startswith("(")]
    assert status == "unroutable" and reason in detail
    wait_for(lambda: server.metric("ceguard_busts_sent_total", recipient="firm",
                                   result="unroutable") == before + 1, what="the count")
    assert [e for e in server.events("bust")
            if e["exec_id"] == exec_id and e["result"] == "unroutable"]


def test_alert_rules_use_only_metrics_the_server_exports(live):
    server = live[0]
    rules = (ROOT / "deploy" / "prometheus" / "alerts.yml").read_text()
    used = set(re.findall(r"ceguard_[a-z_]+", rules))
    exported = set(re.findall(r"^# TYPE (ceguard_[a-z_]+)", server.scrape(), re.M))
    exported |= {f"{name}_{suffix}" for name in exported
                 for suffix in ("total", "bucket", "count", "sum")}
    assert {"ceguard_fills_possibly_lost_total", "ceguard_busts_rejected_total"} <= used
    # The review metrics exist only in review mode (engine/review/metrics.py).
    assert {u for u in used if "review" not in u} <= exported, sorted(used - exported)
