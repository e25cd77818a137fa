"""Planning services: the forecast refresh (history from the sales rollups, known-in-advance
features from the planning calendar, the forecaster, the latest forecast stored per store and
series), the planning calendar's writes, and ingredient demand exploded through recipes.

Series. Each store has one series per menu item it sold (`"<site id>/<item id>"`) and one for
its guest count, the number of orders (`"<site id>/guests"`). A series starts on its first day
with a sale; every later day is in the history, 0 when nothing sold, with the features
`open` (0 on a store closure or a holiday that closes stores), `holiday` and `promo` (a
promotion for the item, or for every item, at a node above the store). The same features run
into the horizon, so the forecaster knows next Tuesday is a holiday.

New stores (under `COLD_START_DAYS` days of sales, or none yet) are cold-started: each of their
series is forecast as the mean of the same series at the chain's established stores of the same
brand (all brands when none), day by day, scaled by the new store's orders against theirs on the
same days (from `SIZE_MIN_DAYS` days with sales), zero before its opening date. A store with no
sale yet gets every series its peers have. A cold-started series' daily error (for safety
stock) is its peers' mean error, scaled alike; it has no backtest scores of its own.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from backroom.accounts.authorization import require_permission
from backroom.audit.services import record_audit
from backroom.catalog.choices import ItemKind
from backroom.catalog.models import Item
from backroom.catalog.recipes import Exploder, SoldLine, explode_many, resolve_modifiers
from backroom.catalog.selectors import site_today
from backroom.channels.models import OrderLine, SalesDay, SalesItemDay
from backroom.kernel.exceptions import ErrorCollector, ValidationFailed
from backroom.kernel.money import to_decimal
from backroom.org.choices import NodeKind, SiteStatus
from backroom.org.models import OrgNode, Site
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
from backroom.planning.permissions import PLANNING_MANAGE

GUESTS = "guests"
HISTORY_DAYS = 730
COLD_START_DAYS = 28
# A new store's forecasts are its peers' scaled by its own orders against theirs, from this many
# days with sales on, within these limits.
SIZE_MIN_DAYS = 3
SIZE_LIMITS = (0.25, 4.0)
DEFAULT_HORIZON = 28
MODIFIER_MIX_DAYS = 28
FEATURES = ("open", "holiday", "promo")


def series_id(site_id: int, item_id: int | None) -> str:
    return f"{site_id}/{item_id if item_id is not None else GUESTS}"


def parse_series_id(value: str) -> tuple[int, int | None]:
    site, _sep, item = value.partition("/")
    return int(site), None if item == GUESTS else int(item)


def planning_stores(sites: Iterable[Site] | None = None) -> list[Site]:
    """The trading stores a forecast covers (all of them, or those of `sites`)."""
    queryset = Site.objects.filter(node__kind=NodeKind.STORE, node__is_active=True).exclude(
        status=SiteStatus.CLOSED
    )
    if sites is not None:
        queryset = queryset.filter(pk__in=[site.pk for site in sites])
    return list(queryset.select_related("node", "legal_entity").order_by("pk"))


# --- the calendar as daily features -------------------------------------------------------


@dataclass
class StoreCalendar:
    """Per store: the days it is closed, its holidays and its promotions (item None: all)."""

    closed: dict[int, set[dt.date]]
    holidays: dict[int, set[dt.date]]
    promos: dict[int, dict[int | None, set[dt.date]]]

    def features(self, site_id: int, item_id: int | None, day: dt.date) -> tuple[int, int, int]:
        promos = self.promos.get(site_id, {})
        promo = day in promos.get(None, ()) or (
            item_id is not None and day in promos.get(item_id, ())
        )
        return (
            0 if day in self.closed.get(site_id, ()) else 1,
            1 if day in self.holidays.get(site_id, ()) else 0,
            1 if promo else 0,
        )


def _days(start: dt.date, end: dt.date) -> Iterable[dt.date]:
    for offset in range((end - start).days + 1):
        yield start + dt.timedelta(days=offset)


def store_calendar(stores: Sequence[Site], start: dt.date, end: dt.date) -> StoreCalendar:
    """The closures, holidays and promotions of `stores` between `start` and `end`."""
    closed: dict[int, set[dt.date]] = defaultdict(set)
    holidays: dict[int, set[dt.date]] = defaultdict(set)
    promos: dict[int, dict[int | None, set[dt.date]]] = defaultdict(lambda: defaultdict(set))
    by_id = {store.pk: store for store in stores}
    for closure in StoreClosure.objects.filter(
        site__in=stores, date_to__gte=start, date_from__lte=end
    ):
        closed[closure.site_id].update(
            _days(max(closure.date_from, start), min(closure.date_to, end))
        )
    countries = {store.legal_entity.country for store in stores}
    for holiday in Holiday.objects.filter(
        country__in=countries, date__range=(start, end)
    ).select_related("node"):
        for store in by_id.values():
            if store.legal_entity.country != holiday.country:
                continue
            if holiday.node is not None and not store.node.path.startswith(holiday.node.path):
                continue
            holidays[store.pk].add(holiday.date)
            if holiday.closes_stores:
                closed[store.pk].add(holiday.date)
    for promotion in Promotion.objects.filter(
        date_to__gte=start, date_from__lte=end
    ).select_related("node"):
        days = set(_days(max(promotion.date_from, start), min(promotion.date_to, end)))
        for store in by_id.values():
            if store.node.path.startswith(promotion.node.path):
                promos[store.pk][promotion.menu_item_id].update(days)
    return StoreCalendar(closed, holidays, promos)


# --- history ------------------------------------------------------------------------------


@dataclass
class History:
    """Daily demand per series (first sale → `until`), ready for the forecaster."""

    rows: list[tuple[str, dt.date, float, int, int, int]]
    first_day: dict[str, dt.date]
    until: dt.date

    def frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.rows, columns=["series_id", "date", "value", *FEATURES]).astype(
            {"date": "datetime64[ns]"}
        )


def sales_history(stores: Sequence[Site], *, until: dt.date, days: int = HISTORY_DAYS) -> History:
    """Each store's daily sales per menu item and its daily orders, from the rollups."""
    start = until - dt.timedelta(days=days - 1)
    sold: dict[str, dict[dt.date, float]] = defaultdict(dict)
    item_rows = (
        SalesItemDay.objects.filter(
            site__in=stores, business_date__range=(start, until), menu_item__isnull=False
        )
        .values_list("site_id", "menu_item_id", "business_date")
        .annotate(total=Sum("quantity"))
    )
    for site_id, item_id, day, total in item_rows:
        sold[series_id(site_id, item_id)][day] = float(total)
    for site_id, day, total in (
        SalesDay.objects.filter(site__in=stores, business_date__range=(start, until))
        .values_list("site_id", "business_date")
        .annotate(total=Sum("orders"))
    ):
        sold[series_id(site_id, None)][day] = float(total)
    calendar = store_calendar(stores, start, until)
    rows: list[tuple[str, dt.date, float, int, int, int]] = []
    first_day: dict[str, dt.date] = {}
    for key in sorted(sold):
        site_id, item_id = parse_series_id(key)
        values = sold[key]
        first = min(values)
        first_day[key] = first
        for day in _days(first, until):
            rows.append((key, day, values.get(day, 0.0), *calendar.features(site_id, item_id, day)))
    return History(rows, first_day, until)


