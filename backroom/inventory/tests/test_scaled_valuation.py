"""The ledger's integer arithmetic (`ScaledValuation`) gives exactly what the Decimal rules
(`Valuation`) give, over any sequence of moves, including Decimal's rounding to 28 digits."""

from decimal import Decimal, InvalidOperation

from hypothesis import example, given, settings
from hypothesis import strategies as st

from backroom.inventory.valuation import (
    COST_SCALE,
    MONEY_SCALE,
    QUANTITY_SCALE,
    ScaledValuation,
    Valuation,
    cost,
    from_decimal_scaled,
    money,
    round_half_even,
    scaled_average,
    to_decimal_scaled,
)

D = Decimal


def _decimals(places: int, largest: int) -> st.SearchStrategy[Decimal]:
    """Numbers with `places` places: small ones often, up to `largest` now and then."""
    return st.one_of(
        st.decimals(min_value=0, max_value=100, places=places),
        st.decimals(min_value=0, max_value=largest, places=places),
        st.integers(1, 3).map(lambda n: D(n).scaleb(-places)),
    )


quantities = _decimals(6, 10**12 - 1).filter(lambda q: q > 0)
costs = _decimals(10, 10**8)
values = st.decimals(min_value=-(10**9), max_value=10**9, places=4)
operation = st.one_of(
    st.tuples(st.just("receive"), quantities, costs, st.none() | values.map(abs)),
    st.tuples(st.just("issue"), quantities),
    st.tuples(st.just("exact"), quantities.map(lambda q: -q) | quantities, values),
    st.tuples(st.just("revalue"), values),
)


def _state(valuation: Valuation) -> tuple[Decimal, Decimal, Decimal | None]:
    return valuation.quantity, valuation.value, valuation.average_cost


def _scaled_state(valuation: ScaledValuation) -> tuple[Decimal, Decimal, Decimal | None]:
    return valuation.quantity, valuation.value, valuation.average_cost


@settings(max_examples=400, deadline=None)
@given(operations=st.lists(operation, min_size=1, max_size=15))
@example(operations=[("receive", D(3), D("0.3333333333"), None), ("issue", D(1)), ("issue", D(2))])
@example(operations=[("issue", D(4)), ("receive", D(1), D("2.5"), None)])  # below zero, re-priced
@example(operations=[("receive", D(7), D(0), None), ("revalue", D("1.0000"))])
@example(operations=[("receive", D("999999999999.999999"), D("99999999.9999999999"), None)])
def test_integer_valuation_matches_the_decimal_rules(operations):
    reference = Valuation()
    scaled = ScaledValuation()
    for operation in operations:
        name = operation[0]
        try:
            if name == "receive":
                _, quantity, unit_cost, total = operation
                expected = reference.receive(quantity, cost(unit_cost), total)
            elif name == "issue":
                expected = reference.issue(operation[1])
            elif name == "exact":
                expected = reference.apply_exact(operation[1], operation[2])
            else:
                expected = reference.revalue(operation[1])
        except InvalidOperation:
            return  # beyond 28 digits: Decimal refuses; the ledger's columns would too
        if name == "receive":
            got = scaled.receive(
                from_decimal_scaled(quantity, QUANTITY_SCALE),
                from_decimal_scaled(cost(unit_cost), COST_SCALE),
                None if total is None else from_decimal_scaled(money(total), MONEY_SCALE),
            )
            assert (
                to_decimal_scaled(got[0], MONEY_SCALE),
                to_decimal_scaled(got[1], MONEY_SCALE),
            ) == expected
        elif name == "issue":
            got = scaled.issue(from_decimal_scaled(operation[1], QUANTITY_SCALE))
            assert (
                to_decimal_scaled(got[0], MONEY_SCALE),
                to_decimal_scaled(got[1], COST_SCALE),
            ) == expected
        elif name == "exact":
            scaled.apply_exact(
                from_decimal_scaled(operation[1], QUANTITY_SCALE),
                from_decimal_scaled(operation[2], MONEY_SCALE),
            )
        else:
            scaled.revalue(from_decimal_scaled(operation[1], MONEY_SCALE))
        assert _scaled_state(scaled) == _state(reference)


@settings(max_examples=2000, deadline=None)
@given(
    value=st.integers(1, 10**22),
    quantity=st.integers(1, 10**18),
)
@example(value=1, quantity=3)
@example(value=10**14 - 1, quantity=1)  # the largest value over the smallest quantity
@example(value=1, quantity=10**18 - 1)  # an average below 10⁻¹⁰: the Decimal fallback
def test_the_average_is_rounded_as_decimal_rounds_it(value, quantity):
    exact = D(value).scaleb(-4) / D(quantity).scaleb(-6)  # 28 digits, half-even
    try:
        expected = max(cost(exact), D(0))
    except InvalidOperation:
        return
    assert to_decimal_scaled(scaled_average(value, quantity), COST_SCALE) == expected


def test_double_rounding_follows_decimal():
    # value / quantity is 10.00000000015 less a hair (below the 28th digit): Decimal rounds the
    # quotient to 28 digits, exactly …0015 (a tie at the 10th place), then `cost` half-even
    # to …002. Rounding the exact quotient once would give …001: the ledger follows Decimal.
    value, quantity = 1_000_086_666_681_668, 10_000_866_666_666_667
    assert round_half_even(value * 10**12, quantity) == 100_000_000_001
    expected = cost(D(value).scaleb(-4) / D(quantity).scaleb(-6))
    assert expected == D("10.0000000002")
    assert scaled_average(value, quantity) == 100_000_000_002
    assert [round_half_even(n, 2) for n in (-3, -1, 1, 3, 5)] == [-2, 0, 0, 2, 2]
