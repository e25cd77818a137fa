"""Reads of the notification centre and the alert rules, scoped to the actor (docs/alerts.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy

from backroom.accounts.models import Membership, User
from backroom.dashboards.choices import AlertStatus
from backroom.dashboards.models import Alert, AlertRead, AlertRule
from backroom.dashboards.permissions import ALERT_RULES_MANAGE, ALERTS_MANAGE, ALERTS_VIEW
from backroom.org.models import OrgNode

# How the centre names what raised an alert: rules by their name, detectors by their code here
# (the one place to add a detector's label).
DETECTOR_LABELS: dict[str, Any] = {
    "sales_drop": gettext_lazy("Sales far below forecast"),
    "waste_spike": gettext_lazy("Unusual waste"),
    "variance_spike": gettext_lazy("AvT variance spike"),
    "price_jump": gettext_lazy("Supplier price jump"),
    "price_change": gettext_lazy("Supplier price change"),
    "staff_refunds": gettext_lazy("Unusual refunds or discounts by a staff member"),
}


def detector_label(code: str) -> str:
    """A detector's name in the active language (its code, readable, when unknown)."""
    label = DETECTOR_LABELS.get(code)
    return str(label) if label is not None else code.replace("_", " ").capitalize()


def source_label(alert: Alert) -> str:
    if alert.rule_id is not None and alert.rule is not None:
        return alert.rule.name
    return detector_label(alert.detector)


def alerts_for(actor: Any, permission: str = ALERTS_VIEW) -> QuerySet[Alert]:
    """The alerts at nodes where the actor holds `permission`, each with `is_unread` for them."""
    rows = Alert.objects.restrict(actor, permission)
    if getattr(actor, "pk", None) is not None:
        rows = rows.annotate(
            is_read=Exists(AlertRead.objects.filter(alert=OuterRef("pk"), user_id=actor.pk))
        )
    return rows.select_related("node", "site", "rule", "assignee")


@dataclass(frozen=True)
class AlertFilter:
    """The centre's filters; empty means any."""

    status: str = ""  # "open", "acknowledged", "resolved", "active" (not resolved)
    severity: str = ""
    site_id: int | None = None
    source: str = ""  # "rule", "detector", or "rule:<id>" / "detector:<code>"
    assigned_to_me: bool = False
    is_unread: bool = False


def filter_alerts(rows: QuerySet[Alert], actor: Any, filters: AlertFilter) -> QuerySet[Alert]:
    if filters.status == "active":
        rows = rows.exclude(status=AlertStatus.RESOLVED)
    elif filters.status:
        rows = rows.filter(status=filters.status)
    if filters.severity:
        rows = rows.filter(severity=filters.severity)
    if filters.site_id is not None:
        rows = rows.filter(site_id=filters.site_id)
    if filters.source in ("rule", "detector"):
        rows = rows.filter(source=filters.source)
    elif filters.source:
        rows = rows.filter(origin=filters.source)
    if filters.assigned_to_me:
        rows = rows.filter(assignee_id=getattr(actor, "pk", None))
    if filters.is_unread:
        rows = rows.exclude(pk__in=_read_by(actor))
    return rows


def _read_by(actor: Any) -> QuerySet[AlertRead, Any]:
    return AlertRead.objects.filter(user_id=getattr(actor, "pk", None) or 0).values("alert_id")


def unread_count(actor: Any) -> int:
    """Alerts not resolved that the actor may see and has not opened (the navigation badge)."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return 0
    if not actor.has_scoped_permission(ALERTS_VIEW):
        return 0
    return (
        Alert.objects.restrict(actor, ALERTS_VIEW)
        .exclude(status=AlertStatus.RESOLVED)
        .exclude(pk__in=_read_by(actor))
        .order_by()
        .count()
    )


def unread_badge(request: HttpRequest) -> int:
    """The "Alerts" navigation badge, once per request."""
    cache = request.__dict__.setdefault("_alerts_counts", {})
    if "unread" not in cache:
        cache["unread"] = unread_count(getattr(request, "user", None))
    return int(cache["unread"])


def _users_with(permission: str, node: OrgNode, role_codes: list[str] | None = None) -> list[User]:
    """Active users holding a role at the node or above it that grants `permission` (or, with
    `role_codes`, one of those roles)."""
    memberships = Membership.objects.filter(
        node_id__in=node.ancestor_ids(), node__is_active=True, user__is_active=True
    ).select_related("user", "role")
    if role_codes is not None:
        memberships = memberships.filter(role__code__in=role_codes)
    users: dict[int, User] = {}
    for membership in memberships.order_by("user__username"):
        if role_codes is not None or membership.role.grants(permission):
            users.setdefault(membership.user_id, membership.user)
    return list(users.values())


def assignable_users(alert: Alert) -> list[User]:
    """Who an alert may be assigned to: users who may manage alerts at its node."""
    return _users_with(ALERTS_MANAGE, alert.node)


def can_be_assigned(alert: Alert, user: User) -> bool:
    return user.is_active and user.has_scoped_permission(ALERTS_MANAGE, alert.node)


def recipients(rule: AlertRule, node: OrgNode) -> list[User]:
    """The users a rule's alert at `node` tells: its recipient roles held at the node or any
    node above it (a store manager of that store, the region manager, HQ operations)."""
    roles = [str(code) for code in rule.recipient_roles or []]
    if not roles:
        return []
    return _users_with(ALERTS_VIEW, node, roles)


def rules_for(actor: Any) -> QuerySet[AlertRule]:
    """The rules the actor may write: those under nodes where they hold alerts.rules, and the
    organisation-wide ones (no node) when they hold it at the top."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return AlertRule.objects.none()
    paths = actor.scope_paths(ALERT_RULES_MANAGE)
    if paths is None:
        return AlertRule.objects.select_related("node")
    if not paths:
        return AlertRule.objects.none()
    scoped = AlertRule.objects.restrict(actor, ALERT_RULES_MANAGE)
    if holds_at_top(actor, ALERT_RULES_MANAGE):
        scoped = AlertRule.objects.filter(Q(pk__in=scoped.values("pk")) | Q(node__isnull=True))
    return scoped.select_related("node")


def holds_at_top(actor: Any, permission: str) -> bool:
    """Whether the actor holds `permission` at every root of the organisation."""
    paths = actor.scope_paths(permission)
    if paths is None:
        return True
    roots = list(OrgNode.objects.filter(parent__isnull=True).values_list("path", flat=True))
    return bool(roots) and all(root in paths for root in roots)
