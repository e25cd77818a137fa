"""Row locks for webhooks, always taken in one order: the endpoint, then its delivery.

Only the row itself is locked (`of=("self",)`), never the org node or event joined for reading.
Never hold these across an HTTP call: sending claims the delivery, commits, then sends.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Q

from backroom.webhooks.choices import DeliveryStatus
from backroom.webhooks.models import WebhookDelivery, WebhookEndpoint


def lock_endpoint(endpoint_id: int) -> WebhookEndpoint:
    """The endpoint (with its node for reading), locked for the rest of the transaction."""
    return (
        WebhookEndpoint.objects.select_for_update(of=("self",))
        .select_related("node")
        .get(pk=endpoint_id)
    )


def lock_delivery(delivery_id: int, *, only: Q | None = None) -> WebhookDelivery | None:
    """The delivery (with its event for reading), locked; None when `only` excludes it."""
    deliveries = WebhookDelivery.objects.select_for_update(of=("self",)).select_related("event")
    if only is not None:
        deliveries = deliveries.filter(only)
    return deliveries.filter(pk=delivery_id).first()


def due(now: dt.datetime) -> Q:
    """Pending and due, or claimed by a worker that died mid-send (its claim has expired)."""
    return Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now) | Q(
        status=DeliveryStatus.SENDING, claimed_until__lt=now
    )
