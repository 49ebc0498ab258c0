"""The band check: which rulebook row applies, and whether a price breaks it.

Thresholds are parts per million (ppm) of the reference price: a percentage in basis
points times the leverage in hundredths is exactly ppm (1e-4 * 1e-2 = 1e-6), so the
leveraged row (regular-hours tier x |leverage|) stays exact for 1.25x or 1.5x funds.
"""

from __future__ import annotations

from engine import codes
from engine.jit import kernel
from engine.prices import PPM
from engine.rules.rulebook import FLAG_ABS_LEVERAGE, FLAG_EVENT_LEVERAGE

UNLEVERAGED = 100  # leverage is kept in hundredths
MAX_ABS_LEVERAGE = 900  # 9x: with pct <= 100%, ppm * price (<= $1M) fits in int64


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
    """|P - R| / R >= ppm / 1e6 (or > when the rulebook says exclusive), in integers."""
    deviation = price - ref if price >= ref else ref - price
    if inclusive:
        return deviation * PPM >= ppm * ref
    return deviation * PPM > ppm * ref
