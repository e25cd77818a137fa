"""Planning API (mounted at /api/v1/planning/): the latest demand forecasts and their backtest
accuracy per store, ingredient demand over a period, a refresh on the worker, and the planning
calendar (holidays, promotions, store closures, planned events). See docs/forecast.md.
"""

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Path, Query, Router, Schema, Status
from ninja.pagination import paginate

from backroom.catalog.models import Item
from backroom.catalog.selectors import site_today
from backroom.config.api_support import ObjectId, Pagination, errors, text
from backroom.kernel.exceptions import NotFound, ValidationFailed
from backroom.org.models import Site
from backroom.org.selectors import get_node, get_site
from backroom.planning import selectors, services
from backroom.planning.models import (
    DemandForecast,
    ForecastAccuracy,
    Holiday,
    PlannedEvent,
    Promotion,
    StoreClosure,
)
from backroom.planning.permissions import PLANNING_MANAGE, PLANNING_VIEW

router = Router(tags=["planning"])

MAX_DAYS = 92


class ForecastOut(Schema):
    store_id: int = Field(..., alias="site_id")
    menu_item_id: int | None  # empty: the store's guest count (orders)
    date: dt.date
    quantity: Decimal
    model: str


class ForecastFilter(Schema):
    store_id: ObjectId
    date_from: dt.date | None = None
    date_to: dt.date | None = None


class AccuracyOut(Schema):
    store_id: int = Field(..., alias="site_id")
    menu_item_id: int | None
    model: str
    mase: float | None
    wape: float | None
    bias: float | None
    naive_mase: float | None
    naive_wape: float | None
    error_scale: float


class DemandOut(Schema):
    item_id: int
    sku: str
    quantity: Decimal  # base units


class HolidayIn(Schema):
    country: str = text(min_length=2, max_length=2)
    date: dt.date
    name: str = text(min_length=1, max_length=100)
    node_id: ObjectId | None = None
    closes_stores: bool = False


class HolidayOut(Schema):
    id: int
    country: str
    date: dt.date
    name: str
    node_id: int | None
    closes_stores: bool


class PromotionIn(Schema):
    node_id: ObjectId
    name: str = text(min_length=1, max_length=100)
    date_from: dt.date
    date_to: dt.date
    menu_item_id: ObjectId | None = None


class PromotionOut(Schema):
    id: int
    node_id: int
    name: str
    date_from: dt.date
    date_to: dt.date
    menu_item_id: int | None


class ClosureIn(Schema):
    store_id: ObjectId
    date_from: dt.date
    date_to: dt.date
    reason: str = text(max_length=200, default="")


class ClosureOut(Schema):
    id: int
    store_id: int = Field(..., alias="site_id")
    date_from: dt.date
    date_to: dt.date
    reason: str


class EventIn(Schema):
    store_id: ObjectId
    date: dt.date
    menu_item_id: ObjectId
    quantity: Decimal = Field(..., gt=0, max_digits=18, decimal_places=6)
    note: str = text(max_length=200, default="")


class EventOut(Schema):
    id: int
    store_id: int = Field(..., alias="site_id")
    date: dt.date
    menu_item_id: int
    quantity: Decimal
    note: str


def _period(
    site: Site, date_from: dt.date | None, date_to: dt.date | None
) -> tuple[dt.date, dt.date]:
    start = date_from or site_today(site)  # the store's business day (past midnight too)
    end = date_to or start + dt.timedelta(days=13)
    if end < start or (end - start).days >= MAX_DAYS:
        raise ValidationFailed(
            {
                "date_to": [
                    _("Give a period of 1 to %(days)d days ending on or after its start.")
                    % {"days": MAX_DAYS}
                ]
            }
        )
    return start, end


def _item(item_id: int) -> Item:
    item = Item.objects.filter(pk=item_id).first()
    if item is None:
        raise ValidationFailed({"menu_item_id": [_("No such item.")]})
    return item


@router.get("/forecasts", response={200: list[ForecastOut], **errors(404, 422)})
@paginate(Pagination)
def list_forecasts(
    request: HttpRequest, filters: Query[ForecastFilter]
) -> QuerySet[DemandForecast]:
    """The latest forecast of a store (planning.view) per menu item and day, and of its guest
    count (`menu_item_id` null); default period: 14 days from today, at most 92."""
    site = get_site(request.user, filters.store_id, PLANNING_VIEW)
    start, end = _period(site, filters.date_from, filters.date_to)
    return selectors.forecasts_for(request.user, site, start, end)


@router.get("/accuracy", response={200: list[AccuracyOut], **errors(404)})
@paginate(Pagination)
def list_accuracy(
    request: HttpRequest, store_id: ObjectId | None = None
) -> QuerySet[ForecastAccuracy]:
    """Backtest accuracy per store and series against seasonal naive (MASE, WAPE, bias) and
    each series' daily error (what safety stock is sized from)."""
    site = get_site(request.user, store_id, PLANNING_VIEW) if store_id else None
    return selectors.accuracy_for(request.user, site)


