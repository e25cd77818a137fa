"""Cost cards (成本卡): what a portion costs at a site today, and its food cost % of the price.

Each line of the dish is costed in the component's base unit:
- a stocked component (ingredient, made-ahead prep) at the site's moving-average cost
  (`backroom.inventory.selectors.average_cost`), or at the item's standard cost when the site
  has none yet (never received) — the line says which (`source`);
- a made-to-order sub-recipe as the sum of its own exploded components (`sub_recipe`), each
  listed with its source.
Costs are in the site's base currency (the moving average) or the item's cost currency (the
standard cost); a line in another currency than the card is reported, not converted (FX is
finance's job), and leaves the card incomplete. Line costs and the total are computed exactly
and rounded half-up to 4 places for money; food cost % = total ÷ menu price × 100, to 2 places,
only when the card is complete and the price is in the card's currency.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

from django.utils.translation import gettext as _

from backroom.catalog.choices import STOCKED_KINDS, CostSource
from backroom.catalog.exceptions import RecipeNotFound
from backroom.catalog.models import Item, MenuPrice, Modifier
from backroom.catalog.recipes import (
    PRECISION,
    Exploder,
    PlannedLine,
    is_leaf,
    plan_lines,
    resolve_modifiers,
)
from backroom.catalog.selectors import menu_price, site_today
from backroom.org.models import Site

_MONEY_STEP = Decimal("0.0001")
_QUANTITY_STEP = Decimal("0.000001")
_PERCENT_STEP = Decimal("0.01")

AverageCost = Callable[[Item, Site], Decimal | None]


def _average_cost_function() -> AverageCost | None:
    """The inventory's moving-average lookup, when that app provides it (imported lazily)."""
    try:
        from backroom.inventory.selectors import average_cost
    except ImportError:
        return None
    return average_cost  # type: ignore[no-any-return]


