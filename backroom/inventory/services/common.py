"""Shared pieces of the inventory services: inputs, results, loading, access, errors, audit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils.translation import gettext as _

from backroom.accounts.authorization import require_permission
from backroom.audit.services import record_audit
from backroom.catalog.choices import STOCKED_KINDS
from backroom.catalog.models import Item, ItemClass, Unit
from backroom.events.services import publish
from backroom.inventory.events import NegativeStock, StockPosted
from backroom.inventory.exceptions import BatchRejected, ItemNotStocked, UnknownLocation
from backroom.inventory.ledger import LedgerSession, LineProblem, as_moves
from backroom.inventory.models import Location, StockMove, StockPosting
from backroom.inventory.periods import DatedMove, check_open, closed_through
from backroom.inventory.valuation import MONEY_SCALE, QUANTITY_SCALE, to_decimal_scaled
from backroom.kernel.exceptions import DomainError, ValidationFailed
from backroom.kernel.money import QUANTITY_PLACES, quantize_quantity, to_decimal


@dataclass(frozen=True)
class Source:
    """The document a move comes from (a delivery, a count, a sale), for drill-down."""

    type: str = ""
    id: str = ""
    number: str = ""


@dataclass
class PostingResult:
    """What a ledger call did: its posting, its moves; `replayed` when the key was used before.

    `rows` are the posted moves as light rows (same attributes as StockMove); `moves` builds
    model instances on first use, so a large batch that nobody reads pays nothing for them.
    """

    posting: StockPosting
    rows: list[Any]
    replayed: bool = False
    warnings: list[dict[str, Any]] = field(default_factory=list)
    _moves: list[StockMove] | None = field(default=None, repr=False)

    @property
    def moves(self) -> list[StockMove]:
        if self._moves is None:
            self._moves = [
                row if isinstance(row, StockMove) else as_moves([row])[0] for row in self.rows
            ]
        return self._moves

    @moves.setter
    def moves(self, value: list[Any]) -> None:
        self.rows = value
        self._moves = None


def actor_id(actor: Any) -> int | None:
    return actor.pk if isinstance(actor, get_user_model()) else None


def check_key(key: str, errors: dict[str, list[str]]) -> None:
    if not key or not key.strip():
        errors.setdefault("key", []).append(_("An idempotency key is required."))
    elif len(key) > 200:
        errors.setdefault("key", []).append(
            _("The idempotency key must be at most 200 characters.")
        )


def load_items(ids: Iterable[int]) -> dict[int, Item]:
    """Items by id, each with its class and base unit loaded."""
    wanted = set(ids)
    if len(wanted) <= 20:
        return Item.objects.select_related("item_class", "base_unit").in_bulk(wanted)
    # Many items share a few classes and units: load each of those once (a join would build
    # a class and a unit instance per item; for a batch that was most of the loading).
    items = Item.objects.in_bulk(wanted)
    classes = ItemClass.objects.in_bulk({item.item_class_id for item in items.values()})
    units = Unit.objects.in_bulk({item.base_unit_id for item in items.values()})
    set_class = Item.item_class.field.set_cached_value
    set_unit = Item.base_unit.field.set_cached_value
    for item in items.values():
        set_class(item, classes[item.item_class_id])
        set_unit(item, units[item.base_unit_id])
    return items


def load_locations(ids: Iterable[int]) -> dict[int, Location]:
    return Location.objects.select_related("site", "site__node").in_bulk(set(ids))


def require_at_sites(actor: Any, permission: str, locations: Iterable[Location]) -> None:
    """The actor holds `permission` at every location's site (404 for a site it cannot see)."""
    seen = set()
    for location in sorted(locations, key=lambda row: row.site_id):
        if location.site_id in seen:
            continue
        seen.add(location.site_id)
        require_permission(actor, permission, location.site.node)


def item_problem(item: Item | None, field_name: str = "item_id") -> DomainError | None:
    if item is None:
        return ValidationFailed({field_name: [_("There is no such item.")]})
    if item.kind not in STOCKED_KINDS or not item.is_active:
        return ItemNotStocked(
            _("%(item)s is not kept in stock.") % {"item": item.sku},
            field=field_name,
            item_id=item.pk,
        )
    return None


def location_problem(
    location: Location | None, location_id: int, field_name: str = "location_id"
) -> DomainError | None:
    from backroom.inventory.exceptions import LocationInactive

    if location is None:
        return UnknownLocation(field=field_name, location_id=location_id)
    if not location.is_active:
        return LocationInactive(
            _("The location %(location)s is closed.") % {"location": location},
            field=field_name,
            location_id=location.pk,
        )
    return None


QUANTITY_STEP = Decimal(1).scaleb(-QUANTITY_PLACES)


def parse_quantity(value: Any, field_name: str = "quantity") -> Decimal:
    if type(value) is Decimal and value.is_finite():  # the common case, without the checks
        return value.quantize(QUANTITY_STEP, rounding=ROUND_HALF_UP)
    return quantize_quantity(to_decimal(value, field=field_name))


def raise_problems(problems: Sequence[LineProblem], *, single: bool) -> None:
    """Raise every problem at once: a batch as BatchRejected, one line as its own error(s)."""
    if not problems:
        return
    if single:
        errors = [problem.error for problem in problems]
        if len(errors) == 1:
            raise errors[0]
        if all(isinstance(error, ValidationFailed) for error in errors):
            merged: dict[str, list[str]] = {}
            for error in errors:
                for name, messages in error.errors.items():  # type: ignore[attr-defined]
                    merged.setdefault(name, []).extend(messages)
            raise ValidationFailed(merged)
        raise errors[0]
    lines = []
    for problem in sorted(problems, key=lambda p: p.index):
        error = problem.error
        if isinstance(error, DomainError):
            lines.append(
                {
                    "index": problem.index,
                    "code": error.code,
                    "message": error.message,
                    "details": error.details,
                }
            )
        else:  # pragma: no cover - defensive
            lines.append({"index": problem.index, "code": "invalid", "message": str(error)})
    raise BatchRejected(lines)


