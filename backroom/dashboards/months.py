"""Monthly store figures (`StoreMonth`): the daily rollups of a store's month summed, so a
quarter or a year of 500 stores reads a few thousand rows, not hundreds of thousands.

- A month is rolled up for every store once it is over (`close_months`, nightly), and
  recorded in `MonthClosed`. The current month is always read from the daily rows.
- When daily rows of a closed month change later (a back-dated stock posting, a refund of an
  old order, imported history), the store's month is marked dirty (`mark_dirty`); a dirty
  month is read from the daily rows until the worker recomputes it (`refresh_dirty`, every
  few minutes), so the figures never lag behind the facts.
- `facts.measures` takes closed, clean months from here and everything else from the days.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F, Min, Sum
from django.utils import timezone

from backroom.channels.models import SalesChannelDay, SalesDay
from backroom.dashboards.models import (
    ForecastDay,
    MonthClosed,
    StockDay,
    StoreMonth,
    StoreMonthDirty,
)
from backroom.kernel.money import quantize_money

ZERO = Decimal(0)
SALES_FIELDS = (
    "orders",
    "gross",
    "net",
    "merchant_discount",
    "platform_discount",
    "commission",
    "history_net",
)
STOCK_FIELDS = ("receipts", "sales", "waste", "consumption", "variance")


def _money(value: Decimal | None) -> Decimal:
    """A sum at storage precision (SQLite sums decimals as floats)."""
    return quantize_money(value or ZERO)


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def month_end(month: dt.date) -> dt.date:
    return next_month(month) - dt.timedelta(days=1)


def months_between(date_from: dt.date, date_to: dt.date) -> list[dt.date]:
    """The months [date_from, date_to] touches."""
    found, month = [], month_start(date_from)
    while month <= date_to:
        found.append(month)
        month = next_month(month)
    return found


def current_month(today: dt.date | None = None) -> dt.date:
    return month_start(today or timezone.localdate())


def full_months(date_from: dt.date, date_to: dt.date, *, before: dt.date) -> list[dt.date]:
    """The calendar months wholly inside [date_from, date_to] that start before `before`."""
    months = []
    month = month_start(date_from)
    if month < date_from:
        month = next_month(month)
    while month_end(month) <= date_to and month < before:
        months.append(month)
        month = next_month(month)
    return months


MonthRows = dict[tuple[int, str], dict[str, Any]]


def month_rows(month: dt.date, site_ids: Sequence[int] | None = None) -> MonthRows:
    """What the `StoreMonth` rows of a month should hold, from the daily rows."""
    span: dict[str, Any] = {"business_date__gte": month, "business_date__lte": month_end(month)}
    if site_ids is not None:
        span["site_id__in"] = list(site_ids)
    rows: dict[tuple[int, str], dict[str, Any]] = defaultdict(
        lambda: {"channel_net": {}, **dict.fromkeys(SALES_FIELDS + STOCK_FIELDS, ZERO)}
    )
    sales: Any = (
        SalesDay.objects.filter(**span)
        .values("site_id", "currency")
        .annotate(**{f"s_{name}": Sum(name) for name in SALES_FIELDS})
    )
    for row in sales:
        target = rows[(row["site_id"], row["currency"])]
        for name in SALES_FIELDS:
            target[name] = _money(row[f"s_{name}"]) if name != "orders" else row["s_orders"] or 0
    for row in (
        SalesChannelDay.objects.filter(**span)
        .values("site_id", "currency", "kind")
        .annotate(total=Sum("net"))
    ):
        rows[(row["site_id"], row["currency"])]["channel_net"][row["kind"]] = str(
            _money(row["total"])
        )
    for row in (
        ForecastDay.objects.filter(**span)
        .values("site_id", "currency")
        .annotate(gross=Sum("gross"), guests=Sum("guests"))
    ):
        target = rows[(row["site_id"], row["currency"])]
        target["forecast_gross"] = _money(row["gross"])
        target["forecast_guests"] = (row["guests"] or ZERO).quantize(Decimal("0.01"))
    stock: Any = (
        StockDay.objects.filter(**span)
        .values("site_id", currency=F("site__legal_entity__base_currency"))
        .annotate(**{f"s_{name}": Sum(name) for name in STOCK_FIELDS})
    )
    for row in stock:
        target = rows[(row["site_id"], row["currency"])]
        for name in STOCK_FIELDS:
            target[name] = _money(row[f"s_{name}"])
    return dict(rows)


def compute_month(month: dt.date, site_ids: Sequence[int] | None = None) -> int:
    """(Re)write the `StoreMonth` rows of a month from the daily rows (all stores, or those
    named); returns the rows written."""
    rows = month_rows(month, site_ids)
    with transaction.atomic():
        existing = StoreMonth.objects.filter(month=month)
        if site_ids is not None:
            existing = existing.filter(site_id__in=list(site_ids))
        existing.delete()
        StoreMonth.objects.bulk_create(
            [
                StoreMonth(site_id=site_id, month=month, currency=currency, **values)
                for (site_id, currency), values in sorted(rows.items())
            ],
            batch_size=2000,
        )
    return len(rows)


def close_months(today: dt.date | None = None) -> list[dt.date]:
    """Roll up every month before the current one not rolled up yet (oldest first); then
    recompute the dirty ones. Returns the months closed."""
    before = current_month(today)
    firsts = [
        model.objects.aggregate(first=Min("business_date"))["first"]
        for model in (SalesDay, StockDay)
    ]
    known = [day for day in firsts if day is not None]
    closed: list[dt.date] = []
    if known:
        done = set(MonthClosed.objects.values_list("month", flat=True))
        month = month_start(min(known))
        while month < before:
            if month not in done:
                with transaction.atomic():
                    compute_month(month)
                    MonthClosed.objects.create(month=month)
                closed.append(month)
            month = next_month(month)
    refresh_dirty()
    return closed


def mark_dirty(site_days: Iterable[tuple[int, dt.date]]) -> int:
    """Note that the daily rows of these stores' days changed: their months, if closed, are
    read from the days until recomputed. Returns the marks added."""
    pairs = {(site_id, month_start(day)) for site_id, day in site_days}
    if not pairs:
        return 0
    closed = set(
        MonthClosed.objects.filter(month__in={month for _site, month in pairs}).values_list(
            "month", flat=True
        )
    )
    marks = [
        StoreMonthDirty(site_id=site_id, month=month)
        for site_id, month in sorted(pairs)
        if month in closed
    ]
    # A mark already there gets the new time: `refresh_dirty` keeps marks newer than its read.
    StoreMonthDirty.objects.bulk_create(
        marks, update_conflicts=True, unique_fields=["site", "month"], update_fields=["marked_at"]
    )
    return len(marks)


def refresh_dirty(limit: int = 1000) -> int:
    """Recompute the marked store-months (the marks taken before reading, so a change made
    meanwhile leaves its mark for the next run). Returns the store-months recomputed."""
    started = timezone.now()
    marks = list(StoreMonthDirty.objects.order_by("month", "site_id")[:limit])
    by_month: dict[dt.date, list[int]] = defaultdict(list)
    for mark in marks:
        by_month[mark.month].append(mark.site_id)
    for month, site_ids in by_month.items():
        compute_month(month, site_ids)
    StoreMonthDirty.objects.filter(
        pk__in=[mark.pk for mark in marks], marked_at__lte=started
    ).delete()
    return len(marks)


def month_differences(month: dt.date, site_ids: Sequence[int] | None = None) -> list[str]:
    """How the stored `StoreMonth` rows of a closed month differ from the daily rows."""
    expected = month_rows(month, site_ids)
    stored_rows = StoreMonth.objects.filter(month=month)
    if site_ids is not None:
        stored_rows = stored_rows.filter(site_id__in=list(site_ids))
    stored = {
        (row.site_id, row.currency): {
            "channel_net": row.channel_net,
            **{name: getattr(row, name) for name in SALES_FIELDS + STOCK_FIELDS},
        }
        for row in stored_rows
    }
    differences = []
    for key in sorted(set(expected) | set(stored)):
        want, have = expected.get(key), stored.get(key)
        if want is None or have is None:
            differences.append(f"site {key[0]} {month:%Y-%m} {key[1]}: month row missing or extra")
            continue
        wrong = [
            f"{name} month {have[name]} days {want[name]}"
            for name in SALES_FIELDS + STOCK_FIELDS
            if Decimal(have[name]) != Decimal(want[name])
        ]
        if {k: Decimal(v) for k, v in have["channel_net"].items()} != {
            k: Decimal(v) for k, v in want["channel_net"].items()
        }:
            wrong.append("channel mix")
        if wrong:
            differences.append(f"site {key[0]} {month:%Y-%m} {key[1]}: " + ", ".join(wrong))
    return differences


def dirty_pairs(months: Sequence[dt.date], site_ids: Sequence[int]) -> set[tuple[int, dt.date]]:
    if not months:
        return set()
    return set(
        StoreMonthDirty.objects.filter(month__in=months, site_id__any=list(site_ids)).values_list(
            "site_id", "month"
        )
    )


def closed_months(months: Sequence[dt.date]) -> list[dt.date]:
    return sorted(MonthClosed.objects.filter(month__in=months).values_list("month", flat=True))
