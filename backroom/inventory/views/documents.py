"""Waste (报损) and transfer order (调拨) pages, phone first.

Waste: the list (waiting for approval first), a form to record waste with a photo from the
phone's camera, and the record with approve / reject / cancel. Transfers: the list (arriving
and leaving), a form for a new order, and the order with its dispatch and receipt forms (per
line quantities and a discrepancy reason). No JavaScript: adding a line re-renders the form.

Thin views: they parse what was typed, call the services and render; every error of a save is
shown at once, next to its line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.db.models import Case, Count, IntegerField, Sum, Value, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from backroom.approvals.choices import TaskStatus
from backroom.catalog.choices import STOCKED_KINDS
from backroom.catalog.selectors import items_for
from backroom.inventory import documents as reads
from backroom.inventory import services
from backroom.inventory.choices import (
    DiscrepancyReason,
    LocationKind,
    TransferStatus,
    WasteReason,
    WasteStatus,
)
from backroom.inventory.exceptions import BatchRejected
from backroom.inventory.models import Location, TransferOrder, WasteDocument
from backroom.inventory.permissions import INVENTORY_MOVE, INVENTORY_VIEW
from backroom.inventory.selectors import locations_for
from backroom.inventory.services import waste
from backroom.inventory.views.exporting import EXPORT_CHUNK, store_time
from backroom.kernel.exceptions import DomainError
from backroom.org.models import Site
from backroom.org.selectors import get_site, sites_for
from backroom.web.errors import page, problem_messages
from backroom.web.exports import Column, export_format, export_table
from backroom.web.forms import posted_id
from backroom.web.rendering import render_page

RECENT = 30
MAX_FORM_LINES = 30


def _line_errors(error: DomainError) -> tuple[dict[int, list[str]], list[str]]:
    """A batch error's messages by line index, or the error's own messages."""
    if isinstance(error, BatchRejected):
        by_line: dict[int, list[str]] = {}
        for row in error.lines:
            fields = (row.get("details") or {}).get("fields") or {}
            found = [str(message) for texts in fields.values() for message in texts]
            by_line.setdefault(row["index"], []).extend(found or [row["message"]])
        return by_line, []
    return {}, problem_messages(error)


def _typed(raw: str) -> str:
    """What was typed, with a decimal comma read as a point (2,5 → 2.5)."""
    value = raw.strip().replace(" ", "")
    if value.count(",") == 1 and "." not in value:
        value = value.replace(",", ".")
    return value


def _may(request: HttpRequest, permission: str, site: Site) -> bool:
    return bool(request.user.has_scoped_permission(permission, site.node))  # type: ignore[union-attr]


def _stock_locations(request: HttpRequest, site: Site | None = None) -> list[Location]:
    rows = (
        locations_for(request.user, INVENTORY_MOVE, site=site)
        .filter(is_active=True)
        .exclude(kind=LocationKind.IN_TRANSIT)
    )
    return list(rows)


def _items(request: HttpRequest) -> list[Any]:
    return list(items_for(request.user).filter(is_active=True, kind__in=STOCKED_KINDS))


@dataclass
class FormLine:
    """One line of a form as typed, with its errors."""

    values: dict[str, str]
    errors: list[str] = field(default_factory=list)

    def get(self, name: str) -> str:
        return self.values.get(name, "")


def _form_lines(data: Any, names: list[str], *, add: bool) -> list[FormLine]:
    """The lines typed in a form (fields repeated once per line), blank ones dropped."""
    columns = {name: data.getlist(name) for name in names}
    count = max((len(values) for values in columns.values()), default=0)
    lines = []
    for index in range(min(count, MAX_FORM_LINES)):
        values = {
            name: (columns[name][index] if index < len(columns[name]) else "").strip()
            for name in names
        }
        if values.get("item_id") or values.get("quantity"):
            lines.append(FormLine(values))
    if add or not lines:
        lines.append(FormLine({}))
    return lines


# --- waste (报损) ---------------------------------------------------------------------------


def _waste(request: HttpRequest, document_id: int) -> WasteDocument:
    document = reads.get_waste_document(request.user, document_id)
    return WasteDocument.objects.select_related(
        "site__node", "site__legal_entity", "submitted_by", "decided_by", "created_by"
    ).get(pk=document.pk)


WASTE_COLUMNS = [
    Column(gettext_lazy("Number"), lambda document: document.number),
    Column(gettext_lazy("Store code"), lambda document: document.site.node.code),
    Column(gettext_lazy("Store"), lambda document: document.site.node.name),
    Column(
        gettext_lazy("Occurred at"),
        lambda document: store_time(document.occurred_at, document.site),
    ),
    Column(gettext_lazy("Status"), lambda document: str(document.get_status_display())),
    Column(gettext_lazy("Lines"), lambda document: document.line_count),
    Column(gettext_lazy("Currency"), lambda document: document.currency),
    Column(gettext_lazy("Value"), lambda document: document.total_value),
    Column(gettext_lazy("Needs approval"), lambda document: document.requires_approval),
    Column(gettext_lazy("Submitted by"), lambda document: str(document.submitted_by or "")),
    Column(
        gettext_lazy("Submitted at"),
        lambda document: store_time(document.submitted_at, document.site),
    ),
    Column(gettext_lazy("Decided by"), lambda document: str(document.decided_by or "")),
    Column(
        gettext_lazy("Decided at"), lambda document: store_time(document.decided_at, document.site)
    ),
    Column(gettext_lazy("Decision reason"), lambda document: document.decision_reason),
    Column(
        gettext_lazy("Posted at"), lambda document: store_time(document.posted_at, document.site)
    ),
    Column(gettext_lazy("Note"), lambda document: document.note),
]


@page(INVENTORY_VIEW)
def waste_list(request: HttpRequest) -> HttpResponse:
    """Waste records waiting for approval first, then the recent ones; `?export=xlsx|csv`
    downloads every record the user may see."""
    rows = reads.waste_documents_for(request.user).select_related("site__legal_entity")
    if wanted := export_format(request):
        every = rows.annotate(line_count=Count("lines"))
        return export_table(wanted, "waste", WASTE_COLUMNS, every.iterator(chunk_size=EXPORT_CHUNK))
    pending = list(rows.filter(status=WasteStatus.PENDING_APPROVAL))
    recent = list(rows.exclude(status=WasteStatus.PENDING_APPROVAL)[:RECENT])
    return render_page(
        request,
        "inventory/waste_list.html",
        {
            "title": _("Waste"),
            "pending": pending,
            "recent": recent,
            "may_record": request.user.has_scoped_permission(INVENTORY_MOVE),  # type: ignore[union-attr]
        },
    )


WASTE_FIELDS = ["item_id", "location_id", "quantity", "unit", "reason", "lot_code", "line_note"]


@page(INVENTORY_MOVE)
@require_http_methods(["GET", "POST"])
def waste_new(request: HttpRequest) -> HttpResponse:
    """Record waste: one or more lines and a photo from the phone's camera."""
    sites = list(sites_for(request.user, INVENTORY_MOVE))
    data = request.POST if request.method == "POST" else request.GET
    site = None
    site_id = data.get("site_id", "")
    if site_id.isdigit():
        site = get_site(request.user, posted_id(site_id) or 0, INVENTORY_MOVE)
    elif len(sites) == 1:
        site = sites[0]
    adding = "add_line" in data
    lines = _form_lines(data, WASTE_FIELDS, add=adding)
    errors: list[str] = []
    status = 200
    if request.method == "POST" and not adding:
        if site is None:
            errors.append(_("Choose a store."))
        else:
            inputs = [
                services.WasteLineInput(
                    item_id=posted_id(line.get("item_id")) or 0,
                    location_id=posted_id(line.get("location_id")) or 0,
                    quantity=_typed(line.get("quantity")) or "0",  # type: ignore[arg-type]
                    reason=line.get("reason"),
                    unit=line.get("unit") or None,
                    lot_code=line.get("lot_code") or None,
                    note=line.get("line_note"),
                )
                for line in lines
                if line.values
            ]
            try:
                document = services.create_waste(
                    site,
                    inputs,
                    actor=request.user,
                    note=data.get("note", "").strip(),
                    photo=request.FILES.get("photo"),
                )
            except DomainError as error:
                by_line, errors = _line_errors(error)
                for index, texts in by_line.items():
                    if index < len(lines):
                        lines[index].errors.extend(texts)
            else:
                if document.status == WasteStatus.PENDING_APPROVAL:
                    messages.warning(
                        request,
                        _("%(number)s is waiting for approval.") % {"number": document.number},
                    )
                else:
                    messages.success(
                        request, _("%(number)s recorded.") % {"number": document.number}
                    )
                return redirect("inventory:waste_detail", document_id=document.pk)
        status = 422
    return render_page(
        request,
        "inventory/waste_new.html",
        {
            "title": _("Record waste"),
            "sites": sites,
            "site": site,
            "locations": _stock_locations(request, site) if site is not None else [],
            "items": _items(request) if site is not None else [],
            "reasons": WasteReason.choices,
            "lines": lines,
            "note": data.get("note", ""),
            "errors": errors,
        },
        status=status,
    )


