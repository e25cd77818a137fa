"""Stock counts (盘点): their events, their errors and the scoped reads of count sheets.

The writes are in `backroom.inventory.services.counts`; the models (`CountSheet`, `CountLine`)
in `backroom.inventory.models`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from backroom.events.catalogue import event
from backroom.inventory.models import CountLine, CountSheet, CountTemplate
from backroom.inventory.permissions import INVENTORY_VIEW
from backroom.kernel.exceptions import Conflict, NotFound, ValidationFailed
from backroom.org.models import Site

SOURCE_TYPE = "inventory.count"

# --- events --------------------------------------------------------------------------------


class CountEvent(StrEnum):
    CREATED = "inventory.count.created"
    STARTED = "inventory.count.started"
    COUNTED = "inventory.count.counted"
    SUBMITTED = "inventory.count.submitted"
    POSTED = "inventory.count.posted"
    CANCELLED = "inventory.count.cancelled"


@event(CountEvent.CREATED)
@dataclass(frozen=True)
class CountCreated:
    sheet_id: int
    number: str
    site_id: int
    kind: str


@event(CountEvent.STARTED)
@dataclass(frozen=True)
class CountStarted:
    """Counting began: theoretical quantities frozen on `line_count` lines."""

    sheet_id: int
    number: str
    site_id: int
    line_count: int


@event(CountEvent.COUNTED)
@dataclass(frozen=True)
class CountRecorded:
    """Counted quantities were recorded on `line_count` lines (one event per request)."""

    sheet_id: int
    number: str
    line_count: int


@event(CountEvent.SUBMITTED)
@dataclass(frozen=True)
class CountSubmitted:
    sheet_id: int
    number: str
    requires_review: bool


@event(CountEvent.POSTED)
@dataclass(frozen=True)
class CountPosted:
    """The variances were posted to the ledger (`posting_id` None when nothing differed)."""

    sheet_id: int
    number: str
    site_id: int
    posting_id: int | None
    variance_lines: int
    variance_value: str
    approved: bool


@event(CountEvent.CANCELLED)
@dataclass(frozen=True)
class CountCancelled:
    sheet_id: int
    number: str


# --- errors --------------------------------------------------------------------------------


class CountStateError(Conflict):
    """The sheet is not in the state this step needs (counting a posted sheet, …)."""

    code = "count_state"
    default_message = _("The count is not in a state that allows this.")


class UnknownCountLine(ValidationFailed):
    """A recorded line id that is not a line of this count."""

    code = "unknown_count_line"
    default_message = _("There is no such line on this count.")

    def __init__(self, line_id: int) -> None:
        text = str(self.default_message)
        super().__init__({"line_id": [text]}, message=text)
        self.details["line_id"] = line_id


class CountReviewRequired(Conflict):
    """A variance is above the review threshold: posting needs approved=True (inventory.manage)."""

    code = "count_review_required"
    default_message = _("Some variances are above the review threshold; approve before posting.")


class UnknownCountTemplate(ValidationFailed):
    """A template id that is not a template of this site."""

    code = "unknown_count_template"
    default_message = _("There is no such count template at this site.")

    def __init__(self, template_id: int | None = None) -> None:
        text = str(self.default_message)
        super().__init__({"template_id": [text]}, message=text)
        self.details["template_id"] = template_id


class CountTemplateArchived(Conflict):
    """The template is archived: counts cannot start from it and it cannot be changed."""

    code = "count_template_archived"
    default_message = _("This count template is archived.")


# --- reads ---------------------------------------------------------------------------------


def count_sheets_for(
    actor: Any, *, site: Site | None = None, status: str | None = None
) -> QuerySet[CountSheet]:
    """Count sheets at the sites where the actor may see stock, newest first."""
    rows = CountSheet.objects.restrict(actor, INVENTORY_VIEW).select_related("site__node")
    if site is not None:
        rows = rows.filter(site=site)
    if status:
        rows = rows.filter(status=status)
    return rows.order_by("-id")


def get_count_sheet(actor: Any, sheet_id: int) -> CountSheet:
    """One count sheet the actor may see (404 for another store's)."""
    try:
        return count_sheets_for(actor).get(pk=sheet_id)
    except CountSheet.DoesNotExist:
        raise NotFound() from None


def count_lines(sheet: CountSheet) -> QuerySet[CountLine]:
    """The sheet's lines in shelf order, with item, units, location and lot."""
    return (
        CountLine.objects.filter(sheet=sheet)
        .select_related("item__base_unit", "location", "lot")
        .prefetch_related("item__units")
        .order_by("shelf_order")
    )


def count_templates_for(
    actor: Any,
    *,
    site: Site | None = None,
    include_archived: bool = False,
    permission: str = INVENTORY_VIEW,
) -> QuerySet[CountTemplate]:
    """Count templates at the sites where the actor holds `permission`, by site and name, with
    `line_count` (lines on the template)."""
    rows = (
        CountTemplate.objects.restrict(actor, permission)
        .select_related("site__node")
        .annotate(line_count=Count("lines"))
    )
    if site is not None:
        rows = rows.filter(site=site)
    if not include_archived:
        rows = rows.filter(is_active=True)
    return rows.order_by("site__node__path", "name", "id")


def get_count_template(actor: Any, template_id: int) -> CountTemplate:
    """One count template the actor may see, archived or not (404 for another store's)."""
    try:
        return count_templates_for(actor, include_archived=True).get(pk=template_id)
    except CountTemplate.DoesNotExist:
        raise NotFound() from None


def template_lines(template: CountTemplate) -> QuerySet[Any]:
    """A template's lines in shelf order, with item, base unit and location."""
    return template.lines.select_related("item__base_unit", "location").order_by("shelf_order")


def with_progress(sheets: QuerySet[CountSheet]) -> QuerySet[CountSheet]:
    """Annotate `line_total` and `line_counted` (lines with a counted quantity)."""
    return sheets.annotate(
        line_total=Count("lines"),
        line_counted=Count("lines", filter=Q(lines__counted_quantity__isnull=False)),
    )


def count_progress(sheet: CountSheet) -> tuple[int, int]:
    """(counted lines, all lines) of a sheet."""
    totals = CountLine.objects.filter(sheet=sheet).aggregate(
        total=Count("id"), counted=Count("id", filter=Q(counted_quantity__isnull=False))
    )
    return totals["counted"], totals["total"]


def location_progress(sheet: CountSheet, location_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(counted lines, all lines) of the sheet per location."""
    rows = (
        CountLine.objects.filter(sheet=sheet, location_id__in=location_ids)
        .values("location_id")
        .annotate(total=Count("id"), counted=Count("id", filter=Q(counted_quantity__isnull=False)))
        .order_by()
    )
    return {row["location_id"]: (row["counted"], row["total"]) for row in rows}


def offered_units(line: CountLine) -> list[str]:
    """The units a counter is offered on a line, largest first: the template's count units,
    else the item's count units followed by its base unit (3 case + 4 bag + 1.5 kg)."""
    chosen = list(getattr(line, "count_units", None) or [])
    if chosen:
        return chosen
    item = line.item
    units = sorted(
        (unit for unit in item.units.all() if unit.is_count), key=lambda unit: -unit.factor
    )
    codes = [unit.code for unit in units]
    if item.base_unit.code not in codes:
        codes.append(item.base_unit.code)
    return codes
