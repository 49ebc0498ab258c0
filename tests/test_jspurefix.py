"""An independent FIX engine, not QuickFIX, against `ceguard serve` over loopback: npm
jspurefix (tests/peers/jspurefix/peer.js, installed by `make test` with `npm ci`) is the
matching engine MATCHING1 and both firms, on FIX.4.4 with jspurefix's stock dictionary.

The engine sends what many real engines send: no AggressorIndicator (1057), no
TrdMatchID (880, the stock dictionary would drop it anyway), no LastLiquidityInd (851);
both sides of every match, the executing firm in Parties (453/448/452=1). The stream is
ordinary prints, one sell order of FIRMA sweeping the book in one TransactTime, then
ordinary prints again, with a second symbol interleaved. These fills are timed in regular
hours (10:30 New York), so the regular-hours column of the rulebook applies (3% above
$50, 10% at $25 or less). A second engine session on FIXT.1.1 (FIX.5.0SP2, jspurefix's
bundled dictionary) sends pre-market prints (08:00 New York): the outside-hours column
applies (6% above $50). The firms and the engine check each bust in jspurefix's own
dictionary and answer a failure with a session Reject (35=3).
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from engine.sim.dropcopy import encode, fix_time
from tests.live import ROOT, Server, free_port, journal_rows, wait_for
from tests.peers.jspurefix.peer import LOGON_TIMEOUT, JspurefixPeer, peer_session

RULEBOOK = json.loads((ROOT / "engine" / "rules" / "default_rulebook.json").read_text())
FIRST_DECISION_TIMEOUT = 300.0  # a cold numba cache compiles the kernels on the first fill
ENGINE, ENGINE_FIXT, FIRMS = "MATCHING1", "MATCHING1-FIXT", ("FIRMA", "FIRMB")
SESSIONS = {ENGINE: "FIX.4.4:CEGUARD->MATCHING1", ENGINE_FIXT: "FIXT.1.1:CEGUARD->MATCHING1",
            "FIRMA": "FIX.4.4:CEGUARD->FIRMA", "FIRMB": "FIX.4.4:CEGUARD->FIRMB"}  # ceguard's

SWEPT, CALM, EARLY = "JSWEEP", "JCALM", "JEARLY"
INSTRUMENTS = {SWEPT: "100.00", CALM: "20.00", EARLY: "60.00"}  # leverage 1, previous close
BEFORE = ["100.10", "99.90", "100.00"]  # the last sale before the sweep is 100.00
SWEEP = ["98", "96", "94", "90", "85"]  # FIRMA's one sell order, one TransactTime
AFTER = ["99.95", "100.05"]  # legitimate prints right after the sweep
CALM_PRINTS = ["20.00", "20.10", "19.95", "20.05", "20.00", "19.90"]
EARLY_PRINTS = ["60.00", "62.40", "66.50", "62.50"]  # 62.40: beyond 3%, within 6% of 60


@dataclass
class Match:
    """One match: the aggressor's execution (ExecID S-/B-...) and the passive one."""

    key: str
    symbol: str
    price: str
    when: datetime
    aggressor_order: str
    aggressor_side: str = "2"  # sell
    aggressor_qty_before: int = 0  # the aggressing order's CumQty before this match

    def executions(self) -> list[dict]:
        passive_side = "1" if self.aggressor_side == "2" else "2"
        firm = {"2": "FIRMA", "1": "FIRMB"}  # FIRMA sells, FIRMB buys
        cum = self.aggressor_qty_before + 100
        return [execution(self.exec_id(self.aggressor_side), self.aggressor_order,
                          self.aggressor_side, self, cum, firm[self.aggressor_side]),
                execution(self.exec_id(passive_side), f"R-{self.key}", passive_side, self, 100,
                          firm[passive_side])]

    def exec_id(self, side: str) -> str:
        return f"{'S' if side == '2' else 'B'}-{self.key}"


