"""`ceguard replay` on captures as real engines and people write them (issue 15, item 7).

Line numbers are physical lines; text after a message is no reject; placeholder
delimiters are read per message; a message never reaches into the next; the fields the
core decides on are read strictly (repeated, whole-value enums, real dates); a truncated
gzip loses nothing already read.
"""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from engine import codes
from engine.core.instruments import load_instruments
from engine.core.surveillance import Surveillance
from engine.record_text import RecordText
from engine.replay.runner import Replay
from engine.replay.writer import RecordWriter
from engine.rules.rulebook import load_rulebook
from engine.sim.dropcopy import encode
from tests.test_record_text import INSTRUMENTS, RULEBOOK, check

from conftest import by_exec, trade, write_instruments


def by_id(records: list[dict]) -> dict[str, dict]:
    """Records by ExecID, rejected ones included."""
    return {r["exec_id"]: r for r in records if "exec_id" in r}

SOH = "\x01"
SCHEMA = json.loads((Path(__file__).parent.parent / "schemas/decision.schema.json").read_text())
PREFIX = "20260115-15:00:00.000000000 : "


def _write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("latin-1"))
    return path


def _with(message: str, old: str, new: str) -> str:
    assert old in message
    return message.replace(old, new)


def test_line_is_the_physical_line_and_text_after_a_message_is_no_reject(tmp_path, replay):
    log = _write(tmp_path / "a.log", "".join([
        "\n",                                                        # 1: blank
        PREFIX + trade("E1", "XYZ", "10.00") + "\n",                 # 2
        "\n",                                                        # 3: blank
        PREFIX + trade("E2", "XYZ", "10.01") + " )  # resent by hand\n",  # 4: trailing text
        trade("E3", "XYZ", "10.02") + trade("E4", "XYZ", "10.03") + "\n",  # 5: two messages
        "not a message\n",                                           # 6: garbage
        trade("E5", "XYZ", "10.04") + "\n",                          # 7
    ]))
    records, summary = replay(log)
    for record in records:
        jsonschema.validate(record, SCHEMA)
    lines = {r.get("exec_id", r["verdict"]): r["line"] for r in records}
    assert lines == {"E1": 2, "E2": 4, "E3": 5, "E4": 5, "rejected": 6, "E5": 7}
    assert "rejected 1" in summary  # the garbage line only, not the trailing text


def test_a_raw_soh_stream_without_newlines_numbers_its_messages(tmp_path, replay):
    log = _write(tmp_path / "a.raw", trade("E1", "XYZ", "10.00") + trade("E2", "XYZ", "10.01")
                 + trade("E3", "XYZ", "10.02"))
    records, _ = replay(log)
    assert [(r["exec_id"], r["line"]) for r in records] == [("E1", 1), ("E2", 2), ("E3", 3)]


PLACEHOLDERS = ["^A", "<SOH>", "\\u0001", " | "]


@pytest.mark.parametrize("mark", PLACEHOLDERS)
def test_placeholder_delimiters_are_read_per_message(tmp_path, replay, mark):
    """Each line decides its own delimiter: a ^A in the Text of an SOH line is text."""
    inst = write_instruments(tmp_path / "i.csv", [("XYZ", "1", "10.00")])
    # One second apart: prints at one TransactTime are one matching event (one reference).
    placeholder = trade("P1", "XYZ", "10.50", time="20260115-15:00:01.000"
                        ).replace(SOH, mark).rstrip()  # "10=123 |" ends it
    soh_with_caret_text = trade("S1", "XYZ", "10.02", extra=[(58, "press ^A <SOH> | twice")])
    log = _write(tmp_path / "a.log", "".join([
        PREFIX + soh_with_caret_text + "\n",
        PREFIX + placeholder + "\n",
        PREFIX + trade("S2", "XYZ", "9.00", time="20260115-15:00:02.000").replace(SOH, "|")
        + "\n",
    ]))
    records, _ = replay(log, instruments=inst)
    got = by_exec(records)
    assert set(got) == {"S1", "P1", "S2"}, records
    assert (got["S1"]["price"], got["S1"]["verdict"]) == ("10.02", "stands")
    assert (got["P1"]["price"], got["P1"]["reference_price"], got["P1"]["line"]) == \
        ("10.50", "10.02", 2)
    assert (got["S2"]["reference_price"], got["S2"]["verdict"]) == ("10.50", "erroneous")
    assert "rejected" not in {r["verdict"] for r in records}


