"""Webhook endpoints, deliveries (one per event and endpoint) and their attempts.

An event fans out to a delivery per matching endpoint; each try to send it is an attempt row
(Saleor's payload → delivery → attempt). Secrets are stored as given for now: encrypting them
at rest is a later issue.
"""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from backroom.kernel.models import TimestampedModel
from backroom.kernel.scoping import OrgScopedQuerySet
from backroom.webhooks.choices import AttemptTrigger, CircuitState, DeliveryStatus


class WebhookEndpoint(TimestampedModel):
    """A URL that receives signed events of the chosen types from its org node's subtree."""

    scope_field = "node"

    node = models.ForeignKey(
        "org.OrgNode", verbose_name=_("org node"), on_delete=models.PROTECT, related_name="+"
    )
    name = models.CharField(_("name"), max_length=200)
    url = models.URLField(_("URL"), max_length=2000)
    event_types = models.JSONField(_("event types"), default=list)
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    # Signing secrets (plain for now; encryption at rest is a later issue). During a rotation
    # the previous secret keeps signing alongside the new one until it expires.
    secret = models.CharField(max_length=200, editable=False)
    previous_secret = models.CharField(max_length=200, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    secret_rotated_at = models.DateTimeField(_("secret rotated at"), null=True, blank=True)
    # Circuit breaker: opens after consecutive failures; closes on the first success.
    consecutive_failures = models.PositiveIntegerField(_("consecutive failures"), default=0)
    circuit_open_until = models.DateTimeField(_("circuit open until"), null=True, blank=True)
    circuit_trips = models.PositiveIntegerField(
        _("circuit trips"), default=0, help_text=_("Times opened since the last success")
    )

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self) -> str:
        return str(self.name)

    def signing_secrets(self, now: dt.datetime | None = None) -> list[str]:
        """The primary secret, then the previous one while it is still valid."""
        now = now or timezone.now()
        result = [self.secret]
        if (
            self.previous_secret
            and self.previous_secret_expires_at is not None
            and self.previous_secret_expires_at > now
        ):
            result.append(self.previous_secret)
        return result

    def subscribes_to(self, event_type: str) -> bool:
        return "*" in self.event_types or event_type in self.event_types

    def circuit_state(self, now: dt.datetime | None = None) -> str:
        now = now or timezone.now()
        if self.circuit_open_until is None:
            return CircuitState.CLOSED
        if self.circuit_open_until > now:
            return CircuitState.OPEN
        return CircuitState.HALF_OPEN

    def get_circuit_state_display(self) -> str:
        return str(CircuitState(self.circuit_state()).label)


class WebhookDelivery(TimestampedModel):
    """One event to one endpoint; retried with backoff until it succeeds or fails for good."""

    scope_field = "endpoint__node"

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.PROTECT, related_name="deliveries"
    )
    event = models.ForeignKey("events.OutboxEvent", on_delete=models.PROTECT, related_name="+")
    event_type = models.CharField(_("event type"), max_length=100)
    status = models.CharField(
        _("status"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempt_count = models.PositiveIntegerField(
        _("attempts in this cycle"), default=0, help_text=_("Reset by a manual replay")
    )
    cycle_started_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True, editable=False)
    last_attempt_at = models.DateTimeField(_("last attempt at"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("last status"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    succeeded_at = models.DateTimeField(_("succeeded at"), null=True, blank=True)
    failed_at = models.DateTimeField(_("failed at"), null=True, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event"], name="webhooks_delivery_once_per_endpoint"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhooks_delivery_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id} (#{self.pk})"

    @property
    def webhook_id(self) -> str:
        """The `webhook-id` header: the event id, the same on every attempt and replay."""
        return str(self.event.event_id)


class DeliveryAttempt(models.Model):
    """One HTTP request of a delivery and what came back. Never updated."""

    scope_field = "delivery__endpoint__node"

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField(_("number"))
    trigger = models.CharField(
        _("trigger"),
        max_length=10,
        choices=AttemptTrigger.choices,
        default=AttemptTrigger.SCHEDULED,
    )
    started_at = models.DateTimeField(_("started at"))
    request_timestamp = models.PositiveBigIntegerField(_("webhook-timestamp"))
    status_code = models.PositiveSmallIntegerField(_("status code"), null=True, blank=True)
    latency_ms = models.PositiveIntegerField(_("latency (ms)"), null=True, blank=True)
    response_excerpt = models.TextField(_("response (first 1 KB)"), blank=True)
    error = models.TextField(_("error"), blank=True)
    is_success = models.BooleanField(_("succeeded"), default=False)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-number"]
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")
        constraints = [
            models.UniqueConstraint(
                fields=["delivery", "number"], name="webhooks_attempt_number_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.delivery_id}.{self.number} {self.status_code or self.error[:40]}"
