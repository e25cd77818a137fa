from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backroom.kernel.exceptions import ValidationFailed
from backroom.kernel.money import Money, quantize_money, to_decimal

amounts = st.decimals(
    min_value=-(10**12), max_value=10**12, places=4, allow_nan=False, allow_infinity=False
)


def test_floats_are_refused():
    with pytest.raises(ValidationFailed) as caught:
        to_decimal(0.1, field="price")
    assert "price" in caught.value.details["fields"]


def test_garbage_is_a_clear_error():
    with pytest.raises(ValidationFailed) as caught:
        to_decimal("12,5", field="qty")
    assert caught.value.details["fields"]["qty"] == ["“12,5” is not a number."]
    with pytest.raises(ValidationFailed):
        to_decimal("NaN")


def test_currencies_do_not_mix():
    with pytest.raises(ValidationFailed):
        Money(Decimal("1"), "CNY") + Money(Decimal("1"), "HKD")


def test_rounding_is_half_even_to_the_minor_unit():
    assert quantize_money(Decimal("2.345"), "CNY") == Decimal("2.34")
    assert quantize_money(Decimal("2.355"), "CNY") == Decimal("2.36")
    assert quantize_money(Decimal("2.5"), "JPY") == Decimal("2")
    assert str(Money(Decimal("1234.5"), "CNY")) == "1,234.50 CNY"


@given(amounts, amounts)
def test_addition_is_exact_and_reversible(a, b):
    total = Money(a, "CNY") + Money(b, "CNY")
    assert (total - Money(b, "CNY")).amount == a
    assert total.amount == a + b
    assert (-total).amount == -(a + b)
