"""Load and check a rulebook file; turn it into the flat arrays the kernel reads.

The file format is schemas/rulebook.schema.json. Every check here names the file, the
key and the fix, because a rulebook error must stop start-up with a useful message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from engine.errors import ConfigError
from engine.prices import MAX_PRICE, PriceError, to_fixed
from engine.rules.clock import NS_PER_SECOND, offset_table
from engine.fix.hashing import hash_text

DEFAULT_RULEBOOK = "default_rulebook.json"
MAX_PCT_BPS = 10_000  # 100%; with |leverage| <= 9, engine/core/band.py MAX_PPM

# Indexes into the kernel's `flags` array.
FLAG_INCLUSIVE = 0
FLAG_ABS_LEVERAGE = 1
FLAG_EVENT_LEVERAGE = 2
FLAG_EVENT_WINDOW_NS = 3
FLAG_SERIES_INFERENCE = 4

# What the kernel infers when a venue sends neither AggressorIndicator (1057) nor
# LastLiquidityInd (851) nor TrdMatchID (880): see the "series_inference" setting.
SERIES_INFERENCE = ("order-side-time", "none")
DEFAULT_SERIES_INFERENCE = "order-side-time"


@dataclass(frozen=True)
class Tier:
    up_to: int | None  # fixed-point reference price, inclusive; None = no upper bound
    regular_bps: int
    outside_bps: int


@dataclass(frozen=True)
class EventRow:
    min_securities: int
    bps: int


@dataclass(frozen=True)
class Venue:
    name: str
    timezone: str
    open_ns: int  # local time of day
    close_ns: int


@dataclass(frozen=True)
class Rulebook:
    name: str
    source: str
    inclusive: bool
    tiers: tuple[Tier, ...]
    absolute_leverage: bool
    event_window_seconds: int
    event_rows: tuple[EventRow, ...]
    event_apply_leverage: bool
    venues: tuple[Venue, ...]  # venues[0] is the default
    series_inference: str = DEFAULT_SERIES_INFERENCE  # one of SERIES_INFERENCE

    def rule_codes(self) -> list[str]:
        """Short code of every row, indexed by the kernel's rule number."""
        tiers = [f"T{i + 1}" for i in range(len(self.tiers))]
        return (
            [f"REG-{t}" for t in tiers]
            + [f"OUT-{t}" for t in tiers]
            + [f"LEV-{t}" for t in tiers]
            + [f"MSE-{row.min_securities}" for row in self.event_rows]
        )

    def kernel_arrays(self) -> tuple[np.ndarray, ...]:
        """(flags, tier_up_to, tier_regular_bps, tier_outside_bps, event_min, event_bps)."""
        flags = np.zeros(5, dtype=np.int64)
        flags[FLAG_INCLUSIVE] = int(self.inclusive)
        flags[FLAG_ABS_LEVERAGE] = int(self.absolute_leverage)
        flags[FLAG_EVENT_LEVERAGE] = int(self.event_apply_leverage)
        flags[FLAG_EVENT_WINDOW_NS] = self.event_window_seconds * NS_PER_SECOND
        flags[FLAG_SERIES_INFERENCE] = int(self.series_inference != "none")
        up_to = [MAX_PRICE if t.up_to is None else t.up_to for t in self.tiers]
        return (
            flags,
            np.array(up_to, dtype=np.int64),
            np.array([t.regular_bps for t in self.tiers], dtype=np.int64),
            np.array([t.outside_bps for t in self.tiers], dtype=np.int64),
            np.array([r.min_securities for r in self.event_rows], dtype=np.int64),
            np.array([r.bps for r in self.event_rows], dtype=np.int64),
        )

    def clock_arrays(self) -> tuple[np.ndarray, ...]:
        """(venue name hashes (n,2), open/close ns (n,2), offset-change instants, offsets)."""
        tables = [offset_table(v.timezone) for v in self.venues]
        width = max(len(changes) for changes, _ in tables)
        change_at = np.full((len(self.venues), width), np.iinfo(np.int64).max, dtype=np.int64)
        offsets = np.zeros((len(self.venues), width), dtype=np.int64)
        for i, (changes, offs) in enumerate(tables):
            change_at[i, : len(changes)] = changes
            offsets[i, : len(offs)] = offs
        names = np.array([hash_text(v.name) for v in self.venues], dtype=np.int64)
        hours = np.array([(v.open_ns, v.close_ns) for v in self.venues], dtype=np.int64)
        return names, hours, change_at, offsets


