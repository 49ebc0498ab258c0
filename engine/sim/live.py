"""`ceguard simulate`: the matching engines and firms of an engine config, as real
QuickFIX initiators.

The matching engines send drop copies (both sides of every match, 880/1057/453) over
their sessions (engine/sim/topology.py: every acceptor session that is not a firm's),
spreading symbols over them, with injected erroneous events; the firms ([firms] in the
config) print the busts they receive. Sequence numbers persist in --state-dir, like a
real counterparty's, so runs can follow each other against the same acceptor.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import quickfix as fix

from engine.errors import ConfigError
from engine.fix.busts import fields_of
from engine.sim.dropcopy import DropCopyStream, Fill, drop_copy_body, fix_time
from engine.sim.topology import SimSession, read_topology

# The CompIDs of the shipped cfg (fix_configs/ceguard.cfg), for tests that build sessions.
ENGINE = "MATCHING1"
ACCEPTOR = "CEGUARD"
DICTIONARIES = Path(__file__).resolve().parent.parent.parent / "fix_configs"
_PARTY_TAGS = {448, 447, 452}
LOGON_TIMEOUT = 15.0


def session_block(begin: str, sender: str, target: str) -> str:
    lines = ["[SESSION]", f"BeginString={begin}", f"SenderCompID={sender}",
             f"TargetCompID={target}"]
    if begin == "FIXT.1.1":
        lines += ["DefaultApplVerID=FIX.5.0SP2",
                  f"TransportDataDictionary={DICTIONARIES / 'FIXT11.xml'}",
                  f"AppDataDictionary={DICTIONARIES / 'FIX50SP2.xml'}"]
    else:
        name = "FIX42.xml" if begin == "FIX.4.2" else "FIX44.xml"
        lines.append(f"DataDictionary={DICTIONARIES / name}")
    return "\n".join(lines)


def initiator_settings(host: str, port: int, state_dir: Path,
                       sessions: list[tuple[str, str, str]]) -> fix.SessionSettings:
    """Initiator settings for (BeginString, SenderCompID, TargetCompID) sessions."""
    settings = fix.SessionSettings()
    settings.setFromString(initiator_settings_text(host, port, state_dir, sessions))
    return settings


def initiator_settings_text(host: str, port: int, state_dir: Path,
                            sessions: list[tuple[str, str, str]], default: bool = True) -> str:
    """The settings' text; `default` starts it with the [DEFAULT] section. Each session
    names its own host and port, so sessions to different acceptor ports can share it."""
    text = f"""[DEFAULT]
ConnectionType=initiator
HeartBtInt=5
ReconnectInterval=1
NonStopSession=Y
ResetOnLogon=N
ResetOnLogout=N
ResetOnDisconnect=N
PersistMessages=Y
FileStorePath={state_dir / 'store'}
FileLogPath={state_dir / 'fixlog'}
UseDataDictionary=Y
ValidateUserDefinedFields=N
TimestampPrecision=6
""" if default else ""
    return text + "".join(f"\n{session_block(*s)}\nSocketConnectHost={host}\n"
                          f"SocketConnectPort={port}\n" for s in sessions)


class Peer(fix.Application):
    """A counterparty: records logons and the application messages it receives."""

    def __init__(self, on_message=None) -> None:
        super().__init__()
        self.on_message = on_message
        self.received: list[tuple[str, str]] = []  # (session id, raw message)
        self._logged_on: set[str] = set()
        self._lock = threading.Lock()

    def logged_on(self, session: str) -> bool:
        with self._lock:
            return session in self._logged_on

    def messages(self, session: str | None = None) -> list[str]:
        with self._lock:
            return [raw for s, raw in self.received if session is None or s == session]

    def onCreate(self, session_id):
        pass

    def onLogon(self, session_id):
        with self._lock:
            self._logged_on.add(session_id.toString())

    def onLogout(self, session_id):
        with self._lock:
            self._logged_on.discard(session_id.toString())

    def toAdmin(self, message, session_id):
        pass

    def fromAdmin(self, message, session_id):
        pass

    def toApp(self, message, session_id):
        pass

    def fromApp(self, message, session_id):
        try:
            raw = message.toString()
            session = session_id.toString()
            with self._lock:
                self.received.append((session, raw))
            if self.on_message is not None:
                self.on_message(session, raw)
        except Exception as exc:  # never let an exception reach QuickFIX
            print(f"simulate: cannot handle a message: {exc}", file=sys.stderr)


class Initiator:
    """A started QuickFIX SocketInitiator with its Peer application."""

    def __init__(self, settings: fix.SessionSettings, peer: Peer) -> None:
        self.peer = peer
        self.settings = settings
        self._initiator = fix.SocketInitiator(peer, fix.FileStoreFactory(settings), settings,
                                              fix.FileLogFactory(settings))
        self.session_ids = {sid.toString(): sid for sid in settings.getSessions()}
        self._initiator.start()

    def wait_logon(self, timeout: float = LOGON_TIMEOUT) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.peer.logged_on(s) for s in self.session_ids):
                return True
            time.sleep(0.05)
        return False

    def send(self, session: str, message: fix.Message) -> bool:
        return fix.Session.sendToTarget(message, self.session_ids[session])

    def stop(self) -> None:
        """Log out and destroy the sessions now: QuickFIX's registry of sessions is
        process-wide, and a stale initiator destroyed later would unregister a newer
        one's sessions of the same ids."""
        if self._initiator is not None:
            self._initiator.stop()
            self._initiator = None


