"""Procurement API (mounted at /api/v1/procurement/): suppliers and their contacts, items,
delivery calendars and price lists; order guides per store; store requisitions (要货); purchase
orders (采购单); receipts (验收) against them; supplier invoices with the three-way match, and
the invoice review queue.

Reads are scoped like the pages: a store's users see its requisitions, POs and receipts; a
supplier is visible at, above or below its org node; another scope's document is a 404. Writes
need procurement.order (requisitions), .manage (suppliers, prices, calendars, guides, POs),
.receive (receipts) or .invoice (invoices, review queue) at the document's node: a caller who
sees the document but lacks the permission gets a 403. Every coded service error keeps its
code (see docs/procurement.md); a document with several problems is one 422
`document_rejected` listing each in `details.problems`. Writes accept `Idempotency-Key`.
"""

from typing import Any

from django.db.models import Q, QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse
from ninja import File, Form, Path, Query, Router, Status
from ninja.files import UploadedFile
from ninja.pagination import paginate

from backroom.config.api_support import ObjectId, Pagination, errors, parse_json_form
from backroom.kernel import clock
from backroom.kernel.exceptions import NotFound
from backroom.kernel.files import private_file_response
from backroom.org.models import Site
from backroom.org.selectors import get_node, get_site
from backroom.procurement import selectors, services
from backroom.procurement.documents import pdf_filename, render_purchase_order_pdf
from backroom.procurement.models import (
    DeliveryCalendar,
    OrderGuide,
    PriceList,
    PurchaseOrder,
    Receipt,
    Requisition,
    ReviewEntry,
    Supplier,
    SupplierContact,
    SupplierInvoice,
    SupplierItem,
)
from backroom.procurement.schemas import (
    CalendarIn,
    CalendarOut,
    ContactIn,
    ContactOut,
    ContactPatch,
    DeliveryDatesFilter,
    DeliveryDatesOut,
    DistributionDatesOut,
    DistributionGuideIn,
    GoodsReceiptIn,
    InvoiceDetailOut,
    InvoiceFilter,
    InvoiceImportOut,
    InvoiceIn,
    InvoiceOut,
    InvoiceResolveIn,
    OrderGuideIn,
    OrderGuideOut,
    PriceListIn,
    PriceListOut,
    PriceQuoteFilter,
    PriceQuoteOut,
    PurchaseOrderDetailOut,
    PurchaseOrderFilter,
    PurchaseOrderIn,
    PurchaseOrderOut,
    PurchaseReasonIn,
    ReceiptDetailOut,
    ReceiptFilter,
    ReceiptOut,
    RequisitionDetailOut,
    RequisitionFilter,
    RequisitionIn,
    RequisitionOut,
    ReviewFilter,
    ReviewOut,
    SupplierDetailOut,
    SupplierFilter,
    SupplierIn,
    SupplierItemIn,
    SupplierItemOut,
    SupplierOut,
    SupplierPatch,
)
from backroom.procurement.services import order_emails
from backroom.procurement.services.common import store_today
from backroom.procurement.services.invoice_import import MAX_FILE_BYTES as MAX_IMPORT_BYTES

router = Router(tags=["procurement"])

WRITE_ERRORS = errors(403, 404, 409)


def _site(request: HttpRequest, site_id: int | None) -> Site | None:
    return get_site(request.user, site_id) if site_id is not None else None


def _supplier(request: HttpRequest, supplier_id: int) -> Supplier:
    return selectors.get_supplier(request.user, supplier_id)


# --- suppliers -------------------------------------------------------------------------------


@router.get("/suppliers", response={200: list[SupplierOut], **errors()})
@paginate(Pagination)
def list_suppliers(request: HttpRequest, filters: Query[SupplierFilter]) -> QuerySet[Supplier]:
    """Suppliers the caller may see (defined at, above or below their nodes), by code; `q`
    searches code and name."""
    rows = selectors.suppliers_for(request.user)
    if filters.is_active is not None:
        rows = rows.filter(is_active=filters.is_active)
    if filters.q:
        rows = rows.filter(Q(code__icontains=filters.q) | Q(name__icontains=filters.q))
    return rows


@router.post("/suppliers", response={201: SupplierDetailOut, **WRITE_ERRORS})
def create_supplier(request: HttpRequest, payload: SupplierIn) -> Status:
    """Add a supplier for the stores under `node_id` (procurement.manage there). Every field
    problem at once (422 `invalid`)."""
    node = get_node(request.user, payload.node_id)
    supplier = services.create_supplier(
        services.SupplierInput(**{**payload.dict(), "node_id": node.pk}), actor=request.user
    )
    return Status(201, _supplier(request, supplier.pk))


