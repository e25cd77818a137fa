"""The sales API and page: permission matrices (anonymous / no permission / permission / other
store; denials change nothing) and what they show for the golden day of test_rollups."""

from __future__ import annotations

import pytest

from backroom.channels.models import SalesDay, SalesItemDay
from backroom.channels.tests.conftest import D
from backroom.channels.tests.test_rollups import DAY, day  # noqa: F401  (fixture)
from backroom.testing.factories import make_user
from backroom.testing.matrix import assert_matrix, client_of

pytestmark = pytest.mark.django_db


def world():
    return (
        list(SalesDay.objects.values_list("site_id", "orders", "net").order_by("pk")),
        list(SalesItemDay.objects.values_list("menu_item_id", "quantity").order_by("pk")),
    )


def test_sales_api_matrix_and_numbers(day, tree):  # noqa: F811
    store = day.pos.site_id
    result = assert_matrix(
        "GET",
        f"/api/v1/channels/sales?store_id={store}&date_from={DAY}",
        allowed=make_user("store_manager", tree.store_a),
        forbidden=make_user("store_staff", tree.store_a),  # sees orders, not sales figures
        other_scope=make_user("store_manager", tree.store_b),
        snapshot=world,
    )
    body = result.allowed.json()
    assert (body["store_id"], body["date_from"], body["date_to"], body["currency"]) == (
        store,
        str(DAY),
        str(DAY),
        "CNY",
    )
    assert body["totals"]["orders"] == 3
    assert D(body["totals"]["net"]) == D("96.8")
    assert D(body["totals"]["commission"]) == D("4.16")
    assert [(row["channel"], row["orders"], D(row["net"])) for row in body["channels"]] == [
        ("meituan", 2, D("78.8")),
        ("pos", 1, D(18)),
    ]
    assert [(row["hour"], row["orders"], D(row["net"])) for row in body["hours"]] == [
        (12, 2, D("78.8")),
        (19, 1, D(18)),
    ]
    assert [(row["sku"], D(row["quantity"]), D(row["net"])) for row in body["top_items"]] == [
        ("NOODLES", D(5), D("82.4")),
        ("", D(1), D(9)),  # the unmapped bucket
        ("TEA", D(1), D("5.4")),
    ]
    assert body["top_items"][1]["item_id"] is None
    assert [(row["business_date"], row["orders"]) for row in body["days"]] == [(str(DAY), 3)]


def test_sales_api_bad_input(day, tree):  # noqa: F811
    client = client_of(make_user("store_manager", tree.store_a))
    store = day.pos.site_id
    response = client.get(
        f"/api/v1/channels/sales?store_id={store}&date_from={DAY}&date_to=2026-11-01"
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid"
    assert "date_to" in response.json()["details"]["fields"]
    response = client.get(f"/api/v1/channels/sales?store_id={store}")
    assert response.status_code == 422
    response = client.get(f"/api/v1/channels/sales?store_id={day.pos_b.site_id}&date_from={DAY}")
    assert response.status_code == 404


def test_sales_page_matrix_and_content(day, tree):  # noqa: F811
    url = f"/channels/sales/?store={day.pos.site_id}&date_from={DAY}&date_to={DAY}"
    result = assert_matrix(
        "GET",
        url,
        allowed=make_user("region_manager", tree.region),
        forbidden=make_user("store_staff", tree.store_a),
        other_scope=make_user("store_manager", tree.store_b),
        snapshot=world,
    )
    page = result.allowed.content.decode()
    assert 'data-testid="sales-orders">3<' in page
    assert page.count('data-testid="sales-channel"') == 2
    assert page.count('data-testid="sales-hour"') == 2
    assert page.count('data-testid="sales-item"') == 3
    assert 'data-item="unmapped"' in page
    # Store B's manager sees their own (empty) store by default.
    own = client_of(make_user("store_manager", tree.store_b)).get(
        f"/channels/sales/?date_from={DAY}"
    )
    assert own.status_code == 200
    assert 'data-testid="sales-empty"' in own.content.decode()


def test_navigation_shows_sales_only_with_the_permission(day, tree):  # noqa: F811
    manager = client_of(make_user("store_manager", tree.store_a)).get("/channels/sales/")
    staff = client_of(make_user("store_staff", tree.store_a)).get("/channels/board/")
    assert 'href="/channels/settlement/"' in manager.content.decode()
    assert 'href="/channels/sales/"' not in staff.content.decode()
