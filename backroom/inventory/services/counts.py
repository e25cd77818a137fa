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
from django.utils.translation import gettext as _

from backroom.accounts.authorization import require_permission
from backroom.audit.services import record_audit
from backroom.catalog.choices import STOCKED_KINDS
from backroom.catalog.exceptions import MissingConversion, UnknownUnit
from backroom.catalog.models import Item
from backroom.catalog.units import resolve_unit, to_base
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
    CountTemplateArchived,
    UnknownCountLine,
    UnknownCountTemplate,
)
from backroom.inventory.exceptions import (
    BatchRejected,
    ItemNotStocked,
    NegativeQuantity,
    UnknownLocation,
)
from backroom.inventory.ledger import LedgerSession, LineProblem, MoveMeta
from backroom.inventory.locks import lock_valuations
from backroom.inventory.models import (
    CountKind,
    CountLine,
    CountSheet,
    CountStatus,
    CountTemplate,
    CountTemplateLine,
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
from backroom.kernel import clock
from backroom.kernel.exceptions import DomainError, ErrorCollector, ValidationFailed
from backroom.kernel.money import quantize_money, quantize_quantity, to_decimal
from backroom.kernel.numbering import next_document_number
from backroom.org.models import Site

ZERO = Decimal(0)
DEFAULT_REVIEW_THRESHOLD = Decimal("500")  # variance value per line; settings may override


@dataclass(frozen=True)
class CountEntry:
    """A counted quantity in one unit: 3 cases, 4 bags, 0.5 kg. The quantity may be the text
    as typed ("2.5"); `record_counts` parses and checks it with the line's other problems."""

    unit: str
    quantity: Decimal | str


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
    kind: str | None = None,
    location_ids: Sequence[int] = (),
    item_ids: Sequence[int] = (),
    review_threshold: Decimal | None = None,
    template: CountTemplate | None = None,
) -> CountSheet:
    """A draft count of the chosen locations (all open stock locations when none are given).

    A cycle count may name the items it covers; a full count covers every item. A closed
    location is refused (`location_inactive`), as is one of another site (`unknown_location`).

    From a `template` the count takes the template's kind (unless `kind` is given), its
    locations and, for a cycle count, its items; starting it lays the lines out in the
    template's shelf order with its count units. An archived template is refused
    (`count_template_archived`), as is another site's (`unknown_count_template`).
    """
    require_permission(actor, INVENTORY_COUNT, site.node)
    template_items: list[int] = []
    if template is not None:
        template = CountTemplate.objects.get(pk=template.pk)  # archived since it was read?
        if template.site_id != site.pk:
            raise UnknownCountTemplate(template.pk)
        if not template.is_active:
            raise CountTemplateArchived(details={"template_id": template.pk, "name": template.name})
        if location_ids or item_ids:
            raise ValidationFailed(
                {"template_id": [_("A template names its own locations and items.")]}
            )
        kind = kind or template.kind
        template_pairs = list(
            template.lines.order_by("shelf_order").values_list("location_id", "item_id")
        )
        location_ids = list(dict.fromkeys(location for location, _item in template_pairs))
        if kind == CountKind.CYCLE:
            template_items = sorted({item for _location, item in template_pairs})
        if not location_ids:
            raise ValidationFailed({"template_id": [_("The template has no lines.")]})
    kind = kind or CountKind.FULL
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
    items = set(item_ids) | set(template_items)
    if item_ids and Item.objects.filter(pk__in=set(item_ids)).count() != len(set(item_ids)):
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
            template=template,
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
            template=template.pk if template is not None else None,
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

    From a template, the lines follow the template's shelf order and offer its count units; an
    item of the template with nothing on the books gets a line at zero. A full count then adds
    the other balances of its locations at the end (nothing on the shelves is missed); a cycle
    count covers the template's lines only.
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
        planned = _template_plan(sheet)
        pairs = set(balances.values_list("item_id", "location_id"))
        cycle_pairs: set[tuple[int, int]] | None = None
        if planned is not None:
            planned_pairs = {(plan.item_id, plan.location_id) for plan in planned}
            if sheet.kind == CountKind.CYCLE:
                # A cycle count from a template counts the template's item × location pairs.
                cycle_pairs = planned_pairs
                pairs &= planned_pairs
            pairs |= planned_pairs
        # Every posting to these pairs either committed before these locks or waits for them,
        # so the balances read now and the last move id agree.
        lock_valuations(pairs)
        rows = [
            row
            for row in balances.filter(item__is_active=True)
            .select_related("location", "item", "lot")
            .order_by("location__code", "item__sku", "lot__expiry_date", "lot_id")
            if cycle_pairs is None or (row.item_id, row.location_id) in cycle_pairs
        ]
        sheet.start_move_id = StockMove.objects.aggregate(last=Max("id"))["last"] or 0
        CountLine.objects.bulk_create(
            [
                CountLine(
                    sheet=sheet,
                    item_id=item_id,
                    location_id=location_id,
                    lot_id=lot_id,
                    shelf_order=order,
                    theoretical_quantity=quantity,
                    count_units=list(units),
                )
                for order, (item_id, location_id, lot_id, quantity, units) in enumerate(
                    _laid_out(rows, planned), start=1
                )
            ],
            batch_size=1000,
        )
        sheet.status = CountStatus.COUNTING
        sheet.started_at = clock.now()
        sheet.save(update_fields=["status", "started_at", "start_move_id", "updated_at"])
        _audit(sheet, "start", actor, line_count=len(rows), start_move_id=sheet.start_move_id)
        publish(
            CountStarted(
                sheet_id=sheet.pk, number=sheet.number, site_id=sheet.site_id, line_count=len(rows)
            ),
            org_node=sheet.site.node,
        )
    return sheet