def _waste_page(
    request: HttpRequest, document: WasteDocument, *, errors: list[str] | None = None
) -> HttpResponse:
    submitter = document.submitted_by_id
    approval = waste.approval_request(document)
    task = waste.pending_task(document, request.user)
    return render_page(
        request,
        "inventory/waste_detail.html",
        {
            "title": _("Waste %(number)s") % {"number": document.number},
            "document": document,
            "lines": list(reads.waste_lines(document)),
            "approval": approval,
            "waiting_for": [
                task.assignee
                for task in approval.tasks.filter(status=TaskStatus.PENDING)
                .select_related("assignee")
                .order_by("pk")
            ]
            if approval is not None
            else [],
            "may_decide": task is not None and submitter != request.user.pk,
            "is_submitter": submitter == request.user.pk,
            "may_cancel": (
                document.status == WasteStatus.DRAFT
                and _may(request, INVENTORY_MOVE, document.site)
            )
            or (
                document.status == WasteStatus.PENDING_APPROVAL
                and approval is not None
                and approval.requester_id == request.user.pk
            ),
            "may_submit": document.status == WasteStatus.DRAFT
            and _may(request, INVENTORY_MOVE, document.site),
            "errors": errors or [],
        },
        status=422 if errors else 200,
    )


@page(INVENTORY_VIEW)
def waste_detail(request: HttpRequest, document_id: int) -> HttpResponse:
    """One waste record: lines, value, photo, approval."""
    return _waste_page(request, _waste(request, document_id))


