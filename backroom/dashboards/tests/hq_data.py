"""Test data of the HQ dashboard tests: a day of real orders at stores A and B through the
channels' services (POS tills and a Meituan account, depleting recipes), waste and a count
variance through the inventory services, rolled up by the worker (`dispatch_outbox`)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from backroom.channels import intake, pos, services
from backroom.channels.tests.conftest import Menu, status_event
from backroom.channels.tests.test_rollups import meituan_order
from backroom.events.services import dispatch_outbox
from backroom.inventory import services as inventory
from backroom.kernel.actors import SYSTEM
from backroom.kernel.dates import business_date
from backroom.org.models import Site

D = Decimal


def till_sale(
    site: Site,
    *,
    quantity: str,
    price: str,
    placed_at: dt.datetime,
    discount: str = "0",
    currency: str = "CNY",
) -> None:
    gross = D(quantity) * D(price)
    pos.submit_orders(
        [
            pos.TillOrder(
                uuid=uuid.uuid4(),
                store_id=site.pk,
                placed_at=placed_at,
                channel="pos",
                status="completed",
                display_id="T-1",
                currency=currency,
                total=gross - D(discount),
                original_price=gross,
                merchant_discount=D(discount),
                delivery_fee=D(0),
                packaging_fee=D(0),
                customer_name="",
                customer_phone="",
                address="",
                notes="",
                lines=[
                    pos.TillLine(
                        sku="NOODLES", name="Noodles", quantity=D(quantity), unit_price=D(price)
                    )
                ],
            )
        ],
        actor=SYSTEM,
    )


@dataclass
class SalesDay:
    menu: Menu
    day: dt.date
    moment: dt.datetime


def seed_day(menu: Menu) -> SalesDay:
    """Store A: two till sales (2 × 18 and 1 × 20 less 2), a Meituan order (3 × 18 less 4,
    completed); 0.2 kg of beef wasted and 0.1 kg lost at a count. Store B (stocked here): one
    till sale of 4 × 18. Everything at the same instant, so on one business day."""
    moment = timezone.now()
    site_a, site_b = menu.walk_in.site, menu.walk_in_b.site
    for item, quantity, cost in (
        (menu.flour, "10", "4"),
        (menu.salt, "1", "2"),
        (menu.beef, "5", "60"),
    ):
        inventory.receive(
            item=item,
            location=menu.walk_in_b,
            quantity=D(quantity),
            unit_cost=D(cost),
            key=f"open-b-{item.sku}",
            actor=SYSTEM,
        )
    services.save_mapping(
        account=menu.meituan, external_code="NOODLES", item=menu.noodles, actor=SYSTEM
    )
    till_sale(site_a, quantity="2", price="18.00", placed_at=moment)
    till_sale(site_a, quantity="1", price="20.00", placed_at=moment, discount="2.00")
    intake.apply_event(
        menu.meituan,
        meituan_order("M1", [("NOODLES", "3", "18.00")], placed_at=moment, merchant="4.00"),
    )
    intake.apply_event(menu.meituan, status_event("M1", "completed"))
    till_sale(site_b, quantity="4", price="18.00", placed_at=moment)
    inventory.consume(
        item=menu.beef,
        location=menu.walk_in,
        quantity=D("0.2"),
        reason="waste",
        key="waste-1",
        actor=SYSTEM,
        occurred_at=moment,
    )
    inventory.adjust(
        item=menu.beef,
        location=menu.walk_in,
        quantity=D("-0.1"),
        reason="count_variance",
        key="count-1",
        actor=SYSTEM,
        occurred_at=moment,
    )
    dispatch_outbox()
    day = business_date(moment, time_zone=site_a.time_zone, cutoff_hour=site_a.cutoff_hour)
    return SalesDay(menu, day, moment)
