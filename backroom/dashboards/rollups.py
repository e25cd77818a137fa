"""Dashboard rollups besides the sales rollups: stock moves per store × day × reason, sold-out
spells, and the forecast of each day as it stood before the day (see models).

`StockDay` grows by each posting once: the worker (`inventory.stock.posted`, async) adds a
posting's moves to the store-days they fall on and its net change to the closing value of
every later day, and records the posting (`StockDayPosting`) in the same transaction, so a
replayed event changes nothing and postings may arrive in any order. The cost is the
posting's size, not the day's. A reversal counts under the reason of the move it reverses, on
the day it is made (the ledger's rule for corrections).

`rebuild_stock_days` compares every store-day of a range with the ledger, reports what
differed and fixes it (`backroom rebuild-dashboard-rollups`).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Case, CharField, Count, F, OuterRef, QuerySet, Subquery, Sum, When
from django.utils import timezone

from backroom.dashboards import running
from backroom.dashboards.models import ForecastDay, SoldOutSpell, StockDay, StockDayPosting
from backroom.inventory.choices import MoveReason
from backroom.inventory.models import StockMove
from backroom.inventory.reports import SALES_SOURCE, PriceBook, sold_lines
from backroom.kernel.dates import business_date, business_day_bounds
from backroom.kernel.money import quantize_money
from backroom.org.models import Site

ZERO = Decimal(0)
MAX_DAYS = 800


# Which `StockDay` column each move reason adds to.
COLUMNS: dict[str, str] = {
    MoveReason.RECEIPT: "receipts",
    MoveReason.SALE: "sales",
    MoveReason.WASTE: "waste",
    MoveReason.CONSUMPTION: "consumption",
    MoveReason.PRODUCTION_INPUT: "production",
    MoveReason.PRODUCTION: "production",
    MoveReason.TRANSFER_OUT: "transfers",
    MoveReason.TRANSFER_IN: "transfers",
    MoveReason.TRANSFER_DISCREPANCY: "transfers",
    MoveReason.ADJUSTMENT: "variance",
    MoveReason.COUNT_VARIANCE: "variance",
    MoveReason.REVALUATION: "revaluation",
    MoveReason.PRICE_VARIANCE: "revaluation",
}
FLOW_FIELDS = (
    "receipts",
    "sales",
    "waste",
    "consumption",
    "production",
    "transfers",
    "variance",
    "revaluation",
)
Flows = dict[str, Decimal]


def _reason() -> Case:
    """A move's reason, a reversal's being that of the move it reverses."""
    return Case(
        When(reason=MoveReason.REVERSAL, then=F("reverses__reason")),
        default=F("reason"),
        output_field=CharField(),
    )


def ledger_day(site: Site, day: dt.date) -> tuple[Flows, int]:
    """A store's moves of one business day summed per `StockDay` column, and their count."""
    start, end = business_day_bounds(day, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour)
    rows = (
        StockMove.objects.filter(site_id=site.pk, occurred_at__gte=start, occurred_at__lt=end)
        .annotate(kind=_reason())
        .values("kind")
        .annotate(value=Sum("value"), moves=Count("id"))
    )
    flows = dict.fromkeys(FLOW_FIELDS, ZERO)
    count = 0
    for row in rows:
        flows[COLUMNS.get(row["kind"], "variance")] += row["value"] or ZERO
        count += row["moves"]
    return {name: quantize_money(value) for name, value in flows.items()}, count


def _sold_revenue(
    moves: QuerySet[StockMove], sites: Iterable[Site]
) -> dict[tuple[int, dt.date], Decimal]:
    """The sold lines behind the moves' sale depletions, priced, per (site, business day)."""
    found: dict[tuple[int, dt.date], Decimal] = defaultdict(Decimal)
    for site_id, _item_id, day, amount in sold_lines(moves, sites):
        found[(site_id, day)] += amount
    return {key: quantize_money(value) for key, value in found.items()}


