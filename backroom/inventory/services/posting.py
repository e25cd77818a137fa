"""Receive, consume and adjust stock, one line at a time or in batches (`post_moves`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
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
from backroom.inventory.ledger import (
    LedgerSession,
    LineProblem,
    MoveMeta,
    collector_paused,
    site_today,
)
from backroom.inventory.locks import LotInfo
from backroom.inventory.models import Location, Lot
from backroom.inventory.permissions import INVENTORY_MOVE
from backroom.inventory.services.common import (
    QUANTITY_STEP,
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
    new_posting,
    parse_quantity,
    raise_problems,
    replay_result,
    require_at_sites,
)
from backroom.inventory.valuation import (
    COST_SCALE,
    QUANTITY_SCALE,
    cost,
    from_decimal_scaled,
)
from backroom.kernel.exceptions import DomainError, ValidationFailed

RECEIVE, ISSUE, ADJUST = "receive", "issue", "adjust"
ACTIONS = (RECEIVE, ISSUE, ADJUST)


@dataclass(slots=True)
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


class _Line(MoveMeta):
    """A checked line, in base units. It is also the `MoveMeta` of its moves (key, time and
    source), so a batch builds one object per line rather than two."""

    __slots__ = (
        "action",
        "expiry_date",
        "index",
        "item",
        "location",
        "lot_code",
        "lot_id",
        "quantity",
        "reason",
        "unit_cost",
    )

    def __init__(
        self,
        index: int,
        action: str,
        item: Item,
        location: Location,
        quantity: int,  # base unit in millionths, signed for adjust
        unit_cost: int | None,  # per base unit, in 10⁻¹⁰ (the cost column's places)
        lot_code: str | None,
        expiry_date: dt.date | None,
        lot_id: int | None,
        reason: str,
        key: str,
        occurred_at: dt.datetime,
        source_type: str = "",
        source_id: str = "",
        source_number: str = "",
    ) -> None:
        self.index = index
        self.action = action
        self.item = item
        self.location = location
        self.quantity = quantity
        self.unit_cost = unit_cost
        self.lot_code = lot_code
        self.expiry_date = expiry_date
        self.lot_id = lot_id
        self.reason = reason
        self.key = key
        self.occurred_at = occurred_at
        self.source_type = source_type
        self.source_id = source_id
        self.source_number = source_number


_DEFAULT_REASONS = {
    RECEIVE: MoveReason.RECEIPT,
    ISSUE: MoveReason.CONSUMPTION,
    ADJUST: MoveReason.ADJUSTMENT,
}
_ALLOWED_REASONS = {
    RECEIVE: frozenset({MoveReason.RECEIPT}),
    ISSUE: frozenset(ISSUE_REASONS),
    ADJUST: frozenset(ADJUST_REASONS),
}
_NO_SOURCE = Source()
_COST_PER_QUANTITY = COST_SCALE // QUANTITY_SCALE  # a cost given to 6 places, in 10⁻¹⁰
_SEND_EVERY = 500  # lines applied between two sends of their moves to the database


def _base_quantity(item: Item, quantity: Decimal, unit: str | None) -> Decimal:
    if unit is None or unit == item.base_unit.code:
        return quantity
    return to_base(item, quantity, unit)


def find_lots(lines: Sequence[Any]) -> dict[tuple[int, str], Lot]:
    """The lots a stock document's lines name, by (item id, code)."""
    return {
        (lot.item_id, lot.code): lot
        for lot in Lot.objects.filter(
            item_id__in={line.item_id for line in lines},
            code__in={line.lot_code.strip() for line in lines if line.lot_code},
        )
    }


