"""Reactions from the outbox (after commit, in the worker): approval notifications."""

from backroom.approvals.notifications import EVENT_TYPES, notify_from_event
from backroom.events.models import OutboxEvent
from backroom.events.services import subscribe


def notify(outbox_event: OutboxEvent) -> None:
    """Tell the people concerned in the app, and queue their emails (see notifications.py)."""
    notify_from_event(outbox_event)


for _event_type in EVENT_TYPES:
    subscribe(_event_type, is_async=True, name="approvals.notify")(notify)
