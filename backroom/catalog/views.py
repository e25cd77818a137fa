"""Catalog pages: the item list, an item with its units, recipe and prices, and a cost card
per store (phone-friendly)."""

from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from backroom.catalog import costing, selectors, units
from backroom.catalog.choices import RECIPE_KINDS, SELLABLE_KINDS, STOCKED_KINDS, ItemKind
from backroom.catalog.exceptions import RecipeNotFound
from backroom.catalog.permissions import CATALOG_VIEW
from backroom.imports.links import round_trip_exports
from backroom.web.errors import page
from backroom.web.rendering import render_page

PAGE_SIZE = 50
ROUND_TRIP_EXPORTS = ("items", "recipes")


@page(CATALOG_VIEW)
def item_list(request: HttpRequest) -> HttpResponse:
    """Items with their base unit and units; search by SKU, name or barcode; filter by kind.
    Its exports are the importers' (items with their units, and recipes), offered to those who
    may import them, so that a file exported, edited and imported again round-trips; the items
    export keeps the page's filters."""
    items = selectors.filter_items(selectors.items_for(request.user), request.GET)
    kind = request.GET.get("kind", "")
    search = request.GET.get("q", "").strip()[:100]
    paginator = Paginator(items, PAGE_SIZE)
    page_obj = paginator.get_page(request.GET.get("page"))
    return render_page(
        request,
        "catalog/item_list.html",
        {
            "title": _("Catalog"),
            "page_obj": page_obj,
            "kinds": ItemKind.choices,
            "kind": kind,
            "search": search,
            "exports": round_trip_exports(request.user, ROUND_TRIP_EXPORTS, request.GET),
            # An HTMX filter change swaps the table; the export buttons follow out of band.
            "exports_out_of_band": request.headers.get("HX-Request") == "true",
        },
        partial="results",
    )


@page(CATALOG_VIEW)
def item_detail(request: HttpRequest, item_id: int) -> HttpResponse:
    """An item: details, units with their conversion, current recipe and versions, prices."""
    user = request.user
    item = selectors.get_item(user, item_id)
    versions = list(selectors.recipes_for(user, item)) if item.kind in RECIPE_KINDS else []
    today = selectors.site_today(None)
    current = next((recipe for recipe in versions if recipe.is_effective_on(today)), None)
    unit_rows = [
        {"unit": unit, "conversion": units.describe(item, unit.code)} for unit in item.units.all()
    ]
    return render_page(
        request,
        "catalog/item_detail.html",
        {
            "title": item.name,
            "item": item,
            "unit_rows": unit_rows,
            "versions": versions,
            "current": current,
            "prices": selectors.menu_prices_for(user, item) if item.kind in SELLABLE_KINDS else [],
            "sites": selectors.sites_for_catalog(user).order_by("node__path"),
            "has_cost_card": item.kind in RECIPE_KINDS or item.kind in STOCKED_KINDS,
        },
    )


@page(CATALOG_VIEW)
def cost_card(request: HttpRequest, item_id: int) -> HttpResponse:
    """The cost card of an item at a store (chain default without one)."""
    user = request.user
    item = selectors.get_item(user, item_id)
    sites = selectors.sites_for_catalog(user).order_by("node__path")
    site = None
    site_id = request.GET.get("site", "")
    if site_id.isdigit():
        site = selectors.get_site_for_catalog(user, int(site_id))
    card: Any = None
    problem = ""
    try:
        card = costing.cost_card(item, site)
    except RecipeNotFound as error:
        problem = error.message
    return render_page(
        request,
        "catalog/cost_card.html",
        {
            "title": _("Cost card: %(item)s") % {"item": item.name},
            "item": item,
            "site": site,
            "sites": sites,
            "card": card,
            "problem": problem,
        },
    )
