"""Webhooks events. Delivery and circuit events are never delivered by webhooks themselves
(a failing endpoint would feed itself); other apps (notifications) subscribe to them."""

from dataclasses import dataclass
from enum import StrEnum

from backroom.events.catalogue import event


class WebhooksEvent(StrEnum):
    ENDPOINT_CREATED = "webhooks.endpoint.created"
    ENDPOINT_UPDATED = "webhooks.endpoint.updated"
    ENDPOINT_ACTIVATED = "webhooks.endpoint.activated"
    ENDPOINT_DEACTIVATED = "webhooks.endpoint.deactivated"
    SECRET_ROTATED = "webhooks.endpoint.secret_rotated"
    CIRCUIT_OPENED = "webhooks.endpoint.circuit_opened"
    CIRCUIT_CLOSED = "webhooks.endpoint.circuit_closed"
    DELIVERY_FAILED = "webhooks.delivery.failed"


# Never fanned out to webhook endpoints (not even with "*"): they are produced by deliveries.
NOT_DELIVERED_BY_WEBHOOKS = frozenset(
    {
        WebhooksEvent.CIRCUIT_OPENED,
        WebhooksEvent.CIRCUIT_CLOSED,
        WebhooksEvent.DELIVERY_FAILED,
    }
)


@event(WebhooksEvent.ENDPOINT_CREATED)
@dataclass(frozen=True)
class EndpointCreated:
    endpoint_id: int
    node_id: int
    name: str
    event_types: list[str]


@event(WebhooksEvent.ENDPOINT_UPDATED)
@dataclass(frozen=True)
class EndpointUpdated:
    endpoint_id: int
    node_id: int
    changed: list[str]


@event(WebhooksEvent.ENDPOINT_ACTIVATED)
@dataclass(frozen=True)
class EndpointActivated:
    endpoint_id: int
    node_id: int


@event(WebhooksEvent.ENDPOINT_DEACTIVATED)
@dataclass(frozen=True)
class EndpointDeactivated:
    endpoint_id: int
    node_id: int


@event(WebhooksEvent.SECRET_ROTATED)
@dataclass(frozen=True)
class SecretRotated:
    endpoint_id: int
    node_id: int
    previous_secret_expires_at: str


@event(WebhooksEvent.CIRCUIT_OPENED)
@dataclass(frozen=True)
class CircuitOpened:
    endpoint_id: int
    node_id: int
    consecutive_failures: int
    open_until: str


@event(WebhooksEvent.CIRCUIT_CLOSED)
@dataclass(frozen=True)
class CircuitClosed:
    endpoint_id: int
    node_id: int


@event(WebhooksEvent.DELIVERY_FAILED)
@dataclass(frozen=True)
class DeliveryFailed:
    delivery_id: int
    endpoint_id: int
    node_id: int
    source_event_id: str
    source_event_type: str  # not `event_type`: that names this payload's own type
    attempts: int
    last_status_code: int | None
    last_error: str
