"""Running totals: each rolled day holds the sums of the store's days so far; later changes mark
the store dirty (and a mark made while it is recomputed survives); the rebuild finds a damaged
row; and whatever has been rolled or marked, the measures equal those read from the days."""

import datetime as dt
import random
import zoneinfo
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backroom.channels.models import SalesChannelDay, SalesDay
from backroom.dashboards import facts, running
from backroom.dashboards.models import (
    ForecastDay,
    RunningTotalsRolled,
    StockDay,
    StoreRunningDirty,
    StoreRunningTotal,
)
from backroom.events.services import dispatch_outbox
from backroom.inventory import services
from backroom.kernel.actors import SYSTEM
from backroom.kernel.dates import business_day_bounds
from backroom.org.models import Site
from backroom.org.selectors import open_business_day

pytestmark = pytest.mark.django_db

D = Decimal


def _noon(site, day: dt.date) -> dt.datetime:
    start, _end = business_day_bounds(day, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour)
    return start + dt.timedelta(hours=12 - site.cutoff_hour)


def _sales(site, day, net, orders=10, kind="pos"):
    # Rollup rows as the channels rollups write them (what the running totals sum).
    SalesDay.objects.create(
        site=site, business_date=day, currency="CNY", orders=orders, gross=net + 5, net=net
    )
    SalesChannelDay.objects.create(
        site=site, business_date=day, kind=kind, currency="CNY", orders=orders, net=net
    )


def _row(site, day):
    return StoreRunningTotal.objects.get(site=site, business_date=day)


def test_the_roll_sums_each_stores_days_to_yesterday_once(stock):
    site = stock.walk_in.site
    today = open_business_day()
    first = today - dt.timedelta(days=5)
    _sales(site, first, D(100))
    _sales(site, first + dt.timedelta(days=2), D("50.5"), kind="meituan")
    _sales(site, today, D(999))  # today is not rolled
    services.consume(
        item=stock.napkins,
        location=stock.walk_in,
        quantity=D(2),
        reason="waste",
        key="w1",
        actor=SYSTEM,
        occurred_at=_noon(site, first),
    )
    dispatch_outbox()

    assert running.roll() == 5  # one row per day from the first, none for today
    assert running.rolled_through() == today - dt.timedelta(days=1)
    assert _row(site, first).net == 100
    # A day without sales repeats the day before: a lookup by date is exact.
    assert _row(site, first + dt.timedelta(days=1)).net == 100
    last = _row(site, today - dt.timedelta(days=1))
    assert (last.orders, last.net, last.gross) == (20, D("150.5"), D("160.5"))
    assert {k: D(v) for k, v in last.channel_net.items()} == {"pos": 100, "meituan": D("50.5")}
    assert last.waste == 0  # napkins were received at no cost
    assert not StoreRunningTotal.objects.filter(business_date=today).exists()
    assert running.roll() == 0  # once
    # The next day adds one row per store, from the row before.
    assert running.roll(today + dt.timedelta(days=1)) == 1
    assert _row(site, today).net == D("1149.5")


def test_a_late_change_marks_the_store_until_it_is_recomputed(stock):
    site = stock.walk_in.site
    today = open_business_day()
    day = today - dt.timedelta(days=3)
    services.receive(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D(10),
        unit_cost=D(2),
        key="r1",
        actor=SYSTEM,
        occurred_at=_noon(site, day),
    )
    dispatch_outbox()
    running.roll()
    assert _row(site, today - dt.timedelta(days=1)).receipts == 20
    # A back-dated delivery into a rolled day.
    services.receive(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D(5),
        unit_cost=D(2),
        key="r2",
        actor=SYSTEM,
        occurred_at=_noon(site, day + dt.timedelta(days=1)),
    )
    dispatch_outbox()
    assert StoreRunningDirty.objects.filter(site=site, day=day + dt.timedelta(days=1)).exists()
    assert running.refresh_dirty() == 1
    assert _row(site, day).receipts == 20
    assert _row(site, today - dt.timedelta(days=1)).receipts == 30
    assert not StoreRunningDirty.objects.exists()
    # A move today marks nothing.
    services.receive(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D(1),
        unit_cost=D(2),
        key="r3",
        actor=SYSTEM,
    )
    dispatch_outbox()
    assert not StoreRunningDirty.objects.exists()


