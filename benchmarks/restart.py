"""Restart time against the journal's history: what the journal per trading day buys.

Builds journals of realistic drop copies (engine.sim.dropcopy: 5,000 symbols, both sides of
each match) and times what `ceguard serve` does with one before it listens:
`LiveEngine.rebuild` (read the day, judge every fill again, rebuild the core). Three
journals, the same current day (`--today` fills) in each:

- one day: the current day alone;
- N days: `--days` earlier days of `--fills-per-day` each before it, rolled over as serve
  rolls them (the days table, the closes carried);
- N days, no days table: the same file without `days`, as journals were before trading
  days: the rebuild reads every fill of the history (the baseline).

Prints a table; asserts nothing.

    .venv/bin/python benchmarks/restart.py [--days 5] [--fills-per-day 1000000] [--today 100000]
                                           [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import structlog

from engine.core.instruments import load_instruments
from engine.core.surveillance import Surveillance
from engine.journal.store import Journal
from engine.live.engine import LiveEngine
from engine.obs.metrics import Metrics
from engine.rules.rulebook import load_rulebook
from engine.sim.dropcopy import DropCopyStream, execution_reports

SESSION = "FIX.4.4:CEGUARD->MATCHING1"
FIRST_DAY = date(2026, 11, 23)
NOW_US = 1_795_255_200_000_000
BATCH = 20_000


def write_day(journal: Journal, stream: DropCopyStream, first_seq: int, fills: int,
              day: date) -> int:
    """`fills` drop copies from `stream`, journaled as serve journals them; the next seq."""
    journal.open_day(day, first_seq, f"{day.isoformat()}T01:30:00+00:00", None)
    seq = first_seq
    messages = execution_reports(stream.normal(fills // 2), first_seq=first_seq)
    done = False
    while not done:
        rows = []
        for _, message in messages:
            rows.append((seq, NOW_US, SESSION, message.encode()))
            seq += 1
            if len(rows) == BATCH:
                break
        else:
            done = True
        if rows:
            journal.begin()
            journal.add_fills(rows, {SESSION: (rows[-1][0], rows[-1][0])})
            journal.commit()
    return seq


def rebuild_seconds(path: Path, instruments: Path, repeat: int) -> tuple[int, float]:
    """(fills rebuilt, the best of `repeat` rebuilds' seconds): a fresh engine each time."""
    rulebook = load_rulebook(None)
    listed = load_instruments(instruments)
    best = float("inf")
    for _ in range(repeat):
        engine = LiveEngine(lambda: Surveillance(rulebook, listed),
                            lambda: Journal(path, "normal"), Metrics(), {}, 0,
                            structlog.get_logger())
        started = time.perf_counter()
        count = engine.rebuild()
        best = min(best, time.perf_counter() - started)
        engine.journal.close()
    return count, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--fills-per-day", type=int, default=1_000_000)
    parser.add_argument("--today", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="rebuilds timed; the best")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="ceguard-restart-"))
    try:
        stream = DropCopyStream(symbols=5000)
        instruments = folder / "instruments.csv"
        instruments.write_text(stream.instruments_csv())
        started = time.perf_counter()
        history = folder / "history.sqlite"
        with Journal(history, "off") as journal:
            seq = 1
            for n in range(args.days):
                seq = write_day(journal, stream, seq, args.fills_per_day,
                                FIRST_DAY + timedelta(days=n))
            today_first = seq
            write_day(journal, stream, seq, args.today, FIRST_DAY + timedelta(days=args.days))
        one_day = folder / "one-day.sqlite"
        with Journal(one_day, "off") as journal:  # the same current day alone
            journal.open_day(FIRST_DAY + timedelta(days=args.days), today_first, "x", None)
        with sqlite3.connect(one_day) as db:
            db.execute("ATTACH DATABASE ? AS h", (str(history),))
            db.execute("INSERT INTO fills SELECT * FROM h.fills WHERE seq >= ?", (today_first,))
        undivided = folder / "no-days.sqlite"
        shutil.copy(history, undivided)
        with sqlite3.connect(undivided) as db:
            db.execute("DELETE FROM days")
        built = time.perf_counter() - started
        rebuild_seconds(one_day, instruments, 1)  # numba's kernels loaded once, not timed
        results = [("one day", one_day), (f"{args.days + 1} days", history),
                   (f"{args.days + 1} days, no days table (before)", undivided)]
        print(f"journals built in {built:.0f} s; rebuild = LiveEngine.rebuild, as serve "
              f"runs it before it listens; the best of {args.repeat}\n")
        print("| journal                                | fills in journal | fills rebuilt "
              "| seconds | vs one day |")
        print("|----------------------------------------|------------------|---------------"
              "|---------|------------|")
        base = None
        for name, path in results:
            total = sqlite3.connect(path).execute("SELECT COUNT(*) FROM fills").fetchone()[0]
            count, seconds = rebuild_seconds(path, instruments, args.repeat)
            base = base or seconds
            print(f"| {name:<38} | {total:>16,} | {count:>13,} | {seconds:>7.2f} "
                  f"| {seconds / base:>9.2f}x |")
    finally:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
