"""Approvals API schemas: document types, policies with their versions and steps, previews."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Field, Schema

from backroom.approvals.choices import ApproverKind, BreachAction, StepMode
from backroom.approvals.services import MAX_SLA_HOURS, MAX_STEPS
from backroom.config.api_support import ObjectId, Text, text


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
