"""Procurement API schemas. Quantities on supplier documents are in the supplier item's purchase
unit (a case, a bag) with the base-unit equivalent beside them; prices are per purchase unit.

Bounds keep every value inside its database column (an overflow would be a 500): quantities up
to a million purchase units, prices up to a million per unit, dates in 2000–2100.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from ninja import Field, Schema

from backroom.config.api_support import Instant, ObjectId, text
from backroom.procurement.choices import (
    InvoiceStatus,
    PurchaseOrderEmailStatus,
    PurchaseOrderStatus,
    RejectionReason,
    RequisitionStatus,
)

Quantity = Annotated[Decimal, Field(gt=0, le=1_000_000, max_digits=18, decimal_places=6)]
CountedQuantity = Annotated[Decimal, Field(ge=0, le=1_000_000, max_digits=18, decimal_places=6)]
Price = Annotated[Decimal, Field(ge=0, le=1_000_000, max_digits=18, decimal_places=4)]
Amount = Annotated[Decimal, Field(ge=0, le=1_000_000_000, max_digits=18, decimal_places=4)]
Percent = Annotated[Decimal, Field(ge=0, le=999, max_digits=7, decimal_places=4)]
Temperature = Annotated[Decimal, Field(ge=-100, le=100, max_digits=4, decimal_places=1)]
Day = Annotated[dt.date, Field(ge=dt.date(2000, 1, 1), le=dt.date(2100, 12, 31))]
Days = Annotated[int, Field(ge=0, le=365)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
MAX_LINES = 300


# --- suppliers -------------------------------------------------------------------------------


class SupplierOut(Schema):
    id: int
    code: str
    name: str
    node_id: int
    node_code: str = Field(..., alias="node.code")
    currency: str
    tax_id: str
    payment_terms_days: int
    lead_time_days: int
    is_active: bool
    requires_pack_multiples: bool
    price_alert_percent: Decimal
    over_receipt_tolerance_percent: Decimal
    invoice_tolerance_amount: Decimal
    invoice_tolerance_percent: Decimal
    order_email: str
    created_at: dt.datetime
    updated_at: dt.datetime


class ContactOut(Schema):
    id: int
    name: str
    role: str
    phone: str
    email: str
    is_primary: bool


class SupplierDetailOut(SupplierOut):
    """A supplier with its contacts."""

    contacts: list[ContactOut]

    @staticmethod
    def resolve_contacts(obj: Any) -> list[Any]:
        return list(obj.contacts.order_by("-is_primary", "name", "id"))


class _SupplierTerms(Schema):
    payment_terms_days: Days = 30
    lead_time_days: Days = 1
    requires_pack_multiples: bool = False
    price_alert_percent: Percent = Decimal(10)
    over_receipt_tolerance_percent: Percent = Decimal(0)
    invoice_tolerance_amount: Amount = Decimal(1)
    invoice_tolerance_percent: Percent = Decimal(2)
    tax_id: str = text(max_length=40, default="")
    order_email: str = text(max_length=254, default="")
    is_active: bool = True


class SupplierIn(_SupplierTerms):
    """A new supplier for the stores under `node_id` (the group, a legal entity or a region)."""

    code: str = text(min_length=1, max_length=20)
    name: str = text(min_length=1, max_length=200)
    node_id: ObjectId
    currency: Currency


class SupplierPatch(Schema):
    """The fields to change (code and node never change); `reason` goes to the audit trail.
    `is_active: false` stops new orders (`supplier_inactive`)."""

    name: str | None = text(min_length=1, max_length=200, default=None)
    currency: Currency | None = None
    payment_terms_days: Days | None = None
    lead_time_days: Days | None = None
    requires_pack_multiples: bool | None = None
    price_alert_percent: Percent | None = None
    over_receipt_tolerance_percent: Percent | None = None
    invoice_tolerance_amount: Amount | None = None
    invoice_tolerance_percent: Percent | None = None
    tax_id: str | None = text(max_length=40, default=None)
    order_email: str | None = text(max_length=254, default=None)
    is_active: bool | None = None
    reason: str = text(max_length=500, default="")


class SupplierFilter(Schema):
    is_active: bool | None = None
    q: str | None = text(max_length=100, default=None)


class ContactIn(Schema):
    name: str = text(min_length=1, max_length=100)
    role: str = text(max_length=100, default="")
    phone: str = text(max_length=40, default="")
    email: str = text(max_length=254, default="")
    is_primary: bool = False


class ContactPatch(Schema):
    """The contact fields to change (only those sent); `reason` goes to the audit trail."""

    name: str | None = text(min_length=1, max_length=100, default=None)
    role: str | None = text(max_length=100, default=None)
    phone: str | None = text(max_length=40, default=None)
    email: str | None = text(max_length=254, default=None)
    is_primary: bool | None = None
    reason: str = text(max_length=500, default="")


class SupplierItemOut(Schema):
    id: int
    item_id: int
    sku: str = Field(..., alias="item.sku")
    item: str = Field(..., alias="item.name")
    base_unit: str = Field(..., alias="item.base_unit.code")
    supplier_sku: str
    purchase_unit: str
    pack_size: Decimal
    minimum_order_quantity: Decimal
    is_active: bool


class SupplierItemIn(Schema):
    """The supplier's terms for one item: purchase unit (a unit the item converts), pack size
    and minimum order, both in purchase units."""

    purchase_unit: str = text(min_length=1, max_length=20)
    pack_size: Quantity = Decimal(1)
    minimum_order_quantity: CountedQuantity = Decimal(0)
    supplier_sku: str = text(max_length=60, default="")
    is_active: bool = True


class DeliveryExceptionIn(Schema):
    date: Day
    delivers: bool = Field(False, description="An extra delivery day (true) or none (false)")


class DeliveryExceptionOut(Schema):
    date: dt.date
    delivers: bool
    note: str


class CalendarIn(Schema):
    """Delivery days as ISO weekdays (1 = Monday … 7 = Sunday), the order cut-off (store time),
    a lead time overriding the supplier's, and dated exceptions. Replaces the calendar."""

    weekdays: list[Annotated[int, Field(ge=1, le=7)]] = Field(..., min_length=1, max_length=7)
    cutoff_time: dt.time
    lead_time_days: Days | None = None
    exceptions: list[DeliveryExceptionIn] = Field(default_factory=list, max_length=366)


