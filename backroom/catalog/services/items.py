"""Units, item classes, categories, items and item units."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from backroom.audit.services import record_audit, snapshot
from backroom.catalog.batch import cached, forget
from backroom.catalog.choices import (
    Dimension,
    ItemKind,
    NegativeStockPolicy,
    Rounding,
    Storage,
)
from backroom.catalog.events import (
    CategoryCreated,
    ItemClassCreated,
    ItemClassUpdated,
    ItemCreated,
    ItemDeactivated,
    ItemUnitAdded,
    ItemUnitChanged,
    ItemUpdated,
    UnitCreated,
)
from backroom.catalog.models import (
    Category,
    Item,
    ItemClass,
    ItemUnit,
    Unit,
)
from backroom.catalog.selectors import root_node
from backroom.catalog.services.common import (
    UNSET,
    Problems,
    _audit_and_publish,
    _choice,
    _decimal,
    _places,
    _text,
    require_catalog_manage,
)
from backroom.events.services import publish
from backroom.kernel.exceptions import ErrorCollector
from backroom.kernel.money import CURRENCIES, FACTOR_DIGITS, FACTOR_PLACES, MONEY_PLACES

# --- units, item classes, categories --------------------------------------------------------


@dataclass
class UnitInput:
    code: str
    name: str
    dimension: str
    to_reference: Decimal
    decimal_places: int = 3
    rounding: str = Rounding.HALF_UP


def create_unit(data: UnitInput, *, actor: Any) -> Unit:
    """Add a global unit of measure (jin = 500 g) that every item of its dimension can use."""
    require_catalog_manage(actor)
    problems = Problems()
    code = _text(problems, "code", data.code, 20)
    name = _text(problems, "name", data.name, 100)
    _choice(problems, "dimension", data.dimension, Dimension)
    size = _decimal(
        problems,
        "to_reference",
        data.to_reference,
        places=FACTOR_PLACES,
        digits=FACTOR_DIGITS,
        positive=True,
    )
    _places(problems, "decimal_places", data.decimal_places)
    _choice(problems, "rounding", data.rounding, Rounding)
    if code and Unit.objects.filter(code=code).exists():
        problems.add("code", _("The unit %(code)s already exists.") % {"code": code})
    problems.raise_if_any()
    assert size is not None
    with transaction.atomic():
        unit = Unit.objects.create(
            code=code,
            name=name,
            dimension=data.dimension,
            to_reference=size,
            decimal_places=data.decimal_places,
            rounding=data.rounding,
        )
        forget(f"unit:{unit.code}")
        _audit_and_publish(
            actor=actor,
            action="catalog.unit.create",
            target=unit,
            before=None,
            after=snapshot(unit),
            payload=UnitCreated(
                unit_id=unit.pk,
                code=unit.code,
                dimension=unit.dimension,
                to_reference=str(unit.to_reference),
            ),
        )
    return unit


SERVICE_LEVEL_MIN = Decimal("0.5")
SERVICE_LEVEL_MAX = Decimal("0.999")


def _service_level(problems: ErrorCollector, value: Any) -> Decimal | None:
    """A target service level: empty (the planning default), or 0.50 to 0.999."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    level = _decimal(problems, "service_level", value, places=3, digits=4)
    if level is None:
        return None
    if not SERVICE_LEVEL_MIN <= level <= SERVICE_LEVEL_MAX:
        problems.add(
            "service_level",
            _(
                "Use a service level from 0.50 to 0.999 (0.95: enough stock on 95 of 100 "
                "days), or leave it empty for the planning default."
            ),
        )
        return None
    return level


@dataclass
class ItemClassInput:
    code: str
    name: str
    negative_stock_policy: str = NegativeStockPolicy.FORBID
    service_level: Decimal | None = None


def create_item_class(data: ItemClassInput, *, actor: Any) -> ItemClass:
    """Add an item class (a set of stock policies such as negative stock allow/warn/forbid,
    and the target service level of its items' safety stock)."""
    require_catalog_manage(actor)
    problems = Problems()
    code = _text(problems, "code", data.code, 30)
    name = _text(problems, "name", data.name, 100)
    _choice(problems, "negative_stock_policy", data.negative_stock_policy, NegativeStockPolicy)
    level = _service_level(problems, data.service_level)
    if code and ItemClass.objects.filter(code=code).exists():
        problems.add("code", _("The item class %(code)s already exists.") % {"code": code})
    problems.raise_if_any()
    with transaction.atomic():
        item_class = ItemClass.objects.create(
            code=code,
            name=name,
            negative_stock_policy=data.negative_stock_policy,
            service_level=level,
        )
        forget(f"item_class:{code}")
        _audit_and_publish(
            actor=actor,
            action="catalog.item_class.create",
            target=item_class,
            before=None,
            after=snapshot(item_class),
            payload=ItemClassCreated(
                item_class_id=item_class.pk,
                code=item_class.code,
                negative_stock_policy=item_class.negative_stock_policy,
                service_level=None if level is None else str(level),
            ),
        )
    return item_class


