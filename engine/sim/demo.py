"""`make demo`: `ceguard serve` on the shipped defaults, `ceguard simulate` against it, then
what a person wants to see: the flags, the busts each firm received, the metrics.

The demo waits for serve's readiness (/readyz: kernels loaded, journal writable, acceptor
listening), not for a log line, and fails with exit code 1, saying what, why and where to
look, when serve does not get ready or judges none of the fills the simulator sent.
The serve process's JSON log goes to var/serve.log; the state of a demo run (journal,
FIX stores and logs) is under var/ and is cleared at the start of the next demo.
`python -m engine.sim.demo --config TOML --state-dir DIR` runs it on another engine config
(its ports and journal) with its log and the simulator's state in DIR.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from engine.config import load_config
from engine.fix.settings import load_session_settings

ROOT = Path(__file__).resolve().parent.parent.parent
VAR = ROOT / "var"
# A cold numba cache (its set-up skipped, a numba upgrade) compiles for a minute or two
# on a busy 2-core machine before serve is ready; a warm one loads in about a second.
READY_TIMEOUT = 300.0
SLOW_WARMING_SECONDS = 5.0
JUDGED_TIMEOUT = 15.0  # after the simulator's last fill
SENT = re.compile(r"^simulate: sent (\d+) drop copies")


class DemoFailed(Exception):
    """What went wrong, why, and where to look: printed as it is."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.sim.demo")
    parser.add_argument("--config", metavar="TOML",
                        help="engine config (default: the shipped fix_configs/ceguard.toml)")
    parser.add_argument("--state-dir", default=str(VAR), metavar="DIR",
                        help="serve's log and the simulator's state, cleared first "
                             "(default: var/)")
    args = parser.parse_args(argv)
    var = Path(args.state_dir).resolve()
    config = load_config(args.config)
    settings = load_session_settings(config.fix_settings, config.fix_overrides,
                                     config.source.resolve().parent)
    fix_port = int(re.search(r"^SocketAcceptPort=(\d+)$", settings.text, re.M).group(1))
    base_url = f"http://127.0.0.1:{config.metrics_port}"
    shutil.rmtree(var, ignore_errors=True)
    var.mkdir(parents=True)
    log_path = var / "serve.log"
    serve_command = [sys.executable, "-m", "engine", "serve"]
    if args.config:
        serve_command += ["--config", str(Path(args.config).resolve())]
    with open(log_path, "w") as log:
        server = subprocess.Popen(serve_command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        _wait_ready(server, base_url, log_path)
        print(f"== ceguard serve is ready on 127.0.0.1:{fix_port} "
              f"(JSON log: {_shown(log_path)}); metrics: {base_url}/metrics")
        print("== ceguard simulate: the config's matching engines send drop copies; its firms "
              "print the busts they receive", flush=True)
        sent = _simulate(config.source.resolve(), fix_port, var / "sim")
        _wait_judged(sent, base_url, log_path)
        print(f"\n== what the engine logged (flags and busts are JSON lines in "
              f"{_shown(log_path)}):")
        _summarise_log(log_path)
        print(f"\n== a few metrics from {base_url}/metrics:")
        _show_metrics(f"{base_url}/metrics")
        print("\n== ceguard journal (the durable record; run it yourself any time):", flush=True)
        journal = [sys.executable, "-m", "engine", "journal", "--limit", "8"]
        subprocess.run(journal + (["--config", str(config.source.resolve())]
                                  if args.config else []), cwd=ROOT)
        print(f"\nThe journal is {_shown(config.journal)}; the FIX logs are in "
              f"{_shown(_fix_logs(settings.text))}. Run `make demo` again for a fresh day.")
        return 0
    except DemoFailed as failure:
        print(f"\ndemo: FAILED: {failure}", file=sys.stderr)
        return 1
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)


