"""Where replay time goes: each stage alone, in-process, in ns per fill; and process start.

Stages, on one generated log held in memory (pinned to one core, best of --repeat, in CPU
time: on a machine shared with other work, wall time mostly measures the waiting):
  - decode: engine.fix.decoder.decode over the whole log (bytes to unit rows);
  - judge: Surveillance.judge over the units decoded beforehand;
  - replay: Replay.run of the log file with --only-flagged, in-process (decode and judge
    fused, reading, the Python around them);
  - start-up: `ceguard replay` of a one-line log, as a whole process.
Not a test: asserts nothing.

    .venv/bin/python benchmarks/replay_stages.py [--matches 300000] [--symbols 5000]
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from engine.core.instruments import load_instruments
from engine.core.surveillance import Surveillance
from engine.fix.decoder import N_UNIT_COLS, NUMBER_UNITS, decode
from engine.replay.runner import Replay
from engine.replay.writer import RecordWriter
from engine.rules.rulebook import load_rulebook

sys.path.insert(0, str(Path(__file__).resolve().parent))
from replay import CEGUARD, make_log  # noqa: E402  (the same log as the replay benchmark)


def best(repeat: int, run) -> float:
    run()  # loads the numba cache
    return min(run() for _ in range(repeat))


def timed(work) -> float:
    """CPU seconds of work(), its child processes' included."""
    started = _cpu()
    work()
    return _cpu() - started


def _cpu() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--matches", type=int, default=300_000)
    parser.add_argument("--symbols", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    with tempfile.TemporaryDirectory() as tmp:
        log, csv, fills = make_log(Path(tmp), args.matches, args.symbols)
        data = log.read_bytes()
        buf = np.frombuffer(data, np.uint8)
        rulebook, instruments = load_rulebook(None), load_instruments(str(csv))

        units = np.zeros((fills + 1, N_UNIT_COLS), np.int64)  # every unit's row, kept
        batches = []  # (first row, rows) of each decode call

        def decode_all() -> float:
            batches.clear()
            started, pos, first = _cpu(), 0, 0
            while True:
                count, pos, _ = decode(buf, pos, len(data), True, first + 1, True,
                                       NUMBER_UNITS, units[first:first + (1 << 15)])
                if count == 0:
                    return _cpu() - started
                batches.append((first, count))
                first += count

        def judge_all() -> float:
            core = Surveillance(rulebook, instruments)
            return timed(lambda: [core.judge(buf, units[f:f + c], c, 0) for f, c in batches])

        def replay() -> float:
            run = Replay(Surveillance(rulebook, instruments), RecordWriter(io.StringIO(), "jsonl"),
                         only_flagged=True)
            return timed(lambda: run.run([str(log)]))

        one_line = Path(tmp) / "one.log"
        one_line.write_bytes(data[: data.index(b"\n") + 1])

        def start_up() -> float:
            return timed(lambda: subprocess.run(
                [CEGUARD, "replay", str(one_line), "--instruments", str(csv), "--out", os.devnull],
                capture_output=True, check=True))

        rows = [("decode", best(args.repeat, decode_all)), ("judge", best(args.repeat, judge_all)),
                ("replay, in-process", best(args.repeat, replay))]
        start = best(args.repeat, start_up)
    print(f"{fills:,} fills, {len(data) / fills:.0f} bytes each")
    print("| stage | ns per fill |\n|---|---|")
    for name, seconds in rows:
        print(f"| {name} | {seconds / fills * 1e9:,.0f} |")
    print(f"| start-up of `ceguard replay` | {start:.2f} s of CPU per process |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