def execution(exec_id: str, order_id: str, side: str, match: Match, cum: int,
              firm: str) -> dict:
    """A trade ExecutionReport as jspurefix builds it from its dictionary's names."""
    price = float(match.price)  # a JS number, written as its shortest form ("98", "99.95")
    return {"msgType": "8", "body": {
        "OrderID": order_id, "ClOrdID": f"C{order_id}", "ExecID": exec_id, "ExecType": "F",
        "OrdStatus": "1", "Instrument": {"Symbol": match.symbol}, "Side": side,
        "OrderQty": 1000, "LastQty": 100, "LastPx": price, "LeavesQty": 1000 - cum,
        "CumQty": cum, "AvgPx": price, "LastMkt": "XNAS",
        "TransactTime": match.when.isoformat(timespec="milliseconds"),
        "Parties": {"NoPartyIDs": [{"PartyID": firm, "PartyIDSource": "D", "PartyRole": 1}]}}}


def regular_hours_start() -> datetime:
    """10:30 New York on the last day it is already past (UTC): regular hours."""
    zone = ZoneInfo(RULEBOOK["venues"]["default"]["timezone"])
    now = datetime.now(zone)
    moment = datetime.combine(now.date(), time(10, 30), zone)
    if moment > now:
        moment -= timedelta(days=1)
    return moment.astimezone(timezone.utc)


def pre_market_start() -> datetime:
    """08:00 New York on the same day: before the regular open, outside hours."""
    return regular_hours_start() - timedelta(hours=2, minutes=30)


def stream(start: datetime) -> list[Match]:
    """BEFORE, the SWEEP (one order, one TransactTime), AFTER; CALM prints in between."""
    matches: list[Match] = []
    calm = iter(CALM_PRINTS)
    for n, price in enumerate(BEFORE):
        matches.append(Match(f"{SWEPT}-before{n}", SWEPT, price, start + timedelta(seconds=n),
                             f"A-{SWEPT}-before{n}", aggressor_side="1" if n % 2 else "2"))
        matches.append(Match(f"{CALM}-{n}", CALM, next(calm), start + timedelta(seconds=n),
                             f"A-{CALM}-{n}"))
    sweep_time = start + timedelta(seconds=5)
    for level, price in enumerate(SWEEP):
        matches.append(Match(f"{SWEPT}-sweep{level}", SWEPT, price, sweep_time,
                             f"SWEEP-{SWEPT}", aggressor_qty_before=100 * level))
    for n, price in enumerate(AFTER):
        moment = start + timedelta(seconds=8 + n)
        matches.append(Match(f"{SWEPT}-after{n}", SWEPT, price, moment, f"A-{SWEPT}-after{n}",
                             aggressor_side="1"))
        matches.append(Match(f"{CALM}-{3 + n}", CALM, next(calm), moment, f"A-{CALM}-{3 + n}"))
    return matches


def early_stream(start: datetime) -> list[Match]:
    """EARLY_PRINTS, one match each, a second apart; the aggressor alternates."""
    return [Match(f"{EARLY}-{n}", EARLY, price, start + timedelta(seconds=n),
                  f"A-{EARLY}-{n}", aggressor_side="1" if n % 2 else "2")
            for n, price in enumerate(EARLY_PRINTS)]


def band_pct(reference: Decimal, column: str) -> Decimal:
    """The rulebook's threshold (percent; column regular_pct or outside_pct) for a
    reference price, leverage 1."""
    for tier in RULEBOOK["tiers"]:
        if tier["up_to"] is None or reference <= Decimal(tier["up_to"]):
            return Decimal(tier[column])
    raise AssertionError("the rulebook has no open-ended tier")