class CalendarOut(Schema):
    id: int
    supplier_id: int | None  # empty: a warehouse's or kitchen's calendar (source_site_id)
    source_site_id: int | None
    node_id: int
    node_code: str = Field(..., alias="node.code")
    weekdays: list[int]
    cutoff_time: dt.time
    lead_time_days: int | None
    exceptions: list[DeliveryExceptionOut]

    @staticmethod
    def resolve_exceptions(obj: Any) -> list[Any]:
        return list(obj.exceptions.all())


class DeliveryDatesFilter(Schema):
    store_id: ObjectId
    count: int = Field(2, ge=1, le=14)


class DeliveryDatesOut(Schema):
    """The next dates the supplier can deliver an order placed now to the store."""

    supplier_id: int
    store_id: int
    calendar_id: int | None
    dates: list[dt.date]


class DistributionDatesOut(Schema):
    """The next dates the warehouse or central kitchen can deliver an order placed now to the
    store (its distribution calendar)."""

    source_site_id: int
    store_id: int
    calendar_id: int | None
    dates: list[dt.date]


class PriceLineIn(Schema):
    item_id: ObjectId
    price: Price = Field(..., description="Per the supplier item's purchase unit")


class PriceListIn(Schema):
    """Prices valid over [valid_from, valid_to] (inclusive; open-ended without valid_to), for
    every store the supplier serves or the stores under `node_id`."""

    name: str = text(min_length=1, max_length=100)
    valid_from: Day
    valid_to: Day | None = None
    node_id: ObjectId | None = None
    currency: Currency | None = Field(None, description="The supplier's currency when omitted")
    lines: list[PriceLineIn] = Field(..., min_length=1, max_length=2000)


class PriceListLineOut(Schema):
    supplier_item_id: int
    item_id: int = Field(..., alias="supplier_item.item_id")
    sku: str = Field(..., alias="supplier_item.item.sku")
    unit: str = Field(..., alias="supplier_item.purchase_unit")
    price: Decimal


