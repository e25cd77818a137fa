"""Subscribers that keep the dashboard rollups (see rollups.py)."""

from __future__ import annotations

from typing import Any

from backroom.channels.soldout import SoldOutEvent
from backroom.dashboards import rollups
from backroom.events.models import OutboxEvent
from backroom.events.services import subscribe
from backroom.inventory.events import InventoryEvent


@subscribe(InventoryEvent.STOCK_POSTED, is_async=True, name="dashboards.stock_days")
def refresh_stock_days(outbox_event: OutboxEvent) -> None:
    """Recompute the store-days a posting's moves fall on (idempotent: a replay changes
    nothing)."""
    rollups.refresh_posting(int(outbox_event.payload["posting_id"]))


@subscribe(SoldOutEvent.ITEM_SOLD_OUT, is_async=False, name="dashboards.soldout_spell_open")
def open_soldout_spell(outbox_event: OutboxEvent) -> None:
    payload: dict[str, Any] = outbox_event.payload
    rollups.open_spell(
        payload["site_id"],
        payload["item_id"],
        outbox_event.occurred_at,
        is_manual=bool(payload.get("is_manual")),
    )


@subscribe(SoldOutEvent.ITEM_BACK_IN_STOCK, is_async=False, name="dashboards.soldout_spell_close")
def close_soldout_spell(outbox_event: OutboxEvent) -> None:
    payload: dict[str, Any] = outbox_event.payload
    rollups.close_spell(payload["site_id"], payload["item_id"], outbox_event.occurred_at)


# --- alerts (docs/alerts.md) ---------------------------------------------------------------------


@subscribe("*", is_async=True, name="dashboards.alert_rules_on_event")
def evaluate_rules_on_event(outbox_event: OutboxEvent) -> None:
    """Rules triggered by this event type look at the event's store (and the nodes above it)."""
    from backroom.dashboards.rules import evaluate_for_event

    if outbox_event.event_type.startswith("dashboards.alert."):
        return
    evaluate_for_event(outbox_event.event_type, outbox_event.org_node)


@subscribe("dashboards.alert.raised", is_async=True, name="dashboards.alert_emails")
def email_alert(outbox_event: OutboxEvent) -> None:
    """The recipients of a rule that sends email are emailed about a new alert."""
    from backroom.dashboards.notifications import email_alert_recipients

    email_alert_recipients(outbox_event)