@router.get("/suppliers/{supplier_id}", response={200: SupplierDetailOut, **errors(404)})
def get_supplier(request: HttpRequest, supplier_id: Path[ObjectId]) -> Supplier:
    """A supplier with its contacts."""
    return _supplier(request, supplier_id)


@router.patch("/suppliers/{supplier_id}", response={200: SupplierDetailOut, **WRITE_ERRORS})
def update_supplier(
    request: HttpRequest, supplier_id: Path[ObjectId], payload: SupplierPatch
) -> Supplier:
    """Change a supplier's master data (only the fields sent). Deactivating it stops new
    orders, approvals and sending of its POs (`supplier_inactive`)."""
    supplier = _supplier(request, supplier_id)
    changes = {
        name: value
        for name, value in payload.dict(exclude_unset=True).items()
        if name != "reason" and value is not None
    }
    services.update_supplier(supplier, changes, actor=request.user, reason=payload.reason)
    return _supplier(request, supplier_id)


@router.get("/suppliers/{supplier_id}/contacts", response={200: list[ContactOut], **errors(404)})
def list_contacts(request: HttpRequest, supplier_id: Path[ObjectId]) -> list[SupplierContact]:
    """The supplier's contacts, the primary one first."""
    supplier = _supplier(request, supplier_id)
    return list(supplier.contacts.order_by("-is_primary", "name", "id"))


@router.post("/suppliers/{supplier_id}/contacts", response={201: ContactOut, **WRITE_ERRORS})
def add_contact(request: HttpRequest, supplier_id: Path[ObjectId], payload: ContactIn) -> Status:
    """Add a person to call or mail at the supplier (procurement.manage at its node)."""
    supplier = _supplier(request, supplier_id)
    contact = services.add_contact(
        supplier, services.ContactInput(**payload.dict()), actor=request.user
    )
    return Status(201, contact)


@router.patch(
    "/suppliers/{supplier_id}/contacts/{contact_id}", response={200: ContactOut, **WRITE_ERRORS}
)
def update_contact(
    request: HttpRequest,
    supplier_id: Path[ObjectId],
    contact_id: Path[ObjectId],
    payload: ContactPatch,
) -> SupplierContact:
    """Change a contact's name, role, phone, e-mail or primary flag (only the fields sent;
    procurement.manage at the supplier's node). Every field problem at once (422 `invalid`)."""
    supplier = _supplier(request, supplier_id)
    contact = supplier.contacts.filter(pk=contact_id).first()
    if contact is None:
        raise NotFound()
    changes = {
        name: value
        for name, value in payload.dict(exclude_unset=True).items()
        if name != "reason" and value is not None
    }
    return services.update_contact(contact, actor=request.user, reason=payload.reason, **changes)


@router.get("/suppliers/{supplier_id}/items", response={200: list[SupplierItemOut], **errors(404)})
@paginate(Pagination)
def list_supplier_items(
    request: HttpRequest, supplier_id: Path[ObjectId]
) -> QuerySet[SupplierItem]:
    """The items the supplier sells: purchase unit, pack size, minimum order, SKU."""
    supplier = _supplier(request, supplier_id)
    return supplier.items.select_related("item__base_unit").order_by("item__sku", "id")


@router.put(
    "/suppliers/{supplier_id}/items/{item_id}", response={200: SupplierItemOut, **WRITE_ERRORS}
)
def set_supplier_item(
    request: HttpRequest,
    supplier_id: Path[ObjectId],
    item_id: Path[ObjectId],
    payload: SupplierItemIn,
) -> SupplierItem:
    """Add or change the supplier's terms for a catalog item (procurement.manage). 422 when the
    item is not stocked or does not convert the purchase unit."""
    supplier = _supplier(request, supplier_id)
    row = services.set_supplier_item(
        supplier, services.SupplierItemInput(item_id=item_id, **payload.dict()), actor=request.user
    )
    return supplier.items.select_related("item__base_unit").get(pk=row.pk)


def _calendars(supplier: Supplier) -> QuerySet[DeliveryCalendar]:
    return supplier.delivery_calendars.select_related("node").prefetch_related("exceptions")


@router.get("/suppliers/{supplier_id}/calendars", response={200: list[CalendarOut], **errors(404)})
def list_calendars(request: HttpRequest, supplier_id: Path[ObjectId]) -> list[DeliveryCalendar]:
    """The supplier's delivery calendars per store or region (the most specific one applies)."""
    return list(_calendars(_supplier(request, supplier_id)).order_by("node__path"))


