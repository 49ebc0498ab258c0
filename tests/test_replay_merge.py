"""`ceguard replay A.log B.log ...`: several session logs merged by TransactTime, as the one
day they were (engine/replay/merge.py)."""

import io
import json
from pathlib import Path

import jsonschema
import pytest

from engine.cli import main
from engine.core.instruments import load_instruments
from engine.core.surveillance import Surveillance
from engine.replay.reader import InputError, chunks, open_log
from engine.replay.runner import Replay
from engine.replay.writer import RecordWriter
from engine.rules.rulebook import load_rulebook
from engine.sim.dropcopy import encode

from conftest import by_exec, match, trade, write_instruments, write_log

SCHEMA = json.loads((Path(__file__).parent.parent / "schemas/decision.schema.json").read_text())
BEGIN_OF = {"a": "FIX.4.4", "b": "FIX.4.2"}


def _at(second: int) -> str:
    return f"20260115-15:{second // 60:02d}:{second % 60:02d}.000"


def _day() -> tuple[dict[str, list[tuple[int, str]]], list[tuple[str, str, str]]]:
    """Two sessions' drop copies of one day, as (second, message) in each log's order.

    Six securities fall 7% within a minute, three on each session: together a multi-stock
    event (the 10% row clears them), alone three candidates each (no event: 3% busts).
    Session a goes on trading for an hour after it, so that read one after the other, its
    event window closes before session b's candidates are read.
    """
    logs: dict[str, list[tuple[int, str]]] = {"a": [], "b": []}
    rows = []
    for i in range(6):
        session = "ab"[i % 2]
        close = 60 + i
        rows.append((f"EV{i}", "1", f"{close}.00"))
        # an ordinary print first, then the fall
        logs[session] += [(i, m) for m in match(100 + i, f"EV{i}", f"{close}.05",
                                                order=f"Q{i}", time=_at(i),
                                                begin=BEGIN_OF[session])]
        second = 60 + 10 * i
        logs[session] += [(second, m) for m in match(i, f"EV{i}", f"{close * 0.93:.2f}",
                                                     order=f"O{i}", time=_at(second),
                                                     begin=BEGIN_OF[session])]
    rows.append(("LATER", "1", "20.00"))
    for n in range(3):
        second = 1200 + 600 * n
        logs["a"] += [(second, trade(f"L{n}", "LATER", "20.00", time=_at(second)))]
    return logs, rows


def _strip(records: list[dict]) -> list[dict]:
    """Decisions without where they were read (line, source)."""
    return [{k: v for k, v in r.items() if k not in ("line", "source")} for r in records]


def test_two_sessions_merged_give_the_event_and_the_decisions_of_one_time_ordered_log(
        tmp_path, replay):
    logs, rows = _day()
    inst = write_instruments(tmp_path / "i.csv", rows)
    a = write_log(tmp_path / "a.log", [m for _, m in logs["a"]])
    b = write_log(tmp_path / "b.log", [m for _, m in logs["b"]])
    one_day = sorted(logs["a"] + logs["b"], key=lambda pair: pair[0])  # stable: a before b
    whole = write_log(tmp_path / "day.log", [m for _, m in one_day])

    merged, summary = replay(a, b, instruments=inst)
    falls = [r for r in merged if r["exec_id"][0] in "AP" and int(r["exec_id"][1:]) < 100]
    assert len(falls) == 12
    for r in falls:  # one event of six securities, across both sessions: the 10% row
        assert (r["verdict"], r["event_size"], r["rule"]) == ("stands", 6, "MSE-5"), r
    assert "multi-stock events 1" in summary
    assert "2 inputs merged by TransactTime" in summary

    expected, _ = replay(whole, instruments=inst)
    assert _strip(merged) == _strip(expected)
    # each record names its file and its line there
    for r in merged:
        jsonschema.validate(r, SCHEMA)
        session = Path(r["source"]).stem
        messages = [m for _, m in logs[session]]
        assert f"\x0117={r['exec_id']}\x01" in messages[r["line"] - 1]


def test_the_same_two_sessions_read_one_after_the_other_are_no_event(tmp_path, replay):
    """What the merge is for: session a's hour of trading after its candidates closes
    their window before session b's are read, and each half alone is no event."""
    logs, rows = _day()
    inst = write_instruments(tmp_path / "i.csv", rows)
    one_after_other = write_log(tmp_path / "ab.log", [m for _, m in logs["a"] + logs["b"]])
    records, summary = replay(one_after_other, instruments=inst)
    falls = [r for r in records if r["exec_id"][0] in "AP" and int(r["exec_id"][1:]) < 100]
    assert {(r["verdict"], r["event_size"]) for r in falls} == {("erroneous", 0)}
    assert "multi-stock events 0" in summary


