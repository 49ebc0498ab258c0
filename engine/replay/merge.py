"""Several captured logs replayed as the one day they were: their units merged by time.

`ceguard replay A.log B.log ...` reads every input in blocks, decodes each on its own
(engine.fix.decoder) and merges the decoded units before the core judges them:

- a trade goes out in TransactTime order among the next units of all inputs (a k-way
  merge: nothing is sorted, memory does not grow with the inputs);
- every input keeps its own order: a unit goes out only after every unit before it in
  its input, so a file whose own order is not time order keeps it;
- a unit without a time (a reject, a message that is no trade, a venue bust or
  correction) sorts before every time: it goes out as soon as the units before it in
  its input have;
- equal times go out in the order the inputs were named on the command line.

An input that cannot be read to its end (a truncated gzip) ends where it broke, the
units already decoded from every input are merged and judged, and then the InputError
stops the run: nothing already read is lost.

Each batch of merged units is copied, message bytes and all, into a buffer of its own,
which the core judges like a chunk of one log; the batch remembers every unit's input
and line (the units' U_LINE becomes a sequence number over the merged stream, the order
the core's last-sale bookkeeping needs).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from engine import codes
from engine.fix import decoder as d
from engine.jit import kernel
from engine.fix.placeholders import normalized, placeholder_message_at, safe_cut
from engine.replay.reader import NUMBERING_PROBE, InputError, chunks, disk_position, open_log

UNITS_PER_INPUT = 1 << 12  # decoded units held per input (~1.5 MB each)
UNITS_PER_BATCH = 1 << 14  # merged units judged per call
_NO_TIME = -1  # the merge key of a unit without a time: before every time


@dataclass
class MergedBatch:
    """Merged units and the bytes they point into: a chunk of the merged stream."""

    data: bytearray
    buf: np.ndarray  # `data` as an array
    units: np.ndarray  # decoder rows; U_LINE holds the unit's sequence number
    count: int
    first_seq: int
    sources: np.ndarray  # input index of each unit
    lines: np.ndarray  # line of each unit in its own input

    def where(self, seq: int) -> tuple[int, int]:
        """(input index, line in that input) of the unit with sequence number `seq`."""
        k = seq - self.first_seq
        return int(self.sources[k]), int(self.lines[k])


class _Input:
    """One log, read in blocks and decoded a few thousand units at a time into `units`.

    As on the single-input path, the decoder stops at a message whose delimiter is a
    placeholder (`^A`, `<SOH>`, ...; engine/fix/placeholders.py), and the lines from there
    to the block's last whole line are rewritten to SOH before they are decoded: nothing
    scans the other bytes. Line numbers are physical, as there; an input with no newline
    in its first NUMBERING_PROBE bytes numbers its units instead."""

    def __init__(self, path: str, units: np.ndarray, block_bytes: int, flags: int) -> None:
        self.path = path
        self.units = units
        self.bytes_read = 0
        self.error: InputError | None = None  # why it could not be read to its end
        self._stream, self.size = open_log(path)
        self._blocks = chunks(self._stream, path, block_bytes)
        self._data = b""  # the bytes being decoded, from the first not yet decoded
        self._buf = np.frombuffer(self._data, np.uint8)
        self._pos = 0
        self._final = False  # the input's last bytes are in _data
        self._flags = flags  # the decoder's; NUMBER_UNITS is added once the numbering is known
        self._numbered = False  # is the numbering (lines or units) decided?
        self._rewritten_at = -1  # where _data begins with lines rewritten to SOH, if it does
        self._next_line = 1
        self._line_start = True  # does _data[_pos] begin a line?
        self._read_to: int | None = None  # disk position when closed

    def decode_more(self) -> int:
        """Decode the next units into `units` (replacing those there); 0 at the end. The
        units decoded before have all been gathered (copied) by the merge by then."""
        while True:
            n = len(self._data)
            # Rewritten lines are decoded as they are (a stop there would never end).
            stop = 0 if self._pos == self._rewritten_at else d.STOP_AT_PLACEHOLDERS
            count, end, self._next_line = d.decode(
                self._buf, self._pos, n, self._final, self._next_line, self._line_start,
                self._flags | stop, self.units)
            if end > self._pos:
                self._line_start = self._data[end - 1:end] == b"\n"
                self._pos = end
            if count:
                return count
            if self._pos < n and placeholder_message_at(self._buf, self._pos, n):
                cut = n if self._final else safe_cut(self._data, self._pos, n)
                if cut > self._pos:
                    self._set_data(normalized(self._data[self._pos:cut]) + self._data[cut:])
                    self._rewritten_at = 0
                    continue
            if self._final:
                self._close()
                return 0
            self._read_block()

    def _read_block(self) -> None:
        """The next block after the undecoded tail of this one (the final tail at the end);
        the first blocks are held until the numbering (lines or units) is known."""
        data = self._data[self._pos:]
        while True:
            try:
                block = next(self._blocks, None)
            except InputError as exc:  # what was read before is still decoded
                self.error = exc
                block = None
            if block is None:
                self._final = True
                break
            self.bytes_read += len(block)
            data += block
            if self._numbered or b"\n" in data or len(data) >= NUMBERING_PROBE:
                break
        if not self._numbered:
            self._numbered = True
            if b"\n" not in data[:NUMBERING_PROBE]:
                self._flags |= d.NUMBER_UNITS
        self._set_data(data)
        self._rewritten_at = -1

    def _set_data(self, data: bytes) -> None:
        self._data = data
        self._buf = np.frombuffer(data, np.uint8)
        self._pos = 0

    @property
    def buf(self) -> np.ndarray:
        """The bytes the decoded units point into, as an array."""
        return self._buf

    def disk_position(self) -> int | None:
        """Bytes read from disk so far (compressed, for gzip), for progress."""
        return self._read_to if self._stream.closed else disk_position(self._stream)

    def _close(self) -> None:
        self._read_to = disk_position(self._stream)
        self._stream.close()


class MergedInputs:
    """The units of several logs, merged (see the module's docstring), in batches."""

    def __init__(self, paths: list[str], block_bytes: int, flags: int = 0) -> None:
        """`flags`: the decoder's (LEGACY_FILLS), for every input."""
        self._units = np.empty((len(paths), UNITS_PER_INPUT, d.N_UNIT_COLS), np.int64)
        self._inputs = [_Input(path, self._units[i], block_bytes, flags)
                        for i, path in enumerate(paths)]
        self._heads = np.zeros(len(paths), np.int64)  # next unit of each input to merge
        self._counts = np.zeros(len(paths), np.int64)  # decoded units of each input
        self._more = np.ones(len(paths), np.int64)  # may an input hold units not decoded?
        self._order = np.empty((UNITS_PER_BATCH, 2), np.int64)
        self._offsets = np.empty(UNITS_PER_BATCH + 1, np.int64)
        self._next_seq = 1
        self._error: InputError | None = None

    @property
    def bytes_read(self) -> int:
        return sum(i.bytes_read for i in self._inputs)

    def disk_progress(self) -> tuple[int | None, int | None]:
        """(bytes read from disk, total size) over all inputs; None where unknown."""
        done = [i.disk_position() for i in self._inputs]
        sizes = [i.size for i in self._inputs]
        if None in done or None in sizes:
            return None, None
        return sum(done), sum(sizes)

    def batches(self) -> Iterator[MergedBatch]:
        """The merged units, a batch at a time; then the first input error, if any."""
        while True:
            self._decode_spent()
            count = merge_order(self._units, self._heads, self._counts, self._more,
                                self._order)
            if count:
                yield self._gather(count)
            elif not self._more.any():
                break
        if self._error is not None:
            raise self._error

    def _decode_spent(self) -> None:
        """Decode more of every input whose decoded units have all been merged."""
        for i, source in enumerate(self._inputs):
            if self._more[i] and self._heads[i] == self._counts[i]:
                self._counts[i] = source.decode_more()
                self._heads[i] = 0
                self._more[i] = self._counts[i] > 0
                if not self._more[i] and source.error is not None and self._error is None:
                    self._error = source.error
                    self._more[:] = 0  # read no further: merge what is decoded, then stop

    def _gather(self, count: int) -> MergedBatch:
        order = self._order
        size = layout(self._units, order, count, self._offsets)
        data = bytearray(size)
        buf = np.frombuffer(data, np.uint8)
        units = np.empty((count, d.N_UNIT_COLS), np.int64)
        lines = np.empty(count, np.int64)
        for i, source in enumerate(self._inputs):
            gather(i, source.buf, self._units[i], order, count, self._offsets, self._next_seq,
                   buf, units, lines)
        batch = MergedBatch(data, buf, units, count, self._next_seq,
                            order[:count, 0].astype(np.int32), lines)
        self._next_seq += count
        return batch


@kernel
def _merge_key(unit):
    """What the merge orders a unit by: a trade's time (ns), else _NO_TIME."""
    if unit[d.U_KIND] == codes.UNIT_TRADE:
        return unit[d.U_TIME_NS]
    return _NO_TIME


@kernel
def merge_order(units, heads, counts, more, order):
    """Write (input, unit index) of the next units in merged order into `order`, advancing
    `heads`, until `order` is full, every input is spent, or an input that may hold more
    has no decoded unit left (its next unit must be known before any can go). Returns the
    rows written. units[i, heads[i]:counts[i]] are input i's decoded units not yet merged.
    """
    n = 0
    while n < order.shape[0]:
        best = -1
        best_key = 0
        for i in range(units.shape[0]):
            head = heads[i]
            if head == counts[i]:
                if more[i]:
                    return n
                continue
            key = _merge_key(units[i, head])
            if best < 0 or key < best_key:  # strict: on equal keys the first input wins
                best = i
                best_key = key
        if best < 0:
            break
        order[n, 0] = best
        order[n, 1] = heads[best]
        heads[best] += 1
        n += 1
    return n


@kernel
def _byte_range(unit):
    """The bytes a unit's row points into: its message and every field span present (all
    within the message as the decoder writes them, but never assumed)."""
    lo = unit[d.U_MSG_OFF]
    hi = lo + unit[d.U_MSG_LEN]
    if unit[d.U_BAD_LEN] > 0:
        lo = min(lo, unit[d.U_BAD_OFF])
        hi = max(hi, unit[d.U_BAD_OFF] + unit[d.U_BAD_LEN])
    for col in range(d.U_EXEC, d.N_UNIT_COLS, 2):
        if unit[col + 1] >= 0:
            lo = min(lo, unit[col])
            hi = max(hi, unit[col] + unit[col + 1])
    return lo, hi


@kernel
def layout(units, order, count, offsets):
    """Where each of the first `count` merged units' bytes go in the batch's buffer:
    offsets[j] for unit j, offsets[count] the buffer's size (returned)."""
    at = 0
    for j in range(count):
        lo, hi = _byte_range(units[order[j, 0], order[j, 1]])
        offsets[j] = at
        at += hi - lo
    offsets[count] = at
    return at


@kernel
def _copy_bytes(src, start, dst, at, count):
    """dst[at:at + count] = src[start:start + count]; unsigned indices spare numba's
    negative-index fix-up, which kept the loop from vectorizing (15x slower)."""
    src_at = np.uint64(start)
    dst_at = np.uint64(at)
    for k in range(np.uint64(count)):
        dst[dst_at + k] = src[src_at + k]


@kernel
def gather(source, buf, units, order, count, offsets, first_seq, out_buf, out_units,
           out_lines):
    """Copy the merged units of input `source` (its decoded `units` pointing into `buf`)
    into their places: row j of `out_units`, their bytes at out_buf[offsets[j]:], every
    span moved with them; U_LINE becomes the sequence number first_seq + j and the
    input's own line goes to out_lines[j]."""
    for j in range(count):
        if order[j, 0] != source:
            continue
        unit = units[order[j, 1]]
        row = out_units[j]
        lo, hi = _byte_range(unit)
        at = offsets[j]
        _copy_bytes(buf, lo, out_buf, at, hi - lo)
        shift = at - lo
        for c in range(unit.shape[0]):
            row[c] = unit[c]
        row[d.U_MSG_OFF] = unit[d.U_MSG_OFF] + shift
        row[d.U_BAD_OFF] = unit[d.U_BAD_OFF] + shift if unit[d.U_BAD_LEN] > 0 else at
        for col in range(d.U_EXEC, d.N_UNIT_COLS, 2):
            row[col] = unit[col] + shift if unit[col + 1] >= 0 else at
        row[d.U_LINE] = first_seq + j
        out_lines[j] = unit[d.U_LINE]
