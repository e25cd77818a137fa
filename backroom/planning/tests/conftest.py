"""Planning test data: the channels' noodle menu (a recipe with a sub-recipe and a modifier)
and a helper writing daily sales into the rollups the forecast reads."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from backroom.channels.models import SalesDay, SalesItemDay
from backroom.channels.tests.conftest import Menu, menu  # noqa: F401  (the fixture, re-used)
from backroom.org.models import Site

__all__ = ["Menu", "sold"]


def sold(site: Site, item_id: int | None, day: dt.date, quantity: float | int) -> None:
    """Daily sales as the rollups hold them (the read model the forecast learns from): a menu
    item's quantity, or with `item_id` None the store's orders that day."""
    if item_id is None:
        SalesDay.objects.update_or_create(
            site=site, business_date=day, currency="CNY", defaults={"orders": int(quantity)}
        )
    else:
        SalesItemDay.objects.update_or_create(
            site=site,
            business_date=day,
            menu_item_id=item_id,
            currency="CNY",
            defaults={"quantity": Decimal(str(quantity))},
        )