def check_document_line(
    item: Item | None,
    line: Any,
    lots: dict[tuple[int, str], Lot],
    errors: list[DomainError],
) -> tuple[Decimal, Decimal, Lot | None]:
    """What every line of a stock document (waste record, transfer order) must be: a note of at
    most 300 characters, a positive quantity in a unit the item converts, a lot it knows.

    Appends every problem to `errors`; returns (quantity, quantity in the base unit, lot).
    """
    if len(line.note) > 300:
        errors.append(ValidationFailed({"note": [_("At most 300 characters.")]}))
    quantity = base = Decimal(0)
    try:
        quantity = parse_quantity(line.quantity)
        if quantity <= 0:
            errors.append(NegativeQuantity(field="quantity"))
        elif item is not None:
            base = _base_quantity(item, quantity, line.unit)
            if base <= 0:
                errors.append(NegativeQuantity(_("The quantity rounds to zero."), field="quantity"))
    except (UnknownUnit, MissingConversion, ValidationFailed) as error:
        errors.append(error)
    lot = None
    lot_code = (line.lot_code or "").strip()
    if lot_code and item is not None:
        lot = lots.get((item.pk, lot_code))
        if lot is None:
            errors.append(UnknownLot(field="lot_code", lot=lot_code))
    return quantity, base, lot


