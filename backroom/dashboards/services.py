"""Alert services: what people do to alerts in the notification centre (read, acknowledge,
assign, resolve) and writing the alert rules (docs/alerts.md).

Every action checks the actor at the alert's node (reading and acknowledging need alerts.view,
assigning and resolving alerts.manage, rules alerts.rules), locks the alert, records an
`AlertActivity`, an audit entry and its event in one transaction, and changes nothing when it is
refused. Acting on a resolved alert is a coded conflict (`alert_resolved`), so two managers
resolving one alert at once get one success and one clear conflict.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backroom.accounts.authorization import require_permission
from backroom.accounts.models import Role, User
from backroom.audit.services import record_audit
from backroom.dashboards import rules as rule_engine
from backroom.dashboards.choices import (
    AlertStatus,
    RulePeriod,
    RuleSchedule,
    RuleScope,
    RuleTrigger,
    Severity,
)
from backroom.dashboards.events import AlertAcknowledged, AlertAssigned, AlertResolved
from backroom.dashboards.models import Alert, AlertActivity, AlertRead, AlertRule
from backroom.dashboards.permissions import ALERT_RULES_MANAGE, ALERTS_MANAGE, ALERTS_VIEW
from backroom.dashboards.selectors_alerts import can_be_assigned, holds_at_top
from backroom.events.services import publish
from backroom.kernel.exceptions import (
    Conflict,
    ErrorCollector,
    PermissionDenied,
    ValidationFailed,
)
from backroom.org.models import OrgNode

MAX_NOTE = 2000


class AlertAlreadyResolved(Conflict):
    code = "alert_resolved"
    default_message = gettext_lazy("This alert is already resolved.")


class AlertAlreadyAcknowledged(Conflict):
    code = "alert_acknowledged"
    default_message = gettext_lazy("This alert is already acknowledged.")


class BuiltinRuleKept(Conflict):
    code = "builtin_rule"
    default_message = gettext_lazy(
        "Rules shipped with Backroom cannot be deleted; deactivate the rule instead."
    )


class RuleHasAlerts(Conflict):
    code = "rule_has_alerts"
    default_message = gettext_lazy(
        "This rule has raised alerts, so it is kept for their history; deactivate it instead."
    )


def _note(note: str) -> str:
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise ValidationFailed(
            {"note": [_("A note may have at most %(limit)s characters.") % {"limit": MAX_NOTE}]}
        )
    return note


def _locked(alert: Alert) -> Alert:
    return Alert.objects.select_for_update().select_related("node").get(pk=alert.pk)


def _snapshot(alert: Alert) -> dict[str, Any]:
    return {
        "status": alert.status,
        "assignee_id": alert.assignee_id,
        "severity": alert.severity,
        "occurrences": alert.occurrences,
    }


def _refresh(alert: Alert, locked: Alert) -> Alert:
    for name in (
        "status",
        "assignee_id",
        "acknowledged_at",
        "acknowledged_by_id",
        "resolved_at",
        "resolved_by_id",
        "occurrences",
    ):
        setattr(alert, name, getattr(locked, name))
    return alert


def mark_read(alert: Alert, *, actor: Any) -> bool:
    """Record that the actor opened the alert (their own view state: no audit entry or event;
    the first read is in the alert's activity). True when it was unread."""
    require_permission(actor, ALERTS_VIEW, alert.node)
    with transaction.atomic():
        try:
            with transaction.atomic():
                AlertRead.objects.create(alert=alert, user=actor)
        except IntegrityError:
            return False
        AlertActivity.objects.create(alert=alert, action="read", actor=actor)
    return True


def mark_all_read(alerts: Any, *, actor: Any) -> int:
    """Mark every given alert (already scoped to the actor) read; how many were unread."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise PermissionDenied()
    ids = set(alerts.values_list("pk", flat=True))
    seen = set(
        AlertRead.objects.filter(user=actor, alert_id__in=ids).values_list("alert_id", flat=True)
    )
    new = sorted(ids - seen)
    AlertRead.objects.bulk_create(
        [AlertRead(alert_id=pk, user=actor) for pk in new], ignore_conflicts=True
    )
    return len(new)


def acknowledge_alert(alert: Alert, *, actor: Any, note: str = "") -> Alert:
    """Say the alert is seen and being looked at (open → acknowledged), with a note."""
    require_permission(actor, ALERTS_VIEW, alert.node)
    note = _note(note)
    now = timezone.now()
    with transaction.atomic():
        locked = _locked(alert)
        if locked.status == AlertStatus.RESOLVED:
            raise AlertAlreadyResolved()
        if locked.status == AlertStatus.ACKNOWLEDGED:
            raise AlertAlreadyAcknowledged()
        before = _snapshot(locked)
        locked.status = AlertStatus.ACKNOWLEDGED
        locked.acknowledged_at, locked.acknowledged_by = now, actor
        locked.save(update_fields=["status", "acknowledged_at", "acknowledged_by", "updated_at"])
        AlertActivity.objects.create(
            alert=locked, action="acknowledged", actor=actor, note=note, at=now
        )
        AlertRead.objects.get_or_create(alert=locked, user=actor)
        record_audit(
            actor=actor,
            action="alerts.acknowledged",
            target=locked,
            before=before,
            after=_snapshot(locked),
            reason=note,
            org_node=locked.node,
        )
        publish(
            AlertAcknowledged(alert_id=locked.pk, user_id=actor.pk, note=note),
            org_node=locked.node,
        )
    return _refresh(alert, locked)


def assign_alert(alert: Alert, assignee: User, *, actor: Any, note: str = "") -> Alert:
    """Give the alert to someone as a task (a user who may manage alerts at its node)."""
    require_permission(actor, ALERTS_MANAGE, alert.node)
    note = _note(note)
    if not can_be_assigned(alert, assignee):
        raise ValidationFailed(
            {
                "assignee_id": [
                    _("%(user)s may not manage the alerts of %(node)s.")
                    % {"user": assignee, "node": alert.node.name}
                ]
            }
        )
    with transaction.atomic():
        locked = _locked(alert)
        if locked.status == AlertStatus.RESOLVED:
            raise AlertAlreadyResolved()
        before = _snapshot(locked)
        locked.assignee = assignee
        locked.save(update_fields=["assignee", "updated_at"])
        AlertActivity.objects.create(
            alert=locked,
            action="assigned",
            actor=actor,
            note=note or _("Assigned to %(user)s.") % {"user": assignee},
        )
        record_audit(
            actor=actor,
            action="alerts.assigned",
            target=locked,
            before=before,
            after=_snapshot(locked),
            reason=note,
            org_node=locked.node,
        )
        publish(
            AlertAssigned(alert_id=locked.pk, assignee_id=assignee.pk, user_id=actor.pk, note=note),
            org_node=locked.node,
        )
    return _refresh(alert, locked)


def resolve_alert(alert: Alert, *, actor: Any, note: str = "") -> Alert:
    """Close the alert with a note on what was done; the same condition then keeps quiet for
    its cool-down."""
    require_permission(actor, ALERTS_MANAGE, alert.node)
    note = _note(note)
    now = timezone.now()
    with transaction.atomic():
        locked = _locked(alert)
        if locked.status == AlertStatus.RESOLVED:
            raise AlertAlreadyResolved()
        before = _snapshot(locked)
        locked.status = AlertStatus.RESOLVED
        locked.resolved_at, locked.resolved_by = now, actor
        locked.save(update_fields=["status", "resolved_at", "resolved_by", "updated_at"])
        AlertActivity.objects.create(
            alert=locked, action="resolved", actor=actor, note=note, at=now
        )
        record_audit(
            actor=actor,
            action="alerts.resolved",
            target=locked,
            before=before,
            after=_snapshot(locked),
            reason=note,
            org_node=locked.node,
        )
        publish(
            AlertResolved(alert_id=locked.pk, user_id=actor.pk, note=note), org_node=locked.node
        )
    return _refresh(alert, locked)


# --- rules -------------------------------------------------------------------------------------


@dataclass
class RuleInput:
    """What an administrator writes for a rule (all checked at once)."""

    name: str
    condition: str
    code: str = ""
    description: str = ""
    scope: str = RuleScope.STORE
    node: OrgNode | None = None
    trigger: str = RuleTrigger.SCHEDULE
    period: str = RulePeriod.YESTERDAY
    event_type: str = ""
    schedule: str = RuleSchedule.DAILY
    run_at: dt.time = dt.time(7, 0)
    severity: str = Severity.WARNING
    recipient_roles: list[str] = field(default_factory=list)
    send_email: bool = False
    cooldown_minutes: int = 24 * 60


MAX_COOLDOWN = 366 * 24 * 60


def _validate(data: RuleInput, *, rule: AlertRule | None) -> ErrorCollector:
    errors = ErrorCollector()
    if not data.name.strip():
        errors.add("name", _("Give the rule a name."))
    elif len(data.name) > 200:
        errors.add("name", _("A name may have at most 200 characters."))
    if rule is None:
        code = data.code.strip() or slugify(data.name)[:50]
        if not code or slugify(code) != code or len(code) > 50:
            errors.add("code", _("Use lower-case letters, digits and hyphens (at most 50)."))
        elif AlertRule.objects.filter(code=code).exists():
            errors.add("code", _("Another rule has this code."))
        data.code = code
    for problem in rule_engine.check_rule_condition(data.condition):
        errors.add("condition", problem.message)
    if data.scope not in RuleScope.values:
        errors.add("scope", _("Choose chain, region or store."))
    if data.trigger not in RuleTrigger.values:
        errors.add("trigger", _("Choose a schedule or an event."))
    if data.period not in RulePeriod.values:
        errors.add(
            "period", _("Choose one of: %(values)s.") % {"values": ", ".join(RulePeriod.values)}
        )
    if data.schedule not in RuleSchedule.values:
        errors.add(
            "schedule", _("Choose one of: %(values)s.") % {"values": ", ".join(RuleSchedule.values)}
        )
    if data.run_at.tzinfo is not None:
        errors.add("run_at", _("Give a time of day without a time zone (the deployment's)."))
    if data.trigger == RuleTrigger.EVENT:
        if data.event_type not in rule_engine.rule_event_types():
            errors.add("event_type", _("Choose the event that makes the rule look."))
    else:
        data.event_type = ""
    if data.severity not in Severity.values:
        errors.add("severity", _("Choose information, warning or critical."))
    roles = [str(code) for code in data.recipient_roles]
    known = set(Role.objects.filter(code__in=roles).values_list("code", flat=True))
    for code in roles:
        if code not in known:
            errors.add("recipient_roles", _("No role has the code “%(code)s”.") % {"code": code})
    data.recipient_roles = list(dict.fromkeys(roles))
    if not 0 <= data.cooldown_minutes <= MAX_COOLDOWN:
        errors.add(
            "cooldown_minutes",
            _("Give 0 to %(limit)s minutes.") % {"limit": MAX_COOLDOWN},
        )
    return errors


def require_rule_node(actor: Any, node: OrgNode | None) -> None:
    """alerts.rules at the rule's node; a rule for the whole organisation needs it at the top."""
    if node is not None:
        require_permission(actor, ALERT_RULES_MANAGE, node)
        return
    require_permission(actor, ALERT_RULES_MANAGE)
    if not holds_at_top(actor, ALERT_RULES_MANAGE):
        raise PermissionDenied()


FIELDS = (
    "name",
    "description",
    "condition",
    "scope",
    "node",
    "trigger",
    "period",
    "event_type",
    "schedule",
    "run_at",
    "severity",
    "recipient_roles",
    "send_email",
    "cooldown_minutes",
)


def _rule_snapshot(rule: AlertRule) -> dict[str, Any]:
    data = {name: getattr(rule, name) for name in FIELDS if name != "node"}
    data["node_id"] = rule.node_id
    data["run_at"] = rule.run_at.isoformat() if rule.run_at else None
    data["is_active"] = rule.is_active
    return data


def create_rule(data: RuleInput, *, actor: Any) -> AlertRule:
    """Add an alert rule; its condition is checked first (every problem with its column)."""
    require_rule_node(actor, data.node)
    _validate(data, rule=None).raise_if_any()
    with transaction.atomic():
        rule = AlertRule(code=data.code, **{name: getattr(data, name) for name in FIELDS})
        try:
            with transaction.atomic():
                rule.save()
                rule_engine.forget_triggers()
        except IntegrityError:
            raise ValidationFailed({"code": [_("Another rule has this code.")]}) from None
        record_audit(
            actor=actor,
            action="alerts.rule_created",
            target=rule,
            after=_rule_snapshot(rule),
            org_node=rule.node,
        )
    return rule


def update_rule(rule: AlertRule, data: RuleInput, *, actor: Any) -> AlertRule:
    """Change a rule (built-in ones too); its code stays."""
    require_rule_node(actor, rule.node)
    if data.node != rule.node:
        require_rule_node(actor, data.node)
    _validate(data, rule=rule).raise_if_any()
    with transaction.atomic():
        locked = AlertRule.objects.select_for_update().get(pk=rule.pk)
        before = _rule_snapshot(locked)
        for name in FIELDS:
            setattr(locked, name, getattr(data, name))
        locked.save()
        rule_engine.forget_triggers()
        record_audit(
            actor=actor,
            action="alerts.rule_changed",
            target=locked,
            before=before,
            after=_rule_snapshot(locked),
            org_node=locked.node,
        )
    return locked


def set_rule_active(rule: AlertRule, is_active: bool, *, actor: Any) -> AlertRule:
    """Switch a rule on or off (how a built-in rule is put away)."""
    require_rule_node(actor, rule.node)
    with transaction.atomic():
        locked = AlertRule.objects.select_for_update().get(pk=rule.pk)
        if locked.is_active == is_active:
            return locked
        locked.is_active = is_active
        locked.save(update_fields=["is_active", "updated_at"])
        rule_engine.forget_triggers()
        record_audit(
            actor=actor,
            action="alerts.rule_activated" if is_active else "alerts.rule_deactivated",
            target=locked,
            before={"is_active": not is_active},
            after={"is_active": is_active},
            org_node=locked.node,
        )
    return locked


def delete_rule(rule: AlertRule, *, actor: Any) -> None:
    """Delete a rule of one's own that never raised an alert (built-in rules are kept)."""
    require_rule_node(actor, rule.node)
    if rule.is_builtin:
        raise BuiltinRuleKept()
    with transaction.atomic():
        locked = AlertRule.objects.select_for_update().get(pk=rule.pk)
        if Alert.objects.filter(rule=locked).exists():
            raise RuleHasAlerts()
        record_audit(
            actor=actor,
            action="alerts.rule_deleted",
            target=locked,
            before=_rule_snapshot(locked),
            org_node=locked.node,
        )
        locked.delete()
        rule_engine.forget_triggers()


def dry_run_rule(rule: AlertRule, *, actor: Any) -> list[rule_engine.Outcome]:
    """ "Test this rule now": what it would raise (writes nothing)."""
    require_rule_node(actor, rule.node)
    return rule_engine.dry_run(rule)
