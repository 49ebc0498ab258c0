"""The engine config of `ceguard serve` (TOML; schema in schemas/engine-config.schema.json).

Relative paths are resolved against the directory of the file that holds them, so a
config works from any working directory. Every problem is a ConfigError naming the file,
the key and the fix; `ceguard serve` then exits with code 2.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from engine.addresses import parse_listen
from engine.day_config import (DAY_KEYS, RETENTION_KEYS, DayConfig, RetentionConfig, load_day,
                               load_retention)
from engine.errors import ConfigError
from engine.review.settings import ReviewConfig, load_review

# The shipped default: `ceguard serve` with no --config (repository checkout or image).
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "fix_configs" / "ceguard.toml"

_SECTIONS = {
    "fix": {"settings", "overrides"},
    "surveillance": {"instruments", "rulebook", "settle_seconds"},
    "journal": {"path", "synchronous"},
    "metrics": {"listen"},
    "firms": None,  # any PartyID
    "sessions": None,  # any QuickFIX session id: checked by _sessions
    "review": None,  # checked by engine.review.settings
    "auth": {"required", "credentials"},
    "tls": {"certificate", "key", "ca", "min_version"},
    "trading_day": DAY_KEYS,
    "retention": RETENTION_KEYS,
}
_SYNCHRONOUS = ("full", "normal")
MAX_SETTLE_SECONDS = 3600
_CREDENTIAL_KEYS = {"username", "password_file", "password_env"}
_SESSION_KEYS = {"legacy_fills"}
# QuickFIX's SSLProtocol for each [tls] min_version.
TLS_PROTOCOLS = {"1.2": "+TLSv1_2 +TLSv1_3", "1.3": "+TLSv1_3"}


@dataclass(frozen=True)
class Secret:
    """A password read from a file or the environment. repr and str never show it."""

    value: str = field(repr=False)
    origin: str  # where it came from, for messages: "file PATH" or "environment NAME"

    def __str__(self) -> str:
        return f"<secret from {self.origin}>"


@dataclass(frozen=True)
class Credential:
    username: str
    password: Secret


@dataclass(frozen=True)
class TlsConfig:
    certificate: Path  # PEM server certificate (chain)
    key: Path  # PEM private key, unencrypted: keep it readable by ceguard only
    ca: Path | None  # PEM CAs: when set, a client certificate signed by one is required
    min_version: str  # "1.2" or "1.3"


@dataclass(frozen=True)
class EngineConfig:
    source: Path
    fix_settings: Path
    fix_overrides: dict[str, str]
    instruments: Path | None
    rulebook: Path | None
    settle_seconds: float
    journal: Path
    journal_synchronous: str
    metrics_host: str
    metrics_port: int
    firms: dict[str, str] = field(default_factory=dict)  # PartyID -> QuickFIX session id
    review: ReviewConfig = field(default_factory=ReviewConfig)
    auth_required: bool = False  # every session's counterparty must have credentials
    credentials: dict[str, Credential] = field(default_factory=dict)  # by its CompID
    tls: TlsConfig | None = None
    # Drop-copy sessions whose ExecType 150=1/2 on FIX.4.3+ are judged as fills
    # ([sessions."<id>"] legacy_fills = true); serve checks that the cfg defines them.
    legacy_fill_sessions: frozenset[str] = frozenset()
    trading_day: DayConfig = field(default_factory=DayConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)


def load_config(path: str | Path | None = None) -> EngineConfig:
    source = Path(path) if path is not None else DEFAULT_CONFIG
    where = str(source)
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(where, "(file)", f"cannot be read ({exc.strerror})",
                          "give the path of an engine config TOML file with --config") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(where, "(syntax)", f"is not valid TOML ({exc})",
                          "correct the TOML syntax at the position shown") from exc
    _check_keys(where, data)
    base = source.resolve().parent
    fix = data.get("fix", {})
    surveillance = data.get("surveillance", {})
    journal = data.get("journal", {})
    metrics = data.get("metrics", {})
    auth = data.get("auth", {})
    host, port = parse_listen(where, "metrics.listen", metrics.get("listen", "127.0.0.1:9879"),
                              "127.0.0.1:9879")
    return EngineConfig(
        source=source,
        fix_settings=_path(where, base, "fix.settings", fix.get("settings"), required=True),
        fix_overrides=_overrides(where, fix.get("overrides", {})),
        instruments=_path(where, base, "surveillance.instruments",
                          surveillance.get("instruments")),
        rulebook=_path(where, base, "surveillance.rulebook", surveillance.get("rulebook")),
        settle_seconds=_settle(where, surveillance.get("settle_seconds", 0)),
        journal=_path(where, base, "journal.path", journal.get("path"), required=True,
                      must_exist=False),
        journal_synchronous=_choice(where, "journal.synchronous",
                                    journal.get("synchronous", "full"), _SYNCHRONOUS),
        metrics_host=host,
        metrics_port=port,
        firms=_firms(where, data.get("firms", {})),
        review=load_review(where, base, data.get("review", {})),
        auth_required=_bool(where, "auth.required", auth.get("required", False)),
        credentials=_credentials(where, base, auth.get("credentials", {})),
        tls=_tls(where, base, data["tls"]) if "tls" in data else None,
        legacy_fill_sessions=_legacy_fill_sessions(where, data.get("sessions", {})),
        trading_day=load_day(where, data.get("trading_day", {})),
        retention=load_retention(where, base, data.get("retention", {})),
    )


def _check_keys(where: str, data: dict) -> None:
    for section, value in data.items():
        if section not in _SECTIONS:
            raise ConfigError(where, f"[{section}]", "is not a known section",
                              f"use only {', '.join(f'[{s}]' for s in _SECTIONS)}")
        if not isinstance(value, dict):
            raise ConfigError(where, section, "must be a table", f"write it as [{section}]")
        allowed = _SECTIONS[section]
        for key in value:
            if allowed is not None and key not in allowed:
                raise ConfigError(where, f"{section}.{key}", "is not a known key",
                                  f"use only {', '.join(sorted(allowed))} in [{section}]")


def _path(where: str, base: Path, key: str, value: object, required: bool = False,
          must_exist: bool = True) -> Path | None:
    if value is None or value == "":
        if required:
            raise ConfigError(where, key, "is missing", f"set {key} to a file path")
        return None
    if not isinstance(value, str):
        raise ConfigError(where, key, f"must be a string path, not {value!r}",
                          "quote the path")
    path = (base / value).resolve()
    if must_exist and not path.is_file():
        raise ConfigError(where, key, f"names {path}, which does not exist",
                          "give an existing file (relative paths start at this config's folder)")
    return path


def _overrides(where: str, table: object) -> dict[str, str]:
    if not isinstance(table, dict):
        raise ConfigError(where, "fix.overrides", "must be a table",
                          "write it as [fix.overrides] with Key = \"value\" lines")
    result = {}
    for key, value in table.items():
        if isinstance(value, bool):
            value = "Y" if value else "N"
        if not isinstance(value, (str, int)):
            raise ConfigError(where, f"fix.overrides.{key}",
                              f"must be a string or number, not {value!r}",
                              "give the QuickFIX setting's value, e.g. \"9878\" or \"Y\"")
        result[key] = str(value)
    return result


def _settle(where: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not 0 <= value <= MAX_SETTLE_SECONDS:
        raise ConfigError(where, "surveillance.settle_seconds",
                          f"must be a number of seconds from 0 to {MAX_SETTLE_SECONDS}, "
                          f"not {value!r}", "e.g. settle_seconds = 0 (bust at once) or 5")
    return float(value)


def _choice(where: str, key: str, value: object, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(where, key, f"is {value!r}", f"use one of {', '.join(choices)}")
    return str(value)


def _firms(where: str, table: dict) -> dict[str, str]:
    firms = {}
    for party_id, session in table.items():
        if not isinstance(session, str) or ":" not in session or "->" not in session:
            raise ConfigError(where, f"firms.{party_id}",
                              f"must be a QuickFIX session id, not {session!r}",
                              "write e.g. FIRMA = \"FIX.4.4:CEGUARD->FIRMA\"")
        firms[party_id] = session
    return firms


def _legacy_fill_sessions(where: str, table: dict) -> frozenset[str]:
    """The [sessions."<QuickFIX session id>"] tables with legacy_fills = true."""
    example = '[sessions."FIX.4.4:CEGUARD->MATCHING1"] with legacy_fills = true'
    chosen = set()
    for session, entry in table.items():
        key = f'sessions."{session}"'
        if ":" not in session or "->" not in session:
            raise ConfigError(where, key, "is not a QuickFIX session id", f"write e.g. {example}")
        if not isinstance(entry, dict):
            raise ConfigError(where, key, "must be a table", f"write e.g. {example}")
        unknown = set(entry) - _SESSION_KEYS
        if unknown:
            raise ConfigError(where, f"{key}.{sorted(unknown)[0]}", "is not a known key",
                              f"use only {', '.join(sorted(_SESSION_KEYS))}")
        if _bool(where, f"{key}.legacy_fills", entry.get("legacy_fills", False)):
            chosen.add(session)
    return frozenset(chosen)


def _bool(where: str, key: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(where, key, f"must be true or false, not {value!r}",
                          f"write {key.rpartition('.')[2]} = true or false")
    return value


def _credentials(where: str, base: Path, table: object) -> dict[str, Credential]:
    example = ('e.g. FIRMA = { username = "firma", password_file = "/run/secrets/firma" } '
               'or password_env = "CEGUARD_FIRMA_PASSWORD"')
    if not isinstance(table, dict):
        raise ConfigError(where, "auth.credentials", "must be a table of CompIDs", example)
    result = {}
    for comp_id, entry in table.items():
        key = f"auth.credentials.{comp_id}"
        if not isinstance(entry, dict):
            raise ConfigError(where, key, "must be a table", example)
        if "password" in entry:
            raise ConfigError(where, f"{key}.password",
                              "holds a password in the config file itself",
                              "put it in a file outside the repository (password_file) or "
                              "in an environment variable (password_env)")
        unknown = set(entry) - _CREDENTIAL_KEYS
        if unknown:
            raise ConfigError(where, f"{key}.{sorted(unknown)[0]}", "is not a known key",
                              f"use only {', '.join(sorted(_CREDENTIAL_KEYS))}")
        username = entry.get("username")
        if not isinstance(username, str) or not username:
            raise ConfigError(where, f"{key}.username", "is missing or empty",
                              "set the Username (553) the counterparty logs on with")
        sources = [k for k in ("password_file", "password_env") if k in entry]
        if len(sources) != 1:
            raise ConfigError(where, key, "needs exactly one of password_file, password_env",
                              example)
        if sources[0] == "password_file":
            password = _password_file(where, base, f"{key}.password_file",
                                      entry["password_file"])
        else:
            password = _password_env(where, f"{key}.password_env", entry["password_env"])
        result[comp_id] = Credential(username, password)
    return result


def _password_file(where: str, base: Path, key: str, value: object) -> Secret:
    if not isinstance(value, str) or not value:
        raise ConfigError(where, key, f"must be a file path, not {value!r}", "quote the path")
    path = (base / value).resolve()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise ConfigError(where, key, f"names {path}, which cannot be read ({reason})",
                          "create the file with the password on one line, readable by "
                          "ceguard only (relative paths start at this config's folder)"
                          ) from None
    password = text.rstrip("\r\n")
    if not password:
        raise ConfigError(where, key, f"names {path}, which is empty",
                          "write the password on the file's first line")
    return Secret(password, f"file {path}")


def _password_env(where: str, key: str, value: object) -> Secret:
    if not isinstance(value, str) or not value:
        raise ConfigError(where, key, f"must name an environment variable, not {value!r}",
                          'e.g. password_env = "CEGUARD_FIRMA_PASSWORD"')
    password = os.environ.get(value, "")
    if not password:
        raise ConfigError(where, key, f"names the environment variable {value}, which is "
                          "not set or empty", f"export {value} before starting ceguard, "
                          "or use password_file")
    return Secret(password, f"environment {value}")


def _tls(where: str, base: Path, table: dict) -> TlsConfig:
    for required in ("certificate", "key"):
        if required not in table:
            raise ConfigError(where, f"tls.{required}", "is missing",
                              f"set tls.{required} to a PEM file, or remove [tls] to serve "
                              "plain TCP")
    return TlsConfig(
        certificate=_path(where, base, "tls.certificate", table["certificate"], required=True),
        key=_path(where, base, "tls.key", table["key"], required=True),
        ca=_path(where, base, "tls.ca", table.get("ca")),
        min_version=_choice(where, "tls.min_version", table.get("min_version", "1.2"),
                            tuple(TLS_PROTOCOLS)),
    )
