"""Store requisitions (要货): the list (waiting for approval first) and one requisition with its
lines, its approval request and the purchase orders and transfer orders it created."""

from __future__ import annotations

from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backroom.approvals import runtime
from backroom.procurement import selectors
from backroom.procurement.choices import RequisitionStatus
from backroom.procurement.models import Requisition
from backroom.procurement.permissions import PROCUREMENT_VIEW
from backroom.procurement.services.orders import REQUISITION_DOCUMENT_TYPE
from backroom.procurement.views.common import EXPORT_CHUNK, RECENT, local_time
from backroom.web.errors import page
from backroom.web.exports import Column, export_format, export_table
from backroom.web.rendering import render_page

REQUISITION_COLUMNS = [
    Column(gettext_lazy("Number"), lambda requisition: requisition.number),
    Column(gettext_lazy("Created at"), lambda requisition: local_time(requisition.created_at)),
    Column(gettext_lazy("Store code"), lambda requisition: requisition.store.node.code),
    Column(gettext_lazy("Store"), lambda requisition: requisition.store.node.name),
    Column(gettext_lazy("Receiving location"), lambda requisition: requisition.location.code),
    Column(gettext_lazy("Status"), lambda requisition: str(requisition.get_status_display())),
    Column(gettext_lazy("Urgent"), lambda requisition: requisition.is_urgent),
    Column(gettext_lazy("Needed by"), lambda requisition: requisition.needed_by),
    Column(gettext_lazy("Currency"), lambda requisition: requisition.currency),
    Column(gettext_lazy("Estimated amount"), lambda requisition: requisition.estimated_amount),
    Column(gettext_lazy("Lines"), lambda requisition: requisition.line_count),
    Column(gettext_lazy("Note"), lambda requisition: requisition.note),
]


@page(PROCUREMENT_VIEW)
def requisition_list(request: HttpRequest) -> HttpResponse:
    """Requisitions waiting for approval, then the recent ones; `?export=xlsx|csv` downloads
    every one the user may see."""
    rows = selectors.requisitions_for(request.user)
    if wanted := export_format(request):
        every = rows.select_related("location").annotate(line_count=Count("lines"))
        return export_table(
            wanted, "requisitions", REQUISITION_COLUMNS, every.iterator(chunk_size=EXPORT_CHUNK)
        )
    return render_page(
        request,
        "procurement/requisition_list.html",
        {
            "title": _("Requisitions"),
            "pending": list(rows.filter(status=RequisitionStatus.PENDING_APPROVAL)),
            "recent": list(rows.exclude(status=RequisitionStatus.PENDING_APPROVAL)[:RECENT]),
        },
    )


@page(PROCUREMENT_VIEW)
def requisition_detail(request: HttpRequest, requisition_id: int) -> HttpResponse:
    """One requisition: lines, approval, the POs and transfer orders it created."""
    found = selectors.get_requisition(request.user, requisition_id)
    requisition = Requisition.objects.select_related(
        "store__node", "location", "created_by", "submitted_by"
    ).get(pk=found.pk)
    lines = list(
        requisition.lines.select_related(
            "item",
            "supplier_item__supplier",
            "source_site__node",
            "purchase_order_line__order",
            "transfer_order",
        ).order_by("line_no")
    )
    orders = {
        line.purchase_order_line.order.pk: line.purchase_order_line.order
        for line in lines
        if line.purchase_order_line is not None
    }
    transfers = {
        line.transfer_order.pk: line.transfer_order
        for line in lines
        if line.transfer_order is not None
    }
    for order in requisition.purchase_orders.select_related("supplier"):
        orders.setdefault(order.pk, order)
    return render_page(
        request,
        "procurement/requisition_detail.html",
        {
            "title": _("Requisition %(number)s") % {"number": requisition.number},
            "requisition": requisition,
            "lines": lines,
            "approval": runtime.latest_request(REQUISITION_DOCUMENT_TYPE, str(requisition.pk)),
            "orders": sorted(orders.values(), key=lambda order: order.pk),
            "transfers": sorted(transfers.values(), key=lambda order: order.pk),
        },
    )


urlpatterns = [
    path("requisitions/", requisition_list, name="requisition_list"),
    path("requisitions/<int:requisition_id>/", requisition_detail, name="requisition_detail"),
]
