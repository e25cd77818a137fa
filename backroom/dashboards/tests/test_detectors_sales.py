"""`sales_drop`: a store's sales against what it usually has by that point of its expected day,
the threshold read from the store's own ratios (a steady store alerts on a drop a volatile one
makes every other week); repeats group on one alert."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from backroom.catalog.selectors import site_today
from backroom.channels import history
from backroom.channels.choices import OrderStatus
from backroom.channels.platforms.base import CanonicalOrder, LineIn
from backroom.channels.tests.conftest import menu  # noqa: F401 (fixture)
from backroom.dashboards import detectors
from backroom.dashboards.detectors import DayPoint
from backroom.dashboards.models import Alert, ForecastDay
from backroom.events.models import OutboxEvent
from backroom.kernel.actors import SYSTEM

pytestmark = pytest.mark.django_db

D = Decimal
ZONE = ZoneInfo("Asia/Shanghai")


def _order(key: str, day: dt.date, hour: int, amount: Decimal) -> CanonicalOrder:
    """One till order of TEA worth `amount`, placed at hh:15 local on `day`."""
    return CanonicalOrder(
        external_id=key,
        display_id=key,
        store_ref="x",
        placed_at=dt.datetime(day.year, day.month, day.day, hour, 15, tzinfo=ZONE),
        status=OrderStatus.COMPLETED,
        lines=(LineIn(1, "TEA", "Tea", D(1), amount),),
        total=amount,
    )


def _history(account, day_totals: dict[dt.date, Decimal], today: dt.date) -> None:
    """Each day's sales as a lunch order (40 %) at 12:15 and a dinner order (60 %) at 19:15."""
    orders = []
    for day, total in sorted(day_totals.items()):
        lunch = (total * D("0.4")).quantize(D("0.01"))
        if lunch:
            orders.append(_order(f"{account.pk}-{day}-L", day, 12, lunch))
        if total - lunch:
            orders.append(_order(f"{account.pk}-{day}-D", day, 19, total - lunch))
    history.import_history(account, orders, actor=SYSTEM, today=today)


def _steady(day: dt.date, last: Decimal) -> dict[dt.date, Decimal]:
    """1,000 every day for 56 days, then `last` on `day`."""
    totals = {day - dt.timedelta(days=n): D(1000) for n in range(1, 57)}
    return totals | {day: last}


