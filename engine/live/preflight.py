"""What `ceguard serve` checks before it serves, and all that `serve --check` does.

The engine config, the QuickFIX cfg, the rulebook, the instruments, the firms' sessions,
the credentials and TLS files, the journal's folder, and every port ceguard will listen
on. Each problem is a ConfigError naming the file and key it came from (exit code 2).
"""

from __future__ import annotations

import errno
import os
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from engine.config import EngineConfig
from engine.core.instruments import Instrument, load_instruments
from engine.errors import ConfigError
from engine.fix.auth import build_policies
from engine.fix.settings import SessionSettings, load_session_settings
from engine.fix.tls import tls_settings
from engine.rules.rulebook import Rulebook, load_rulebook

FIX_PORT = "SocketAcceptPort"


@dataclass(frozen=True)
class Plan:
    """A configuration checked and loaded, ready to serve."""

    config: EngineConfig
    rulebook: Rulebook
    instruments: list[Instrument]
    fix_settings: SessionSettings
    policies: dict


@dataclass(frozen=True)
class Listener:
    """An address ceguard will listen on, and the file and key that set it."""

    host: str
    port: int
    source: str
    key: str
    what: str


def prepare(config: EngineConfig) -> Plan:
    """Load and check every file the engine config names (no port is touched)."""
    rulebook = load_rulebook(config.rulebook)
    instruments = load_instruments(config.instruments) if config.instruments else []
    fix_settings = load_session_settings(config.fix_settings,
                                         {**config.fix_overrides, **tls_settings(config.tls)},
                                         config.source.resolve().parent,
                                         firm_sessions=frozenset(config.firms.values()))
    for party, session in config.firms.items():
        if session not in fix_settings.sessions:
            raise ConfigError(str(config.source), f"firms.{party}",
                              f"names session {session}, which {config.fix_settings} "
                              f"does not define (it has {', '.join(fix_settings.sessions)})",
                              "use one of those session ids, or add the session to the cfg")
    _check_legacy_fill_sessions(config, fix_settings.sessions)
    return Plan(config, rulebook, instruments, fix_settings,
                build_policies(config, fix_settings))


def check_all(plan: Plan) -> None:
    """`serve --check`: beyond prepare(), the TLS key pair, the journal's folder, and that
    every port is free."""
    config = plan.config
    if config.tls is not None:
        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
                config.tls.certificate, config.tls.key)
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(str(config.source), "tls.certificate / tls.key",
                              f"are not a matching PEM certificate and key ({exc})",
                              "give the server certificate and its unencrypted private key"
                              ) from exc
    folder = _existing_ancestor(config.journal.parent)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(str(config.source), "journal.path",
                          f"{config.journal}: ceguard cannot write in {folder}",
                          "make the journal's folder writable by the user ceguard runs as")
    for listener in listeners(plan):
        check_free(listener)


def listeners(plan: Plan) -> list[Listener]:
    """Every address `serve` listens on: the FIX acceptor's ports, metrics, review."""
    config = plan.config
    if config.fix_overrides.get(FIX_PORT):
        source, key = str(config.source), f"fix.overrides.{FIX_PORT}"
    else:
        source, key = str(config.fix_settings), FIX_PORT
    host = _setting(plan.fix_settings.text, "SocketAcceptHost")
    found = [Listener(host[0] if host else "", int(port), source, key, "the FIX acceptor")
             for port in dict.fromkeys(_setting(plan.fix_settings.text, FIX_PORT))]
    found.append(Listener(config.metrics_host, config.metrics_port, str(config.source),
                          "metrics.listen", "metrics, /livez and /readyz"))
    if config.review.listen is not None:
        review_host, review_port = config.review.listen
        found.append(Listener(review_host, review_port, str(config.source), "review.listen",
                              "the review console and API"))
    return found


def check_free(listener: Listener) -> None:
    """Raise a ConfigError naming where the port was set if it cannot be listened on."""
    host = listener.host or "0.0.0.0"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as QuickFIX binds
        try:
            probe.bind((host, listener.port))
        except OSError as exc:
            busy = exc.errno == errno.EADDRINUSE
            raise ConfigError(listener.source, listener.key,
                              f"port {listener.port} ({listener.what}) "
                              f"{'is in use' if busy else 'cannot be listened on'}: "
                              f"{host}:{listener.port}: {exc.strerror}",
                              "choose a free port here, or stop the process that holds it "
                              f"(`ss -ltnp 'sport = :{listener.port}'` shows it)"
                              if busy else "choose a port and address this host has"
                              ) from exc


def _setting(text: str, key: str) -> list[str]:
    """The values of `key` in QuickFIX settings text, [DEFAULT] and sessions, in order."""
    prefix = key + "="
    return [line[len(prefix):] for line in text.splitlines() if line.startswith(prefix)]


def _existing_ancestor(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _check_legacy_fill_sessions(config: EngineConfig, sessions: list[str]) -> None:
    """legacy_fills is a drop-copy session's setting: the cfg must define the session,
    and it must not be a firm's (a firm's session carries busts, not fills)."""
    firm_sessions = set(config.firms.values())
    for session in sorted(config.legacy_fill_sessions):
        key = f'sessions."{session}".legacy_fills'
        if session not in sessions:
            raise ConfigError(str(config.source), key,
                              f"names session {session}, which {config.fix_settings} does "
                              f"not define (it has {', '.join(sessions)})",
                              "use a drop-copy session id of the cfg, e.g. "
                              "FIX.4.4:CEGUARD->MATCHING1")
        if session in firm_sessions:
            raise ConfigError(str(config.source), key,
                              f"names {session}, a firm's session (see [firms]): firms "
                              "receive busts, they send no fills",
                              "set legacy_fills on the matching engine's drop-copy session")
