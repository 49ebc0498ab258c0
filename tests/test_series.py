"""Series without AggressorIndicator (1057) or TrdMatchID (880), and the multi-stock window in
both directions of time: `ceguard replay` end to end on real log files."""

import json
from importlib import resources

import pytest

from engine.sim.dropcopy import encode

from conftest import by_exec, trade, write_instruments, write_log

BEFORE = "20260115-15:00:00.000"
SWEEP_TIME = "20260115-15:00:05.000"
AFTER = "20260115-15:00:09.000"
SWEEP = ["98.00", "96.00", "94.01", "94.00", "90.00", "85.00"]
BUSTED_LEVELS = {3, 4, 5}  # 94.00 (exactly 6% from 100), 90.00, 85.00


def _plain(exec_id: str, price: str, side: str, order: str, time: str,
           liquidity: str | None = None) -> str:
    """A FIX.4.4 fill as engines without 1057 and 880 send it (optionally with 851)."""
    fields = [(35, "8"), (49, "MATCHING1"), (56, "CEGUARD"), (34, "1"), (52, time),
              (37, order), (17, exec_id), (150, "F"), (39, "1"), (55, "LEVX"), (54, side),
              (32, "100"), (31, price), (60, time)]
    if liquidity:
        fields.append((851, liquidity))
    return encode("FIX.4.4", fields)


def plain_sweep(order: str = "interleaved", liquidity: bool = False) -> list[str]:
    """A last sale at 100.00, a sell order sweeping 98.00 -> 85.00 in one matching event
    (one TransactTime), then two prints right after it. Both sides of every match."""
    sells, buys = [], []
    for n, price in enumerate(SWEEP):
        sells.append(_plain(f"S{n}", price, "2", "AGG", SWEEP_TIME, "2" if liquidity else None))
        buys.append(_plain(f"B{n}", price, "1", f"R{n}", SWEEP_TIME, "1" if liquidity else None))
    if order == "aggressor-first":
        sweep = [m for pair in zip(sells, buys) for m in pair]
    elif order == "interleaved":  # B0, S0, B1, S1, ...
        sweep = [m for pair in zip(buys, sells) for m in pair]
    else:  # every passive side first, then the aggressor's executions
        sweep = buys + sells
    return ([_plain("S-LAST", "100.00", "2", "OLD", BEFORE), _plain("B-LAST", "100.00", "1",
                                                                      "OLD-B", BEFORE)]
            + sweep
            + [_plain("S-NEXT1", "94.50", "2", "N1", AFTER),
               _plain("B-NEXT1", "94.50", "1", "M1", AFTER),
               _plain("S-NEXT2", "95.20", "2", "N2", AFTER),
               _plain("B-NEXT2", "95.20", "1", "M2", AFTER)])


@pytest.mark.parametrize("order", ["aggressor-first", "interleaved", "passives-first"])
@pytest.mark.parametrize("liquidity", [False, True], ids=["plain", "851"])
def test_a_plain_sweep_busts_exactly_the_prints_beyond_the_band_from_the_sale_before_it(
        tmp_path, replay, order, liquidity):
    inst = write_instruments(tmp_path / "i.csv", [("LEVX", "2", "99.00")])
    records, _ = replay(write_log(tmp_path / "a.log", plain_sweep(order, liquidity)),
                        instruments=inst)
    decided = by_exec(records)
    assert len(decided) == 6 + 12
    for n in range(len(SWEEP)):
        for side in "SB":
            record = decided[f"{side}{n}"]
            assert (record["reference_price"], record["reference_source"]) == \
                ("100.00", "last_sale"), record
            expected = "erroneous" if n in BUSTED_LEVELS else "stands"
            assert record["verdict"] == expected, record
    busted = {e for e, r in decided.items() if r["verdict"] == "erroneous"}
    assert busted == {f"{side}{n}" for n in BUSTED_LEVELS for side in "SB"}
    for exec_id in ("S-NEXT1", "B-NEXT1", "S-NEXT2", "B-NEXT2"):
        # after the sweep: against its last print that stood (94.01), not against 85.00
        assert decided[exec_id]["verdict"] == "stands", decided[exec_id]
    assert decided["S-NEXT1"]["reference_price"] == "94.01"


