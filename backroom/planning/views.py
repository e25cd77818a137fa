"""Planning pages: a store's forecast (next days per menu item and guests, with each series'
model and backtest accuracy), the accuracy report per store and item against seasonal naive,
and the planning calendar (holidays, promotions, closures, planned events).

Thin views: parse what was posted, call `planning.services`, redirect back with a message.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from backroom.catalog.choices import ItemKind
from backroom.catalog.models import Item
from backroom.catalog.selectors import site_today
from backroom.kernel.exceptions import DomainError, NotFound, ValidationFailed
from backroom.org.models import OrgNode, Site
from backroom.org.selectors import get_node, get_site, stores_for
from backroom.planning import selectors, services, suggestions
from backroom.planning.permissions import PLANNING_MANAGE, PLANNING_VIEW
from backroom.web.errors import page, problems_text
from backroom.web.exports import Column, export_format, export_table
from backroom.web.forms import posted_id
from backroom.web.rendering import render_page

SHOWN_DAYS = 14


def _chosen_store(request: HttpRequest, stores: list[Site]) -> Site | None:
    site_id = posted_id(request.GET.get("store"))
    if site_id:
        return get_site(request.user, site_id, PLANNING_VIEW)
    return stores[0] if stores else None


@page(PLANNING_VIEW)
def forecasts(request: HttpRequest) -> HttpResponse:
    """A store's forecast for the next two weeks."""
    stores = stores_for(request.user, PLANNING_VIEW)
    site = _chosen_store(request, stores)
    run = selectors.last_good_run()
    start = (run.as_of + dt.timedelta(days=1)) if run else site_today(site)
    context: dict[str, Any] = {
        "title": _("Forecasts"),
        "stores": stores,
        "site": site,
        "run": run,
        "latest": selectors.latest_run(),
        "dates": [],
        "rows": [],
        "may_manage": request.user.has_scoped_permission(PLANNING_MANAGE),  # type: ignore[union-attr]
    }
    if site is not None:
        context["dates"], context["rows"] = selectors.forecast_table(
            request.user, site, start, SHOWN_DAYS
        )
    if wanted := export_format(request):
        cells = [
            (site, row, day, quantity)
            for row in context["rows"]
            for day, quantity in zip(context["dates"], row.cells, strict=True)
            if quantity is not None
        ]
        return export_table(wanted, "forecasts", FORECAST_COLUMNS, cells)
    # An HTMX store change swaps the table; the export buttons follow out of band.
    context["exports_out_of_band"] = request.headers.get("HX-Request") == "true"
    return render_page(request, "planning/forecasts.html", context, partial="table")


# One row per series and day: (store, forecast row, date, quantity).
FORECAST_COLUMNS = [
    Column(gettext_lazy("Store code"), lambda cell: cell[0].node.code),
    Column(gettext_lazy("Store"), lambda cell: cell[0].node.name),
    Column(gettext_lazy("SKU"), lambda cell: cell[1].item.sku if cell[1].item else ""),
    Column(
        gettext_lazy("Item"),
        lambda cell: cell[1].item.name if cell[1].item else _("Guests (orders)"),
    ),
    Column(gettext_lazy("Date"), lambda cell: cell[2]),
    Column(gettext_lazy("Forecast"), lambda cell: cell[3]),
    Column(gettext_lazy("Model"), lambda cell: cell[1].model),
]


@page(PLANNING_MANAGE)
@require_POST
def refresh(request: HttpRequest) -> HttpResponse:
    """Start a refresh on the worker (the nightly run, now)."""
    from backroom.planning.jobs import refresh_forecasts_now

    refresh_forecasts_now(request.user.pk)
    messages.success(
        request, _("The forecasts are being refreshed; this page shows them when done.")
    )
    return redirect(reverse("planning:forecasts"))


@page(PLANNING_VIEW)
def suggested(request: HttpRequest) -> HttpResponse:
    """A store's suggested orders of the day, one card per supplier, warehouse or central
    kitchen, each line explained."""
    stores = stores_for(request.user, PLANNING_VIEW)
    return _suggestions_page(request, stores, _chosen_store(request, stores))


def _suggestions_page(
    request: HttpRequest,
    stores: list[Site],
    site: Site | None,
    edited: tuple[int, dict[int, str], dict[int, str]] | None = None,
) -> HttpResponse:
    """The page; `edited` (suggestion id, quantities and reasons per line id): a submission
    that was refused, shown again with what the manager typed, so nothing is lost."""
    orders = list(suggestions.suggestions_for(request.user, site)) if site else []
    if edited is not None:
        order_id, quantities, reasons = edited
        for order in orders:
            if order.pk == order_id:
                for line in order.lines.all():
                    line.entered_quantity = quantities.get(line.pk, "")
                    line.entered_reason = reasons.get(line.pk, "")
    context: dict[str, Any] = {
        "title": _("Suggested orders"),
        "stores": stores,
        "site": site,
        "orders": orders,
        "may_rebuild": bool(
            site and request.user.has_scoped_permission(PLANNING_MANAGE, site.node)  # type: ignore[union-attr]
        ),
    }
    return render_page(request, "planning/suggestions.html", context, partial="orders")


