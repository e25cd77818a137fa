"""Stock report API (mounted at /api/v1/inventory/reports/): on hand with value, expiring lots,
item movements with their documents, and actual vs theoretical (JSON and CSV export).

Everything is scoped: a store's staff see their store, a region manager their region; a node,
site, location or item history outside the caller's scope is a 404."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Path, Query, Router

from backroom.catalog.models import Category, Item
from backroom.config.api_support import ObjectId, errors
from backroom.inventory import reports, selectors
from backroom.inventory.schemas import (
    AvtExportFilter,
    AvtFilter,
    AvtOut,
    ReportExpiringFilter,
    ReportMovementFilter,
    ReportMovementOut,
    ReportOnHandFilter,
    ReportOnHandOut,
    ReportOnHandRowOut,
    balance_row,
)
from backroom.kernel.exceptions import NotFound
from backroom.org.models import Site
from backroom.org.selectors import get_site

router = Router(tags=["inventory reports"])


def _site(request: HttpRequest, site_id: int | None) -> Site | None:
    return get_site(request.user, site_id) if site_id is not None else None


def _category(category_id: int | None) -> Category | None:
    if category_id is None:
        return None
    category = Category.objects.filter(pk=category_id).first()
    if category is None:
        raise NotFound()
    return category


def _item(item_id: int) -> Item:
    item = Item.objects.select_related("base_unit").filter(pk=item_id).first()
    if item is None:
        raise NotFound()
    return item


def on_hand_row(row: reports.OnHandRow, today: Any) -> dict[str, Any]:
    body = balance_row(row.balance, today)
    body.update(
        value=row.value,
        average_cost=row.average_cost,
        days_to_expiry=row.days_to_expiry,
        category=row.balance.item.category.name if row.balance.item.category else "",
    )
    return body


@router.get("/on-hand", response={200: ReportOnHandOut, **errors(404)})
def on_hand(request: HttpRequest, filters: Query[ReportOnHandFilter]) -> dict[str, Any]:
    """On hand by site, location and lot: value at the moving-average cost, days to expiry,
    totals over every matching row."""
    location = (
        selectors.get_location(request.user, filters.location_id) if filters.location_id else None
    )
    report = reports.on_hand_report(
        request.user,
        site=_site(request, filters.site_id),
        location=location,
        item=_item(filters.item_id) if filters.item_id else None,
        category=_category(filters.category_id),
    )
    today = timezone.localdate()
    return {
        "count": report.count,
        "truncated": report.truncated,
        "total_value": report.total_value,
        "total_quantity_by_unit": report.total_quantity_by_unit,
        "rows": [on_hand_row(row, today) for row in report.rows],
    }


@router.get("/expiring", response={200: list[ReportOnHandRowOut], **errors(404)})
def expiring(request: HttpRequest, filters: Query[ReportExpiringFilter]) -> list[dict[str, Any]]:
    """Lots expiring within `within_days` days, the expired ones still on hand first."""
    rows = reports.expiring_rows(
        request.user,
        within_days=filters.within_days,
        site=_site(request, filters.site_id),
        category=_category(filters.category_id),
    )
    today = timezone.localdate()
    return [on_hand_row(row, today) for row in rows]


def _movement(row: reports.MovementRow) -> dict[str, Any]:
    move = row.move
    return {
        **{
            name: getattr(move, name)
            for name in (
                "id",
                "posting_id",
                "item_id",
                "site_id",
                "location_id",
                "lot_id",
                "quantity",
                "unit_cost",
                "value",
                "reason",
                "source_type",
                "source_id",
                "source_number",
                "occurred_at",
                "recorded_at",
                "reverses_id",
            )
        },
        "location": str(move.location.code),
        "lot": move.lot.code if move.lot is not None else None,
        "posting_operation": move.posting.operation,
        "source_url": row.source_url,
    }


@router.get("/items/{item_id}/movements", response={200: list[ReportMovementOut], **errors(404)})
def item_movements(
    request: HttpRequest, item_id: Path[ObjectId], filters: Query[ReportMovementFilter]
) -> list[dict[str, Any]]:
    """The latest 500 moves of an item, newest first, each with its document's page."""
    location = (
        selectors.get_location(request.user, filters.location_id) if filters.location_id else None
    )
    moves = selectors.movement_history(
        request.user,
        _item(item_id),
        site=_site(request, filters.site_id),
        location=location,
        since=filters.since,
        until=filters.until,
    )[:500]
    return [_movement(row) for row in reports.movement_rows(list(moves))]


def _avt(request: HttpRequest, filters: AvtFilter) -> reports.AvtReport:
    return reports.avt(
        request.user,
        node=reports.get_report_node(request.user, filters.node_id),
        date_from=filters.date_from,
        date_to=filters.date_to,
        category=_category(filters.category_id),
        by_site=filters.by_site,
    )


def avt_body(report: reports.AvtReport) -> dict[str, Any]:
    def mark(count: reports.CountMark | None) -> dict[str, Any] | None:
        if count is None:
            return None
        return {"sheet_id": count.sheet_id, "number": count.number, "posted_at": count.posted_at}

    return {
        "node_id": report.node.pk,
        "date_from": report.date_from,
        "date_to": report.date_to,
        "currency": report.currency,
        "sales_revenue": report.sales_revenue,
        "actual_value": report.actual_value,
        "theoretical_value": report.theoretical_value,
        "variance_value": report.variance_value,
        "waste_value": report.waste_value,
        "variance_percent_of_sales": report.variance_percent_of_sales,
        "notes": [str(note) for note in report.notes],
        "sites": [
            {
                "site_id": site.site.pk,
                "code": site.site.node.code,
                "start": site.start,
                "end": site.end,
                "opening_count": mark(site.opening_count),
                "closing_count": mark(site.closing_count),
                "sales_revenue": site.sales_revenue,
            }
            for site in report.sites
        ],
        "categories": [vars(category) for category in report.categories],
        "rows": [{**vars(row), "site_id": getattr(row, "site_id", None)} for row in report.rows],
    }


@router.get("/avt", response={200: AvtOut, **errors(404)})
def avt(request: HttpRequest, filters: Query[AvtFilter]) -> dict[str, Any]:
    """Actual vs theoretical usage of a store or of a node's stores over business dates, per
    item (sorted by |variance value|) and per category. 422 `mixed_currencies` for a node whose
    stores keep books in different currencies."""
    return avt_body(_avt(request, filters))


@router.get("/avt/export", response={200: None, **errors(404)})
def avt_export(request: HttpRequest, filters: Query[AvtExportFilter]) -> HttpResponse:
    """The AvT report as CSV (UTF-8 with a byte-order mark, for Excel)."""
    report = _avt(request, filters)
    return csv_response(report)


def csv_response(report: reports.AvtReport) -> HttpResponse:
    response = HttpResponse(
        reports.to_csv(reports.avt_csv_rows(report)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{reports.avt_filename(report)}"'
    return response


@router.get("/avt/items/{item_id}/moves", response={200: list[ReportMovementOut], **errors(404)})
def avt_item_moves(
    request: HttpRequest, item_id: Path[ObjectId], filters: Query[AvtFilter]
) -> list[dict[str, Any]]:
    """Drill-down: an item's moves at the node's stores in the AvT period, oldest first."""
    rows = reports.avt_moves(
        request.user,
        node=reports.get_report_node(request.user, filters.node_id),
        date_from=filters.date_from,
        date_to=filters.date_to,
        item=_item(item_id),
    )
    return [_movement(row) for row in rows]
