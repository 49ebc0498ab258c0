"""Hostile bytes through the decoder and the core, on both paths (live and replay).

Inputs: valid ExecutionReports (trades, venue busts, other messages) with bytes flipped,
inserted, deleted, truncated, fields duplicated, huge values, SOH or `|` delimiters,
several messages glued together, and plain random bytes. Properties:
- nothing crashes or hangs (a watchdog kills the run after WATCHDOG_SECONDS per input);
- live path (LiveEngine.on_fill with a real journal): a single message gets exactly the
  outcome an independent Python reading of it predicts: no decision (not a trade), a
  decision with its ExecID, Symbol, Side and exact LastPx, a duplicate dropped and
  counted, or a `rejected` record whose reason code is one the reading allows;
- replay path (Replay over real files): every record is a schema-valid decision or a
  rejected record with a specific reason; the records do not depend on how the input
  is cut into chunks (mapped file vs gzip stream, chunk sizes down to a few bytes).

Long mode (outside `make test`): `benchmarks/fuzz_decoder.py --examples N` runs these
tests with N examples each. The last long run (2 cores shared with other work, niced):
    .venv/bin/python benchmarks/fuzz_decoder.py --examples 3000
tried 9,000 inputs (3,000 per test; a replay input is up to 6 messages, read three
ways) in 850 s, with no failure. Earlier runs found (now fixed) a newline in a live
value splitting the message, the int64 overflows of LastPx scaling and of TransactTime
after 2261, and a corrupt gzip crashing replay (benchmarks/README.md, "Fuzzing").
"""

from __future__ import annotations

import faulthandler
import gzip
import json
import os
import re
import sqlite3
import tempfile
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, note, settings, strategies as st

from engine.core import pipeline as p
from engine.core.surveillance import Surveillance
from engine.fix.busts import bust_message, bust_text
from engine.journal.store import Journal
from engine.live.engine import LiveEngine
from engine.obs.logging import get_logger
from engine.obs.metrics import Metrics
from engine.prices import PRICE_DECIMALS, PriceError, to_fixed
from engine.replay.reader import InputError
from engine.replay.runner import Replay
from engine.replay.writer import RecordWriter
from engine.rules.rulebook import load_rulebook
from engine.sim.dropcopy import encode

SCHEMA = json.loads((Path(__file__).parent.parent / "schemas/decision.schema.json").read_text())
LONG_EXAMPLES = int(os.environ.get("CEGUARD_FUZZ_EXAMPLES", "0"))  # the long mode
WATCHDOG_SECONDS = 60  # far above any one input (a few ms), below "hung"
INPUTS_TRIED = {"live": 0, "replay": 0, "random": 0}  # read by benchmarks/fuzz_decoder.py
SOH = b"\x01"