def _suggestions_url(site_id: int) -> str:
    return f"{reverse('planning:suggestions')}?store={site_id}"


@page(PLANNING_MANAGE)
@require_POST
def rebuild(request: HttpRequest) -> HttpResponse:
    """Suggest again now (after a delivery or a count), replacing the open suggestions."""
    site = get_site(request.user, posted_id(request.POST.get("store")) or 0, PLANNING_MANAGE)
    made = suggestions.build_suggestions(site)
    messages.success(request, _("%(count)d suggested orders made.") % {"count": len(made)})
    return redirect(_suggestions_url(site.pk))


@page(PLANNING_VIEW)
@require_POST
def submit(request: HttpRequest, order_id: int) -> HttpResponse:
    """Submit a suggestion with the manager's quantities as a requisition."""
    order = suggestions.get_suggestion(request.user, order_id)
    quantities: dict[int, str] = {}
    reasons: dict[int, str] = {}
    for line in order.lines.all():
        if f"quantity-{line.pk}" in request.POST:
            quantities[line.pk] = request.POST[f"quantity-{line.pk}"]
        reasons[line.pk] = request.POST.get(f"reason-{line.pk}", "")
    try:
        requisition = suggestions.submit_suggestion(order, quantities, reasons, actor=request.user)
    except DomainError as error:
        if error.http_status in (403, 404):
            raise
        messages.error(request, problems_text(error))
        stores = stores_for(request.user, PLANNING_VIEW)
        return _suggestions_page(request, stores, order.site, (order.pk, quantities, reasons))
    messages.success(
        request,
        _("Requisition %(number)s submitted.") % {"number": requisition.number},
    )
    return redirect(_suggestions_url(order.site_id))


ACCURACY_COLUMNS = [
    Column(gettext_lazy("Store code"), lambda row: row.site.node.code),
    Column(gettext_lazy("Store"), lambda row: row.site.node.name),
    Column(gettext_lazy("SKU"), lambda row: row.menu_item.sku if row.menu_item else ""),
    Column(
        gettext_lazy("Item"),
        lambda row: row.menu_item.name if row.menu_item else _("Guests (orders)"),
    ),
    Column(gettext_lazy("Model"), lambda row: row.model),
    Column(gettext_lazy("MASE"), lambda row: row.mase),
    Column(gettext_lazy("Seasonal naive MASE"), lambda row: row.naive_mase),
    Column(gettext_lazy("WAPE"), lambda row: row.wape),
    Column(gettext_lazy("Seasonal naive WAPE"), lambda row: row.naive_wape),
    Column(gettext_lazy("Bias"), lambda row: row.bias),
    Column(gettext_lazy("Daily error"), lambda row: row.error_scale),
    Column(gettext_lazy("Actual in backtest"), lambda row: row.actual_total),
]


@page(PLANNING_VIEW)
def accuracy(request: HttpRequest) -> HttpResponse:
    """Backtest accuracy of every series against seasonal naive, per store and item;
    `?export=xlsx|csv` downloads the rows (the store filter kept)."""
    stores = stores_for(request.user, PLANNING_VIEW)
    site_id = posted_id(request.GET.get("store"))
    site = get_site(request.user, site_id, PLANNING_VIEW) if site_id else None
    if wanted := export_format(request):
        found = selectors.accuracy_for(request.user, site)
        return export_table(wanted, "forecast-accuracy", ACCURACY_COLUMNS, found.iterator())
    rows = list(selectors.accuracy_for(request.user, site))
    context = {
        "title": _("Forecast accuracy"),
        "stores": stores,
        "site": site,
        "rows": rows,
        "summary": selectors.accuracy_summary(rows),
        "run": selectors.last_good_run(),
        # An HTMX store change swaps the table; the export buttons follow out of band.
        "exports_out_of_band": request.headers.get("HX-Request") == "true",
    }
    return render_page(request, "planning/accuracy.html", context, partial="table")


@page(PLANNING_VIEW)
def calendar(request: HttpRequest) -> HttpResponse:
    """Holidays, promotions, closures and planned events, with forms to add them."""
    today = timezone.localdate()
    context = {
        "title": _("Planning calendar"),
        "holidays": selectors.holidays_for(request.user).filter(
            date__gte=today - dt.timedelta(days=30)
        ),
        "promotions": selectors.promotions_for(request.user).filter(date_to__gte=today),
        "closures": selectors.closures_for(request.user).filter(date_to__gte=today),
        "events": selectors.events_for(request.user).filter(date__gte=today),
        "stores": stores_for(request.user, PLANNING_VIEW),
        "nodes": _planning_nodes(request),
        "menu_items": Item.objects.filter(kind=ItemKind.MENU, is_active=True).order_by("sku"),
        "may_manage": request.user.has_scoped_permission(PLANNING_MANAGE),  # type: ignore[union-attr]
        "posted": request.POST,
    }
    return render_page(request, "planning/calendar.html", context)


