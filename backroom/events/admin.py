"""The outbox in the admin: read-only, scoped to the nodes where the user holds audit.view."""

from django.contrib import admin

from backroom.accounts.admin_scoping import ReadOnlyAdmin
from backroom.accounts.permissions import AUDIT_VIEW
from backroom.events.models import OutboxEvent


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin):
    view_permission = AUDIT_VIEW
    list_display = ["id", "event_type", "occurred_at", "dispatched_at", "attempts", "org_node"]
    list_filter = ["event_type"]
    list_select_related = ["org_node"]
    search_fields = ["event_type", "event_id"]