def closing_values(site_ids: Iterable[int], day: dt.date) -> dict[int, Decimal]:
    """Each site's stock value at the end of `day` (its latest `StockDay` up to that day)."""
    latest = StockDay.objects.filter(site=OuterRef("pk"), business_date__lte=day).order_by(
        "-business_date"
    )
    return {
        pk: quantize_money(value or ZERO)
        for pk, value in Site.objects.filter(pk__any=list(site_ids))
        .annotate(value=Subquery(latest.values("closing_value")[:1]))
        .values_list("pk", "value")
    }


def carry_forward(day: dt.date, site_ids: Iterable[int] | None = None) -> int:
    """Give every site a row for `day` (no moves: the day before's closing value), so the stock
    value on a day is one row per store. The nightly job runs it for yesterday."""
    sites = Site.objects.all() if site_ids is None else Site.objects.filter(pk__in=list(site_ids))
    have = StockDay.objects.filter(business_date=day).values_list("site_id", flat=True)
    missing = list(sites.exclude(pk__in=have).values_list("pk", flat=True))
    before = closing_values(missing, day - dt.timedelta(days=1))
    created = StockDay.objects.bulk_create(
        [StockDay(site_id=pk, business_date=day, closing_value=before[pk]) for pk in missing],
        ignore_conflicts=True,
    )
    return len(created)


def _lock_day(site: Site, day: dt.date) -> StockDay:
    """The store-day's row, locked; a new row starts from the closing value of the latest
    earlier row, read under that row's lock, so a concurrent back-dated posting that moves it
    is either seen (committed first) or waits for us."""
    row = StockDay.objects.select_for_update().filter(site=site, business_date=day).first()
    if row is not None:
        return row
    earlier = (
        StockDay.objects.select_for_update()
        .filter(site=site, business_date__lt=day)
        .order_by("-business_date")
        .first()
    )
    with transaction.atomic():
        try:
            return StockDay.objects.create(
                site=site,
                business_date=day,
                closing_value=earlier.closing_value if earlier else ZERO,
            )
        except IntegrityError:
            pass  # created meanwhile by another worker: take theirs
    return StockDay.objects.select_for_update().get(site=site, business_date=day)


