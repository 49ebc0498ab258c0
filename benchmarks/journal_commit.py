"""The journal's cost per fill by transaction size: what group commit would buy.

Writes fills and their decision records (a realistic record, serialised per fill as the
live engine does) into a fresh journal with `engine.journal.store.Journal`, one
transaction per `batch` fills, for each synchronous mode, with serve's checkpointing (the
thread of engine.journal.checkpoint, the commit's own checkpoint at its backstop). batch=1
is what `ceguard serve` does today (one transaction per fill, committed before fromApp
returns); it is also run with SQLite's default checkpointing, for comparison. In-process, no QuickFIX: the journal alone. Prints a table; asserts nothing.

    .venv/bin/python benchmarks/journal_commit.py [--fills 20000] [--batches 1,10,100,1000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from engine.journal.checkpoint import BACKSTOP_PAGES, Checkpointer
from engine.journal.store import Journal
from engine.obs.logging import get_logger

RAW = b"8=FIX.4.4\x01" + b"x" * 257  # the size of the live benchmark's drop copies
RECORD = {"line": 1, "exec_id": "X1", "trade_id": "T1", "symbol": "Z00001", "side": "buy",
          "price": "50.54", "qty": "100", "transact_time": "2026-01-15T14:40:00.000Z",
          "session": "regular", "reference_price": "50.50", "reference_source": "last_sale",
          "leverage": "1.00", "event_size": 0, "threshold_pct": "3.0000",
          "deviation_pct": "0.0792", "band_low": "48.98", "band_high": "52.01",
          "rule": "REG-T3", "verdict": "stands"}
SESSION = "FIX.4.4:CEGUARD->MATCHING1"
NOW = "2026-11-21T10:00:00.000000+00:00"
NOW_US = 1_795_255_200_000_000  # NOW in microseconds since the epoch


def run(directory: Path, synchronous: str, batch: int, fills: int,
        thread: bool = True) -> tuple[float, float]:
    """(microseconds per fill, milliseconds per commit at the 99th percentile).
    thread=False: SQLite's own checkpoint in the commit every 1000 pages, as before."""
    path = directory / f"{synchronous}-{batch}-{thread}.sqlite"
    journal = Journal(path, synchronous, BACKSTOP_PAGES if thread else 1000)
    checkpointer = Checkpointer(path, synchronous, get_logger())
    if thread:
        checkpointer.start()
    commits = []
    started = time.perf_counter()
    for first in range(1, fills + 1, batch):
        seqs = range(first, min(first + batch, fills + 1))
        journal.begin()
        journal.add_fills([(seq, NOW_US, SESSION, RAW) for seq in seqs],
                          {SESSION: (seqs[-1], seqs[-1])})
        journal.add_decisions([(seq, {**RECORD, "line": seq, "exec_id": f"X{seq}"})
                               for seq in seqs], NOW)
        before = time.perf_counter()
        journal.commit()
        commits.append(time.perf_counter() - before)
    seconds = time.perf_counter() - started
    if thread:
        checkpointer.stop()
    journal.close()
    commits.sort()
    return seconds / fills * 1e6, commits[int(0.99 * (len(commits) - 1))] * 1e3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fills", type=int, default=20_000)
    parser.add_argument("--full-fills", type=int, default=2_000,
                        help="fills at batch 1 with synchronous=full (an fsync each)")
    parser.add_argument("--batches", default="1,10,100,1000")
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    print("| synchronous | fills per transaction | us per fill | fills/s | commit p99 ms |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="ceguard-journal-") as tmp:
        for synchronous in ("full", "normal", "off"):
            for batch in batches:
                fills = args.full_fills if synchronous == "full" and batch == 1 else args.fills
                for thread in (False, True) if batch == 1 else (True,):
                    per_fill, p99 = run(Path(tmp), synchronous, batch, fills, thread)
                    label = f"{batch}" if thread else f"{batch}, checkpoint in the commit"
                    print(f"| {synchronous} | {label} | {per_fill:.1f} | "
                          f"{1e6 / per_fill:,.0f} | {p99:.2f} |", flush=True)
    print(f"\n(json.dumps of the record alone: "
          f"{_time(lambda: json.dumps(RECORD, separators=(',', ':'))):.1f} us)")
    return 0


def _time(f, n: int = 20_000) -> float:
    started = time.perf_counter()
    for _ in range(n):
        f()
    return (time.perf_counter() - started) / n * 1e6


if __name__ == "__main__":
    raise SystemExit(main())
