"""9-decimal prices over loopback: `ceguard serve`, a real QuickFIX matching engine and
firms. The journal keeps every decimal, the bust echoes LastPx (31) as the venue sent it
and says why in exact numbers, and the busts validate in QuickFIX's own dictionary."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from tests.live import (STOCK_SPECS, Server, busts_for, free_port, journal_rows, logged_on,
                        send, sides, validate, wait_for)

VENUE = "FIX.4.4:MATCHING1->CEGUARD"
# Leveraged 2x, so the band is the same in every session: 20% up to $25, 6% above $50.
INSTRUMENTS = "symbol,leverage,prev_close\nEURUSD,2,1.0850123\nBTCUSD,2,43250.12345678\n" \
              "SUBPNY,2,0.0001234\n"
# symbol: (band_low, band_high, the erroneous print, the print that stands after it)
CASES = {
    "EURUSD": ("0.86800984", "1.30201476", "1.30201476", "1.302014759"),  # on the edge
    "BTCUSD": ("40655.1160493732", "45845.1308641868", "45845.130864187", "45845.130864186"),
    "SUBPNY": ("0.00009872", "0.00014808", "0.00009872", "0.000098721"),
}


def test_nine_decimal_prices_are_journaled_busted_and_echoed_exactly(tmp_path):
    (tmp_path / "instruments.csv").write_text(INSTRUMENTS)
    server = Server(tmp_path, free_port(), free_port())
    server.write_config(tmp_path / "instruments.csv")
    server.start()
    with logged_on(server, tmp_path, versions=("FIX.4.4",)) as (_, engine, firm_peers):
        for symbol, (_, _, bad, good) in CASES.items():
            send(engine, "FIX.4.4", sides(f"{symbol}-BAD", symbol, bad, order=f"{symbol}-1"))
            send(engine, "FIX.4.4", sides(f"{symbol}-OK", symbol, good, order=f"{symbol}-2"))
        wait_for(lambda: all(len(busts_for(engine.peer, VENUE, s)) == 2 for s in CASES),
                 what="both sides of each erroneous print busted")
        wait_for(lambda: journal_rows(server, "SELECT COUNT(*) FROM decisions")[0][0] == 12,
                 what="12 decisions journaled")

        for symbol, (low, high, bad, good) in CASES.items():
            prev_close = re.search(f"{symbol},2,([0-9.]+)", INSTRUMENTS).group(1)
            busts = busts_for(engine.peer, VENUE, symbol)
            assert sorted(b[19] for b in busts) == [f"A-{symbol}-BAD", f"P-{symbol}-BAD"]
            for bust in busts:
                assert bust[31] == bad  # echoed as sent
                assert f"Clearly erroneous: {symbol} {bad} vs reference {prev_close} " \
                       f"(prev_close)" in bust[58]
                assert f"band {low}-{high}" in bust[58]
            records = {row[0]: json.loads(row[1]) for row in journal_rows(
                server, "SELECT exec_id, record FROM decisions WHERE symbol = ?", symbol)}
            for side in "AP":
                erroneous, stands = records[f"{side}-{symbol}-BAD"], records[f"{side}-{symbol}-OK"]
                assert (erroneous["verdict"], erroneous["price"]) == ("erroneous", bad)
                assert (stands["verdict"], stands["price"]) == ("stands", good)
                for record in (erroneous, stands):
                    assert record["reference_price"] == prev_close
                    assert (record["band_low"], record["band_high"]) == (low, high)
        seller = wait_for(lambda: busts_for(firm_peers.peer, "FIX.4.4:FIRMA->CEGUARD", "BTCUSD"),
                          what="the seller's bust")
        assert [(b[19], b[31]) for b in seller] == [("A-BTCUSD-BAD", "45845.130864187")]
        for raw in engine.peer.messages(VENUE) + firm_peers.peer.messages():
            validate(raw, "FIX.4.4", STOCK_SPECS)

        shown = subprocess.run([sys.executable, "-m", "engine", "journal", "--path",
                                str(server.journal), "--limit", "100"], capture_output=True,
                               text=True, check=True).stdout
        assert re.search(r"erroneous\s+BTCUSD\s+sell\s+100 @ 45845.130864187\s+"
                         r"ref 43250.12345678 \(prev_close\)", shown)
