"""The HQ / region dashboard with drill-down: chain → region → store → day → hour, category
and item, and from the figures to the pages behind them (docs/dashboards.md). The API twin is
api.py; the ranked table and the trend export as CSV or .xlsx (`?export=csv&table=trend`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from backroom.dashboards import selectors
from backroom.dashboards.display import kpi_text
from backroom.dashboards.kpis import KPIS, Kpi
from backroom.dashboards.permissions import DASHBOARDS_VIEW
from backroom.kernel.exceptions import ValidationFailed
from backroom.org.choices import SITE_KINDS
from backroom.web.errors import page
from backroom.web.exports import export_format, export_report
from backroom.web.forms import posted_id
from backroom.web.rendering import render_page


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value or "")
    except ValueError:
        return None


def _period(request: HttpRequest) -> tuple[selectors.Period, str | None]:
    """The period asked for, or the default with the error to show."""
    preset = request.GET.get("period") or None
    if preset not in selectors.PRESETS:
        preset = None
    try:
        return (
            selectors.period(
                _date(request.GET.get("from")), _date(request.GET.get("to")), preset=preset
            ),
            None,
        )
    except ValidationFailed as failure:
        return selectors.period(None, None), " ".join(
            str(message) for messages in failure.errors.values() for message in messages
        ) or failure.message


def _kpi(request: HttpRequest) -> Kpi:
    return KPIS.get(request.GET.get("kpi") or "sales") or KPIS["sales"]


def _query(**values: Any) -> str:
    return urlencode({key: value for key, value in values.items() if value not in (None, "")})


def _labels() -> dict[str, str]:
    return {"sales": _("Sales"), "orders": _("Orders")}


def _chart_number(value: Any) -> float | None:
    return None if value is None else float(value)


@page(DASHBOARDS_VIEW)
def hq(request: HttpRequest) -> HttpResponse:
    """A node's dashboard: KPI cards, channel mix, ranked children with sparklines, trend by
    day, map; `?node=&from=&to=&kpi=`; `?export=csv|xlsx&table=ranked|trend` downloads."""
    node_id = posted_id(request.GET.get("node"))
    node = (
        selectors.get_dashboard_node(request.user, node_id)
        if node_id
        else selectors.default_node(request.user)
    )
    span, error = _period(request)
    kpi = _kpi(request)
    if node.kind in SITE_KINDS:
        return redirect(
            reverse("dashboards:store", args=[node.site.pk])  # type: ignore[attr-defined]
            + "?"
            + _query(**{"from": span.date_from, "to": span.date_to, "kpi": kpi.code})
        )
    dashboard = selectors.hq(request.user, node, span, kpi)
    if file_type := export_format(request):
        if request.GET.get("table") == "trend":
            return export_report(
                file_type, "dashboard-trend", _trend_rows(dashboard.trend, kpi), numbers=(1, 2, 3)
            )
        return export_report(
            file_type, "dashboard-ranking", _ranked_rows(dashboard), numbers=(0, 3, 4, 5)
        )
    period_query = _query(**{"from": span.date_from, "to": span.date_to})
    return render_page(
        request,
        "dashboards/hq.html",
        {
            "title": _("Dashboard"),
            "dashboard": dashboard,
            "node": node,
            "nodes": selectors.dashboard_nodes(request.user),
            "crumbs": selectors.breadcrumbs(request.user, node),
            "kpis": list(KPIS.values()),
            "kpi": kpi,
            "span": span,
            "presets": selectors.PRESETS,
            "error": error,
            "period_query": period_query,
            "query": _query(
                node=node.pk, **{"from": span.date_from, "to": span.date_to}, kpi=kpi.code
            ),
            "chart": _hq_chart(dashboard),
        },
        status=422 if error else 200,
    )


def _ranked_rows(dashboard: selectors.Dashboard) -> list[list[Any]]:
    kpi = dashboard.kpi
    rows: list[list[Any]] = [
        [
            _("Rank"),
            _("Code"),
            _("Name"),
            f"{kpi.label}{' %' if kpi.unit == 'percent' else ''}",
            _("Sales (%(currency)s)") % {"currency": dashboard.currency},
            _("Orders"),
        ]
    ]
    for row in dashboard.children:
        rows.append(
            [
                row.rank,
                row.node.code,
                row.node.name,
                kpi_text(row.value, kpi.unit),
                kpi_text(row.sales, "money"),
                kpi_text(row.orders, "count"),
            ]
        )
    return rows


def _trend_rows(days: list[selectors.TrendDay], kpi: Kpi) -> list[list[Any]]:
    rows: list[list[Any]] = [
        [
            _("Date"),
            _("Sales"),
            _("Orders"),
            f"{kpi.label}{' %' if kpi.unit == 'percent' else ''}",
        ]
    ]
    for day in days:
        rows.append(
            [
                day.date.isoformat(),
                kpi_text(day.sales, "money"),
                kpi_text(day.orders, "count"),
                kpi_text(day.value, kpi.unit),
            ]
        )
    return rows


def _hq_chart(dashboard: selectors.Dashboard) -> dict[str, Any]:
    """What the page's charts draw (numbers as floats: for drawing only)."""
    percent = dashboard.kpi.unit == "percent"
    scale = 100 if percent else 1

    def number(value: Any) -> float | None:
        return None if value is None else float(value) * scale

    return {
        "labels": _labels(),
        "kpi": str(dashboard.kpi.label),
        "unit": "%" if percent else "",
        "good": dashboard.kpi.good,
        "trend": {
            "dates": [day.date.isoformat() for day in dashboard.trend],
            "sales": [_chart_number(day.sales) for day in dashboard.trend],
            "orders": [_chart_number(day.orders) for day in dashboard.trend],
        },
        "channels": [
            {"name": channel.label, "value": _chart_number(channel.net)}
            for channel in dashboard.channels
        ],
        "sparklines": {
            str(row.node.pk): [number(value) for _day, value in row.sparkline]
            for row in dashboard.shown
        },
        "map": [
            {
                "name": f"{point.site.node.code} {point.site.node.name}",
                "value": [
                    float(point.longitude),
                    float(point.latitude),
                    number(point.value),
                ],
                "url": reverse("dashboards:store", args=[point.site.pk]),
            }
            for point in dashboard.points
        ],
    }


