"""The store's "today" page (docs/store-today.md), phone first: sales so far against the forecast
by hour, deliveries, counts, sold-out items, approvals and alerts. `/dashboards/today/` shows the
user's (first) store, `?site=<id>` another of theirs (404 for a store they may not see); HTMX
refreshes the body every few minutes; `?export=xlsx|csv` downloads the hourly table.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils.translation import gettext as _

from backroom.dashboards.permissions import DASHBOARDS_VIEW
from backroom.dashboards.today import StoreToday, get_today_store, store_today, today_stores
from backroom.web.errors import page
from backroom.web.exports import export_format, export_report
from backroom.web.forms import posted_id
from backroom.web.rendering import render_page

REFRESH_SECONDS = 180
CENT = Decimal("0.01")


def hourly_rows(data: StoreToday) -> list[list[Any]]:
    """The hourly table as rows, its header first (the export's layout)."""
    rows: list[list[Any]] = [
        [
            _("Hour"),
            _("Orders"),
            _("Gross sales"),
            _("Net sales"),
            _("Expected (forecast)"),
            _("Gross so far"),
            _("Expected so far"),
        ]
    ]
    if data.sales is None:
        return rows
    for row in data.sales.hours:
        rows.append(
            [
                row.label,
                row.orders,
                _cents(row.gross),
                _cents(row.net),
                _cents(row.expected),
                _cents(row.cumulative_gross),
                _cents(row.cumulative_expected),
            ]
        )
    return rows


def _cents(value: Decimal | None) -> str:
    return "" if value is None else f"{value.quantize(CENT)}"


def chart_data(data: StoreToday) -> dict[str, Any]:
    """What today.js draws: gross per hour (bars) and the forecast per hour (a line)."""
    if data.sales is None:
        return {"hours": []}
    return {
        "currency": data.sales.currency,
        "hours": [
            {
                "label": row.label,
                "gross": str(row.gross),
                "expected": str(row.expected) if row.expected is not None else None,
                "cumulative_gross": str(row.cumulative_gross),
                "cumulative_expected": str(row.cumulative_expected)
                if row.cumulative_expected is not None
                else None,
                "is_current": row.is_current,
                "is_past": row.is_past,
            }
            for row in data.sales.hours
        ],
        "labels": {"sales": _("Sales"), "expected": _("Forecast")},
    }


@page(DASHBOARDS_VIEW)
def today(request: HttpRequest) -> HttpResponse:
    """A store's business day so far (see the module)."""
    stores = today_stores(request.user)
    site_id = posted_id(request.GET.get("site"))
    site = (
        get_today_store(request.user, site_id)
        if site_id is not None
        else (stores[0] if stores else None)
    )
    data = store_today(request.user, site) if site is not None else None
    if data is not None and (wanted := export_format(request)):
        return export_report(
            wanted,
            f"today-{site.node.code}-{data.business_date.isoformat()}",  # type: ignore[union-attr]
            hourly_rows(data),
            numbers=(1, 2, 3, 4, 5, 6),
        )
    context: dict[str, Any] = {
        "title": _("Today"),
        "stores": stores,
        "site": site,
        "today": data,
        "chart": chart_data(data) if data is not None else {"hours": []},
        "refresh_seconds": REFRESH_SECONDS,
    }
    return render_page(request, "dashboards/today.html", context, partial="body")


urlpatterns = [
    path("today/", today, name="today"),
]