@dataclass(frozen=True)
class _Planned:
    item_id: int
    location_id: int
    count_units: list[str]


def _template_plan(sheet: CountSheet) -> list[_Planned] | None:
    """The template's active lines in shelf order (None for a count without a template)."""
    if sheet.template_id is None:
        return None
    return [
        _Planned(item_id, location_id, list(units or []))
        for item_id, location_id, units in CountTemplateLine.objects.filter(
            template_id=sheet.template_id, item__is_active=True
        )
        .order_by("shelf_order")
        .values_list("item_id", "location_id", "count_units")
    ]


def _laid_out(
    rows: list[StockBalance], planned: list[_Planned] | None
) -> list[tuple[int, int, int | None, Decimal, list[str]]]:
    """(item, location, lot, theoretical, count units) of each line, in shelf order."""
    if planned is None:
        return [(row.item_id, row.location_id, row.lot_id, row.quantity, []) for row in rows]
    by_pair: dict[tuple[int, int], list[StockBalance]] = {}
    for row in rows:
        by_pair.setdefault((row.item_id, row.location_id), []).append(row)
    laid: list[tuple[int, int, int | None, Decimal, list[str]]] = []
    for plan in planned:
        found = by_pair.pop((plan.item_id, plan.location_id), [])
        if not found:
            laid.append((plan.item_id, plan.location_id, None, ZERO, plan.count_units))
        for row in found:
            laid.append((row.item_id, row.location_id, row.lot_id, row.quantity, plan.count_units))
    for rest in by_pair.values():  # still in location, SKU, expiry order
        laid.extend((row.item_id, row.location_id, row.lot_id, row.quantity, []) for row in rest)
    return laid


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
        now = clock.now()
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
        sheet.submitted_at = clock.now()
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
            occurred_at=clock.now(),
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
        sheet.posted_at = clock.now()
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


# --- count templates (盘点模板) -----------------------------------------------------------------

MAX_TEMPLATE_UNITS = 4


@dataclass(frozen=True)
class TemplateLineInput:
    """An item to count at a location, its place in the walk and the units to offer (largest
    first). Without `shelf_order` the line keeps its place in the list."""

    location_id: int
    item_id: int
    shelf_order: int | None = None
    count_units: Sequence[str] = ()