def test_851_marks_the_aggressor_of_a_series_across_timestamps(tmp_path, replay):
    """851=2 is an explicit aggressor: its order is one series even when the venue stamps
    each execution with its own time, so the sweep does not walk its reference."""
    inst = write_instruments(tmp_path / "i.csv", [("LEVX", "2", "100.00")])
    messages = []
    for n, price in enumerate(SWEEP):
        time = f"20260115-15:00:05.{n:03d}"
        messages += [_plain(f"S{n}", price, "2", "AGG", time, "2"),
                     _plain(f"B{n}", price, "1", f"R{n}", time, "1")]
    records, _ = replay(write_log(tmp_path / "a.log", messages), instruments=inst)
    decided = by_exec(records)
    assert {r["reference_price"] for r in decided.values()} == {"100.00"}
    assert {e for e, r in decided.items() if r["verdict"] == "erroneous"} == \
        {f"{side}{n}" for n in BUSTED_LEVELS for side in "SB"}


def test_the_two_sides_of_a_match_pair_without_880(tmp_path, replay):
    """An aggressor (1057=Y) whose order started its series earlier; its passive side,
    with no 880, arrives first at a later time: the match pairs by price, quantity, time
    and opposite side, so both sides get one reference (the passive's, judged first) and
    one verdict."""
    inst = write_instruments(tmp_path / "i.csv", [("LEVX", "2", "100.00")])
    messages = [trade("A0", "LEVX", "98.00", order="AGG", aggressor="Y", time=BEFORE),
                trade("P0", "LEVX", "98.00", side="1", order="R0", aggressor="N", time=BEFORE),
                trade("P1", "LEVX", "90.00", side="1", order="R1", aggressor="N",
                      time=SWEEP_TIME),
                trade("A1", "LEVX", "90.00", order="AGG", aggressor="Y", time=SWEEP_TIME)]
    records, _ = replay(write_log(tmp_path / "a.log", messages), instruments=inst)
    decided = by_exec(records)
    assert decided["P1"]["reference_price"] == decided["A1"]["reference_price"] == "98.00"
    assert decided["P1"]["verdict"] == decided["A1"]["verdict"] == "erroneous"


def test_a_print_found_erroneous_never_becomes_a_reference(tmp_path, replay):
    inst = write_instruments(tmp_path / "i.csv", [("LEVX", "2", "100.00")])
    messages = [_plain("S0", "80.00", "2", "O1", BEFORE), _plain("B0", "80.00", "1", "R1", BEFORE),
                _plain("S1", "99.00", "2", "O2", AFTER), _plain("B1", "99.00", "1", "R2", AFTER)]
    records, _ = replay(write_log(tmp_path / "a.log", messages), instruments=inst)
    decided = by_exec(records)
    assert decided["S0"]["verdict"] == decided["B0"]["verdict"] == "erroneous"
    assert decided["S1"]["reference_price"] == "100.00"
    assert decided["S1"]["verdict"] == decided["B1"]["verdict"] == "stands"


def test_an_older_execution_takes_the_sale_before_its_own_time(tmp_path, replay):
    """Out of order: a fill stamped before the newest sale is judged against the sale
    before that newest one (the book keeps the newest sale and the one before it)."""
    messages = [_plain("E1", "60.00", "2", "O1", "20260115-15:00:00.000"),
                _plain("E2", "60.50", "2", "O2", "20260115-15:00:05.000"),
                _plain("LATE", "58.50", "2", "O3", "20260115-15:00:03.000"),
                _plain("NEXT", "60.40", "2", "O4", "20260115-15:00:07.000")]
    inst = write_instruments(tmp_path / "i.csv", [("LEVX", "1", "60.00")])
    records, _ = replay(write_log(tmp_path / "a.log", messages), instruments=inst)
    decided = by_exec(records)
    assert decided["LATE"]["reference_price"] == "60.00"  # E1, not the newer E2
    assert decided["LATE"]["verdict"] == "stands"  # 2.5% < 3%
    assert decided["NEXT"]["reference_price"] == "60.50"  # the newest sale still


def test_venue_busts_of_the_sale_before_a_sweep_move_its_reference(tmp_path, replay):
    inst = write_instruments(tmp_path / "i.csv", [("LEVX", "2", "96.00")])
    busts = [encode("FIX.4.4", [(35, "8"), (17, f"V-{ref}"), (19, ref), (150, "H"),
                                (55, "LEVX"), (54, side)])
             for ref, side in (("S-LAST", "2"), ("B-LAST", "1"))]
    messages = plain_sweep()[:2] + busts + plain_sweep()[2:]
    records, summary = replay(write_log(tmp_path / "a.log", messages), instruments=inst)
    decided = by_exec(records)
    # both sides of the 100.00 print busted by the venue: the close is the reference
    assert (decided["S0"]["reference_price"], decided["S0"]["reference_source"]) == \
        ("96.00", "prev_close")
    assert {e for e, r in decided.items() if r["verdict"] == "erroneous"} == \
        {"S4", "B4", "S5", "B5"}  # 90.00 and 85.00 are 6% or more under 96.00
    assert "venue busts 2" in summary


