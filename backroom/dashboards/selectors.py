"""The HQ and region dashboards, a store's days and a store's day, assembled from the measures
(facts.py) and the KPIs (kpis.py) for the stores the actor may see (docs/dashboards.md).

Every figure comes from a handful of grouped queries whatever the number of stores: the
measures per store (cards, ranking, map), per day (trend), per store and day or week (the
sparklines of the rows shown) and the previous period in total.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, Min, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backroom.dashboards import facts
from backroom.dashboards.choices import AlertStatus, Severity
from backroom.dashboards.kpis import KPIS, Kpi, Measures, better, evaluate
from backroom.dashboards.models import Alert
from backroom.dashboards.permissions import DASHBOARDS_VIEW
from backroom.kernel.exceptions import NotFound, ValidationFailed
from backroom.org.choices import SITE_KINDS
from backroom.org.models import OrgNode, Site
from backroom.org.selectors import get_node, get_site, nodes_for, open_business_day

ZERO = Decimal(0)
MAX_DAYS = 400
# Past this many days the trend and the sparklines are by week, past MONTHLY_AFTER by month.
WEEKLY_AFTER = 45
MONTHLY_AFTER = 120
# Ranked tables list every child up to this many; past it, the best and the worst halves.
RANKED_ROWS = 10

# The KPI cards of a dashboard, in order.
CARDS = (
    "sales",
    "orders",
    "average_ticket",
    "guests",
    "sales_vs_forecast",
    "sales_vs_last_year",
    "food_cost_pct",
    "actual_food_cost_pct",
    "waste_pct",
    "avt_variance",
    "soldout_minutes",
    "stock_value",
    "days_of_inventory",
)

PRESETS = {
    "today": gettext_lazy("Today"),
    "yesterday": gettext_lazy("Yesterday"),
    "last_7_days": gettext_lazy("Last 7 days"),
    "last_28_days": gettext_lazy("Last 28 days"),
    "this_week": gettext_lazy("This week"),
    "this_month": gettext_lazy("This month"),
    "last_month": gettext_lazy("Last month"),
}


# --- periods -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    date_from: dt.date
    date_to: dt.date

    @property
    def days(self) -> int:
        return (self.date_to - self.date_from).days + 1

    @property
    def grain(self) -> facts.Grain:
        """The buckets of the trend and the sparklines: days up to WEEKLY_AFTER days, then
        weeks, then months past MONTHLY_AFTER days."""
        if self.days > MONTHLY_AFTER:
            return "month"
        return "week" if self.days > WEEKLY_AFTER else "day"

    def previous(self) -> Period:
        """The period of the same length just before."""
        end = self.date_from - dt.timedelta(days=1)
        return Period(end - dt.timedelta(days=self.days - 1), end)


def preset_period(preset: str, today: dt.date) -> Period:
    """A named period relative to `today`."""
    if preset == "today":
        return Period(today, today)
    if preset == "yesterday":
        day = today - dt.timedelta(days=1)
        return Period(day, day)
    if preset == "last_7_days":
        return Period(today - dt.timedelta(days=7), today - dt.timedelta(days=1))
    if preset == "last_28_days":
        return Period(today - dt.timedelta(days=28), today - dt.timedelta(days=1))
    if preset == "this_week":
        return Period(today - dt.timedelta(days=today.weekday()), today)
    if preset == "this_month":
        return Period(today.replace(day=1), today)
    if preset == "last_month":
        end = today.replace(day=1) - dt.timedelta(days=1)
        return Period(end.replace(day=1), end)
    raise ValidationFailed({"period": [_("Unknown period %(name)s.") % {"name": preset}]})


def period(
    date_from: dt.date | None,
    date_to: dt.date | None,
    *,
    preset: str | None = None,
    today: dt.date | None = None,
) -> Period:
    """The period asked for: a preset, or from/to (default: the last 7 days up to yesterday);
    at most MAX_DAYS days, ending on or after its start. "Today" is the stores' open business
    day (`open_business_day`): past midnight, until their cutoff hour, still the day before."""
    today = today or open_business_day()
    if preset:
        return preset_period(preset, today)
    if date_from is None and date_to is None:
        return preset_period("last_7_days", today)
    end = date_to or date_from or today
    start = date_from or end
    if end < start:
        raise ValidationFailed({"date_to": [_("The end of the period is before its start.")]})
    if (end - start).days >= MAX_DAYS:
        raise ValidationFailed(
            {"date_to": [_("Give a period of at most %(days)d days.") % {"days": MAX_DAYS}]}
        )
    return Period(start, end)


# --- scope -------------------------------------------------------------------------------------


def dashboard_nodes(actor: Any) -> list[OrgNode]:
    """The org nodes whose dashboards the actor may see, in tree order."""
    return list(nodes_for(actor, DASHBOARDS_VIEW))


def default_node(actor: Any) -> OrgNode:
    """The top of the actor's dashboards: HQ's group, a region manager's region, a store
    manager's store."""
    nodes = dashboard_nodes(actor)
    if not nodes:
        raise NotFound()
    return min(nodes, key=lambda node: (node.depth, node.path))


