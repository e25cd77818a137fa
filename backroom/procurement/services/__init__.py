"""Procurement's service API: suppliers and prices, delivery calendars, requisitions, purchase
orders, receiving and invoice matching. Other apps (planning) call these, never the models."""

from backroom.procurement.services.calendar import calendar_for, next_delivery_dates
from backroom.procurement.services.invoice_import import InvoiceImportResult, import_invoices
from backroom.procurement.services.invoices import (
    InvoiceInput,
    InvoiceLineInput,
    enter_invoice,
    match_invoice,
    rematch_invoice,
    resolve_review,
)
from backroom.procurement.services.orders import (
    PurchaseOrderLineInput,
    approve_purchase_order,
    cancel_purchase_order,
    close_purchase_order,
    create_purchase_order,
    send_purchase_order,
)
from backroom.procurement.services.pricing import (
    PriceLineInput,
    PriceListInput,
    PriceQuote,
    create_price_list,
    order_quantity_problems,
    price_for,
    round_to_pack,
)
from backroom.procurement.services.receiving import ReceiptLineInput, receive_purchase_order
from backroom.procurement.services.requisitions import (
    RequisitionLineInput,
    cancel_requisition,
    create_requisition,
    submit_requisition,
)
from backroom.procurement.services.suppliers import (
    CalendarInput,
    ContactInput,
    DistributionGuideLineInput,
    SupplierInput,
    SupplierItemInput,
    add_contact,
    create_supplier,
    set_delivery_calendar,
    set_distribution_guide,
    set_order_guide,
    set_supplier_item,
    update_contact,
    update_supplier,
)

__all__ = [
    "CalendarInput",
    "ContactInput",
    "DistributionGuideLineInput",
    "InvoiceImportResult",
    "InvoiceInput",
    "InvoiceLineInput",
    "PriceLineInput",
    "PriceListInput",
    "PriceQuote",
    "PurchaseOrderLineInput",
    "ReceiptLineInput",
    "RequisitionLineInput",
    "SupplierInput",
    "SupplierItemInput",
    "add_contact",
    "approve_purchase_order",
    "calendar_for",
    "cancel_purchase_order",
    "cancel_requisition",
    "close_purchase_order",
    "create_price_list",
    "create_purchase_order",
    "create_requisition",
    "create_supplier",
    "enter_invoice",
    "import_invoices",
    "match_invoice",
    "next_delivery_dates",
    "order_quantity_problems",
    "price_for",
    "receive_purchase_order",
    "rematch_invoice",
    "resolve_review",
    "round_to_pack",
    "send_purchase_order",
    "set_delivery_calendar",
    "set_distribution_guide",
    "set_order_guide",
    "set_supplier_item",
    "submit_requisition",
    "update_contact",
    "update_supplier",
]
