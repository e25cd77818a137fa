"""Reads of approval policies, scoped to the actor.

A policy scoped to a node is seen by actors holding `approvals.manage` at that node or above; a
chain-wide policy (no scope) only by actors holding it at the root of the tree.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from backroom.accounts.authorization import require_permission
from backroom.accounts.permissions import ORG_VIEW
from backroom.approvals.choices import RequestStatus, TaskStatus
from backroom.approvals.models import (
    ApprovalHistory,
    ApprovalPolicy,
    ApprovalRequest,
    ApprovalTask,
    Delegation,
    PolicyVersion,
)
from backroom.approvals.permissions import APPROVALS_MANAGE, APPROVALS_SUBMIT
from backroom.kernel.exceptions import NotFound
from backroom.kernel.scoping import scope_q
from backroom.org.models import OrgNode


def root_node() -> OrgNode | None:
    """The group node at the top of the tree (chain-wide policies hang off it for permissions)."""
    return OrgNode.objects.filter(parent__isnull=True).order_by("pk").first()


def policy_node(policy: ApprovalPolicy) -> OrgNode | None:
    """The node whose permissions govern a policy: its scope, or the root when chain-wide."""
    return policy.scope_node if policy.scope_node_id is not None else root_node()


def policies_for(actor: Any) -> QuerySet[ApprovalPolicy]:
    """Policies the actor may manage, by document type and name."""
    policies = ApprovalPolicy.objects.select_related("scope_node").order_by(
        "document_type", "name", "pk"
    )
    if actor is None or not getattr(actor, "is_authenticated", False):
        return policies.none()
    paths = actor.scope_paths(APPROVALS_MANAGE)
    if paths is None:
        return policies
    if not paths:
        return policies.none()
    visible = scope_q("scope_node", paths)
    root = root_node()
    if root is not None and any(root.path.startswith(path) for path in paths):
        visible |= Q(scope_node__isnull=True)
    return policies.filter(visible)


def get_policy(actor: Any, policy_id: int) -> ApprovalPolicy:
    """A policy the actor may manage: 404 when it may not see its node, 403 when it may."""
    policy = ApprovalPolicy.objects.select_related("scope_node").filter(pk=policy_id).first()
    if policy is None:
        raise NotFound()
    require_permission(actor, APPROVALS_MANAGE, policy_node(policy))
    return policy


def versions_of(policy: ApprovalPolicy) -> QuerySet[PolicyVersion]:
    return policy.versions.order_by("number")


def latest_version(policy: ApprovalPolicy) -> PolicyVersion:
    """The newest version (draft or published): what the editor shows and tests."""
    return policy.versions.order_by("-number")[:1].get()


def version_in_force(policy: ApprovalPolicy) -> PolicyVersion | None:
    """The newest published version: what new requests use."""
    return policy.versions.filter(published_at__isnull=False).order_by("-number").first()


def get_version(policy: ApprovalPolicy, number: int) -> PolicyVersion:
    try:
        return policy.versions.get(number=number)
    except PolicyVersion.DoesNotExist:
        raise NotFound() from None


# --- runtime reads -----------------------------------------------------------------------------


def _involved_q(user_id: int) -> Q:
    return (
        Q(requester_id=user_id) | Q(tasks__assignee_id=user_id) | Q(tasks__on_behalf_of_id=user_id)
    )


def requests_for(actor: Any, *, box: str = "all") -> QuerySet[ApprovalRequest]:
    """Requests the actor may see, newest first: ones they submitted, ones with a task of theirs
    (assigned or delegated away), and, with `approvals.manage` or `approvals.submit` (apps and
    integrations follow what they submitted), every request in that scope.

    `box`: "mine" (submitted by the actor), "waiting" (a pending task assigned to the actor),
    "all".
    """
    requests = ApprovalRequest.objects.select_related("org_node", "requester", "version__policy")
    if actor is None or not getattr(actor, "is_authenticated", False) or actor.pk is None:
        return requests.none()
    if box == "mine":
        return requests.filter(requester_id=actor.pk).order_by("-submitted_at", "-pk")
    if box == "waiting":
        waiting = ApprovalTask.objects.filter(
            assignee_id=actor.pk,
            status=TaskStatus.PENDING,
            request__status=RequestStatus.PENDING,
        ).values("request_id")
        return requests.filter(pk__in=waiting).order_by("-submitted_at", "-pk")
    visible = _involved_q(actor.pk)
    for permission in (APPROVALS_MANAGE, APPROVALS_SUBMIT):
        paths = actor.scope_paths(permission)
        if paths is None:
            visible = Q()
            break
        if paths:
            visible |= scope_q("org_node", paths)
    ids = ApprovalRequest.objects.filter(visible).values("pk")
    return requests.filter(pk__in=ids).order_by("-submitted_at", "-pk")


def can_see_request(actor: Any, request: ApprovalRequest) -> bool:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return False
    if actor.pk is not None and (
        request.requester_id == actor.pk
        or request.tasks.filter(Q(assignee_id=actor.pk) | Q(on_behalf_of_id=actor.pk)).exists()
    ):
        return True
    return bool(
        actor.has_scoped_permission(APPROVALS_MANAGE, request.org_node)
        or actor.has_scoped_permission(APPROVALS_SUBMIT, request.org_node)
    )


def get_request(actor: Any, request_id: int) -> ApprovalRequest:
    """A request the actor may see: 404 when it may not see the node, 403 when it may."""
    request = (
        ApprovalRequest.objects.select_related("org_node", "requester", "version__policy")
        .filter(pk=request_id)
        .first()
    )
    if request is None:
        raise NotFound()
    if not can_see_request(actor, request):
        require_permission(actor, APPROVALS_MANAGE, request.org_node)
    return request


def get_task(actor: Any, task_id: int) -> ApprovalTask:
    """A task whose request the actor may see, or that is on a node the actor can see (so that
    deciding someone else's task is a coded conflict, not a mystery); else 404."""
    task = ApprovalTask.objects.select_related("request__org_node").filter(pk=task_id).first()
    if task is None:
        raise NotFound()
    if not can_see_request(actor, task.request):
        require_permission(actor, ORG_VIEW, task.request.org_node)
    return task


def tasks_of(request: ApprovalRequest) -> QuerySet[ApprovalTask]:
    return request.tasks.select_related("assignee", "on_behalf_of", "decided_by").order_by(
        "round", "step_index", "pk"
    )


def history_of(request: ApprovalRequest) -> QuerySet[ApprovalHistory]:
    return request.history.select_related("actor", "on_behalf_of").order_by("occurred_at", "pk")


def delegations_for(actor: Any) -> QuerySet[Delegation]:
    """Delegations the actor gave or received, newest first."""
    if actor is None or not getattr(actor, "is_authenticated", False) or actor.pk is None:
        return Delegation.objects.none()
    return (
        Delegation.objects.filter(Q(delegator_id=actor.pk) | Q(delegate_id=actor.pk))
        .select_related("delegator", "delegate")
        .order_by("-starts_at", "-pk")
    )
