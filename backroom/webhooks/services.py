"""Writes for webhooks: endpoints, secret rotation, fan-out, sending, retries, replay.

Sending never holds a database lock across the HTTP call: a delivery is claimed (a conditional
UPDATE, committed), the request is made outside any transaction, then the attempt is recorded
in a short transaction of its own. Call `send_delivery` and `send_due_deliveries` outside
`transaction.atomic` (the worker does).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from backroom.accounts.authorization import require_permission
from backroom.accounts.permissions import WEBHOOKS_MANAGE
from backroom.audit.services import record_audit, snapshot
from backroom.events.models import OutboxEvent
from backroom.events.services import publish, round_cached
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import Conflict, ErrorCollector, NotFound
from backroom.kernel.jsonutil import to_jsonable
from backroom.org.models import OrgNode
from backroom.webhooks import signing
from backroom.webhooks.choices import AttemptTrigger, CircuitState, DeliveryStatus
from backroom.webhooks.events import (
    NOT_DELIVERED_BY_WEBHOOKS,
    CircuitClosed,
    CircuitOpened,
    DeliveryFailed,
    EndpointActivated,
    EndpointCreated,
    EndpointDeactivated,
    EndpointUpdated,
    SecretRotated,
)
from backroom.webhooks.exceptions import EndpointInactive
from backroom.webhooks.locks import due, lock_delivery, lock_endpoint
from backroom.webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint
from backroom.webhooks.selectors import available_event_types

logger = logging.getLogger(__name__)

# Waits before each retry after a failed attempt: 8 attempts over about 28 hours.
RETRY_DELAYS: tuple[dt.timedelta, ...] = (
    dt.timedelta(seconds=5),
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=30),
    dt.timedelta(hours=2),
    dt.timedelta(hours=5),
    dt.timedelta(hours=10),
    dt.timedelta(hours=10),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
# A delivery kept waiting by an open circuit fails once its cycle is older than this.
RETRY_WINDOW = sum(RETRY_DELAYS, dt.timedelta())
CIRCUIT_FAILURE_THRESHOLD = 5
CIRCUIT_COOLING_BASE = dt.timedelta(minutes=5)  # doubles with each trip ...
CIRCUIT_COOLING_MAX = dt.timedelta(hours=2)  # ... up to this
PREVIOUS_SECRET_VALIDITY = dt.timedelta(hours=24)
RESPONSE_EXCERPT_BYTES = 1024
CLAIM_GRACE = dt.timedelta(seconds=60)
USER_AGENT = "Backroom-Webhooks/1"
MAX_URL_LENGTH = 2000

ENDPOINT_AUDIT_FIELDS = ["node", "name", "url", "event_types", "description", "is_active"]
DELIVERY_AUDIT_FIELDS = [
    "endpoint",
    "event",
    "event_type",
    "status",
    "attempt_count",
    "next_attempt_at",
    "last_status_code",
]

_url_validator = URLValidator(schemes=["http", "https"])


# --- inputs and results ---------------------------------------------------------------------


@dataclass
class EndpointInput:
    node_id: int | None
    name: str
    url: str
    event_types: list[str]
    description: str = ""
    is_active: bool = True


@dataclass
class EndpointChanges:
    """Fields to change on an endpoint; None leaves a field as it is."""

    name: str | None = None
    url: str | None = None
    event_types: list[str] | None = None
    description: str | None = None
    is_active: bool | None = None


@dataclass(frozen=True)
class IssuedSecret:
    """An endpoint with its new signing secret, returned once to show once."""

    endpoint: WebhookEndpoint
    secret: str


@dataclass(frozen=True)
class HttpOutcome:
    status_code: int | None
    latency_ms: int
    response_excerpt: str
    error: str

    @property
    def is_success(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


# --- validation -----------------------------------------------------------------------------


def _clean_name(errors: ErrorCollector, name: str) -> str:
    name = (name or "").strip()
    if not name:
        errors.add("name", _("A name is required."))
    elif len(name) > 200:
        errors.add("name", _("Use at most 200 characters."))
    return name


def _clean_url(errors: ErrorCollector, url: str) -> str:
    url = (url or "").strip()
    if not url:
        errors.add("url", _("A URL is required."))
        return url
    if len(url) > MAX_URL_LENGTH:
        errors.add("url", _("Use at most %(count)s characters.") % {"count": MAX_URL_LENGTH})
    try:
        _url_validator(url)
    except ValidationError:
        errors.add("url", _("Enter a valid http:// or https:// URL."))
    return url


def _clean_event_types(errors: ErrorCollector, values: Any) -> list[str]:
    if not isinstance(values, list | tuple) or not values:
        errors.add("event_types", _("Choose at least one event type."))
        return []
    known = set(available_event_types())
    cleaned: list[str] = []
    for value in values:
        value = str(value).strip()
        if value != "*" and value not in known:
            errors.add("event_types", _("“%(type)s” is not an event type.") % {"type": value})
        elif value not in cleaned:
            cleaned.append(value)
    return ["*"] if "*" in cleaned else sorted(cleaned)


def _endpoint_snapshot(endpoint: WebhookEndpoint) -> dict[str, Any]:
    # An explicit field list: secrets never reach the audit log.
    return snapshot(endpoint, ENDPOINT_AUDIT_FIELDS)


# --- endpoints ------------------------------------------------------------------------------


def create_endpoint(data: EndpointInput, *, actor: Any) -> IssuedSecret:
    """Create an endpoint at an org node; its secret is returned here and never shown again."""
    errors = ErrorCollector()
    node = OrgNode.objects.filter(pk=data.node_id).first() if data.node_id is not None else None
    if node is not None:
        require_permission(actor, WEBHOOKS_MANAGE, node)
        if not node.is_active:
            errors.add("node_id", _("The org node is inactive."))
    else:
        require_permission(actor, WEBHOOKS_MANAGE)
        errors.add("node_id", _("Choose the org node whose events the endpoint receives."))
    name = _clean_name(errors, data.name)
    url = _clean_url(errors, data.url)
    event_types = _clean_event_types(errors, data.event_types)
    errors.raise_if_any()
    assert node is not None
    secret = signing.generate_secret()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            node=node,
            name=name,
            url=url,
            event_types=event_types,
            description=(data.description or "").strip(),
            is_active=bool(data.is_active),
            secret=secret,
        )
        record_audit(
            actor=actor,
            action="webhooks.endpoint.create",
            target=endpoint,
            after=_endpoint_snapshot(endpoint),
            org_node=node,
        )
        publish(
            EndpointCreated(
                endpoint_id=endpoint.pk, node_id=node.pk, name=name, event_types=event_types
            ),
            org_node=node,
        )
    return IssuedSecret(endpoint=endpoint, secret=secret)


def update_endpoint(
    endpoint: WebhookEndpoint, changes: EndpointChanges, *, actor: Any, reason: str = ""
) -> WebhookEndpoint:
    """Change an endpoint's name, URL, event types, description or activity."""
    require_permission(actor, WEBHOOKS_MANAGE, endpoint.node)
    errors = ErrorCollector()
    values: dict[str, Any] = {}
    if changes.name is not None:
        values["name"] = _clean_name(errors, changes.name)
    if changes.url is not None:
        values["url"] = _clean_url(errors, changes.url)
    if changes.event_types is not None:
        values["event_types"] = _clean_event_types(errors, changes.event_types)
    if changes.description is not None:
        values["description"] = changes.description.strip()
    errors.raise_if_any()
    with transaction.atomic():
        endpoint = lock_endpoint(endpoint.pk)
        before = _endpoint_snapshot(endpoint)
        changed = [name for name, value in values.items() if getattr(endpoint, name) != value]
        if changed:
            for name in changed:
                setattr(endpoint, name, values[name])
            endpoint.save(update_fields=[*changed, "updated_at"])
            record_audit(
                actor=actor,
                action="webhooks.endpoint.update",
                target=endpoint,
                before=before,
                after=_endpoint_snapshot(endpoint),
                reason=reason,
                org_node=endpoint.node,
            )
            publish(
                EndpointUpdated(endpoint_id=endpoint.pk, node_id=endpoint.node_id, changed=changed),
                org_node=endpoint.node,
            )
        if changes.is_active is not None and changes.is_active != endpoint.is_active:
            endpoint = set_endpoint_active(endpoint, changes.is_active, actor=actor, reason=reason)
    return endpoint