@router.put(
    "/suppliers/{supplier_id}/calendars/{node_id}", response={200: CalendarOut, **WRITE_ERRORS}
)
def set_calendar(
    request: HttpRequest,
    supplier_id: Path[ObjectId],
    node_id: Path[ObjectId],
    payload: CalendarIn,
) -> DeliveryCalendar:
    """Create or replace the supplier's delivery calendar for a store or region
    (procurement.manage at the supplier)."""
    supplier = _supplier(request, supplier_id)
    node = get_node(request.user, node_id)
    calendar = services.set_delivery_calendar(
        supplier,
        _calendar_input(node, payload),
        actor=request.user,
    )
    return _calendars(supplier).get(pk=calendar.pk)


def _calendar_input(node: Any, payload: CalendarIn) -> services.CalendarInput:
    return services.CalendarInput(
        node_id=node.pk,
        weekdays=payload.weekdays,
        cutoff_time=payload.cutoff_time,
        lead_time_days=payload.lead_time_days,
        exceptions={row.date: row.delivers for row in payload.exceptions},
    )


@router.get(
    "/suppliers/{supplier_id}/delivery-dates", response={200: DeliveryDatesOut, **errors(404)}
)
def delivery_dates(
    request: HttpRequest, supplier_id: Path[ObjectId], filters: Query[DeliveryDatesFilter]
) -> dict[str, Any]:
    """The next `count` dates the supplier can deliver an order placed now to the store (its
    calendar's weekdays, cut-off, lead time and exceptions)."""
    supplier = _supplier(request, supplier_id)
    store = get_site(request.user, filters.store_id)
    return {
        "supplier_id": supplier.pk,
        "store_id": store.pk,
        "calendar_id": services.calendar_for(supplier, store).calendar_id,
        "dates": services.next_delivery_dates(supplier, store, clock.now(), count=filters.count),
    }


@router.get(
    "/suppliers/{supplier_id}/price-lists", response={200: list[PriceListOut], **errors(404)}
)
@paginate(Pagination)
def list_price_lists(request: HttpRequest, supplier_id: Path[ObjectId]) -> QuerySet[PriceList]:
    """The supplier's price lists with their lines, newest validity first."""
    return selectors.price_lists_for(request.user, _supplier(request, supplier_id))


@router.post("/suppliers/{supplier_id}/price-lists", response={201: PriceListOut, **WRITE_ERRORS})
def create_price_list(
    request: HttpRequest, supplier_id: Path[ObjectId], payload: PriceListIn
) -> Status:
    """Add a price list (procurement.manage). 409 `price_list_overlap` names each item already
    priced over these dates for the same scope; moves above the supplier's alert threshold
    publish `procurement.price.changed`."""
    supplier = _supplier(request, supplier_id)
    price_list = services.create_price_list(
        supplier,
        services.PriceListInput(
            name=payload.name,
            valid_from=payload.valid_from,
            valid_to=payload.valid_to,
            node_id=payload.node_id,
            currency=payload.currency or "",
            lines=[services.PriceLineInput(line.item_id, line.price) for line in payload.lines],
        ),
        actor=request.user,
    )
    return Status(201, selectors.price_lists_for(request.user, supplier).get(pk=price_list.pk))


@router.get("/suppliers/{supplier_id}/price", response={200: PriceQuoteOut, **errors(404)})
def price_quote(
    request: HttpRequest, supplier_id: Path[ObjectId], filters: Query[PriceQuoteFilter]
) -> dict[str, Any]:
    """The supplier's price of an item for a store on a date (per purchase unit), from the most
    specific price list in force; 422 `no_valid_price` for a gap."""
    supplier = _supplier(request, supplier_id)
    store = get_site(request.user, filters.store_id)
    on_date = filters.date or store_today(store)
    quote = services.price_for(supplier, filters.item_id, store, on_date)
    return {
        "supplier_id": supplier.pk,
        "item_id": filters.item_id,
        "store_id": store.pk,
        "date": on_date,
        "price": quote.price,
        "currency": quote.currency,
        "unit": quote.unit,
        "pack_size": quote.supplier_item.pack_size,
        "minimum_order_quantity": quote.supplier_item.minimum_order_quantity,
        "price_list_id": quote.price_list_id,
        "valid_from": quote.valid_from,
        "valid_to": quote.valid_to,
    }


# --- order guides ----------------------------------------------------------------------------


@router.get("/stores/{store_id}/order-guides", response={200: list[OrderGuideOut], **errors(404)})
@paginate(Pagination)
def list_order_guides(request: HttpRequest, store_id: Path[ObjectId]) -> QuerySet[OrderGuide]:
    """The store's order sheets, one per supplier, items in order with their pars."""
    return selectors.order_guides_for(request.user, store=get_site(request.user, store_id))


