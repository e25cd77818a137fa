"""Dashboards events: alerts raised, acknowledged, assigned and resolved (webhooks subscribe)."""

from dataclasses import dataclass, field
from enum import StrEnum

from backroom.events.catalogue import event


class DashboardsEvent(StrEnum):
    ALERT_RAISED = "dashboards.alert.raised"
    ALERT_ACKNOWLEDGED = "dashboards.alert.acknowledged"
    ALERT_ASSIGNED = "dashboards.alert.assigned"
    ALERT_RESOLVED = "dashboards.alert.resolved"


@event(DashboardsEvent.ALERT_RAISED)
@dataclass(frozen=True)
class AlertRaised:
    """A new alert opened (repeats of an open one only add to its occurrences)."""

    alert_id: int
    origin: str
    severity: str
    title: str
    node_id: int
    site_id: int | None
    details: dict[str, object] = field(default_factory=dict)


@event(DashboardsEvent.ALERT_ACKNOWLEDGED)
@dataclass(frozen=True)
class AlertAcknowledged:
    alert_id: int
    user_id: int
    note: str = ""


@event(DashboardsEvent.ALERT_ASSIGNED)
@dataclass(frozen=True)
class AlertAssigned:
    alert_id: int
    assignee_id: int
    user_id: int
    note: str = ""


@event(DashboardsEvent.ALERT_RESOLVED)
@dataclass(frozen=True)
class AlertResolved:
    alert_id: int
    user_id: int | None
    note: str = ""
