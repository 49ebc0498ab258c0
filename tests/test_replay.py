"""`ceguard replay` end to end on real log files: series, events, bad input, formats."""

import csv
import io
import json
import subprocess
import sys
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from engine.core.instruments import load_instruments
from engine.core.surveillance import Surveillance
from engine.replay.runner import Replay
from engine.replay.writer import RecordWriter
from engine.rules.rulebook import load_rulebook
from engine.sim.dropcopy import encode

from conftest import by_exec, match, trade, write_instruments, write_log

SCHEMA = json.loads((Path(__file__).parent.parent / "schemas/decision.schema.json").read_text())
SWEEP = ["98.00", "96.00", "94.01", "94.00", "90.00", "85.00"]


def sweep_messages(aggressor: str | None = "Y"):
    messages = []
    for n, price in enumerate(SWEEP):
        if aggressor:
            messages += match(n, "LEVX", price)
        else:  # no 1057: each match its own series
            messages += [trade(f"A{n}", "LEVX", price, order="AGG", match=f"M{n}")]
    return messages


def test_a_sweep_is_judged_against_the_price_before_its_first_print(tmp_path, replay):
    inst = write_instruments(tmp_path / "i.csv", [("LEVX", "2", "100.00")])
    records, summary = replay(write_log(tmp_path / "a.log", sweep_messages()), instruments=inst)
    assert len(records) == 12
    for r in records:
        jsonschema.validate(r, SCHEMA)
        assert (r["reference_price"], r["reference_source"]) == ("100.00", "prev_close")
        assert (r["threshold_pct"], r["rule"], r["leverage"]) == ("6", "LEV-T3", "2")
        expected = "erroneous" if float(r["price"]) <= 94.00 else "stands"
        assert r["verdict"] == expected, r
    busted = {r["exec_id"] for r in records if r["verdict"] == "erroneous"}
    assert busted == {"A3", "P3", "A4", "P4", "A5", "P5"}  # both sides of every bad match
    assert by_exec(records)["A5"]["harmed_side"] == "sell"
    assert "erroneous 6" in summary and "stands 6" in summary


def test_without_aggressor_flags_one_order_at_one_time_is_one_series(tmp_path, replay):
    inst = write_instruments(tmp_path / "i.csv", [("LEVX", "2", "100.00")])
    records, _ = replay(write_log(tmp_path / "a.log", sweep_messages(aggressor=None)),
                        instruments=inst)
    assert [r["reference_price"] for r in records] == ["100.00"] * 6
    assert [r["verdict"] for r in records] == ["stands"] * 3 + ["erroneous"] * 3


def test_without_inference_each_match_is_its_own_series(tmp_path, replay):
    inst = write_instruments(tmp_path / "i.csv", [("LEVX", "2", "100.00")])
    rulebook = json.loads(resources.files("engine.rules").joinpath(
        "default_rulebook.json").read_text())
    rulebook["series_inference"] = "none"
    (tmp_path / "rules.json").write_text(json.dumps(rulebook))
    records, _ = replay(write_log(tmp_path / "a.log", sweep_messages(aggressor=None)),
                        "--rulebook", tmp_path / "rules.json", instruments=inst)
    refs = [r["reference_price"] for r in records]
    assert refs == ["100.00", "98.00", "96.00", "94.01", "94.00", "90.00"]
    assert [r["verdict"] for r in records] == ["stands"] * 6  # each step < 6% from the last


def test_first_print_without_reference_becomes_the_reference(tmp_path, replay):
    log = write_log(tmp_path / "a.log", [trade("E1", "NEWCO", "10.00"),
                                         trade("E2", "NEWCO", "11.00"),
                                         trade("E3", "NEWCO", "10.50")])
    records, summary = replay(log)
    e1, e2, e3 = (by_exec(records)[e] for e in ("E1", "E2", "E3"))
    assert (e1["verdict"], e1["reference_source"], e1["rule"]) == ("no_reference", "none", None)
    assert (e2["verdict"], e2["reference_price"], e2["reference_source"]) == \
        ("erroneous", "10.00", "last_sale")
    assert (e3["verdict"], e3["reference_price"]) == ("stands", "10.00")  # E2 was no sale
    assert "no_reference 1" in summary


