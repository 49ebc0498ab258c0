"""`ceguard replay`: captured logs through the decoder and the core, records out."""

from __future__ import annotations

import mmap
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from engine import codes
from engine.core import pipeline as p
from engine.core.surveillance import Surveillance
from engine.records import RecordMaker
from engine.replay.merge import MergedBatch, MergedInputs
from engine.replay.reader import (CHUNK_BYTES, InputError, chunks, disk_position, map_log,
                                  open_log)
from engine.replay.writer import RecordWriter

UNITS_PER_CALL = 1 << 15
_FLAGGED = (codes.ERRONEOUS, codes.REJECTED)


@dataclass
class ReplaySummary:
    verdicts: Counter = field(default_factory=Counter)
    rejects: Counter = field(default_factory=Counter)
    events: int = 0
    duplicates: int = 0
    venue_busts: int = 0
    venue_corrections: int = 0
    unknown_refs: int = 0
    bytes_read: int = 0
    seconds: float = 0.0
    inputs: int = 1

    @property
    def fills(self) -> int:
        return sum(n for v, n in self.verdicts.items() if v != "rejected")

    def text(self) -> str:
        rate = self.fills / self.seconds if self.seconds > 0 else 0.0
        verdicts = "  ".join(f"{name} {self.verdicts.get(name, 0):,}"
                             for name in codes.VERDICT_NAMES)
        lines = [
            f"ceguard replay: {self.fills:,} fills judged in {self.seconds:.2f} s "
            f"({rate:,.0f} fills/s, {self.bytes_read / 1e6:,.1f} MB read"
            + (f", {self.inputs} inputs merged by TransactTime)" if self.inputs > 1 else ")"),
            f"  {verdicts}",
            f"  multi-stock events {self.events:,}  duplicates dropped {self.duplicates:,}  "
            f"venue busts {self.venue_busts:,}  venue corrections {self.venue_corrections:,}"
            + (f" ({self.unknown_refs:,} for trades not in the recent history)"
               if self.unknown_refs else ""),
        ]
        if self.rejects:
            lines.append("  rejected by reason: " + ", ".join(
                f"{reason} {n:,}" for reason, n in self.rejects.most_common()))
        return "\n".join(lines)


@dataclass
class _FileChunk:
    """A block of one input (or the whole mapped file) that decision rows point into."""

    data: bytes | mmap.mmap
    source: int  # input index
    first_line: int  # unit number of the input's first unit

    def where(self, unit: int) -> tuple[int, int]:
        """(input index, line in that input) of a row's unit number."""
        return self.source, unit - self.first_line + 1


