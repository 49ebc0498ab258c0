"""Running `ceguard serve` for real (a subprocess on loopback) and FIX peers against it."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import quickfix as fix

from engine.sim.dropcopy import Fill
from engine.sim.live import ACCEPTOR, ENGINE, Initiator, Peer, drop_copy, initiator_settings

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_CFG = ROOT / "fix_configs" / "ceguard.cfg"
STOCK_SPECS = Path(sys.prefix) / "share" / "quickfix"  # quickfix's own dictionaries
SESSIONS = {"FIX.4.2": "FIX.4.2", "FIX.4.4": "FIX.4.4", "FIX.5.0SP2": "FIXT.1.1"}
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout: float = 15.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@dataclass
class Server:
    """A running `ceguard serve` with its own port, journal, metrics and log."""

    directory: Path
    fix_port: int
    metrics_port: int
    process: subprocess.Popen | None = None
    journal_name: str = "journal.sqlite"  # relative to `directory`
    synchronous: str = "full"
    stderr_path: Path | None = None  # stderr apart from stdout's JSON lines (default: mixed)

    @property
    def config(self) -> Path:
        return self.directory / "ceguard.toml"

    @property
    def journal(self) -> Path:
        return self.directory / self.journal_name

    @property
    def log_path(self) -> Path:
        return self.directory / "serve.log"

    def write_config(self, instruments: Path, settle_seconds: float = 0) -> None:
        self.config.write_text(f"""