def drop_copy(fill: Fill, begin_string: str, when: datetime | None = None,
              poss_dup: bool = False) -> fix.Message:
    """One fill's drop copy as a QuickFIX message for a session on `begin_string`.

    `poss_dup` marks a repeat (43=Y, OrigSendingTime 122 = the fill's time), as a
    matching engine's resend after a failover would.
    """
    moment = when or datetime.now(timezone.utc)
    version = "FIX.4.4" if begin_string == "FIXT.1.1" else begin_string
    message = fix.Message()
    header = message.getHeader()
    header.setField(35, "8")
    if begin_string == "FIXT.1.1":
        header.setField(1128, "9")
    if poss_dup:
        header.setField(43, "Y")
        header.setField(122, fix_time(fill.moment))
    party = None
    for tag, value in drop_copy_body(fill, version, fix_time(moment)):
        if tag == 453:
            party = fix.Group(453, 448)
        elif tag in _PARTY_TAGS:
            party.setField(tag, value)
        else:
            message.setField(tag, value)
    if party is not None:
        message.addGroup(party)
    return message


def live_scenario(stream: DropCopyStream, matches: int, cleared_event: bool
                  ) -> Iterator[Fill]:
    """Ordinary flow around the injected events (see engine.sim.dropcopy.scenario).

    The cleared multi-stock event (8 symbols 7% down, cleared by the 10% event row) is
    only meaningful with a settle window: with settle_seconds = 0 each print is busted
    before the event forms, so it is injected only on request.
    """
    # The sample instruments file lists these symbols with these closes.
    lev = stream.add_security("LEVX", "2", 100.0)
    fat = stream.add_security("FATF", "1", 60.0)
    busted = [stream.add_security(f"MSB{i}", "1", 20.0 + i) for i in range(8)]
    part = max(matches // 4, 1)
    yield from stream.normal(part)
    yield from stream.sweep(lev, ["98.00", "96.00", "94.01", "94.00", "90.00", "85.00"])
    yield from stream.normal(part)
    yield from stream.sweep(fat, ["66.00"], side="1")
    yield from stream.normal(part)
    yield from stream.event(busted, -0.25)  # beyond every band, in and out of hours
    if cleared_event:
        cleared = [stream.add_security(f"MSA{i}", "1", 60.0 + i) for i in range(8)]
        yield from stream.event(cleared, -0.07)
    yield from stream.normal(matches - 3 * part)


def print_bust(session: str, raw: str) -> None:
    fields = fields_of(raw.encode("latin-1"))
    firm = session.partition(":")[2].partition("->")[0]
    side = {"1": "buy", "2": "sell"}.get(fields.get(54, ""), fields.get(54))
    print(f"  {firm:<6} <- bust {fields.get(17)}: its {side} of {fields.get(32)} "
          f"{fields.get(55)} @ {fields.get(31)} is cancelled", flush=True)


def simulate(args: argparse.Namespace) -> int:
    """Play the matching engines and firms of the engine config `args.config`."""
    try:
        topology = read_topology(args.config)
    except ConfigError as exc:
        print(f"ceguard simulate: {exc}", file=sys.stderr)
        return 2
    engines = _chosen(topology.engines, args.versions)
    if isinstance(engines, str):
        print(f"ceguard simulate: {engines}", file=sys.stderr)
        return 2
    firm_sessions = list(topology.firms.values())
    port = args.port or engines[0].port
    state = Path(args.state_dir)
    firms = Initiator(_settings(args.host, args.port, state, firm_sessions), Peer(print_bust))
    engine = Initiator(_settings(args.host, args.port, state, engines), Peer())
    try:
        if not (firms.wait_logon() and engine.wait_logon()):
            print(f"ceguard simulate: no logon to {args.host}:{port} within "
                  f"{LOGON_TIMEOUT:.0f} s (is `ceguard serve` running on "
                  f"{topology.source}?)", file=sys.stderr)
            return 1
        sessions = [s.initiator_id for s in engines]
        print(f"simulate: logged on {', '.join(sessions)} and "
              f"{', '.join(firms.session_ids)}", flush=True)
        stream = DropCopyStream(symbols=args.symbols, firms=tuple(topology.firms),
                                id_prefix=f"{int(time.time() * 1000) % 10**10:x}-")
        sent = _stream(engine, sessions, live_scenario(stream, args.matches, args.cleared_event),
                       args.rate)
        print(f"simulate: sent {sent} drop copies; waiting {args.wait:.0f} s for busts",
              flush=True)
        time.sleep(args.wait)
        received = {party: len(firms.peer.messages(s.initiator_id))
                    for party, s in topology.firms.items()}
        venue = len(engine.peer.messages())
        print("simulate: busts received: " + ", ".join(f"{f} {n}" for f, n in received.items())
              + f", matching engines {venue}", flush=True)
    finally:
        engine.stop()
        firms.stop()
    return 0


def _chosen(engines: list[SimSession], versions: str | None) -> list[SimSession] | str:
    """The drop-copy sessions of --versions (all when not given), or why none fits."""
    if not versions:
        return engines
    wanted = [v.strip() for v in versions.split(",") if v.strip()]
    chosen = [s for s in engines if s.fix_version in wanted]
    missing = sorted(set(wanted) - {s.fix_version for s in chosen})
    if missing or not chosen:
        have = ", ".join(sorted({s.fix_version for s in engines}))
        return f"--versions {','.join(missing) or versions}: the config has no drop-copy " \
               f"session of that version (it has {have})"
    return chosen


def _settings(host: str, port: int | None, state: Path,
              sessions: list[SimSession]) -> fix.SessionSettings:
    """Initiator settings for `sessions`, each to its own acceptor port unless `port`."""
    text = "\n".join(initiator_settings_text(host, port or s.port, state,
                                             [(s.begin_string, s.counterparty, s.acceptor)],
                                             default=(i == 0))
                     for i, s in enumerate(sessions))
    settings = fix.SessionSettings()
    settings.setFromString(text)
    return settings


def _stream(engine: Initiator, sessions: list[str], fills: Iterator[Fill], rate: float) -> int:
    """Send at `rate` per second; a symbol always goes over the same session."""
    started = time.monotonic()
    sent = 0
    for fill in fills:
        session = sessions[zlib.crc32(fill.symbol.encode()) % len(sessions)]
        engine.send(session, drop_copy(fill, session.partition(":")[0]))
        sent += 1
        if sent % 250 == 0:
            print(f"simulate: {sent} drop copies sent", flush=True)
        delay = started + sent / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    return sent
