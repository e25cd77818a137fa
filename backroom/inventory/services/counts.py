"""Stock counts (盘点): create → start (freeze) → record → submit → post the variances.

The store never closes to count. When counting starts, each line's theoretical quantity is
frozen from the balance and the sheet keeps the last ledger move id (`start_move_id`), read
while holding the valuation locks of every counted item × location, so a move posted later has
a higher id. At posting, each line's variance is

    counted − (theoretical frozen + Σ moves of that item × location × lot with id > start,
               excluding the count's own moves)

and the variances are posted as one `count_variance` posting through the ledger session, under
the same locks as every other posting, with the key `count:<sheet id>` (a replay posts nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from backroom.accounts.authorization import require_permission
from backroom.audit.services import record_audit
from backroom.catalog.exceptions import MissingConversion, UnknownUnit
from backroom.catalog.models import Item
from backroom.catalog.units import to_base
from backroom.events.services import publish
from backroom.inventory.choices import LocationKind, MoveReason, PostingOperation
from backroom.inventory.counts import (
    SOURCE_TYPE,
    CountCancelled,
    CountCreated,
    CountPosted,
    CountRecorded,
    CountReviewRequired,
    CountStarted,
    CountStateError,
    CountSubmitted,
    UnknownCountLine,
)
from backroom.inventory.exceptions import NegativeQuantity, UnknownLocation
from backroom.inventory.ledger import LedgerSession, LineProblem, MoveMeta
from backroom.inventory.locks import lock_valuations
from backroom.inventory.models import (
    CountKind,
    CountLine,
    CountSheet,
    CountStatus,
    ItemValuation,
    Location,
    StockBalance,
    StockMove,
)
from backroom.inventory.permissions import INVENTORY_COUNT, INVENTORY_MANAGE
from backroom.inventory.services.common import (
    actor_id,
    finish_posting,
    location_problem,
    raise_problems,
)
from backroom.kernel.exceptions import DomainError, ErrorCollector, ValidationFailed
from backroom.kernel.money import quantize_money, quantize_quantity, to_decimal
from backroom.kernel.numbering import next_document_number
from backroom.org.models import Site

ZERO = Decimal(0)
DEFAULT_REVIEW_THRESHOLD = Decimal("500")  # variance value per line; settings may override


@dataclass(frozen=True)
class CountEntry:
    """A counted quantity in one unit: 3 cases, 4 bags, 0.5 kg."""

    unit: str
    quantity: Decimal


@dataclass(frozen=True)
class LineCount:
    """What was counted on one line: its entries in count units (added up in the base unit)."""

    line_id: int
    entries: Sequence[CountEntry] = field(default_factory=tuple)


def review_threshold(sheet: CountSheet) -> Decimal:
    """The variance value above which a line needs review: the sheet's, else the setting."""
    if sheet.review_threshold is not None:
        return Decimal(sheet.review_threshold)
    return Decimal(
        str(getattr(settings, "INVENTORY_COUNT_REVIEW_THRESHOLD", DEFAULT_REVIEW_THRESHOLD))
    )


def _audit(sheet: CountSheet, action: str, actor: Any, **after: Any) -> None:
    record_audit(
        actor=actor,
        action=f"inventory.count.{action}",
        target=sheet,
        after={"number": sheet.number, "status": sheet.status, **after},
        org_node=sheet.site.node,
    )


def _locked(sheet: CountSheet, *expected: str) -> CountSheet:
    """The sheet locked for this step; CountStateError unless it is in one of `expected`."""
    locked = CountSheet.objects.select_for_update().select_related("site__node").get(pk=sheet.pk)
    if locked.status not in expected:
        raise CountStateError(
            _("Count %(number)s is %(status)s.")
            % {"number": locked.number, "status": locked.get_status_display()},
            details={"status": locked.status, "expected": list(expected)},
        )
    return locked