def erroneous_prices(previous_close: str, series: list[list[str]], column: str) -> list[str]:
    """The band rule by hand: each series is judged against the last sale before its
    first execution (inclusive band); a print found erroneous never becomes a reference."""
    reference = Decimal(previous_close)
    erroneous = []
    for prints in series:
        base = reference
        for price in map(Decimal, prints):
            if abs(price - base) * 100 >= band_pct(base, column) * base:
                erroneous.append(str(price))
            else:
                reference = price
    return erroneous


def start_server(directory: Path) -> Server:
    instruments = directory / "instruments.csv"
    instruments.write_text("symbol,leverage,prev_close\n"
                           + "".join(f"{s},1,{close}\n" for s, close in INSTRUMENTS.items()))
    server = Server(directory, free_port(), free_port())
    server.write_config(instruments)
    server.start()
    return server


def decided(server: Server, exec_ids: set[str]) -> bool:
    rows = journal_rows(server, "SELECT exec_id FROM decisions")
    return exec_ids <= {exec_id for (exec_id,) in rows}


def busts_delivered(server: Server, peer: JspurefixPeer) -> bool:
    """Every bust ceguard journaled has reached the peer session it was sent to."""
    rows = journal_rows(server, "SELECT session, COUNT(*) FROM busts GROUP BY session")
    name = {session: name for name, session in SESSIONS.items()}
    return all(len(peer.busts(name[session])) >= count for session, count in rows)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """ceguard serve, and jspurefix as MATCHING1 (FIX.4.4 and FIXT.1.1) and both firms; the
    streams sent, judged, and their busts delivered. The peer stays logged on for the
    gap-fill test."""
    directory = tmp_path_factory.mktemp("jspurefix")
    server = start_server(directory)
    peer = JspurefixPeer(directory, server.fix_port,
                         [peer_session(name, session) for name, session in SESSIONS.items()])
    try:
        peer.wait_ready(len(SESSIONS))
        matches = stream(regular_hours_start()) + early_stream(pre_market_start())
        exec_ids = set()
        for engine, symbols in ((ENGINE, (SWEPT, CALM)), (ENGINE_FIXT, (EARLY,))):
            executions = [e for m in matches if m.symbol in symbols for e in m.executions()]
            peer.send(engine, executions)
            exec_ids |= {e["body"]["ExecID"] for e in executions}
        wait_for(lambda: decided(server, exec_ids), FIRST_DECISION_TIMEOUT,
                 "a decision on every fill")
        wait_for(lambda: busts_delivered(server, peer), what="every bust at its recipient")
        yield server, peer, matches, exec_ids
    finally:
        peer.stop()
        server.stop()


def test_every_fill_is_judged(run):
    server, peer, matches, exec_ids = run
    sent = [e["fields"] for name in (ENGINE, ENGINE_FIXT) for e in peer.events("sent", name)
            if e["msgType"] == "8"]
    assert {f["17"] for f in sent} == exec_ids
    assert not peer.events("error"), peer.events("error")
    assert all(not {"880", "1057", "851"} & set(f) and f["452"] == "1" for f in sent), sent
    verdicts = dict(journal_rows(server, "SELECT exec_id, verdict FROM decisions"))
    assert set(verdicts) == exec_ids
    assert set(verdicts.values()) <= {"stands", "erroneous"}, verdicts
    assert server.metric("ceguard_fills_received_total") == len(exec_ids)
    assert journal_rows(server, "SELECT COUNT(*) FROM fills")[0][0] == len(exec_ids)