def set_endpoint_active(
    endpoint: WebhookEndpoint, is_active: bool, *, actor: Any, reason: str = ""
) -> WebhookEndpoint:
    """Deactivate (nothing is sent; pending deliveries wait) or reactivate an endpoint."""
    require_permission(actor, WEBHOOKS_MANAGE, endpoint.node)
    with transaction.atomic():
        endpoint = lock_endpoint(endpoint.pk)
        if endpoint.is_active == is_active:
            return endpoint
        before = _endpoint_snapshot(endpoint)
        endpoint.is_active = is_active
        endpoint.save(update_fields=["is_active", "updated_at"])
        record_audit(
            actor=actor,
            action="webhooks.endpoint.activate" if is_active else "webhooks.endpoint.deactivate",
            target=endpoint,
            before=before,
            after=_endpoint_snapshot(endpoint),
            reason=reason,
            org_node=endpoint.node,
        )
        payload_class = EndpointActivated if is_active else EndpointDeactivated
        publish(
            payload_class(endpoint_id=endpoint.pk, node_id=endpoint.node_id),
            org_node=endpoint.node,
        )
    return endpoint


def delete_endpoint(endpoint: WebhookEndpoint, *, actor: Any, reason: str = "") -> WebhookEndpoint:
    """Endpoints are never deleted (their deliveries are history): deleting deactivates."""
    return set_endpoint_active(endpoint, False, actor=actor, reason=reason)


