"""Approvals API (under /api/v1/approvals/): document types, policies, versions, publishing,
and "Test this policy" previews. Everything needs `approvals.manage` at the policy's scope (the
root of the tree for chain-wide policies); another scope's policy is a 404.
"""

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Path, Query, Router, Status
from ninja.pagination import paginate

from backroom.accounts.authorization import require_permission
from backroom.approvals import selectors, services
from backroom.approvals.models import ApprovalPolicy, PolicyVersion
from backroom.approvals.permissions import APPROVALS_MANAGE
from backroom.approvals.registry import describe, document_types
from backroom.approvals.schemas import (
    DocumentTypeOut,
    PolicyDetailOut,
    PolicyFilter,
    PolicyIn,
    PolicyOut,
    PolicyUpdateIn,
    PreviewIn,
    PreviewOut,
    VersionOut,
)
from backroom.config.api_support import ObjectId, Pagination, errors

router = Router(tags=["approvals"])


def _version(version: PolicyVersion) -> dict[str, Any]:
    return {
        "number": version.number,
        "condition": version.condition,
        "allow_self_approval": version.allow_self_approval,
        "created_at": version.created_at,
        "created_by_id": version.created_by_id,
        "published_at": version.published_at,
        "published_by_id": version.published_by_id,
        "steps": list(version.steps.order_by("position")),
    }


def _summary(policy: ApprovalPolicy) -> dict[str, Any]:
    in_force = selectors.version_in_force(policy)
    return {
        "id": policy.pk,
        "document_type": policy.document_type,
        "name": policy.name,
        "description": policy.description,
        "is_active": policy.is_active,
        "scope_node_id": policy.scope_node_id,
        "latest_version": selectors.latest_version(policy).number,
        "version_in_force": in_force.number if in_force else None,
    }


def _detail(policy: ApprovalPolicy) -> dict[str, Any]:
    return {
        **_summary(policy),
        "versions": list(selectors.versions_of(policy)),
        "latest": _version(selectors.latest_version(policy)),
    }


def _input(payload: PolicyIn) -> services.PolicyInput:
    return services.PolicyInput(
        document_type=payload.document_type,
        name=payload.name,
        description=payload.description,
        scope_node_id=payload.scope_node_id,
        is_active=payload.is_active,
        condition=payload.condition,
        allow_self_approval=payload.allow_self_approval,
        steps=[
            services.StepInput(
                name=step.name,
                approver_kind=step.approver_kind,
                approver_params=step.approver_params,
                mode=step.mode,
                condition=step.condition,
                sla_hours=step.sla_hours,
                on_breach=step.on_breach,
            )
            for step in payload.steps
        ],
    )


@router.get("/document-types", response={200: list[DocumentTypeOut], **errors(403)})
def list_document_types(request: HttpRequest) -> list[dict[str, Any]]:
    """Document types with the fields their conditions may use (for the policy editor)."""
    require_permission(request.user, APPROVALS_MANAGE)
    return [describe(document_type) for document_type in document_types()]


@router.get("/policies", response={200: list[PolicyOut], **errors()})
@paginate(Pagination)
def list_policies(request: HttpRequest, filters: Query[PolicyFilter]) -> list[dict[str, Any]]:
    """Policies the caller may manage, by document type and name."""
    policies: QuerySet[ApprovalPolicy] = selectors.policies_for(request.user)
    if filters.document_type:
        policies = policies.filter(document_type=filters.document_type)
    if filters.is_active is not None:
        policies = policies.filter(is_active=filters.is_active)
    return [_summary(policy) for policy in policies]


@router.get("/policies/{policy_id}", response={200: PolicyDetailOut, **errors(403, 404)})
def get_policy(request: HttpRequest, policy_id: Path[ObjectId]) -> dict[str, Any]:
    return _detail(selectors.get_policy(request.user, policy_id))


@router.get(
    "/policies/{policy_id}/versions/{number}", response={200: VersionOut, **errors(403, 404)}
)
def get_version(
    request: HttpRequest, policy_id: Path[ObjectId], number: Path[ObjectId]
) -> dict[str, Any]:
    policy = selectors.get_policy(request.user, policy_id)
    return _version(selectors.get_version(policy, number))


@router.post("/policies", response={201: PolicyDetailOut, **errors(403, 404)})
def create_policy(request: HttpRequest, payload: PolicyIn) -> Status:
    """Create a policy; its route is version 1 (published at once with `publish`)."""
    policy = services.create_policy(
        _input(payload), actor=request.user, publish_now=payload.publish
    )
    return Status(201, _detail(policy))


@router.put("/policies/{policy_id}", response={200: PolicyDetailOut, **errors(403, 404)})
def update_policy(
    request: HttpRequest, policy_id: Path[ObjectId], payload: PolicyUpdateIn
) -> dict[str, Any]:
    """Replace a policy; a changed route becomes a new version. Published versions never change."""
    policy = selectors.get_policy(request.user, policy_id)
    policy = services.update_policy(
        policy,
        _input(payload),
        actor=request.user,
        reason=payload.reason,
        publish_now=payload.publish,
    )
    return _detail(policy)


@router.post(
    "/policies/{policy_id}/versions/{number}/publish",
    response={200: PolicyDetailOut, **errors(403, 404, 409)},
)
def publish_version(
    request: HttpRequest, policy_id: Path[ObjectId], number: Path[ObjectId]
) -> dict[str, Any]:
    """Put a version in force for new requests (once; never over a newer published one)."""
    policy = selectors.get_policy(request.user, policy_id)
    services.publish_version(selectors.get_version(policy, number), actor=request.user)
    return _detail(policy)


@router.post("/policies/{policy_id}/preview", response={200: PreviewOut, **errors(403, 404)})
def preview(request: HttpRequest, policy_id: Path[ObjectId], payload: PreviewIn) -> dict[str, Any]:
    """Test this policy: the route a document with these field values would take. Changes nothing."""
    policy = selectors.get_policy(request.user, policy_id)
    version = (
        selectors.get_version(policy, payload.version)
        if payload.version is not None
        else selectors.latest_version(policy)
    )
    steps = services.preview_route(version, policy.document_type, payload.fields)
    return {
        "version": version.number,
        "policy_matches": services.version_matches(version, payload.fields),
        "steps": steps,
    }