BAD_INPUTS = [
    ("this line has no FIX in it", "no_fix_message", "no FIX message"),
    (trade("B1", "XYZ", "abc"), "not_a_number", "LastPx (31) is not a decimal number: 'abc'"),
    (trade("B2", "XYZ", "-5.00"), "not_positive", "LastPx (31) must be greater than zero"),
    (trade("B3", "XYZ", "0"), "not_positive", "LastPx (31) must be greater than zero: '0'"),
    (trade("B4", "XYZ", "1.1234567891"), "too_many_decimals", "more than 9 decimal places"),
    (trade("B5", "", "10.00").replace("\x0155=\x01", "\x01"), "missing_field",
     "Symbol (55) is missing"),
    (trade("B6", "XYZ", "10.00", time="2026-01-15 15:00"), "bad_time", "TransactTime (60)"),
    (trade("B7", "XYZ", "10.00", qty="lots"), "not_a_number", "LastQty (32)"),
    (trade("B8", "XYZ", "10.00", side="BUY"), "bad_side", "Side (54)"),
    (encode("FIX.4.4", [(35, "8"), (150, "F"), (17, "B9"), (55, "XYZ"), (54, "1"),
                        (32, "100"), (60, "20260115-15:00:00")]), "missing_field",
     "LastPx (31) is missing"),
    (encode("FIX.4.4", [(35, "8"), (150, "H"), (17, "B10"), (55, "XYZ")]),
     "missing_exec_ref_id", "ExecRefID (19)"),
    ("8=FIX.4.4\x0135=8\x01oops\x0110=000\x01", "bad_tag", "malformed field"),
]


def test_bad_inputs_are_reported_with_line_and_reason_and_the_run_goes_on(tmp_path, replay):
    inst = write_instruments(tmp_path / "i.csv", [("XYZ", "1", "10.00")])
    messages = [bad for bad, _, _ in BAD_INPUTS] + [trade("GOOD", "XYZ", "10.05")]
    records, summary = replay(write_log(tmp_path / "a.log", messages), instruments=inst)
    rejected = [r for r in records if r["verdict"] == "rejected"]
    assert [r["line"] for r in rejected] == list(range(1, len(BAD_INPUTS) + 1))
    for record, (_, code, words) in zip(rejected, BAD_INPUTS):
        jsonschema.validate(record, SCHEMA)
        assert record["reason_code"] == code
        assert words in record["reason"], record
    assert rejected[1]["exec_id"] == "B1"
    assert by_exec(records)["GOOD"]["verdict"] == "stands"
    assert f"rejected {len(BAD_INPUTS)}" in summary


def test_messages_that_are_not_trades_give_no_decision(tmp_path, replay):
    messages = [encode("FIX.4.4", [(35, "0")]),  # heartbeat
                encode("FIX.4.4", [(35, "8"), (150, "0"), (17, "N1"), (55, "XYZ")]),  # New
                trade("T1", "XYZ", "10.00")]
    records, _ = replay(write_log(tmp_path / "a.log", messages))
    assert [r["exec_id"] for r in records] == ["T1"]
    assert records[0]["line"] == 3


def _event(symbols: int, move: str, start_minute: int = 0, spacing_s: int = 10):
    messages, rows = [], []
    for i in range(symbols):
        second = start_minute * 60 + i * spacing_s
        time = f"20260115-15:{second // 60:02d}:{second % 60:02d}.000"
        close = 60 + i
        price = f"{close * (1 + float(move)):.2f}"
        rows.append((f"EV{i}", "1", f"{close}.00"))
        messages += match(i, f"EV{i}", price, order=f"O{i}", time=time)
    return messages, rows


