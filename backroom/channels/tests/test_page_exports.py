"""Exports of the channel pages that had none (`?export=xlsx|csv` on the page's own URL): order
alerts (every matching alert, not the page's newest 200, the filters kept) and a store's sales
by day over the period. The permission matrix of each (anonymous sent to sign in, no permission
refused, another store's not found) and never another store's rows."""

from __future__ import annotations

import datetime as dt

import pytest

from backroom.channels import views as channel_views
from backroom.channels.models import OrderAnomaly, SalesDay
from backroom.channels.tests.conftest import D
from backroom.channels.tests.test_anomalies_pages import _alerts
from backroom.channels.tests.test_rollups import DAY, day  # noqa: F401  (fixture)
from backroom.testing.exports import csv_rows, xlsx_rows
from backroom.testing.factories import client_for, make_user
from backroom.testing.matrix import assert_matrix

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
ALERTS = "/channels/alerts/"
SALES = "/channels/sales/"
ALERT_HEADER = [
    "Store code",
    "Store",
    "Detected at",
    "Rule",
    "Severity",
    "Channel",
    "Order",
    "Order number",
    "Order status",
    "Message",
    "Resolved at",
    "Resolution",
    "Resolved by",
    "Resolution note",
]
SALES_HEADER = [
    "Store code",
    "Store",
    "Business date",
    "Currency",
    "Orders",
    "Gross",
    "Our discounts",
    "Platform discounts",
    "Net",
    "Packaging fees",
    "Delivery fees",
    "Commission",
]


def _anomalies():
    return list(OrderAnomaly.objects.order_by("pk").values_list("pk", "resolved_at"))


# --- order alerts ----------------------------------------------------------------------------


@pytest.mark.parametrize("file_type", ["xlsx", "csv"])
def test_alerts_export_matrix(tree, menu, file_type):
    _alerts(tree, menu)
    result = assert_matrix(
        "GET",
        f"{ALERTS}?store={tree.store_a.site.pk}&export={file_type}",
        allowed=make_user("store_manager", tree.store_a),
        forbidden=make_user("technician", tree.store_a),
        other_scope=make_user("store_staff", tree.store_b),
        snapshot=_anomalies,
    )
    assert (
        result.allowed["Content-Disposition"] == f'attachment; filename="order-alerts.{file_type}"'
    )


def test_alerts_every_alert_of_the_users_stores_not_just_the_newest(tree, menu, monkeypatch):
    missing, _discount, _other = _alerts(tree, menu)
    monkeypatch.setattr(channel_views, "ALERTS_SHOWN", 1)
    client = client_for(make_user("store_manager", tree.store_a))
    assert client.get(ALERTS).content.decode().count('data-testid="alert-row"') == 1

    rows = xlsx_rows(client.get(f"{ALERTS}?export=xlsx"), "order-alerts")
    assert rows[0] == ALERT_HEADER
    assert [row[6] for row in rows[1:]] == ["PA2", "PA1"]  # newest first; never store B's PB1
    address = rows[2]
    detected = missing.detected_at.astimezone(dt.timezone(dt.timedelta(hours=8)))
    assert address == [
        "SHA001",
        "Store SHA001",
        detected.replace(tzinfo=None, microsecond=0),
        "Missing address",
        str(missing.get_severity_display()),
        str(missing.order.get_kind_display()),
        "PA1",
        missing.order.display_id or None,
        str(missing.order.get_status_display()),
        "Delivery order without an address.",
        None,
        None,
        None,
        None,
    ]

    table = csv_rows(
        client_for(make_user("region_manager", tree.region)).get(f"{ALERTS}?export=csv"),
        "order-alerts",
    )
    assert table[0] == ALERT_HEADER
    assert sorted((row[0], row[6]) for row in table[1:]) == [
        ("SHA001", "PA1"),
        ("SHA001", "PA2"),
        ("SHA002", "PB1"),
    ]


def test_alerts_the_filters_are_kept(tree, menu):
    missing, _discount, _other = _alerts(tree, menu)
    client = client_for(make_user("region_manager", tree.region))
    table = csv_rows(client.get(f"{ALERTS}?rule=missing_address&export=csv"), "order-alerts")
    assert [row[6] for row in table[1:]] == ["PA1"]
    table = csv_rows(
        client.get(f"{ALERTS}?store={tree.store_b.site.pk}&export=csv"), "order-alerts"
    )
    assert [row[6] for row in table[1:]] == ["PB1"]
    table = csv_rows(client.get(f"{ALERTS}?state=resolved&export=csv"), "order-alerts")
    assert table == [ALERT_HEADER]
    # A resolved alert carries who resolved it and why.
    manager = make_user("store_manager", tree.store_a, username="mona")
    client_for(manager).post(f"{ALERTS}{missing.pk}/resolve/", {"note": "Rider has it"})
    table = csv_rows(client.get(f"{ALERTS}?state=resolved&export=csv"), "order-alerts")
    assert [row[6] for row in table[1:]] == ["PA1"]
    assert table[1][11:] == ["Resolved by a manager", "mona", "Rider has it"]
    assert table[1][10] != ""


