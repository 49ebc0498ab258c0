"""Decision records: the band arithmetic and kernel rows turned into words and exact decimals.

Prices print as exact decimals (up to 9 places, at least 2); the band edges are exact too
(R x (1 +- t) has at most 15 decimals), so an analyst can check a verdict by hand.
deviation_pct is rounded half-even to 4 places for reading only: verdicts never come
from it.
"""

from __future__ import annotations

from engine import codes
from engine.core import pipeline as p
from engine.prices import (PPM, PPM_DECIMALS, PRICE_DECIMALS, format_fixed, format_price,
                           format_ratio)

_SIDES = {49: "buy", 50: "sell", 53: "sell_short", 54: "sell_short_exempt"}


def band_fields(price: int, ref: int, ppm: int) -> dict[str, str]:
    """threshold_pct, deviation_pct, band_low and band_high for one trade."""
    scale = PRICE_DECIMALS + PPM_DECIMALS  # ref (1e-9) x ppm (1e-6)
    return {
        "threshold_pct": format_fixed(ppm, 4),
        "deviation_pct": format_ratio((price - ref) * 100, ref, 4),
        "band_low": format_price(ref * (PPM - ppm), scale),
        "band_high": format_price(ref * (PPM + ppm), scale),
    }


def iso_time(fix_time: str) -> str:
    """20260115-14:30:00.123 -> 2026-01-15T14:30:00.123Z (the digits kept as sent)."""
    return f"{fix_time[0:4]}-{fix_time[4:6]}-{fix_time[6:8]}T{fix_time[9:]}Z"


class RecordMaker:
    """Builds the dict of one kernel row, reading its text fields from the chunk bytes."""

    def __init__(self, rule_codes: list[str]) -> None:
        self.rule_codes = rule_codes

    def decision(self, row, buf: bytes, line: int) -> dict:
        """`row`: a kernel row, as an array or (faster to read field by field) a list."""
        if not isinstance(row, list):
            row = row.tolist()

        def text(col: int) -> str | None:
            off, length = int(row[col]), int(row[col + 1])
            return buf[off:off + length].decode("latin-1") if length > 0 else None

        verdict = int(row[p.O_VERDICT])
        if verdict == codes.REJECTED:
            record = {"verdict": "rejected", "line": line, "reason": self.reason(row, buf),
                      "reason_code": codes.REASON_NAMES[int(row[p.O_REASON])]}
            exec_id = text(p.O_EXEC)
            if exec_id is not None:
                record["exec_id"] = exec_id
            return record

        price, ref, ppm = int(row[p.O_PRICE]), int(row[p.O_REF]), int(row[p.O_PPM])
        record = {
            "line": line,
            "exec_id": text(p.O_EXEC),
            "trade_id": text(p.O_MATCH),
            "symbol": text(p.O_SYMBOL),
            "side": _SIDES.get(int(row[p.O_SIDE]), "other"),
            "price": format_price(price),
            "qty": text(p.O_QTY),
            "transact_time": iso_time(text(p.O_TIME)),
            "session": codes.SESSION_NAMES[int(row[p.O_SESSION])],
            "reference_price": format_price(ref) if ref else None,
            "reference_source": codes.REF_SOURCE_NAMES[int(row[p.O_REF_SRC])],
            "leverage": format_fixed(int(row[p.O_LEVERAGE]), 2),
            "event_size": int(row[p.O_EVENT]),
        }
        if verdict == codes.NO_REFERENCE:
            record.update(threshold_pct=None, deviation_pct=None, band_low=None, band_high=None)
            record["rule"] = None
        else:
            record.update(band_fields(price, ref, ppm))
            record["rule"] = self.rule_codes[int(row[p.O_RULE])]
        record["verdict"] = codes.VERDICT_NAMES[verdict]
        if verdict == codes.ERRONEOUS:
            # The rule is one-sided: a buyer is harmed by a print above the reference.
            record["harmed_side"] = "buy" if price > ref else "sell"
        return record

    @staticmethod
    def reason(row, buf: bytes) -> str:
        code = int(row[p.O_REASON])
        tag = int(row[p.O_BAD_TAG])
        off, length = int(row[p.O_BAD]), int(row[p.O_BAD + 1])
        value = buf[off:off + min(length, 80)].decode("latin-1").replace("\x01", "|")
        field = f"{codes.TAG_NAMES.get(tag, 'tag')} ({tag})"
        return {
            codes.REASON_NO_FIX: f"no FIX message ('8=FIX...') in this line: {value!r}",
            codes.REASON_NO_MSGTYPE: "MsgType (35) is missing",
            codes.REASON_MISSING_FIELD: f"{field} is missing",
            codes.REASON_NOT_A_NUMBER: f"{field} is not a decimal number: {value!r}",
            codes.REASON_NOT_POSITIVE: f"{field} must be greater than zero: {value!r}",
            codes.REASON_TOO_MANY_DECIMALS:
                f"{field} has more than {PRICE_DECIMALS} decimal places: {value!r}",
            codes.REASON_TOO_LARGE: f"{field} is above the supported maximum: {value!r}",
            codes.REASON_BAD_TIME:
                f"{field} is not a FIX UTCTimestamp (YYYYMMDD-HH:MM:SS[.fff]): {value!r}",
            codes.REASON_BAD_SIDE: f"{field} is not a single FIX Side character: {value!r}",
            codes.REASON_UNTERMINATED: "no field delimiter (SOH or '|') in the message",
            codes.REASON_BAD_TAG: f"malformed field, expected <tag>=<value>: {value!r}",
            codes.REASON_NO_REF_ID: "venue bust or correction without ExecRefID (19)",
        }[code]
