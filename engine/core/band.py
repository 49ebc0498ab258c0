"""The band check: which rulebook row applies, and whether a price breaks it.

Thresholds are parts per million (ppm) of the reference price: a percentage in basis
points times the leverage in hundredths is exactly ppm (1e-4 * 1e-2 = 1e-6), so the
leveraged row (regular-hours tier x |leverage|) stays exact for 1.25x or 1.5x funds.
"""

from __future__ import annotations

from engine import codes
from engine.jit import kernel
from engine.prices import MAX_PRICE, PPM
from engine.rules.rulebook import FLAG_ABS_LEVERAGE, FLAG_EVENT_LEVERAGE, MAX_PCT_BPS

UNLEVERAGED = 100  # leverage is kept in hundredths
MAX_ABS_LEVERAGE = 900  # 9x
MAX_PPM = MAX_PCT_BPS * MAX_ABS_LEVERAGE  # the widest band threshold_ppm returns: 900%
# breaks_band's one product that grows with the price; the other two stay below 1e13.
assert MAX_PPM * (MAX_PRICE // PPM) < 2**63


@kernel
def threshold_ppm(ref, session, leverage, event_size, rulebook):
    """(threshold in ppm, rule number) for a trade against reference `ref`.

    `rulebook` is Rulebook.kernel_arrays(). Rule numbers index Rulebook.rule_codes():
    regular tiers, outside tiers, leveraged tiers, then the multi-stock rows.
    """
    flags, up_to, regular_bps, outside_bps, event_min, event_bps = rulebook
    n_tiers = up_to.shape[0]
    if leverage < 0:
        multiplier = -leverage if flags[FLAG_ABS_LEVERAGE] else UNLEVERAGED  # inverse funds: |leverage|
    else:
        multiplier = leverage
    row = -1
    for k in range(event_min.shape[0]):
        if event_size >= event_min[k]:
            row = k
    if row >= 0:
        scale = multiplier if (flags[FLAG_EVENT_LEVERAGE] and multiplier > UNLEVERAGED) else UNLEVERAGED
        return event_bps[row] * scale, 3 * n_tiers + row
    tier = n_tiers - 1
    for k in range(n_tiers):
        if ref <= up_to[k]:
            tier = k
            break
    if multiplier > UNLEVERAGED:  # the leveraged row, in every session
        return regular_bps[tier] * multiplier, 2 * n_tiers + tier
    if session == codes.SESSION_REGULAR:
        return regular_bps[tier] * UNLEVERAGED, tier
    return outside_bps[tier] * UNLEVERAGED, n_tiers + tier


@kernel
def breaks_band(price, ref, ppm, inclusive):
    """|P - R| / R >= ppm / 1e6 (or > when the rulebook says exclusive), in integers.

    Exact for prices up to MAX_PRICE and 0 <= ppm <= MAX_PPM: |P - R| * 1e6 and ppm * R
    would reach 1e22 there, past int64, so with R = whole * 1e6 + part (part < 1e6) it
    compares (|P - R| - ppm * whole) * 1e6 with ppm * part, the same inequality. Only
    an excess between 0 and ppm needs that product; outside, its sign decides.
    """
    deviation = price - ref if price >= ref else ref - price
    whole = ref // PPM
    excess = deviation - ppm * whole
    if excess < 0:  # the left side is negative, the right one is not
        return False
    if excess > ppm:  # the left side >= (ppm + 1) * 1e6 > ppm * part
        return True
    left = excess * PPM
    right = ppm * (ref - whole * PPM)
    if inclusive:
        return left >= right
    return left > right