def test_alerts_the_page_offers_the_exports_and_the_swap_carries_them(tree, menu):
    _alerts(tree, menu)
    client = client_for(make_user("region_manager", tree.region))
    body = client.get(ALERTS).content.decode()
    assert 'href="?export=xlsx"' in body and 'href="?export=csv"' in body
    assert "hx-swap-oob" not in body
    body = client.get(f"{ALERTS}?rule=missing_address", **HX).content.decode()
    assert "<html" not in body
    assert 'id="alert-exports" class="d-flex" hx-swap-oob="true"' in body
    assert 'href="?rule=missing_address&amp;export=csv"' in body


# --- sales by day ----------------------------------------------------------------------------


def _sales_days():
    return list(SalesDay.objects.values_list("site_id", "orders", "net").order_by("pk"))


@pytest.mark.parametrize("file_type", ["xlsx", "csv"])
def test_sales_export_matrix(day, tree, file_type):  # noqa: F811
    result = assert_matrix(
        "GET",
        f"{SALES}?store={day.pos.site_id}&date_from={DAY}&date_to={DAY}&export={file_type}",
        allowed=make_user("region_manager", tree.region),
        forbidden=make_user("store_staff", tree.store_a),  # sees orders, not sales figures
        other_scope=make_user("store_manager", tree.store_b),
        snapshot=_sales_days,
    )
    assert (
        result.allowed["Content-Disposition"] == f'attachment; filename="sales-by-day.{file_type}"'
    )


def test_sales_the_days_of_the_period_with_every_figure(day, tree):  # noqa: F811
    client = client_for(make_user("store_manager", tree.store_a))
    url = f"{SALES}?store={day.pos.site_id}&date_from={DAY - dt.timedelta(days=1)}&date_to={DAY}"
    golden = SalesDay.objects.get(site_id=day.pos.site_id, business_date=DAY)
    rows = xlsx_rows(client.get(f"{url}&export=xlsx"), "sales-by-day")
    assert rows[0] == SALES_HEADER
    assert len(rows) == 2  # the day before sold nothing: no row, as on the page
    assert rows[1][:5] == ["SHA001", "Store SHA001", dt.datetime(2026, 12, 3), "CNY", 3]
    assert [D(str(value)) for value in rows[1][5:]] == [
        golden.gross,
        golden.merchant_discount,
        golden.platform_discount,
        golden.net,
        golden.packaging_fee,
        golden.delivery_fee,
        golden.commission,
    ]
    assert D(str(rows[1][8])) == D("96.8") and D(str(rows[1][11])) == D("4.16")

    table = csv_rows(client.get(f"{url}&export=csv"), "sales-by-day")
    assert table[0] == SALES_HEADER
    assert table[1][:5] == ["SHA001", "Store SHA001", "2026-12-03", "CNY", "3"]
    assert D(table[1][8]) == D("96.8")


def test_sales_another_stores_figures_are_not_a_way_in(day, tree):  # noqa: F811
    manager_b = client_for(make_user("store_manager", tree.store_b))
    response = manager_b.get(f"{SALES}?store={day.pos.site_id}&date_from={DAY}&export=csv")
    assert response.status_code == 404
    # Their own store sold nothing that day: a header and no rows.
    table = csv_rows(manager_b.get(f"{SALES}?date_from={DAY}&export=csv"), "sales-by-day")
    assert table == [SALES_HEADER]


def test_sales_the_page_offers_the_exports_with_its_filters(day, tree):  # noqa: F811
    client = client_for(make_user("store_manager", tree.store_a))
    query = f"store={day.pos.site_id}&date_from={DAY}"
    body = client.get(f"{SALES}?{query}").content.decode()
    assert f'href="?{query.replace("&", "&amp;")}&amp;export=csv"' in body
    assert 'data-testid="export-xlsx"' in body
    # A period the page refuses is a 422 page, never a file.
    response = client.get(f"{SALES}?{query}&date_to=2026-11-01&export=csv")
    assert response.status_code == 422
    assert "Content-Disposition" not in response
