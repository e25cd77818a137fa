"""Measures read from the rollups, for a set of stores and business days, summed per store,
per day or in total, in one reporting currency (docs/dashboards.md).

Every source is grouped in SQL (by store or by day, and by currency), never row by row in
Python, so a year of 500 stores is a handful of grouped queries. Amounts in another currency
are translated at the period's average rate (`finance.reports.average_rate`, else the latest
rate on the last day); ratio KPIs are ratios of translated sums.

Callers pass sites they have already scoped to the actor (`dashboard_sites`).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Literal

from django.db.models import Case, F, IntegerField, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Length, TruncWeek
from django.utils import timezone

from backroom.channels.models import SalesChannelDay, SalesDay
from backroom.dashboards import months
from backroom.dashboards.kpis import Measures
from backroom.dashboards.models import ForecastDay, SoldOutSpell, StockDay, StoreMonth
from backroom.dashboards.permissions import DASHBOARDS_VIEW
from backroom.dashboards.rollups import closing_values, sold_out_minutes
from backroom.kernel.dates import business_day_bounds
from backroom.kernel.money import quantize_money
from backroom.org.models import LegalEntity, OrgNode, Site

ZERO = Decimal(0)
LAST_YEAR = dt.timedelta(days=364)  # 52 weeks: the same weekday

# "site_day" and "site_week" key by (site id, day) and (site id, Monday of the week): the
# sparklines of ranked stores, read in one grouped query per source.
By = Literal["total", "site", "day", "site_day", "site_week"]
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


GROUPS: dict[str, list[str]] = {
    "total": [],
    "site": ["site_id"],
    "day": ["business_date"],
    "site_day": ["skey", "business_date"],
    "site_week": ["skey", "bucket"],
}


def _site_key(groups: dict[int, int] | None) -> Any:
    """The first part of a "site_day"/"site_week" key in SQL: the site, or the group a
    caller put it in (`groups`: site id → group id), so the database sums a group's stores."""
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
    """`rows.values(...)` grouped as `by` asks (weeks truncated in SQL)."""
    if by == "site_week":
        rows = rows.annotate(bucket=TruncWeek("business_date"))
    if by in ("site_day", "site_week"):
        rows = rows.annotate(skey=skey if skey is not None else F("site_id"))
    return rows.values(*GROUPS[by], *fields, **expressions)


def week_of(day: dt.date) -> dt.date:
    """The Monday of `day`'s week (the key of weekly buckets)."""
    return day - dt.timedelta(days=day.weekday())


def _bucket_date(value: Any) -> dt.date:
    # TruncWeek gives a datetime on some backends for a date column.
    return value.date() if isinstance(value, dt.datetime) else value


def _key(row: dict[str, Any], by: By, shift: dt.timedelta = dt.timedelta(0)) -> Key:
    if by == "site":
        return int(row["site_id"])
    if by == "day":
        return row["business_date"] + shift
    if by == "site_day":
        return (int(row["skey"]), row["business_date"] + shift)
    if by == "site_week":
        return (int(row["skey"]), _bucket_date(row["bucket"]) + shift)
    return None


def _days_in(key: Key, by: By, date_from: dt.date, date_to: dt.date, days: int) -> int:
    """How many days of the period a key's measures cover."""
    if by in ("day", "site_day"):
        return 1
    if by == "site_week" and isinstance(key, tuple):
        start = max(key[1], date_from)
        end = min(key[1] + dt.timedelta(days=6), date_to)
        return (end - start).days + 1
    return days