def create_count(
    site: Site,
    *,
    actor: Any,
    kind: str = CountKind.FULL,
    location_ids: Sequence[int] = (),
    item_ids: Sequence[int] = (),
    review_threshold: Decimal | None = None,
) -> CountSheet:
    """A draft count of the chosen locations (all open stock locations when none are given).

    A cycle count may name the items it covers; a full count covers every item. A closed
    location is refused (`location_inactive`), as is one of another site (`unknown_location`).
    """
    require_permission(actor, INVENTORY_COUNT, site.node)
    errors = ErrorCollector()
    if kind not in CountKind.values:
        errors.add("kind", _("Use full or cycle."))
    if kind == CountKind.FULL and item_ids:
        errors.add("item_ids", _("A full count covers every item; use a cycle count."))
    if review_threshold is not None:
        try:
            review_threshold = quantize_money(
                to_decimal(review_threshold, field="review_threshold")
            )
            if review_threshold < 0:
                errors.add("review_threshold", _("The threshold cannot be negative."))
        except ValidationFailed as error:
            errors.errors.update(error.errors)
    items = set(item_ids)
    if items and Item.objects.filter(pk__in=items).count() != len(items):
        errors.add("item_ids", _("Some of these items do not exist."))
    errors.raise_if_any()
    if location_ids:
        found = Location.objects.select_related("site__node").in_bulk(set(location_ids))
        for location_id in location_ids:
            location = found.get(location_id)
            if location is not None and location.site_id != site.pk:
                location = None
            problem = location_problem(location, location_id, "location_ids")
            if problem is not None:
                raise problem
        locations = [found[location_id] for location_id in sorted(set(location_ids))]
    else:
        locations = list(
            Location.objects.filter(site=site, is_active=True)
            .exclude(kind=LocationKind.IN_TRANSIT)
            .order_by("code")
        )
        if not locations:
            raise UnknownLocation(
                _("The site has no open stock location to count."), field="location_ids"
            )
    with transaction.atomic():
        sheet = CountSheet.objects.create(
            site=site,
            number=next_document_number("CNT", site.node.code),
            kind=kind,
            item_ids=sorted(items),
            review_threshold=review_threshold,
            created_by_id=actor_id(actor),
        )
        sheet.locations.set(locations)
        _audit(
            sheet,
            "create",
            actor,
            kind=kind,
            locations=[location.pk for location in locations],
            item_ids=sorted(items),
            review_threshold=review_threshold,
        )
        publish(
            CountCreated(sheet_id=sheet.pk, number=sheet.number, site_id=site.pk, kind=kind),
            org_node=site.node,
        )
    return sheet


def start_count(sheet: CountSheet, *, actor: Any) -> CountSheet:
    """Freeze the theoretical quantities: one line per balance at the sheet's locations.

    Lines are ordered by location code, then item SKU, then lot expiry (the shelf order). Empty
    lot balances are left out; a balance without a lot is listed even at zero, so an item kept
    at the location can be counted when the books say there is none.
    """
    require_permission(actor, INVENTORY_COUNT, sheet.site.node)
    with transaction.atomic():
        sheet = _locked(sheet, CountStatus.DRAFT)
        locations = list(sheet.locations.all())
        for location in locations:
            problem = location_problem(location, location.pk, "location_ids")
            if problem is not None:
                raise problem
        balances = StockBalance.objects.filter(location__in=locations).filter(
            ~Q(quantity=0) | Q(lot__isnull=True)
        )
        if sheet.item_ids:
            balances = balances.filter(item_id__in=sheet.item_ids)
        pairs = set(balances.values_list("item_id", "location_id"))
        # Every posting to these pairs either committed before these locks or waits for them,
        # so the balances read now and the last move id agree.
        lock_valuations(pairs)
        rows = list(
            balances.filter(item__is_active=True)
            .select_related("location", "item", "lot")
            .order_by("location__code", "item__sku", "lot__expiry_date", "lot_id")
        )
        sheet.start_move_id = StockMove.objects.aggregate(last=Max("id"))["last"] or 0
        CountLine.objects.bulk_create(
            [
                CountLine(
                    sheet=sheet,
                    item_id=row.item_id,
                    location_id=row.location_id,
                    lot_id=row.lot_id,
                    shelf_order=order,
                    theoretical_quantity=row.quantity,
                )
                for order, row in enumerate(rows, start=1)
            ],
            batch_size=1000,
        )
        sheet.status = CountStatus.COUNTING
        sheet.started_at = timezone.now()
        sheet.save(update_fields=["status", "started_at", "start_move_id", "updated_at"])
        _audit(sheet, "start", actor, line_count=len(rows), start_move_id=sheet.start_move_id)
        publish(
            CountStarted(
                sheet_id=sheet.pk, number=sheet.number, site_id=sheet.site_id, line_count=len(rows)
            ),
            org_node=sheet.site.node,
        )
    return sheet


