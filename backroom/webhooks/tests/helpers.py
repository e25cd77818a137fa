"""Test helpers: endpoints made through the services, events published by real services."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools

from backroom.events.models import OutboxEvent
from backroom.kernel.actors import SYSTEM
from backroom.org import services as org_services
from backroom.org.models import OrgNode
from backroom.webhooks import services

_cities = itertools.count(1)


def make_endpoint(
    node: OrgNode,
    url: str = "https://hooks.example.com/backroom",
    event_types: list[str] | None = None,
    *,
    is_active: bool = True,
    actor: object = SYSTEM,
) -> services.IssuedSecret:
    return services.create_endpoint(
        services.EndpointInput(
            node_id=node.pk,
            name=f"Hook at {node.code}",
            url=url,
            event_types=event_types or ["org.node.updated"],
            is_active=is_active,
        ),
        actor=actor,
    )


def touch_site(node: OrgNode) -> OutboxEvent:
    """Publish an `org.node.updated` event at a site's node (through the org service)."""
    org_services.update_site(
        node.site, org_services.SiteChanges(city=f"City {next(_cities)}"), actor=SYSTEM
    )
    return OutboxEvent.objects.filter(event_type="org.node.updated", org_node=node).latest("id")


def expected_signature(secret: str, webhook_id: str, timestamp: str, body: bytes) -> str:
    """Computed independently of backroom.webhooks.signing."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()
