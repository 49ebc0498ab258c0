"""Every row of the default rulebook, its edges, and an exact Decimal oracle."""

from decimal import Decimal

import json
from fractions import Fraction
from math import gcd
from importlib import resources

import pytest
from hypothesis import example, given, settings, strategies as st

from engine.check import judge, parse_what_if
from engine.core.band import MAX_PPM, breaks_band
from engine.prices import MAX_PRICE, PPM
from engine.rules.rulebook import load_rulebook, parse_rulebook

RULEBOOK = load_rulebook()


def verdict(ref, price, leverage="1", session="regular", event_size=0, rulebook=RULEBOOK):
    return judge(parse_what_if(ref, price, leverage, session, event_size), rulebook)


@pytest.mark.parametrize("ref, session, pct, rule", [
    ("25.00", "regular", "10", "REG-T1"), ("25.01", "regular", "5", "REG-T2"),
    ("50.00", "regular", "5", "REG-T2"), ("50.01", "regular", "3", "REG-T3"),
    ("0.50", "regular", "10", "REG-T1"),  # no sub-dollar tier
    ("25.00", "pre", "20", "OUT-T1"), ("25.01", "post", "10", "OUT-T2"),
    ("50.00", "pre", "10", "OUT-T2"), ("50.01", "post", "6", "OUT-T3"),
])
def test_tier_is_picked_by_reference_price_at_the_edges(ref, session, pct, rule):
    result = verdict(ref, ref, session=session)
    assert (result["threshold_pct"], result["rule"]) == (pct, rule)


@pytest.mark.parametrize("ref, leverage, session, pct, rule", [
    ("40.00", "3", "regular", "15", "LEV-T2"),   # RULES 8.5 (a): 3x at $40 -> 15%
    ("100.00", "2", "regular", "6", "LEV-T3"),   # RULES 8.5 (b): 2x at $100 -> 6%
    ("20.00", "2", "post", "20", "LEV-T1"),      # 2x post-market: 20%, not 40%
    ("20.00", "3", "pre", "30", "LEV-T1"),       # 3x at <= $25: 30% outside hours, not 60%
    ("100.00", "-3", "regular", "9", "LEV-T3"),  # inverse: |leverage|
    ("100.00", "-1", "post", "6", "OUT-T3"),     # -1x: the ordinary table
    ("100.00", "1.5", "regular", "4.5", "LEV-T3"),
])
def test_leveraged_row_multiplies_the_regular_hours_tier(ref, leverage, session, pct, rule):
    result = verdict(ref, ref, leverage, session)
    assert (result["threshold_pct"], result["rule"]) == (pct, rule)


def test_worked_example_3x_fund_at_40():
    assert verdict("40.00", "46.00", "3")["verdict"] == "erroneous"
    assert verdict("40.00", "34.00", "3")["verdict"] == "erroneous"
    assert verdict("40.00", "45.99", "3")["verdict"] == "stands"
    assert verdict("40.00", "34.01", "3")["verdict"] == "stands"
    band = verdict("40.00", "40.00", "3")
    assert (band["band_low"], band["band_high"]) == ("34.00", "46.00")


def test_worked_example_2x_fund_at_100():
    assert verdict("100", "94", "2")["verdict"] == "erroneous"
    assert verdict("100", "98", "2")["verdict"] == "stands"
    assert verdict("100", "85", "2")["verdict"] == "erroneous"
    assert verdict("100", "94.000001", "2")["verdict"] == "stands"


@pytest.mark.parametrize("size, pct, rule", [
    (4, "3", "REG-T3"), (5, "10", "MSE-5"), (19, "10", "MSE-5"), (20, "30", "MSE-20"),
    (250, "30", "MSE-20"),
])
def test_multi_stock_rows(size, pct, rule):
    result = verdict("60.00", "60.00", event_size=size)
    assert (result["threshold_pct"], result["rule"]) == (pct, rule)


