"""Approvals API (under /api/v1/approvals/): document types, policies, versions, publishing,
and "Test this policy" previews — all needing `approvals.manage` at the policy's scope (the root
of the tree for chain-wide policies; another scope's policy is a 404) — and the runtime:
requests, decisions on tasks, withdrawal, resubmission and delegations.
"""

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from ninja import File, Form, Path, Query, Router, Status
from ninja.files import UploadedFile
from ninja.pagination import paginate

from backroom.accounts.authorization import require_permission
from backroom.accounts.models import User
from backroom.approvals import comments, runtime, selectors, services
from backroom.approvals.models import ApprovalPolicy, ApprovalRequest, Delegation, PolicyVersion
from backroom.approvals.permissions import APPROVALS_MANAGE, APPROVALS_SUBMIT
from backroom.approvals.registry import describe, document_types
from backroom.approvals.reporting import (
    ReportFilter,
    approvals_report,
    csv_filename,
    csv_rows,
    default_period,
    get_report_node,
    to_csv,
)
from backroom.approvals.schemas import (
    BulkApproveIn,
    BulkApproveOut,
    CommentOut,
    DecisionIn,
    DecisionReasonIn,
    DelegationIn,
    DelegationOut,
    DocumentTypeOut,
    PolicyDetailOut,
    PolicyFilter,
    PolicyIn,
    PolicyOut,
    PolicyUpdateIn,
    PreviewIn,
    PreviewOut,
    ReportExportIn,
    ReportFilterIn,
    ReportOut,
    RequestDetailOut,
    RequestFilter,
    RequestOut,
    ResubmitIn,
    SubmitIn,
    VersionOut,
    WithdrawIn,
)
from backroom.config.api_support import ObjectId, Pagination, errors
from backroom.kernel.exceptions import NotFound, PermissionDenied, ValidationFailed
from backroom.org.models import OrgNode

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


# --- runtime: requests, tasks, delegations -----------------------------------------------------


def _request_out(approval: ApprovalRequest) -> dict[str, Any]:
    return {
        "id": approval.pk,
        "document_type": approval.document_type,
        "document_id": approval.document_id,
        "org_node_id": approval.org_node_id,
        "requester_id": approval.requester_id,
        "status": approval.status,
        "round": approval.round,
        "current_step": approval.current_step,
        "policy_id": approval.version.policy_id if approval.version else None,
        "version": approval.version.number if approval.version else None,
        "fields": approval.fields,
        "document_currency": approval.document_currency,
        "document_amount": approval.document_amount,
        "submitted_at": approval.submitted_at,
        "decided_at": approval.decided_at,
    }


def _request_detail(approval: ApprovalRequest) -> dict[str, Any]:
    return {
        **_request_out(approval),
        "route": approval.route,
        "tasks": list(selectors.tasks_of(approval)),
        "history": list(selectors.history_of(approval)),
    }


def _fresh(actor: Any, request_id: int) -> dict[str, Any]:
    return _request_detail(selectors.get_request(actor, request_id))


@router.post("/requests", response={201: RequestDetailOut, **errors(403, 404, 409)})
def submit_request(request: HttpRequest, payload: SubmitIn) -> Status:
    """Start the approval of a document. The caller is the requester, or (with
    `approvals.submit` at the document's node) names the requester. 422 `no_approver` when a
    step has no one to approve it (nothing is created); 409 `request_open` when the document
    already has a request in progress; no matching policy approves at once."""
    user: Any = request.user
    node = None
    if payload.org_node_id is not None:
        node = OrgNode.objects.filter(pk=payload.org_node_id).first()
        if node is None:
            raise NotFound()
    requester = user
    if payload.requester_id is not None and payload.requester_id != getattr(user, "pk", None):
        requester = User.objects.filter(pk=payload.requester_id).first()
        if requester is None:
            raise ValidationFailed({"requester_id": ["There is no such user."]})
    if not isinstance(requester, User):
        require_permission(user, APPROVALS_SUBMIT)
        raise ValidationFailed({"requester_id": ["Name the requester."]})
    approval = runtime.submit(
        runtime.Submission(
            document_type=payload.document_type,
            document_id=payload.document_id,
            fields=payload.fields,
            org_node=node,
            document_currency=payload.document_currency,
            document_amount=payload.document_amount,
        ),
        requester=requester,
        actor=user,
    )
    return Status(201, _request_detail(approval))


@router.get("/requests", response={200: list[RequestOut], **errors()})
@paginate(Pagination)
def list_requests(request: HttpRequest, filters: Query[RequestFilter]) -> list[dict[str, Any]]:
    """Requests the caller submitted, has a task in, or (with approvals.manage) oversees."""
    requests = selectors.requests_for(request.user, box=filters.box)
    if filters.status:
        requests = requests.filter(status=filters.status)
    if filters.document_type:
        requests = requests.filter(document_type=filters.document_type)
    return [_request_out(approval) for approval in requests]