def load_rulebook(path: str | Path | None = None) -> Rulebook:
    """The rulebook at `path`, or the shipped default (the numerical guidelines)."""
    if path is None:
        text = resources.files("engine.rules").joinpath(DEFAULT_RULEBOOK).read_text()
        source = f"<built-in {DEFAULT_RULEBOOK}>"
    else:
        source = str(path)
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise ConfigError(source, "(file)", f"cannot be read ({exc.strerror})",
                              "give the path of an existing rulebook JSON file") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(source, f"line {exc.lineno} column {exc.colno}",
                          f"is not valid JSON ({exc.msg})",
                          "correct the JSON syntax; see schemas/rulebook.schema.json") from exc
    return parse_rulebook(data, source)


def parse_rulebook(data: object, source: str) -> Rulebook:
    check = _Checker(source)
    root = check.mapping(data, "(top level)")
    check.only_keys(root, "(top level)", {"name", "description", "comparison", "tiers",
                                          "leveraged", "multi_stock", "venues",
                                          "series_inference"})
    name = check.text(root, "name", "(top level)")
    comparison = check.choice(root, "comparison", "(top level)", ("inclusive", "exclusive"))
    inference = DEFAULT_SERIES_INFERENCE
    if "series_inference" in root:
        inference = check.choice(root, "series_inference", "(top level)", SERIES_INFERENCE)

    raw_tiers = check.listing(root, "tiers", "(top level)")
    tiers = tuple(_tier(check, raw, f"tiers[{i}]") for i, raw in enumerate(raw_tiers))
    for i, tier in enumerate(tiers[:-1]):
        if tier.up_to is None:
            check.fail(f"tiers[{i}].up_to", "is null but is not the last tier",
                       "only the last tier may be open-ended (up_to: null)")
        following = tiers[i + 1].up_to
        if following is not None and following <= tier.up_to:
            check.fail(f"tiers[{i + 1}].up_to", "is not above the tier before it",
                       "list tiers in increasing order of up_to")
    if tiers[-1].up_to is not None:
        check.fail(f"tiers[{len(tiers) - 1}].up_to", "is not null",
                   "end the list with an open-ended tier (up_to: null) so every price has a tier")

    leveraged = check.mapping(check.get(root, "leveraged", "(top level)"), "leveraged")
    check.only_keys(leveraged, "leveraged", {"absolute_leverage"})
    absolute = check.boolean(leveraged, "absolute_leverage", "leveraged")

    multi = check.mapping(check.get(root, "multi_stock", "(top level)"), "multi_stock")
    check.only_keys(multi, "multi_stock", {"window_seconds", "rows", "apply_leverage"})
    window = check.integer(multi, "window_seconds", "multi_stock", minimum=1)
    apply_leverage = check.boolean(multi, "apply_leverage", "multi_stock")
    rows = []
    for i, raw in enumerate(check.listing(multi, "rows", "multi_stock")):
        where = f"multi_stock.rows[{i}]"
        row = check.mapping(raw, where)
        check.only_keys(row, where, {"min_securities", "pct"})
        minimum = check.integer(row, "min_securities", where, minimum=2)
        if rows and minimum <= rows[-1].min_securities:
            check.fail(f"{where}.min_securities", "is not above the row before it",
                       "list multi-stock rows in increasing order of min_securities")
        rows.append(EventRow(minimum, check.pct(row, "pct", where)))

    raw_venues = check.mapping(check.get(root, "venues", "(top level)"), "venues")
    if "default" not in raw_venues:
        check.fail("venues.default", "is missing",
                   "add a 'default' venue; it applies to fills whose LastMkt (30) is not listed")
    order = ["default"] + sorted(k for k in raw_venues if k != "default")
    venues = tuple(_venue(check, name, raw_venues[name]) for name in order)

    return Rulebook(name=name, source=source, inclusive=comparison == "inclusive",
                    tiers=tiers, absolute_leverage=absolute, event_window_seconds=window,
                    event_rows=tuple(rows), event_apply_leverage=apply_leverage, venues=venues,
                    series_inference=inference)


def _tier(check: "_Checker", raw: object, where: str) -> Tier:
    tier = check.mapping(raw, where)
    check.only_keys(tier, where, {"up_to", "regular_pct", "outside_pct"})
    up_to_raw = check.get(tier, "up_to", where)
    up_to = None if up_to_raw is None else check.price(up_to_raw, f"{where}.up_to")
    return Tier(up_to, check.pct(tier, "regular_pct", where), check.pct(tier, "outside_pct", where))


