"""Reads of procurement data, scoped to the actor: store users see their store's requisitions,
POs and receipts; buyers at group level see every store's. `on_order` is the planning app's
unscoped read of what is still expected."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import F, QuerySet, Sum

from backroom.catalog.models import Item
from backroom.kernel.exceptions import NotFound
from backroom.org.models import Site
from backroom.procurement.choices import OPEN_PO_STATUSES, ReviewStatus
from backroom.procurement.models import (
    DeliveryCalendar,
    OrderGuide,
    OrderGuideLine,
    PriceList,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    Requisition,
    ReviewEntry,
    Supplier,
    SupplierInvoice,
)
from backroom.procurement.permissions import PROCUREMENT_INVOICE, PROCUREMENT_VIEW

ZERO = Decimal(0)


def on_order(store: Site, items: Iterable[Item | int]) -> dict[int, Decimal]:
    """Open PO quantities not yet received, in base units, per item id (0 for items with none).

    Open means approved, sent or partially received; a closed or cancelled PO expects nothing.
    """
    ids = {item if isinstance(item, int) else item.pk for item in items}
    result = dict.fromkeys(ids, ZERO)
    rows = (
        PurchaseOrderLine.objects.filter(
            order__store=store, order__status__in=OPEN_PO_STATUSES, item_id__in=ids
        )
        .filter(base_quantity__gt=F("received_base"))
        .values("item_id")
        .annotate(open=Sum(F("base_quantity") - F("received_base")))
    )
    for row in rows:
        result[row["item_id"]] = row["open"]
    return result


def suppliers_for(actor: Any, permission: str = PROCUREMENT_VIEW) -> QuerySet[Supplier]:
    """Suppliers defined at, above or below the nodes where the actor holds `permission`."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return Supplier.objects.none()
    paths = actor.scope_paths(permission)
    rows = Supplier.objects.select_related("node").order_by("code")
    if paths is None:
        return rows
    if not paths:
        return rows.none()
    from django.db.models import Q

    query = Q()
    for path in paths:
        ancestors = [path[: index + 1] for index, char in enumerate(path) if char == "/" and index]
        query |= Q(node__path__startswith=path) | Q(node__path__in=ancestors)
    return rows.filter(query)


def get_supplier(actor: Any, supplier_id: int) -> Supplier:
    try:
        return suppliers_for(actor).get(pk=supplier_id)
    except Supplier.DoesNotExist:
        raise NotFound() from None


def price_lists_for(actor: Any, supplier: Supplier) -> QuerySet[PriceList]:
    get_supplier(actor, supplier.pk)
    return (
        PriceList.objects.filter(supplier=supplier)
        .select_related("node")
        .prefetch_related("lines__supplier_item__item")
        .order_by("-valid_from", "-id")
    )


def order_guides_for(actor: Any, *, store: Site | None = None) -> QuerySet[OrderGuide]:
    """Order guides of the stores where the actor holds procurement.view, lines in order:
    the suppliers' (by code), then the warehouses' and kitchens' (by code)."""
    from django.db.models import Prefetch

    rows = (
        OrderGuide.objects.restrict(actor, PROCUREMENT_VIEW)
        .select_related("supplier", "source_site__node")
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=OrderGuideLine.objects.select_related("supplier_item", "item").order_by(
                    "position", "id"
                ),
            )
        )
    )
    if store is not None:
        rows = rows.filter(store=store)
    return rows.order_by(
        "store_id", F("supplier__code").asc(nulls_last=True), "source_site__node__code"
    )


def get_source_site(site_id: int) -> Site:
    """The site a store names as its source (a warehouse or central kitchen, checked by the
    service): not scoped, as the permission that matters is the one at the store; 404 when
    there is no such site."""
    site = Site.objects.select_related("node").filter(pk=site_id).first()
    if site is None:
        raise NotFound()
    return site


def get_distribution_site(actor: Any, site_id: int, permission: str = PROCUREMENT_VIEW) -> Site:
    """A warehouse or central kitchen whose distribution schedule the actor may see: holding
    `permission` at, above or below it (as for suppliers); 404 otherwise."""
    from backroom.org.choices import NodeKind

    site = (
        Site.objects.select_related("node")
        .filter(pk=site_id, node__kind__in=[NodeKind.WAREHOUSE, NodeKind.KITCHEN])
        .first()
    )
    if site is None or actor is None or not getattr(actor, "is_authenticated", False):
        raise NotFound()
    paths = actor.scope_paths(permission)
    if paths is not None and not any(
        site.node.path.startswith(path) or path.startswith(site.node.path) for path in paths
    ):
        raise NotFound()
    return site


