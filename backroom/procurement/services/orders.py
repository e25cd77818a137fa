"""Purchase orders (采购单): draft → approved → sent → (partially) received, closed, cancelled.

A PO is one supplier delivering to one store's receiving location. POs come from approved
requisitions (created approved) or from a buyer (created as drafts, then approved). Sending
publishes `procurement.po.sent` with the whole order, for the supplier's webhook endpoint; the
PDF by e-mail is not built yet. A PO from a requisition can only be sent once the
requisition's approval request is finally approved (`approval_required`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from backroom.approvals import runtime
from backroom.catalog.exceptions import MissingConversion, UnknownUnit
from backroom.catalog.units import to_base
from backroom.events.services import publish
from backroom.kernel import clock
from backroom.kernel.exceptions import DomainError, ValidationFailed
from backroom.kernel.money import quantize_money
from backroom.kernel.numbering import next_document_number
from backroom.org.models import Site
from backroom.procurement.choices import PurchaseOrderStatus
from backroom.procurement.events import (
    PurchaseOrderApproved,
    PurchaseOrderCancelled,
    PurchaseOrderClosed,
    PurchaseOrderCreated,
    PurchaseOrderSent,
)
from backroom.procurement.exceptions import (
    NoExchangeRate,
    PurchaseOrderStateError,
    SupplierInactive,
    UnknownSupplierItem,
    raise_all,
)
from backroom.procurement.models import (
    PurchaseOrder,
    PurchaseOrderLine,
    Requisition,
    Supplier,
    SupplierItem,
)
from backroom.procurement.permissions import PROCUREMENT_MANAGE
from backroom.procurement.services.calendar import next_delivery_dates
from backroom.procurement.services.common import (
    ZERO,
    actor_id,
    audit,
    receiving_location,
    require_at,
    store_today,
)
from backroom.procurement.services.pricing import order_quantity_problems, price_for

REQUISITION_DOCUMENT_TYPE = "procurement.requisition"
MAX_LINES = 500


@dataclass(frozen=True)
class PurchaseOrderLineInput:
    """One item to order, `quantity` in the supplier item's purchase unit; the price comes from
    the price list in force unless given."""

    item_id: int
    quantity: Decimal
    unit_price: Decimal | None = None


@dataclass
class PricedLine:
    """A checked order line: the supplier item, quantity (purchase units and base), price."""

    supplier_item: SupplierItem
    quantity: Decimal
    base_quantity: Decimal
    unit_price: Decimal
    currency: str

    @property
    def amount(self) -> Decimal:
        return quantize_money(self.quantity * self.unit_price, storage=True)


def supplier_problem(
    supplier: Supplier, store: Site, *, line: int | None = None
) -> DomainError | None:
    """Why nothing may be ordered from this supplier for this store (None when it may)."""
    if not store.node.path.startswith(supplier.node.path):
        return ValidationFailed(
            {
                "supplier_id": [
                    _("%(supplier)s does not serve %(store)s.")
                    % {"supplier": supplier.code, "store": store.node.code}
                ]
            }
        )
    if not supplier.is_active:
        return SupplierInactive(
            _("%(supplier)s is inactive: nothing can be ordered from it.")
            % {"supplier": supplier.code},
            line=line,
            field="supplier_id",
            supplier=supplier.code,
        )
    return None


def price_line(
    supplier: Supplier,
    store: Site,
    item_id: int,
    quantity: Decimal,
    on_date: dt.date,
    problems: list[DomainError],
    *,
    line: int | None,
    supplier_items: dict[int, SupplierItem],
    unit_price: Decimal | None = None,
) -> PricedLine | None:
    """Check one supplier line (supplier item, packs and MOQ, price, currency), appending every
    problem; the priced line when there is none."""
    supplier_item = supplier_items.get(item_id)
    if supplier_item is None or not supplier_item.is_active:
        problems.append(
            UnknownSupplierItem(
                _("%(supplier)s does not sell this item.") % {"supplier": supplier.code},
                line=line,
                field="item_id",
                item_id=item_id,
            )
        )
        return None
    if quantity <= 0:
        problems.append(
            ValidationFailed({f"lines.{line}.quantity": [_("Must be more than zero.")]})
        )
        return None
    found = len(problems)
    problems.extend(order_quantity_problems(quantity, supplier_item, line=line))
    currency = supplier.currency
    if unit_price is None:
        try:
            quote = price_for(supplier, supplier_item.item, store, on_date, line=line)
        except DomainError as error:
            problems.append(error)
            return None
        unit_price, currency = quote.price, quote.currency
    base_currency = store.legal_entity.base_currency
    if currency != base_currency:
        problems.append(
            NoExchangeRate(
                _("%(item)s is priced in %(currency)s; the store keeps its books in %(base)s.")
                % {"item": supplier_item.item.sku, "currency": currency, "base": base_currency},
                line=line,
                currency=currency,
                base_currency=base_currency,
            )
        )
    try:
        base = to_base(supplier_item.item, quantity, supplier_item.purchase_unit)
    except (UnknownUnit, MissingConversion, ValidationFailed) as error:
        problems.append(error)
        return None
    if len(problems) > found:
        return None
    return PricedLine(supplier_item, quantity, base, unit_price, currency)


def load_supplier_items(supplier: Supplier, item_ids: Sequence[int]) -> dict[int, SupplierItem]:
    return {
        row.item_id: row
        for row in SupplierItem.objects.select_related("item__base_unit", "supplier")
        .prefetch_related("item__units")
        .filter(supplier=supplier, item_id__in=set(item_ids))
    }


def _po_payload(order: PurchaseOrder) -> dict[str, Any]:
    return {
        "number": order.number,
        "status": order.status,
        "supplier": order.supplier.code,
        "store": order.store.node.code,
        "total": order.total_amount,
        "currency": order.currency,
    }


def new_purchase_order(
    *,
    supplier: Supplier,
    store: Site,
    location_id: int,
    lines: Sequence[PricedLine],
    status: str,
    actor: Any,
    requisition: Requisition | None = None,
    expected_date: dt.date | None = None,
    note: str = "",
) -> PurchaseOrder:
    """Write a checked PO and its lines (inside the caller's transaction); audit, publish."""
    now = clock.now()
    if expected_date is None:
        dates = next_delivery_dates(supplier, store, now, count=1)
        expected_date = dates[0] if dates else None
    order = PurchaseOrder.objects.create(
        number=next_document_number("PO", store.node.code),
        supplier=supplier,
        store=store,
        location_id=location_id,
        requisition=requisition,
        status=status,
        currency=lines[0].currency,
        total_amount=sum((line.amount for line in lines), ZERO),
        order_date=store_today(store),
        expected_date=expected_date,
        note=note,
        created_by_id=actor_id(actor),
        approved_at=now if status == PurchaseOrderStatus.APPROVED else None,
    )
    rows = PurchaseOrderLine.objects.bulk_create(
        [
            PurchaseOrderLine(
                order=order,
                line_no=number,
                supplier_item=line.supplier_item,
                item=line.supplier_item.item,
                quantity=line.quantity,
                unit=line.supplier_item.purchase_unit,
                base_quantity=line.base_quantity,
                unit_price=line.unit_price,
                amount=line.amount,
            )
            for number, line in enumerate(lines, 1)
        ]
    )
    audit(
        order,
        "po.create",
        actor,
        store.node,
        **_po_payload(order),
        requisition=requisition.number if requisition else None,
        lines=[
            {
                "item_id": row.item_id,
                "quantity": row.quantity,
                "unit": row.unit,
                "unit_price": row.unit_price,
            }
            for row in rows[:100]
        ],
    )
    publish(
        PurchaseOrderCreated(
            purchase_order_id=order.pk,
            number=order.number,
            supplier_id=supplier.pk,
            store_id=store.pk,
            status=order.status,
            total=str(order.total_amount),
            currency=order.currency,
        ),
        org_node=store.node,
    )
    return order


def create_purchase_order(
    store: Site,
    supplier: Supplier,
    lines: Sequence[PurchaseOrderLineInput],
    *,
    actor: Any,
    location_id: int | None = None,
    expected_date: dt.date | None = None,
    note: str = "",
) -> PurchaseOrder:
    """A buyer's draft PO (procurement.manage at the store). Every problem at once: inactive
    supplier, items it does not sell, not whole packs, below MOQ, no valid price."""
    require_at(actor, PROCUREMENT_MANAGE, store.node)
    problems: list[DomainError] = []
    if not lines:
        raise ValidationFailed({"lines": [_("Order at least one item.")]})
    if len(lines) > MAX_LINES:
        raise ValidationFailed({"lines": [_("At most %(count)s lines.") % {"count": MAX_LINES}]})
    if len(note) > 500:
        problems.append(ValidationFailed({"note": [_("At most 500 characters.")]}))
    problem = supplier_problem(supplier, store)
    if problem is not None:
        problems.append(problem)
    location = receiving_location(store, location_id)
    today = store_today(store)
    supplier_items = load_supplier_items(supplier, [line.item_id for line in lines])
    priced = [
        price_line(
            supplier,
            store,
            line.item_id,
            line.quantity,
            today,
            problems,
            line=index,
            supplier_items=supplier_items,
            unit_price=line.unit_price,
        )
        for index, line in enumerate(lines)
    ]
    raise_all(problems)
    with transaction.atomic():
        return new_purchase_order(
            supplier=supplier,
            store=store,
            location_id=location.pk,
            lines=[line for line in priced if line is not None],
            status=PurchaseOrderStatus.DRAFT,
            actor=actor,
            expected_date=expected_date,
            note=note,
        )


def _locked(order: PurchaseOrder, *expected: str) -> PurchaseOrder:
    locked = (
        PurchaseOrder.objects.select_for_update(of=("self",))
        .select_related("supplier__node", "store__node", "store__legal_entity", "requisition")
        .get(pk=order.pk)
    )
    if locked.status not in expected:
        raise PurchaseOrderStateError(
            _("Purchase order %(number)s is %(status)s.")
            % {"number": locked.number, "status": locked.get_status_display()},
            details={"status": locked.status, "expected": list(expected)},
        )
    return locked


def approve_purchase_order(order: PurchaseOrder, *, actor: Any) -> PurchaseOrder:
    """A buyer approves a draft PO (procurement.manage at the store)."""
    require_at(actor, PROCUREMENT_MANAGE, order.store.node)
    with transaction.atomic():
        order = _locked(order, PurchaseOrderStatus.DRAFT)
        if not order.supplier.is_active:
            raise SupplierInactive(supplier=order.supplier.code)
        order.status = PurchaseOrderStatus.APPROVED
        order.approved_at = clock.now()
        order.save(update_fields=["status", "approved_at", "updated_at"])
        audit(order, "po.approve", actor, order.store.node, **_po_payload(order))
        publish(
            PurchaseOrderApproved(
                purchase_order_id=order.pk,
                number=order.number,
                supplier_id=order.supplier_id,
                store_id=order.store_id,
            ),
            org_node=order.store.node,
        )
    return order


def send_purchase_order(order: PurchaseOrder, *, actor: Any) -> PurchaseOrder:
    """Send an approved PO to the supplier: state sent, event `procurement.po.sent` carrying
    the whole order (webhooks deliver it). Not for an inactive supplier."""
    require_at(actor, PROCUREMENT_MANAGE, order.store.node)
    with transaction.atomic():
        order = _locked(order, PurchaseOrderStatus.APPROVED)
        if order.requisition_id is not None:
            runtime.require_approved(REQUISITION_DOCUMENT_TYPE, str(order.requisition_id))
        if not order.supplier.is_active:
            raise SupplierInactive(supplier=order.supplier.code)
        order.status = PurchaseOrderStatus.SENT
        order.sent_at = clock.now()
        order.save(update_fields=["status", "sent_at", "updated_at"])
        lines = list(order.lines.select_related("supplier_item", "item").order_by("line_no"))
        audit(order, "po.send", actor, order.store.node, **_po_payload(order))
        publish(
            PurchaseOrderSent(
                purchase_order_id=order.pk,
                number=order.number,
                supplier_id=order.supplier_id,
                supplier_code=order.supplier.code,
                store_id=order.store_id,
                store_code=order.store.node.code,
                expected_date=str(order.expected_date) if order.expected_date else None,
                currency=order.currency,
                total=str(order.total_amount),
                lines=[
                    {
                        "line_no": line.line_no,
                        "item_sku": line.item.sku,
                        "supplier_sku": line.supplier_item.supplier_sku,
                        "quantity": str(line.quantity),
                        "unit": line.unit,
                        "unit_price": str(line.unit_price),
                        "amount": str(line.amount),
                    }
                    for line in lines
                ],
            ),
            org_node=order.store.node,
        )
    return order


def cancel_purchase_order(order: PurchaseOrder, *, actor: Any, reason: str = "") -> PurchaseOrder:
    """Cancel a PO before anything was received (draft, approved or sent)."""
    require_at(actor, PROCUREMENT_MANAGE, order.store.node)
    if len(reason) > 500:
        raise ValidationFailed({"reason": [_("At most 500 characters.")]})
    with transaction.atomic():
        order = _locked(
            order,
            PurchaseOrderStatus.DRAFT,
            PurchaseOrderStatus.APPROVED,
            PurchaseOrderStatus.SENT,
        )
        order.status = PurchaseOrderStatus.CANCELLED
        order.cancelled_at = clock.now()
        order.cancel_reason = reason
        order.save(update_fields=["status", "cancelled_at", "cancel_reason", "updated_at"])
        audit(order, "po.cancel", actor, order.store.node, reason=reason, **_po_payload(order))
        publish(
            PurchaseOrderCancelled(
                purchase_order_id=order.pk,
                number=order.number,
                supplier_id=order.supplier_id,
                store_id=order.store_id,
                reason=reason,
            ),
            org_node=order.store.node,
        )
    return order


def close_purchase_order(order: PurchaseOrder, *, actor: Any, reason: str = "") -> PurchaseOrder:
    """Close a partially received PO short: the rest is no longer expected (not on order)."""
    require_at(actor, PROCUREMENT_MANAGE, order.store.node)
    if len(reason) > 500:
        raise ValidationFailed({"reason": [_("At most 500 characters.")]})
    with transaction.atomic():
        order = _locked(order, PurchaseOrderStatus.PARTIALLY_RECEIVED)
        order.status = PurchaseOrderStatus.CLOSED
        order.closed_at = clock.now()
        order.save(update_fields=["status", "closed_at", "updated_at"])
        audit(order, "po.close", actor, order.store.node, reason=reason, **_po_payload(order))
        publish(
            PurchaseOrderClosed(
                purchase_order_id=order.pk,
                number=order.number,
                supplier_id=order.supplier_id,
                store_id=order.store_id,
                status=order.status,
            ),
            org_node=order.store.node,
        )
    return order


__all__ = [
    "PricedLine",
    "PurchaseOrderLineInput",
    "approve_purchase_order",
    "cancel_purchase_order",
    "close_purchase_order",
    "create_purchase_order",
    "send_purchase_order",
]