@router.get("/requests/{request_id}", response={200: RequestDetailOut, **errors(403, 404)})
def get_request(request: HttpRequest, request_id: Path[ObjectId]) -> dict[str, Any]:
    """A request with its route, tasks and history."""
    return _fresh(request.user, request_id)


def _decide(
    request: HttpRequest, task_id: int, decision: str, reason: str, comment: str
) -> dict[str, Any]:
    task = selectors.get_task(request.user, task_id)
    runtime.decide(task, decision, actor=request.user, reason=reason, comment=comment)
    return _fresh(request.user, task.request_id)


@router.post("/tasks/{task_id}/approve", response={200: RequestDetailOut, **errors(403, 404, 409)})
def approve_task(
    request: HttpRequest, task_id: Path[ObjectId], payload: DecisionIn
) -> dict[str, Any]:
    """Approve a task assigned to you (409 `not_your_task`, `already_decided`,
    `request_closed`, `self_approval`)."""
    return _decide(request, task_id, runtime.Decision.APPROVE, "", payload.comment)


@router.post("/tasks/{task_id}/reject", response={200: RequestDetailOut, **errors(403, 404, 409)})
def reject_task(
    request: HttpRequest, task_id: Path[ObjectId], payload: DecisionReasonIn
) -> dict[str, Any]:
    """Reject a task assigned to you, with a reason: the whole request is rejected."""
    return _decide(request, task_id, runtime.Decision.REJECT, payload.reason, payload.comment)


@router.post("/tasks/{task_id}/return", response={200: RequestDetailOut, **errors(403, 404, 409)})
def return_task(
    request: HttpRequest, task_id: Path[ObjectId], payload: DecisionReasonIn
) -> dict[str, Any]:
    """Send the request back to its requester for changes, with a reason."""
    return _decide(request, task_id, runtime.Decision.RETURN, payload.reason, payload.comment)


@router.post(
    "/requests/{request_id}/withdraw", response={200: RequestDetailOut, **errors(403, 404, 409)}
)
def withdraw_request(
    request: HttpRequest, request_id: Path[ObjectId], payload: WithdrawIn
) -> dict[str, Any]:
    """The requester withdraws a pending or returned request (final)."""
    approval = selectors.get_request(request.user, request_id)
    runtime.withdraw(approval, actor=request.user, reason=payload.reason)
    return _fresh(request.user, request_id)


@router.post(
    "/requests/{request_id}/resubmit", response={200: RequestDetailOut, **errors(403, 404, 409)}
)
def resubmit_request(
    request: HttpRequest, request_id: Path[ObjectId], payload: ResubmitIn
) -> dict[str, Any]:
    """The requester resubmits a returned request: a new round with the same policy version."""
    approval = selectors.get_request(request.user, request_id)
    runtime.resubmit(approval, actor=request.user, fields=payload.fields, comment=payload.comment)
    return _fresh(request.user, request_id)


@router.get("/delegations", response={200: list[DelegationOut], **errors()})
@paginate(Pagination)
def list_delegations(request: HttpRequest) -> QuerySet[Delegation]:
    """Delegations the caller gave or received."""
    return selectors.delegations_for(request.user)


@router.post("/delegations", response={201: DelegationOut, **errors(403, 404)})
def create_delegation(request: HttpRequest, payload: DelegationIn) -> Status:
    """Delegate your approvals to another user for a window (out of office)."""
    user: Any = request.user
    if not getattr(user, "is_authenticated", False) or not isinstance(user, User):
        raise PermissionDenied()
    delegate = User.objects.filter(pk=payload.delegate_id).first()
    if delegate is None:
        raise ValidationFailed({"delegate_id": ["There is no such user."]})
    delegation = runtime.create_delegation(
        delegator=user,
        delegate=delegate,
        starts_at=payload.starts_at,
        ends_at=payload.ends_at,
        reason=payload.reason,
        actor=user,
    )
    return Status(201, delegation)


# --- comments with attachments -----------------------------------------------------------------


