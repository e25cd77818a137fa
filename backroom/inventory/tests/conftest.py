"""Inventory test data, built through the catalog and inventory services as the system actor."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal

import pytest

from backroom.catalog import services as catalog_services
from backroom.catalog.models import Item
from backroom.inventory import services
from backroom.inventory.models import Location
from backroom.kernel.actors import SYSTEM

_keys = itertools.count(1)


def key(prefix: str = "k") -> str:
    return f"{prefix}-{next(_keys)}"


def make_class(code: str, policy: str):
    return catalog_services.create_item_class(
        catalog_services.ItemClassInput(code=code, name=code.title(), negative_stock_policy=policy),
        actor=SYSTEM,
    )


def make_item(sku: str, base_unit: str = "kg", item_class: str = "food", **extra) -> Item:
    units = extra.pop("units", [])
    item = catalog_services.create_item(
        catalog_services.ItemInput(
            sku=sku,
            name=extra.pop("name", sku.title()),
            kind=extra.pop("kind", "ingredient"),
            base_unit=base_unit,
            item_class=item_class,
            **extra,
        ),
        actor=SYSTEM,
    )
    for code, factor in units:
        catalog_services.add_item_unit(
            item, catalog_services.ItemUnitInput(code=code, factor=Decimal(factor)), actor=SYSTEM
        )
    return Item.objects.select_related("item_class", "base_unit").get(pk=item.pk)


def make_location(node, code: str = "WALKIN", kind: str = "walk_in") -> Location:
    return services.create_location(
        node.site, code=code, name=code.title(), kind=kind, actor=SYSTEM
    )


@dataclass
class Stock:
    """Item classes, items and locations at stores A and B of the tree fixture."""

    flour: Item  # kg, forbid negatives, bag = 25 kg
    milk: Item  # l, warn
    napkins: Item  # each, allow
    walk_in: Location  # store A
    dry: Location  # store A
    freezer_b: Location  # store B


@pytest.fixture
def stock(tree) -> Stock:
    make_class("food", "forbid")
    make_class("dairy", "warn")
    make_class("supplies", "allow")
    return Stock(
        flour=make_item("FLOUR", "kg", "food", units=[("bag", "25")]),
        milk=make_item("MILK", "l", "dairy", shelf_life_days=7),
        napkins=make_item("NAPKIN", "each", "supplies", kind="supplies"),
        walk_in=make_location(tree.store_a, "WALKIN", "walk_in"),
        dry=make_location(tree.store_a, "DRY", "dry_store"),
        freezer_b=make_location(tree.store_b, "FREEZER", "freezer"),
    )


def D(value: str | int) -> Decimal:
    return Decimal(str(value))