def _line_checker(
    items: dict[int, Item],
    locations: dict[int, Location],
    lots: dict[tuple[int, str], LotInfo],
    problems: list[LineProblem],
    now: dt.datetime,
) -> Callable[[int, MoveInput], _Line | None]:
    """A function that checks one line without writing: the line in base units, or None with
    its problems appended to `problems`. It reads the database only for a line that names a
    unit other than the item's base unit (its conversion); `lots` are the lots the lines name."""
    item_problems: dict[int, DomainError | None] = {}
    location_problems: dict[int, DomainError | None] = {}
    base_units = {pk: item.base_unit.code for pk, item in items.items()}
    # The common line (a stocked item at an open location, a plain quantity in the base unit,
    # no lot, source or time) is taken without the general checks below, which it would pass.
    plain_items = {pk for pk, item in items.items() if item_problem(item) is None}
    plain_locations = {pk for pk, found in locations.items() if location_problem(found, pk) is None}
    default_reasons, allowed_reasons = _DEFAULT_REASONS, _ALLOWED_REASONS
    # The batch's few distinct quantities and costs, rounded to 6 places (half-up) and scaled
    # (millionths; costs in 10⁻¹⁰), once each.
    scaled_quantities: dict[Decimal, int] = {}
    scaled_costs: dict[Decimal, int] = {}

    def check(index: int, line: MoveInput) -> _Line | None:
        item_id, action, quantity, unit_cost = (
            line.item_id,
            line.action,
            line.quantity,
            line.unit_cost,
        )
        if (
            item_id in plain_items
            and line.location_id in plain_locations
            and action in allowed_reasons
            and (line.unit is None or line.unit == base_units[item_id])
            and line.lot_code is None
            and line.occurred_at is None
            and line.source is None
            and type(quantity) is Decimal
            and quantity.is_finite()
            and (unit_cost is None or (type(unit_cost) is Decimal and unit_cost.is_finite()))
            and (reason := line.reason or default_reasons[action]) in allowed_reasons[action]
        ):
            scaled = scaled_quantities.get(quantity)
            if scaled is None:
                scaled = scaled_quantities[quantity] = _scaled_quantity(quantity)
            scaled_cost = None
            if unit_cost is not None:
                scaled_cost = scaled_costs.get(unit_cost)
                if scaled_cost is None:
                    scaled_cost = scaled_costs[unit_cost] = (
                        _scaled_quantity(unit_cost) * _COST_PER_QUANTITY
                    )
            if (
                (scaled != 0 if action == ADJUST else scaled > 0)
                and (scaled_cost is None or scaled_cost >= 0)
                and (scaled_cost is not None or action != RECEIVE)
            ):
                return _Line(
                    index,
                    action,
                    items[item_id],
                    locations[line.location_id],
                    scaled,
                    scaled_cost,
                    None,
                    line.expiry_date,
                    None,
                    reason,
                    line.key,
                    now,
                )
        errors: list[DomainError] = []
        add = errors.append
        location_id = line.location_id
        item = items.get(item_id)
        location = locations.get(location_id)
        if item_id not in item_problems:
            item_problems[item_id] = item_problem(item)
        if location_id not in location_problems:
            location_problems[location_id] = location_problem(location, location_id)
        if (problem := item_problems[item_id]) is not None:
            add(problem)
        if (problem := location_problems[location_id]) is not None:
            add(problem)
        if action not in _ALLOWED_REASONS:
            add(ValidationFailed({"action": [_("Use receive, issue or adjust.")]}))
            problems.extend(LineProblem(index, error) for error in errors)
            return None
        reason = line.reason or _DEFAULT_REASONS[action]
        if reason not in _ALLOWED_REASONS[action]:
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
        if action == ADJUST and quantity == 0 and not errors:
            add(NegativeQuantity(_("An adjustment cannot be zero."), field="quantity"))
        elif action != ADJUST and quantity <= 0 and not errors:
            add(NegativeQuantity(field="quantity"))
        base = quantity
        unit = line.unit
        if item is not None and quantity and unit is not None and unit != base_units[item_id]:
            try:
                base = to_base(item, quantity, unit)
            except (UnknownUnit, MissingConversion, ValidationFailed) as error:
                add(error)
            if base == 0 and not errors:
                add(NegativeQuantity(_("The quantity rounds to zero."), field="quantity"))
        unit_cost = None
        if line.unit_cost is not None:
            try:
                unit_cost = parse_quantity(line.unit_cost, "unit_cost")
                if unit_cost < 0:
                    add(ValidationFailed({"unit_cost": [_("A cost cannot be negative.")]}))
            except ValidationFailed as error:
                add(error)
        elif action == RECEIVE:
            add(ValidationFailed({"unit_cost": [_("A receipt needs a unit cost.")]}))
        if unit_cost is not None and base and base != quantity and not errors:
            unit_cost = cost(unit_cost * abs(quantity) / abs(base))
        occurred_at = now
        if line.occurred_at is not None:
            try:
                occurred_at = moment(line.occurred_at)
            except ValidationFailed as error:
                add(error)
        lot_code = line.lot_code
        lot_id = None
        if lot_code is not None:
            lot_code = lot_code.strip() or None
        if lot_code is not None and len(lot_code) > 60:
            add(ValidationFailed({"lot_code": [_("A lot code has at most 60 characters.")]}))
        elif lot_code is not None and item is not None:
            found_lot = lots.get((item_id, lot_code))
            outgoing = action == ISSUE or (action == ADJUST and base < 0)
            if found_lot is None and outgoing:
                add(UnknownLot(field="lot_code", lot=lot_code))
            elif found_lot is not None:
                lot_id = found_lot.pk
                if (
                    action == ISSUE
                    and reason != MoveReason.WASTE
                    and location is not None
                    and found_lot.expiry_date is not None
                    and found_lot.expiry_date < site_today(location, occurred_at)
                ):
                    add(ExpiredLot(field="lot_code", lot=lot_code))
        if errors:
            problems.extend(LineProblem(index, error) for error in errors)
            return None
        assert item is not None and location is not None
        source = line.source
        return _Line(
            index,
            action,
            item,
            location,
            from_decimal_scaled(base, QUANTITY_SCALE),
            None if unit_cost is None else from_decimal_scaled(cost(unit_cost), COST_SCALE),
            lot_code,
            line.expiry_date,
            lot_id,
            reason,
            line.key,
            occurred_at,
            *(
                ()
                if source is None
                else (source.type[:50], str(source.id)[:64], source.number[:64])
            ),
        )

    return check


