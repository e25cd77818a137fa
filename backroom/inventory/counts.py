"""Stock counts (盘点): their events, their errors and the scoped reads of count sheets.

The writes are in `backroom.inventory.services.counts`; the models (`CountSheet`, `CountLine`)
in `backroom.inventory.models`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from backroom.events.catalogue import event
from backroom.inventory.models import CountLine, CountSheet
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
    """The sheet's lines in shelf order, with item, unit, location and lot."""
    return (
        CountLine.objects.filter(sheet=sheet)
        .select_related("item__base_unit", "location", "lot")
        .order_by("shelf_order")
    )
