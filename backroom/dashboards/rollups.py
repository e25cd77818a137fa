"""Dashboard rollups besides the sales rollups: stock moves per store × day × reason, sold-out
spells, and the forecast of each day as it stood before the day (see models).

`StockDay` is recomputed for a whole store-day from the ledger, never incremented: the worker
recomputes the days a posting touched (`inventory.stock.posted`, async), so a replayed event
or two postings of one day in any order give the same rows. A reversal counts under the
reason of the move it reverses, on the day it is made (the ledger's rule for corrections).

`rebuild_stock_days` compares every store-day of a range with the ledger, reports what
differed and fixes it (`backroom rebuild-dashboard-rollups`).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.db.models import Case, CharField, Count, F, OuterRef, Subquery, Sum, When
from django.utils import timezone

from backroom.dashboards.models import ForecastDay, SoldOutSpell, StockDay
from backroom.inventory.choices import MoveReason
from backroom.inventory.models import StockMove
from backroom.inventory.reports import PriceBook
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


def _closing_before(site: Site, day: dt.date) -> Decimal:
    row = (
        StockDay.objects.filter(site=site, business_date__lt=day)
        .order_by("-business_date")
        .values_list("closing_value", flat=True)
        .first()
    )
    return row if row is not None else ZERO


def refresh_stock_day(site: Site, day: dt.date) -> bool:
    """Make a store-day's `StockDay` row equal the ledger and move the closing value of that day
    and every later day by the difference; True when anything changed. The store-day's row is
    locked first (created if missing), so two refreshes of one store run one after the other."""
    with transaction.atomic():
        row, created = StockDay.objects.select_for_update().get_or_create(
            site=site, business_date=day
        )
        flows, count = ledger_day(site, day)
        net = sum(flows.values(), ZERO)
        if created:
            row.closing_value = _closing_before(site, day)
        delta = net - row.net_change
        unchanged = (
            not created
            and row.moves == count
            and all(getattr(row, name) == value for name, value in flows.items())
        )
        if unchanged:
            return False
        for name, value in flows.items():
            setattr(row, name, value)
        row.moves, row.net_change = count, net
        row.closing_value += delta
        row.save()
        if delta:
            StockDay.objects.filter(site=site, business_date__gt=day).update(
                closing_value=F("closing_value") + delta
            )
    return True


def closing_values(site_ids: Iterable[int], day: dt.date) -> dict[int, Decimal]:
    """Each site's stock value at the end of `day` (its latest `StockDay` up to that day)."""
    latest = StockDay.objects.filter(site=OuterRef("pk"), business_date__lte=day).order_by(
        "-business_date"
    )
    return {
        pk: value or ZERO
        for pk, value in Site.objects.filter(pk__in=list(site_ids))
        .annotate(value=Subquery(latest.values("closing_value")[:1]))
        .values_list("pk", "value")
    }


def carry_forward(day: dt.date, site_ids: Iterable[int] | None = None) -> int:
    """Give every site a row for `day` (no moves: the day before's closing value), so the stock
    value on a day is one row per store. The nightly job runs it for yesterday."""
    sites = Site.objects.all() if site_ids is None else Site.objects.filter(pk__in=list(site_ids))
    have = set(
        StockDay.objects.filter(site__in=sites, business_date=day).values_list("site_id", flat=True)
    )
    created = 0
    for site in sites.exclude(pk__in=have):
        _row, made = StockDay.objects.get_or_create(
            site=site, business_date=day, defaults={"closing_value": _closing_before(site, day)}
        )
        created += made
    return created


def posting_days(posting_id: int) -> list[tuple[Site, dt.date]]:
    """The store-days a posting's moves fall on."""
    rows = (
        StockMove.objects.filter(posting_id=posting_id)
        .values_list("site_id", "occurred_at")
        .distinct()
    )
    by_site: dict[int, set[dt.datetime]] = defaultdict(set)
    for site_id, occurred_at in rows:
        by_site[site_id].add(occurred_at)
    sites = Site.objects.in_bulk(list(by_site))
    days: set[tuple[int, dt.date]] = set()
    for site_id, moments in by_site.items():
        site = sites[site_id]
        for moment in moments:
            days.add(
                (
                    site_id,
                    business_date(moment, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour),
                )
            )
    return [(sites[site_id], day) for site_id, day in sorted(days)]


def refresh_posting(posting_id: int) -> int:
    """Recompute the store-days of one posting; the number of days that changed."""
    return sum(refresh_stock_day(site, day) for site, day in posting_days(posting_id))


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
    rows = list(
        DemandForecast.objects.filter(date__gte=today).values_list(
            "site_id", "menu_item_id", "date", "quantity"
        )
    )
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
    now = timezone.now()
    with transaction.atomic():
        ForecastDay.objects.filter(site_id__in=list(sites), business_date__gte=today).delete()
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
    make the rows right."""
    if date_to < date_from or (date_to - date_from).days >= MAX_DAYS:
        raise ValueError(f"a range of 1 to {MAX_DAYS} days")
    sites = Site.objects.all() if site_ids is None else Site.objects.filter(pk__in=site_ids)
    result = RebuildResult()
    for site in sites.order_by("node__path"):
        stored = {
            row.business_date: row
            for row in StockDay.objects.filter(
                site=site, business_date__gte=date_from, business_date__lte=date_to
            )
        }
        start, _end = business_day_bounds(
            date_from, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour
        )
        closing = quantize_money(
            StockMove.objects.filter(site_id=site.pk, occurred_at__lt=start).aggregate(
                total=Sum("value")
            )["total"]
            or ZERO
        )
        day = date_from
        while day <= date_to:
            result.store_days += 1
            flows, count = ledger_day(site, day)
            closing += sum(flows.values(), ZERO)
            row = stored.get(day)
            have = {name: getattr(row, name) if row else ZERO for name in FLOW_FIELDS}
            have_closing = row.closing_value if row else None
            wrong = [
                f"{name} rollup {have[name]} ledger {flows[name]}"
                for name in FLOW_FIELDS
                if have[name] != flows[name]
            ]
            if row is None and count:
                wrong.append(f"no row (closing value {closing})")
            elif row is not None and have_closing != closing:
                wrong.append(f"closing value rollup {have_closing} ledger {closing}")
            if wrong:
                result.differences.append(f"{site} {day}: " + ", ".join(wrong))
                if fix:
                    _replace(site, day, flows, count, closing)
            day += dt.timedelta(days=1)
    return result


def _replace(site: Site, day: dt.date, flows: Flows, count: int, closing: Decimal) -> None:
    values = {**flows, "moves": count, "net_change": sum(flows.values(), ZERO)}
    StockDay.objects.update_or_create(
        site=site, business_date=day, defaults={**values, "closing_value": closing}
    )
