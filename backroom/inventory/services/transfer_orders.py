"""Transfer orders (调拨单): draft → dispatched → (partially received →) received, or cancelled.

An order moves stock from a location of one site to a location of another (store ↔ store,
warehouse → store, central kitchen → store). Quantities on a line are in the line's unit.

* **Dispatch** (inventory.move at the sender) records the dispatched quantity of each line and
  calls the ledger's `transfer` once per line, under the line's transfer key
  `transfer-order:<order id>:<line id>`: the stock leaves the sending location at its moving-
  average cost and waits in the sending site's in-transit location.
* **Receive** (inventory.move at the receiver) records what arrived and calls
  `receive_transfer` for it. A partial receipt (`close=False`) leaves the rest in transit.
  The closing receipt (`close=True`, the default) settles each line: what arrived short
  (reason `short` or `damaged`) is written off from in transit, and what arrived over (reason
  `over`) is booked into the receiving location at the line's dispatch cost, both as moves
  with reason `transfer_discrepancy` and key `<transfer key>:discrepancy`. Afterwards nothing
  of the order is left in transit, and the discrepancy value is kept on the line.
* **Cancel**: only a draft (nothing has moved). Once dispatched, an order is closed by
  receiving it (with discrepancies if nothing arrived).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from backroom.accounts.authorization import require_permission
from backroom.audit.services import record_audit
from backroom.catalog.exceptions import MissingConversion, UnknownUnit
from backroom.catalog.models import Item
from backroom.events.services import publish
from backroom.inventory.choices import (
    DiscrepancyReason,
    LocationKind,
    MoveReason,
    PostingOperation,
    TransferStatus,
)
from backroom.inventory.documents import (
    TRANSFER_ORDER_SOURCE,
    DiscrepancyReasonRequired,
    TransferOrderCancelled,
    TransferOrderCreated,
    TransferOrderDispatched,
    TransferOrderReceived,
    TransferOrderStateError,
)
from backroom.inventory.exceptions import NegativeQuantity, TransferToSelf
from backroom.inventory.ledger import LedgerSession, LineProblem, MoveMeta
from backroom.inventory.models import Location, TransferOrder, TransferOrderLine
from backroom.inventory.permissions import INVENTORY_MOVE
from backroom.inventory.services.common import (
    Source,
    actor_id,
    finish_posting,
    item_problem,
    load_items,
    load_locations,
    location_problem,
    parse_quantity,
    raise_problems,
)
from backroom.inventory.services.locations import transit_location
from backroom.inventory.services.posting import _base_quantity, check_document_line, find_lots
from backroom.inventory.services.transfers import (
    TRANSFER_SOURCE,
    in_transit,
    receive_transfer,
    transfer,
)
from backroom.inventory.valuation import cost
from backroom.kernel.exceptions import DomainError, ErrorCollector, ValidationFailed
from backroom.kernel.money import quantize_money
from backroom.kernel.numbering import next_document_number

ZERO = Decimal(0)
MAX_LINES = 500
SHORT_REASONS = {DiscrepancyReason.SHORT, DiscrepancyReason.DAMAGED}


@dataclass(frozen=True)
class TransferLineInput:
    """One item to transfer: `quantity` in `unit` (the item's base unit when None)."""

    item_id: int
    quantity: Decimal
    unit: str | None = None
    lot_code: str | None = None
    note: str = ""


@dataclass(frozen=True)
class DispatchLine:
    """What left for one line, in the line's unit (0: nothing of it was sent)."""

    line_id: int
    quantity: Decimal


@dataclass(frozen=True)
class ReceiptLine:
    """What arrived of one line in this receipt, in the line's unit, and why it differs."""

    line_id: int
    quantity: Decimal
    discrepancy_reason: str = ""
    note: str = ""


def transfer_key(line: TransferOrderLine) -> str:
    """The ledger's transfer key of one order line (its moves' source id)."""
    return f"transfer-order:{line.order_id}:{line.pk}"


def _audit(
    order: TransferOrder, action: str, actor: Any, node: Any, reason: str = "", **after: Any
) -> None:
    record_audit(
        actor=actor,
        action=f"inventory.transfer_order.{action}",
        target=order,
        after={"number": order.number, "status": order.status, **after},
        reason=reason,
        org_node=node,
    )


def _locked(order: TransferOrder, *expected: str) -> TransferOrder:
    """The order locked for this step; TransferOrderStateError unless in one of `expected`."""
    locked = (
        TransferOrder.objects.select_for_update()
        .select_related(
            "from_site__node",
            "to_site__node",
            "from_location__site__node",
            "to_location__site__node",
        )
        .get(pk=order.pk)
    )
    if locked.status not in expected:
        raise TransferOrderStateError(
            _("Transfer order %(number)s is %(status)s.")
            % {"number": locked.number, "status": locked.get_status_display()},
            details={"status": locked.status, "expected": list(expected)},
        )
    return locked


def _plain(value: Decimal) -> str:
    return f"{value.normalize():f}"


def create_transfer_order(
    *,
    from_location_id: int,
    to_location_id: int,
    lines: Sequence[TransferLineInput],
    actor: Any,
    note: str = "",
    expected_date: dt.date | None = None,
) -> TransferOrder:
    """A draft transfer order (inventory.move at the sending or the receiving site).

    The two locations must be open stock locations of two different sites (`transfer_to_self`
    for one site). Every problem of the header and each line is reported together.
    """
    locations = load_locations([from_location_id, to_location_id])
    source, destination = locations.get(from_location_id), locations.get(to_location_id)
    for location in (source, destination):
        if location is not None and location.kind == LocationKind.IN_TRANSIT:
            if location is source:
                source = None
            else:
                destination = None
    known = [location for location in (source, destination) if location is not None]
    if known and not any(
        actor is not None
        and getattr(actor, "is_authenticated", False)
        and actor.has_scoped_permission(INVENTORY_MOVE, location.site.node)
        for location in known
    ):
        require_permission(actor, INVENTORY_MOVE, known[0].site.node)
    if not known:
        require_permission(actor, INVENTORY_MOVE)
    problems: list[DomainError] = []
    for problem in (
        location_problem(source, from_location_id, "from_location_id"),
        location_problem(destination, to_location_id, "to_location_id"),
    ):
        if problem is not None:
            problems.append(problem)
    if source is not None and destination is not None and source.site_id == destination.site_id:
        problems.append(
            TransferToSelf(
                _(
                    "A transfer order goes to another site; move stock within a site with a transfer."
                ),
                field="to_location_id",
            )
        )
    header = ErrorCollector()
    if len(note) > 500:
        header.add("note", _("At most 500 characters."))
    if not lines:
        header.add("lines", _("Add at least one line."))
    elif len(lines) > MAX_LINES:
        header.add("lines", _("At most %(count)s lines per order.") % {"count": MAX_LINES})
    if header:
        problems.append(ValidationFailed(header.errors))
    raise_problems([LineProblem(0, error) for error in problems], single=True)
    assert source is not None and destination is not None
    prepared = _prepare_lines(lines)
    with transaction.atomic():
        order = TransferOrder.objects.create(
            number=next_document_number("TRF", source.site.node.code),
            from_site=source.site,
            from_location=source,
            to_site=destination.site,
            to_location=destination,
            note=note,
            expected_date=expected_date,
            created_by_id=actor_id(actor),
        )
        for line in prepared:
            line.order = order
        TransferOrderLine.objects.bulk_create(prepared)
        _audit(
            order,
            "create",
            actor,
            source.site.node,
            from_location_id=source.pk,
            to_location_id=destination.pk,
            lines=[
                {
                    "item_id": line.item_id,
                    "quantity": line.requested_quantity,
                    "unit": line.unit,
                    "lot_id": line.lot_id,
                }
                for line in prepared[:50]
            ],
        )
        publish(
            TransferOrderCreated(
                order_id=order.pk,
                number=order.number,
                from_site_id=order.from_site_id,
                to_site_id=order.to_site_id,
            ),
            org_node=source.site.node,
        )
    return order


def _prepare_lines(lines: Sequence[TransferLineInput]) -> list[TransferOrderLine]:
    items = load_items(line.item_id for line in lines)
    lots = find_lots(lines)
    problems: list[LineProblem] = []
    prepared: list[TransferOrderLine] = []
    for index, line in enumerate(lines):
        errors: list[DomainError] = []
        item = items.get(line.item_id)
        problem = item_problem(item)
        if problem is not None:
            errors.append(problem)
        quantity, base, lot = check_document_line(item, line, lots, errors)
        if errors:
            problems.extend(LineProblem(index, error) for error in errors)
            continue
        assert item is not None
        prepared.append(
            TransferOrderLine(
                line_no=index + 1,
                item=item,
                lot=lot,
                requested_quantity=quantity,
                unit=line.unit or item.base_unit.code,
                requested_base=base,
                note=line.note,
            )
        )
    raise_problems(problems, single=False)
    return prepared


def _order_lines(order: TransferOrder) -> list[TransferOrderLine]:
    # Item order, so every ledger call of the order takes its locks in one direction.
    return list(
        TransferOrderLine.objects.filter(order=order)
        .select_related("item__item_class", "item__base_unit", "lot")
        .order_by("item_id", "line_no")
    )


def _in_unit(
    lines: dict[int, TransferOrderLine],
    index: int,
    line_id: int,
    quantity: Any,
    problems: list[LineProblem],
) -> tuple[TransferOrderLine | None, Decimal, Decimal]:
    """Parse one line's quantity (≥ 0, line's unit); returns (line, quantity, base)."""
    line = lines.get(line_id)
    if line is None:
        problems.append(
            LineProblem(
                index,
                ValidationFailed({"line_id": [_("There is no such line on this order.")]}),
            )
        )
        return None, ZERO, ZERO
    try:
        value = parse_quantity(quantity)
    except ValidationFailed as error:
        problems.append(LineProblem(index, error))
        return None, ZERO, ZERO
    if value < 0:
        problems.append(
            LineProblem(
                index, NegativeQuantity(_("The quantity cannot be negative."), field="quantity")
            )
        )
        return None, ZERO, ZERO
    try:
        base = _base_quantity(line.item, value, line.unit) if value else ZERO
    except (UnknownUnit, MissingConversion, ValidationFailed) as error:
        problems.append(LineProblem(index, error))
        return None, ZERO, ZERO
    return line, value, base


def _no_repeats(ids: Sequence[int]) -> list[LineProblem]:
    seen: dict[int, int] = {}
    problems = []
    for index, line_id in enumerate(ids):
        if line_id in seen:
            problems.append(
                LineProblem(
                    index,
                    ValidationFailed(
                        {
                            "line_id": [
                                _("The line is also given at index %(index)s.")
                                % {"index": seen[line_id]}
                            ]
                        }
                    ),
                )
            )
        else:
            seen[line_id] = index
    return problems


def dispatch_transfer_order(
    order: TransferOrder,
    lines: Sequence[DispatchLine] | None = None,
    *,
    actor: Any,
) -> TransferOrder:
    """Send a draft (inventory.move at the sending site): each line's dispatched quantity
    (the requested one when `lines` is None; 0 sends nothing of it) goes into transit.

    Every problem is reported at once — unknown lines, negative quantities, and a shortfall
    at the sending location under a "forbid" policy (`batch_rejected`, each line's
    `insufficient_stock`); then nothing is dispatched.
    """
    require_permission(actor, INVENTORY_MOVE, order.from_site.node)
    with transaction.atomic():
        order = _locked(order, TransferStatus.DRAFT)
        by_id = {line.pk: line for line in _order_lines(order)}
        problems: list[LineProblem] = []
        wanted: dict[int, tuple[Decimal, Decimal]] = {}
        if lines is None:
            wanted = {
                line.pk: (line.requested_quantity, line.requested_base) for line in by_id.values()
            }
        else:
            problems.extend(_no_repeats([line.line_id for line in lines]))
            for index, given in enumerate(lines):
                line, value, base = _in_unit(by_id, index, given.line_id, given.quantity, problems)
                if line is not None:
                    wanted[line.pk] = (value, base)
        raise_problems(problems, single=False)
        if not any(base > 0 for _, base in wanted.values()):
            raise ValidationFailed({"lines": [_("Dispatch at least one line.")]})
        positions = {line_id: index for index, line_id in enumerate(by_id)}
        if lines is not None:
            positions = {given.line_id: index for index, given in enumerate(lines)}
        source = Source(TRANSFER_ORDER_SOURCE, str(order.pk), order.number)
        now = timezone.now()
        total = ZERO
        for line in by_id.values():
            value, base = wanted.get(line.pk, (ZERO, ZERO))
            line.dispatched_quantity = value
            line.dispatched_value = ZERO
            if base <= 0:
                continue
            try:
                result = transfer(
                    item=line.item,
                    from_location=order.from_location,
                    to_location=order.to_location,
                    quantity=base,
                    key=transfer_key(line),
                    actor=actor,
                    lot_code=line.lot.code if line.lot is not None else None,
                    source=source,
                    occurred_at=now,
                )
            except DomainError as error:
                problems.append(LineProblem(positions.get(line.pk, 0), error))
                continue
            line.dispatched_value = quantize_money(
                -sum((move.value for move in result.rows if move.quantity < 0), ZERO),
                storage=True,
            )
            total += line.dispatched_value
        raise_problems(problems, single=False)
        TransferOrderLine.objects.bulk_update(
            list(by_id.values()), ["dispatched_quantity", "dispatched_value"]
        )
        order.status = TransferStatus.DISPATCHED
        order.dispatched_at = now
        order.dispatched_by_id = actor_id(actor)
        order.save(update_fields=["status", "dispatched_at", "dispatched_by", "updated_at"])
        _audit(
            order,
            "dispatch",
            actor,
            order.from_site.node,
            value=total,
            lines=[
                {"line_id": line.pk, "dispatched": line.dispatched_quantity}
                for line in list(by_id.values())[:50]
            ],
        )
        publish(
            TransferOrderDispatched(
                order_id=order.pk,
                number=order.number,
                from_site_id=order.from_site_id,
                to_site_id=order.to_site_id,
                value=str(total),
            ),
            org_node=order.from_site.node,
        )
    return order


def _settle(
    order: TransferOrder,
    line: TransferOrderLine,
    difference: Decimal,
    *,
    actor: Any,
) -> Decimal:
    """Book a closing receipt's difference (base unit; < 0 short, > 0 over); returns its value
    (negative for a loss)."""
    key = transfer_key(line)
    meta = MoveMeta(
        key=f"{key}:discrepancy",
        occurred_at=timezone.now(),
        source_type=TRANSFER_SOURCE,
        source_id=key[:64],
        source_number=order.number[:64],
    )
    item: Item = line.item
    if difference < 0:
        left = in_transit(key)
        transit = transit_location(order.from_site, actor=actor)
        session = LedgerSession(
            items={item.pk: item},
            locations={transit.pk: transit},
            pairs={(item.pk, transit.pk)},
            actor_id=actor_id(actor),
        )
        session.outbound(
            0,
            item=item,
            location=transit,
            quantity=-difference,
            reason=MoveReason.TRANSFER_DISCREPANCY,
            meta=meta,
            allow_expired=True,
            only_lots=left,
        )
    else:
        destination: Location = order.to_location
        dispatched_base = (
            _base_quantity(item, line.dispatched_quantity, line.unit)
            if line.dispatched_quantity
            else ZERO
        )
        unit_cost = (
            cost((line.dispatched_value or ZERO) / dispatched_base) if dispatched_base else None
        )
        session = LedgerSession(
            items={item.pk: item},
            locations={destination.pk: destination},
            pairs={(item.pk, destination.pk)},
            actor_id=actor_id(actor),
        )
        session.inbound(
            0,
            item=item,
            location=destination,
            quantity=difference,
            unit_cost=unit_cost,
            reason=MoveReason.TRANSFER_DISCREPANCY,
            meta=meta,
            lot_id=line.lot_id,
        )
    raise_problems(session.problems, single=True)
    result = finish_posting(
        session,
        operation=PostingOperation.TRANSFER_DISCREPANCY,
        actor=actor,
        reason=_("Transfer %(number)s: %(reason)s")
        % {"number": order.number, "reason": line.get_discrepancy_reason_display()},
        extra={"transfer_order": order.number, "line_id": line.pk},
    )
    return quantize_money(sum((move.value for move in result.rows), ZERO), storage=True)


def receive_transfer_order(
    order: TransferOrder,
    lines: Sequence[ReceiptLine] | None = None,
    *,
    actor: Any,
    close: bool = True,
) -> TransferOrder:
    """Record what arrived (inventory.move at the receiving site).

    `lines` gives the quantity that arrived now per line (in the line's unit; a line left out
    arrived 0 now); None means everything still in transit arrived as sent. With `close`
    (default) each line whose total received differs from its dispatched quantity needs a
    discrepancy reason — `short` or `damaged` when less arrived, `over` when more — and is
    settled (see the module); the order becomes received. Without `close`, at most what is in
    transit may be received, and the order stays partially received.
    """
    require_permission(actor, INVENTORY_MOVE, order.to_site.node)
    with transaction.atomic():
        order = _locked(order, TransferStatus.DISPATCHED, TransferStatus.PARTIALLY_RECEIVED)
        by_id = {line.pk: line for line in _order_lines(order)}
        left = {
            line.pk: sum(in_transit(transfer_key(line)).values(), ZERO) for line in by_id.values()
        }
        problems: list[LineProblem] = []
        arrived: dict[int, tuple[Decimal, Decimal]] = {}
        reasons: dict[int, str] = {}
        notes: dict[int, str] = {}
        positions: dict[int, int] = {}
        if lines is None:
            for index, each in enumerate(by_id.values()):
                arrived[each.pk] = (_remaining_in_unit(each, left[each.pk]), left[each.pk])
                positions[each.pk] = index
        else:
            problems.extend(_no_repeats([line.line_id for line in lines]))
            for index, given in enumerate(lines):
                found, value, base = _in_unit(by_id, index, given.line_id, given.quantity, problems)
                if found is None:
                    continue
                positions[found.pk] = index
                arrived[found.pk] = (value, base)
                reason = (given.discrepancy_reason or "").strip()
                if reason and reason not in DiscrepancyReason.values:
                    problems.append(
                        LineProblem(
                            index,
                            ValidationFailed(
                                {"discrepancy_reason": [_("Use short, damaged or over.")]}
                            ),
                        )
                    )
                reasons[found.pk] = reason
                if len(given.note) > 300:
                    problems.append(
                        LineProblem(
                            index, ValidationFailed({"note": [_("At most 300 characters.")]})
                        )
                    )
                notes[found.pk] = given.note
        raise_problems(problems, single=False)
        differences: dict[int, Decimal] = {}
        for line in by_id.values():
            index = positions.get(line.pk, len(positions))
            value, base = arrived.get(line.pk, (ZERO, ZERO))
            if not close:
                if base > left[line.pk]:
                    problems.append(
                        LineProblem(
                            index,
                            ValidationFailed(
                                {
                                    "quantity": [
                                        _(
                                            "Only %(left)s %(unit)s is in transit; close the "
                                            "receipt to record more arriving."
                                        )
                                        % {
                                            "left": _plain(_remaining_in_unit(line, left[line.pk])),
                                            "unit": line.unit,
                                        }
                                    ]
                                }
                            ),
                        )
                    )
                continue
            difference = base - left[line.pk]
            reason = reasons.get(line.pk, "")
            if difference == 0:
                continue
            differences[line.pk] = difference
            if not reason:
                problems.append(
                    LineProblem(
                        index,
                        DiscrepancyReasonRequired(
                            _(
                                "%(item)s: %(received)s %(unit)s arrived, %(sent)s were sent; say why."
                            )
                            % {
                                "item": line.item.sku,
                                "received": _plain(line.received_quantity + value),
                                "sent": _plain(line.dispatched_quantity or ZERO),
                                "unit": line.unit,
                            },
                            details={"line_id": line.pk, "field": "discrepancy_reason"},
                        ),
                    )
                )
            elif (difference < 0 and reason not in SHORT_REASONS) or (
                difference > 0 and reason != DiscrepancyReason.OVER
            ):
                problems.append(
                    LineProblem(
                        index,
                        ValidationFailed(
                            {
                                "discrepancy_reason": [
                                    _("Less arrived than was sent: use short or damaged.")
                                    if difference < 0
                                    else _("More arrived than was sent: use over.")
                                ]
                            }
                        ),
                    )
                )
        raise_problems(problems, single=False)
        order.receipt_count += 1
        discrepancy_value = ZERO
        for line in by_id.values():
            value, base = arrived.get(line.pk, (ZERO, ZERO))
            take = min(base, left[line.pk])
            if take > 0:
                receive_transfer(
                    transfer_key=transfer_key(line),
                    location=order.to_location,
                    key=f"{transfer_key(line)}:receipt:{order.receipt_count}",
                    actor=actor,
                    quantity=take,
                    occurred_at=timezone.now(),
                )
            line.received_quantity += value
            if notes.get(line.pk):
                line.note = notes[line.pk]
            if close and line.pk in differences:
                line.discrepancy_reason = reasons[line.pk]
                line.discrepancy_quantity = line.received_quantity - (
                    line.dispatched_quantity or ZERO
                )
                line.discrepancy_value = _settle(order, line, differences[line.pk], actor=actor)
                discrepancy_value += line.discrepancy_value
        TransferOrderLine.objects.bulk_update(
            list(by_id.values()),
            [
                "received_quantity",
                "note",
                "discrepancy_reason",
                "discrepancy_quantity",
                "discrepancy_value",
            ],
        )
        order.status = TransferStatus.RECEIVED if close else TransferStatus.PARTIALLY_RECEIVED
        order.received_at = timezone.now()
        order.received_by_id = actor_id(actor)
        order.save(
            update_fields=["status", "receipt_count", "received_at", "received_by", "updated_at"]
        )
        discrepancy_lines = sum(1 for line in by_id.values() if line.pk in differences)
        _audit(
            order,
            "receive",
            actor,
            order.to_site.node,
            close=close,
            lines=[
                {
                    "line_id": line.pk,
                    "received": line.received_quantity,
                    "discrepancy": line.discrepancy_quantity,
                    "reason": line.discrepancy_reason,
                }
                for line in list(by_id.values())[:50]
            ],
            discrepancy_value=discrepancy_value,
        )
        publish(
            TransferOrderReceived(
                order_id=order.pk,
                number=order.number,
                from_site_id=order.from_site_id,
                to_site_id=order.to_site_id,
                status=order.status,
                discrepancy_lines=discrepancy_lines,
                discrepancy_value=str(discrepancy_value),
            ),
            org_node=order.to_site.node,
        )
    return order


def _remaining_in_unit(line: TransferOrderLine, base: Decimal) -> Decimal:
    """A base quantity in the line's unit (what the receiver sees)."""
    if not base:
        return ZERO
    if line.unit == line.item.base_unit.code:
        return base
    per_unit = _base_quantity(line.item, Decimal(1), line.unit)
    return parse_quantity(base / per_unit)


def cancel_transfer_order(order: TransferOrder, *, actor: Any, reason: str = "") -> TransferOrder:
    """Cancel a draft (inventory.move at either site); nothing has moved yet."""
    if not (
        getattr(actor, "is_authenticated", False)
        and actor.has_scoped_permission(INVENTORY_MOVE, order.to_site.node)
    ):
        require_permission(actor, INVENTORY_MOVE, order.from_site.node)
    if len(reason) > 500:
        raise ValidationFailed({"reason": [_("At most 500 characters.")]})
    with transaction.atomic():
        order = _locked(order, TransferStatus.DRAFT)
        order.status = TransferStatus.CANCELLED
        order.cancelled_at = timezone.now()
        order.cancel_reason = reason
        order.save(update_fields=["status", "cancelled_at", "cancel_reason", "updated_at"])
        _audit(order, "cancel", actor, order.from_site.node, reason=reason)
        publish(
            TransferOrderCancelled(
                order_id=order.pk,
                number=order.number,
                from_site_id=order.from_site_id,
                to_site_id=order.to_site_id,
            ),
            org_node=order.from_site.node,
        )
    return order


__all__ = [
    "DispatchLine",
    "ReceiptLine",
    "TransferLineInput",
    "cancel_transfer_order",
    "create_transfer_order",
    "dispatch_transfer_order",
    "receive_transfer_order",
    "transfer_key",
]
