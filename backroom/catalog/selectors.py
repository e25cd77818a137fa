"""Reads of the catalog, scoped to the actor.

Catalog master data (units, items, recipes, modifiers) is chain-wide: whoever holds
`catalog.view` (or `catalog.manage`) anywhere in the tree sees all of it. Menu prices and cost
cards of a site need `catalog.view` at that site: store A's user gets 404 for store B.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Case, F, Prefetch, Q, QuerySet, When
from django.utils import timezone

from backroom.catalog.batch import cached
from backroom.catalog.choices import ItemKind
from backroom.catalog.models import (
    Category,
    Item,
    ItemClass,
    ItemUnit,
    MenuPrice,
    Modifier,
    Recipe,
    RecipeLine,
    Unit,
)
from backroom.catalog.permissions import CATALOG_MANAGE, CATALOG_VIEW
from backroom.kernel.dates import business_date
from backroom.kernel.exceptions import NotFound
from backroom.org.choices import NodeKind
from backroom.org.models import OrgNode, Site


def root_node() -> OrgNode | None:
    """The group node at the root of the tree, where catalog master data is managed."""
    return cached("root", lambda: OrgNode.objects.filter(kind=NodeKind.GROUP).first())


def can_view(actor: Any) -> bool:
    """Holds catalog.view or catalog.manage anywhere (master data is chain-wide)."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return False
    return bool(
        actor.has_scoped_permission(CATALOG_VIEW) or actor.has_scoped_permission(CATALOG_MANAGE)
    )


def can_manage(actor: Any) -> bool:
    """Holds catalog.manage at the root group node (or is the system / a superuser)."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return False
    paths = actor.scope_paths(CATALOG_MANAGE)
    if paths is None:  # unrestricted: the system actor, a superuser
        return True
    root = root_node()
    if root is None:
        return bool(paths)
    return any(root.path.startswith(path) for path in paths)


def _visible(actor: Any, queryset: QuerySet[Any]) -> QuerySet[Any]:
    return queryset if can_view(actor) else queryset.none()


def units_for(actor: Any) -> QuerySet[Unit]:
    return _visible(actor, Unit.objects.order_by("dimension", "to_reference", "code"))


def item_classes_for(actor: Any) -> QuerySet[ItemClass]:
    return _visible(actor, ItemClass.objects.order_by("code"))


def get_item_class(actor: Any, item_class_id: int) -> ItemClass:
    try:
        return item_classes_for(actor).get(pk=item_class_id)
    except ItemClass.DoesNotExist:
        raise NotFound() from None


def categories_for(actor: Any) -> QuerySet[Category]:
    return _visible(actor, Category.objects.select_related("parent").order_by("code"))


def items_for(actor: Any) -> QuerySet[Item]:
    """Items with their base unit, class and category; their units prefetched."""
    return _visible(
        actor,
        Item.objects.select_related("base_unit", "item_class", "category")
        .prefetch_related(Prefetch("units", queryset=ItemUnit.objects.order_by("factor", "code")))
        .order_by("sku"),
    )


def search_items(queryset: QuerySet[Item], term: str | None) -> QuerySet[Item]:
    """Items whose SKU, name or barcode contains `term`."""
    if not term:
        return queryset
    return queryset.filter(
        Q(sku__icontains=term) | Q(name__icontains=term) | Q(barcode__icontains=term)
    )


def filter_items(queryset: QuerySet[Item], filters: Any) -> QuerySet[Item]:
    """The item list's filters (a query string's `kind` and `q`), also kept by the items
    importer's export from that page: a kind that is not one is ignored."""
    kind = filters.get("kind", "")
    if kind in ItemKind.values:
        queryset = queryset.filter(kind=kind)
    return search_items(queryset, filters.get("q", "").strip()[:100])


def get_item(actor: Any, item_id: int) -> Item:
    try:
        return items_for(actor).get(pk=item_id)
    except Item.DoesNotExist:
        raise NotFound() from None


def get_item_by_sku(actor: Any, sku: str) -> Item:
    try:
        return items_for(actor).get(sku=sku)
    except Item.DoesNotExist:
        raise NotFound() from None


