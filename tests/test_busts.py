"""Bust ExecutionReports per FIX version, validated against the stock QuickFIX dictionaries."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from engine.fix.busts import bust_message, bust_text, executing_firms
from engine.sim.dropcopy import Fill, drop_copy_body, encode
from tests.live import STOCK_SPECS, fields, validate, wire

FILL = Fill("E-9", "O-1", "T-5", "LEVX", "2", "94.00", 100, True, "FIRMA",
            datetime(2026, 1, 15, 15, 0, tzinfo=timezone.utc))
RECORD = {"exec_id": "E-9", "symbol": "LEVX", "side": "sell", "price": "94.00",
          "reference_price": "100.00", "reference_source": "last_sale",
          "deviation_pct": "-6.0000", "threshold_pct": "6", "band_low": "94.00",
          "band_high": "106.00", "rule": "LEV-T3"}


def original(begin: str, body_begin: str) -> bytes:
    header = [(35, "8"), (34, "7"), (49, "MATCHING1"), (52, "20260115-15:00:00.000"),
              (56, "CEGUARD")]
    return encode(begin, header + drop_copy_body(FILL, body_begin, "20260115-15:00:00.000")
                  ).encode()


@pytest.mark.parametrize("begin, body_begin", [("FIX.4.2", "FIX.4.2"), ("FIX.4.4", "FIX.4.4"),
                                               ("FIXT.1.1", "FIX.4.4")])
def test_bust_per_version_validates_and_references_the_busted_execution(begin, body_begin):
    raw = wire(bust_message(bust_text(begin, original(begin, body_begin), RECORD)), begin)
    validate(raw, begin, STOCK_SPECS)
    bust = fields(raw)
    assert (bust[17], bust[19], bust[37], bust[11], bust[55], bust[54]) == \
        ("BUST-E-9", "E-9", "O-1", "CO-1", "LEVX", "2")
    assert (bust[31], bust[32]) == ("94.00", "100")
    # The order had 100 filled and 0 leaving; after the bust nothing is filled.
    assert (bust[14], bust[151], bust[6], bust[39]) == ("0", "100", "0", "0")
    assert bust[58].startswith("Clearly erroneous: LEVX 94.00 vs reference 100.00")
    if begin == "FIX.4.2":
        assert bust[20] == "1" and bust[150] == "0"
    else:
        assert bust[150] == "H" and 20 not in bust
    # No ApplVerID on FIXT: the Logon's DefaultApplVerID applies (some FIX.5.0SP2
    # dictionaries reject 1128 on an ExecutionReport).
    assert 1128 not in bust


def test_executing_firms_are_the_parties_with_role_1():
    raw = b"\x01".join([b"453=3", b"448=BRKR", b"452=3", b"448=FIRMA", b"452=1", b"448=FIRMB",
                        b"452=17", b""])
    assert executing_firms(raw) == ["FIRMA"]