@pytest.mark.parametrize("symbols, move, verdict, event_size, rule", [
    (4, "-0.07", "erroneous", 0, "REG-T3"),   # 4 securities: no event, 3% tier busts
    (5, "-0.07", "stands", 5, "MSE-5"),       # 5-19: the 10% row clears a 7% move
    (19, "-0.12", "erroneous", 19, "MSE-5"),  # ... but not a 12% move
    (20, "-0.20", "stands", 20, "MSE-20"),    # 20+: the 30% row
    (22, "-0.31", "erroneous", 22, "MSE-20"),
])
def test_multi_stock_events(tmp_path, replay, symbols, move, verdict, event_size, rule):
    messages, rows = _event(symbols, move)
    inst = write_instruments(tmp_path / "i.csv", rows)
    records, summary = replay(write_log(tmp_path / "a.log", messages), instruments=inst)
    assert len(records) == 2 * symbols
    for r in records:
        assert (r["verdict"], r["event_size"], r["rule"]) == (verdict, event_size, rule), r
    assert f"multi-stock events {1 if event_size else 0}" in summary


def test_candidates_further_apart_than_the_window_are_no_event(tmp_path, replay):
    messages, rows = _event(6, "-0.07", spacing_s=70)  # 6 candidates over 5 min 50 s
    inst = write_instruments(tmp_path / "i.csv", rows)
    records, _ = replay(write_log(tmp_path / "a.log", messages), instruments=inst)
    by_symbol = {r["symbol"]: r for r in records}
    assert by_symbol["EV0"]["event_size"] == 5  # the first 5 (within 4 min 40 s) are one
    assert by_symbol["EV5"]["verdict"] == "erroneous"  # 350 s after the first: alone
    assert by_symbol["EV5"]["event_size"] == 0


def test_a_cleared_candidate_becomes_the_last_sale(tmp_path, replay):
    messages, rows = _event(5, "-0.07")
    messages += [trade("LATER", "EV0", "56.00", time="20260115-15:10:00.000")]
    inst = write_instruments(tmp_path / "i.csv", rows)
    records, _ = replay(write_log(tmp_path / "a.log", messages), instruments=inst)
    later = by_exec(records)["LATER"]
    assert (later["reference_price"], later["verdict"]) == ("55.80", "stands")


def _amend(kind: str, ref_exec: str, price: str | None = None, begin: str = "FIX.4.4"):
    fields = [(35, "8"), (17, f"V-{ref_exec}"), (19, ref_exec), (55, "XYZ"), (54, "1")]
    if begin == "FIX.4.2":
        fields += [(20, "1" if kind == "bust" else "2"), (150, "1")]
    else:
        fields += [(150, "H" if kind == "bust" else "G")]
    if price:
        fields += [(31, price), (32, "100")]
    return encode(begin, fields)


@pytest.mark.parametrize("begin", ["FIX.4.4", "FIX.4.2"])
def test_venue_bust_removes_the_trade_from_the_reference_history(tmp_path, replay, begin):
    inst = write_instruments(tmp_path / "i.csv", [("XYZ", "1", "100.00")])
    messages = [trade("E1", "XYZ", "102.00", begin=begin), _amend("bust", "E1", begin=begin),
                trade("E2", "XYZ", "104.50", begin=begin, time="20260115-15:00:01.000")]
    records, summary = replay(write_log(tmp_path / "a.log", messages), instruments=inst)
    e2 = by_exec(records)["E2"]
    assert (e2["reference_price"], e2["reference_source"]) == ("100.00", "prev_close")
    assert e2["verdict"] == "erroneous"
    assert "venue busts 1" in summary