def fuzz(examples: int) -> settings:
    """`examples` in `make test` (each replay builds three ~30 MB cores: ~30 ms each)."""
    return settings(max_examples=LONG_EXAMPLES or examples, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


# Bytes that mean something to a FIX decoder, and values that hurt parsers.
SPECIAL = st.sampled_from([b"\x01", b"|", b"=", b"\n", b"\r", b" ", b"8=FIX", b"10=",
                           b"35=8", b"150=F", b"31=", b".", b"-", b"0", b"9", b"^A", b"\x00",
                           b"\xff", b"8=FIX.4.4\x01"])
NUMBERS = st.sampled_from(["0", "-1", "-0.5", "1e5", "1.2.3", ".5", "5.", ".", "", "abc",
                           "1.1234567", "1.1000000", "999999.999999", "1000000.000001",
                           "1.123456789", "1.1234567891", "1.12345678900", "999999.999999999",
                           "9" * 25, "0" * 30 + "1", "9999999999999", "9223372036855", "+5",
                           " 5", "5 ", "0x10", "NaN", "inf"])
TIMES = st.sampled_from(["20260115-15:00:00.000", "20260115-15:00:00", "20260115-15:00:00.",
                         "20260115-15:00:00.1234567891", "19691231-23:59:59", "20261315-15:00:00",
                         "20260132-15:00:00", "20260115-24:00:00", "20260115-15:60:00",
                         "20260115-15:00:60", "99991231-23:59:59.999999999", "22611231-23:59:59",
                         "22620412-00:00:00", "26000101-12:00:00", "2026-01-15",
                         "20260115 15:00:00", "", "x" * 17, "00000000-00:00:00"])


@st.composite
def messages(draw) -> bytes:
    """One FIX message: mostly trades, also venue busts/corrections and other types."""
    begin = draw(st.sampled_from(["FIX.4.4", "FIX.4.2", "FIXT.1.1"]))
    kind = draw(st.sampled_from(["trade", "trade", "trade", "bust", "correct", "new", "other"]))
    short = st.text("ABCXYZ019-_.", min_size=0, max_size=6)
    fields = [(35, draw(st.sampled_from(["8", "8", "8", "0", "j", "D", "88", ""]))
               if kind == "other" else "8"),
              (49, "MATCHING1"), (56, "CEGUARD"), (34, "7"), (52, "20260115-15:00:00.000"),
              (17, draw(short)), (55, draw(st.sampled_from(["LEVX", "FAT", "A", "NEW1"])) if
                                  draw(st.booleans()) else draw(short)),
              (54, draw(st.sampled_from(["1", "2", "5", "6", "Z", "12", ""]))),
              (31, draw(st.one_of(st.decimals(0, 2_000_000, places=draw(st.integers(0, 10)),
                                              allow_nan=False).map(str), NUMBERS))),
              (32, draw(st.one_of(st.integers(0, 10**16).map(str), NUMBERS))),
              (60, draw(TIMES))]
    if begin == "FIX.4.2":
        fields += {"trade": [(20, "0"), (150, draw(st.sampled_from(["1", "2"])))],
                   "bust": [(20, "1"), (19, draw(short))], "correct": [(20, "2"), (19, "E1")],
                   "new": [(20, "0"), (150, "0")], "other": [(20, "3")]}[kind]
    else:
        fields += {"trade": [(150, "F")], "bust": [(150, "H"), (19, draw(short))],
                   "correct": [(150, "G"), (19, "E1")], "new": [(150, "0")],
                   "other": [(150, draw(st.sampled_from(["F", "", "FF"])))]}[kind]
    optional = [(37, "ORD1"), (880, draw(short)), (1057, draw(st.sampled_from(["Y", "N", ""]))),
                (30, draw(st.sampled_from(["XNAS", "", "ZZZZ"]))), (43, "Y"), (97, "Y"),
                (58, draw(st.text(min_size=0, max_size=20)))]
    fields += draw(st.lists(st.sampled_from(optional), max_size=4))
    fields = draw(st.permutations(fields)) if draw(st.integers(0, 9)) == 0 else fields
    return encode(begin, fields).encode("utf-8")


@st.composite
def mutated(draw, message=messages()) -> bytes:
    """A message with a few hostile edits."""
    data = bytearray(draw(message))
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "duplicate",
                                   "huge", "pipe"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif op == "insert":
            data[at:at] = draw(st.one_of(SPECIAL, st.binary(min_size=1, max_size=8)))
        elif op == "delete":
            del data[at:at + draw(st.integers(1, 8))]
        elif op == "truncate":
            del data[at:]
        elif op == "duplicate":  # copy one whole field to another place
            parts = bytes(data).split(SOH)
            if len(parts) > 2:
                field = draw(st.sampled_from(parts[1:-1]))
                where = draw(st.integers(1, len(parts) - 1))
                data = bytearray(SOH.join(parts[:where] + [field] + parts[where:]))
        elif op == "huge":  # one value becomes very long
            parts = bytes(data).split(SOH)
            k = draw(st.integers(0, len(parts) - 1))
            tag, sep, _ = parts[k].partition(b"=")
            filler = draw(st.sampled_from([b"9", b"A", b"0", b".", b"\x01"]))
            parts[k] = tag + sep + filler * draw(st.sampled_from([100, 5_000, 70_000]))
            data = bytearray(SOH.join(parts))
        elif op == "pipe":
            data = bytearray(bytes(data).replace(SOH, b"|"))
    return bytes(data)


# --- An independent reading of one message: what the decoder must make of it. --------

NUMBER = re.compile(r"(\d+\.?\d*|\.\d+)\Z")
UTC = re.compile(r"(\d{4})(\d{2})(\d{2})-(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?\Z")
MAX_PRICE = Decimal(1_000_000)
MAX_QTY = Decimal(10**9)


def number_faults(text: str | None, limit: Decimal) -> set[str]:
    """Reasons a LastPx/LastQty value may be rejected for; empty set when it is valid.
    A value with several faults may report whichever the scan meets first."""
    if text is None or text == "":
        return {"missing_field"}
    if text[0] == "-":
        return {"not_positive"}
    if not NUMBER.match(text):
        return {"not_a_number", "too_many_decimals", "too_large"}
    value = Decimal(text)
    _, _, frac = text.partition(".")
    faults = set()
    if frac[PRICE_DECIMALS:].strip("0"):
        faults.add("too_many_decimals")
    if value > limit:
        faults.add("too_large")
    if not faults and value == 0:
        faults.add("not_positive")
    return faults


def time_ok(text: str | None) -> bool:
    m = UTC.match(text or "")
    if not m:
        return False
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    return (1970 <= year <= 2261 and 1 <= month <= 12 and 1 <= day <= 31 and hour <= 23
            and minute <= 59 and second <= 60)


def expected(data: bytes, live: bool) -> tuple[str, object] | None:
    """("other", None), ("trade", fields) or ("rejected", allowed reason codes) for one
    message; None when `data` is not a single such message (not predicted). In a log a
    newline ends the message; live, QuickFIX hands over one message, newlines and all."""
    if not data.startswith(b"8=FIX") or (b"\n" in data and not live):
        return None
    first = min((i for i in (data.find(SOH), data.find(b"|")) if i >= 0), default=-1)
    if first < 0:
        return None
    delim = data[first:first + 1]
    parts = data.split(delim)
    if parts[-1] == b"":
        parts.pop()
    if any(p.startswith(b"8=FIX") for p in parts[1:]):
        return None  # a second message
    tag_numbers = [p.partition(b"=")[0] for p in parts]
    if b"10" not in [t.lstrip(b"0") and t for t in tag_numbers] or \
            parts[-1].partition(b"=")[0].lstrip(b"0") != b"10":
        return None  # no CheckSum last: the reading of its end is the decoder's to choose
    if sum(1 for t in tag_numbers if t.isdigit() and t.lstrip(b"0") == b"10") != 1:
        return None
    values: dict[int, str] = {}
    for part in parts:
        tag, sep, value = part.partition(b"=")
        if not sep or not tag.isdigit() or len(tag.lstrip(b"0")) > 9 or int(tag) <= 0:
            return "rejected", {"bad_tag"}
        if int(tag) == 54 and len(value) != 1:
            return "rejected", {"bad_side"}
        values[int(tag)] = value.decode("latin-1")  # the last one counts
    if not values.get(35):
        return "rejected", {"no_msgtype"}
    if values[35] != "8":
        return "other", None
    exec_type, trans_type = values.get(150, "")[:1], values.get(20, "")[:1]
    if trans_type == "1" or (not trans_type and exec_type == "H"):
        kind = "bust"
    elif trans_type == "2" or (not trans_type and exec_type == "G"):
        kind = "correct"
    elif exec_type == "F" or (exec_type in ("1", "2") and trans_type in ("", "0")):
        kind = "trade"
    else:
        return "other", None
    faults: list[set[str]] = []
    if not values.get(55):
        faults.append({"missing_field"})
    if kind != "trade" and not values.get(19):
        faults.append({"missing_exec_ref_id"})
    if kind == "bust":
        return ("rejected", faults[0]) if faults else ("other", None)
    if kind == "trade" and not values.get(17):
        faults.append({"missing_field"})
    faults.append(number_faults(values.get(31), MAX_PRICE))
    if kind == "correct":
        faults = [f for f in faults if f]
        return ("rejected", faults[0]) if faults else ("other", None)
    faults.append(number_faults(values.get(32), MAX_QTY))
    if values.get(54, "\x00") == "\x00":
        faults.append({"missing_field"})
    if 60 not in values:
        faults.append({"missing_field"})
    elif not time_ok(values[60]):
        faults.append({"bad_time"})
    faults = [f for f in faults if f]
    if faults:
        return "rejected", faults[0]  # the first fault found is the one reported
    return "trade", values


# --- The live path: LiveEngine.on_fill with a real journal, as fromApp calls it. ------

class LivePath:
    def __init__(self, directory: Path) -> None:
        self.journal = Journal(directory / "journal.sqlite", "off")
        rulebook = load_rulebook(None)
        self.engine = LiveEngine(lambda: Surveillance(rulebook, []), lambda: self.journal,
                                 Metrics(), {}, 0, get_logger())
        self.db = sqlite3.connect(directory / "journal.sqlite")
        self.seen: set[tuple[str, str]] = set()

    def outcome(self, raw: bytes) -> tuple[str, dict | None]:
        seq = self.journal.next_seq()
        duplicates = self._duplicates()
        self.engine.on_fill(raw, "FIX.4.4:CEGUARD->MATCHING1", seq)  # seq: its MsgSeqNum
        self.engine.flush()  # no writer thread here: commit the batch now
        rows = self.db.execute("SELECT record FROM decisions WHERE fill_seq = ?",
                               (seq,)).fetchall()
        if self._duplicates() > duplicates:
            assert not rows
            return "duplicate", None
        if not rows:
            return "none", None
        (record,) = rows[0]
        return "record", json.loads(record)

    def _duplicates(self) -> int:
        return self.engine.core.state.count(p.C_DUPLICATES)


LIVE: dict[str, object] = {}  # one engine for all examples, as one long session


def check_record(record: dict) -> None:
    jsonschema.validate(record, SCHEMA)
    if record["verdict"] == "rejected":
        assert record["reason_code"] not in ("", "none") and record["reason"], record


@fuzz(200)
@given(st.one_of(mutated(), messages(), mutated(mutated())))
def test_live_path_outcome_is_the_one_the_message_calls_for(data):
    INPUTS_TRIED["live"] += 1
    if not LIVE:
        scratch = tempfile.TemporaryDirectory(prefix="ceguard-fuzz-")  # removed at exit
        LIVE["path"] = LivePath(Path(scratch.name))
        LIVE["dir"] = scratch
    live = LIVE["path"]
    faulthandler.dump_traceback_later(WATCHDOG_SECONDS, exit=True)
    try:
        what, record = live.outcome(data)
    finally:
        faulthandler.cancel_dump_traceback_later()
    if record is not None:
        check_record(record)
        if record["verdict"] == "erroneous":  # its bust can be built on every version
            for begin in ("FIX.4.2", "FIX.4.4", "FIXT.1.1"):
                assert bust_message(bust_text(begin, data, record)).toString()
    prediction = expected(data, live=True)
    note(f"input {data!r}, predicted {prediction!r}")
    if prediction is None:
        return
    kind, detail = prediction
    if kind == "other":
        assert what == "none", record
    elif kind == "rejected":
        assert what == "record" and record["verdict"] == "rejected", (what, record)
        assert record["reason_code"] in detail, (record, detail)
    else:
        key = (detail[17], detail[55])
        if key in live.seen:
            assert what == "duplicate", record
            return
        assert what == "record" and record["verdict"] != "rejected", (what, record)
        live.seen.add(key)
        assert (record["exec_id"], record["symbol"]) == key
        assert Decimal(record["price"]) == Decimal(detail[31])
        assert record["side"] == {"1": "buy", "2": "sell", "5": "sell_short",
                                  "6": "sell_short_exempt"}.get(detail[54], "other")
        assert record["qty"] == detail[32]



# --- The replay path: whole files, mapped or streamed, in chunks of any size. ---------

def replay_records(path: Path, chunk_bytes: int) -> list[dict]:
    lines = []

    class Out:
        def write(self, text: str) -> None:
            lines.append(text)

    replay = Replay(Surveillance(load_rulebook(None), []), RecordWriter(Out(), "jsonl"),
                    only_flagged=False, chunk_bytes=chunk_bytes)
    faulthandler.dump_traceback_later(WATCHDOG_SECONDS, exit=True)
    try:
        replay.run([str(path)])
    finally:
        faulthandler.cancel_dump_traceback_later()
    return [json.loads(line) for line in "".join(lines).splitlines()]


STREAMS = st.lists(st.one_of(mutated(), messages()), min_size=1, max_size=6)


@st.composite
def logs(draw) -> bytes:
    """Messages as a FileLog, a raw SOH stream, or |-delimited lines, then mutated."""
    items = draw(STREAMS)
    layout = draw(st.sampled_from(["filelog", "raw", "pipe", "crlf"]))
    if layout == "filelog":
        data = b"".join(b"20260115-15:00:00.000000000 : " + m + b"\n" for m in items)
    elif layout == "raw":
        data = b"".join(items)
    elif layout == "pipe":
        data = b"".join(m.replace(SOH, b"|") + b"\n" for m in items)
    else:
        data = b"".join(m + b"\r\n" for m in items)
    return draw(mutated(st.just(data)))


def check_replay(tmp_path: Path, data: bytes, chunk: int) -> None:
    plain = tmp_path / "in.log"
    plain.write_bytes(data)
    if data.startswith(b"\x1f\x8b"):  # read as gzip: unless it is one, a clear error
        with pytest.raises(InputError, match=f"{plain}: cannot be read"):
            replay_records(plain, chunk)
        return
    zipped = tmp_path / "in.log.gz"
    zipped.write_bytes(gzip.compress(data, mtime=0))
    chunk = max(chunk, len(data) // 16)  # each block re-reads its carry: keep them few
    if (b"^A" in data[:chunk]) != (b"^A" in data):
        chunk = len(data)  # ^A notation is decided from the first block (README): all of it
    whole = replay_records(plain, 4 << 20)
    for record in whole:
        check_record(record)
    lines = [r["line"] for r in whole if r["verdict"] == "rejected"]
    assert len(lines) == len(set(lines))  # one record per unit at most
    assert replay_records(plain, chunk) == whole  # memory map, cut into small blocks
    assert replay_records(zipped, chunk) == whole  # stream with carries


@fuzz(50)
@given(logs(), st.integers(1, 64))
def test_replay_records_are_valid_and_do_not_depend_on_chunking(tmp_path, data, chunk):
    INPUTS_TRIED["replay"] += 1
    check_replay(tmp_path, data, chunk)


@fuzz(40)
@given(st.binary(min_size=1, max_size=400), st.integers(1, 64))
def test_random_bytes_give_records_or_nothing(tmp_path, data, chunk):
    INPUTS_TRIED["random"] += 1
    check_replay(tmp_path, data, chunk)



@pytest.mark.parametrize("text", ["9999999999999", "9223372036855", "1000000.000001"])
def test_a_price_whose_scaling_would_overflow_is_too_large(text):
    """Found by the fuzzer: 13 integer digits passed the scan's guard, and scaling them to
    millionths overflowed int64 into a negative LastPx that was judged."""
    with pytest.raises(PriceError, match="larger than the supported maximum"):
        to_fixed(text)
