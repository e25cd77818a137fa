"""The store's "today" page, its API twin and the hourly export: the security matrix (anonymous,
no permission, another store's manager: 404 and nothing of the store leaked), the golden
numbers as each of them shows them, the HTMX refresh, the store picker and the home-page link."""

from __future__ import annotations

import csv
import io

import pytest

from backroom.channels.tests import conftest as channels_tests
from backroom.dashboards.tests.today_data import at, forecast, history, till_sale
from backroom.kernel import clock
from backroom.testing.factories import client_for, make_user
from backroom.testing.matrix import assert_matrix

pytestmark = pytest.mark.django_db

menu = channels_tests.menu
QUERY_BUDGET = 35  # 28 when written


@pytest.fixture
def golden(tree, menu):
    """Store A at 12:30 on DAY: 300 sold (11h: 200, 12h: 100) against 1,200 forecast."""
    history(menu)
    forecast(menu, tree.store_a.site)
    till_sale(menu, at(11, 10))
    till_sale(menu, at(11, 40))
    till_sale(menu, at(12, 15))
    with clock.at(at(12, 30)):
        yield tree.store_a.site


def _callers(tree):
    return {
        "allowed": make_user("store_manager", tree.store_a),
        "forbidden": make_user("technician", tree.region),
        "other_scope": make_user("store_manager", tree.store_b),
    }


def test_page_matrix_and_golden_content(tree, golden):
    callers = _callers(tree)
    result = assert_matrix("GET", f"/dashboards/today/?site={golden.pk}", **callers)
    page = result.allowed.content.decode()
    assert 'data-testid="today-chart"' in page
    assert 'data-testid="today-gross">300 ' in page
    assert 'data-value="-0.2000"' in page  # 300 against 375 expected by 12:30
    assert 'id="today-chart-data"' in page and '"expected": "450.00"' in page
    assert 'data-testid="today-updated"' in page and ">12:30</time>" in page
    # Another store's manager learns nothing about store A.
    leaked = result.other_scope.content.decode()
    assert golden.node.name not in leaked and "today-chart" not in leaked


def test_the_page_opens_on_the_users_store_and_refreshes_its_body(tree, golden):
    manager = client_for(make_user("store_manager", tree.store_a))
    page = manager.get("/dashboards/today/")
    assert page.status_code == 200
    body = page.content.decode()
    assert golden.node.name in body
    assert f'hx-get="/dashboards/today/?site={golden.pk}"' in body
    assert 'hx-trigger="every 180s"' in body
    assert "today-store" not in body  # one store: no picker
    fragment = manager.get(f"/dashboards/today/?site={golden.pk}", HTTP_HX_REQUEST="true")
    text = fragment.content.decode()
    assert text.lstrip().startswith('<div id="today-body"')
    assert "<html" not in text and 'data-testid="today-gross">300 ' in text


def test_a_region_manager_picks_a_store(tree, golden):
    region = client_for(make_user("region_manager", tree.region))
    page = region.get("/dashboards/today/").content.decode()
    assert 'data-testid="today-store"' in page
    assert tree.store_a.name in page and tree.store_b.name in page
    other = region.get(f"/dashboards/today/?site={tree.store_b.site.pk}").content.decode()
    assert 'data-testid="today-gross">0 ' in other
    # The HK store is not in the East region: not found.
    assert region.get(f"/dashboards/today/?site={tree.store_hk.site.pk}").status_code == 404


def test_export_matrix_and_golden_rows(tree, golden):
    callers = _callers(tree)
    result = assert_matrix("GET", f"/dashboards/today/?site={golden.pk}&export=csv", **callers)
    assert result.allowed["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(result.allowed.content.decode("utf-8-sig"))))
    assert rows[0][:5] == ["Hour", "Orders", "Gross sales", "Net sales", "Expected (forecast)"]
    by_hour = {row[0]: row for row in rows[1:]}
    assert list(by_hour) == [f"{hour:02d}:00" for hour in range(11, 19)]
    assert by_hour["11:00"][1:5] == ["2", "200.00", "200.00", "150.00"]
    assert by_hour["18:00"][4:] == ["600.00", "300.00", "1200.00"]
    workbook = client_for(callers["allowed"]).get(
        f"/dashboards/today/?site={golden.pk}&export=xlsx"
    )
    assert workbook.status_code == 200
    assert workbook["Content-Disposition"].endswith('.xlsx"')


def test_api_matrix_and_golden_numbers(tree, golden):
    callers = _callers(tree)
    result = assert_matrix("GET", f"/api/v1/dashboards/stores/{golden.pk}/today", **callers)
    data = result.allowed.json()
    assert (data["site_id"], data["store_code"], data["business_date"]) == (
        golden.pk,
        "SHA001",
        "2026-12-03",
    )
    assert data["now"].startswith("2026-12-03T12:30:00") and data["now"].endswith("+08:00")
    sales = data["sales"]
    assert (sales["forecast_source"], sales["orders"]) == ("forecast", 3)
    assert float(sales["gross"]) == 300 and float(sales["expected_by_now"]) == 375
    hours = {row["hour"]: row for row in sales["hours"]}
    assert float(hours[12]["expected"]) == 450 and hours[12]["is_current"] is True
    assert {card["code"] for card in sales["kpis"]} >= {"sales", "orders", "average_ticket"}
    assert data["approvals"]["count"] == 0 and data["alerts"]["count"] == 0
    # Another store's manager gets not_found and nothing of the store.
    assert "SHA001" not in result.other_scope.content.decode()


def test_a_store_manager_finds_today_from_home_and_the_menu(tree):
    manager = client_for(make_user("store_manager", tree.store_a))
    home = manager.get("/").content.decode()
    assert (
        f'href="/dashboards/today/?site={tree.store_a.site.pk}" data-testid="store-today"' in home
    )
    assert 'href="/dashboards/today/"' in home  # the navigation entry
    staff = client_for(make_user("store_staff", tree.store_a))
    assert "store-today" not in staff.get("/").content.decode()


def test_the_page_reads_a_bounded_number_of_queries(tree, golden, django_assert_max_num_queries):
    manager = client_for(make_user("store_manager", tree.store_a))
    manager.get(f"/dashboards/today/?site={golden.pk}")  # warm the caches (nav, roles)
    # Each section is a few grouped queries, whatever the number of hours, rows or days.
    with django_assert_max_num_queries(QUERY_BUDGET):
        assert manager.get(f"/dashboards/today/?site={golden.pk}").status_code == 200
