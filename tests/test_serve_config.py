"""The engine config and QuickFIX settings of `ceguard serve`: schema, paths, errors (exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import jsonschema
import pytest

from engine.config import DEFAULT_CONFIG, load_config
from engine.errors import ConfigError
from engine.fix.settings import load_session_settings
from tests.live import free_port

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "schemas" / "engine-config.schema.json").read_text())
SHIPPED = [DEFAULT_CONFIG, ROOT / "deploy" / "docker" / "ceguard.toml"]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.parent.name)
def test_shipped_engine_configs_match_the_schema(path):
    jsonschema.validate(tomllib.loads(path.read_text()), SCHEMA)


def test_default_config_resolves_against_its_own_folder():
    config = load_config()
    assert config.fix_settings == ROOT / "fix_configs" / "ceguard.cfg"
    assert config.instruments == ROOT / "engine" / "data" / "sample_instruments.csv"
    assert config.journal == ROOT / "var" / "journal.sqlite"
    assert (config.metrics_host, config.metrics_port) == ("127.0.0.1", 9879)
    assert config.settle_seconds == 0
    assert config.firms == {"FIRMA": "FIX.4.4:CEGUARD->FIRMA", "FIRMB": "FIX.4.4:CEGUARD->FIRMB"}


def test_shipped_sessions_dictionaries_and_overrides(tmp_path):
    settings = load_session_settings(ROOT / "fix_configs" / "ceguard.cfg",
                                     {"SocketAcceptPort": "7001", "FileStorePath": "st",
                                      "AllowedRemoteAddresses": ""}, tmp_path,
                                     firm_sessions=frozenset({"FIX.4.4:CEGUARD->FIRMA",
                                                              "FIX.4.4:CEGUARD->FIRMB"}))
    assert settings.sessions == ["FIX.4.4:CEGUARD->MATCHING1", "FIX.4.2:CEGUARD->MATCHING1",
                                 "FIXT.1.1:CEGUARD->MATCHING1", "FIX.4.4:CEGUARD->FIRMA",
                                 "FIX.4.4:CEGUARD->FIRMB"]
    assert "SocketAcceptPort=7001" in settings.text
    assert f"FileStorePath={tmp_path / 'st'}" in settings.text
    assert "AllowedRemoteAddresses" not in settings.text
    # The firms' sessions keep the cfg's dictionary (drop copies get a lenient copy).
    assert f"DataDictionary={ROOT / 'fix_configs' / 'FIX44.xml'}" in settings.text
    assert (tmp_path / "st").is_dir()


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "engine.toml"
    path.write_text(body)
    return path


GOOD = f"""
[fix]
settings = "{ROOT / 'fix_configs' / 'ceguard.cfg'}"
[journal]
path = "j.sqlite"
"""


@pytest.mark.parametrize("extra, key, fix", [
    ("[surveillance]\nsettle_seconds = -1\n", "surveillance.settle_seconds", "settle_seconds"),
    ("[metrics]\nlisten = \"9879\"\n", "metrics.listen", "host:port"),
    ("[journal2]\n", "[journal2]", "use only"),
    ("[surveillance]\ninstruments = \"missing.csv\"\n", "surveillance.instruments",
     "existing file"),
    ("[firms]\nFIRMA = \"FIRMA\"\n", "firms.FIRMA", "FIX.4.4:CEGUARD->FIRMA"),
])
def test_engine_config_errors_name_key_and_fix(tmp_path, extra, key, fix):
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, GOOD + extra))
    assert error.value.key == key
    assert fix in error.value.fix


def test_session_settings_errors_name_the_session_and_key(tmp_path):
    cfg = tmp_path / "bad.cfg"
    cfg.write_text("[DEFAULT]\nConnectionType=acceptor\nSocketAcceptPort=9\n[SESSION]\n"
                   "BeginString=FIX.4.4\nSenderCompID=A\nTargetCompID=B\n"
                   "DataDictionary=nowhere.xml\n")
    with pytest.raises(ConfigError) as error:
        load_session_settings(cfg, {}, tmp_path)
    assert error.value.key == "[SESSION] #1 DataDictionary"
    assert str(tmp_path / "nowhere.xml") in error.value.problem


def run_serve(config: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", "serve", "--config", str(config)],
                          capture_output=True, text=True, timeout=120)


def test_a_firm_mapped_to_an_unknown_session_stops_serve_with_exit_2(tmp_path):
    config = write(tmp_path, GOOD + "[firms]\nFIRMC = \"FIX.4.4:CEGUARD->FIRMC\"\n")
    result = run_serve(config)
    assert result.returncode == 2
    assert f"{config}: firms.FIRMC: names session FIX.4.4:CEGUARD->FIRMC" in result.stderr
    assert "Fix:" in result.stderr


def test_a_missing_config_file_stops_serve_with_exit_2(tmp_path):
    result = run_serve(tmp_path / "nope.toml")
    assert result.returncode == 2
    assert "nope.toml: (file): cannot be read" in result.stderr


def test_a_journal_that_cannot_be_opened_stops_serve_with_exit_2(tmp_path):
    (tmp_path / "blocker").write_text("")  # a file where the journal's folder should be
    config = write(tmp_path, GOOD.replace('path = "j.sqlite"', 'path = "blocker/j.sqlite"')
                   + f'[metrics]\nlisten = "127.0.0.1:{free_port()}"\n')
    result = run_serve(config)
    assert result.returncode == 2
    assert f"{config}: journal.path: cannot open or read the journal" in result.stderr
    assert "Fix: check that its folder is writable" in result.stderr


def test_a_fix_log_that_cannot_be_opened_stops_serve_with_exit_2(tmp_path):
    # QuickFIX's own FileLog opens the files; a folder where one should be stops it.
    (tmp_path / "fixlog" / "GLOBAL.messages.current.log").mkdir(parents=True)
    config = write(tmp_path, GOOD + f'[metrics]\nlisten = "127.0.0.1:{free_port()}"\n'
                   '[fix.overrides]\nFileLogPath = "fixlog"\nFileStorePath = "store"\n')
    result = run_serve(config)
    assert result.returncode == 2
    assert "FileLogPath / FileStorePath: QuickFIX cannot open its files" in result.stderr
    assert "GLOBAL.messages.current.log" in result.stderr
    assert "Fix: make them directories ceguard can write" in result.stderr
