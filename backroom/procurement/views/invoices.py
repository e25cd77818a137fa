"""Supplier invoices: the list, entering an invoice against a PO (its lines prefilled with what
was received at the PO price), importing a file of invoices, the invoice with its three-way
match (matched again on request), and the review queue of mismatches to accept or reject with
a note."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from backroom.kernel.exceptions import DomainError
from backroom.procurement import selectors, services
from backroom.procurement.choices import InvoiceStatus, PurchaseOrderStatus, ReviewReason
from backroom.procurement.models import (
    PurchaseOrder,
    PurchaseOrderLine,
    ReviewEntry,
    SupplierInvoice,
)
from backroom.procurement.permissions import PROCUREMENT_INVOICE, PROCUREMENT_VIEW
from backroom.procurement.services.invoice_import import COLUMNS
from backroom.procurement.services.invoice_import import MAX_FILE_BYTES as MAX_IMPORT_BYTES
from backroom.procurement.views.common import (
    EXPORT_CHUNK,
    RECENT,
    local_time,
    may,
    problems_by_line,
    typed,
)
from backroom.web.errors import page, problem_messages
from backroom.web.exports import Column, export_format, export_table
from backroom.web.rendering import render_page


def _order_number(invoice: SupplierInvoice) -> str:
    """The PO it bills, or the number printed on it when no PO was found."""
    if invoice.purchase_order is not None:
        return invoice.purchase_order.number
    return invoice.purchase_order_reference


INVOICE_COLUMNS = [
    Column(gettext_lazy("Invoice number"), lambda invoice: invoice.invoice_number),
    Column(gettext_lazy("Supplier code"), lambda invoice: invoice.supplier.code),
    Column(gettext_lazy("Supplier"), lambda invoice: invoice.supplier.name),
    Column(gettext_lazy("Purchase order"), _order_number),
    Column(gettext_lazy("Org unit code"), lambda invoice: invoice.org_node.code),
    Column(gettext_lazy("Invoice date"), lambda invoice: invoice.invoice_date),
    Column(gettext_lazy("Due date"), lambda invoice: invoice.due_date),
    Column(gettext_lazy("Status"), lambda invoice: str(invoice.get_status_display())),
    Column(gettext_lazy("Currency"), lambda invoice: invoice.currency),
    Column(gettext_lazy("Net amount"), lambda invoice: invoice.net_amount),
    Column(gettext_lazy("Tax"), lambda invoice: invoice.tax_amount),
    Column(gettext_lazy("Total"), lambda invoice: invoice.total_amount),
    Column(gettext_lazy("Note"), lambda invoice: invoice.note),
]


def _review_store_code(entry: ReviewEntry) -> str:
    order = entry.invoice.purchase_order
    return order.store.node.code if order is not None else ""


REVIEW_COLUMNS = [
    Column(gettext_lazy("Invoice number"), lambda entry: entry.invoice.invoice_number),
    Column(gettext_lazy("Supplier code"), lambda entry: entry.invoice.supplier.code),
    Column(gettext_lazy("Supplier"), lambda entry: entry.invoice.supplier.name),
    Column(gettext_lazy("Purchase order"), lambda entry: _order_number(entry.invoice)),
    Column(gettext_lazy("Store code"), _review_store_code),
    Column(gettext_lazy("Invoice date"), lambda entry: entry.invoice.invoice_date),
    Column(gettext_lazy("Currency"), lambda entry: entry.invoice.currency),
    Column(gettext_lazy("Total"), lambda entry: entry.invoice.total_amount),
    Column(
        gettext_lazy("Difference"),
        lambda entry: entry.match.difference if entry.match is not None else None,
    ),
    Column(gettext_lazy("Reasons"), lambda entry: "; ".join(_reasons(entry.reasons))),
    Column(gettext_lazy("In review since"), lambda entry: local_time(entry.created_at)),
]


def review_count(request: HttpRequest) -> int:
    """Open review-queue entries the user works (the navigation badge)."""
    return selectors.review_queue_for(request.user).count()


@page(PROCUREMENT_VIEW)
def invoice_list(request: HttpRequest) -> HttpResponse:
    """Recent supplier invoices with their state; `?export=xlsx|csv` downloads every one the
    user may see."""
    rows = selectors.invoices_for(request.user)
    if wanted := export_format(request):
        every = rows.select_related("org_node").iterator(chunk_size=EXPORT_CHUNK)
        return export_table(wanted, "supplier-invoices", INVOICE_COLUMNS, every)
    return render_page(
        request,
        "procurement/invoice_list.html",
        {
            "title": _("Supplier invoices"),
            "invoices": list(rows[:RECENT]),
            "may_review": may(request, PROCUREMENT_INVOICE),
            "review_count": review_count(request) if may(request, PROCUREMENT_INVOICE) else 0,
        },
    )


@dataclass
class InvoiceRow:
    line: PurchaseOrderLine
    values: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


@page(PROCUREMENT_INVOICE)
@require_http_methods(["GET", "POST"])
def invoice_new(request: HttpRequest, order_id: int) -> HttpResponse:
    """Enter the supplier's invoice for a PO; it is matched at once."""
    found = selectors.get_purchase_order(request.user, order_id)
    order = PurchaseOrder.objects.select_related("supplier", "store__node").get(pk=found.pk)
    if not may(request, PROCUREMENT_INVOICE, order.store.node):
        raise Http404()
    lines = list(order.lines.select_related("item").order_by("line_no"))
    data = request.POST if request.method == "POST" else None
    if data is None:
        rows = [
            InvoiceRow(
                line,
                {
                    "quantity": f"{line.received_quantity.normalize():f}"
                    if line.received_quantity
                    else "",
                    "price": f"{line.unit_price.normalize():f}",
                },
            )
            for line in lines
        ]
        header = {"invoice_date": timezone.localdate().isoformat(), "tax_amount": "0"}
    else:
        rows = [
            InvoiceRow(
                line,
                {
                    "quantity": data.get(f"quantity_{line.pk}", "").strip(),
                    "price": data.get(f"price_{line.pk}", "").strip(),
                },
            )
            for line in lines
        ]
        header = {
            name: data.get(name, "").strip()
            for name in ("invoice_number", "invoice_date", "tax_amount", "total_amount", "note")
        }
    errors: list[str] = []
    status = 200
    if data is not None:
        sent = [row for row in rows if typed(row.values["quantity"])]
        try:
            invoice_date = dt.date.fromisoformat(header["invoice_date"])
        except ValueError:
            invoice_date = None
            errors.append(_("Enter the invoice date as YYYY-MM-DD."))
        if invoice_date is not None:
            try:
                invoice = services.enter_invoice(
                    order.supplier,
                    services.InvoiceInput(
                        invoice_number=header["invoice_number"],
                        invoice_date=invoice_date,
                        purchase_order_number=order.number,
                        lines=[
                            services.InvoiceLineInput(
                                quantity=typed(row.values["quantity"]),  # type: ignore[arg-type]
                                unit_price=typed(row.values["price"]) or "0",  # type: ignore[arg-type]
                                purchase_order_line_id=row.line.pk,
                            )
                            for row in sent
                        ],
                        tax_amount=typed(header["tax_amount"]) or "0",  # type: ignore[arg-type]
                        total_amount=typed(header["total_amount"]) or None,  # type: ignore[arg-type]
                        note=header["note"],
                    ),
                    actor=request.user,
                )
            except DomainError as error:
                if error.http_status in (403, 404):
                    raise
                by_line, general = problems_by_line(error)
                errors.extend(general)
                for index, texts in by_line.items():
                    if index < len(sent):
                        sent[index].errors.extend(texts)
            else:
                if invoice.status == InvoiceStatus.PAYABLE:
                    messages.success(request, _("Matched: the invoice is payable."))
                else:
                    messages.warning(request, _("It does not match: it waits in the review queue."))
                return redirect("procurement:invoice_detail", invoice_id=invoice.pk)
        status = 422
    return render_page(
        request,
        "procurement/invoice_new.html",
        {
            "title": _("Invoice for %(number)s") % {"number": order.number},
            "order": order,
            "rows": rows,
            "header": header,
            "errors": errors,
            "enterable": order.status
            not in (PurchaseOrderStatus.DRAFT, PurchaseOrderStatus.CANCELLED),
        },
        status=status,
    )