def _template_fields(
    site: Site, name: str | None, kind: str | None, errors: ErrorCollector, *, exclude: int | None
) -> None:
    if name is not None:
        if not name.strip():
            errors.add("name", _("Give the template a name."))
        elif len(name) > 100:
            errors.add("name", _("At most 100 characters."))
        elif (
            CountTemplate.objects.filter(site=site, name=name.strip(), is_active=True)
            .exclude(pk=exclude or 0)
            .exists()
        ):
            errors.add("name", _("This store already has a template with this name."))
    if kind is not None and kind not in CountKind.values:
        errors.add("kind", _("Use full or cycle."))


def _template_lines(
    site: Site, lines: Sequence[TemplateLineInput], errors: ErrorCollector
) -> tuple[list[CountTemplateLine], list[LineProblem]]:
    """Check every line (every problem of every line at once) and lay them out in walk order:
    locations in the order they first appear, then by shelf order, then as listed."""
    if not lines:
        errors.add("lines", _("Add at least one item to count."))
        return [], []
    locations = Location.objects.select_related("site__node").in_bulk(
        {line.location_id for line in lines}
    )
    items = (
        Item.objects.select_related("base_unit")
        .prefetch_related("units")
        .in_bulk({line.item_id for line in lines})
    )
    problems: list[LineProblem] = []
    seen: dict[tuple[int, int], int] = {}
    rank: dict[int, int] = {}
    keyed: list[tuple[tuple[int, int, int], CountTemplateLine]] = []
    for index, line in enumerate(lines):
        before = len(problems)
        location = locations.get(line.location_id)
        if location is not None and location.site_id != site.pk:
            location = None
        problem = location_problem(location, line.location_id)
        if problem is None and location is not None and location.kind == LocationKind.IN_TRANSIT:
            problem = UnknownLocation(
                _("Stock in transit is not counted on the shelves."),
                field="location_id",
                location_id=line.location_id,
            )
        if problem is not None:
            problems.append(LineProblem(index, problem))
        item = items.get(line.item_id)
        if item is None or not item.is_active:
            problems.append(
                LineProblem(
                    index,
                    ValidationFailed({"item_id": [_("There is no such active item.")]}),
                )
            )
        elif item.kind not in STOCKED_KINDS:
            problems.append(LineProblem(index, ItemNotStocked(field="item_id", item=item.sku)))
        pair = (line.item_id, line.location_id)
        if pair in seen:
            problems.append(
                LineProblem(
                    index,
                    ValidationFailed(
                        {
                            "item_id": [
                                _("The item is already listed at this location (line %(index)s).")
                                % {"index": seen[pair]}
                            ]
                        }
                    ),
                )
            )
        seen.setdefault(pair, index)
        if line.shelf_order is not None and not 0 < line.shelf_order < 1_000_000:
            problems.append(
                LineProblem(
                    index,
                    ValidationFailed({"shelf_order": [_("Use a number from 1 to 999999.")]}),
                )
            )
        units = list(dict.fromkeys(code.strip() for code in line.count_units))
        if len(units) > MAX_TEMPLATE_UNITS:
            problems.append(
                LineProblem(
                    index,
                    ValidationFailed(
                        {
                            "count_units": [
                                _("Offer at most %(count)s units.") % {"count": MAX_TEMPLATE_UNITS}
                            ]
                        }
                    ),
                )
            )
        if item is not None:
            for code in units:
                try:
                    resolve_unit(item, code, field="count_units")
                except (UnknownUnit, MissingConversion) as error:
                    problems.append(LineProblem(index, error))
        if len(problems) > before:
            continue
        rank.setdefault(line.location_id, len(rank))
        keyed.append(
            (
                (rank[line.location_id], line.shelf_order or index + 1, index),
                CountTemplateLine(
                    location_id=line.location_id, item_id=line.item_id, count_units=units
                ),
            )
        )
    laid = [row for _key, row in sorted(keyed, key=lambda pair: pair[0])]
    for order, row in enumerate(laid, start=1):
        row.shelf_order = order
    return laid, problems


def _raise_template_errors(errors: ErrorCollector, problems: list[LineProblem]) -> None:
    """Field errors and line problems together: BatchRejected with `details.fields` too."""
    if problems:
        try:
            raise_problems(problems, single=False)
        except BatchRejected as error:
            error.details["fields"] = errors.errors
            error.errors = errors.errors
            raise
    errors.raise_if_any()


