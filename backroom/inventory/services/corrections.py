"""Corrections: reversing a move, and a later price correction of a receipt."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from backroom.inventory.choices import VALUE_ONLY_REASONS, MoveReason, PostingOperation
from backroom.inventory.exceptions import AlreadyReversed, NotReversible
from backroom.inventory.ledger import LedgerSession, MoveMeta
from backroom.inventory.models import StockMove
from backroom.inventory.permissions import INVENTORY_MANAGE
from backroom.inventory.services.common import (
    PostingResult,
    actor_id,
    check_key,
    existing_moves,
    finish_posting,
    load_items,
    load_locations,
    moment,
    parse_quantity,
    raise_problems,
    replay_result,
    require_at_sites,
)
from backroom.inventory.valuation import ZERO, cost, money
from backroom.kernel.exceptions import ValidationFailed


def _start(key: str) -> PostingResult | None:
    errors: dict[str, list[str]] = {}
    check_key(key, errors)
    if errors:
        raise ValidationFailed(errors)
    done = existing_moves([key])
    return replay_result(done[key]) if key in done else None


def reverse_move(move: StockMove, *, key: str, actor: Any, reason: str = "") -> PostingResult:
    """Post the exact opposite of `move`, dated now. A move is reversed at most once."""
    replay = _start(key)
    if replay is not None:
        return replay
    items = load_items([move.item_id])
    locations = load_locations([move.location_id])
    require_at_sites(actor, INVENTORY_MANAGE, locations.values())
    if move.reason == MoveReason.REVERSAL or move.reason in VALUE_ONLY_REASONS:
        raise NotReversible(
            _("A %(reason)s cannot be reversed.") % {"reason": move.get_reason_display()},
            details={"move_id": move.pk},
        )
    meta = MoveMeta(
        key=key,
        occurred_at=moment(None),
        source_type="inventory.stockmove",
        source_id=str(move.pk),
        source_number=move.source_number,
    )
    try:
        with transaction.atomic():
            session = LedgerSession(
                items=items,
                locations=locations,
                pairs={(move.item_id, move.location_id)},
                actor_id=actor_id(actor),
            )
            if existing_moves([key]):
                return replay_result(existing_moves([key])[key])
            if StockMove.objects.filter(reverses_id=move.pk).exists():
                raise AlreadyReversed(details={"move_id": move.pk})
            session.exact(0, original=move, meta=meta)
            raise_problems(session.problems, single=True)
            return finish_posting(
                session,
                operation=PostingOperation.REVERSE,
                actor=actor,
                reason=reason,
                extra={"reverses": move.pk},
            )
    except IntegrityError:
        done = existing_moves([key])
        if key in done:
            return replay_result(done[key])
        raise AlreadyReversed(details={"move_id": move.pk}) from None


def correct_receipt_cost(
    move: StockMove, *, unit_cost: Decimal, key: str, actor: Any, reason: str = ""
) -> PostingResult:
    """Book a later price correction of a receipt (an invoice at another price).

    The difference d = new − old cost per base unit applies to the receipt's quantity r. The
    part of it still on hand at the location, m = min(r, max(on hand, 0)), is revalued: a
    revaluation move of r·d, then a price-variance move of −(r − m)·d for the part already
    used (it belongs in cost of sales, not in stock). Net change of stock value: m·d, never
    below zero value.
    """
    replay = _start(key)
    if replay is not None:
        return replay
    if move.reason != MoveReason.RECEIPT:
        raise NotReversible(
            _("Only a receipt's cost can be corrected."), details={"move_id": move.pk}
        )
    new_cost = parse_quantity(unit_cost, "unit_cost")
    if new_cost < 0:
        raise ValidationFailed({"unit_cost": [_("A cost cannot be negative.")]})
    items = load_items([move.item_id])
    locations = load_locations([move.location_id])
    require_at_sites(actor, INVENTORY_MANAGE, locations.values())
    item, location = items[move.item_id], locations[move.location_id]
    meta = MoveMeta(
        key=key,
        occurred_at=moment(None),
        source_type="inventory.stockmove",
        source_id=str(move.pk),
        source_number=move.source_number,
    )
    difference = cost(new_cost) - move.unit_cost
    try:
        with transaction.atomic():
            session = LedgerSession(
                items=items,
                locations=locations,
                pairs={(move.item_id, move.location_id)},
                actor_id=actor_id(actor),
            )
            if existing_moves([key]):
                return replay_result(existing_moves([key])[key])
            state = session.valuations[(move.item_id, move.location_id)]
            on_hand = max(state.quantity, ZERO)
            remaining = min(move.quantity, on_hand)
            whole = money(move.quantity * difference)
            kept = money(remaining * difference)
            if on_hand > 0 and state.value + kept < 0:
                kept = -state.value  # a stock value never goes below zero
            if whole == 0 and kept == 0:
                raise ValidationFailed({"unit_cost": [_("The cost is unchanged.")]})
            if whole:
                session.revalue(
                    0,
                    item=item,
                    location=location,
                    value=whole,
                    unit_cost=new_cost,
                    reason=MoveReason.REVALUATION,
                    meta=meta,
                )
            if kept - whole:
                session.revalue(
                    0,
                    item=item,
                    location=location,
                    value=kept - whole,
                    unit_cost=new_cost,
                    reason=MoveReason.PRICE_VARIANCE,
                    meta=meta,
                )
            return finish_posting(
                session,
                operation=PostingOperation.CORRECT_COST,
                actor=actor,
                reason=reason,
                extra={"receipt": move.pk, "old_cost": move.unit_cost, "new_cost": new_cost},
            )
    except IntegrityError:
        done = existing_moves([key])
        if key in done:
            return replay_result(done[key])
        raise
