"""Reads of the audit log, scoped to the actor."""

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from backroom.accounts.permissions import AUDIT_VIEW
from backroom.audit.models import AuditEntry
from backroom.kernel.exceptions import NotFound
from backroom.kernel.scoping import scope_q


@dataclass(frozen=True)
class EntryFilter:
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    actor_id: int | None = None
    occurred_from: dt.datetime | None = None
    occurred_to: dt.datetime | None = None


def _is_root_path(path: str) -> bool:
    return path.count("/") == 2  # "/1/": the group, the only node without a parent


def entries_for(actor: Any, filters: EntryFilter | None = None) -> QuerySet[AuditEntry]:
    """Audit entries under the nodes where the actor holds audit.view, newest first.

    Entries about no node (brands, users without a role) belong to the whole organisation: only
    actors holding audit.view at the group (or unrestricted ones) see them.
    """
    entries = AuditEntry.objects.select_related("org_node")
    if actor is None or not getattr(actor, "is_authenticated", False):
        return entries.none()
    paths = actor.scope_paths(AUDIT_VIEW)
    if paths is not None:
        if not paths:
            return entries.none()
        visible = scope_q("org_node", paths)
        if any(_is_root_path(path) for path in paths):
            visible |= Q(org_node__isnull=True)
        entries = entries.filter(visible)
    if filters is not None:
        if filters.action:
            entries = entries.filter(action=filters.action)
        if filters.target_type:
            entries = entries.filter(target_type=filters.target_type)
        if filters.target_id:
            entries = entries.filter(target_id=filters.target_id)
        if filters.actor_id is not None:
            entries = entries.filter(actor_id=filters.actor_id)
        if filters.occurred_from is not None:
            entries = entries.filter(occurred_at__gte=filters.occurred_from)
        if filters.occurred_to is not None:
            entries = entries.filter(occurred_at__lt=filters.occurred_to)
    return entries.order_by("-id")


def get_entry(actor: Any, entry_id: int) -> AuditEntry:
    try:
        return entries_for(actor).get(pk=entry_id)
    except AuditEntry.DoesNotExist:
        raise NotFound() from None


def may_verify_chain(actor: Any) -> bool:
    """Verifying covers every entry, so it needs audit.view at the group (or no restriction)."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return False
    paths = actor.scope_paths(AUDIT_VIEW)
    return paths is None or any(_is_root_path(path) for path in paths)