class PriceListOut(Schema):
    id: int
    supplier_id: int
    name: str
    currency: str
    valid_from: dt.date
    valid_to: dt.date | None
    node_id: int | None
    is_active: bool
    lines: list[PriceListLineOut]
    created_at: dt.datetime

    @staticmethod
    def resolve_lines(obj: Any) -> list[Any]:
        return list(obj.lines.all())


class PriceQuoteFilter(Schema):
    store_id: ObjectId
    item_id: ObjectId
    date: Day | None = Field(None, description="The store's business date when omitted")


class PriceQuoteOut(Schema):
    """The price in force for the store on the date (per `unit`, the purchase unit)."""

    supplier_id: int
    item_id: int
    store_id: int
    date: dt.date
    price: Decimal
    currency: str
    unit: str
    pack_size: Decimal
    minimum_order_quantity: Decimal
    price_list_id: int
    valid_from: dt.date
    valid_to: dt.date | None


class OrderGuideLineIn(Schema):
    supplier_item_id: ObjectId
    par_quantity: CountedQuantity | None = Field(None, description="In purchase units")


class OrderGuideIn(Schema):
    """The items the store orders from the supplier, in order (replaces the list)."""

    lines: list[OrderGuideLineIn] = Field(..., max_length=1000)


class OrderGuideLineOut(Schema):
    supplier_item_id: int | None  # empty on a warehouse's or kitchen's guide
    item_id: int
    sku: str = Field(..., alias="item.sku")
    item: str = Field(..., alias="item.name")
    unit: str = Field(..., alias="order_unit", description="The purchase unit, or the line's")
    pack_size: Decimal | None = Field(None, alias="order_pack_size", description="In `unit`")
    position: int
    par_quantity: Decimal | None = Field(..., description="In `unit`")


class OrderGuideOut(Schema):
    """A store's order guide from a supplier, or from a warehouse / central kitchen
    (`source_site_id`; 配送): exactly one of the two is set."""

    id: int
    store_id: int
    supplier_id: int | None
    supplier_code: str | None = Field(None, alias="supplier.code")
    source_site_id: int | None
    source_site_code: str | None = Field(None, alias="source_site.node.code")
    is_active: bool
    lines: list[OrderGuideLineOut]

    @staticmethod
    def resolve_lines(obj: Any) -> list[Any]:
        return list(obj.lines.all())


class DistributionGuideLineIn(Schema):
    item_id: ObjectId
    # The unit it is ordered in (any unit of the item; its base unit when omitted).
    unit: str | None = text(min_length=1, max_length=20, default=None)
    pack_size: Quantity | None = Field(None, description="Sent in packs of this many `unit`")
    par_quantity: CountedQuantity | None = Field(None, description="In `unit`")


class DistributionGuideIn(Schema):
    """The items the store orders from the warehouse or central kitchen, in order, each in
    its unit with an optional pack and par (replaces the list)."""

    lines: list[DistributionGuideLineIn] = Field(..., max_length=1000)


# --- requisitions (要货) ----------------------------------------------------------------------


class RequisitionLineIn(Schema):
    """One item: from `supplier_id` (quantity in its purchase unit) or from `source_site_id`,
    a warehouse or central kitchen (quantity in `unit`, the item's base unit when omitted).
    A quantity far from `suggested_quantity` needs a `deviation_reason`."""

    item_id: ObjectId
    quantity: Quantity
    supplier_id: ObjectId | None = None
    source_site_id: ObjectId | None = None
    unit: str | None = text(min_length=1, max_length=20, default=None)
    suggested_quantity: CountedQuantity | None = None
    deviation_reason: str = text(max_length=300, default="")


class RequisitionIn(Schema):
    """A store's requisition; submitted at once (approval starts) unless `submit` is false."""

    store_id: ObjectId
    location_id: ObjectId | None = Field(
        None, description="The store's first location when omitted"
    )
    needed_by: Day | None = None
    note: str = text(max_length=500, default="")
    is_urgent: bool = False
    submit: bool = True
    lines: list[RequisitionLineIn] = Field(..., min_length=1, max_length=MAX_LINES)