@page(INVENTORY_VIEW)
def waste_photo(request: HttpRequest, document_id: int) -> HttpResponse:
    """The record's photo, only to those who may see the record."""
    document = _waste(request, document_id)
    if not document.photo:
        raise Http404()
    return reads.photo_response(document)  # type: ignore[return-value]


def _waste_action(request: HttpRequest, document_id: int, action: str) -> HttpResponse:
    document = _waste(request, document_id)
    reason = request.POST.get("reason", "").strip()
    try:
        if action == "approve":
            document = services.approve_waste(document, actor=request.user, reason=reason)
            messages.success(
                request,
                _("Approved and posted.")
                if document.status == WasteStatus.POSTED
                else _("Approved: it waits for the next approver."),
            )
        elif action == "reject":
            document = services.reject_waste(document, actor=request.user, reason=reason)
            messages.success(request, _("Rejected."))
        elif action == "cancel":
            document = services.cancel_waste(document, actor=request.user, reason=reason)
            messages.success(request, _("Cancelled."))
        else:
            document = services.submit_waste(document, actor=request.user)
            messages.success(request, _("Submitted."))
    except DomainError as error:
        if error.http_status in (403, 404):
            raise
        response = _waste_page(
            request, _waste(request, document_id), errors=problem_messages(error)
        )
        response.status_code = error.http_status
        return response
    return redirect("inventory:waste_detail", document_id=document.pk)


@page(INVENTORY_VIEW)  # the approval task is the authority: approvers need no other right
@require_POST
def waste_approve(request: HttpRequest, document_id: int) -> HttpResponse:
    return _waste_action(request, document_id, "approve")


@page(INVENTORY_VIEW)  # the approval task is the authority: approvers need no other right
@require_POST
def waste_reject(request: HttpRequest, document_id: int) -> HttpResponse:
    return _waste_action(request, document_id, "reject")


