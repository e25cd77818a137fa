"""Alerts API (mounted at /api/v1/alerts/, docs/alerts.md): the notification centre's alerts
(list with filters, get, read, acknowledge, assign, resolve) and the alert rules (CRUD, test now,
check a condition). Writes accept `Idempotency-Key` (kernel.idempotency): a retry replays."""

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Status
from ninja.pagination import paginate

from backroom.accounts.authorization import require_permission
from backroom.accounts.models import User
from backroom.config.api_support import ObjectId, Pagination, errors
from backroom.dashboards import rules as rule_engine
from backroom.dashboards import services
from backroom.dashboards.models import Alert, AlertRule
from backroom.dashboards.permissions import ALERT_RULES_MANAGE
from backroom.dashboards.schemas_alerts import (
    AlertDetailOut,
    AlertFilterIn,
    AlertOut,
    AssignIn,
    ConditionCheckOut,
    ConditionIn,
    NoteIn,
    ReadAllOut,
    RuleActiveIn,
    RuleIn,
    RuleOut,
    TestRowOut,
    VariableOut,
)
from backroom.dashboards.selectors_alerts import AlertFilter, alerts_for, filter_alerts, rules_for
from backroom.kernel.exceptions import NotFound, ValidationFailed
from backroom.org.models import OrgNode
from backroom.org.selectors import get_node

router = Router(tags=["alerts"])


def _alert(request: HttpRequest, alert_id: int) -> Alert:
    row = alerts_for(request.user).filter(pk=alert_id).first()
    if row is None:
        raise NotFound()
    return row


def _fresh(request: HttpRequest, alert: Alert) -> Alert:
    return _alert(request, alert.pk)


def _filtered(request: HttpRequest, filters: AlertFilterIn) -> QuerySet[Alert]:
    return filter_alerts(
        alerts_for(request.user),
        request.user,
        AlertFilter(
            status=filters.status or "",
            severity=filters.severity or "",
            site_id=filters.store_id,
            source=filters.source or "",
            assigned_to_me=filters.assigned_to_me,
            is_unread=filters.unread,
        ),
    )


@router.get("/", response={200: list[AlertOut], **errors()})
@paginate(Pagination)
def list_alerts(request: HttpRequest, filters: Query[AlertFilterIn]) -> QuerySet[Alert]:
    """The alerts of the caller's stores (alerts.view), newest first: `status` (open,
    acknowledged, resolved, active = not resolved), `severity`, `store_id`, `source` (rule,
    detector), `assigned_to_me`, `unread`."""
    return _filtered(request, filters)


@router.post("/read", response={200: ReadAllOut, **errors(403)})
def read_all(request: HttpRequest, filters: Query[AlertFilterIn]) -> dict[str, int]:
    """Mark every alert the filters select read for the caller."""
    found = _filtered(request, filters)
    return {"marked": services.mark_all_read(found, actor=request.user)}


@router.get("/rules", response={200: list[RuleOut], **errors()})
@paginate(Pagination)
def list_rules(request: HttpRequest) -> QuerySet[AlertRule]:
    """The rules the caller writes (alerts.rules), by code."""
    return rules_for(request.user).order_by("code")


@router.get("/rules/variables", response={200: list[VariableOut], **errors()})
def rule_variables(request: HttpRequest) -> list[dict[str, str]]:
    """The variables a condition may use (KPI codes as doubles, store/region/… as strings)."""
    return rule_engine.variables()


@router.post("/rules/check", response={200: ConditionCheckOut, **errors(403)})
def check_condition(request: HttpRequest, payload: ConditionIn) -> dict[str, Any]:
    """Check a condition without saving: every problem with its line and column."""
    require_permission(request.user, ALERT_RULES_MANAGE)
    problems = rule_engine.check_rule_condition(payload.condition)
    return {
        "is_valid": not problems,
        "problems": [{"message": p.message, "line": p.line, "column": p.column} for p in problems],
        "kpis": [] if problems else rule_engine.referenced_kpis(payload.condition),
    }


def _node(request: HttpRequest, node_id: int | None) -> OrgNode | None:
    return get_node(request.user, node_id, ALERT_RULES_MANAGE) if node_id else None


def _input(request: HttpRequest, payload: RuleIn) -> services.RuleInput:
    return services.RuleInput(
        code=payload.code,
        name=payload.name,
        description=payload.description,
        condition=payload.condition,
        scope=payload.scope,
        node=_node(request, payload.node_id),
        trigger=payload.trigger,
        period=payload.period,
        event_type=payload.event_type,
        schedule=payload.schedule,
        run_at=dt.time.fromisoformat(payload.run_at),
        severity=payload.severity,
        recipient_roles=payload.recipient_roles,
        send_email=payload.send_email,
        cooldown_minutes=payload.cooldown_minutes,
    )


def _rule(request: HttpRequest, rule_id: int) -> AlertRule:
    rule = rules_for(request.user).filter(pk=rule_id).first()
    if rule is None:
        raise NotFound()
    return rule


