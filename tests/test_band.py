"""Every row of the default rulebook, its edges, and an exact Decimal oracle."""

from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from engine.check import judge, parse_what_if
from engine.rules.rulebook import load_rulebook, parse_rulebook
import json
from importlib import resources

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


prices = st.integers(min_value=1, max_value=2_000 * 10**6).map(lambda v: Decimal(v) / 10**6)


@settings(max_examples=400)
@given(ref=prices, move=st.integers(min_value=-1_500, max_value=1_500),
       leverage=st.sampled_from(["1", "2", "3", "-2", "-3", "1.5", "-1"]),
       session=st.sampled_from(["regular", "pre", "post"]),
       event_size=st.sampled_from([0, 3, 5, 19, 20, 40]), nudge=st.integers(-2, 2))
def test_verdicts_equal_a_decimal_oracle(ref, move, leverage, session, event_size, nudge):
    # Prices near the band edge: ref moved by a multiple of 0.01%, then a micro-dollar or two.
    price = (ref * (1 + Decimal(move) / 10_000)).quantize(Decimal("0.000001")) + Decimal(nudge) / 10**6
    if price <= 0:
        return
    expected, pct = _oracle(ref, price, Decimal(leverage), session, event_size)
    result = verdict(str(ref), str(price), leverage, session, event_size)
    assert result["verdict"] == ("erroneous" if expected else "stands")
    assert Decimal(result["threshold_pct"]) == pct
    assert Decimal(result["band_high"]) == ref + ref * pct / 100
    assert Decimal(result["band_low"]) == ref - ref * pct / 100
