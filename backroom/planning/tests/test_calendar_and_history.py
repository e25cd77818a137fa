"""The planning calendar's writes (every problem at once, audited, scoped), the daily history
and features built from the rollups, and ingredient demand through the recipes (golden)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from backroom.audit.models import AuditEntry
from backroom.catalog.models import Item
from backroom.channels import intake
from backroom.channels.tests.conftest import placed
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import NotFound, PermissionDenied, ValidationFailed
from backroom.planning import services
from backroom.planning.models import DemandForecast, ForecastRun, Holiday, PlannedEvent
from backroom.planning.tests.conftest import sold
from backroom.testing.factories import make_user

MONDAY = dt.date(2026, 11, 2)


def test_holiday_checks_every_field_at_once_and_changes_nothing(tree):
    planner = make_user("hq_operations", tree.group)
    with pytest.raises(ValidationFailed) as caught:
        services.save_holiday(planner, country="China", date=MONDAY, name=" ")
    assert set(caught.value.errors) == {"country", "name"}
    assert not Holiday.objects.exists()


def test_holiday_saved_once_per_day_and_audited(tree):
    planner = make_user("hq_operations", tree.group)
    services.save_holiday(planner, country="cn", date=MONDAY, name="Festival")
    again = services.save_holiday(
        planner, country="CN", date=MONDAY, name="Festival day", closes_stores=True
    )
    assert Holiday.objects.count() == 1
    assert (again.country, again.name, again.closes_stores) == ("CN", "Festival day", True)
    actions = list(AuditEntry.objects.values_list("action", flat=True))
    assert actions.count("planning.holiday.created") == 1
    assert actions.count("planning.holiday.updated") == 1


def test_store_manager_plans_only_their_store(tree, menu):
    manager = make_user("store_manager", tree.store_a)
    services.save_event(
        manager, site=tree.store_a.site, date=MONDAY, menu_item=menu.noodles, quantity="30"
    )
    with pytest.raises(NotFound):  # store B is not theirs to see
        services.save_event(
            manager, site=tree.store_b.site, date=MONDAY, menu_item=menu.noodles, quantity="30"
        )
    with pytest.raises((PermissionDenied, NotFound)):  # a country-wide day is HQ's to set
        services.save_holiday(manager, country="CN", date=MONDAY, name="Not theirs")
    assert PlannedEvent.objects.count() == 1


def test_event_and_promotion_refuse_bad_input_all_at_once(tree, menu):
    planner = make_user("hq_operations", tree.group)
    with pytest.raises(ValidationFailed) as caught:
        services.save_event(
            planner, site=tree.store_a.site, date=MONDAY, menu_item=menu.flour, quantity="-2"
        )
    assert set(caught.value.errors) == {"quantity", "menu_item"}
    with pytest.raises(ValidationFailed) as caught:
        services.save_promotion(
            planner,
            node=tree.region,
            name="",
            date_from=MONDAY,
            date_to=MONDAY - dt.timedelta(days=1),
        )
    assert set(caught.value.errors) == {"name", "date_to"}


def test_history_fills_days_without_sales_and_marks_the_calendar(tree, menu):
    site = tree.store_a.site
    planner = make_user("hq_operations", tree.group)
    sold(site, menu.noodles.pk, MONDAY, 10)
    sold(site, menu.noodles.pk, MONDAY + dt.timedelta(days=3), 4)
    sold(site, None, MONDAY, 25)
    services.save_holiday(planner, country="CN", date=MONDAY + dt.timedelta(days=1), name="Holiday")
    services.save_closure(
        planner,
        site=site,
        date_from=MONDAY + dt.timedelta(days=2),
        date_to=MONDAY + dt.timedelta(days=2),
    )
    services.save_promotion(
        planner,
        node=tree.region,
        name="Noodle week",
        date_from=MONDAY + dt.timedelta(days=3),
        date_to=MONDAY + dt.timedelta(days=9),
        menu_item=menu.noodles,
    )
    history = services.sales_history([site], until=MONDAY + dt.timedelta(days=4), days=30)
    noodles = services.series_id(site.pk, menu.noodles.pk)
    rows = [row for row in history.rows if row[0] == noodles]
    # (series, day, sold, open, holiday, promo) from the first sale to `until`
    assert [row[1:] for row in rows] == [
        (MONDAY, 10.0, 1, 0, 0),
        (MONDAY + dt.timedelta(days=1), 0.0, 1, 1, 0),
        (MONDAY + dt.timedelta(days=2), 0.0, 0, 0, 0),
        (MONDAY + dt.timedelta(days=3), 4.0, 1, 0, 1),
        (MONDAY + dt.timedelta(days=4), 0.0, 1, 0, 1),
    ]
    guests = [row for row in history.rows if row[0] == services.series_id(site.pk, None)]
    assert guests[0][2] == 25.0 and all(row[5] == 0 for row in guests)  # promos are per item
    future = services.future_features(
        [site], [noodles], start=MONDAY + dt.timedelta(days=5), horizon=7
    )
    assert list(future.promo) == [1, 1, 1, 1, 1, 0, 0]
    # Store B has no sales: no series.
    assert not any(row[0].startswith(f"{tree.store_b.site.pk}/") for row in history.rows)


def test_regional_holiday_reaches_only_the_region(tree):
    planner = make_user("hq_operations", tree.group)
    services.save_holiday(planner, country="CN", date=MONDAY, name="Local", node=tree.store_a)
    services.save_holiday(planner, country="HK", date=MONDAY, name="HK day", closes_stores=True)
    stores = [tree.store_a.site, tree.store_b.site, tree.store_hk.site]
    calendar = services.store_calendar(stores, MONDAY, MONDAY)
    assert calendar.features(tree.store_a.site.pk, None, MONDAY) == (1, 1, 0)
    assert calendar.features(tree.store_b.site.pk, None, MONDAY) == (1, 0, 0)
    assert calendar.features(tree.store_hk.site.pk, None, MONDAY) == (0, 1, 0)


def test_ingredient_demand_explodes_forecast_and_events_with_the_modifier_mix(tree, menu):
    """Golden numbers. A bowl of NOODLES: FLOUR 0.2 kg, SALT 0.0025 kg, BEEF 0.1 kg; "extra
    beef" adds 0.05 kg BEEF. Recent sales: 3 plain bowls and 1 with extra beef (a quarter).
    Tomorrow: 10 bowls forecast + a catering order of 2 = 12 bowls →
    FLOUR 2.4, SALT 0.03, BEEF 12 × 0.1 + 12 × ¼ × 0.05 = 1.35."""
    site = tree.store_a.site
    intake.apply_event(menu.own_app, placed("P1", lines=[("NOODLES", "3")], status="completed"))
    intake.apply_event(
        menu.own_app,  # a till sends our own modifier codes
        placed("P2", lines=[("NOODLES", "1")], status="completed", modifiers=("extra-beef",)),
    )
    from backroom.channels.models import Order

    today = Order.objects.get(external_id="P1").business_date
    tomorrow = today + dt.timedelta(days=1)
    run = ForecastRun.objects.create(started_at=dt.datetime.now(dt.UTC), as_of=today, horizon=1)
    DemandForecast.objects.create(
        run=run, site=site, menu_item=menu.noodles, date=tomorrow, quantity=Decimal(10), model="t"
    )
    services.save_event(SYSTEM, site=site, date=tomorrow, menu_item=menu.noodles, quantity="2")
    demand = services.ingredient_demand(site, tomorrow, tomorrow)
    skus = dict(Item.objects.filter(pk__in=demand).values_list("pk", "sku"))
    assert {skus[pk]: quantity for pk, quantity in demand.items()} == {
        "FLOUR": Decimal("2.4"),
        "SALT": Decimal("0.03"),
        "BEEF": Decimal("1.35"),
    }