@page(PROCUREMENT_VIEW)
def invoice_detail(request: HttpRequest, invoice_id: int) -> HttpResponse:
    """One invoice: its lines, the match line by line, and its review."""
    found = selectors.get_invoice(request.user, invoice_id)
    invoice = SupplierInvoice.objects.select_related(
        "supplier", "purchase_order__store__node", "entered_by"
    ).get(pk=found.pk)
    review = invoice.reviews.select_related("resolved_by").order_by("-id").first()
    return render_page(
        request,
        "procurement/invoice_detail.html",
        {
            "title": _("Invoice %(number)s") % {"number": invoice.invoice_number},
            "invoice": invoice,
            "lines": list(invoice.lines.select_related("item").order_by("line_no")),
            "match": invoice.matches.order_by("-id").first(),
            "review": review,
            "reasons": _reasons(review.reasons if review else []),
            "may_resolve": review is not None
            and review.status == "open"
            and may(request, PROCUREMENT_INVOICE, invoice.org_node),
            "may_rematch": invoice.status == InvoiceStatus.IN_REVIEW
            and review is not None
            and review.status == "open"
            and may(request, PROCUREMENT_INVOICE, invoice.org_node),
        },
    )


def _reasons(codes: list[str]) -> list[str]:
    labels = dict(ReviewReason.choices)
    return [str(labels.get(code, code)) for code in codes]