def test_plain_sweep_busts_exactly_the_prints_beyond_the_band(run):
    server, peer, matches, _ = run
    series = [[price] for price in BEFORE] + [SWEEP] + [[price] for price in AFTER]
    wrong = set(erroneous_prices(INSTRUMENTS[SWEPT], series, "regular_pct"))
    beyond = [m for m in matches if m.symbol == SWEPT and str(Decimal(m.price)) in wrong]
    assert wrong and all("sweep" in m.key for m in beyond), "the scenario must bust sweep prints"
    sells = {m.exec_id("2") for m in beyond}  # FIRMA's sweeping order
    buys = {m.exec_id("1") for m in beyond}  # FIRMB's resting orders
    judged = journal_rows(server, "SELECT exec_id, verdict, json_extract(record, "
                                  "'$.reference_price') FROM decisions WHERE symbol = ? "
                                  "ORDER BY fill_seq", SWEPT)
    erroneous = {exec_id for exec_id, verdict, _ in judged if verdict == "erroneous"}
    assert erroneous == sells | buys, f"expected {sorted(sells | buys)}; judged {judged}"
    busted = {name: {b["19"] for b in peer.busts(name) if b["55"] == SWEPT}
              for name in (ENGINE, *FIRMS)}
    assert busted == {ENGINE: sells | buys, "FIRMA": sells, "FIRMB": buys}


def test_each_fix44_bust_arrives_once_and_passes_jspurefix_dictionary(run):
    server, peer, _, exec_ids = run
    for session in (ENGINE, *FIRMS):
        assert not peer.rejects(session), peer.rejects(session)
        busts = peer.busts(session)
        refs = [b["19"] for b in busts]
        assert len(refs) == len(set(refs)), f"{session} got a bust twice: {sorted(refs)}"
        assert set(refs) <= exec_ids
        journaled = journal_rows(server, "SELECT exec_id, status FROM busts WHERE session = ?",
                                 SESSIONS[session])
        assert sorted(journaled) == sorted((ref, "sent") for ref in refs)
        # Parsed and checked in jspurefix's dictionary, then handed to the application.
        delivered = [e["object"] for e in peer.events("application", session)]
        assert [(o["ExecType"], o["ExecRefID"], o["ExecID"]) for o in delivered] == [
            ("H", ref, f"BUST-{ref}") for ref in refs]
        assert all(o["Instrument"]["Symbol"] in INSTRUMENTS for o in delivered)
    assert peer.busts(ENGINE), "the stream has busts to check"


def early_busts() -> set[str]:
    """Both sides of the pre-market matches beyond the outside-hours band."""
    series = [[price] for price in EARLY_PRINTS]
    wrong = set(erroneous_prices(INSTRUMENTS[EARLY], series, "outside_pct"))
    regular = set(erroneous_prices(INSTRUMENTS[EARLY], series, "regular_pct"))
    assert wrong and wrong < regular, "the scenario must tell the two bands apart"
    return {m.exec_id(side) for m in early_stream(pre_market_start())
            if str(Decimal(m.price)) in wrong for side in "12"}


def test_pre_market_prints_are_judged_on_the_outside_hours_band(run):
    server, peer, _, _ = run
    judged = journal_rows(server, "SELECT exec_id, verdict, json_extract(record, '$.session') "
                                  "FROM decisions WHERE symbol = ?", EARLY)
    assert {exec_id for exec_id, verdict, _ in judged if verdict == "erroneous"} == early_busts()
    assert {session for _, _, session in judged} == {"pre"}
    assert {b["19"] for b in peer.busts("FIRMA") + peer.busts("FIRMB")
            if b["55"] == EARLY} == early_busts()


def test_fixt_busts_pass_jspurefix_fix50sp2_dictionary(run):
    """The engine's FIXT.1.1 session gets the pre-market busts, and jspurefix's bundled
    FIX.5.0SP2 dictionary accepts them (it rejects ApplVerID 1128 on an ExecutionReport)."""
    server, peer, _, _ = run
    assert {b["19"] for b in peer.busts(ENGINE_FIXT)} == early_busts()
    assert not peer.rejects(ENGINE_FIXT), peer.rejects(ENGINE_FIXT)
    delivered = [e["object"] for e in peer.events("application", ENGINE_FIXT)]
    assert {(o["ExecType"], o["ExecRefID"]) for o in delivered} == {
        ("H", ref) for ref in early_busts()}


