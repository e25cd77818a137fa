"""Demo dashboards: the daily stock rollups of the seeded history (the worker would roll each
posting up as it comes; the seed rolls the whole history at once) and today's forecasts."""

from __future__ import annotations

import datetime as dt

from django.db.models import Min
from django.utils import timezone

from backroom.config.demo import DemoContext
from backroom.dashboards import months, rollups
from backroom.inventory.models import StockMove


def seed(ctx: DemoContext) -> None:
    first = StockMove.objects.aggregate(first=Min("occurred_at"))["first"]
    today = timezone.localdate()
    if first is not None:
        date_from = timezone.localdate(first) - dt.timedelta(days=1)
        rollups.rebuild_stock_days(site_ids=None, date_from=date_from, date_to=today, fix=True)
    months.close_months(today)
    rollups.snapshot_forecasts(today)
