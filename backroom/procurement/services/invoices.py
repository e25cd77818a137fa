"""Supplier invoices and the three-way match (PO price × received quantity × invoice).

Each invoice line is matched to a PO line (named, or by item). Per PO line the expected
amount is the PO price × the quantity received so far; the invoiced amount is what the
invoice bills for it. A line matches exactly when quantity, price and amount agree; within
tolerance when its amount differs by at most the lesser of the supplier's
`invoice_tolerance_amount` and `invoice_tolerance_percent` of the expected amount. Any line
beyond it, a line that bills nothing on the PO, or a total that is not net + tax sends the
invoice to the review queue; otherwise it is payable at once and `procurement.invoice.matched`
is published (finance posts the payable from it). An invoice naming an unknown PO is an
`unknown_purchase_order` error, or — for imports, with `queue_unknown_po` — kept in the review
queue so nothing is lost.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from backroom.events.services import publish
from backroom.kernel import clock
from backroom.kernel.exceptions import DomainError, ErrorCollector, ValidationFailed
from backroom.kernel.money import quantize_money, quantize_quantity, to_decimal
from backroom.procurement.choices import (
    InvoiceStatus,
    MatchStatus,
    PurchaseOrderStatus,
    ReviewReason,
    ReviewStatus,
)
from backroom.procurement.events import (
    InvoiceEntered,
    InvoiceInReview,
    InvoiceMatched,
    InvoiceRejected,
)
from backroom.procurement.exceptions import (
    DuplicateInvoice,
    ReviewStateError,
    UnknownPurchaseOrder,
    raise_all,
)
from backroom.procurement.models import (
    MatchResult,
    PurchaseOrder,
    PurchaseOrderLine,
    ReviewEntry,
    Supplier,
    SupplierInvoice,
    SupplierInvoiceLine,
)
from backroom.procurement.permissions import PROCUREMENT_INVOICE
from backroom.procurement.services.common import ZERO, actor_id, audit, require_at, text

MAX_LINES = 500


@dataclass(frozen=True)
class InvoiceLineInput:
    """One billed line: quantity in the PO line's unit, unit price, amount (net; quantity ×
    price when None). Name the PO line, or the item, or neither (an unmatched line)."""

    quantity: Decimal
    unit_price: Decimal
    amount: Decimal | None = None
    purchase_order_line_id: int | None = None
    item_id: int | None = None
    description: str = ""


@dataclass
class InvoiceInput:
    invoice_number: str
    invoice_date: dt.date
    purchase_order_number: str
    lines: Sequence[InvoiceLineInput] = field(default_factory=list)
    tax_amount: Decimal = Decimal(0)
    total_amount: Decimal | None = None
    currency: str = ""
    note: str = ""


def _money(errors: ErrorCollector, name: str, value: Any) -> Decimal:
    try:
        return quantize_money(to_decimal(value, field=name), storage=True)
    except ValidationFailed as error:
        for messages in error.errors.values():
            for message in messages:
                errors.add(name, message)
        return ZERO


def enter_invoice(
    supplier: Supplier, data: InvoiceInput, *, actor: Any, queue_unknown_po: bool = False
) -> SupplierInvoice:
    """Enter a supplier invoice and match it at once (procurement.invoice at the PO's store).
    Returns the invoice: payable when it matched, in review otherwise."""
    errors = ErrorCollector()
    number = text(errors, "invoice_number", data.invoice_number, 60, required=True)
    reference = text(
        errors, "purchase_order_number", data.purchase_order_number, 60, required=False
    )
    note = text(errors, "note", data.note, 500, required=False)
    order = (
        PurchaseOrder.objects.select_related("store__node", "store__legal_entity")
        .filter(number=reference, supplier=supplier)
        .first()
        if reference
        else None
    )
    node = order.store.node if order is not None else supplier.node
    require_at(actor, PROCUREMENT_INVOICE, node)
    if order is None and not queue_unknown_po:
        raise UnknownPurchaseOrder(
            _("%(supplier)s has no purchase order %(number)s.")
            % {"supplier": supplier.code, "number": reference or "—"},
            field="purchase_order_number",
            purchase_order_number=reference,
        )
    currency = (data.currency or (order.currency if order else supplier.currency)).upper()
    if order is not None and currency != order.currency:
        errors.add("currency", _("The PO is in %(currency)s.") % {"currency": order.currency})
    if order is not None and order.status in (
        PurchaseOrderStatus.DRAFT,
        PurchaseOrderStatus.CANCELLED,
    ):
        errors.add(
            "purchase_order_number",
            _("Purchase order %(number)s is %(status)s.")
            % {"number": order.number, "status": order.get_status_display()},
        )
    if not data.lines:
        errors.add("lines", _("Enter at least one line."))
    if len(data.lines) > MAX_LINES:
        errors.add("lines", _("At most %(count)s lines.") % {"count": MAX_LINES})
    po_lines: dict[int, PurchaseOrderLine] = {}
    if order is not None:
        po_lines = {
            line.pk: line
            for line in PurchaseOrderLine.objects.filter(order=order).select_related("item")
        }
    by_item = {line.item_id: line for line in po_lines.values()}
    rows: list[SupplierInvoiceLine] = []
    for index, line in enumerate(data.lines):
        quantity = ZERO
        try:
            quantity = quantize_quantity(to_decimal(line.quantity, field=f"lines.{index}.quantity"))
        except ValidationFailed as error:
            errors.errors.update(error.errors)
        unit_price = _money(errors, f"lines.{index}.unit_price", line.unit_price)
        amount = (
            _money(errors, f"lines.{index}.amount", line.amount)
            if line.amount is not None
            else quantize_money(quantity * unit_price, currency)
        )
        po_line = None
        if line.purchase_order_line_id is not None:
            po_line = po_lines.get(line.purchase_order_line_id)
            if po_line is None and order is not None:
                errors.add(
                    f"lines.{index}.purchase_order_line_id", _("Not a line of this purchase order.")
                )
        elif line.item_id is not None:
            po_line = by_item.get(line.item_id)
        rows.append(
            SupplierInvoiceLine(
                line_no=index + 1,
                purchase_order_line=po_line,
                item_id=po_line.item_id if po_line is not None else line.item_id,
                description=(line.description or "")[:200],
                quantity=quantity,
                unit_price=unit_price,
                amount=amount,
            )
        )
    tax = _money(errors, "tax_amount", data.tax_amount)
    net = sum((row.amount for row in rows), ZERO)
    total = (
        _money(errors, "total_amount", data.total_amount)
        if data.total_amount is not None
        else net + tax
    )
    errors.raise_if_any()
    with transaction.atomic():
        try:
            with transaction.atomic():
                invoice = SupplierInvoice.objects.create(
                    supplier=supplier,
                    invoice_number=number,
                    purchase_order=order,
                    purchase_order_reference=reference,
                    org_node=node,
                    invoice_date=data.invoice_date,
                    due_date=data.invoice_date + dt.timedelta(days=supplier.payment_terms_days),
                    currency=currency,
                    net_amount=net,
                    tax_amount=tax,
                    total_amount=total,
                    status=InvoiceStatus.IN_REVIEW,
                    entered_by_id=actor_id(actor),
                    note=note,
                )
        except IntegrityError:
            raise DuplicateInvoice(
                details={"supplier": supplier.code, "invoice_number": number}
            ) from None
        for row in rows:
            row.invoice = invoice
        SupplierInvoiceLine.objects.bulk_create(rows)
        audit(
            invoice,
            "invoice.enter",
            actor,
            node,
            supplier=supplier.code,
            invoice_number=number,
            purchase_order=reference,
            net=net,
            tax=tax,
            total=total,
            currency=currency,
        )
        publish(
            InvoiceEntered(
                invoice_id=invoice.pk,
                supplier_id=supplier.pk,
                invoice_number=number,
                purchase_order_id=order.pk if order else None,
                total=str(total),
                currency=currency,
            ),
            org_node=node,
        )
        match_invoice(invoice, actor=actor)
    return invoice


def _line_tolerance(supplier: Supplier, expected: Decimal) -> Decimal:
    by_percent = abs(expected) * supplier.invoice_tolerance_percent / 100
    return quantize_money(min(supplier.invoice_tolerance_amount, by_percent), storage=True)


def match_invoice(invoice: SupplierInvoice, *, actor: Any) -> MatchResult:
    """Run the three-way match (inside the caller's transaction): payable, or into review."""
    result, reasons = _three_way(invoice)
    if reasons:
        return _to_review(invoice, result, reasons, actor)
    _payable(invoice, result, actor, accepted_by_review=False)
    return result


def _three_way(invoice: SupplierInvoice) -> tuple[MatchResult, list[str]]:
    """Match the invoice as things stand now: the match result (saved) and the reasons it
    needs a person (none when it matches)."""
    supplier = invoice.supplier
    now = clock.now()
    lines = list(invoice.lines.select_related("purchase_order_line__item").order_by("line_no"))
    reasons: set[str] = set()
    report: list[dict[str, Any]] = []
    if invoice.purchase_order_id is None:
        result = MatchResult.objects.create(
            invoice=invoice,
            status=MatchStatus.UNKNOWN_PO,
            expected_amount=ZERO,
            invoiced_amount=invoice.net_amount,
            difference=invoice.net_amount,
            tolerance_amount=ZERO,
            lines=[],
            matched_at=now,
        )
        return result, [ReviewReason.UNKNOWN_PO]
    billed: dict[int, list[Any]] = defaultdict(list)
    for line in lines:
        if line.purchase_order_line_id is None:
            reasons.add(ReviewReason.UNMATCHED_LINE)
            report.append(
                {
                    "invoice_line": line.line_no,
                    "status": MatchStatus.MISMATCH,
                    "reason": ReviewReason.UNMATCHED_LINE,
                    "invoiced": str(line.amount),
                }
            )
        else:
            billed[line.purchase_order_line_id].append(line)
    po_lines = list(
        PurchaseOrderLine.objects.filter(order_id=invoice.purchase_order_id)
        .select_related("item")
        .order_by("line_no")
    )
    expected_total = invoiced_total = tolerance_total = ZERO
    all_exact = not reasons
    for po_line in po_lines:
        invoice_lines = billed.get(po_line.pk, [])
        if not invoice_lines and po_line.received_quantity == 0:
            continue
        expected = quantize_money(po_line.received_quantity * po_line.unit_price, invoice.currency)
        quantity = sum((line.quantity for line in invoice_lines), ZERO)
        amount = sum((line.amount for line in invoice_lines), ZERO)
        prices = {line.unit_price for line in invoice_lines}
        difference = amount - expected
        tolerance = _line_tolerance(supplier, expected)
        exact = (
            difference == 0
            and quantity == po_line.received_quantity
            and prices <= {po_line.unit_price}
        )
        if exact:
            status = MatchStatus.MATCHED
        elif abs(difference) <= tolerance:
            status = MatchStatus.WITHIN_TOLERANCE
        else:
            status = MatchStatus.MISMATCH
            reasons.add(
                ReviewReason.QUANTITY_MISMATCH
                if quantity != po_line.received_quantity
                else ReviewReason.PRICE_MISMATCH
            )
        all_exact = all_exact and exact
        expected_total += expected
        invoiced_total += amount
        tolerance_total += tolerance
        report.append(
            {
                "po_line": po_line.line_no,
                "item": po_line.item.sku,
                "status": status,
                "received": str(po_line.received_quantity),
                "invoiced_quantity": str(quantity),
                "po_price": str(po_line.unit_price),
                "invoiced_prices": sorted(str(price) for price in prices),
                "expected": str(expected),
                "invoiced": str(amount),
                "difference": str(difference),
                "tolerance": str(tolerance),
            }
        )
    if invoice.total_amount != invoice.net_amount + invoice.tax_amount:
        reasons.add(ReviewReason.TOTAL_MISMATCH)
    unmatched = sum((line.amount for line in lines if line.purchase_order_line_id is None), ZERO)
    invoiced_total += unmatched
    status = (
        MatchStatus.MISMATCH
        if reasons
        else MatchStatus.MATCHED
        if all_exact
        else MatchStatus.WITHIN_TOLERANCE
    )
    result = MatchResult.objects.create(
        invoice=invoice,
        status=status,
        expected_amount=expected_total,
        invoiced_amount=invoiced_total,
        difference=invoiced_total - expected_total,
        tolerance_amount=tolerance_total,
        lines=report,
        matched_at=now,
    )
    return result, sorted(reasons)


def _to_review(
    invoice: SupplierInvoice, result: MatchResult, reasons: list[str], actor: Any
) -> MatchResult:
    invoice.status = InvoiceStatus.IN_REVIEW
    invoice.save(update_fields=["status", "updated_at"])
    entry = ReviewEntry.objects.create(invoice=invoice, match=result, reasons=list(reasons))
    audit(
        entry,
        "invoice.review",
        actor,
        invoice.org_node,
        invoice=invoice.invoice_number,
        reasons=list(reasons),
        match=result.status,
        difference=result.difference,
    )
    publish(
        InvoiceInReview(
            invoice_id=invoice.pk,
            supplier_id=invoice.supplier_id,
            invoice_number=invoice.invoice_number,
            purchase_order_id=invoice.purchase_order_id,
            reasons=[str(reason) for reason in reasons],
        ),
        org_node=invoice.org_node,
    )
    return result


def _payable(
    invoice: SupplierInvoice, result: MatchResult, actor: Any, *, accepted_by_review: bool
) -> None:
    invoice.status = InvoiceStatus.PAYABLE
    invoice.save(update_fields=["status", "updated_at"])
    order = invoice.purchase_order
    audit(
        invoice,
        "invoice.payable",
        actor,
        invoice.org_node,
        invoice=invoice.invoice_number,
        match=result.status,
        total=invoice.total_amount,
        accepted_by_review=accepted_by_review,
    )
    publish(
        InvoiceMatched(
            invoice_id=invoice.pk,
            supplier_id=invoice.supplier_id,
            invoice_number=invoice.invoice_number,
            purchase_order_id=invoice.purchase_order_id,
            store_id=order.store_id if order is not None else None,
            legal_entity_id=order.store.legal_entity_id if order is not None else None,
            invoice_date=str(invoice.invoice_date),
            due_date=str(invoice.due_date),
            total=str(invoice.total_amount),
            tax=str(invoice.tax_amount),
            currency=invoice.currency,
            match_status=result.status,
            accepted_by_review=accepted_by_review,
        ),
        org_node=invoice.org_node,
    )


def resolve_review(entry: ReviewEntry, *, actor: Any, accept: bool, note: str = "") -> ReviewEntry:
    """Work a review-queue entry: accept (the invoice becomes payable) or reject it (a note is
    required). Resolving twice is `review_state`."""
    require_at(actor, PROCUREMENT_INVOICE, entry.invoice.org_node)
    note = (note or "").strip()
    problems: list[DomainError] = []
    if not accept and not note:
        problems.append(ValidationFailed({"note": [_("Say why the invoice is rejected.")]}))
    if len(note) > 500:
        problems.append(ValidationFailed({"note": [_("At most 500 characters.")]}))
    raise_all(problems)
    with transaction.atomic():
        entry = (
            ReviewEntry.objects.select_for_update(of=("self",))
            .select_related(
                "invoice__supplier", "invoice__org_node", "invoice__purchase_order__store", "match"
            )
            .get(pk=entry.pk)
        )
        if entry.status != ReviewStatus.OPEN:
            raise ReviewStateError(details={"status": entry.status})
        entry.status = ReviewStatus.ACCEPTED if accept else ReviewStatus.REJECTED
        entry.resolved_at = clock.now()
        entry.resolved_by_id = actor_id(actor)
        entry.resolution_note = note
        entry.save()
        invoice = entry.invoice
        audit(
            entry,
            "invoice.review.resolve",
            actor,
            invoice.org_node,
            reason=note,
            invoice=invoice.invoice_number,
            status=entry.status,
        )
        if accept:
            result = entry.match or invoice.matches.order_by("-pk").first()
            assert result is not None
            _payable(invoice, result, actor, accepted_by_review=True)
        else:
            invoice.status = InvoiceStatus.REJECTED
            invoice.save(update_fields=["status", "updated_at"])
            publish(
                InvoiceRejected(
                    invoice_id=invoice.pk,
                    supplier_id=invoice.supplier_id,
                    invoice_number=invoice.invoice_number,
                    reason=note,
                ),
                org_node=invoice.org_node,
            )
    return entry


def rematch_invoice(invoice: SupplierInvoice, *, actor: Any) -> MatchResult:
    """Run the three-way match again for an invoice in review (procurement.invoice at its
    node), say once goods that were not received yet have arrived. When it matches now its
    open review entries are closed and it becomes payable (`procurement.invoice.matched`, as
    for an invoice matched at once); otherwise its open entries take the new match and
    reasons. 409 `review_state` unless it is in review with an open entry."""
    require_at(actor, PROCUREMENT_INVOICE, invoice.org_node)
    with transaction.atomic():
        result = _rematch(invoice.pk, actor)
    if result is None:
        invoice.refresh_from_db(fields=["status"])
        raise ReviewStateError(
            _("Invoice %(number)s is %(status)s: only an invoice in review is matched again.")
            % {"number": invoice.invoice_number, "status": invoice.get_status_display()},
            details={"status": invoice.status},
        )
    return result


def rematch_invoices_of(
    order: PurchaseOrder, *, actor: Any, receipt_number: str = ""
) -> list[MatchResult]:
    """Match again every invoice of `order` still in review (inside the caller's transaction):
    a receipt calls it, so its receiver needs no invoice permission."""
    ids = (
        SupplierInvoice.objects.filter(
            purchase_order=order, status=InvoiceStatus.IN_REVIEW, reviews__status=ReviewStatus.OPEN
        )
        .values_list("pk", flat=True)
        .distinct()
        .order_by("pk")
    )
    results = [_rematch(pk, actor, receipt_number=receipt_number) for pk in list(ids)]
    return [result for result in results if result is not None]


def _rematch(invoice_id: int, actor: Any, *, receipt_number: str = "") -> MatchResult | None:
    """None when the invoice is not in review (any more) with an open entry."""
    # Locks in the order receipts (PO) and review decisions (entry, then invoice) take them.
    order_id = SupplierInvoice.objects.filter(pk=invoice_id).values_list(
        "purchase_order_id", flat=True
    )[0]
    if order_id is not None:
        list(PurchaseOrder.objects.select_for_update().filter(pk=order_id))
    entries = list(
        ReviewEntry.objects.select_for_update()
        .filter(invoice_id=invoice_id, status=ReviewStatus.OPEN)
        .order_by("pk")
    )
    invoice = (
        SupplierInvoice.objects.select_for_update(of=("self",))
        .select_related("supplier", "org_node", "purchase_order__store")
        .get(pk=invoice_id)
    )
    if invoice.status != InvoiceStatus.IN_REVIEW or not entries:
        return None
    before = {
        "status": invoice.status,
        "reasons": sorted({reason for entry in entries for reason in entry.reasons}),
    }
    result, reasons = _three_way(invoice)
    now = clock.now()
    for entry in entries:
        entry.match = result
        if reasons:
            entry.reasons = list(reasons)
        else:
            entry.status = ReviewStatus.ACCEPTED
            entry.resolved_at = now
            entry.resolved_by_id = actor_id(actor)
            entry.resolution_note = _("Matched again: the invoice matches now.")
        entry.save(
            update_fields=[
                "match",
                "reasons",
                "status",
                "resolved_at",
                "resolved_by",
                "resolution_note",
                "updated_at",
            ]
        )
    audit(
        invoice,
        "invoice.rematch",
        actor,
        invoice.org_node,
        before=before,
        invoice=invoice.invoice_number,
        match=result.status,
        reasons=list(reasons),
        reviews=[entry.pk for entry in entries],
        outcome=InvoiceStatus.IN_REVIEW if reasons else InvoiceStatus.PAYABLE,
        receipt=receipt_number or None,
    )
    if not reasons:
        _payable(invoice, result, actor, accepted_by_review=False)
    return result


__all__ = [
    "InvoiceInput",
    "InvoiceLineInput",
    "enter_invoice",
    "match_invoice",
    "rematch_invoice",
    "rematch_invoices_of",
    "resolve_review",
]
