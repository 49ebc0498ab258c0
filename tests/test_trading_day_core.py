"""The core's rollover at the end of a trading day: references carried, state afresh."""

from datetime import date, datetime, timezone

import numpy as np

from engine import codes
from engine.core import pipeline as p
from engine.core.instruments import load_instruments
from engine.core.surveillance import Surveillance
from engine.core.tradingday import TradingDays
from engine.rules.rulebook import load_rulebook

from conftest import trade, write_instruments

KEEP = np.ones(len(codes.VERDICT_NAMES), np.bool_)
DAY1 = "20260115-15:00:00.000"
DAY2 = "20260116-15:00:00.000"


def _core(tmp_path) -> Surveillance:
    inst = write_instruments(tmp_path / "i.csv", [("ABC", "1", "98.00"), ("XYZ", "1", "20.00")])
    return Surveillance(load_rulebook(None), load_instruments(inst))


def _judge(core: Surveillance, messages: list[str], first: int = 1) -> list[tuple[str, str]]:
    """(verdict, reference price) of each decision row that became final."""
    dropped = np.zeros(len(codes.VERDICT_NAMES), np.int64)
    out = []
    for n, message in enumerate(messages, first):
        rows = core.judge_message(message.encode(), n, KEEP, dropped)
        out += [_row(row) for row in rows.tolist()]
    return out


def _row(row: list[int]) -> tuple[str, int]:
    return codes.VERDICT_NAMES[row[p.O_VERDICT]], row[p.O_REF]


def test_the_days_last_sale_is_the_next_days_reference_and_its_exec_ids_are_reusable(tmp_path):
    core = _core(tmp_path)
    assert _judge(core, [trade("E1", "ABC", "100.00", time=DAY1)]) == [("stands", 98_000_000_000)]
    assert _judge(core, [trade("E1", "ABC", "100.00", time=DAY1)], 2) == []  # a duplicate
    assert core.roll_day().shape[0] == 0  # no window was open
    # Day 2: judged against 100.00 (day 1's last sale), not the instruments' 98.00, from
    # which 102.50 would be 4.6% away, beyond the 3% band above $50. E1 is a new execution
    # on a new day, not a duplicate.
    assert _judge(core, [trade("E1", "ABC", "102.50", time=DAY2)], 3) == \
        [("stands", 100_000_000_000)]
    # XYZ did not trade on day 1: its close carries over unchanged.
    assert _judge(core, [trade("E2", "XYZ", "20.10", time=DAY2)], 4) == \
        [("stands", 20_000_000_000)]


def test_an_open_multi_stock_window_closes_at_the_rollover(tmp_path):
    core = _core(tmp_path)
    # A candidate waits in the window for others of a multi-stock event.
    assert _judge(core, [trade("E1", "ABC", "80.00", time=DAY1)]) == []
    assert core.state.count(p.C_PENDING) == 1
    final = [_row(r) for r in core.roll_day().tolist()]
    assert final == [("erroneous", 98_000_000_000)]
    assert core.state.count(p.C_PENDING) == 0 and core.state.count(p.C_WINDOW_OPEN) == 0
    # The busted print is not the next day's reference: the close stays 98.00.
    assert _judge(core, [trade("E9", "ABC", "98.50", time=DAY2)], 2) == \
        [("stands", 98_000_000_000)]


def test_carried_closes_seed_a_new_core_as_the_rollover_left_it(tmp_path):
    core = _core(tmp_path)
    _judge(core, [trade("E1", "ABC", "100.00", time=DAY1),
                  trade("E2", "NEW", "7.00", time=DAY1)])
    core.roll_day()
    keys, closes = core.state.closes()
    fresh = _core(tmp_path)  # as a restart builds it: instruments, then the day's closes
    fresh.state.carry(keys, closes)
    assert _judge(fresh, [trade("E3", "ABC", "100.50", time=DAY2),
                          trade("E4", "NEW", "7.10", time=DAY2)]) == \
        [("stands", 100_000_000_000), ("stands", 7_000_000_000)]


def test_a_trading_day_ends_at_its_local_end_time():
    days = TradingDays()  # 20:30 America/New_York
    end = days.end_of(date(2026, 1, 15))
    assert datetime.fromtimestamp(end // 10**9, timezone.utc) == \
        datetime(2026, 1, 16, 1, 30, tzinfo=timezone.utc)  # EST: UTC-5
    assert days.day_of(end - 1) == date(2026, 1, 15)
    assert days.day_of(end) == date(2026, 1, 16)
    summer = days.end_of(date(2026, 7, 15))  # EDT: UTC-4
    assert datetime.fromtimestamp(summer // 10**9, timezone.utc).hour == 0
    assert days.start_of(date(2026, 1, 16)) == end
