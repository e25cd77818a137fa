"""Waste records and transfer orders in the inventory API (under /api/v1/inventory/).

Waste: recording and cancelling need inventory.move at the site; approving or rejecting one
waiting for approval needs inventory.manage (and not being its submitter). Transfer orders:
creating needs inventory.move at either site, dispatching at the sending site, receiving at the
receiving site; seeing an order needs inventory.view at either. Another site's document is a 404.

Transfer orders live at /transfer-orders: /transfers is the ledger's one-item transfer.
"""

from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest
from ninja import File, Form, Path, Query, Router, Status
from ninja.files import UploadedFile
from ninja.pagination import paginate

from backroom.config.api_support import ObjectId, Pagination, errors, parse_json_form
from backroom.inventory import documents as reads
from backroom.inventory import services
from backroom.inventory.models import TransferOrder, WasteDocument
from backroom.inventory.schemas import (
    DispatchIn,
    ReceiptIn,
    TransferCancelIn,
    TransferOrderDetailOut,
    TransferOrderFilter,
    TransferOrderIn,
    TransferOrderOut,
    WasteDecisionIn,
    WasteDetailOut,
    WasteFilter,
    WasteIn,
    WasteOut,
)
from backroom.kernel.exceptions import NotFound
from backroom.org.selectors import get_site

router = Router(tags=["inventory"])


def _site(request: HttpRequest, site_id: int | None) -> Any:
    return get_site(request.user, site_id) if site_id is not None else None


# --- waste (报损) ---------------------------------------------------------------------------


def _waste(request: HttpRequest, document_id: int) -> WasteDocument:
    return reads.get_waste_document(request.user, document_id)


def _create_waste(request: HttpRequest, payload: WasteIn, photo: Any = None) -> Status:
    site = get_site(request.user, payload.site_id)
    document = services.create_waste(
        site,
        [
            services.WasteLineInput(
                item_id=line.item_id,
                location_id=line.location_id,
                quantity=line.quantity,
                reason=line.reason,
                unit=line.unit,
                lot_code=line.lot_code,
                note=line.note,
            )
            for line in payload.lines
        ],
        actor=request.user,
        note=payload.note,
        occurred_at=payload.occurred_at,
        photo=photo,
        submit=payload.submit,
    )
    return Status(201, _waste(request, document.pk))


@router.get("/waste", response={200: list[WasteOut], **errors(404)})
@paginate(Pagination)
def list_waste(request: HttpRequest, filters: Query[WasteFilter]) -> QuerySet[WasteDocument]:
    """Waste records at the sites the caller may see, newest first."""
    return reads.waste_documents_for(
        request.user, site=_site(request, filters.site_id), status=filters.status
    )


@router.post("/waste", response={201: WasteDetailOut, **errors(400, 403, 404, 409)})
def create_waste(request: HttpRequest, payload: WasteIn) -> Status:
    """Record waste (and by default submit it: posted at once, or waiting for approval when its
    value at moving-average cost is above the threshold). Every bad line is reported at once."""
    return _create_waste(request, payload)


@router.post("/waste/with-photo", response={201: WasteDetailOut, **errors(400, 403, 404, 409)})
def create_waste_with_photo(
    request: HttpRequest, payload: Form[str], photo: File[UploadedFile]
) -> Status:
    """The same as POST /waste, as multipart/form-data: `payload` is the JSON body of
    POST /waste and `photo` a JPEG, PNG, WebP or HEIC image (checked by its bytes)."""
    body = parse_json_form(WasteIn, payload)
    return _create_waste(request, body, photo)


@router.get("/waste/{document_id}", response={200: WasteDetailOut, **errors(404)})
def get_waste(request: HttpRequest, document_id: Path[ObjectId]) -> WasteDocument:
    """A waste record with its lines."""
    return _waste(request, document_id)


