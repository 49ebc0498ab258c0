"""`make demo`'s program (engine/sim/demo.py) on the shipped cfg, on free ports: it waits
for serve's readiness and shows flags and busts; when serve judges none of the fills sent
(here its journal's disk fills up once it is ready), it fails saying what, why and where."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import closing
from pathlib import Path

from tests.live import ROOT, SHIPPED_CFG, free_port
from tests.test_live_faults import fill_up, small_disk

SAMPLE_INSTRUMENTS = ROOT / "engine" / "data" / "sample_instruments.csv"


def demo_config(directory: Path, journal: str = "state/journal.sqlite") -> tuple[Path, int]:
    metrics_port = free_port()
    path = directory / "ceguard.toml"
    path.write_text(f"""
[fix]
settings = "{SHIPPED_CFG}"
[fix.overrides]
SocketAcceptPort = {free_port()}
FileStorePath = "state/store"
FileLogPath = "state/fixlog"
[surveillance]
instruments = "{SAMPLE_INSTRUMENTS}"
[journal]
path = "{journal}"
[metrics]
listen = "127.0.0.1:{metrics_port}"
[firms]
FIRMA = "FIX.4.4:CEGUARD->FIRMA"
FIRMB = "FIX.4.4:CEGUARD->FIRMB"
""")
    return path, metrics_port


def demo(config: Path, state: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "engine.sim.demo", "--config", str(config),
                             "--state-dir", str(state)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def readyz(port: int) -> tuple[int, dict] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
    except OSError:
        return None


def test_the_demo_shows_flags_busts_and_metrics(tmp_path):
    config, _ = demo_config(tmp_path)
    process = demo(config, tmp_path / "var")
    out, err = process.communicate(timeout=400)
    assert process.returncode == 0, out + err
    assert "== ceguard serve is ready on 127.0.0.1:" in out
    assert "simulate: busts received: FIRMA " in out
    assert "  flag: " in out
    assert 'ceguard_decisions_total{verdict="erroneous"}' in out
    assert "demo: FAILED" not in err and "warning" not in err
    log = [json.loads(line) for line in (tmp_path / "var" / "serve.log").read_text().splitlines()]
    assert not [e for e in log if e["event"] == "kernel_compiled_after_ready"]


def test_the_demo_fails_loudly_when_serve_judges_none_of_the_fills(tmp_path):
    with small_disk(tmp_path / "jdisk") as disk:
        config, metrics_port = demo_config(tmp_path, journal="jdisk/journal.sqlite")
        process = demo(config, tmp_path / "var")
        try:
            deadline = time.monotonic() + 300
            while (readyz(metrics_port) or (0,))[0] != 200:
                assert process.poll() is None and time.monotonic() < deadline, \
                    process.communicate()
                time.sleep(0.02)
            # Ready, before the simulator's first fill: the journal's disk fills up.
            with closing(sqlite3.connect(disk / "journal.sqlite")) as db:
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            fill_up(disk)
            not_ready = None
            while process.poll() is None:
                answer = readyz(metrics_port)
                if answer and answer[0] == 503:
                    not_ready = answer[1]
                time.sleep(0.2)
            out, err = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 1, out + err
    assert "demo: FAILED: ceguard simulate sent " in err
    assert "ceguard serve judged none within 15 s" in err
    assert "cannot write its journal" in err  # /readyz's answer, quoted
    assert f"{tmp_path / 'var' / 'serve.log'}" in err  # where to look
    assert not_ready is not None and not_ready["ready"] is False
    assert "cannot write its journal" in not_ready["not_ready"]["journal"]