def rotate_secret(endpoint: WebhookEndpoint, *, actor: Any, reason: str = "") -> IssuedSecret:
    """A new primary secret; the previous one keeps signing for 24 hours alongside it."""
    require_permission(actor, WEBHOOKS_MANAGE, endpoint.node)
    new_secret = signing.generate_secret()
    now = timezone.now()
    with transaction.atomic():
        endpoint = lock_endpoint(endpoint.pk)
        fields = ["previous_secret_expires_at", "secret_rotated_at"]
        before = snapshot(endpoint, fields)
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = now + PREVIOUS_SECRET_VALIDITY
        endpoint.secret = new_secret
        endpoint.secret_rotated_at = now
        endpoint.save(update_fields=["secret", "previous_secret", *fields, "updated_at"])
        record_audit(
            actor=actor,
            action="webhooks.endpoint.rotate_secret",
            target=endpoint,
            before=before,
            after=snapshot(endpoint, fields),
            reason=reason,
            org_node=endpoint.node,
        )
        publish(
            SecretRotated(
                endpoint_id=endpoint.pk,
                node_id=endpoint.node_id,
                previous_secret_expires_at=endpoint.previous_secret_expires_at.isoformat(),
            ),
            org_node=endpoint.node,
        )
    return IssuedSecret(endpoint=endpoint, secret=new_secret)


# --- fan-out --------------------------------------------------------------------------------


