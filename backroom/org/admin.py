"""Admin for the org tree, scoped to the staff member's roles. Writes go through the services."""

from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.forms import ModelForm
from django.http import HttpRequest

from backroom.accounts.admin_scoping import ReadOnlyAdmin, ScopedAdminMixin
from backroom.accounts.permissions import ORG_MANAGE, ORG_VIEW
from backroom.org import services
from backroom.org.models import Brand, LegalEntity, OrgNode, Site

SITE_FIELDS = [
    "time_zone",
    "cutoff_hour",
    "address",
    "city",
    "latitude",
    "longitude",
    "opening_date",
    "status",
]


@admin.register(OrgNode)
class OrgNodeAdmin(ReadOnlyAdmin):
    """Nodes are created in the app or the API (with their entity or site details)."""

    view_permission = ORG_VIEW
    list_display = ["code", "name", "kind", "parent", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["code", "name"]


@admin.register(LegalEntity)
class LegalEntityAdmin(ReadOnlyAdmin):
    view_permission = ORG_VIEW
    list_display = ["node", "base_currency", "country", "tax_id"]
    list_select_related = ["node"]


@admin.register(Site)
class SiteAdmin(ScopedAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """Site details change through `update_site` (permission check, audit, event)."""

    view_permission = ORG_VIEW
    manage_permission = ORG_MANAGE
    list_display = ["node", "legal_entity", "brand", "city", "status"]
    list_filter = ["status", "node__kind"]
    list_select_related = ["node", "legal_entity__node", "brand"]
    search_fields = ["node__code", "node__name", "city"]
    fields = ["node", "legal_entity", "brand", *SITE_FIELDS]
    readonly_fields = ["node", "legal_entity", "brand"]

    def save_model(self, request: HttpRequest, obj: Site, form: ModelForm, change: bool) -> None:  # type: ignore[type-arg]
        original = Site.objects.get(pk=obj.pk)
        changes = services.SiteChanges(
            **{name: getattr(obj, name) for name in form.changed_data if name in SITE_FIELDS}
        )
        services.update_site(original, changes, actor=request.user)


@admin.register(Brand)
class BrandAdmin(ScopedAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """Brands are chain-wide: visible to anyone who sees part of the tree; created by a service."""

    view_permission = ORG_VIEW
    manage_permission = ORG_MANAGE
    allow_add = True
    list_display = ["code", "name"]
    search_fields = ["code", "name"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Brand]:
        if request.user.has_scoped_permission(ORG_VIEW):  # type: ignore[union-attr]
            return Brand.objects.order_by("code")
        return Brand.objects.none()

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._holds(request, ORG_VIEW, None)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # no service renames a brand yet

    def save_model(self, request: HttpRequest, obj: Brand, form: Any, change: bool) -> None:
        created = services.create_brand(obj.code, obj.name, actor=request.user)
        obj.pk = created.pk
        obj.code = created.code