def _venue(check: "_Checker", name: str, raw: object) -> Venue:
    where = f"venues.{name}"
    venue = check.mapping(raw, where)
    check.only_keys(venue, where, {"timezone", "regular_open", "regular_close"})
    tz = check.text(venue, "timezone", where)
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        check.fail(f"{where}.timezone", f"{tz!r} is not a known IANA time zone",
                   "use a name such as 'America/New_York' or 'America/Chicago'")
    opens = check.clock_time(venue, "regular_open", where)
    closes = check.clock_time(venue, "regular_close", where)
    if closes <= opens:
        check.fail(f"{where}.regular_close", "is not after regular_open",
                   "give the regular session as open < close, local time, e.g. 09:30 and 16:00")
    return Venue(name, tz, opens, closes)


class _Checker:
    """Reads one rulebook, raising ConfigError(source, key, problem, fix) at the first fault."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, problem: str, fix: str) -> None:
        raise ConfigError(self.source, key, problem, fix)

    def get(self, obj: dict, key: str, where: str) -> object:
        if key not in obj:
            self.fail(_join(where, key), "is missing",
                      f"add '{key}' (see schemas/rulebook.schema.json)")
        return obj[key]

    def only_keys(self, obj: dict, where: str, allowed: set[str]) -> None:
        for key in obj:
            if key not in allowed:
                self.fail(_join(where, key), "is not a rulebook setting",
                          f"remove it or use one of: {', '.join(sorted(allowed))}")

    def mapping(self, value: object, where: str) -> dict:
        if not isinstance(value, dict):
            self.fail(where, f"is {type(value).__name__}, not an object", "make it a JSON object")
        return value

    def listing(self, obj: dict, key: str, where: str) -> list:
        value = self.get(obj, key, where)
        if not isinstance(value, list) or not value:
            self.fail(_join(where, key), "is not a non-empty list", "give at least one row")
        return value

    def text(self, obj: dict, key: str, where: str) -> str:
        value = self.get(obj, key, where)
        if not isinstance(value, str) or not value:
            self.fail(_join(where, key), "is not a non-empty string", "give a string")
        return value

    def choice(self, obj: dict, key: str, where: str, options: tuple[str, ...]) -> str:
        value = self.get(obj, key, where)
        if value not in options:
            self.fail(_join(where, key), f"is {value!r}", f"use one of: {', '.join(options)}")
        return value

    def boolean(self, obj: dict, key: str, where: str) -> bool:
        value = self.get(obj, key, where)
        if not isinstance(value, bool):
            self.fail(_join(where, key), f"is {value!r}, not true/false", "use true or false")
        return value

    def integer(self, obj: dict, key: str, where: str, minimum: int) -> int:
        value = self.get(obj, key, where)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail(_join(where, key), f"is {value!r}", f"use a whole number >= {minimum}")
        return value

    def price(self, value: object, where: str) -> int:
        if not isinstance(value, str):
            self.fail(where, f"is {value!r}", 'write prices as decimal strings, e.g. "25.00"')
        try:
            return to_fixed(value)
        except PriceError as exc:
            self.fail(where, str(exc), 'write a positive decimal string, e.g. "25.00"')

    def pct(self, obj: dict, key: str, where: str) -> int:
        value = self.get(obj, key, where)
        fix = 'write a percentage as a decimal string with at most 2 decimals, e.g. "10" or "2.5"'
        if not isinstance(value, str):
            self.fail(_join(where, key), f"is {value!r}", fix)
        try:
            bps = to_fixed(value, decimals=2, limit=MAX_PCT_BPS)
        except PriceError as exc:
            self.fail(_join(where, key), str(exc), fix)
        if bps == 0:
            self.fail(_join(where, key), "is zero", "a threshold must be above 0%")
        return bps

    def clock_time(self, obj: dict, key: str, where: str) -> int:
        value = self.text(obj, key, where)
        parts = value.split(":")
        try:
            hours, minutes = (int(p) for p in parts)
            valid = len(parts) == 2 and 0 <= hours <= 24 and 0 <= minutes < 60
        except ValueError:
            valid = False
        if not valid:
            self.fail(_join(where, key), f"is {value!r}", "write local time as HH:MM, e.g. 09:30")
        return (hours * 3600 + minutes * 60) * NS_PER_SECOND


def _join(where: str, key: str) -> str:
    return key if where == "(top level)" else f"{where}.{key}"