def existing_moves(keys: Iterable[str]) -> dict[str, list[StockMove]]:
    """Moves already posted under these keys (a replay), grouped by key in line order."""
    found: dict[str, list[StockMove]] = {}
    wanted = list(set(keys))
    if connection.vendor == "postgresql" and len(wanted) > 1:
        # One array parameter instead of thousands; most batches find nothing.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT DISTINCT idempotency_key FROM inventory_stockmove "
                "WHERE idempotency_key = ANY(%s)",
                [wanted],
            )
            wanted = [row[0] for row in cursor.fetchall()]
    for start in range(0, len(wanted), 5000):
        chunk = wanted[start : start + 5000]
        rows = StockMove.objects.filter(idempotency_key__in=chunk).order_by(
            "idempotency_key", "key_line"
        )
        for move in rows:
            found.setdefault(move.idempotency_key, []).append(move)
    return found


def replay_result(moves: list[StockMove]) -> PostingResult:
    posting = StockPosting.objects.get(pk=moves[0].posting_id)
    return PostingResult(posting=posting, rows=moves, replayed=True)


def _check_periods(session: LedgerSession) -> None:
    """One dated entry per line (its key), in line order, for the closed-period check."""
    sites = {location.site_id: location.site for location in session.locations.values()}
    if not closed_through(sites):
        return  # no store of these moves has closed a period: nothing to check per line
    dated: dict[str, DatedMove] = {}
    for move in session.moves:
        if move.idempotency_key not in dated:
            dated[move.idempotency_key] = DatedMove(
                site=sites[move.site_id], occurred_at=move.occurred_at, line=len(dated)
            )
    check_open(dated.values())


def new_posting(
    *, operation: str, actor: Any, sites: set[int], move_count: int = 0
) -> StockPosting:
    """The posting row of a document whose moves are at `sites` (its site when only one)."""
    return StockPosting.objects.create(
        operation=operation,
        site_id=next(iter(sites)) if len(sites) == 1 else None,
        actor_id=actor_id(actor),
        move_count=move_count,
    )


def finish_posting(
    session: LedgerSession,
    *,
    operation: str,
    actor: Any,
    reason: str = "",
    extra: dict[str, Any] | None = None,
    posting: StockPosting | None = None,
) -> PostingResult:
    """Write the session's moves under a new posting (or `posting`, made by `new_posting` for
    a session that streamed its moves); audit and publish once for the document.

    Refuses (PeriodClosed, nothing written) moves dated into a store's closed stock period.
    """
    _check_periods(session)
    if posting is None:
        sites = {move.site_id for move in session.moves}
        posting = new_posting(
            operation=operation, actor=actor, sites=sites, move_count=len(session.moves)
        )
    elif posting.move_count != len(session.moves):
        posting.move_count = len(session.moves)
        StockPosting.objects.filter(pk=posting.pk).update(move_count=posting.move_count)
    site_id = posting.site_id
    moves = session.flush(posting)
    node = None
    if site_id is not None:
        node = next(
            location.site.node
            for location in session.locations.values()
            if location.site_id == site_id
        )
    items = sorted({move.item_id for move in moves})
    locations = sorted({move.location_id for move in moves})
    after: dict[str, Any] = {
        "operation": operation,
        "move_count": len(moves),
        "items": items[:100],
        "locations": locations[:100],
        # Summed as the scaled integers the rows hold (exact), converted once.
        "quantity": _scaled_sum([move.q for move in moves], QUANTITY_SCALE),
        "value": _scaled_sum([move.v for move in moves], MONEY_SCALE),
        **(extra or {}),
    }
    if len(moves) <= 20:
        after["moves"] = [
            {
                "item_id": move.item_id,
                "location_id": move.location_id,
                "lot_id": move.lot_id,
                "quantity": move.quantity,
                "value": move.value,
                "reason": move.reason,
            }
            for move in moves
        ]
    record_audit(
        actor=actor,
        action=f"inventory.{operation}",
        target=posting,
        after=after,
        reason=reason,
        org_node=node,
    )
    publish(
        StockPosted(
            posting_id=posting.pk,
            operation=operation,
            site_id=site_id,
            move_count=len(moves),
            items=items[:1000],
            locations=locations[:1000],
            reasons=sorted({str(move.reason) for move in moves}),
        ),
        org_node=node,
    )
    warnings = [
        {
            "code": "negative_stock",
            "item_id": line.item_id,
            "location_id": line.location_id,
            "quantity": str(line.quantity),
        }
        for line in session.negatives
    ]
    if warnings:
        publish(
            NegativeStock(posting_id=posting.pk, site_id=site_id, lines=warnings), org_node=node
        )
    return PostingResult(posting=posting, rows=moves, warnings=warnings)


def _scaled_sum(numbers: list[int], scale: int) -> Decimal:
    """The sum of scaled integers as the Decimal that summing their Decimals gives."""
    if not numbers:
        return Decimal(0)
    return to_decimal_scaled(sum(numbers), scale)


def moment(value: dt.datetime | None) -> dt.datetime:
    from django.utils import timezone

    if value is None:
        return timezone.now()
    if timezone.is_naive(value):
        raise ValidationFailed({"occurred_at": [_("Give the time with its time zone.")]})
    return value
