"""Org tree API: nodes and their subtree, sites, legal entities, brands."""

from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest
from ninja import Path, Query, Router, Status
from ninja.pagination import paginate

from backroom.config.api_support import ObjectId, Pagination, errors
from backroom.kernel.exceptions import NotFound
from backroom.org import selectors, services
from backroom.org.models import Brand, LegalEntity, OrgNode, Site
from backroom.org.schemas import (
    BrandFilter,
    BrandIn,
    BrandOut,
    LegalEntityFilter,
    LegalEntityOut,
    NodeFilter,
    NodeIn,
    NodeOut,
    NodeTreeOut,
    SiteFilter,
    SiteOut,
    SitePatch,
)

router = Router(tags=["org"])


def _search(queryset: QuerySet[Any], term: str | None, code: str, name: str) -> QuerySet[Any]:
    if not term:
        return queryset
    return queryset.filter(Q(**{f"{code}__icontains": term}) | Q(**{f"{name}__icontains": term}))


# --- nodes ---------------------------------------------------------------------------------


@router.get("/nodes", response={200: list[NodeOut], **errors()})
@paginate(Pagination)
def list_nodes(request: HttpRequest, filters: Query[NodeFilter]) -> QuerySet[OrgNode]:
    """Org nodes in tree order, within the caller's scope."""
    nodes = selectors.nodes_for(request.user)
    if filters.kind:
        nodes = nodes.filter(kind=filters.kind)
    if filters.parent_id is not None:
        nodes = nodes.filter(parent_id=filters.parent_id)
    if filters.is_active is not None:
        nodes = nodes.filter(is_active=filters.is_active)
    return _search(nodes, filters.search, "code", "name")


@router.get("/nodes/{node_id}", response={200: NodeOut, **errors(404)})
def get_node(request: HttpRequest, node_id: Path[ObjectId]) -> OrgNode:
    return selectors.get_node(request.user, node_id)


@router.get("/nodes/{node_id}/children", response={200: list[NodeOut], **errors(404)})
@paginate(Pagination)
def list_children(request: HttpRequest, node_id: Path[ObjectId]) -> QuerySet[OrgNode]:
    """The direct children of a node that the caller may see."""
    node = selectors.get_node(request.user, node_id)
    return selectors.nodes_for(request.user).filter(parent_id=node.pk)


@router.get("/nodes/{node_id}/tree", response={200: NodeTreeOut, **errors(404)})
def get_tree(request: HttpRequest, node_id: Path[ObjectId]) -> dict[str, Any]:
    """A node with its whole visible subtree nested under `children` (one query)."""
    node = selectors.get_node(request.user, node_id)
    rows = list(selectors.nodes_for(request.user).filter(path__startswith=node.path))
    by_id: dict[int, dict[str, Any]] = {}
    for row in rows:  # tree order: a parent always comes before its children
        by_id[row.pk] = {
            "id": row.pk,
            "kind": row.kind,
            "code": row.code,
            "name": row.name,
            "parent_id": row.parent_id,
            "depth": row.depth,
            "is_active": row.is_active,
            "children": [],
        }
        parent = by_id.get(row.parent_id or 0) if row.pk != node.pk else None
        if parent is not None:
            parent["children"].append(by_id[row.pk])
    return by_id[node.pk]


@router.post("/nodes", response={201: NodeOut, **errors(400, 403, 404)})
def create_node(request: HttpRequest, payload: NodeIn) -> Status[OrgNode]:
    """Create a node (with its legal-entity or site details) under `parent_id`."""
    node = services.create_node(
        services.NodeInput(
            kind=payload.kind, code=payload.code, name=payload.name, parent_id=payload.parent_id
        ),
        actor=request.user,
        entity=services.EntityDetails(**payload.entity.dict()) if payload.entity else None,
        site=services.SiteDetails(**payload.site.dict()) if payload.site else None,
    )
    return Status(201, node)


# --- sites ---------------------------------------------------------------------------------


@router.get("/sites", response={200: list[SiteOut], **errors()})
@paginate(Pagination)
def list_sites(request: HttpRequest, filters: Query[SiteFilter]) -> QuerySet[Site]:
    """Stores, warehouses and central kitchens within the caller's scope, in tree order."""
    sites = selectors.sites_for(request.user)
    if filters.kind:
        sites = sites.filter(node__kind=filters.kind)
    if filters.status:
        sites = sites.filter(status=filters.status)
    if filters.brand:
        sites = sites.filter(brand__code=filters.brand)
    if filters.legal_entity_id is not None:
        sites = sites.filter(legal_entity_id=filters.legal_entity_id)
    if filters.city:
        sites = sites.filter(city__iexact=filters.city)
    return _search(sites, filters.search, "node__code", "node__name")


@router.get("/sites/{site_id}", response={200: SiteOut, **errors(404)})
def get_site(request: HttpRequest, site_id: Path[ObjectId]) -> Site:
    return selectors.get_site(request.user, site_id)


@router.patch("/sites/{site_id}", response={200: SiteOut, **errors(400, 403, 404)})
def update_site(request: HttpRequest, site_id: Path[ObjectId], payload: SitePatch) -> Site:
    """Change a site's details; only the fields sent are changed."""
    site = selectors.get_site(request.user, site_id)
    data = payload.dict(exclude_unset=True)
    reason = data.pop("reason", "")
    services.update_site(site, services.SiteChanges(**data), actor=request.user, reason=reason)
    return selectors.get_site(request.user, site_id)


# --- legal entities ------------------------------------------------------------------------


@router.get("/legal-entities", response={200: list[LegalEntityOut], **errors()})
@paginate(Pagination)
def list_legal_entities(
    request: HttpRequest, filters: Query[LegalEntityFilter]
) -> QuerySet[LegalEntity]:
    """Legal entities within the caller's scope."""
    entities = selectors.legal_entities_for(request.user)
    if filters.country:
        entities = entities.filter(country__iexact=filters.country)
    if filters.base_currency:
        entities = entities.filter(base_currency__iexact=filters.base_currency)
    return _search(entities, filters.search, "node__code", "node__name")


@router.get("/legal-entities/{entity_id}", response={200: LegalEntityOut, **errors(404)})
def get_legal_entity(request: HttpRequest, entity_id: Path[ObjectId]) -> LegalEntity:
    try:
        return selectors.legal_entities_for(request.user).get(pk=entity_id)
    except LegalEntity.DoesNotExist:
        raise NotFound() from None


# --- brands --------------------------------------------------------------------------------


@router.get("/brands", response={200: list[BrandOut], **errors()})
@paginate(Pagination)
def list_brands(request: HttpRequest, filters: Query[BrandFilter]) -> QuerySet[Brand]:
    """Brands are a dimension shared by the chain: anyone who may see part of the tree sees them."""
    return _search(selectors.brands_for(request.user), filters.search, "code", "name")


@router.post("/brands", response={201: BrandOut, **errors(400, 403)})
def create_brand(request: HttpRequest, payload: BrandIn) -> Status[Brand]:
    return Status(201, services.create_brand(payload.code, payload.name, actor=request.user))