def _money(value: Decimal) -> Decimal:
    return value.quantize(_MONEY_STEP, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class UnitCost:
    """The cost of one base unit of an item at a site, and where it came from."""

    amount: Decimal | None
    currency: str | None
    source: str


class CostLookup:
    """Unit costs of items at one site, looked up once each."""

    def __init__(self, site: Site | None) -> None:
        self.site = site
        self.site_currency = site.legal_entity.base_currency if site is not None else None
        self.average_cost = _average_cost_function() if site is not None else None
        self._cache: dict[int, UnitCost] = {}

    def __call__(self, item: Item) -> UnitCost:
        if item.pk not in self._cache:
            self._cache[item.pk] = self._lookup(item)
        return self._cache[item.pk]

    def _lookup(self, item: Item) -> UnitCost:
        if self.average_cost is not None and self.site is not None:
            average = self.average_cost(item, self.site)
            if average is not None:
                return UnitCost(average, self.site_currency, CostSource.AVERAGE_COST)
        if item.standard_cost is not None:
            return UnitCost(item.standard_cost, item.cost_currency, CostSource.STANDARD_COST)
        return UnitCost(None, None, CostSource.MISSING)


@dataclass
class CostComponent:
    """A stocked item inside a sub-recipe line, with its cost."""

    item: Item
    base_quantity: Decimal
    unit_cost: Decimal | None
    cost: Decimal | None
    currency: str | None
    source: str


@dataclass
class CostLine:
    """One line of the dish per portion: what it uses and what that costs."""

    position: int
    component: Item
    quantity: Decimal
    unit_code: str
    loss_percent: Decimal
    base_quantity: Decimal  # gross, in the component's base unit, per portion
    origin: str
    source: str
    unit_cost: Decimal | None  # per base unit of the component (None for a sub-recipe)
    cost: Decimal | None
    currency: str | None
    components: list[CostComponent] = field(default_factory=list)


@dataclass
class CostCard:
    """A dish's cost per portion (one base unit) at a site on a date."""

    item: Item
    site: Site | None
    on: dt.date
    recipe_version: int | None  # None: a stocked item sold as it is
    yield_quantity: Decimal
    modifiers: list[str]
    lines: list[CostLine]
    currency: str | None
    total_cost: Decimal | None
    price: MenuPrice | None
    food_cost_percent: Decimal | None
    is_complete: bool
    warnings: list[str]

    @property
    def price_amount(self) -> Decimal | None:
        return self.price.price if self.price is not None else None

    @property
    def price_currency(self) -> str | None:
        return self.price.currency if self.price is not None else None

    @property
    def gross_margin(self) -> Decimal | None:
        if self.food_cost_percent is None or self.price is None or self.total_cost is None:
            return None
        return _money(self.price.price - self.total_cost)


def cost_card(
    item: Item,
    site: Site | None,
    *,
    on: dt.date | None = None,
    modifiers: Iterable[Modifier | str] = (),
) -> CostCard:
    """The cost card of `item` at `site` (None: chain default prices, standard costs)."""
    day = on or site_today(site)
    exploder = Exploder(day)
    recipe = exploder.recipe(item)
    chosen = resolve_modifiers(modifiers)
    if recipe is None and (item.kind not in STOCKED_KINDS or chosen):
        raise RecipeNotFound(item, day)
    lookup = CostLookup(site)
    price = menu_price(item, site, day)
    currency = (
        price.currency
        if price is not None
        else (lookup.site_currency if site is not None else None)
    )
    warnings: list[str] = []
    lines: list[CostLine] = []
    total = Decimal(0)
    complete = True

    def account(amount: Decimal | None, cost_currency: str | None, sku: str) -> None:
        nonlocal total, complete, currency
        if amount is None:
            complete = False
            warnings.append(_("%(sku)s has no cost at this site.") % {"sku": sku})
            return
        if currency is None:
            currency = cost_currency
        if cost_currency != currency:
            complete = False
            warnings.append(
                _("%(sku)s is costed in %(other)s, not %(currency)s; it is left out.")
                % {"sku": sku, "other": cost_currency, "currency": currency}
            )
            return
        total += amount

    with localcontext() as context:
        context.prec = PRECISION
        planned_lines = (
            plan_lines(recipe, chosen)
            if recipe is not None
            else [  # sold as it is (a can of cola): the item itself
                PlannedLine(
                    component=item,
                    quantity=Decimal(1),
                    unit_code=item.base_unit.code,
                    loss_percent=Decimal(0),
                    base_quantity=Decimal(1),
                    origin="item",
                    position=1,
                )
            ]
        )
        for planned in planned_lines:
            quantity = planned.base_quantity
            if is_leaf(planned.component):
                unit = lookup(planned.component)
                cost = quantity * unit.amount if unit.amount is not None else None
                account(cost, unit.currency, planned.component.sku)
                lines.append(
                    CostLine(
                        position=planned.position,
                        component=planned.component,
                        quantity=planned.quantity,
                        unit_code=planned.unit_code,
                        loss_percent=planned.loss_percent,
                        base_quantity=quantity.quantize(_QUANTITY_STEP, rounding=ROUND_HALF_UP),
                        origin=planned.origin,
                        source=unit.source,
                        unit_cost=unit.amount,
                        cost=_money(cost) if cost is not None else None,
                        currency=unit.currency,
                    )
                )
                continue
            components: list[CostComponent] = []
            exploded = exploder.explode_line(planned.component, quantity)
            items = {row.pk: row for row in Item.objects.filter(pk__in=exploded)}
            for item_id, used in sorted(exploded.items(), key=lambda pair: items[pair[0]].sku):
                leaf = items[item_id]
                unit = lookup(leaf)
                cost = used * unit.amount if unit.amount is not None else None
                account(cost, unit.currency, leaf.sku)
                components.append(
                    CostComponent(
                        item=leaf,
                        base_quantity=used.quantize(_QUANTITY_STEP, rounding=ROUND_HALF_UP),
                        unit_cost=unit.amount,
                        cost=cost,
                        currency=unit.currency,
                        source=unit.source,
                    )
                )
            currencies = {component.currency for component in components}
            line_cost: Decimal | None = None
            line_currency: str | None = None
            if all(c.cost is not None for c in components) and len(currencies) == 1:
                line_cost = sum((c.cost or Decimal(0) for c in components), Decimal(0))
                line_currency = currencies.pop()
            for component in components:
                if component.cost is not None:
                    component.cost = _money(component.cost)
            lines.append(
                CostLine(
                    position=planned.position,
                    component=planned.component,
                    quantity=planned.quantity,
                    unit_code=planned.unit_code,
                    loss_percent=planned.loss_percent,
                    base_quantity=quantity.quantize(_QUANTITY_STEP, rounding=ROUND_HALF_UP),
                    origin=planned.origin,
                    source=CostSource.SUB_RECIPE,
                    unit_cost=None,
                    cost=_money(line_cost) if line_cost is not None else None,
                    currency=line_currency,
                    components=components,
                )
            )
        total_cost = _money(total) if lines else None
        percent = None
        if price is None:
            warnings.append(_("There is no menu price on this date."))
        elif complete and total_cost is not None and price.price > 0:
            if price.currency == currency:
                percent = (total / price.price * 100).quantize(
                    _PERCENT_STEP, rounding=ROUND_HALF_UP
                )
    return CostCard(
        item=item,
        site=site,
        on=day,
        recipe_version=recipe.version if recipe is not None else None,
        yield_quantity=recipe.yield_quantity if recipe is not None else Decimal(1),
        modifiers=[modifier.code for modifier in chosen],
        lines=lines,
        currency=currency,
        total_cost=total_cost,
        price=price,
        food_cost_percent=percent,
        is_complete=complete,
        warnings=warnings,
    )


def describe_sources(card: CostCard) -> dict[str, int]:
    """How many stocked items were costed from each source (for a summary badge)."""
    counts: dict[str, int] = {}
    for line in card.lines:
        for source in [line.source] if not line.components else [c.source for c in line.components]:
            counts[source] = counts.get(source, 0) + 1
    return counts


__all__: list[Any] = ["CostCard", "CostComponent", "CostLine", "cost_card", "describe_sources"]
