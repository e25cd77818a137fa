"""The HQ dashboard pages and API: who may see what (the matrix for every endpoint and page),
drill-down links, exports holding the page's numbers, bad input, and query counts that do not
grow with the number of stores."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from backroom.channels import services
from backroom.channels.choices import ChannelKind
from backroom.channels.tests.conftest import menu  # noqa: F401  (fixture)
from backroom.dashboards.kpis import KPIS
from backroom.dashboards.tests.hq_data import seed_day, till_sale
from backroom.kernel.actors import SYSTEM
from backroom.org.choices import NodeKind
from backroom.testing.exports import assert_same_table, csv_rows, xlsx_rows
from backroom.testing.factories import make_node, make_user
from backroom.testing.matrix import assert_matrix

pytestmark = pytest.mark.django_db

D = Decimal


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def people(tree):
    return {
        "hq": make_user("hq_operations", tree.group),
        "staff": make_user("store_staff", tree.store_a),  # alerts only: no dashboards.view
        "manager_b": make_user("store_manager", tree.store_b),
        "manager_a": make_user("store_manager", tree.store_a),
    }


def test_api_matrix(tree, people):
    site_a = tree.store_a.site
    today = timezone.localdate().isoformat()
    kpis = assert_matrix(
        "GET",
        "/api/v1/dashboards/kpis",
        allowed=people["hq"],
        forbidden=people["staff"],
        other_scope=None,
    )
    assert [row["code"] for row in kpis.allowed.json()] == list(KPIS)
    assert kpis.allowed.json()[0] == {
        "code": "sales",
        "label": "Sales",
        "unit": "money",
        "good": "up",
        "description": "Net sales (after merchant-borne discounts).",
    }
    for url in (
        f"/api/v1/dashboards/hq?node_id={tree.region.pk}",
        f"/api/v1/dashboards/hq?node_id={tree.store_a.pk}",
        f"/api/v1/dashboards/stores/{site_a.pk}",
        f"/api/v1/dashboards/stores/{site_a.pk}/days/{today}",
    ):
        result = assert_matrix(
            "GET",
            url,
            allowed=people["hq"],
            forbidden=people["staff"],
            other_scope=people["manager_b"],
        )
        assert result.allowed is not None and result.allowed.status_code == 200
    # A store manager sees their own store's dashboard (their scope's top by default).
    own = _client(people["manager_a"]).get("/api/v1/dashboards/hq").json()
    assert own["node"]["code"] == "SHA001" and own["children"] == []


def test_page_matrix(tree, people, menu):  # noqa: F811
    site_a = tree.store_a.site
    today = timezone.localdate().isoformat()
    pages = [
        reverse("dashboards:hq") + f"?node={tree.region.pk}",
        reverse("dashboards:store", args=[site_a.pk]),
        reverse("dashboards:store_day", args=[site_a.pk, today]),
        reverse("dashboards:store_item", args=[site_a.pk, menu.noodles.pk]),
    ]
    for url in pages:
        assert_matrix(
            "GET",
            url,
            allowed=people["hq"],
            forbidden=people["staff"],
            other_scope=people["manager_b"],
        )
    # The navigation shows the dashboard to those who may see it, first after Home.
    home = _client(people["hq"]).get(reverse("web:home")).content.decode()
    links = re.findall(r'href="(/[^"]*)"', home)
    assert reverse("dashboards:hq") in links
    staff_home = _client(people["staff"]).get(reverse("web:home")).content.decode()
    assert reverse("dashboards:hq") not in re.findall(r'href="(/[^"]*)"', staff_home)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"date_from": "2026-03-02", "date_to": "2026-03-01"}, "date_to"),
        ({"date_from": "2025-01-01", "date_to": "2026-03-01"}, "date_to"),
        ({"kpi": "profit"}, "kpi"),
        ({"period": "forever"}, "period"),
    ],
)
def test_bad_input_is_a_coded_422(tree, people, query, field):
    response = _client(people["hq"]).get("/api/v1/dashboards/hq", query)
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["details"]["fields"]


def test_unknown_node_store_or_date_is_404(tree, people):
    client = _client(people["hq"])
    assert client.get("/api/v1/dashboards/hq?node_id=999999").json()["code"] == "not_found"
    assert client.get("/api/v1/dashboards/stores/999999").status_code == 404
    assert (
        client.get(f"/api/v1/dashboards/stores/{tree.store_a.site.pk}/days/2026-02-30").status_code
        == 422
    )
    assert (
        client.get(reverse("dashboards:store_day", args=[tree.store_a.site.pk, "nope"])).status_code
        == 404
    )


def test_drill_down_pages_and_links(tree, people, menu):  # noqa: F811
    data = seed_day(menu)
    site_a = tree.store_a.site
    client = _client(people["hq"])
    day = data.day.isoformat()
    period = f"from={day}&to={day}"

    chain = client.get(f"{reverse('dashboards:hq')}?{period}").content.decode()
    escaped = period.replace("&", "&amp;")
    assert f"?node={tree.entity.pk}&amp;{escaped}&amp;kpi=sales" in chain  # the CN entity
    region = client.get(
        f"{reverse('dashboards:hq')}?node={tree.region.pk}&{period}"
    ).content.decode()
    assert reverse("dashboards:store", args=[site_a.pk]) in region
    assert 'data-testid="chart-trend"' in region and 'data-testid="chart-map"' not in region
    # A store node goes to the store's page.
    response = client.get(f"{reverse('dashboards:hq')}?node={tree.store_a.pk}&{period}")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("dashboards:store", args=[site_a.pk]))

    store = client.get(f"{reverse('dashboards:store', args=[site_a.pk])}?{period}").content.decode()
    assert reverse("dashboards:store_day", args=[site_a.pk, day]) in store
    for name, query in (
        ("channels:sales", f"store={site_a.pk}"),
        ("channels:board", f"store={site_a.pk}"),
        ("inventory:waste_list", f"site={site_a.pk}"),
        ("inventory:avt", f"node_id={tree.store_a.pk}"),
        ("inventory:on_hand", f"site={site_a.pk}"),
        ("dashboards:alerts", f"site={site_a.pk}"),
    ):
        assert f"{reverse(name)}?{query}" in store, name

    store_day = client.get(reverse("dashboards:store_day", args=[site_a.pk, day])).content.decode()
    item_url = reverse("dashboards:store_item", args=[site_a.pk, menu.noodles.pk])
    assert f"{item_url}?date={day}" in store_day
    assert "104.00" in store_day
    item = client.get(f"{item_url}?date={day}")
    assert item.status_code == 200 and b'data-testid="item-day"' in item.content


def test_exports_hold_the_pages_numbers(tree, people, menu):  # noqa: F811
    data = seed_day(menu)
    client = _client(people["hq"])
    day = data.day.isoformat()
    query = f"node={tree.region.pk}&from={day}&to={day}&kpi=food_cost_pct"
    page = client.get(f"{reverse('dashboards:hq')}?{query}").content.decode()
    shown = dict(re.findall(r'data-code="(\w+)" data-value="([^"]*)"', page))

    table = csv_rows(
        client.get(f"{reverse('dashboards:hq')}?{query}&table=ranked&export=csv"),
        "dashboard-ranking",
    )
    workbook = xlsx_rows(
        client.get(f"{reverse('dashboards:hq')}?{query}&table=ranked&export=xlsx"),
        "dashboard-ranking",
    )
    assert_same_table(workbook, table)
    assert table[0] == ["Rank", "Code", "Name", "Theoretical food cost %", "Sales (CNY)", "Orders"]
    rows = {row[1]: row for row in table[1:]}
    assert set(rows) == set(shown) == {"SHA001", "SHA002"}
    for code, value in shown.items():
        assert D(rows[code][3]) == (D(value) * 100).quantize(D("0.1"))
    assert (rows["SHA001"][4], rows["SHA001"][5]) == ("104.00", "3")
    assert (rows["SHA002"][4], rows["SHA002"][5]) == ("72.00", "1")

    trend = csv_rows(
        client.get(f"{reverse('dashboards:hq')}?{query}&table=trend&export=csv"), "dashboard-trend"
    )
    assert_same_table(
        xlsx_rows(
            client.get(f"{reverse('dashboards:hq')}?{query}&table=trend&export=xlsx"),
            "dashboard-trend",
        ),
        trend,
    )
    assert trend[1][:3] == [day, "176.00", "4"]
    store = csv_rows(
        client.get(
            f"{reverse('dashboards:store', args=[tree.store_a.site.pk])}?from={day}&to={day}&export=csv"
        ),
        "dashboard-SHA001",
    )
    assert store[1][:3] == [day, "104.00", "3"]


def _stores(tree, count: int) -> None:
    for number in range(count):
        node = make_node(NodeKind.STORE, tree.region, f"EXT{number:03d}")
        services.create_account(site=node.site, kind=ChannelKind.POS, name="Till", actor=SYSTEM)
        till_sale(node.site, quantity="1", price="10.00", placed_at=timezone.now())


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as context:
        assert client.get(url).status_code == 200
    return len(context.captured_queries)


def test_query_counts_do_not_grow_with_stores(tree, people, menu):  # noqa: F811
    client = _client(people["hq"])
    today = timezone.localdate()
    week = f"date_from={(today - dt.timedelta(days=6)).isoformat()}&date_to={today.isoformat()}"
    page_week = f"from={(today - dt.timedelta(days=6)).isoformat()}&to={today.isoformat()}"
    api = f"/api/v1/dashboards/hq?node_id={tree.region.pk}&{week}"
    page = f"{reverse('dashboards:hq')}?node={tree.region.pk}&{page_week}"
    for site in (tree.store_a.site, tree.store_b.site):
        till_sale(site, quantity="1", price="10.00", placed_at=timezone.now())
    two = (_queries(client, api), _queries(client, page))
    _stores(tree, 4)
    six = (_queries(client, api), _queries(client, page))
    assert six == two
