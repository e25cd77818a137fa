"""Demo planning data: China's and Hong Kong's public holidays around the demo's dates, a
promotion and a catering order at SH001, a first forecast run from the sales history the
channels' seed replayed, and this morning's suggested orders from the stores' order guides
(procurement's seed), so the forecast, accuracy and suggested-order pages have numbers.

The nightly job has forecast every night of the history, and the dashboards recorded each
day's forecast before it began ("sales vs forecast"). The seed stands one run for those: the
forecast made four weeks ago from the history before it, which it hands to the dashboards'
seed in `ctx.extra["past_forecasts"]`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from backroom.catalog.batch import catalog_batch
from backroom.catalog.models import Item
from backroom.catalog.selectors import site_today
from backroom.config.demo import DemoContext
from backroom.kernel.actors import SYSTEM
from backroom.org.choices import NodeKind
from backroom.planning import services
from backroom.planning.models import DemandForecast
from backroom.planning.suggestions import build_suggestions

# (date, name, stores closed) — the public holidays of 2026–27 the demo's history and horizon touch.
HOLIDAYS = [
    (dt.date(2026, 10, 1), "国庆节 National Day", False),
    (dt.date(2026, 10, 2), "国庆节 National Day", False),
    (dt.date(2026, 10, 3), "国庆节 National Day", False),
    (dt.date(2027, 1, 1), "元旦 New Year's Day", False),
    (dt.date(2027, 2, 5), "除夕 New Year's Eve", True),
    (dt.date(2027, 2, 6), "春节 Spring Festival", False),
    (dt.date(2027, 2, 7), "春节 Spring Festival", False),
    (dt.date(2027, 2, 8), "春节 Spring Festival", False),
]
# Hong Kong's general holidays over the same months (its stores keep trading).
HK_HOLIDAYS = [
    (dt.date(2026, 10, 1), "國慶日 National Day"),
    (dt.date(2026, 12, 25), "聖誕節 Christmas Day"),
    (dt.date(2026, 12, 26), "聖誕節後第一個周日 The first weekday after Christmas Day"),
    (dt.date(2027, 1, 1), "一月一日 The first day of January"),
    (dt.date(2027, 2, 6), "農曆年初一 Lunar New Year's Day"),
    (dt.date(2027, 2, 8), "農曆年初三 The third day of Lunar New Year"),
    (dt.date(2027, 2, 9), "農曆年初四 The fourth day of Lunar New Year"),
]
PROMOTED_STORE = "SH001"
PAST_FORECAST_DAYS = 28


@dataclass(frozen=True)
class PastForecasts:
    date_from: dt.date
    made_at: dt.datetime | None
    rows: list[tuple[int, int | None, dt.date, Decimal]]


def seed(ctx: DemoContext) -> None:
    for day, name, closed in HOLIDAYS:
        services.save_holiday(SYSTEM, country="CN", date=day, name=name, closes_stores=closed)
    for day, name in HK_HOLIDAYS:
        services.save_holiday(SYSTEM, country="HK", date=day, name=name)
    store = ctx.nodes.get(PROMOTED_STORE)
    menu = list(Item.objects.filter(kind="menu", recipes__isnull=False).distinct().order_by("sku"))
    if store is None or store.kind != NodeKind.STORE or not menu:
        return
    site = store.site
    today = site_today(site)
    services.save_promotion(
        SYSTEM,
        node=store,
        name="周末第二份半价 Second bowl half price",
        date_from=today + dt.timedelta(days=(5 - today.weekday()) % 7 or 7),
        date_to=today + dt.timedelta(days=(5 - today.weekday()) % 7 or 7) + dt.timedelta(days=1),
        menu_item=menu[0],
    )
    services.save_event(
        SYSTEM,
        site=site,
        date=today + dt.timedelta(days=2),
        menu_item=menu[-1],
        quantity="40",
        note="公司团餐 Office catering",
    )
    _past_forecasts(ctx, today)
    services.refresh_forecasts(as_of=today - dt.timedelta(days=1))
    shared: dict[str, object] = {}
    with catalog_batch():
        for each in services.planning_stores():
            build_suggestions(each, shared=shared)


def _past_forecasts(ctx: DemoContext, today: dt.date) -> None:
    """The forecast made `PAST_FORECAST_DAYS` ago, for the days since (replaced by today's)."""
    run = services.refresh_forecasts(as_of=today - dt.timedelta(days=PAST_FORECAST_DAYS + 1))
    ctx.extra["past_forecasts"] = PastForecasts(
        date_from=run.as_of + dt.timedelta(days=1),
        made_at=run.finished_at,
        rows=list(
            DemandForecast.objects.filter(run=run, date__lt=today).values_list(
                "site_id", "menu_item_id", "date", "quantity"
            )
        ),
    )
