"""Closed stock periods (mounted under /api/v1/inventory/): see `backroom.inventory.periods`."""

import datetime as dt

from django.http import HttpRequest
from ninja import Field, Router, Schema

from backroom.config.api_support import ObjectId, errors, text
from backroom.inventory import periods
from backroom.inventory.permissions import INVENTORY_VIEW
from backroom.org.selectors import get_site

router = Router(tags=["inventory"])


class PeriodCloseIn(Schema):
    through: dt.date | None = Field(
        description="Last business date closed; null (or an earlier date, with a reason) reopens"
    )
    reason: str = text(max_length=500, default="")


class PeriodOut(Schema):
    site_id: int
    closed_through: dt.date | None


@router.get("/sites/{site_id}/period-close", response={200: PeriodOut, **errors(404)})
def get_period(request: HttpRequest, site_id: ObjectId) -> PeriodOut:
    """The date the store's stock is closed through (null: never closed, or reopened)."""
    site = get_site(request.user, site_id, INVENTORY_VIEW)
    return PeriodOut(site_id=site.pk, closed_through=periods.closed_through([site.pk]).get(site.pk))


@router.post("/sites/{site_id}/period-close", response={200: PeriodOut, **errors(403, 404)})
def close_period(request: HttpRequest, site_id: ObjectId, payload: PeriodCloseIn) -> PeriodOut:
    """Close the store's stock period through a date; postings dated on or before it are refused
    with `period_closed`. Reopening (an earlier date, or null) needs a `reason`."""
    site = get_site(request.user, site_id, INVENTORY_VIEW)
    row = periods.close_period(
        site, through=payload.through, actor=request.user, reason=payload.reason
    )
    return PeriodOut(site_id=site.pk, closed_through=row.closed_through)