def _find_lots(pairs: set[tuple[int, str]]) -> dict[tuple[int, str], LotInfo]:
    """The lots named by (item id, code), as light rows; only the pairs asked for."""
    if not pairs:
        return {}
    if connection.vendor == "postgresql":
        ordered = sorted(pairs)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT l.id, l.item_id, l.code, l.expiry_date, l.received_at "  # noqa: S608
                f"FROM {Lot._meta.db_table} l "
                "JOIN unnest(%s::bigint[], %s::text[]) AS w(item_id, code) "
                "ON l.item_id = w.item_id AND l.code = w.code",
                [[item for item, _ in ordered], [code for _, code in ordered]],
            )
            rows = cursor.fetchall()
    else:
        rows = [
            row
            for row in Lot.objects.filter(
                item_id__in={item for item, _ in pairs}, code__in={code for _, code in pairs}
            ).values_list("id", "item_id", "code", "expiry_date", "received_at")
            if (row[1], row[2]) in pairs
        ]
    return {
        (item_id, code): LotInfo(pk, expiry, received)
        for pk, item_id, code, expiry, received in rows
    }


def _ensure_lots(lines: list[_Line]) -> dict[int, LotInfo]:
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
            for (item_id, code), line in sorted(wanted.items())
        ],
        ignore_conflicts=True,
    )
    found = _find_lots(set(wanted))
    for line in lines:
        if line.lot_code is not None and line.lot_id is None:
            line.lot_id = found[(line.item.pk, line.lot_code)].pk
    return {lot.pk: lot for lot in found.values()}


def _scaled_quantity(amount: Decimal) -> int:
    """A finite Decimal rounded half-up to 6 places, in millionths."""
    return from_decimal_scaled(
        amount.quantize(QUANTITY_STEP, rounding=ROUND_HALF_UP), QUANTITY_SCALE
    )


