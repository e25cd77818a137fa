"""Receiving (验收) against a purchase order.

A receipt records, per PO line, what was accepted and what was rejected (with a reason), the
item actually delivered when the supplier substituted another, lot and expiry, and the
temperature on arrival of chilled and frozen goods: outside the allowed range
(`PROCUREMENT_TEMPERATURE_RANGES`; by default chilled −2…5 °C, frozen ≤ −15 °C) the goods are
rejected or accepted with a note. Accepted lines are received into the ledger at the PO price
in one posting (keys `po-receipt:<receipt id>:<line no>`), with their lots.

A PO line may receive up to its ordered quantity plus the supplier's over-receipt tolerance
(`over_receipt` beyond it). The PO row and its lines are locked for the whole check-and-write,
so two receipts of one PO at once run one after the other and the second sees the first.
A PO stays open (partially received) until every line has arrived in full. Invoices of the PO
waiting in review are matched again in the same transaction (`rematch_invoices_of`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import gettext as _

from backroom.catalog.choices import STOCKED_KINDS, Storage
from backroom.catalog.exceptions import MissingConversion, UnknownUnit
from backroom.catalog.models import Item
from backroom.catalog.units import to_base
from backroom.events.services import publish
from backroom.inventory.services import RECEIVE, MoveInput, Source, post_moves
from backroom.kernel import clock
from backroom.kernel.exceptions import DomainError, ErrorCollector, ValidationFailed
from backroom.kernel.files import uploaded_image_type
from backroom.kernel.money import quantize_money, quantize_quantity, to_decimal
from backroom.kernel.numbering import next_document_number
from backroom.procurement.choices import (
    RECEIVABLE_PO_STATUSES,
    PurchaseOrderStatus,
    RejectionReason,
)
from backroom.procurement.events import ReceiptPosted
from backroom.procurement.exceptions import (
    OverReceipt,
    PurchaseOrderStateError,
    RejectionReasonRequired,
    TemperatureOutOfRange,
    TemperatureRequired,
    raise_all,
)
from backroom.procurement.models import PurchaseOrder, PurchaseOrderLine, Receipt, ReceiptLine
from backroom.procurement.permissions import PROCUREMENT_RECEIVE
from backroom.procurement.services.common import ZERO, actor_id, audit, require_at
from backroom.procurement.services.invoices import rematch_invoices_of

RECEIPT_SOURCE = "procurement.receipt"
PHOTO_MAX_BYTES = 10 * 1024 * 1024
PHOTO_EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/heic": "heic",
}
DEFAULT_TEMPERATURE_RANGES: dict[str, tuple[str | None, str | None]] = {
    Storage.CHILLED: ("-2", "5"),
    Storage.FROZEN: (None, "-15"),
}


@dataclass(frozen=True)
class ReceiptLineInput:
    """What arrived of one PO line, in the line's purchase unit: `quantity` accepted,
    `rejected_quantity` refused (with `rejection_reason`). `substitute_item_id` names the item
    delivered instead of the ordered one; `temperature` in °C."""

    line_id: int
    quantity: Decimal
    rejected_quantity: Decimal = Decimal(0)
    rejection_reason: str = ""
    lot_code: str | None = None
    expiry_date: dt.date | None = None
    temperature: Decimal | None = None
    substitute_item_id: int | None = None
    note: str = ""


def temperature_range(storage: str) -> tuple[Decimal | None, Decimal | None] | None:
    """The allowed (low, high) °C on arrival for a storage class; None when not checked."""
    ranges = getattr(settings, "PROCUREMENT_TEMPERATURE_RANGES", DEFAULT_TEMPERATURE_RANGES)
    bounds = ranges.get(storage)
    if bounds is None:
        return None
    low, high = bounds
    return (
        Decimal(str(low)) if low is not None else None,
        Decimal(str(high)) if high is not None else None,
    )


def _check_photo(photo: UploadedFile, errors: ErrorCollector) -> str | None:
    size = photo.size or 0
    if size == 0 or size > PHOTO_MAX_BYTES:
        errors.add("delivery_note_photo", _("Upload a photo of at most 10 MB."))
        return None
    kind = uploaded_image_type(photo)
    if kind is None:
        errors.add("delivery_note_photo", _("Upload a JPEG, PNG, WebP or HEIC image."))
    return kind


def _quantity(value: Any, name: str, problems: list[DomainError]) -> Decimal:
    try:
        number = quantize_quantity(to_decimal(value, field=name))
    except ValidationFailed as error:
        problems.append(error)
        return ZERO
    if number < 0:
        problems.append(ValidationFailed({name: [_("Cannot be negative.")]}))
        return ZERO
    return number


def _check_line(
    index: int,
    data: ReceiptLineInput,
    po_line: PurchaseOrderLine | None,
    tolerance: Decimal,
    substitutes: dict[int, Item],
    problems: list[DomainError],
) -> ReceiptLine | None:
    before = len(problems)
    if po_line is None:
        problems.append(
            ValidationFailed({f"lines.{index}.line_id": [_("Not a line of this purchase order.")]})
        )
        return None
    accepted = _quantity(data.quantity, f"lines.{index}.quantity", problems)
    rejected = _quantity(data.rejected_quantity, f"lines.{index}.rejected_quantity", problems)
    if len(problems) > before:
        return None
    if accepted + rejected == 0:
        problems.append(
            ValidationFailed({f"lines.{index}.quantity": [_("Nothing arrived on this line.")]})
        )
        return None
    reason = (data.rejection_reason or "").strip()
    if rejected > 0 and not reason:
        problems.append(RejectionReasonRequired(line=index, field="rejection_reason"))
    elif reason and reason not in RejectionReason.values:
        problems.append(
            ValidationFailed(
                {
                    f"lines.{index}.rejection_reason": [
                        _("“%(reason)s” is not a rejection reason.") % {"reason": reason}
                    ]
                }
            )
        )
    limit = quantize_quantity(po_line.quantity * (1 + tolerance / 100))
    if po_line.received_quantity + accepted > limit:
        problems.append(
            OverReceipt(
                _(
                    "%(item)s: %(total)s %(unit)s would be received of %(ordered)s ordered "
                    "(at most %(limit)s)."
                )
                % {
                    "item": po_line.item.sku,
                    "total": f"{(po_line.received_quantity + accepted).normalize():f}",
                    "unit": po_line.unit,
                    "ordered": f"{po_line.quantity.normalize():f}",
                    "limit": f"{limit.normalize():f}",
                },
                line=index,
                field="quantity",
                ordered=str(po_line.quantity),
                already_received=str(po_line.received_quantity),
                limit=str(limit),
            )
        )
    item = po_line.item
    if data.substitute_item_id is not None and data.substitute_item_id != po_line.item_id:
        substitute = substitutes.get(data.substitute_item_id)
        if substitute is None:
            problems.append(
                ValidationFailed(
                    {f"lines.{index}.substitute_item_id": [_("There is no such stocked item.")]}
                )
            )
            return None
        item = substitute
    note = (data.note or "").strip()
    if len(note) > 300:
        problems.append(ValidationFailed({f"lines.{index}.note": [_("At most 300 characters.")]}))
    lot_code = (data.lot_code or "").strip()
    if len(lot_code) > 60:
        problems.append(
            ValidationFailed({f"lines.{index}.lot_code": [_("At most 60 characters.")]})
        )
    temperature = None
    temperature_ok = None
    bounds = temperature_range(item.storage)
    if data.temperature is not None:
        try:
            temperature = to_decimal(data.temperature, field=f"lines.{index}.temperature")
        except ValidationFailed as error:
            problems.append(error)
    if bounds is not None and accepted > 0:
        if temperature is None and data.temperature is None:
            problems.append(
                TemperatureRequired(
                    _("%(item)s is %(storage)s: give its temperature on arrival.")
                    % {"item": item.sku, "storage": item.get_storage_display()},
                    line=index,
                    field="temperature",
                )
            )
        elif temperature is not None:
            low, high = bounds
            temperature_ok = (low is None or temperature >= low) and (
                high is None or temperature <= high
            )
            if not temperature_ok and not note:
                problems.append(
                    TemperatureOutOfRange(
                        _(
                            "%(item)s arrived at %(temperature)s °C (allowed %(low)s to %(high)s): "
                            "reject it or accept it with a note."
                        )
                        % {
                            "item": item.sku,
                            "temperature": temperature,
                            "low": low if low is not None else "−∞",
                            "high": high if high is not None else "∞",
                        },
                        line=index,
                        field="temperature",
                        low=str(low) if low is not None else None,
                        high=str(high) if high is not None else None,
                    )
                )
    elif bounds is not None and temperature is not None:
        low, high = bounds
        temperature_ok = (low is None or temperature >= low) and (
            high is None or temperature <= high
        )
    base = ZERO
    if accepted > 0:
        try:
            base = to_base(item, accepted, po_line.unit)
        except (UnknownUnit, MissingConversion, ValidationFailed) as error:
            problems.append(error)
    if len(problems) > before:
        return None
    return ReceiptLine(
        line_no=index + 1,
        purchase_order_line=po_line,
        item=item,
        is_substitution=item.pk != po_line.item_id,
        expected_quantity=po_line.outstanding_quantity,
        received_quantity=accepted,
        rejected_quantity=rejected,
        rejection_reason=reason,
        unit=po_line.unit,
        base_quantity=base,
        unit_price=po_line.unit_price,
        amount=quantize_money(accepted * po_line.unit_price, storage=True),
        lot_code=lot_code,
        expiry_date=data.expiry_date,
        temperature=temperature,
        temperature_ok=temperature_ok,
        note=note,
    )


def receive_purchase_order(
    order: PurchaseOrder,
    lines: Sequence[ReceiptLineInput],
    *,
    actor: Any,
    delivery_note_number: str = "",
    delivery_note_photo: UploadedFile | None = None,
    note: str = "",
    received_at: dt.datetime | None = None,
) -> Receipt:
    """Receive a delivery against a sent PO (procurement.receive at its store, and
    inventory.move to post the stock). Every problem of every line at once, nothing changed:
    over-receipt, missing rejection reason, temperature missing or out of range without a
    note, a substitute the PO unit does not fit."""
    require_at(actor, PROCUREMENT_RECEIVE, order.store.node)
    header = ErrorCollector()
    if not lines:
        header.add("lines", _("Receive at least one line."))
    if len(note) > 500:
        header.add("note", _("At most 500 characters."))
    if len(delivery_note_number) > 60:
        header.add("delivery_note_number", _("At most 60 characters."))
    when = received_at or clock.now()
    if when > clock.now() + dt.timedelta(minutes=5):
        header.add("received_at", _("A delivery cannot be received in the future."))
    kind = _check_photo(delivery_note_photo, header) if delivery_note_photo is not None else None
    header.raise_if_any()
    seen: set[int] = set()
    duplicates = [line.line_id for line in lines if line.line_id in seen or seen.add(line.line_id)]  # type: ignore[func-returns-value]
    if duplicates:
        raise ValidationFailed({"lines": [_("Each PO line at most once per receipt.")]})
    substitutes = (
        Item.objects.select_related("base_unit")
        .prefetch_related("units")
        .in_bulk({line.substitute_item_id for line in lines if line.substitute_item_id is not None})
    )
    substitutes = {
        pk: item
        for pk, item in substitutes.items()
        if item.kind in STOCKED_KINDS and item.is_active
    }
    saved_photo = ""
    try:
        with transaction.atomic():
            order = (
                PurchaseOrder.objects.select_for_update(of=("self",))
                .select_related("supplier", "store__node", "location")
                .get(pk=order.pk)
            )
            if order.status not in RECEIVABLE_PO_STATUSES:
                raise PurchaseOrderStateError(
                    _("Purchase order %(number)s is %(status)s: only a sent PO is received.")
                    % {"number": order.number, "status": order.get_status_display()},
                    details={"status": order.status, "expected": list(RECEIVABLE_PO_STATUSES)},
                )
            po_lines = {
                line.pk: line
                for line in PurchaseOrderLine.objects.select_for_update()
                .select_related("item__base_unit")
                .prefetch_related("item__units")
                .filter(order=order)
                .order_by("pk")
            }
            problems: list[DomainError] = []
            tolerance = order.supplier.over_receipt_tolerance_percent
            prepared = [
                _check_line(
                    index, line, po_lines.get(line.line_id), tolerance, substitutes, problems
                )
                for index, line in enumerate(lines)
            ]
            raise_all(problems)
            rows = [row for row in prepared if row is not None]
            receipt = Receipt(
                number=next_document_number("RCV", order.store.node.code),
                purchase_order=order,
                store=order.store,
                location=order.location,
                received_at=when,
                received_by_id=actor_id(actor),
                delivery_note_number=delivery_note_number.strip(),
                note=note,
                currency=order.currency,
                accepted_value=sum((row.amount for row in rows), ZERO),
            )
            if delivery_note_photo is not None and kind is not None:
                receipt.photo_content_type = kind
                receipt.delivery_note_photo.save(
                    f"{receipt.number}.{PHOTO_EXTENSIONS[kind]}", delivery_note_photo, save=False
                )
                saved_photo = receipt.delivery_note_photo.name or ""
            receipt.save()
            for row in rows:
                row.receipt = receipt
            ReceiptLine.objects.bulk_create(rows)
            accepted = [row for row in rows if row.received_quantity > 0]
            if accepted:
                result = post_moves(
                    [
                        MoveInput(
                            action=RECEIVE,
                            item_id=row.item_id,
                            location_id=order.location_id,
                            quantity=row.received_quantity,
                            unit=row.unit,
                            unit_cost=row.unit_price,
                            key=f"po-receipt:{receipt.pk}:{row.line_no}",
                            lot_code=row.lot_code or None,
                            expiry_date=row.expiry_date,
                            source=Source(RECEIPT_SOURCE, str(receipt.pk), receipt.number),
                            occurred_at=when,
                        )
                        for row in accepted
                    ],
                    actor=actor,
                    operation="receive",
                    reason=_("Receipt %(number)s of %(po)s")
                    % {"number": receipt.number, "po": order.number},
                )
                receipt.posting = result.posting
                receipt.save(update_fields=["posting"])
            for row in rows:
                po_line = row.purchase_order_line
                po_line.received_quantity += row.received_quantity
                # In the ordered item's base unit, substitute or not: what is still on order of
                # it is the line's base quantity less this.
                po_line.received_base += (
                    to_base(po_line.item, row.received_quantity, po_line.unit)
                    if row.is_substitution
                    else row.base_quantity
                )
                po_line.rejected_quantity += row.rejected_quantity
            PurchaseOrderLine.objects.bulk_update(
                [row.purchase_order_line for row in rows],
                ["received_quantity", "received_base", "rejected_quantity"],
            )
            complete = all(line.received_quantity >= line.quantity for line in po_lines.values())
            order.status = (
                PurchaseOrderStatus.RECEIVED if complete else PurchaseOrderStatus.PARTIALLY_RECEIVED
            )
            order.receipt_count += 1
            order.save(update_fields=["status", "receipt_count", "updated_at"])
            rejected_lines = sum(1 for row in rows if row.rejected_quantity > 0)
            audit(
                receipt,
                "receipt.create",
                actor,
                order.store.node,
                number=receipt.number,
                purchase_order=order.number,
                po_status=order.status,
                accepted_value=receipt.accepted_value,
                posting_id=receipt.posting_id,
                photo=bool(saved_photo),
                lines=[
                    {
                        "po_line_id": row.purchase_order_line_id,
                        "item_id": row.item_id,
                        "accepted": row.received_quantity,
                        "rejected": row.rejected_quantity,
                        "rejection_reason": row.rejection_reason,
                        "lot": row.lot_code,
                        "expiry_date": row.expiry_date,
                        "temperature": row.temperature,
                        "substitution": row.is_substitution,
                    }
                    for row in rows[:100]
                ],
            )
            publish(
                ReceiptPosted(
                    receipt_id=receipt.pk,
                    number=receipt.number,
                    purchase_order_id=order.pk,
                    store_id=order.store_id,
                    posting_id=receipt.posting_id,
                    po_status=order.status,
                    accepted_value=str(receipt.accepted_value),
                    currency=receipt.currency,
                    rejected_lines=rejected_lines,
                ),
                org_node=order.store.node,
            )
            if accepted:  # invoices waiting for these goods may match now
                rematch_invoices_of(order, actor=actor, receipt_number=receipt.number)
    except BaseException:
        if saved_photo:
            receipt.delivery_note_photo.storage.delete(saved_photo)
        raise
    return receipt


__all__ = ["ReceiptLineInput", "receive_purchase_order", "temperature_range"]
