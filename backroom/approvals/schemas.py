"""Approvals API schemas: document types, policies with their versions and steps, previews."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from ninja import Field, Schema

from backroom.approvals.choices import ApproverKind, BreachAction, RequestStatus, StepMode
from backroom.approvals.services import MAX_SLA_HOURS, MAX_STEPS
from backroom.config.api_support import Instant, ObjectId, Text, text


class DocumentFieldOut(Schema):
    name: str
    type: str = Field(description="money, string, int or bool")
    cel_type: str = Field(description="The CEL type a condition sees: double, string, int, bool")
    label: str
    required: bool


class DocumentTypeOut(Schema):
    code: str
    label: str
    node_field: str
    fields: list[DocumentFieldOut]


class StepIn(Schema):
    name: str = text(min_length=1, max_length=200)
    approver_kind: ApproverKind
    approver_params: dict[str, Any] = Field(
        default_factory=dict,
        description='role: {"role": "region_manager", "level": "region"}; '
        'users: {"user_ids": [1, 2]}; requester_manager: {}',
    )
    mode: StepMode = StepMode.ANY_ONE
    condition: str = text(max_length=2000, default="")
    sla_hours: int | None = Field(None, ge=1, le=MAX_SLA_HOURS)
    on_breach: BreachAction = BreachAction.REMIND


class PolicyIn(Schema):
    document_type: str = text(min_length=1, max_length=64)
    name: str = text(min_length=1, max_length=200)
    description: str = text(max_length=2000, default="")
    scope_node_id: ObjectId | None = Field(None, description="Empty: the whole chain")
    is_active: bool = True
    condition: str = Field(
        "",
        max_length=2000,
        pattern=r"^[^\x00]*$",
        description="CEL selecting this policy; empty: always",
    )
    allow_self_approval: bool = False
    steps: list[StepIn] = Field(..., min_length=1, max_length=MAX_STEPS)
    publish: bool = Field(False, description="Publish the new version at once")


class PolicyUpdateIn(PolicyIn):
    reason: str = text(max_length=1000, default="")


class StepOut(Schema):
    position: int
    name: str
    approver_kind: str
    approver_params: dict[str, Any]
    mode: str
    condition: str
    sla_hours: int | None
    on_breach: str


class VersionOut(Schema):
    number: int
    condition: str
    allow_self_approval: bool
    created_at: dt.datetime
    created_by_id: int | None
    published_at: dt.datetime | None
    published_by_id: int | None
    steps: list[StepOut]


class VersionSummaryOut(Schema):
    number: int
    created_at: dt.datetime
    published_at: dt.datetime | None


class PolicyOut(Schema):
    id: int
    document_type: str
    name: str
    description: str
    is_active: bool
    scope_node_id: int | None
    latest_version: int
    version_in_force: int | None


class PolicyDetailOut(PolicyOut):
    versions: list[VersionSummaryOut]
    latest: VersionOut


class PolicyFilter(Schema):
    document_type: Text | None = Field(None, max_length=64)
    is_active: bool | None = None


class PreviewIn(Schema):
    fields: dict[str, Any] = Field(
        ...,
        description="Field values of a sample document; money as a decimal string "
        '(e.g. "5000.00") or an integer',
    )
    version: int | None = Field(None, ge=1, le=2**31, description="Default: the newest version")


class ApproverOut(Schema):
    user_id: int
    username: str
    display_name: str


class RouteStepOut(Schema):
    position: int
    name: str
    applies: bool
    mode: str
    approver_kind: str
    approver_description: str
    approvers: list[ApproverOut]
    problem: str | None
    condition: str
    sla_hours: int | None
    on_breach: str


class PreviewOut(Schema):
    version: int
    policy_matches: bool = Field(description="Whether the version's own condition selects it")
    steps: list[RouteStepOut]


# --- runtime -----------------------------------------------------------------------------------


class SubmitIn(Schema):
    document_type: str = text(min_length=1, max_length=64)
    document_id: str = text(min_length=1, max_length=100)
    fields: dict[str, Any] = Field(
        ...,
        description="The document's field values; `amount` in the entity's base currency "
        '(a decimal string such as "5000.00", or an integer)',
    )
    org_node_id: ObjectId | None = Field(None, description="Default: the node of the store field")
    requester_id: ObjectId | None = Field(
        None, description="Needs approvals.submit; default: the caller"
    )
    document_currency: str = Field("", pattern=r"^([A-Z]{3})?$")
    document_amount: Decimal | None = Field(
        None, max_digits=18, decimal_places=4, description="In the document's own currency"
    )


class RequestFilter(Schema):
    box: Literal["all", "mine", "waiting"] = Field(
        "all", description="mine: submitted by me; waiting: a pending task of mine"
    )
    status: RequestStatus | None = None
    document_type: Text | None = Field(None, max_length=64)


class RequestOut(Schema):
    id: int
    document_type: str
    document_id: str
    org_node_id: int
    requester_id: int
    status: str
    round: int
    current_step: int | None = Field(description="Index into `route`; empty when not pending")
    policy_id: int | None
    version: int | None
    fields: dict[str, Any]
    document_currency: str
    document_amount: Decimal | None
    submitted_at: dt.datetime
    decided_at: dt.datetime | None


class TaskOut(Schema):
    id: int
    round: int
    step_index: int
    step_name: str
    mode: str
    assignee_id: int
    on_behalf_of_id: int | None
    status: str
    decided_by_id: int | None
    decided_at: dt.datetime | None
    reason: str
    created_at: dt.datetime
    due_at: dt.datetime | None
    escalated_from_id: int | None


class HistoryOut(Schema):
    id: int
    round: int
    action: str
    task_id: int | None
    actor_id: int | None
    on_behalf_of_id: int | None
    occurred_at: dt.datetime
    reason: str
    comment: str


class RoutePlanStepOut(Schema):
    position: int
    name: str
    mode: str
    sla_hours: int | None
    on_breach: str
    approver_ids: list[int]
    skipped: bool


class RequestDetailOut(RequestOut):
    route: list[RoutePlanStepOut]
    tasks: list[TaskOut]
    history: list[HistoryOut]


class DecisionIn(Schema):
    comment: str = text(max_length=2000, default="")


class DecisionReasonIn(Schema):
    reason: str = text(min_length=1, max_length=2000)
    comment: str = text(max_length=2000, default="")


class WithdrawIn(Schema):
    reason: str = text(max_length=2000, default="")


class ResubmitIn(Schema):
    fields: dict[str, Any] | None = Field(None, description="Changed fields; default: as before")
    comment: str = text(max_length=2000, default="")


class DelegationIn(Schema):
    delegate_id: ObjectId
    starts_at: Instant
    ends_at: Instant
    reason: str = text(max_length=2000, default="")


class DelegationOut(Schema):
    id: int
    delegator_id: int
    delegate_id: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    reason: str
    cancelled_at: dt.datetime | None


class AttachmentOut(Schema):
    id: int
    name: str
    content_type: str = Field(description="Read from the file: JPEG, PNG, WebP, HEIC or PDF")
    size: int
    url: str = Field(description="Download (only for those who may see the request)")

    @staticmethod
    def resolve_url(obj: Any) -> str:
        return f"/api/v1/approvals/attachments/{obj.pk}"


class CommentOut(Schema):
    id: int = Field(description="The comment's history entry")
    request_id: int
    round: int
    author_id: int | None
    comment: str
    created_at: dt.datetime
    attachments: list[AttachmentOut]

    @staticmethod
    def resolve_author_id(obj: Any) -> int | None:
        return obj.actor_id  # type: ignore[no-any-return]

    @staticmethod
    def resolve_created_at(obj: Any) -> dt.datetime:
        return obj.occurred_at  # type: ignore[no-any-return]

    @staticmethod
    def resolve_attachments(obj: Any) -> list[Any]:
        return list(obj.attachments.all())


# --- bulk approval, the report, delegation management (docs/approvals.md) ----------------------


class BulkApproveIn(Schema):
    task_ids: list[ObjectId] = Field(
        ..., min_length=1, max_length=200, description="1–200 tasks; duplicates count once"
    )
    comment: str = text(max_length=2000, default="")


class BulkOutcomeOut(Schema):
    task_id: int
    request_id: int | None = Field(description="Empty when the task cannot be seen")
    approved: bool
    code: str = Field(description="`approved`, or the error's code (e.g. `bulk_limit_exceeded`)")
    message: str


class BulkApproveOut(Schema):
    limit: Decimal = Field(description="The bulk limit, in each request's base currency")
    approved: int
    failed: int
    results: list[BulkOutcomeOut]


class ReportFilterIn(Schema):
    date_from: dt.date | None = Field(None, description="Default: 29 days before `date_to`")
    date_to: dt.date | None = Field(None, description="Default: today (inclusive)")
    document_type: Text = Field("", max_length=64)
    node_id: ObjectId | None = Field(None, description="Narrow to a node in the caller's scope")
    sort: Literal[
        "name",
        "tasks",
        "decided",
        "average",
        "median",
        "breaches",
        "breach_percent",
        "open",
        "overdue",
    ] = "average"


class ReportExportIn(ReportFilterIn):
    table: Literal["steps", "approvers"] = "steps"


class ReportStepOut(Schema):
    document_type: str
    label: str
    policy_id: int | None
    policy_name: str
    step_name: str
    position: int
    tasks: int
    decided: int
    average_seconds: int | None
    median_seconds: int | None
    breaches: int
    breach_percent: Decimal
    escalations: int
    auto_decisions: int
    open: int


class ReportApproverOut(Schema):
    user_id: int
    username: str
    name: str
    tasks: int
    decided: int
    average_seconds: int | None
    median_seconds: int | None
    breaches: int
    breach_percent: Decimal
    open: int = Field(description="Pending tasks now (whatever the period)")
    overdue: int = Field(description="Pending tasks past their SLA now")


class ReportOut(Schema):
    date_from: dt.date
    date_to: dt.date
    document_type: str
    node_id: int | None
    generated_at: dt.datetime
    sort: str
    steps: list[ReportStepOut]
    approvers: list[ReportApproverOut]