@page(PROCUREMENT_INVOICE)
def review_queue(request: HttpRequest) -> HttpResponse:
    """Invoices that did not match, oldest first; `?export=xlsx|csv` downloads every one."""
    rows = selectors.review_queue_for(request.user).select_related(
        "invoice__purchase_order__store__node"
    )
    if wanted := export_format(request):
        every = rows.iterator(chunk_size=EXPORT_CHUNK)
        return export_table(wanted, "invoice-review", REVIEW_COLUMNS, every)
    entries = list(rows[:RECENT])
    for entry in entries:
        entry.reason_labels = _reasons(entry.reasons)  # type: ignore[attr-defined]
    return render_page(
        request,
        "procurement/review_queue.html",
        {"title": _("Invoice review"), "entries": entries},
    )


@page(PROCUREMENT_INVOICE)
@require_POST
def review_resolve(request: HttpRequest, entry_id: int) -> HttpResponse:
    """Accept (payable) or reject (a note is required) an invoice in review."""
    entry = selectors.get_review(request.user, entry_id)
    accept = request.POST.get("decision") == "accept"
    try:
        services.resolve_review(
            entry, actor=request.user, accept=accept, note=request.POST.get("note", "")
        )
    except DomainError as error:
        if error.http_status in (403, 404):
            raise
        _by_line, general = problems_by_line(error)
        for text in general or [error.message]:
            messages.error(request, text)
        return redirect("procurement:invoice_detail", invoice_id=entry.invoice_id)
    messages.success(request, _("Accepted: the invoice is payable.") if accept else _("Rejected."))
    return redirect("procurement:review_queue")


@dataclass
class ProblemRow:
    """One problem of an uploaded file, as the page shows it."""

    row: int | None
    column: str
    message: str
    code: str


def _problem_rows(error: DomainError) -> list[ProblemRow]:
    problems = error.details.get("problems") if isinstance(error.details, dict) else None
    if not problems:
        return [ProblemRow(None, "", error.message, error.code)]
    return [
        ProblemRow(
            problem["details"].get("row"),
            str(problem["details"].get("column") or ""),
            str(problem["message"]),
            str(problem["code"]),
        )
        for problem in problems
    ]


@page(PROCUREMENT_INVOICE)
@require_http_methods(["GET", "POST"])
def invoice_import(request: HttpRequest) -> HttpResponse:
    """Upload a file of supplier invoices (CSV or .xlsx): every problem of it at once, or what
    it created (or would create, on a dry run)."""
    problems: list[ProblemRow] = []
    result = None
    status = 200
    options = {"dry_run": False, "queue_unknown_po": False}
    if request.method == "POST":
        options = {name: bool(request.POST.get(name)) for name in options}
        upload = request.FILES.get("file")
        if upload is None:
            problems.append(ProblemRow(None, "", _("Choose the file to import."), "required"))
        else:
            try:
                result = services.import_invoices(
                    upload.read(MAX_IMPORT_BYTES + 1),
                    upload.name or "",
                    actor=request.user,
                    **options,
                )
            except DomainError as error:
                if error.http_status in (403, 404):
                    raise
                problems = _problem_rows(error)
        if problems:
            status = 422
        elif result is not None and not result.dry_run:
            messages.success(
                request,
                _("%(count)s invoices imported: %(payable)s payable, %(review)s in review.")
                % {
                    "count": result.invoice_count,
                    "payable": result.payable_count,
                    "review": result.in_review_count,
                },
            )
    return render_page(
        request,
        "procurement/invoice_import.html",
        {
            "title": _("Import supplier invoices"),
            "problems": problems,
            "result": result,
            "options": options,
            "columns": [
                {
                    "label": column.label,
                    "names": column.names,
                    "required": column.required,
                }
                for column in COLUMNS
            ],
            "max_mb": MAX_IMPORT_BYTES >> 20,
        },
        status=status,
    )


@page(PROCUREMENT_INVOICE)
@require_POST
def invoice_rematch(request: HttpRequest, invoice_id: int) -> HttpResponse:
    """Match an invoice in review again (after a late delivery, say)."""
    invoice = selectors.get_invoice(request.user, invoice_id)
    try:
        services.rematch_invoice(invoice, actor=request.user)
    except DomainError as error:
        if error.http_status in (403, 404):
            raise
        for text in problem_messages(error):
            messages.error(request, text)
    else:
        invoice.refresh_from_db(fields=["status"])
        if invoice.status == InvoiceStatus.PAYABLE:
            messages.success(request, _("Matched: the invoice is payable."))
        else:
            messages.warning(request, _("It still does not match: it stays in the review queue."))
    return redirect("procurement:invoice_detail", invoice_id=invoice_id)


urlpatterns = [
    path("invoices/", invoice_list, name="invoice_list"),
    path("invoices/import/", invoice_import, name="invoice_import"),
    path("invoices/<int:invoice_id>/rematch/", invoice_rematch, name="invoice_rematch"),
    path("invoices/review/", review_queue, name="review_queue"),
    path("invoices/review/<int:entry_id>/resolve/", review_resolve, name="review_resolve"),
    path("invoices/<int:invoice_id>/", invoice_detail, name="invoice_detail"),
    path("orders/<int:order_id>/invoice/", invoice_new, name="invoice_new"),
]
