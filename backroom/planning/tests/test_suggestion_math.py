"""Suggested-order arithmetic: golden numbers for each step, and the rounding invariants."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from backroom.planning.suggestion_math import Basis, LineInputs, safety_stock, suggest, z_score

D = Decimal


def test_z_score_of_common_service_levels():
    assert z_score(D("0.95")) == D("1.644854")
    assert z_score(D("0.5")) == D("0")
    assert z_score(D("0.99")) == D("2.326348")


def test_golden_forecast_line():
    """Beef at a store: 1.35 kg/day forecast over a 4-day window = 5.4 kg; daily error σ 0.3 kg,
    95 % service: safety = 1.644854 × 0.3 × √4 = 0.986912 kg; target 6.386912; on hand 2.1,
    on order 1, in transit 0.5 → need 2.786912 kg; packs of 2.5 kg → 2 packs = 5 kg, rounded
    up by 2.213088 kg."""
    line = suggest(
        LineInputs(
            usage=D("5.4"),
            daily_error=D("0.3"),
            window_days=4,
            service_level=D("0.95"),
            on_hand=D("2.1"),
            on_order=D("1"),
            in_transit=D("0.5"),
            pack_size=D("2.5"),
        )
    )
    assert line.basis == Basis.FORECAST
    assert line.safety_stock == D("0.986912")
    assert line.target == D("6.386912")
    assert line.need == D("2.786912")
    assert (line.packs, line.quantity, line.rounded_up_by) == (2, D("5.000000"), D("2.213088"))


def test_moq_lifts_a_small_need_to_the_minimum():
    line = suggest(
        LineInputs(
            usage=D("3"),
            daily_error=D("0"),
            window_days=3,
            service_level=D("0.95"),
            on_hand=D("2"),
            on_order=D("0"),
            in_transit=D("0"),
            pack_size=D("1"),
            moq=D("10"),
        )
    )
    assert (line.need, line.packs, line.quantity) == (D("1.000000"), 10, D("10.000000"))


def test_enough_stock_orders_nothing():
    line = suggest(LineInputs(D("4"), D("0.5"), 2, D("0.9"), D("9"), D("0"), D("0"), D("6")))
    assert line.need < 0 and line.packs == 0 and line.quantity == 0


def test_par_is_the_fallback_without_a_forecast():
    line = suggest(
        LineInputs(None, D("0"), 3, D("0.95"), D("4"), D("2"), D("0"), D("12"), par=D("30"))
    )
    assert (line.basis, line.target, line.need, line.packs, line.quantity) == (
        Basis.PAR,
        D("30"),
        D("24"),
        2,
        D("24.000000"),
    )
    nothing = suggest(LineInputs(None, D("0"), 3, D("0.95"), D("0"), D("0"), D("0"), D("1")))
    assert (nothing.basis, nothing.quantity) == (Basis.NONE, 0)


def test_safety_stock_grows_with_the_square_root_of_the_window():
    assert safety_stock(D("1"), 9, D("0.95")) == 3 * safety_stock(D("1"), 1, D("0.95"))


quantities = st.decimals(min_value=0, max_value=10_000, places=3)


@given(
    usage=quantities,
    error=st.decimals(min_value=0, max_value=50, places=3),
    days=st.integers(min_value=1, max_value=14),
    on_hand=quantities,
    on_order=quantities,
    pack=st.decimals(min_value="0.001", max_value=100, places=3),
    moq=st.decimals(min_value=0, max_value=200, places=3),
)
def test_rounding_covers_the_need_with_whole_packs(
    usage, error, days, on_hand, on_order, pack, moq
):
    line = suggest(LineInputs(usage, error, days, D("0.95"), on_hand, on_order, D(0), pack, moq))
    if line.need <= 0:
        assert line.quantity == 0
        return
    assert line.quantity >= line.need and line.quantity >= moq
    assert line.quantity == pack * line.packs
    # Never a whole pack more than the need or the MOQ asks for.
    assert line.quantity - max(line.need, moq) < pack
