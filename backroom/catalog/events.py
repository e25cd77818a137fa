"""Catalog events: master data changes that pages, webhooks and other apps' caches follow."""

from dataclasses import dataclass
from enum import StrEnum

from backroom.events.catalogue import event


class CatalogEvent(StrEnum):
    UNIT_CREATED = "catalog.unit.created"
    ITEM_CLASS_CREATED = "catalog.item_class.created"
    ITEM_CLASS_UPDATED = "catalog.item_class.updated"
    CATEGORY_CREATED = "catalog.category.created"
    ITEM_CREATED = "catalog.item.created"
    ITEM_UPDATED = "catalog.item.updated"
    ITEM_DEACTIVATED = "catalog.item.deactivated"
    ITEM_UNIT_ADDED = "catalog.item_unit.added"
    ITEM_UNIT_CHANGED = "catalog.item_unit.changed"
    RECIPE_PUBLISHED = "catalog.recipe.published"
    MODIFIER_CREATED = "catalog.modifier.created"
    MENU_PRICE_SET = "catalog.menu_price.set"


@event(CatalogEvent.UNIT_CREATED)
@dataclass(frozen=True)
class UnitCreated:
    unit_id: int
    code: str
    dimension: str
    to_reference: str


@event(CatalogEvent.ITEM_CLASS_CREATED)
@dataclass(frozen=True)
class ItemClassCreated:
    item_class_id: int
    code: str
    negative_stock_policy: str
    service_level: str | None = None  # empty: the planning default


@event(CatalogEvent.ITEM_CLASS_UPDATED)
@dataclass(frozen=True)
class ItemClassUpdated:
    item_class_id: int
    code: str
    changed: list[str]
    service_level: str | None


@event(CatalogEvent.CATEGORY_CREATED)
@dataclass(frozen=True)
class CategoryCreated:
    category_id: int
    code: str
    parent_id: int | None


@event(CatalogEvent.ITEM_CREATED)
@dataclass(frozen=True)
class ItemCreated:
    item_id: int
    sku: str
    name: str
    kind: str
    base_unit: str


@event(CatalogEvent.ITEM_UPDATED)
@dataclass(frozen=True)
class ItemUpdated:
    item_id: int
    sku: str
    changed: list[str]


@event(CatalogEvent.ITEM_DEACTIVATED)
@dataclass(frozen=True)
class ItemDeactivated:
    item_id: int
    sku: str


@event(CatalogEvent.ITEM_UNIT_ADDED)
@dataclass(frozen=True)
class ItemUnitAdded:
    item_id: int
    sku: str
    item_unit_id: int
    code: str
    factor: str


@event(CatalogEvent.ITEM_UNIT_CHANGED)
@dataclass(frozen=True)
class ItemUnitChanged:
    item_id: int
    sku: str
    item_unit_id: int
    code: str
    changed: list[str]


@event(CatalogEvent.RECIPE_PUBLISHED)
@dataclass(frozen=True)
class RecipePublished:
    recipe_id: int
    item_id: int
    sku: str
    version: int
    effective_from: str
    previous_recipe_id: int | None


@event(CatalogEvent.MODIFIER_CREATED)
@dataclass(frozen=True)
class ModifierCreated:
    modifier_id: int
    code: str
    actions: list[str]


@event(CatalogEvent.MENU_PRICE_SET)
@dataclass(frozen=True)
class MenuPriceSet:
    menu_price_id: int
    item_id: int
    sku: str
    site_id: int | None
    price: str
    currency: str
    effective_from: str