def test_a_mark_made_while_recomputing_survives(stock):
    site = stock.walk_in.site
    yesterday = open_business_day() - dt.timedelta(days=1)
    _sales(site, yesterday, D(10))
    running.roll()
    running.mark_dirty([(site.pk, yesterday)])
    mark = StoreRunningDirty.objects.get()
    # Marked again after the refresh started reading: newer than its start, so it stays.
    StoreRunningDirty.objects.filter(pk=mark.pk).update(
        marked_at=timezone.now() + dt.timedelta(seconds=30)
    )
    running.refresh_dirty()
    assert StoreRunningDirty.objects.filter(pk=mark.pk).exists()


def test_imported_history_before_the_first_day_rebuilds_the_store_from_it(stock):
    site = stock.walk_in.site
    yesterday = open_business_day() - dt.timedelta(days=1)
    _sales(site, yesterday, D(10))
    running.roll()
    earlier = yesterday - dt.timedelta(days=10)
    _sales(site, earlier, D(7))
    running.mark_dirty([(site.pk, earlier)])
    running.refresh_dirty()
    assert _row(site, earlier).net == 7
    assert _row(site, yesterday).net == 17
    assert StoreRunningTotal.objects.filter(site=site).count() == 11


def test_the_rebuild_finds_and_fixes_a_damaged_row(stock, capsys):
    site = stock.walk_in.site
    yesterday = open_business_day() - dt.timedelta(days=1)
    day = yesterday - dt.timedelta(days=2)
    _sales(site, day, D(100))
    running.roll()
    StoreRunningTotal.objects.filter(site=site, business_date=day).update(net=D(1))
    span = ["--from", str(day), "--to", str(yesterday)]
    with pytest.raises(CommandError):
        call_command("rebuild_dashboard_rollups", *span, "--check")
    assert f"running total to {day}: net 1.0000 (days: 100.0000)" in capsys.readouterr().err
    call_command("rebuild_dashboard_rollups", *span)
    assert _row(site, day).net == 100
    call_command("rebuild_dashboard_rollups", *span, "--check")


def test_the_rebuild_rolls_the_running_rows_an_upgrade_dropped(stock):
    """A migration that adds a running column drops the rows (dashboards.0008); the rebuild
    rolls them again, as the nightly job would."""
    site = stock.walk_in.site
    yesterday = open_business_day() - dt.timedelta(days=1)
    day = yesterday - dt.timedelta(days=2)
    _sales(site, day, D(100))
    running.roll()
    StoreRunningTotal.objects.all().delete()
    RunningTotalsRolled.objects.all().delete()
    call_command("rebuild_dashboard_rollups", "--from", str(day), "--to", str(yesterday))
    assert running.rolled_through() == yesterday
    assert _row(site, day).net == 100 and _row(site, yesterday).net == 100


def _daily_only(call):
    """What `call` gives with no running totals (every figure read from the days)."""
    with transaction.atomic():
        RunningTotalsRolled.objects.all().delete()
        value = call()
        transaction.set_rollback(True)
    return value