def get_dashboard_node(actor: Any, node_id: int) -> OrgNode:
    return get_node(actor, node_id, DASHBOARDS_VIEW)


def get_dashboard_site(actor: Any, site_id: int) -> Site:
    return get_site(actor, site_id, DASHBOARDS_VIEW)


def breadcrumbs(actor: Any, node: OrgNode) -> list[OrgNode]:
    """The node's ancestors the actor may see, top first, and the node."""
    visible = {row.pk: row for row in dashboard_nodes(actor)}
    return [visible[pk] for pk in node.ancestor_ids() if pk in visible]


# --- dashboards ---------------------------------------------------------------------------------


@dataclass
class Card:
    code: str
    label: str
    unit: str
    good: str
    value: Decimal | None
    previous: Decimal | None
    is_better: bool | None
    description: str = ""


@dataclass
class Child:
    """A row of the ranked table: a region (or entity) under the chain, a store under a
    region."""

    node: OrgNode
    site: Site | None
    rank: int
    value: Decimal | None
    sales: Decimal
    orders: Decimal
    sparkline: list[tuple[dt.date, Decimal | None]] = field(default_factory=list)


@dataclass
class Channel:
    kind: str
    label: str
    net: Decimal
    share: Decimal | None


@dataclass
class TrendDay:
    """A bucket of the trend: a day, or the days of a week or a month inside the period
    (`date` is its first day in the period)."""

    date: dt.date
    sales: Decimal
    orders: Decimal
    value: Decimal | None


@dataclass
class MapPoint:
    site: Site
    latitude: Decimal
    longitude: Decimal
    value: Decimal | None


@dataclass
class Approvals:
    pending: int
    oldest_at: dt.datetime | None

    @property
    def oldest_hours(self) -> int | None:
        if self.oldest_at is None:
            return None
        return int((timezone.now() - self.oldest_at).total_seconds() // 3600)


@dataclass
class Alerts:
    by_severity: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_severity.values())


@dataclass
class Dashboard:
    node: OrgNode
    period: Period
    kpi: Kpi
    currency: str
    sites: list[Site]
    cards: list[Card]
    channels: list[Channel]
    children: list[Child]
    trend: list[TrendDay]  # by `period.grain`
    points: list[MapPoint]
    approvals: Approvals
    alerts: Alerts

    @property
    def best(self) -> list[Child]:
        return self.children[:RANKED_ROWS] if len(self.children) > 2 * RANKED_ROWS else []

    @property
    def worst(self) -> list[Child]:
        return self.children[-RANKED_ROWS:] if len(self.children) > 2 * RANKED_ROWS else []

    @property
    def shown(self) -> list[Child]:
        """The rows with sparklines: all, or the best and the worst."""
        if len(self.children) > 2 * RANKED_ROWS:
            return self.best + self.worst
        return self.children


