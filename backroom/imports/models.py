"""Imports: an uploaded file on its way in (mapping → check → apply), with its progress, its
problems and what it changed; and each user's remembered header mapping per importer."""

from __future__ import annotations

from django.conf import settings
from django.core.files.storage import Storage
from django.db import models
from django.utils.translation import gettext_lazy as _

from backroom.kernel.files import private_storage
from backroom.kernel.models import TimestampedModel


def import_storage() -> Storage:
    return private_storage


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", _("Uploaded: check the columns")
    CHECKING = "checking", _("Checking")
    CHECKED = "checked", _("Checked: ready to apply")
    INVALID = "invalid", _("Has problems")
    APPLYING = "applying", _("Applying")
    APPLIED = "applied", _("Applied")
    FAILED = "failed", _("Stopped")


# Statuses in which the worker owns the job (a stale heartbeat means the worker died).
RUNNING = (ImportStatus.CHECKING, ImportStatus.APPLYING)


class ImportJob(TimestampedModel):
    """One uploaded file. `mapping` maps each column's position in the header row (as text) to
    the field it fills; `applied_rows` is the cursor: rows before it are applied and committed
    (each chunk commits with the cursor, so a restart resumes exactly there)."""

    kind = models.CharField(_("importer"), max_length=40)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    file = models.FileField(upload_to="imports/%Y/%m/", storage=import_storage, max_length=300)
    file_name = models.CharField(_("file name"), max_length=255)
    file_type = models.CharField(max_length=8)
    file_sha256 = models.CharField(max_length=64)
    header_row = models.PositiveIntegerField(default=1)
    headers = models.JSONField(default=list)
    mapping = models.JSONField(default=dict)
    status = models.CharField(
        _("status"), max_length=12, choices=ImportStatus.choices, default=ImportStatus.UPLOADED
    )
    apply_requested = models.BooleanField(default=False)
    total_rows = models.PositiveIntegerField(default=0)
    checked_rows = models.PositiveIntegerField(default=0)
    applied_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    problem_count = models.PositiveIntegerField(default=0)
    problems = models.JSONField(default=list)
    changes = models.JSONField(default=list)
    error = models.TextField(blank=True)
    worker_token = models.CharField(max_length=32, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=["created_by", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.file_name}"

    @property
    def progress_percent(self) -> int:
        if not self.total_rows:
            return 100 if self.status == ImportStatus.APPLIED else 0
        done = self.applied_rows if self.status != ImportStatus.CHECKING else self.checked_rows
        return min(100, int(done * 100 / self.total_rows))


class ImportMapping(TimestampedModel):
    """A user's header → field choices for an importer, applied to their next upload."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=40)
    headers = models.JSONField(default=dict)  # header key → field key ("" = ignore)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="imports_mapping_user_kind")
        ]
