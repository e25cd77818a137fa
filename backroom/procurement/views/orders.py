"""Purchase orders (采购单) and receiving (验收), phone first.

The PO list filters by state; the PO page shows its lines with what arrived so far, its receipts
and invoices, its PDF and its e-mails to the supplier, and the buttons its state and the user's
rights allow (send, cancel, close, resend the e-mail, receive, enter the invoice). Receiving
shows one card per outstanding line: expected and received quantities, a rejected quantity with
its reason, lot and expiry, the temperature of chilled and frozen goods, a substitute item, and
a photo of the delivery note from the camera.
Every problem of a delivery is shown at once, next to its line; nothing is saved and the form
keeps what was typed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from backroom.catalog.choices import STOCKED_KINDS
from backroom.catalog.selectors import items_for
from backroom.kernel.exceptions import DomainError
from backroom.kernel.files import private_file_response
from backroom.procurement import selectors, services
from backroom.procurement.choices import (
    RECEIVABLE_PO_STATUSES,
    PurchaseOrderEmailStatus,
    PurchaseOrderStatus,
    RejectionReason,
)
from backroom.procurement.documents import pdf_filename, render_purchase_order_pdf
from backroom.procurement.models import PurchaseOrder, PurchaseOrderLine, Receipt
from backroom.procurement.permissions import (
    PROCUREMENT_INVOICE,
    PROCUREMENT_MANAGE,
    PROCUREMENT_RECEIVE,
    PROCUREMENT_VIEW,
)
from backroom.procurement.services.order_emails import (
    EMAILABLE_STATUSES,
    RETRYABLE,
    resend_purchase_order_email,
)
from backroom.procurement.services.receiving import temperature_range
from backroom.procurement.views.common import (
    EXPORT_CHUNK,
    RECENT,
    local_time,
    may,
    problems_by_line,
    typed,
)
from backroom.web.errors import page
from backroom.web.exports import Column, export_format, export_table
from backroom.web.rendering import render_page

CANCELLABLE = (PurchaseOrderStatus.DRAFT, PurchaseOrderStatus.APPROVED, PurchaseOrderStatus.SENT)

ORDER_COLUMNS = [
    Column(gettext_lazy("Number"), lambda order: order.number),
    Column(gettext_lazy("Order date"), lambda order: order.order_date),
    Column(gettext_lazy("Expected delivery"), lambda order: order.expected_date),
    Column(gettext_lazy("Store code"), lambda order: order.store.node.code),
    Column(gettext_lazy("Store"), lambda order: order.store.node.name),
    Column(gettext_lazy("Receiving location"), lambda order: order.location.code),
    Column(gettext_lazy("Supplier code"), lambda order: order.supplier.code),
    Column(gettext_lazy("Supplier"), lambda order: order.supplier.name),
    Column(gettext_lazy("Status"), lambda order: str(order.get_status_display())),
    Column(gettext_lazy("Currency"), lambda order: order.currency),
    Column(gettext_lazy("Total"), lambda order: order.total_amount),
    Column(gettext_lazy("Lines"), lambda order: order.line_count),
    Column(gettext_lazy("Receipts"), lambda order: order.receipt_count),
    Column(
        gettext_lazy("Requisition"),
        lambda order: order.requisition.number if order.requisition else "",
    ),
    Column(gettext_lazy("Sent at"), lambda order: local_time(order.sent_at)),
    Column(gettext_lazy("Note"), lambda order: order.note),
]


def _order(request: HttpRequest, order_id: int) -> PurchaseOrder:
    order = selectors.get_purchase_order(request.user, order_id)
    return PurchaseOrder.objects.select_related(
        "supplier", "store__node", "location", "requisition", "created_by"
    ).get(pk=order.pk)


def _lines(order: PurchaseOrder) -> list[PurchaseOrderLine]:
    return list(order.lines.select_related("item__base_unit", "supplier_item").order_by("line_no"))


@page(PROCUREMENT_VIEW)
def order_list(request: HttpRequest) -> HttpResponse:
    """Purchase orders the user may see, newest first, filtered by state; `?export=xlsx|csv`
    downloads every one of them (the filter kept)."""
    status = request.GET.get("status", "")
    if status not in PurchaseOrderStatus.values:
        status = ""
    rows = selectors.purchase_orders_for(request.user, status=status or None)
    if wanted := export_format(request):
        every = rows.select_related("location", "requisition").annotate(line_count=Count("lines"))
        return export_table(
            wanted, "purchase-orders", ORDER_COLUMNS, every.iterator(chunk_size=EXPORT_CHUNK)
        )
    return render_page(
        request,
        "procurement/order_list.html",
        {
            "title": _("Purchase orders"),
            "orders": list(rows[:RECENT]),
            "statuses": PurchaseOrderStatus.choices,
            "status": status,
            # An HTMX filter change swaps the list; the export buttons follow out of band.
            "exports_out_of_band": request.headers.get("HX-Request") == "true",
        },
        partial="orders",
    )


def _order_page(
    request: HttpRequest,
    order: PurchaseOrder,
    *,
    errors: list[str] | None = None,
    status: int = 200,
) -> HttpResponse:
    node = order.store.node
    manage = may(request, PROCUREMENT_MANAGE, node)
    emails = list(order.emails.order_by("id"))
    if any(email.recipient for email in emails):
        # The "no address" row of the first send is history once an address was found.
        emails = [email for email in emails if email.recipient]
    return render_page(
        request,
        "procurement/order_detail.html",
        {
            "title": _("Purchase order %(number)s") % {"number": order.number},
            "order": order,
            "lines": _lines(order),
            "receipts": list(selectors.receipts_for(request.user, order=order)),
            "invoices": list(order.invoices.order_by("-id")),
            "may_send": manage and order.status == PurchaseOrderStatus.APPROVED,
            "may_cancel": manage and order.status in CANCELLABLE,
            "may_close": manage and order.status == PurchaseOrderStatus.PARTIALLY_RECEIVED,
            "emails": emails,
            "may_resend": manage
            and order.status in EMAILABLE_STATUSES
            and (not emails or any(email.status in RETRYABLE for email in emails)),
            "email_statuses": PurchaseOrderEmailStatus,
            "may_receive": order.status in RECEIVABLE_PO_STATUSES
            and may(request, PROCUREMENT_RECEIVE, node),
            "may_invoice": order.status
            not in (PurchaseOrderStatus.DRAFT, PurchaseOrderStatus.CANCELLED)
            and may(request, PROCUREMENT_INVOICE, node),
            "errors": errors or [],
        },
        status=status,
    )


@page(PROCUREMENT_VIEW)
def order_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    """One PO: lines with what arrived, receipts, invoices, and its buttons."""
    return _order_page(request, _order(request, order_id))


def _order_action(request: HttpRequest, order_id: int, action: str) -> HttpResponse:
    order = _order(request, order_id)
    reason = request.POST.get("reason", "").strip()
    try:
        if action == "send":
            services.send_purchase_order(order, actor=request.user)
            messages.success(request, _("Sent to the supplier."))
        elif action == "cancel":
            services.cancel_purchase_order(order, actor=request.user, reason=reason)
            messages.success(request, _("Cancelled."))
        elif action == "resend_email":
            rows = resend_purchase_order_email(order, actor=request.user)
            messages.success(
                request,
                _("The purchase order is being e-mailed to %(recipients)s.")
                % {"recipients": ", ".join(row.recipient for row in rows)},
            )
        else:
            services.close_purchase_order(order, actor=request.user, reason=reason)
            messages.success(request, _("Closed: nothing more is expected."))
    except DomainError as error:
        if error.http_status in (403, 404):
            raise
        by_line, general = problems_by_line(error)
        texts = general + [text for found in by_line.values() for text in found]
        return _order_page(
            request, _order(request, order_id), errors=texts, status=error.http_status
        )
    return redirect("procurement:order_detail", order_id=order.pk)


@page(PROCUREMENT_MANAGE)
@require_POST
def order_send(request: HttpRequest, order_id: int) -> HttpResponse:
    return _order_action(request, order_id, "send")


@page(PROCUREMENT_MANAGE)
@require_POST
def order_cancel(request: HttpRequest, order_id: int) -> HttpResponse:
    return _order_action(request, order_id, "cancel")


@page(PROCUREMENT_MANAGE)
@require_POST
def order_close(request: HttpRequest, order_id: int) -> HttpResponse:
    return _order_action(request, order_id, "close")


@page(PROCUREMENT_MANAGE)
@require_POST
def order_resend_email(request: HttpRequest, order_id: int) -> HttpResponse:
    """E-mail the PO's PDF again where it did not go out (failed, or no address then)."""
    return _order_action(request, order_id, "resend_email")


