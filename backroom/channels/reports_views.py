"""Sales and settlement pages: a store's sales per day (by channel, by hour, top items) and the
settlement differences with the platforms, with CSV export. Read-only; `channels.sales`.

Included by `channels/urls.py`; the navigation entries are registered when this module is
imported (from `channels.apps`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backroom.catalog.selectors import site_today
from backroom.channels import rollups, settlement
from backroom.channels.choices import ChannelKind
from backroom.channels.permissions_sales import CHANNELS_SALES
from backroom.kernel.exceptions import NotFound, ValidationFailed
from backroom.org.models import Site
from backroom.web.errors import page
from backroom.web.exports import Column, export_format, export_report, export_table
from backroom.web.forms import posted_id
from backroom.web.navigation import NavItem, register_nav_item
from backroom.web.rendering import render_page


def _date(value: str | None, default: dt.date) -> dt.date:
    try:
        return dt.date.fromisoformat(value) if value else default
    except ValueError:
        return default


def _store(request: HttpRequest, stores: list[Site]) -> Site | None:
    """The store asked for (404 when the user may not see its sales), else the first one."""
    site_id = posted_id(request.GET.get("store"))
    if site_id is None:
        return stores[0] if stores else None
    for store in stores:
        if store.pk == site_id:
            return store
    raise NotFound()


SALES_DAY_COLUMNS = [
    Column(gettext_lazy("Store code"), lambda row: row["site"].node.code),
    Column(gettext_lazy("Store"), lambda row: row["site"].node.name),
    Column(gettext_lazy("Business date"), lambda row: row["business_date"]),
    Column(gettext_lazy("Currency"), lambda row: row["currency"]),
    Column(gettext_lazy("Orders"), lambda row: row["orders"]),
    Column(gettext_lazy("Gross"), lambda row: row["gross"]),
    Column(gettext_lazy("Our discounts"), lambda row: row["merchant_discount"]),
    Column(gettext_lazy("Platform discounts"), lambda row: row["platform_discount"]),
    Column(gettext_lazy("Net"), lambda row: row["net"]),
    Column(gettext_lazy("Packaging fees"), lambda row: row["packaging_fee"]),
    Column(gettext_lazy("Delivery fees"), lambda row: row["delivery_fee"]),
    Column(gettext_lazy("Commission"), lambda row: row["commission"]),
]


@page(CHANNELS_SALES)
def sales(request: HttpRequest) -> HttpResponse:
    """A store's sales over business days: totals, by channel, by hour, by day, top items.
    `?export=xlsx|csv` downloads the store's sales by day over the period (the filters kept)."""
    stores = rollups.sales_sites(request.user)
    site = _store(request, stores)
    today = site_today(site)
    date_from = _date(request.GET.get("date_from"), today)
    date_to = _date(request.GET.get("date_to"), date_from)
    summary = None
    error = None
    if site is not None:
        try:
            summary = rollups.sales_summary(
                request.user, site_id=site.pk, date_from=date_from, date_to=date_to
            )
        except ValidationFailed as failure:
            error = (
                "; ".join(
                    str(message) for messages in failure.errors.values() for message in messages
                )
                or failure.message
            )
    if summary is not None and (wanted := export_format(request)):
        days = [{**row, "site": summary.site, "currency": summary.currency} for row in summary.days]
        return export_table(wanted, "sales-by-day", SALES_DAY_COLUMNS, days)
    peak = max((row["net"] for row in summary.hours), default=0) if summary else 0
    return render_page(
        request,
        "channels/sales.html",
        {
            "title": _("Sales"),
            "stores": stores,
            "site": site,
            "date_from": date_from,
            "date_to": date_to,
            "summary": summary,
            "peak": peak,
            "error": error,
        },
        status=422 if error else 200,
    )


def _settlement_params(request: HttpRequest) -> dict[str, Any]:
    stores = rollups.sales_sites(request.user)
    site_id = posted_id(request.GET.get("store"))
    site = None
    if site_id is not None:
        site = next((store for store in stores if store.pk == site_id), None)
        if site is None:
            raise NotFound()
    kind = request.GET.get("channel") or ""
    if kind not in settlement.SETTLED_KINDS:
        kind = ""
    default_day = site_today(site or (stores[0] if stores else None)) - dt.timedelta(days=1)
    return {
        "stores": stores,
        "site": site,
        "kind": kind,
        "business_date": _date(request.GET.get("date"), default_day),
    }


@page(CHANNELS_SALES)
def settlement_differences(request: HttpRequest) -> HttpResponse:
    """The day's settlement of each platform account: totals and the differing orders;
    `?export=xlsx|csv` downloads the differing orders (`all=1`: every compared order)."""
    params = _settlement_params(request)
    rows = settlement.settlements(
        request.user,
        business_date=params["business_date"],
        site=params["site"],
        kind=params["kind"] or None,
    )
    if file_type := export_format(request):
        return _settlement_download(request, file_type, params, rows)
    return render_page(
        request,
        "channels/settlement.html",
        {
            "title": _("Settlement differences"),
            "rows": rows,
            "channels": [(kind, ChannelKind(kind).label) for kind in settlement.SETTLED_KINDS],
            "difference_count": sum(len(row.differences) for row in rows),
            **params,
        },
    )


@page(CHANNELS_SALES)
def settlement_export(request: HttpRequest) -> HttpResponse:
    """The settlement differences as CSV (UTF-8 with BOM), `all=1` for every compared order:
    the old address of the page's `?export=csv`."""
    params = _settlement_params(request)
    rows = settlement.settlements(
        request.user,
        business_date=params["business_date"],
        site=params["site"],
        kind=params["kind"] or None,
    )
    return _settlement_download(request, "csv", params, rows)


SETTLEMENT_NUMBERS = range(7, 11)  # our income … refunded: numbers in a workbook


def _settlement_download(
    request: HttpRequest,
    file_type: str,
    params: dict[str, Any],
    rows: list[settlement.Settlement],
) -> HttpResponse:
    """The settlement lines as .xlsx or CSV, the same rows in both."""
    lines = settlement.csv_rows(rows, differences_only=request.GET.get("all") != "1")
    name = f"settlement-{params['business_date']:%Y-%m-%d}"
    return export_report(file_type, name, lines, numbers=SETTLEMENT_NUMBERS)


urlpatterns = [
    path("sales/", sales, name="sales"),
    path("settlement/", settlement_differences, name="settlement"),
    path("settlement/export.csv", settlement_export, name="settlement_export"),
]

for _item in (
    NavItem(gettext_lazy("Sales"), "channels:sales", "ti-chart-bar", CHANNELS_SALES),
    NavItem(
        gettext_lazy("Settlement differences"),
        "channels:settlement",
        "ti-report-money",
        CHANNELS_SALES,
    ),
):
    register_nav_item(_item, before="web:audit")
