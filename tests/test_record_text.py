"""The numba renderer of decision records (engine/record_text.py) writes, byte for byte,
what json.dumps writes of RecordMaker's record: from decisions the real core makes of
fuzzed messages, and from kernel rows of arbitrary numbers and bytes."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import given, settings, strategies as st

from engine import codes
from engine.core import pipeline as p
from engine.core.instruments import Instrument
from engine.core.surveillance import Surveillance
from engine.core.band import MAX_PPM
from engine.journal.store import _dumps
from engine.prices import MAX_PRICE, to_fixed
from engine.record_text import RecordText
from engine.records import RecordMaker
from engine.rules.rulebook import load_rulebook
from engine.sim.dropcopy import encode
from tests.test_fuzz_decoder import messages, mutated

RULEBOOK = load_rulebook(None)
RULE_CODES = RULEBOOK.rule_codes()
INSTRUMENTS = [Instrument("LEVX", 300, to_fixed("40")), Instrument("FAT", -200, 0),
               Instrument("A", 100, to_fixed("12.345678912"))]
STANDING = encode("FIX.4.4", [(35, "8"), (49, "MATCHING1"), (56, "CEGUARD"), (34, "2"),
                             (52, "20260115-15:00:00.000"), (17, "E0"), (55, "A"), (54, "1"),
                             (31, "12.40"), (32, "100"), (60, "20260115-15:00:00.000"),
                             (150, "F")]).encode()
NOT_REJECTED = np.array([v != codes.REJECTED for v in range(len(codes.VERDICT_NAMES))])
INT64_MAX = 2**63 - 1


def check(rows: np.ndarray, raws: list[bytes]) -> int:
    """Every non-rejected row rendered equals RecordMaker's; a row left out is one whose
    band or deviation would overflow int64 on the way to text: with prices up to MAX_PRICE
    and bands up to MAX_PPM, only a deviation_pct beyond ~9.2e14 % (a $9,000 print against
    a reference of a billionth) does. Returns how many were rendered."""
    text, rendered = RecordText(RULE_CODES).render(rows, NOT_REJECTED, raws)
    ours = json.loads(text)
    records = RecordMaker(RULE_CODES)
    expected = []
    for row, raw, done in zip(rows.tolist(), raws, rendered.tolist()):
        if row[p.O_VERDICT] == codes.REJECTED:
            assert not done
            continue
        price, ref, ppm = row[p.O_PRICE], row[p.O_REF], row[p.O_PPM]
        if price <= MAX_PRICE and 0 < ref <= MAX_PRICE and 0 <= ppm <= MAX_PPM \
                and abs(price - ref) * 10**6 // ref <= INT64_MAX - 10**4:
            assert done, row
        if not done:
            deviation = abs(price - ref)
            assert (ppm > 10**8 or ref > INT64_MAX // 10 or deviation * 100 > INT64_MAX
                    or deviation * 10**6 // ref > INT64_MAX - 10**4), row
            continue
        expected.append(_dumps(records.decision(row, raw, row[p.O_LINE])))
    assert text == "[" + ",".join(expected) + "]"
    assert len(ours) == len(expected)
    return len(expected)


@settings(max_examples=60, deadline=None, database=None)
@given(st.lists(st.one_of(messages(), mutated()), min_size=1, max_size=40))
def test_decisions_of_the_core_render_as_recordmaker_writes_them(batch: list[bytes]) -> None:
    batch = [STANDING] + batch  # at least one record to render in every example
    core = Surveillance(RULEBOOK, INSTRUMENTS)
    keep = np.ones(len(codes.VERDICT_NAMES), np.bool_)
    dropped = np.zeros(len(codes.VERDICT_NAMES), np.int64)
    rows, raws = [], []
    for seq, raw in enumerate(batch, 1):
        buf = np.frombuffer(raw.replace(b"\n", b" "), np.uint8)
        *_, out = core.decode_and_judge(buf, 0, len(raw), True, seq, True, seq, 1, keep,
                                        dropped)
        rows += out.tolist()
        raws += [raw] * len(out)
    flushed = core.flush().tolist()
    rows += flushed
    raws += [batch[row[p.O_CHUNK] - 1] for row in flushed]
    assert check(np.array(rows, np.int64), raws) >= 1


TEXT = st.binary(min_size=0, max_size=12)  # any bytes: quotes, backslashes, controls, latin-1


@st.composite
def kernel_rows(draw) -> tuple[list[int], bytes]:
    """A kernel row of arbitrary values, its text fields in a made-up fill."""
    row = [0] * p.N_OUT_COLS
    raw = b""
    for col in (p.O_EXEC, p.O_MATCH, p.O_SYMBOL, p.O_QTY):
        value = draw(TEXT)
        row[col], row[col + 1] = len(raw), len(value)
        raw += value + b"\x01"
    time = draw(st.sampled_from([b"20260115-14:30:00.123", b"20260115-14:30:00", b"2026"]))
    row[p.O_TIME], row[p.O_TIME + 1] = len(raw), len(time)
    raw += time
    verdict = draw(st.sampled_from([codes.STANDS, codes.ERRONEOUS, codes.NO_REFERENCE]))
    big = st.integers(1, MAX_PRICE)
    price = draw(st.one_of(big, st.integers(1, 10**18)))
    ref = 0 if verdict == codes.NO_REFERENCE and draw(st.booleans()) else \
        draw(st.one_of(big, st.sampled_from([price, price + 1, max(price - 1, 1)]),
                       st.integers(1, 10**15)))
    row[p.O_LINE] = draw(st.integers(1, 10**12))
    row[p.O_VERDICT] = verdict
    row[p.O_PRICE], row[p.O_REF] = price, ref
    row[p.O_PPM] = draw(st.one_of(st.sampled_from([30_000, 50_000, 100_000, 150_000, MAX_PPM]),
                                  st.integers(0, 10**8), st.integers(10**8, 10**12)))
    row[p.O_LEVERAGE] = draw(st.integers(-10_000, 10_000))
    row[p.O_EVENT] = draw(st.integers(0, 500))
    row[p.O_SIDE] = draw(st.sampled_from([49, 50, 53, 54, 55, 0]))
    row[p.O_SESSION] = draw(st.integers(0, len(codes.SESSION_NAMES) - 1))
    row[p.O_REF_SRC] = draw(st.integers(0, len(codes.REF_SOURCE_NAMES) - 1))
    row[p.O_RULE] = draw(st.integers(0, len(RULE_CODES) - 1))
    return row, raw


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(kernel_rows(), min_size=1, max_size=8))
def test_any_kernel_row_renders_as_recordmaker_writes_it(batch) -> None:
    rows = np.array([row for row, _ in batch], np.int64)
    check(rows, [raw for _, raw in batch])


def test_escapes_and_rounding_of_one_record() -> None:
    row = [0] * p.N_OUT_COLS
    raw = b'E"1\\\t\xe9\x7f\x01SYM\x0120260115-14:30:00.5'
    row[p.O_EXEC], row[p.O_EXEC + 1] = 0, 7
    row[p.O_SYMBOL], row[p.O_SYMBOL + 1] = 8, 3
    row[p.O_TIME], row[p.O_TIME + 1] = 12, 19
    row[p.O_LINE], row[p.O_VERDICT], row[p.O_RULE] = 7, codes.ERRONEOUS, 0
    row[p.O_PRICE], row[p.O_REF], row[p.O_PPM] = 3_000, 8_000, 100_000  # -62.5% exactly
    row[p.O_SIDE], row[p.O_LEVERAGE] = 50, -300
    text, rendered = RecordText(RULE_CODES).render(np.array([row], np.int64), NOT_REJECTED,
                                                    [raw])
    (record,) = json.loads(text)
    assert rendered.tolist() == [True]
    assert record["exec_id"] == 'E"1\\\t\xe9\x7f'
    assert record["trade_id"] is None
    assert record["deviation_pct"] == "-62.5000"
    assert record["price"] == "0.000003"
    assert record["band_low"] == "0.0000072" and record["band_high"] == "0.0000088"
    assert record["leverage"] == "-3"
    assert record["transact_time"] == "2026-01-15T14:30:00.5Z"
    assert record["harmed_side"] == "sell"
    assert text == "[" + _dumps(RecordMaker(RULE_CODES).decision(row, raw, 7)) + "]"


def test_nine_decimal_prices_render_in_numba_past_the_int64_products() -> None:
    """$43,250.12345678 x 1.06 is 4.6e19 billionths-times-ppm and a $5,000 move is 5e21
    in deviation_pct's scale: both far past int64, both rendered exactly by the kernel."""
    raw = b"E1\x01BTCUSD\x0120260115-14:30:00"
    rows = []
    for price, verdict in (("44547.627160484", codes.ERRONEOUS),
                           ("48250.12345678", codes.ERRONEOUS), ("1.0850123", codes.STANDS)):
        row = [0] * p.N_OUT_COLS
        row[p.O_EXEC], row[p.O_EXEC + 1] = 0, 2
        row[p.O_SYMBOL], row[p.O_SYMBOL + 1] = 3, 6
        row[p.O_TIME], row[p.O_TIME + 1] = 10, 17
        row[p.O_LINE], row[p.O_VERDICT], row[p.O_RULE] = 1, verdict, 2
        row[p.O_PRICE], row[p.O_PPM] = to_fixed(price), 60_000
        row[p.O_REF] = to_fixed("43250.12345678" if verdict == codes.ERRONEOUS else "1.0850123")
        row[p.O_SIDE], row[p.O_LEVERAGE] = 49, 200
        rows.append(row)
    text, rendered = RecordText(RULE_CODES).render(np.array(rows, np.int64), NOT_REJECTED,
                                                    [raw] * 3)
    assert rendered.tolist() == [True, True, True]
    edge, move, fx = json.loads(text)
    assert (edge["price"], edge["reference_price"]) == ("44547.627160484", "43250.12345678")
    assert (edge["band_low"], edge["band_high"]) == ("40655.1160493732", "45845.1308641868")
    assert edge["deviation_pct"] == "3.0000"
    assert (move["price"], move["deviation_pct"]) == ("48250.12345678", "11.5607")
    assert (fx["price"], fx["band_low"], fx["band_high"]) == ("1.0850123", "1.019911562",
                                                              "1.150113038")
    assert text == "[" + ",".join(_dumps(RecordMaker(RULE_CODES).decision(row, raw, 1))
                                  for row in rows) + "]"
