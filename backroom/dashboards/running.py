"""Running totals (`StoreRunningTotal`): each store's daily rollups summed from its first day
through each rolled day, so the figures of any run of days are the difference of two rows.
A month, a quarter or a year of 500 stores is read as about a thousand rows, and a trend by
week or by month as one row per store and bucket (docs/dashboards.md, decision 0010).

- The nightly roll (`roll`) adds a row per store and day for every day up to yesterday not
  rolled yet (`RunningTotalsRolled.through`): the day before's row plus the day's rollups.
  Rows are dense: a day without sales repeats the day before, so a lookup by date is exact.
- A later change to a store's past day (a late refund, a back-dated stock posting, imported
  history) marks the store dirty from that day (`mark_dirty`); its figures are read from the
  daily rows until the worker recomputes its running rows (`refresh_dirty`, every few
  minutes), so the dashboards never lag behind the facts.
- The roll and the refresh take the same lock (the `RunningTotalsRolled` row), so a refresh
  never builds on a row the roll is rewriting.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F, Min
from django.utils import timezone

from backroom.channels.models import SalesChannelDay, SalesDay
from backroom.dashboards.models import (
    ForecastDay,
    RunningTotalsRolled,
    StockDay,
    StoreRunningDirty,
    StoreRunningTotal,
)
from backroom.events.services import round_cached
from backroom.org.models import Site
from backroom.org.selectors import open_business_day, open_business_day_of, store_zones

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
# The forecast, and the gross sales of the days that had one ("sales vs forecast").
FORECAST_FIELDS = ("forecast_gross", "forecast_guests", "forecast_sales")
STOCK_FIELDS = ("receipts", "sales", "waste", "consumption", "variance", "sold_revenue")
COLUMNS = SALES_FIELDS + FORECAST_FIELDS + STOCK_FIELDS
# Days rolled per transaction (a first roll of two years of 500 stores is 24 of them).
CHUNK_DAYS = 31

Pair = tuple[int, str]  # (site id, currency)
Values = dict[str, Any]  # the columns, and "channel_net": {kind: Decimal}


def rolled_through() -> dt.date | None:
    """The last day every store's running rows exist for (None: never rolled)."""
    row = RunningTotalsRolled.objects.order_by("pk").values_list("through", flat=True).first()
    return row


def _empty() -> Values:
    return {**dict.fromkeys(COLUMNS, ZERO), "orders": 0, "channel_net": {}}


def _plus(total: Values, day: Values | None) -> Values:
    if day is None:
        return total
    result = {name: total[name] + day[name] for name in COLUMNS}
    channels = dict(total["channel_net"])
    for kind, value in day["channel_net"].items():
        channels[kind] = channels.get(kind, ZERO) + value
    result["channel_net"] = channels
    return result


def day_values(
    date_from: dt.date, date_to: dt.date, site_ids: Sequence[int] | None = None
) -> dict[Pair, dict[dt.date, Values]]:
    """Each store's daily rollups over [date_from, date_to], per (site, currency) and day."""
    span: dict[str, Any] = {"business_date__gte": date_from, "business_date__lte": date_to}
    if site_ids is not None:
        span["site_id__any"] = list(site_ids)
    found: dict[Pair, dict[dt.date, Values]] = defaultdict(lambda: defaultdict(_empty))
    for row in SalesDay.objects.filter(**span).values(
        "site_id", "currency", "business_date", *SALES_FIELDS
    ):
        values = found[(row["site_id"], row["currency"])][row["business_date"]]
        for name in SALES_FIELDS:
            values[name] += row[name] or 0
    for row in SalesChannelDay.objects.filter(**span).values(
        "site_id", "currency", "business_date", "kind", "net"
    ):
        channels = found[(row["site_id"], row["currency"])][row["business_date"]]["channel_net"]
        channels[row["kind"]] = channels.get(row["kind"], ZERO) + (row["net"] or ZERO)
    for row in ForecastDay.objects.filter(**span).values(
        "site_id", "currency", "business_date", "gross", "guests"
    ):
        values = found[(row["site_id"], row["currency"])][row["business_date"]]
        values["forecast_gross"] += row["gross"] or ZERO
        values["forecast_guests"] += row["guests"] or ZERO
        values["forecast_sales"] = values["gross"]
    for row in StockDay.objects.filter(**span).values(
        "site_id", "business_date", *STOCK_FIELDS, cur=F("site__legal_entity__base_currency")
    ):
        values = found[(row["site_id"], row["cur"])][row["business_date"]]
        for name in STOCK_FIELDS:
            values[name] += row[name] or ZERO
    return found


