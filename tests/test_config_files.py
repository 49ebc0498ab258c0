"""Rulebook and instruments files: schemas, and errors that name the file, key and fix."""

import json
import subprocess
import sys
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from engine import codes
from engine.core.instruments import load_instruments
from engine.errors import ConfigError
from engine.rules.clock import session_of
from engine.rules.rulebook import load_rulebook, parse_rulebook

SCHEMAS = Path(__file__).parent.parent / "schemas"


def default_data() -> dict:
    return json.loads(resources.files("engine.rules").joinpath("default_rulebook.json").read_text())


def test_shipped_rulebook_matches_its_schema():
    schema = json.loads((SCHEMAS / "rulebook.schema.json").read_text())
    jsonschema.validate(default_data(), schema)


def test_shipped_instruments_match_their_schema():
    schema = json.loads((SCHEMAS / "instruments.schema.json").read_text())
    import csv
    with open(Path(__file__).parent.parent / "engine/data/sample_instruments.csv") as f:
        rows = list(csv.DictReader(f))
    assert rows
    for row in rows:
        jsonschema.validate(row, schema)


@pytest.mark.parametrize("change, key, fix", [
    (lambda d: d.pop("tiers"), "tiers", "add 'tiers'"),
    (lambda d: d["tiers"][0].update(regular_pct="ten"), "tiers[0].regular_pct", "decimal string"),
    (lambda d: d["tiers"][1].update(up_to="20.00"), "tiers[1].up_to", "increasing order"),
    (lambda d: d["tiers"][2].update(up_to="99"), "tiers[2].up_to", "open-ended"),
    (lambda d: d.update(comparison="maybe"), "comparison", "inclusive, exclusive"),
    (lambda d: d["multi_stock"].update(window_seconds=0), "multi_stock.window_seconds", ">= 1"),
    (lambda d: d["venues"]["default"].update(timezone="Mars/Olympus"),
     "venues.default.timezone", "America/New_York"),
    (lambda d: d["venues"]["default"].update(regular_close="09:00"),
     "venues.default.regular_close", "open < close"),
    (lambda d: d.update(colour="blue"), "colour", "remove it"),
])
def test_rulebook_errors_name_key_and_fix(change, key, fix):
    data = default_data()
    change(data)
    with pytest.raises(ConfigError) as caught:
        parse_rulebook(data, "my_rules.json")
    assert caught.value.path == "my_rules.json"
    assert caught.value.key == key
    assert fix in caught.value.fix


def test_bad_rulebook_stops_the_command_with_exit_code_2(tmp_path):
    bad = tmp_path / "rules.json"
    bad.write_text('{"name": "x",')
    result = subprocess.run([sys.executable, "-m", "engine", "check", "--rulebook", str(bad),
                             "--reference-price", "10", "--price", "11"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert str(bad) in result.stderr and "not valid JSON" in result.stderr
    assert "Fix:" in result.stderr


@pytest.mark.parametrize("body, key, problem", [
    ("sym,leverage\nX,2\n", "line 1 (header)", "no 'symbol' column"),
    ("symbol,leverage,prev_close\nX,two,10\n", "line 2 column leverage", "not a plain decimal"),
    ("symbol,leverage,prev_close\nX,0,10\n", "line 2 column leverage", "out of range"),
    ("symbol,leverage,prev_close\nX,12,10\n", "line 2 column leverage", "out of range"),
    ("symbol,leverage,prev_close\nX,1,-4\n", "line 2 column prev_close", "negative"),
    ("symbol,leverage,prev_close\nX,1,4\nX,1,5\n", "line 3 column symbol", "first on line 2"),
])
def test_instruments_errors_name_line_and_column(tmp_path, body, key, problem):
    path = tmp_path / "inst.csv"
    path.write_text(body)
    with pytest.raises(ConfigError) as caught:
        load_instruments(path)
    assert caught.value.key == key
    assert problem in caught.value.problem


def test_instruments_defaults_and_inverse_leverage(tmp_path):
    path = tmp_path / "inst.csv"
    path.write_text("symbol,leverage,prev_close,name\nSQQQ,-3,15.20,ProShares\nAAPL,,,Apple\n")
    sqqq, aapl = load_instruments(path)
    assert (sqqq.leverage, sqqq.prev_close) == (-300, 15_200_000_000)
    assert (aapl.leverage, aapl.prev_close) == (100, 0)


def _session(when: datetime, venue: int = 0, rulebook=None) -> str:
    rulebook = rulebook or load_rulebook()
    _, hours, change_at, offsets = rulebook.clock_arrays()
    ns = int(when.timestamp()) * 10**9
    code = session_of(ns, change_at[venue], offsets[venue], hours[venue, 0], hours[venue, 1])
    return codes.SESSION_NAMES[code]


@pytest.mark.parametrize("utc, session", [
    (datetime(2026, 1, 15, 14, 29, 59), "pre"),      # 09:29:59 EST
    (datetime(2026, 1, 15, 14, 30, 0), "regular"),   # 09:30:00 EST
    (datetime(2026, 1, 15, 20, 59, 59), "regular"),  # 15:59:59 EST
    (datetime(2026, 1, 15, 21, 0, 0), "post"),       # 16:00:00 EST
    (datetime(2026, 7, 15, 13, 30, 0), "regular"),   # 09:30 EDT: daylight saving
    (datetime(2026, 7, 15, 14, 29, 0), "regular"),
    (datetime(2026, 7, 15, 20, 0, 0), "post"),       # 16:00 EDT
    (datetime(2026, 3, 9, 13, 30, 0), "regular"),    # first Monday after the March change
    (datetime(2026, 11, 2, 13, 30, 0), "pre"),       # first Monday after the November change
])
def test_venue_clock_follows_new_york_time_with_dst(utc, session):
    assert _session(utc.replace(tzinfo=timezone.utc)) == session


def test_a_venue_can_have_its_own_clock():
    data = default_data()
    data["venues"]["XCHI"] = {"timezone": "America/Chicago", "regular_open": "08:30",
                              "regular_close": "15:00"}
    rulebook = parse_rulebook(data, "test")
    names = [v.name for v in rulebook.venues]
    when = datetime(2026, 1, 15, 20, 30, tzinfo=timezone.utc)  # 14:30 CST, 15:30 EST
    assert _session(when, names.index("XCHI"), rulebook) == "regular"
    when = datetime(2026, 1, 15, 21, 5, tzinfo=timezone.utc)  # 15:05 CST
    assert _session(when, names.index("XCHI"), rulebook) == "post"
    assert _session(when, 0, rulebook) == "post"
