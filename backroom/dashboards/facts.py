"""Measures read from the rollups, for a set of stores and business days, in total, per
store, per day, week or month, or per store and bucket, in one reporting currency
(docs/dashboards.md).

Whole runs of rolled days come from the running totals (running.py: two rows per store and
bucket boundary, whatever the period's length); the days not rolled yet, and the stores whose
running rows are being recomputed, from the daily rollups. Every source is grouped in SQL,
never read row by row, and a caller reads only the sources its KPIs need (`sources`).
Amounts in another currency are translated at the period's average rate
(`finance.reports.average_rate`, else the latest rate on the last day); ratio KPIs are ratios
of translated sums.

Callers pass sites they have already scoped to the actor (`dashboard_sites`).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from django.db import connection
from django.db.models import (
    Case,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Length
from django.utils import timezone

from backroom.channels.models import SalesChannelDay, SalesDay
from backroom.dashboards import running
from backroom.dashboards.kpis import SOURCES, Measures
from backroom.dashboards.models import ForecastDay, SoldOutSpell, StockDay, StoreRunningTotal
from backroom.dashboards.permissions import DASHBOARDS_VIEW
from backroom.dashboards.rollups import closing_values, sold_out_minutes
from backroom.kernel.dates import business_day_bounds
from backroom.kernel.money import quantize_money
from backroom.org.models import LegalEntity, OrgNode, Site

ZERO = Decimal(0)
LAST_YEAR = dt.timedelta(days=364)  # 52 weeks: the same weekday

# Buckets are keyed by their first day (a week's Monday, a month's first); "site_…" key by
# (site id, bucket): the sparklines of ranked stores, read in one grouped query per source.
By = Literal["total", "site", "day", "week", "month", "site_day", "site_week", "site_month"]
Grain = Literal["day", "week", "month"]
Key = int | dt.date | tuple[int, dt.date] | None


def dashboard_sites(actor: Any, node: OrgNode | None = None) -> list[Site]:
    """Stores, warehouses and kitchens whose dashboards the actor may see (under `node`)."""
    rows = Site.objects.restrict(actor, DASHBOARDS_VIEW).select_related("node", "legal_entity")
    if node is not None:
        rows = rows.filter(node__path__startswith=node.path)
    return list(rows.order_by("node__path"))


def reporting_currency() -> str:
    """The base currency of the entity nearest the top of the organisation (HQ's)."""
    entity = (
        LegalEntity.objects.select_related("node")
        .order_by(Length("node__path"), "node__path")
        .first()
    )
    return entity.base_currency if entity else "CNY"


class Rates:
    """Translation into the reporting currency for one period (each currency's rate once)."""

    def __init__(self, currency: str, date_from: dt.date, date_to: dt.date) -> None:
        self.currency = currency
        self.date_from, self.date_to = date_from, date_to
        self.rates: dict[str, Decimal] = {currency: Decimal(1)}

    def rate(self, currency: str) -> Decimal:
        if currency not in self.rates:
            from backroom.finance.exceptions import FxRateMissing
            from backroom.finance.reports import average_rate
            from backroom.finance.services.fx import rate_on

            try:
                self.rates[currency] = average_rate(
                    currency, self.currency, self.date_from, self.date_to
                )
            except FxRateMissing:
                self.rates[currency] = rate_on(currency, self.currency, self.date_to)
        return self.rates[currency]

    def __call__(self, amount: Decimal | None, currency: str) -> Decimal:
        if not amount:
            return ZERO
        # SQLite sums decimals as floats: back to storage precision first.
        amount = quantize_money(amount)
        return amount if currency == self.currency else amount * self.rate(currency)


GRAIN: dict[str, Grain | None] = {
    "total": None,
    "site": None,
    "day": "day",
    "week": "week",
    "month": "month",
    "site_day": "day",
    "site_week": "week",
    "site_month": "month",
}
PER_SITE = frozenset({"site", "site_day", "site_week", "site_month"})
# The day rows are read grouped by these (and bucketed by week or month in Python).
GROUPS: dict[str, list[str]] = {
    "total": [],
    "site": ["site_id"],
    "day": ["business_date"],
    "week": ["business_date"],
    "month": ["business_date"],
    "site_day": ["skey", "business_date"],
    "site_week": ["skey", "business_date"],
    "site_month": ["skey", "business_date"],
}


def week_of(day: dt.date) -> dt.date:
    """The Monday of `day`'s week (the key of weekly buckets)."""
    return day - dt.timedelta(days=day.weekday())


def bucket_of(grain: Grain | None, day: dt.date) -> dt.date | None:
    """The key of the bucket holding `day`: the day, its week's Monday or its month's first."""
    if grain == "week":
        return week_of(day)
    if grain == "month":
        return day.replace(day=1)
    return day if grain == "day" else None


@dataclass(frozen=True)
class Span:
    """A bucket of the period: its key and its days inside the period."""

    key: dt.date | None
    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def spans(grain: Grain | None, date_from: dt.date, date_to: dt.date) -> list[Span]:
    """The buckets of [date_from, date_to], the first and last cut to the period."""
    if grain is None:
        return [Span(None, date_from, date_to)]
    found = []
    day = date_from
    while day <= date_to:
        key = bucket_of(grain, day)
        assert key is not None
        if grain == "day":
            after = day + dt.timedelta(days=1)
        elif grain == "week":
            after = key + dt.timedelta(days=7)
        else:
            after = (key.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        end = min(after - dt.timedelta(days=1), date_to)
        found.append(Span(key, day, end))
        day = end + dt.timedelta(days=1)
    return found


def _compose(by: By, site_key: Any, bucket: dt.date | None) -> Key:
    if by == "site":
        return int(site_key)
    if by in PER_SITE:
        assert bucket is not None
        return (int(site_key), bucket)
    return bucket


def _site_key(groups: dict[int, int] | None) -> Any:
    """The first part of a "site_…" key in SQL: the site, or the group a caller put it in
    (`groups`: site id → group id), so the database sums a group's stores."""
    if not groups:
        return F("site_id")
    members: dict[int, list[int]] = defaultdict(list)
    for site_id, group in groups.items():
        members[group].append(site_id)
    return Case(
        *[When(site_id__any=ids, then=Value(group)) for group, ids in sorted(members.items())],
        output_field=IntegerField(),
    )


def _grouped(
    rows: QuerySet[Any], by: By, *fields: str, skey: Any = None, **expressions: Any
) -> QuerySet[Any]:
    """`rows.values(...)` grouped as `by` asks (by day: buckets are made in Python)."""
    if by in PER_SITE and by != "site":
        rows = rows.annotate(skey=skey if skey is not None else F("site_id"))
    return rows.values(*GROUPS[by], *fields, **expressions)


def _key(row: dict[str, Any], by: By, shift: dt.timedelta = dt.timedelta(0)) -> Key:
    day = row.get("business_date")
    bucket = bucket_of(GRAIN[by], day + shift) if day is not None else None
    return _compose(by, row.get("site_id", row.get("skey")), bucket)


def measures(
    sites: Sequence[Site],
    date_from: dt.date,
    date_to: dt.date,
    *,
    by: By = "total",
    currency: str | None = None,
    now: dt.datetime | None = None,
    groups: dict[int, int] | None = None,
    sources: Iterable[str] | None = None,
    rolled: Rolled | None = None,
) -> dict[Key, Measures]:
    """Measures of the sites over [date_from, date_to]: in total (key None), per site id, per
    day, week or month (key: the bucket's first day) or per site and bucket. Keys with nothing
    at all are left out, except in total. With "site_…", `groups` (site id → group id) sums
    stores into groups in the database: the keys are then (group id, bucket). `sources` (of
    SOURCES; default all) limits what is read: a KPI needs only its own (`Kpi.sources`).
    `rolled` (`Rolled.read` of these sites or more) saves reading it again."""
    wanted = SOURCES if sources is None else frozenset(sources)
    grain = GRAIN[by]
    skey = _site_key(groups) if by in PER_SITE and by != "site" else None
    rates = Rates(currency or reporting_currency(), date_from, date_to)
    site_ids = [site.pk for site in sites]
    result: dict[Key, Measures] = defaultdict(Measures)
    buckets = spans(grain, date_from, date_to)
    # What the running totals hold (whole runs of rolled days), then the rest from the days.
    if rolled is None:
        needed = wanted & (RUNNING | {"last_year"})
        rolled = Rolled.read(site_ids) if needed else Rolled(None, {})
    span = _from_running(result, site_ids, rolled, buckets, by, rates, groups, wanted & RUNNING)
    last_year = Q(pk__in=[])
    if "last_year" in wanted:
        last_year = _from_running(
            result, site_ids, rolled, buckets, by, rates, groups, {"last_year"}, shift=LAST_YEAR
        )

    sales = sorted({name for source in wanted for name in SALES_COLUMNS.get(source, ())})
    if sales:
        for row in _grouped(SalesDay.objects.filter(span), by, "currency", skey=skey).annotate(
            **{f"{name}_sum": Sum(name) for name in sales}
        ):
            sums = {name: row[f"{name}_sum"] for name in sales}
            _add_sales(result[_key(row, by)], sums, row["currency"], rates, wanted)

    if "channels" in wanted:
        for row in _grouped(
            SalesChannelDay.objects.filter(span), by, "kind", "currency", skey=skey
        ).annotate(net_sum=Sum("net")):
            m = result[_key(row, by)]
            m.channel_net[row["kind"]] = m.channel_net.get(row["kind"], ZERO) + rates(
                row["net_sum"], row["currency"]
            )

    if "last_year" in wanted:
        for row in _grouped(SalesDay.objects.filter(last_year), by, "currency", skey=skey).annotate(
            net_sum=Sum("net"), orders_sum=Sum("orders")
        ):
            m = result[_key(row, by, LAST_YEAR)]
            m.last_year_net += rates(row["net_sum"], row["currency"])
            m.last_year_orders += Decimal(row["orders_sum"] or 0)

    if "forecast" in wanted:
        for row in _grouped(ForecastDay.objects.filter(span), by, "currency", skey=skey).annotate(
            gross_sum=Sum("gross"), guests_sum=Sum("guests")
        ):
            m = result[_key(row, by)]
            m.forecast_gross += rates(row["gross_sum"], row["currency"])
            m.forecast_guests += row["guests_sum"] or ZERO
        forecast = ForecastDay.objects.filter(
            site_id=OuterRef("site_id"),
            business_date=OuterRef("business_date"),
            currency=OuterRef("currency"),
        )
        for row in _grouped(
            SalesDay.objects.filter(span).filter(Exists(forecast)), by, "currency", skey=skey
        ).annotate(gross_sum=Sum("gross")):
            result[_key(row, by)].forecast_sales += rates(row["gross_sum"], row["currency"])

    if "stock_flows" in wanted:
        _stock_flows(result, span, by, rates, skey)
    if "stock_value" in wanted:
        _stock_values(result, sites, buckets, by, rates, groups)
    if "soldout" in wanted:
        _soldout(result, sites, buckets, by, now or timezone.now(), groups)

    if by == "total":
        result.setdefault(None, Measures())  # the total is there even with nothing in it
    # Days of stock history in each bucket (days of inventory averages usage over them).
    first = rolled.first_stock_days(site_ids) if "stock_flows" in wanted else {}
    by_key = {bucket.key: bucket for bucket in buckets}
    firsts: dict[int | None, dt.date | None] = {}
    for key, m in result.items():
        site_key: int | None = None
        bucket_key: dt.date | None = None
        if isinstance(key, tuple):
            site_key, bucket_key = key
        elif isinstance(key, int):
            site_key = key
        else:
            bucket_key = key
        if site_key not in firsts:
            firsts[site_key] = _first_of(first, site_key, groups)
        m.days = _history_days(by_key[bucket_key], firsts[site_key])
    return dict(result)


def _first_stock_days(site_ids: Sequence[int]) -> dict[int, dt.date]:
    """Each site's first day of stock history (one index probe per site)."""
    first = StockDay.objects.filter(site=OuterRef("pk")).order_by("business_date")
    return {
        pk: day
        for pk, day in Site.objects.filter(pk__any=list(site_ids))
        .annotate(first=Subquery(first.values("business_date")[:1]))
        .values_list("pk", "first")
        if day is not None
    }


def _first_of(
    first: dict[int, dt.date], site_key: int | None, groups: dict[int, int] | None
) -> dt.date | None:
    """The first day of stock history of a key's site, group of sites or all the sites."""
    if site_key is not None and not groups:
        return first.get(site_key)
    days: Iterable[dt.date] = first.values()
    if site_key is not None and groups:
        days = [day for site_id, day in first.items() if groups.get(site_id, site_id) == site_key]
    return min(days, default=None)


def _history_days(bucket: Span, first: dt.date | None) -> int:
    """The bucket's days from `first` on (all of them when the history is unknown)."""
    if first is None or first <= bucket.start:
        return bucket.days
    return max(0, (bucket.end - first).days + 1)


# The columns of the sales rollups each source reads (a sum costs ~1 µs a value).
SALES_COLUMNS = {
    "sales": ("orders", "gross", "net"),
    "discounts": ("merchant_discount", "platform_discount", "commission"),
    "depleted": ("net", "history_net"),
}
# Sources the running totals hold (besides last year's sales, read there too).
RUNNING = frozenset({"sales", "discounts", "depleted", "channels", "forecast", "stock_flows"})
RUNNING_COLUMNS = {
    **SALES_COLUMNS,
    "last_year": ("orders", "net"),
    "forecast": running.FORECAST_FIELDS,
    "stock_flows": running.STOCK_FIELDS,
}


@dataclass(frozen=True)
class Rolled:
    """How far the running totals go, and the stores' earliest dirty days: read once per
    dashboard (`measures(rolled=...)`)."""

    through: dt.date | None
    dirty: dict[int, dt.date]
    # The stores' first days of stock history, read when first asked for (`first_stock_days`).
    first_days: dict[int, dt.date | None] = field(default_factory=dict, compare=False)

    @classmethod
    def read(cls, site_ids: Sequence[int]) -> Rolled:
        through = running.rolled_through()
        dirty = running.dirty_days(site_ids, through) if through and site_ids else {}
        return cls(through, dirty)

    def first_stock_days(self, site_ids: Sequence[int]) -> dict[int, dt.date]:
        """The first day of stock history of each of these stores that has one."""
        missing = [pk for pk in site_ids if pk not in self.first_days]
        if missing:
            found = _first_stock_days(missing)
            self.first_days.update({pk: found.get(pk) for pk in missing})
        days = {pk: self.first_days[pk] for pk in site_ids}
        return {pk: day for pk, day in days.items() if day is not None}


def _from_running(
    result: dict[Key, Measures],
    site_ids: Sequence[int],
    rolled: Rolled,
    buckets: Sequence[Span],
    by: By,
    rates: Rates,
    groups: dict[int, int] | None,
    sources: Iterable[str],
    *,
    shift: dt.timedelta = dt.timedelta(0),
) -> Q:
    """Add to `result` what the running totals hold of the buckets (each bucket's days, less
    `shift`, up to the rolled day, for the stores not marked dirty): two rows per store and
    bucket boundary. Returns the filter of the day rows still to read."""
    first, last = buckets[0].start - shift, buckets[-1].end - shift
    everything = Q(site_id__any=list(site_ids), business_date__gte=first, business_date__lte=last)
    sources = set(sources)
    through = rolled.through if sources else None
    if through is None or first > through or GRAIN[by] == "day" or not site_ids:
        return everything
    cap = min(last, through)
    dirty = {
        site_id for site_id in site_ids if site_id in rolled.dirty and rolled.dirty[site_id] <= cap
    }
    clean = [site_id for site_id in site_ids if site_id not in dirty]
    rest = Q(pk__in=[])
    if dirty:
        rest |= Q(site_id__any=sorted(dirty), business_date__gte=first, business_date__lte=last)
    if cap < last:
        rest |= Q(site_id__any=clean, business_date__gt=cap, business_date__lte=last)
    cuts = [
        (bucket.key, bucket.start - shift - dt.timedelta(days=1), min(bucket.end - shift, cap))
        for bucket in buckets
        if bucket.start - shift <= cap
    ]
    dates = sorted({day for _key, before, end in cuts for day in (before, end)})
    columns = sorted({name for source in sources for name in RUNNING_COLUMNS.get(source, ())})
    cum = _running_rows(clean, dates, by, groups, columns) if columns else {}
    for (site_key, cur), rows in cum.items():
        for bucket, before, end in cuts:
            at_end, at_start = rows.get(end), rows.get(before)
            if at_end is None and at_start is None:
                continue
            diff = {
                name: (at_end or {}).get(name, ZERO) - (at_start or {}).get(name, ZERO)
                for name in columns
            }
            _add_running(result[_compose(by, site_key, bucket)], diff, cur, rates, sources)
    if "channels" in sources:
        _running_channels(result, clean, cuts, by, groups, rates)
    return rest


def _running_rows(
    site_ids: Sequence[int],
    dates: Sequence[dt.date],
    by: By,
    groups: dict[int, int] | None,
    columns: Sequence[str],
) -> dict[tuple[Any, str], dict[dt.date, dict[str, Decimal]]]:
    """The running rows of the stores on the dates, summed per (site or group, currency) and
    date: in SQL on PostgreSQL, in Python elsewhere (SQLite sums decimals as floats)."""
    group = ["business_date", "currency"]
    if by == "site":
        group.append("site_id")
    elif by in PER_SITE:
        group.append("skey")
    exact = connection.vendor == "postgresql"
    if not exact and "site_id" not in group:
        group.append("site_id")
    rows = StoreRunningTotal.objects.filter(site_id__any=list(site_ids), business_date__any=dates)
    if by in PER_SITE and by != "site":
        rows = rows.annotate(skey=_site_key(groups))
    found: dict[tuple[Any, str], dict[dt.date, dict[str, Decimal]]] = defaultdict(dict)
    for row in rows.values(*group).annotate(**{f"{name}_sum": Sum(name) for name in columns}):
        site_key = row["site_id"] if by == "site" else row.get("skey")
        at = found[(site_key, row["currency"])].setdefault(
            row["business_date"], dict.fromkeys(columns, ZERO)
        )
        for name in columns:
            at[name] += row[f"{name}_sum"] or 0
    return found


def _add_running(
    m: Measures, diff: dict[str, Decimal], cur: str, rates: Rates, sources: set[str]
) -> None:
    if "last_year" in sources:
        m.last_year_net += rates(diff["net"], cur)
        m.last_year_orders += Decimal(diff["orders"])
        return
    _add_sales(m, diff, cur, rates, sources)
    if "forecast" in sources:
        m.forecast_gross += rates(diff["forecast_gross"], cur)
        m.forecast_guests += diff["forecast_guests"]
        m.forecast_sales += rates(diff["forecast_sales"], cur)
    if "stock_flows" in sources:
        m.depleted_net += rates(diff["sold_revenue"], cur)
        m.theoretical_cost -= rates(diff["sales"], cur)
        m.waste_cost -= rates(diff["waste"], cur)
        m.variance_cost -= rates(diff["variance"], cur)
        m.other_usage_cost -= rates(diff["consumption"], cur)
        m.receipts += rates(diff["receipts"], cur)


def _add_sales(
    m: Measures, sums: dict[str, Any], cur: str, rates: Rates, sources: Iterable[str]
) -> None:
    """Sums of the sales rollups' columns (`SALES_COLUMNS` of the sources) into measures."""
    if "sales" in sources:
        m.orders += Decimal(sums["orders"] or 0)
        m.gross += rates(sums["gross"], cur)
        m.net += rates(sums["net"], cur)
    if "discounts" in sources:
        for name in ("merchant_discount", "platform_discount", "commission"):
            setattr(m, name, getattr(m, name) + rates(sums[name], cur))
    if "depleted" in sources:
        m.depleted_net += rates((sums["net"] or ZERO) - (sums["history_net"] or ZERO), cur)


def _running_channels(
    result: dict[Key, Measures],
    site_ids: Sequence[int],
    cuts: Sequence[tuple[dt.date | None, dt.date, dt.date]],
    by: By,
    groups: dict[int, int] | None,
    rates: Rates,
) -> None:
    """The channel mix from the running rows (a JSON column: differenced per store here)."""
    dates = sorted({day for _key, before, end in cuts for day in (before, end)})
    at: dict[tuple[int, str], dict[dt.date, dict[str, Any]]] = defaultdict(dict)
    for site_id, cur, day, channels in StoreRunningTotal.objects.filter(
        site_id__any=list(site_ids), business_date__any=dates
    ).values_list("site_id", "currency", "business_date", "channel_net"):
        at[(site_id, cur)][day] = channels
    for (site_id, cur), rows in at.items():
        site_key = groups.get(site_id, site_id) if groups else site_id
        for bucket, before, end in cuts:
            at_end, at_start = rows.get(end) or {}, rows.get(before) or {}
            if not at_end:
                continue
            m = result[_compose(by, site_key, bucket)]
            for kind in at_end:
                value = Decimal(at_end[kind]) - Decimal(at_start.get(kind, 0))
                if value:
                    m.channel_net[kind] = m.channel_net.get(kind, ZERO) + rates(value, cur)


def _stock_flows(
    result: dict[Key, Measures], span: Q, by: By, rates: Rates, skey: Any = None
) -> None:
    currency = F("site__legal_entity__base_currency")
    for row in _grouped(StockDay.objects.filter(span), by, skey=skey, cur=currency).annotate(
        sales=Sum("sales"),
        waste=Sum("waste"),
        variance=Sum("variance"),
        consumption=Sum("consumption"),
        receipts=Sum("receipts"),
        sold_revenue=Sum("sold_revenue"),
    ):
        m = result[_key(row, by)]
        m.depleted_net += rates(row["sold_revenue"], row["cur"])
        m.theoretical_cost -= rates(row["sales"], row["cur"])
        m.waste_cost -= rates(row["waste"], row["cur"])
        m.variance_cost -= rates(row["variance"], row["cur"])
        m.other_usage_cost -= rates(row["consumption"], row["cur"])
        m.receipts += rates(row["receipts"], row["cur"])


def _stock_values(
    result: dict[Key, Measures],
    sites: Sequence[Site],
    buckets: Sequence[Span],
    by: By,
    rates: Rates,
    groups: dict[int, int] | None = None,
) -> None:
    """The stock value at the end of the period (or of each bucket): each site's (or
    group's) value before the period, then its changes on top."""
    currencies = {site.pk: site.legal_entity.base_currency for site in sites}
    date_from, date_to = buckets[0].start, buckets[-1].end
    grain = GRAIN[by]
    if grain is None:
        for site_id, value in closing_values(currencies, date_to).items():
            if value:
                result[_compose(by, site_id, None)].stock_value += rates(value, currencies[site_id])
        return
    per_site = by in PER_SITE

    def group_of(site_id: int) -> Any:
        if not per_site:
            return None
        return groups.get(site_id, site_id) if groups else site_id

    opening: dict[Any, Decimal] = defaultdict(Decimal)
    for site_id, value in closing_values(currencies, date_from - dt.timedelta(days=1)).items():
        opening[group_of(site_id)] += rates(value, currencies[site_id])
    changes: dict[Any, dict[dt.date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in _grouped(
        StockDay.objects.filter(
            site_id__any=list(currencies), business_date__gte=date_from, business_date__lte=date_to
        ),
        by,
        skey=_site_key(groups),
        cur=F("site__legal_entity__base_currency"),
    ).annotate(change=Sum("net_change")):
        day_bucket = bucket_of(grain, row["business_date"])
        assert day_bucket is not None
        changes[row.get("skey")][day_bucket] += rates(row["change"], row["cur"])
    for group in {group_of(site_id) for site_id in currencies}:
        value = opening.get(group, ZERO)
        mine = changes.get(group, {})
        if not value and not mine:
            continue
        for bucket in buckets:
            assert bucket.key is not None
            value += mine.get(bucket.key, ZERO)
            key = _compose(by, group, bucket.key)
            if value or key in result:
                result[key].stock_value = value


def _soldout(
    result: dict[Key, Measures],
    sites: Sequence[Site],
    buckets: Sequence[Span],
    by: By,
    now: dt.datetime,
    groups: dict[int, int] | None = None,
) -> None:
    date_from, date_to = buckets[0].start, buckets[-1].end
    by_site = {site.pk: site for site in sites}
    # Stores share a few time zones and cut-off hours: each pair's bounds once.
    clocks = {
        (zone, hour): (
            business_day_bounds(date_from, time_zone=zone, cutoff_hour=hour)[0],
            business_day_bounds(date_to, time_zone=zone, cutoff_hour=hour)[1],
        )
        for zone, hour in {(site.time_zone, site.cutoff_hour) for site in sites}
    }
    bounds = {site.pk: clocks[(site.time_zone, site.cutoff_hour)] for site in sites}
    if not bounds:
        return
    earliest = min(start for start, _end in bounds.values())
    latest = max(end for _start, end in bounds.values())
    spells = SoldOutSpell.objects.filter(site_id__any=list(bounds), started_at__lt=latest).filter(
        Q(ended_at__isnull=True) | Q(ended_at__gt=earliest)
    )
    grain = GRAIN[by]
    for spell in spells:
        site = by_site[spell.site_id]
        group = groups.get(site.pk, site.pk) if groups else site.pk
        if grain is None:
            start, end = bounds[spell.site_id]
            minutes = sold_out_minutes([spell], start, end, now)
            if minutes:
                result[_compose(by, group, None)].soldout_minutes += minutes
            continue
        # Only the business days the spell touches are visited.
        first = max(date_from, timezone.localdate(spell.started_at) - dt.timedelta(days=1))
        last = min(date_to, timezone.localdate(spell.ended_at or now) + dt.timedelta(days=1))
        day = first
        while day <= last:
            start, end = business_day_bounds(
                day, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour
            )
            minutes = sold_out_minutes([spell], start, end, now)
            if minutes:
                result[_compose(by, group, bucket_of(grain, day))].soldout_minutes += minutes
            day += dt.timedelta(days=1)


# --- a store's day: hours, categories, items -----------------------------------------------------


def hours(site: Site, day: dt.date, *, currency: str | None = None) -> list[dict[str, Any]]:
    """The store's sales per local clock hour of a business day (hours with sales only)."""
    from backroom.channels.models import SalesHour

    rates = Rates(currency or reporting_currency(), day, day)
    found: dict[int, dict[str, Any]] = {}
    for row in (
        SalesHour.objects.filter(site_id=site.pk, business_date=day)
        .values("hour", "currency")
        .annotate(orders=Sum("orders"), gross=Sum("gross"), net=Sum("net"))
        .order_by("hour")
    ):
        hour = found.setdefault(
            row["hour"], {"hour": row["hour"], "orders": 0, "gross": ZERO, "net": ZERO}
        )
        hour["orders"] += row["orders"] or 0
        hour["gross"] += rates(row["gross"], row["currency"])
        hour["net"] += rates(row["net"], row["currency"])
    return [found[hour] for hour in sorted(found)]


def items(
    sites: Sequence[Site], date_from: dt.date, date_to: dt.date, *, currency: str | None = None
) -> list[dict[str, Any]]:
    """Menu items sold at the sites over the period (quantity, gross, net), best selling first;
    lines not mapped to an item yet are one row with no item."""
    from backroom.channels.models import SalesItemDay

    rates = Rates(currency or reporting_currency(), date_from, date_to)
    found: dict[int | None, dict[str, Any]] = {}
    for row in (
        SalesItemDay.objects.filter(
            site_id__any=[site.pk for site in sites],
            business_date__gte=date_from,
            business_date__lte=date_to,
        )
        .values(
            "menu_item_id",
            "menu_item__sku",
            "menu_item__name",
            "menu_item__category_id",
            "menu_item__category__name",
            "currency",
        )
        .annotate(quantity=Sum("quantity"), gross=Sum("gross"), net=Sum("net"))
    ):
        item = found.setdefault(
            row["menu_item_id"],
            {
                "item_id": row["menu_item_id"],
                "sku": row["menu_item__sku"] or "",
                "name": row["menu_item__name"] or "",
                "category_id": row["menu_item__category_id"],
                "category": row["menu_item__category__name"] or "",
                "quantity": ZERO,
                "gross": ZERO,
                "net": ZERO,
            },
        )
        item["quantity"] += row["quantity"] or ZERO
        item["gross"] += rates(row["gross"], row["currency"])
        item["net"] += rates(row["net"], row["currency"])
    return sorted(found.values(), key=lambda item: (-item["net"], item["sku"]))


def categories(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Item rows (`items`) summed per catalogue category, largest sales first."""
    found: dict[int | None, dict[str, Any]] = {}
    for row in rows:
        category = found.setdefault(
            row["category_id"],
            {
                "category_id": row["category_id"],
                "name": row["category"],
                "quantity": ZERO,
                "gross": ZERO,
                "net": ZERO,
            },
        )
        for name in ("quantity", "gross", "net"):
            category[name] += row[name]
    return sorted(found.values(), key=lambda category: -category["net"])


def soldout_by_item(
    site: Site, date_from: dt.date, date_to: dt.date, now: dt.datetime | None = None
) -> dict[int, Decimal]:
    """Minutes each menu item was sold out at the store over the business days (items with
    none left out)."""
    start = business_day_bounds(date_from, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour)[
        0
    ]
    end = business_day_bounds(date_to, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour)[1]
    found: dict[int, Decimal] = defaultdict(Decimal)
    for spell in SoldOutSpell.objects.filter(site_id=site.pk, started_at__lt=end).filter(
        Q(ended_at__isnull=True) | Q(ended_at__gt=start)
    ):
        minutes = sold_out_minutes([spell], start, end, now or timezone.now())
        if minutes:
            found[spell.item_id] += minutes
    return dict(found)