def _planning_nodes(request: HttpRequest) -> list[OrgNode]:
    from backroom.org.selectors import nodes_for

    return [node for node in nodes_for(request.user, PLANNING_MANAGE) if node.kind != "group"]


def _date(request: HttpRequest, name: str, errors: dict[str, list[str]]) -> dt.date | None:
    value = parse_date(request.POST.get(name, "") or "")
    if value is None:
        errors.setdefault(name, []).append(_("Enter a date."))
    return value


def _item(request: HttpRequest, *, required: bool) -> Item | None:
    item_id = posted_id(request.POST.get("menu_item"))
    if item_id is None:
        if required:
            raise ValidationFailed({"menu_item": [_("Choose a menu item.")]})
        return None
    item = Item.objects.filter(pk=item_id).first()
    if item is None:
        raise ValidationFailed({"menu_item": [_("Choose a menu item.")]})
    return item


def _save(request: HttpRequest, kind: str) -> None:
    errors: dict[str, list[str]] = {}
    if kind == "holiday":
        day = _date(request, "date", errors)
        node_id = posted_id(request.POST.get("node"))
        node = get_node(request.user, node_id, PLANNING_MANAGE) if node_id else None
        if errors:
            raise ValidationFailed(errors)
        services.save_holiday(
            request.user,
            country=request.POST.get("country", ""),
            date=day,  # type: ignore[arg-type]
            name=request.POST.get("name", ""),
            node=node,
            closes_stores=request.POST.get("closes_stores") == "on",
        )
    elif kind == "promotion":
        start, end = _date(request, "date_from", errors), _date(request, "date_to", errors)
        node = get_node(request.user, posted_id(request.POST.get("node")) or 0, PLANNING_MANAGE)
        item = _item(request, required=False)
        if errors:
            raise ValidationFailed(errors)
        services.save_promotion(
            request.user,
            node=node,
            name=request.POST.get("name", ""),
            date_from=start,  # type: ignore[arg-type]
            date_to=end,  # type: ignore[arg-type]
            menu_item=item,
        )
    elif kind == "closure":
        start, end = _date(request, "date_from", errors), _date(request, "date_to", errors)
        site = get_site(request.user, posted_id(request.POST.get("store")) or 0, PLANNING_MANAGE)
        if errors:
            raise ValidationFailed(errors)
        services.save_closure(
            request.user,
            site=site,
            date_from=start,  # type: ignore[arg-type]
            date_to=end,  # type: ignore[arg-type]
            reason=request.POST.get("reason", ""),
        )
    else:
        day = _date(request, "date", errors)
        site = get_site(request.user, posted_id(request.POST.get("store")) or 0, PLANNING_MANAGE)
        if errors:
            raise ValidationFailed(errors)
        services.save_event(
            request.user,
            site=site,
            date=day,  # type: ignore[arg-type]
            menu_item=_item(request, required=True),  # type: ignore[arg-type]
            quantity=request.POST.get("quantity", ""),
            note=request.POST.get("note", ""),
        )


SAVED = {
    "holiday": _("Holiday saved."),
    "promotion": _("Promotion saved."),
    "closure": _("Closure saved."),
    "event": _("Planned event saved."),
}


@page(PLANNING_MANAGE)
@require_POST
def add(request: HttpRequest, kind: str) -> HttpResponse:
    """Add a holiday, promotion, closure or planned event; every problem is shown at once."""
    if kind not in SAVED:
        raise NotFound()
    try:
        _save(request, kind)
    except DomainError as error:
        if error.http_status in (403, 404):
            raise
        messages.error(request, problems_text(error))
    else:
        messages.success(request, str(SAVED[kind]))
    return redirect(reverse("planning:calendar"))


@page(PLANNING_MANAGE)
@require_POST
def delete_holiday(request: HttpRequest, holiday_id: int) -> HttpResponse:
    holiday = selectors.holidays_for(request.user).filter(pk=holiday_id).first()
    if holiday is None:
        raise NotFound()
    services.delete_holiday(request.user, holiday)
    messages.success(request, _("Holiday removed."))
    return redirect(reverse("planning:calendar"))


urlpatterns = [
    path("", forecasts, name="forecasts"),
    path("refresh/", refresh, name="refresh"),
    path("accuracy/", accuracy, name="accuracy"),
    path("suggestions/", suggested, name="suggestions"),
    path("suggestions/rebuild/", rebuild, name="suggestions_rebuild"),
    path("suggestions/<int:order_id>/submit/", submit, name="suggestion_submit"),
    path("calendar/", calendar, name="calendar"),
    path("calendar/<str:kind>/", add, name="calendar_add"),
    path("calendar/holidays/<int:holiday_id>/delete/", delete_holiday, name="holiday_delete"),
]