class RequisitionLineOut(Schema):
    id: int
    line_no: int
    source_kind: str
    supplier_id: int | None
    supplier_item_id: int | None
    source_site_id: int | None
    item_id: int
    sku: str = Field(..., alias="item.sku")
    suggested_quantity: Decimal | None
    quantity: Decimal
    unit: str
    base_quantity: Decimal
    unit_price: Decimal | None
    amount: Decimal
    deviation_reason: str
    purchase_order_line_id: int | None
    transfer_order_id: int | None

    @staticmethod
    def resolve_supplier_id(obj: Any) -> int | None:
        return obj.supplier_item.supplier_id if obj.supplier_item is not None else None


class RequisitionOut(Schema):
    id: int
    number: str
    store_id: int
    store_code: str = Field(..., alias="store.node.code")
    location_id: int
    status: str
    needed_by: dt.date | None
    note: str
    is_urgent: bool
    currency: str
    estimated_amount: Decimal
    requires_approval: bool
    created_by_id: int | None
    submitted_at: dt.datetime | None
    submitted_by_id: int | None
    decided_at: dt.datetime | None
    decision_reason: str
    created_at: dt.datetime


class RequisitionDetailOut(RequisitionOut):
    """A requisition with its lines, its approval request and the POs it became."""

    lines: list[RequisitionLineOut]
    approval_request_id: int | None = Field(
        None, description="The newest approval request (see /api/v1/approvals/)"
    )
    purchase_order_ids: list[int]

    @staticmethod
    def resolve_lines(obj: Any) -> list[Any]:
        return list(
            obj.lines.select_related("item", "supplier_item").order_by("line_no")  # one query
        )

    @staticmethod
    def resolve_approval_request_id(obj: Any) -> int | None:
        from backroom.approvals import runtime
        from backroom.procurement.services.orders import REQUISITION_DOCUMENT_TYPE

        request = runtime.latest_request(REQUISITION_DOCUMENT_TYPE, str(obj.pk))
        return request.pk if request is not None else None

    @staticmethod
    def resolve_purchase_order_ids(obj: Any) -> list[int]:
        return sorted(obj.purchase_orders.values_list("pk", flat=True))


class RequisitionFilter(Schema):
    store_id: ObjectId | None = None
    status: RequisitionStatus | None = None


class PurchaseReasonIn(Schema):
    reason: str = text(max_length=500, default="")


# --- purchase orders (采购单) -----------------------------------------------------------------


class PurchaseOrderLineIn(Schema):
    item_id: ObjectId
    quantity: Quantity = Field(..., description="In the supplier item's purchase unit")
    unit_price: Price | None = Field(None, description="The price list's when omitted")


class PurchaseOrderIn(Schema):
    """A buyer's draft PO to one supplier for one store; approve, then send it."""

    store_id: ObjectId
    supplier_id: ObjectId
    location_id: ObjectId | None = Field(
        None, description="The store's first location when omitted"
    )
    expected_date: Day | None = Field(None, description="From the delivery calendar when omitted")
    note: str = text(max_length=500, default="")
    lines: list[PurchaseOrderLineIn] = Field(..., min_length=1, max_length=500)


class PurchaseOrderLineOut(Schema):
    id: int
    line_no: int
    supplier_item_id: int
    item_id: int
    sku: str = Field(..., alias="item.sku")
    quantity: Decimal
    unit: str
    base_quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    received_quantity: Decimal
    received_base: Decimal
    rejected_quantity: Decimal
    outstanding_quantity: Decimal


class PurchaseOrderOut(Schema):
    id: int
    number: str
    supplier_id: int
    supplier_code: str = Field(..., alias="supplier.code")
    store_id: int
    store_code: str = Field(..., alias="store.node.code")
    location_id: int
    requisition_id: int | None
    status: str
    currency: str
    total_amount: Decimal
    order_date: dt.date
    expected_date: dt.date | None
    note: str
    created_by_id: int | None
    approved_at: dt.datetime | None
    sent_at: dt.datetime | None
    closed_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    cancel_reason: str
    receipt_count: int
    created_at: dt.datetime


class PurchaseOrderEmailOut(Schema):
    """One e-mail of the PO's PDF to a supplier address: `pending`, `sending`, `sent`,
    `failed` (with `error`) or `skipped` (an empty `recipient`: the supplier has no address)."""

    id: int
    recipient: str
    status: PurchaseOrderEmailStatus
    attempts: int
    sent_at: dt.datetime | None
    error: str
    created_at: dt.datetime


