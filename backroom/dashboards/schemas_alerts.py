"""Schemas of the alerts API (/api/v1/alerts/, docs/alerts.md)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from ninja import Field, Schema

from backroom.config.api_support import ObjectId, text

RoleCode = Annotated[str, Field(max_length=50, pattern=r"^[^\x00]*$")]


class AlertFilterIn(Schema):
    status: str | None = Field(None, pattern="^(open|acknowledged|resolved|active)$")
    severity: str | None = Field(None, pattern="^(info|warning|critical)$")
    store_id: ObjectId | None = None
    source: str | None = Field(None, pattern="^(rule|detector)$")
    assigned_to_me: bool = False
    unread: bool = False


class AlertOut(Schema):
    id: int
    source: str
    rule_id: int | None
    detector: str
    source_label: str
    node_id: int
    store_id: int | None = Field(None, alias="site_id")
    severity: str
    status: str
    title: str
    message: str
    details: dict[str, Any]
    occurrences: int
    first_raised_at: dt.datetime
    last_raised_at: dt.datetime
    assignee_id: int | None
    acknowledged_at: dt.datetime | None
    acknowledged_by_id: int | None
    resolved_at: dt.datetime | None
    resolved_by_id: int | None
    is_read: bool = False

    @staticmethod
    def resolve_source_label(obj: Any) -> str:
        from backroom.dashboards.selectors_alerts import source_label

        return source_label(obj)


class ActivityOut(Schema):
    action: str
    actor_id: int | None
    note: str
    at: dt.datetime


class AlertDetailOut(AlertOut):
    activity: list[ActivityOut]


class NoteIn(Schema):
    note: str = text(max_length=2000, default="")


class AssignIn(Schema):
    assignee_id: ObjectId
    note: str = text(max_length=2000, default="")


class ReadAllOut(Schema):
    marked: int


class RuleIn(Schema):
    code: str = text(max_length=50, default="")
    name: str = text(min_length=1, max_length=200)
    description: str = text(max_length=5000, default="")
    condition: str = text(max_length=2000)
    scope: str = "store"
    node_id: ObjectId | None = None
    trigger: str = "schedule"
    period: str = "yesterday"
    event_type: str = text(max_length=100, default="")
    schedule: str = "daily"
    # The time of day of a daily rule, "HH:MM" in the deployment's time zone.
    run_at: str = Field("07:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    severity: str = "warning"
    recipient_roles: list[RoleCode] = Field(default_factory=list, max_length=50)
    send_email: bool = False
    cooldown_minutes: int = Field(24 * 60, ge=0, le=366 * 24 * 60)


class RuleOut(Schema):
    id: int
    code: str
    name: str
    description: str
    condition: str
    scope: str
    node_id: int | None
    trigger: str
    period: str
    event_type: str
    schedule: str
    run_at: str  # "HH:MM"
    severity: str
    recipient_roles: list[str]
    send_email: bool
    cooldown_minutes: int
    is_active: bool
    is_builtin: bool
    last_evaluated_at: dt.datetime | None

    @staticmethod
    def resolve_run_at(obj: Any) -> str:
        return str(obj.run_at.strftime("%H:%M"))


class RuleActiveIn(Schema):
    is_active: bool


class ConditionIn(Schema):
    condition: str = text(max_length=5000)


class RuleProblemOut(Schema):
    message: str
    line: int | None
    column: int | None


class ConditionCheckOut(Schema):
    is_valid: bool
    problems: list[RuleProblemOut]
    kpis: list[str]


class VariableOut(Schema):
    name: str
    type: str
    unit: str
    label: str
    description: str


class TestRowOut(Schema):
    node_id: int
    node_code: str
    store_id: int | None
    date_from: dt.date
    date_to: dt.date
    currency: str
    kpis: dict[str, str | None]
    fired: bool
    missing: list[str]
    error: str
    # "" (condition false), "new", "grouped" (adds to the open alert), "quiet" (cool-down)
    action: str
    alert_id: int | None