def refresh_posting(posting_id: int) -> int:
    """Add one posting's moves to the store-days they fall on (and its net change to the
    closing value of every later day); the number of store-days changed. Each posting is
    added once (`StockDayPosting`), so a replayed event changes nothing. The cost is the
    posting's size, not the day's."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                StockDayPosting.objects.create(posting_id=posting_id)
        except IntegrityError:
            return 0
        rows = (
            StockMove.objects.filter(posting_id=posting_id)
            .annotate(kind=_reason())
            .values("site_id", "occurred_at", "kind", "source_type")
            .annotate(value=Sum("value"), moves=Count("id"))
        )
        sites = Site.objects.in_bulk({row["site_id"] for row in rows})
        revenue = (
            _sold_revenue(StockMove.objects.filter(posting_id=posting_id), sites.values())
            if any(
                row["kind"] == MoveReason.SALE and row["source_type"] == SALES_SOURCE
                for row in rows
            )
            else {}
        )
        days: dict[tuple[int, dt.date], tuple[Flows, int]] = {}
        for row in rows:
            site = sites[row["site_id"]]
            day = business_date(
                row["occurred_at"], time_zone=site.time_zone, cutoff_hour=site.cutoff_hour
            )
            flows, count = days.setdefault((site.pk, day), (dict.fromkeys(FLOW_FIELDS, ZERO), 0))
            flows[COLUMNS.get(row["kind"], "variance")] += row["value"] or ZERO
            days[(site.pk, day)] = (flows, count + row["moves"])
        for (site_id, day), (flows, count) in sorted(days.items()):
            site = sites[site_id]
            day_row = _lock_day(site, day)
            net = quantize_money(sum(flows.values(), ZERO))
            sold = revenue.get((site_id, day), ZERO)
            StockDay.objects.filter(pk=day_row.pk).update(
                moves=F("moves") + count,
                net_change=F("net_change") + net,
                closing_value=F("closing_value") + net,
                **{name: F(name) + quantize_money(value) for name, value in flows.items() if value},
                **({"sold_revenue": F("sold_revenue") + sold} if sold else {}),
            )
            if net:
                StockDay.objects.filter(site=site, business_date__gt=day).update(
                    closing_value=F("closing_value") + net
                )
        running.mark_dirty(days)
    return len(days)


# --- sold-out spells ---------------------------------------------------------------------------


def open_spell(site_id: int, item_id: int, at: dt.datetime, *, is_manual: bool) -> None:
    """An item went sold out: open a spell unless one is open already (a replayed event)."""
    if SoldOutSpell.objects.filter(site_id=site_id, item_id=item_id, ended_at=None).exists():
        return
    SoldOutSpell.objects.create(
        site_id=site_id, item_id=item_id, started_at=at, is_manual=is_manual
    )


def close_spell(site_id: int, item_id: int, at: dt.datetime) -> None:
    """An item is back: close its open spell (none open: nothing to do)."""
    SoldOutSpell.objects.filter(site_id=site_id, item_id=item_id, ended_at=None).update(ended_at=at)


def sold_out_minutes(
    spells: Iterable[SoldOutSpell], start: dt.datetime, end: dt.datetime, now: dt.datetime
) -> Decimal:
    """Minutes of the spells inside [start, end) (an open spell runs until `now`)."""
    total = 0.0
    for spell in spells:
        spell_end = min(spell.ended_at or now, end, now)
        spell_start = max(spell.started_at, start)
        if spell_end > spell_start:
            total += (spell_end - spell_start).total_seconds() / 60
    return Decimal(round(total))


# --- forecasts ---------------------------------------------------------------------------------


def snapshot_forecasts(today: dt.date | None = None) -> int:
    """Record, for every store, the forecast of each day from `today` on (sales at menu prices
    and guests) from the planning app's latest forecasts. Days before `today` are kept as they
    were: that is what "sales vs forecast" compares with. Returns the rows written."""
    from backroom.planning.models import DemandForecast

    today = today or timezone.localdate()
    rows = DemandForecast.objects.filter(date__gte=today).values_list(
        "site_id", "menu_item_id", "date", "quantity"
    )
    return record_forecasts(rows, date_from=today)


def record_forecasts(
    forecasts: Iterable[tuple[int, int | None, dt.date, Decimal]],
    *,
    date_from: dt.date,
    made_at: dt.datetime | None = None,
) -> int:
    """Replace the stores' recorded forecasts of the days from `date_from` on with these
    (site, menu item or None for guests, day, quantity) rows, made at `made_at` (default:
    now). Returns the rows written. Past days rewritten mark the stores' running totals."""
    rows = [row for row in forecasts if row[2] >= date_from]
    if not rows:
        return 0
    sites = Site.objects.select_related("legal_entity").in_bulk({row[0] for row in rows})
    book = PriceBook(row[1] for row in rows if row[1] is not None)
    gross: dict[tuple[int, dt.date], Decimal] = defaultdict(Decimal)
    guests: dict[tuple[int, dt.date], Decimal] = defaultdict(Decimal)
    for site_id, item_id, day, quantity in rows:
        key = (site_id, day)
        if item_id is None:
            guests[key] += quantity
            continue
        price = book.price(item_id, sites[site_id], day)
        gross[key] += (price or ZERO) * quantity
        guests.setdefault(key, ZERO)
    now = made_at or timezone.now()
    with transaction.atomic():
        ForecastDay.objects.filter(site_id__in=list(sites), business_date__gte=date_from).delete()
        running.mark_dirty((site_id, date_from) for site_id in sites)
        ForecastDay.objects.bulk_create(
            [
                ForecastDay(
                    site_id=site_id,
                    business_date=day,
                    currency=sites[site_id].legal_entity.base_currency,
                    gross=gross.get((site_id, day), ZERO).quantize(Decimal("0.0001")),
                    guests=guests[(site_id, day)].quantize(Decimal("0.01")),
                    made_at=now,
                )
                for site_id, day in sorted(guests)
            ],
            batch_size=2000,
        )
    return len(guests)


# --- rebuild -----------------------------------------------------------------------------------


@dataclass
class RebuildResult:
    store_days: int = 0
    differences: list[str] = field(default_factory=list)