def test_multi_stock_rows_ignore_leverage_unless_the_setting_says_so():
    assert verdict("60.00", "60.00", "3", event_size=5)["threshold_pct"] == "10"
    data = json.loads(resources.files("engine.rules").joinpath("default_rulebook.json").read_text())
    data["multi_stock"]["apply_leverage"] = True
    levered = parse_rulebook(data, "test")
    assert verdict("60.00", "60.00", "3", event_size=5, rulebook=levered)["threshold_pct"] == "30"


def test_inclusive_by_default_and_exclusive_as_a_setting():
    assert verdict("61.00", "62.83")["verdict"] == "erroneous"  # exactly 3%: equals -> erroneous
    assert verdict("61.00", "59.17")["verdict"] == "erroneous"
    assert verdict("61.00", "62.829999")["verdict"] == "stands"
    data = json.loads(resources.files("engine.rules").joinpath("default_rulebook.json").read_text())
    data["comparison"] = "exclusive"
    exclusive = parse_rulebook(data, "test")
    assert verdict("61.00", "62.83", rulebook=exclusive)["verdict"] == "stands"
    assert verdict("61.00", "62.830001", rulebook=exclusive)["verdict"] == "erroneous"


def test_inverse_leverage_as_signed_when_the_interpretation_is_switched_off():
    data = json.loads(resources.files("engine.rules").joinpath("default_rulebook.json").read_text())
    data["leveraged"]["absolute_leverage"] = False
    signed = parse_rulebook(data, "test")
    assert verdict("100", "100", "-3", "post", rulebook=signed)["rule"] == "OUT-T3"


def _oracle(ref: Decimal, price: Decimal, leverage: Decimal, session: str, event_size: int):
    """RULES.md section 7 step 3, in Decimal arithmetic."""
    if event_size >= 20:
        pct = Decimal(30)
    elif event_size >= 5:
        pct = Decimal(10)
    else:
        tier = 0 if ref <= 25 else 1 if ref <= 50 else 2
        regular = (Decimal(10), Decimal(5), Decimal(3))[tier]
        if abs(leverage) > 1:
            pct = regular * abs(leverage)
        else:
            pct = regular if session == "regular" else regular * 2
    erroneous = abs(price - ref) * 100 >= pct * ref
    return erroneous, pct


prices = st.integers(min_value=1, max_value=2_000 * 10**9).map(lambda v: Decimal(v) / 10**9)


@settings(max_examples=400)
@given(ref=prices, move=st.integers(min_value=-1_500, max_value=1_500),
       leverage=st.sampled_from(["1", "2", "3", "-2", "-3", "1.5", "-1"]),
       session=st.sampled_from(["regular", "pre", "post"]),
       event_size=st.sampled_from([0, 3, 5, 19, 20, 40]), nudge=st.integers(-2, 2))
def test_verdicts_equal_a_decimal_oracle(ref, move, leverage, session, event_size, nudge):
    # Prices near the band edge: ref moved by a multiple of 0.01%, then a nano-dollar or two.
    price = (ref * (1 + Decimal(move) / 10_000)).quantize(Decimal("0.000000001")) \
        + Decimal(nudge) / 10**9
    if price <= 0:
        return
    expected, pct = _oracle(ref, price, Decimal(leverage), session, event_size)
    result = verdict(f"{ref:f}", f"{price:f}", leverage, session, event_size)
    assert result["verdict"] == ("erroneous" if expected else "stands")
    assert Decimal(result["threshold_pct"]) == pct
    assert Decimal(result["band_high"]) == ref + ref * pct / 100
    assert Decimal(result["band_low"]) == ref - ref * pct / 100


def _breaks(price: int, ref: int, ppm: int, inclusive: bool) -> bool:
    """The band rule in exact rational arithmetic: |P - R| / R against ppm / 1e6."""
    deviation, threshold = Fraction(abs(price - ref), ref), Fraction(ppm, PPM)
    return deviation >= threshold if inclusive else deviation > threshold


fixed_prices = st.one_of(st.integers(1, MAX_PRICE), st.integers(MAX_PRICE - 10**6, MAX_PRICE),
                         st.integers(1, 10**6))
