"""Reactions: every event (from the outbox, after commit) fans out to matching endpoints."""

from backroom.events.models import OutboxEvent
from backroom.events.services import subscribe
from backroom.kernel.actors import SYSTEM
from backroom.webhooks import services


@subscribe("*", is_async=True, name="webhooks.deliver_event")
def deliver_to_endpoints(outbox_event: OutboxEvent) -> None:
    """Create the event's deliveries; they are sent after this transaction commits."""
    services.deliver_event(outbox_event, actor=SYSTEM)