def _history(sites, today: dt.date, days: int, seed: int = 7) -> None:
    """Random daily rollups of every kind for the sites over the days before today, and today."""
    rng = random.Random(seed)
    for site in sites:
        closing = D(0)
        for offset in range(days, -1, -1):
            day = today - dt.timedelta(days=offset)
            if rng.random() < 0.15:
                continue  # a closed day: no rows at all
            net = D(rng.randint(100, 5000)) / 4
            SalesDay.objects.create(
                site=site,
                business_date=day,
                currency="CNY",
                orders=rng.randint(1, 90),
                gross=net + 3,
                net=net,
                merchant_discount=D("1.25"),
                commission=D(rng.randint(0, 40)),
                history_net=net if offset > days - 10 else 0,
            )
            for kind in ("pos", "meituan")[: rng.randint(1, 2)]:
                SalesChannelDay.objects.create(
                    site=site, business_date=day, kind=kind, currency="CNY", orders=1, net=net / 2
                )
            if rng.random() < 0.7:  # forecasting began late, or missed a night
                ForecastDay.objects.create(
                    site=site,
                    business_date=day,
                    currency="CNY",
                    gross=net * D("1.1"),
                    guests=D(rng.randint(0, 50)),
                )
            receipts, used = D(rng.randint(0, 900)), D(rng.randint(0, 400))
            closing += receipts - used
            StockDay.objects.create(
                site=site,
                business_date=day,
                receipts=receipts,
                sales=-used,
                waste=-D(rng.randint(0, 30)),
                variance=-D(rng.randint(-9, 9)),
                consumption=-D(1),
                net_change=receipts - used,
                closing_value=closing,
            )


BYS = ("total", "site", "day", "week", "month", "site_day", "site_week", "site_month")


@pytest.fixture
def history(stock, tree):
    sites = [stock.walk_in.site, tree.store_b.site]
    today = open_business_day()
    _history(sites, today, 120)
    running.roll(today)
    return sites, today


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    start=st.integers(min_value=-130, max_value=0),
    length=st.integers(min_value=1, max_value=140),
    by=st.sampled_from(BYS),
    rolled_back=st.integers(min_value=0, max_value=60),
    dirty=st.lists(st.tuples(st.integers(0, 1), st.integers(1, 120)), max_size=3),
    grouped=st.booleans(),
)
def test_measures_from_running_totals_equal_those_from_the_days(
    history, start, length, by, rolled_back, dirty, grouped
):
    """Whatever the period, the buckets, how far the roll went and which stores are marked
    dirty (their running rows wrong meanwhile), the figures equal those read from the days."""
    sites, today = history
    date_from = today + dt.timedelta(days=start)
    date_to = date_from + dt.timedelta(days=length - 1)
    groups = (
        {site.pk: sites[0].pk for site in sites} if grouped and by.startswith("site_") else None
    )

    def call():
        return facts.measures(
            sites, date_from, date_to, by=by, currency="CNY", groups=groups, now=timezone.now()
        )

    expected = _daily_only(call)
    with transaction.atomic():
        # The roll stopped `rolled_back` days ago (the worker was down)...
        through = today - dt.timedelta(days=1 + rolled_back)
        StoreRunningTotal.objects.filter(business_date__gt=through).delete()
        RunningTotalsRolled.objects.update(through=through)
        # ...and late changes made some stores' rows wrong from a day on.
        for index, back in dirty:
            day = today - dt.timedelta(days=back)
            StoreRunningTotal.objects.filter(site=sites[index], business_date__gte=day).update(
                net=D(-1), orders=-1, waste=D(5)
            )
            running.mark_dirty([(sites[index].pk, day)])
        found = call()
        transaction.set_rollback(True)
    assert found == expected


def test_sales_vs_forecast_reads_the_gross_of_the_days_with_a_forecast(history):
    """Straight from the rows: the gross of the store-days that have a forecast, whether the
    period is read from the running totals or from the days."""
    sites, today = history
    date_from, date_to = today - dt.timedelta(days=75), today
    forecast_days = set(
        ForecastDay.objects.filter(business_date__range=(date_from, date_to)).values_list(
            "site_id", "business_date"
        )
    )
    sales = SalesDay.objects.filter(business_date__range=(date_from, date_to))
    expected = sum(
        (row.gross for row in sales if (row.site_id, row.business_date) in forecast_days), D(0)
    )
    assert 0 < expected < sum((row.gross for row in sales), D(0))

    def call():
        return facts.measures(sites, date_from, date_to, currency="CNY")

    assert call()[None].forecast_sales == expected  # the running totals, then today's rows
    assert _daily_only(call)[None].forecast_sales == expected


