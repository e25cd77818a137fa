"""Stock report pages: on hand, expiring, an item's movements, and actual vs theoretical."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from itertools import batched
from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backroom.catalog.models import Category, Item
from backroom.inventory import reports, selectors
from backroom.inventory.models import StockMove
from backroom.inventory.permissions import INVENTORY_VIEW
from backroom.inventory.views.exporting import EXPORT_CHUNK, store_time
from backroom.kernel.exceptions import NotFound, ValidationFailed
from backroom.org.models import Site
from backroom.org.selectors import open_business_day
from backroom.web.errors import page
from backroom.web.exports import MAX_ROWS, Column, export_format, export_report, export_table
from backroom.web.forms import posted_id
from backroom.web.rendering import render_page

AVT_NUMBERS = range(4, 18)  # Opening … Variance % of sales: numbers in the workbook

SORTS = {
    "variance_value": lambda row: -abs(row.variance_value),
    "variance_quantity": lambda row: -abs(row.variance_quantity),
    "actual": lambda row: -row.actual_value,
    "sku": lambda row: row.sku,
    "category": lambda row: (row.category, row.sku),
}


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value or "")
    except ValueError:
        return None


def _visible_site(request: HttpRequest) -> Site | None:
    site_id = posted_id(request.GET.get("site"))
    if site_id is None:
        return None
    site = reports.visible_sites(request.user).filter(pk=site_id).first()
    if site is None:
        raise NotFound()
    return site


def _categories() -> list[Category]:
    return list(Category.objects.order_by("code"))


ON_HAND_COLUMNS = [
    Column(gettext_lazy("Store code"), lambda row: row.balance.location.site.node.code),
    Column(gettext_lazy("Store"), lambda row: row.balance.location.site.node.name),
    Column(gettext_lazy("Location code"), lambda row: row.balance.location.code),
    Column(gettext_lazy("Location"), lambda row: row.balance.location.name),
    Column(gettext_lazy("SKU"), lambda row: row.balance.item.sku),
    Column(gettext_lazy("Item"), lambda row: row.balance.item.name),
    Column(
        gettext_lazy("Category"),
        lambda row: row.balance.item.category.name if row.balance.item.category else "",
    ),
    Column(gettext_lazy("Lot"), lambda row: row.balance.lot.code if row.balance.lot else ""),
    Column(
        gettext_lazy("Expiry date"),
        lambda row: row.balance.lot.expiry_date if row.balance.lot else None,
    ),
    Column(gettext_lazy("Days to expiry"), lambda row: row.days_to_expiry),
    Column(gettext_lazy("On hand"), lambda row: row.balance.quantity),
    Column(gettext_lazy("Unit"), lambda row: row.balance.item.base_unit.code),
    Column(gettext_lazy("Average cost"), lambda row: row.average_cost),
    Column(gettext_lazy("Value"), lambda row: row.value),
]
CURRENCY = gettext_lazy("Currency")


def _with_currency(request: HttpRequest) -> list[Column]:
    """The on-hand columns and each line's currency: a value means nothing without it, and one
    file may span companies."""
    currencies = {
        row.pk: str(row.legal_entity.base_currency) for row in reports.visible_sites(request.user)
    }
    return [
        *ON_HAND_COLUMNS,
        Column(CURRENCY, lambda row: currencies.get(row.balance.location.site_id, "")),
    ]


@page(INVENTORY_VIEW)
def on_hand(request: HttpRequest) -> HttpResponse:
    """On hand by store, location and lot with value and days to expiry; filters and totals;
    for a chosen store, what is reserved of each item and what is still available to promise.
    `?export=xlsx|csv` downloads every matching line (the filters kept)."""
    site = _visible_site(request)
    category_id = posted_id(request.GET.get("category"))
    search = request.GET.get("q", "").strip()[:100]
    # The items whose SKU is the search or whose name contains it; none at all when nothing
    # matches (an empty list, not "no filter").
    item_ids = (
        list(
            Item.objects.filter(Q(sku__iexact=search) | Q(name__icontains=search)).values_list(
                "pk", flat=True
            )[:500]
        )
        if search
        else None
    )
    if wanted := export_format(request):
        # Every matching line, not the page's first 500.
        every = reports.on_hand_report(
            request.user, site=site, category=category_id, item_ids=item_ids, limit=MAX_ROWS
        )
        return export_table(wanted, "stock-on-hand", _with_currency(request), every.rows)
    report = reports.on_hand_report(
        request.user, site=site, category=category_id, item_ids=item_ids
    )
    # Available-to-promise is per store: shown once one is chosen, for the reserved items.
    reserved = (
        reports.reserved_stock(request.user, site, item_ids=item_ids, category=category_id)
        if site is not None and item_ids != []
        else []
    )
    return render_page(
        request,
        "inventory/report_on_hand.html",
        {
            "title": _("Stock on hand"),
            "report": report,
            "reserved": reserved,
            "sites": reports.visible_sites(request.user),
            "site": site,
            "categories": _categories(),
            "category_id": category_id,
            "search": search,
            # An HTMX filter change swaps the table; the export buttons follow out of band.
            "exports_out_of_band": request.headers.get("HX-Request") == "true",
        },
        partial="results",
    )


@page(INVENTORY_VIEW)
def expiring(request: HttpRequest) -> HttpResponse:
    """Lots expiring within N days, and expired ones still on hand; `?export=xlsx|csv` downloads
    the same lines (the filters kept) in the stock-on-hand export's columns."""
    site = _visible_site(request)
    days = posted_id(request.GET.get("days")) or 3
    days = min(days, 365)
    rows = reports.expiring_rows(request.user, within_days=days, site=site)
    if wanted := export_format(request):
        return export_table(wanted, "expiring-stock", _with_currency(request), rows)
    return render_page(
        request,
        "inventory/report_expiring.html",
        {
            "title": _("Expiring stock"),
            "rows": rows,
            "days": days,
            "sites": reports.visible_sites(request.user),
            "site": site,
            # An HTMX filter change swaps the table; the export buttons follow out of band.
            "exports_out_of_band": request.headers.get("HX-Request") == "true",
        },
        partial="results",
    )


