"""`make demo`: `ceguard serve` on the shipped defaults, `ceguard simulate` against it, then
what a person wants to see: the flags, the busts each firm received, the metrics.

The serve process's JSON log goes to var/serve.log; the state of a demo run (journal,
FIX stores and logs) is under var/ and is cleared at the start of the next demo.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from engine.config import load_config

ROOT = Path(__file__).resolve().parent.parent.parent
VAR = ROOT / "var"
START_TIMEOUT = 60.0


def main() -> int:
    config = load_config()
    shutil.rmtree(VAR, ignore_errors=True)
    VAR.mkdir()
    log_path = VAR / "serve.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen([sys.executable, "-m", "engine", "serve"], stdout=log,
                                  stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        serving = _wait_serving(server, log_path)
        if serving is None:
            print(f"demo: ceguard serve did not start; its log:\n{log_path.read_text()}")
            return 1
        print(f"== ceguard serve is listening on 127.0.0.1:{serving['port']} "
              f"(JSON log: {log_path.relative_to(ROOT)}); metrics: {serving['metrics_url']}")
        print("== ceguard simulate: matching engine MATCHING1 on FIX.4.4, FIX.4.2 and "
              "FIX.5.0SP2; firms FIRMA and FIRMB print the busts they receive")
        simulate = subprocess.run([sys.executable, "-m", "engine", "simulate", "--matches", "400",
                                   "--rate", "500", "--wait", "2",
                                   "--state-dir", str(VAR / "sim")], cwd=ROOT)
        if simulate.returncode != 0:
            return simulate.returncode
        print(f"\n== what the engine logged (flags and busts are JSON lines in "
              f"{log_path.relative_to(ROOT)}):")
        _summarise_log(log_path)
        print(f"\n== a few metrics from {serving['metrics_url']}:")
        _show_metrics(serving["metrics_url"])
        print("\n== ceguard journal (the durable record; run it yourself any time):")
        subprocess.run([sys.executable, "-m", "engine", "journal", "--limit", "8"], cwd=ROOT)
        print(f"\nThe journal is {config.journal.relative_to(ROOT)}; the FIX logs are in "
              "var/fixlog. Run `make demo` again for a fresh day.")
        return 0
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def _wait_serving(server: subprocess.Popen, log_path: Path) -> dict | None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and server.poll() is None:
        for line in log_path.read_text().splitlines():
            if line.startswith("{") and json.loads(line).get("event") == "serving":
                return json.loads(line)
        time.sleep(0.1)
    return None


def _summarise_log(log_path: Path) -> None:
    events = [json.loads(line) for line in log_path.read_text().splitlines()
              if line.startswith("{")]
    counts: dict[str, int] = {}
    for event in events:
        counts[event["event"]] = counts.get(event["event"], 0) + 1
    print("  " + ", ".join(f"{name} x{n}" for name, n in sorted(counts.items())))
    for event in [e for e in events if e["event"] == "flag"][:4]:
        print(f"  flag: {event['symbol']} {event['price']} vs {event['reference_price']} "
              f"({event['deviation_pct']}%, band {event['threshold_pct']}% {event['rule']}) "
              f"exec {event['exec_id']} on {event['session']}")


def _show_metrics(url: str) -> None:
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    wanted = ("ceguard_fills_received_total", "ceguard_decisions_total",
              "ceguard_busts_sent_total")
    for line in text.splitlines():
        if line.startswith(wanted) and not line.endswith(" 0.0"):
            print(f"  {line}")


if __name__ == "__main__":
    raise SystemExit(main())