def rebuild_stock_days(
    *, site_ids: Sequence[int] | None, date_from: dt.date, date_to: dt.date, fix: bool
) -> RebuildResult:
    """Compare the `StockDay` rows of a range with the ledger (each day's flows, and its
    closing value with Σ of every move up to that day); list each difference and (with `fix`)
    make the rows right, shift the later days' closing values by what changed, and mark the
    postings counted as rolled up (so the worker does not add them again)."""
    if date_to < date_from or (date_to - date_from).days >= MAX_DAYS:
        raise ValueError(f"a range of 1 to {MAX_DAYS} days")
    sites = Site.objects.all() if site_ids is None else Site.objects.filter(pk__in=site_ids)
    result = RebuildResult()
    for site in sites.order_by("node__path"):
        with transaction.atomic():
            _rebuild_site(site, date_from, date_to, fix, result)
    # The running totals of the range (sales too: `rebuild-sales-rollups` marks nothing),
    # rolled first when fixing: the rows an upgrade dropped, or the days a stopped worker left.
    ids = None if site_ids is None else list(site_ids)
    if fix:
        running.roll()  # also recomputes the stores `_rebuild_site` marked
    result.differences.extend(running.differences(ids, date_from, date_to, fix=fix))
    return result


def _rebuild_site(
    site: Site, date_from: dt.date, date_to: dt.date, fix: bool, result: RebuildResult
) -> None:
    stored = {
        row.business_date: row
        for row in StockDay.objects.select_for_update().filter(
            site=site, business_date__gte=date_from, business_date__lte=date_to
        )
    }
    start, _end = business_day_bounds(
        date_from, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour
    )
    _start, end = business_day_bounds(
        date_to, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour
    )
    closing = quantize_money(
        StockMove.objects.filter(site_id=site.pk, occurred_at__lt=start).aggregate(
            total=Sum("value")
        )["total"]
        or ZERO
    )
    stored_end = closing_values([site.pk], date_to)[site.pk]
    revenue = _sold_revenue(
        StockMove.objects.filter(site_id=site.pk, occurred_at__gte=start, occurred_at__lt=end),
        [site],
    )
    changed_days: list[dt.date] = []
    day = date_from
    while day <= date_to:
        result.store_days += 1
        flows, count = ledger_day(site, day)
        closing += sum(flows.values(), ZERO)
        sold = revenue.get((site.pk, day), ZERO)
        row = stored.get(day)
        have = {name: getattr(row, name) if row else ZERO for name in FLOW_FIELDS}
        wrong = [
            f"{name} rollup {have[name]} ledger {flows[name]}"
            for name in FLOW_FIELDS
            if have[name] != flows[name]
        ]
        have_sold = row.sold_revenue if row else ZERO
        if have_sold != sold:
            wrong.append(f"sold revenue rollup {have_sold} ledger {sold}")
        if row is None and count:
            wrong.append(f"no row (closing value {closing})")
        elif row is not None and row.closing_value != closing:
            wrong.append(f"closing value rollup {row.closing_value} ledger {closing}")
        elif row is not None and row.moves != count:
            wrong.append(f"moves rollup {row.moves} ledger {count}")
        if wrong:
            result.differences.append(f"{site} {day}: " + ", ".join(wrong))
            if fix:
                changed_days.append(day)
                values = {
                    **flows,
                    "moves": count,
                    "net_change": sum(flows.values(), ZERO),
                    "sold_revenue": sold,
                }
                StockDay.objects.update_or_create(
                    site=site, business_date=day, defaults={**values, "closing_value": closing}
                )
        day += dt.timedelta(days=1)
    if not fix:
        return
    running.mark_dirty((site.pk, day) for day in changed_days)
    if changed_days and closing != stored_end:
        StockDay.objects.filter(site=site, business_date__gt=date_to).update(
            closing_value=F("closing_value") + (closing - stored_end)
        )
    counted = (
        StockMove.objects.filter(site_id=site.pk, occurred_at__gte=start, occurred_at__lt=end)
        .values_list("posting_id", flat=True)
        .distinct()
    )
    StockDayPosting.objects.bulk_create(
        [StockDayPosting(posting_id=posting_id) for posting_id in counted],
        ignore_conflicts=True,
        batch_size=2000,
    )
