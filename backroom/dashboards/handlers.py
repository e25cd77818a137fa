"""Subscribers that keep the dashboard rollups (see rollups.py)."""

from __future__ import annotations

from typing import Any

from backroom.channels.soldout import SoldOutEvent
from backroom.dashboards import rollups
from backroom.events.models import OutboxEvent
from backroom.events.services import subscribe
from backroom.inventory.events import InventoryEvent
from backroom.procurement.events import ProcurementEvent


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


@subscribe(ProcurementEvent.INVOICE_ENTERED, is_async=True, name="dashboards.price_jump")
def detect_invoice_price_jumps(outbox_event: OutboxEvent) -> None:
    """An invoice's prices against the items' price history from its supplier (a replay only
    groups on the alerts it raised)."""
    from backroom.dashboards import detectors

    detectors.detect_price_jumps(int(outbox_event.payload["invoice_id"]))