class PurchaseOrderDetailOut(PurchaseOrderOut):
    """A purchase order with its lines (ordered, received, rejected, still outstanding) and
    its e-mails to the supplier."""

    lines: list[PurchaseOrderLineOut]
    emails: list[PurchaseOrderEmailOut]

    @staticmethod
    def resolve_lines(obj: Any) -> list[Any]:
        return list(obj.lines.select_related("item").order_by("line_no"))

    @staticmethod
    def resolve_emails(obj: Any) -> list[Any]:
        return list(obj.emails.order_by("id"))


class PurchaseOrderFilter(Schema):
    store_id: ObjectId | None = None
    supplier_id: ObjectId | None = None
    status: PurchaseOrderStatus | None = None


# --- receiving (验收) -------------------------------------------------------------------------


class GoodsReceiptLineIn(Schema):
    """What arrived of one PO line (`line_id`), in its purchase unit: `quantity` accepted and
    `rejected_quantity` refused with a `rejection_reason`. `substitute_item_id` names the item
    delivered instead; `temperature` in °C (needed for chilled and frozen goods; outside the
    range accept only with a `note`)."""

    line_id: ObjectId
    quantity: CountedQuantity
    rejected_quantity: CountedQuantity = Decimal(0)
    rejection_reason: RejectionReason | None = None
    lot_code: str | None = text(max_length=60, default=None)
    expiry_date: Day | None = None
    temperature: Temperature | None = None
    substitute_item_id: ObjectId | None = None
    note: str = text(max_length=300, default="")


class GoodsReceiptIn(Schema):
    lines: list[GoodsReceiptLineIn] = Field(..., min_length=1, max_length=500)
    delivery_note_number: str = text(max_length=60, default="")
    note: str = text(max_length=500, default="")
    received_at: Instant | None = Field(None, description="Now when omitted; never the future")


class ReceiptLineOut(Schema):
    id: int
    line_no: int
    purchase_order_line_id: int
    item_id: int
    sku: str = Field(..., alias="item.sku")
    is_substitution: bool
    expected_quantity: Decimal
    received_quantity: Decimal
    rejected_quantity: Decimal
    rejection_reason: str
    unit: str
    base_quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    lot_code: str
    expiry_date: dt.date | None
    temperature: Decimal | None
    temperature_ok: bool | None
    note: str


class ReceiptOut(Schema):
    id: int
    number: str
    purchase_order_id: int
    purchase_order_number: str = Field(..., alias="purchase_order.number")
    store_id: int
    store_code: str = Field(..., alias="store.node.code")
    location_id: int
    received_at: dt.datetime
    received_by_id: int | None
    delivery_note_number: str
    has_photo: bool
    note: str
    currency: str
    accepted_value: Decimal
    posting_id: int | None
    created_at: dt.datetime

    @staticmethod
    def resolve_has_photo(obj: Any) -> bool:
        return bool(obj.delivery_note_photo)


class ReceiptDetailOut(ReceiptOut):
    """A receipt with its lines."""

    lines: list[ReceiptLineOut]

    @staticmethod
    def resolve_lines(obj: Any) -> list[Any]:
        return list(obj.lines.select_related("item").order_by("line_no"))


class ReceiptFilter(Schema):
    purchase_order_id: ObjectId | None = None
    store_id: ObjectId | None = None


# --- invoices and the review queue ------------------------------------------------------------


class InvoiceLineIn(Schema):
    """One billed line, quantity in the PO line's unit. Name the PO line, or the item, or
    neither (a line not on the PO goes to review)."""

    quantity: CountedQuantity
    unit_price: Price
    amount: Amount | None = Field(None, description="quantity × unit_price when omitted")
    purchase_order_line_id: ObjectId | None = None
    item_id: ObjectId | None = None
    description: str = text(max_length=200, default="")


class InvoiceIn(Schema):
    """A supplier invoice, matched at once (three-way: PO price × received × invoiced).
    An unknown PO number is `unknown_purchase_order`, unless `queue_unknown_po` keeps the
    invoice in the review queue."""

    supplier_id: ObjectId
    invoice_number: str = text(min_length=1, max_length=60)
    invoice_date: Day
    purchase_order_number: str = text(max_length=60, default="")
    lines: list[InvoiceLineIn] = Field(..., min_length=1, max_length=500)
    tax_amount: Amount = Decimal(0)
    total_amount: Amount | None = Field(None, description="net + tax when omitted")
    currency: Currency | None = None
    note: str = text(max_length=500, default="")
    queue_unknown_po: bool = False


