"""Demo seed for the stock ledger: locations at every site and three weeks of stock.

Every site gets a walk-in, a freezer, a dry store and an in-transit location (stores a bar
too). Each stocked item (ingredients, retail drinks, supplies) is received weekly for the last
three weeks into the location its storage calls for, in lots that expire after the item's shelf
life (so the expiring-soon list has entries, and a few lots are already expired), at its
standard cost ± 6 %; each week most of it is consumed and a little wasted. Everything is
posted through `post_moves` batches (one per site and week) as the system actor.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from django.utils import timezone

from backroom.catalog.choices import STOCKED_KINDS, ItemKind
from backroom.catalog.models import Item
from backroom.inventory import services
from backroom.inventory.choices import LocationKind, MoveReason
from backroom.kernel.actors import SYSTEM
from backroom.org.choices import SITE_KINDS, NodeKind
from backroom.org.models import OrgNode

if TYPE_CHECKING:
    from backroom.config.demo import DemoContext

LOCATIONS = [
    ("WALKIN", "冷藏库 Walk-in", LocationKind.WALK_IN),
    ("FREEZER", "冷冻库 Freezer", LocationKind.FREEZER),
    ("DRY", "干货库 Dry store", LocationKind.DRY_STORE),
    ("BAR", "吧台 Bar", LocationKind.BAR),
    ("IN-TRANSIT", "在途 In transit", LocationKind.IN_TRANSIT),
]
WEEKS = 3
# Weekly receipt in base units, by base unit code: (low, high).
WEEKLY = {"kg": (4, 30), "l": (3, 20), "each": (24, 240)}


def _location_code(item: Item, is_store: bool) -> str:
    if item.kind == ItemKind.RETAIL:
        return "BAR" if is_store else "DRY"
    return {"chilled": "WALKIN", "frozen": "FREEZER"}.get(item.storage, "DRY")


def seed(ctx: DemoContext) -> None:
    """Locations for every site; three weekly receipts with lots, consumption and waste."""
    catalog = ctx.extra.get("catalog")
    if not catalog:
        return
    items = [
        item
        for item in sorted(catalog["items"].values(), key=lambda row: row.sku)
        if item.kind in STOCKED_KINDS and item.kind != ItemKind.PREPARED and item.is_active
    ]
    sites = [
        node
        for node in sorted(ctx.nodes.values(), key=lambda row: row.code)
        if node.kind in SITE_KINDS
    ]
    today = timezone.localdate()
    now = timezone.now()
    locations: dict[str, dict[str, object]] = {}
    for node in sites:
        node = OrgNode.objects.select_related("site").get(pk=node.pk)
        is_store = node.kind == NodeKind.STORE
        locations[node.code] = {
            code: services.create_location(node.site, code=code, name=name, kind=kind, actor=SYSTEM)
            for code, name, kind in LOCATIONS
            if is_store or code != "BAR"
        }
    rng = ctx.random
    for node in sites:
        is_store = node.kind == NodeKind.STORE
        scale = 4 if node.kind != NodeKind.STORE else 1  # warehouses and kitchens hold more
        on_hand: dict[int, Decimal] = {}
        for week in range(WEEKS, 0, -1):
            received_on = today - dt.timedelta(days=7 * week)
            when = now - dt.timedelta(days=7 * week)
            lines: list[services.MoveInput] = []
            for item in items:
                location = locations[node.code][_location_code(item, is_store)]
                low, high = WEEKLY.get(item.base_unit.code, (2, 20))
                quantity = Decimal(rng.randint(low, high) * scale)
                cost = (item.standard_cost or Decimal(1)) * Decimal(rng.randint(94, 106)) / 100
                shelf = item.shelf_life_days
                lines.append(
                    services.MoveInput(
                        action=services.RECEIVE,
                        item_id=item.pk,
                        location_id=location.pk,  # type: ignore[attr-defined]
                        quantity=quantity,
                        unit_cost=cost.quantize(Decimal("0.0001")),
                        lot_code=f"L{received_on:%y%m%d}",
                        expiry_date=received_on + dt.timedelta(days=shelf) if shelf else None,
                        key=f"demo:{node.code}:{item.sku}:w{week}:in",
                        source=services.Source(
                            "procurement.receipt",
                            f"{node.code}-{received_on:%y%m%d}",
                            f"GR-{node.code}-{received_on:%y%m%d}",
                        ),
                        occurred_at=when,
                    )
                )
                stock = on_hand.get(item.pk, Decimal(0)) + quantity
                # Used the next day out of this delivery (older lots may have expired by then);
                # waste at the end of the week takes the expired lots first.
                used = (quantity * Decimal(rng.randint(55, 85)) / 100).quantize(Decimal("0.001"))
                wasted = (stock * Decimal(rng.randint(0, 4)) / 100).quantize(Decimal("0.001"))
                if item.base_unit.code == "each":
                    used, wasted = used.to_integral_value(), wasted.to_integral_value()
                for reason, amount, suffix, days in (
                    (MoveReason.CONSUMPTION, used, "use", 1),
                    (MoveReason.WASTE, wasted, "waste", 6),
                ):
                    if amount > 0:
                        lines.append(
                            services.MoveInput(
                                action=services.ISSUE,
                                item_id=item.pk,
                                location_id=location.pk,  # type: ignore[attr-defined]
                                quantity=amount,
                                reason=reason,
                                key=f"demo:{node.code}:{item.sku}:w{week}:{suffix}",
                                occurred_at=when + dt.timedelta(days=days),
                            )
                        )
                on_hand[item.pk] = stock - used - wasted
            services.post_moves(lines, actor=SYSTEM)