def test_placeholder_records_do_not_depend_on_blocks_or_compression(tmp_path):
    """The mapped path hands over to the stream path at the first block with a
    placeholder; every block size and gzip must give the same records."""
    inst = write_instruments(tmp_path / "i.csv", [("XYZ", "1", "10.00")])
    lines = []
    for n in range(40):
        message = trade(f"E{n}", "XYZ", f"{10 + (n % 3) * 0.01:.2f}")
        mark = PLACEHOLDERS[n % 5] if n % 5 < 4 else SOH
        lines.append(PREFIX + message.replace(SOH, mark).rstrip() + "\n")
    data = "".join(lines).encode("latin-1")
    plain = tmp_path / "a.log"
    plain.write_bytes(data)
    zipped = tmp_path / "a.log.gz"
    zipped.write_bytes(gzip.compress(data, mtime=0))

    def run(path: Path, chunk_bytes: int) -> str:
        out = io.StringIO()
        core = Surveillance(load_rulebook(), load_instruments(inst))
        Replay(core, RecordWriter(out, "jsonl"), False, chunk_bytes=chunk_bytes).run([str(path)])
        return out.getvalue()

    whole = run(plain, 1 << 20)
    records = [json.loads(line) for line in whole.splitlines()]
    assert [r["exec_id"] for r in records] == [f"E{n}" for n in range(40)]
    assert [r["line"] for r in records] == list(range(1, 41))
    for size in (5, 64, 333, 4096):
        assert run(plain, size) == whole, size
        assert run(zipped, size) == whole, size


def test_a_message_start_inside_a_value_is_no_place_to_cut_a_placeholder_line(tmp_path):
    """Found by the fuzzer: "108=FIX.4.4" holds "8=FIX" mid-field; a block cut there split
    one spaced-pipe message in two, so the records depended on the block size."""
    line = (trade("V1", "XYZ", "10.00", extra=[(108, "FIX.4.4")]).replace(SOH, " | ") + "\n")
    path = _write(tmp_path / "a.log", line * 3)

    def run(chunk_bytes: int) -> str:
        out = io.StringIO()
        core = Surveillance(load_rulebook(), [])
        Replay(core, RecordWriter(out, "jsonl"), False, chunk_bytes=chunk_bytes).run([str(path)])
        return out.getvalue()

    whole = run(1 << 20)
    assert [json.loads(r)["verdict"] for r in whole.splitlines()] == ["no_reference"]
    for size in (3, 17, 40, 111):
        assert run(size) == whole, size


def test_a_field_cut_before_its_equals_sign_never_takes_the_next_field(tmp_path, replay):
    cut = trade("CUT1", "XYZ", "10.00").split("31=")[0] + "3"  # line ends mid-tag
    unfinished = trade("CUT2", "XYZ", "10.00").split(f"{SOH}10=")[0]  # no CheckSum either
    log = _write(tmp_path / "a.log", "".join([
        cut + "\n",
        trade("NEXT1", "XYZ", "10.01") + "\n",
        unfinished + SOH + "58" + SOH + trade("NEXT2", "XYZ", "10.02") + "\n",
    ]))
    records, _ = replay(log)
    got = by_id(records)
    assert got["CUT1"]["reason_code"] == "bad_tag" and got["CUT1"]["line"] == 1
    assert "'3'" in got["CUT1"]["reason"]
    assert got["NEXT1"]["verdict"] != "rejected" and got["NEXT1"]["line"] == 2
    assert got["CUT2"]["reason_code"] == "bad_tag" and got["CUT2"]["line"] == 3
    assert got["NEXT2"]["verdict"] != "rejected" and got["NEXT2"]["line"] == 3
    assert len(records) == 4


