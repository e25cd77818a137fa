"""Catalog API schemas: units, items and their units, recipes, modifiers, prices, explosion,
cost cards. Quantities and money are exact decimals (strings in JSON are accepted and returned)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from ninja import Field, Schema

from backroom.catalog.choices import (
    Dimension,
    ItemKind,
    ModifierAction,
    NegativeStockPolicy,
    Rounding,
    Storage,
)
from backroom.config.api_support import ObjectId, Text, text

Quantity = Annotated[Decimal, Field(max_digits=18, decimal_places=6)]
PositiveQuantity = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=6)]
Factor = Annotated[Decimal, Field(gt=0, max_digits=24, decimal_places=12)]
Amount = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=4)]
Percent = Annotated[Decimal, Field(ge=0, lt=100, max_digits=7, decimal_places=4)]
Places = Annotated[int, Field(ge=0, le=6)]
Code = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[^\x00]*$")]


# --- units, classes, categories -------------------------------------------------------------


class UnitOut(Schema):
    id: int
    code: str
    name: str
    dimension: str
    to_reference: Decimal
    decimal_places: int
    rounding: str


class UnitIn(Schema):
    code: str = text(min_length=1, max_length=20)
    name: str = text(min_length=1, max_length=100)
    dimension: Dimension
    to_reference: Factor = Field(description="Size in g (mass), ml (volume) or 1 (count)")
    decimal_places: Places = 3
    rounding: Rounding = Rounding.HALF_UP


SERVICE_LEVEL_HELP = (
    "Target service level of safety stock, 0.50 to 0.999 (0.95: enough on 95 of 100 days); "
    "null: the planning default"
)


class ItemClassOut(Schema):
    id: int
    code: str
    name: str
    negative_stock_policy: str
    service_level: Decimal | None = Field(..., description=SERVICE_LEVEL_HELP)


class ItemClassIn(Schema):
    code: str = text(min_length=1, max_length=30)
    name: str = text(min_length=1, max_length=100)
    negative_stock_policy: NegativeStockPolicy = NegativeStockPolicy.FORBID
    # Checked by the service (a localised field error), not here.
    service_level: Decimal | None = Field(None, description=SERVICE_LEVEL_HELP)


class ItemClassPatch(Schema):
    """Only the fields sent change; send `service_level: null` for the planning default."""

    name: str | None = text(min_length=1, max_length=100, default=None)
    negative_stock_policy: NegativeStockPolicy | None = None
    service_level: Decimal | None = Field(None, description=SERVICE_LEVEL_HELP)
    reason: str = text(max_length=1000, default="")


class CategoryOut(Schema):
    id: int
    code: str
    name: str
    parent_code: str | None

    @staticmethod
    def resolve_parent_code(obj: object) -> str | None:
        parent = obj.parent  # type: ignore[attr-defined]
        return parent.code if parent else None


class CategoryIn(Schema):
    code: str = text(min_length=1, max_length=40)
    name: str = text(min_length=1, max_length=100)
    parent_code: str | None = text(max_length=40, default=None)


# --- items ----------------------------------------------------------------------------------


class ItemUnitOut(Schema):
    id: int
    code: str
    name: str
    factor: Decimal = Field(description="Base units per one of this unit")
    is_purchase: bool
    is_count: bool
    is_recipe: bool
    decimal_places: int
    rounding: str


class ItemUnitIn(Schema):
    code: str = text(min_length=1, max_length=20)
    name: str = text(max_length=100, default="")
    factor: Factor
    is_purchase: bool = False
    is_count: bool = False
    is_recipe: bool = False
    decimal_places: Places = 3
    rounding: Rounding = Rounding.HALF_UP


class ItemUnitPatch(Schema):
    name: str | None = text(max_length=100, default=None)
    factor: Factor | None = None
    is_purchase: bool | None = None
    is_count: bool | None = None
    is_recipe: bool | None = None
    decimal_places: Places | None = None
    rounding: Rounding | None = None
    reason: str = text(max_length=1000, default="")


class ItemOut(Schema):
    id: int
    sku: str
    name: str
    kind: str
    category: str | None
    item_class: str
    base_unit: str
    barcode: str
    shelf_life_days: int | None
    storage: str
    is_active: bool
    is_made_ahead: bool
    standard_cost: Decimal | None
    cost_currency: str
    units: list[ItemUnitOut]

    @staticmethod
    def resolve_category(obj: object) -> str | None:
        category = obj.category  # type: ignore[attr-defined]
        return category.code if category else None

    @staticmethod
    def resolve_item_class(obj: object) -> str:
        return obj.item_class.code  # type: ignore[attr-defined, no-any-return]

    @staticmethod
    def resolve_base_unit(obj: object) -> str:
        return obj.base_unit.code  # type: ignore[attr-defined, no-any-return]

    @staticmethod
    def resolve_units(obj: object) -> list[object]:
        return list(obj.units.all())  # type: ignore[attr-defined]


class ItemIn(Schema):
    sku: str = text(min_length=1, max_length=40)
    name: str = text(min_length=1, max_length=200)
    kind: ItemKind
    base_unit: str = text(min_length=1, max_length=20)
    item_class: str = text(min_length=1, max_length=30)
    category: str | None = text(max_length=40, default=None)
    barcode: str = text(max_length=40, default="")
    shelf_life_days: int | None = Field(None, ge=1, le=36500)
    storage: Storage = Storage.AMBIENT
    is_made_ahead: bool = False
    standard_cost: Amount | None = None
    cost_currency: str = text(min_length=3, max_length=3, default="CNY")


class ItemPatch(Schema):
    """Only the fields sent change; send null to clear category, shelf life or standard cost."""

    name: str | None = text(min_length=1, max_length=200, default=None)
    category: str | None = text(max_length=40, default=None)
    item_class: str | None = text(min_length=1, max_length=30, default=None)
    barcode: str | None = text(max_length=40, default=None)
    shelf_life_days: int | None = Field(None, ge=1, le=36500)
    storage: Storage | None = None
    is_made_ahead: bool | None = None
    standard_cost: Amount | None = None
    cost_currency: str | None = text(min_length=3, max_length=3, default=None)
    reason: str = text(max_length=1000, default="")


class ItemFilter(Schema):
    kind: ItemKind | None = None
    category: Text | None = Field(None, max_length=40, description="Category code")
    item_class: Text | None = Field(None, max_length=30, description="Item class code")
    is_active: bool | None = None
    search: Text | None = Field(
        None, max_length=100, description="Part of the SKU, name or barcode"
    )


class CatalogReasonIn(Schema):
    reason: str = text(max_length=1000, default="")


# --- recipes --------------------------------------------------------------------------------


class RecipeLineOut(Schema):
    position: int
    component_id: int
    component_sku: str
    component_name: str
    quantity: Decimal
    unit_code: str
    loss_percent: Decimal
    notes: str

    @staticmethod
    def resolve_component_sku(obj: object) -> str:
        return obj.component.sku  # type: ignore[attr-defined, no-any-return]

    @staticmethod
    def resolve_component_name(obj: object) -> str:
        return obj.component.name  # type: ignore[attr-defined, no-any-return]


class RecipeOut(Schema):
    id: int
    item_id: int
    sku: str
    version: int
    effective_from: dt.date
    effective_to: dt.date | None = Field(description="Exclusive; null while open")
    yield_quantity: Decimal
    notes: str
    lines: list[RecipeLineOut]

    @staticmethod
    def resolve_sku(obj: object) -> str:
        return obj.item.sku  # type: ignore[attr-defined, no-any-return]

    @staticmethod
    def resolve_lines(obj: object) -> list[object]:
        return list(obj.lines.all())  # type: ignore[attr-defined]


class RecipeLineIn(Schema):
    component_sku: str = text(min_length=1, max_length=40)
    quantity: PositiveQuantity
    unit_code: str = text(min_length=1, max_length=20)
    loss_percent: Percent = Decimal(0)
    notes: str = text(max_length=200, default="")


class RecipeIn(Schema):
    effective_from: dt.date
    yield_quantity: PositiveQuantity = Decimal(1)
    notes: str = text(max_length=5000, default="")
    lines: list[RecipeLineIn] = Field(..., min_length=1, max_length=500)
    reason: str = text(max_length=1000, default="")


# --- modifiers ------------------------------------------------------------------------------


class ModifierEffectOut(Schema):
    action: str
    item_sku: str | None
    replacement_sku: str | None
    quantity: Decimal | None
    unit_code: str
    factor: Decimal | None

    @staticmethod
    def resolve_item_sku(obj: object) -> str | None:
        item = obj.item  # type: ignore[attr-defined]
        return item.sku if item else None

    @staticmethod
    def resolve_replacement_sku(obj: object) -> str | None:
        item = obj.replacement  # type: ignore[attr-defined]
        return item.sku if item else None


class ModifierOut(Schema):
    id: int
    code: str
    name: str
    is_active: bool
    effects: list[ModifierEffectOut]

    @staticmethod
    def resolve_effects(obj: object) -> list[object]:
        return list(obj.effects.all())  # type: ignore[attr-defined]


class ModifierEffectIn(Schema):
    action: ModifierAction
    item_sku: str | None = text(max_length=40, default=None)
    replacement_sku: str | None = text(max_length=40, default=None)
    quantity: PositiveQuantity | None = None
    unit_code: str = text(max_length=20, default="")
    factor: Factor | None = None


class ModifierIn(Schema):
    code: str = text(min_length=1, max_length=40)
    name: str = text(min_length=1, max_length=100)
    effects: list[ModifierEffectIn] = Field(..., min_length=1, max_length=50)


class ModifierFilter(Schema):
    search: Text | None = Field(None, max_length=100, description="Part of the code or name")


# --- menu prices ----------------------------------------------------------------------------


class MenuPriceOut(Schema):
    id: int
    item_id: int
    site_id: int | None
    site_code: str | None
    price: Decimal
    currency: str
    effective_from: dt.date

    @staticmethod
    def resolve_site_code(obj: object) -> str | None:
        site = obj.site  # type: ignore[attr-defined]
        return site.node.code if site else None


class MenuPriceIn(Schema):
    site_id: ObjectId | None = Field(None, description="Empty for the chain default price")
    price: Amount
    currency: str = text(min_length=3, max_length=3)
    effective_from: dt.date
    reason: str = text(max_length=1000, default="")


# --- explosion and cost cards ---------------------------------------------------------------


class ExplodeIn(Schema):
    item_id: ObjectId
    quantity: PositiveQuantity = Field(description="In the item's base unit (portions)")
    modifiers: list[Code] = Field(default_factory=list, max_length=20)
    on: dt.date | None = Field(None, description="Defaults to today (the site's business date)")
    site_id: ObjectId | None = None


class IngredientOut(Schema):
    item_id: int
    sku: str
    name: str
    base_unit: str
    quantity: Decimal


class ExplodeOut(Schema):
    item_id: int
    sku: str
    quantity: Decimal
    on: dt.date
    modifiers: list[str]
    ingredients: list[IngredientOut]


class ConvertQuery(Schema):
    quantity: Quantity
    from_unit: str = text(min_length=1, max_length=20)
    to_unit: str = text(min_length=1, max_length=20)


class ConvertOut(Schema):
    item_id: int
    quantity: Decimal
    from_unit: str
    to_unit: str
    base_quantity: Decimal = Field(description="In the item's base unit, 6 places")
    base_unit: str
    converted: Decimal = Field(description="Exact (18 places)")
    rounded: Decimal = Field(description="By the target unit's places and rounding policy")


class CostCardQuery(Schema):
    site_id: ObjectId | None = Field(None, description="Empty for the chain default")
    on: dt.date | None = None
    modifiers: Text | None = Field(None, max_length=500, description="Comma-separated codes")


class CostComponentOut(Schema):
    item_id: int
    sku: str
    name: str
    base_unit: str
    base_quantity: Decimal
    unit_cost: Decimal | None
    cost: Decimal | None
    currency: str | None
    source: str


class CostLineOut(Schema):
    position: int
    component_id: int
    component_sku: str
    component_name: str
    quantity: Decimal
    unit_code: str
    loss_percent: Decimal
    base_quantity: Decimal
    base_unit: str
    origin: str
    source: str = Field(description="average_cost, standard_cost, sub_recipe or missing")
    unit_cost: Decimal | None
    cost: Decimal | None
    currency: str | None
    components: list[CostComponentOut]


class CostCardOut(Schema):
    item_id: int
    sku: str
    name: str
    site_id: int | None
    on: dt.date
    recipe_version: int | None = Field(description="null for an item sold as it is")
    yield_quantity: Decimal
    modifiers: list[str]
    currency: str | None
    total_cost: Decimal | None
    price: Decimal | None
    price_currency: str | None
    food_cost_percent: Decimal | None
    gross_margin: Decimal | None
    is_complete: bool
    warnings: list[str]
    lines: list[CostLineOut]