@page(DASHBOARDS_VIEW)
def store(request: HttpRequest, site_id: int) -> HttpResponse:
    """A store's cards and days over the period, each day linking to the day's breakdown;
    `?export=csv|xlsx` downloads the days."""
    site = selectors.get_dashboard_site(request.user, site_id)
    span, error = _period(request)
    kpi = _kpi(request)
    found = selectors.store(request.user, site, span, kpi)
    if file_type := export_format(request):
        return export_report(
            file_type,
            f"dashboard-{site.node.code}",
            _trend_rows(found.days, kpi),
            numbers=(1, 2, 3),
        )
    return render_page(
        request,
        "dashboards/hq_store.html",
        {
            "title": f"{site.node.code} · {site.node.name}",
            "found": found,
            "site": site,
            "node": site.node,
            "crumbs": selectors.breadcrumbs(request.user, site.node),
            "kpis": list(KPIS.values()),
            "kpi": kpi,
            "span": span,
            "presets": selectors.PRESETS,
            "error": error,
            "period_query": _query(**{"from": span.date_from, "to": span.date_to}),
            "links": _links(site, span.date_from, span.date_to),
            "chart": {
                "labels": _labels(),
                "kpi": str(kpi.label),
                "dates": [day.date.isoformat() for day in found.days],
                "sales": [_chart_number(day.sales) for day in found.days],
                "orders": [_chart_number(day.orders) for day in found.days],
            },
        },
        status=422 if error else 200,
    )


