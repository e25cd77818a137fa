"""Recipe versions and modifiers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from backroom.audit.services import record_audit, snapshot
from backroom.catalog.choices import RECIPE_KINDS, ItemKind, ModifierAction
from backroom.catalog.events import ModifierCreated, RecipePublished
from backroom.catalog.exceptions import MissingConversion, RecipeCycle, UnknownUnit
from backroom.catalog.models import (
    Item,
    Modifier,
    ModifierEffect,
    Recipe,
    RecipeLine,
)
from backroom.catalog.selectors import has_effective_recipe, root_node
from backroom.catalog.services.common import (
    Problems,
    _audit_and_publish,
    _decimal,
    _text,
    require_catalog_manage,
)
from backroom.catalog.units import resolve_unit
from backroom.kernel.exceptions import ValidationFailed
from backroom.kernel.money import FACTOR_DIGITS, FACTOR_PLACES

# --- recipes --------------------------------------------------------------------------------


@dataclass
class RecipeLineInput:
    component_sku: str
    quantity: Decimal
    unit_code: str
    loss_percent: Decimal = Decimal(0)
    notes: str = ""


@dataclass
class RecipeInput:
    effective_from: dt.date
    lines: list[RecipeLineInput]
    yield_quantity: Decimal = Decimal(1)
    notes: str = ""


def _check_unit(problems: Problems, item: Item, unit_code: str, field_name: str) -> None:
    try:
        resolve_unit(item, unit_code, field=field_name)
    except (UnknownUnit, MissingConversion) as error:
        problems.add_error(field_name, error)


def _recipe_graph(on: dt.date) -> dict[int, set[int]]:
    """item id → components used by any version of its recipe still effective on or after
    `on` (one query for the whole catalog)."""
    graph: dict[int, set[int]] = {}
    rows = (
        RecipeLine.objects.exclude(recipe__effective_to__lte=on)
        .values_list("recipe__item_id", "component_id")
        .distinct()
    )
    for item_id, component_id in rows:
        graph.setdefault(item_id, set()).add(component_id)
    return graph


def _find_cycle(item: Item, component_ids: list[int], on: dt.date) -> list[str] | None:
    """A path item → … → item through recipes effective from `on`, or None (depth-first)."""
    graph = _recipe_graph(on)
    finished: set[int] = set()

    def visit(node: int, path: list[int]) -> list[int] | None:
        if node == item.pk:
            return path
        if node in finished or node in path[:-1]:
            return None
        for child in sorted(graph.get(node, ())):
            found = visit(child, [*path, child])
            if found is not None:
                return found
        finished.add(node)
        return None

    for component_id in component_ids:
        found = visit(component_id, [item.pk, component_id])
        if found is not None:
            skus = dict(Item.objects.filter(pk__in=found).values_list("pk", "sku"))
            return [skus[pk] for pk in found]
    return None


def publish_recipe(item: Item, data: RecipeInput, *, actor: Any, reason: str = "") -> Recipe:
    """Publish a new version of an item's recipe, effective from `data.effective_from`.

    The previous open version ends where this one starts. Published versions never change.
    A version other than the first cannot start in the past (history stays as it was costed)
    nor on or before the latest version's start. Sub-recipes that are not made ahead must have
    a recipe effective on the start date. A recipe that uses itself, directly or through
    sub-recipes, is refused with `recipe_cycle` naming the loop.
    """
    require_catalog_manage(actor)
    problems = Problems()
    if item.kind not in RECIPE_KINDS:
        problems.add(
            "item",
            _("Only menu items and prepared items have recipes (this is %(kind)s).")
            % {"kind": ItemKind(item.kind).label},
        )
    if not item.is_active:
        problems.add("item", _("%(sku)s is inactive.") % {"sku": item.sku})
    yield_quantity = _decimal(
        problems, "yield_quantity", data.yield_quantity, places=6, digits=18, positive=True
    )
    if not isinstance(data.effective_from, dt.date):
        problems.add("effective_from", _("A start date is required."))
    latest = Recipe.objects.filter(item=item).order_by("-version").first()
    if latest is not None and isinstance(data.effective_from, dt.date):
        if data.effective_from <= latest.effective_from:
            problems.add(
                "effective_from",
                _("Version %(version)d starts on %(date)s; a new version must start later.")
                % {"version": latest.version, "date": latest.effective_from.isoformat()},
            )
        elif data.effective_from < timezone.localdate():
            problems.add(
                "effective_from",
                _(
                    "A new version cannot start in the past; recipes already used stay as they were."
                ),
            )
    if len(data.notes or "") > 5000:
        problems.add("notes", _("At most %(count)d characters.") % {"count": 5000})
    if not data.lines:
        problems.add("lines", _("A recipe needs at least one line."))
    skus = {line.component_sku for line in data.lines}
    components = {
        row.sku: row
        for row in Item.objects.select_related("base_unit")
        .prefetch_related("units")
        .filter(sku__in=skus)
    }
    lines: list[tuple[Item, Decimal, str, Decimal, str]] = []
    for index, line in enumerate(data.lines):
        prefix = f"lines.{index}"
        component = components.get(line.component_sku)
        if component is None:
            problems.add(
                f"{prefix}.component_sku",
                _("There is no item %(sku)s.") % {"sku": line.component_sku},
            )
        elif not component.is_active:
            problems.add(
                f"{prefix}.component_sku", _("%(sku)s is inactive.") % {"sku": component.sku}
            )
        quantity = _decimal(
            problems, f"{prefix}.quantity", line.quantity, places=6, digits=18, positive=True
        )
        loss = _decimal(
            problems,
            f"{prefix}.loss_percent",
            line.loss_percent,
            places=4,
            digits=7,
            not_negative=True,
        )
        if loss is not None and loss >= 100:
            problems.add(f"{prefix}.loss_percent", _("A loss must be below 100 %."))
        if len(line.notes or "") > 200:
            problems.add(f"{prefix}.notes", _("At most %(count)d characters.") % {"count": 200})
        if component is None:
            continue
        _check_unit(problems, component, line.unit_code, f"{prefix}.unit_code")
        if (
            component.kind in RECIPE_KINDS
            and not component.is_made_ahead
            and component.pk != item.pk
            and isinstance(data.effective_from, dt.date)
            and not has_effective_recipe(component, data.effective_from)
        ):
            problems.add(
                f"{prefix}.component_sku",
                _(
                    "%(sku)s has no recipe effective on %(date)s: publish its recipe first, "
                    "or mark it made ahead and stocked."
                )
                % {"sku": component.sku, "date": data.effective_from.isoformat()},
            )
        if quantity is not None and loss is not None:
            lines.append((component, quantity, line.unit_code.strip(), loss, line.notes or ""))
    problems.raise_if_any()
    cycle = _find_cycle(item, [component.pk for component, *_rest in lines], data.effective_from)
    if cycle is not None:
        raise RecipeCycle(cycle)

    with transaction.atomic():
        Item.objects.select_for_update().filter(pk=item.pk).first()  # one publisher at a time
        version = (Recipe.objects.filter(item=item).aggregate(top=Max("version"))["top"] or 0) + 1
        previous = (
            Recipe.objects.filter(item=item, effective_to__isnull=True).order_by("-version").first()
        )
        if previous is not None:
            if data.effective_from <= previous.effective_from:
                raise ValidationFailed(
                    {"effective_from": [_("A newer version was published meanwhile.")]}
                )
            previous_before = snapshot(previous, ["effective_to"])
            previous.effective_to = data.effective_from
            previous.save(update_fields=["effective_to", "updated_at"])
            record_audit(
                actor=actor,
                action="catalog.recipe.close",
                target=previous,
                before=previous_before,
                after=snapshot(previous, ["effective_to"]),
                reason=reason,
                org_node=root_node(),
            )
        recipe = Recipe.objects.create(
            item=item,
            version=version,
            effective_from=data.effective_from,
            yield_quantity=yield_quantity,
            notes=(data.notes or "").strip(),
        )
        RecipeLine.objects.bulk_create(
            RecipeLine(
                recipe=recipe,
                position=position,
                component=component,
                quantity=quantity,
                unit_code=unit_code,
                loss_percent=loss,
                notes=notes.strip(),
            )
            for position, (component, quantity, unit_code, loss, notes) in enumerate(lines, 1)
        )
        after = snapshot(recipe)
        after["lines"] = [
            {
                "component": component.sku,
                "quantity": quantity,
                "unit_code": unit_code,
                "loss_percent": loss,
            }
            for component, quantity, unit_code, loss, _notes in lines
        ]
        _audit_and_publish(
            actor=actor,
            action="catalog.recipe.publish",
            target=recipe,
            before=None,
            after=after,
            reason=reason,
            payload=RecipePublished(
                recipe_id=recipe.pk,
                item_id=item.pk,
                sku=item.sku,
                version=version,
                effective_from=data.effective_from.isoformat(),
                previous_recipe_id=previous.pk if previous is not None else None,
            ),
        )
    return recipe


# --- modifiers ------------------------------------------------------------------------------


@dataclass
class ModifierEffectInput:
    action: str
    item_sku: str | None = None
    replacement_sku: str | None = None
    quantity: Decimal | None = None
    unit_code: str = ""
    factor: Decimal | None = None


@dataclass
class ModifierInput:
    code: str
    name: str
    effects: list[ModifierEffectInput] = field(default_factory=list)


def _effect_item(problems: Problems, field_name: str, sku: str | None) -> Item | None:
    if not sku:
        problems.add(field_name, _("This field is required."))
        return None
    item = Item.objects.select_related("base_unit").filter(sku=sku).first()
    if item is None:
        problems.add(field_name, _("There is no item %(sku)s.") % {"sku": sku})
    return item


def create_modifier(data: ModifierInput, *, actor: Any) -> Modifier:
    """Add a modifier with its effects: add an item, remove one, replace A by B, scale ×N."""
    require_catalog_manage(actor)
    problems = Problems()
    code = _text(problems, "code", data.code, 40)
    name = _text(problems, "name", data.name, 100)
    if code and Modifier.objects.filter(code=code).exists():
        problems.add("code", _("The modifier %(code)s already exists.") % {"code": code})
    if not data.effects:
        problems.add("effects", _("A modifier needs at least one effect."))
    effects: list[ModifierEffect] = []
    for index, effect in enumerate(data.effects):
        prefix = f"effects.{index}"
        if effect.action not in ModifierAction.values:
            problems.add(
                f"{prefix}.action",
                _("“%(value)s” is not a valid choice.") % {"value": effect.action},
            )
            continue
        row = ModifierEffect(action=effect.action, unit_code=(effect.unit_code or "").strip())
        if effect.action == ModifierAction.SCALE:
            row.factor = _decimal(
                problems,
                f"{prefix}.factor",
                effect.factor if effect.factor is not None else "",
                places=FACTOR_PLACES,
                digits=FACTOR_DIGITS,
                positive=True,
            )
            if effect.item_sku or effect.replacement_sku or effect.quantity is not None:
                problems.add(f"{prefix}.action", _("A scale effect takes only a factor."))
        else:
            row.item = _effect_item(problems, f"{prefix}.item_sku", effect.item_sku)
            if effect.factor is not None:
                problems.add(f"{prefix}.factor", _("Only a scale effect takes a factor."))
        if effect.action == ModifierAction.ADD:
            row.quantity = _decimal(
                problems,
                f"{prefix}.quantity",
                effect.quantity if effect.quantity is not None else "",
                places=6,
                digits=18,
                positive=True,
            )
            if row.item is not None:
                _check_unit(problems, row.item, row.unit_code, f"{prefix}.unit_code")
        if effect.action == ModifierAction.REMOVE and (
            effect.quantity is not None or effect.replacement_sku
        ):
            problems.add(f"{prefix}.action", _("A remove effect takes only the item."))
        if effect.action == ModifierAction.REPLACE:
            row.replacement = _effect_item(
                problems, f"{prefix}.replacement_sku", effect.replacement_sku
            )
            if effect.quantity is not None:
                row.quantity = _decimal(
                    problems,
                    f"{prefix}.quantity",
                    effect.quantity,
                    places=6,
                    digits=18,
                    positive=True,
                )
                if row.replacement is not None:
                    _check_unit(problems, row.replacement, row.unit_code, f"{prefix}.unit_code")
            elif row.unit_code:
                problems.add(f"{prefix}.unit_code", _("Give a quantity with the unit."))
            if row.item is not None and row.item == row.replacement:
                problems.add(f"{prefix}.replacement_sku", _("An item cannot replace itself."))
        effects.append(row)
    problems.raise_if_any()
    with transaction.atomic():
        modifier = Modifier.objects.create(code=code, name=name)
        for row in effects:
            row.modifier = modifier
        ModifierEffect.objects.bulk_create(effects)
        after = snapshot(modifier)
        after["effects"] = [
            {
                "action": row.action,
                "item": row.item.sku if row.item else None,
                "replacement": row.replacement.sku if row.replacement else None,
                "quantity": row.quantity,
                "unit_code": row.unit_code,
                "factor": row.factor,
            }
            for row in effects
        ]
        _audit_and_publish(
            actor=actor,
            action="catalog.modifier.create",
            target=modifier,
            before=None,
            after=after,
            payload=ModifierCreated(
                modifier_id=modifier.pk, code=modifier.code, actions=[r.action for r in effects]
            ),
        )
    return modifier
