"""Suppliers: the list and one supplier with its contacts, delivery calendars, the items it
sells (purchase unit, pack size, minimum order) and the prices in force today."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backroom.imports.links import round_trip_exports
from backroom.procurement import selectors
from backroom.procurement.models import DeliveryCalendar
from backroom.procurement.permissions import PROCUREMENT_VIEW
from backroom.web.errors import page
from backroom.web.rendering import render_page

ROUND_TRIP_EXPORTS = ("suppliers", "prices")

WEEKDAYS = {
    1: gettext_lazy("Mon"),
    2: gettext_lazy("Tue"),
    3: gettext_lazy("Wed"),
    4: gettext_lazy("Thu"),
    5: gettext_lazy("Fri"),
    6: gettext_lazy("Sat"),
    7: gettext_lazy("Sun"),
}


@page(PROCUREMENT_VIEW)
def supplier_list(request: HttpRequest) -> HttpResponse:
    """Suppliers serving the user's part of the chain. Its exports are the importers' (suppliers,
    and supplier items with prices), offered to those who may import them, so that a file
    exported, edited and imported again round-trips."""
    return render_page(
        request,
        "procurement/supplier_list.html",
        {
            "title": _("Suppliers"),
            "suppliers": list(selectors.suppliers_for(request.user)),
            "exports": round_trip_exports(request.user, ROUND_TRIP_EXPORTS),
        },
    )


def _weekday_names(days: list[int]) -> str:
    if sorted(days) == list(range(1, 8)):
        return _("every day")
    return " ".join(str(WEEKDAYS.get(day, day)) for day in sorted(days))


@page(PROCUREMENT_VIEW)
def supplier_detail(request: HttpRequest, supplier_id: int) -> HttpResponse:
    """One supplier: contacts, calendars, items and current prices."""
    supplier = selectors.get_supplier(request.user, supplier_id)
    today = timezone.localdate()
    lists = list(selectors.price_lists_for(request.user, supplier))
    current = [
        price_list
        for price_list in lists
        if price_list.is_active
        and price_list.valid_from <= today
        and (price_list.valid_to is None or price_list.valid_to >= today)
    ]
    # The group-wide list's price per item (a region's own list shown beside it).
    prices: dict[int, list[tuple[str, object]]] = {}
    for price_list in current:
        where = price_list.node.name if price_list.node else _("all stores")
        for line in price_list.lines.all():
            prices.setdefault(line.supplier_item_id, []).append((where, line.price))
    items = list(supplier.items.select_related("item").order_by("item__sku"))
    for row in items:
        row.current_prices = prices.get(row.pk, [])  # type: ignore[attr-defined]
    calendars = list(
        DeliveryCalendar.objects.filter(supplier=supplier)
        .select_related("node")
        .prefetch_related("exceptions")
        .order_by("node__path")
    )
    for calendar in calendars:
        calendar.weekday_names = _weekday_names(calendar.weekdays)  # type: ignore[attr-defined]
        calendar.upcoming = [  # type: ignore[attr-defined]
            exception
            for exception in calendar.exceptions.all()
            if exception.date >= today - dt.timedelta(days=1)
        ]
    return render_page(
        request,
        "procurement/supplier_detail.html",
        {
            "title": supplier.name,
            "supplier": supplier,
            "contacts": list(supplier.contacts.all()),
            "calendars": calendars,
            "items": items,
            "price_lists": lists,
        },
    )


urlpatterns = [
    path("suppliers/", supplier_list, name="supplier_list"),
    path("suppliers/<int:supplier_id>/", supplier_detail, name="supplier_detail"),
]