def _links(site: Any, date_from: dt.date, date_to: dt.date) -> list[tuple[str, str, str]]:
    """The pages behind a store's figures, filtered to the store (and period) where they can be:
    (label, url, icon)."""
    node_period = _query(node_id=site.node_id, date_from=date_from, date_to=date_to)
    return [
        (
            _("Sales report"),
            f"{reverse('channels:sales')}?"
            + _query(store=site.pk, date_from=date_from, date_to=date_to),
            "ti-report-money",
        ),
        (_("Orders"), f"{reverse('channels:board')}?store={site.pk}", "ti-receipt"),
        (_("Waste documents"), f"{reverse('inventory:waste_list')}?site={site.pk}", "ti-trash"),
        (_("Actual vs theoretical"), f"{reverse('inventory:avt')}?{node_period}", "ti-scale"),
        (_("Stock on hand"), f"{reverse('inventory:on_hand')}?site={site.pk}", "ti-packages"),
        (_("Approvals"), reverse("approvals:inbox"), "ti-checklist"),
        (_("Alerts"), f"{reverse('dashboards:alerts')}?site={site.pk}", "ti-bell"),
    ]


@page(DASHBOARDS_VIEW)
def store_day(request: HttpRequest, site_id: int, day: str) -> HttpResponse:
    """A store's business day: cards against the same weekday a week before, sales by hour,
    by category and by item, and links to the day's documents."""
    site = selectors.get_dashboard_site(request.user, site_id)
    date = _date(day)
    if date is None:
        raise Http404()
    found = selectors.store_day(request.user, site, date)
    hours = {row["hour"]: row for row in found.hours}
    first = min([site.cutoff_hour, *hours]) if hours else site.cutoff_hour
    return render_page(
        request,
        "dashboards/hq_store_day.html",
        {
            "title": f"{site.node.code} · {date.isoformat()}",
            "found": found,
            "site": site,
            "node": site.node,
            "crumbs": selectors.breadcrumbs(request.user, site.node),
            "date": date,
            "previous_day": date - dt.timedelta(days=1),
            "next_day": date + dt.timedelta(days=1),
            "links": _links(site, date, date),
            "chart": {
                "hours": [f"{(first + offset) % 24:02d}" for offset in range(24)],
                "net": [
                    _chart_number(hours[(first + offset) % 24]["net"])
                    if (first + offset) % 24 in hours
                    else 0
                    for offset in range(24)
                ],
                "categories": [
                    {"name": row["name"] or _("No category"), "value": _chart_number(row["net"])}
                    for row in found.categories
                ],
            },
        },
    )


@page(DASHBOARDS_VIEW)
def store_item(request: HttpRequest, site_id: int, item_id: int) -> HttpResponse:
    """One menu item at a store: sales per day over the 28 days up to `?date=`."""
    site = selectors.get_dashboard_site(request.user, site_id)
    end = _date(request.GET.get("date")) or selectors.period(None, None).date_to
    span = selectors.Period(end - dt.timedelta(days=27), end)
    found = selectors.store_item(request.user, site, item_id, span)
    return render_page(
        request,
        "dashboards/hq_item.html",
        {
            "title": f"{found.name} · {site.node.code}",
            "found": found,
            "site": site,
            "node": site.node,
            "crumbs": selectors.breadcrumbs(request.user, site.node),
            "date": end,
            "chart": {
                "labels": {"sales": _("Net sales"), "orders": _("Quantity")},
                "dates": [row["date"].isoformat() for row in found.days],
                "quantity": [_chart_number(row["quantity"]) for row in found.days],
                "net": [_chart_number(row["net"]) for row in found.days],
            },
        },
    )


urlpatterns = [
    path("", hq, name="hq"),
    path("stores/<int:site_id>/", store, name="store"),
    path("stores/<int:site_id>/days/<str:day>/", store_day, name="store_day"),
    path("stores/<int:site_id>/items/<int:item_id>/", store_item, name="store_item"),
]
