"""Channel test data: a small noodle menu with a sub-recipe and a modifier, stock at store A,
and POS / Meituan-like accounts, built through the services as the system actor."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.utils import timezone

from backroom.catalog import services as catalog
from backroom.catalog.models import Item
from backroom.channels import services
from backroom.channels.choices import ChannelKind, OrderStatus
from backroom.channels.models import ChannelAccount
from backroom.channels.platforms.base import (
    CanonicalOrder,
    EventKind,
    LineIn,
    ModifierIn,
    PlatformEvent,
    RefundLine,
)
from backroom.inventory import services as inventory
from backroom.inventory.models import ItemValuation, Location
from backroom.kernel.actors import SYSTEM

OPENING = dt.date(2026, 1, 1)
_ids = itertools.count(1)


def D(value: str | int) -> Decimal:
    return Decimal(str(value))


def _item(sku: str, unit: str, kind: str = "ingredient", item_class: str = "food") -> Item:
    item = catalog.create_item(
        catalog.ItemInput(
            sku=sku, name=sku.title(), kind=kind, base_unit=unit, item_class=item_class
        ),
        actor=SYSTEM,
    )
    return Item.objects.select_related("item_class", "base_unit").get(pk=item.pk)


def _line(sku: str, quantity: str, unit: str) -> catalog.RecipeLineInput:
    return catalog.RecipeLineInput(component_sku=sku, quantity=D(quantity), unit_code=unit)


@dataclass
class Menu:
    """NOODLES = 250 g DOUGH (sub-recipe: 800 g FLOUR + 10 g SALT per kg) + 100 g BEEF;
    modifier extra-beef adds 50 g BEEF. One bowl: FLOUR 0.2 kg, SALT 0.0025 kg, BEEF 0.1 kg."""

    flour: Item
    salt: Item
    beef: Item
    dough: Item
    noodles: Item
    tea: Item  # a menu item without a recipe (depletion problem)
    walk_in: Location
    walk_in_b: Location
    pos: ChannelAccount
    meituan: ChannelAccount
    own_app: ChannelAccount
    pos_b: ChannelAccount

    def on_hand(self, item: Item, location: Location | None = None) -> Decimal:
        row = ItemValuation.objects.filter(item=item, location=location or self.walk_in).first()
        return row.quantity if row else Decimal(0)


@pytest.fixture
def menu(tree) -> Menu:
    for code, policy in (("food", "forbid"), ("drinks", "allow")):
        catalog.create_item_class(
            catalog.ItemClassInput(code=code, name=code.title(), negative_stock_policy=policy),
            actor=SYSTEM,
        )
    flour = _item("FLOUR", "kg")
    salt = _item("SALT", "kg")
    beef = _item("BEEF", "kg")
    dough = _item("DOUGH", "kg", kind="prepared")
    noodles = _item("NOODLES", "each", kind="menu")
    tea = _item("TEA", "each", kind="menu", item_class="drinks")
    catalog.publish_recipe(
        dough,
        catalog.RecipeInput(
            effective_from=OPENING, lines=[_line("FLOUR", "800", "g"), _line("SALT", "10", "g")]
        ),
        actor=SYSTEM,
    )
    catalog.publish_recipe(
        noodles,
        catalog.RecipeInput(
            effective_from=OPENING, lines=[_line("DOUGH", "250", "g"), _line("BEEF", "100", "g")]
        ),
        actor=SYSTEM,
    )
    catalog.create_modifier(
        catalog.ModifierInput(
            code="extra-beef",
            name="Extra beef",
            effects=[
                catalog.ModifierEffectInput(
                    action="add", item_sku="BEEF", quantity=D(50), unit_code="g"
                )
            ],
        ),
        actor=SYSTEM,
    )
    walk_in = inventory.create_location(
        tree.store_a.site, code="WALKIN", name="Walk-in", kind="walk_in", actor=SYSTEM
    )
    walk_in_b = inventory.create_location(
        tree.store_b.site, code="WALKIN", name="Walk-in", kind="walk_in", actor=SYSTEM
    )
    for item, quantity, cost in ((flour, "10", "4"), (salt, "1", "2"), (beef, "5", "60")):
        inventory.receive(
            item=item,
            location=walk_in,
            quantity=D(quantity),
            unit_cost=D(cost),
            key=f"open-{item.sku}",
            actor=SYSTEM,
        )
    site_a, site_b = tree.store_a.site, tree.store_b.site
    return Menu(
        flour=flour,
        salt=salt,
        beef=beef,
        dough=dough,
        noodles=noodles,
        tea=tea,
        walk_in=walk_in,
        walk_in_b=walk_in_b,
        pos=services.create_account(site=site_a, kind=ChannelKind.POS, name="Till", actor=SYSTEM),
        meituan=services.create_account(
            site=site_a,
            kind=ChannelKind.MEITUAN,
            name="Meituan",
            store_ref="MT-1001",
            secrets={"app_id": "42", "app_secret": "s3cret"},
            after_depletion="return",
            actor=SYSTEM,
        ),
        own_app=services.create_account(
            site=site_a, kind=ChannelKind.OWN_APP, name="App", after_depletion="waste", actor=SYSTEM
        ),
        pos_b=services.create_account(site=site_b, kind=ChannelKind.POS, name="Till", actor=SYSTEM),
    )


def placed(
    external_id: str | None = None,
    *,
    lines: list[tuple[str, str]] | None = None,
    status: str = OrderStatus.RECEIVED,
    key: str = "placed",
    modifiers: tuple[str, ...] = (),
    placed_at: dt.datetime | None = None,
) -> PlatformEvent:
    """An ORDER_PLACED event with (sku, quantity) lines (default: one NOODLES)."""
    external_id = external_id or f"EXT{next(_ids)}"
    order = CanonicalOrder(
        external_id=external_id,
        display_id=f"#{external_id}",
        store_ref="MT-1001",
        placed_at=placed_at or timezone.now(),
        status=OrderStatus(status),
        lines=tuple(
            LineIn(
                line_no=number,
                external_sku=sku,
                name=sku.title(),
                quantity=D(quantity),
                unit_price=D("18.00"),
                modifiers=tuple(ModifierIn(code=code) for code in modifiers),
            )
            for number, (sku, quantity) in enumerate(lines or [("NOODLES", "1")], start=1)
        ),
        total=D("18.00"),
    )
    return PlatformEvent(
        kind=EventKind.ORDER_PLACED,
        external_order_id=external_id,
        event_key=key,
        raw_type="new",
        status=OrderStatus(status),
        order=order,
    )


def status_event(external_id: str, status: str, key: str | None = None) -> PlatformEvent:
    kind = {
        "cancelled": EventKind.CANCELLED,
        "refunded": EventKind.REFUNDED,
    }.get(status, EventKind.STATUS_CHANGED)
    return PlatformEvent(
        kind=kind,
        external_order_id=external_id,
        event_key=key or status,
        raw_type=status,
        status=OrderStatus(status),
    )


def partial_refund(
    external_id: str, sku: str, quantity: str, key: str = "partial"
) -> PlatformEvent:
    return PlatformEvent(
        kind=EventKind.PARTIALLY_REFUNDED,
        external_order_id=external_id,
        event_key=key,
        raw_type="partial",
        refund_lines=(RefundLine(external_sku=sku, quantity=D(quantity)),),
        refund_amount=D("9.00"),
    )


def new_uuid() -> uuid.UUID:
    return uuid.uuid4()