def measures(
    sites: Sequence[Site],
    date_from: dt.date,
    date_to: dt.date,
    *,
    by: By = "total",
    currency: str | None = None,
    now: dt.datetime | None = None,
    groups: dict[int, int] | None = None,
) -> dict[Key, Measures]:
    """Measures of the sites over [date_from, date_to], per site id, per day or in total
    (key None). Keys with nothing at all are left out, except in total. With "site_day" or
    "site_week", `groups` (site id → group id) sums stores into groups in the database: the
    keys are then (group id, bucket)."""
    skey = _site_key(groups) if by in ("site_day", "site_week") else None
    rates = Rates(currency or reporting_currency(), date_from, date_to)
    site_ids = [site.pk for site in sites]
    result: dict[Key, Measures] = defaultdict(Measures)
    days = (date_to - date_from).days + 1
    span = Q(site_id__any=site_ids, business_date__gte=date_from, business_date__lte=date_to)
    # Totals and stores read whole closed months from `StoreMonth`, the rest from the days.
    monthly = by in ("total", "site")
    month_rows: list[StoreMonth] = []
    if monthly:
        span, month_rows = _month_split(span, site_ids, date_from, date_to)
        _add_months(result, month_rows, by, rates)

    money = ("gross", "net", "merchant_discount", "platform_discount", "commission")
    for row in _grouped(SalesDay.objects.filter(span), by, "currency", skey=skey).annotate(
        orders_sum=Sum("orders"),
        history=Sum("history_net"),
        **{f"{name}_sum": Sum(name) for name in money},
    ):
        m = result[_key(row, by)]
        m.orders += Decimal(row["orders_sum"] or 0)
        for name in money:
            setattr(m, name, getattr(m, name) + rates(row[f"{name}_sum"], row["currency"]))
        m.depleted_net += rates(
            (row["net_sum"] or ZERO) - (row["history"] or ZERO), row["currency"]
        )

    for row in _grouped(
        SalesChannelDay.objects.filter(span), by, "kind", "currency", skey=skey
    ).annotate(net_sum=Sum("net")):
        m = result[_key(row, by)]
        m.channel_net[row["kind"]] = m.channel_net.get(row["kind"], ZERO) + rates(
            row["net_sum"], row["currency"]
        )

    last_year = Q(
        site_id__any=site_ids,
        business_date__gte=date_from - LAST_YEAR,
        business_date__lte=date_to - LAST_YEAR,
    )
    if monthly:
        last_year, last_year_months = _month_split(
            last_year, site_ids, date_from - LAST_YEAR, date_to - LAST_YEAR
        )
        for row in last_year_months:
            m = result[row.site_id if by == "site" else None]
            m.last_year_net += rates(row.net, row.currency)
            m.last_year_orders += Decimal(row.orders)
    for row in _grouped(SalesDay.objects.filter(last_year), by, "currency", skey=skey).annotate(
        net_sum=Sum("net"), orders_sum=Sum("orders")
    ):
        m = result[_key(row, by, LAST_YEAR)]
        m.last_year_net += rates(row["net_sum"], row["currency"])
        m.last_year_orders += Decimal(row["orders_sum"] or 0)

    for row in _grouped(ForecastDay.objects.filter(span), by, "currency", skey=skey).annotate(
        gross_sum=Sum("gross"), guests_sum=Sum("guests")
    ):
        m = result[_key(row, by)]
        m.forecast_gross += rates(row["gross_sum"], row["currency"])
        m.forecast_guests += row["guests_sum"] or ZERO

    _stock_flows(result, span, by, rates, skey)
    _stock_values(result, sites, date_from, date_to, by, rates, groups)
    _soldout(result, sites, date_from, date_to, by, now or timezone.now(), groups)

    for key, m in result.items():
        m.days = _days_in(key, by, date_from, date_to, days)
    if by == "total":
        result[None].days = days
    return dict(result)


