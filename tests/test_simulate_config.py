"""`ceguard simulate --config`: it plays the counterparties a config names, not hard-coded
ones (its CompIDs, FIX versions, ports and firms come from the config's sessions)."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.live import ROOT, Server, free_port, journal_rows

SAMPLE_INSTRUMENTS = ROOT / "engine" / "data" / "sample_instruments.csv"
DICTIONARIES = ROOT / "fix_configs"


def _write_config(server: Server) -> None:
    """An acceptor SURV with a matching engine VENUE7 on FIX.4.4 and FIXT.1.1, and firms
    ALPHA (FIX.4.4) and BETA (FIX.4.2) whose PartyIDs are not their CompIDs."""
    cfg = server.directory / "venue.cfg"
    cfg.write_text(f"""[DEFAULT]
ConnectionType=acceptor
SocketAcceptPort={server.fix_port}
SocketReuseAddress=Y
NonStopSession=Y
PersistMessages=Y
FileStorePath=store
FileLogPath=fixlog
UseDataDictionary=Y
ValidateUserDefinedFields=N
TimestampPrecision=6

[SESSION]
BeginString=FIX.4.4
SenderCompID=SURV
TargetCompID=VENUE7
DataDictionary={DICTIONARIES / 'FIX44.xml'}

[SESSION]
BeginString=FIXT.1.1
SenderCompID=SURV
TargetCompID=VENUE7
DefaultApplVerID=FIX.5.0SP2
TransportDataDictionary={DICTIONARIES / 'FIXT11.xml'}
AppDataDictionary={DICTIONARIES / 'FIX50SP2.xml'}

[SESSION]
BeginString=FIX.4.4
SenderCompID=SURV
TargetCompID=ALPHA
DataDictionary={DICTIONARIES / 'FIX44.xml'}

[SESSION]
BeginString=FIX.4.2
SenderCompID=SURV
TargetCompID=BETA
DataDictionary={DICTIONARIES / 'FIX42.xml'}
""")
    server.config.write_text(f"""
[fix]
settings = "venue.cfg"
[surveillance]
instruments = "{SAMPLE_INSTRUMENTS}"
[journal]
path = "{server.journal_name}"
[metrics]
listen = "127.0.0.1:{server.metrics_port}"
[firms]
P-ALPHA = "FIX.4.4:SURV->ALPHA"
P-BETA = "FIX.4.2:SURV->BETA"
""")


def test_simulate_plays_the_sessions_of_its_config(tmp_path):
    server = Server(tmp_path, free_port(), free_port())
    _write_config(server)
    server.start()
    try:
        run = subprocess.run(
            [sys.executable, "-m", "engine", "simulate", "--config", str(server.config),
             "--matches", "40", "--rate", "1000", "--wait", "3",
             "--state-dir", str(tmp_path / "sim")],
            cwd=ROOT, capture_output=True, text=True, timeout=120)
    finally:
        server.stop()
    assert run.returncode == 0, run.stderr
    assert "FIX.4.4:VENUE7->SURV, FIXT.1.1:VENUE7->SURV" in run.stdout
    received = dict(re.findall(r"(P-ALPHA|P-BETA) (\d+)", run.stdout.splitlines()[-1]))
    assert int(received["P-ALPHA"]) > 0 and int(received["P-BETA"]) > 0, run.stdout
    # Fills came in on both drop-copy sessions; busts went to both firms' sessions.
    fill_sessions = {row[0] for row in journal_rows(server, "SELECT DISTINCT session FROM fills")}
    assert fill_sessions == {"FIX.4.4:SURV->VENUE7", "FIXT.1.1:SURV->VENUE7"}
    bust_sessions = {row[0] for row in journal_rows(
        server, "SELECT DISTINCT session FROM busts WHERE status = 'sent'")}
    assert {"FIX.4.4:SURV->ALPHA", "FIX.4.2:SURV->BETA"} <= bust_sessions


def test_simulate_names_a_version_the_config_does_not_have(tmp_path):
    server = Server(tmp_path, free_port(), free_port())
    _write_config(server)
    run = subprocess.run(
        [sys.executable, "-m", "engine", "simulate", "--config", str(server.config),
         "--versions", "FIX.4.2"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "no drop-copy session of that version (it has FIX.4.4, FIX.5.0SP2)" in run.stderr
