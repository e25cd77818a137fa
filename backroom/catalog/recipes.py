"""Recipe explosion: how much of each stocked item a quantity of a dish (or prep) uses.

`explode(item, quantity, modifiers=..., on=..., site=...)` returns {item id: base quantity}.
The rules (docs/catalog.md has worked numbers):
- The recipe version effective on `on` is used (`on` defaults to the site's business date).
- Each line needs net / (1 − loss %) of its component, in the component's base unit, per
  recipe yield: a broth recipe yielding 20 l asks for 1/20 of its lines per litre.
- Modifiers change the dish's own lines only (not its sub-recipes, which are cooked in
  batches): first every replace (A → B, same quantity and unit unless the effect gives them),
  then every remove, then every scale (×1.5 for large; several multiply), then every add
  (a fixed quantity per portion, not scaled).
- Components are exploded through their own recipes down to stocked items: ingredients, retail
  goods, supplies and spare parts are leaves; a prepared item is a leaf only when it is flagged
  made ahead and stocked (`Item.is_made_ahead`: broth, chilli oil), otherwise it is made to
  order and its recipe is exploded too. A prepared or menu component without an effective
  recipe is `recipe_not_found`; a loop is `recipe_cycle` naming the path.
- The item asked for is always exploded through its recipe when it has one (a production of
  a made-ahead broth consumes the broth's ingredients); an item without a recipe that is
  stocked explodes to itself (a can of cola sold is a can of cola).
Arithmetic is exact (80 digits); each total is rounded half-up to the ledger's 6 places once,
at the end.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

from django.utils.translation import gettext as _

from backroom.catalog.choices import RECIPE_KINDS, STOCKED_KINDS, ItemKind, ModifierAction
from backroom.catalog.exceptions import RecipeCycle, RecipeNotFound
from backroom.catalog.models import Item, Modifier, Recipe
from backroom.catalog.selectors import effective_recipe, site_today
from backroom.catalog.units import resolve_unit
from backroom.kernel.exceptions import ValidationFailed
from backroom.kernel.money import QUANTITY_PLACES, to_decimal

PRECISION = 80
_BASE_STEP = Decimal(1).scaleb(-QUANTITY_PLACES)
_HUNDRED = Decimal(100)


def is_leaf(item: Item) -> bool:
    """Taken from stock as it is (not exploded) when used as a component."""
    if item.kind not in RECIPE_KINDS:
        return True
    return item.kind == ItemKind.PREPARED and item.is_made_ahead


@dataclass(frozen=True)
class PlannedLine:
    """A line of a dish as it will be made: its component and the gross base quantity needed
    per one base unit of the dish (after yield, loss % and modifiers)."""

    component: Item
    quantity: Decimal  # as written, in `unit_code`
    unit_code: str
    loss_percent: Decimal
    base_quantity: Decimal  # gross, in the component's base unit, per base unit of the dish
    origin: str = "recipe"  # or "modifier:<code>"
    position: int = 0


def _gross(net: Decimal, loss_percent: Decimal) -> Decimal:
    return net / (1 - loss_percent / _HUNDRED)


def resolve_modifiers(modifiers: Iterable[Modifier | str]) -> list[Modifier]:
    """Modifier rows for codes (or rows), in the order given; unknown codes are refused."""
    wanted = list(modifiers)
    codes = [m for m in wanted if isinstance(m, str)]
    rows = {
        row.code: row
        for row in Modifier.objects.filter(code__in=codes).prefetch_related(
            "effects__item__base_unit",
            "effects__item__units",
            "effects__replacement__base_unit",
            "effects__replacement__units",
        )
    }
    unknown = [code for code in codes if code not in rows]
    if unknown:
        raise ValidationFailed(
            {
                "modifiers": [
                    _("There is no modifier %(code)s.") % {"code": code} for code in unknown
                ]
            }
        )
    return [rows[m] if isinstance(m, str) else m for m in wanted]


def plan_lines(recipe: Recipe, modifiers: Sequence[Modifier] = ()) -> list[PlannedLine]:
    """The recipe's lines as the dish will be made with `modifiers` applied (see the module)."""
    with localcontext() as context:
        context.prec = PRECISION
        yield_quantity = recipe.yield_quantity
        raw = [
            (line.component, line.quantity, line.unit_code, line.loss_percent, line.position)
            for line in recipe.lines.all()
        ]
        effects = [(m, e) for m in modifiers for e in m.effects.all()]
        # 1. replace A by B
        for _modifier, effect in effects:
            if effect.action != ModifierAction.REPLACE:
                continue
            replaced = []
            for component, quantity, unit_code, loss, position in raw:
                if component.pk == effect.item_id:
                    assert effect.replacement is not None
                    if effect.quantity is not None:
                        quantity, unit_code = effect.quantity, effect.unit_code
                    component = effect.replacement
                replaced.append((component, quantity, unit_code, loss, position))
            raw = replaced
        # 2. remove
        removed = {e.item_id for _m, e in effects if e.action == ModifierAction.REMOVE}
        raw = [row for row in raw if row[0].pk not in removed]
        # 3. scale
        scale = Decimal(1)
        for _m, effect in effects:
            if effect.action == ModifierAction.SCALE and effect.factor is not None:
                scale *= effect.factor
        planned = [
            PlannedLine(
                component=component,
                quantity=quantity,
                unit_code=unit_code,
                loss_percent=loss,
                base_quantity=_gross(quantity * resolve_unit(component, unit_code).factor, loss)
                / yield_quantity
                * scale,
                position=position,
            )
            for component, quantity, unit_code, loss, position in raw
        ]
        # 4. add a fixed quantity per portion
        next_position = max((line.position for line in planned), default=0)
        for modifier, effect in effects:
            if effect.action != ModifierAction.ADD:
                continue
            assert effect.item is not None and effect.quantity is not None
            next_position += 1
            planned.append(
                PlannedLine(
                    component=effect.item,
                    quantity=effect.quantity,
                    unit_code=effect.unit_code,
                    loss_percent=Decimal(0),
                    base_quantity=effect.quantity
                    * resolve_unit(effect.item, effect.unit_code).factor,
                    origin=f"modifier:{modifier.code}",
                    position=next_position,
                )
            )
    return planned