def _line_problem(index: int, error: DomainError) -> LineProblem:
    return LineProblem(index, error)


def record_counts(sheet: CountSheet, counts: Sequence[LineCount], *, actor: Any) -> CountSheet:
    """Record counted quantities on many lines at once, all or nothing.

    Every line is checked first and every problem of every line is reported together
    (`batch_rejected`, `details.lines[] = {index, code, message, details}`): a line not on the
    sheet, the same line twice, no entries, an unknown unit or missing conversion, a negative
    quantity, a closed location. Recording a line again replaces what it had.
    """
    require_permission(actor, INVENTORY_COUNT, sheet.site.node)
    if not counts:
        raise ValidationFailed({"lines": [_("Send at least one line.")]})
    with transaction.atomic():
        sheet = _locked(sheet, CountStatus.COUNTING)
        wanted = {count.line_id for count in counts}
        lines = (
            CountLine.objects.filter(sheet=sheet, pk__in=wanted)
            .select_related("item__base_unit", "location")
            .prefetch_related("item__units")
            .in_bulk()
        )
        problems: list[LineProblem] = []
        seen: dict[int, int] = {}
        now = timezone.now()
        changed: list[CountLine] = []
        for index, count in enumerate(counts):
            line = lines.get(count.line_id)
            if line is None:
                problems.append(_line_problem(index, UnknownCountLine(count.line_id)))
                continue
            if count.line_id in seen:
                problems.append(
                    _line_problem(
                        index,
                        ValidationFailed(
                            {
                                "line_id": [
                                    _("The line is also counted at index %(index)s.")
                                    % {"index": seen[count.line_id]}
                                ]
                            }
                        ),
                    )
                )
                continue
            seen[count.line_id] = index
            location_error = location_problem(line.location, line.location_id)
            if location_error is not None:
                problems.append(_line_problem(index, location_error))
            if not count.entries:
                problems.append(
                    _line_problem(
                        index,
                        ValidationFailed(
                            {"entries": [_("Give at least one entry (0 when nothing is there).")]}
                        ),
                    )
                )
            total = ZERO
            stored: list[dict[str, str]] = []
            errors_before = len(problems)
            for entry in count.entries:
                try:
                    quantity = quantize_quantity(to_decimal(entry.quantity, field="quantity"))
                except ValidationFailed as error:
                    problems.append(_line_problem(index, error))
                    continue
                if quantity < 0:
                    problems.append(
                        _line_problem(
                            index,
                            NegativeQuantity(
                                _("A counted quantity cannot be negative."),
                                field="quantity",
                                unit=entry.unit,
                            ),
                        )
                    )
                    continue
                try:
                    total += to_base(line.item, quantity, entry.unit)
                except (UnknownUnit, MissingConversion, ValidationFailed) as error:
                    problems.append(_line_problem(index, error))
                    continue
                stored.append({"unit": entry.unit, "quantity": f"{quantity.normalize():f}"})
            if len(problems) == errors_before and location_error is None:
                line.entries = stored
                line.counted_quantity = total
                line.counted_at = now
                changed.append(line)
        if problems:
            raise_problems(problems, single=False)
        CountLine.objects.bulk_update(
            changed, ["entries", "counted_quantity", "counted_at"], batch_size=500
        )
        _audit(
            sheet,
            "record",
            actor,
            line_count=len(changed),
            lines=[
                {"line_id": line.pk, "entries": line.entries, "counted": line.counted_quantity}
                for line in changed[:50]
            ],
        )
        publish(
            CountRecorded(sheet_id=sheet.pk, number=sheet.number, line_count=len(changed)),
            org_node=sheet.site.node,
        )
    return sheet