def stored_rows(
    date_from: dt.date, date_to: dt.date, site_ids: Sequence[int] | None = None
) -> dict[tuple[int, str, dt.date], Values]:
    """The running rows of [date_from, date_to], per (site, currency, day)."""
    rows = StoreRunningTotal.objects.filter(
        business_date__gte=date_from, business_date__lte=date_to
    )
    if site_ids is not None:
        rows = rows.filter(site_id__any=list(site_ids))
    return {
        (row["site_id"], row["currency"], row["business_date"]): {
            **{name: row[name] for name in COLUMNS},
            "channel_net": {kind: Decimal(value) for kind, value in row["channel_net"].items()},
        }
        for row in rows.values("site_id", "currency", "business_date", "channel_net", *COLUMNS)
    }


def _day_rows(day: dt.date, site_ids: Sequence[int] | None = None) -> dict[Pair, Values]:
    return {
        (site_id, currency): values
        for (site_id, currency, _day), values in stored_rows(day, day, site_ids).items()
    }


def expected_rows(
    before: dict[Pair, Values],
    days: dict[Pair, dict[dt.date, Values]],
    date_from: dt.date,
    date_to: dt.date,
) -> dict[tuple[int, str, dt.date], Values]:
    """The running rows of [date_from, date_to]: each pair's row of the day before
    (`before`) plus its days, one row per day from the pair's first day on."""
    rows: dict[tuple[int, str, dt.date], Values] = {}
    for pair in sorted(set(before) | set(days)):
        mine = days.get(pair, {})
        total = before.get(pair)
        day = date_from if total is not None else min(mine)
        total = total or _empty()
        while day <= date_to:
            total = _plus(total, mine.get(day))
            rows[(pair[0], pair[1], day)] = total
            day += dt.timedelta(days=1)
    return rows


def _write(rows: dict[tuple[int, str, dt.date], Values]) -> None:
    StoreRunningTotal.objects.bulk_create(
        [
            StoreRunningTotal(
                site_id=site_id,
                currency=currency,
                business_date=day,
                **{name: values[name] for name in COLUMNS},
                channel_net={kind: str(value) for kind, value in values["channel_net"].items()},
            )
            # A day's rows side by side: the dashboards read a few days of every store.
            for (site_id, currency, day), values in sorted(
                rows.items(), key=lambda pair: (pair[0][2], pair[0][0], pair[0][1])
            )
        ],
        batch_size=2000,
    )


def _lock() -> RunningTotalsRolled | None:
    return RunningTotalsRolled.objects.select_for_update().order_by("pk").first()


def _first_day(before: dt.date) -> dt.date | None:
    firsts = [
        model.objects.filter(business_date__lt=before).aggregate(first=Min("business_date"))[
            "first"
        ]
        for model in (SalesDay, StockDay, ForecastDay)
    ]
    known = [day for day in firsts if day is not None]
    return min(known) if known else None


def roll(today: dt.date | None = None) -> int:
    """Add the running rows of every day before `today` not rolled yet, oldest first (in
    chunks of CHUNK_DAYS days, each committed with the new `through`); then recompute the
    dirty stores. Returns the rows written. `today` defaults to the stores' open business day
    (`open_business_day`): a day is rolled once every store has closed it."""
    today = today or open_business_day()
    last = today - dt.timedelta(days=1)
    written = 0
    while True:
        with transaction.atomic():
            rolled = _lock()
            if rolled is None:
                first = _first_day(today)
                if first is None:
                    break
                start = first
            else:
                start = rolled.through + dt.timedelta(days=1)
            if start > last:
                break
            end = min(start + dt.timedelta(days=CHUNK_DAYS - 1), last)
            before = _day_rows(start - dt.timedelta(days=1)) if rolled else {}
            rows = expected_rows(before, day_values(start, end), start, end)
            _write(rows)
            written += len(rows)
            if rolled is None:
                RunningTotalsRolled.objects.create(through=end)
            else:
                RunningTotalsRolled.objects.filter(pk=rolled.pk).update(
                    through=end, rolled_at=timezone.now()
                )
    refresh_dirty()
    return written


def recompute(site_ids: Sequence[int], date_from: dt.date) -> int:
    """Rewrite the stores' running rows from `date_from` through the rolled day (callers hold
    the lock). Returns the rows written."""
    through = rolled_through()
    if through is None or date_from > through or not site_ids:
        return 0
    StoreRunningTotal.objects.filter(
        site_id__any=list(site_ids), business_date__gte=date_from
    ).delete()
    before = _day_rows(date_from - dt.timedelta(days=1), site_ids)
    rows = expected_rows(before, day_values(date_from, through, site_ids), date_from, through)
    _write(rows)
    return len(rows)


