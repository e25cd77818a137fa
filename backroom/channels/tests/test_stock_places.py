"""Depletion takes each ingredient from where the store keeps it (`depletion.StockPlaces`)."""

from __future__ import annotations

import uuid

from django.utils import timezone

from backroom.catalog import services as catalog
from backroom.channels import pos
from backroom.channels.depletion import StockPlaces
from backroom.channels.models import Order
from backroom.channels.tests.conftest import D
from backroom.inventory import services as inventory
from backroom.inventory.models import StockMove
from backroom.kernel.actors import SYSTEM


def _sell(site_id: int) -> Order:
    result = pos.submit_orders(
        [
            pos.TillOrder(
                uuid=uuid.uuid4(),
                store_id=site_id,
                placed_at=timezone.now(),
                lines=[pos.TillLine(sku="NOODLES", quantity=D(1), unit_price=D(18))],
            )
        ],
        actor=SYSTEM,
    )
    return result[0].order


def test_each_ingredient_comes_from_the_location_holding_the_most(tree, menu):
    """Flour: 10 kg in the walk-in, 20 kg in the dry store → the dry store. Beef and salt are
    only in the walk-in."""
    site = tree.store_a.site
    dry = inventory.create_location(site, code="DRY", name="Dry", kind="dry_store", actor=SYSTEM)
    inventory.receive(
        item=menu.flour, location=dry, quantity=D(20), unit_cost=D(4), key="dry-flour", actor=SYSTEM
    )
    order = _sell(site.pk)
    taken = {
        (move.item.sku, move.location.code): move.quantity
        for move in StockMove.objects.filter(source_id=str(order.pk)).select_related(
            "item", "location"
        )
    }
    assert taken == {
        ("FLOUR", "DRY"): D("-0.2"),
        ("SALT", "WALKIN"): D("-0.0025"),
        ("BEEF", "WALKIN"): D("-0.1"),
    }


def test_an_item_on_hand_nowhere_goes_to_the_location_for_its_storage(tree, menu):
    site = tree.store_a.site
    freezer = inventory.create_location(
        site, code="FREEZER", name="Freezer", kind="freezer", actor=SYSTEM
    )
    item = catalog.create_item(
        catalog.ItemInput(
            sku="ICE", name="Ice", kind="ingredient", base_unit="kg", item_class="food"
        ),
        actor=SYSTEM,
    )
    item.storage = "frozen"
    item.save(update_fields=["storage"])
    order = _sell(site.pk)
    places = StockPlaces()
    assert places.location_id(order, item.pk) == freezer.pk
    assert places.location_id(order, menu.beef.pk) == menu.walk_in.pk


def test_the_accounts_own_location_wins(tree, menu):
    site = tree.store_a.site
    bar = inventory.create_location(site, code="BAR", name="Bar", kind="bar", actor=SYSTEM)
    menu.pos.location = bar
    menu.pos.save(update_fields=["location"])
    order = Order.objects.select_related("account").get(pk=_sell(site.pk).pk)
    assert StockPlaces().location_id(order, menu.beef.pk) == bar.pk
    # Nothing is in the bar, and food may not go negative: the sale waits, naming the bar.
    assert "BAR" in order.depletion_error and not order.is_depleted
