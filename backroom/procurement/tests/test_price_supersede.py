"""Ending a price list (or some of its items) so a newer price can start, and correcting a price
no purchase order used: the past, as orders saw it, stays."""

from __future__ import annotations

import datetime as dt

import pytest

from backroom.audit.models import AuditEntry
from backroom.kernel import clock
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import ValidationFailed
from backroom.procurement import services
from backroom.procurement.models import PriceList
from backroom.procurement.tests.conftest import D

pytestmark = pytest.mark.django_db


def _price(world, item, day: str):
    return services.price_for(world.supplier, item, world.store, dt.date.fromisoformat(day)).price


def test_end_some_items_splits_the_list_and_the_rest_runs_on(world):
    group = PriceList.objects.get(name="2025")
    ended = services.end_price_list(
        group, dt.date(2025, 6, 30), item_ids=[world.tomato.pk], actor=SYSTEM
    )
    assert ended.pk != group.pk and ended.valid_to == dt.date(2025, 6, 30)
    assert PriceList.objects.get(pk=group.pk).valid_to is None
    services.create_price_list(
        world.supplier,
        services.PriceListInput(
            name="July",
            valid_from=dt.date(2025, 7, 1),
            lines=[services.PriceLineInput(world.tomato.pk, D(90))],
        ),
        actor=SYSTEM,
    )
    assert _price(world, world.tomato, "2025-06-30") == D(80)
    assert _price(world, world.tomato, "2025-07-01") == D(90)
    assert _price(world, world.milk, "2025-07-01") == D(120)
    entry = AuditEntry.objects.get(action="procurement.price_list.end")
    assert entry.after["valid_to"] == "2025-06-30" or entry.after["valid_to"] == dt.date(
        2025, 6, 30
    )
    # all that is left ends the list itself
    again = services.end_price_list(
        PriceList.objects.get(pk=group.pk), dt.date(2025, 8, 31), actor=SYSTEM
    )
    assert again.pk == group.pk and again.valid_to == dt.date(2025, 8, 31)


def test_cannot_end_before_the_start_lengthen_or_take_ordered_days(world):
    group = PriceList.objects.get(name="2025")
    with pytest.raises(ValidationFailed):
        services.end_price_list(group, dt.date(2024, 12, 31), actor=SYSTEM)
    with clock.at(dt.datetime(2025, 3, 10, 4, tzinfo=dt.UTC)):
        services.create_purchase_order(
            world.store,
            world.supplier,
            [services.PurchaseOrderLineInput(world.milk.pk, D(1))],
            actor=SYSTEM,
        )
    with pytest.raises(ValidationFailed) as error:
        services.end_price_list(group, dt.date(2025, 3, 9), actor=SYSTEM)
    assert "Purchase orders" in str(error.value.details)
    with pytest.raises(ValidationFailed):  # milk was ordered on 10 March at this price
        services.correct_price(group, world.milk.pk, D(1), actor=SYSTEM)
    # tomato was not: its price may be corrected, and the list ended after the order
    services.correct_price(group, world.tomato.pk, D(81), actor=SYSTEM)
    assert _price(world, world.tomato, "2025-03-01") == D(81)
    services.end_price_list(group, dt.date(2025, 3, 10), actor=SYSTEM)
    with pytest.raises(ValidationFailed):  # only shortens
        services.end_price_list(group, dt.date(2025, 4, 1), actor=SYSTEM)
    assert PriceList.objects.get(pk=group.pk).valid_to == dt.date(2025, 3, 10)