def kpi_of(code: str | None) -> Kpi:
    if not code:
        return KPIS["sales"]
    if code not in KPIS:
        raise ValidationFailed({"kpi": [_("Unknown KPI %(code)s.") % {"code": code}]})
    return KPIS[code]


def _total(per_site: dict[Any, Measures], site_ids: Sequence[int]) -> Measures:
    """The stores side by side (their days of history: the longest)."""
    total = Measures()
    for site_id in site_ids:
        if site_id in per_site:
            total = total + per_site[site_id]
    return total


def cards(current: Measures, previous: Measures) -> list[Card]:
    """The KPI cards with the previous period's value and whether it got better."""
    now, before = evaluate(current, list(CARDS)), evaluate(previous, list(CARDS))
    return [
        Card(
            code=code,
            label=str(KPIS[code].label),
            unit=KPIS[code].unit,
            good=KPIS[code].good,
            value=now[code],
            previous=before[code],
            is_better=better(code, now[code], before[code]),
            description=str(KPIS[code].description),
        )
        for code in CARDS
    ]


def channel_mix(measures: Measures) -> list[Channel]:
    """Net sales per channel kind, largest first, with each one's share."""
    from backroom.channels.choices import ChannelKind

    labels = dict(ChannelKind.choices)
    total = sum(measures.channel_net.values(), ZERO)
    return [
        Channel(kind, str(labels.get(kind, kind)), net, net / total if total else None)
        for kind, net in sorted(measures.channel_net.items(), key=lambda pair: -pair[1])
    ]


def _children(node: OrgNode, sites: Sequence[Site]) -> dict[int, tuple[OrgNode, list[Site]]]:
    """The node's direct children that hold visible sites, with their sites."""
    if node.kind in SITE_KINDS:
        return {}
    groups: dict[int, list[Site]] = defaultdict(list)
    for site in sites:
        ids = site.node.ancestor_ids()
        if node.pk in ids and ids.index(node.pk) + 1 < len(ids):
            groups[ids[ids.index(node.pk) + 1]].append(site)
    nodes = OrgNode.objects.in_bulk(list(groups))
    return {pk: (nodes[pk], groups[pk]) for pk in groups}


def _rank(kpi: Kpi, rows: list[Child]) -> list[Child]:
    """Best first: by the KPI's good direction (no direction: largest first); no value last."""
    sign = -1 if kpi.good != "down" else 1
    with_value = sorted(
        (row for row in rows if row.value is not None),
        key=lambda row: (sign * row.value, row.node.code),  # type: ignore[operator]
    )
    without = sorted((row for row in rows if row.value is None), key=lambda row: row.node.code)
    ranked = with_value + without
    for number, row in enumerate(ranked, start=1):
        row.rank = number
    return ranked


BY_SITE: dict[str, facts.By] = {"day": "site_day", "week": "site_week", "month": "site_month"}


def _sparklines(
    kpi: Kpi,
    shown: list[Child],
    groups: dict[int, list[Site]],
    span: Period,
    currency: str,
    rolled: facts.Rolled | None = None,
) -> None:
    """Each shown row's KPI per bucket of the period (`Period.grain`): one grouped read of
    the KPI's sources."""
    sites = [site for row in shown for site in groups[row.node.pk]]
    if not sites:
        return
    # The database sums each row's stores: keys come back as (row's node id, bucket).
    row_of = {site.pk: row.node.pk for row in shown for site in groups[row.node.pk]}
    summed = facts.measures(
        sites,
        span.date_from,
        span.date_to,
        by=BY_SITE[span.grain],
        currency=currency,
        groups=row_of,
        sources=kpi.sources,
        rolled=rolled,
    )
    buckets = facts.spans(span.grain, span.date_from, span.date_to)
    for row in shown:
        row.sparkline = []
        for bucket in buckets:
            assert bucket.key is not None
            measures = summed.get((row.node.pk, bucket.key)) or Measures(days=bucket.days)
            row.sparkline.append((bucket.start, kpi.formula(measures)))