@page(INVENTORY_MOVE)
@require_POST
def waste_cancel(request: HttpRequest, document_id: int) -> HttpResponse:
    return _waste_action(request, document_id, "cancel")


@page(INVENTORY_MOVE)
@require_POST
def waste_submit(request: HttpRequest, document_id: int) -> HttpResponse:
    return _waste_action(request, document_id, "submit")


# --- transfer orders (调拨) ------------------------------------------------------------------

OPEN_TRANSFERS = (
    TransferStatus.DRAFT,
    TransferStatus.DISPATCHED,
    TransferStatus.PARTIALLY_RECEIVED,
)


def _order(request: HttpRequest, order_id: int) -> TransferOrder:
    return reads.get_transfer_order(request.user, order_id)


def _currency(order: TransferOrder) -> str:
    return str(order.from_site.legal_entity.base_currency)


TRANSFER_COLUMNS = [
    Column(gettext_lazy("Number"), lambda order: order.number),
    Column(gettext_lazy("Status"), lambda order: str(order.get_status_display())),
    Column(gettext_lazy("From store code"), lambda order: order.from_site.node.code),
    Column(gettext_lazy("From store"), lambda order: order.from_site.node.name),
    Column(gettext_lazy("From location"), lambda order: order.from_location.code),
    Column(gettext_lazy("To store code"), lambda order: order.to_site.node.code),
    Column(gettext_lazy("To store"), lambda order: order.to_site.node.name),
    Column(gettext_lazy("To location"), lambda order: order.to_location.code),
    Column(gettext_lazy("Expected on"), lambda order: order.expected_date),
    Column(gettext_lazy("Lines"), lambda order: order.line_count),
    Column(gettext_lazy("Currency"), _currency),
    Column(gettext_lazy("Dispatched value"), lambda order: order.dispatched_total),
    Column(gettext_lazy("Discrepancy value"), lambda order: order.discrepancy_total),
    Column(gettext_lazy("Created at"), lambda order: store_time(order.created_at, order.from_site)),
    Column(
        gettext_lazy("Dispatched at"),
        lambda order: store_time(order.dispatched_at, order.from_site),
    ),
    Column(gettext_lazy("Received at"), lambda order: store_time(order.received_at, order.to_site)),
    Column(
        gettext_lazy("Cancelled at"),
        lambda order: store_time(order.cancelled_at, order.from_site),
    ),
    Column(gettext_lazy("Cancel reason"), lambda order: order.cancel_reason),
    Column(gettext_lazy("Note"), lambda order: order.note),
]


@page(INVENTORY_VIEW)
def transfer_list(request: HttpRequest) -> HttpResponse:
    """Open transfer orders (arriving ones first), then the recent closed ones;
    `?export=xlsx|csv` downloads every order the user may see (sending or receiving)."""
    rows = reads.transfer_orders_for(request.user)
    if wanted := export_format(request):
        every = rows.select_related("from_site__legal_entity").annotate(
            line_count=Count("lines"),
            dispatched_total=Sum("lines__dispatched_value"),
            discrepancy_total=Sum("lines__discrepancy_value"),
        )
        return export_table(
            wanted, "transfers", TRANSFER_COLUMNS, every.iterator(chunk_size=EXPORT_CHUNK)
        )
    open_rows = rows.filter(status__in=OPEN_TRANSFERS).order_by(
        Case(
            When(status=TransferStatus.DISPATCHED, then=Value(0)),
            When(status=TransferStatus.PARTIALLY_RECEIVED, then=Value(1)),
            default=Value(2),
            output_field=IntegerField(),
        ),
        "-id",
    )
    return render_page(
        request,
        "inventory/transfer_list.html",
        {
            "title": _("Transfers"),
            "open_orders": list(open_rows),
            "recent": list(rows.exclude(status__in=OPEN_TRANSFERS)[:RECENT]),
            "may_create": request.user.has_scoped_permission(INVENTORY_MOVE),  # type: ignore[union-attr]
        },
    )


TRANSFER_FIELDS = ["item_id", "quantity", "unit", "lot_code"]