MOVES_SHOWN = 300
MOVEMENT_COLUMNS = [
    Column(
        gettext_lazy("Occurred at"), lambda row: store_time(row.move.occurred_at, row.move.site)
    ),
    Column(gettext_lazy("Store code"), lambda row: row.move.site.node.code),
    Column(gettext_lazy("Store"), lambda row: row.move.site.node.name),
    Column(gettext_lazy("Location code"), lambda row: row.move.location.code),
    Column(gettext_lazy("Location"), lambda row: row.move.location.name),
    Column(gettext_lazy("SKU"), lambda row: row.move.item.sku),
    Column(gettext_lazy("Item"), lambda row: row.move.item.name),
    Column(gettext_lazy("Reason"), lambda row: str(row.move.get_reason_display())),
    Column(gettext_lazy("Lot"), lambda row: row.move.lot.code if row.move.lot else ""),
    Column(gettext_lazy("Quantity"), lambda row: row.move.quantity),
    Column(gettext_lazy("Unit"), lambda row: row.move.item.base_unit.code),
    Column(gettext_lazy("Unit cost"), lambda row: row.move.unit_cost),
    Column(gettext_lazy("Value"), lambda row: row.move.value),
    Column(gettext_lazy("Currency"), lambda row: str(row.move.site.legal_entity.base_currency)),
    Column(gettext_lazy("Document"), lambda row: row.label),
    Column(gettext_lazy("Posting"), lambda row: row.move.posting_id),
]


def _movement_export_rows(moves: QuerySet[StockMove]) -> Iterator[reports.MovementRow]:
    """The moves with their documents' names, a chunk at a time (one query for a chunk's
    dishes, none per row)."""
    for chunk in batched(moves.iterator(chunk_size=EXPORT_CHUNK), EXPORT_CHUNK):
        yield from reports.movement_rows(chunk)


@page(INVENTORY_VIEW)
def item_movements(request: HttpRequest, item_id: int) -> HttpResponse:
    """An item's latest moves at the stores the user may see, each linked to its document;
    `?export=xlsx|csv` downloads every one of the item's moves (the store filter kept), not
    only the latest ones shown."""
    item = Item.objects.select_related("base_unit").filter(pk=item_id).first()
    if item is None:
        raise NotFound()
    site = _visible_site(request)
    sites = list(reports.visible_sites(request.user))
    if not sites:
        raise NotFound()
    # The location's store code is shown on every row: one join, not two queries per row.
    history = selectors.movement_history(request.user, item, site=site)
    if wanted := export_format(request):
        every = history.select_related("site__node", "site__legal_entity", "item__base_unit")
        return export_table(
            wanted, "item-movements", MOVEMENT_COLUMNS, _movement_export_rows(every)
        )
    moves = list(history.select_related("location__site__node")[:MOVES_SHOWN])
    return render_page(
        request,
        "inventory/report_movements.html",
        {
            "title": _("Movements of %(item)s") % {"item": item.name},
            "item": item,
            "rows": reports.movement_rows(moves),
            "sites": sites,
            "site": site,
        },
    )


