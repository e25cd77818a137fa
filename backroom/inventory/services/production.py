"""Production: consume the components of a prepared item and create its lot at their cost."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from backroom.catalog.models import Item
from backroom.inventory.choices import MoveReason, PostingOperation
from backroom.inventory.exceptions import NegativeQuantity
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
from backroom.inventory.services.posting import _base_quantity
from backroom.inventory.valuation import ZERO, cost
from backroom.kernel.exceptions import DomainError, ValidationFailed


@dataclass(frozen=True)
class ComponentInput:
    """A component used in production: `quantity` of `item_id` in `unit` (base when None)."""

    item_id: int
    quantity: Decimal
    unit: str | None = None


def _lot_code(key: str, on: dt.date) -> str:
    return f"P{on:%Y%m%d}-{hashlib.sha256(key.encode()).hexdigest()[:8].upper()}"


def produce(
    *,
    item: Item | int,
    location: Location | int,
    quantity: Decimal,
    components: Sequence[ComponentInput],
    key: str,
    actor: Any,
    unit: str | None = None,
    lot_code: str | None = None,
    expiry_date: dt.date | None = None,
    source: Source | None = None,
    occurred_at: dt.datetime | None = None,
) -> PostingResult:
    """Consume `components` (FEFO, at average cost) and put the product into a new lot.

    The product's value is exactly the sum of the components' values. Its lot expires after
    the item's shelf life unless `expiry_date` is given.
    """
    errors: dict[str, list[str]] = {}
    check_key(key, errors)
    if errors:
        raise ValidationFailed(errors)
    done = existing_moves([key])
    if key in done:
        return replay_result(done[key])
    item_id = item if isinstance(item, int) else item.pk
    location_id = location if isinstance(location, int) else location.pk
    items = load_items([item_id, *(component.item_id for component in components)])
    locations = load_locations([location_id])
    require_at_sites(actor, INVENTORY_MOVE, locations.values())
    problems: list[LineProblem] = []

    def add(index: int, error: DomainError | None) -> None:
        if error is not None:
            problems.append(LineProblem(index, error))

    add(0, item_problem(items.get(item_id)))
    add(0, location_problem(locations.get(location_id), location_id))
    if not components:
        add(0, ValidationFailed({"components": [_("Name at least one component.")]}))
    base_quantities: list[Decimal] = []
    for index, (wanted_item, wanted_quantity, wanted_unit, field_name) in enumerate(
        [(item_id, quantity, unit, "quantity")]
        + [
            (c.item_id, c.quantity, c.unit, f"components.{n}.quantity")
            for n, c in enumerate(components)
        ]
    ):
        the_item = items.get(wanted_item)
        if index > 0:
            add(0, item_problem(the_item, f"components.{index - 1}.item_id"))
            if wanted_item == item_id:
                add(0, ValidationFailed({field_name: [_("An item cannot be made from itself.")]}))
        try:
            base = parse_quantity(wanted_quantity, field_name)
            if base <= 0:
                add(0, NegativeQuantity(field=field_name))
            elif the_item is not None:
                base = _base_quantity(the_item, base, wanted_unit)
        except ValidationFailed as error:
            add(0, error)
            base = ZERO
        base_quantities.append(base)
    raise_problems(problems, single=True)
    product, place = items[item_id], locations[location_id]
    today = site_today(place)
    if expiry_date is None and product.shelf_life_days:
        expiry_date = today + dt.timedelta(days=product.shelf_life_days)
    code = (lot_code or "").strip() or _lot_code(key, today)
    src = source or Source()
    meta = MoveMeta(
        key=key,
        occurred_at=moment(occurred_at),
        source_type=src.type or "inventory.production",
        source_id=str(src.id or key)[:64],
        source_number=src.number[:64],
    )
    try:
        with transaction.atomic():
            lot, _created = Lot.objects.get_or_create(
                item_id=item_id, code=code, defaults={"expiry_date": expiry_date}
            )
            session = LedgerSession(
                items=items,
                locations=locations,
                pairs={(item_id, location_id), *((c.item_id, location_id) for c in components)},
                actor_id=actor_id(actor),
                lots={lot.pk: lot},
            )
            if existing_moves([key]):
                return replay_result(existing_moves([key])[key])
            total = ZERO
            for index, component in enumerate(components):
                moves = session.outbound(
                    index,
                    item=items[component.item_id],
                    location=place,
                    quantity=base_quantities[index + 1],
                    reason=MoveReason.PRODUCTION_INPUT,
                    meta=meta,
                )
                total -= sum((move.value for move in moves or []), ZERO)
            raise_problems(session.problems, single=True)
            session.inbound(
                0,
                item=product,
                location=place,
                quantity=base_quantities[0],
                unit_cost=cost(total / base_quantities[0]),
                total=total,
                reason=MoveReason.PRODUCTION,
                meta=meta,
                lot_id=lot.pk,
            )
            return finish_posting(
                session, operation=PostingOperation.PRODUCE, actor=actor, extra={"lot": code}
            )
    except IntegrityError:
        done = existing_moves([key])
        if key not in done:
            raise
        return replay_result(done[key])