def test_a_kpis_sources_are_all_its_formula_reads(history):
    """Each KPI read with only its own sources has the value it has with every source."""
    from backroom.dashboards.kpis import KPIS, Measures

    sites, today = history
    date_from, date_to = today - dt.timedelta(days=40), today
    everything = facts.measures(sites, date_from, date_to, by="site", currency="CNY")
    for kpi in KPIS.values():
        alone = facts.measures(
            sites, date_from, date_to, by="site", currency="CNY", sources=kpi.sources
        )
        for site in sites:
            mine = alone.get(site.pk) or Measures(days=41)
            assert kpi.formula(mine) == kpi.formula(everything[site.pk]), kpi.code


def test_buckets_cut_to_the_period():
    spans = facts.spans("month", dt.date(2026, 1, 15), dt.date(2026, 3, 3))
    assert [(s.key, s.start, s.end) for s in spans] == [
        (dt.date(2026, 1, 1), dt.date(2026, 1, 15), dt.date(2026, 1, 31)),
        (dt.date(2026, 2, 1), dt.date(2026, 2, 1), dt.date(2026, 2, 28)),
        (dt.date(2026, 3, 1), dt.date(2026, 3, 1), dt.date(2026, 3, 3)),
    ]
    weeks = facts.spans("week", dt.date(2026, 12, 2), dt.date(2026, 12, 14))
    assert [(s.key, s.start, s.end) for s in weeks] == [
        (dt.date(2026, 11, 30), dt.date(2026, 12, 2), dt.date(2026, 12, 6)),
        (dt.date(2026, 12, 7), dt.date(2026, 12, 7), dt.date(2026, 12, 13)),
        (dt.date(2026, 12, 14), dt.date(2026, 12, 14), dt.date(2026, 12, 14)),
    ]
    assert facts.spans(None, dt.date(2026, 1, 1), dt.date(2026, 1, 9))[0].end == dt.date(2026, 1, 9)


def test_the_open_business_day_is_the_earliest_of_the_stores(stock):
    """Between midnight and a store's cutoff hour its business day is still the day before:
    the roll stops before the earliest such day, and changes from it on mark nothing."""
    site = stock.walk_in.site
    assert (site.time_zone, site.cutoff_hour) == ("Asia/Shanghai", 4)
    zone = zoneinfo.ZoneInfo(site.time_zone)

    def at(hour: int) -> dt.datetime:
        return dt.datetime(2026, 3, 10, hour, 30, tzinfo=zone)

    assert open_business_day(at(1)) == dt.date(2026, 3, 9)
    assert open_business_day(at(5)) == dt.date(2026, 3, 10)
    # Another store closes its day at 06:00: at 05:30 it still trades on the 9th.
    Site.objects.filter(pk=stock.freezer_b.site_id).update(cutoff_hour=6)
    assert open_business_day(at(5)) == dt.date(2026, 3, 9)
    open_day = open_business_day()
    assert running.mark_dirty([(site.pk, open_day)]) == 0
    assert running.mark_dirty([(site.pk, open_day - dt.timedelta(days=1))]) == 1


def test_after_midnight_the_dashboards_today_is_the_stores_business_day(stock, monkeypatch):
    """At 01:30 in Shanghai the stores still trade on the day before (cutoff 04:00): the
    dashboard's "today" preset and its default range count from that day."""
    from backroom.dashboards import selectors

    instant = dt.datetime(2027, 6, 2, 1, 30, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
    monkeypatch.setattr(timezone, "now", lambda: instant)
    business_today = dt.date(2027, 6, 1)
    assert selectors.period(None, None, preset="today") == selectors.Period(
        business_today, business_today
    )
    default = selectors.period(None, None)
    assert default.date_to == business_today - dt.timedelta(days=1)
