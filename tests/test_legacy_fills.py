"""ExecType 150=1/2 by FIX version in `ceguard replay`, and the engine config's setting.

(The live part, with real QuickFIX sessions: tests/test_legacy_fills_live.py.)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine.config import load_config
from engine.errors import ConfigError
from engine.sim.dropcopy import encode

from conftest import by_exec, write_log

ROOT = Path(__file__).resolve().parent.parent


def _fill(exec_id: str, begin: str, exec_type: str, trans_type: str | None = None,
          ord_status: str = "2", price: str = "10.00") -> str:
    fields = [(35, "8"), (52, "20260115-15:00:00.000"), (17, exec_id), (37, "O1"),
              (39, ord_status), (55, "XYZ"), (54, "1"), (31, price), (32, "100"),
              (60, "20260115-15:00:00.000"), (150, exec_type)]
    if trans_type is not None:
        fields.append((20, trans_type))
    return encode(begin, fields)


MESSAGES = [
    _fill("F42-20", "FIX.4.2", "2", "0"),      # a FIX.4.2 fill
    _fill("F42-P1", "FIX.4.2", "1", None),     # 4.2 partial fill, 20 absent
    _fill("F41", "FIX.4.1", "2", "0"),
    _fill("L43", "FIX.4.3", "2"),              # 4.3+: not fills by the spec
    _fill("L44", "FIX.4.4", "1"),
    _fill("L50", "FIXT.1.1", "2"),
    _fill("ACK", "FIX.4.4", "0", ord_status="0"),   # order acknowledgement
    _fill("ACK42", "FIX.4.2", "0", "0", ord_status="0"),
    _fill("T44", "FIX.4.4", "F"),
]


def test_legacy_exec_types_on_fix43_and_later_are_counted_not_judged(tmp_path, replay):
    records, summary = replay(write_log(tmp_path / "a.log", MESSAGES))
    assert sorted(r["exec_id"] for r in records) == ["F41", "F42-20", "F42-P1", "T44"]
    assert all(r["verdict"] != "rejected" for r in records)
    assert "not judged: 3 ExecutionReports with ExecType 150=1/2 on FIX.4.3+" in summary
    assert "--legacy-fills" in summary


def test_with_legacy_fills_they_are_judged_as_fills(tmp_path):
    log = write_log(tmp_path / "a.log", MESSAGES)
    result = subprocess.run([Path(sys.executable).parent / "ceguard", "replay", str(log),
                             "--legacy-fills", "--format", "csv"],
                            capture_output=True, text=True, check=True)
    judged = [line.split(",")[1] for line in result.stdout.splitlines()[1:]]
    assert sorted(judged) == ["F41", "F42-20", "F42-P1", "L43", "L44", "L50", "T44"]
    assert "not judged" not in result.stderr


def test_a_legacy_fill_without_last_px_is_counted_not_rejected(tmp_path, replay):
    """On 4.4 a 150=2 is no fill: its missing LastPx is no reason to reject it."""
    no_price = _fill("L44", "FIX.4.4", "2").replace("\x0131=10.00", "")
    records, summary = replay(write_log(tmp_path / "a.log", [no_price]))
    assert records == [] and "not judged: 1" in summary
    records, _ = replay(write_log(tmp_path / "b.log", [_fill("P42", "FIX.4.2", "2", "0")
                                                       .replace("\x0131=10.00", "")]))
    assert [(r["verdict"], r["reason_code"]) for r in records] == [("rejected", "missing_field")]


def _config(tmp_path: Path, sessions: str) -> Path:
    path = tmp_path / "ceguard.toml"
    path.write_text(f'{sessions}\n[fix]\nsettings = "{ROOT / "fix_configs" / "ceguard.cfg"}"\n'
                    f'[journal]\npath = "j.sqlite"\n')
    return path


def test_the_setting_is_read_per_session(tmp_path):
    config = load_config(_config(tmp_path, '[sessions."FIXT.1.1:CEGUARD->MATCHING1"]\n'
                                           'legacy_fills = true\n'
                                           '[sessions."FIX.4.4:CEGUARD->MATCHING1"]\n'
                                           'legacy_fills = false\n'))
    assert config.legacy_fill_sessions == frozenset({"FIXT.1.1:CEGUARD->MATCHING1"})
    assert load_config(_config(tmp_path, "")).legacy_fill_sessions == frozenset()


@pytest.mark.parametrize("sessions, key, problem", [
    ('[sessions."MATCHING1"]\nlegacy_fills = true\n', 'sessions."MATCHING1"',
     "is not a QuickFIX session id"),
    ('[sessions."FIX.4.4:CEGUARD->MATCHING1"]\nlegacy_fills = 1\n',
     'sessions."FIX.4.4:CEGUARD->MATCHING1".legacy_fills', "must be true or false"),
    ('[sessions."FIX.4.4:CEGUARD->MATCHING1"]\nlegacy_fill = true\n',
     'sessions."FIX.4.4:CEGUARD->MATCHING1".legacy_fill', "is not a known key"),
    ('sessions = 3\n', "sessions", "must be a table"),
])
def test_setting_errors_name_file_key_and_fix(tmp_path, sessions, key, problem):
    path = _config(tmp_path, sessions)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    text = str(error.value)
    assert str(path) in text and key in text and problem in text, text
