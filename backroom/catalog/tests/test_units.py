"""Unit conversions: resolution order, errors, rounding policy, and the round-trip guarantee."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from backroom.catalog import units
from backroom.catalog.exceptions import MissingConversion, UnknownUnit
from backroom.catalog.models import Item, ItemUnit
from backroom.catalog.tests.conftest import make_item
from backroom.kernel.exceptions import ValidationFailed

BASE_STEP = Decimal("0.000001")
PROPERTY = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def with_unit(item: Item, factor: Decimal, code: str = "x") -> Item:
    """A copy of `item` whose only own unit is `code` with `factor` (no database write)."""
    clone = copy.copy(item)
    clone._prefetched_objects_cache = {
        "units": [ItemUnit(item=item, code=code, factor=factor, decimal_places=6)]
    }
    return clone


def test_item_unit_converts_by_its_factor(flour):
    assert units.to_base(flour, Decimal(2), "case") == Decimal("30.000000")
    assert units.to_base(flour, Decimal("0.5"), "bag") == Decimal("12.5")
    assert units.from_base(flour, Decimal(30), "case") == Decimal(2)
    assert units.from_base(flour, Decimal(1), "case") == Decimal("0.066666666666666667")
    assert units.convert(flour, Decimal(3), "case", "pack") == Decimal(18)


def test_base_unit_and_global_units_of_the_same_dimension(flour):
    assert units.to_base(flour, Decimal("1.25"), "kg") == Decimal("1.25")
    assert units.to_base(flour, Decimal(500), "g") == Decimal("0.5")
    assert units.to_base(flour, Decimal(3), "jin") == Decimal("1.5")
    assert units.to_base(flour, Decimal("0.4"), "mg") == Decimal("0")  # below the ledger's 6 places
    assert units.from_base(flour, Decimal("0.25"), "g") == Decimal(250)
    assert units.resolve_unit(flour, "g").source == "unit"
    assert units.resolve_unit(flour, "kg").source == "base_unit"
    assert units.resolve_unit(flour, "case").source == "item_unit"
    assert units.describe(flour, "case") == "1 case = 15 kg"


def test_negative_quantities_convert_symmetrically(flour):
    assert units.to_base(flour, Decimal("-1.5"), "case") == Decimal("-22.5")
    assert units.to_base(flour, Decimal("-0.0000005"), "kg") == Decimal("-0.000001")


def test_unknown_unit_names_the_item_and_unit(flour):
    with pytest.raises(UnknownUnit) as caught:
        units.to_base(flour, Decimal(1), "crate")
    error = caught.value
    assert error.code == "unknown_unit"
    assert error.http_status == 422
    assert error.details["item"] == "FLOUR"
    assert error.details["item_id"] == flour.pk
    assert error.details["unit"] == "crate"
    assert list(error.details["fields"]) == ["unit"]


def test_unit_of_another_dimension_is_a_missing_conversion(flour):
    with pytest.raises(MissingConversion) as caught:
        units.from_base(flour, Decimal(1), "ml")
    assert caught.value.code == "missing_conversion"
    assert caught.value.details["unit"] == "ml"
    assert caught.value.details["base_unit"] == "kg"


def test_an_item_unit_bridges_dimensions(food_class):
    eggs = make_item("EGG", "each", units=[("tray", "30"), ("kg", "16")])
    assert units.to_base(eggs, Decimal(2), "tray") == Decimal(60)
    assert units.to_base(eggs, Decimal("0.5"), "kg") == Decimal(8)
    with pytest.raises(MissingConversion):
        units.to_base(eggs, Decimal(1), "g")  # only kg was given for eggs


def test_floats_and_overflow_are_refused(flour):
    with pytest.raises(ValidationFailed) as caught:
        units.to_base(flour, 1.5, "kg")  # type: ignore[arg-type]
    assert caught.value.code == "invalid"
    with pytest.raises(ValidationFailed) as caught:
        units.to_base(flour, Decimal("100000000000"), "case")
    assert "quantity" in caught.value.details["fields"]


def test_rounding_policy_per_unit(flour):
    assert units.round_in_unit(flour, Decimal("2.1"), "case") == Decimal(3)  # buy whole cases
    assert units.round_in_unit(flour, Decimal("2.0"), "case") == Decimal(2)
    assert units.round_in_unit(flour, Decimal("3.9"), "pack") == Decimal(3)  # count full packs
    assert units.round_in_unit(flour, Decimal("1.23450"), "kg") == Decimal("1.235")
    assert units.round_in_unit(flour, Decimal("-2.5"), "g") == Decimal("-2.5")
    assert units.round_in_unit(flour, Decimal("2.25"), "g") == Decimal("2.3")
    assert units.round_quantity(Decimal("-2.1"), decimal_places=0, rounding="up") == Decimal(-3)
    with pytest.raises(ValidationFailed):
        units.round_quantity(Decimal(1), decimal_places=0, rounding="sideways")


def test_prefetched_units_convert_without_queries(flour, django_assert_num_queries):
    item = Item.objects.select_related("base_unit").prefetch_related("units").get(pk=flour.pk)
    with django_assert_num_queries(0):
        for _ in range(10):
            units.to_base(item, Decimal(1), "case")
            units.from_base(item, Decimal(1), "kg")


# --- properties --------------------------------------------------------------------------

factors = st.one_of(
    st.decimals(
        min_value=Decimal("0.000000000001"),
        max_value=Decimal("999999999999.999999999999"),
        places=12,
    ),
    st.sampled_from([Decimal(v) for v in ("15", "2.5", "0.75", "0.001", "30", "0.333333333333")]),
)
base_quantities = st.decimals(
    min_value=Decimal("-999999999999.999999"), max_value=Decimal("999999999999.999999"), places=6
)


@PROPERTY
@given(factor=factors, base=base_quantities)
def test_base_to_unit_and_back_is_exact(flour, factor, base):
    """For every factor the column holds, a 6-place base quantity survives the round trip."""
    item = with_unit(flour, factor)
    in_unit = units.from_base(item, base, "x")
    assert units.to_base(item, in_unit, "x") == base


@PROPERTY
@given(
    factor=factors,
    quantity=st.decimals(min_value=Decimal("-999999999"), max_value=Decimal("999999999"), places=6),
)
def test_conversions_never_drift(flour, factor, quantity):
    """Once in base units, going round again changes nothing; exact when nothing is rounded."""
    item = with_unit(flour, factor)
    assume(abs(quantity * factor) < Decimal("999999999999"))
    base = units.to_base(item, quantity, "x")
    again = units.to_base(item, units.from_base(item, base, "x"), "x")
    assert again == base
    if quantity * factor == (quantity * factor).quantize(BASE_STEP):
        assert units.from_base(item, base, "x") == quantity  # no rounding: exact both ways
    else:
        # the loss is the base rounding (at most half a millionth of a base unit) plus the
        # 18th place of the way back
        drift = abs(units.from_base(item, base, "x") * factor - quantity * factor)
        assert drift <= Decimal("0.0000005") + Decimal("0.5E-18") * factor


@PROPERTY
@given(
    quantity=st.decimals(min_value=Decimal("0"), max_value=Decimal("999999"), places=3),
    cases=st.decimals(min_value=Decimal("0"), max_value=Decimal("9999"), places=6),
)
def test_g_kg_case_chains_agree(food_class, quantity, cases):
    """The same goods kept in kg or in g agree through g, kg and cases of 6 × 2.5 kg."""
    in_kg = with_unit(Item.objects.select_related("base_unit").get(sku="KG-GOODS"), Decimal(15))
    in_g = with_unit(Item.objects.select_related("base_unit").get(sku="G-GOODS"), Decimal(15000))
    in_kg._prefetched_objects_cache["units"][0].code = "case"
    in_g._prefetched_objects_cache["units"][0].code = "case"
    # grams with up to 3 places are exact in kg; the same quantity in g is exact
    assert units.to_base(in_kg, quantity, "g") * 1000 == units.to_base(in_g, quantity, "g")
    assert units.to_base(in_g, quantity, "kg") == units.to_base(in_kg, quantity, "kg") * 1000
    # cases: direct, or via kg, or via g, land on the same base quantity
    direct = units.to_base(in_kg, cases, "case")
    via_g = units.to_base(in_kg, units.convert(in_kg, cases, "case", "g"), "g")
    assert via_g == direct
    assert units.to_base(in_g, cases, "case") == direct * 1000
    assert units.convert(in_g, units.convert(in_g, cases, "case", "kg"), "kg", "case") == cases


@pytest.fixture(autouse=True)
def _goods(request, food_class):
    if "food_class" in request.fixturenames:
        make_item("KG-GOODS", "kg")
        make_item("G-GOODS", "g")