@router.put(
    "/stores/{store_id}/order-guides/{supplier_id}", response={200: OrderGuideOut, **WRITE_ERRORS}
)
def set_order_guide(
    request: HttpRequest,
    store_id: Path[ObjectId],
    supplier_id: Path[ObjectId],
    payload: OrderGuideIn,
) -> OrderGuide:
    """Replace the items the store orders from the supplier, in this order (procurement.manage
    at the store); 422 for a supplier item of another supplier."""
    store = get_site(request.user, store_id)
    supplier = _supplier(request, supplier_id)
    guide = services.set_order_guide(
        store,
        supplier,
        [line.supplier_item_id for line in payload.lines],
        actor=request.user,
        pars={
            line.supplier_item_id: line.par_quantity
            for line in payload.lines
            if line.par_quantity is not None
        },
    )
    try:
        return selectors.order_guides_for(request.user, store=store).get(pk=guide.pk)
    except OrderGuide.DoesNotExist:
        raise NotFound() from None


# --- distribution from warehouses and central kitchens (配送) ----------------------------------


@router.put(
    "/stores/{store_id}/order-guides/sites/{site_id}", response={200: OrderGuideOut, **WRITE_ERRORS}
)
def set_distribution_guide(
    request: HttpRequest,
    store_id: Path[ObjectId],
    site_id: Path[ObjectId],
    payload: DistributionGuideIn,
) -> OrderGuide:
    """Replace the items the store orders from a warehouse or central kitchen (配送), in
    order, each in its unit with an optional pack and par (procurement.manage at the store);
    422 for a site that is not a warehouse or kitchen, an item not kept in stock or a unit the
    item does not convert."""
    store = get_site(request.user, store_id)
    guide = services.set_distribution_guide(
        store,
        selectors.get_source_site(site_id),
        [services.DistributionGuideLineInput(**line.dict()) for line in payload.lines],
        actor=request.user,
    )
    try:
        return selectors.order_guides_for(request.user, store=store).get(pk=guide.pk)
    except OrderGuide.DoesNotExist:
        raise NotFound() from None


@router.get("/sites/{site_id}/calendars", response={200: list[CalendarOut], **errors(404)})
def list_distribution_calendars(
    request: HttpRequest, site_id: Path[ObjectId]
) -> list[DeliveryCalendar]:
    """A warehouse's or central kitchen's delivery calendars per store or region (visible to
    those holding procurement.view at, above or below it)."""
    site = selectors.get_distribution_site(request.user, site_id)
    return list(selectors.distribution_calendars_for(request.user, site))


@router.put("/sites/{site_id}/calendars/{node_id}", response={200: CalendarOut, **WRITE_ERRORS})
def set_distribution_calendar(
    request: HttpRequest,
    site_id: Path[ObjectId],
    node_id: Path[ObjectId],
    payload: CalendarIn,
) -> DeliveryCalendar:
    """Create or replace the warehouse's or kitchen's distribution schedule for a store or
    region: weekdays, order cut-off, lead time (one day when omitted), exceptions
    (procurement.manage at the warehouse or kitchen)."""
    site = selectors.get_distribution_site(request.user, site_id)
    node = get_node(request.user, node_id)
    calendar = services.set_delivery_calendar(
        None,
        _calendar_input(node, payload),
        actor=request.user,
        source_site=site,
    )
    return selectors.distribution_calendars_for(request.user, site).get(pk=calendar.pk)


@router.get("/sites/{site_id}/delivery-dates", response={200: DistributionDatesOut, **errors(404)})
def distribution_dates(
    request: HttpRequest, site_id: Path[ObjectId], filters: Query[DeliveryDatesFilter]
) -> dict[str, Any]:
    """The next `count` dates the warehouse or kitchen can deliver an order placed now to the
    store (its distribution calendar's weekdays, cut-off, lead time and exceptions)."""
    site = selectors.get_distribution_site(request.user, site_id)
    store = get_site(request.user, filters.store_id)
    return {
        "source_site_id": site.pk,
        "store_id": store.pk,
        "calendar_id": services.calendar_for(site, store).calendar_id,
        "dates": services.next_delivery_dates(site, store, clock.now(), count=filters.count),
    }


# --- requisitions (要货) ----------------------------------------------------------------------


def _requisition(request: HttpRequest, requisition_id: int) -> Requisition:
    return selectors.get_requisition(request.user, requisition_id)


