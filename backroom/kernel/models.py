"""Abstract bases and the kernel's own small tables (document numbers, idempotency records)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class TimestampedModel(models.Model):
    """Created/updated instants (aware, UTC) on every domain row."""

    created_at = models.DateTimeField(_("created at"), auto_now_add=True, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, editable=False)

    class Meta:
        abstract = True


class DocumentSequence(models.Model):
    """The last number issued per document type and scope (a store code); bumped with F()."""

    document_type = models.CharField(max_length=16)
    scope = models.CharField(max_length=32)
    last_value = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["document_type", "scope"], name="kernel_sequence_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document_type}-{self.scope}: {self.last_value}"


class IdempotencyRecord(models.Model):
    """The first response to a write sent with an `Idempotency-Key`, replayed for repeats."""

    principal = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=500)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    content_type = models.CharField(max_length=100, blank=True)
    body = models.BinaryField(default=b"")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["principal", "key"], name="kernel_idempotency_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.principal}:{self.key}"
