from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backroom.kernel.exceptions import ValidationFailed
from backroom.kernel.money import Money, allocate, quantize_money, to_decimal

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


def test_allocation_adds_up_exactly():
    parts = allocate(Decimal("10.00"), [Decimal(1), Decimal(1), Decimal(1)])
    assert sum(parts) == Decimal("10.00")
    assert parts == [Decimal("3.3334"), Decimal("3.3333"), Decimal("3.3333")]  # first of equals
    assert allocate(Decimal(5), [Decimal(0), Decimal(0)]) == [Decimal(5), Decimal(0)]
    assert allocate(Decimal(0), [Decimal(3)]) == [Decimal(0)]
    assert allocate(Decimal(7), []) == []


@given(
    st.decimals(min_value=-(10**9), max_value=10**9, places=4),
    st.lists(st.decimals(min_value=0, max_value=10**6, places=4), min_size=1, max_size=12),
)
def test_allocated_parts_always_add_up_to_the_amount(amount, weights):
    parts = allocate(amount, weights)
    assert len(parts) == len(weights)
    assert sum(parts, Decimal(0)) == amount