def get_item_unit(actor: Any, item: Item, item_unit_id: int) -> ItemUnit:
    if not can_view(actor):
        raise NotFound()
    try:
        return ItemUnit.objects.select_related("item__base_unit").get(pk=item_unit_id, item=item)
    except ItemUnit.DoesNotExist:
        raise NotFound() from None


def modifiers_for(actor: Any) -> QuerySet[Modifier]:
    return _visible(
        actor,
        Modifier.objects.prefetch_related("effects__item", "effects__replacement").order_by("code"),
    )


def get_modifier(actor: Any, modifier_id: int) -> Modifier:
    try:
        return modifiers_for(actor).get(pk=modifier_id)
    except Modifier.DoesNotExist:
        raise NotFound() from None


def _recipes() -> QuerySet[Recipe]:
    lines = (
        RecipeLine.objects.select_related("component__base_unit")
        .prefetch_related("component__units")
        .order_by("position", "id")
    )
    return Recipe.objects.select_related("item__base_unit").prefetch_related(
        Prefetch("lines", queryset=lines)
    )


def recipes_for(actor: Any, item: Item) -> QuerySet[Recipe]:
    """Every version of an item's recipe, newest first."""
    return _visible(actor, _recipes().filter(item=item).order_by("-version"))


def get_recipe(actor: Any, item: Item, version: int) -> Recipe:
    try:
        return recipes_for(actor, item).get(version=version)
    except Recipe.DoesNotExist:
        raise NotFound() from None


def effective_recipe(item: Item, on: dt.date) -> Recipe | None:
    """The version of the item's recipe effective on `on` (no actor: for services and explode)."""
    return (
        _recipes()
        .filter(item=item, effective_from__lte=on)
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gt=on))
        .order_by("-effective_from")
        .first()
    )


def has_effective_recipe(item: Item, on: dt.date) -> bool:
    """Whether a version of the item's recipe is effective on `on` (one cheap query)."""
    return (
        Recipe.objects.filter(item=item, effective_from__lte=on)
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gt=on))
        .exists()
    )


def sites_for_catalog(actor: Any) -> QuerySet[Site]:
    """Sites whose menu prices and cost cards the actor may see."""
    return Site.objects.restrict(actor, CATALOG_VIEW).select_related("node", "legal_entity")


def get_site_for_catalog(actor: Any, site_id: int) -> Site:
    try:
        return sites_for_catalog(actor).get(pk=site_id)
    except Site.DoesNotExist:
        raise NotFound() from None


def menu_price(item: Item, site: Site | None, on: dt.date) -> MenuPrice | None:
    """The price effective on `on` (no actor): the site's own, else the chain price in the
    site's currency, else the newest chain price in any currency (CNY first on a tie)."""
    prices = MenuPrice.objects.filter(item=item, effective_from__lte=on).order_by(
        "-effective_from", "currency"
    )
    chain = prices.filter(site__isnull=True)
    if site is not None:
        own = prices.filter(site=site).first()
        if own is not None:
            return own
        local = chain.filter(currency=site.legal_entity.base_currency).first()
        if local is not None:
            return local
    return chain.order_by("-effective_from", Case(When(currency="CNY", then=0), default=1)).first()


def menu_prices_for(actor: Any, item: Item) -> QuerySet[MenuPrice]:
    """An item's chain prices and the prices of the sites the actor may see."""
    if not can_view(actor):
        return MenuPrice.objects.none()
    visible_sites = sites_for_catalog(actor).values("pk")
    return (
        MenuPrice.objects.filter(item=item)
        .filter(Q(site__isnull=True) | Q(site__in=visible_sites))
        .select_related("site__node")
        .order_by(F("site_id").asc(nulls_first=True), "currency", "-effective_from")
    )


def site_today(site: Site | None) -> dt.date:
    """The site's current business date (the server's local date without a site)."""
    if site is None:
        return timezone.localdate()
    return business_date(timezone.now(), time_zone=site.time_zone, cutoff_hour=site.cutoff_hour)
