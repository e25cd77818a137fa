"""Webhooks API: endpoints, secret rotation, deliveries, attempts, replay, event types."""

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Path, Router, Status
from ninja.pagination import paginate

from backroom.config.api_support import ObjectId, Pagination, errors
from backroom.webhooks import selectors, services
from backroom.webhooks.choices import DeliveryStatus
from backroom.webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint
from backroom.webhooks.schemas import (
    AttemptOut,
    DeliveryOut,
    EndpointCreatedOut,
    EndpointIn,
    EndpointOut,
    EndpointPatch,
    EventTypeOut,
    ReplayIn,
    RotateSecretIn,
    SecretOut,
)

router = Router(tags=["webhooks"])


@router.get("/event-types", response={200: list[EventTypeOut], **errors(403)})
def list_event_types(request: HttpRequest) -> list[dict[str, str]]:
    """Event types an endpoint may subscribe to; "*" subscribes to all of them."""
    selectors.require_view(request.user)
    return [{"event_type": event_type} for event_type in selectors.available_event_types()]


# --- endpoints ------------------------------------------------------------------------------


@router.get("/endpoints", response={200: list[EndpointOut], **errors(403)})
@paginate(Pagination)
def list_endpoints(
    request: HttpRequest, is_active: bool | None = None
) -> QuerySet[WebhookEndpoint]:
    """Endpoints at nodes within the caller's scope, by name."""
    endpoints = selectors.endpoints_for(request.user)
    if is_active is not None:
        endpoints = endpoints.filter(is_active=is_active)
    return endpoints


@router.post("/endpoints", response={201: EndpointCreatedOut, **errors(400, 403, 404)})
def create_endpoint(request: HttpRequest, payload: EndpointIn) -> Status:
    """Create an endpoint; the response carries its signing secret, shown this once."""
    issued = services.create_endpoint(
        services.EndpointInput(**payload.dict()),
        actor=request.user,
    )
    endpoint = selectors.get_endpoint(request.user, issued.endpoint.pk)
    return Status(201, {"endpoint": endpoint, "secret": issued.secret})


@router.get("/endpoints/{endpoint_id}", response={200: EndpointOut, **errors(403, 404)})
def get_endpoint(request: HttpRequest, endpoint_id: Path[ObjectId]) -> WebhookEndpoint:
    return selectors.get_endpoint(request.user, endpoint_id)


@router.patch("/endpoints/{endpoint_id}", response={200: EndpointOut, **errors(400, 403, 404)})
def update_endpoint(
    request: HttpRequest, endpoint_id: Path[ObjectId], payload: EndpointPatch
) -> WebhookEndpoint:
    """Change fields of an endpoint; `is_active: false` deactivates it (endpoints are never
    deleted)."""
    endpoint = selectors.get_endpoint(request.user, endpoint_id)
    data = payload.dict(exclude_unset=True)
    reason = data.pop("reason", "")
    services.update_endpoint(
        endpoint, services.EndpointChanges(**data), actor=request.user, reason=reason
    )
    return selectors.get_endpoint(request.user, endpoint_id)


@router.post(
    "/endpoints/{endpoint_id}/rotate-secret",
    response={200: SecretOut, **errors(400, 403, 404)},
)
def rotate_secret(
    request: HttpRequest, endpoint_id: Path[ObjectId], payload: RotateSecretIn | None = None
) -> dict[str, Any]:
    """A new secret (shown once); the previous one keeps signing for 24 hours."""
    endpoint = selectors.get_endpoint(request.user, endpoint_id)
    issued = services.rotate_secret(
        endpoint, actor=request.user, reason=payload.reason if payload else ""
    )
    return {
        "endpoint": selectors.get_endpoint(request.user, endpoint_id),
        "secret": issued.secret,
        "previous_secret_expires_at": issued.endpoint.previous_secret_expires_at,
    }


# --- deliveries -----------------------------------------------------------------------------


@router.get(
    "/endpoints/{endpoint_id}/deliveries",
    response={200: list[DeliveryOut], **errors(403, 404)},
)
@paginate(Pagination)
def list_deliveries(
    request: HttpRequest, endpoint_id: Path[ObjectId], status: DeliveryStatus | None = None
) -> QuerySet[WebhookDelivery]:
    """An endpoint's deliveries, newest first."""
    endpoint = selectors.get_endpoint(request.user, endpoint_id)
    deliveries = selectors.deliveries_for(request.user, endpoint)
    if status:
        deliveries = deliveries.filter(status=status)
    return deliveries


@router.get("/deliveries/{delivery_id}", response={200: DeliveryOut, **errors(403, 404)})
def get_delivery(request: HttpRequest, delivery_id: Path[ObjectId]) -> WebhookDelivery:
    return selectors.get_delivery(request.user, delivery_id)


@router.get(
    "/deliveries/{delivery_id}/attempts",
    response={200: list[AttemptOut], **errors(403, 404)},
)
@paginate(Pagination)
def list_attempts(request: HttpRequest, delivery_id: Path[ObjectId]) -> QuerySet[DeliveryAttempt]:
    """Every HTTP attempt of a delivery, newest first."""
    delivery = selectors.get_delivery(request.user, delivery_id)
    return selectors.attempts_of(request.user, delivery)


@router.post(
    "/deliveries/{delivery_id}/replay",
    response={202: DeliveryOut, **errors(400, 403, 404, 409)},
)
def replay_delivery(
    request: HttpRequest, delivery_id: Path[ObjectId], payload: ReplayIn | None = None
) -> Status:
    """Queue a fresh attempt now; the receiver sees the same `webhook-id` again."""
    delivery = selectors.get_delivery(request.user, delivery_id)
    services.replay_delivery(delivery, actor=request.user, reason=payload.reason if payload else "")
    return Status(202, selectors.get_delivery(request.user, delivery_id))
