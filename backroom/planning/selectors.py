"""Planning reads, scoped to the stores the actor may see forecasts of."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import F, Q, QuerySet

from backroom.catalog.models import Item
from backroom.org.models import Site
from backroom.planning.models import (
    DemandForecast,
    ForecastAccuracy,
    ForecastRun,
    Holiday,
    PlannedEvent,
    Promotion,
    RunStatus,
    StoreClosure,
)
from backroom.planning.permissions import PLANNING_VIEW


def forecasts_for(
    actor: Any, site: Site, date_from: dt.date, date_to: dt.date
) -> QuerySet[DemandForecast]:
    return (
        DemandForecast.objects.restrict(actor, PLANNING_VIEW)
        .filter(site=site, date__range=(date_from, date_to))
        .select_related("menu_item")
        .order_by("menu_item__sku", "date")
    )


def accuracy_for(actor: Any, site: Site | None = None) -> QuerySet[ForecastAccuracy]:
    rows = ForecastAccuracy.objects.restrict(actor, PLANNING_VIEW).select_related(
        "site__node", "menu_item"
    )
    if site is not None:
        rows = rows.filter(site=site)
    # The guests series (no menu item) first, on every database.
    return rows.order_by("site__node__code", F("menu_item__sku").asc(nulls_first=True))


def latest_run() -> ForecastRun | None:
    return ForecastRun.objects.order_by("-started_at").first()


def last_good_run() -> ForecastRun | None:
    return ForecastRun.objects.filter(status=RunStatus.DONE).order_by("-started_at").first()


@dataclass
class ForecastRow:
    """One series of the forecast table: a menu item (None: guests) and its days."""

    item: Item | None
    days: dict[dt.date, Decimal] = field(default_factory=dict)
    model: str = ""
    accuracy: ForecastAccuracy | None = None
    cells: list[Decimal | None] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum(self.days.values(), Decimal(0))


def forecast_table(
    actor: Any, site: Site, date_from: dt.date, days: int
) -> tuple[list[dt.date], list[ForecastRow]]:
    """The store's forecast per series and day, guests first, then menu items by SKU."""
    dates = [date_from + dt.timedelta(days=offset) for offset in range(days)]
    rows: dict[int | None, ForecastRow] = {}
    for forecast in forecasts_for(actor, site, dates[0], dates[-1]):
        row = rows.setdefault(forecast.menu_item_id, ForecastRow(forecast.menu_item))
        row.days[forecast.date] = forecast.quantity
        row.model = forecast.model
    accuracy = {row.menu_item_id: row for row in accuracy_for(actor, site)}
    for key, row in rows.items():
        row.accuracy = accuracy.get(key)
        row.cells = [row.days.get(day) for day in dates]
    ordered = sorted(
        rows.values(), key=lambda row: (row.item is not None, row.item.sku if row.item else "")
    )
    return dates, ordered


def accuracy_summary(rows: list[ForecastAccuracy]) -> dict[str, Any]:
    """Volume-weighted WAPE of ours and of seasonal naive, mean bias, and how many series we
    beat naive on (lower MASE)."""
    totals: dict[str, float] = defaultdict(float)
    beaten = compared = 0
    for row in rows:
        weight = row.actual_total
        if row.wape is not None and row.naive_wape is not None and weight > 0:
            totals["ours"] += row.wape * weight
            totals["naive"] += row.naive_wape * weight
            totals["weight"] += weight
        if row.mase is not None and row.naive_mase is not None:
            compared += 1
            beaten += row.mase < row.naive_mase
    weight = totals["weight"]
    return {
        "wape": totals["ours"] / weight if weight else None,
        "naive_wape": totals["naive"] / weight if weight else None,
        "beaten": beaten,
        "compared": compared,
    }


def holidays_for(actor: Any) -> QuerySet[Holiday]:
    """Holidays under the actor's planning scope, and the country-wide ones (no node) for
    anyone who may see forecasts somewhere."""
    if not getattr(actor, "is_authenticated", False) or actor.scope_paths(PLANNING_VIEW) == []:
        return Holiday.objects.none()
    scoped = Holiday.objects.restrict(actor, PLANNING_VIEW).values("pk")
    return Holiday.objects.filter(Q(node__isnull=True) | Q(pk__in=scoped)).select_related("node")


def promotions_for(actor: Any) -> QuerySet[Promotion]:
    return Promotion.objects.restrict(actor, PLANNING_VIEW).select_related("node", "menu_item")


def closures_for(actor: Any) -> QuerySet[StoreClosure]:
    return StoreClosure.objects.restrict(actor, PLANNING_VIEW).select_related("site__node")


def events_for(actor: Any) -> QuerySet[PlannedEvent]:
    return PlannedEvent.objects.restrict(actor, PLANNING_VIEW).select_related(
        "site__node", "menu_item"
    )
