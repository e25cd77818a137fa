"""Approval policies as data: a policy per document type (optionally scoped to an org subtree),
versioned; each version holds the condition that selects it and its ordered steps.

A version is immutable once published (the service refuses changes; `published_at` is set once).
Editing a policy's route creates a new version; requests (next slice) pin the version they
started with, so a change only affects new requests.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from backroom.approvals.choices import ApproverKind, BreachAction, StepMode
from backroom.approvals.exceptions import VersionPublished
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