@page(PROCUREMENT_VIEW)
def order_pdf(request: HttpRequest, order_id: int) -> HttpResponse:
    """The PO as the supplier gets it: a PDF, to those who may see the PO."""
    order = _order(request, order_id)
    response = HttpResponse(render_purchase_order_pdf(order), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{pdf_filename(order)}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


# --- receiving (验收) ---------------------------------------------------------------------------


@page(PROCUREMENT_RECEIVE)
def receiving(request: HttpRequest) -> HttpResponse:
    """Deliveries expected at the user's stores: sent and partly received POs, soonest first."""
    rows = (
        selectors.purchase_orders_for(request.user)
        .filter(status__in=RECEIVABLE_PO_STATUSES)
        .order_by("expected_date", "id")
    )
    orders = [
        order for order in rows[:RECENT] if may(request, PROCUREMENT_RECEIVE, order.store.node)
    ]
    return render_page(
        request, "procurement/receiving.html", {"title": _("Receiving"), "orders": orders}
    )


@dataclass
class ReceiveRow:
    """One PO line on the receiving form, with what was typed and its problems."""

    line: PurchaseOrderLine
    values: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    substitutes: list[Any] = field(default_factory=list)

    def get(self, name: str) -> str:
        return self.values.get(name, "")

    @property
    def temperature_bounds(self) -> tuple[Decimal | None, Decimal | None] | None:
        return temperature_range(self.line.item.storage)


FIELDS = ["received", "rejected", "reason", "lot", "expiry", "temperature", "substitute", "note"]


def _rows(request: HttpRequest, order: PurchaseOrder, data: Any | None) -> list[ReceiveRow]:
    lines = [line for line in _lines(order) if line.outstanding_quantity > 0]
    categories = {line.item.category_id for line in lines if line.item.category_id is not None}
    alike: dict[Any, list[Any]] = {}
    for item in items_for(request.user).filter(
        is_active=True, kind__in=STOCKED_KINDS, category_id__in=categories
    ):
        alike.setdefault(item.category_id, []).append(item)
    rows = []
    for line in lines:
        if data is None:
            values = {"received": f"{line.outstanding_quantity.normalize():f}"}
        else:
            values = {name: data.get(f"{name}_{line.pk}", "").strip() for name in FIELDS}
        substitutes = [
            item for item in alike.get(line.item.category_id, []) if item.pk != line.item_id
        ]
        rows.append(ReceiveRow(line, values, substitutes=substitutes))
    return rows


def _receive_page(
    request: HttpRequest,
    order: PurchaseOrder,
    rows: list[ReceiveRow],
    *,
    errors: list[str] | None = None,
    header: dict[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    return render_page(
        request,
        "procurement/receive.html",
        {
            "title": _("Receive %(number)s") % {"number": order.number},
            "order": order,
            "rows": rows,
            "reasons": RejectionReason.choices,
            "errors": errors or [],
            "header": header or {},
        },
        status=status,
    )


@page(PROCUREMENT_RECEIVE)
@require_http_methods(["GET", "POST"])
def receive(request: HttpRequest, order_id: int) -> HttpResponse:
    """Receive a delivery against a PO (see the module)."""
    order = _order(request, order_id)
    if not may(request, PROCUREMENT_RECEIVE, order.store.node):
        raise Http404()
    if order.status not in RECEIVABLE_PO_STATUSES:
        messages.warning(
            request,
            _("%(number)s is %(status)s: there is nothing to receive.")
            % {"number": order.number, "status": order.get_status_display()},
        )
        return redirect("procurement:order_detail", order_id=order.pk)
    if request.method == "GET":
        return _receive_page(request, order, _rows(request, order, None))
    rows = _rows(request, order, request.POST)
    header = {name: request.POST.get(name, "").strip() for name in ("delivery_note_number", "note")}
    inputs: list[services.ReceiptLineInput] = []
    sent: list[ReceiveRow] = []
    for row in rows:
        received, rejected = typed(row.get("received")), typed(row.get("rejected"))
        if not received and not rejected:
            continue
        expiry = None
        if row.get("expiry"):
            try:
                expiry = dt.date.fromisoformat(row.get("expiry"))
            except ValueError:
                row.errors.append(_("Enter the expiry date as YYYY-MM-DD."))
        substitute = row.get("substitute")
        temperature = typed(row.get("temperature"))
        # The service parses the typed text itself, so its messages name the line.
        inputs.append(
            services.ReceiptLineInput(
                line_id=row.line.pk,
                quantity=received or "0",  # type: ignore[arg-type]
                rejected_quantity=rejected or "0",  # type: ignore[arg-type]
                rejection_reason=row.get("reason") if rejected not in ("", "0") else "",
                lot_code=row.get("lot") or None,
                expiry_date=expiry,
                temperature=temperature or None,  # type: ignore[arg-type]
                substitute_item_id=int(substitute) if substitute.isdigit() else None,
                note=row.get("note"),
            )
        )
        sent.append(row)
    if any(row.errors for row in rows):
        return _receive_page(request, order, rows, header=header, status=422)
    try:
        receipt = services.receive_purchase_order(
            order,
            inputs,
            actor=request.user,
            delivery_note_number=header["delivery_note_number"],
            delivery_note_photo=request.FILES.get("delivery_note_photo"),
            note=header["note"],
        )
    except DomainError as error:
        if error.http_status in (403, 404):
            raise
        by_line, general = problems_by_line(error)
        for index, texts in by_line.items():
            if index < len(sent):
                sent[index].errors.extend(texts)
            else:
                general.extend(texts)
        return _receive_page(
            request, order, rows, errors=general, header=header, status=error.http_status
        )
    messages.success(
        request,
        _("%(number)s recorded: %(status)s.")
        % {"number": receipt.number, "status": receipt.purchase_order.get_status_display()},
    )
    return redirect("procurement:receipt_detail", receipt_id=receipt.pk)


def _receipt(request: HttpRequest, receipt_id: int) -> Receipt:
    receipt = selectors.get_receipt(request.user, receipt_id)
    return Receipt.objects.select_related(
        "purchase_order__supplier", "store__node", "location", "received_by"
    ).get(pk=receipt.pk)


@page(PROCUREMENT_VIEW)
def receipt_detail(request: HttpRequest, receipt_id: int) -> HttpResponse:
    """One receipt: what was accepted (posted to stock with its lot) and what was refused."""
    receipt = _receipt(request, receipt_id)
    return render_page(
        request,
        "procurement/receipt_detail.html",
        {
            "title": _("Receipt %(number)s") % {"number": receipt.number},
            "receipt": receipt,
            "order": receipt.purchase_order,
            "lines": list(
                receipt.lines.select_related("item", "purchase_order_line__item").order_by(
                    "line_no"
                )
            ),
        },
    )


@page(PROCUREMENT_VIEW)
def receipt_photo(request: HttpRequest, receipt_id: int) -> HttpResponse:
    """The delivery note's photo, only to those who may see the receipt."""
    receipt = _receipt(request, receipt_id)
    if not receipt.delivery_note_photo:
        raise Http404()
    return private_file_response(  # type: ignore[return-value]
        receipt.delivery_note_photo, content_type=receipt.photo_content_type or "image/jpeg"
    )


urlpatterns = [
    path("orders/", order_list, name="order_list"),
    path("orders/<int:order_id>/", order_detail, name="order_detail"),
    path("orders/<int:order_id>/send/", order_send, name="order_send"),
    path("orders/<int:order_id>/cancel/", order_cancel, name="order_cancel"),
    path("orders/<int:order_id>/close/", order_close, name="order_close"),
    path("orders/<int:order_id>/pdf/", order_pdf, name="order_pdf"),
    path("orders/<int:order_id>/resend-email/", order_resend_email, name="order_resend_email"),
    path("orders/<int:order_id>/receive/", receive, name="receive"),
    path("receiving/", receiving, name="receiving"),
    path("receipts/<int:receipt_id>/", receipt_detail, name="receipt_detail"),
    path("receipts/<int:receipt_id>/photo/", receipt_photo, name="receipt_photo"),
]
