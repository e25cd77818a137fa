"""Approvals events: policy lifecycle (requests and decisions come with the runtime slice)."""

from dataclasses import dataclass
from enum import StrEnum

from backroom.events.catalogue import event


class ApprovalsEvent(StrEnum):
    POLICY_CREATED = "approvals.policy.created"
    POLICY_UPDATED = "approvals.policy.updated"
    POLICY_PUBLISHED = "approvals.policy.published"


@event(ApprovalsEvent.POLICY_CREATED)
@dataclass(frozen=True)
class PolicyCreated:
    policy_id: int
    document_type: str
    name: str
    version: int


@event(ApprovalsEvent.POLICY_UPDATED)
@dataclass(frozen=True)
class PolicyUpdated:
    policy_id: int
    document_type: str
    changed: list[str]
    version: int


@event(ApprovalsEvent.POLICY_PUBLISHED)
@dataclass(frozen=True)
class PolicyPublished:
    policy_id: int
    document_type: str
    version: int
