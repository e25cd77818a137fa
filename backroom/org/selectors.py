"""Reads of the org tree, scoped to the actor."""

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from backroom.accounts.permissions import ORG_VIEW
from backroom.kernel.dates import earliest_business_date
from backroom.kernel.exceptions import NotFound
from backroom.org.choices import SITE_KINDS, NodeKind
from backroom.org.models import Brand, LegalEntity, OrgNode, Site


def nodes_for(actor: Any, permission: str = ORG_VIEW) -> QuerySet[OrgNode]:
    """Org nodes the actor may see with `permission`, in tree order."""
    return OrgNode.objects.restrict(actor, permission).order_by("path")


def get_node(actor: Any, node_id: int, permission: str = ORG_VIEW) -> OrgNode:
    try:
        return nodes_for(actor, permission).get(pk=node_id)
    except OrgNode.DoesNotExist:
        raise NotFound() from None


def get_node_by_code(actor: Any, code: str, permission: str = ORG_VIEW) -> OrgNode:
    try:
        return nodes_for(actor, permission).get(code=code)
    except OrgNode.DoesNotExist:
        raise NotFound() from None


def sites_for(actor: Any, permission: str = ORG_VIEW) -> QuerySet[Site]:
    """Stores, warehouses and kitchens the actor may see."""
    return (
        Site.objects.restrict(actor, permission)
        .select_related("node", "node__parent", "legal_entity__node", "brand")
        .order_by("node__path")
    )


def stores_for(actor: Any, permission: str = ORG_VIEW) -> list[Site]:
    """The stores (not warehouses or kitchens) the actor holds `permission` at, by tree order."""
    return list(sites_for(actor, permission).filter(node__kind=NodeKind.STORE))


def get_site(actor: Any, site_id: int, permission: str = ORG_VIEW) -> Site:
    try:
        return sites_for(actor, permission).get(pk=site_id)
    except Site.DoesNotExist:
        raise NotFound() from None


def legal_entities_for(actor: Any, permission: str = ORG_VIEW) -> QuerySet[LegalEntity]:
    return (
        LegalEntity.objects.restrict(actor, permission)
        .select_related("node")
        .order_by("node__path")
    )


def legal_entity_of(node: OrgNode) -> LegalEntity | None:
    """The legal entity a node belongs to: itself or its nearest entity ancestor."""
    ids = node.ancestor_ids()
    return LegalEntity.objects.filter(node_id__in=ids).order_by("-node__depth").first()


def tree_rows(actor: Any) -> list[dict[str, Any]]:
    """The visible tree as indented rows for pages, with each site's details attached."""
    nodes = list(nodes_for(actor).select_related("site", "legal_entity"))
    visible_depth = min((n.depth for n in nodes), default=0)
    return [
        {
            "node": node,
            "indent": node.depth - visible_depth,
            "site": getattr(node, "site", None) if node.kind in SITE_KINDS else None,
            "entity": getattr(node, "legal_entity", None),
        }
        for node in nodes
    ]


def brands_for(actor: Any) -> QuerySet[Brand]:
    """Brands are a chain-wide dimension: every user who may see any part of the org sees them."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return Brand.objects.none()
    if not actor.has_scoped_permission(ORG_VIEW):
        return Brand.objects.none()
    return Brand.objects.order_by("code")


def open_business_day(now: dt.datetime | None = None) -> dt.date:
    """The earliest business day a store may still be trading on: the earliest business date
    of the active stores (a store's day runs to its cutoff hour, past midnight); the chain's
    calendar date without stores. What "today" is for the chain as a whole: days before it
    are closed everywhere."""
    return open_business_day_of(store_zones(), now)


def store_zones() -> list[tuple[str, int]]:
    """The (time zone, cut-off hour) pairs of the active stores, each once."""
    return list(
        Site.objects.filter(node__kind=NodeKind.STORE, node__is_active=True)
        .values_list("time_zone", "cutoff_hour")
        .distinct()
    )


def open_business_day_of(zones: list[tuple[str, int]], now: dt.datetime | None = None) -> dt.date:
    """`open_business_day` from the stores' zones read before (`store_zones`), or from the
    zones of some stores (their own "today")."""
    now = now or timezone.now()
    return (
        earliest_business_date(now, zones)
        or timezone.localtime(now, timezone.get_default_timezone()).date()
    )
