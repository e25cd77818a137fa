"""Receive, consume and adjust stock, one line at a time or in batches (`post_moves`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from backroom.catalog.exceptions import MissingConversion, UnknownUnit
from backroom.catalog.models import Item
from backroom.catalog.units import to_base
from backroom.inventory.choices import (
    ADJUST_REASONS,
    ISSUE_REASONS,
    MoveReason,
    PostingOperation,
)
from backroom.inventory.exceptions import ExpiredLot, NegativeQuantity, UnknownLot
from backroom.inventory.ledger import LedgerSession, LineProblem, MoveMeta, site_today
from backroom.inventory.models import Location, Lot
from backroom.inventory.permissions import INVENTORY_MOVE
from backroom.inventory.services.common import (
    PostingResult,
    Source,
    actor_id,
    check_key,
    existing_moves,
    finish_posting,
    item_problem,
    load_items,
    load_locations,
    location_problem,
    moment,
    parse_quantity,
    raise_problems,
    replay_result,
    require_at_sites,
)
from backroom.inventory.valuation import cost
from backroom.kernel.exceptions import DomainError, ValidationFailed

RECEIVE, ISSUE, ADJUST = "receive", "issue", "adjust"
ACTIONS = (RECEIVE, ISSUE, ADJUST)


@dataclass
class MoveInput:
    """One line of a batch. `quantity` is in `unit` (the item's base unit when None).

    receive: quantity > 0 at `unit_cost` per `unit`, into lot `lot_code` (created with
    `expiry_date` when new). issue: quantity > 0 leaves FEFO (or from `lot_code`) for `reason`
    (consumption, sale, waste, production_input). adjust: a signed change (adjustment or
    count_variance); up at `unit_cost` or the current average, down FEFO.
    """

    action: str
    item_id: int
    location_id: int
    quantity: Decimal
    key: str
    unit: str | None = None
    unit_cost: Decimal | None = None
    lot_code: str | None = None
    expiry_date: dt.date | None = None
    reason: str | None = None
    source: Source | None = None
    occurred_at: dt.datetime | None = None


@dataclass
class _Line:
    index: int
    action: str
    item: Item
    location: Location
    quantity: Decimal  # base unit, signed for adjust
    unit_cost: Decimal | None  # per base unit
    lot_code: str | None
    expiry_date: dt.date | None
    lot_id: int | None
    reason: str
    meta: MoveMeta


def _base_quantity(item: Item, quantity: Decimal, unit: str | None) -> Decimal:
    if unit is None or unit == item.base_unit.code:
        return quantity
    return to_base(item, quantity, unit)


def _prepare(
    indexed: Sequence[tuple[int, MoveInput]],
    items: dict[int, Item],
    locations: dict[int, Location],
) -> tuple[list[_Line], list[LineProblem]]:
    """Check every line without writing; returns the lines in base units and every problem."""
    problems: list[LineProblem] = []
    lines: list[_Line] = []
    lot_codes = {
        (line.item_id, line.lot_code.strip())
        for _, line in indexed
        if line.lot_code and line.lot_code.strip()
    }
    lots: dict[tuple[int, str], Lot] = {}
    if lot_codes:
        for lot in Lot.objects.filter(
            item_id__in={item for item, _ in lot_codes}, code__in={code for _, code in lot_codes}
        ):
            lots[(lot.item_id, lot.code)] = lot
    now = moment(None)
    item_problems: dict[int, DomainError | None] = {}
    location_problems: dict[int, DomainError | None] = {}
    for index, line in indexed:
        errors: list[DomainError] = []

        def add(error: DomainError | None, errors: list[DomainError] = errors) -> None:
            if error is not None:
                errors.append(error)

        item = items.get(line.item_id)
        location = locations.get(line.location_id)
        if line.item_id not in item_problems:
            item_problems[line.item_id] = item_problem(item)
        if line.location_id not in location_problems:
            location_problems[line.location_id] = location_problem(location, line.location_id)
        add(item_problems[line.item_id])
        add(location_problems[line.location_id])
        if line.action not in ACTIONS:
            add(ValidationFailed({"action": [_("Use receive, issue or adjust.")]}))
            problems.extend(LineProblem(index, error) for error in errors)
            continue
        reason = (
            line.reason
            or {
                RECEIVE: MoveReason.RECEIPT,
                ISSUE: MoveReason.CONSUMPTION,
                ADJUST: MoveReason.ADJUSTMENT,
            }[line.action]
        )
        allowed = {
            RECEIVE: {MoveReason.RECEIPT},
            ISSUE: ISSUE_REASONS,
            ADJUST: ADJUST_REASONS,
        }[line.action]
        if reason not in allowed:
            add(
                ValidationFailed(
                    {"reason": [_("“%(reason)s” is not a reason here.") % {"reason": reason}]}
                )
            )
        quantity = Decimal(0)
        try:
            quantity = parse_quantity(line.quantity)
        except ValidationFailed as error:
            add(error)
        if line.action == ADJUST and quantity == 0 and not errors:
            add(NegativeQuantity(_("An adjustment cannot be zero."), field="quantity"))
        elif line.action != ADJUST and quantity <= 0 and not errors:
            add(NegativeQuantity(field="quantity"))
        base = quantity
        if item is not None and quantity:
            try:
                base = _base_quantity(item, quantity, line.unit)
            except (UnknownUnit, MissingConversion, ValidationFailed) as error:
                add(error)
            if base == 0 and not errors:
                add(NegativeQuantity(_("The quantity rounds to zero."), field="quantity"))
        unit_cost: Decimal | None = None
        if line.unit_cost is not None:
            try:
                unit_cost = parse_quantity(line.unit_cost, "unit_cost")
                if unit_cost < 0:
                    add(ValidationFailed({"unit_cost": [_("A cost cannot be negative.")]}))
            except ValidationFailed as error:
                add(error)
        elif line.action == RECEIVE:
            add(ValidationFailed({"unit_cost": [_("A receipt needs a unit cost.")]}))
        if unit_cost is not None and base and base != quantity and not errors:
            unit_cost = cost(unit_cost * abs(quantity) / abs(base))
        occurred_at = now
        if line.occurred_at is not None:
            try:
                occurred_at = moment(line.occurred_at)
            except ValidationFailed as error:
                add(error)
        lot_code = (line.lot_code or "").strip() or None
        lot_id = None
        if lot_code is not None and len(lot_code) > 60:
            add(ValidationFailed({"lot_code": [_("A lot code has at most 60 characters.")]}))
        elif lot_code is not None and item is not None:
            found_lot = lots.get((item.pk, lot_code))
            outgoing = line.action == ISSUE or (line.action == ADJUST and base < 0)
            if found_lot is None and outgoing:
                add(UnknownLot(field="lot_code", lot=lot_code))
            elif found_lot is not None:
                lot_id = found_lot.pk
                if (
                    line.action == ISSUE
                    and reason != MoveReason.WASTE
                    and location is not None
                    and found_lot.expiry_date is not None
                    and found_lot.expiry_date < site_today(location, occurred_at)
                ):
                    add(ExpiredLot(field="lot_code", lot=lot_code))
        if errors:
            problems.extend(LineProblem(index, error) for error in errors)
            continue
        assert item is not None and location is not None
        source = line.source or Source()
        lines.append(
            _Line(
                index=index,
                action=line.action,
                item=item,
                location=location,
                quantity=base,
                unit_cost=unit_cost,
                lot_code=lot_code,
                expiry_date=line.expiry_date,
                lot_id=lot_id,
                reason=reason,
                meta=MoveMeta(
                    key=line.key,
                    occurred_at=occurred_at,
                    source_type=source.type[:50],
                    source_id=str(source.id)[:64],
                    source_number=source.number[:64],
                ),
            )
        )
    return lines, problems


def _ensure_lots(lines: list[_Line]) -> dict[int, Lot]:
    """Create the lots new receipts name (ignoring ones a concurrent posting just made)."""
    wanted = {
        (line.item.pk, line.lot_code): line
        for line in lines
        if line.lot_code is not None and line.lot_id is None
    }
    if not wanted:
        return {}
    Lot.objects.bulk_create(
        [
            Lot(item_id=item_id, code=code, expiry_date=line.expiry_date)
            for (item_id, code), line in wanted.items()
        ],
        ignore_conflicts=True,
    )
    found = {
        (lot.item_id, lot.code): lot
        for lot in Lot.objects.filter(
            item_id__in={item for item, _ in wanted}, code__in={code for _, code in wanted}
        )
    }
    for line in lines:
        if line.lot_code is not None and line.lot_id is None:
            line.lot_id = found[(line.item.pk, line.lot_code)].pk
    return {lot.pk: lot for lot in found.values()}


def _apply(session: LedgerSession, line: _Line) -> None:
    if line.action == RECEIVE or (line.action == ADJUST and line.quantity > 0):
        session.inbound(
            line.index,
            item=line.item,
            location=line.location,
            meta=line.meta,
            quantity=line.quantity,
            unit_cost=line.unit_cost,
            reason=line.reason,
            lot_id=line.lot_id,
        )
        return
    session.outbound(
        line.index,
        item=line.item,
        location=line.location,
        meta=line.meta,
        quantity=abs(line.quantity),
        reason=line.reason,
        lot_id=line.lot_id,
        use_lot=line.lot_code is not None,
        allow_expired=line.action == ADJUST or line.reason == MoveReason.WASTE,
    )


def post_moves(
    batch: Sequence[MoveInput],
    *,
    actor: Any,
    operation: str = PostingOperation.BATCH,
    reason: str = "",
) -> PostingResult:
    """Post many receive/issue/adjust lines as one document, all or nothing.

    Every line is checked first and every problem reported at once (BatchRejected: nothing
    posted). Lines whose key was posted before are replays: their first moves are returned and
    nothing changes. The rest are applied in order under locks taken in (item, location, lot)
    order, written with one bulk insert, audited and published once for the whole batch.
    """
    single = len(batch) == 1
    if not batch:
        raise ValidationFailed({"moves": [_("Send at least one line.")]})
    problems: list[LineProblem] = []
    seen: dict[str, int] = {}
    for index, line in enumerate(batch):
        key_errors: dict[str, list[str]] = {}
        check_key(line.key, key_errors)
        if key_errors:
            problems.append(LineProblem(index, ValidationFailed(key_errors)))
        elif line.key in seen:
            problems.append(
                LineProblem(
                    index,
                    ValidationFailed(
                        {"key": [_("The key is used by line %(line)s.") % {"line": seen[line.key]}]}
                    ),
                )
            )
        else:
            seen[line.key] = index
    raise_problems(problems, single=single)
    keys = [line.key for line in batch]
    done = existing_moves(keys)
    fresh = [(index, line) for index, line in enumerate(batch) if line.key not in done]
    if not fresh:
        return replay_result([move for key in keys for move in done[key]])
    items = load_items(line.item_id for _, line in fresh)
    locations = load_locations(line.location_id for _, line in fresh)
    require_at_sites(actor, INVENTORY_MOVE, locations.values())
    lines, problems = _prepare(fresh, items, locations)
    raise_problems(problems, single=single)
    try:
        with transaction.atomic():
            lots = _ensure_lots(lines)
            session = LedgerSession(
                items=items,
                locations=locations,
                pairs={(line.item.pk, line.location.pk) for line in lines},
                actor_id=actor_id(actor),
                lots=lots,
            )
            again = existing_moves(prepared.meta.key for prepared in lines)
            for prepared in lines:
                if prepared.meta.key not in again:
                    _apply(session, prepared)
            raise_problems(session.problems, single=single)
            if not session.moves:
                return replay_result([move for key in keys for move in again[key]])
            result = finish_posting(session, operation=operation, actor=actor, reason=reason)
    except IntegrityError:
        done = existing_moves(keys)
        if all(key in done for key in keys):
            return replay_result([move for key in keys for move in done[key]])
        raise
    earlier = [move for key in keys if key in done for move in done[key]]
    if earlier:
        by_key = {key: [] for key in keys}  # type: dict[str, list[Any]]
        for move in earlier + result.rows:
            by_key[move.idempotency_key].append(move)
        result.moves = [move for key in keys for move in by_key[key]]
    return result


def _item_id(item: Item | int) -> int:
    return item if isinstance(item, int) else item.pk


def _location_id(location: Location | int) -> int:
    return location if isinstance(location, int) else location.pk


def receive(
    *,
    item: Item | int,
    location: Location | int,
    quantity: Decimal,
    unit_cost: Decimal,
    key: str,
    actor: Any,
    unit: str | None = None,
    lot_code: str | None = None,
    expiry_date: dt.date | None = None,
    source: Source | None = None,
    occurred_at: dt.datetime | None = None,
) -> PostingResult:
    """Receive stock at `unit_cost` per `unit` into a lot (created with its expiry when new)."""
    return post_moves(
        [
            MoveInput(
                action=RECEIVE,
                item_id=_item_id(item),
                location_id=_location_id(location),
                quantity=quantity,
                key=key,
                unit=unit,
                unit_cost=unit_cost,
                lot_code=lot_code,
                expiry_date=expiry_date,
                source=source,
                occurred_at=occurred_at,
            )
        ],
        actor=actor,
        operation=PostingOperation.RECEIVE,
    )


def consume(
    *,
    item: Item | int,
    location: Location | int,
    quantity: Decimal,
    key: str,
    actor: Any,
    unit: str | None = None,
    lot_code: str | None = None,
    reason: str = MoveReason.CONSUMPTION,
    source: Source | None = None,
    occurred_at: dt.datetime | None = None,
) -> PostingResult:
    """Take stock out at the average cost, first-expiring lot first, skipping expired lots.

    Fails up front with `insufficient_stock` ("short by N kg") when usable stock does not
    cover the quantity and the item class forbids negative stock; under "warn" it posts and
    returns a `negative_stock` warning (and publishes inventory.stock.negative).
    """
    return post_moves(
        [
            MoveInput(
                action=ISSUE,
                item_id=_item_id(item),
                location_id=_location_id(location),
                quantity=quantity,
                key=key,
                unit=unit,
                lot_code=lot_code,
                reason=reason,
                source=source,
                occurred_at=occurred_at,
            )
        ],
        actor=actor,
        operation=PostingOperation.CONSUME,
    )


def adjust(
    *,
    item: Item | int,
    location: Location | int,
    quantity: Decimal,
    key: str,
    actor: Any,
    unit: str | None = None,
    unit_cost: Decimal | None = None,
    lot_code: str | None = None,
    expiry_date: dt.date | None = None,
    reason: str = MoveReason.ADJUSTMENT,
    source: Source | None = None,
    occurred_at: dt.datetime | None = None,
) -> PostingResult:
    """Change on-hand by a signed quantity (up at `unit_cost` or the average; down FEFO)."""
    return post_moves(
        [
            MoveInput(
                action=ADJUST,
                item_id=_item_id(item),
                location_id=_location_id(location),
                quantity=quantity,
                key=key,
                unit=unit,
                unit_cost=unit_cost,
                lot_code=lot_code,
                expiry_date=expiry_date,
                reason=reason,
                source=source,
                occurred_at=occurred_at,
            )
        ],
        actor=actor,
        operation=PostingOperation.ADJUST,
    )