@dataclass
class ItemClassChanges:
    """Fields to change on an item class; UNSET leaves a field as it is (a None service level
    falls back to the planning default). The code never changes."""

    name: Any = UNSET
    negative_stock_policy: Any = UNSET
    service_level: Any = UNSET


def update_item_class(
    item_class: ItemClass, changes: ItemClassChanges, *, actor: Any, reason: str = ""
) -> ItemClass:
    """Change an item class's name or policies; only the fields given change. The next
    suggested orders size their safety stock with the new service level."""
    require_catalog_manage(actor)
    problems = Problems()
    values: dict[str, Any] = {}
    if changes.name is not UNSET:
        values["name"] = _text(problems, "name", changes.name, 100)
    if changes.negative_stock_policy is not UNSET:
        _choice(
            problems, "negative_stock_policy", changes.negative_stock_policy, NegativeStockPolicy
        )
        values["negative_stock_policy"] = changes.negative_stock_policy
    if changes.service_level is not UNSET:
        values["service_level"] = _service_level(problems, changes.service_level)
    problems.raise_if_any()
    with transaction.atomic():
        item_class = ItemClass.objects.select_for_update().get(pk=item_class.pk)
        before = snapshot(item_class)
        changed = _apply_changes(item_class, values)
        if not changed:
            return item_class
        forget(f"item_class:{item_class.code}")
        _audit_and_publish(
            actor=actor,
            action="catalog.item_class.update",
            target=item_class,
            before=before,
            after=snapshot(item_class),
            reason=reason,
            payload=ItemClassUpdated(
                item_class_id=item_class.pk,
                code=item_class.code,
                changed=sorted(changed),
                service_level=(
                    None if item_class.service_level is None else str(item_class.service_level)
                ),
            ),
        )
    return item_class


@dataclass
class CategoryInput:
    code: str
    name: str
    parent_code: str | None = None


def create_category(data: CategoryInput, *, actor: Any) -> Category:
    """Add a category, optionally under a parent (Produce › Vegetables)."""
    require_catalog_manage(actor)
    problems = Problems()
    code = _text(problems, "code", data.code, 40)
    name = _text(problems, "name", data.name, 100)
    parent = None
    if data.parent_code:
        parent = Category.objects.filter(code=data.parent_code).first()
        if parent is None:
            problems.add(
                "parent_code",
                _("There is no category %(code)s.") % {"code": data.parent_code},
            )
    if code and Category.objects.filter(code=code).exists():
        problems.add("code", _("The category %(code)s already exists.") % {"code": code})
    problems.raise_if_any()
    with transaction.atomic():
        category = Category.objects.create(code=code, name=name, parent=parent)
        forget(f"category:{code}")
        _audit_and_publish(
            actor=actor,
            action="catalog.category.create",
            target=category,
            before=None,
            after=snapshot(category),
            payload=CategoryCreated(
                category_id=category.pk, code=category.code, parent_id=category.parent_id
            ),
        )
    return category


# --- items ----------------------------------------------------------------------------------


@dataclass
class ItemUnitInput:
    code: str
    factor: Decimal
    name: str = ""
    is_purchase: bool = False
    is_count: bool = False
    is_recipe: bool = False
    decimal_places: int = 3
    rounding: str = Rounding.HALF_UP


@dataclass
class ItemInput:
    sku: str
    name: str
    kind: str
    base_unit: str
    item_class: str
    category: str | None = None
    barcode: str = ""
    shelf_life_days: int | None = None
    storage: str = Storage.AMBIENT
    is_made_ahead: bool = False
    standard_cost: Decimal | None = None
    cost_currency: str = "CNY"
    units: list[ItemUnitInput] = field(default_factory=list)


@dataclass
class ItemChanges:
    """Fields to change on an item; UNSET leaves a field as it is (None clears a nullable one).

    The SKU, kind and base unit never change: stock is kept in the base unit.
    """

    name: Any = UNSET
    category: Any = UNSET
    item_class: Any = UNSET
    barcode: Any = UNSET
    shelf_life_days: Any = UNSET
    storage: Any = UNSET
    is_made_ahead: Any = UNSET
    standard_cost: Any = UNSET
    cost_currency: Any = UNSET


