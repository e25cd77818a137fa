"""`waste_spike` and `variance_spike`: a store-day's waste (recorded through the waste
services) and count losses against the same store's own days; a volatile store's threshold is
its own; re-runs group."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from backroom.dashboards import detectors
from backroom.dashboards.models import Alert
from backroom.events.services import dispatch_outbox
from backroom.inventory import services
from backroom.inventory.services import WasteLineInput
from backroom.kernel.actors import SYSTEM
from backroom.kernel.dates import business_date, business_day_bounds
from backroom.testing.factories import make_user

pytestmark = pytest.mark.django_db

D = Decimal


def _today(site) -> dt.date:
    return business_date(timezone.now(), time_zone=site.time_zone, cutoff_hour=site.cutoff_hour)


def _at(site, day: dt.date, hour: int = 12) -> dt.datetime:
    start, _end = business_day_bounds(day, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour)
    return start + dt.timedelta(hours=hour - site.cutoff_hour)


class Waste:
    """Flour at 2.50 a kg, 2,000 kg received 28 days before `day` at a location; waste of a
    value on any day through `create_waste` (documents of at most 150.00: no approval)."""

    def __init__(self, stock, location, day: dt.date) -> None:
        self.stock, self.location, self.site = stock, location, location.site
        self.manager = make_user("store_manager", self.site.node)
        self.day = day
        services.receive(
            item=stock.flour,
            location=location,
            quantity=D(2000),
            unit_cost=D("2.5"),
            key=f"open-{location.pk}",
            actor=SYSTEM,
            occurred_at=_at(self.site, day - dt.timedelta(days=28), hour=9),
        )

    def waste(self, day: dt.date, value: Decimal) -> None:
        left = value
        while left > 0:
            part = min(left, D(150))
            services.create_waste(
                self.site,
                [
                    WasteLineInput(
                        item_id=self.stock.flour.pk,
                        location_id=self.location.pk,
                        quantity=part / D("2.5"),
                        reason="spoiled",
                    )
                ],
                actor=self.manager,
                occurred_at=_at(self.site, day),
            )
            left -= part

    def history(self, value_of) -> None:
        for n in range(1, 29):
            value = value_of(n)
            if value:
                self.waste(self.day - dt.timedelta(days=n), value)


@pytest.fixture
def yesterday(stock):
    return _today(stock.walk_in.site) - dt.timedelta(days=1)


def _detect(site, day, detector="waste_spike"):
    dispatch_outbox()  # the worker rolls the postings up into the stock days
    return detectors.detect_stock_spike(site, day=day, detector=detector)


def test_a_normal_day_of_waste_raises_nothing(stock, yesterday):
    store = Waste(stock, stock.walk_in, yesterday)
    store.history(lambda n: D(50))
    store.waste(yesterday, D(100))
    assert _detect(store.site, yesterday) is None
    assert not Alert.objects.exists()


def test_a_waste_spike_raises_one_alert_with_its_documents_and_reruns_group(stock, yesterday):
    store = Waste(stock, stock.walk_in, yesterday)
    store.history(lambda n: D(50))
    store.waste(yesterday, D(300))
    alert, is_new = _detect(store.site, yesterday)
    assert is_new
    assert (alert.detector, alert.site, alert.severity, alert.fingerprint) == (
        "waste_spike",
        store.site,
        "critical",  # above median + 2 × (threshold − median) = 190
        f"day:{yesterday.isoformat()}",
    )
    details = alert.details
    # Median 50 a day, MAD 0: the scale is the 20.00 floor (over 25 % of 50), 50 + 3.5 × 20.
    assert {key: details[key] for key in ("actual", "median", "mad", "threshold", "robust_z")} == {
        "actual": "300.00",
        "median": "50.00",
        "mad": "0.00",
        "threshold": "120.00",
        "robust_z": "12.50",
    }
    assert (details["history_days"], details["history_from"], details["history_to"]) == (
        28,
        (yesterday - dt.timedelta(days=28)).isoformat(),
        (yesterday - dt.timedelta(days=1)).isoformat(),
    )
    documents = details["waste_documents"]
    assert [document["value"] for document in documents] == ["150.0000", "150.0000"]
    assert reverse(documents[0]["page"], args=[documents[0]["id"]]) == (
        f"/stock/waste/{documents[0]['id']}/"
    )
    assert "300.00" in alert.title
    # The nightly job again: grouped on the open alert, nothing new (store B has no waste).
    assert detectors.detect_stock_spikes() == 1
    alert.refresh_from_db()
    assert (Alert.objects.count(), alert.occurrences) == (1, 2)


def test_a_volatile_store_has_its_own_waste_threshold(stock, yesterday):
    steady = Waste(stock, stock.walk_in, yesterday)
    steady.history(lambda n: D(50))
    steady.waste(yesterday, D(300))
    volatile = Waste(stock, stock.freezer_b, yesterday)
    volatile.history(lambda n: D(100) if n % 2 else D(0))  # 0 one day, 100 the next
    volatile.waste(yesterday, D(300))
    assert _detect(steady.site, yesterday) is not None
    # Median 50, MAD 50 (σ 74.13): 50 + 3.5 × 74.13 = 309.46, so 300 is within its range.
    assert _detect(volatile.site, yesterday) is None
    volatile.waste(yesterday, D(50))
    alert, _new = _detect(volatile.site, yesterday)
    assert (alert.details["threshold"], alert.details["actual"], alert.severity) == (
        "309.46",
        "350.00",
        "warning",
    )


def test_too_little_history_or_too_small_an_amount_says_nothing(stock, yesterday):
    store = Waste(stock, stock.walk_in, yesterday)
    for n in range(1, 6):
        store.waste(yesterday - dt.timedelta(days=n), D(5))
    store.waste(yesterday, D(150))
    # 28 days since its first day but waste of 150 against 5 a day: under the 200 minimum.
    assert _detect(store.site, yesterday) is None


def _adjust(stock, day, loss: Decimal, key: str) -> None:
    services.adjust(
        item=stock.flour,
        location=stock.walk_in,
        quantity=-loss / D("2.5"),
        key=key,
        actor=SYSTEM,
        occurred_at=_at(stock.walk_in.site, day, hour=22),
    )


def test_a_count_variance_spike_against_the_stores_earlier_counts(stock, yesterday):
    store = Waste(stock, stock.walk_in, yesterday)
    # Weekly counts losing 20, 25, 30 and 25: median 25, MAD 2.50; the scale is the 20 floor.
    for weeks, loss in ((4, D(20)), (3, D(25)), (2, D(30)), (1, D(25))):
        _adjust(stock, yesterday - dt.timedelta(days=7 * weeks), loss, f"count-{weeks}")
    _adjust(stock, yesterday, D(90), "count-normal")
    assert _detect(store.site, yesterday, "variance_spike") is None
    _adjust(stock, yesterday, D(160), "count-more")
    alert, is_new = _detect(store.site, yesterday, "variance_spike")
    assert is_new and alert.detector == "variance_spike"
    assert {
        key: alert.details[key]
        for key in ("actual", "median", "mad", "threshold", "history_days", "count_sheets")
    } == {
        "actual": "250.00",
        "median": "25.00",
        "mad": "2.50",
        "threshold": "95.00",
        "history_days": 4,
        "count_sheets": [],
    }
    assert alert.severity == "critical"  # above 25 + 2 × 70
    again = detectors.detect_stock_spike(store.site, day=yesterday, detector="variance_spike")
    assert again[0].pk == alert.pk and not again[1]
    # Waste was not unusual that day: no waste alert.
    assert list(Alert.objects.values_list("detector", flat=True)) == ["variance_spike"]


def test_a_first_count_has_no_earlier_counts_to_compare_with(stock, yesterday):
    store = Waste(stock, stock.walk_in, yesterday)
    _adjust(stock, yesterday - dt.timedelta(days=7), D(20), "count-1")
    _adjust(stock, yesterday, D(500), "count-2")
    assert _detect(store.site, yesterday, "variance_spike") is None