@router.get("/requisitions", response={200: list[RequisitionOut], **errors(404)})
@paginate(Pagination)
def list_requisitions(
    request: HttpRequest, filters: Query[RequisitionFilter]
) -> QuerySet[Requisition]:
    """Requisitions of the stores the caller may see, newest first."""
    rows = selectors.requisitions_for(request.user, store=_site(request, filters.store_id))
    if filters.status:
        rows = rows.filter(status=filters.status)
    return rows


@router.post("/requisitions", response={201: RequisitionDetailOut, **WRITE_ERRORS})
def create_requisition(request: HttpRequest, payload: RequisitionIn) -> Status:
    """Record a store's requisition (procurement.order at the store) and, unless `submit` is
    false, submit it: approved at once (its POs created) when no approval policy applies,
    else waiting for approval (`approval_request_id`). Every problem of every line at once,
    nothing saved: `supplier_inactive`, `unknown_supplier_item`, `not_pack_multiple`,
    `below_minimum_order`, `no_valid_price`, `deviation_reason_required` (several:
    `document_rejected`)."""
    store = get_site(request.user, payload.store_id)
    requisition = services.create_requisition(
        store,
        [
            services.RequisitionLineInput(
                item_id=line.item_id,
                quantity=line.quantity,
                supplier_id=line.supplier_id,
                source_site_id=line.source_site_id,
                unit=line.unit,
                suggested_quantity=line.suggested_quantity,
                deviation_reason=line.deviation_reason,
            )
            for line in payload.lines
        ],
        actor=request.user,
        location_id=payload.location_id,
        needed_by=payload.needed_by,
        note=payload.note,
        is_urgent=payload.is_urgent,
        submit=payload.submit,
    )
    return Status(201, _requisition(request, requisition.pk))


@router.get("/requisitions/{requisition_id}", response={200: RequisitionDetailOut, **errors(404)})
def get_requisition(request: HttpRequest, requisition_id: Path[ObjectId]) -> Requisition:
    """A requisition with its lines, its approval request and its purchase orders."""
    return _requisition(request, requisition_id)


@router.post(
    "/requisitions/{requisition_id}/submit",
    response={200: RequisitionDetailOut, **WRITE_ERRORS},
)
def submit_requisition(request: HttpRequest, requisition_id: Path[ObjectId]) -> Requisition:
    """Submit a draft: its approval starts (approved at once when no policy applies). 409
    `requisition_state` when it is not a draft."""
    services.submit_requisition(_requisition(request, requisition_id), actor=request.user)
    return _requisition(request, requisition_id)


@router.post(
    "/requisitions/{requisition_id}/cancel",
    response={200: RequisitionDetailOut, **WRITE_ERRORS},
)
def cancel_requisition(
    request: HttpRequest, requisition_id: Path[ObjectId], payload: PurchaseReasonIn
) -> Requisition:
    """Withdraw a draft, or (its requester only) one waiting for approval."""
    services.cancel_requisition(
        _requisition(request, requisition_id), actor=request.user, reason=payload.reason
    )
    return _requisition(request, requisition_id)


# --- purchase orders (采购单) -----------------------------------------------------------------


def _order(request: HttpRequest, order_id: int) -> PurchaseOrder:
    return selectors.get_purchase_order(request.user, order_id)


@router.get("/purchase-orders", response={200: list[PurchaseOrderOut], **errors(404)})
@paginate(Pagination)
def list_purchase_orders(
    request: HttpRequest, filters: Query[PurchaseOrderFilter]
) -> QuerySet[PurchaseOrder]:
    """Purchase orders of the stores the caller may see, newest first."""
    rows = selectors.purchase_orders_for(
        request.user, store=_site(request, filters.store_id), status=filters.status
    )
    if filters.supplier_id is not None:
        rows = rows.filter(supplier_id=filters.supplier_id)
    return rows


@router.post("/purchase-orders", response={201: PurchaseOrderDetailOut, **WRITE_ERRORS})
def create_purchase_order(request: HttpRequest, payload: PurchaseOrderIn) -> Status:
    """A buyer's draft PO (procurement.manage at the store), priced from the price list unless
    a line gives its price. Every problem at once: `supplier_inactive`,
    `unknown_supplier_item`, `not_pack_multiple`, `below_minimum_order`, `no_valid_price`."""
    store = get_site(request.user, payload.store_id)
    supplier = _supplier(request, payload.supplier_id)
    order = services.create_purchase_order(
        store,
        supplier,
        [
            services.PurchaseOrderLineInput(line.item_id, line.quantity, line.unit_price)
            for line in payload.lines
        ],
        actor=request.user,
        location_id=payload.location_id,
        expected_date=payload.expected_date,
        note=payload.note,
    )
    return Status(201, _order(request, order.pk))