def test_venue_correction_reprices_the_trade_in_the_history(tmp_path, replay):
    inst = write_instruments(tmp_path / "i.csv", [("XYZ", "1", "100.00")])
    messages = [trade("E1", "XYZ", "102.00"), _amend("correct", "E1", "101.00"),
                trade("E2", "XYZ", "103.50", time="20260115-15:00:01.000")]
    records, summary = replay(write_log(tmp_path / "a.log", messages), instruments=inst)
    e2 = by_exec(records)["E2"]
    assert (e2["reference_price"], e2["verdict"]) == ("101.00", "stands")
    assert "venue corrections 1" in summary


def test_a_resent_execution_gets_no_second_decision(tmp_path, replay):
    original = trade("E1", "XYZ", "10.00")
    resent = trade("E1", "XYZ", "10.00", extra=[(43, "Y"), (122, "20260115-15:00:00.000")])
    records, summary = replay(write_log(tmp_path / "a.log", [original, resent]))
    assert [r["exec_id"] for r in records] == ["E1"]
    assert "duplicates dropped 1" in summary


def test_the_same_log_in_every_capture_format_gives_identical_decisions(tmp_path, replay):
    messages = sweep_messages() + [BAD_INPUTS[1][0]] + _event(5, "-0.07")[0]
    rows = [("LEVX", "2", "100.00")] + _event(5, "-0.07")[1]
    inst = write_instruments(tmp_path / "i.csv", rows)
    results = {}
    for fmt in ("filelog", "raw", "pipe", "gzip"):
        results[fmt], _ = replay(write_log(tmp_path / f"log.{fmt}", messages, fmt),
                                 instruments=inst)
    assert len(results["filelog"]) == 12 + 1 + 10
    for fmt in ("raw", "pipe", "gzip"):
        assert results[fmt] == results["filelog"], fmt


def test_records_do_not_depend_on_where_chunks_break(tmp_path):
    messages = sweep_messages() + _event(6, "-0.07")[0] + [b for b, _, _ in BAD_INPUTS]
    inst = write_instruments(tmp_path / "i.csv", [("LEVX", "2", "100.00")] + _event(6, "-0.07")[1])
    log = write_log(tmp_path / "a.log", messages, "raw")

    def run(chunk_bytes: int) -> str:
        out = io.StringIO()
        core = Surveillance(load_rulebook(), load_instruments(inst))
        Replay(core, RecordWriter(out, "jsonl"), False, chunk_bytes=chunk_bytes).run([str(log)])
        return out.getvalue()

    whole = run(1 << 20)
    assert whole.count("\n") == len(messages) - 0  # every message a record (no non-trades)
    for size in (7, 64, 333):
        assert run(size) == whole, size


def test_only_flagged_csv_and_stdin_through_the_real_command(tmp_path):
    inst = write_instruments(tmp_path / "i.csv", [("LEVX", "2", "100.00")])
    log = write_log(tmp_path / "a.log", sweep_messages() + [BAD_INPUTS[0][0]], "gzip")
    result = subprocess.run(
        [Path(sys.executable).parent / "ceguard", "replay", "-", "--instruments", str(inst),
         "--only-flagged", "--format", "csv"],
        input=log.read_bytes(), capture_output=True, check=True)
    lines = result.stdout.decode().splitlines()
    assert lines[0].startswith("line,exec_id,trade_id,symbol")
    verdicts = [row["verdict"] for row in csv.DictReader(lines)]
    assert verdicts == ["rejected"] + ["erroneous"] * 6
    assert b"erroneous 6" in result.stderr


def test_several_inputs_number_lines_per_file_and_name_the_source(tmp_path, replay):
    first = write_log(tmp_path / "one.log", [trade("E1", "XYZ", "10.00")])
    second = write_log(tmp_path / "two.log", ["junk", trade("E2", "XYZ", "10.01")])
    records, _ = replay(first, second)
    # merged by time (tests/test_replay_merge.py): the junk line, without one, goes first
    assert [(r["line"], Path(r["source"]).name) for r in records] == \
        [(1, "two.log"), (1, "one.log"), (2, "two.log")]
