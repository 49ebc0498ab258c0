"""Who `ceguard simulate` plays, read from the engine config `ceguard serve` runs on.

The acceptor's sessions say it all: ceguard's own CompID (SenderCompID), the matching
engines (every session that is not a firm's) with their FIX versions, the firms (the
[firms] map: PartyID -> session, whose TargetCompID is the firm's CompID) and the port.
So the simulator logs on as whatever counterparties the operator configured, not as
hard-coded ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.config import EngineConfig, load_config
from engine.errors import ConfigError
from engine.live.preflight import prepare


@dataclass(frozen=True)
class SimSession:
    begin_string: str  # FIX.4.2, FIX.4.4 or FIXT.1.1
    counterparty: str  # the simulated side's CompID (the acceptor's TargetCompID)
    acceptor: str  # ceguard's CompID (the acceptor's SenderCompID)
    port: int

    @property
    def initiator_id(self) -> str:
        """The session's id as the simulated initiator names it."""
        return f"{self.begin_string}:{self.counterparty}->{self.acceptor}"

    @property
    def fix_version(self) -> str:
        """The application version: FIX.5.0SP2 for FIXT.1.1, else the BeginString."""
        return "FIX.5.0SP2" if self.begin_string == "FIXT.1.1" else self.begin_string


@dataclass(frozen=True)
class Topology:
    source: Path  # the engine config it was read from
    engines: list[SimSession]  # drop-copy sessions: the simulator sends fills on them
    firms: dict[str, SimSession]  # PartyID -> the firm's session (it receives busts)


def read_topology(config_path: str | Path | None) -> Topology:
    """The sessions of the engine config at `config_path` (None: the shipped one)."""
    config = load_config(config_path)
    settings = prepare(config).fix_settings  # checked as `ceguard serve` checks it
    by_id = {}
    for sid in settings.settings.getSessions():
        dictionary = settings.settings.get(sid)
        port = int(dictionary.getString("SocketAcceptPort")) \
            if dictionary.has("SocketAcceptPort") else None
        if port is None:
            raise ConfigError(str(config.fix_settings), "SocketAcceptPort",
                              f"session {sid.toString()} has no port",
                              "set SocketAcceptPort in [DEFAULT] or in the session")
        by_id[sid.toString()] = SimSession(sid.getBeginString().getValue(),
                                           sid.getTargetCompID().getValue(),
                                           sid.getSenderCompID().getValue(), port)
    firm_ids = set(config.firms.values())
    firms = {party: by_id[session] for party, session in config.firms.items()}
    engines = [session for sid, session in by_id.items() if sid not in firm_ids]
    _check(config, engines, firms)
    return Topology(config.source, engines, firms)


def _check(config: EngineConfig, engines: list[SimSession],
           firms: dict[str, SimSession]) -> None:
    where = str(config.source)
    if not engines:
        raise ConfigError(str(config.fix_settings), "[SESSION]",
                          "every session is a firm's (in [firms]): there is no drop-copy "
                          "session to send fills on",
                          "add a session for the matching engine")
    if not firms:
        raise ConfigError(where, "firms", "no firm is configured: busts would have no "
                                          "executing firm to go to",
                          "map at least one PartyID to a firm session under [firms]")
    if config.tls is not None:
        raise ConfigError(where, "tls", "ceguard simulate speaks plain TCP only",
                          "simulate against a configuration without [tls]")
    if config.auth_required or config.credentials:
        raise ConfigError(where, "auth", "ceguard simulate sends no Username/Password",
                          "simulate against a configuration without [auth]")
