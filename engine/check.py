"""`ceguard check`: the verdict of one hypothetical trade, with the same band code as the core."""

from __future__ import annotations

from dataclasses import dataclass

from engine import codes
from engine.core.band import MAX_ABS_LEVERAGE, breaks_band, threshold_ppm
from engine.prices import PriceError, format_fixed, format_price, to_fixed
from engine.records import band_fields
from engine.rules.rulebook import FLAG_INCLUSIVE, Rulebook

SESSIONS = {name: code for code, name in enumerate(codes.SESSION_NAMES)}


class CheckInputError(ValueError):
    """One what-if input is unusable; the message says which value and why."""


@dataclass(frozen=True)
class WhatIf:
    reference_price: int
    price: int
    leverage: int  # hundredths, signed
    session: int
    event_size: int


def parse_what_if(reference_price: object, price: object, leverage: object = "1",
                  session: object = "regular", event_size: object = 0) -> WhatIf:
    """Check and convert the inputs of one what-if, as given on the CLI or in JSON."""
    ref = _price("reference_price", reference_price)
    trade = _price("price", price)
    text = str(leverage).strip()
    try:
        lev = to_fixed(text.lstrip("+-"), decimals=2, limit=10**6)
    except PriceError as exc:
        raise CheckInputError(f"leverage {exc}") from exc
    if lev == 0 or lev > MAX_ABS_LEVERAGE:
        raise CheckInputError(f"leverage {text!r} is out of range (-9 to 9, not 0)")
    if session not in SESSIONS:
        raise CheckInputError(f"session {session!r} is not one of {', '.join(SESSIONS)}")
    if isinstance(event_size, bool) or not isinstance(event_size, int) or event_size < 0:
        raise CheckInputError(f"event_size {event_size!r} is not a whole number >= 0")
    return WhatIf(ref, trade, -lev if text.startswith("-") else lev, SESSIONS[session],
                  event_size)


def _price(name: str, value: object) -> int:
    if not isinstance(value, str):
        raise CheckInputError(f"{name} {value!r} must be a decimal string such as \"94.00\"")
    try:
        fixed = to_fixed(value)
    except PriceError as exc:
        raise CheckInputError(f"{name} {exc}") from exc
    if fixed == 0:
        raise CheckInputError(f"{name} must be greater than zero")
    return fixed


def judge(what: WhatIf, rulebook: Rulebook) -> dict:
    """The verdict record of a what-if (same fields as a decision's band part)."""
    rules = rulebook.kernel_arrays()
    ppm, rule = threshold_ppm(what.reference_price, what.session, what.leverage,
                              what.event_size, rules)
    erroneous = breaks_band(what.price, what.reference_price, ppm,
                            bool(rules[0][FLAG_INCLUSIVE]))
    record = {
        "verdict": "erroneous" if erroneous else "stands",
        "reference_price": format_price(what.reference_price),
        "price": format_price(what.price),
        "leverage": format_fixed(what.leverage, 2),
        "session": codes.SESSION_NAMES[what.session],
        "event_size": what.event_size,
        "rule": rulebook.rule_codes()[rule],
    }
    record.update(band_fields(what.price, what.reference_price, ppm))
    return record


def describe(record: dict, inclusive: bool) -> str:
    """A few lines a person reads at the terminal."""
    edge = "at or beyond" if inclusive else "beyond"
    return "\n".join([
        f"verdict    {record['verdict'].upper()}",
        f"rule       {record['rule']} ({record['session']} session, leverage "
        f"{record['leverage']}x, event size {record['event_size']})",
        f"reference  {record['reference_price']}",
        f"price      {record['price']}  ({record['deviation_pct']}% from the reference)",
        f"threshold  {record['threshold_pct']}%",
        f"band       {record['band_low']} .. {record['band_high']}  "
        f"(a print {edge} either edge is erroneous)",
    ])
