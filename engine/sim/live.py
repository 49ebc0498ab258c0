"""`ceguard simulate`: a matching engine and two firms as real QuickFIX initiators.

MATCHING1 sends drop copies (both sides of every match, 880/1057/453) over one session
per FIX version, spreading symbols over them, with injected erroneous events; FIRMA and
FIRMB print the busts they receive. Sequence numbers persist in --state-dir, like a
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

from engine.fix.busts import fields_of
from engine.sim.dropcopy import DropCopyStream, Fill, drop_copy_body, fix_time

ENGINE = "MATCHING1"
ACCEPTOR = "CEGUARD"
FIRMS = ("FIRMA", "FIRMB")
VERSIONS = {"FIX.4.4": "FIX.4.4", "FIX.4.2": "FIX.4.2", "FIX.5.0SP2": "FIXT.1.1"}
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
    default = f"""[DEFAULT]
ConnectionType=initiator
SocketConnectHost={host}
SocketConnectPort={port}
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
"""
    text = default + "\n".join("\n" + session_block(*s) for s in sessions) + "\n"
    settings = fix.SessionSettings()
    settings.setFromString(text)
    return settings


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
    versions = [v.strip() for v in args.versions.split(",") if v.strip()]
    unknown = [v for v in versions if v not in VERSIONS]
    if unknown or not versions:
        print(f"ceguard simulate: unknown --versions {unknown}; use {', '.join(VERSIONS)}",
              file=sys.stderr)
        return 2
    state = Path(args.state_dir)
    firms = Initiator(initiator_settings(args.host, args.port, state,
                                         [("FIX.4.4", f, ACCEPTOR) for f in FIRMS]),
                      Peer(print_bust))
    engine = Initiator(initiator_settings(args.host, args.port, state,
                                          [(VERSIONS[v], ENGINE, ACCEPTOR) for v in versions]),
                       Peer())
    try:
        if not (firms.wait_logon() and engine.wait_logon()):
            print(f"ceguard simulate: no logon to {args.host}:{args.port} within "
                  f"{LOGON_TIMEOUT:.0f} s (is `ceguard serve` running?)", file=sys.stderr)
            return 1
        sessions = [f"{VERSIONS[v]}:{ENGINE}->{ACCEPTOR}" for v in versions]
        print(f"simulate: logged on {', '.join(sessions)} and "
              f"{', '.join(firms.session_ids)}", flush=True)
        stream = DropCopyStream(symbols=args.symbols,
                                id_prefix=f"{int(time.time() * 1000) % 10**10:x}-")
        sent = _stream(engine, sessions, live_scenario(stream, args.matches, args.cleared_event), args.rate)
        print(f"simulate: sent {sent} drop copies; waiting {args.wait:.0f} s for busts",
              flush=True)
        time.sleep(args.wait)
        received = {f: len(firms.peer.messages(f"FIX.4.4:{f}->{ACCEPTOR}")) for f in FIRMS}
        venue = len(engine.peer.messages())
        print("simulate: busts received: " + ", ".join(f"{f} {n}" for f, n in received.items())
              + f", {ENGINE} {venue}", flush=True)
    finally:
        engine.stop()
        firms.stop()
    return 0


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
