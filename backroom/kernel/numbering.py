"""Readable per-type, per-store document numbers: PO-SH001-000123. Not gap-free by design."""

from django.db import transaction
from django.db.models import F

from backroom.kernel.models import DocumentSequence


def next_document_number(document_type: str, scope: str, *, width: int = 6) -> str:
    """Issue the next number. Runs in its own savepoint; a rolled-back caller leaves a gap."""
    with transaction.atomic():
        sequence, _ = DocumentSequence.objects.get_or_create(
            document_type=document_type, scope=scope
        )
        DocumentSequence.objects.filter(pk=sequence.pk).update(last_value=F("last_value") + 1)
        sequence.refresh_from_db(fields=["last_value"])
    return f"{document_type}-{scope}-{sequence.last_value:0{width}d}"