def test_a_repeated_core_field_rejects_its_fill_not_last_wins(tmp_path, replay):
    inst = write_instruments(tmp_path / "i.csv", [("XYZ", "1", "10.00")])
    twice = _with(trade("R1", "XYZ", "99.99"), f"31=99.99{SOH}", f"31=99.99{SOH}31=10.50{SOH}")
    two_texts = trade("T1", "XYZ", "10.01", extra=[(58, "one"), (58, "two")])
    # A TradeCaptureReport repeats Side, OrderID and ClOrdID per side: not an
    # ExecutionReport, so no decision and no reject.
    capture = encode("FIX.4.4", [(35, "AE"), (571, "TR1"), (55, "XYZ"), (32, "100"),
                                 (31, "10.00"), (552, "2"), (54, "1"), (37, "O1"), (54, "2"),
                                 (37, "O2")])
    records, summary = replay(_write(tmp_path / "a.log", "\n".join([twice, two_texts, capture])),
                              instruments=inst)
    got = by_id(records)
    assert got["R1"]["verdict"] == "rejected" and got["R1"]["reason_code"] == "repeated_tag"
    assert "LastPx (31) appears more than once" in got["R1"]["reason"]
    assert got["T1"]["verdict"] == "stands"  # Text (58) is not a field the core uses
    assert len(records) == 2 and "rejected 1" in summary


@pytest.mark.parametrize("change, outcome", [
    (("150=F", "150=FX"), None),                 # not a trade: no decision
    (("150=F", "150=f"), None),
    (("54=2", "54=Z"), "bad_side"),
    (("54=2", "54=22"), "bad_side"),
    (("54=2", "54=0"), "bad_side"),
    (("54=2", "54="), "bad_side"),
    (("54=2", "54=H"), "stands"),                # Sell undisclosed (FIX 5.0 SP2)
    (("54=2", "54=9"), "stands"),                # Cross short
    (("1057=Y", "1057=YES"), "stands"),          # not Y: not flagged the aggressor
])
def test_side_and_exec_type_are_read_by_their_whole_value(tmp_path, replay, change, outcome):
    message = _with(trade("W1", "XYZ", "10.00", aggressor="Y"), *change)
    records, _ = replay(_write(tmp_path / "a.log", message + "\n"))
    if outcome is None:
        assert records == []
    elif outcome == "stands":
        assert [r["verdict"] for r in records] == ["no_reference"]
    else:
        assert [(r["verdict"], r["reason_code"]) for r in records] == [("rejected", outcome)]


@pytest.mark.parametrize("time, valid", [
    ("20260231-15:00:00", False),      # no 31 February
    ("20260431-15:00:00", False),      # April has 30 days
    ("20250229-15:00:00", False),      # 2025 is no leap year
    ("20240229-15:00:00", True),       # 2024 is
    ("21000229-15:00:00", False),      # 2100 is not (century)
    ("20000229-15:00:00", True),       # 2000 is (400 years)
    ("20260115-15:00:60", False),      # second 60 outside a leap-second slot
    ("20260115-23:59:60", False),      # 23:59:60, but not on a month's last day
    ("20261231-23:59:60", True),       # the leap-second slot
    ("20260630-23:59:60.500", True),
    ("20260115-24:00:00", False),
])
def test_impossible_dates_and_seconds_are_rejected(tmp_path, replay, time, valid):
    records, _ = replay(_write(tmp_path / "a.log", trade("D1", "XYZ", "10.00", time=time)))
    if valid:
        assert records[0]["verdict"] == "no_reference"
    else:
        assert (records[0]["verdict"], records[0]["reason_code"]) == ("rejected", "bad_time")
        assert "TransactTime (60)" in records[0]["reason"]


