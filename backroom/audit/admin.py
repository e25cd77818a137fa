"""The audit log in the admin: read-only, scoped like the API (audit.view)."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from backroom.accounts.admin_scoping import ReadOnlyAdmin
from backroom.accounts.permissions import AUDIT_VIEW
from backroom.audit.models import AuditEntry
from backroom.audit.selectors import entries_for


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    view_permission = AUDIT_VIEW
    list_display = ["id", "occurred_at", "actor_label", "action", "target_label", "org_node"]
    list_filter = ["action", "target_type"]
    list_select_related = ["org_node"]
    search_fields = ["action", "target_label", "target_id", "actor_label", "request_id"]
    date_hierarchy = "occurred_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditEntry]:
        return entries_for(request.user)