def _volatile(day: dt.date, last: Decimal) -> dict[dt.date, Decimal]:
    """600 one week, 1,400 the next (the same weekday's mean is always 1,000), then `last`."""
    totals = {
        day - dt.timedelta(days=n): D(600) if (n // 7) % 2 == 0 else D(1400) for n in range(1, 57)
    }
    return totals | {day: last}


@pytest.fixture
def yesterday(tree, menu):  # noqa: F811
    return site_today(tree.store_a.site) - dt.timedelta(days=1)


def _whole_day(site, day):
    return detectors.detect_sales_drop(site, day=day, point=DayPoint(24))


def test_a_normal_day_raises_nothing(tree, menu, yesterday):  # noqa: F811
    _history(menu.pos, _steady(yesterday, D(900)), site_today(tree.store_a.site))
    assert _whole_day(tree.store_a.site, yesterday) is None
    assert not Alert.objects.exists()


def test_a_collapsed_day_raises_one_alert_with_its_figures_and_reruns_group(
    tree,
    menu,  # noqa: F811
    yesterday,
):
    site = tree.store_a.site
    _history(menu.pos, _steady(yesterday, D(400)), site_today(site))
    now = timezone.now()
    alert, is_new = _whole_day(site, yesterday)
    assert is_new
    assert (alert.detector, alert.site, alert.node, alert.severity, alert.fingerprint) == (
        "sales_drop",
        site,
        tree.store_a,
        "warning",
        f"day:{yesterday.isoformat()}",
    )
    details = alert.details
    assert {
        key: details[key]
        for key in (
            "expected_day",
            "expected_day_source",
            "expected",
            "actual",
            "ratio",
            "median_ratio",
            "mad_ratio",
            "threshold_ratio",
            "history_days",
            "share_of_day",
            "whole_day",
        )
    } == {
        "expected_day": "1000.00",
        "expected_day_source": "same_weekday",
        "expected": "1000.00",
        "actual": "400.00",
        "ratio": "0.4000",
        "median_ratio": "1.0000",
        "mad_ratio": "0.0000",
        "threshold_ratio": "0.7000",  # a steady store: the 30 % floor
        "history_days": 28,
        "share_of_day": "1.0000",
        "whole_day": True,
    }
    assert details["expected_day_basis"] == [
        (yesterday - dt.timedelta(days=7 * week)).isoformat() for week in range(1, 5)
    ]
    assert details["history_from"] == (yesterday - dt.timedelta(days=28)).isoformat()
    assert "400.00" in alert.title and "40 %" in alert.title
    assert OutboxEvent.objects.filter(event_type="dashboards.alert.raised").count() == 1
    # The nightly job over every store: the same condition again is grouped, store B is quiet.
    assert detectors.detect_sales_drops_yesterday(now=now) == 1
    alert.refresh_from_db()
    assert (Alert.objects.count(), alert.occurrences) == (1, 2)
    assert OutboxEvent.objects.filter(event_type="dashboards.alert.raised").count() == 1


def test_far_below_is_critical(tree, menu, yesterday):  # noqa: F811
    _history(menu.pos, _steady(yesterday, D(300)), site_today(tree.store_a.site))
    alert, _new = _whole_day(tree.store_a.site, yesterday)
    assert (alert.severity, alert.details["ratio"]) == ("critical", "0.3000")  # < 0.7 / 2


def test_a_volatile_store_has_a_lower_bound_of_its_own(tree, menu, yesterday):  # noqa: F811
    today = site_today(tree.store_a.site)
    _history(menu.pos, _steady(yesterday, D(400)), today)
    _history(menu.pos_b, _volatile(yesterday, D(400)), today)
    assert _whole_day(tree.store_a.site, yesterday) is not None
    # Store B sells 60 % of the expected every other week: 40 % is within its own range.
    assert _whole_day(tree.store_b.site, yesterday) is None
    assert list(Alert.objects.values_list("site", flat=True)) == [tree.store_a.site.pk]


def test_a_volatile_store_alerts_below_its_own_bound(tree, menu, yesterday):  # noqa: F811
    _history(menu.pos_b, _volatile(yesterday, D(150)), site_today(tree.store_b.site))
    alert, _new = _whole_day(tree.store_b.site, yesterday)
    # Median ratio 1.0, MAD 0.4 (σ 0.593): 3σ is more than the 80 % cap, so 0.2.
    assert (alert.details["median_ratio"], alert.details["mad_ratio"]) == ("1.0000", "0.4000")
    assert alert.details["threshold_ratio"] == "0.2000"
    assert (alert.details["ratio"], alert.severity) == ("0.1500", "warning")


def test_the_forecast_is_the_expected_day_when_there_is_one(tree, menu, yesterday):  # noqa: F811
    site = tree.store_a.site
    _history(menu.pos, _steady(yesterday, D(800)), site_today(site))
    ForecastDay.objects.create(
        site=site, business_date=yesterday, currency="CNY", gross=D(2000), guests=D(0)
    )
    alert, _new = _whole_day(site, yesterday)
    assert (alert.details["expected_day_source"], alert.details["expected"]) == (
        "forecast",
        "2000.00",
    )
    assert alert.details["ratio"] == "0.4000"


def test_the_day_so_far_against_the_share_usually_reached_by_this_hour(tree, menu, yesterday):  # noqa: F811
    """At 15:00 the store usually has its lunch: 40 % of the day. Only 100 of the 400 expected
    by then is critical (the job runs every 15 minutes; a repeat is grouped)."""
    site = tree.store_a.site
    totals = _steady(yesterday, D(0))
    del totals[yesterday]
    _history(menu.pos, totals, site_today(site))
    history.import_history(
        menu.pos, [_order("today-1", yesterday, 12, D(100))], actor=SYSTEM, today=site_today(site)
    )
    at_three = dt.datetime(yesterday.year, yesterday.month, yesterday.day, 15, tzinfo=ZONE)
    assert detectors.day_point(site, at_three) == (yesterday, DayPoint(11, D("0.0000")))
    assert detectors.detect_sales_drops_now(now=at_three) == 1
    alert = Alert.objects.get()
    assert {
        key: alert.details[key]
        for key in (
            "through",
            "share_of_day",
            "expected",
            "actual",
            "ratio",
            "threshold_ratio",
            "whole_day",
        )
    } == {
        "through": "15:00",
        "share_of_day": "0.4000",
        "expected": "400.00",
        "actual": "100.00",
        "ratio": "0.2500",
        "threshold_ratio": "0.7000",
        "whole_day": False,
    }
    assert alert.severity == "critical"
    assert detectors.detect_sales_drops_now(now=at_three + dt.timedelta(minutes=15)) == 1
    alert.refresh_from_db()
    assert (Alert.objects.count(), alert.occurrences) == (1, 2)
    # Too early in the day (under 15 % of it behind us): nothing to say yet.
    at_nine = dt.datetime(yesterday.year, yesterday.month, yesterday.day, 9, tzinfo=ZONE)
    assert (
        detectors.detect_sales_drop(
            site, day=yesterday, point=detectors.day_point(site, at_nine)[1]
        )
        is None
    )


def test_stores_without_sales_today_or_history_are_not_judged(tree, menu, yesterday):  # noqa: F811
    at_three = dt.datetime(yesterday.year, yesterday.month, yesterday.day, 15, tzinfo=ZONE)
    assert detectors.detect_sales_drops_now(now=at_three) == 0
    # A few days of history are not enough to know what is normal.
    days = {yesterday - dt.timedelta(days=n): D(1000) for n in range(1, 8)} | {yesterday: D(10)}
    _history(menu.pos, days, site_today(tree.store_a.site))
    assert _whole_day(tree.store_a.site, yesterday) is None
    assert not Alert.objects.exists()