def future_features(
    stores: Sequence[Site], keys: Iterable[str], *, start: dt.date, horizon: int
) -> Any:
    """The known-in-advance features of each series over the horizon."""
    import pandas as pd

    end = start + dt.timedelta(days=horizon - 1)
    calendar = store_calendar(stores, start, end)
    rows = []
    for key in keys:
        site_id, item_id = parse_series_id(key)
        for day in _days(start, end):
            rows.append((key, day, *calendar.features(site_id, item_id, day)))
    return pd.DataFrame(rows, columns=["series_id", "date", *FEATURES]).astype(
        {"date": "datetime64[ns]"}
    )


# --- the refresh --------------------------------------------------------------------------


def _established(history: History) -> tuple[list[str], list[str]]:
    """Series with enough history to learn from, and those of stores too new to."""
    site_first: dict[int, dt.date] = {}
    for key, first in history.first_day.items():
        site_id, _item = parse_series_id(key)
        site_first[site_id] = min(first, site_first.get(site_id, first))
    old: list[str] = []
    new: list[str] = []
    for key in history.first_day:
        site_id, _item = parse_series_id(key)
        young = (history.until - site_first[site_id]).days + 1 < COLD_START_DAYS
        (new if young else old).append(key)
    return old, new


def _unsold_keys(stores: Sequence[Site], history: History, old: Sequence[str]) -> list[str]:
    """Series for the stores that have sold nothing yet (about to open, or open without a sale):
    every series the established stores of their brand have (of every brand when none)."""
    sold = {parse_series_id(key)[0] for key in history.first_day}
    brand = {store.pk: store.brand_id for store in stores}
    parts: dict[int | None, set[str]] = defaultdict(set)
    for key in old:
        site_id = parse_series_id(key)[0]
        part = key.partition("/")[2]
        parts[brand.get(site_id)].add(part)
        parts[None].add(part)
    keys = []
    for store in stores:
        if store.pk not in sold:
            wanted = parts.get(store.brand_id) or parts[None]
            keys += [f"{store.pk}/{part}" for part in sorted(wanted)]
    return keys


