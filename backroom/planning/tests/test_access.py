"""Every planning endpoint and page as anonymous / without permission / another store's user /
with permission; denied requests change nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.test import Client
from django.utils import timezone

from backroom.planning.models import DemandForecast, ForecastRun, Holiday, PlannedEvent
from backroom.testing.factories import make_user
from backroom.testing.matrix import assert_matrix

DAY = dt.date(2026, 12, 10)


def _forecast(site, item, quantity="12"):
    run = ForecastRun.objects.create(
        started_at=dt.datetime.now(dt.UTC), as_of=DAY - dt.timedelta(days=1), horizon=7
    )
    DemandForecast.objects.create(
        run=run, site=site, menu_item=item, date=DAY, quantity=Decimal(quantity), model="lgbm"
    )
    return run


def _callers(tree):
    return {
        "allowed": make_user("store_manager", tree.store_a),
        "forbidden": make_user("technician", tree.region),
        "other_scope": make_user("store_manager", tree.store_b),
    }


def test_forecast_api_matrix(tree, menu):
    site = tree.store_a.site
    _forecast(site, menu.noodles)
    result = assert_matrix(
        "GET",
        f"/api/v1/planning/forecasts?store_id={site.pk}&date_from={DAY}&date_to={DAY}",
        expect_forbidden=404,
        **_callers(tree),
    )
    items = result.allowed.json()["items"]
    assert [(row["menu_item_id"], row["quantity"], row["model"]) for row in items] == [
        (menu.noodles.pk, "12.000000", "lgbm")
    ]


def test_planned_event_api_matrix(tree, menu):
    site = tree.store_a.site
    result = assert_matrix(
        "POST",
        "/api/v1/planning/events",
        payload={
            "store_id": site.pk,
            "date": str(DAY),
            "menu_item_id": menu.noodles.pk,
            "quantity": "40",
            "note": "Wedding",
        },
        expect_allowed=201,
        expect_forbidden=404,
        snapshot=lambda: list(PlannedEvent.objects.values_list("pk")),
        **_callers(tree),
    )
    assert result.allowed.json()["note"] == "Wedding"
    assert PlannedEvent.objects.get().quantity == Decimal(40)


def test_planned_event_api_reports_every_problem(tree, menu):
    from backroom.testing.factories import client_for

    client = client_for(make_user("store_manager", tree.store_a))
    response = client.post(
        "/api/v1/planning/events",
        {
            "store_id": tree.store_a.site.pk,
            "date": str(DAY),
            "menu_item_id": menu.flour.pk,
            "quantity": "1",
        },
        content_type="application/json",
    )
    assert response.status_code == 422
    assert set(response.json()["details"]["fields"]) == {"menu_item"}
    assert not PlannedEvent.objects.exists()


def test_holiday_api_needs_hq(tree):
    result = assert_matrix(
        "POST",
        "/api/v1/planning/holidays",
        payload={"country": "CN", "date": str(DAY), "name": "Festival", "closes_stores": True},
        allowed=make_user("hq_operations", tree.group),
        forbidden=make_user("technician", tree.group),
        other_scope=None,
        expect_allowed=201,
        snapshot=lambda: list(Holiday.objects.values_list("pk")),
    )
    assert result.allowed.json()["closes_stores"] is True


def test_forecast_page_matrix_and_content(tree, menu):
    site = tree.store_a.site
    _forecast(site, menu.noodles)
    ForecastRun.objects.update(status="done", finished_at=dt.datetime.now(dt.UTC))
    result = assert_matrix(
        "GET",
        f"/planning/?store={site.pk}",
        **_callers(tree),
    )
    body = result.allowed.content.decode()
    assert 'data-sku="NOODLES"' in body and ">12<" in body


def test_calendar_page_add_event_matrix(tree, menu):
    site = tree.store_a.site
    assert_matrix("GET", "/planning/calendar/", expect_other_scope=200, **_callers(tree))
    result = assert_matrix(
        "POST",
        "/planning/calendar/event/",
        payload={
            "store": site.pk,
            "date": str(DAY),
            "menu_item": menu.noodles.pk,
            "quantity": "25",
        },
        expect_allowed=302,
        expect_forbidden=403,
        snapshot=lambda: list(PlannedEvent.objects.values_list("pk")),
        **_callers(tree),
    )
    assert result.allowed["Location"].endswith("/planning/calendar/")
    assert PlannedEvent.objects.get().quantity == Decimal(25)


def test_calendar_page_shows_every_problem(tree, menu):
    from backroom.testing.factories import client_for

    client = client_for(make_user("store_manager", tree.store_a))
    response = client.post(
        "/planning/calendar/event/",
        {"store": tree.store_a.site.pk, "date": "", "menu_item": menu.noodles.pk, "quantity": "x"},
        follow=True,
    )
    assert "Enter a date." in response.content.decode()
    assert not PlannedEvent.objects.exists()


def test_the_default_period_starts_on_the_stores_business_day(tree, menu, monkeypatch):
    """01:00 on 2 June in Shanghai is still the store's 1 June (its day ends at 04:00), and
    already 1 June in UTC: the forecasts listed by default are those of 1–14 June."""
    site = tree.store_a.site
    run = ForecastRun.objects.create(
        started_at=dt.datetime.now(dt.UTC), as_of=dt.date(2027, 5, 30), horizon=28
    )
    for day in (
        dt.date(2027, 5, 31),
        dt.date(2027, 6, 1),
        dt.date(2027, 6, 14),
        dt.date(2027, 6, 15),
    ):
        DemandForecast.objects.create(
            run=run, site=site, menu_item=menu.noodles, date=day, quantity=Decimal(5), model="lgbm"
        )
    instant = dt.datetime(2027, 6, 1, 17, 0, tzinfo=dt.UTC)
    monkeypatch.setattr(timezone, "now", lambda: instant)
    client = Client()
    client.force_login(make_user("store_manager", tree.store_a))
    response = client.get(f"/api/v1/planning/forecasts?store_id={site.pk}")
    assert response.status_code == 200
    assert [row["date"] for row in response.json()["items"]] == ["2027-06-01", "2027-06-14"]