def distribution_calendars_for(actor: Any, site: Site) -> QuerySet[DeliveryCalendar]:
    """The warehouse's or kitchen's delivery calendars per store or region."""
    get_distribution_site(actor, site.pk)
    return (
        DeliveryCalendar.objects.filter(source_site=site)
        .select_related("node")
        .prefetch_related("exceptions")
        .order_by("node__path")
    )


def requisitions_for(actor: Any, *, store: Site | None = None) -> QuerySet[Requisition]:
    rows = Requisition.objects.restrict(actor, PROCUREMENT_VIEW).select_related("store__node")
    if store is not None:
        rows = rows.filter(store=store)
    return rows.order_by("-id")


def get_requisition(actor: Any, requisition_id: int) -> Requisition:
    try:
        return requisitions_for(actor).get(pk=requisition_id)
    except (Requisition.DoesNotExist, ValueError):
        raise NotFound() from None


def purchase_orders_for(
    actor: Any, *, store: Site | None = None, status: str | None = None
) -> QuerySet[PurchaseOrder]:
    rows = PurchaseOrder.objects.restrict(actor, PROCUREMENT_VIEW).select_related(
        "store__node", "supplier"
    )
    if store is not None:
        rows = rows.filter(store=store)
    if status:
        rows = rows.filter(status=status)
    return rows.order_by("-id")


def get_purchase_order(actor: Any, order_id: int) -> PurchaseOrder:
    try:
        return purchase_orders_for(actor).get(pk=order_id)
    except (PurchaseOrder.DoesNotExist, ValueError):
        raise NotFound() from None


def receipts_for(actor: Any, *, order: PurchaseOrder | None = None) -> QuerySet[Receipt]:
    rows = Receipt.objects.restrict(actor, PROCUREMENT_VIEW).select_related(
        "store__node", "purchase_order"
    )
    if order is not None:
        rows = rows.filter(purchase_order=order)
    return rows.order_by("-id")


def get_receipt(actor: Any, receipt_id: int) -> Receipt:
    try:
        return receipts_for(actor).get(pk=receipt_id)
    except (Receipt.DoesNotExist, ValueError):
        raise NotFound() from None


def invoices_for(actor: Any) -> QuerySet[SupplierInvoice]:
    return (
        SupplierInvoice.objects.restrict(actor, PROCUREMENT_VIEW)
        .select_related("supplier", "purchase_order")
        .order_by("-id")
    )


def get_invoice(actor: Any, invoice_id: int) -> SupplierInvoice:
    try:
        return invoices_for(actor).get(pk=invoice_id)
    except (SupplierInvoice.DoesNotExist, ValueError):
        raise NotFound() from None


def review_queue_for(actor: Any, *, open_only: bool = True) -> QuerySet[ReviewEntry]:
    """Invoices waiting for a person, for those who hold procurement.invoice over them."""
    rows = ReviewEntry.objects.restrict(actor, PROCUREMENT_INVOICE).select_related(
        "invoice__supplier", "match"
    )
    if open_only:
        rows = rows.filter(status=ReviewStatus.OPEN)
    return rows.order_by("id")


def get_review(actor: Any, entry_id: int) -> ReviewEntry:
    try:
        return review_queue_for(actor, open_only=False).get(pk=entry_id)
    except (ReviewEntry.DoesNotExist, ValueError):
        raise NotFound() from None


@dataclass(frozen=True)
class PayableInvoice:
    """What finance posts of a payable invoice (a system read, by id)."""

    invoice: SupplierInvoice
    store: Site
    received_value: Decimal  # PO price × received quantity: what receiving booked to GRNI


def payable_invoice(invoice_id: int) -> PayableInvoice | None:
    """The invoice with its store and latest match, or None when it has no PO store."""
    invoice = (
        SupplierInvoice.objects.select_related(
            "supplier", "purchase_order__store__node", "purchase_order__store__legal_entity__node"
        )
        .filter(pk=invoice_id)
        .first()
    )
    if invoice is None or invoice.purchase_order is None:
        return None
    match = invoice.matches.order_by("-matched_at", "-id").first()
    expected = match.expected_amount if match is not None else invoice.net_amount
    return PayableInvoice(invoice, invoice.purchase_order.store, expected)


def invoices_by_id(invoice_ids: Iterable[int]) -> dict[int, SupplierInvoice]:
    """Invoices with their supplier, by id (finance's payables; a system read)."""
    return SupplierInvoice.objects.select_related("supplier").in_bulk(list(invoice_ids))