def _size_ratios(
    brand: dict[int, int | None], new_keys: Sequence[str], frame: Any
) -> dict[int, float]:
    """How busy each new store has been against its peers (the established stores of its brand,
    of every brand when none) on the same days: its orders ÷ their mean orders. 1 before
    `SIZE_MIN_DAYS` days of sales; kept within `SIZE_LIMITS`."""
    new_sites = {parse_series_id(key)[0] for key in new_keys}
    guests = frame[frame.series_id.isin([series_id(site_id, None) for site_id in brand])]
    by_site = {
        int(key.partition("/")[0]): rows.set_index("date")["value"]
        for key, rows in guests.groupby("series_id")
    }
    ratios: dict[int, float] = {}
    for site_id in new_sites:
        own = by_site.get(site_id)
        peers = [
            values
            for peer, values in by_site.items()
            if peer not in new_sites and brand.get(peer) == brand.get(site_id)
        ] or [values for peer, values in by_site.items() if peer not in new_sites]
        if own is None or (own > 0).sum() < SIZE_MIN_DAYS or not peers:
            ratios[site_id] = 1.0
            continue
        peer_total = sum(float(values.reindex(own.index).fillna(0).sum()) for values in peers)
        peer_mean = peer_total / len(peers)
        ratio = float(own.sum()) / peer_mean if peer_mean > 0 else 1.0
        ratios[site_id] = min(max(ratio, SIZE_LIMITS[0]), SIZE_LIMITS[1])
    return ratios


def _cold_start(
    stores: Sequence[Site], new_keys: Sequence[str], result: Any, future: Any, frame: Any
) -> tuple[Any, Any]:
    """Forecasts for a new store's series: the same series' mean at its peers (established
    stores of its brand, of every brand when none), day by day, scaled by how busy the new store
    has been against them (`_size_ratios`); zero on its closed days and before its opening date.
    Also each such series' daily error for safety stock: the peers' mean error, scaled alike."""
    import pandas as pd

    forecasts = result.forecasts
    nothing = forecasts.iloc[0:0], pd.DataFrame(columns=["series_id", "model", "error_mae"])
    if not new_keys or forecasts.empty:
        return nothing
    brand = {store.pk: store.brand_id for store in stores}
    opening = {store.pk: store.opening_date for store in stores}
    ratios = _size_ratios(brand, new_keys, frame)

    def split(table: Any) -> Any:
        parts = table.series_id.str.partition("/")
        return table.assign(site=parts[0].astype(int), part=parts[2])

    known = split(forecasts)
    known["brand"] = known.site.map(brand)
    errors = split(result.series) if "error_mae" in result.series else None
    rows, series = [], []
    for key in new_keys:
        site_id, _item = parse_series_id(key)
        part = key.partition("/")[2]
        peers = known[known.part == part]
        same = peers[peers.brand == brand.get(site_id)]
        peers = same if not same.empty else peers
        if peers.empty:
            continue
        mean = peers.groupby("date", as_index=False).forecast.mean()
        mean["forecast"] *= ratios[site_id]
        if opening.get(site_id) is not None:
            mean.loc[mean.date < pd.Timestamp(opening[site_id]), "forecast"] = 0.0
        mean["series_id"] = key
        rows.append(mean)
        if errors is not None:
            error = errors[errors.site.isin(peers.site.unique()) & (errors.part == part)]
            scaled = float(error.error_mae.mean()) * ratios[site_id] if not error.empty else 0.0
            series.append((key, "cold_start", scaled))
    if not rows:
        return nothing
    started = pd.concat(rows, ignore_index=True)
    open_days = future[["series_id", "date", "open"]]
    started = started.merge(open_days, on=["series_id", "date"], how="left")
    started["forecast"] = started.forecast.where(started.open.fillna(1) > 0, 0.0)
    started["model"] = "cold_start"
    return (
        started[["series_id", "date", "forecast", "model"]],
        pd.DataFrame(series, columns=["series_id", "model", "error_mae"]),
    )