def test_a_log_whose_own_order_is_not_time_order_keeps_it(tmp_path, replay):
    a = write_log(tmp_path / "a.log", [trade("X1", "XYZ", "10.00", time=_at(10)),
                                       trade("X2", "XYZ", "10.10", time=_at(5))])
    b = write_log(tmp_path / "b.log", [trade("Y1", "XYZ", "10.20", time=_at(7),
                                             begin="FIX.4.2")])
    records, _ = replay(a, b)
    # a's X1 (15:00:10) goes before a's X2 (15:00:05): only b's Y1 (15:00:07) may pass it
    assert [r["exec_id"] for r in records] == ["Y1", "X1", "X2"]
    # X2 is older than the newest sale (X1): judged against the sale before the newest,
    # Y1 (the rulebook's series_inference keeps two sales by time per symbol)
    assert [r["reference_price"] for r in records] == [None, "10.20", "10.20"]
    assert [(Path(r["source"]).name, r["line"]) for r in records] == \
        [("b.log", 1), ("a.log", 1), ("a.log", 2)]


@pytest.mark.parametrize("order", ["ab", "ba"])
def test_equal_times_go_in_the_order_the_inputs_were_named(tmp_path, replay, order):
    logs = {"a": write_log(tmp_path / "a.log", [trade("TA", "XYZ", "10.00")]),
            "b": write_log(tmp_path / "b.log", [trade("TB", "XYZ", "10.20", begin="FIX.4.2")])}
    records, _ = replay(*(logs[s] for s in order))
    assert [r["exec_id"] for r in records] == [f"T{s.upper()}" for s in order]
    assert records[1]["reference_price"] == records[0]["price"]


def _bust(ref_exec: str) -> str:
    """A venue bust (150=H) of an earlier trade: no TransactTime to merge it by."""
    return encode("FIX.4.4", [(35, "8"), (17, f"V-{ref_exec}"), (19, ref_exec), (55, "XYZ"),
                              (54, "1"), (150, "H")])


def test_units_without_a_time_travel_in_their_own_logs_order(tmp_path, replay):
    inst = write_instruments(tmp_path / "i.csv", [("XYZ", "1", "100.00")])
    a = write_log(tmp_path / "a.log", [trade("E0", "XYZ", "100.50", time=_at(0)),
                                       trade("E2", "XYZ", "104.50", time=_at(20))])
    b = write_log(tmp_path / "b.log", [trade("E1", "XYZ", "102.00", time=_at(10)),
                                       "not a FIX message", _bust("E1")])
    records, summary = replay(a, b, instruments=inst)
    # b's reject and bust follow E1 (15:00:10) at once, before a's E2 (15:00:20): E2 is
    # judged against E0, the last sale left once E1 is busted
    assert [(r.get("exec_id"), r["verdict"]) for r in records] == \
        [("E0", "stands"), ("E1", "stands"), (None, "rejected"), ("E2", "erroneous")]
    assert by_exec(records)["E2"]["reference_price"] == "100.50"
    assert (Path(records[2]["source"]).name, records[2]["line"]) == ("b.log", 2)
    assert "venue busts 1" in summary and "(1 for trades" not in summary


def _run(paths: list[Path], inst: Path, chunk_bytes: int) -> str:
    out = io.StringIO()
    core = Surveillance(load_rulebook(), load_instruments(inst))
    Replay(core, RecordWriter(out, "jsonl"), False, chunk_bytes=chunk_bytes).run(
        [str(p) for p in paths])
    return out.getvalue()


def test_merged_records_do_not_depend_on_where_blocks_break_nor_on_compression(tmp_path):
    logs, rows = _day()
    inst = write_instruments(tmp_path / "i.csv", rows)
    junk = [(0, "a line that is no FIX")]
    a_messages = [m for _, m in junk + logs["a"]]
    b_messages = [m for _, m in logs["b"] + junk]
    plain = [write_log(tmp_path / "a.log", a_messages), write_log(tmp_path / "b.log", b_messages)]
    whole = _run(plain, inst, 1 << 20)
    assert whole.count("\n") == len(a_messages) + len(b_messages)
    for size in (7, 64, 333):
        assert _run(plain, inst, size) == whole, size
    zipped = [write_log(tmp_path / "a.log.gz", a_messages, "gzip"), plain[1]]
    assert _run(zipped, inst, 64).replace("a.log.gz", "a.log") == whole