def _validate_item_fields(
    problems: ErrorCollector, values: dict[str, Any], *, kind: str | None
) -> dict[str, Any]:
    """Validate the editable fields present in `values`; returns them resolved to rows."""
    resolved: dict[str, Any] = {}
    if "name" in values:
        resolved["name"] = _text(problems, "name", values["name"], 200)
    if "category" in values:
        code = values["category"]
        if code in (None, ""):
            resolved["category"] = None
        else:
            category = cached(
                f"category:{code}", lambda: Category.objects.filter(code=code).first()
            )
            if category is None:
                problems.add("category", _("There is no category %(code)s.") % {"code": code})
            resolved["category"] = category
    if "item_class" in values:
        class_code = values["item_class"] or ""
        item_class = cached(
            f"item_class:{class_code}",
            lambda: ItemClass.objects.filter(code=class_code).first(),
        )
        if item_class is None:
            problems.add(
                "item_class",
                _("There is no item class %(code)s.") % {"code": values["item_class"]},
            )
        resolved["item_class"] = item_class
    if "barcode" in values:
        barcode = (values["barcode"] or "").strip()
        if len(barcode) > 40 or (barcode and not barcode.isalnum()):
            problems.add("barcode", _("Use up to 40 letters and digits."))
        resolved["barcode"] = barcode
    if "shelf_life_days" in values:
        days = values["shelf_life_days"]
        if days is not None and (
            not isinstance(days, int) or isinstance(days, bool) or not 0 < days <= 36500
        ):
            problems.add("shelf_life_days", _("Use a number of days from 1 to 36,500."))
        resolved["shelf_life_days"] = days
    if "storage" in values:
        _choice(problems, "storage", values["storage"], Storage)
        resolved["storage"] = values["storage"]
    if "is_made_ahead" in values:
        resolved["is_made_ahead"] = bool(values["is_made_ahead"])
        if resolved["is_made_ahead"] and kind != ItemKind.PREPARED:
            problems.add("is_made_ahead", _("Only a prepared item can be made ahead and stocked."))
    if "standard_cost" in values:
        cost = values["standard_cost"]
        resolved["standard_cost"] = (
            None
            if cost is None
            else _decimal(
                problems, "standard_cost", cost, places=MONEY_PLACES, digits=18, not_negative=True
            )
        )
    if "cost_currency" in values:
        if values["cost_currency"] not in CURRENCIES:
            problems.add(
                "cost_currency",
                _("“%(currency)s” is not a supported currency.")
                % {"currency": values["cost_currency"]},
            )
        resolved["cost_currency"] = values["cost_currency"]
    return resolved


UNIT_FIELDS = [
    "id",
    "code",
    "name",
    "factor",
    "is_purchase",
    "is_count",
    "is_recipe",
    "decimal_places",
    "rounding",
]


def create_item(data: ItemInput, *, actor: Any) -> Item:
    """Add an item with its base unit (kg, l, each) and, optionally, its other units."""
    require_catalog_manage(actor)
    problems = Problems()
    sku = _text(problems, "sku", data.sku, 40)
    _choice(problems, "kind", data.kind, ItemKind)
    base_unit = cached(
        f"unit:{data.base_unit}", lambda: Unit.objects.filter(code=data.base_unit).first()
    )
    if base_unit is None:
        problems.add("base_unit", _("There is no unit %(code)s.") % {"code": data.base_unit})
    if sku and Item.objects.filter(sku=sku).exists():
        problems.add("sku", _("The SKU %(sku)s is already used.") % {"sku": sku})
    values = {
        "name": data.name,
        "category": data.category,
        "item_class": data.item_class,
        "barcode": data.barcode,
        "shelf_life_days": data.shelf_life_days,
        "storage": data.storage,
        "is_made_ahead": data.is_made_ahead,
        "standard_cost": data.standard_cost,
        "cost_currency": data.cost_currency,
    }
    resolved = _validate_item_fields(problems, values, kind=data.kind)
    units: list[tuple[ItemUnitInput, str, Decimal | None]] = []
    seen: set[str] = set()
    for index, unit_input in enumerate(data.units):
        code, factor = _validate_item_unit(problems, unit_input, base_unit, f"units.{index}.")
        if code in seen:
            problems.add(
                f"units.{index}.code", _("The unit %(code)s is given twice.") % {"code": code}
            )
        seen.add(code)
        units.append((unit_input, code, factor))
    problems.raise_if_any()
    assert base_unit is not None
    with transaction.atomic():
        try:
            with transaction.atomic():
                item = Item.objects.create(sku=sku, kind=data.kind, base_unit=base_unit, **resolved)
        except IntegrityError:
            problems.add("sku", _("The SKU %(sku)s is already used.") % {"sku": sku})
            problems.raise_if_any()
        after = snapshot(item)
        created_units = [
            _create_item_unit(item, unit_input, code, factor) for unit_input, code, factor in units
        ]
        if created_units:
            after["units"] = [snapshot(row, UNIT_FIELDS) for row in created_units]
        _audit_and_publish(
            actor=actor,
            action="catalog.item.create",
            target=item,
            before=None,
            after=after,
            payload=ItemCreated(
                item_id=item.pk,
                sku=item.sku,
                name=item.name,
                kind=item.kind,
                base_unit=base_unit.code,  # type: ignore[union-attr]
            ),
        )
        for row in created_units:
            _publish_unit_added(item, row)
    return item


