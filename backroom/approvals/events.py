"""Approvals events: policy lifecycle, requests and their decisions, SLA breaches, delegation."""

from dataclasses import dataclass
from enum import StrEnum

from backroom.events.catalogue import event


class ApprovalsEvent(StrEnum):
    POLICY_CREATED = "approvals.policy.created"
    POLICY_UPDATED = "approvals.policy.updated"
    POLICY_PUBLISHED = "approvals.policy.published"
    REQUEST_SUBMITTED = "approvals.request.submitted"
    REQUEST_APPROVED = "approvals.request.approved"
    REQUEST_REJECTED = "approvals.request.rejected"
    REQUEST_RETURNED = "approvals.request.returned"
    REQUEST_RESUBMITTED = "approvals.request.resubmitted"
    REQUEST_WITHDRAWN = "approvals.request.withdrawn"
    REQUEST_COMMENTED = "approvals.request.commented"
    TASK_ASSIGNED = "approvals.task.assigned"
    TASK_DECIDED = "approvals.task.decided"
    TASK_REMINDED = "approvals.task.reminded"
    TASK_ESCALATED = "approvals.task.escalated"
    ROUTE_UNRESOLVED = "approvals.route.unresolved"
    DELEGATION_CREATED = "approvals.delegation.created"
    DELEGATION_CANCELLED = "approvals.delegation.cancelled"


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


@dataclass(frozen=True)
class _RequestEvent:
    request_id: int
    document_type: str
    document_id: str
    status: str
    round: int
    actor_id: int | None
    reason: str


@event(ApprovalsEvent.REQUEST_SUBMITTED)
@dataclass(frozen=True)
class RequestSubmitted(_RequestEvent):
    pass


@event(ApprovalsEvent.REQUEST_APPROVED)
@dataclass(frozen=True)
class RequestApproved(_RequestEvent):
    """Final: every applicable step approved (or no policy applied). Documents may move on."""


@event(ApprovalsEvent.REQUEST_REJECTED)
@dataclass(frozen=True)
class RequestRejected(_RequestEvent):
    pass


@event(ApprovalsEvent.REQUEST_RETURNED)
@dataclass(frozen=True)
class RequestReturned(_RequestEvent):
    pass


@event(ApprovalsEvent.REQUEST_RESUBMITTED)
@dataclass(frozen=True)
class RequestResubmitted(_RequestEvent):
    pass


@event(ApprovalsEvent.REQUEST_WITHDRAWN)
@dataclass(frozen=True)
class RequestWithdrawn(_RequestEvent):
    pass


@dataclass(frozen=True)
class _TaskEvent:
    task_id: int
    request_id: int
    document_type: str
    document_id: str
    step_name: str
    assignee_id: int
    on_behalf_of_id: int | None


@event(ApprovalsEvent.TASK_ASSIGNED)
@dataclass(frozen=True)
class TaskAssigned(_TaskEvent):
    due_at: str | None


@event(ApprovalsEvent.TASK_DECIDED)
@dataclass(frozen=True)
class TaskDecided(_TaskEvent):
    status: str
    decided_by_id: int | None
    reason: str


@event(ApprovalsEvent.TASK_REMINDED)
@dataclass(frozen=True)
class TaskReminded(_TaskEvent):
    due_at: str | None


@event(ApprovalsEvent.TASK_ESCALATED)
@dataclass(frozen=True)
class TaskEscalated(_TaskEvent):
    new_task_id: int | None
    new_assignee_id: int | None


@event(ApprovalsEvent.ROUTE_UNRESOLVED)
@dataclass(frozen=True)
class RouteUnresolved:
    """Admin alert: a document could not start (or escalate) because a step has no approver."""

    document_type: str
    document_id: str
    policy_id: int | None
    version: int | None
    step_name: str
    problem: str


@event(ApprovalsEvent.DELEGATION_CREATED)
@dataclass(frozen=True)
class DelegationCreated:
    delegation_id: int
    delegator_id: int
    delegate_id: int
    starts_at: str
    ends_at: str


@event(ApprovalsEvent.DELEGATION_CANCELLED)
@dataclass(frozen=True)
class DelegationCancelled:
    delegation_id: int
    delegator_id: int
    delegate_id: int


@event(ApprovalsEvent.REQUEST_COMMENTED)
@dataclass(frozen=True)
class RequestCommented:
    """Someone commented on a request (open or closed), perhaps with attachments."""

    request_id: int
    document_type: str
    document_id: str
    status: str
    round: int
    actor_id: int | None
    comment_id: int
    attachments: int