def _moves_since_start(sheet: CountSheet) -> dict[tuple[int, int, int | None], Decimal]:
    """Net moves per item × location × lot posted after counting started (not the count's)."""
    rows = (
        StockMove.objects.filter(
            location__in=sheet.locations.all(), id__gt=sheet.start_move_id or 0
        )
        .exclude(source_type=SOURCE_TYPE, source_id=str(sheet.pk))
        .values_list("item_id", "location_id", "lot_id")
        .annotate(total=Sum("quantity"))
        .order_by()
    )
    return {(item, location, lot): total for item, location, lot, total in rows}


def _variances(sheet: CountSheet, lines: list[CountLine]) -> Decimal:
    """Set each line's variance (quantity and value at the average cost); returns the largest
    absolute value."""
    since = _moves_since_start(sheet)
    costs = {
        (item, location): average or ZERO
        for item, location, average in ItemValuation.objects.filter(
            location__in=sheet.locations.all(), item_id__in={line.item_id for line in lines}
        ).values_list("item_id", "location_id", "average_cost")
    }
    largest = ZERO
    for line in lines:
        expected = line.theoretical_quantity + since.get(
            (line.item_id, line.location_id, line.lot_id), ZERO
        )
        variance = quantize_quantity((line.counted_quantity or ZERO) - expected)
        line.variance_quantity = variance
        line.variance_value = quantize_money(
            variance * costs.get((line.item_id, line.location_id), ZERO)
        )
        largest = max(largest, abs(line.variance_value))
    return largest


def submit_count(sheet: CountSheet, *, actor: Any) -> CountSheet:
    """Close counting: every line must be counted. Computes the variances so far and flags the
    sheet `requires_review` when a line's variance value is above the threshold."""
    require_permission(actor, INVENTORY_COUNT, sheet.site.node)
    with transaction.atomic():
        sheet = _locked(sheet, CountStatus.COUNTING)
        lines = list(CountLine.objects.filter(sheet=sheet).order_by("shelf_order"))
        missing = [line.pk for line in lines if line.counted_quantity is None]
        if missing:
            error = ValidationFailed(
                {"lines": [_("%(count)s lines are not counted yet.") % {"count": len(missing)}]},
                message=_("Count every line before submitting."),
            )
            error.details["uncounted"] = missing[:500]
            raise error
        largest = _variances(sheet, lines)
        CountLine.objects.bulk_update(
            lines, ["variance_quantity", "variance_value"], batch_size=500
        )
        sheet.requires_review = largest > review_threshold(sheet)
        sheet.status = CountStatus.SUBMITTED
        sheet.submitted_at = timezone.now()
        sheet.save(update_fields=["status", "submitted_at", "requires_review", "updated_at"])
        _audit(sheet, "submit", actor, requires_review=sheet.requires_review, largest=largest)
        publish(
            CountSubmitted(
                sheet_id=sheet.pk, number=sheet.number, requires_review=sheet.requires_review
            ),
            org_node=sheet.site.node,
        )
    return sheet


