"""Subscribers that keep the dashboard rollups (see rollups.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from backroom.channels.events import ChannelsEvent
from backroom.channels.models import OrderSales
from backroom.channels.soldout import SoldOutEvent
from backroom.dashboards import rollups, running
from backroom.events.models import OutboxEvent
from backroom.events.services import round_cached, subscribe
from backroom.inventory.events import InventoryEvent
from backroom.procurement.events import ProcurementEvent


@subscribe(InventoryEvent.STOCK_POSTED, is_async=True, name="dashboards.stock_days")
def refresh_stock_days(outbox_event: OutboxEvent) -> None:
    """Add a posting to the store-days its moves fall on (once: a replay changes nothing)."""
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


def _may_change_a_past_day(outbox_event: OutboxEvent) -> bool:
    """A new order of the stores' open business day changes no past day (`mark_dirty` would
    mark nothing): it passes by without a transaction."""
    day = outbox_event.payload.get("business_date")
    if not day:
        return True  # recorded before events carried it
    return dt.date.fromisoformat(day) < running.open_day_this_round()


@subscribe(
    ChannelsEvent.ORDER_RECEIVED,
    is_async=True,
    name="dashboards.running.order_received",
    wants=_may_change_a_past_day,
)
@subscribe(
    ChannelsEvent.ORDER_STATUS_CHANGED, is_async=True, name="dashboards.running.order_status"
)
@subscribe(ChannelsEvent.ORDER_RESTOCKED, is_async=True, name="dashboards.running.order_restocked")
def mark_order_day(outbox_event: OutboxEvent) -> None:
    """An order of a past day changed (a late refund): the store's running totals are re-read
    from the days until recomputed. Orders of today cost two small lookups (the order's days,
    the stores' open business day)."""
    rows = OrderSales.objects.filter(order_id=outbox_event.payload["order_id"]).values_list(
        "site_id", "business_date"
    )
    running.mark_dirty(rows)


@subscribe(ChannelsEvent.HISTORY_IMPORTED, is_async=True, name="dashboards.running.history")
def mark_history_days(outbox_event: OutboxEvent) -> None:
    """Imported history changed the store's days from its first day on."""
    payload: dict[str, Any] = outbox_event.payload
    first = dt.date.fromisoformat(payload["first_day"])
    running.mark_dirty([(int(payload["site_id"]), first)])


@subscribe(ProcurementEvent.INVOICE_ENTERED, is_async=True, name="dashboards.price_jump")
def detect_invoice_price_jumps(outbox_event: OutboxEvent) -> None:
    """An invoice's prices against the items' price history from its supplier (a replay only
    groups on the alerts it raised)."""
    from backroom.dashboards import detectors

    detectors.detect_price_jumps(int(outbox_event.payload["invoice_id"]))


@subscribe(ProcurementEvent.PRICE_CHANGED, is_async=True, name="dashboards.price_change")
def alert_price_change(outbox_event: OutboxEvent) -> None:
    """A supplier's new prices beyond its alert threshold: an alert for the buyers and HQ."""
    from backroom.dashboards import detectors

    payload: dict[str, Any] = outbox_event.payload
    detectors.alert_price_change(int(payload["price_list_id"]), payload["lines"])


# --- alerts (docs/alerts.md) ---------------------------------------------------------------------


def _awaited_by_rules(outbox_event: OutboxEvent) -> bool:
    """Whether an active rule is triggered by the event's type (most events trigger none:
    they pass by without a transaction). The triggers are read once per dispatch round."""
    from backroom.dashboards.rules import triggered_event_types

    if outbox_event.event_type.startswith("dashboards.alert."):
        return False
    return outbox_event.event_type in round_cached("dashboards.triggers", triggered_event_types)


@subscribe("*", is_async=True, name="dashboards.alert_rules_on_event", wants=_awaited_by_rules)
def evaluate_rules_on_event(outbox_event: OutboxEvent) -> None:
    """Rules triggered by this event type look at the event's store (and the nodes above it)."""
    from backroom.dashboards.rules import evaluate_for_event

    if _awaited_by_rules(outbox_event):
        evaluate_for_event(outbox_event.event_type, outbox_event.org_node)


@subscribe("dashboards.alert.raised", is_async=True, name="dashboards.alert_emails")
def email_alert(outbox_event: OutboxEvent) -> None:
    """The recipients of a rule that sends email are emailed about a new alert."""
    from backroom.dashboards.notifications import email_alert_recipients

    email_alert_recipients(outbox_event)
