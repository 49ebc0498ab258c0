"""The venue clock: UTC TransactTime to the venue's local session (regular / pre / post).

Time-zone rules (with DST) are turned once into a table of UTC offset changes, so the
numba kernel finds a fill's local time with one binary search and no Python objects.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np

from engine import codes
from engine.jit import kernel

NS_PER_SECOND = 1_000_000_000
NS_PER_DAY = 86_400 * NS_PER_SECOND
_FIRST_YEAR, _LAST_YEAR = 2000, 2070


def offset_table(tz_name: str) -> tuple[np.ndarray, np.ndarray]:
    """(change instants in UTC ns, offset in ns from that instant on) for 2000-2070."""
    zone = ZoneInfo(tz_name)
    start = datetime(_FIRST_YEAR, 1, 1, tzinfo=timezone.utc)
    day = timedelta(days=1)

    def offset_at(moment: datetime) -> int:
        return int(moment.astimezone(zone).utcoffset().total_seconds()) * NS_PER_SECOND

    instants = [np.iinfo(np.int64).min]
    offsets = [offset_at(start)]
    moment = start
    end = datetime(_LAST_YEAR, 1, 1, tzinfo=timezone.utc)
    while moment < end:
        later = moment + day
        if offset_at(later) != offsets[-1]:
            low, high = moment, later  # bisect the change to the second
            while high - low > timedelta(seconds=1):
                mid = low + (high - low) / 2
                if offset_at(mid) == offsets[-1]:
                    low = mid
                else:
                    high = mid
            instants.append(int(high.timestamp()) * NS_PER_SECOND)
            offsets.append(offset_at(later))
        moment = later
    return np.array(instants, dtype=np.int64), np.array(offsets, dtype=np.int64)


@kernel
def session_of(utc_ns, change_at, offset, open_ns, close_ns):
    """Session code of a UTC instant: [open, close) local time is regular."""
    lo, hi = 0, change_at.shape[0]
    while hi - lo > 1:  # last change at or before utc_ns
        mid = (lo + hi) // 2
        if change_at[mid] <= utc_ns:
            lo = mid
        else:
            hi = mid
    local_of_day = (utc_ns + offset[lo]) % NS_PER_DAY
    if local_of_day < open_ns:
        return codes.SESSION_PRE
    if local_of_day < close_ns:
        return codes.SESSION_REGULAR
    return codes.SESSION_POST
