"""A plain FIX.4.4 sweep (no AggressorIndicator 1057, TrdMatchID 880 or LastLiquidityInd 851)
sent live: `ceguard serve` as a process, real QuickFIX initiators as the matching engine and
both firms, the busts they receive, the journal."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from engine.sim.dropcopy import Fill
from engine.sim.live import drop_copy
from tests.live import Server, busts_for, free_port, journal_rows, logged_on, wait_for

VENUE = "FIX.4.4:MATCHING1->CEGUARD"
SWEEP = ["98.00", "96.00", "94.01", "94.00", "90.00", "85.00"]
BUSTED_LEVELS = (3, 4, 5)  # 94.00 (exactly 6% under 100.00), 90.00, 85.00
SYMBOLS = {"PLAIN": "interleaved", "PASSIVE": "passives-first", "LIQ": "interleaved"}


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    directory = tmp_path_factory.mktemp("series")
    instruments = directory / "instruments.csv"
    instruments.write_text("symbol,leverage,prev_close\n"
                           + "".join(f"{symbol},2,99.00\n" for symbol in SYMBOLS))
    server = Server(directory, free_port(), free_port())
    server.write_config(instruments)
    server.start()
    with logged_on(server, directory, versions=("FIX.4.4",)) as running:
        yield running


def _fill(exec_id: str, order: str, symbol: str, side: str, price: str, moment: datetime) -> Fill:
    return Fill(exec_id, order, "", symbol, side, price, 100, side == "2",
                "FIRMA" if side == "2" else "FIRMB", moment)


def _send(engine, fill: Fill, liquidity: bool) -> None:
    """The fill's drop copy as a venue without 1057 and 880 sends it (851 on request)."""
    message = drop_copy(fill, "FIX.4.4", when=fill.moment)
    message.removeField(880)
    message.removeField(1057)
    if liquidity:
        message.setField(851, "2" if fill.aggressor else "1")
    assert engine.send(VENUE, message)


def _day(symbol: str, ordering: str) -> list[Fill]:
    """A sale at 100.00, a sell order sweeping 98.00 -> 85.00 at one TransactTime, two
    prints right after; both sides of each match, in `ordering`."""
    now = datetime.now(timezone.utc)
    before, sweep_at, after = (now - timedelta(seconds=s) for s in (3, 2, 1))
    sells = [_fill(f"{symbol}-S{n}", f"{symbol}-AGG", symbol, "2", p, sweep_at)
             for n, p in enumerate(SWEEP)]
    buys = [_fill(f"{symbol}-B{n}", f"{symbol}-R{n}", symbol, "1", p, sweep_at)
            for n, p in enumerate(SWEEP)]
    sweep = buys + sells if ordering == "passives-first" else \
        [f for pair in zip(buys, sells) for f in pair]
    return ([_fill(f"{symbol}-S-LAST", f"{symbol}-OLD", symbol, "2", "100.00", before),
             _fill(f"{symbol}-B-LAST", f"{symbol}-OLDB", symbol, "1", "100.00", before)]
            + sweep
            + [_fill(f"{symbol}-{'S' if side == '2' else 'B'}-NEXT{n}", f"{symbol}-N{n}{side}",
                     symbol, side, price, after)
               for n, price in enumerate(("94.50", "95.20")) for side in "21"])


@pytest.mark.parametrize("symbol", list(SYMBOLS))
def test_a_plain_sweep_busts_exactly_the_prints_beyond_the_band_from_the_sale_before_it(
        live, symbol):
    server, engine, firm_peers = live
    fills = _day(symbol, SYMBOLS[symbol])
    for fill in fills:
        _send(engine, fill, liquidity=symbol == "LIQ")
    wait_for(lambda: journal_rows(server, "SELECT COUNT(*) FROM decisions WHERE symbol = ?",
                                  symbol)[0][0] == len(fills), what="every fill decided")
    busted = {f"{symbol}-{side}{n}" for n in BUSTED_LEVELS for side in "SB"}
    wait_for(lambda: len(busts_for(engine.peer, VENUE, symbol)) >= len(busted),
             what="the venue's busts")
    wait_for(lambda: len(busts_for(firm_peers.peer, "FIX.4.4:FIRMA->CEGUARD", symbol)) >= 3
             and len(busts_for(firm_peers.peer, "FIX.4.4:FIRMB->CEGUARD", symbol)) >= 3,
             what="3 busts per firm")

    verdicts = dict(journal_rows(server, "SELECT exec_id, verdict FROM decisions "
                                         "WHERE symbol = ?", symbol))
    assert {e for e, v in verdicts.items() if v == "erroneous"} == busted
    assert sorted(b[19] for b in busts_for(engine.peer, VENUE, symbol)) == sorted(busted)
    seller = busts_for(firm_peers.peer, "FIX.4.4:FIRMA->CEGUARD", symbol)
    buyer = busts_for(firm_peers.peer, "FIX.4.4:FIRMB->CEGUARD", symbol)
    assert sorted(b[19] for b in seller) == sorted(e for e in busted if "-S" in e)
    assert sorted(b[19] for b in buyer) == sorted(e for e in busted if "-B" in e)
    references = dict(journal_rows(
        server, "SELECT exec_id, json_extract(record, '$.reference_price') FROM decisions "
                "WHERE symbol = ?", symbol))
    assert {references[f"{symbol}-{side}{n}"] for n in range(6) for side in "SB"} == \
        {"100.00"}
    assert references[f"{symbol}-S-NEXT0"] == "94.01"  # the sweep's last print that stood