def test_the_progress_line_covers_every_input(tmp_path, capsys):
    logs, rows = _day()
    inst = write_instruments(tmp_path / "i.csv", rows)
    paths = [write_log(tmp_path / "a.log", [m for _, m in logs["a"]]),
             write_log(tmp_path / "b.log", [m for _, m in logs["b"]])]
    core = Surveillance(load_rulebook(), load_instruments(inst))
    Replay(core, RecordWriter(io.StringIO(), "jsonl"), False, progress=True).run(
        [str(p) for p in paths])
    err = capsys.readouterr().err
    size = sum(p.stat().st_size for p in paths)
    assert "2 inputs 100.0%" in err, err


def test_an_input_that_breaks_stops_the_run_once_everything_read_is_written(tmp_path):
    """A truncated gzip among the inputs: what was read of every input is judged and
    written (a candidate waiting in the window too), then the input error."""
    inst = write_instruments(tmp_path / "i.csv", [("XYZ", "1", "100.00")])
    a = write_log(tmp_path / "a.log", [trade(f"A{n}", "XYZ", "100.00", time=_at(2 * n))
                                       for n in range(60)])
    b_messages = [trade(f"B{n}", "XYZ", "100.10", time=_at(2 * n + 1), begin="FIX.4.2")
                  for n in range(60)]
    b_messages[3] = trade("B3", "XYZ", "90.00", time=_at(7), begin="FIX.4.2")  # erroneous
    zipped = write_log(tmp_path / "b.log.gz", b_messages, "gzip").read_bytes()
    broken = tmp_path / "b.log.gz"
    broken.write_bytes(zipped[: len(zipped) * 2 // 3])
    readable = b""  # what of it can be read, as the replay reads it
    stream, _ = open_log(str(broken))
    with pytest.raises(InputError):
        for block in chunks(stream, str(broken), 64):
            readable += block
    assert 0 < readable.count(b"\n") < len(b_messages) - 5
    intact = tmp_path / "b.log"
    intact.write_bytes(readable)

    out = io.StringIO()
    core = Surveillance(load_rulebook(), load_instruments(inst))
    with pytest.raises(InputError, match="b.log.gz: cannot be read after"):
        Replay(core, RecordWriter(out, "jsonl"), False, chunk_bytes=64).run([str(a), str(broken)])
    written = _strip([json.loads(line) for line in out.getvalue().splitlines()])
    expected = [json.loads(line) for line in _run([a, intact], inst, 64).splitlines()]
    # all of b that could be read, and only records the intact inputs give too
    assert [r for r in written if r.get("exec_id", "B").startswith("B")] == \
        _strip([r for r in expected if r.get("exec_id", "B").startswith("B")])
    assert by_exec(written)["B3"]["verdict"] == "erroneous"
    assert all(r in _strip(expected) for r in written)
    assert len(written) < len(expected)  # a was not read to its end


def test_text_records_of_several_inputs_say_which_file(tmp_path):
    a = write_log(tmp_path / "a.log", [trade("TA", "XYZ", "10.00", time=_at(1))])
    b = write_log(tmp_path / "b.log", ["junk", trade("TB", "XYZ", "10.20", time=_at(2))])
    out = tmp_path / "out.txt"
    assert main(["replay", str(a), str(b), "--format", "text", "--out", str(out)]) == 0
    lines = out.read_text().splitlines()[1:]
    assert [line.split()[0] for line in lines] == [f"{b}:1", f"{a}:1", f"{b}:2"]
    assert "REJECTED: no FIX message" in lines[0]


@pytest.mark.parametrize("mark", ["^A", "<SOH>", " | "])
def test_merged_inputs_read_placeholder_delimiters_per_message(tmp_path, mark):
    """One session's log pasted with placeholders, the other SOH with a ^A in a Text: the
    same records as the same fills all SOH-delimited, whatever the block size."""
    inst = write_instruments(tmp_path / "i.csv", [("XYZ", "1", "10.00")])
    a = [trade("A1", "XYZ", "10.01", time=_at(1)), trade("A2", "XYZ", "10.02", time=_at(3))]
    b = [trade("B1", "XYZ", "10.03", time=_at(2), extra=[(58, "press ^A twice")]),
         trade("B2", "XYZ", "12.00", time=_at(4))]
    soh = [write_log(tmp_path / "a.log", a), write_log(tmp_path / "b.log", b)]
    expected = _run(soh, inst, 1 << 20)
    assert [json.loads(r)["exec_id"] for r in expected.splitlines()] == ["A1", "B1", "A2", "B2"]
    pasted = [write_log(tmp_path / "pasted.log", [m.replace("\x01", mark) for m in a]), soh[1]]
    for size in (16, 100, 1 << 20):
        assert _run(pasted, inst, size).replace("pasted.log", "a.log") == expected, size
