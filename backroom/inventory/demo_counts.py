"""Demo count templates (盘点模板): for every demo store, a weekly full count of its shelves and
a daily cycle count of the walk-in's most valuable items, both in walk order (walk-in, freezer,
dry store, bar; by category and name within each) and in the units the items are counted in.

Called by the demo seed after the stock ledger's part (`seed_count_templates(ctx)`), through
the services as the system actor.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import Sum

from backroom.catalog.models import Item
from backroom.inventory import services
from backroom.inventory.models import CountTemplate, Location, StockBalance
from backroom.kernel.actors import SYSTEM
from backroom.org.choices import NodeKind
from backroom.org.models import OrgNode

if TYPE_CHECKING:
    from backroom.config.demo import DemoContext

WALK = ["WALKIN", "FREEZER", "DRY", "BAR"]
DAILY_ITEMS = 12
FULL_NAME = "每周全盘 Weekly full count"
DAILY_NAME = "每日冷藏抽盘 Daily walk-in cycle count"


def _units(item: Item) -> list[str]:
    """The item's count units, largest first, then its base unit (at most four)."""
    units = sorted(
        (unit for unit in item.units.all() if unit.is_count), key=lambda unit: -unit.factor
    )
    codes = [unit.code for unit in units]
    if item.base_unit.code not in codes:
        codes.append(item.base_unit.code)
    return codes[:4]


def seed_count_templates(ctx: DemoContext) -> None:
    """Two count templates per demo store; a store that already has them is left alone."""
    stores = sorted(
        (node for node in ctx.nodes.values() if node.kind == NodeKind.STORE),
        key=lambda node: node.code,
    )
    for node in stores:
        node = OrgNode.objects.select_related("site").get(pk=node.pk)
        site = node.site
        if CountTemplate.objects.filter(site=site).exists():
            continue
        locations = {
            location.code: location
            for location in Location.objects.filter(site=site, is_active=True, code__in=WALK)
        }
        held = (
            StockBalance.objects.filter(location__site=site, location__code__in=WALK)
            .values("item_id", "location_id")
            .annotate(value=Sum("value"))
            .order_by()
        )
        pairs = {(row["item_id"], row["location_id"]): row["value"] for row in held}
        items = (
            Item.objects.select_related("base_unit", "category")
            .prefetch_related("units")
            .in_bulk({item_id for item_id, _location in pairs})
        )
        full: list[services.TemplateLineInput] = []
        for code in WALK:
            location = locations.get(code)
            if location is None:
                continue
            here = sorted(
                (items[item_id] for item_id, location_id in pairs if location_id == location.pk),
                key=lambda item: (item.category.name if item.category else "", item.name),
            )
            full.extend(
                services.TemplateLineInput(location.pk, item.pk, count_units=_units(item))
                for item in here
                if item.is_active
            )
        if not full:
            continue
        services.create_count_template(site, actor=SYSTEM, name=FULL_NAME, kind="full", lines=full)
        walk_in = locations.get("WALKIN")
        if walk_in is None:
            continue
        valuable = sorted(
            (
                (value or Decimal(0), item_id)
                for (item_id, location_id), value in pairs.items()
                if location_id == walk_in.pk and items[item_id].is_active
            ),
            reverse=True,
        )[:DAILY_ITEMS]
        chosen = {item_id for _value, item_id in valuable}
        daily = [line for line in full if line.location_id == walk_in.pk and line.item_id in chosen]
        if daily:
            services.create_count_template(
                site, actor=SYSTEM, name=DAILY_NAME, kind="cycle", lines=daily
            )