class InvoiceLineOut(Schema):
    id: int
    line_no: int
    purchase_order_line_id: int | None
    item_id: int | None
    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal


class MatchOut(Schema):
    """One three-way match run: per PO line in `lines` (status, received, invoiced, expected,
    difference, tolerance)."""

    id: int
    status: str
    expected_amount: Decimal
    invoiced_amount: Decimal
    difference: Decimal
    tolerance_amount: Decimal
    lines: list[dict[str, Any]]
    matched_at: dt.datetime


class InvoiceOut(Schema):
    id: int
    supplier_id: int
    supplier_code: str = Field(..., alias="supplier.code")
    invoice_number: str
    purchase_order_id: int | None
    purchase_order_reference: str
    invoice_date: dt.date
    due_date: dt.date
    currency: str
    net_amount: Decimal
    tax_amount: Decimal
    total_amount: Decimal
    status: str
    entered_by_id: int | None
    note: str
    created_at: dt.datetime


class InvoiceDetailOut(InvoiceOut):
    """An invoice with its lines, its latest match and its review entries."""

    lines: list[InvoiceLineOut]
    match: MatchOut | None
    review_ids: list[int]

    @staticmethod
    def resolve_lines(obj: Any) -> list[Any]:
        return list(obj.lines.order_by("line_no"))

    @staticmethod
    def resolve_match(obj: Any) -> Any:
        return obj.matches.order_by("-pk").first()

    @staticmethod
    def resolve_review_ids(obj: Any) -> list[int]:
        return sorted(obj.reviews.values_list("pk", flat=True))


class InvoiceFilter(Schema):
    supplier_id: ObjectId | None = None
    purchase_order_id: ObjectId | None = None
    status: InvoiceStatus | None = None


class ImportedInvoiceOut(Schema):
    """One invoice of an imported file: created, or on a dry run what would be created
    (`invoice_id` null)."""

    supplier_code: str
    invoice_number: str
    purchase_order_number: str
    rows: list[int] = Field(..., description="the file's rows of this invoice (header = row 1)")
    line_count: int
    status: InvoiceStatus
    match_status: str
    reasons: list[str] = Field(..., description="why it waits in the review queue")
    net_amount: Decimal
    tax_amount: Decimal
    total_amount: Decimal
    currency: str
    invoice_id: int | None


class InvoiceImportOut(Schema):
    """What an invoice file created (or would create, on a dry run)."""

    file_name: str
    file_type: str = Field(..., description="csv or xlsx, read from the file's bytes")
    dry_run: bool
    invoice_count: int
    line_count: int
    payable_count: int
    in_review_count: int
    ignored_columns: list[str] = Field(..., description="columns of the file not read")
    invoices: list[ImportedInvoiceOut]


class ReviewOut(Schema):
    id: int
    invoice_id: int
    invoice_number: str = Field(..., alias="invoice.invoice_number")
    supplier_id: int = Field(..., alias="invoice.supplier_id")
    supplier_code: str = Field(..., alias="invoice.supplier.code")
    purchase_order_id: int | None
    invoice_total: Decimal
    currency: str = Field(..., alias="invoice.currency")
    reasons: list[str]
    status: str
    match: MatchOut | None
    resolved_at: dt.datetime | None
    resolved_by_id: int | None
    resolution_note: str
    created_at: dt.datetime

    @staticmethod
    def resolve_purchase_order_id(obj: Any) -> int | None:
        return obj.invoice.purchase_order_id  # type: ignore[no-any-return]

    @staticmethod
    def resolve_invoice_total(obj: Any) -> Decimal:
        return obj.invoice.total_amount  # type: ignore[no-any-return]


class ReviewFilter(Schema):
    status: str = Field("open", pattern=r"^(open|all)$", description="`all` includes resolved")


class InvoiceResolveIn(Schema):
    """Accept (the invoice becomes payable) or reject it (a note is required)."""

    decision: str = Field(..., pattern=r"^(accept|reject)$")
    note: str = text(max_length=500, default="")
