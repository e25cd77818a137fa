"""Imports test data: a store with a walk-in, two items (flour in kg with a 25 kg bag, milk in
litres), and users: an HQ admin, a store-A manager and a store-staff member."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from backroom.catalog.models import Item
from backroom.inventory.models import Location
from backroom.inventory.tests.conftest import make_class, make_item, make_location
from backroom.testing.factories import make_user

HEADER = [
    "Store code",
    "Location code",
    "Item SKU",
    "Lot",
    "Expiry date",
    "Quantity",
    "Unit",
    "Unit cost",
]


@dataclass
class World:
    flour: Item
    milk: Item
    walk_in: Location
    dry_b: Location
    admin: object
    manager_a: object
    staff_a: object


@pytest.fixture
def world(tree) -> World:
    make_class("food", "forbid")
    return World(
        flour=make_item("FLOUR", "kg", "food", units=[("bag", "25")]),
        milk=make_item("MILK", "l", "food", shelf_life_days=7),
        walk_in=make_location(tree.store_a, "WALKIN"),
        dry_b=make_location(tree.store_b, "DRY", "dry_store"),
        admin=make_user("hq_admin", tree.group),
        manager_a=make_user("store_manager", tree.store_a),
        staff_a=make_user("store_staff", tree.store_a),
    )


def stock_rows(count: int, *, sku: str = "MILK") -> list[list[object]]:
    """`count` distinct lots of milk at store A's walk-in, one litre each at 8.8."""
    return [
        ["SHA001", "WALKIN", sku, f"L{number:05d}", "2099-01-01", 1, "", "8.8"]
        for number in range(1, count + 1)
    ]