def _apply(session: LedgerSession, line: _Line) -> None:
    action, quantity = line.action, line.quantity
    if action == RECEIVE or (action == ADJUST and quantity > 0):
        location = line.location
        session.inbound_scaled(
            (line.item.id, location.id),
            session.site_id(location),
            quantity,
            line.unit_cost,
            line.reason,
            line,
            line.lot_id,
        )
        return
    session.outbound_scaled(
        line.index,
        line.item,
        line.location,
        -quantity if quantity < 0 else quantity,
        line.reason,
        line,
        line.lot_id,
        line.lot_code is not None,
        action == ADJUST or line.reason == MoveReason.WASTE,
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
    with collector_paused():
        return _post_moves(batch, actor=actor, operation=operation, reason=reason)


def _post_moves(
    batch: Sequence[MoveInput], *, actor: Any, operation: str, reason: str
) -> PostingResult:
    single = len(batch) == 1
    if not batch:
        raise ValidationFailed({"moves": [_("Send at least one line.")]})
    keys = [line.key for line in batch]
    problems: list[LineProblem] = []
    # The common batch (distinct keys of 1 to 200 characters, none blank) is checked in a few
    # passes over the keys; any other goes line by line, which reports each problem.
    if not (
        len(set(keys)) == len(keys)
        and all(keys)
        and max(map(len, keys)) <= 200
        and not any(map(str.isspace, keys))
    ):
        seen: dict[str, int] = {}
        for index, line in enumerate(batch):
            key = line.key
            if key and len(key) <= 200 and key not in seen and not key.isspace():
                seen[key] = index  # the common case, without building an error dict
                continue
            key_errors: dict[str, list[str]] = {}
            check_key(key, key_errors)
            if key_errors:
                problems.append(LineProblem(index, ValidationFailed(key_errors)))
            elif line.key in seen:
                problems.append(
                    LineProblem(
                        index,
                        ValidationFailed(
                            {
                                "key": [
                                    _("The key is used by line %(line)s.")
                                    % {"line": seen[line.key]}
                                ]
                            }
                        ),
                    )
                )
            else:
                seen[line.key] = index
    raise_problems(problems, single=single)
    post = {"actor": actor, "operation": operation, "reason": reason, "single": single}
    # Most batches are new: post them without looking their keys up first (the unique
    # (key, key_line) index is probed by the insert anyway). If any line was posted before, the
    # insert fails and the savepoint rolls back; so does any error, which may come from a
    # replayed line (now short of stock, say) that must return its first result instead.
    # Either way the careful path below looks the keys up and decides.
    try:
        return _post_fresh(list(enumerate(batch)), **post)
    except (DomainError, IntegrityError):
        pass
    for attempt in (1, 2):
        done = existing_moves(keys)
        fresh = [(index, line) for index, line in enumerate(batch) if line.key not in done]
        if not fresh:
            return replay_result([move for key in keys for move in done[key]])
        try:
            result = _post_fresh(fresh, **post)
        except IntegrityError:
            # Posted meanwhile by a concurrent request: look again (once), post what is left.
            if attempt == 2:
                raise
            continue
        earlier = [move for key in keys if key in done for move in done[key]]
        if earlier:
            by_key = {key: [] for key in keys}  # type: dict[str, list[Any]]
            for move in earlier + result.rows:
                by_key[move.idempotency_key].append(move)
            result.moves = [move for key in keys for move in by_key[key]]
        return result
    raise AssertionError("unreachable")  # pragma: no cover


def _post_fresh(
    fresh: list[tuple[int, MoveInput]], *, actor: Any, operation: str, reason: str, single: bool
) -> PostingResult:
    """Check, lock, apply and write lines whose keys were not posted (IntegrityError if one
    was, after all: the savepoint is rolled back and nothing is written)."""
    items = load_items(line.item_id for _, line in fresh)
    locations = load_locations(line.location_id for _, line in fresh)
    require_at_sites(actor, INVENTORY_MOVE, locations.values())
    lots = _find_lots(
        {
            (line.item_id, line.lot_code.strip())
            for _, line in fresh
            if line.lot_code and line.lot_code.strip()
        }
    )
    problems: list[LineProblem] = []
    check = _line_checker(items, locations, lots, problems, moment(None))
    # A line naming a lot or a unit is checked now (lots are created for it, and a unit may
    # need its conversion read). The others need nothing from the database: they are checked
    # while PostgreSQL locks the valuations (`check_the_rest`).
    checked: dict[int, _Line] = {}
    for index, line in fresh:
        if line.lot_code is not None or line.unit is not None:
            prepared = check(index, line)
            if prepared is not None:
                checked[index] = prepared
    if problems:  # report every line's problems at once, nothing written
        for index, line in fresh:
            if line.lot_code is None and line.unit is None:
                check(index, line)
        raise_problems(problems, single=single)

    def check_the_rest() -> None:
        for index, line in fresh:
            if line.lot_code is None and line.unit is None:
                prepared = check(index, line)
                if prepared is not None:
                    checked[index] = prepared

    pairs = {
        pair
        for pair in {(line.item_id, line.location_id) for _, line in fresh}
        if pair[0] in items and pair[1] in locations  # else the line fails its check
    }
    sites = {locations[location_id].site_id for _, location_id in pairs}
    with transaction.atomic():
        known_lots = {lot.pk: lot for lot in lots.values()}
        known_lots.update(_ensure_lots(list(checked.values())))
        session = LedgerSession(
            items=items,
            locations=locations,
            pairs=pairs,
            actor_id=actor_id(actor),
            lots=known_lots,
            meanwhile=check_the_rest,
        )
        # Every problem is reported at once; the transaction rolls back the locks.
        raise_problems(problems, single=single)
        # Every line makes moves at its own location: the posting's site is known now, and
        # the moves go to the database while the next lines are applied.
        posting = new_posting(operation=operation, actor=actor, sites=sites, move_count=len(fresh))
        with session.streaming(posting) as send:
            for number, (index, _) in enumerate(fresh, 1):
                _apply(session, checked.pop(index))
                if not number % _SEND_EVERY:
                    send()
        raise_problems(session.problems, single=single)
        return finish_posting(
            session, operation=operation, actor=actor, reason=reason, posting=posting
        )


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
