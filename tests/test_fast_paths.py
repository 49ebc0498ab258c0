"""The start-up and decoder fast paths give what the plain paths give."""

import csv
import subprocess
import sys

import numpy as np
from hypothesis import given, settings, strategies as st

from engine.core import pipeline as p
from engine.core.instruments import Instrument, load_instruments
from engine.core.state import CoreState
from engine.core.tables import GEN_VALUE, HUGE_PAGE, gen_find, gen_insert, new_generations, probe, zeroed
from engine.fix import decoder as d
from engine.fix.decoder import N_UNIT_COLS, decode
from engine.fix.hashing import hash_text
from engine.jit import WINDOW

from conftest import trade


def test_instruments_read_like_a_dict_reader(tmp_path):
    """Blank lines, short rows, extra and repeated columns, blanks around values."""
    path = tmp_path / "inst.csv"
    path.write_text(" symbol ,leverage,prev_close,note,leverage\n"
                    "AAA,1,10.50,x,-2\n\n"
                    "BBB\n"
                    " CCC ,, 7 ,y,+3\n")
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        reader.fieldnames = [h.strip() for h in reader.fieldnames]
        rows = [{k: (v or "").strip() for k, v in row.items() if k} for row in reader]
    assert [(r["symbol"], r.get("leverage", ""), r.get("prev_close", "")) for r in rows] == [
        ("AAA", "-2", "10.50"), ("BBB", "", ""), ("CCC", "+3", "7")]
    assert load_instruments(path) == [Instrument("AAA", -200, 10_500_000_000),
                                      Instrument("BBB", 100, 0),
                                      Instrument("CCC", 300, 7_000_000_000)]


def test_seeding_in_one_call_equals_seeding_one_by_one():
    instruments = [Instrument(f"S{i}", 100 + i % 3 * 100, i * 1_000_000) for i in range(9000)]
    batch = CoreState(symbols=1 << 10)
    batch.seed(instruments)
    single = CoreState(symbols=1 << 10)
    for inst in instruments:
        while single.counters[p.C_SYMBOLS] * 2 >= single.sym_keys.shape[0]:
            single.grow_symbols()
        p.seed_symbol(single.sym_keys, single.sym, single.counters, *hash_text(inst.symbol),
                      inst.leverage, inst.prev_close)
    assert batch.sym_keys.shape == single.sym_keys.shape  # grown to the same size
    assert batch.count(p.C_SYMBOLS) == single.count(p.C_SYMBOLS) == 9000
    for inst in instruments[::7]:  # slots may differ (growth reorders), rows may not
        key = hash_text(inst.symbol)
        (b, b_found), (s, s_found) = probe(batch.sym_keys, *key), probe(single.sym_keys, *key)
        assert b_found and s_found
        assert batch.sym[b].tolist() == single.sym[s].tolist()


def test_kernels_load_without_refreshing_numbas_compiler():
    """A refresh imports numba's linear algebra among much else; loading a kernel must not.
    The first run may compile (and so refresh); the second loads from the cache."""
    script = ("import sys; from engine.prices import to_fixed; "
              "assert to_fixed('41.27') == 41_270_000_000; print('numba.np.linalg' in sys.modules)")
    for _ in range(2):
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                check=True)
    assert result.stdout.strip() == "False"


MESSAGES = [trade(f"E{i}", "SYM", "10.5", order="O1", match=f"M{i}", aggressor="Y")
            for i in range(3)]


@settings(deadline=None, max_examples=60)
@given(st.lists(st.sampled_from(MESSAGES + ["junk line", "8=FIX.4.4|35=8|55=X"]),
                min_size=1, max_size=4),
       st.sampled_from(["\n", "", "\r\n"]), st.booleans(), st.integers(0, 2 * WINDOW))
def test_decoding_does_not_depend_on_the_bytes_after_the_end(parts, sep, pipes, padding):
    """The field walk loads windows of WINDOW bytes, or reads byte by byte within WINDOW
    of the array's end: both must decode the same units."""
    text = sep.join(parts)
    if pipes:
        text = text.replace("\x01", "|")
    data = text.encode()
    units = []
    for tail in (b"", b"=\x01|\n8=FIX" * padding):
        buf = np.frombuffer(data + tail, np.uint8)
        rows = np.zeros((8, N_UNIT_COLS), np.int64)
        count, end = decode(buf, 0, len(data), True, 1, True, rows)
        units.append((count, end, rows[:count].tolist()))
    assert units[0] == units[1]
    assert units[0][0] >= 1


