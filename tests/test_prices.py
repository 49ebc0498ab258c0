from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from engine.prices import MAX_PRICE, PriceError, format_fixed, format_price, format_ratio, to_fixed


@pytest.mark.parametrize("text, value", [
    ("94", 94_000_000), ("94.00", 94_000_000), ("0.0001", 100), (".5", 500_000),
    ("12.", 12_000_000), ("10.500000000", 10_500_000), ("1000000", MAX_PRICE),
])
def test_decimal_text_becomes_exact_millionths(text, value):
    assert to_fixed(text) == value


@pytest.mark.parametrize("text, why", [
    ("", "empty"), ("-1", "negative"), ("1e3", "not a plain decimal"), ("1.2.3", "not a plain"),
    ("10.1234567", "more decimal places"), ("1000000.01", "larger than"), ("abc", "not a plain"),
])
def test_unusable_prices_say_why(text, why):
    with pytest.raises(PriceError, match=why):
        to_fixed(text)


def test_formatting_is_exact_and_keeps_cents():
    assert format_price(94_000_000) == "94.00"
    assert format_price(5_100) == "0.0051"
    assert format_fixed(-300, 2) == "-3"
    assert format_ratio(-6_000_000 * 100, 100_000_000, 4) == "-6.0000"
    assert format_ratio(1, 3, 4) == "0.3333"
    assert format_ratio(5, 10_000 * 10, 4) == "0.0000"  # half-even: 0.00005 -> 0.0000


@given(st.integers(min_value=1, max_value=MAX_PRICE))
def test_format_then_parse_round_trips(value):
    assert to_fixed(format_fixed(value)) == value
    assert Decimal(format_price(value)) == Decimal(value) / 10**6