@router.post("/rules", response={201: RuleOut, **errors(403, 404)})
def create_rule(request: HttpRequest, payload: RuleIn) -> Status:
    """Add a rule (alerts.rules at its node); the condition is checked (422 `invalid` with
    every problem under `condition`)."""
    require_permission(request.user, ALERT_RULES_MANAGE)
    return Status(201, services.create_rule(_input(request, payload), actor=request.user))


@router.get("/rules/{rule_id}", response={200: RuleOut, **errors(404)})
def get_rule(request: HttpRequest, rule_id: Path[ObjectId]) -> AlertRule:
    return _rule(request, rule_id)


@router.put("/rules/{rule_id}", response={200: RuleOut, **errors(403, 404)})
def update_rule(request: HttpRequest, rule_id: Path[ObjectId], payload: RuleIn) -> AlertRule:
    """Change a rule (built-in ones too; the code stays)."""
    return services.update_rule(
        _rule(request, rule_id), _input(request, payload), actor=request.user
    )


@router.post("/rules/{rule_id}/active", response={200: RuleOut, **errors(403, 404)})
def set_rule_active(
    request: HttpRequest, rule_id: Path[ObjectId], payload: RuleActiveIn
) -> AlertRule:
    """Switch a rule on or off."""
    return services.set_rule_active(_rule(request, rule_id), payload.is_active, actor=request.user)


@router.delete("/rules/{rule_id}", response={204: None, **errors(403, 404, 409)})
def delete_rule(request: HttpRequest, rule_id: Path[ObjectId]) -> Status:
    """Delete a rule that never raised an alert; a built-in rule is a 409 `builtin_rule`
    (deactivate it instead)."""
    services.delete_rule(_rule(request, rule_id), actor=request.user)
    return Status(204, None)


@router.post("/rules/{rule_id}/test", response={200: list[TestRowOut], **errors(403, 404)})
def test_rule(request: HttpRequest, rule_id: Path[ObjectId]) -> list[dict[str, Any]]:
    """Test the rule now: each node of its scope with its KPI values and what would happen
    (`new`, `grouped`, `quiet`, or "" when the condition is false). Writes nothing."""
    rule = _rule(request, rule_id)
    return [
        {
            "node_id": o.evaluation.node.pk,
            "node_code": o.evaluation.node.code,
            "store_id": o.evaluation.site.pk if o.evaluation.site else None,
            "date_from": o.evaluation.date_from,
            "date_to": o.evaluation.date_to,
            "currency": o.evaluation.currency,
            "kpis": o.evaluation.details()["kpis"],
            "fired": o.evaluation.fired,
            "missing": o.evaluation.missing,
            "error": o.evaluation.error,
            "action": o.action,
            "alert_id": o.alert.pk if o.alert else None,
        }
        for o in services.dry_run_rule(rule, actor=request.user)
    ]


@router.get("/{alert_id}", response={200: AlertDetailOut, **errors(404)})
def get_alert(request: HttpRequest, alert_id: Path[ObjectId]) -> Alert:
    """One alert with its history (reading it through the API does not mark it read: POST
    /{id}/read does)."""
    return _alert(request, alert_id)


@router.post("/{alert_id}/read", response={200: AlertOut, **errors(403, 404)})
def read_alert(request: HttpRequest, alert_id: Path[ObjectId]) -> Alert:
    alert = _alert(request, alert_id)
    services.mark_read(alert, actor=request.user)
    return _fresh(request, alert)


@router.post("/{alert_id}/acknowledge", response={200: AlertOut, **errors(403, 404, 409)})
def acknowledge_alert(request: HttpRequest, alert_id: Path[ObjectId], payload: NoteIn) -> Alert:
    """Acknowledge (alerts.view): open → acknowledged, with a note. 409 `alert_acknowledged`
    or `alert_resolved` when it is past that."""
    alert = _alert(request, alert_id)
    services.acknowledge_alert(alert, actor=request.user, note=payload.note)
    return _fresh(request, alert)


@router.post("/{alert_id}/assign", response={200: AlertOut, **errors(403, 404, 409)})
def assign_alert(request: HttpRequest, alert_id: Path[ObjectId], payload: AssignIn) -> Alert:
    """Assign as a task (alerts.manage) to a user who may manage alerts at its node."""
    alert = _alert(request, alert_id)
    assignee = User.objects.filter(pk=payload.assignee_id, is_active=True).first()
    if assignee is None:
        raise ValidationFailed({"assignee_id": [_("No such user.")]})
    services.assign_alert(alert, assignee, actor=request.user, note=payload.note)
    return _fresh(request, alert)


@router.post("/{alert_id}/resolve", response={200: AlertOut, **errors(403, 404, 409)})
def resolve_alert(request: HttpRequest, alert_id: Path[ObjectId], payload: NoteIn) -> Alert:
    """Resolve with a note (alerts.manage); 409 `alert_resolved` when it already is."""
    alert = _alert(request, alert_id)
    services.resolve_alert(alert, actor=request.user, note=payload.note)
    return _fresh(request, alert)
