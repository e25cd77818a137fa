"""Reads of webhook endpoints, deliveries and attempts, scoped to the actor.

An actor who holds `webhooks.view` nowhere is refused (403); one who holds it elsewhere gets
404 for objects outside their subtree.
"""

from typing import Any

from django.db.models import QuerySet

from backroom.accounts.permissions import WEBHOOKS_MANAGE, WEBHOOKS_VIEW
from backroom.events.catalogue import event_types
from backroom.kernel.exceptions import NotFound, PermissionDenied
from backroom.org.models import OrgNode
from backroom.webhooks.events import NOT_DELIVERED_BY_WEBHOOKS
from backroom.webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint


def require_view(actor: Any, permission: str = WEBHOOKS_VIEW) -> None:
    """Refuse an actor who holds `permission` nowhere."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise PermissionDenied()
    if not actor.has_scoped_permission(permission):
        raise PermissionDenied()


def can_manage(actor: Any, endpoint: WebhookEndpoint | None = None) -> bool:
    """Whether pages should offer manage buttons (the services check again)."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return False
    return bool(actor.has_scoped_permission(WEBHOOKS_MANAGE, endpoint.node if endpoint else None))


def endpoints_for(actor: Any, permission: str = WEBHOOKS_VIEW) -> QuerySet[WebhookEndpoint]:
    """Endpoints at nodes where the actor holds `permission`, by name."""
    require_view(actor, permission)
    return (
        WebhookEndpoint.objects.restrict(actor, permission)
        .select_related("node")
        .order_by("name", "id")
    )


def get_endpoint(actor: Any, endpoint_id: int, permission: str = WEBHOOKS_VIEW) -> WebhookEndpoint:
    try:
        return endpoints_for(actor, permission).get(pk=endpoint_id)
    except WebhookEndpoint.DoesNotExist:
        raise NotFound() from None


def deliveries_for(
    actor: Any, endpoint: WebhookEndpoint | None = None, permission: str = WEBHOOKS_VIEW
) -> QuerySet[WebhookDelivery]:
    """Deliveries the actor may see (of one endpoint when given), newest first."""
    require_view(actor, permission)
    deliveries = WebhookDelivery.objects.restrict(actor, permission).select_related(
        "event", "endpoint__node"
    )
    if endpoint is not None:
        deliveries = deliveries.filter(endpoint=endpoint)
    return deliveries.order_by("-id")


def get_delivery(actor: Any, delivery_id: int, permission: str = WEBHOOKS_VIEW) -> WebhookDelivery:
    try:
        return deliveries_for(actor, permission=permission).get(pk=delivery_id)
    except WebhookDelivery.DoesNotExist:
        raise NotFound() from None


def attempts_of(
    actor: Any, delivery: WebhookDelivery, permission: str = WEBHOOKS_VIEW
) -> QuerySet[DeliveryAttempt]:
    """Attempts of a delivery, newest first."""
    require_view(actor, permission)
    return (
        DeliveryAttempt.objects.restrict(actor, permission)
        .filter(delivery=delivery)
        .order_by("-number")
    )


def available_event_types() -> list[str]:
    """Event types an endpoint may subscribe to ("*" means all of these)."""
    return [t for t in event_types() if t not in NOT_DELIVERED_BY_WEBHOOKS]


def manageable_nodes(actor: Any) -> QuerySet[OrgNode]:
    """Nodes where the actor may create endpoints."""
    return OrgNode.objects.restrict(actor, WEBHOOKS_MANAGE).filter(is_active=True).order_by("path")
