"""Inventory API schemas. Quantities are decimals in `unit` (the item's base unit when omitted);
every write takes a `key` (or the request's Idempotency-Key) so a replay posts nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from ninja import Field, Schema

from backroom.config.api_support import Instant, ObjectId, Text, text
from backroom.inventory.choices import LocationKind, MoveReason

Quantity = Annotated[Decimal, Field(max_digits=18, decimal_places=6)]
Cost = Annotated[Decimal, Field(ge=0, max_digits=24, decimal_places=10)]
Key = Annotated[str, Field(min_length=1, max_length=150, pattern=r"^[^\x00]*$")]
MAX_BATCH = 5000


class LocationOut(Schema):
    id: int
    site_id: int
    site_code: str
    code: str
    name: str
    kind: str
    is_active: bool

    @staticmethod
    def resolve_site_code(obj: Any) -> str:
        return str(obj.site.node.code)


class LocationIn(Schema):
    site_id: ObjectId
    code: str = text(min_length=1, max_length=20)
    name: str = text(min_length=1, max_length=100)
    kind: LocationKind


class LocationPatch(Schema):
    name: str | None = text(min_length=1, max_length=100, default=None)
    is_active: bool | None = None
    reason: str = text(max_length=1000, default="")


class LocationFilter(Schema):
    site_id: ObjectId | None = None
    kind: LocationKind | None = None
    is_active: bool | None = None


class BalanceOut(Schema):
    item_id: int
    sku: str
    item: str
    unit: str
    site_id: int
    location_id: int
    location: str
    lot_id: int | None
    lot: str | None
    expiry_date: dt.date | None
    days_to_expiry: int | None
    quantity: Decimal
    value: Decimal


class OnHandFilter(Schema):
    site_id: ObjectId | None = None
    location_id: ObjectId | None = None
    item_id: ObjectId | None = None
    lot_id: ObjectId | None = None


class ExpiringFilter(Schema):
    site_id: ObjectId | None = None
    within_days: int = Field(3, ge=0, le=365)


class MoveOut(Schema):
    id: int
    posting_id: int
    item_id: int
    site_id: int
    location_id: int
    lot_id: int | None
    quantity: Decimal
    unit_cost: Decimal
    value: Decimal
    reason: str
    source_type: str
    source_id: str
    source_number: str
    occurred_at: dt.datetime
    recorded_at: dt.datetime
    reverses_id: int | None


class MoveFilter(Schema):
    site_id: ObjectId | None = None
    location_id: ObjectId | None = None
    since: Instant | None = None
    until: Instant | None = None


class WarningOut(Schema):
    code: str
    item_id: int
    location_id: int
    quantity: str


class PostingOut(Schema):
    """A posted document: its moves. `replayed` is true when the key had been used before."""

    posting_id: int
    operation: str
    replayed: bool
    move_count: int
    moves: list[MoveOut]
    warnings: list[WarningOut]


class BatchOut(Schema):
    """A posted batch; `moves` is omitted unless asked for (`?moves=true`)."""

    posting_id: int
    operation: str
    replayed: bool
    move_count: int
    moves: list[MoveOut] | None = None
    warnings: list[WarningOut]


class SourceIn(Schema):
    type: str = text(max_length=50, default="")
    id: str = text(max_length=64, default="")
    number: str = text(max_length=64, default="")


class _Write(Schema):
    key: Key | None = Field(None, description="Idempotency key; defaults to Idempotency-Key")
    source: SourceIn | None = None
    occurred_at: Instant | None = None


class ReceiveIn(_Write):
    item_id: ObjectId
    location_id: ObjectId
    quantity: Quantity
    unit: str | None = text(max_length=20, default=None)
    unit_cost: Cost = Field(..., description="Cost per `unit`")
    lot_code: str | None = text(max_length=60, default=None)
    expiry_date: dt.date | None = None


class ConsumeIn(_Write):
    item_id: ObjectId
    location_id: ObjectId
    quantity: Quantity
    unit: str | None = text(max_length=20, default=None)
    lot_code: str | None = text(max_length=60, default=None)
    reason: MoveReason = MoveReason.CONSUMPTION


class AdjustIn(_Write):
    item_id: ObjectId
    location_id: ObjectId
    quantity: Quantity = Field(..., description="Signed change")
    unit: str | None = text(max_length=20, default=None)
    unit_cost: Cost | None = None
    lot_code: str | None = text(max_length=60, default=None)
    expiry_date: dt.date | None = None
    reason: MoveReason = MoveReason.ADJUSTMENT


class TransferIn(_Write):
    item_id: ObjectId
    from_location_id: ObjectId
    to_location_id: ObjectId
    quantity: Quantity
    unit: str | None = text(max_length=20, default=None)
    lot_code: str | None = text(max_length=60, default=None)


class TransferReceiptIn(Schema):
    key: Key | None = None
    location_id: ObjectId
    quantity: Quantity | None = None


class ComponentIn(Schema):
    item_id: ObjectId
    quantity: Quantity
    unit: str | None = text(max_length=20, default=None)


class ProduceIn(_Write):
    item_id: ObjectId
    location_id: ObjectId
    quantity: Quantity
    unit: str | None = text(max_length=20, default=None)
    components: list[ComponentIn] = Field(..., min_length=1, max_length=200)
    lot_code: str | None = text(max_length=60, default=None)
    expiry_date: dt.date | None = None


class ReverseIn(Schema):
    key: Key | None = None
    reason: str = text(max_length=1000, default="")


class CostCorrectionIn(Schema):
    key: Key | None = None
    unit_cost: Cost = Field(..., description="The corrected cost per base unit")
    reason: str = text(max_length=1000, default="")


class MoveLineIn(Schema):
    """One batch line: receive (quantity > 0 at unit_cost), issue (quantity > 0) or adjust."""

    action: Text = Field(..., pattern=r"^(receive|issue|adjust)$")
    key: Key
    item_id: ObjectId
    location_id: ObjectId
    quantity: Quantity
    unit: str | None = text(max_length=20, default=None)
    unit_cost: Cost | None = None
    lot_code: str | None = text(max_length=60, default=None)
    expiry_date: dt.date | None = None
    reason: MoveReason | None = None
    source: SourceIn | None = None
    occurred_at: Instant | None = None


class BatchIn(Schema):
    moves: list[MoveLineIn] = Field(..., min_length=1, max_length=MAX_BATCH)


class ReservationOut(Schema):
    id: int
    item_id: int
    site_id: int
    location_id: int | None
    quantity: Decimal
    source_type: str
    source_id: str
    expires_at: dt.datetime | None
    status: str
    created_at: dt.datetime


class ReservationIn(Schema):
    key: Key | None = None
    item_id: ObjectId
    site_id: ObjectId
    location_id: ObjectId | None = None
    quantity: Quantity
    unit: str | None = text(max_length=20, default=None)
    source: SourceIn | None = None
    expires_at: Instant | None = None


class ReservationEndIn(Schema):
    status: str = Field("released", pattern=r"^(released|fulfilled)$")
    reason: str = text(max_length=1000, default="")


class ReservationFilter(Schema):
    site_id: ObjectId | None = None
    active: bool | None = None


def balance_row(balance: Any, today: dt.date) -> dict[str, Any]:
    lot = balance.lot
    expiry = lot.expiry_date if lot is not None else None
    return {
        "item_id": balance.item_id,
        "sku": balance.item.sku,
        "item": balance.item.name,
        "unit": balance.item.base_unit.code,
        "site_id": balance.location.site_id,
        "location_id": balance.location_id,
        "location": str(balance.location),
        "lot_id": balance.lot_id,
        "lot": lot.code if lot is not None else None,
        "expiry_date": expiry,
        "days_to_expiry": (expiry - today).days if expiry is not None else None,
        "quantity": balance.quantity,
        "value": balance.value,
    }


# --- counts (盘点) -------------------------------------------------------------------------


class CountIn(Schema):
    """A count of the site's locations (all open ones when `location_ids` is empty)."""

    site_id: ObjectId
    kind: str = Field("full", pattern=r"^(full|cycle)$")
    location_ids: list[ObjectId] = Field(default_factory=list, max_length=200)
    item_ids: list[ObjectId] = Field(
        default_factory=list, max_length=5000, description="Cycle counts only"
    )
    review_threshold: Cost | None = Field(
        None, description="Variance value per line above which posting needs approval"
    )
    start: bool = Field(True, description="Freeze the theoretical quantities at once")


