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