[fix]
settings = "{SHIPPED_CFG}"
[fix.overrides]
SocketAcceptPort = {self.fix_port}
FileStorePath = "store"
FileLogPath = "fixlog"
[surveillance]
instruments = "{instruments}"
settle_seconds = {settle_seconds}
[journal]
path = "{self.journal_name}"
synchronous = "{self.synchronous}"
[metrics]
listen = "127.0.0.1:{self.metrics_port}"
[firms]
FIRMA = "FIX.4.4:CEGUARD->FIRMA"
FIRMB = "FIX.4.4:CEGUARD->FIRMB"
""")

    def start(self) -> None:
        starts = len(self.events("serving"))  # the log is appended to across restarts
        log = open(self.log_path, "a")
        errors = open(self.stderr_path, "a") if self.stderr_path else subprocess.STDOUT
        self.process = subprocess.Popen(
            [sys.executable, "-m", "engine", "serve", "--config", str(self.config)],
            stdout=log, stderr=errors, cwd=self.directory,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        log.close()
        if self.stderr_path:
            errors.close()
        wait_for(lambda: len(self.events("serving")) > starts or self.process.poll() is not None,
                 START_TIMEOUT, "ceguard serve to start")
        assert self.process.poll() is None, self.log_path.read_text()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()  # its log ends with its threads' stacks (serve.py)
                raise AssertionError("ceguard serve did not stop within 30 s of SIGTERM; "
                                     f"its log ends:\n{self.log_path.read_text()[-20000:]}")

    def kill(self) -> None:
        """SIGKILL: no logout, no journal close, nothing flushed that was not already."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def events(self, name: str | None = None) -> list[dict]:
        if not self.log_path.exists():
            return []
        lines = []
        for line in self.log_path.read_text().splitlines():
            if line.startswith("{"):
                record = json.loads(line)
                if name is None or record.get("event") == name:
                    lines.append(record)
        return lines

    def scrape(self) -> str:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        # A generous timeout: a scrape is no latency test, and a loaded CI machine once
        # kept one waiting over 5 s (the server went on serving).
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.read().decode()

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of `name` whose labels include `labels`."""
        total = 0.0
        for line in self.scrape().splitlines():
            if not line.startswith(name + "{") and not line.startswith(name + " "):
                continue
            head, _, value = line.rpartition(" ")
            if all(f'{k}="{v}"' in head for k, v in labels.items()):
                total += float(value)
        return total


def start_server(directory: Path, settle_seconds: float = 0, **journal: str) -> Server:
    """A fresh `ceguard serve` in `directory`, on free ports, with the test instruments
    (`journal`: Server's journal_name and synchronous)."""
    write_instruments(directory / "instruments.csv")
    server = Server(directory, free_port(), free_port(), **journal)
    server.write_config(directory / "instruments.csv", settle_seconds)
    server.start()
    return server


def firms(server: Server, state: Path) -> Initiator:
    settings = initiator_settings("127.0.0.1", server.fix_port, state,
                                  [("FIX.4.4", firm, ACCEPTOR) for firm in ("FIRMA", "FIRMB")])
    return Initiator(settings, Peer())


def matching_engine(server: Server, state: Path, versions=tuple(SESSIONS),
                    peer: Peer | None = None) -> Initiator:
    settings = initiator_settings("127.0.0.1", server.fix_port, state,
                                  [(SESSIONS[v], ENGINE, ACCEPTOR) for v in versions])
    return Initiator(settings, peer or Peer())


@contextmanager
def logged_on(server: Server, directory: Path, versions=tuple(SESSIONS)):
    """`server` with the matching engine and both firms logged on; all stopped after."""
    firm_peers = firms(server, directory / "firm-peers")
    engine = matching_engine(server, directory / "venue-peer", versions=versions)
    try:
        assert firm_peers.wait_logon() and engine.wait_logon()
        yield server, engine, firm_peers
    finally:
        engine.stop()
        firm_peers.stop()
        server.stop()


def wire(message: fix.Message, begin: str) -> str:
    """`message` as QuickFIX would put it on the wire (header completed as sendToTarget does)."""
    header = message.getHeader()
    header.setField(8, begin)
    header.setField(49, "CEGUARD")
    header.setField(56, "FIRMA")
    header.setField(34, "3")
    header.setField(52, "20260115-15:00:01.000")
    return message.toString()


def fields(raw: str) -> dict[int, str]:
    result: dict[int, str] = {}
    for part in raw.split("\x01"):
        tag, sep, value = part.partition("=")
        if sep and tag.isdigit():
            result.setdefault(int(tag), value)
    return result


def validate(raw: str, begin: str, dictionaries: Path) -> None:
    """Parse and validate a received message against a dictionary set (raises if invalid)."""
    if begin == "FIXT.1.1":
        transport = fix.DataDictionary(str(dictionaries / "FIXT11.xml"))
        application = fix.DataDictionary(str(dictionaries / "FIX50SP2.xml"))
        message = fix.Message(raw, transport, application, True)
        fix.DataDictionary.validate(message, transport, application)
    else:
        name = "FIX42.xml" if begin == "FIX.4.2" else "FIX44.xml"
        dictionary = fix.DataDictionary(str(dictionaries / name))
        dictionary.validate(fix.Message(raw, dictionary, True))


def write_instruments(path) -> None:
    rows = ["symbol,leverage,prev_close"]
    rows += [f"LEVX{v[4:].replace('.', '')},2,100.00" for v in SESSIONS]
    rows += ["FAT,1,60.00", "DUPE,1,60.00", "AWAY,1,60.00", "AFTER,1,60.00"]
    rows += [f"EVT{i},1,{60 + i}.00" for i in range(8)]
    path.write_text("\n".join(rows) + "\n")


def sides(match_id: str, symbol: str, price: str, order: str, aggressor_side: str = "2",
          seller: str = "FIRMA", buyer: str = "FIRMB") -> list[Fill]:
    """Aggressor's execution first, then the passive one; both firms' PartyIDs."""
    moment = datetime.now(timezone.utc)
    passive_side = "1" if aggressor_side == "2" else "2"
    firm = {"1": buyer, "2": seller}
    return [Fill(f"A-{match_id}", order, match_id, symbol, aggressor_side, price, 100, True,
                 firm[aggressor_side], moment),
            Fill(f"P-{match_id}", f"R-{match_id}", match_id, symbol, passive_side, price, 100,
                 False, firm[passive_side], moment)]


def send(engine, version: str, fills: list[Fill], **kw) -> None:
    session = f"{SESSIONS[version]}:MATCHING1->CEGUARD"
    for fill in fills:
        assert engine.send(session, drop_copy(fill, SESSIONS[version], **kw))


def busts_for(peer, session: str, symbol: str) -> list[dict[int, str]]:
    return [fields(raw) for raw in peer.messages(session) if fields(raw).get(55) == symbol]


def journal_rows(server: Server, sql: str, *args) -> list[tuple]:
    with sqlite3.connect(server.journal) as db:
        return db.execute(sql, args).fetchall()
