"""Org pages: the tree, a site's details and edit form, a new node."""

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from backroom.accounts import permissions
from backroom.imports.links import round_trip_exports
from backroom.kernel.exceptions import PermissionDenied, ValidationFailed
from backroom.org import services
from backroom.org.choices import SITE_KINDS, NodeKind, SiteStatus
from backroom.org.selectors import brands_for, get_node, get_site, nodes_for, tree_rows
from backroom.web.errors import apply_errors, page
from backroom.web.forms import NodeForm, SiteForm
from backroom.web.rendering import render_page

ROUND_TRIP_EXPORTS = ("stores", "locations")


@page(permissions.ORG_VIEW)
def org_tree(request: HttpRequest) -> HttpResponse:
    """The visible part of the tree, indented, with each site's details. Its exports are the
    importers' (the tree with its stores, and their storage locations), offered to those who may
    import them, so that a file exported, edited and imported again round-trips."""
    user = request.user
    return render_page(
        request,
        "web/org_tree.html",
        {
            "title": _("Organisation"),
            "rows": tree_rows(user),
            "can_manage": user.has_scoped_permission(permissions.ORG_MANAGE),  # type: ignore[union-attr]
            "exports": round_trip_exports(user, ROUND_TRIP_EXPORTS),
        },
    )


def _site_initial(site: Any) -> dict[str, Any]:
    return {
        "name": site.node.name,
        "time_zone": site.time_zone,
        "cutoff_hour": site.cutoff_hour,
        "city": site.city,
        "address": site.address,
        "latitude": site.latitude,
        "longitude": site.longitude,
        "opening_date": site.opening_date,
        "status": site.status,
    }


@page(permissions.ORG_VIEW)
@require_http_methods(["GET", "POST"])
def site_detail(request: HttpRequest, site_id: int) -> HttpResponse:
    """A site's details; holders of org.manage there may edit them (all errors shown at once)."""
    user = request.user
    site = get_site(user, site_id)
    can_manage = user.has_scoped_permission(permissions.ORG_MANAGE, site.node)  # type: ignore[union-attr]
    status = 200
    form = SiteForm(initial=_site_initial(site)) if can_manage else None
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied()
        form = SiteForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            changes = services.SiteChanges(
                name=data["name"],
                time_zone=data["time_zone"],
                cutoff_hour=data["cutoff_hour"],
                city=data["city"],
                address=data["address"],
                latitude=data["latitude"],
                longitude=data["longitude"],
                opening_date=data["opening_date"],
                status=data["status"],
            )
            try:
                services.update_site(site, changes, actor=user, reason=data["reason"])
            except ValidationFailed as error:
                apply_errors(form, error)
            else:
                messages.success(request, _("Saved."))
                return redirect("web:site_detail", site_id=site.pk)
        status = 422
    return render_page(
        request,
        "web/site_detail.html",
        {"title": site.node.name, "site": site, "form": form, "can_manage": can_manage},
        status=status,
    )


@page(permissions.ORG_MANAGE)
@require_http_methods(["GET", "POST"])
def node_create(request: HttpRequest) -> HttpResponse:
    """Add a node (entity, region or site) under a node the user manages."""
    user = request.user
    parents = nodes_for(user, permissions.ORG_MANAGE).exclude(kind__in=SITE_KINDS)
    brands = list(brands_for(request.user))
    initial: dict[str, Any] = {}
    if request.GET.get("parent"):
        try:
            initial["parent"] = get_node(user, int(request.GET["parent"]), permissions.ORG_MANAGE)
        except ValueError:
            pass
    form = NodeForm(request.POST or None, parents=parents, brands=brands, initial=initial)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            data = form.cleaned_data
            kind = data["kind"]
            entity = None
            site = None
            if kind == NodeKind.ENTITY:
                entity = services.EntityDetails(
                    base_currency=data["base_currency"].strip().upper(),
                    country=data["country"].strip().upper(),
                    tax_id=data["tax_id"],
                )
            if kind in SITE_KINDS:
                site = services.SiteDetails(
                    time_zone=data["time_zone"] or "Asia/Shanghai",
                    cutoff_hour=4 if data["cutoff_hour"] is None else data["cutoff_hour"],
                    city=data["city"],
                    address=data["address"],
                    opening_date=data["opening_date"],
                    status=data["status"] or SiteStatus.OPEN,
                    brand_code=data["brand_code"] or None,
                )
            try:
                node = services.create_node(
                    services.NodeInput(
                        kind=kind, code=data["code"], name=data["name"], parent_id=data["parent"].pk
                    ),
                    actor=user,
                    entity=entity,
                    site=site,
                )
            except ValidationFailed as error:
                apply_errors(form, error, {"parent_id": "parent"})
            else:
                messages.success(request, _("Created %(name)s.") % {"name": node.name})
                if kind in SITE_KINDS:
                    return redirect("web:site_detail", site_id=node.site.pk)
                return redirect("web:org_tree")
    return render_page(
        request, "web/node_form.html", {"title": _("New node"), "form": form}, status=status
    )