def _month_split(
    span: Q, site_ids: Sequence[int], date_from: dt.date, date_to: dt.date
) -> tuple[Q, list[StoreMonth]]:
    """The closed months wholly inside the period whose store figures are clean: their rows,
    and the daily filter for the rest, as explicit date ranges (so the database reads only
    those days, not the whole period): the days around the closed months, and the dirty
    store-months."""
    closed = months.closed_months(
        months.full_months(date_from, date_to, before=months.current_month())
    )
    if not closed:
        return span, []
    dirty = months.dirty_pairs(closed, site_ids)
    days = Q(pk__in=[])  # nothing, until a range is added
    day = date_from
    wanted = Q()
    for month in closed:
        if day < month:
            days |= Q(business_date__gte=day, business_date__lt=month)
        day = months.next_month(month)
        dirty_sites = sorted(site for site, dirty_month in dirty if dirty_month == month)
        rows = Q(month=month)
        if dirty_sites:
            days |= Q(
                site_id__any=dirty_sites,
                business_date__gte=month,
                business_date__lte=months.month_end(month),
            )
            rows &= ~Q(site_id__any=dirty_sites)
        wanted |= rows
    if day <= date_to:
        days |= Q(business_date__gte=day, business_date__lte=date_to)
    found = list(StoreMonth.objects.filter(wanted, site_id__any=list(site_ids)))
    return Q(site_id__any=list(site_ids)) & days, found


def _add_months(result: dict[Key, Measures], rows: list[StoreMonth], by: By, rates: Rates) -> None:
    """Closed months' store figures, as the daily reads would have added them."""
    for row in rows:
        m = result[row.site_id if by == "site" else None]
        cur = row.currency
        m.orders += Decimal(row.orders)
        for name in ("gross", "net", "merchant_discount", "platform_discount", "commission"):
            setattr(m, name, getattr(m, name) + rates(getattr(row, name), cur))
        m.depleted_net += rates(row.net - row.history_net, cur)
        for kind, value in row.channel_net.items():
            m.channel_net[kind] = m.channel_net.get(kind, ZERO) + rates(Decimal(value), cur)
        m.forecast_gross += rates(row.forecast_gross, cur)
        m.forecast_guests += row.forecast_guests
        m.theoretical_cost -= rates(row.sales, cur)
        m.waste_cost -= rates(row.waste, cur)
        m.variance_cost -= rates(row.variance, cur)
        m.other_usage_cost -= rates(row.consumption, cur)
        m.receipts += rates(row.receipts, cur)


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
    ):
        m = result[_key(row, by)]
        m.theoretical_cost -= rates(row["sales"], row["cur"])
        m.waste_cost -= rates(row["waste"], row["cur"])
        m.variance_cost -= rates(row["variance"], row["cur"])
        m.other_usage_cost -= rates(row["consumption"], row["cur"])
        m.receipts += rates(row["receipts"], row["cur"])


def _stock_values(
    result: dict[Key, Measures],
    sites: Sequence[Site],
    date_from: dt.date,
    date_to: dt.date,
    by: By,
    rates: Rates,
    groups: dict[int, int] | None = None,
) -> None:
    currencies = {site.pk: site.legal_entity.base_currency for site in sites}
    if by in ("site_day", "site_week"):
        _stock_values_per_site(result, currencies, date_from, date_to, by, rates, groups)
        return
    if by != "day":
        for site_id, value in closing_values(currencies, date_to).items():
            if value:
                result[site_id if by == "site" else None].stock_value += rates(
                    value, currencies[site_id]
                )
        return
    # Per day: the value before the first day, then each day's net change on top.
    running = sum(
        (
            rates(value, currencies[site_id])
            for site_id, value in closing_values(
                currencies, date_from - dt.timedelta(days=1)
            ).items()
        ),
        ZERO,
    )
    changes: dict[dt.date, Decimal] = defaultdict(Decimal)
    for row in (
        StockDay.objects.filter(
            site_id__any=list(currencies), business_date__gte=date_from, business_date__lte=date_to
        )
        .values("business_date", cur=F("site__legal_entity__base_currency"))
        .annotate(change=Sum("net_change"))
    ):
        changes[row["business_date"]] += rates(row["change"], row["cur"])
    day = date_from
    while day <= date_to:
        running += changes.get(day, ZERO)
        if running or day in result:
            result[day].stock_value = running
        day += dt.timedelta(days=1)