def _rulebook(tmp_path, **settings) -> str:
    data = json.loads(resources.files("engine.rules").joinpath("default_rulebook.json")
                      .read_text())
    data.update(settings)
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_series_inference_none_is_yesterdays_walk(tmp_path, replay):
    inst = write_instruments(tmp_path / "i.csv", [("LEVX", "2", "99.00")])
    records, _ = replay(write_log(tmp_path / "a.log", plain_sweep("aggressor-first")),
                        "--rulebook", _rulebook(tmp_path, series_inference="none"),
                        instruments=inst)
    decided = by_exec(records)
    assert decided["S5"]["reference_price"] == "90.00"  # the print before it
    # none of the sweep is busted, and the prints right after it are, against 85.00
    assert {e for e, r in decided.items() if r["verdict"] == "erroneous"} == \
        {"S-NEXT1", "B-NEXT1", "S-NEXT2", "B-NEXT2"}


def test_an_unknown_series_inference_stops_the_run_naming_the_key(tmp_path, capsys):
    from engine.cli import main
    log = write_log(tmp_path / "a.log", plain_sweep())
    assert main(["replay", str(log), "--rulebook",
                 _rulebook(tmp_path, series_inference="guess")]) == 2
    err = capsys.readouterr().err
    assert "series_inference" in err and "order-side-time" in err


# The multi-stock window, in both directions of time.

def _candidates(times: list[str]) -> tuple[list[str], list[tuple[str, str, str]]]:
    """One symbol per time, each printing 7% under its close (a candidate on its own)."""
    messages, rows = [], []
    for i, time in enumerate(times):
        close = 60 + i
        price = f"{close * 0.93:.2f}"
        rows.append((f"EV{i}", "1", f"{close}.00"))
        messages += [trade(f"A{i}", f"EV{i}", price, order=f"O{i}", aggressor="Y", time=time),
                     trade(f"P{i}", f"EV{i}", price, side="1", order=f"R{i}", aggressor="N",
                           time=time)]
    return messages, rows


def test_candidates_hours_apart_in_reverse_order_are_no_event(tmp_path, replay):
    times = [f"20260115-{hour:02d}:00:00.000" for hour in (19, 18, 17, 16, 15)]
    messages, rows = _candidates(times)
    records, summary = replay(write_log(tmp_path / "a.log", messages),
                              instruments=write_instruments(tmp_path / "i.csv", rows))
    assert len(records) == 10
    for r in records:
        assert (r["verdict"], r["event_size"]) == ("erroneous", 0), r
    assert "multi-stock events 0" in summary


def test_candidates_within_the_window_in_reverse_order_are_one_event(tmp_path, replay):
    times = [f"20260115-15:0{minute}:00.000" for minute in (4, 3, 2, 1, 0)]
    messages, rows = _candidates(times)
    records, summary = replay(write_log(tmp_path / "a.log", messages),
                              instruments=write_instruments(tmp_path / "i.csv", rows))
    for r in records:
        assert (r["verdict"], r["event_size"], r["rule"]) == ("stands", 5, "MSE-5"), r
    assert "multi-stock events 1" in summary


def test_the_window_spans_at_most_its_length_from_earliest_to_latest(tmp_path, replay):
    """15:02 opens it, 15:06 joins (within 5 min of 15:02), 14:59 does not (more than
    5 min before 15:06) although it is within 5 min of 15:02: it opens a new window."""
    times = ["20260115-15:02:00.000", "20260115-15:06:00.000", "20260115-15:05:00.000",
             "20260115-15:04:00.000", "20260115-15:03:00.000", "20260115-14:59:00.000"]
    messages, rows = _candidates(times)
    records, _ = replay(write_log(tmp_path / "a.log", messages),
                        instruments=write_instruments(tmp_path / "i.csv", rows))
    by_symbol = {r["symbol"]: r for r in records}
    for i in range(5):
        assert by_symbol[f"EV{i}"]["event_size"] == 5, by_symbol[f"EV{i}"]
    assert (by_symbol["EV5"]["event_size"], by_symbol["EV5"]["verdict"]) == (0, "erroneous")
