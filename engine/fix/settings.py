"""QuickFIX session settings: read the cfg file, resolve its paths, apply overrides.

QuickFIX resolves relative paths against the process's working directory; ceguard
resolves them against the cfg file's directory instead, so `ceguard serve` behaves the
same wherever it is started. Overrides from the engine config replace a key for every
session (an empty value removes it). Problems become ConfigErrors naming file and key.
An acceptor's AllowedRemoteAddresses is taken out of what QuickFIX sees and returned per
session: ceguard enforces it itself, with a Logout naming the reason (engine/fix/auth.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import quickfix as fix

from engine.errors import ConfigError

DICTIONARY_KEYS = ("DataDictionary", "TransportDataDictionary", "AppDataDictionary")
DIRECTORY_KEYS = ("FileStorePath", "FileLogPath", "FileLogBackupPath")
ALLOWED_ADDRESSES = "AllowedRemoteAddresses"


@dataclass(frozen=True)
class SessionSettings:
    settings: fix.SessionSettings
    sessions: list[str]  # QuickFIX session ids, e.g. "FIX.4.4:CEGUARD->FIRMA"
    text: str  # the settings as QuickFIX sees them, for the start-up log
    allowed_addresses: dict[str, str] = field(default_factory=dict)  # session id -> value


def load_session_settings(path: Path, overrides: dict[str, str], overrides_base: Path,
                          connection_type: str = "acceptor") -> SessionSettings:
    where = str(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(where, "(file)", f"cannot be read ({exc.strerror})",
                          "point fix.settings in the engine config at a QuickFIX cfg") from exc
    sections = _parse(where, lines)
    base = path.resolve().parent
    for section in sections:
        _resolve_paths(section, base)
    _apply_overrides(sections, overrides, overrides_base)
    default = sections[0]
    sessions = sections[1:]
    if not sessions:
        raise ConfigError(where, "[SESSION]", "no session is defined",
                          "add a [SESSION] with BeginString, SenderCompID and TargetCompID")
    ids = []
    allowed = {}
    for number, session in enumerate(sessions, start=1):
        merged = {**default, **session}
        ids.append(_check_session(where, number, merged, connection_type))
        allowed[ids[-1]] = merged.get(ALLOWED_ADDRESSES, "")
    if connection_type == "acceptor":
        for section in sections:
            section.pop(ALLOWED_ADDRESSES, None)
    text = _render(sections)
    settings = fix.SessionSettings()
    try:
        settings.setFromString(text)
    except fix.ConfigError as exc:
        raise ConfigError(where, "(settings)", f"QuickFIX rejects them: {exc}",
                          "correct the key QuickFIX names") from exc
    return SessionSettings(settings, ids, text, allowed)


def _parse(where: str, lines: list[str]) -> list[dict[str, str]]:
    """[DEFAULT] first (possibly empty), then one dict per [SESSION], in file order."""
    sections: list[dict[str, str]] = [{}]
    current: dict[str, str] | None = None
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            name = line.strip("[]").strip().upper()
            if name == "DEFAULT":
                current = sections[0]
            elif name == "SESSION":
                current = {}
                sections.append(current)
            else:
                raise ConfigError(where, f"line {number}", f"unknown section {line}",
                                  "use [DEFAULT] and [SESSION] sections")
            continue
        key, sep, value = line.partition("=")
        if not sep or current is None:
            raise ConfigError(where, f"line {number}", f"expected Key=Value, got {line!r}",
                              "write one setting per line under [DEFAULT] or [SESSION]")
        current[key.strip()] = value.strip()
    return sections


def _resolve_paths(section: dict[str, str], base: Path) -> None:
    for key in DICTIONARY_KEYS + DIRECTORY_KEYS:
        if section.get(key):
            section[key] = str((base / section[key]).resolve())


def _apply_overrides(sections: list[dict[str, str]], overrides: dict[str, str],
                     base: Path) -> None:
    for key, value in overrides.items():
        for section in sections[1:]:
            section.pop(key, None)
        if value == "":
            sections[0].pop(key, None)
        elif key in DICTIONARY_KEYS + DIRECTORY_KEYS:
            sections[0][key] = str((base / value).resolve())
        else:
            sections[0][key] = value


def _check_session(where: str, number: int, merged: dict[str, str],
                   connection_type: str) -> str:
    key = f"[SESSION] #{number}"
    for required in ("BeginString", "SenderCompID", "TargetCompID"):
        if not merged.get(required):
            raise ConfigError(where, f"{key} {required}", "is missing",
                              f"set {required} in the session or in [DEFAULT]")
    if merged.get("ConnectionType") != connection_type:
        raise ConfigError(where, f"{key} ConnectionType",
                          f"is {merged.get('ConnectionType')!r}",
                          f"set ConnectionType={connection_type} in [DEFAULT]")
    port_key = "SocketAcceptPort" if connection_type == "acceptor" else "SocketConnectPort"
    port = merged.get(port_key, "")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(where, f"{key} {port_key}", f"is {port!r}",
                          f"set {port_key} to a TCP port number")
    for dictionary in DICTIONARY_KEYS:
        if merged.get(dictionary) and not Path(merged[dictionary]).is_file():
            raise ConfigError(where, f"{key} {dictionary}",
                              f"names {merged[dictionary]}, which does not exist",
                              "give a data dictionary XML (relative paths start at the "
                              "cfg file's folder)")
    for directory in DIRECTORY_KEYS:
        if merged.get(directory):
            Path(merged[directory]).mkdir(parents=True, exist_ok=True)
    session_id = f"{merged['BeginString']}:{merged['SenderCompID']}->{merged['TargetCompID']}"
    if merged.get("SessionQualifier"):
        session_id += f":{merged['SessionQualifier']}"
    return session_id


def _render(sections: list[dict[str, str]]) -> str:
    parts = ["[DEFAULT]", *(f"{k}={v}" for k, v in sections[0].items())]
    for section in sections[1:]:
        parts += ["", "[SESSION]", *(f"{k}={v}" for k, v in section.items())]
    return "\n".join(parts) + "\n"
