"""Reactions: every event (from the outbox, after commit) fans out to matching endpoints."""

from backroom.events.models import OutboxEvent
from backroom.events.services import subscribe
from backroom.kernel.actors import SYSTEM
from backroom.webhooks import services


def _has_endpoints(outbox_event: OutboxEvent) -> bool:
    """Whether an endpoint waits for the event (most chains have few: the other events pass by
    without a transaction)."""
    return bool(services.matching_endpoints(outbox_event))


@subscribe("*", is_async=True, name="webhooks.deliver_event", wants=_has_endpoints)
def deliver_to_endpoints(outbox_event: OutboxEvent) -> None:
    """Create the event's deliveries; they are sent after this transaction commits."""
    services.deliver_event(outbox_event, actor=SYSTEM)