def refresh_forecasts(
    *,
    actor: Any = None,
    sites: Iterable[Site] | None = None,
    as_of: dt.date | None = None,
    horizon: int = DEFAULT_HORIZON,
) -> ForecastRun:
    """Forecast every series of the stores from `as_of + 1` for `horizon` days and replace
    their stored forecasts and accuracy (the nightly job; a planner may run it too).

    History runs up to `as_of` (default: yesterday in the first store's business day). The run
    is recorded first, so a failure leaves a `failed` run with the error and the previous
    forecasts in place.
    """
    import pandas as pd

    from backroom.planning import forecasting

    if actor is not None:
        require_permission(actor, PLANNING_MANAGE)
    stores = planning_stores(sites)
    day = as_of or (site_today(stores[0] if stores else None) - dt.timedelta(days=1))
    run = ForecastRun.objects.create(
        started_at=timezone.now(),
        as_of=day,
        horizon=horizon,
        requested_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    try:
        history = sales_history(stores, until=day)
        old, new = _established(history)
        unsold = _unsold_keys(stores, history, old)
        new += unsold
        frame = history.frame()
        start = day + dt.timedelta(days=1)
        future = future_features(
            stores, [*history.first_day, *unsold], start=start, horizon=horizon
        )
        learned = frame[frame.series_id.isin(old)]
        if learned.empty:
            result = forecasting.ForecastResult(
                forecasts=pd.DataFrame(columns=["series_id", "date", "forecast", "model"]),
                series=pd.DataFrame(columns=["series_id", "model"]),
                candidates=pd.DataFrame(),
            )
        else:
            result = forecasting.forecast_with_details(
                learned, horizon, future=future[future.series_id.isin(old)]
            )
        cold, cold_series = _cold_start(stores, new, result, future, frame)
        _store(run, stores, result, cold, cold_series)
    except Exception as error:
        ForecastRun.objects.filter(pk=run.pk).update(
            status=RunStatus.FAILED, finished_at=timezone.now(), error=str(error)[:2000]
        )
        raise
    run.refresh_from_db()
    if actor is not None:
        record_audit(
            actor=actor,
            action="planning.forecast.refreshed",
            target=run,
            after={"as_of": day, "horizon": horizon, "series": run.series},
        )
    return run


def _store(
    run: ForecastRun, stores: Sequence[Site], result: Any, cold: Any, cold_series: Any
) -> None:
    import pandas as pd

    forecasts = pd.concat([result.forecasts, cold], ignore_index=True)
    rows = []
    for key, date, value, model in forecasts[["series_id", "date", "forecast", "model"]].itertuples(
        index=False
    ):
        site_id, item_id = parse_series_id(key)
        rows.append(
            DemandForecast(
                run=run,
                site_id=site_id,
                menu_item_id=item_id,
                date=pd.Timestamp(date).date(),
                quantity=Decimal(str(round(max(float(value), 0.0), 3))),
                model=str(model)[:40],
            )
        )
    accuracy = []
    # Cold-started series have a daily error (their peers') but no backtest scores of their own.
    series = pd.concat([result.series, cold_series], ignore_index=True).reindex(
        columns=[
            "series_id",
            "model",
            "mase",
            "wape",
            "bias",
            "naive_mase",
            "naive_wape",
            "error_mae",
            "actual_total",
        ]
    )
    for row in series.itertuples(index=False):
        site_id, item_id = parse_series_id(row.series_id)
        accuracy.append(
            ForecastAccuracy(
                run=run,
                site_id=site_id,
                menu_item_id=item_id,
                model=str(row.model)[:40],
                mase=_finite(row.mase),
                wape=_finite(row.wape),
                bias=_finite(row.bias),
                naive_mase=_finite(row.naive_mase),
                naive_wape=_finite(row.naive_wape),
                error_scale=_finite(row.error_mae) or 0.0,
                actual_total=_finite(row.actual_total) or 0.0,
            )
        )
    store_ids = [store.pk for store in stores]
    with transaction.atomic():
        DemandForecast.objects.filter(site_id__in=store_ids).delete()
        DemandForecast.objects.bulk_create(rows, batch_size=2000)
        ForecastAccuracy.objects.filter(site_id__in=store_ids).delete()
        ForecastAccuracy.objects.bulk_create(accuracy, batch_size=2000)
        models_used = forecasts.model.value_counts().to_dict() if not forecasts.empty else {}
        ForecastRun.objects.filter(pk=run.pk).update(
            status=RunStatus.DONE,
            finished_at=timezone.now(),
            series=int(forecasts.series_id.nunique()) if not forecasts.empty else 0,
            models_used={str(k): int(v) for k, v in models_used.items()},
        )


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) != float("inf") else None


