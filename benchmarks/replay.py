"""Replay throughput: `ceguard replay --only-flagged` against a quickfix + plain-Python baseline.

Generates a realistic drop-copy FileLog (both sides of every match, thousands of symbols,
leveraged funds, sweeps, the injected erroneous events of engine.sim.dropcopy.scenario),
then, pinned to one core, in one run:
  - ceguard: the real command end to end (process start, read, decode, judge, write);
  - ceguard merged: the same log split by security into session logs, replayed together
    (merged by TransactTime, engine/replay/merge.py);
  - baseline: the same log parsed with quickfix.Message and judged in plain Python (last
    sale per symbol, the tier table, integer arithmetic), on a prefix of the log since it
    is slow; its rate is fills per second over that prefix.
Prints a table; the figures go in benchmarks/README.md. Not a test: asserts nothing.

    .venv/bin/python benchmarks/replay.py [--matches 1500000] [--symbols 5000] [--baseline 100000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import zlib
from datetime import timedelta
from pathlib import Path

from engine.sim.dropcopy import DropCopyStream, execution_reports, filelog_lines, scenario

ROOT = Path(__file__).resolve().parent.parent
CEGUARD = Path(sys.executable).parent / "ceguard"


def make_log(directory: Path, matches: int, symbols: int) -> tuple[Path, Path, int]:
    stream = DropCopyStream(symbols=symbols, step=timedelta(milliseconds=5))
    log = directory / "day.log"
    fills = 0
    with open(log, "w", encoding="latin-1", newline="") as out:
        for line in filelog_lines(execution_reports(scenario(stream, matches))):
            out.write(line)
            fills += 1
    instruments = directory / "instruments.csv"
    instruments.write_text(stream.instruments_csv())
    return log, instruments, fills


def split_by_symbol(log: Path, sessions: int) -> list[Path]:
    """The day's log as `sessions` session logs, each security's fills on one of them."""
    paths = [log.with_name(f"session{n}.log") for n in range(sessions)]
    outs = [open(path, "wb") for path in paths]
    with open(log, "rb") as lines:
        for line in lines:
            start = line.find(b"\x0155=") + 4
            symbol = line[start:line.find(b"\x01", start)] if start >= 4 else b""
            outs[zlib.crc32(symbol) % sessions].write(line)
    for out in outs:
        out.close()
    return paths


def ceguard_engine() -> str:
    """Where the ceguard subprocess imports `engine` from (the venv may hold another copy)."""
    return subprocess.run([sys.executable, "-P", "-c", "import engine; print(engine.__file__)"],
                          capture_output=True, text=True, check=True).stdout.strip()


def run_ceguard(logs: list[Path], instruments: Path) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run([CEGUARD, "replay", *map(str, logs), "--instruments", str(instruments),
                             "--only-flagged", "--out", os.devnull],
                            capture_output=True, text=True, check=True)
    return time.perf_counter() - started, result.stderr.strip()


def run_baseline(log: Path, instruments: Path, limit: int) -> tuple[int, float, int]:
    """quickfix.Message per line, then the band check in plain Python integers."""
    import quickfix as fix

    closes, leverage = {}, {}
    for row in instruments.read_text().splitlines()[1:]:
        symbol, lev, close = row.split(",")
        closes[symbol] = int(round(float(close) * 100))
        leverage[symbol] = abs(int(lev))
    tiers = ((2500, 10), (5000, 5), (None, 3))
    last = dict(closes)
    fills = flagged = 0
    started = time.perf_counter()
    with open(log, encoding="latin-1") as lines:
        for line in lines:
            if fills >= limit:
                break
            message = fix.Message(line.split(" : ", 1)[1].rstrip("\n"))
            if message.getHeader().getField(35) != "8" or message.getField(150) != "F":
                continue
            symbol = message.getField(55)
            price = int(round(float(message.getField(31)) * 100))
            message.getField(17), message.getField(60), message.getField(32)
            fills += 1
            ref = last.get(symbol)
            if ref is None:
                last[symbol] = price
                continue
            pct = next(p for bound, p in tiers if bound is None or ref <= bound)
            pct *= max(leverage.get(symbol, 1), 1)
            if abs(price - ref) * 100 >= pct * ref:
                flagged += 1
            else:
                last[symbol] = price
    return fills, time.perf_counter() - started, flagged


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--matches", type=int, default=1_500_000)
    parser.add_argument("--symbols", type=int, default=5000)
    parser.add_argument("--baseline", type=int, default=100_000,
                        help="fills the baseline judges (it is slow)")
    parser.add_argument("--sessions", type=int, default=2,
                        help="session logs the merged run reads (default 2)")
    args = parser.parse_args()
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, children too

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        started = time.perf_counter()
        log, instruments, fills = make_log(directory, args.matches, args.symbols)
        size_mb = log.stat().st_size / 1e6
        print(f"log: {fills:,} fills over {args.symbols:,} symbols, {size_mb:,.0f} MB "
              f"(generated in {time.perf_counter() - started:.0f} s); ceguard runs "
              f"{ceguard_engine()}")
        run_ceguard([log], instruments)  # the first run fills the numba cache and page cache
        seconds, summary = run_ceguard([log], instruments)
        base_fills, base_seconds, base_flagged = run_baseline(log, instruments, args.baseline)
        sessions = split_by_symbol(log, args.sessions)
        run_ceguard(sessions, instruments)
        merged_seconds, merged_summary = run_ceguard(sessions, instruments)

    ceguard_rate = fills / seconds
    base_rate = base_fills / base_seconds
    rows = [
        ("ceguard replay --only-flagged (end to end)", f"{fills:,}", f"{seconds:.2f}",
         f"{ceguard_rate:,.0f}", f"{ceguard_rate / base_rate:.1f}x"),
        (f"ceguard replay --only-flagged of {args.sessions} session logs (merged)",
         f"{fills:,}", f"{merged_seconds:.2f}", f"{fills / merged_seconds:,.0f}",
         f"{fills / merged_seconds / base_rate:.1f}x"),
        ("baseline: quickfix.Message + Python judge", f"{base_fills:,}", f"{base_seconds:.2f}",
         f"{base_rate:,.0f}", "1.0x"),
    ]
    header = ("implementation", "fills", "seconds", "fills/s", "vs baseline")
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |")
    print(f"\nceguard's own summary:\n{summary}")
    print(f"merged:\n{merged_summary}")
    print(f"baseline flagged {base_flagged:,} of {base_fills:,} (simplified rules, no series)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