def test_a_gap_fill_over_fills_is_counted_as_possibly_lost(run):
    """jspurefix answers a ResendRequest with a SequenceReset-GapFill (its resend store is
    empty): three fills lost on the wire are gone, and ceguard must say so."""
    server, peer, _, _ = run
    start = regular_hours_start() + timedelta(minutes=5)
    lost = 3
    peer.lose(ENGINE, lost)
    trigger = Match(f"{CALM}-gap", CALM, "20.00", start, f"A-{CALM}-gap").executions()[:1]
    peer.send(ENGINE, trigger)
    wait_for(lambda: any(e["msgType"] == "4" and e["fields"].get("123") == "Y"
                         for e in peer.events("sent", ENGINE)),
             what="jspurefix's gap fill")
    assert peer.received(ENGINE, "2"), "ceguard asked for the lost messages"
    after = Match(f"{CALM}-aftergap", CALM, "20.05", start + timedelta(seconds=1),
                  f"A-{CALM}-aftergap").executions()
    peer.send(ENGINE, after)
    wait_for(lambda: decided(server, {e["body"]["ExecID"] for e in after}),
             what="the fills after the gap fill judged")
    possibly_lost = server.metric("ceguard_fills_possibly_lost_total",
                                  session=f"FIX.4.4:CEGUARD->{ENGINE}")
    # QuickFIX queued the fill that showed the gap (MsgSeqNum too high), and jspurefix's gap
    # fill (for ResendRequest EndSeqNo 0) runs through its last message: over that fill too.
    trigger_judged = decided(server, {trigger[0]["body"]["ExecID"]})
    assert possibly_lost >= lost + (0 if trigger_judged else 1), (
        f"ceguard_fills_possibly_lost_total = {possibly_lost} after a gap fill over {lost} lost "
        f"fills (the fill after them {'judged' if trigger_judged else 'not judged either'})")


def test_jspurefix_rejects_what_its_dictionary_does_not_hold(tmp_path):
    """The harness's own check: peer.js validates what it receives (jspurefix checks only on
    acceptors by default), so the absence of a 35=3 above means something. A bare socket
    acceptor logs FIRMA on and sends it one bust with ApplVerID (1128), not a FIX.4.4 field,
    and one without."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(LOGON_TIMEOUT)
        peer = JspurefixPeer(tmp_path, listener.getsockname()[1],
                             [peer_session("FIRMA", SESSIONS["FIRMA"])])
        try:
            connection, _ = listener.accept()
            with connection:
                connection.settimeout(LOGON_TIMEOUT)
                assert b"\x0135=A\x01" in connection.recv(4096)
                now = fix_time(datetime.now(timezone.utc))
                header = [(49, "CEGUARD"), (56, "FIRMA"), (52, now)]
                bust = [(37, "O1"), (17, "BUST-X1"), (19, "X1"), (150, "H"), (39, "0"),
                        (55, CALM), (54, "1"), (151, "100"), (14, "0"), (6, "0")]
                messages = [("A", [(98, "0"), (108, "30")]), ("8", [(1128, "9"), *bust]),
                            ("8", bust)]  # MsgSeqNums 1, 2, 3
                connection.sendall("".join(
                    encode("FIX.4.4", [(35, kind), (34, str(seq)), *header, *body])
                    for seq, (kind, body) in enumerate(messages, 1)).encode())
                wait_for(lambda: peer.events("application", "FIRMA"), what="the valid bust")
                rejects = [e["fields"] for e in peer.events("sent", "FIRMA") if e["msgType"] == "3"]
                assert [(r["45"], r["372"], r["373"]) for r in rejects] == [("2", "8", "0")]
                assert "1128" in peer.rejects("FIRMA")  # in its Reject's Text and its log
                assert [e["object"]["StandardHeader"]["MsgSeqNum"]
                        for e in peer.events("application", "FIRMA")] == [3]
        finally:
            peer.stop()
