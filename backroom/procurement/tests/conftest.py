"""Procurement test data, built through the catalog, inventory and procurement services."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest

from backroom.catalog.models import Item
from backroom.inventory.models import Location
from backroom.inventory.tests.conftest import make_class, make_item, make_location
from backroom.kernel.actors import SYSTEM
from backroom.org.choices import NodeKind
from backroom.org.models import Site
from backroom.procurement import services
from backroom.procurement.models import Supplier, SupplierItem
from backroom.testing.factories import make_node

TODAY = dt.date(2025, 3, 10)  # a Monday


def D(value: str | int) -> Decimal:
    return Decimal(str(value))


@dataclass
class World:
    """Store A (walk-in) and B (walk-in) of the tree; a warehouse; supplier FRESH serving the
    CN entity: tomato by the 10 kg case (MOQ 2), milk (chilled) by the 12 l crate, oil by the
    5 l bottle in packs of 6 (MOQ 12, whole packs required) at group price lists."""

    store: Site
    store_b: Site
    warehouse: Site
    walk_in: Location
    walk_in_b: Location
    warehouse_dry: Location
    supplier: Supplier
    tomato: Item
    milk: Item
    oil: Item
    tomato_si: SupplierItem
    milk_si: SupplierItem
    oil_si: SupplierItem


@pytest.fixture
def world(tree) -> World:
    make_class("food", "forbid")
    tomato = make_item("TOMATO", "kg", "food", units=[("case", "10")])
    milk = make_item("MILK", "l", "food", units=[("crate", "12")], storage="chilled")
    oil = make_item("OIL", "l", "food", units=[("bottle", "5")])
    warehouse_node = make_node(NodeKind.WAREHOUSE, tree.region, "WH01")
    supplier = services.create_supplier(
        services.SupplierInput(
            code="FRESH",
            name="Fresh Foods",
            node_id=tree.entity.pk,
            currency="CNY",
            payment_terms_days=30,
            lead_time_days=1,
            requires_pack_multiples=True,
            over_receipt_tolerance_percent=D(10),
        ),
        actor=SYSTEM,
    )
    tomato_si = services.set_supplier_item(
        supplier,
        services.SupplierItemInput(
            item_id=tomato.pk, purchase_unit="case", minimum_order_quantity=D(2)
        ),
        actor=SYSTEM,
    )
    milk_si = services.set_supplier_item(
        supplier, services.SupplierItemInput(item_id=milk.pk, purchase_unit="crate"), actor=SYSTEM
    )
    oil_si = services.set_supplier_item(
        supplier,
        services.SupplierItemInput(
            item_id=oil.pk, purchase_unit="bottle", pack_size=D(6), minimum_order_quantity=D(12)
        ),
        actor=SYSTEM,
    )
    services.create_price_list(
        supplier,
        services.PriceListInput(
            name="2025",
            valid_from=dt.date(2025, 1, 1),
            lines=[
                services.PriceLineInput(tomato.pk, D("80.00")),
                services.PriceLineInput(milk.pk, D("120.00")),
                services.PriceLineInput(oil.pk, D("45.50")),
            ],
        ),
        actor=SYSTEM,
    )
    return World(
        store=tree.store_a.site,
        store_b=tree.store_b.site,
        warehouse=warehouse_node.site,
        walk_in=make_location(tree.store_a, "WALKIN"),
        walk_in_b=make_location(tree.store_b, "WALKIN"),
        warehouse_dry=make_location(warehouse_node, "DRY", "dry_store"),
        supplier=supplier,
        tomato=tomato,
        milk=milk,
        oil=oil,
        tomato_si=tomato_si,
        milk_si=milk_si,
        oil_si=oil_si,
    )
