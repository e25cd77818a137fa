"""Monthly store figures: a closed month holds the sums of its days; later changes mark it
dirty (and a mark made while it is recomputed survives); the rebuild finds a damaged month."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from backroom.channels.models import SalesChannelDay, SalesDay
from backroom.dashboards import months
from backroom.dashboards.models import MonthClosed, StoreMonth, StoreMonthDirty
from backroom.events.services import dispatch_outbox
from backroom.inventory import services
from backroom.kernel.actors import SYSTEM
from backroom.kernel.dates import business_day_bounds

pytestmark = pytest.mark.django_db

D = Decimal


def _last_month() -> dt.date:
    return (months.current_month() - dt.timedelta(days=1)).replace(day=1)


def _noon(site, day: dt.date) -> dt.datetime:
    start, _end = business_day_bounds(day, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour)
    return start + dt.timedelta(hours=12 - site.cutoff_hour)


def _sales(site, day, net, orders=10, kind="pos"):
    # Rollup rows as the channels rollups write them (what a month sums).
    SalesDay.objects.create(
        site=site, business_date=day, currency="CNY", orders=orders, gross=net + 5, net=net
    )
    SalesChannelDay.objects.create(
        site=site, business_date=day, kind=kind, currency="CNY", orders=orders, net=net
    )


def test_month_helpers():
    assert months.full_months(
        dt.date(2026, 1, 15), dt.date(2026, 4, 30), before=dt.date(2026, 4, 1)
    ) == [
        dt.date(2026, 2, 1),
        dt.date(2026, 3, 1),
    ]
    assert (
        months.full_months(dt.date(2026, 1, 1), dt.date(2026, 1, 30), before=dt.date(2027, 1, 1))
        == []
    )
    assert months.month_end(dt.date(2028, 2, 1)) == dt.date(2028, 2, 29)
    assert months.months_between(dt.date(2026, 11, 30), dt.date(2027, 1, 1)) == [
        dt.date(2026, 11, 1),
        dt.date(2026, 12, 1),
        dt.date(2027, 1, 1),
    ]


def test_closing_months_sums_their_days_and_leaves_the_current_one(stock):
    site = stock.walk_in.site
    last = _last_month()
    _sales(site, last, D(100))
    _sales(site, last + dt.timedelta(days=3), D("50.5"), kind="meituan")
    _sales(site, months.current_month(), D(999))
    services.consume(
        item=stock.napkins,
        location=stock.walk_in,
        quantity=D(2),
        reason="waste",
        key="w1",
        actor=SYSTEM,
        occurred_at=_noon(site, last),
    )
    dispatch_outbox()

    assert months.close_months() == [last]
    row = StoreMonth.objects.get(site=site, month=last)
    assert (row.orders, row.net, row.gross) == (20, D("150.5"), D("160.5"))
    assert {k: D(v) for k, v in row.channel_net.items()} == {"pos": 100, "meituan": D("50.5")}
    assert row.waste == 0  # napkins were received at no cost
    assert not StoreMonth.objects.filter(month=months.current_month()).exists()
    assert MonthClosed.objects.filter(month=last).exists()
    assert months.close_months() == []  # once


def test_a_late_change_marks_the_closed_month_until_it_is_recomputed(stock):
    site = stock.walk_in.site
    last = _last_month()
    services.receive(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D(10),
        unit_cost=D(2),
        key="r1",
        actor=SYSTEM,
        occurred_at=_noon(site, last),
    )
    dispatch_outbox()
    months.close_months()
    assert StoreMonth.objects.get(site=site, month=last).receipts == 20
    # A back-dated delivery into the closed month.
    services.receive(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D(5),
        unit_cost=D(2),
        key="r2",
        actor=SYSTEM,
        occurred_at=_noon(site, last + dt.timedelta(days=1)),
    )
    dispatch_outbox()
    assert StoreMonthDirty.objects.filter(site=site, month=last).exists()
    assert months.refresh_dirty() == 1
    assert StoreMonth.objects.get(site=site, month=last).receipts == 30
    assert not StoreMonthDirty.objects.exists()
    # A move in the current month marks nothing.
    services.receive(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D(1),
        unit_cost=D(2),
        key="r3",
        actor=SYSTEM,
    )
    dispatch_outbox()
    assert not StoreMonthDirty.objects.exists()


def test_a_mark_made_while_recomputing_survives(stock):
    site = stock.walk_in.site
    last = _last_month()
    MonthClosed.objects.create(month=last)
    months.mark_dirty([(site.pk, last)])
    mark = StoreMonthDirty.objects.get()
    # Marked again after the refresh started reading: newer than its start, so it stays.
    StoreMonthDirty.objects.filter(pk=mark.pk).update(
        marked_at=timezone.now() + dt.timedelta(seconds=30)
    )
    months.refresh_dirty()
    assert StoreMonthDirty.objects.filter(pk=mark.pk).exists()


def test_the_rebuild_finds_and_fixes_a_damaged_month(stock, capsys):
    site = stock.walk_in.site
    last = _last_month()
    _sales(site, last, D(100))
    months.close_months()
    StoreMonth.objects.filter(site=site, month=last).update(net=D(1))
    span = ["--from", str(last), "--to", str(months.month_end(last))]
    with pytest.raises(CommandError):
        call_command("rebuild_dashboard_rollups", *span, "--check")
    assert "net month 1.0000 days 100.0000" in capsys.readouterr().err
    call_command("rebuild_dashboard_rollups", *span)
    assert StoreMonth.objects.get(site=site, month=last).net == 100
    call_command("rebuild_dashboard_rollups", *span, "--check")


def _daily_only(call):
    """What `call` gives when no month is rolled up (every figure read from the days)."""
    from django.db import transaction

    with transaction.atomic():
        MonthClosed.objects.all().delete()
        value = call()
        transaction.set_rollback(True)
    return value


def test_measures_are_the_same_from_closed_months_as_from_the_days(stock, tree):
    from backroom.dashboards.facts import measures

    site, other = stock.walk_in.site, tree.store_b.site
    last = _last_month()
    before_last = (last - dt.timedelta(days=1)).replace(day=1)
    for day, net in [
        (before_last + dt.timedelta(days=20), D(70)),
        (last, D(100)),
        (last + dt.timedelta(days=9), D(40)),
        (months.current_month(), D(5)),
    ]:
        _sales(site, day, net)
    _sales(other, last + dt.timedelta(days=2), D(33), kind="eleme")
    services.receive(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D(10),
        unit_cost=D(2),
        key="r1",
        actor=SYSTEM,
        occurred_at=_noon(site, last),
    )
    services.consume(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D(3),
        reason="waste",
        key="w1",
        actor=SYSTEM,
        occurred_at=_noon(site, last + dt.timedelta(days=1)),
    )
    dispatch_outbox()
    months.close_months()
    assert StoreMonth.objects.filter(month=last).count() == 2

    date_from = before_last + dt.timedelta(days=10)  # a partial month, two whole ones, today's
    date_to = months.current_month() + dt.timedelta(days=1)
    for by in ("total", "site"):

        def call(by=by):
            return measures([site, other], date_from, date_to, by=by, currency="CNY")

        assert call() == _daily_only(call)
    total = measures([site, other], date_from, date_to, currency="CNY")[None]
    assert total.net == 70 + 100 + 40 + 5 + 33
    assert total.channel_net == {"pos": 215, "eleme": 33}
    assert total.waste_cost == 6

    # A back-dated waste in the closed month: read from the days until recomputed.
    services.consume(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D(1),
        reason="waste",
        key="w2",
        actor=SYSTEM,
        occurred_at=_noon(site, last + dt.timedelta(days=5)),
    )
    dispatch_outbox()
    assert StoreMonthDirty.objects.exists()
    assert measures([site], date_from, date_to, currency="CNY")[None].waste_cost == 8
    months.refresh_dirty()
    assert measures([site], date_from, date_to, currency="CNY")[None].waste_cost == 8
