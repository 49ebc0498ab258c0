"""The News (35=B) notices of determinations validate on every FIX version a firm may use,
against the stock QuickFIX dictionaries and the shipped ones."""

from __future__ import annotations

import pytest

from engine.review.cases import Execution
from engine.review.notices import build_notice, determination_lines
from tests.live import ROOT, STOCK_SPECS, fields, validate, wire

CASE = {"id": 7, "outcome": "bust", "analyst": "alice", "reason": "66.00 is 10% over 60.00",
        "deadline_kind": "appeal", "deadline_at": 1_800_000_000.0}
EXECUTIONS = [Execution(1, "A-1", "FAT", "M-1", "FIRMB"), Execution(2, "P-1", "FAT", "M-1",
                                                                    "FIRMA")]


@pytest.mark.parametrize("begin", ["FIX.4.2", "FIX.4.4", "FIXT.1.1"])
@pytest.mark.parametrize("specs", [STOCK_SPECS, ROOT / "fix_configs"], ids=["stock", "shipped"])
def test_a_determination_notice_validates(begin, specs):
    headline, lines = determination_lines(CASE, EXECUTIONS, "FIRMA")
    raw = wire(build_notice(begin, headline, lines, 1_799_998_200.0), begin)
    validate(raw, begin, specs)
    got = fields(raw)
    assert got[35] == "B" and got[148] == "CEE CASE 7 DETERMINATION BUST"
    assert got[33] == "5" and got[61] == "1" and got[42] == "20270115-07:30:00.000"
    assert "Execution P-1 FAT trade M-1 (yours)" in raw
    assert "Appeal in writing by 2027-01-15T08:00:00Z" in raw
    assert 1128 not in got  # as busts: the Logon's DefaultApplVerID applies on FIXT
