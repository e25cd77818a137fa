"""The transactional outbox: events written in the same transaction as the change they describe."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from backroom.kernel.ids import uuid7
from backroom.kernel.scoping import OrgScopedQuerySet


class OutboxEvent(models.Model):
    """One domain event. Async subscribers read it after commit, at least once."""

    scope_field = "org_node"

    # Time-ordered: the unique index takes new events on its last pages (kernel.ids.uuid7).
    event_id = models.UUIDField(default=uuid7, unique=True, editable=False)
    event_type = models.CharField(_("event type"), max_length=100, db_index=True)
    payload = models.JSONField()
    org_node = models.ForeignKey(
        "org.OrgNode", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    occurred_at = models.DateTimeField(_("occurred at"), db_index=True)
    dispatched_at = models.DateTimeField(_("dispatched at"), null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["dispatched_at", "id"], name="events_outbox_pending_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


class EventConsumption(models.Model):
    """An async subscriber handled an event: the de-duplication record for at-least-once delivery."""

    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="consumptions")
    subscriber = models.CharField(max_length=200)
    consumed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "subscriber"], name="events_consumed_once"),
        ]

    def __str__(self) -> str:
        return f"{self.subscriber} ← {self.event_id}"