def update_item(item: Item, changes: ItemChanges, *, actor: Any, reason: str = "") -> Item:
    """Change an item's editable fields; only the fields given change."""
    require_catalog_manage(actor)
    values = {
        name: getattr(changes, name)
        for name in ItemChanges.__dataclass_fields__
        if getattr(changes, name) is not UNSET
    }
    problems = Problems()
    resolved = _validate_item_fields(problems, values, kind=item.kind)
    problems.raise_if_any()
    with transaction.atomic():
        item = Item.objects.select_for_update().get(pk=item.pk)
        before = snapshot(item)
        changed = []
        for name, value in resolved.items():
            if getattr(item, name) != value:
                setattr(item, name, value)
                changed.append(name)
        if not changed:
            return item
        item.save()
        _audit_and_publish(
            actor=actor,
            action="catalog.item.update",
            target=item,
            before=before,
            after=snapshot(item),
            reason=reason,
            payload=ItemUpdated(item_id=item.pk, sku=item.sku, changed=sorted(changed)),
        )
    return item


def deactivate_item(item: Item, *, actor: Any, reason: str = "") -> Item:
    """Retire an item: it stays in history and the ledger but is no longer offered."""
    require_catalog_manage(actor)
    with transaction.atomic():
        item = Item.objects.select_for_update().get(pk=item.pk)
        if not item.is_active:
            return item
        before = snapshot(item, ["is_active"])
        item.is_active = False
        item.save(update_fields=["is_active", "updated_at"])
        _audit_and_publish(
            actor=actor,
            action="catalog.item.deactivate",
            target=item,
            before=before,
            after=snapshot(item, ["is_active"]),
            reason=reason,
            payload=ItemDeactivated(item_id=item.pk, sku=item.sku),
        )
    return item


# --- item units -----------------------------------------------------------------------------


@dataclass
class ItemUnitChanges:
    """Fields to change on an item unit; UNSET leaves a field as it is."""

    name: Any = UNSET
    factor: Any = UNSET
    is_purchase: Any = UNSET
    is_count: Any = UNSET
    is_recipe: Any = UNSET
    decimal_places: Any = UNSET
    rounding: Any = UNSET


def _check_factor_agrees(
    problems: ErrorCollector, base: Unit, code: str, factor: Decimal | None, field_name: str
) -> None:
    """An item unit named like the base unit or a global unit must agree with it (g ↔ kg)."""
    if factor is None:
        return
    if code == base.code:
        if factor != 1:
            problems.add(
                field_name,
                _("%(code)s is the base unit: its factor must be 1.") % {"code": code},
            )
        return
    unit = cached(f"unit:{code}", lambda: Unit.objects.filter(code=code).first())
    if unit is not None and unit.dimension == base.dimension:
        expected = unit.to_reference / base.to_reference
        if factor != expected.quantize(Decimal(1).scaleb(-FACTOR_PLACES)):
            problems.add(
                field_name,
                _("1 %(code)s is %(expected)s %(base)s; the factor must agree.")
                % {"code": code, "expected": f"{expected.normalize():f}", "base": base.code},
            )


def _validate_item_unit(
    problems: ErrorCollector, data: ItemUnitInput, base: Unit | None, prefix: str = ""
) -> tuple[str, Decimal | None]:
    """Check one new item unit; returns its cleaned code and factor."""
    code = _text(problems, f"{prefix}code", data.code, 20)
    if len(data.name or "") > 100:
        problems.add(f"{prefix}name", _("At most %(count)d characters.") % {"count": 100})
    factor = _decimal(
        problems,
        f"{prefix}factor",
        data.factor,
        places=FACTOR_PLACES,
        digits=FACTOR_DIGITS,
        positive=True,
    )
    _places(problems, f"{prefix}decimal_places", data.decimal_places)
    _choice(problems, f"{prefix}rounding", data.rounding, Rounding)
    if code and base is not None:
        _check_factor_agrees(problems, base, code, factor, f"{prefix}factor")
    return code, factor


