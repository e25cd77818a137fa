"""Demo waste records and transfer orders over the last two weeks (run after the stock demo).

- SH001 records a handful of waste (dropped, spoiled, expired, over-production) as its store
  manager, posted at once or approved (by the region manager) an hour later as the demo
  write-off policy asks; one more, worth more than ¥2,000, waits for the region manager.
- The Shanghai warehouse sent SH001 a transfer that arrived with a line short (written off from
  in transit as `transfer_discrepancy`), and SH001 has a transfer to SH002 still in transit.

Everything goes through the document services; their clock is set back to the day each step
happened, as the stock demo does for counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any
from unittest import mock

from django.utils import timezone

from backroom.approvals import runtime
from backroom.inventory import services
from backroom.inventory.choices import LocationKind, WasteReason, WasteStatus
from backroom.inventory.models import ItemValuation, Location, WasteDocument
from backroom.inventory.services import transfer_orders as transfer_order_services
from backroom.inventory.services import waste as waste_services
from backroom.kernel import clock
from backroom.kernel.actors import SYSTEM

if TYPE_CHECKING:
    from backroom.config.demo import DemoContext

# days ago, reason, share of on-hand thrown away
WASTE = [
    (13, WasteReason.DROPPED, Decimal("0.08")),
    (10, WasteReason.SPOILED, Decimal("0.12")),
    (7, WasteReason.EXPIRED, Decimal("0.15")),
    (4, WasteReason.OVER_PRODUCTION, Decimal("0.10")),
    (2, WasteReason.SPOILED, Decimal("0.12")),
]
Q = Decimal("0.001")


@contextmanager
def _backdated(when: dt.datetime) -> Iterator[None]:
    with (
        clock.at(when),
        mock.patch.object(transfer_order_services, "timezone", SimpleNamespace(now=lambda: when)),
    ):
        yield


def _approve_as_it_happened(document: WasteDocument, when: dt.datetime) -> None:
    """History: whoever the approval waited for approved it an hour later."""
    for _step in range(5):
        document.refresh_from_db()
        if document.status != WasteStatus.PENDING_APPROVAL:
            return
        request = waste_services.approval_request(document)
        if request is None:
            return
        task = request.tasks.filter(status="pending").select_related("assignee").first()
        if task is None:
            return
        with clock.at(when + dt.timedelta(hours=1)):
            runtime.approve(task, actor=task.assignee)


def _stocked(location: Location, count: int, *, offset: int = 0) -> list[ItemValuation]:
    """Items with stock and a cost at a location, largest value first."""
    rows = list(
        ItemValuation.objects.filter(
            location=location, quantity__gt=1, average_cost__gt=0, item__is_active=True
        )
        .select_related("item__base_unit")
        .order_by("-value", "item_id")[offset : offset + count]
    )
    return rows


def _location(node: Any, kinds: tuple[str, ...]) -> Location | None:
    return (
        Location.objects.filter(site__node=node, kind__in=kinds, is_active=True)
        .order_by("code")
        .first()
    )


def seed_documents(ctx: DemoContext) -> None:
    """Waste records and transfer orders in the demo chain (see the module)."""
    store, sister, warehouse = (ctx.nodes.get(code) for code in ("SH001", "SH002", "WH-SH"))
    if store is None or sister is None:
        return
    manager = ctx.users.get("manager.sh001", SYSTEM)
    # Every step happens in the past, whatever the hour the demo is seeded at.
    today = timezone.now().replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=1)
    stock_kinds = (LocationKind.WALK_IN, LocationKind.FREEZER, LocationKind.DRY_STORE)
    walk_in = _location(store, (LocationKind.WALK_IN,)) or _location(store, stock_kinds)
    if walk_in is None:
        return
    site = walk_in.site
    for index, (days_ago, reason, share) in enumerate(WASTE):
        candidates = list(
            ItemValuation.objects.filter(
                location__site=site,
                location__kind__in=stock_kinds,
                quantity__gt=1,
                average_cost__gt=0,
                item__is_active=True,
            ).order_by("-value", "item_id")[index : index + 1]
        )
        if not candidates:
            break
        row = candidates[0]
        quantity = max((row.quantity * share).quantize(Q), Q)
        when = today - dt.timedelta(days=days_ago, hours=ctx.random.randint(0, 8))
        with _backdated(when):
            document = services.create_waste(
                site,
                [
                    services.WasteLineInput(
                        item_id=row.item_id,
                        location_id=row.location_id,
                        quantity=quantity,
                        reason=reason,
                    )
                ],
                actor=manager,
                occurred_at=when - dt.timedelta(minutes=30),
            )
        _approve_as_it_happened(document, when)
    # One above the region manager's limit in the demo write-off policy (¥2,000), waiting for
    # them: most of the site's most valuable stock (a freezer failure), line by line until its
    # value is above the limit.
    limit = Decimal("2600")
    rows = list(
        ItemValuation.objects.filter(
            location__site=site,
            location__kind__in=stock_kinds,
            quantity__gt=0,
            average_cost__gt=0,
            item__is_active=True,
        ).order_by("-value", "item_id")[:8]
    )
    lines, total = [], Decimal(0)
    for row in rows:
        if total > limit:
            break
        quantity = (row.quantity * Decimal("0.6")).quantize(Q)
        if quantity <= 0:
            continue
        total += quantity * Decimal(row.average_cost or 0)
        lines.append(
            services.WasteLineInput(
                item_id=row.item_id,
                location_id=row.location_id,
                quantity=quantity,
                reason=WasteReason.SPOILED,
                note="冷冻库故障 Freezer failed overnight",
            )
        )
    if lines:
        when = today - dt.timedelta(days=1)
        with _backdated(when):
            services.create_waste(
                site,
                lines,
                actor=manager,
                note="待区域经理审批 Waiting for the region manager",
                occurred_at=when - dt.timedelta(hours=2),
            )
    _seed_transfers(ctx, store, sister, warehouse, manager, today, stock_kinds)


def _seed_transfers(
    ctx: DemoContext,
    store: Any,
    sister: Any,
    warehouse: Any,
    manager: Any,
    today: dt.datetime,
    stock_kinds: tuple[str, ...],
) -> None:
    receiving = _location(store, stock_kinds)
    if warehouse is not None and receiving is not None:
        source = next(
            (
                location
                for location in Location.objects.filter(
                    site__node=warehouse, kind__in=stock_kinds, is_active=True
                ).order_by("code")
                if _stocked(location, 1)
            ),
            None,
        )
        if source is not None:
            rows = _stocked(source, 2)
            lines = [
                services.TransferLineInput(
                    item_id=row.item_id, quantity=max((row.quantity / 4).quantize(Q), Q)
                )
                for row in rows
            ]
            with _backdated(today - dt.timedelta(days=6, hours=3)):
                order = services.create_transfer_order(
                    from_location_id=source.pk,
                    to_location_id=receiving.pk,
                    lines=lines,
                    actor=SYSTEM,
                    note="仓库配送 Warehouse delivery",
                )
                services.dispatch_transfer_order(order, actor=SYSTEM)
            with _backdated(today - dt.timedelta(days=5)):
                first, *rest = list(order.lines.order_by("line_no"))
                short = (first.requested_quantity * Decimal("0.95")).quantize(Q)
                services.receive_transfer_order(
                    order,
                    [
                        services.ReceiptLine(
                            first.pk, short, discrepancy_reason="damaged", note="箱子压坏 crushed"
                        ),
                        *[services.ReceiptLine(line.pk, line.requested_quantity) for line in rest],
                    ],
                    actor=manager,
                )
    sender = _location(store, stock_kinds)
    destination = _location(sister, stock_kinds)
    if sender is not None and destination is not None:
        rows = _stocked(sender, 1, offset=2)
        if rows:
            with _backdated(today - dt.timedelta(hours=5)):
                order = services.create_transfer_order(
                    from_location_id=sender.pk,
                    to_location_id=destination.pk,
                    lines=[
                        services.TransferLineInput(
                            item_id=rows[0].item_id,
                            quantity=max((rows[0].quantity / 5).quantize(Q), Q),
                        )
                    ],
                    actor=manager,
                    note="借调 Help out SH002",
                )
                services.dispatch_transfer_order(order, actor=manager)
