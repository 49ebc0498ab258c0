"""The engine config's `[trading_day]` and `[retention]` sections (engine/config.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.core.tradingday import DEFAULT_END, DEFAULT_TIMEZONE, TradingDays
from engine.errors import ConfigError

DAY_KEYS = {"end", "timezone"}
RETENTION_KEYS = {"journal_days", "archive_days", "archive"}


@dataclass(frozen=True)
class DayConfig:
    end: time = DEFAULT_END
    timezone: str = DEFAULT_TIMEZONE

    def calendar(self) -> TradingDays:
        return TradingDays(self.end, self.timezone)


@dataclass(frozen=True)
class RetentionConfig:
    journal_days: int = 0  # trading days kept in the journal file, the current one too; 0: all
    archive_days: int = 0  # archived days kept, then deleted; 0: forever
    archive: Path | None = None  # where archived days go (default: beside the journal)

    def folder(self, journal: Path) -> Path:
        return self.archive if self.archive is not None else journal.parent / "archive"


def load_day(where: str, table: dict) -> DayConfig:
    end = table.get("end", DEFAULT_END.strftime("%H:%M"))
    try:
        parsed = time(*(int(part) for part in _hh_mm_ss(str(end))))
    except ValueError as exc:
        raise ConfigError(where, "trading_day.end", f"is {end!r}, not a time of day",
                          'write the local time the trading day ends, HH:MM or HH:MM:SS, '
                          'e.g. end = "20:30"') from exc
    zone = table.get("timezone", DEFAULT_TIMEZONE)
    try:
        ZoneInfo(str(zone))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(where, "trading_day.timezone", f"is {zone!r}, not an IANA time zone",
                          'write e.g. timezone = "America/New_York"') from exc
    return DayConfig(parsed, str(zone))


def _hh_mm_ss(text: str) -> list[str]:
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(part.isdigit() for part in parts):
        raise ValueError(text)
    return parts


def load_retention(where: str, base: Path, table: dict) -> RetentionConfig:
    archive = table.get("archive")
    if archive is not None and not isinstance(archive, str):
        raise ConfigError(where, "retention.archive", f"must be a folder path, not {archive!r}",
                          'write e.g. archive = "../var/archive"')
    return RetentionConfig(_days(where, "retention.journal_days", table.get("journal_days", 0)),
                           _days(where, "retention.archive_days", table.get("archive_days", 0)),
                           (base / archive) if archive else None)


def _days(where: str, key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(where, key, f"is {value!r}, not a number of days",
                          "write a whole number of trading days (0: keep all)")
    return value
