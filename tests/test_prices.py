from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from engine.prices import (MAX_PRICE, PRICE_DECIMALS, PriceError, format_fixed, format_price,
                           format_ratio, to_fixed)

NANO = 10**9


@pytest.mark.parametrize("text, value", [
    ("94", 94 * NANO), ("94.00", 94 * NANO), ("0.0001", 100_000), (".5", NANO // 2),
    ("12.", 12 * NANO), ("10.5000000000", 10_500_000_000), ("1000000", MAX_PRICE),
    ("1.0850123", 1_085_012_300), ("43250.12345678", 43_250_123_456_780),
    ("0.0001234", 123_400), ("0.000000001", 1), ("999999.999999999", MAX_PRICE - 1),
])
def test_decimal_text_becomes_exact_billionths(text, value):
    assert PRICE_DECIMALS == 9
    assert to_fixed(text) == value


@pytest.mark.parametrize("text, why", [
    ("", "empty"), ("-1", "negative"), ("1e3", "not a plain decimal"), ("1.2.3", "not a plain"),
    ("10.1234567891", "more decimal places than are kept \\(at most 9 decimal places\\)"),
    ("0.0000000001", "more decimal places"), ("1000000.000000001", "larger than"),
    ("1000000.01", "larger than"), ("abc", "not a plain"),
])
def test_unusable_prices_say_why(text, why):
    with pytest.raises(PriceError, match=why):
        to_fixed(text)


def test_formatting_is_exact_and_keeps_cents():
    assert format_price(94 * NANO) == "94.00"
    assert format_price(5_100_000) == "0.0051"
    assert format_price(1_085_012_300) == "1.0850123"
    assert format_price(43_250_123_456_780) == "43250.12345678"
    assert format_price(1) == "0.000000001"
    assert format_fixed(-300, 2) == "-3"
    assert format_ratio(-6_000_000 * 100, 100_000_000, 4) == "-6.0000"
    assert format_ratio(1, 3, 4) == "0.3333"
    assert format_ratio(5, 10_000 * 10, 4) == "0.0000"  # half-even: 0.00005 -> 0.0000


@given(st.integers(min_value=1, max_value=MAX_PRICE))
def test_format_then_parse_round_trips(value):
    assert to_fixed(format_fixed(value)) == value
    assert Decimal(format_price(value)) == Decimal(value) / NANO


@given(whole=st.text("0123456789", min_size=0, max_size=21),
       frac=st.one_of(st.none(), st.text("0123456789", max_size=12)),
       decimals=st.sampled_from([2, 6, 9]),
       limit=st.sampled_from([10**6, MAX_PRICE, 10**18, 2**63 - 10]))
def test_the_parser_equals_decimal_arithmetic_up_to_any_limit(whole, frac, decimals, limit):
    """Quantities share the parser with limits up to 1e18 (a billion at 9 decimals): the
    guard against int64 overflow must hold for every limit below 2**63 - 9."""
    text = whole if frac is None else f"{whole}.{frac}"
    if not any(c.isdigit() for c in text):
        return
    exact = Decimal(text) * 10**decimals
    kept = frac is None or not frac[decimals:].strip("0")
    if kept and exact <= limit:
        assert to_fixed(text, decimals, limit) == int(exact)
    else:
        with pytest.raises(PriceError, match="larger than" if kept else "decimal places|larger"):
            to_fixed(text, decimals, limit)
