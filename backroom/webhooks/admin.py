"""Read-mostly admin: browse endpoints, deliveries and attempts; secrets never shown.

Changes go through the pages and the API (the services audit them); the admin only looks.
"""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from backroom.webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint

# The secret fields are left out on purpose.
ENDPOINT_FIELDS = (
    "node",
    "name",
    "url",
    "event_types",
    "description",
    "is_active",
    "secret_rotated_at",
    "consecutive_failures",
    "circuit_open_until",
    "circuit_trips",
    "created_at",
    "updated_at",
)
ATTEMPT_FIELDS = ("number", "trigger", "started_at", "status_code", "latency_ms", "error")
DELIVERY_FIELDS = (
    "endpoint",
    "event",
    "event_type",
    "status",
    "attempt_count",
    "cycle_started_at",
    "next_attempt_at",
    "last_attempt_at",
    "last_status_code",
    "last_error",
    "succeeded_at",
    "failed_at",
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    list_display = (
        "name",
        "node",
        "url",
        "is_active",
        "consecutive_failures",
        "circuit_open_until",
    )
    list_filter = ("is_active",)
    search_fields = ("name", "url", "node__code")
    list_select_related = ("node",)
    fields = ENDPOINT_FIELDS
    readonly_fields = ENDPOINT_FIELDS


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ATTEMPT_FIELDS
    readonly_fields = ATTEMPT_FIELDS

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("id", "endpoint", "event_type", "status", "attempt_count", "next_attempt_at")
    list_filter = ("status",)
    search_fields = ("event_type", "event__event_id")
    list_select_related = ("endpoint",)
    fields = DELIVERY_FIELDS
    readonly_fields = DELIVERY_FIELDS
    inlines = (DeliveryAttemptInline,)
