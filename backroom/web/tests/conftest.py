"""Helpers for the page tests: counts of what a write leaves behind."""

from dataclasses import dataclass

from backroom.accounts.models import ApiToken, Membership, User
from backroom.audit.models import AuditEntry
from backroom.events.models import OutboxEvent
from backroom.org.models import OrgNode, Site


@dataclass(frozen=True)
class Counts:
    audit: int
    events: int
    nodes: int
    sites: int
    users: int
    memberships: int
    tokens: int


def counts() -> Counts:
    """Row counts to compare before and after a request that must change nothing."""
    return Counts(
        audit=AuditEntry.objects.count(),
        events=OutboxEvent.objects.count(),
        nodes=OrgNode.objects.count(),
        sites=Site.objects.count(),
        users=User.objects.count(),
        memberships=Membership.objects.count(),
        tokens=ApiToken.objects.count(),
    )
