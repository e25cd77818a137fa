"""A store's "today" (docs/store-today.md): what a store manager needs on a phone during the
business day, read in one go.

- sales so far by local hour against the forecast spread over the hours by the store's own
  recent hourly profile, the totals so far against what was expected by now, and the day's KPI
  cards (`facts.measures` + `kpis.evaluate`);
- deliveries expected (purchase orders and inbound transfers due today or late, not received);
- counts open at the store, and count templates not counted for a week;
- menu items sold out, held by hand, or down to a few portions;
- the approval tasks waiting for the user about this store;
- the store's open alerts.

Each section is read through its own app's scoped selectors; a section the actor may not see is
None (left out), never an error. The page itself needs `dashboards.view` at the store: any other
store is `not_found`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Max, Q, Sum
from django.urls import reverse
from django.utils.translation import gettext as _

from backroom.approvals.choices import RequestStatus, TaskStatus
from backroom.approvals.models import ApprovalTask
from backroom.approvals.registry import get_document_type, is_registered
from backroom.channels.models import SalesDay, SalesHour, SoldOutState
from backroom.channels.permissions import CHANNELS_VIEW
from backroom.dashboards.choices import AlertStatus
from backroom.dashboards.facts import dashboard_sites, measures
from backroom.dashboards.kpis import KPIS, evaluate
from backroom.dashboards.models import Alert, ForecastDay, SoldOutSpell
from backroom.dashboards.permissions import ALERTS_VIEW
from backroom.inventory.choices import TransferStatus
from backroom.inventory.counts import count_sheets_for, count_templates_for
from backroom.inventory.documents import transfer_orders_for
from backroom.inventory.models import CountStatus
from backroom.inventory.permissions import INVENTORY_VIEW
from backroom.kernel import clock
from backroom.kernel.dates import business_date, business_day_bounds
from backroom.kernel.exceptions import NotFound
from backroom.kernel.money import quantize_money
from backroom.org.choices import NodeKind
from backroom.org.models import Site
from backroom.procurement.choices import RECEIVABLE_PO_STATUSES
from backroom.procurement.permissions import PROCUREMENT_RECEIVE, PROCUREMENT_VIEW
from backroom.procurement.selectors import purchase_orders_for

ZERO = Decimal(0)
CENT = Decimal("0.01")
RATIO = Decimal("0.0001")
# The hourly profile: the store's sales by hour over this many days before today.
PROFILE_DAYS = 28
# Without a forecast: the mean of the same weekday over this many weeks.
FALLBACK_WEEKS = 4
# Sales are compared with the forecast once this share of the day's forecast was expected (a
# few orders against next to nothing early in the morning say nothing).
COMPARE_FROM_SHARE = Decimal("0.05")
# An item with this many portions left or fewer is "low".
LOW_PORTIONS = 5
# A count template is due when it was not counted for this long.
COUNT_EVERY = dt.timedelta(days=7)
SHOWN = 8
# The KPI cards, in order.
CARD_KPIS = (
    "sales",
    "orders",
    "average_ticket",
    "sales_vs_last_year",
    "discount_pct",
    "soldout_minutes",
)
OPEN_COUNT_STATUSES = (CountStatus.DRAFT, CountStatus.COUNTING, CountStatus.SUBMITTED)
INBOUND_TRANSFER_STATUSES = (TransferStatus.DISPATCHED, TransferStatus.PARTIALLY_RECEIVED)


@dataclass
class HourRow:
    """One local clock hour of the business day: what sold and what was expected."""

    hour: int
    label: str
    orders: int
    gross: Decimal
    net: Decimal
    expected: Decimal | None  # forecast gross for the hour (None: no profile or forecast)
    cumulative_gross: Decimal
    cumulative_expected: Decimal | None
    is_past: bool
    is_current: bool


@dataclass
class KpiCard:
    code: str
    label: str
    unit: str
    good: str
    value: Decimal | None


@dataclass
class TodaySales:
    """Sales of the business day so far against the forecast (gross at menu prices)."""

    currency: str
    forecast_gross: Decimal | None
    # "forecast": the planning forecast snapshot; "history": the mean of the same weekday over
    # the last weeks; "": none.
    forecast_source: str
    has_profile: bool
    hours: list[HourRow]
    orders: int
    gross: Decimal
    net: Decimal
    average_ticket: Decimal | None
    expected_by_now: Decimal | None
    # gross / expected_by_now − 1 (None without an expectation, or before `COMPARE_FROM_SHARE`
    # of the day's forecast was expected)
    vs_expected: Decimal | None
    kpis: list[KpiCard] = field(default_factory=list)


@dataclass
class Delivery:
    kind: str  # "purchase_order" | "transfer"
    id: int
    number: str
    source: str  # supplier or sending site
    status: str
    status_label: str
    expected_date: dt.date | None
    is_late: bool
    url: str
    receive_url: str | None


@dataclass
class CountDue:
    kind: str  # "sheet" | "template"
    id: int
    name: str
    status: str
    status_label: str
    last_counted_at: dt.datetime | None
    url: str


@dataclass
class SoldOutItem:
    item_id: int
    sku: str
    name: str
    sellable: int | None
    is_sold_out: bool
    is_manual: bool
    reason: str
    since: dt.datetime | None
    minutes: int | None


@dataclass
class ApprovalWaiting:
    task_id: int
    request_id: int
    title: str
    step: str
    waiting_since: dt.datetime
    due_at: dt.datetime | None
    is_overdue: bool
    url: str


@dataclass
class AlertOpen:
    id: int
    title: str
    severity: str
    severity_label: str
    status: str
    occurrences: int
    last_raised_at: dt.datetime
    url: str


@dataclass
class Section[T]:
    """A list section: how many there are and the first few (with a link to them all)."""

    count: int
    rows: list[T]
    url: str = ""


@dataclass
class StoreToday:
    site: Site
    business_date: dt.date
    now: dt.datetime  # in the store's time zone
    time_zone: str
    sales: TodaySales | None
    deliveries: Section[Delivery] | None
    counts: Section[CountDue] | None
    sold_out: Section[SoldOutItem] | None
    approvals: Section[ApprovalWaiting] | None
    alerts: Section[AlertOpen] | None


# --- which store --------------------------------------------------------------------------------


def today_stores(actor: Any) -> list[Site]:
    """The stores whose "today" the actor may see (`dashboards.view`), in tree order."""
    return [site for site in dashboard_sites(actor) if site.node.kind == NodeKind.STORE]


def get_today_store(actor: Any, site_id: int) -> Site:
    """A store whose "today" the actor may see (not_found for any other site)."""
    for site in today_stores(actor):
        if site.pk == site_id:
            return site
    raise NotFound()


def _may(actor: Any, permission: str, site: Site) -> bool:
    return bool(actor.has_scoped_permission(permission, site.node))


# --- the page -----------------------------------------------------------------------------------


def store_today(actor: Any, site: Site, now: dt.datetime | None = None) -> StoreToday:
    """A store's business day as of `now` (default: the clock), each section scoped to the
    actor. The caller passes a store from `get_today_store` / `today_stores`."""
    now = now or clock.now()
    zone = ZoneInfo(site.time_zone)
    day = business_date(now, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour)
    return StoreToday(
        site=site,
        business_date=day,
        now=now.astimezone(zone),
        time_zone=site.time_zone,
        sales=today_sales(site, day, now),
        deliveries=_deliveries(actor, site, day),
        counts=_counts(actor, site, now),
        sold_out=_sold_out(actor, site, now),
        approvals=_approvals(actor, site, now),
        alerts=_alerts(actor, site),
    )


# --- sales against the forecast -----------------------------------------------------------------


def day_forecast(site: Site, day: dt.date) -> tuple[Decimal | None, str]:
    """The day's forecast gross sales and where it came from: the forecast snapshot
    (`ForecastDay`), else the mean gross of the same weekday over the last four weeks
    (the weeks with sales), else none."""
    currency = site.legal_entity.base_currency
    snapshot = (
        ForecastDay.objects.filter(site=site, business_date=day, currency=currency)
        .values_list("gross", flat=True)
        .first()
    )
    if snapshot is not None:
        return snapshot, "forecast"
    weekdays = [day - dt.timedelta(weeks=week) for week in range(1, FALLBACK_WEEKS + 1)]
    found = SalesDay.objects.filter(
        site=site, business_date__in=weekdays, currency=currency
    ).aggregate(total=Sum("gross"), days=Count("id"))
    days = found["days"] or 0
    if not days:
        return None, ""
    return (found["total"] / days).quantize(CENT), "history"


def hourly_profile(site: Site, day: dt.date) -> dict[int, Decimal]:
    """Each local hour's share of the store's gross sales over the `PROFILE_DAYS` before `day`
    (empty without history)."""
    rows = (
        SalesHour.objects.filter(
            site=site,
            currency=site.legal_entity.base_currency,
            business_date__gte=day - dt.timedelta(days=PROFILE_DAYS),
            business_date__lt=day,
        )
        .values("hour")
        .annotate(gross=Sum("gross"))
        .order_by()
    )
    by_hour = {row["hour"]: row["gross"] or ZERO for row in rows}
    total = sum(by_hour.values(), ZERO)
    if total <= 0:
        return {}
    return {hour: gross / total for hour, gross in by_hour.items() if gross > 0}


def today_sales(site: Site, day: dt.date, now: dt.datetime) -> TodaySales:
    """The business day's sales by hour so far against the forecast (see the module)."""
    currency = site.legal_entity.base_currency
    zone = ZoneInfo(site.time_zone)
    start, end = business_day_bounds(day, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour)
    elapsed = min(max(now, start), end)
    # The hours of the business day in order (from the cut-off on); how far the day has gone.
    local_now = elapsed.astimezone(zone)
    hours_gone = int((elapsed - start).total_seconds() // 3600)
    order = [(site.cutoff_hour + offset) % 24 for offset in range(24)]
    sold: dict[int, dict[str, Any]] = {
        row["hour"]: dict(row)
        for row in SalesHour.objects.filter(site=site, business_date=day, currency=currency)
        .values("hour")
        .annotate(orders=Sum("orders"), gross=Sum("gross"), net=Sum("net"))
        .order_by()
    }
    forecast, source = day_forecast(site, day)
    profile = hourly_profile(site, day)
    has_expectation = forecast is not None and bool(profile)
    rows: list[HourRow] = []
    cumulative_gross = ZERO
    cumulative_expected = ZERO
    expected_by_now = ZERO
    for offset, hour in enumerate(order):
        row = sold.get(hour, {})
        gross = quantize_money(row.get("gross") or ZERO)
        expected = (
            (forecast * profile.get(hour, ZERO)).quantize(CENT)
            if has_expectation and forecast is not None
            else None
        )
        is_past = offset < hours_gone
        is_current = offset == hours_gone and elapsed < end
        cumulative_gross += gross
        if expected is not None:
            cumulative_expected += expected
            if is_past:
                expected_by_now += expected
            elif is_current:
                # The running hour counts for the part of it that has gone.
                minutes = Decimal(local_now.minute * 60 + local_now.second) / 3600
                expected_by_now += expected * minutes
        rows.append(
            HourRow(
                hour=hour,
                label=f"{hour:02d}:00",
                orders=int(row.get("orders") or 0),
                gross=gross,
                net=quantize_money(row.get("net") or ZERO),
                expected=expected,
                cumulative_gross=cumulative_gross,
                cumulative_expected=cumulative_expected if expected is not None else None,
                is_past=is_past,
                is_current=is_current,
            )
        )
    rows = _trim(rows)
    orders = sum(row.orders for row in rows)
    gross = sum((row.gross for row in rows), ZERO)
    net = sum((row.net for row in rows), ZERO)
    by_now = expected_by_now.quantize(CENT) if has_expectation else None
    comparable = (
        by_now is not None
        and forecast is not None
        and by_now > 0
        and by_now >= forecast * COMPARE_FROM_SHARE
    )
    kpi_values = evaluate(
        measures([site], day, day, currency=currency, now=now)[None], list(CARD_KPIS)
    )
    return TodaySales(
        currency=currency,
        forecast_gross=forecast,
        forecast_source=source,
        has_profile=bool(profile),
        hours=rows,
        orders=orders,
        gross=gross,
        net=net,
        average_ticket=(net / orders).quantize(CENT) if orders else None,
        expected_by_now=by_now,
        vs_expected=(gross / by_now - 1).quantize(RATIO) if comparable and by_now else None,
        kpis=[
            KpiCard(
                code=code,
                label=str(KPIS[code].label),
                unit=KPIS[code].unit,
                good=KPIS[code].good,
                value=kpi_values[code],
            )
            for code in CARD_KPIS
        ],
    )


def _trim(rows: list[HourRow]) -> list[HourRow]:
    """Drop the empty hours at both ends of the day (closed hours: no sales, none expected),
    keeping the current hour."""

    def busy(row: HourRow) -> bool:
        return bool(row.orders or row.gross or row.expected or row.is_current)

    used = [index for index, row in enumerate(rows) if busy(row)]
    if not used:
        return []
    return rows[used[0] : used[-1] + 1]


# --- deliveries ---------------------------------------------------------------------------------


def _deliveries(actor: Any, site: Site, day: dt.date) -> Section[Delivery] | None:
    may_orders = _may(actor, PROCUREMENT_VIEW, site)
    may_transfers = _may(actor, INVENTORY_VIEW, site)
    if not may_orders and not may_transfers:
        return None
    rows: list[Delivery] = []
    if may_orders:
        may_receive = _may(actor, PROCUREMENT_RECEIVE, site)
        for order in purchase_orders_for(actor, store=site).filter(
            status__in=RECEIVABLE_PO_STATUSES, expected_date__lte=day
        ):
            rows.append(
                Delivery(
                    kind="purchase_order",
                    id=order.pk,
                    number=order.number,
                    source=order.supplier.name,
                    status=order.status,
                    status_label=str(order.get_status_display()),
                    expected_date=order.expected_date,
                    is_late=bool(order.expected_date and order.expected_date < day),
                    url=reverse("procurement:order_detail", args=[order.pk]),
                    receive_url=reverse("procurement:receive", args=[order.pk])
                    if may_receive
                    else None,
                )
            )
    if may_transfers:
        transfers = (
            transfer_orders_for(actor, site=site, direction="in")
            .filter(status__in=INBOUND_TRANSFER_STATUSES)
            .select_related("from_site__node")
        )
        for transfer in transfers:
            if transfer.expected_date and transfer.expected_date > day:
                continue
            url = reverse("inventory:transfer_detail", args=[transfer.pk])
            rows.append(
                Delivery(
                    kind="transfer",
                    id=transfer.pk,
                    number=transfer.number,
                    source=transfer.from_site.node.name,
                    status=transfer.status,
                    status_label=str(transfer.get_status_display()),
                    expected_date=transfer.expected_date,
                    is_late=bool(transfer.expected_date and transfer.expected_date < day),
                    url=url,
                    receive_url=url,  # the transfer's page holds its receiving form
                )
            )
    rows.sort(key=lambda row: (row.expected_date or day, row.number))
    url = reverse("procurement:receiving") if may_orders else ""
    return Section(count=len(rows), rows=rows, url=url)


# --- counts ------------------------------------------------------------------------------------


def _counts(actor: Any, site: Site, now: dt.datetime) -> Section[CountDue] | None:
    if not _may(actor, INVENTORY_VIEW, site):
        return None
    rows: list[CountDue] = []
    for sheet in count_sheets_for(actor, site=site).filter(status__in=OPEN_COUNT_STATUSES):
        rows.append(
            CountDue(
                kind="sheet",
                id=sheet.pk,
                name=sheet.number,
                status=sheet.status,
                status_label=str(sheet.get_status_display()),
                last_counted_at=sheet.started_at,
                url=reverse("inventory:count_sheet", args=[sheet.pk]),
            )
        )
    open_templates = {
        sheet.template_id
        for sheet in count_sheets_for(actor, site=site).filter(status__in=OPEN_COUNT_STATUSES)
    }
    # The last posted count of each template in the same query (`line_count` of the selector
    # is not used here: the join with the sheets would multiply it).
    templates = count_templates_for(actor, site=site).annotate(
        last_posted=Max("sheets__posted_at", filter=Q(sheets__status=CountStatus.POSTED))
    )
    for template in templates:
        if template.pk in open_templates:
            continue
        last = template.last_posted
        if last is not None and now - last < COUNT_EVERY:
            continue
        rows.append(
            CountDue(
                kind="template",
                id=template.pk,
                name=template.name,
                status="due",
                status_label=_("Due"),
                last_counted_at=last,
                url=f"{reverse('inventory:count_new')}?site={site.pk}&template={template.pk}",
            )
        )
    return Section(count=len(rows), rows=rows, url=reverse("inventory:counts"))


# --- sold out ----------------------------------------------------------------------------------


def _sold_out(actor: Any, site: Site, now: dt.datetime) -> Section[SoldOutItem] | None:
    if not _may(actor, CHANNELS_VIEW, site):
        return None
    states = (
        SoldOutState.objects.restrict(actor, CHANNELS_VIEW)
        .filter(site=site)
        .filter(Q(is_sold_out=True) | Q(sellable__lte=LOW_PORTIONS))
        .select_related("item")
    )
    spells = {
        spell.item_id: spell
        for spell in SoldOutSpell.objects.filter(site=site, ended_at__isnull=True)
    }
    rows = []
    for state in states:
        spell = spells.get(state.item_id) if state.is_sold_out else None
        since = spell.started_at if spell else (state.changed_at if state.is_sold_out else None)
        rows.append(
            SoldOutItem(
                item_id=state.item_id,
                sku=state.item.sku,
                name=state.item.name,
                sellable=state.sellable,
                is_sold_out=state.is_sold_out,
                is_manual=state.is_manual,
                reason=state.reason,
                since=since,
                minutes=int((now - since).total_seconds() // 60) if since else None,
            )
        )
    rows.sort(
        key=lambda row: (
            not row.is_sold_out,
            -(row.minutes or 0),
            row.sellable if row.sellable is not None else 0,
            row.name,
        )
    )
    return Section(
        count=len(rows), rows=rows[:SHOWN], url=f"{reverse('channels:sold_out')}?store={site.pk}"
    )


# --- approvals ---------------------------------------------------------------------------------


def _approvals(actor: Any, site: Site, now: dt.datetime) -> Section[ApprovalWaiting]:
    """The actor's pending approval tasks about this store (or a site under it), oldest first;
    the link goes to the whole inbox."""
    tasks = (
        ApprovalTask.objects.filter(
            assignee_id=actor.pk,
            status=TaskStatus.PENDING,
            request__status=RequestStatus.PENDING,
            request__org_node__path__startswith=site.node.path,
        )
        .select_related("request")
        .order_by("created_at", "pk")
    )
    rows = []
    for task in tasks[:SHOWN]:
        request = task.request
        kind = (
            str(get_document_type(request.document_type).label)
            if is_registered(request.document_type)
            else request.document_type
        )
        rows.append(
            ApprovalWaiting(
                task_id=task.pk,
                request_id=request.pk,
                title=f"{kind} {request.document_id}",
                step=task.step_name,
                waiting_since=task.created_at,
                due_at=task.due_at,
                is_overdue=bool(task.due_at and task.due_at < now),
                url=reverse("approvals:request_detail", args=[request.pk]),
            )
        )
    return Section(count=tasks.count(), rows=rows, url=reverse("approvals:inbox"))


# --- alerts ------------------------------------------------------------------------------------


def _alerts(actor: Any, site: Site) -> Section[AlertOpen] | None:
    if not _may(actor, ALERTS_VIEW, site):
        return None
    alerts = (
        Alert.objects.restrict(actor, ALERTS_VIEW)
        .filter(site=site)
        .exclude(status=AlertStatus.RESOLVED)
        .order_by("-last_raised_at", "-id")
    )
    rows = [
        AlertOpen(
            id=alert.pk,
            title=alert.title,
            severity=alert.severity,
            severity_label=str(alert.get_severity_display()),
            status=alert.status,
            occurrences=alert.occurrences,
            last_raised_at=alert.last_raised_at,
            url=reverse("dashboards:alert", args=[alert.pk]),
        )
        for alert in alerts[:SHOWN]
    ]
    return Section(
        count=alerts.count(), rows=rows, url=f"{reverse('dashboards:alerts')}?site={site.pk}"
    )
