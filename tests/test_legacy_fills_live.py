"""ExecType 150=1/2 by FIX version, live: real `ceguard serve`, real QuickFIX initiators.

150=1/2 are fills on FIX.4.0-4.2 only. On FIX.4.3+ and FIXT a session gets no decision
for them, but never silently: each is counted (ceguard_legacy_exec_type_total{session})
and the first per session is logged with the setting that has them judged, which is
what the FIXT session of this test has. An order acknowledgement (150=0, 39=0) gets no
decision and no reject anywhere.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone

import quickfix as fix

from engine.sim.dropcopy import Fill
from engine.sim.live import drop_copy
from tests.live import (SESSIONS, Server, free_port, journal_rows, logged_on, wait_for,
                        write_instruments)

LEGACY_SETTING = '[sessions."FIXT.1.1:CEGUARD->MATCHING1"]\nlegacy_fills = true\n'
FIX44 = "FIX.4.4:CEGUARD->MATCHING1"


def _server(directory, extra: str) -> Server:
    directory.mkdir(exist_ok=True)
    write_instruments(directory / "instruments.csv")
    server = Server(directory, free_port(), free_port())
    server.write_config(directory / "instruments.csv")
    # QuickFIX's stock FIX.4.4 / 5.0 dictionaries reject 150=2 before ceguard sees it:
    # this test is about what ceguard does with the fills that reach it.
    text = server.config.read_text().replace('FileLogPath = "fixlog"\n',
                                             'FileLogPath = "fixlog"\nUseDataDictionary = "N"\n')
    server.config.write_text(text + extra)
    return server


def _fill(exec_id: str, symbol: str, price: str) -> Fill:
    return Fill(exec_id, f"O-{exec_id}", f"M-{exec_id}", symbol, "2", price, 100, True,
                "FIRMA", datetime.now(timezone.utc))


def _message(fill: Fill, version: str, exec_type: str, ord_status: str = "2") -> fix.Message:
    message = drop_copy(fill, SESSIONS[version])
    message.setField(150, exec_type)
    message.setField(39, ord_status)
    return message


def _decisions(server: Server) -> dict[str, dict]:
    records = [json.loads(r) for (r,) in journal_rows(server, "SELECT record FROM decisions")]
    return {r.get("exec_id"): r for r in records}


def test_legacy_exec_types_are_counted_logged_once_and_judged_where_the_session_says(tmp_path):
    server = _server(tmp_path, LEGACY_SETTING)
    server.start()
    with logged_on(server, tmp_path) as (server, engine, _):
        sends = [
            ("FIX.4.4", _message(_fill("L44-1", "LEVX44", "100.10"), "FIX.4.4", "2")),
            ("FIX.4.4", _message(_fill("L44-2", "LEVX44", "100.20"), "FIX.4.4", "1", "1")),
            ("FIX.4.4", _message(_fill("ACK-44", "LEVX44", "100.00"), "FIX.4.4", "0", "0")),
            ("FIX.4.2", _message(_fill("L42-1", "LEVX42", "100.10"), "FIX.4.2", "2")),
            ("FIX.5.0SP2", _message(_fill("L50-1", "LEVX50SP2", "100.10"), "FIX.5.0SP2", "2")),
            ("FIX.4.4", _message(_fill("F44-1", "LEVX44", "100.30"), "FIX.4.4", "F")),
        ]
        for version, message in sends:
            assert engine.send(f"{SESSIONS[version]}:MATCHING1->CEGUARD", message)
        wait_for(lambda: {"L42-1", "L50-1", "F44-1"} <= set(_decisions(server)), 30,
                 "the decisions of the fills")
        wait_for(lambda: server.metric("ceguard_legacy_exec_type_total", session=FIX44) == 2,
                 15, "the legacy ExecType counter")
        decisions = _decisions(server)
        # FIX.4.2 150=2 is a fill; FIXT 150=2 is judged because its session says so.
        assert decisions["L42-1"]["verdict"] == "stands"
        assert decisions["L50-1"]["verdict"] == "stands"
        # FIX.4.4 150=1/2: no decision, no reject; the order ack neither.
        assert not {"L44-1", "L44-2", "ACK-44"} & set(decisions)
        assert all(r["verdict"] != "rejected" for r in decisions.values())
        fills = journal_rows(server, "SELECT COUNT(*) FROM fills")[0][0]
        assert fills == len(sends)  # every message was journaled as received
        assert server.metric("ceguard_legacy_exec_type_total",
                             session="FIXT.1.1:CEGUARD->MATCHING1") == 0
        warnings = server.events("legacy_exec_type_not_judged")
        assert len(warnings) == 1, warnings  # once per session
        assert warnings[0]["session"] == FIX44
        assert f'[sessions."{FIX44}"] legacy_fills = true' in warnings[0]["setting"]


def _serve_fails(server: Server) -> str:
    result = subprocess.run([sys.executable, "-m", "engine", "serve", "--config",
                             str(server.config)], capture_output=True, text=True, timeout=120,
                            cwd=server.directory)
    assert result.returncode == 2, result.stderr
    return result.stderr


def test_legacy_fills_on_a_session_the_cfg_lacks_or_a_firm_stops_start_up(tmp_path):
    unknown = _server(tmp_path / "unknown",
                      '[sessions."FIX.4.4:CEGUARD->NOBODY"]\nlegacy_fills = true\n')
    message = _serve_fails(unknown)
    assert str(unknown.config) in message
    assert 'sessions."FIX.4.4:CEGUARD->NOBODY".legacy_fills' in message
    assert "does not define" in message and "FIX.4.4:CEGUARD->MATCHING1" in message

    firm = _server(tmp_path / "firm", '[sessions."FIX.4.4:CEGUARD->FIRMA"]\nlegacy_fills = true\n')
    assert "a firm's session" in _serve_fails(firm)

    wrong = _server(tmp_path / "wrong", '[sessions."FIXT.1.1:CEGUARD->MATCHING1"]\n'
                                         'legacy_fills = "yes"\n')
    assert "must be true or false" in _serve_fails(wrong)