ppms = st.one_of(st.integers(0, MAX_PPM), st.sampled_from([0, 1, 30_000, 999_999, PPM,
                                                            PPM + 1, MAX_PPM - 1, MAX_PPM]))


@settings(max_examples=3000)
@given(price=fixed_prices, ref=fixed_prices, ppm=ppms, inclusive=st.booleans())
@example(price=1, ref=MAX_PRICE, ppm=MAX_PPM, inclusive=True)  # the largest products: 1e22
@example(price=MAX_PRICE, ref=1, ppm=MAX_PPM, inclusive=True)
@example(price=MAX_PRICE, ref=MAX_PRICE - 1, ppm=0, inclusive=False)
def test_breaks_band_equals_exact_fractions_over_the_whole_range(price, ref, ppm, inclusive):
    assert breaks_band(price, ref, ppm, inclusive) == _breaks(price, ref, ppm, inclusive)


@settings(max_examples=3000)
@given(ref_units=st.integers(1, MAX_PRICE), ppm=ppms, nudge=st.integers(-2, 2),
       above=st.booleans(), inclusive=st.booleans())
def test_breaks_band_is_exact_at_the_inclusive_boundary(ref_units, ppm, nudge, above, inclusive):
    """A reference whose band edge R * (1 +- ppm/1e6) is a whole number of billionths,
    and prints on the edge and one or two billionths either side of it."""
    step = PPM // gcd(ppm, PPM)  # the smallest R for which R * ppm / 1e6 is whole
    ref = max(ref_units // step, 1) * step
    if ref > MAX_PRICE:
        return
    edge = ref + ref * ppm // PPM if above else ref - ref * ppm // PPM
    price = edge + nudge
    if not 0 < price <= MAX_PRICE:
        return
    expected = _breaks(price, ref, ppm, inclusive)
    assert breaks_band(price, ref, ppm, inclusive) == expected
    if nudge == 0 and ppm:
        assert expected == inclusive  # on the edge: erroneous only when inclusive


CRYPTO_BAND = ("41952.6197530766", "44547.6271604834")


@pytest.mark.parametrize("ref, price, leverage, expected, band", [
    # FX: 1.0850123 at 10%: the edges are whole billionths
    ("1.0850123", "1.19351353", "1", "erroneous", ("0.97651107", "1.19351353")),
    ("1.0850123", "1.193513529", "1", "stands", ("0.97651107", "1.19351353")),
    ("1.0850123", "0.97651107", "1", "erroneous", ("0.97651107", "1.19351353")),
    ("1.0850123", "0.976511071", "1", "stands", ("0.97651107", "1.19351353")),
    # crypto: 43250.12345678 at 3%: the edge has 10 decimals, between two prices
    ("43250.12345678", "44547.627160483", "1", "stands", CRYPTO_BAND),
    ("43250.12345678", "44547.627160484", "1", "erroneous", CRYPTO_BAND),
    ("43250.12345678", "41952.619753077", "1", "stands", CRYPTO_BAND),
    ("43250.12345678", "41952.619753076", "1", "erroneous", CRYPTO_BAND),
    # sub-penny, 3x: 30%
    ("0.0001234", "0.00016042", "3", "erroneous", ("0.00008638", "0.00016042")),
    ("0.0001234", "0.000160419", "3", "stands", ("0.00008638", "0.00016042")),
    # a $900,000 share at 9x: 27%, and products (|P - R| * 1e6, ppm * R) far past int64
    ("900000", "657000.00", "9", "erroneous", ("657000.00", "1143000.00")),
    ("900000", "657000.000000001", "9", "stands", ("657000.00", "1143000.00")),
])
def test_nine_decimal_prices_at_the_edges(ref, price, leverage, expected, band):
    result = verdict(ref, price, leverage)
    assert result["verdict"] == expected
    assert (result["band_low"], result["band_high"]) == band
    assert Decimal(result["band_high"]) == \
        Decimal(ref) * (1 + Decimal(result["threshold_pct"]) / 100)
