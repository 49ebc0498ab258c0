"""The long fuzz run: tests/test_fuzz_decoder.py with a large hypothesis budget.

    .venv/bin/python benchmarks/fuzz_decoder.py --examples 20000

Runs each fuzz test with that many examples (`make test` runs 40-200), then prints
how many inputs each one tried and how long it took. A failure stops the run with
hypothesis's shrunk falsifying example, as in pytest.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=20_000,
                        help="examples per test (default 20000)")
    args = parser.parse_args()
    os.environ["CEGUARD_FUZZ_EXAMPLES"] = str(args.examples)  # read at import
    sys.path.insert(0, str(TESTS))
    import test_fuzz_decoder as fuzz
    from engine.obs.logging import configure_logging

    configure_logging(open(os.devnull, "w"))  # the live path logs every rejected input

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        runs = [("live", fuzz.test_live_path_outcome_is_the_one_the_message_calls_for),
                ("replay", lambda: fuzz.test_replay_records_are_valid_and_do_not_depend_on_chunking(
                    tmp_path=base)),
                ("random", lambda: fuzz.test_random_bytes_give_records_or_nothing(tmp_path=base))]
        for name, run in runs:
            t = time.perf_counter()
            run()
            print(f"{name:>7}: {fuzz.INPUTS_TRIED[name]:,} inputs in "
                  f"{time.perf_counter() - t:,.0f} s, no failure", flush=True)
    total = sum(fuzz.INPUTS_TRIED.values())
    print(f"  total: {total:,} inputs in {time.perf_counter() - started:,.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