@router.get("/ingredient-demand", response={200: list[DemandOut], **errors(404, 422)})
def ingredient_demand(request: HttpRequest, filters: Query[ForecastFilter]) -> list[dict[str, Any]]:
    """What the store's forecast menu demand and planned events will use of each stocked item
    over the period, in base units (recipes with the store's recent modifier mix)."""
    site = get_site(request.user, filters.store_id, PLANNING_VIEW)
    start, end = _period(site, filters.date_from, filters.date_to)
    demand = services.ingredient_demand(site, start, end)
    skus = dict(Item.objects.filter(pk__in=demand).values_list("pk", "sku"))
    return [
        {"item_id": item_id, "sku": skus[item_id], "quantity": quantity}
        for item_id, quantity in sorted(demand.items(), key=lambda pair: skus[pair[0]])
    ]


@router.post("/forecasts/refresh", response={202: dict[str, str], **errors(403)})
def refresh(request: HttpRequest) -> Status:
    """Queue a forecast refresh on the worker (planning.manage); the nightly run does the same."""
    from backroom.accounts.authorization import require_permission
    from backroom.planning.jobs import refresh_forecasts_now

    require_permission(request.user, PLANNING_MANAGE)
    refresh_forecasts_now(request.user.pk)
    return Status(202, {"status": "queued"})


@router.get("/holidays", response={200: list[HolidayOut], **errors()})
@paginate(Pagination)
def list_holidays(request: HttpRequest) -> QuerySet[Holiday]:
    return selectors.holidays_for(request.user)


@router.post("/holidays", response={201: HolidayOut, **errors(403, 404, 422)})
def add_holiday(request: HttpRequest, payload: HolidayIn) -> Status:
    """Add (or rename) a holiday of a country, or of the stores under a node; audited."""
    node = get_node(request.user, payload.node_id, PLANNING_MANAGE) if payload.node_id else None
    holiday = services.save_holiday(
        request.user,
        country=payload.country,
        date=payload.date,
        name=payload.name,
        node=node,
        closes_stores=payload.closes_stores,
    )
    return Status(201, holiday)


@router.delete("/holidays/{holiday_id}", response={204: None, **errors(403, 404)})
def remove_holiday(request: HttpRequest, holiday_id: Path[ObjectId]) -> Status:
    holiday = selectors.holidays_for(request.user).filter(pk=holiday_id).first()
    if holiday is None:
        raise NotFound()
    services.delete_holiday(request.user, holiday)
    return Status(204, None)


@router.get("/promotions", response={200: list[PromotionOut], **errors()})
@paginate(Pagination)
def list_promotions(request: HttpRequest) -> QuerySet[Promotion]:
    return selectors.promotions_for(request.user)


@router.post("/promotions", response={201: PromotionOut, **errors(403, 404, 422)})
def add_promotion(request: HttpRequest, payload: PromotionIn) -> Status:
    node = get_node(request.user, payload.node_id, PLANNING_MANAGE)
    item = _item(payload.menu_item_id) if payload.menu_item_id else None
    promotion = services.save_promotion(
        request.user,
        node=node,
        name=payload.name,
        date_from=payload.date_from,
        date_to=payload.date_to,
        menu_item=item,
    )
    return Status(201, promotion)


@router.get("/closures", response={200: list[ClosureOut], **errors()})
@paginate(Pagination)
def list_closures(request: HttpRequest) -> QuerySet[StoreClosure]:
    return selectors.closures_for(request.user)


@router.post("/closures", response={201: ClosureOut, **errors(403, 404, 422)})
def add_closure(request: HttpRequest, payload: ClosureIn) -> Status:
    site = get_site(request.user, payload.store_id, PLANNING_MANAGE)
    closure = services.save_closure(
        request.user,
        site=site,
        date_from=payload.date_from,
        date_to=payload.date_to,
        reason=payload.reason,
    )
    return Status(201, closure)


@router.get("/events", response={200: list[EventOut], **errors()})
@paginate(Pagination)
def list_events(request: HttpRequest) -> QuerySet[PlannedEvent]:
    return selectors.events_for(request.user)


@router.post("/events", response={201: EventOut, **errors(403, 404, 422)})
def add_event(request: HttpRequest, payload: EventIn) -> Status:
    """A known order (catering, a party) on top of the forecast of that day."""
    site = get_site(request.user, payload.store_id, PLANNING_MANAGE)
    event = services.save_event(
        request.user,
        site=site,
        date=payload.date,
        menu_item=_item(payload.menu_item_id),
        quantity=payload.quantity,
        note=payload.note,
    )
    return Status(201, event)