class _Progress:
    """A one-line progress report on a terminal, at most twice a second."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._last = 0.0

    def update(self, path: str, done: int | None, size: int | None, fills: int) -> None:
        now = time.monotonic()
        if not self.enabled or now - self._last < 0.5:
            return
        self._last = now
        where = f"{done / size:6.1%}" if done is not None and size else ""
        sys.stderr.write(f"\r  {path} {where}  {fills:,} fills judged ")
        sys.stderr.flush()

    def done(self) -> None:
        if self.enabled and self._last:
            sys.stderr.write("\r\x1b[K")


class Replay:
    def __init__(self, core: Surveillance, writer: RecordWriter, only_flagged: bool,
                 progress: bool = False, chunk_bytes: int = CHUNK_BYTES) -> None:
        self.core = core
        self.chunk_bytes = chunk_bytes
        self.writer = writer
        self.only_flagged = only_flagged
        self.records = RecordMaker(core.rule_codes)
        self.summary = ReplaySummary()
        self._progress = _Progress(progress)
        self._keep = np.array([not only_flagged or code in _FLAGGED
                               for code in range(len(codes.VERDICT_NAMES))], np.int64)
        self._dropped = np.zeros(len(codes.VERDICT_NAMES), np.int64)  # rows not kept, by verdict
        # chunk id -> the bytes its rows point into, and where each row was read
        self._chunks: dict[int, _FileChunk | MergedBatch] = {}
        self._first_line: list[int] = []  # global unit number of each input's first unit
        self._sources: list[str] = []
        self._next_line = 1
        self._next_chunk = 0
        self._name_sources = False
        self._line_start = True  # does the next unfinished byte begin a line?
        self._caret_soh: bool | None = None  # is this file ^A-delimited? (first block says)

    def run(self, paths: list[str]) -> ReplaySummary:
        started = time.perf_counter()
        self._name_sources = len(paths) > 1
        self.summary.inputs = len(paths)
        try:
            if len(paths) > 1:
                self._replay_merged(paths)
            else:
                self._replay_one(paths[0])
        except InputError:
            self._emit(self.core.flush())  # everything read is written before the error
            raise
        self._emit(self.core.flush())
        self._progress.done()
        for code, n in enumerate(self._dropped):
            if n:
                self.summary.verdicts[codes.VERDICT_NAMES[code]] += int(n)
        self._dropped[:] = 0
        counters = self.core.state.counters
        s = self.summary
        s.events = int(counters[p.C_EVENTS])
        s.duplicates = int(counters[p.C_DUPLICATES])
        s.venue_busts = int(counters[p.C_VENUE_BUSTS])
        s.venue_corrections = int(counters[p.C_VENUE_CORRECTIONS])
        s.unknown_refs = int(counters[p.C_UNKNOWN_REFS])
        s.seconds = time.perf_counter() - started
        return s

    def _replay_one(self, path: str) -> None:
        source = len(self._sources)
        self._sources.append(path)
        self._first_line.append(self._next_line)
        self._line_start = True
        mapped = map_log(path)
        if mapped is not None:
            # caret-A notation of SOH, as in tickets and `cat -v`: decided from the first block
            if mapped.find(b"^A", 0, self.chunk_bytes) < 0:
                self._caret_soh = False
                self._replay_mapped(path, mapped, source)
                return
            mapped.close()  # ^A must be replaced: the stream path copies anyway
        self._caret_soh = None
        stream, size = open_log(path)
        carry = b""
        with stream:
            for block in chunks(stream, path, self.chunk_bytes):
                if self._caret_soh is None:
                    self._caret_soh = b"^A" in block
                data = carry + block if carry else block
                if self._caret_soh:
                    data = data.replace(b"^A", b"\x01")
                pos = self._feed(data, np.frombuffer(data, np.uint8), 0, len(data), source,
                                 final=False)
                carry = data[pos:]
                self.summary.bytes_read += len(block)
                self._progress.update(path, disk_position(stream), size,
                                      int(self.core.state.counters[p.C_TRADES]))
            if carry:
                self._feed(carry, np.frombuffer(carry, np.uint8), 0, len(carry), source,
                           final=True)

    def _replay_mapped(self, path: str, mapped: mmap.mmap, source: int) -> None:
        """The blocks and carries of the stream path, as spans of the map: nothing is copied."""
        buf = np.frombuffer(mapped, np.uint8)
        size = len(mapped)
        pos = 0  # where the carry (bytes not decoded yet) begins
        block = 0
        while block < size:
            end = min(block + self.chunk_bytes, size)
            pos = self._feed(mapped, buf, pos, end, source, final=False)
            # Decoded pages leave the process (a record made later reads them back from
            # the page cache), so memory stays bounded however long the log.
            mapped.madvise(mmap.MADV_DONTNEED, 0, pos - pos % mmap.PAGESIZE)
            self.summary.bytes_read += end - block
            self._progress.update(path, end, size, int(self.core.state.counters[p.C_TRADES]))
            block = end
        if pos < size:
            self._feed(mapped, buf, pos, size, source, final=True)

    def _replay_merged(self, paths: list[str]) -> None:
        """Several logs as one: their units merged by time (engine/replay/merge.py)."""
        self._sources = list(paths)
        merged = MergedInputs(paths, self.chunk_bytes)
        label = f"{len(paths)} inputs"
        for batch in merged.batches():
            chunk_id = self._add_chunk(batch)
            self._emit(self.core.judge(batch.buf, batch.units, batch.count, chunk_id))
            self._release_chunks()
            self.summary.bytes_read = merged.bytes_read
            self._progress.update(label, *merged.disk_progress(),
                                  int(self.core.state.counters[p.C_TRADES]))

    def _feed(self, data: bytes | mmap.mmap, buf: np.ndarray, pos: int, n: int, source: int,
              final: bool) -> int:
        """Decode and judge all complete units of data[pos:n] (buf: data as an array);
        return where the unfinished tail begins."""
        chunk_id = self._add_chunk(_FileChunk(data, source, self._first_line[source]))
        while pos < n:
            count, end, rows = self.core.decode_and_judge(
                buf, pos, n, final, self._next_line, self._line_start, chunk_id,
                UNITS_PER_CALL, self._keep, self._dropped)
            if count == 0:
                break
            self._line_start = data[end - 1:end] == b"\n"
            pos = end
            self._next_line += count
            self._emit(rows)
        self._release_chunks()
        return pos

    def _add_chunk(self, chunk: _FileChunk | MergedBatch) -> int:
        chunk_id = self._next_chunk
        self._next_chunk += 1
        self._chunks[chunk_id] = chunk
        return chunk_id

    def _release_chunks(self) -> None:
        """Forget the chunks that no row waiting in the window points into."""
        waiting = set(self.core.pending_chunks().tolist())
        for done in [c for c in self._chunks if c not in waiting]:
            del self._chunks[done]

    def _emit(self, rows: np.ndarray) -> None:
        if not len(rows):
            return
        verdicts = rows[:, p.O_VERDICT]
        for code, n in enumerate(np.bincount(verdicts, minlength=len(codes.VERDICT_NAMES))):
            if n:
                self.summary.verdicts[codes.VERDICT_NAMES[code]] += int(n)
        if self.only_flagged:
            rows = rows[np.isin(verdicts, _FLAGGED)]
        for row in rows:
            chunk = self._chunks[int(row[p.O_CHUNK])]
            source, line = chunk.where(int(row[p.O_LINE]))
            record = self.records.decision(row, chunk.data, line)
            if record["verdict"] == "rejected":
                self.summary.rejects[record["reason_code"]] += 1
            if self._name_sources:
                record["source"] = self._sources[source]
            self.writer.write(record)
