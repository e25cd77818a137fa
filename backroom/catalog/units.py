"""Unit conversions between an item's units and its base unit, and the rounding policy per unit.

A unit code is resolved for an item in this order:
  1. one of the item's own units (`ItemUnit`: case, bag, bottle...), by its factor;
  2. the item's base unit (factor 1);
  3. a global `Unit` of the same dimension as the base unit (g for an item kept in kg),
     by the ratio of their reference sizes.
Anything else is `UnknownUnit` (no such code) or `MissingConversion` (a known unit of another
dimension: ml for an item kept in kg, unless the item names that unit itself).

Precision and the round-trip guarantee (see docs/catalog.md):
- `to_base` returns the base quantity rounded half-up to 6 places, the ledger's precision
  (`QuantityField`). It is exact, with no rounding at all, whenever quantity × factor has at most
  6 decimal places: any quantity with up to 6 places in a unit of factor ≥ 1 with up to
  0 places (cases of 15 kg), or up to 6 − k places with a factor of k places (0.001 kg per g:
  grams to 3 places). Then `from_base(to_base(q)) == q` exactly.
- `from_base` divides in an 80-digit context and rounds half-up to 18 places, so every
  factor that fits the factor column (< 10^12, ≥ 10^-12) round-trips: for every base quantity
  b with ≤ 6 places, `to_base(from_base(b)) == b`. The error of the division is at most
  0.5·10^-18 · factor < 0.5·10^-6, so it vanishes when rounded back to 6 places.
- Hence conversions never drift: for any quantity q, `to_base(from_base(to_base(q)))` equals
  `to_base(q)`; going round any number of times changes nothing once in base units, and any
  chain (g → kg → case) agrees with the direct conversion to within the base precision.
For display or ordering, round a converted quantity with `round_in_unit` (the unit's places and
rounding: half-up, up for whole cases when buying, or down).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import (
    ROUND_DOWN,
    ROUND_HALF_UP,
    ROUND_UP,
    Decimal,
    localcontext,
)
from typing import Any

from django.utils.translation import gettext as _

from backroom.catalog.batch import cached
from backroom.catalog.choices import Rounding
from backroom.catalog.exceptions import MissingConversion, UnknownUnit
from backroom.catalog.models import Item, ItemUnit, Unit
from backroom.kernel.exceptions import ValidationFailed
from backroom.kernel.money import QUANTITY_DIGITS, QUANTITY_PLACES, to_decimal

BASE_PLACES = QUANTITY_PLACES  # 6
UNIT_PLACES = 18  # from_base precision: enough for every factor the column can hold
_BASE_STEP = Decimal(1).scaleb(-BASE_PLACES)
_UNIT_STEP = Decimal(1).scaleb(-UNIT_PLACES)
_BASE_LIMIT = Decimal(10) ** (QUANTITY_DIGITS - QUANTITY_PLACES)  # |base quantity| < 10^12
_CONTEXT_PRECISION = 80  # products of 18-place quantities and 24-digit factors stay exact

_ROUNDING_MODES = {
    Rounding.HALF_UP: ROUND_HALF_UP,
    Rounding.UP: ROUND_UP,  # away from zero: 2.1 cases → 3 cases
    Rounding.DOWN: ROUND_DOWN,  # towards zero
}


@dataclass(frozen=True, slots=True)
class ResolvedUnit:
    """A unit code resolved for one item: its factor to the base unit and its rounding policy."""

    code: str
    factor: Decimal  # base units per one of this unit
    decimal_places: int
    rounding: str
    source: str  # "item_unit", "base_unit" or "unit"


def _item_units(item: Item) -> list[ItemUnit] | None:
    """The item's units when they were prefetched (saves a query per conversion)."""
    cache = getattr(item, "_prefetched_objects_cache", {})
    return cache.get("units")  # type: ignore[no-any-return]


