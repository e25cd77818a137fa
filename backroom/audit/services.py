"""Writing and verifying the audit chain."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.utils import timezone

from backroom.audit.models import AuditChainHead, AuditEntry
from backroom.kernel.context import get_request_id
from backroom.kernel.jsonutil import canonical_json, to_jsonable

GENESIS_HASH = "0" * 64


def snapshot(instance: models.Model, fields: list[str] | None = None) -> dict[str, Any]:
    """Plain JSON of a model's concrete fields (foreign keys by id), for before/after."""
    data: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if fields is not None and field.name not in fields:
            continue
        if field.name in {
            "password",
            "token_hash",
            "secret",
            "secrets",
            "created_at",
            "updated_at",
        }:
            continue
        data[field.attname] = getattr(instance, field.attname)
    return to_jsonable(data)


def entry_hash(entry: AuditEntry) -> str:
    """The hash of an entry: the previous hash plus its own canonical content."""
    content = {
        "occurred_at": entry.occurred_at.astimezone(dt.UTC).isoformat(),
        "actor_id": entry.actor_id,
        "actor_label": entry.actor_label,
        "on_behalf_of_label": entry.on_behalf_of_label,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "target_label": entry.target_label,
        "before": entry.before,
        "after": entry.after,
        "reason": entry.reason,
        "request_id": entry.request_id,
        "org_node_id": entry.org_node_id,
        "previous_hash": entry.previous_hash,
    }
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


def record_audit(
    *,
    actor: Any,
    action: str,
    target: models.Model,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
    org_node: Any = None,
    on_behalf_of: Any = None,
) -> AuditEntry:
    """Append one entry to the chain, inside the caller's transaction.

    The chain head row is locked for the rest of the transaction, so entries are appended
    one at a time in commit order and every entry's `previous_hash` is its predecessor's hash.
    """
    actor_user = actor if isinstance(actor, get_user_model()) else None
    # No savepoint of its own inside the caller's transaction: a failure here fails the
    # caller's transaction anyway, and a savepoint costs two round trips per entry.
    with transaction.atomic(savepoint=False):
        head = _locked_head()
        entry = AuditEntry(
            occurred_at=timezone.now(),
            actor=actor_user,
            actor_label=actor_user.username if actor_user is not None else str(actor or "system"),
            on_behalf_of_label=str(getattr(on_behalf_of, "username", on_behalf_of or "")),
            action=action,
            target_type=target._meta.label_lower,
            target_id=str(target.pk),
            target_label=str(target)[:300],
            before=to_jsonable(before) if before is not None else None,
            after=to_jsonable(after) if after is not None else None,
            reason=reason,
            request_id=get_request_id() or "",
            org_node=org_node,
            previous_hash=head.last_hash,
        )
        entry.hash = entry_hash(entry)
        entry.save()
        AuditChainHead.objects.filter(singleton=1).update(
            last_entry_id=entry.pk, last_hash=entry.hash
        )
    return entry


def _locked_head() -> AuditChainHead:
    """The chain head, locked until the transaction ends (created with the first entry)."""
    head = AuditChainHead.objects.select_for_update().filter(singleton=1).first()
    if head is None:
        AuditChainHead.objects.get_or_create(singleton=1)
        head = AuditChainHead.objects.select_for_update().get(singleton=1)
    return head


@dataclass(frozen=True)
class VerifyResult:
    checked: int
    first_bad_id: int | None = None
    problem: str = ""

    @property
    def is_valid(self) -> bool:
        return self.first_bad_id is None and not self.problem


def verify_audit_chain(batch_size: int = 2000) -> VerifyResult:
    """Walk the chain in order; report the first entry that was edited, inserted or follows a gap."""
    previous = GENESIS_HASH
    checked = 0
    last_id = 0
    queryset = AuditEntry.objects.order_by("id")
    while True:
        batch = list(queryset.filter(id__gt=last_id)[:batch_size])
        if not batch:
            break
        for entry in batch:
            if entry.previous_hash != previous:
                return VerifyResult(
                    checked,
                    entry.pk,
                    f"entry #{entry.pk} does not follow the entry before it "
                    "(an entry before it was deleted, or this one was inserted out of chain)",
                )
            if entry_hash(entry) != entry.hash:
                return VerifyResult(
                    checked, entry.pk, f"entry #{entry.pk} was edited after it was written"
                )
            previous = entry.hash
            last_id = entry.pk
            checked += 1
    head = AuditChainHead.objects.filter(singleton=1).first()
    if head is not None and (head.last_entry_id != last_id or head.last_hash != previous):
        return VerifyResult(
            checked,
            head.last_entry_id or None,
            f"the newest entries after #{last_id} are missing (the chain head says #{head.last_entry_id})",
        )
    return VerifyResult(checked)