def _stock_values_per_site(
    result: dict[Key, Measures],
    currencies: dict[int, str],
    date_from: dt.date,
    date_to: dt.date,
    by: By,
    rates: Rates,
    groups: dict[int, int] | None = None,
) -> None:
    """Each site's (or group's) value at the end of each day (or week): its value before the
    period, then its changes on top, read grouped by site (or group) and bucket."""
    group_of = groups or {site_id: site_id for site_id in currencies}
    opening: dict[int, Decimal] = defaultdict(Decimal)
    for site_id, value in closing_values(currencies, date_from - dt.timedelta(days=1)).items():
        opening[group_of[site_id]] += rates(value, currencies[site_id])
    changes: dict[int, dict[dt.date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in _grouped(
        StockDay.objects.filter(
            site_id__any=list(currencies), business_date__gte=date_from, business_date__lte=date_to
        ),
        by,
        skey=_site_key(groups),
        cur=F("site__legal_entity__base_currency"),
    ).annotate(change=Sum("net_change")):
        key = _key(row, by)
        assert isinstance(key, tuple)
        changes[key[0]][key[1]] += rates(row["change"], row["cur"])
    step = dt.timedelta(days=7 if by == "site_week" else 1)
    first = week_of(date_from) if by == "site_week" else date_from
    for group in sorted(set(group_of.values())):
        running = opening.get(group, ZERO)
        mine = changes.get(group, {})
        if not running and not mine:
            continue
        bucket = first
        while bucket <= date_to:
            running += mine.get(bucket, ZERO)
            if running or (group, bucket) in result:
                result[(group, bucket)].stock_value = running
            bucket += step


def _soldout(
    result: dict[Key, Measures],
    sites: Sequence[Site],
    date_from: dt.date,
    date_to: dt.date,
    by: By,
    now: dt.datetime,
    groups: dict[int, int] | None = None,
) -> None:
    by_site = {site.pk: site for site in sites}
    bounds = {
        site.pk: (
            business_day_bounds(date_from, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour)[
                0
            ],
            business_day_bounds(date_to, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour)[1],
        )
        for site in sites
    }
    if not bounds:
        return
    earliest = min(start for start, _end in bounds.values())
    latest = max(end for _start, end in bounds.values())
    spells = SoldOutSpell.objects.filter(site_id__any=list(bounds), started_at__lt=latest).filter(
        Q(ended_at__isnull=True) | Q(ended_at__gt=earliest)
    )
    for spell in spells:
        site = by_site[spell.site_id]
        if by in ("site_day", "site_week"):
            group = groups.get(site.pk, site.pk) if groups else site.pk
            _spell_days(result, spell, site, group, date_from, date_to, by, now)
            continue
        if by != "day":
            start, end = bounds[spell.site_id]
            minutes = sold_out_minutes([spell], start, end, now)
            if minutes:
                result[spell.site_id if by == "site" else None].soldout_minutes += minutes
            continue
        day = date_from
        while day <= date_to:
            start, end = business_day_bounds(
                day, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour
            )
            minutes = sold_out_minutes([spell], start, end, now)
            if minutes:
                result[day].soldout_minutes += minutes
            day += dt.timedelta(days=1)


def _spell_days(
    result: dict[Key, Measures],
    spell: SoldOutSpell,
    site: Site,
    group: int,
    date_from: dt.date,
    date_to: dt.date,
    by: By,
    now: dt.datetime,
) -> None:
    """A spell's minutes on each business day it touches (only those days are visited)."""
    first = max(date_from, timezone.localdate(spell.started_at) - dt.timedelta(days=1))
    last = min(date_to, timezone.localdate(spell.ended_at or now) + dt.timedelta(days=1))
    day = first
    while day <= last:
        start, end = business_day_bounds(
            day, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour
        )
        minutes = sold_out_minutes([spell], start, end, now)
        if minutes:
            bucket = week_of(day) if by == "site_week" else day
            result[(group, bucket)].soldout_minutes += minutes
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