def matching_endpoints(outbox_event: OutboxEvent) -> list[WebhookEndpoint]:
    """Active endpoints subscribed to the event whose node covers the event's org node.

    An endpoint at the group sees every event; one at a store only that store's events;
    events without an org node go only to endpoints at the root. The active endpoints are
    read once per dispatch round (`events.services.round_cached`).
    """
    if outbox_event.event_type in NOT_DELIVERED_BY_WEBHOOKS:
        return []
    endpoints = round_cached(
        "webhooks.active_endpoints",
        lambda: list(
            WebhookEndpoint.objects.filter(is_active=True).select_related("node").order_by("id")
        ),
    )
    if not endpoints:
        return []
    org_node = outbox_event.org_node
    if org_node is not None:
        covering = set(org_node.ancestor_ids())
        found = [e for e in endpoints if e.node_id in covering]
    else:
        found = [e for e in endpoints if e.node.parent_id is None]
    return [e for e in found if e.subscribes_to(outbox_event.event_type)]


def deliver_event(outbox_event: OutboxEvent, *, actor: Any = SYSTEM) -> list[WebhookDelivery]:
    """Create one delivery per matching endpoint (once, whatever the replays) and send each
    after commit."""
    require_permission(actor, WEBHOOKS_MANAGE, outbox_event.org_node)
    endpoints = matching_endpoints(outbox_event)
    if not endpoints:
        return []
    created: list[WebhookDelivery] = []
    now = timezone.now()
    with transaction.atomic():
        for endpoint in endpoints:
            delivery, was_created = WebhookDelivery.objects.get_or_create(
                endpoint=endpoint,
                event=outbox_event,
                defaults={
                    "event_type": outbox_event.event_type,
                    "status": DeliveryStatus.PENDING,
                    "next_attempt_at": now,
                    "cycle_started_at": now,
                },
            )
            if not was_created:
                continue
            # Deliveries and attempts are their own log; auditing each would put every event
            # of the chain through the audit chain's lock. Terminal failures are audited.
            created.append(delivery)
        if created:
            transaction.on_commit(
                partial(_enqueue_sends, [d.pk for d in created], ignore_circuit=False),
                robust=True,
            )
    return created


def _enqueue_sends(delivery_ids: list[int], *, ignore_circuit: bool) -> None:
    from backroom.webhooks.jobs import send_delivery_task

    for delivery_id in delivery_ids:
        send_delivery_task(delivery_id, ignore_circuit=ignore_circuit)


# --- sending --------------------------------------------------------------------------------


