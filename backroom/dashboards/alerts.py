"""Raising alerts: the one path rules and anomaly detectors take (docs/dashboards.md).

An alert is keyed by its origin ("rule:<id>" or "detector:<code>"), node and fingerprint. While
one is open (or acknowledged), raising the same condition again groups on it: `occurrences`
grows, `last_raised_at` moves, its figures are replaced by the latest, and it is raised again
to critical if the repeat is critical. After it is resolved, the same condition stays quiet for
the cool-down (counted from its last raise), then opens a new alert. A new alert publishes
`dashboards.alert.raised` in the same transaction (webhooks, email notifications).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from backroom.dashboards.choices import AlertSource, AlertStatus, Severity
from backroom.dashboards.events import AlertRaised
from backroom.dashboards.models import Alert, AlertActivity, AlertRule
from backroom.events.services import publish
from backroom.org.models import OrgNode, Site

SEVERITY_RANK: dict[str, int] = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}
DEFAULT_COOLDOWN = dt.timedelta(hours=24)


@dataclass(frozen=True)
class Signal:
    """One finding to raise: what, where, how bad, and the figures behind it."""

    title: str
    severity: str
    node: OrgNode
    site: Site | None = None
    fingerprint: str = ""
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def origin_of(*, rule: AlertRule | None = None, detector: str = "") -> str:
    if rule is not None:
        return f"rule:{rule.pk}"
    if not detector:
        raise ValueError("an alert comes from a rule or a detector")
    return f"detector:{detector}"


def raise_alert(
    signal: Signal,
    *,
    rule: AlertRule | None = None,
    detector: str = "",
    cooldown: dt.timedelta | None = None,
    now: dt.datetime | None = None,
) -> tuple[Alert | None, bool]:
    """Raise (or group) an alert. Returns the alert (None: quiet in its cool-down) and whether
    it is new."""
    origin = origin_of(rule=rule, detector=detector)
    now = now or timezone.now()
    if cooldown is None:
        cooldown = (
            dt.timedelta(minutes=rule.cooldown_minutes) if rule is not None else DEFAULT_COOLDOWN
        )
    key = {"origin": origin, "node": signal.node, "fingerprint": signal.fingerprint[:200]}
    with transaction.atomic():
        open_alert = (
            Alert.objects.select_for_update()
            .filter(**key)
            .exclude(status=AlertStatus.RESOLVED)
            .first()
        )
        if open_alert is not None:
            _group(open_alert, signal, now)
            return open_alert, False
        last = Alert.objects.filter(**key, status=AlertStatus.RESOLVED).order_by("-last_raised_at")
        latest = last.first()
        if latest is not None and now - latest.last_raised_at < cooldown:
            return None, False
        try:
            with transaction.atomic():
                alert = Alert.objects.create(
                    **key,
                    source=AlertSource.RULE if rule is not None else AlertSource.DETECTOR,
                    rule=rule,
                    detector=detector,
                    site=signal.site,
                    severity=signal.severity,
                    title=signal.title[:300],
                    message=signal.message,
                    details=signal.details,
                    first_raised_at=now,
                    last_raised_at=now,
                )
        except IntegrityError:
            # Raised at the same moment by another worker: group on theirs.
            alert = (
                Alert.objects.select_for_update()
                .filter(**key)
                .exclude(status=AlertStatus.RESOLVED)
                .get()
            )
            _group(alert, signal, now)
            return alert, False
        AlertActivity.objects.create(alert=alert, action="raised", at=now)
        publish(
            AlertRaised(
                alert_id=alert.pk,
                origin=origin,
                severity=alert.severity,
                title=alert.title,
                node_id=signal.node.pk,
                site_id=signal.site.pk if signal.site else None,
                details=signal.details,
            ),
            org_node=signal.node,
        )
    return alert, True


def _group(alert: Alert, signal: Signal, now: dt.datetime) -> None:
    """A repeat of an open alert: count it and keep the latest figures."""
    severity = alert.severity
    if SEVERITY_RANK.get(signal.severity, 0) > SEVERITY_RANK.get(severity, 0):
        severity = signal.severity
    Alert.objects.filter(pk=alert.pk).update(
        occurrences=F("occurrences") + 1,
        last_raised_at=now,
        severity=severity,
        title=signal.title[:300],
        message=signal.message,
        details=signal.details,
    )
    alert.refresh_from_db()