def _avt_params(request: HttpRequest) -> dict[str, Any]:
    """Node and period from the query; defaults: the user's first node, the last 4 weeks."""
    nodes = reports.report_nodes(request.user)
    node_id = posted_id(request.GET.get("node_id"))
    if node_id is not None:
        node = reports.get_report_node(request.user, node_id)
    elif nodes:
        # The narrowest node that still holds every visible store: a store manager's store,
        # a region manager's region; HQ gets its first region.
        stores = [node for node in nodes if node.kind == "store"]
        node = (
            stores[0]
            if len(stores) == 1
            else next((node for node in nodes if node.kind == "region"), nodes[0])
        )
    else:
        raise NotFound()
    yesterday = open_business_day() - dt.timedelta(days=1)  # the last day every store closed
    date_to = _date(request.GET.get("date_to")) or yesterday
    date_from = _date(request.GET.get("date_from")) or date_to - dt.timedelta(days=27)
    return {
        "nodes": nodes,
        "node": node,
        "date_from": date_from,
        "date_to": date_to,
        "category_id": posted_id(request.GET.get("category")),
    }


@page(INVENTORY_VIEW)
def avt(request: HttpRequest) -> HttpResponse:
    """Actual vs theoretical usage for a store or region and a period; chart of the largest
        variances, sortable table, drill-down per item; `?export=xlsx|csv` downloads the table in
    the page's sort."""
    params = _avt_params(request)
    sort = request.GET.get("sort", "variance_value")
    if sort not in SORTS:
        sort = "variance_value"
    report = None
    error = None
    try:
        report = reports.avt(
            request.user,
            node=params["node"],
            date_from=params["date_from"],
            date_to=params["date_to"],
            category=params["category_id"],
        )
        report.rows.sort(key=SORTS[sort])
    except ValidationFailed as failure:
        error = failure.message
    if file_type := export_format(request):
        return _avt_download(file_type, report, error)
    query = (
        f"node_id={params['node'].pk}&date_from={params['date_from']}"
        f"&date_to={params['date_to']}"
        + (f"&category={params['category_id']}" if params["category_id"] else "")
    )
    chart = []
    if report is not None:
        top = sorted(
            (row for row in report.rows if row.variance_value),
            key=lambda row: -abs(row.variance_value),
        )[:12]
        chart = [{"name": row.name, "value": str(row.variance_value)} for row in top]
    return render_page(
        request,
        "inventory/avt.html",
        {
            "title": _("Actual vs theoretical"),
            "report": report,
            "error": error,
            "sort": sort,
            "query": query,
            "chart": chart,
            "categories": _categories(),
            **params,
        },
        status=422 if error else 200,
    )


@page(INVENTORY_VIEW)
def avt_item(request: HttpRequest, item_id: int) -> HttpResponse:
    """Drill-down (HTMX fragment): an item's moves in the AvT period at the node's stores."""
    params = _avt_params(request)
    item = Item.objects.select_related("base_unit").filter(pk=item_id).first()
    if item is None:
        raise NotFound()
    rows = reports.avt_moves(
        request.user,
        node=params["node"],
        date_from=params["date_from"],
        date_to=params["date_to"],
        item=item,
    )
    return render_page(
        request,
        "inventory/avt_moves.html",
        {"title": item.name, "item": item, "rows": rows, **params},
        partial="moves",
    )


def _avt_download(
    file_type: str, report: reports.AvtReport | None, error: str | None
) -> HttpResponse:
    """The report's table (its rows, then the totals) as .xlsx or CSV, the same in both."""
    if report is None:
        return HttpResponse(error, status=422, content_type="text/plain; charset=utf-8")
    name = reports.avt_filename(report).removesuffix(".csv")
    return export_report(file_type, name, reports.avt_csv_rows(report), numbers=AVT_NUMBERS)


@page(INVENTORY_VIEW)
def avt_export(request: HttpRequest) -> HttpResponse:
    """The AvT report as CSV (UTF-8 with BOM): the old address of the page's `?export=csv`."""
    params = _avt_params(request)
    try:
        report = reports.avt(
            request.user,
            node=params["node"],
            date_from=params["date_from"],
            date_to=params["date_to"],
            category=params["category_id"],
        )
    except ValidationFailed as failure:
        return _avt_download("csv", None, failure.message)
    return _avt_download("csv", report, None)


urlpatterns = [
    path("", on_hand, name="stock_home"),
    path("on-hand/", on_hand, name="on_hand"),
    path("expiring/", expiring, name="expiring"),
    path("items/<int:item_id>/movements/", item_movements, name="item_movements"),
    path("avt/", avt, name="avt"),
    path("avt/export.csv", avt_export, name="avt_export"),
    path("avt/items/<int:item_id>/", avt_item, name="avt_item"),
]