class CountSheetOut(Schema):
    id: int
    number: str
    site_id: int
    kind: str
    status: str
    location_ids: list[int]
    item_ids: list[int]
    review_threshold: Decimal | None
    requires_review: bool
    started_at: dt.datetime | None
    submitted_at: dt.datetime | None
    posted_at: dt.datetime | None
    posting_id: int | None
    approved_by_id: int | None
    created_at: dt.datetime

    @staticmethod
    def resolve_location_ids(obj: Any) -> list[int]:
        return sorted(location.pk for location in obj.locations.all())


class CountEntryIn(Schema):
    unit: str = text(min_length=1, max_length=20)
    quantity: Annotated[Decimal, Field(max_digits=18, decimal_places=6)]


class CountEntryOut(Schema):
    unit: str
    quantity: Decimal


class CountLineOut(Schema):
    id: int
    shelf_order: int
    item_id: int
    sku: str
    item: str
    unit: str
    location_id: int
    location: str
    lot_id: int | None
    lot: str | None
    theoretical_quantity: Decimal
    counted_quantity: Decimal | None
    entries: list[CountEntryOut]
    variance_quantity: Decimal | None
    variance_value: Decimal | None

    @staticmethod
    def resolve_sku(obj: Any) -> str:
        return str(obj.item.sku)

    @staticmethod
    def resolve_item(obj: Any) -> str:
        return str(obj.item.name)

    @staticmethod
    def resolve_unit(obj: Any) -> str:
        return str(obj.item.base_unit.code)

    @staticmethod
    def resolve_location(obj: Any) -> str:
        return str(obj.location.code)

    @staticmethod
    def resolve_lot(obj: Any) -> str | None:
        return obj.lot.code if obj.lot is not None else None


class CountSheetDetailOut(CountSheetOut):
    """A count sheet with its lines in shelf order."""

    lines: list[CountLineOut]

    @staticmethod
    def resolve_lines(obj: Any) -> list[Any]:
        return list(
            obj.lines.select_related("item__base_unit", "location", "lot").order_by("shelf_order")
        )


class CountLineIn(Schema):
    line_id: int = Field(..., ge=1, le=2**53)
    entries: list[CountEntryIn] = Field(..., max_length=10)


class CountRecordIn(Schema):
    lines: list[CountLineIn] = Field(..., min_length=1, max_length=MAX_BATCH)


class CountPostIn(Schema):
    approved: bool = Field(
        False, description="Approve variances above the threshold (inventory.manage)"
    )


class CountCancelIn(Schema):
    reason: str = text(max_length=1000, default="")


class CountFilter(Schema):
    site_id: ObjectId | None = None
    status: str | None = Field(None, pattern=r"^(draft|counting|submitted|posted|cancelled)$")