@router.get(
    "/waste/{document_id}/photo",
    response={200: None, **errors(404)},
    openapi_extra={
        "responses": {
            200: {
                "description": "The photo",
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
def get_waste_photo(request: HttpRequest, document_id: Path[ObjectId]) -> FileResponse:
    """The record's photo, to those who may see the record (404 when it has none)."""
    document = _waste(request, document_id)
    if not document.photo:
        raise NotFound()
    return reads.photo_response(document)


@router.post(
    "/waste/{document_id}/submit", response={200: WasteDetailOut, **errors(400, 403, 404, 409)}
)
def submit_waste(request: HttpRequest, document_id: Path[ObjectId]) -> WasteDocument:
    """Submit a draft: posts at once, or waits for approval above the threshold."""
    services.submit_waste(_waste(request, document_id), actor=request.user)
    return _waste(request, document_id)


@router.post(
    "/waste/{document_id}/approve", response={200: WasteDetailOut, **errors(400, 403, 404, 409)}
)
def approve_waste(
    request: HttpRequest, document_id: Path[ObjectId], payload: WasteDecisionIn
) -> WasteDocument:
    """Approve your own pending step of the record's approval request; the last approval posts
    it. Without a pending task on it: 409 not_your_task; deciding twice: 409 waste_state."""
    services.approve_waste(_waste(request, document_id), actor=request.user, reason=payload.reason)
    return _waste(request, document_id)


@router.post(
    "/waste/{document_id}/reject", response={200: WasteDetailOut, **errors(400, 403, 404, 409)}
)
def reject_waste(
    request: HttpRequest, document_id: Path[ObjectId], payload: WasteDecisionIn
) -> WasteDocument:
    """Reject the record through your pending approval task, with a reason; nothing is
    posted."""
    services.reject_waste(_waste(request, document_id), actor=request.user, reason=payload.reason)
    return _waste(request, document_id)


@router.post(
    "/waste/{document_id}/cancel", response={200: WasteDetailOut, **errors(400, 403, 404, 409)}
)
def cancel_waste(
    request: HttpRequest, document_id: Path[ObjectId], payload: WasteDecisionIn
) -> WasteDocument:
    """Withdraw a draft, or (its requester only) a record waiting for approval."""
    services.cancel_waste(_waste(request, document_id), actor=request.user, reason=payload.reason)
    return _waste(request, document_id)


# --- transfer orders (调拨) ------------------------------------------------------------------


def _order(request: HttpRequest, order_id: int) -> TransferOrder:
    return reads.get_transfer_order(request.user, order_id)


@router.get("/transfer-orders", response={200: list[TransferOrderOut], **errors(404)})
@paginate(Pagination)
def list_transfer_orders(
    request: HttpRequest, filters: Query[TransferOrderFilter]
) -> QuerySet[TransferOrder]:
    """Transfer orders leaving or arriving at the sites the caller may see, newest first;
    `direction` (in/out) with `site_id` keeps one side."""
    return reads.transfer_orders_for(
        request.user,
        site=_site(request, filters.site_id),
        status=filters.status,
        direction=filters.direction,
    )


@router.post(
    "/transfer-orders", response={201: TransferOrderDetailOut, **errors(400, 403, 404, 409)}
)
def create_transfer_order(request: HttpRequest, payload: TransferOrderIn) -> Status:
    """A draft transfer order between locations of two sites (422 transfer_to_self for one)."""
    order = services.create_transfer_order(
        from_location_id=payload.from_location_id,
        to_location_id=payload.to_location_id,
        lines=[
            services.TransferLineInput(
                item_id=line.item_id,
                quantity=line.quantity,
                unit=line.unit,
                lot_code=line.lot_code,
                note=line.note,
            )
            for line in payload.lines
        ],
        actor=request.user,
        note=payload.note,
        expected_date=payload.expected_date,
    )
    return Status(201, _order(request, order.pk))


@router.get("/transfer-orders/{order_id}", response={200: TransferOrderDetailOut, **errors(404)})
def get_transfer_order(request: HttpRequest, order_id: Path[ObjectId]) -> TransferOrder:
    """A transfer order with its lines."""
    return _order(request, order_id)


@router.post(
    "/transfer-orders/{order_id}/dispatch",
    response={200: TransferOrderDetailOut, **errors(400, 403, 404, 409)},
)
def dispatch_transfer_order(
    request: HttpRequest, order_id: Path[ObjectId], payload: DispatchIn
) -> TransferOrder:
    """Send a draft into transit (inventory.move at the sending site)."""
    services.dispatch_transfer_order(
        _order(request, order_id),
        None
        if payload.lines is None
        else [services.DispatchLine(line.line_id, line.quantity) for line in payload.lines],
        actor=request.user,
    )
    return _order(request, order_id)


@router.post(
    "/transfer-orders/{order_id}/receive",
    response={200: TransferOrderDetailOut, **errors(400, 403, 404, 409)},
)
def receive_transfer_order(
    request: HttpRequest, order_id: Path[ObjectId], payload: ReceiptIn
) -> TransferOrder:
    """Record what arrived (inventory.move at the receiving site); see ReceiptIn."""
    services.receive_transfer_order(
        _order(request, order_id),
        None
        if payload.lines is None
        else [
            services.ReceiptLine(line.line_id, line.quantity, line.discrepancy_reason, line.note)
            for line in payload.lines
        ],
        actor=request.user,
        close=payload.close,
    )
    return _order(request, order_id)


@router.post(
    "/transfer-orders/{order_id}/cancel",
    response={200: TransferOrderDetailOut, **errors(400, 403, 404, 409)},
)
def cancel_transfer_order(
    request: HttpRequest, order_id: Path[ObjectId], payload: TransferCancelIn
) -> TransferOrder:
    """Cancel a draft (nothing has moved yet)."""
    services.cancel_transfer_order(
        _order(request, order_id), actor=request.user, reason=payload.reason
    )
    return _order(request, order_id)
