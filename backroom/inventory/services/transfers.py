"""Transfers: out of one location, through the sending site's in-transit location, into another.

Within one site a transfer is immediate. Between sites it is dispatched into the sending site's
in-transit location and received later (`receive_transfer`), possibly in parts; what is still
in transit stays on the in-transit location's books at its cost.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils.translation import gettext as _

from backroom.catalog.models import Item
from backroom.inventory.choices import LocationKind, MoveReason, PostingOperation
from backroom.inventory.exceptions import NothingInTransit, TransferToSelf, UnknownLot
from backroom.inventory.ledger import LedgerSession, LineProblem, MoveMeta
from backroom.inventory.models import Location, Lot, StockMove
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
from backroom.inventory.services.locations import transit_location
from backroom.inventory.services.posting import _base_quantity
from backroom.kernel.exceptions import DomainError, ValidationFailed

TRANSFER_SOURCE = "inventory.transfer"


def _replay_or_none(key: str) -> PostingResult | None:
    done = existing_moves([key])
    return replay_result(done[key]) if key in done else None


def transfer(
    *,
    item: Item | int,
    from_location: Location | int,
    to_location: Location | int,
    quantity: Decimal,
    key: str,
    actor: Any,
    unit: str | None = None,
    lot_code: str | None = None,
    source: Source | None = None,
    occurred_at: dt.datetime | None = None,
) -> PostingResult:
    """Move stock between locations: directly within a site, via in-transit between sites.

    The moves out leave at the sending location's average cost, first-expiring lot first; the
    moves in carry the same lots at the same cost. The transfer's key identifies it for
    `receive_transfer`.
    """
    errors: dict[str, list[str]] = {}
    check_key(key, errors)
    if errors:
        raise ValidationFailed(errors)
    replay = _replay_or_none(key)
    if replay is not None:
        return replay
    item_id = item if isinstance(item, int) else item.pk
    from_id = from_location if isinstance(from_location, int) else from_location.pk
    to_id = to_location if isinstance(to_location, int) else to_location.pk
    items = load_items([item_id])
    locations = load_locations([from_id, to_id])
    require_at_sites(
        actor, INVENTORY_MOVE, [loc for loc in locations.values() if loc.pk == from_id]
    )
    problems: list[DomainError] = []
    for problem in (
        item_problem(items.get(item_id)),
        location_problem(locations.get(from_id), from_id, "from_location_id"),
        location_problem(locations.get(to_id), to_id, "to_location_id"),
    ):
        if problem is not None:
            problems.append(problem)
    if from_id == to_id:
        problems.append(TransferToSelf(field="to_location_id"))
    base = Decimal(0)
    try:
        base = parse_quantity(quantity)
        if base <= 0:
            from backroom.inventory.exceptions import NegativeQuantity

            problems.append(NegativeQuantity(field="quantity"))
        elif items.get(item_id) is not None:
            base = _base_quantity(items[item_id], base, unit)
    except ValidationFailed as error:
        problems.append(error)
    lot: Lot | None = None
    if lot_code and items.get(item_id) is not None:
        lot = Lot.objects.filter(item_id=item_id, code=lot_code.strip()).first()
        if lot is None:
            problems.append(UnknownLot(field="lot_code", lot=lot_code))
    raise_problems([LineProblem(0, error) for error in problems], single=True)
    source_location, destination = locations[from_id], locations[to_id]
    the_item = items[item_id]
    meta = MoveMeta(
        key=key,
        occurred_at=moment(occurred_at),
        source_type=TRANSFER_SOURCE,
        source_id=key[:64],
        source_number=(source.number if source else "")[:64],
    )
    try:
        with transaction.atomic():
            via = destination
            if destination.site_id != source_location.site_id:
                via = transit_location(source_location.site, actor=actor)
                locations[via.pk] = via
            session = LedgerSession(
                items=items,
                locations=locations,
                pairs={(item_id, from_id), (item_id, via.pk)},
                actor_id=actor_id(actor),
            )
            if existing_moves([key]):
                replay = _replay_or_none(key)
                assert replay is not None
                return replay
            out = session.outbound(
                0,
                item=the_item,
                location=source_location,
                quantity=base,
                reason=MoveReason.TRANSFER_OUT,
                meta=meta,
                lot_id=lot.pk if lot else None,
                use_lot=lot is not None,
            )
            raise_problems(session.problems, single=True)
            assert out is not None
            for move in out:
                session.inbound(
                    0,
                    item=the_item,
                    location=via,
                    quantity=-move.quantity,
                    unit_cost=move.unit_cost,
                    total=-move.value,
                    reason=MoveReason.TRANSFER_IN,
                    meta=meta,
                    lot_id=move.lot_id,
                )
            return finish_posting(
                session,
                operation=PostingOperation.TRANSFER,
                actor=actor,
                extra={"to_location_id": to_id, "in_transit": via.pk != to_id},
            )
    except IntegrityError:
        replay = _replay_or_none(key)
        if replay is None:
            raise
        return replay


def in_transit(transfer_key: str) -> dict[int | None, Decimal]:
    """What of a transfer is still in transit, by lot (lot id → quantity > 0)."""
    rows = (
        StockMove.objects.filter(
            source_type=TRANSFER_SOURCE,
            source_id=transfer_key[:64],
            location__kind=LocationKind.IN_TRANSIT,
        )
        .values("lot_id")
        .annotate(total=Sum("quantity"))
    )
    return {row["lot_id"]: row["total"] for row in rows if row["total"] > 0}


def receive_transfer(
    *,
    transfer_key: str,
    location: Location | int,
    key: str,
    actor: Any,
    quantity: Decimal | None = None,
    occurred_at: dt.datetime | None = None,
) -> PostingResult:
    """Take a transfer (all that is left in transit, or `quantity` of it) into `location`."""
    errors: dict[str, list[str]] = {}
    check_key(key, errors)
    if errors:
        raise ValidationFailed(errors)
    replay = _replay_or_none(key)
    if replay is not None:
        return replay
    dispatched = list(
        StockMove.objects.filter(
            source_type=TRANSFER_SOURCE,
            source_id=transfer_key[:64],
            location__kind=LocationKind.IN_TRANSIT,
            quantity__gt=0,
        ).order_by("id")[:1]
    )
    if not dispatched:
        raise NothingInTransit(details={"transfer_key": transfer_key})
    first = dispatched[0]
    location_id = location if isinstance(location, int) else location.pk
    items = load_items([first.item_id])
    locations = load_locations([first.location_id, location_id])
    require_at_sites(
        actor, INVENTORY_MOVE, [loc for loc in locations.values() if loc.pk == location_id]
    )
    problem = location_problem(locations.get(location_id), location_id)
    if problem is not None:
        raise problem
    if locations[location_id].kind == LocationKind.IN_TRANSIT:
        raise TransferToSelf(field="location_id")
    transit, destination, the_item = (
        locations[first.location_id],
        locations[location_id],
        items[first.item_id],
    )
    meta = MoveMeta(
        key=key,
        occurred_at=moment(occurred_at),
        source_type=TRANSFER_SOURCE,
        source_id=transfer_key[:64],
    )
    try:
        with transaction.atomic():
            session = LedgerSession(
                items=items,
                locations=locations,
                pairs={(the_item.pk, transit.pk), (the_item.pk, destination.pk)},
                actor_id=actor_id(actor),
            )
            if existing_moves([key]):
                replay = _replay_or_none(key)
                assert replay is not None
                return replay
            left = in_transit(transfer_key)
            total = sum(left.values(), Decimal(0))
            wanted = total if quantity is None else parse_quantity(quantity)
            if total <= 0:
                raise NothingInTransit(details={"transfer_key": transfer_key})
            if wanted <= 0 or wanted > total:
                raise ValidationFailed(
                    {
                        "quantity": [
                            _("Between 0 and %(total)s can be received.")
                            % {"total": f"{total.normalize():f}"}
                        ]
                    }
                )
            out = session.outbound(
                0,
                item=the_item,
                location=transit,
                quantity=wanted,
                reason=MoveReason.TRANSFER_OUT,
                meta=meta,
                allow_expired=True,
                only_lots=left,
            )
            assert out is not None
            for move in out:
                session.inbound(
                    0,
                    item=the_item,
                    location=destination,
                    quantity=-move.quantity,
                    unit_cost=move.unit_cost,
                    total=-move.value,
                    reason=MoveReason.TRANSFER_IN,
                    meta=meta,
                    lot_id=move.lot_id,
                )
            return finish_posting(
                session,
                operation=PostingOperation.TRANSFER_RECEIPT,
                actor=actor,
                extra={"transfer_key": transfer_key},
            )
    except IntegrityError:
        replay = _replay_or_none(key)
        if replay is None:
            raise
        return replay