def _create_item_unit(
    item: Item, data: ItemUnitInput, code: str, factor: Decimal | None
) -> ItemUnit:
    """Insert an item unit (no audit, no event: the caller writes them)."""
    assert factor is not None  # validated by the caller
    item_unit = ItemUnit.objects.create(
        item=item,
        code=code,
        name=(data.name or "").strip(),
        factor=factor,
        is_purchase=data.is_purchase,
        is_count=data.is_count,
        is_recipe=data.is_recipe,
        decimal_places=data.decimal_places,
        rounding=data.rounding,
    )
    return item_unit


def _publish_unit_added(item: Item, item_unit: ItemUnit) -> None:
    publish(
        ItemUnitAdded(
            item_id=item.pk,
            sku=item.sku,
            item_unit_id=item_unit.pk,
            code=item_unit.code,
            factor=str(item_unit.factor),
        ),
        org_node=root_node(),
    )


def add_item_unit(item: Item, data: ItemUnitInput, *, actor: Any) -> ItemUnit:
    """Give an item another unit with its factor to the base unit (1 case = 15 kg)."""
    require_catalog_manage(actor)
    problems = Problems()
    code, factor = _validate_item_unit(problems, data, item.base_unit)
    if code and ItemUnit.objects.filter(item=item, code=code).exists():
        problems.add(
            "code", _("%(sku)s already has the unit %(code)s.") % {"sku": item.sku, "code": code}
        )
    problems.raise_if_any()
    with transaction.atomic():
        item_unit = _create_item_unit(item, data, code, factor)
        _publish_unit_added(item, item_unit)
        record_audit(
            actor=actor,
            action="catalog.item_unit.add",
            target=item_unit,
            after=snapshot(item_unit),
            org_node=root_node(),
        )
    return item_unit


def change_item_unit(
    item_unit: ItemUnit, changes: ItemUnitChanges, *, actor: Any, reason: str = ""
) -> ItemUnit:
    """Change an item unit. A new factor applies to conversions from now on; the ledger keeps
    base quantities, so stock already booked is unaffected."""
    require_catalog_manage(actor)
    problems = Problems()
    values: dict[str, Any] = {}
    if changes.name is not UNSET:
        if len(changes.name or "") > 100:
            problems.add("name", _("At most %(count)d characters.") % {"count": 100})
        values["name"] = (changes.name or "").strip()
    if changes.factor is not UNSET:
        values["factor"] = _decimal(
            problems,
            "factor",
            changes.factor,
            places=FACTOR_PLACES,
            digits=FACTOR_DIGITS,
            positive=True,
        )
        _check_factor_agrees(
            problems, item_unit.item.base_unit, item_unit.code, values["factor"], "factor"
        )
    for flag in ("is_purchase", "is_count", "is_recipe"):
        if getattr(changes, flag) is not UNSET:
            values[flag] = bool(getattr(changes, flag))
    if changes.decimal_places is not UNSET:
        _places(problems, "decimal_places", changes.decimal_places)
        values["decimal_places"] = changes.decimal_places
    if changes.rounding is not UNSET:
        _choice(problems, "rounding", changes.rounding, Rounding)
        values["rounding"] = changes.rounding
    problems.raise_if_any()
    with transaction.atomic():
        item_unit = ItemUnit.objects.select_for_update().select_related("item").get(pk=item_unit.pk)
        before = snapshot(item_unit)
        changed = _apply_changes(item_unit, values)
        if not changed:
            return item_unit
        _audit_and_publish(
            actor=actor,
            action="catalog.item_unit.change",
            target=item_unit,
            before=before,
            after=snapshot(item_unit),
            reason=reason,
            payload=ItemUnitChanged(
                item_id=item_unit.item_id,
                sku=item_unit.item.sku,
                item_unit_id=item_unit.pk,
                code=item_unit.code,
                changed=sorted(changed),
            ),
        )
    return item_unit


def _apply_changes(instance: Any, values: dict[str, Any]) -> list[str]:
    """Set and save the fields whose values differ; the names of those changed (none: no save)."""
    changed = [name for name, value in values.items() if getattr(instance, name) != value]
    for name in changed:
        setattr(instance, name, values[name])
    if changed:
        instance.save()
    return changed