# --- demand for ingredients ---------------------------------------------------------------


def modifier_mix(
    site: Site, *, until: dt.date, days: int = MODIFIER_MIX_DAYS
) -> dict[int, list[tuple[tuple[str, ...], Decimal]]]:
    """Per menu item, how its recent sales at the store split over modifier sets: a list of
    (modifier codes, share) whose shares sum to 1. Items without recent sales are absent."""
    start = until - dt.timedelta(days=days - 1)
    totals: dict[int, dict[tuple[str, ...], Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    lines = OrderLine.objects.filter(
        order__site=site,
        order__business_date__range=(start, until),
        order__completed_at__isnull=False,
        menu_item__isnull=False,
    ).values_list("menu_item_id", "quantity", "modifiers")
    for item_id, quantity, modifiers in lines.iterator(chunk_size=2000):
        codes: list[str] = []
        for entry in modifiers or []:
            code = entry.get("modifier") if isinstance(entry, dict) else None
            if code:
                codes.extend([code] * max(int(Decimal(str(entry.get("quantity") or 1))), 1))
        totals[item_id][tuple(sorted(codes))] += quantity
    mix = {}
    for item_id, sets in totals.items():
        whole = sum(sets.values(), Decimal(0))
        if whole > 0:
            mix[item_id] = [(codes, amount / whole) for codes, amount in sorted(sets.items())]
    return mix


def menu_demand(site: Site, date_from: dt.date, date_to: dt.date) -> dict[int, Decimal]:
    """Forecast menu demand of the store over the days, plus planned events, per menu item."""
    demand: dict[int, Decimal] = defaultdict(Decimal)
    for item_id, total in (
        DemandForecast.objects.filter(
            site=site, date__range=(date_from, date_to), menu_item__isnull=False
        )
        .values_list("menu_item_id")
        .annotate(total=Sum("quantity"))
    ):
        demand[item_id] += total
    for item_id, total in (
        PlannedEvent.objects.filter(site=site, date__range=(date_from, date_to))
        .values_list("menu_item_id")
        .annotate(total=Sum("quantity"))
    ):
        demand[item_id] += total
    return dict(demand)


def ingredient_demand(
    site: Site,
    date_from: dt.date,
    date_to: dt.date,
    *,
    shared: dict[str, Any] | None = None,
) -> dict[int, Decimal]:
    """{stocked item id: base quantity} the store's forecast menu demand (and planned events)
    will use over the days, exploded through the recipes with the store's recent modifier mix
    (a menu item sold with "extra cheese" on a fifth of its plates uses a fifth of the extra).

    `shared` (one dict for a run over many stores) keeps the recipes, items and modifiers
    already read, which are the same for every store on a date."""
    demand = menu_demand(site, date_from, date_to)
    if not demand:
        return {}
    shared = shared if shared is not None else {}
    exploders = shared.setdefault("exploders", {})
    exploder = exploders.get(date_from) or exploders.setdefault(date_from, Exploder(date_from))
    items = shared.setdefault("items", {})
    missing = [pk for pk in demand if pk not in items]
    if missing:
        items.update(Item.objects.in_bulk(missing))
    modifiers = shared.setdefault("modifiers", {})
    mix = modifier_mix(site, until=date_from - dt.timedelta(days=1))
    lines = []
    for item_id, quantity in demand.items():
        item = items[item_id]
        if item.kind != ItemKind.MENU and not item.recipes.exists():
            continue
        for codes, share in mix.get(item_id, [((), Decimal(1))]):
            if codes not in modifiers:
                modifiers[codes] = resolve_modifiers(codes)
            lines.append(SoldLine(item, quantity * share, tuple(modifiers[codes])))
    return explode_many(lines, on=date_from, exploder=exploder)


# --- the planning calendar's writes ---------------------------------------------------------


def _check_dates(
    errors: ErrorCollector, date_from: dt.date | None, date_to: dt.date | None
) -> None:
    if date_from and date_to and date_to < date_from:
        errors.add("date_to", _("The last day is before the first."))


def _root() -> OrgNode:
    return OrgNode.objects.get(kind=NodeKind.GROUP)


@transaction.atomic
def save_holiday(
    actor: Any,
    *,
    country: str,
    date: dt.date,
    name: str,
    node: OrgNode | None = None,
    closes_stores: bool = False,
) -> Holiday:
    """Add a holiday for a country (or the stores under `node`); the same day again updates it.
    A country-wide holiday touches every store of that country: it needs planning rights at the
    top of the organisation."""
    require_permission(actor, PLANNING_MANAGE, node or _root())
    errors = ErrorCollector()
    code = (country or "").strip().upper()
    if len(code) != 2 or not code.isalpha():
        errors.add("country", _("Use the two-letter country code (ISO 3166-1), e.g. CN."))
    if not (name or "").strip():
        errors.add("name", _("Give the holiday a name."))
    errors.raise_if_any()
    holiday, created = Holiday.objects.update_or_create(
        country=code,
        node=node,
        date=date,
        defaults={"name": name.strip(), "closes_stores": closes_stores},
    )
    record_audit(
        actor=actor,
        action="planning.holiday.created" if created else "planning.holiday.updated",
        target=holiday,
        after={"country": code, "date": date, "name": holiday.name, "closes": closes_stores},
        org_node=node,
    )
    return holiday


@transaction.atomic
def delete_holiday(actor: Any, holiday: Holiday) -> None:
    require_permission(actor, PLANNING_MANAGE, holiday.node or _root())
    record_audit(
        actor=actor,
        action="planning.holiday.deleted",
        target=holiday,
        before={"country": holiday.country, "date": holiday.date, "name": holiday.name},
        org_node=holiday.node,
    )
    holiday.delete()


@transaction.atomic
def save_promotion(
    actor: Any,
    *,
    node: OrgNode,
    name: str,
    date_from: dt.date,
    date_to: dt.date,
    menu_item: Item | None = None,
) -> Promotion:
    require_permission(actor, PLANNING_MANAGE, node)
    errors = ErrorCollector()
    if not (name or "").strip():
        errors.add("name", _("Give the promotion a name."))
    _check_dates(errors, date_from, date_to)
    if menu_item is not None and menu_item.kind != ItemKind.MENU:
        errors.add("menu_item", _("Promotions are for menu items."))
    errors.raise_if_any()
    promotion = Promotion.objects.create(
        node=node, name=name.strip(), date_from=date_from, date_to=date_to, menu_item=menu_item
    )
    record_audit(
        actor=actor,
        action="planning.promotion.created",
        target=promotion,
        after={"from": date_from, "to": date_to, "item": menu_item.sku if menu_item else None},
        org_node=node,
    )
    return promotion


@transaction.atomic
def save_closure(
    actor: Any, *, site: Site, date_from: dt.date, date_to: dt.date, reason: str = ""
) -> StoreClosure:
    require_permission(actor, PLANNING_MANAGE, site.node)
    errors = ErrorCollector()
    _check_dates(errors, date_from, date_to)
    errors.raise_if_any()
    closure = StoreClosure.objects.create(
        site=site, date_from=date_from, date_to=date_to, reason=reason.strip()
    )
    record_audit(
        actor=actor,
        action="planning.closure.created",
        target=closure,
        after={"from": date_from, "to": date_to, "reason": closure.reason},
        org_node=site.node,
    )
    return closure


@transaction.atomic
def save_event(
    actor: Any,
    *,
    site: Site,
    date: dt.date,
    menu_item: Item,
    quantity: Any,
    note: str = "",
) -> PlannedEvent:
    """A known order (catering, a party) added to the forecast demand of that day."""
    require_permission(actor, PLANNING_MANAGE, site.node)
    errors = ErrorCollector()
    amount: Decimal | None = None
    try:
        amount = to_decimal(quantity, field="quantity")
    except ValidationFailed:
        errors.add("quantity", _("Enter a number."))
    if amount is not None and amount <= 0:
        errors.add("quantity", _("The quantity must be more than zero."))
    if menu_item.kind != ItemKind.MENU:
        errors.add("menu_item", _("Planned events are for menu items."))
    errors.raise_if_any()
    event = PlannedEvent.objects.create(
        site=site, date=date, menu_item=menu_item, quantity=amount, note=note.strip()
    )
    record_audit(
        actor=actor,
        action="planning.event.created",
        target=event,
        after={"date": date, "item": menu_item.sku, "quantity": amount},
        org_node=site.node,
    )
    return event
