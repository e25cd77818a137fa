"""Approval policies as data: a policy per document type (optionally scoped to an org subtree),
versioned; each version holds the condition that selects it and its ordered steps.

A version is immutable once published (the service refuses changes; `published_at` is set once).
Editing a policy's route creates a new version; requests (next slice) pin the version they
started with, so a change only affects new requests.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from backroom.approvals.choices import (
    ApproverKind,
    BreachAction,
    EmailStatus,
    HistoryAction,
    NotificationKind,
    RequestStatus,
    StepMode,
    TaskStatus,
)
from backroom.approvals.exceptions import VersionPublished
from backroom.kernel.files import private_storage
from backroom.kernel.models import TimestampedModel
from backroom.kernel.scoping import OrgScopedQuerySet


class ApprovalPolicy(TimestampedModel):
    """Who approves a document type, within an org subtree (or chain-wide when unscoped)."""

    scope_field = "scope_node"

    document_type = models.CharField(_("document type"), max_length=64, db_index=True)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    scope_node = models.ForeignKey(
        "org.OrgNode",
        verbose_name=_("applies within"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Empty: the whole chain."),
    )

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["document_type", "name", "id"]
        verbose_name = _("approval policy")
        verbose_name_plural = _("approval policies")
        constraints = [
            models.UniqueConstraint(
                fields=["document_type", "name"], name="approvals_policy_name_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class PolicyVersion(TimestampedModel):
    """One version of a policy's route. Never changed once published."""

    policy = models.ForeignKey(ApprovalPolicy, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    condition = models.TextField(
        _("condition"), blank=True, help_text=_("CEL; empty means every document of the type.")
    )
    allow_self_approval = models.BooleanField(_("requester may approve own request"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["policy_id", "number"]
        verbose_name = _("policy version")
        verbose_name_plural = _("policy versions")
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "number"], name="approvals_version_number_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(number__gte=1), name="approvals_version_number_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.policy} v{self.number}"

    @property
    def is_published(self) -> bool:
        return self.published_at is not None

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The last line of defence: services never edit a version, and a published one never.
        if (
            self.pk is not None
            and PolicyVersion.objects.filter(pk=self.pk, published_at__isnull=False).exists()
        ):
            raise VersionPublished(details={"version": self.number})
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        if self.pk is not None and self.is_published:
            raise VersionPublished(details={"version": self.number})
        return super().delete(*args, **kwargs)


class PolicyStep(models.Model):
    """A step of a version's route: who approves, how, when it applies, its SLA and breach action.

    `approver_params` by kind: role → {"role": code, "level": node|store|region|entity|group};
    users → {"user_ids": [...]}; requester_manager → {}.
    """

    version = models.ForeignKey(PolicyVersion, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(_("order"))
    name = models.CharField(_("name"), max_length=200)
    approver_kind = models.CharField(_("approver"), max_length=32, choices=ApproverKind.choices)
    approver_params = models.JSONField(_("approver parameters"), default=dict, blank=True)
    mode = models.CharField(
        _("mode"), max_length=16, choices=StepMode.choices, default=StepMode.ANY_ONE
    )
    condition = models.TextField(
        _("condition"), blank=True, help_text=_("CEL; the step applies only when it holds.")
    )
    sla_hours = models.PositiveIntegerField(_("SLA (hours)"), null=True, blank=True)
    on_breach = models.CharField(
        _("on breach"), max_length=16, choices=BreachAction.choices, default=BreachAction.REMIND
    )

    class Meta:
        ordering = ["version_id", "position"]
        verbose_name = _("policy step")
        verbose_name_plural = _("policy steps")
        constraints = [
            models.UniqueConstraint(
                fields=["version", "position"], name="approvals_step_position_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(sla_hours__isnull=True) | models.Q(sla_hours__gte=1),
                name="approvals_step_sla_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.version} #{self.position} {self.name}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if PolicyVersion.objects.filter(pk=self.version_id, published_at__isnull=False).exists():
            raise VersionPublished(details={"version": self.version.number})
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        if PolicyVersion.objects.filter(pk=self.version_id, published_at__isnull=False).exists():
            raise VersionPublished(details={"version": self.version.number})
        return super().delete(*args, **kwargs)


# --- runtime -----------------------------------------------------------------------------------


class ApprovalRequest(TimestampedModel):
    """A document waiting for (or past) approval, pinned to the policy version it started with.

    `route` is the plan resolved at (re)submission: the applicable steps with their mode, SLA,
    breach action and approver ids, so a later policy edit never changes a running request.
    `version` is empty when no policy matched (approved at once, see docs/approvals.md).
    At most one request per document is open (pending or returned).
    """

    scope_field = "org_node"

    document_type = models.CharField(_("document type"), max_length=64)
    document_id = models.CharField(_("document"), max_length=100)
    org_node = models.ForeignKey(
        "org.OrgNode", verbose_name=_("org node"), on_delete=models.PROTECT, related_name="+"
    )
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requester"),
        on_delete=models.PROTECT,
        related_name="approval_requests",
    )
    fields = models.JSONField(_("document fields"), default=dict)
    document_currency = models.CharField(
        _("document currency"),
        max_length=3,
        blank=True,
        help_text=_("ISO 4217; the `amount` field is always in the entity's base currency."),
    )
    document_amount = models.DecimalField(
        _("amount in the document's currency"),
        max_digits=18,
        decimal_places=4,
        null=True,
        blank=True,
    )
    version = models.ForeignKey(
        PolicyVersion,
        verbose_name=_("policy version"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="requests",
    )
    status = models.CharField(
        _("status"), max_length=16, choices=RequestStatus.choices, default=RequestStatus.PENDING
    )
    round = models.PositiveSmallIntegerField(_("round"), default=1)
    current_step = models.PositiveSmallIntegerField(_("current step"), null=True, blank=True)
    route = models.JSONField(_("route"), default=list)
    submitted_at = models.DateTimeField(_("submitted at"))
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-submitted_at", "-id"]
        verbose_name = _("approval request")
        verbose_name_plural = _("approval requests")
        constraints = [
            models.UniqueConstraint(
                fields=["document_type", "document_id"],
                condition=models.Q(status__in=["pending", "returned"]),
                name="approvals_request_one_open_per_document",
            ),
        ]
        indexes = [models.Index(fields=["document_type", "document_id"])]

    def __str__(self) -> str:
        return f"{self.document_type} {self.document_id}"

    @property
    def is_open(self) -> bool:
        return self.status in (RequestStatus.PENDING, RequestStatus.RETURNED)


class ApprovalTask(models.Model):
    """One person's part of a step in one round. `decided_by` is who acted; when the task was
    delegated, `on_behalf_of` is the person it was originally for."""

    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="tasks")
    round = models.PositiveSmallIntegerField(_("round"))
    step_index = models.PositiveSmallIntegerField(_("step (index in the route)"))
    step_name = models.CharField(_("step"), max_length=200)
    mode = models.CharField(_("mode"), max_length=16, choices=StepMode.choices)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.PROTECT,
        related_name="approval_tasks",
    )
    on_behalf_of = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("on behalf of"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    status = models.CharField(
        _("status"), max_length=16, choices=TaskStatus.choices, default=TaskStatus.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    created_at = models.DateTimeField(_("assigned at"))
    due_at = models.DateTimeField(_("due at"), null=True, blank=True)
    breach_handled_at = models.DateTimeField(_("breach handled at"), null=True, blank=True)
    escalated_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["request_id", "round", "step_index", "id"]
        verbose_name = _("approval task")
        verbose_name_plural = _("approval tasks")
        indexes = [
            models.Index(fields=["assignee", "status"]),
            models.Index(fields=["status", "due_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.request} · {self.step_name} · {self.assignee}"


class ApprovalHistory(models.Model):
    """One thing that happened to a request: who, when, on whose behalf, why. Append-only."""

    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="history")
    task = models.ForeignKey(
        ApprovalTask, null=True, blank=True, on_delete=models.SET_NULL, related_name="history"
    )
    round = models.PositiveSmallIntegerField(_("round"))
    action = models.CharField(_("action"), max_length=16, choices=HistoryAction.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Empty: the system (SLA timer, no policy)."),
    )
    on_behalf_of = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    occurred_at = models.DateTimeField(_("occurred at"))
    reason = models.TextField(_("reason"), blank=True)
    comment = models.TextField(_("comment"), blank=True)

    class Meta:
        ordering = ["request_id", "occurred_at", "id"]
        verbose_name = _("approval history entry")
        verbose_name_plural = _("approval history")

    def __str__(self) -> str:
        return f"{self.request} {self.action}"


class Delegation(TimestampedModel):
    """A user's approvals go to another user for a window (out of office, 转交).

    Tasks created within [starts_at, ends_at) for the delegator are assigned to the delegate,
    with `on_behalf_of` naming the delegator. One hop only: a delegate's own delegation is not
    followed.
    """

    delegator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("delegator"),
        on_delete=models.CASCADE,
        related_name="delegations_given",
    )
    delegate = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("delegate"),
        on_delete=models.CASCADE,
        related_name="delegations_received",
    )
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    reason = models.TextField(_("reason"), blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)

    class Meta:
        ordering = ["-starts_at", "-id"]
        verbose_name = _("delegation")
        verbose_name_plural = _("delegations")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="approvals_delegation_window",
            ),
            models.CheckConstraint(
                condition=~models.Q(delegator=models.F("delegate")),
                name="approvals_delegation_not_self",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.delegator} → {self.delegate}"


# --- comments with attachments, notifications ------------------------------------------------


def attachment_storage() -> Any:
    """Where comment attachments are kept (private: see kernel.files)."""
    return private_storage


class RequestAttachment(models.Model):
    """A file (image or PDF) attached to a comment, i.e. to a `commented` history entry.

    Its type is read from its first bytes when uploaded, never trusted from the upload.
    """

    request = models.ForeignKey(
        ApprovalRequest, on_delete=models.CASCADE, related_name="attachments"
    )
    history = models.ForeignKey(
        ApprovalHistory, on_delete=models.CASCADE, related_name="attachments"
    )
    file = models.FileField(
        _("file"), upload_to="approvals/%Y/%m/", storage=attachment_storage, max_length=200
    )
    name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("type"), max_length=50)
    size = models.PositiveIntegerField(_("size (bytes)"))
    position = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["history_id", "position", "id"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.name


class Notification(models.Model):
    """Something a user is told about a request, made from one outbox event (after commit).

    One per event and recipient (`approvals_notification_once`): a replayed event creates
    nothing new. Its email is claimed (`sending`) before it is sent, so it goes out at most once.
    """

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recipient"),
        on_delete=models.CASCADE,
        related_name="approval_notifications",
    )
    kind = models.CharField(_("kind"), max_length=32, choices=NotificationKind.choices)
    request = models.ForeignKey(
        ApprovalRequest, on_delete=models.CASCADE, related_name="notifications"
    )
    task = models.ForeignKey(
        ApprovalTask, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Who did it; empty: the system."),
    )
    reason = models.TextField(_("reason"), blank=True)
    event_id = models.UUIDField(_("event"), default=uuid.uuid4)
    created_at = models.DateTimeField(_("created at"))
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    email_status = models.CharField(
        _("email"), max_length=16, choices=EmailStatus.choices, default=EmailStatus.PENDING
    )
    emailed_at = models.DateTimeField(_("emailed at"), null=True, blank=True)
    email_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        constraints = [
            models.UniqueConstraint(
                fields=["event_id", "recipient"], name="approvals_notification_once"
            ),
        ]
        indexes = [
            models.Index(fields=["recipient", "read_at"]),
            models.Index(fields=["email_status", "id"]),
        ]

    def __str__(self) -> str:
        return f"{self.recipient} · {self.kind} · {self.request}"