@dataclass
class Exploder:
    """Explodes dishes on one date, caching recipes; use one per batch of sales."""

    on: dt.date
    _recipes: dict[int, Recipe | None] = field(default_factory=dict)
    _plans: dict[int, list[PlannedLine]] = field(default_factory=dict)

    def recipe(self, item: Item) -> Recipe | None:
        if item.pk not in self._recipes:
            self._recipes[item.pk] = effective_recipe(item, self.on)
        return self._recipes[item.pk]

    def _plan(self, item: Item) -> list[PlannedLine]:
        if item.pk not in self._plans:
            recipe = self.recipe(item)
            if recipe is None:
                raise RecipeNotFound(item, self.on)
            self._plans[item.pk] = plan_lines(recipe)
        return self._plans[item.pk]

    def _accumulate(
        self, item: Item, quantity: Decimal, path: list[Item], totals: dict[int, Decimal]
    ) -> None:
        if any(step.pk == item.pk for step in path):
            raise RecipeCycle([step.sku for step in path] + [item.sku])
        if is_leaf(item):
            totals[item.pk] += quantity
            return
        for line in self._plan(item):
            self._accumulate(line.component, line.base_quantity * quantity, [*path, item], totals)

    def add(
        self,
        totals: dict[int, Decimal],
        item: Item,
        quantity: Decimal,
        modifiers: Sequence[Modifier] = (),
    ) -> None:
        """Add the stocked items `quantity` base units of `item` use into `totals` (exact)."""
        recipe = self.recipe(item)
        with localcontext() as context:
            context.prec = PRECISION
            if recipe is None:
                if item.kind not in STOCKED_KINDS:
                    raise RecipeNotFound(item, self.on)
                if modifiers:
                    raise ValidationFailed(
                        {"modifiers": [_("%(sku)s has no recipe to modify.") % {"sku": item.sku}]}
                    )
                totals[item.pk] += quantity
                return
            lines = plan_lines(recipe, modifiers) if modifiers else self._plan(item)
            for line in lines:
                self._accumulate(line.component, line.base_quantity * quantity, [item], totals)

    def explode_line(self, item: Item, base_quantity: Decimal) -> dict[int, Decimal]:
        """The stocked items a component line uses (itself when it is a leaf), exact."""
        totals: dict[int, Decimal] = defaultdict(Decimal)
        with localcontext() as context:
            context.prec = PRECISION
            self._accumulate(item, base_quantity, [], totals)
        return dict(totals)


def _rounded(totals: dict[int, Decimal]) -> dict[int, Decimal]:
    with localcontext() as context:
        context.prec = PRECISION
        return {
            item_id: quantity.quantize(_BASE_STEP, rounding=ROUND_HALF_UP)
            for item_id, quantity in totals.items()
        }


def explode(
    item: Item,
    quantity: Decimal,
    *,
    modifiers: Iterable[Modifier | str] = (),
    on: dt.date | None = None,
    site: Any = None,
) -> dict[int, Decimal]:
    """{stocked item id: base quantity} used by `quantity` base units of `item` (see module).

    `site` picks the business date when `on` is not given (recipes are chain-wide today).
    """
    day = on or site_today(site)
    amount = to_decimal(quantity, field="quantity")
    totals: dict[int, Decimal] = defaultdict(Decimal)
    Exploder(day).add(totals, item, amount, resolve_modifiers(modifiers))
    return _rounded(totals)


@dataclass(frozen=True)
class SoldLine:
    item: Item
    quantity: Decimal
    modifiers: tuple[Modifier | str, ...] = ()


def explode_many(
    lines: Iterable[SoldLine],
    *,
    on: dt.date | None = None,
    site: Any = None,
    exploder: Exploder | None = None,
) -> dict[int, Decimal]:
    """Explode many sold lines at once (one recipe cache), summed per stocked item. Pass an
    `exploder` to share its recipe cache across calls on the same date (many stores)."""
    day = on or site_today(site)
    exploder = exploder if exploder is not None and exploder.on == day else Exploder(day)
    totals: dict[int, Decimal] = defaultdict(Decimal)
    for line in lines:
        exploder.add(
            totals,
            line.item,
            to_decimal(line.quantity, field="quantity"),
            resolve_modifiers(line.modifiers),
        )
    return _rounded(totals)