def build_body(outbox_event: OutboxEvent) -> bytes:
    """The request body: {"type", "timestamp", "data"}; the same bytes on every attempt."""
    occurred = outbox_event.occurred_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    document = {
        "type": outbox_event.event_type,
        "timestamp": occurred,
        "data": to_jsonable(outbox_event.payload),
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def build_headers(
    endpoint: WebhookEndpoint, webhook_id: str, timestamp: int, body: bytes, now: dt.datetime
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.signature_header(
            endpoint.signing_secrets(now), webhook_id, timestamp, body
        ),
    }


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is a failed attempt (the receiver must answer at its URL), never followed."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _excerpt(raw: bytes) -> str:
    return raw[:RESPONSE_EXCERPT_BYTES].decode("utf-8", errors="replace")


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> HttpOutcome:
    """POST with the stdlib; every failure becomes an outcome, never an exception."""
    started = time.monotonic()
    status_code: int | None = None
    excerpt = ""
    error = ""
    if not url.lower().startswith(("http://", "https://")):
        return HttpOutcome(None, 0, "", _("Only http and https URLs are allowed."))
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with _opener.open(request, timeout=timeout) as response:
            status_code = response.status
            excerpt = _excerpt(response.read(RESPONSE_EXCERPT_BYTES))
    except urllib.error.HTTPError as http_error:
        status_code = http_error.code
        error = f"HTTP {http_error.code} {http_error.reason}"
        try:
            excerpt = _excerpt(http_error.read(RESPONSE_EXCERPT_BYTES))
        except Exception:  # noqa: S110 - the status code is what matters
            pass
        finally:
            http_error.close()
    except urllib.error.URLError as url_error:
        error = str(url_error.reason) or type(url_error.reason).__name__
    except Exception as other:
        error = f"{type(other).__name__}: {other}"
    latency_ms = int((time.monotonic() - started) * 1000)
    return HttpOutcome(status_code, latency_ms, excerpt, error[:2000])


def _fail_delivery(
    delivery: WebhookDelivery, endpoint: WebhookEndpoint, *, now: dt.datetime
) -> None:
    """Mark failed for good (inside the caller's transaction) and announce it."""
    delivery.status = DeliveryStatus.FAILED
    delivery.failed_at = now
    delivery.next_attempt_at = None
    delivery.claimed_until = None
    publish(
        DeliveryFailed(
            delivery_id=delivery.pk,
            endpoint_id=endpoint.pk,
            node_id=endpoint.node_id,
            source_event_id=str(delivery.event.event_id),
            source_event_type=delivery.event_type,
            attempts=delivery.attempt_count,
            last_status_code=delivery.last_status_code,
            last_error=delivery.last_error[:500],
        ),
        org_node=endpoint.node,
    )


def _defer(
    delivery: WebhookDelivery, endpoint: WebhookEndpoint, *, now: dt.datetime, actor: Any
) -> None:
    """The circuit is open: push a due delivery to the end of the cooling period, or fail it
    when its retry window has passed."""
    with transaction.atomic():
        locked = lock_delivery(delivery.pk, only=due(now))
        if locked is None:
            return
        if now - locked.cycle_started_at > RETRY_WINDOW:
            before = snapshot(locked, DELIVERY_AUDIT_FIELDS)
            locked.last_error = _("The endpoint's circuit stayed open past the retry window.")
            _fail_delivery(locked, endpoint, now=now)
            locked.save()
            record_audit(
                actor=actor,
                action="webhooks.delivery.fail",
                target=locked,
                before=before,
                after=snapshot(locked, DELIVERY_AUDIT_FIELDS),
                org_node=endpoint.node,
            )
            return
        WebhookDelivery.objects.filter(pk=locked.pk).update(
            status=DeliveryStatus.PENDING,
            next_attempt_at=endpoint.circuit_open_until,
            claimed_until=None,
        )


def _claim(delivery_id: int, *, now: dt.datetime, timeout: float) -> bool:
    """Take a due delivery for this worker (committed before any HTTP happens)."""
    with transaction.atomic():
        claimed = WebhookDelivery.objects.filter(due(now), pk=delivery_id).update(
            status=DeliveryStatus.SENDING,
            claimed_until=now + dt.timedelta(seconds=timeout) + CLAIM_GRACE,
        )
    return claimed == 1


def send_delivery(
    delivery: WebhookDelivery, *, actor: Any = SYSTEM, ignore_circuit: bool = False
) -> DeliveryAttempt | None:
    """Make one attempt at a due delivery and record it; None when it was not attempted
    (not due, taken by another worker, endpoint inactive, or deferred by an open circuit).

    `ignore_circuit` is for manual replays: a person trying the endpoint again may close it.
    """
    endpoint = WebhookEndpoint.objects.select_related("node").get(pk=delivery.endpoint_id)
    require_permission(actor, WEBHOOKS_MANAGE, endpoint.node)
    now = timezone.now()
    if not endpoint.is_active:
        return None
    if not ignore_circuit and endpoint.circuit_state(now) == CircuitState.OPEN:
        _defer(delivery, endpoint, now=now, actor=actor)
        return None
    timeout = float(settings.WEBHOOK_TIMEOUT)
    if not _claim(delivery.pk, now=now, timeout=timeout):
        return None

    # Outside any transaction: the HTTP call.
    delivery = WebhookDelivery.objects.select_related("event").get(pk=delivery.pk)
    body = build_body(delivery.event)
    started_at = timezone.now()
    request_timestamp = int(started_at.timestamp())
    headers = build_headers(endpoint, delivery.webhook_id, request_timestamp, body, started_at)
    outcome = post(endpoint.url, body, headers, timeout=timeout)

    return _record_attempt(
        delivery.pk,
        endpoint.pk,
        outcome,
        started_at=started_at,
        request_timestamp=request_timestamp,
        actor=actor,
    )


def _record_attempt(
    delivery_id: int,
    endpoint_id: int,
    outcome: HttpOutcome,
    *,
    started_at: dt.datetime,
    request_timestamp: int,
    actor: Any,
) -> DeliveryAttempt:
    now = timezone.now()
    with transaction.atomic():
        endpoint = lock_endpoint(endpoint_id)
        locked = lock_delivery(delivery_id)
        assert locked is not None
        delivery = locked
        before = snapshot(delivery, DELIVERY_AUDIT_FIELDS)
        last_number = delivery.attempts.aggregate(last=Max("number"))["last"] or 0
        attempt = DeliveryAttempt.objects.create(
            delivery=delivery,
            number=last_number + 1,
            trigger=(
                AttemptTrigger.REPLAY
                if delivery.attempt_count == 0 and last_number > 0
                else AttemptTrigger.SCHEDULED
            ),
            started_at=started_at,
            request_timestamp=request_timestamp,
            status_code=outcome.status_code,
            latency_ms=outcome.latency_ms,
            response_excerpt=outcome.response_excerpt,
            error=outcome.error,
            is_success=outcome.is_success,
        )
        delivery.attempt_count += 1
        delivery.last_attempt_at = started_at
        delivery.last_status_code = outcome.status_code
        delivery.last_error = outcome.error
        delivery.claimed_until = None
        action = ""
        if outcome.is_success:
            delivery.status = DeliveryStatus.SUCCEEDED
            delivery.succeeded_at = now
            delivery.failed_at = None
            delivery.next_attempt_at = None
            _record_endpoint_success(endpoint, now=now, actor=actor)
        else:
            if delivery.attempt_count >= MAX_ATTEMPTS:
                _fail_delivery(delivery, endpoint, now=now)
                action = "webhooks.delivery.fail"
            else:
                delivery.status = DeliveryStatus.PENDING
                delivery.next_attempt_at = now + RETRY_DELAYS[delivery.attempt_count - 1]
            _record_endpoint_failure(endpoint, now=now, actor=actor)
        delivery.save()
        if action != "webhooks.delivery.fail":
            return attempt
        record_audit(
            actor=actor,
            action=action,
            target=delivery,
            before=before,
            after={
                **snapshot(delivery, DELIVERY_AUDIT_FIELDS),
                "attempt_number": attempt.number,
                "latency_ms": attempt.latency_ms,
                "error": attempt.error[:200],
            },
            org_node=endpoint.node,
        )
    return attempt


def _record_endpoint_success(endpoint: WebhookEndpoint, *, now: dt.datetime, actor: Any) -> None:
    was_tripped = endpoint.circuit_open_until is not None
    endpoint.consecutive_failures = 0
    endpoint.circuit_open_until = None
    endpoint.circuit_trips = 0
    endpoint.save(
        update_fields=["consecutive_failures", "circuit_open_until", "circuit_trips", "updated_at"]
    )
    if was_tripped:
        record_audit(
            actor=actor,
            action="webhooks.endpoint.circuit_close",
            target=endpoint,
            after={"consecutive_failures": 0},
            org_node=endpoint.node,
        )
        publish(
            CircuitClosed(endpoint_id=endpoint.pk, node_id=endpoint.node_id),
            org_node=endpoint.node,
        )


def circuit_cooling(trips: int) -> dt.timedelta:
    """How long the circuit stays open on its `trips`-th opening (0-based): doubling, capped."""
    return min(CIRCUIT_COOLING_BASE * (2 ** min(trips, 16)), CIRCUIT_COOLING_MAX)


def _record_endpoint_failure(endpoint: WebhookEndpoint, *, now: dt.datetime, actor: Any) -> None:
    endpoint.consecutive_failures += 1
    fields = ["consecutive_failures", "updated_at"]
    should_open = (
        endpoint.consecutive_failures >= CIRCUIT_FAILURE_THRESHOLD
        and endpoint.circuit_state(now) != CircuitState.OPEN
    )
    if should_open:
        before = snapshot(endpoint, ["circuit_open_until", "circuit_trips"])
        endpoint.circuit_open_until = now + circuit_cooling(endpoint.circuit_trips)
        endpoint.circuit_trips += 1
        fields += ["circuit_open_until", "circuit_trips"]
    endpoint.save(update_fields=fields)
    if should_open:
        assert endpoint.circuit_open_until is not None
        record_audit(
            actor=actor,
            action="webhooks.endpoint.circuit_open",
            target=endpoint,
            before=before,
            after={
                **snapshot(endpoint, ["circuit_open_until", "circuit_trips"]),
                "consecutive_failures": endpoint.consecutive_failures,
            },
            org_node=endpoint.node,
        )
        publish(
            CircuitOpened(
                endpoint_id=endpoint.pk,
                node_id=endpoint.node_id,
                consecutive_failures=endpoint.consecutive_failures,
                open_until=endpoint.circuit_open_until.isoformat(),
            ),
            org_node=endpoint.node,
        )


def send_due_deliveries(*, actor: Any = SYSTEM, limit: int = 100) -> int:
    """Attempt every due delivery of active endpoints (oldest due first); returns the number
    of attempts made. Safe to run in several workers at once: each delivery is claimed."""
    require_permission(actor, WEBHOOKS_MANAGE)
    now = timezone.now()
    due_rows = (
        WebhookDelivery.objects.filter(due(now), endpoint__is_active=True)
        .order_by("next_attempt_at", "id")
        .values_list("id", "endpoint_id")[:limit]
    )
    attempts = 0
    for delivery_id, endpoint_id in list(due_rows):
        delivery = WebhookDelivery(pk=delivery_id, endpoint_id=endpoint_id)
        try:
            if send_delivery(delivery, actor=actor) is not None:
                attempts += 1
        except Exception:
            logger.exception("webhook delivery %s could not be sent", delivery_id)
    return attempts


def replay_delivery(delivery: WebhookDelivery, *, actor: Any, reason: str = "") -> WebhookDelivery:
    """Queue a fresh attempt now (a new retry cycle), whatever the delivery's status; the
    request carries the same `webhook-id`."""
    endpoint = WebhookEndpoint.objects.select_related("node").get(pk=delivery.endpoint_id)
    require_permission(actor, WEBHOOKS_MANAGE, endpoint.node)
    if not endpoint.is_active:
        raise EndpointInactive()
    now = timezone.now()
    with transaction.atomic():
        locked = lock_delivery(delivery.pk)
        if locked is None:
            raise NotFound()
        delivery = locked
        if (
            delivery.status == DeliveryStatus.SENDING
            and delivery.claimed_until is not None
            and delivery.claimed_until > now
        ):
            raise Conflict(_("This delivery is being sent right now; try again in a minute."))
        before = snapshot(delivery, DELIVERY_AUDIT_FIELDS)
        delivery.status = DeliveryStatus.PENDING
        delivery.attempt_count = 0
        delivery.cycle_started_at = now
        delivery.next_attempt_at = now
        delivery.claimed_until = None
        delivery.succeeded_at = None
        delivery.failed_at = None
        delivery.save()
        record_audit(
            actor=actor,
            action="webhooks.delivery.replay",
            target=delivery,
            before=before,
            after=snapshot(delivery, DELIVERY_AUDIT_FIELDS),
            reason=reason,
            org_node=endpoint.node,
        )
        transaction.on_commit(
            partial(_enqueue_sends, [delivery.pk], ignore_circuit=True), robust=True
        )
    return delivery