def _wait_ready(server: subprocess.Popen, base_url: str, log_path: Path) -> None:
    started = time.monotonic()
    deadline = started + READY_TIMEOUT
    told = False
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise DemoFailed(f"ceguard serve exited with code {server.returncode} before it "
                             f"was ready. Its log ({_shown(log_path)}):\n"
                             f"{log_path.read_text()}")
        ready, body = _readiness(base_url)
        if ready:
            return
        # Loading cached kernels takes about a second; longer means they compile.
        if not told and time.monotonic() - started > SLOW_WARMING_SECONDS \
                and "warming" in str(body.get("not_ready", {}).get("kernels", "")):
            print("== ceguard serve is compiling its numba kernels (numba's cache is cold: "
                  "the set-up's warm-up did not run, or numba changed); once, up to a "
                  "few minutes", flush=True)
            told = True
        time.sleep(0.2)
    raise DemoFailed(f"ceguard serve was not ready within {READY_TIMEOUT:.0f} s. "
                     f"Last answer of {base_url}/readyz: {_readiness(base_url)[1]}. "
                     f"Look at its log, {_shown(log_path)}.")


def _readiness(base_url: str) -> tuple[bool, dict]:
    try:
        with urllib.request.urlopen(f"{base_url}/readyz", timeout=5) as response:
            return True, json.loads(response.read())
    except urllib.error.HTTPError as error:  # 503: not ready, and why
        return False, json.loads(error.read() or b"{}")
    except (OSError, ValueError) as error:  # not listening yet
        return False, {"error": str(error)}


def _simulate(config: Path, fix_port: int, state_dir: Path) -> int:
    """Run `ceguard simulate` against the counterparties of `config`, showing its output;
    how many drop copies it sent."""
    command = [sys.executable, "-m", "engine", "simulate", "--config", str(config),
               "--port", str(fix_port),
               "--matches", "400", "--rate", "500", "--wait", "2",
               "--state-dir", str(state_dir)]
    sent = 0
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as simulate:
        for line in simulate.stdout:
            print(line, end="", flush=True)
            match = SENT.match(line)
            if match:
                sent = int(match.group(1))
    if simulate.returncode != 0:
        raise DemoFailed(f"ceguard simulate exited with code {simulate.returncode} "
                         "(its messages are above)")
    return sent


def _wait_judged(sent: int, base_url: str, log_path: Path) -> None:
    """Every fill serve received judged (a decision or a rejection), or a failure."""
    deadline = time.monotonic() + JUDGED_TIMEOUT
    while True:
        text = _get(f"{base_url}/metrics")
        received = _total(text, "ceguard_fills_received_total")
        judged = _total(text, "ceguard_decisions_total") + _total(text, "ceguard_rejects_total")
        if received >= sent and judged >= received or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if sent and not judged:
        _, readiness = _readiness(base_url)
        raise DemoFailed(
            f"ceguard simulate sent {sent} fills and ceguard serve judged none within "
            f"{JUDGED_TIMEOUT:.0f} s (ceguard_decisions_total and ceguard_rejects_total are 0 "
            f"at {base_url}/metrics). Why: serve did not take them or did not finish judging "
            "them (a journal it cannot write, a kernel still compiling, an error). Its "
            f"{base_url}/readyz answers {json.dumps(readiness)}. Look at {_shown(log_path)}: "
            "its `warmed` line, and any `journal_failed`, `kernel_compiled_after_ready` or "
            "error line.")
    if judged < received:
        print(f"demo: warning: {received - judged:.0f} of {received:.0f} fills received were "
              f"not judged within {JUDGED_TIMEOUT:.0f} s; see {_shown(log_path)}",
              file=sys.stderr)


def _fix_logs(settings_text: str) -> Path:
    found = re.search(r"^FileLogPath=(.*)$", settings_text, re.M)
    return Path(found.group(1)) if found else Path("(no FileLogPath)")


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


def _total(metrics_text: str, name: str) -> float:
    return sum(float(line.rpartition(" ")[2]) for line in metrics_text.splitlines()
               if line.startswith(name + "{") or line.startswith(name + " "))


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


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
    wanted = ("ceguard_fills_received_total", "ceguard_decisions_total",
              "ceguard_busts_sent_total")
    for line in _get(url).splitlines():
        if line.startswith(wanted) and not line.endswith(" 0.0"):
            print(f"  {line}")


if __name__ == "__main__":
    raise SystemExit(main())