def _approvals(actor: Any, node: OrgNode) -> Approvals:
    from backroom.approvals.choices import RequestStatus
    from backroom.approvals.models import ApprovalRequest

    found = (
        ApprovalRequest.objects.restrict(actor, DASHBOARDS_VIEW)
        .filter(status=RequestStatus.PENDING, org_node__path__startswith=node.path)
        .aggregate(pending=Count("id"), oldest=Min("submitted_at"))
    )
    return Approvals(found["pending"] or 0, found["oldest"])


def _alerts(actor: Any, node: OrgNode) -> Alerts:
    counts = {severity: 0 for severity in Severity.values}
    for row in (
        Alert.objects.restrict(actor, DASHBOARDS_VIEW)
        .exclude(status=AlertStatus.RESOLVED)
        .filter(node__path__startswith=node.path)
        .values("severity")
        .annotate(count=Count("id"))
    ):
        counts[row["severity"]] = row["count"]
    return Alerts(counts)


def hq(actor: Any, node: OrgNode, span: Period, kpi: Kpi) -> Dashboard:
    """The dashboard of a node (chain, entity, region or store) over a period, its children
    ranked by `kpi` (callers got `node` through `get_dashboard_node`)."""
    sites = facts.dashboard_sites(actor, node)
    currency = facts.reporting_currency()
    rolled = facts.Rolled.read([site.pk for site in sites])
    # Every card's sources in total; per store only what the ranking, the map and the table's
    # sales and orders need.
    total = facts.measures(sites, span.date_from, span.date_to, currency=currency, rolled=rolled)[
        None
    ]
    per_site = facts.measures(
        sites,
        span.date_from,
        span.date_to,
        by="site",
        currency=currency,
        sources=kpi.sources | {"sales"},
        rolled=rolled,
    )
    before = span.previous()
    previous = facts.measures(
        sites, before.date_from, before.date_to, currency=currency, rolled=rolled
    )[None]

    children = _children(node, sites)
    rows = []
    for child, child_sites in children.values():
        measures = _total(per_site, [site.pk for site in child_sites])
        rows.append(
            Child(
                node=child,
                site=child_sites[0] if child.kind in SITE_KINDS else None,
                rank=0,
                value=kpi.formula(measures),
                sales=measures.net,
                orders=measures.orders,
            )
        )
    dashboard = Dashboard(
        node=node,
        period=span,
        kpi=kpi,
        currency=currency,
        sites=sites,
        cards=cards(total, previous),
        channels=channel_mix(total),
        children=_rank(kpi, rows),
        trend=trend(sites, span, kpi, currency, span.grain, rolled),
        points=[
            MapPoint(
                site,
                site.latitude,
                site.longitude,
                kpi.formula(per_site.get(site.pk, Measures(days=span.days))),
            )
            for site in sites
            if site.latitude is not None and site.longitude is not None
        ],
        approvals=_approvals(actor, node),
        alerts=_alerts(actor, node),
    )
    groups = {pk: child_sites for pk, (_node, child_sites) in children.items()}
    _sparklines(kpi, dashboard.shown, groups, span, currency, rolled)
    return dashboard


def trend(
    sites: Sequence[Site],
    span: Period,
    kpi: Kpi,
    currency: str,
    grain: facts.Grain = "day",
    rolled: facts.Rolled | None = None,
) -> list[TrendDay]:
    """Sales, orders and the KPI of every day (week, month) of the period (none: zero)."""
    found = facts.measures(
        sites,
        span.date_from,
        span.date_to,
        by=grain,
        currency=currency,
        sources=kpi.sources | {"sales"},
        rolled=rolled,
    )
    days = []
    for bucket in facts.spans(grain, span.date_from, span.date_to):
        measures = found.get(bucket.key) or Measures(days=bucket.days)
        days.append(TrendDay(bucket.start, measures.net, measures.orders, kpi.formula(measures)))
    return days


