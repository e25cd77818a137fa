"""Demo dashboards: the daily stock rollups of the seeded history (the worker would roll each
posting up as it comes; the seed rolls the whole history at once), today's forecasts, and the
alerts of the last complete day (docs/anomalies.md).

Two anomalies are planted at SH001, the store with a demo store manager (manager.sh001), so
that HQ, the region and the store manager all find them in the alert centre:

- its sales collapsed on the last complete business day (the stock demo sold 15 % of the
  usual portions that day, `inventory.demo.COLLAPSE`, and the sales history mirrors it):
  `sales_drop`;
- the walk-in door was left open that afternoon: its manager wrote off a good part of the
  walk-in's most valuable stock through the waste services: `waste_spike`.

The nightly detectors then run over every store's last complete day, as the worker would at
05:45; the other stores' days are ordinary and raise nothing.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import Min
from django.utils import timezone

from backroom.approvals import runtime
from backroom.catalog.selectors import site_today
from backroom.config.demo import DemoContext
from backroom.dashboards import detectors, rollups, running
from backroom.finance.models import Book
from backroom.finance.services.automatic import post_stock_posting
from backroom.inventory import services as inventory
from backroom.inventory.choices import LocationKind, WasteReason, WasteStatus
from backroom.inventory.models import ItemValuation, StockMove, WasteDocument
from backroom.inventory.services import waste as waste_services
from backroom.kernel import clock
from backroom.kernel.actors import SYSTEM
from backroom.kernel.dates import business_day_bounds
from backroom.org.models import Site

ANOMALY_STORE = "SH001"
# The walk-in's most valuable items, this share of each thrown away, up to about this value.
WASTE_SHARE = Decimal("0.35")
WASTE_VALUE = Decimal("1500")
Q = Decimal("0.001")


def seed(ctx: DemoContext) -> None:
    node = ctx.nodes.get(ANOMALY_STORE)
    if node is not None:
        _waste_spike(ctx, Site.objects.select_related("node").get(node=node))
    past = ctx.extra.get("past_forecasts")
    if past is not None:
        rollups.record_forecasts(past.rows, date_from=past.date_from, made_at=past.made_at)
    first = StockMove.objects.aggregate(first=Min("occurred_at"))["first"]
    today = timezone.localdate()
    if first is not None:
        date_from = timezone.localdate(first) - dt.timedelta(days=1)
        rollups.rebuild_stock_days(site_ids=None, date_from=date_from, date_to=today, fix=True)
    running.roll(today)
    rollups.snapshot_forecasts(today)
    detectors.detect_daily()


def _waste_spike(ctx: DemoContext, site: Site) -> None:
    """The walk-in door left open on the last complete day: its manager writes off part of the
    walk-in's most valuable stock at 15:00 (approved an hour later when the write-off policy
    asks for it)."""
    manager = ctx.users.get("manager.sh001", SYSTEM)
    day = site_today(site) - dt.timedelta(days=1)
    start, _end = business_day_bounds(day, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour)
    when = start + dt.timedelta(hours=15 - site.cutoff_hour)
    rows = ItemValuation.objects.filter(
        location__site=site,
        location__kind=LocationKind.WALK_IN,
        quantity__gt=1,
        average_cost__gt=0,
        item__is_active=True,
    ).order_by("-value", "item_id")
    lines, total = [], Decimal(0)
    for row in rows[:10]:
        if total >= WASTE_VALUE:
            break
        quantity = (row.quantity * WASTE_SHARE).quantize(Q)
        total += quantity * row.average_cost
        lines.append(
            inventory.WasteLineInput(
                item_id=row.item_id,
                location_id=row.location_id,
                quantity=quantity,
                reason=WasteReason.SPOILED,
                note="冷藏库门没关好 The walk-in door was left open",
            )
        )
    if not lines:
        return
    with clock.at(when):
        document = inventory.create_waste(
            site,
            lines,
            actor=manager,
            note="冷藏库门整个下午没关 The walk-in door stood open all afternoon",
            occurred_at=when,
        )
    _approve(document, when + dt.timedelta(hours=1))
    document.refresh_from_db()
    # The worker would post it to the books (`finance.post_stock`); the finance demo caught
    # up the earlier postings, so the seed posts this one at once.
    if document.posting_id and Book.objects.filter(entity_id=site.legal_entity_id).exists():
        post_stock_posting(document.posting_id)


def _approve(document: WasteDocument, when: dt.datetime) -> None:
    """Whoever the write-off waits for approves it (each step of the policy)."""
    for _step in range(5):
        document.refresh_from_db()
        if document.status != WasteStatus.PENDING_APPROVAL:
            return
        request = waste_services.approval_request(document)
        task: Any = (
            request.tasks.filter(status="pending").select_related("assignee").first()
            if request is not None
            else None
        )
        if task is None:
            return
        with clock.at(when):
            runtime.approve(task, actor=task.assignee)
