"""Alert emails (docs/alerts.md, "Email").

The outbox consumer `email_alert_recipients` (subscribed in handlers.py to
`dashboards.alert.raised`, run by the worker after the alert committed) creates one `AlertEmail`
per recipient of the rule when the rule says `send_email`: the rule's recipient roles at the
alert's node and above (`selectors_alerts.recipients`). A replayed event adds nothing (one row per
alert and user). After that commits each email is claimed (`pending` → `sending`) and sent with
Django's `send_mail` through the configured backend, so it goes out at most once; a failure is
kept on the row. Users without an address are skipped. Emails are written in the recipient's
language, times in the store's time zone (as the approvals' emails).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from backroom.approvals.notifications import base_url
from backroom.dashboards.choices import EmailStatus
from backroom.dashboards.models import Alert, AlertEmail
from backroom.dashboards.selectors_alerts import recipients
from backroom.events.models import OutboxEvent
from backroom.kernel.mail import EmailColumns, send_once

logger = logging.getLogger(__name__)


def email_alert_recipients(outbox_event: OutboxEvent) -> list[AlertEmail]:
    """One email row per recipient of a new rule alert whose rule sends email."""
    alert = (
        Alert.objects.select_related("rule", "node")
        .filter(pk=outbox_event.payload["alert_id"])
        .first()
    )
    if alert is None or alert.rule is None or not alert.rule.send_email:
        return []
    created = []
    for user in recipients(alert.rule, alert.node):
        try:
            with transaction.atomic():
                created.append(
                    AlertEmail.objects.create(
                        alert=alert,
                        recipient=user,
                        status=EmailStatus.PENDING if user.email else EmailStatus.SKIPPED,
                    )
                )
        except IntegrityError:
            continue  # told before (a replayed event)
    pending = [row.pk for row in created if row.status == EmailStatus.PENDING]
    if pending:
        transaction.on_commit(lambda: send_alert_emails(pending), robust=True)
    return created


def _time_zone(alert: Alert) -> str:
    site = alert.site
    return str(site.time_zone) if site is not None else str(settings.TIME_ZONE)


def render_alert_email(row: AlertEmail) -> tuple[str, str]:
    """Subject and plain-text body in the recipient's language."""
    alert = row.alert
    language = row.recipient.language or settings.LANGUAGE_CODE
    with translation.override(language), timezone.override(_time_zone(alert)):
        subject = f"[Backroom] {alert.get_severity_display()}: {alert.title} — {alert.node.name}"
        body = render_to_string(
            "dashboards/email/alert.txt",
            {
                "alert": alert,
                "recipient": row.recipient,
                "url": base_url() + reverse("dashboards:alert", args=[alert.pk]),
            },
        )
    return " ".join(subject.split())[:200], body


def send_alert_email(email_id: int) -> bool:
    """Send one alert email unless it was sent or claimed already; True when sent."""
    return send_once(
        AlertEmail.objects.select_related("alert__node", "alert__site", "recipient"),
        email_id,
        EmailColumns(status="status", error="error", sent_at="sent_at"),
        recipient=lambda row: row.recipient,
        render=render_alert_email,
    )


def send_alert_emails(email_ids: list[int]) -> int:
    return sum(send_alert_email(pk) for pk in email_ids)
