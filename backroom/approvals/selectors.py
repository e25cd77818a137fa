"""Reads of approval policies, scoped to the actor.

A policy scoped to a node is seen by actors holding `approvals.manage` at that node or above; a
chain-wide policy (no scope) only by actors holding it at the root of the tree.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from backroom.accounts.authorization import require_permission
from backroom.approvals.models import ApprovalPolicy, PolicyVersion
from backroom.approvals.permissions import APPROVALS_MANAGE
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
