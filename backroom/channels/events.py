"""Sales channel events: orders received, their status changes and depletion, mappings."""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from backroom.events.catalogue import event


class ChannelsEvent(StrEnum):
    ACCOUNT_CREATED = "channels.account.created"
    ORDER_RECEIVED = "channels.order.received"
    ORDER_STATUS_CHANGED = "channels.order.status_changed"
    ORDER_DEPLETED = "channels.order.depleted"
    ORDER_RESTOCKED = "channels.order.restocked"
    MAPPING_SAVED = "channels.mapping.saved"
    ORDER_ANOMALY = "channels.order.anomaly"
    HISTORY_IMPORTED = "channels.history.imported"


@event(ChannelsEvent.ACCOUNT_CREATED)
@dataclass(frozen=True)
class AccountCreated:
    account_id: int
    site_id: int
    kind: str
    store_ref: str


@event(ChannelsEvent.ORDER_RECEIVED)
@dataclass(frozen=True)
class OrderReceived:
    """A new order: `unmapped_lines` counts lines whose SKU has no mapping yet."""

    order_id: int
    account_id: int
    site_id: int
    kind: str
    external_id: str
    status: str
    total: str
    currency: str
    unmapped_lines: int = 0
    business_date: str = ""  # ISO date; empty in events recorded before it was added


@event(ChannelsEvent.ORDER_STATUS_CHANGED)
@dataclass(frozen=True)
class OrderStatusChanged:
    order_id: int
    site_id: int
    from_status: str
    to_status: str
    event_key: str


@event(ChannelsEvent.ORDER_DEPLETED)
@dataclass(frozen=True)
class OrderDepleted:
    """Lines of an order were depleted from stock (at completion, or when mapped later)."""

    order_id: int
    site_id: int
    posting_id: int
    lines: list[int] = field(default_factory=list)


@event(ChannelsEvent.ORDER_RESTOCKED)
@dataclass(frozen=True)
class OrderRestocked:
    """A cancellation or refund after depletion: stock returned, or recorded as waste."""

    order_id: int
    site_id: int
    policy: str
    move_count: int


@event(ChannelsEvent.MAPPING_SAVED)
@dataclass(frozen=True)
class MappingSaved:
    mapping_id: int
    account_id: int
    kind: str
    external_code: str
    item_id: int | None
    modifier_id: int | None
    caught_up_lines: int = 0


@event(ChannelsEvent.ORDER_ANOMALY)
@dataclass(frozen=True)
class OrderAnomalyDetected:
    """An order broke an anomaly rule (see `channels.anomalies`); published once per anomaly."""

    anomaly_id: int
    order_id: int
    site_id: int
    rule: str
    severity: str
    message: str
    kind: str
    external_id: str
    display_id: str
    details: dict[str, Any] = field(default_factory=dict)


@event(ChannelsEvent.HISTORY_IMPORTED)
@dataclass(frozen=True)
class HistoryImported:
    """Sales from before go-live were imported into an account (docs/decisions/0007): the
    rollups of the store's days `first_day`–`last_day` changed."""

    account_id: int
    site_id: int
    orders: int
    first_day: str
    last_day: str
