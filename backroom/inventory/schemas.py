"""Inventory API schemas. Quantities are decimals in `unit` (the item's base unit when omitted);
every write takes a `key` (or the request's Idempotency-Key) so a replay posts nothing."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any

from ninja import Field, Schema
from pydantic import BaseModel, PrivateAttr, model_validator
from pydantic.functional_validators import ModelWrapValidatorHandler

from backroom.config.api_support import MAX_ID, Instant, ObjectId, Text, text
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


class SourceIn(BaseModel):
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


# A plain pydantic model, not a ninja Schema: input only, and a batch carries up to 5,000 of
# them (Schema's per-object wrapper costs microseconds a line; see docs/benchmarks.md).
class MoveLineIn(BaseModel):
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


# A batch line as plain values, in `MoveInput`'s field order: (action, item_id, location_id,
# quantity, key, unit, unit_cost, lot_code, expiry_date, reason, source, occurred_at).
PlainLine = tuple[
    str, int, int, Decimal, str, str | None, Decimal | None, str | None, dt.date | None,
    MoveReason | None, SourceIn | None, dt.datetime | None,
]  # fmt: skip

_ACTIONS = frozenset({"receive", "issue", "adjust"})
_REASONS = {reason.value: reason for reason in MoveReason}
# Plain decimals whose digits are within Quantity's and Cost's bounds however pydantic counts
# them (at most 12 + 6 and 14 + 10 digits), and ISO dates.
_PLAIN_QUANTITY = re.compile(r"-?[0-9]{1,12}(?:\.[0-9]{1,6})?").fullmatch
_PLAIN_COST = re.compile(r"[0-9]{1,14}(?:\.[0-9]{1,10})?").fullmatch
_PLAIN_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}").fullmatch


def _short_text(value: Any, limit: int) -> bool:
    return value is None or (type(value) is str and len(value) <= limit and "\x00" not in value)


def _checked_decimal(
    text: str, seen: dict[str, Decimal], pattern: Callable[[str], Any]
) -> Decimal | None:
    """The Decimal of `text` when `pattern` accepts it (None otherwise), remembered in `seen`."""
    if pattern(text) is None:
        return None
    number = seen[text] = Decimal(text)
    return number


def plain_lines(values: Any) -> list[PlainLine] | None:
    """The batch's lines as plain tuples when every line is of the common, plainly valid kind
    (no source or time, decimals as plain digits, ISO dates); else None, and pydantic
    validates the batch (and reports every problem with its place, as always).

    What this accepts, `MoveLineIn` accepts with the same values; it is only faster (a
    fifth of the cost per line: no model per line)."""
    moves = values.get("moves") if type(values) is dict else None
    if type(moves) is not list or not 1 <= len(moves) <= MAX_BATCH:
        return None
    lines: list[PlainLine] = []
    add = lines.append
    quantity_ok, cost_ok = _PLAIN_QUANTITY, _PLAIN_COST
    # A batch repeats few quantities, costs and dates: each distinct text is checked and
    # converted once (equal texts give equal values; Decimals and dates are immutable).
    quantities: dict[str, Decimal] = {}
    costs: dict[str, Decimal] = {}
    dates: dict[str, dt.date] = {}
    reasons = _REASONS
    for line in moves:
        if type(line) is not dict:
            return None
        get = line.get
        action, key, item_id, location_id = (
            get("action"),
            get("key"),
            get("item_id"),
            get("location_id"),
        )
        quantity, unit, unit_cost = get("quantity"), get("unit"), get("unit_cost")
        lot_code, expiry, reason = get("lot_code"), get("expiry_date"), get("reason")
        if (
            action not in _ACTIONS
            or type(key) is not str
            or not 1 <= len(key) <= 150
            or "\x00" in key
            or type(item_id) is not int
            or not 1 <= item_id <= MAX_ID
            or type(location_id) is not int
            or not 1 <= location_id <= MAX_ID
            or type(quantity) is not str
            or (unit is not None and not _short_text(unit, 20))
            or (lot_code is not None and not _short_text(lot_code, 60))
            or (reason is not None and reason not in reasons)
            or get("source") is not None
            or get("occurred_at") is not None
        ):
            return None
        number = quantities.get(quantity)
        if number is None:
            number = _checked_decimal(quantity, quantities, quantity_ok)
        if number is None:
            return None
        line_cost = None
        if unit_cost is not None:
            if type(unit_cost) is not str:
                return None
            line_cost = costs.get(unit_cost)
            if line_cost is None:
                line_cost = _checked_decimal(unit_cost, costs, cost_ok)
            if line_cost is None:
                return None
        expiry_date = None
        if expiry is not None:
            expiry_date = dates.get(expiry) if type(expiry) is str else None
            if expiry_date is None:
                if type(expiry) is not str or _PLAIN_DATE(expiry) is None:
                    return None
                try:
                    expiry_date = dates[expiry] = dt.date.fromisoformat(expiry)
                except ValueError:
                    return None
        add(
            (
                action,
                item_id,
                location_id,
                number,
                key,
                unit,
                line_cost,
                lot_code,
                expiry_date,
                None if reason is None else reasons[reason],
                None,
                None,
            )
        )
    return lines


class BatchIn(Schema):
    moves: list[MoveLineIn] = Field(..., min_length=1, max_length=MAX_BATCH)
    # Set (and `moves` left empty) when every line passed `plain_lines`.
    _plain: list[PlainLine] | None = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _plain_batch(cls, values: Any, handler: ModelWrapValidatorHandler[BatchIn]) -> Any:
        """The common batch without a pydantic model per line (see `plain_lines`)."""
        lines = plain_lines(values)
        if lines is None:
            return handler(values)
        batch = cls.model_construct(moves=[])
        batch._plain = lines
        return batch

    def plain(self) -> list[PlainLine]:
        """Every line as plain values, however the batch was validated."""
        if self._plain is not None:
            return self._plain
        return [
            (
                line.action,
                line.item_id,
                line.location_id,
                line.quantity,
                line.key,
                line.unit,
                line.unit_cost,
                line.lot_code,
                line.expiry_date,
                line.reason,
                line.source,
                line.occurred_at,
            )
            for line in self.moves
        ]


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


class AvailabilityFilter(Schema):
    site_id: ObjectId
    item_id: list[ObjectId] = Field(
        default_factory=list,
        max_length=500,
        description="Repeat for several items; omit for every item with stock or reservations",
    )
    location_id: ObjectId | None = Field(None, description="One of the site's own locations")


class AvailabilityOut(Schema):
    """Available-to-promise of an item in its base unit: on hand (in-transit stock left out)
    minus active, unexpired reservations; negative when more is promised than is on hand."""

    item_id: int
    sku: str
    item: str
    unit: str
    on_hand: Decimal
    reserved: Decimal
    available: Decimal


def availability_row(row: Any) -> dict[str, Any]:
    """An `AvailabilityOut` body from a `selectors.AvailableStock`."""
    return {
        "item_id": row.item.pk,
        "sku": row.item.sku,
        "item": row.item.name,
        "unit": row.item.base_unit.code,
        "on_hand": row.on_hand,
        "reserved": row.reserved,
        "available": row.available,
    }


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
    """A count of the site's locations (all open ones when `location_ids` is empty), or of a
    template (`template_id`: its locations, items, shelf order and count units)."""

    site_id: ObjectId
    template_id: ObjectId | None = Field(None, description="Count from this template")
    kind: str | None = Field(
        None, pattern=r"^(full|cycle)$", description="full by default; the template's kind"
    )
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
    template_id: int | None
    created_at: dt.datetime

    @staticmethod
    def resolve_location_ids(obj: Any) -> list[int]:
        return sorted(location.pk for location in obj.locations.all())


class CountEntryIn(Schema):
    unit: str = text(min_length=1, max_length=20)
    quantity: Annotated[Decimal, Field(max_digits=18, decimal_places=6)]


class _ItemLine(Schema):
    """The item of a document line, with its SKU and name."""

    item_id: int
    sku: str
    item: str

    @staticmethod
    def resolve_sku(obj: Any) -> str:
        return str(obj.item.sku)

    @staticmethod
    def resolve_item(obj: Any) -> str:
        return str(obj.item.name)


class _LocationLine(Schema):
    location_id: int
    location: str

    @staticmethod
    def resolve_location(obj: Any) -> str:
        return str(obj.location.code)


class _LotLine(Schema):
    lot_id: int | None
    lot: str | None

    @staticmethod
    def resolve_lot(obj: Any) -> str | None:
        return obj.lot.code if obj.lot is not None else None


class CountEntryOut(Schema):
    unit: str
    quantity: Decimal


class CountLineOut(_ItemLine, _LocationLine, _LotLine):
    id: int
    shelf_order: int
    unit: str
    theoretical_quantity: Decimal
    counted_quantity: Decimal | None
    count_units: list[str] = Field(..., description="Units offered to the counter, largest first")
    entries: list[CountEntryOut]
    variance_quantity: Decimal | None
    variance_value: Decimal | None

    @staticmethod
    def resolve_unit(obj: Any) -> str:
        return str(obj.item.base_unit.code)

    @staticmethod
    def resolve_count_units(obj: Any) -> list[str]:
        from backroom.inventory.counts import offered_units

        return offered_units(obj)


class CountSheetDetailOut(CountSheetOut):
    """A count sheet with its lines in shelf order."""

    lines: list[CountLineOut]

    @staticmethod
    def resolve_lines(obj: Any) -> list[Any]:
        return list(
            obj.lines.select_related("item__base_unit", "location", "lot")
            .prefetch_related("item__units")
            .order_by("shelf_order")
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


# --- count templates (盘点模板) -----------------------------------------------------------------

UnitCode = Annotated[str, Field(min_length=1, max_length=20, pattern=r"^[^\x00]*$")]


class CountTemplateLineIn(Schema):
    location_id: ObjectId
    item_id: ObjectId
    shelf_order: int | None = Field(
        None, ge=1, le=999999, description="Place in the walk; the list order when omitted"
    )
    count_units: list[UnitCode] = Field(
        default_factory=list,
        max_length=4,
        description="Units offered to the counter, largest first (the item's when empty)",
    )


class CountTemplateIn(Schema):
    """A count template: its lines in walk order (locations in the order they first appear)."""

    site_id: ObjectId
    name: str = text(min_length=1, max_length=100)
    kind: str = Field("full", pattern=r"^(full|cycle)$")
    lines: list[CountTemplateLineIn] = Field(..., min_length=1, max_length=MAX_BATCH)


class CountTemplatePatch(Schema):
    """Rename, change the kind, or replace every line (when `lines` is given)."""

    name: str | None = text(min_length=1, max_length=100, default=None)
    kind: str | None = Field(None, pattern=r"^(full|cycle)$")
    lines: list[CountTemplateLineIn] | None = Field(None, min_length=1, max_length=MAX_BATCH)


class CountTemplateLineOut(_ItemLine, _LocationLine):
    id: int
    shelf_order: int
    unit: str
    count_units: list[str]

    @staticmethod
    def resolve_unit(obj: Any) -> str:
        return str(obj.item.base_unit.code)


class CountTemplateOut(Schema):
    id: int
    site_id: int
    name: str
    kind: str
    is_active: bool
    line_count: int
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_line_count(obj: Any) -> int:
        count = getattr(obj, "line_count", None)
        return int(count) if count is not None else obj.lines.count()


class CountTemplateDetailOut(CountTemplateOut):
    lines: list[CountTemplateLineOut]

    @staticmethod
    def resolve_lines(obj: Any) -> list[Any]:
        return list(obj.lines.select_related("item__base_unit", "location").order_by("shelf_order"))


class CountTemplateFilter(Schema):
    site_id: ObjectId | None = None
    include_archived: bool = False


# --- waste (报损) ---------------------------------------------------------------------------

WASTE_STATUSES = r"^(draft|pending_approval|posted|rejected|cancelled)$"
TRANSFER_STATUSES = r"^(draft|dispatched|partially_received|received|cancelled)$"
PositiveQuantity = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=6)]
CountedQuantity = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=6)]


class WasteLineIn(Schema):
    item_id: ObjectId
    location_id: ObjectId
    quantity: Quantity = Field(..., description="In `unit` (the item's base unit when omitted)")
    unit: str | None = text(max_length=20, default=None)
    lot_code: str | None = text(max_length=60, default=None)
    reason: str = Field(..., pattern=r"^(expired|spoiled|dropped|over_production|returned)$")
    note: str = text(max_length=300, default="")


class WasteIn(Schema):
    """A waste record; submitted at once unless `submit` is false (then it stays a draft)."""

    site_id: ObjectId
    lines: list[WasteLineIn] = Field(..., min_length=1, max_length=200)
    note: str = text(max_length=500, default="")
    occurred_at: Instant | None = None
    submit: bool = True


class WasteLineOut(_ItemLine, _LocationLine, _LotLine):
    id: int
    line_no: int
    quantity: Decimal
    unit: str
    base_quantity: Decimal
    base_unit: str
    reason: str
    note: str
    unit_cost: Decimal | None
    value: Decimal

    @staticmethod
    def resolve_base_unit(obj: Any) -> str:
        return str(obj.item.base_unit.code)


class WasteOut(Schema):
    id: int
    number: str
    site_id: int
    site_code: str
    status: str
    note: str
    occurred_at: dt.datetime
    currency: str
    total_value: Decimal
    approval_threshold: Decimal | None = Field(
        None, description="Deprecated: records now follow the approval policies (always null)."
    )
    requires_approval: bool
    has_photo: bool
    submitted_at: dt.datetime | None
    submitted_by_id: int | None
    decided_at: dt.datetime | None
    decided_by_id: int | None
    decision_reason: str
    posted_at: dt.datetime | None
    posting_id: int | None
    created_at: dt.datetime

    @staticmethod
    def resolve_site_code(obj: Any) -> str:
        return str(obj.site.node.code)

    @staticmethod
    def resolve_has_photo(obj: Any) -> bool:
        return bool(obj.photo)


class WasteDetailOut(WasteOut):
    """A waste record with its lines."""

    lines: list[WasteLineOut]
    approval_request_id: int | None = Field(
        None, description="The record's newest approval request (see /api/v1/approvals/)."
    )

    @staticmethod
    def resolve_lines(obj: Any) -> list[Any]:
        return list(
            obj.lines.select_related("item__base_unit", "location", "lot").order_by("line_no")
        )

    @staticmethod
    def resolve_approval_request_id(obj: Any) -> int | None:
        from backroom.inventory.services.waste import approval_request

        request = approval_request(obj)
        return request.pk if request is not None else None


class WasteDecisionIn(Schema):
    reason: str = text(max_length=500, default="")


class WasteFilter(Schema):
    site_id: ObjectId | None = None
    status: str | None = Field(None, pattern=WASTE_STATUSES)


# --- transfer orders (调拨) ------------------------------------------------------------------


class TransferOrderLineIn(Schema):
    item_id: ObjectId
    quantity: PositiveQuantity = Field(..., description="In `unit` (the item's base unit)")
    unit: str | None = text(max_length=20, default=None)
    lot_code: str | None = text(max_length=60, default=None)
    note: str = text(max_length=300, default="")


class TransferOrderIn(Schema):
    from_location_id: ObjectId
    to_location_id: ObjectId
    lines: list[TransferOrderLineIn] = Field(..., min_length=1, max_length=500)
    note: str = text(max_length=500, default="")
    expected_date: dt.date | None = None


class TransferOrderLineOut(_ItemLine, _LotLine):
    id: int
    line_no: int
    unit: str
    requested_quantity: Decimal
    dispatched_quantity: Decimal | None
    dispatched_value: Decimal | None
    received_quantity: Decimal
    discrepancy_quantity: Decimal | None
    discrepancy_reason: str
    discrepancy_value: Decimal | None
    note: str


class TransferOrderOut(Schema):
    id: int
    number: str
    status: str
    from_site_id: int
    from_site_code: str
    from_location_id: int
    to_site_id: int
    to_site_code: str
    to_location_id: int
    note: str
    expected_date: dt.date | None
    dispatched_at: dt.datetime | None
    received_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    cancel_reason: str
    created_at: dt.datetime

    @staticmethod
    def resolve_from_site_code(obj: Any) -> str:
        return str(obj.from_site.node.code)

    @staticmethod
    def resolve_to_site_code(obj: Any) -> str:
        return str(obj.to_site.node.code)


class TransferOrderDetailOut(TransferOrderOut):
    """A transfer order with its lines."""

    lines: list[TransferOrderLineOut]

    @staticmethod
    def resolve_lines(obj: Any) -> list[Any]:
        return list(obj.lines.select_related("item", "lot").order_by("line_no"))


class DispatchLineIn(Schema):
    line_id: ObjectId
    quantity: CountedQuantity = Field(..., description="In the line's unit; 0 sends none")


class DispatchIn(Schema):
    """Dispatched quantity per line; omit `lines` to send every line as requested."""

    lines: list[DispatchLineIn] | None = Field(None, max_length=500)


class ReceiptLineIn(Schema):
    line_id: ObjectId
    quantity: CountedQuantity = Field(..., description="Arrived now, in the line's unit")
    discrepancy_reason: str = Field("", pattern=r"^(|short|damaged|over)$")
    note: str = text(max_length=300, default="")


class ReceiptIn(Schema):
    """What arrived; omit `lines` to receive everything still in transit as sent.

    With `close` (default) lines that differ from what was dispatched need a discrepancy
    reason and are settled; without it the order stays partially received."""

    lines: list[ReceiptLineIn] | None = Field(None, max_length=500)
    close: bool = True


class TransferCancelIn(Schema):
    reason: str = text(max_length=500, default="")


class TransferOrderFilter(Schema):
    site_id: ObjectId | None = None
    direction: str | None = Field(None, pattern=r"^(in|out)$")
    status: str | None = Field(None, pattern=TRANSFER_STATUSES)


# --- reports (on hand, expiring, AvT) --------------------------------------------------------


class ReportOnHandFilter(Schema):
    site_id: ObjectId | None = None
    location_id: ObjectId | None = None
    item_id: ObjectId | None = None
    category_id: ObjectId | None = None


class ReportOnHandRowOut(BalanceOut):
    category: str
    average_cost: Decimal | None


class ReportOnHandOut(Schema):
    """On hand rows (up to 500; `truncated` when there are more) and totals over all of them."""

    count: int
    truncated: bool
    total_value: Decimal
    total_quantity_by_unit: dict[str, Decimal]
    rows: list[ReportOnHandRowOut]


class ReportExpiringFilter(Schema):
    site_id: ObjectId | None = None
    category_id: ObjectId | None = None
    within_days: int = Field(3, ge=0, le=365)


class ReportMovementFilter(Schema):
    site_id: ObjectId | None = None
    location_id: ObjectId | None = None
    since: Instant | None = None
    until: Instant | None = None


class ReportMovementOut(MoveOut):
    location: str
    lot: str | None
    posting_operation: str
    source_url: str | None


class AvtFilter(Schema):
    node_id: ObjectId
    date_from: dt.date
    date_to: dt.date
    category_id: ObjectId | None = None
    by_site: bool = False


class AvtExportFilter(AvtFilter):
    format: str = Field("csv", pattern=r"^csv$")


class AvtRowOut(Schema):
    item_id: int
    sku: str
    name: str
    unit: str
    category_id: int | None
    category: str
    site_id: int | None = None
    opening: Decimal
    receipts: Decimal
    transfers_in: Decimal
    transfers_out: Decimal
    waste: Decimal
    produced: Decimal
    production_used: Decimal
    sales: Decimal
    closing: Decimal
    actual: Decimal
    theoretical: Decimal
    variance_quantity: Decimal
    unit_cost: Decimal | None
    actual_value: Decimal
    theoretical_value: Decimal
    variance_value: Decimal
    waste_value: Decimal
    variance_percent_of_sales: Decimal | None


class AvtCategoryOut(Schema):
    category_id: int | None
    name: str
    item_count: int
    actual_value: Decimal
    theoretical_value: Decimal
    variance_value: Decimal
    waste_value: Decimal
    variance_percent_of_sales: Decimal | None


class AvtCountOut(Schema):
    sheet_id: int
    number: str
    posted_at: dt.datetime


class AvtSiteOut(Schema):
    site_id: int
    code: str
    start: dt.datetime
    end: dt.datetime
    opening_count: AvtCountOut | None
    closing_count: AvtCountOut | None
    sales_revenue: Decimal


class AvtOut(Schema):
    """Actual vs theoretical usage; quantities in base units, values in `currency`."""

    node_id: int
    date_from: dt.date
    date_to: dt.date
    currency: str
    sales_revenue: Decimal
    actual_value: Decimal
    theoretical_value: Decimal
    variance_value: Decimal
    waste_value: Decimal
    variance_percent_of_sales: Decimal | None
    notes: list[str]
    sites: list[AvtSiteOut]
    categories: list[AvtCategoryOut]
    rows: list[AvtRowOut]