def test_a_fill_without_transact_time_is_judged_on_sending_time(tmp_path, replay):
    inst = write_instruments(tmp_path / "i.csv", [("XYZ", "1", "10.00")])
    with_60 = trade("T60", "XYZ", "10.01", time="20260115-15:00:00.000")
    only_52 = _with(trade("T52", "XYZ", "10.02", time="20260115-15:00:01.250"),
                    f"{SOH}60=20260115-15:00:01.250", "")
    neither = _with(_with(trade("T00", "XYZ", "10.03"), f"{SOH}60=20260115-15:00:00.000", ""),
                    f"{SOH}52=20260115-15:00:00.000", "")
    bad_52 = _with(_with(trade("TB", "XYZ", "10.03"), f"{SOH}60=20260115-15:00:00.000", ""),
                   "52=20260115-15:00:00.000", "52=20260230-15:00:00")
    records, _ = replay(_write(tmp_path / "a.log", "\n".join([with_60, only_52, neither, bad_52])),
                        instruments=inst)
    for record in records:
        jsonschema.validate(record, SCHEMA)
    got = by_id(records)
    assert (got["T60"]["time_source"], got["T60"]["transact_time"]) == \
        ("transact_time", "2026-01-15T15:00:00.000Z")
    assert (got["T52"]["time_source"], got["T52"]["transact_time"], got["T52"]["verdict"]) == \
        ("sending_time", "2026-01-15T15:00:01.250Z", "stands")
    assert got["T00"]["reason_code"] == "missing_field"
    assert "TransactTime (60) is missing" in got["T00"]["reason"]
    assert got["TB"]["reason_code"] == "bad_time" and "SendingTime (52)" in got["TB"]["reason"]


def test_the_journal_renderer_writes_time_source_as_the_record_maker_does():
    core = Surveillance(RULEBOOK, INSTRUMENTS)
    keep = np.ones(len(codes.VERDICT_NAMES), np.bool_)
    dropped = np.zeros(len(codes.VERDICT_NAMES), np.int64)
    raws = [trade("A1", "A", "12.40").encode(),
            _with(trade("A2", "A", "12.41", time="20260115-15:00:02.000"),
                  f"{SOH}60=20260115-15:00:02.000", "").encode()]
    rows = []
    for seq, raw in enumerate(raws, 1):
        *_, out = core.decode_and_judge(np.frombuffer(raw, np.uint8), 0, len(raw), True, seq,
                                        True, seq, 1, keep, dropped)
        rows += out.tolist()
    assert check(np.array(rows, np.int64), raws) == 2
    text, _ = RecordText(RULEBOOK.rule_codes()).render(np.array(rows, np.int64), keep, raws)
    assert [r["time_source"] for r in json.loads(text)] == ["transact_time", "sending_time"]


def test_a_truncated_gzip_writes_everything_read_before_stopping(tmp_path):
    lines = [PREFIX + trade(f"G{n}", "XYZ", "10.00") + "\n" for n in range(3000)]
    data = gzip.compress("".join(lines).encode("latin-1"), mtime=0)
    cut = tmp_path / "cut.log.gz"
    cut.write_bytes(data[:len(data) * 3 // 4])
    result = subprocess.run([Path(sys.executable).parent / "ceguard", "replay", str(cut)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert f"{cut}: cannot be read after" in result.stderr and "byte" in result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    judged = [r for r in records if r["verdict"] != "rejected"]
    # every complete line before the cut is judged, in order (the cut line may be rejected)
    assert [r["exec_id"] for r in judged] == [f"G{n}" for n in range(len(judged))]
    assert len(judged) > 1000
    assert len(records) - len(judged) <= 1
