"""Dashboards API (mounted at /api/v1/dashboards/): the KPI definitions, the HQ / region
dashboard of a node, a store's days and a store's day; the twins of the dashboard pages
(docs/dashboards.md)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

from django.http import HttpRequest
from ninja import Router

from backroom.accounts.authorization import require_permission
from backroom.config.api_support import ObjectId, errors
from backroom.dashboards import selectors
from backroom.dashboards.kpis import KPIS
from backroom.dashboards.permissions import DASHBOARDS_VIEW
from backroom.dashboards.schemas import HqOut, KpiOut, StoreDayOut, StoreOut
from backroom.org.models import OrgNode

router = Router(tags=["dashboards"])


def _node(node: OrgNode) -> dict[str, Any]:
    return {"id": node.pk, "code": node.code, "name": node.name, "kind": node.kind}


def _approvals(approvals: selectors.Approvals) -> dict[str, Any]:
    return {
        "pending": approvals.pending,
        "oldest_submitted_at": approvals.oldest_at,
        "oldest_hours": approvals.oldest_hours,
    }


def _alerts(alerts: selectors.Alerts) -> dict[str, Any]:
    return {"total": alerts.total, "by_severity": alerts.by_severity}


def _days(rows: list[selectors.TrendDay]) -> list[dict[str, Any]]:
    return [asdict(row) for row in rows]


@router.get("/kpis", response={200: list[KpiOut], **errors(403)})
def list_kpis(request: HttpRequest) -> list[dict[str, Any]]:
    """The KPIs the dashboards, exports and alert rules use: code, label, unit, good direction
    and what each one means."""
    require_permission(request.user, DASHBOARDS_VIEW)
    return [
        {
            "code": kpi.code,
            "label": str(kpi.label),
            "unit": kpi.unit,
            "good": kpi.good,
            "description": str(kpi.description),
        }
        for kpi in KPIS.values()
    ]


@router.get("/hq", response={200: HqOut, **errors(403, 404)})
def hq(
    request: HttpRequest,
    node_id: ObjectId | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    period: str | None = None,
    kpi: str | None = None,
) -> dict[str, Any]:
    """A node's dashboard (default: the top of the caller's scope) over a period (default: the
    last 7 days; `period` = today, yesterday, last_7_days, last_28_days, this_week, this_month
    or last_month; at most 400 days): KPI cards against the previous period, the children
    ranked by `kpi` (default sales) with sparklines, channel mix, the trend (by day, week or
    month with the period's length), the map,
    open approvals and alerts. Money in the reporting currency."""
    require_permission(request.user, DASHBOARDS_VIEW)
    node = (
        selectors.get_dashboard_node(request.user, node_id)
        if node_id
        else selectors.default_node(request.user)
    )
    span = selectors.period(date_from, date_to, preset=period)
    dashboard = selectors.hq(request.user, node, span, selectors.kpi_of(kpi))
    before = span.previous()
    shown = {id(row) for row in dashboard.shown}
    return {
        "node": _node(node),
        "date_from": span.date_from,
        "date_to": span.date_to,
        "previous_from": before.date_from,
        "previous_to": before.date_to,
        "kpi": dashboard.kpi.code,
        "currency": dashboard.currency,
        "cards": [asdict(card) for card in dashboard.cards],
        "channels": [asdict(channel) for channel in dashboard.channels],
        "children": [
            {
                "node": _node(row.node),
                "site_id": row.site.pk if row.site else None,
                "rank": row.rank,
                "value": row.value,
                "sales": row.sales,
                "orders": row.orders,
                "sparkline": [{"date": day, "value": value} for day, value in row.sparkline]
                if id(row) in shown
                else [],
            }
            for row in dashboard.children
        ],
        "trend_grain": span.grain,
        "trend": _days(dashboard.trend),
        "map": [
            {
                "site_id": point.site.pk,
                "code": point.site.node.code,
                "name": point.site.node.name,
                "latitude": point.latitude,
                "longitude": point.longitude,
                "value": point.value,
            }
            for point in dashboard.points
        ],
        "approvals": _approvals(dashboard.approvals),
        "alerts": _alerts(dashboard.alerts),
    }


@router.get("/stores/{site_id}", response={200: StoreOut, **errors(403, 404)})
def store(
    request: HttpRequest,
    site_id: ObjectId,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    period: str | None = None,
) -> dict[str, Any]:
    """A store's cards and its days over a period (as `/hq`)."""
    require_permission(request.user, DASHBOARDS_VIEW)
    site = selectors.get_dashboard_site(request.user, site_id)
    span = selectors.period(date_from, date_to, preset=period)
    found = selectors.store(request.user, site, span, selectors.kpi_of(None))
    return {
        "site_id": site.pk,
        "code": site.node.code,
        "name": site.node.name,
        "date_from": span.date_from,
        "date_to": span.date_to,
        "currency": found.currency,
        "cards": [asdict(card) for card in found.cards],
        "channels": [asdict(channel) for channel in found.channels],
        "days": _days(found.days),
        "approvals": _approvals(found.approvals),
        "alerts": _alerts(found.alerts),
    }


@router.get("/stores/{site_id}/days/{date}", response={200: StoreDayOut, **errors(403, 404)})
def store_day(request: HttpRequest, site_id: ObjectId, date: dt.date) -> dict[str, Any]:
    """A store's business day: cards (against the same weekday a week before), channel mix,
    sales by hour, by catalogue category and by menu item."""
    require_permission(request.user, DASHBOARDS_VIEW)
    site = selectors.get_dashboard_site(request.user, site_id)
    day = selectors.store_day(request.user, site, date)
    return {
        "site_id": site.pk,
        "date": date,
        "currency": day.currency,
        "cards": [asdict(card) for card in day.cards],
        "channels": [asdict(channel) for channel in day.channels],
        "hours": day.hours,
        "categories": day.categories,
        "items": day.items,
    }
