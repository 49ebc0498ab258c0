"""The trading day: which day an instant belongs to, and when that day ends.

A trading day ends at a local time of the venue (`[trading_day] end`, 20:30 in
America/New_York by default: after the post-market session, with room for late drop
copies). The day an instant belongs to is the local date of the next end at or after
it: with end 20:30, 20:29 on the 3rd belongs to the 3rd, 20:30 to the 4th. Days are
labels, not a calendar: a weekend or a holiday without fills is simply a day nothing
happened in, and the first fill after it starts a new day.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

DEFAULT_END = time(20, 30)
DEFAULT_TIMEZONE = "America/New_York"


class TradingDays:
    def __init__(self, end: time = DEFAULT_END, tz: str = DEFAULT_TIMEZONE) -> None:
        self.end = end
        self.tz = tz
        self._zone = ZoneInfo(tz)

    def day_of(self, utc_ns: int) -> date:
        """The trading day of a UTC instant (ns since the epoch)."""
        local = (_EPOCH + timedelta(microseconds=utc_ns // 1000)).astimezone(self._zone)
        if local.time() >= self.end:
            return local.date() + timedelta(days=1)
        return local.date()

    def day_at(self, moment: datetime) -> date:
        """The trading day of an aware datetime."""
        return self.day_of((moment - _EPOCH) // timedelta(microseconds=1) * 1000)

    def end_of(self, day: date) -> int:
        """The UTC instant (ns) the trading day `day` ends at: its end, local time.

        In a DST gap the end moves forward (fold 0 of a time that does not exist); in a
        repeated hour the first occurrence counts."""
        local = datetime.combine(day, self.end, self._zone)
        return (local - _EPOCH) // timedelta(microseconds=1) * 1000

    def describe_end(self, day: date) -> str:
        """The day's end as ISO 8601 UTC, for logs."""
        end = _EPOCH + timedelta(microseconds=self.end_of(day) // 1000)
        return end.isoformat().replace("+00:00", "Z")

    def start_of(self, day: date) -> int:
        """The UTC instant (ns) the trading day `day` starts at: the previous day's end."""
        return self.end_of(day - timedelta(days=1))


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
