"""`ceguard serve --check` validates a whole configuration without serving (exit 0 or 2),
and a port in use is reported with the file and key it was set in, by --check and serve."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.live import SHIPPED_CFG, free_port, write_instruments
from tests.logon import make_certificate


@contextmanager
def held_port():
    """A port some other process listens on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


def config(directory: Path, fix_port: int | None, metrics_port: int, cfg: Path = SHIPPED_CFG,
           extra: str = "") -> Path:
    write_instruments(directory / "instruments.csv")
    override = f"SocketAcceptPort = {fix_port}\n" if fix_port is not None else ""
    path = directory / "ceguard.toml"
    path.write_text(f"""
[fix]
settings = "{cfg}"
[fix.overrides]
{override}FileStorePath = "store"
FileLogPath = "fixlog"
[surveillance]
instruments = "instruments.csv"
[journal]
path = "state/journal.sqlite"
[metrics]
listen = "127.0.0.1:{metrics_port}"
[firms]
FIRMA = "FIX.4.4:CEGUARD->FIRMA"
{extra}""")
    return path


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", "serve", *args],
                          capture_output=True, text=True, timeout=180)


def test_check_passes_a_good_configuration_without_serving(tmp_path):
    path = config(tmp_path, free_port(), free_port())
    result = run("--check", "--config", str(path))
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    answer = json.loads(line)
    assert answer["event"] == "config_ok"
    assert answer["config"] == str(path)
    assert "FIX.4.4:CEGUARD->FIRMA" in answer["sessions"]
    assert answer["instruments"] == 15
    assert len(answer["listeners"]) == 2
    assert not (tmp_path / "state").exists()  # no journal was opened


@pytest.mark.parametrize("which", ["check", "serve"])
def test_a_busy_fix_port_set_in_the_toml_names_the_toml(tmp_path, which):
    with held_port() as busy:
        path = config(tmp_path, busy, free_port())
        result = run(*(["--check"] if which == "check" else []), "--config", str(path))
    assert result.returncode == 2
    assert f"{path}: fix.overrides.SocketAcceptPort: port {busy} (the FIX acceptor) is in use" \
        in result.stderr
    assert f"ss -ltnp 'sport = :{busy}'" in result.stderr
    assert "serving" not in result.stdout


def test_a_busy_fix_port_set_in_the_cfg_names_the_cfg(tmp_path):
    with held_port() as busy:
        cfg = tmp_path / "venue.cfg"
        cfg.write_text(SHIPPED_CFG.read_text().replace("SocketAcceptPort=9878",
                                                       f"SocketAcceptPort={busy}"))
        for dictionary in ("FIX42.xml", "FIX44.xml", "FIXT11.xml", "FIX50SP2.xml"):
            (tmp_path / dictionary).symlink_to(SHIPPED_CFG.parent / dictionary)
        path = config(tmp_path, None, free_port(), cfg=cfg)
        result = run("--check", "--config", str(path))
    assert result.returncode == 2
    assert f"{cfg}: SocketAcceptPort: port {busy} (the FIX acceptor) is in use" in result.stderr


def test_a_busy_metrics_port_names_the_toml_key(tmp_path):
    with held_port() as busy:
        path = config(tmp_path, free_port(), busy)
        result = run("--check", "--config", str(path))
    assert result.returncode == 2
    assert f"{path}: metrics.listen: port {busy} (metrics, /livez and /readyz) is in use" \
        in result.stderr


def test_check_finds_a_certificate_and_key_that_do_not_match(tmp_path):
    cert, _ = make_certificate(tmp_path, "server")
    _, other_key = make_certificate(tmp_path, "other")
    path = config(tmp_path, free_port(), free_port(),
                  extra=f'[tls]\ncertificate = "{cert}"\nkey = "{other_key}"\n')
    result = run("--check", "--config", str(path))
    assert result.returncode == 2
    assert f"{path}: tls.certificate / tls.key: are not a matching PEM certificate and key" \
        in result.stderr


def test_check_finds_a_firm_mapped_to_no_session(tmp_path):
    path = config(tmp_path, free_port(), free_port(),
                  extra='FIRMC = "FIX.4.4:CEGUARD->FIRMC"\n')
    result = run("--check", "--config", str(path))
    assert result.returncode == 2
    assert f"{path}: firms.FIRMC: names session FIX.4.4:CEGUARD->FIRMC" in result.stderr