@router.post("/requests/{request_id}/comments", response={201: CommentOut, **errors(403, 404)})
def add_comment(
    request: HttpRequest,
    request_id: Path[ObjectId],
    comment: Form[str] = "",
    attachments: File[list[UploadedFile]] = None,  # type: ignore[assignment]
) -> Status:
    """Comment on a request, open or closed (multipart: `comment`, and up to five files in
    `attachments`: JPEG, PNG, WebP, HEIC or PDF). The requester, anyone with a task on it and
    holders of `approvals.manage` at its node may comment (others who see it: 403). Every
    problem at once, nothing saved: 422 `attachment_rejected` (`details.problems[].code`:
    `attachment_type`, `attachment_too_large`, `attachment_empty`, `too_many_attachments`) or
    `invalid`."""
    approval = selectors.get_request(request.user, request_id)
    entry = comments.add_comment(
        approval, actor=request.user, comment=comment, attachments=attachments or []
    )
    return Status(201, comments.comments_of(approval).get(pk=entry.pk))


@router.get("/requests/{request_id}/comments", response={200: list[CommentOut], **errors(403, 404)})
@paginate(Pagination)
def list_comments(request: HttpRequest, request_id: Path[ObjectId]) -> Any:
    """A request's comments, oldest first, with their attachments."""
    return comments.comments_of(selectors.get_request(request.user, request_id))


@router.get(
    "/attachments/{attachment_id}",
    response={200: None, **errors(404)},
    openapi_extra={
        "responses": {
            200: {
                "description": "The file",
                "content": {
                    "image/*": {"schema": {"type": "string", "format": "binary"}},
                    "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                },
            }
        }
    },
)
def download_attachment(request: HttpRequest, attachment_id: Path[ObjectId]) -> Any:
    """A comment's file, to those who may see its request (anyone else: 404)."""
    return comments.attachment_response(comments.visible_attachment(request.user, attachment_id))


# --- bulk approval, the report, delegation cancel ----------------------------------------------


@router.post("/tasks/bulk-approve", response={200: BulkApproveOut, **errors(403)})
def bulk_approve(request: HttpRequest, payload: BulkApproveIn) -> dict[str, Any]:
    """Approve up to 200 low-value tasks at once (base-currency amount at most the bulk limit).
    Each task goes through the same checks as one approval, in its own transaction; every
    outcome is reported (`approved`, or a code such as `bulk_limit_exceeded`,
    `not_your_task`, `already_decided`, `request_closed`, `self_approval`, `not_found`)."""
    outcomes = runtime.bulk_approve(payload.task_ids, actor=request.user, comment=payload.comment)
    approved = sum(outcome.approved for outcome in outcomes)
    return {
        "limit": runtime.bulk_max_amount(),
        "approved": approved,
        "failed": len(outcomes) - approved,
        "results": outcomes,
    }


def _report_filter(request: HttpRequest, filters: ReportFilterIn) -> ReportFilter:
    date_to = filters.date_to or default_period()[1]
    date_from = filters.date_from or default_period(date_to)[0]
    node = get_report_node(request.user, filters.node_id) if filters.node_id else None
    return ReportFilter(
        date_from=date_from,
        date_to=date_to,
        document_type=filters.document_type,
        node=node,
        sort=filters.sort,
    )


@router.get("/report", response={200: ReportOut, **errors(403, 404)})
def approvals_report_view(request: HttpRequest, filters: Query[ReportFilterIn]) -> dict[str, Any]:
    """The approvals report over a period (default: the last 30 days) in the caller's scope
    (`approvals.manage` or `approvals.report`): per policy step the tasks, decisions, average
    and median time to decide, SLA breaches, escalations and automatic decisions; per approver
    the same plus what waits for them now, sorted by `sort` (largest first; `name` A–Z)."""
    report = approvals_report(request.user, _report_filter(request, filters))
    return {
        "date_from": report.date_from,
        "date_to": report.date_to,
        "document_type": report.document_type,
        "node_id": report.node.pk if report.node else None,
        "generated_at": report.generated_at,
        "sort": report.sort,
        "steps": report.steps,
        "approvers": report.approvers,
    }


@router.get("/report/export", response={200: None, **errors(403, 404)})
def approvals_report_export(request: HttpRequest, filters: Query[ReportExportIn]) -> HttpResponse:
    """The report's steps (or, with `table=approvers`, approvers) table as CSV (UTF-8 with a
    byte-order mark, for Excel); hours with two decimals."""
    report = approvals_report(request.user, _report_filter(request, filters))
    response = HttpResponse(
        to_csv(csv_rows(report, filters.table)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="{csv_filename(report, filters.table)}"'
    )
    return response


@router.post(
    "/delegations/{delegation_id}/cancel", response={200: DelegationOut, **errors(403, 404, 409)}
)
def cancel_delegation(request: HttpRequest, delegation_id: Path[ObjectId]) -> Delegation:
    """End a delegation now (the delegator, or `approvals.manage` over them; anyone else: 404).
    409 `request_closed` when it is already cancelled."""
    delegation = runtime.managed_delegation(request.user, delegation_id)
    return runtime.cancel_delegation(delegation, actor=request.user)
