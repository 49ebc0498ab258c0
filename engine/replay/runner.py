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
from engine.fix import decoder as d
from engine.fix.placeholders import normalized, placeholder_message_at, safe_cut
from engine.records import RecordMaker
from engine.replay.merge import MergedBatch, MergedInputs
from engine.replay.reader import (CHUNK_BYTES, NUMBERING_PROBE, InputError, chunks,
                                  disk_position, map_log, open_log)
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
    legacy_fills: int = 0
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
        if self.legacy_fills:
            lines.append(f"  not judged: {self.legacy_fills:,} ExecutionReports with ExecType "
                         "150=1/2 on FIX.4.3+ (not fills by the spec; --legacy-fills judges "
                         "them as fills)")
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
                 progress: bool = False, chunk_bytes: int = CHUNK_BYTES,
                 legacy_fills: bool = False) -> None:
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
        self._first_line: list[int] = []  # global line number each input begins at
        self._sources: list[str] = []
        self._next_line = 1  # the global line number at the next byte not decoded
        self._next_chunk = 0
        self._name_sources = False
        self._line_start = True  # does the next unfinished byte begin a line?
        self._flags = d.LEGACY_FILLS if legacy_fills else 0  # the decoder's, every input
        self._input_flags = self._flags  # and NUMBER_UNITS for an input without lines

    def run(self, paths: list[str]) -> ReplaySummary:
        """Replay the inputs in order. An input error (a file that cannot be opened, a
        truncated gzip) stops the run, but only after everything read before it has
        been judged and written."""
        started = time.perf_counter()
        self._name_sources = len(paths) > 1
        self.summary.inputs = len(paths)
        try:
            if len(paths) > 1:
                self._replay_merged(paths)
            else:
                self._replay_one(paths[0])
        finally:  # an input error too: everything read is written before it stops the run
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
        s.legacy_fills = int(counters[p.C_LEGACY_FILLS])
        s.seconds = time.perf_counter() - started
        return s

    def _replay_one(self, path: str) -> None:
        """One input. Its records' `line` is the physical line (see engine.fix.decoder);
        an input with no newline in its first NUMBERING_PROBE bytes (a raw SOH stream)
        has no lines, and its units are numbered 1, 2, 3 ... instead."""
        source = len(self._sources)
        self._sources.append(path)
        self._first_line.append(self._next_line)
        self._line_start = True
        mapped = map_log(path)
        if mapped is not None:
            self._set_numbering(mapped.find(b"\n", 0, NUMBERING_PROBE) >= 0)
            self._replay_mapped(path, mapped, source)
        else:
            self._replay_stream(path, source)
        self._next_line += 1  # the next input's first line: its own numbers start at 1

    def _set_numbering(self, has_lines: bool) -> None:
        self._input_flags = self._flags | (0 if has_lines else d.NUMBER_UNITS)

    def _replay_stream(self, path: str, source: int) -> None:
        stream, size = open_log(path)
        carry = b""  # not decoded yet
        numbered = False
        with stream:
            try:
                for block in chunks(stream, path, self.chunk_bytes):
                    self.summary.bytes_read += len(block)
                    data = carry + block if carry else block
                    if not numbered:  # hold the blocks until the numbering is known
                        if b"\n" not in data and len(data) < NUMBERING_PROBE:
                            carry = data
                            continue
                        self._set_numbering(b"\n" in data[:NUMBERING_PROBE])
                        numbered = True
                    pos = self._feed_all(data, np.frombuffer(data, np.uint8), 0, len(data),
                                         source, final=False)
                    carry = data[pos:]
                    self._progress.update(path, disk_position(stream), size,
                                          int(self.core.state.counters[p.C_TRADES]))
            except InputError:  # a truncated gzip: judge what was read, then stop
                self._finish_stream(carry, source, numbered)
                raise
            self._finish_stream(carry, source, numbered)

    def _finish_stream(self, carry: bytes, source: int, numbered: bool) -> None:
        if not numbered:
            self._set_numbering(b"\n" in carry)
        if carry:
            self._feed_all(carry, np.frombuffer(carry, np.uint8), 0, len(carry), source,
                           final=True)

    def _replay_mapped(self, path: str, mapped: mmap.mmap, source: int) -> None:
        """The blocks and carries of the stream path, as spans of the map: nothing is copied."""
        buf = np.frombuffer(mapped, np.uint8)
        size = len(mapped)
        pos = 0  # where the carry (bytes not decoded yet) begins
        block = 0
        while block < size:
            end = min(block + self.chunk_bytes, size)
            pos = self._feed_all(mapped, buf, pos, end, source, final=False)
            # Decoded pages leave the process (a record made later reads them back from
            # the page cache), so memory stays bounded however long the log.
            mapped.madvise(mmap.MADV_DONTNEED, 0, pos - pos % mmap.PAGESIZE)
            self.summary.bytes_read += end - block
            self._progress.update(path, end, size, int(self.core.state.counters[p.C_TRADES]))
            block = end
        if pos < size:
            self._feed_all(mapped, buf, pos, size, source, final=True)

    def _feed_all(self, data: bytes | mmap.mmap, buf: np.ndarray, pos: int, n: int,
                  source: int, final: bool) -> int:
        """_feed, with the lines of messages delimited by placeholders (where the decoder
        stops) rewritten to SOH and fed as chunks of their own; where the unfinished
        tail begins."""
        pos = self._feed(data, buf, pos, n, source, final, stop_at_placeholders=True)
        while pos < n and placeholder_message_at(buf, pos, n):
            cut = n if final else safe_cut(data, pos, n)
            if cut <= pos:
                break  # the line goes on in the next block
            piece = normalized(bytes(data[pos:cut]))
            self._feed(piece, np.frombuffer(piece, np.uint8), 0, len(piece), source,
                       final=True, stop_at_placeholders=False)
            pos = self._feed(data, buf, cut, n, source, final, stop_at_placeholders=True)
        return pos

    def _replay_merged(self, paths: list[str]) -> None:
        """Several logs as one: their units merged by time (engine/replay/merge.py)."""
        self._sources = list(paths)
        merged = MergedInputs(paths, self.chunk_bytes, self._flags)
        label = f"{len(paths)} inputs"
        for batch in merged.batches():
            chunk_id = self._add_chunk(batch)
            self._emit(self.core.judge(batch.buf, batch.units, batch.count, chunk_id))
            self._release_chunks()
            self.summary.bytes_read = merged.bytes_read
            self._progress.update(label, *merged.disk_progress(),
                                  int(self.core.state.counters[p.C_TRADES]))

    def _feed(self, data: bytes | mmap.mmap, buf: np.ndarray, pos: int, n: int, source: int,
              final: bool, stop_at_placeholders: bool) -> int:
        """Decode and judge all complete units of data[pos:n] (buf: data as an array);
        return where the unfinished tail begins."""
        chunk_id = self._add_chunk(_FileChunk(data, source, self._first_line[source]))
        flags = self._input_flags | (d.STOP_AT_PLACEHOLDERS if stop_at_placeholders else 0)
        while pos < n:
            count, end, self._next_line, self._line_start, rows = self.core.decode_and_judge(
                buf, pos, n, final, self._next_line, self._line_start, chunk_id,
                UNITS_PER_CALL, self._keep, self._dropped, flags)
            pos = end
            self._emit(rows)
            if count == 0:
                break
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