def open_day_this_round() -> dt.date:
    """The stores' open business day: days before it are past. Their zones are read once per
    dispatch round (the worker asks after every order event)."""
    return open_business_day_of(round_cached("org.store_zones", store_zones))


def mark_dirty(site_days: Iterable[tuple[int, dt.date]]) -> int:
    """Note that these stores' daily rows of these days changed: past days are marked (a day
    not rolled yet costs nothing later: the roll reads it afresh). Returns the marks added."""
    wanted = set(site_days)
    if not wanted:
        return 0
    today = open_day_this_round()
    pairs = sorted((site_id, day) for site_id, day in wanted if day < today)
    if not pairs:
        return 0
    # A mark already there gets the new time: `refresh_dirty` keeps marks newer than its read.
    StoreRunningDirty.objects.bulk_create(
        [StoreRunningDirty(site_id=site_id, day=day) for site_id, day in pairs],
        update_conflicts=True,
        unique_fields=["site", "day"],
        update_fields=["marked_at"],
    )
    return len(pairs)


def dirty_days(site_ids: Sequence[int], through: dt.date) -> dict[int, dt.date]:
    """The stores whose running rows up to `through` are stale, with the first stale day."""
    return {
        row["site_id"]: row["first"]
        for row in StoreRunningDirty.objects.filter(site_id__any=list(site_ids), day__lte=through)
        .values("site_id")
        .annotate(first=Min("day"))
    }


def refresh_dirty(limit: int = 1000) -> int:
    """Recompute the marked stores from their earliest marked day (the marks taken before
    reading, so a change made meanwhile leaves its mark for the next run). Returns the stores
    recomputed."""
    with transaction.atomic():
        if _lock() is None:
            return 0
        started = timezone.now()
        marks = list(StoreRunningDirty.objects.order_by("day", "site_id")[:limit])
        first: dict[int, dt.date] = {}
        for mark in marks:
            first.setdefault(mark.site_id, mark.day)
        by_day: dict[dt.date, list[int]] = defaultdict(list)
        for site_id, day in first.items():
            by_day[day].append(site_id)
        for day, site_ids in sorted(by_day.items()):
            recompute(site_ids, day)
        StoreRunningDirty.objects.filter(
            pk__in=[mark.pk for mark in marks], marked_at__lte=started
        ).delete()
    return len(first)


def differences(
    site_ids: Sequence[int] | None, date_from: dt.date, date_to: dt.date, *, fix: bool = False
) -> list[str]:
    """How the stored running rows of [date_from, date_to] (up to the rolled day) differ from
    the daily rows summed from each store's first day; with `fix`, rewrite the stores that
    differ from their first wrong day."""
    through = rolled_through()
    if through is None or date_from > through:
        return []
    end = min(date_to, through)
    sites = list(Site.objects.values_list("pk", flat=True)) if site_ids is None else site_ids
    first = _first_day(date_from)
    before: dict[Pair, Values] = {}
    if first is not None:
        earlier = day_values(first, date_from - dt.timedelta(days=1), sites)
        for pair, days in earlier.items():
            total = _empty()
            for values in days.values():
                total = _plus(total, values)
            before[pair] = total
    expected = expected_rows(before, day_values(date_from, end, sites), date_from, end)
    stored = stored_rows(date_from, end, sites)
    found: list[str] = []
    wrong_from: dict[int, dt.date] = {}
    for key in sorted(set(expected) | set(stored)):
        want, have = expected.get(key), stored.get(key)
        site_id, currency, day = key
        if want is None or have is None:
            problem = "row missing" if have is None else "row extra"
        else:
            wrong = [name for name in COLUMNS if Decimal(have[name]) != Decimal(want[name])]
            if _channels(have) != _channels(want):
                wrong.append("channel mix")
            if not wrong:
                continue
            problem = ", ".join(
                f"{name} {have[name]} (days: {want[name]})" if name in have else name
                for name in wrong
            )
        found.append(f"site {site_id} {currency} running total to {day}: {problem}")
        wrong_from.setdefault(site_id, day)
    if fix and wrong_from:
        with transaction.atomic():
            _lock()
            for site_id, day in wrong_from.items():
                recompute([site_id], day)
    return found


def _channels(values: Values) -> dict[str, Decimal]:
    return {kind: Decimal(value) for kind, value in values["channel_net"].items() if value}
