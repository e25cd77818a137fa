"""Procurement events. Webhooks offer every one; finance will subscribe to invoice.matched."""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from backroom.events.catalogue import event


class ProcurementEvent(StrEnum):
    SUPPLIER_SAVED = "procurement.supplier.saved"
    PRICE_LIST_SAVED = "procurement.price_list.saved"
    PRICE_CHANGED = "procurement.price.changed"
    REQUISITION_SUBMITTED = "procurement.requisition.submitted"
    REQUISITION_APPROVED = "procurement.requisition.approved"
    REQUISITION_REJECTED = "procurement.requisition.rejected"
    REQUISITION_CANCELLED = "procurement.requisition.cancelled"
    PO_CREATED = "procurement.po.created"
    PO_APPROVED = "procurement.po.approved"
    PO_SENT = "procurement.po.sent"
    PO_CANCELLED = "procurement.po.cancelled"
    PO_CLOSED = "procurement.po.closed"
    RECEIPT_POSTED = "procurement.receipt.posted"
    INVOICE_ENTERED = "procurement.invoice.entered"
    INVOICE_MATCHED = "procurement.invoice.matched"
    INVOICE_IN_REVIEW = "procurement.invoice.in_review"
    INVOICE_REJECTED = "procurement.invoice.rejected"


@event(ProcurementEvent.SUPPLIER_SAVED)
@dataclass(frozen=True)
class SupplierSaved:
    supplier_id: int
    code: str
    is_active: bool
    created: bool


@event(ProcurementEvent.PRICE_LIST_SAVED)
@dataclass(frozen=True)
class PriceListSaved:
    price_list_id: int
    supplier_id: int
    valid_from: str
    valid_to: str | None
    line_count: int


@event(ProcurementEvent.PRICE_CHANGED)
@dataclass(frozen=True)
class PriceChanged:
    """Prices moved by more than the supplier's alert threshold (a price-change alert)."""

    price_list_id: int
    supplier_id: int
    threshold_percent: str
    lines: list[dict[str, Any]] = field(default_factory=list)


@event(ProcurementEvent.REQUISITION_SUBMITTED)
@dataclass(frozen=True)
class RequisitionSubmitted:
    requisition_id: int
    number: str
    store_id: int
    amount: str
    currency: str
    requires_approval: bool


@event(ProcurementEvent.REQUISITION_APPROVED)
@dataclass(frozen=True)
class RequisitionApproved:
    """Approved: its POs and distribution (transfer) orders were created."""

    requisition_id: int
    number: str
    store_id: int
    purchase_order_ids: list[int] = field(default_factory=list)
    transfer_order_ids: list[int] = field(default_factory=list)


@event(ProcurementEvent.REQUISITION_REJECTED)
@dataclass(frozen=True)
class RequisitionRejected:
    requisition_id: int
    number: str
    store_id: int
    reason: str


@event(ProcurementEvent.REQUISITION_CANCELLED)
@dataclass(frozen=True)
class RequisitionCancelled:
    requisition_id: int
    number: str
    store_id: int


@event(ProcurementEvent.PO_CREATED)
@dataclass(frozen=True)
class PurchaseOrderCreated:
    purchase_order_id: int
    number: str
    supplier_id: int
    store_id: int
    status: str
    total: str
    currency: str


@event(ProcurementEvent.PO_APPROVED)
@dataclass(frozen=True)
class PurchaseOrderApproved:
    purchase_order_id: int
    number: str
    supplier_id: int
    store_id: int


@event(ProcurementEvent.PO_SENT)
@dataclass(frozen=True)
class PurchaseOrderSent:
    """The PO went to the supplier: the whole order, for a supplier's webhook endpoint."""

    purchase_order_id: int
    number: str
    supplier_id: int
    supplier_code: str
    store_id: int
    store_code: str
    expected_date: str | None
    currency: str
    total: str
    lines: list[dict[str, Any]] = field(default_factory=list)


@event(ProcurementEvent.PO_CANCELLED)
@dataclass(frozen=True)
class PurchaseOrderCancelled:
    purchase_order_id: int
    number: str
    supplier_id: int
    store_id: int
    reason: str


@event(ProcurementEvent.PO_CLOSED)
@dataclass(frozen=True)
class PurchaseOrderClosed:
    purchase_order_id: int
    number: str
    supplier_id: int
    store_id: int
    status: str


@event(ProcurementEvent.RECEIPT_POSTED)
@dataclass(frozen=True)
class ReceiptPosted:
    """A delivery was received: accepted lines are in the ledger (`posting_id`)."""

    receipt_id: int
    number: str
    purchase_order_id: int
    store_id: int
    posting_id: int | None
    po_status: str
    accepted_value: str
    currency: str
    rejected_lines: int


@event(ProcurementEvent.INVOICE_ENTERED)
@dataclass(frozen=True)
class InvoiceEntered:
    invoice_id: int
    supplier_id: int
    invoice_number: str
    purchase_order_id: int | None
    total: str
    currency: str


@event(ProcurementEvent.INVOICE_MATCHED)
@dataclass(frozen=True)
class InvoiceMatched:
    """The invoice matched PO price × received quantity (or a reviewer accepted it): payable.

    Finance posts the payable from this event.
    """

    invoice_id: int
    supplier_id: int
    invoice_number: str
    purchase_order_id: int | None
    store_id: int | None
    legal_entity_id: int | None
    invoice_date: str
    due_date: str
    total: str
    tax: str
    currency: str
    match_status: str
    accepted_by_review: bool


@event(ProcurementEvent.INVOICE_IN_REVIEW)
@dataclass(frozen=True)
class InvoiceInReview:
    invoice_id: int
    supplier_id: int
    invoice_number: str
    purchase_order_id: int | None
    reasons: list[str] = field(default_factory=list)


@event(ProcurementEvent.INVOICE_REJECTED)
@dataclass(frozen=True)
class InvoiceRejected:
    invoice_id: int
    supplier_id: int
    invoice_number: str
    reason: str