@router.get("/purchase-orders/{order_id}", response={200: PurchaseOrderDetailOut, **errors(404)})
def get_purchase_order(request: HttpRequest, order_id: Path[ObjectId]) -> PurchaseOrder:
    """A purchase order with its lines: ordered, received, rejected and outstanding."""
    return _order(request, order_id)


@router.post(
    "/purchase-orders/{order_id}/approve", response={200: PurchaseOrderDetailOut, **WRITE_ERRORS}
)
def approve_purchase_order(request: HttpRequest, order_id: Path[ObjectId]) -> PurchaseOrder:
    """Approve a draft PO (procurement.manage). 409 `purchase_order_state` when not a draft."""
    services.approve_purchase_order(_order(request, order_id), actor=request.user)
    return _order(request, order_id)


@router.post(
    "/purchase-orders/{order_id}/send", response={200: PurchaseOrderDetailOut, **WRITE_ERRORS}
)
def send_purchase_order(request: HttpRequest, order_id: Path[ObjectId]) -> PurchaseOrder:
    """Send an approved PO to the supplier: `procurement.po.sent` carries the whole order to
    webhooks. 409 `approval_required` while its requisition's approval is not final;
    `supplier_inactive` for an inactive supplier."""
    services.send_purchase_order(_order(request, order_id), actor=request.user)
    return _order(request, order_id)


@router.post(
    "/purchase-orders/{order_id}/cancel", response={200: PurchaseOrderDetailOut, **WRITE_ERRORS}
)
def cancel_purchase_order(
    request: HttpRequest, order_id: Path[ObjectId], payload: PurchaseReasonIn
) -> PurchaseOrder:
    """Cancel a PO before anything was received (draft, approved or sent)."""
    services.cancel_purchase_order(
        _order(request, order_id), actor=request.user, reason=payload.reason
    )
    return _order(request, order_id)


@router.post(
    "/purchase-orders/{order_id}/close", response={200: PurchaseOrderDetailOut, **WRITE_ERRORS}
)
def close_purchase_order(
    request: HttpRequest, order_id: Path[ObjectId], payload: PurchaseReasonIn
) -> PurchaseOrder:
    """Close a partially received PO short: the rest is no longer on order."""
    services.close_purchase_order(
        _order(request, order_id), actor=request.user, reason=payload.reason
    )
    return _order(request, order_id)