# --- a store ------------------------------------------------------------------------------------


@dataclass
class StoreDays:
    site: Site
    period: Period
    kpi: Kpi
    currency: str
    cards: list[Card]
    channels: list[Channel]
    days: list[TrendDay]
    approvals: Approvals
    alerts: Alerts


def store(actor: Any, site: Site, span: Period, kpi: Kpi) -> StoreDays:
    """A store's cards and its days over a period (callers got `site` through
    `get_dashboard_site`)."""
    currency = facts.reporting_currency()
    total = facts.measures([site], span.date_from, span.date_to, currency=currency)[None]
    before = span.previous()
    previous = facts.measures([site], before.date_from, before.date_to, currency=currency)[None]
    return StoreDays(
        site=site,
        period=span,
        kpi=kpi,
        currency=currency,
        cards=cards(total, previous),
        channels=channel_mix(total),
        days=trend([site], span, kpi, currency),
        approvals=_approvals(actor, site.node),
        alerts=_alerts(actor, site.node),
    )


@dataclass
class StoreDay:
    site: Site
    date: dt.date
    currency: str
    cards: list[Card]
    channels: list[Channel]
    hours: list[dict[str, Any]]
    categories: list[dict[str, Any]]
    items: list[dict[str, Any]]


def store_day(actor: Any, site: Site, day: dt.date) -> StoreDay:
    """A store's business day: cards (against the same weekday a week before), hours,
    categories and items."""
    currency = facts.reporting_currency()
    total = facts.measures([site], day, day, currency=currency)[None]
    week_before = day - dt.timedelta(days=7)
    previous = facts.measures([site], week_before, week_before, currency=currency)[None]
    items = facts.items([site], day, day, currency=currency)
    soldout = facts.soldout_by_item(site, day, day)
    for item in items:
        item["soldout_minutes"] = soldout.get(item["item_id"], ZERO) if item["item_id"] else ZERO
    return StoreDay(
        site=site,
        date=day,
        currency=currency,
        cards=cards(total, previous),
        channels=channel_mix(total),
        hours=facts.hours(site, day, currency=currency),
        categories=facts.categories(items),
        items=items,
    )


@dataclass
class ItemDays:
    site: Site
    item_id: int
    sku: str
    name: str
    period: Period
    currency: str
    days: list[dict[str, Any]]


def store_item(actor: Any, site: Site, item_id: int, span: Period) -> ItemDays:
    """One menu item's sales at a store per day over the period."""
    from backroom.catalog.models import Item
    from backroom.channels.models import SalesItemDay

    item = Item.objects.filter(pk=item_id).first()
    if item is None:
        raise NotFound()
    currency = facts.reporting_currency()
    rates = facts.Rates(currency, span.date_from, span.date_to)
    found: dict[dt.date, dict[str, Any]] = {}
    for row in (
        SalesItemDay.objects.filter(
            Q(site_id=site.pk, menu_item_id=item.pk)
            & Q(business_date__gte=span.date_from, business_date__lte=span.date_to)
        )
        .values("business_date", "currency")
        .annotate(quantity=Sum("quantity"), net=Sum("net"))
    ):
        day = found.setdefault(
            row["business_date"], {"date": row["business_date"], "quantity": ZERO, "net": ZERO}
        )
        day["quantity"] += row["quantity"] or ZERO
        day["net"] += rates(row["net"], row["currency"])
    days = [
        found.get(
            span.date_from + dt.timedelta(days=offset),
            {"date": span.date_from + dt.timedelta(days=offset), "quantity": ZERO, "net": ZERO},
        )
        for offset in range(span.days)
    ]
    return ItemDays(site, item.pk, item.sku, item.name, span, currency, days)
