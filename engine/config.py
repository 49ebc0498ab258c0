"""The engine config of `ceguard serve` (TOML; schema in schemas/engine-config.schema.json).

Relative paths are resolved against the directory of the file that holds them, so a
config works from any working directory. Every problem is a ConfigError naming the file,
the key and the fix; `ceguard serve` then exits with code 2.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

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
    "review": None,  # checked by engine.review.settings
}
_SYNCHRONOUS = ("full", "normal")
MAX_SETTLE_SECONDS = 3600


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
    host, port = _listen(where, metrics.get("listen", "127.0.0.1:9879"))
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


def _listen(where: str, value: object) -> tuple[str, int]:
    fix = "write host:port, e.g. \"127.0.0.1:9879\""
    if not isinstance(value, str) or ":" not in value:
        raise ConfigError(where, "metrics.listen", f"is {value!r}", fix)
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(where, "metrics.listen", f"is {value!r}", fix)
    return host, int(port)


def _firms(where: str, table: dict) -> dict[str, str]:
    firms = {}
    for party_id, session in table.items():
        if not isinstance(session, str) or ":" not in session or "->" not in session:
            raise ConfigError(where, f"firms.{party_id}",
                              f"must be a QuickFIX session id, not {session!r}",
                              "write e.g. FIRMA = \"FIX.4.4:CEGUARD->FIRMA\"")
        firms[party_id] = session
    return firms