def _destinations(request: HttpRequest, sources: list[Location]) -> list[Location]:
    """Open stock locations at the other sites of the legal entities the user moves stock in.

    A store sends to its sister stores, so the list is not limited to the user's own sites;
    it shows only location names, never stock."""
    entities = {location.site.legal_entity_id for location in sources}
    return list(
        Location.objects.filter(site__legal_entity_id__in=entities, is_active=True)
        .exclude(kind=LocationKind.IN_TRANSIT)
        .select_related("site__node")
        .order_by("site__node__code", "code")
    )


@page(INVENTORY_MOVE)
@require_http_methods(["GET", "POST"])
def transfer_new(request: HttpRequest) -> HttpResponse:
    """A new transfer order from one of the user's locations to another site's location."""
    data = request.POST if request.method == "POST" else request.GET
    sources = list(
        locations_for(request.user, INVENTORY_MOVE)
        .filter(is_active=True)
        .exclude(kind=LocationKind.IN_TRANSIT)
        .select_related("site")
    )
    adding = "add_line" in data
    lines = _form_lines(data, TRANSFER_FIELDS, add=adding)
    errors: list[str] = []
    status = 200
    if request.method == "POST" and not adding:
        try:
            order = services.create_transfer_order(
                from_location_id=posted_id(data.get("from_location_id", "")) or 0,
                to_location_id=posted_id(data.get("to_location_id", "")) or 0,
                lines=[
                    services.TransferLineInput(
                        item_id=posted_id(line.get("item_id")) or 0,
                        quantity=_typed(line.get("quantity")) or "0",  # type: ignore[arg-type]
                        unit=line.get("unit") or None,
                        lot_code=line.get("lot_code") or None,
                    )
                    for line in lines
                    if line.values
                ],
                actor=request.user,
                note=data.get("note", "").strip(),
            )
        except DomainError as error:
            if error.http_status in (403, 404):
                raise
            by_line, errors = _line_errors(error)
            for index, texts in by_line.items():
                if index < len(lines):
                    lines[index].errors.extend(texts)
        else:
            messages.success(request, _("%(number)s created.") % {"number": order.number})
            return redirect("inventory:transfer_detail", order_id=order.pk)
        status = 422
    return render_page(
        request,
        "inventory/transfer_new.html",
        {
            "title": _("New transfer"),
            "sources": sources,
            "destinations": _destinations(request, sources),
            "from_location_id": posted_id(data.get("from_location_id", "")) or 0,
            "to_location_id": posted_id(data.get("to_location_id", "")) or 0,
            "items": _items(request),
            "lines": lines,
            "note": data.get("note", ""),
            "errors": errors,
        },
        status=status,
    )


@dataclass
class OrderRow:
    line: Any
    typed: str = ""
    reason: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def outstanding(self) -> Decimal:
        return (self.line.dispatched_quantity or Decimal(0)) - self.line.received_quantity


def _transfer_page(
    request: HttpRequest,
    order: TransferOrder,
    *,
    rows: list[OrderRow] | None = None,
    errors: list[str] | None = None,
    status: int = 200,
) -> HttpResponse:
    if rows is None:
        rows = []
        for line in reads.transfer_lines(order):
            row = OrderRow(line)
            if order.status == TransferStatus.DRAFT:
                row.typed = f"{line.requested_quantity.normalize():f}"
            else:
                row.typed = f"{max(row.outstanding, Decimal(0)).normalize():f}"
            rows.append(row)
    return render_page(
        request,
        "inventory/transfer_detail.html",
        {
            "title": _("Transfer %(number)s") % {"number": order.number},
            "order": order,
            "rows": rows,
            "reasons": DiscrepancyReason.choices,
            "may_dispatch": order.status == TransferStatus.DRAFT
            and _may(request, INVENTORY_MOVE, order.from_site),
            "may_receive": order.status
            in (TransferStatus.DISPATCHED, TransferStatus.PARTIALLY_RECEIVED)
            and _may(request, INVENTORY_MOVE, order.to_site),
            "may_cancel": order.status == TransferStatus.DRAFT
            and (
                _may(request, INVENTORY_MOVE, order.from_site)
                or _may(request, INVENTORY_MOVE, order.to_site)
            ),
            "errors": errors or [],
        },
        status=status,
    )


@page(INVENTORY_VIEW)
def transfer_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    """One transfer order with its dispatch or receipt form."""
    return _transfer_page(request, _order(request, order_id))