def post_count(sheet: CountSheet, *, actor: Any, approved: bool = False) -> CountSheet:
    """Post the variances to the ledger as one `count_variance` posting; idempotent.

    The variances are recomputed under the ledger's locks (moves posted since submitting count
    too). When a line's variance value is above the threshold the sheet is flagged
    `requires_review` and posting refuses (`count_review_required`) unless `approved=True` is
    given by an actor holding inventory.manage at the site. (A multi-step approval flow belongs
    to the approvals engine, a later issue.) Posting a posted sheet again returns it unchanged.
    """
    require_permission(actor, INVENTORY_COUNT, sheet.site.node)
    if approved:
        require_permission(actor, INVENTORY_MANAGE, sheet.site.node)
    with transaction.atomic():
        sheet = _locked(sheet, CountStatus.SUBMITTED, CountStatus.POSTED)
        if sheet.status == CountStatus.POSTED:
            return sheet
        key = f"count:{sheet.pk}"
        lines = list(
            CountLine.objects.filter(sheet=sheet)
            .select_related("item__item_class", "item__base_unit", "location__site__node")
            .order_by("shelf_order")
        )
        for line in lines:
            problem = location_problem(line.location, line.location_id)
            if problem is not None:
                raise problem
        session = LedgerSession(
            items={line.item_id: line.item for line in lines},
            locations={line.location_id: line.location for line in lines},
            pairs={(line.item_id, line.location_id) for line in lines},
            actor_id=actor_id(actor),
        )
        largest = _variances(sheet, lines)
        if largest > review_threshold(sheet) and not approved:
            raise CountReviewRequired(
                details={"largest_variance_value": str(largest), "number": sheet.number}
            )
        meta = MoveMeta(
            key=key,
            occurred_at=timezone.now(),
            source_type=SOURCE_TYPE,
            source_id=str(sheet.pk),
            source_number=sheet.number,
        )
        for index, line in enumerate(lines):
            variance = line.variance_quantity or ZERO
            if variance > 0:
                session.inbound(
                    index,
                    item=line.item,
                    location=line.location,
                    quantity=variance,
                    unit_cost=None,
                    reason=MoveReason.COUNT_VARIANCE,
                    meta=meta,
                    lot_id=line.lot_id,
                )
            elif variance < 0:
                session.outbound(
                    index,
                    item=line.item,
                    location=line.location,
                    quantity=-variance,
                    reason=MoveReason.COUNT_VARIANCE,
                    meta=meta,
                    lot_id=line.lot_id,
                    use_lot=True,
                    allow_expired=True,
                )
        raise_problems(session.problems, single=False)
        posting = None
        if session.moves:
            posting = finish_posting(
                session,
                operation=PostingOperation.ADJUST,
                actor=actor,
                reason=_("Count %(number)s") % {"number": sheet.number},
                extra={"count_sheet": sheet.number},
            ).posting
        CountLine.objects.bulk_update(
            lines, ["variance_quantity", "variance_value"], batch_size=500
        )
        variance_lines = sum(1 for line in lines if line.variance_quantity)
        total_value = sum((line.variance_value or ZERO for line in lines), ZERO)
        sheet.status = CountStatus.POSTED
        sheet.posted_at = timezone.now()
        sheet.posting = posting
        sheet.requires_review = largest > review_threshold(sheet)
        sheet.approved_by_id = actor_id(actor) if approved else None
        sheet.save(
            update_fields=[
                "status",
                "posted_at",
                "posting",
                "requires_review",
                "approved_by",
                "updated_at",
            ]
        )
        _audit(
            sheet,
            "post",
            actor,
            posting_id=posting.pk if posting else None,
            variance_lines=variance_lines,
            variance_value=total_value,
            approved=approved,
        )
        publish(
            CountPosted(
                sheet_id=sheet.pk,
                number=sheet.number,
                site_id=sheet.site_id,
                posting_id=posting.pk if posting else None,
                variance_lines=variance_lines,
                variance_value=str(total_value),
                approved=approved,
            ),
            org_node=sheet.site.node,
        )
    return sheet


def cancel_count(sheet: CountSheet, *, actor: Any, reason: str = "") -> CountSheet:
    """Abandon a count that is not posted; nothing reaches the ledger."""
    require_permission(actor, INVENTORY_COUNT, sheet.site.node)
    with transaction.atomic():
        sheet = _locked(sheet, CountStatus.DRAFT, CountStatus.COUNTING, CountStatus.SUBMITTED)
        sheet.status = CountStatus.CANCELLED
        sheet.save(update_fields=["status", "updated_at"])
        record_audit(
            actor=actor,
            action="inventory.count.cancel",
            target=sheet,
            after={"number": sheet.number, "status": sheet.status},
            reason=reason,
            org_node=sheet.site.node,
        )
        publish(CountCancelled(sheet_id=sheet.pk, number=sheet.number), org_node=sheet.site.node)
    return sheet