def _template_audit(template: CountTemplate, action: str, actor: Any, **after: Any) -> None:
    record_audit(
        actor=actor,
        action=f"inventory.count_template.{action}",
        target=template,
        after={"name": template.name, "kind": template.kind, **after},
        org_node=template.site.node,
    )


def _line_summary(lines: Sequence[CountTemplateLine]) -> list[dict[str, Any]]:
    return [
        {
            "location_id": line.location_id,
            "item_id": line.item_id,
            "shelf_order": line.shelf_order,
            "count_units": line.count_units,
        }
        for line in lines[:200]
    ]


def create_count_template(
    site: Site,
    *,
    actor: Any,
    name: str,
    kind: str = CountKind.FULL,
    lines: Sequence[TemplateLineInput],
) -> CountTemplate:
    """A count template at a site (inventory.manage there): its items at their locations, in
    walk order, with the units to count them in. Every problem is reported at once."""
    require_permission(actor, INVENTORY_MANAGE, site.node)
    errors = ErrorCollector()
    _template_fields(site, name, kind, errors, exclude=None)
    laid, problems = _template_lines(site, lines, errors)
    _raise_template_errors(errors, problems)
    with transaction.atomic():
        template = CountTemplate.objects.create(
            site=site, name=name.strip(), kind=kind, created_by_id=actor_id(actor)
        )
        for row in laid:
            row.template = template
        CountTemplateLine.objects.bulk_create(laid, batch_size=1000)
        _template_audit(template, "create", actor, line_count=len(laid), lines=_line_summary(laid))
    return template


def update_count_template(
    template: CountTemplate,
    *,
    actor: Any,
    name: str | None = None,
    kind: str | None = None,
    lines: Sequence[TemplateLineInput] | None = None,
) -> CountTemplate:
    """Rename a template, change its kind or replace its lines (given ones only). Counts
    already started from it keep their lines; an archived template cannot change."""
    require_permission(actor, INVENTORY_MANAGE, template.site.node)
    errors = ErrorCollector()
    with transaction.atomic():
        template = (
            CountTemplate.objects.select_for_update()
            .select_related("site__node")
            .get(pk=template.pk)
        )
        if not template.is_active:
            raise CountTemplateArchived(details={"template_id": template.pk})
        _template_fields(template.site, name, kind, errors, exclude=template.pk)
        laid: list[CountTemplateLine] = []
        problems: list[LineProblem] = []
        if lines is not None:
            laid, problems = _template_lines(template.site, lines, errors)
        _raise_template_errors(errors, problems)
        before = {"name": template.name, "kind": template.kind}
        if name is not None:
            template.name = name.strip()
        if kind is not None:
            template.kind = kind
        template.save(update_fields=["name", "kind", "updated_at"])
        after: dict[str, Any] = {}
        if lines is not None:
            template.lines.all().delete()
            for row in laid:
                row.template = template
            CountTemplateLine.objects.bulk_create(laid, batch_size=1000)
            after = {"line_count": len(laid), "lines": _line_summary(laid)}
        record_audit(
            actor=actor,
            action="inventory.count_template.update",
            target=template,
            before=before,
            after={"name": template.name, "kind": template.kind, **after},
            org_node=template.site.node,
        )
    return template


def archive_count_template(template: CountTemplate, *, actor: Any) -> CountTemplate:
    """Archive a template: no new count starts from it; the counts that used it keep it.
    Archiving an archived template changes nothing."""
    require_permission(actor, INVENTORY_MANAGE, template.site.node)
    with transaction.atomic():
        template = (
            CountTemplate.objects.select_for_update()
            .select_related("site__node")
            .get(pk=template.pk)
        )
        if not template.is_active:
            return template
        template.is_active = False
        template.save(update_fields=["is_active", "updated_at"])
        _template_audit(template, "archive", actor, is_active=False)
    return template


def create_count_from_template(
    template: CountTemplate, *, actor: Any, start: bool = True
) -> CountSheet:
    """A count from a template at the template's site, started at once unless `start=False`."""
    sheet = create_count(template.site, actor=actor, template=template)
    return start_count(sheet, actor=actor) if start else sheet
