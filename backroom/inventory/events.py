"""Inventory events: one per posted document (a batch is one document, not one per move)."""

from dataclasses import dataclass, field
from enum import StrEnum

from backroom.events.catalogue import event


class InventoryEvent(StrEnum):
    STOCK_POSTED = "inventory.stock.posted"
    NEGATIVE_STOCK = "inventory.stock.negative"
    LOCATION_CREATED = "inventory.location.created"
    LOCATION_UPDATED = "inventory.location.updated"
    RESERVATION_CREATED = "inventory.reservation.created"
    RESERVATION_ENDED = "inventory.reservation.ended"


@event(InventoryEvent.STOCK_POSTED)
@dataclass(frozen=True)
class StockPosted:
    """Moves were posted. `items` lists the item ids touched; `locations` the location ids;
    `reasons` the moves' reasons (finance posts sales depletion per day, not per order)."""

    posting_id: int
    operation: str
    site_id: int | None
    move_count: int
    items: list[int] = field(default_factory=list)
    locations: list[int] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


@event(InventoryEvent.NEGATIVE_STOCK)
@dataclass(frozen=True)
class NegativeStock:
    """A posting left stock below zero where the item class warns about it."""

    posting_id: int
    site_id: int | None
    lines: list[dict[str, object]] = field(default_factory=list)


@event(InventoryEvent.LOCATION_CREATED)
@dataclass(frozen=True)
class LocationCreated:
    location_id: int
    site_id: int
    code: str
    kind: str


@event(InventoryEvent.LOCATION_UPDATED)
@dataclass(frozen=True)
class LocationUpdated:
    location_id: int
    site_id: int
    changed: list[str]


@event(InventoryEvent.RESERVATION_CREATED)
@dataclass(frozen=True)
class ReservationCreated:
    reservation_id: int
    item_id: int
    site_id: int
    quantity: str


@event(InventoryEvent.RESERVATION_ENDED)
@dataclass(frozen=True)
class ReservationEnded:
    reservation_id: int
    status: str
