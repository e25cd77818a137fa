"""Store requisitions (要货): create → submit → approval → purchase orders and distribution orders.

A requisition lists what a store asks for, each line from a supplier (direct to store, 直送;
quantity in the supplier item's purchase unit, priced from its price list) or from a warehouse
or central kitchen (配送; quantity in any unit of the item, valued at the source's average
cost). Lines may carry the planning app's suggestion; a quantity further than
`PROCUREMENT_DEVIATION_PERCENT` (default 30 %) from it needs a reason.

Submitting starts an approval request of type `procurement.requisition` (fields: amount in the
store's base currency, store, region, supplier when there is only one, requester, urgent).
When no policy asks for approval it is approved at once; otherwise the approvals runtime's
decision hook finishes it. On final approval the requisition creates one approved PO per
supplier and one draft transfer order per source site (the inventory app's transfer orders),
in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from backroom.accounts.models import User
from backroom.approvals import runtime
from backroom.approvals.choices import RequestStatus
from backroom.approvals.models import ApprovalRequest
from backroom.approvals.runtime import Submission
from backroom.catalog.choices import STOCKED_KINDS
from backroom.catalog.exceptions import MissingConversion, UnknownUnit
from backroom.catalog.models import Item
from backroom.catalog.units import to_base
from backroom.events.services import publish
from backroom.inventory.selectors import average_cost
from backroom.inventory.services import TransferLineInput, create_transfer_order
from backroom.kernel import clock
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import DomainError, ValidationFailed
from backroom.kernel.money import quantize_money, quantize_quantity, to_decimal
from backroom.kernel.numbering import next_document_number
from backroom.org.choices import NodeKind
from backroom.org.models import Site
from backroom.procurement.choices import PurchaseOrderStatus, RequisitionStatus, SourceKind
from backroom.procurement.events import (
    RequisitionApproved,
    RequisitionCancelled,
    RequisitionRejected,
    RequisitionSubmitted,
)
from backroom.procurement.exceptions import (
    DeviationReasonRequired,
    RequisitionStateError,
    raise_all,
)
from backroom.procurement.models import Requisition, RequisitionLine, Supplier
from backroom.procurement.permissions import PROCUREMENT_ORDER
from backroom.procurement.services.common import (
    ZERO,
    actor_id,
    audit,
    receiving_location,
    require_at,
    store_today,
)
from backroom.procurement.services.orders import (
    REQUISITION_DOCUMENT_TYPE,
    PricedLine,
    load_supplier_items,
    new_purchase_order,
    price_line,
    supplier_problem,
)

MAX_LINES = 300
DEFAULT_DEVIATION_PERCENT = Decimal(30)
DISTRIBUTION_KINDS = {NodeKind.WAREHOUSE, NodeKind.KITCHEN}


@dataclass(frozen=True)
class RequisitionLineInput:
    """One item asked for: from `supplier_id` (quantity in its purchase unit) or from
    `source_site_id`, a warehouse or central kitchen (quantity in `unit`, the base unit when
    None). `suggested_quantity` is the planning suggestion in the same unit."""

    item_id: int
    quantity: Decimal
    supplier_id: int | None = None
    source_site_id: int | None = None
    unit: str | None = None
    suggested_quantity: Decimal | None = None
    deviation_reason: str = ""


def deviation_percent() -> Decimal:
    return Decimal(
        str(getattr(settings, "PROCUREMENT_DEVIATION_PERCENT", DEFAULT_DEVIATION_PERCENT))
    )


def _deviation_problem(
    line: RequisitionLineInput, quantity: Decimal, index: int, item: Item | None
) -> DomainError | None:
    if line.suggested_quantity is None or line.deviation_reason.strip():
        return None
    suggested = to_decimal(line.suggested_quantity, field="suggested_quantity")
    if suggested <= 0:
        far = quantity > 0
    else:
        far = abs(quantity - suggested) / suggested * 100 > deviation_percent()
    if not far:
        return None
    return DeviationReasonRequired(
        _("Line %(line)s, %(item)s: %(quantity)s is far from the suggested %(suggested)s; say why.")
        % {
            "line": index + 1,
            "item": item.name if item is not None else line.item_id,
            "quantity": f"{quantity.normalize():f}",
            "suggested": f"{suggested.normalize():f}",
        },
        line=index,
        field="deviation_reason",
        suggested=str(suggested),
        threshold_percent=str(deviation_percent()),
    )


def _prepare(
    store: Site, lines: Sequence[RequisitionLineInput], on_date: dt.date
) -> list[RequisitionLine]:
    """Check every line; raise every problem at once (nothing is written)."""
    if not lines:
        raise ValidationFailed({"lines": [_("Ask for at least one item.")]})
    if len(lines) > MAX_LINES:
        raise ValidationFailed({"lines": [_("At most %(count)s lines.") % {"count": MAX_LINES}]})
    problems: list[DomainError] = []
    suppliers = Supplier.objects.select_related("node").in_bulk(
        {line.supplier_id for line in lines if line.supplier_id is not None}
    )
    sites = Site.objects.select_related("node").in_bulk(
        {line.source_site_id for line in lines if line.source_site_id is not None}
    )
    items = (
        Item.objects.select_related("base_unit")
        .prefetch_related("units")
        .in_bulk({line.item_id for line in lines})
    )
    supplier_items = {
        supplier_id: load_supplier_items(
            supplier, [line.item_id for line in lines if line.supplier_id == supplier_id]
        )
        for supplier_id, supplier in suppliers.items()
    }
    supplier_checked: dict[int, DomainError | None] = {}
    prepared: list[RequisitionLine] = []
    for index, line in enumerate(lines):
        before = len(problems)
        try:
            quantity = quantize_quantity(to_decimal(line.quantity, field=f"lines.{index}.quantity"))
        except ValidationFailed as error:
            problems.append(error)
            continue
        if quantity <= 0:
            problems.append(
                ValidationFailed({f"lines.{index}.quantity": [_("Must be more than zero.")]})
            )
            continue
        if len(line.deviation_reason) > 300:
            problems.append(
                ValidationFailed(
                    {f"lines.{index}.deviation_reason": [_("At most 300 characters.")]}
                )
            )
        deviation = _deviation_problem(line, quantity, index, items.get(line.item_id))
        if deviation is not None:
            problems.append(deviation)
        if (line.supplier_id is None) == (line.source_site_id is None):
            problems.append(
                ValidationFailed(
                    {
                        f"lines.{index}.supplier_id": [
                            _("Name either a supplier or a warehouse / central kitchen.")
                        ]
                    }
                )
            )
            continue
        item = items.get(line.item_id)
        if item is None or item.kind not in STOCKED_KINDS or not item.is_active:
            problems.append(
                ValidationFailed({f"lines.{index}.item_id": [_("There is no such stocked item.")]})
            )
            continue
        if line.supplier_id is not None:
            supplier = suppliers.get(line.supplier_id)
            if supplier is None:
                problems.append(
                    ValidationFailed(
                        {f"lines.{index}.supplier_id": [_("There is no such supplier.")]}
                    )
                )
                continue
            if supplier.pk not in supplier_checked:
                supplier_checked[supplier.pk] = supplier_problem(supplier, store, line=index)
                if supplier_checked[supplier.pk] is not None:
                    problems.append(supplier_checked[supplier.pk])  # type: ignore[arg-type]
            priced: PricedLine | None = price_line(
                supplier,
                store,
                item.pk,
                quantity,
                on_date,
                problems,
                line=index,
                supplier_items=supplier_items[supplier.pk],
            )
            if priced is None or len(problems) > before:
                continue
            prepared.append(
                RequisitionLine(
                    line_no=index + 1,
                    source_kind=SourceKind.SUPPLIER,
                    supplier_item=priced.supplier_item,
                    item=item,
                    suggested_quantity=line.suggested_quantity,
                    quantity=quantity,
                    unit=priced.supplier_item.purchase_unit,
                    base_quantity=priced.base_quantity,
                    unit_price=priced.unit_price,
                    amount=priced.amount,
                    deviation_reason=line.deviation_reason.strip(),
                )
            )
            continue
        source = sites.get(line.source_site_id)  # type: ignore[arg-type]
        if source is None or source.node.kind not in DISTRIBUTION_KINDS or source.pk == store.pk:
            problems.append(
                ValidationFailed(
                    {f"lines.{index}.source_site_id": [_("Choose a warehouse or central kitchen.")]}
                )
            )
            continue
        unit = line.unit or item.base_unit.code
        try:
            base = to_base(item, quantity, unit)
        except (UnknownUnit, MissingConversion, ValidationFailed) as error:
            problems.append(error)
            continue
        if len(problems) > before:
            continue
        unit_cost = average_cost(item, source)
        if unit_cost is None:
            unit_cost = item.standard_cost or ZERO
        amount = quantize_money(base * unit_cost, storage=True)
        prepared.append(
            RequisitionLine(
                line_no=index + 1,
                source_kind=SourceKind.DISTRIBUTION,
                source_site=source,
                item=item,
                suggested_quantity=line.suggested_quantity,
                quantity=quantity,
                unit=unit,
                base_quantity=base,
                unit_price=quantize_money(amount / quantity, storage=True) if quantity else None,
                amount=amount,
                deviation_reason=line.deviation_reason.strip(),
            )
        )
    raise_all(problems)
    return prepared


def _requester_of(actor: Any, recorded_by: int | None = None) -> User:
    if isinstance(actor, User):
        return actor
    if recorded_by is not None:
        return User.objects.get(pk=recorded_by)
    raise ValidationFailed({"submitted_by": [_("A requisition needs a person to submit it.")]})


def _submission(requisition: Requisition, lines: Sequence[RequisitionLine]) -> Submission:
    store = requisition.store
    parent = store.node.parent
    supplier_codes = {
        line.supplier_item.supplier.code for line in lines if line.supplier_item is not None
    }
    return Submission(
        document_type=REQUISITION_DOCUMENT_TYPE,
        document_id=str(requisition.pk),
        fields={
            "amount": str(requisition.estimated_amount),
            "store": store.node.code,
            "region": parent.code if parent is not None and parent.kind == NodeKind.REGION else "",
            "supplier": supplier_codes.pop() if len(supplier_codes) == 1 else "",
            "is_urgent": requisition.is_urgent,
        },
        org_node=store.node,
        document_currency=requisition.currency,
        document_amount=requisition.estimated_amount,
    )


def create_requisition(
    store: Site,
    lines: Sequence[RequisitionLineInput],
    *,
    actor: Any,
    location_id: int | None = None,
    needed_by: dt.date | None = None,
    note: str = "",
    is_urgent: bool = False,
    submit: bool = True,
) -> Requisition:
    """Record a store's requisition (procurement.order at the store) and, by default, submit it.

    Every problem of every line is reported at once (`document_rejected` listing each coded
    problem when there are several) and nothing is saved: an inactive supplier, an item the
    supplier does not sell, not whole packs, below MOQ, no valid price, a large deviation
    without a reason.
    """
    require_at(actor, PROCUREMENT_ORDER, store.node)
    if len(note) > 500:
        raise ValidationFailed({"note": [_("At most 500 characters.")]})
    store = Site.objects.select_related("node__parent", "legal_entity").get(pk=store.pk)
    location = receiving_location(store, location_id)
    prepared = _prepare(store, lines, store_today(store))
    with transaction.atomic():
        requisition = Requisition.objects.create(
            number=next_document_number("REQ", store.node.code),
            store=store,
            location=location,
            needed_by=needed_by,
            note=note,
            is_urgent=is_urgent,
            currency=store.legal_entity.base_currency,
            estimated_amount=sum((line.amount for line in prepared), ZERO),
            created_by_id=actor_id(actor),
        )
        for line in prepared:
            line.requisition = requisition
        RequisitionLine.objects.bulk_create(prepared)
        audit(
            requisition,
            "requisition.create",
            actor,
            store.node,
            number=requisition.number,
            status=requisition.status,
            amount=requisition.estimated_amount,
            currency=requisition.currency,
            lines=[
                {
                    "item_id": line.item_id,
                    "source": line.source_kind,
                    "supplier_item_id": line.supplier_item_id,
                    "source_site_id": line.source_site_id,
                    "quantity": line.quantity,
                    "unit": line.unit,
                    "suggested": line.suggested_quantity,
                    "deviation_reason": line.deviation_reason,
                }
                for line in prepared[:100]
            ],
        )
        if submit:
            requisition = _submit(requisition, actor=actor)
    return requisition


def _locked(requisition: Requisition, *expected: str) -> Requisition:
    locked = (
        Requisition.objects.select_for_update(of=("self",))
        .select_related("store__node__parent", "store__legal_entity", "location")
        .get(pk=requisition.pk)
    )
    if locked.status not in expected:
        raise RequisitionStateError(
            _("Requisition %(number)s is %(status)s.")
            % {"number": locked.number, "status": locked.get_status_display()},
            details={"status": locked.status, "expected": list(expected)},
        )
    return locked


def _lines(requisition: Requisition) -> list[RequisitionLine]:
    return list(
        RequisitionLine.objects.filter(requisition=requisition)
        .select_related("supplier_item__supplier__node", "supplier_item__item", "source_site__node")
        .order_by("line_no")
    )


def submit_requisition(requisition: Requisition, *, actor: Any) -> Requisition:
    """Submit a draft: start its approval (approved at once when no policy applies)."""
    require_at(actor, PROCUREMENT_ORDER, requisition.store.node)
    if requisition.status == RequisitionStatus.DRAFT:
        runtime.check_route(
            _submission(requisition, _lines(requisition)),
            requester=_requester_of(actor, requisition.created_by_id),
        )
    with transaction.atomic():
        return _submit(requisition, actor=actor)


def _submit(requisition: Requisition, *, actor: Any) -> Requisition:
    requisition = _locked(requisition, RequisitionStatus.DRAFT)
    lines = _lines(requisition)
    requisition.submitted_at = clock.now()
    requisition.submitted_by_id = actor_id(actor)
    requisition.save()
    # Still a draft while the request starts, so an auto-approval's hook leaves the rest here.
    request = runtime.submit(
        _submission(requisition, lines),
        requester=_requester_of(actor, requisition.created_by_id),
        actor=actor,
    )
    requisition.requires_approval = request.status != RequestStatus.APPROVED
    requisition.status = RequisitionStatus.PENDING_APPROVAL
    requisition.save()
    audit(
        requisition,
        "requisition.submit",
        actor,
        requisition.store.node,
        number=requisition.number,
        approval_request_id=request.pk,
        requires_approval=requisition.requires_approval,
    )
    publish(
        RequisitionSubmitted(
            requisition_id=requisition.pk,
            number=requisition.number,
            store_id=requisition.store_id,
            amount=str(requisition.estimated_amount),
            currency=requisition.currency,
            requires_approval=requisition.requires_approval,
        ),
        org_node=requisition.store.node,
    )
    if not requisition.requires_approval:
        _fulfil(requisition, lines, actor=actor, approved_by=None)
    return requisition


def _fulfil(
    requisition: Requisition, lines: list[RequisitionLine], *, actor: Any, approved_by: Any
) -> None:
    """The requisition is approved: one approved PO per supplier, one draft transfer order per
    source site, linked from the lines."""
    runtime.require_approved(REQUISITION_DOCUMENT_TYPE, str(requisition.pk))
    store = requisition.store
    by_supplier: dict[int, list[RequisitionLine]] = defaultdict(list)
    by_source: dict[int, list[RequisitionLine]] = defaultdict(list)
    for line in lines:
        if line.source_kind == SourceKind.SUPPLIER:
            assert line.supplier_item is not None
            by_supplier[line.supplier_item.supplier_id].append(line)
        else:
            assert line.source_site_id is not None
            by_source[line.source_site_id].append(line)
    order_ids: list[int] = []
    for group in by_supplier.values():
        supplier = group[0].supplier_item.supplier  # type: ignore[union-attr]
        order = new_purchase_order(
            supplier=supplier,
            store=store,
            location_id=requisition.location_id,
            lines=[
                PricedLine(
                    supplier_item=line.supplier_item,  # type: ignore[arg-type]
                    quantity=line.quantity,
                    base_quantity=line.base_quantity,
                    unit_price=line.unit_price or ZERO,
                    currency=requisition.currency,
                )
                for line in group
            ],
            status=PurchaseOrderStatus.APPROVED,
            actor=SYSTEM,
            requisition=requisition,
        )
        order_ids.append(order.pk)
        po_lines = list(order.lines.order_by("line_no"))
        for line, po_line in zip(group, po_lines, strict=True):
            line.purchase_order_line = po_line
    transfer_ids: list[int] = []
    for source_id, group in by_source.items():
        source = group[0].source_site
        assert source is not None
        transfer = create_transfer_order(
            from_location_id=receiving_location(source).pk,
            to_location_id=requisition.location_id,
            lines=[
                TransferLineInput(item_id=line.item_id, quantity=line.quantity, unit=line.unit)
                for line in group
            ],
            actor=SYSTEM,
            note=_("Requisition %(number)s") % {"number": requisition.number},
            expected_date=requisition.needed_by,
        )
        transfer_ids.append(transfer.pk)
        for line in group:
            line.transfer_order = transfer
        del source_id
    RequisitionLine.objects.bulk_update(lines, ["purchase_order_line", "transfer_order"])
    requisition.status = RequisitionStatus.APPROVED
    requisition.decided_at = clock.now()
    requisition.save()
    audit(
        requisition,
        "requisition.approve",
        approved_by or actor,
        store.node,
        number=requisition.number,
        purchase_order_ids=order_ids,
        transfer_order_ids=transfer_ids,
    )
    publish(
        RequisitionApproved(
            requisition_id=requisition.pk,
            number=requisition.number,
            store_id=requisition.store_id,
            purchase_order_ids=order_ids,
            transfer_order_ids=transfer_ids,
        ),
        org_node=store.node,
    )


def _decided_by(request: ApprovalRequest) -> User | None:
    task = (
        request.tasks.filter(decided_by__isnull=False)
        .select_related("decided_by")
        .order_by("-decided_at", "-pk")
        .first()
    )
    return task.decided_by if task is not None else None


def _on_decision(request: ApprovalRequest) -> None:
    """The approvals runtime's hook, inside the deciding transaction: approved → POs and
    distribution orders; rejected → rejected; withdrawn → cancelled. A requisition not
    waiting (a draft being submitted, or already decided) is left alone, as is a request whose
    document id names no requisition (the approvals demo's stand-in documents)."""
    if not str(request.document_id).isdigit():
        return
    requisition = (
        Requisition.objects.select_for_update(of=("self",))
        .select_related("store__node__parent", "store__legal_entity")
        .filter(pk=int(request.document_id))
        .first()
    )
    if requisition is None or requisition.status != RequisitionStatus.PENDING_APPROVAL:
        return
    decider = _decided_by(request)
    said = (
        request.history.exclude(reason="", comment="")
        .order_by("-pk")
        .values_list("reason", "comment")
        .first()
    )
    requisition.decision_reason = ((said[0] or said[1]) if said else "")[:500]
    if request.status == RequestStatus.APPROVED:
        _fulfil(requisition, _lines(requisition), actor=SYSTEM, approved_by=decider)
    elif request.status == RequestStatus.REJECTED:
        requisition.status = RequisitionStatus.REJECTED
        requisition.decided_at = clock.now()
        requisition.save()
        audit(
            requisition,
            "requisition.reject",
            decider or SYSTEM,
            requisition.store.node,
            reason=requisition.decision_reason,
            number=requisition.number,
        )
        publish(
            RequisitionRejected(
                requisition_id=requisition.pk,
                number=requisition.number,
                store_id=requisition.store_id,
                reason=requisition.decision_reason,
            ),
            org_node=requisition.store.node,
        )
    elif request.status == RequestStatus.WITHDRAWN:
        _cancelled(requisition, request.requester, requisition.decision_reason)


runtime.register_decision_hook(REQUISITION_DOCUMENT_TYPE, _on_decision)


def _cancelled(requisition: Requisition, actor: Any, reason: str) -> None:
    requisition.status = RequisitionStatus.CANCELLED
    requisition.decision_reason = reason[:500]
    requisition.decided_at = clock.now()
    requisition.save()
    audit(
        requisition,
        "requisition.cancel",
        actor,
        requisition.store.node,
        reason=reason,
        number=requisition.number,
    )
    publish(
        RequisitionCancelled(
            requisition_id=requisition.pk, number=requisition.number, store_id=requisition.store_id
        ),
        org_node=requisition.store.node,
    )


def cancel_requisition(requisition: Requisition, *, actor: Any, reason: str = "") -> Requisition:
    """Withdraw a draft, or a requisition waiting for approval (its requester only: this
    withdraws the approval request too)."""
    require_at(actor, PROCUREMENT_ORDER, requisition.store.node)
    if len(reason) > 500:
        raise ValidationFailed({"reason": [_("At most 500 characters.")]})
    request = runtime.latest_request(REQUISITION_DOCUMENT_TYPE, str(requisition.pk))
    if request is not None and request.is_open:
        runtime.withdraw(request, actor=actor, reason=reason)
        return Requisition.objects.select_related("store__node").get(pk=requisition.pk)
    with transaction.atomic():
        requisition = _locked(requisition, RequisitionStatus.DRAFT)
        _cancelled(requisition, actor, reason)
    return requisition


__all__ = [
    "RequisitionLineInput",
    "cancel_requisition",
    "create_requisition",
    "submit_requisition",
]