def resolve_unit(item: Item, unit_code: str, *, field: str = "unit") -> ResolvedUnit:
    """Resolve `unit_code` for `item` (its own units, its base unit, a unit of the same dimension)."""
    code = (unit_code or "").strip()
    prefetched = _item_units(item)
    if prefetched is not None:
        item_unit = next((unit for unit in prefetched if unit.code == code), None)
    else:
        item_unit = ItemUnit.objects.filter(item=item, code=code).first() if item.pk else None
    if item_unit is not None:
        return ResolvedUnit(
            code, item_unit.factor, item_unit.decimal_places, item_unit.rounding, "item_unit"
        )
    base = item.base_unit
    if code == base.code:
        return ResolvedUnit(code, Decimal(1), base.decimal_places, base.rounding, "base_unit")
    unit = cached(f"unit:{code}", lambda: Unit.objects.filter(code=code).first())
    if unit is None:
        raise UnknownUnit(item, code, field=field)
    if unit.dimension != base.dimension:
        raise MissingConversion(item, code, field=field)
    with localcontext() as context:
        context.prec = _CONTEXT_PRECISION
        factor = unit.to_reference / base.to_reference
    return ResolvedUnit(code, factor, unit.decimal_places, unit.rounding, "unit")


def conversion_factor(item: Item, unit_code: str) -> Decimal:
    """Base units per one `unit_code` of `item` (15 for a case of 6 × 2.5 kg kept in kg)."""
    return resolve_unit(item, unit_code).factor


def _check_range(base_quantity: Decimal, field: str) -> None:
    if abs(base_quantity) >= _BASE_LIMIT:
        raise ValidationFailed(
            {field: [_("The quantity is too large (at most 12 digits before the point).")]}
        )


def to_base(item: Item, quantity: Decimal, unit_code: str) -> Decimal:
    """`quantity` of `unit_code` in the item's base unit, rounded half-up to 6 places.

    Raises UnknownUnit / MissingConversion for a unit the item cannot convert, and
    ValidationFailed for a float or a result beyond the ledger's 18 digits.
    """
    value = to_decimal(quantity, field="quantity")
    factor = resolve_unit(item, unit_code).factor
    with localcontext() as context:
        context.prec = _CONTEXT_PRECISION
        result = (value * factor).quantize(_BASE_STEP, rounding=ROUND_HALF_UP)
    _check_range(result, "quantity")
    return result


def from_base(item: Item, base_quantity: Decimal, unit_code: str) -> Decimal:
    """`base_quantity` (in the item's base unit) expressed in `unit_code`, to 18 places.

    Round the result with `round_in_unit` to show it or to order in whole cases.
    """
    value = to_decimal(base_quantity, field="quantity")
    factor = resolve_unit(item, unit_code).factor
    with localcontext() as context:
        context.prec = _CONTEXT_PRECISION
        return (value / factor).quantize(_UNIT_STEP, rounding=ROUND_HALF_UP)


def round_quantity(quantity: Decimal, *, decimal_places: int, rounding: str) -> Decimal:
    """Round to `decimal_places` with a policy: half-up, up (away from zero) or down."""
    value = to_decimal(quantity, field="quantity")
    try:
        mode = _ROUNDING_MODES[Rounding(rounding)]
    except ValueError:
        raise ValidationFailed(
            {"rounding": [_("“%(rounding)s” is not a rounding policy.") % {"rounding": rounding}]}
        ) from None
    with localcontext() as context:
        context.prec = _CONTEXT_PRECISION
        return value.quantize(Decimal(1).scaleb(-decimal_places), rounding=mode)


def round_in_unit(item: Item, quantity: Decimal, unit_code: str) -> Decimal:
    """Round a quantity already in `unit_code` by that unit's policy (2.1 cases → 3 when buying)."""
    unit = resolve_unit(item, unit_code)
    return round_quantity(quantity, decimal_places=unit.decimal_places, rounding=unit.rounding)


def convert(item: Item, quantity: Decimal, from_unit: str, to_unit: str) -> Decimal:
    """Convert between two of an item's units through the base unit (bags → cases)."""
    return from_base(item, to_base(item, quantity, from_unit), to_unit)


def describe(item: Any, unit_code: str) -> str:
    """“1 case = 15 kg”, for pages and error messages."""
    unit = resolve_unit(item, unit_code)
    factor = unit.factor.normalize()
    text = f"{factor:f}"
    return f"1 {unit.code} = {text} {item.base_unit.code}"
