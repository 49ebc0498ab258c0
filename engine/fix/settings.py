"""QuickFIX session settings: read the cfg file, resolve its paths, apply overrides.

QuickFIX resolves relative paths against the process's working directory; ceguard
resolves them against the cfg file's directory instead, so `ceguard serve` behaves the
same wherever it is started. Overrides from the engine config replace a key for every
session (an empty value removes it). Problems become ConfigErrors naming file and key.
An acceptor's AllowedRemoteAddresses is taken out of what QuickFIX sees and returned per
session: ceguard enforces it itself, with a Logout naming the reason (engine/fix/auth.py).
An acceptor's drop-copy sessions (every session that is not a firm's) get lenient
validation whatever the cfg says (engine/fix/lenient.py): a lenient copy of their
application dictionary (ceguard's shipped one when the cfg names none) and the settings
that relax the rest; a cfg value that said otherwise is returned for the start-up log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import quickfix as fix

from engine.errors import ConfigError
from engine.fix.lenient import LENIENT_SETTINGS, lenient_dictionary

DICTIONARY_KEYS = ("DataDictionary", "TransportDataDictionary", "AppDataDictionary")
DIRECTORY_KEYS = ("FileStorePath", "FileLogPath", "FileLogBackupPath")
ALLOWED_ADDRESSES = "AllowedRemoteAddresses"
SHIPPED_DICTIONARIES = Path(__file__).resolve().parent.parent.parent / "fix_configs"
# A drop-copy session's dictionaries when its cfg names none, by BeginString.
_DEFAULT_DICTIONARIES = {
    "FIX.4.2": {"DataDictionary": "FIX42.xml"},
    "FIX.4.4": {"DataDictionary": "FIX44.xml"},
    "FIXT.1.1": {"TransportDataDictionary": "FIXT11.xml", "AppDataDictionary": "FIX50SP2.xml"},
}


@dataclass(frozen=True)
class SessionSettings:
    settings: fix.SessionSettings
    sessions: list[str]  # QuickFIX session ids, e.g. "FIX.4.4:CEGUARD->FIRMA"
    text: str  # the settings as QuickFIX sees them, for the start-up log
    allowed_addresses: dict[str, str] = field(default_factory=dict)  # session id -> value
    # Drop-copy session id -> the cfg's "Key=value" settings ceguard overrode (lenient.py).
    overridden: dict[str, list[str]] = field(default_factory=dict)


def load_session_settings(path: Path, overrides: dict[str, str], overrides_base: Path,
                          connection_type: str = "acceptor",
                          firm_sessions: frozenset[str] = frozenset()) -> SessionSettings:
    """`firm_sessions`: the acceptor's sessions that receive busts and send no fills; they
    keep the cfg's validation. Every other acceptor session is a drop copy."""
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
    overridden = {}
    for number, session in enumerate(sessions, start=1):
        merged = {**default, **session}
        ids.append(_check_session(where, number, merged, connection_type))
        allowed[ids[-1]] = merged.get(ALLOWED_ADDRESSES, "")
        if connection_type == "acceptor" and ids[-1] not in firm_sessions:
            changed = _make_lenient(where, number, session, merged)
            if changed:
                overridden[ids[-1]] = changed
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
    return SessionSettings(settings, ids, text, allowed, overridden)


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


def _make_lenient(where: str, number: int, session: dict[str, str],
                  merged: dict[str, str]) -> list[str]:
    """Give a drop-copy session lenient validation (in its own section, which overrides
    [DEFAULT]); returns the cfg's settings that said otherwise."""
    changed = [f"{key}={merged[key]}" for key, value in LENIENT_SETTINGS.items()
               if key in merged and merged[key].upper() != value]
    session.update(LENIENT_SETTINGS)
    fixt = merged["BeginString"] == "FIXT.1.1"
    application_keys = [k for k in merged if k.startswith("AppDataDictionary")] if fixt \
        else [k for k in ("DataDictionary",) if merged.get(k)]
    defaults = _DEFAULT_DICTIONARIES.get(merged["BeginString"], {})
    if not application_keys or (fixt and not merged.get("TransportDataDictionary")):
        if not defaults:
            raise ConfigError(where, f"[SESSION] #{number} DataDictionary",
                              f"is not set, and ceguard ships no dictionary for "
                              f"{merged['BeginString']}",
                              "name the venue's data dictionary XML for this session")
        for key, name in defaults.items():
            if not merged.get(key):
                session[key] = merged[key] = str(SHIPPED_DICTIONARIES / name)
                if key != "TransportDataDictionary":
                    application_keys.append(key)
    for key in application_keys:
        session[key] = str(lenient_dictionary(Path(merged[key])))
    return changed


def _render(sections: list[dict[str, str]]) -> str:
    parts = ["[DEFAULT]", *(f"{k}={v}" for k, v in sections[0].items())]
    for section in sections[1:]:
        parts += ["", "[SESSION]", *(f"{k}={v}" for k, v in section.items())]
    return "\n".join(parts) + "\n"