@router.get(
    "/purchase-orders/{order_id}/pdf",
    response={200: None, **errors(404)},
    openapi_extra={
        "responses": {
            200: {"description": "The purchase order as a PDF", "content": {"application/pdf": {}}}
        }
    },
)
def get_purchase_order_pdf(request: HttpRequest, order_id: Path[ObjectId]) -> HttpResponse:
    """The PO as the supplier gets it by e-mail: a PDF in the supplier's language (Chinese
    names need the server's CJK font, `PROCUREMENT_PDF_FONT`), to those who may see the PO."""
    order = _order(request, order_id)
    response = HttpResponse(render_purchase_order_pdf(order), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{pdf_filename(order)}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@router.post(
    "/purchase-orders/{order_id}/resend-email",
    response={200: PurchaseOrderDetailOut, **WRITE_ERRORS},
)
def resend_purchase_order_email(request: HttpRequest, order_id: Path[ObjectId]) -> PurchaseOrder:
    """E-mail a sent PO's PDF again where it did not go out: `failed` and `skipped` deliveries
    (and addresses the supplier gained since) go back to `pending` and are sent right after
    (procurement.manage at the store; see `emails`). 409 `purchase_order_state` unless the PO
    was sent; 422 `no_email_recipient` when the supplier has no address; 409
    `nothing_to_resend` when every address has its e-mail."""
    order_emails.resend_purchase_order_email(_order(request, order_id), actor=request.user)
    return _order(request, order_id)


# --- receiving (验收) -------------------------------------------------------------------------


def _receive(
    request: HttpRequest, order_id: int, payload: GoodsReceiptIn, photo: Any = None
) -> Status:
    order = _order(request, order_id)
    receipt = services.receive_purchase_order(
        order,
        [
            services.ReceiptLineInput(
                line_id=line.line_id,
                quantity=line.quantity,
                rejected_quantity=line.rejected_quantity,
                rejection_reason=line.rejection_reason or "",
                lot_code=line.lot_code,
                expiry_date=line.expiry_date,
                temperature=line.temperature,
                substitute_item_id=line.substitute_item_id,
                note=line.note,
            )
            for line in payload.lines
        ],
        actor=request.user,
        delivery_note_number=payload.delivery_note_number,
        delivery_note_photo=photo,
        note=payload.note,
        received_at=payload.received_at,
    )
    return Status(201, selectors.get_receipt(request.user, receipt.pk))


@router.post(
    "/purchase-orders/{order_id}/receipts", response={201: ReceiptDetailOut, **WRITE_ERRORS}
)
def receive_purchase_order(
    request: HttpRequest, order_id: Path[ObjectId], payload: GoodsReceiptIn
) -> Status:
    """Receive a delivery against a sent PO (procurement.receive at its store): accepted
    quantities go into the ledger at the PO price with their lots; rejected ones are recorded
    with their reason. Every problem of every line at once, nothing changed: 409
    `over_receipt`; 422 `rejection_reason_required`, `temperature_required`,
    `temperature_out_of_range` (several: `document_rejected`); 409 `purchase_order_state`
    unless the PO is sent or partially received."""
    return _receive(request, order_id, payload)


@router.post(
    "/purchase-orders/{order_id}/receipts/with-photo",
    response={201: ReceiptDetailOut, **WRITE_ERRORS},
)
def receive_purchase_order_with_photo(
    request: HttpRequest,
    order_id: Path[ObjectId],
    payload: Form[str],
    photo: File[UploadedFile],
) -> Status:
    """The same as POST …/receipts, as multipart/form-data: `payload` is that JSON body and
    `photo` the delivery note (JPEG, PNG, WebP or HEIC, checked by its bytes, at most 10 MB)."""
    return _receive(request, order_id, parse_json_form(GoodsReceiptIn, payload), photo)


@router.get("/receipts", response={200: list[ReceiptOut], **errors(404)})
@paginate(Pagination)
def list_receipts(request: HttpRequest, filters: Query[ReceiptFilter]) -> QuerySet[Receipt]:
    """Receipts of the stores the caller may see, newest first."""
    order = _order(request, filters.purchase_order_id) if filters.purchase_order_id else None
    rows = selectors.receipts_for(request.user, order=order)
    if filters.store_id is not None:
        rows = rows.filter(store=get_site(request.user, filters.store_id))
    return rows


@router.get("/receipts/{receipt_id}", response={200: ReceiptDetailOut, **errors(404)})
def get_receipt(request: HttpRequest, receipt_id: Path[ObjectId]) -> Receipt:
    """A receipt with its lines (accepted, rejected with reason, lot, expiry, temperature)."""
    return selectors.get_receipt(request.user, receipt_id)


@router.get(
    "/receipts/{receipt_id}/photo",
    response={200: None, **errors(404)},
    openapi_extra={
        "responses": {
            200: {
                "description": "The delivery note photo",
                "content": {
                    "image/jpeg": {},
                    "image/png": {},
                    "image/webp": {},
                    "image/heic": {},
                },
            }
        }
    },
)
def get_receipt_photo(request: HttpRequest, receipt_id: Path[ObjectId]) -> FileResponse:
    """The delivery note's photo, privately, to those who may see the receipt (404 when it has
    none)."""
    receipt = selectors.get_receipt(request.user, receipt_id)
    if not receipt.delivery_note_photo:
        raise NotFound()
    return private_file_response(
        receipt.delivery_note_photo,
        content_type=receipt.photo_content_type or "image/jpeg",
        filename=receipt.number,
    )


# --- invoices and the review queue ------------------------------------------------------------


@router.get("/invoices", response={200: list[InvoiceOut], **errors()})
@paginate(Pagination)
def list_invoices(request: HttpRequest, filters: Query[InvoiceFilter]) -> QuerySet[SupplierInvoice]:
    """Supplier invoices the caller may see, newest first."""
    rows = selectors.invoices_for(request.user)
    if filters.supplier_id is not None:
        rows = rows.filter(supplier_id=filters.supplier_id)
    if filters.purchase_order_id is not None:
        rows = rows.filter(purchase_order_id=filters.purchase_order_id)
    if filters.status:
        rows = rows.filter(status=filters.status)
    return rows


@router.post("/invoices", response={201: InvoiceDetailOut, **WRITE_ERRORS})
def enter_invoice(request: HttpRequest, payload: InvoiceIn) -> Status:
    """Enter a supplier invoice (procurement.invoice at the PO's store) and run the three-way
    match at once: `payable` when every line matches within tolerance, else `in_review` with
    a review-queue entry. 422 `unknown_purchase_order` for a PO number the supplier does not
    have (with `queue_unknown_po` the invoice is kept in review instead); 409
    `duplicate_invoice`."""
    supplier = _supplier(request, payload.supplier_id)
    invoice = services.enter_invoice(
        supplier,
        services.InvoiceInput(
            invoice_number=payload.invoice_number,
            invoice_date=payload.invoice_date,
            purchase_order_number=payload.purchase_order_number,
            lines=[
                services.InvoiceLineInput(
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    amount=line.amount,
                    purchase_order_line_id=line.purchase_order_line_id,
                    item_id=line.item_id,
                    description=line.description,
                )
                for line in payload.lines
            ],
            tax_amount=payload.tax_amount,
            total_amount=payload.total_amount,
            currency=payload.currency or "",
            note=payload.note,
        ),
        actor=request.user,
        queue_unknown_po=payload.queue_unknown_po,
    )
    return Status(201, selectors.get_invoice(request.user, invoice.pk))


@router.post("/invoices/import", response={200: InvoiceImportOut, **WRITE_ERRORS})
def import_invoices(
    request: HttpRequest,
    file: File[UploadedFile],
    dry_run: Form[bool] = False,
    queue_unknown_po: Form[bool] = False,
) -> services.InvoiceImportResult:
    """Import supplier invoices from a file (multipart `file`: CSV in UTF-8 or GBK, or .xlsx,
    at most 10 MB; one row per invoice line, see docs/procurement.md for the columns), each
    entered and matched at once as by POST /invoices (procurement.invoice at each PO's store),
    all in one transaction. 200 with every invoice, its status and match; with `dry_run` what
    would be created, nothing saved. 422 `document_rejected` lists every problem of the file
    (`details.problems[]`, each with `code` and `details.row`, `details.column`), nothing
    saved: `unknown_purchase_order` also for a PO of a store the caller may not invoice (with
    `queue_unknown_po` an unknown PO is kept in the review queue instead), `duplicate_invoice`,
    `not_on_purchase_order`, `invalid_number`, `invalid_date`, `required`, `unsupported_file`,
    `empty_file`…"""
    return services.import_invoices(
        file.read(MAX_IMPORT_BYTES + 1),  # a larger file is refused without reading it all
        file.name or "",
        actor=request.user,
        dry_run=dry_run,
        queue_unknown_po=queue_unknown_po,
    )


@router.get("/invoices/{invoice_id}", response={200: InvoiceDetailOut, **errors(404)})
def get_invoice(request: HttpRequest, invoice_id: Path[ObjectId]) -> SupplierInvoice:
    """An invoice with its lines, its latest three-way match and its review entries."""
    return selectors.get_invoice(request.user, invoice_id)


@router.post("/invoices/{invoice_id}/rematch", response={200: InvoiceDetailOut, **WRITE_ERRORS})
def rematch_invoice(request: HttpRequest, invoice_id: Path[ObjectId]) -> SupplierInvoice:
    """Run the three-way match again for an invoice in review (procurement.invoice at its
    store), say after a late delivery: `payable` when it matches now (its review entries
    closed, `procurement.invoice.matched` published), else still `in_review` with the new
    match. 409 `review_state` unless it is in review. Receiving goods re-matches the PO's
    invoices in review by itself."""
    services.rematch_invoice(selectors.get_invoice(request.user, invoice_id), actor=request.user)
    return selectors.get_invoice(request.user, invoice_id)


@router.get("/review-queue", response={200: list[ReviewOut], **errors()})
@paginate(Pagination)
def list_reviews(request: HttpRequest, filters: Query[ReviewFilter]) -> QuerySet[ReviewEntry]:
    """Invoices waiting for a person (procurement.invoice over them), oldest first; with
    `status=all` resolved entries too."""
    return selectors.review_queue_for(request.user, open_only=filters.status == "open")


@router.get("/review-queue/{entry_id}", response={200: ReviewOut, **errors(404)})
def get_review(request: HttpRequest, entry_id: Path[ObjectId]) -> ReviewEntry:
    """One review entry: why the invoice waits (`reasons`) and its match, line by line."""
    return selectors.get_review(request.user, entry_id)


@router.post("/review-queue/{entry_id}/resolve", response={200: ReviewOut, **WRITE_ERRORS})
def resolve_review(
    request: HttpRequest, entry_id: Path[ObjectId], payload: InvoiceResolveIn
) -> ReviewEntry:
    """Accept the invoice (it becomes payable, `procurement.invoice.matched` with
    `accepted_by_review`) or reject it (a note is required). 409 `review_state` when the entry
    is already resolved."""
    services.resolve_review(
        selectors.get_review(request.user, entry_id),
        actor=request.user,
        accept=payload.decision == "accept",
        note=payload.note,
    )
    return selectors.get_review(request.user, entry_id)
