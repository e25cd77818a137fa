"""Sending one stored email at most once: claim the row (pending → sending), send, record the
outcome on the row. Shared by the approvals notifications and the alert emails, whose rows name
their status, error and sent-at columns differently."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.mail import send_mail
from django.db import models
from django.utils import timezone

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmailColumns:
    status: str
    error: str
    sent_at: str


def send_once(
    rows: models.QuerySet[Any],
    pk: int,
    columns: EmailColumns,
    *,
    recipient: Callable[[Any], Any],
    render: Callable[[Any], tuple[str, str]],
) -> bool:
    """Send row `pk`'s email unless it was sent or claimed already; True when sent. A recipient
    without an address (or inactive) is skipped; a failure is kept on the row, not retried."""
    one = rows.model._default_manager.filter(pk=pk)
    if not one.filter(**{columns.status: "pending"}).update(**{columns.status: "sending"}):
        return False
    row = rows.get(pk=pk)
    user = recipient(row)
    if not user.email or not user.is_active:
        one.update(**{columns.status: "skipped"})
        return False
    try:
        subject, body = render(row)
        send_mail(subject, body, None, [user.email])
    except Exception as error:
        logger.exception("%s %s: email failed", rows.model.__name__, pk)
        one.update(**{columns.status: "failed", columns.error: repr(error)[:2000]})
        return False
    one.update(**{columns.status: "sent", columns.sent_at: timezone.now()})
    return True