def _typed_rows(
    request: HttpRequest, order: TransferOrder, prefix: str
) -> tuple[list[OrderRow], list[int]]:
    rows = []
    ids = []
    for line in reads.transfer_lines(order):
        row = OrderRow(
            line,
            typed=_typed(request.POST.get(f"{prefix}_{line.pk}", "")),
            reason=request.POST.get(f"reason_{line.pk}", ""),
        )
        rows.append(row)
        ids.append(line.pk)
    return rows, ids


def _apply_errors(rows: list[OrderRow], error: DomainError) -> list[str]:
    by_line, general = _line_errors(error)
    for index, texts in by_line.items():
        if index < len(rows):
            rows[index].errors.extend(texts)
    return general


@page(INVENTORY_MOVE)
@require_POST
def transfer_dispatch(request: HttpRequest, order_id: int) -> HttpResponse:
    """Send the order: the dispatched quantity of every line (0 sends none of it)."""
    order = _order(request, order_id)
    rows, _ids = _typed_rows(request, order, "dispatched")
    try:
        services.dispatch_transfer_order(
            order,
            [services.DispatchLine(row.line.pk, row.typed or "0") for row in rows],  # type: ignore[arg-type]
            actor=request.user,
        )
    except DomainError as error:
        if error.http_status in (403, 404):
            raise
        general = _apply_errors(rows, error)
        return _transfer_page(
            request, _order(request, order_id), rows=rows, errors=general, status=error.http_status
        )
    messages.success(request, _("Dispatched."))
    return redirect("inventory:transfer_detail", order_id=order.pk)


@page(INVENTORY_MOVE)
@require_POST
def transfer_receive(request: HttpRequest, order_id: int) -> HttpResponse:
    """Record what arrived, with a reason for each line that differs; closes the order unless
    the rest is still on its way."""
    order = _order(request, order_id)
    rows, _ids = _typed_rows(request, order, "received")
    keep_open = request.POST.get("keep_open") == "1"
    try:
        services.receive_transfer_order(
            order,
            [
                services.ReceiptLine(row.line.pk, row.typed or "0", row.reason)  # type: ignore[arg-type]
                for row in rows
            ],
            actor=request.user,
            close=not keep_open,
        )
    except DomainError as error:
        if error.http_status in (403, 404):
            raise
        general = _apply_errors(rows, error)
        return _transfer_page(
            request, _order(request, order_id), rows=rows, errors=general, status=error.http_status
        )
    messages.success(request, _("Receipt recorded."))
    return redirect("inventory:transfer_detail", order_id=order.pk)


@page(INVENTORY_MOVE)
@require_POST
def transfer_cancel(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _order(request, order_id)
    try:
        services.cancel_transfer_order(
            order, actor=request.user, reason=request.POST.get("reason", "").strip()
        )
    except DomainError as error:
        if error.http_status in (403, 404):
            raise
        return _transfer_page(
            request,
            _order(request, order_id),
            errors=problem_messages(error),
            status=error.http_status,
        )
    messages.success(request, _("Cancelled."))
    return redirect("inventory:transfer_detail", order_id=order.pk)


urlpatterns = [
    path("waste/", waste_list, name="waste_list"),
    path("waste/new/", waste_new, name="waste_new"),
    path("waste/<int:document_id>/", waste_detail, name="waste_detail"),
    path("waste/<int:document_id>/photo/", waste_photo, name="waste_photo"),
    path("waste/<int:document_id>/approve/", waste_approve, name="waste_approve"),
    path("waste/<int:document_id>/reject/", waste_reject, name="waste_reject"),
    path("waste/<int:document_id>/cancel/", waste_cancel, name="waste_cancel"),
    path("waste/<int:document_id>/submit/", waste_submit, name="waste_submit"),
    path("transfers/", transfer_list, name="transfer_list"),
    path("transfers/new/", transfer_new, name="transfer_new"),
    path("transfers/<int:order_id>/", transfer_detail, name="transfer_detail"),
    path("transfers/<int:order_id>/dispatch/", transfer_dispatch, name="transfer_dispatch"),
    path("transfers/<int:order_id>/receive/", transfer_receive, name="transfer_receive"),
    path("transfers/<int:order_id>/cancel/", transfer_cancel, name="transfer_cancel"),
]