def test_tables_on_huge_pages_are_plain_zeroed_arrays():
    """zeroed() may back a table by its own memory map: it must still be np.zeros, aligned
    to huge pages when large, writable, and independent of any other table."""
    small, large, other = zeroed((3, 5)), zeroed((1 << 18, 4, 2)), zeroed((1 << 18, 4, 2))
    for array, shape in ((small, (3, 5)), (large, (1 << 18, 4, 2))):
        assert array.shape == shape and array.dtype == np.int64
        assert array.flags["C_CONTIGUOUS"] and array.flags["WRITEABLE"]
        assert not array.any()
    assert large.ctypes.data % HUGE_PAGE == 0
    large[-1, -1, -1] = 7
    large[0, 0, 0] = 5
    assert int(large.sum()) == 12 and not other.any()


def test_two_generation_table_keeps_values_with_their_keys():
    """Keys and values share a slot: a rotation drops the older generation's keys, and a key
    found only in the older one comes forward with its values."""
    slots, meta = new_generations(8)
    for k in range(1, 5):  # fills the current generation to half
        slot = gen_insert(slots, meta, k, k * 7)
        slots[meta[0], slot, GEN_VALUE:] = (k * 10, k * 100)
    first = int(meta[0])
    assert gen_insert(slots, meta, 99, 5) >= 0 and meta[0] != first  # rotated
    slot = gen_find(slots, meta, 3, 21)
    assert slot >= 0 and slots[meta[0], slot].tolist() == [3, 21, 30, 300]
    assert gen_find(slots, meta, 3, 22) == -1
    for k in range(100, 104):  # one more rotation: keys 1, 2 and 4 are forgotten
        gen_insert(slots, meta, k, k)
    assert gen_find(slots, meta, 1, 7) == -1 and gen_find(slots, meta, 4, 28) == -1
    assert gen_find(slots, meta, 99, 5) >= 0  # one of the last capacity / 2 keys


SPANS = range(d.U_EXEC, d.U_SKIPPED, 2)
SCALARS = (d.U_KIND, d.U_REASON, d.U_BAD_TAG, d.U_PRICE, d.U_SIDE, d.U_AGGRESSOR, d.U_POSSDUP,
           d.U_TIME_NS)
FIELD_TAGS = st.sampled_from(["35", "17", "55", "54", "31", "32", "60", "150", "20", "1057",
                              "43", "97", "880", "10", "9", "6", "448", "1234567", "x", ""])
FIELD_VALUES = st.sampled_from(["8", "F", "2", "Y", "N", "10.5", "200", "A", "",
                                "20260115-15:00:00.000"])


def _meaning(buf: np.ndarray, row: list[int]) -> tuple:
    """A unit row without its offsets: scalar columns, and the bytes of each span."""
    texts = tuple(bytes(buf[row[c]:row[c] + row[c + 1]]) if row[c + 1] >= 0 else None
                  for c in SPANS)
    return tuple(row[c] for c in SCALARS), texts


@settings(deadline=None, max_examples=150)
@given(st.lists(st.tuples(FIELD_TAGS, FIELD_VALUES), max_size=14), st.booleans())
def test_tags_read_by_their_text_mean_what_their_number_means(fields, pipes):
    """A tag of up to 7 digits is looked up by its text; with leading zeros it is read digit
    by digit. Both must decode a message the same way."""
    def message(zeros: str) -> bytes:
        body = [(zeros + tag if tag.isdigit() else tag) + "=" + value
                for tag, value in [("35", "8"), *fields]]
        text = "\x01".join(["8=FIX.4.4", *body, "10=000", ""])
        return (text.replace("\x01", "|") if pipes else text).encode()

    meanings = []
    for zeros in ("", "0"):  # "035" is tag 35, read digit by digit
        data = message(zeros)
        buf = np.frombuffer(data, np.uint8)
        rows = np.zeros((4, N_UNIT_COLS), np.int64)
        count, _ = decode(buf, 0, len(data), True, 1, True, rows)
        meanings.append([_meaning(buf, row) for row in rows[:count].tolist()])
    assert meanings[0] == meanings[1]
