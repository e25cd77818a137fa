"""Actual vs theoretical: golden numbers for a hand-built period, region aggregation, drill-down,
CSV export, and the scoping matrix of its API endpoints and page."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest

from backroom.catalog import services as catalog_services
from backroom.catalog.models import Item
from backroom.inventory import reports, services
from backroom.inventory.choices import MoveReason
from backroom.inventory.models import CountLine, StockMove
from backroom.inventory.reports import SALES_SOURCE, MixedCurrencies
from backroom.inventory.services import CountEntry, LineCount
from backroom.inventory.tests.conftest import D, key, make_class, make_item, make_location
from backroom.kernel import clock
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import NotFound
from backroom.testing.exports import assert_same_table, csv_rows, xlsx_rows
from backroom.testing.factories import client_for, make_user
from backroom.testing.matrix import assert_matrix

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """A local Shanghai time on a calendar day."""
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


@dataclass
class Scenario:
    tree: object
    beef: Item
    flour: Item
    bowl: Item
    walk_in_a: object
    walk_in_b: object
    date_from: dt.date
    date_to: dt.date


def count(site_node, location, counted: dict[int, str], when: dt.datetime):
    """A posted count of one location, back-dated to `when`: every line counted (as given per
    item id, else at its theoretical quantity)."""
    with clock.at(when):
        sheet = services.create_count(site_node.site, actor=SYSTEM, location_ids=[location.pk])
        sheet = services.start_count(sheet, actor=SYSTEM)
        lines = list(CountLine.objects.filter(sheet=sheet).select_related("item__base_unit"))
        services.record_counts(
            sheet,
            [
                LineCount(
                    line.pk,
                    [
                        CountEntry(
                            line.item.base_unit.code,
                            D(counted.get(line.item_id, line.theoretical_quantity)),
                        )
                    ],
                )
                for line in lines
            ],
            actor=SYSTEM,
        )
        services.submit_count(sheet, actor=SYSTEM)
        return services.post_count(sheet, actor=SYSTEM, approved=True)


def sell(item, location, quantity: str, menu_item, portions: int, when: dt.datetime):
    return services.consume(
        item=item,
        location=location,
        quantity=D(quantity),
        reason=MoveReason.SALE,
        source=services.Source(SALES_SOURCE, str(menu_item.pk), str(portions)),
        occurred_at=when,
        key=key("sale"),
        actor=SYSTEM,
    )


def receive(item, location, quantity: str, cost: str, when: dt.datetime):
    return services.receive(
        item=item,
        location=location,
        quantity=D(quantity),
        unit_cost=D(cost),
        occurred_at=when,
        key=key("in"),
        actor=SYSTEM,
    )


@pytest.fixture
def scenario(tree) -> Scenario:
    """Store A counted 88 kg of beef the evening before the period and 95 kg on its last
    evening; in between it received 40, got 5 from store B, sent 3 to B, wasted 2 and sold
    150 bowls (30 kg). Store B (never counted) sold 40 bowls (8 kg)."""
    make_class("food", "forbid")
    make_class("menu", "allow")
    beef = make_item("BEEF", "kg", "food", standard_cost=D("40"))
    flour = make_item("FLOUR", "kg", "food")
    bowl = make_item("BOWL", "each", "menu", kind="menu")
    catalog_services.set_price_list(
        [catalog_services.PriceListLine(sku="BOWL", price=D("38"))],
        currency="CNY",
        effective_from=dt.date(2020, 1, 1),
        actor=SYSTEM,
    )
    walk_in_a = make_location(tree.store_a)
    walk_in_b = make_location(tree.store_b)
    today = dt.datetime.now(SHANGHAI).date()
    date_from, date_to = today - dt.timedelta(days=10), today - dt.timedelta(days=8)
    day0 = date_from - dt.timedelta(days=1)
    receive(beef, walk_in_a, "100", "50", at(day0, 10))
    receive(flour, walk_in_a, "10", "5", at(day0, 10))
    receive(beef, walk_in_b, "20", "53.125", at(day0, 10))
    sell(beef, walk_in_a, "10", bowl, 50, at(day0, 20))  # before the period
    count(tree.store_a, walk_in_a, {beef.pk: "88"}, at(day0, 23))  # 90 on the books
    receive(beef, walk_in_a, "40", "60", at(date_from, 10))  # average 53.125
    # B → A, 5 kg, dispatched and received the same morning
    out = services.transfer(
        item=beef,
        from_location=walk_in_b,
        to_location=walk_in_a,
        quantity=D("5"),
        occurred_at=at(date_from, 11),
        key=key("tr"),
        actor=SYSTEM,
    )
    services.receive_transfer(
        transfer_key=out.moves[0].source_id,
        location=walk_in_a,
        occurred_at=at(date_from, 12),
        key=key("trr"),
        actor=SYSTEM,
    )
    # A → B, 3 kg
    out = services.transfer(
        item=beef,
        from_location=walk_in_a,
        to_location=walk_in_b,
        quantity=D("3"),
        occurred_at=at(date_from, 14),
        key=key("tr"),
        actor=SYSTEM,
    )
    services.receive_transfer(
        transfer_key=out.moves[0].source_id,
        location=walk_in_b,
        occurred_at=at(date_from, 16),
        key=key("trr"),
        actor=SYSTEM,
    )
    day2 = date_from + dt.timedelta(days=1)
    services.consume(
        item=beef,
        location=walk_in_a,
        quantity=D("2"),
        reason=MoveReason.WASTE,
        occurred_at=at(day2, 9),
        key=key("waste"),
        actor=SYSTEM,
    )
    sell(beef, walk_in_a, "30", bowl, 150, at(day2, 21))
    sell(beef, walk_in_b, "8", bowl, 40, at(day2, 21))
    count(tree.store_a, walk_in_a, {beef.pk: "95"}, at(date_to, 23))  # 98 on the books
    receive(beef, walk_in_a, "10", "53.125", at(date_to + dt.timedelta(days=1), 10))  # after
    return Scenario(tree, beef, flour, bowl, walk_in_a, walk_in_b, date_from, date_to)


def test_fixture_moves_land_in_the_period(scenario):
    """Guard for the fixture: every move of the scenario but the first day's and the last
    receipt falls inside store A's or B's window."""
    moves = StockMove.objects.filter(item=scenario.beef, reason=MoveReason.TRANSFER_IN)
    assert moves.count() == 4  # two transfers: into transit, then into the store
    counts = StockMove.objects.filter(item=scenario.beef, reason=MoveReason.COUNT_VARIANCE)
    assert sorted(move.quantity for move in counts) == [D(-3), D(-2)]


def _report(actor, node, scenario, **extra):
    return reports.avt(
        actor, node=node, date_from=scenario.date_from, date_to=scenario.date_to, **extra
    )


def test_store_golden_numbers(scenario):
    report = _report(SYSTEM, scenario.tree.store_a, scenario)
    assert report.currency == "CNY"
    assert [row.sku for row in report.rows] == ["BEEF", "FLOUR"]
    beef = report.rows[0]
    assert (
        beef.opening,
        beef.receipts,
        beef.transfers_in,
        beef.transfers_out,
        beef.waste,
        beef.produced,
        beef.production_used,
        beef.closing,
    ) == (D(88), D(40), D(5), D(3), D(2), D(0), D(0), D(95))
    assert (beef.actual, beef.sales, beef.theoretical, beef.variance_quantity) == (
        D(33),
        D(30),
        D(30),
        D(3),
    )
    assert beef.unit_cost == D("53.125")
    assert beef.variance_value == D("159.38")  # 3 × 53.125, half-even to cents
    assert beef.actual_value == D("1753.12")  # 33 × 53.125 = 1753.125 → half-even
    assert beef.theoretical_value == D("1593.75")
    assert beef.waste_value == D("106.25")  # 2 kg left at 53.125
    assert report.sales_revenue == D("5700.00")  # 150 bowls × 38
    assert beef.variance_percent_of_sales == D("2.80")  # 159.38 / 5700
    assert report.variance_value == D("159.38")
    assert report.variance_percent_of_sales == D("2.80")
    flour = report.rows[1]
    assert (flour.opening, flour.closing, flour.actual, flour.variance_value) == (
        D(10),
        D(10),
        D(0),
        D(0),
    )
    site = report.sites[0]
    assert site.opening_count is not None and site.closing_count is not None
    assert site.opening_count.number != site.closing_count.number
    assert report.notes == []


def test_region_adds_up_its_stores(scenario):
    report = _report(SYSTEM, scenario.tree.region, scenario)
    assert {site.site.node.code for site in report.sites} == {"SHA001", "SHA002"}
    beef = next(row for row in report.rows if row.sku == "BEEF")
    # B: opening 20, in 3, out 5, sold 8, closing 10 (no count: the books) → variance 0.
    assert (beef.opening, beef.receipts, beef.transfers_in, beef.transfers_out) == (
        D(108),
        D(40),
        D(8),
        D(8),
    )
    assert (beef.waste, beef.closing, beef.actual, beef.theoretical) == (D(2), D(105), D(41), D(38))
    assert beef.variance_quantity == D(3)
    assert beef.variance_value == D("159.38")
    assert report.sales_revenue == D("7220.00")  # 190 bowls
    assert report.variance_percent_of_sales == D("2.21")
    assert len(report.notes) == 1  # store B has no closing count
    by_site = reports.avt(
        SYSTEM,
        node=scenario.tree.region,
        date_from=scenario.date_from,
        date_to=scenario.date_to,
        by_site=True,
    )
    variances = {(row.sku, row.site_id): row.variance_quantity for row in by_site.rows}
    assert variances[("BEEF", scenario.tree.store_a.site.pk)] == D(3)
    assert variances[("BEEF", scenario.tree.store_b.site.pk)] == D(0)


def test_category_filter_and_one_day_period(scenario):
    make_class("x", "allow")
    catalog_services.create_category(
        catalog_services.CategoryInput(code="meat", name="Meat"), actor=SYSTEM
    )
    # No item is in the category: nothing to report.
    from backroom.catalog.models import Category

    meat = Category.objects.get(code="meat")
    report = _report(SYSTEM, scenario.tree.store_a, scenario, category=meat)
    assert report.rows == []
    day2 = scenario.date_from + dt.timedelta(days=1)
    report = reports.avt(SYSTEM, node=scenario.tree.store_a, date_from=day2, date_to=day2)
    beef = report.rows[0]
    # Opening: 88 + 40 + 5 − 3 = 130; waste 2, sold 30 → closing on the books 98.
    assert (beef.opening, beef.closing, beef.actual, beef.theoretical) == (
        D(130),
        D(98),
        D(30),
        D(30),
    )
    assert beef.variance_quantity == D(0)


def test_bad_periods_and_mixed_currencies(scenario):
    from backroom.kernel.exceptions import ValidationFailed

    with pytest.raises(ValidationFailed):
        reports.avt(
            SYSTEM,
            node=scenario.tree.store_a,
            date_from=scenario.date_to,
            date_to=scenario.date_from,
        )
    with pytest.raises(MixedCurrencies) as error:
        _report(SYSTEM, scenario.tree.group, scenario)
    assert error.value.code == "mixed_currencies"
    manager = make_user("store_manager", scenario.tree.store_a)
    with pytest.raises(NotFound):
        _report(manager, scenario.tree.region, scenario)


def test_drill_down_lists_the_period_moves(scenario):
    rows = reports.avt_moves(
        SYSTEM,
        node=scenario.tree.store_a,
        date_from=scenario.date_from,
        date_to=scenario.date_to,
        item=scenario.beef,
    )
    reasons = [row.move.reason for row in rows]
    assert reasons == [
        "receipt",
        "transfer_in",
        "transfer_out",
        "waste",
        "sale",
        "count_variance",
    ]
    assert rows[-1].source_url == f"/stock/counts/{rows[-1].move.source_id}/"
    # A sale depletion names the dish and the portions sold, and links to the dish.
    assert (rows[4].source_url, rows[4].label) == (
        f"/catalog/items/{scenario.bowl.pk}/",
        "150 × Bowl",
    )
    assert all(row.source_url is None for row in rows[:4])


def test_csv_export_has_bom_and_totals(scenario):
    report = _report(SYSTEM, scenario.tree.store_a, scenario)
    text = reports.to_csv(reports.avt_csv_rows(report))
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows[0][0] == "SKU" and len(rows[0]) == 18
    assert rows[1][:4] == ["BEEF", "Beef", "", "kg"]
    assert rows[1][12:] == ["33", "30", "3", "53.1250", "159.38", "2.80"]
    assert rows[-2][1] == "Total" and rows[-2][16] == "159.38"
    assert rows[-1][1] == "Sales revenue" and rows[-1][16] == "5700.00"


# --- API and page scoping ----------------------------------------------------------------


def _query(scenario, node) -> str:
    return f"node_id={node.pk}&date_from={scenario.date_from}&date_to={scenario.date_to}"


def test_avt_api_matrix(scenario):
    tree = scenario.tree
    result = assert_matrix(
        "GET",
        f"/api/v1/inventory/reports/avt?{_query(scenario, tree.store_a)}",
        allowed=make_user("store_manager", tree.store_a),
        forbidden=make_user("technician", tree.store_a),
        other_scope=make_user("store_manager", tree.store_b),
        expect_forbidden=404,
    )
    body = result.allowed.json()
    assert body["currency"] == "CNY"
    assert body["variance_value"] == "159.38"
    assert body["rows"][0]["sku"] == "BEEF"
    assert body["rows"][0]["variance_quantity"] == "3.000000"


def test_avt_api_region_for_region_manager_only(scenario):
    tree = scenario.tree
    url = f"/api/v1/inventory/reports/avt?{_query(scenario, tree.region)}"
    response = client_for(make_user("region_manager", tree.region)).get(url)
    assert response.status_code == 200
    assert response.json()["sales_revenue"] == "7220.00"
    response = client_for(make_user("store_manager", tree.store_a)).get(url)
    assert response.status_code == 404
    response = client_for(make_user("hq_operations", tree.group)).get(
        f"/api/v1/inventory/reports/avt?{_query(scenario, tree.group)}"
    )
    assert response.status_code == 422
    assert response.json()["code"] == "mixed_currencies"


def test_avt_export_matrix(scenario):
    tree = scenario.tree
    result = assert_matrix(
        "GET",
        f"/api/v1/inventory/reports/avt/export?format=csv&{_query(scenario, tree.store_a)}",
        allowed=make_user("store_manager", tree.store_a),
        forbidden=make_user("technician", tree.store_a),
        other_scope=make_user("store_manager", tree.store_b),
        expect_forbidden=404,
    )
    response = result.allowed
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    assert response.content.startswith("\ufeff".encode())
    assert "BEEF" in response.content.decode("utf-8-sig")


def test_avt_moves_api_matrix(scenario):
    tree = scenario.tree
    result = assert_matrix(
        "GET",
        f"/api/v1/inventory/reports/avt/items/{scenario.beef.pk}/moves?"
        f"{_query(scenario, tree.store_a)}",
        allowed=make_user("store_manager", tree.store_a),
        forbidden=make_user("technician", tree.store_a),
        other_scope=make_user("store_manager", tree.store_b),
        expect_forbidden=404,
    )
    assert [row["reason"] for row in result.allowed.json()][-1] == "count_variance"


def test_avt_page_matrix(scenario):
    tree = scenario.tree
    result = assert_matrix(
        "GET",
        f"/stock/avt/?{_query(scenario, tree.store_a)}",
        allowed=make_user("store_manager", tree.store_a),
        forbidden=make_user("technician", tree.store_a),
        other_scope=make_user("store_manager", tree.store_b),
        expect_forbidden=403,
    )
    html = result.allowed.content.decode()
    assert "BEEF" in html and "159.38" in html


def test_avt_page_drill_down_fragment(scenario):
    tree = scenario.tree
    client = client_for(make_user("store_manager", tree.store_a))
    url = f"/stock/avt/items/{scenario.beef.pk}/?{_query(scenario, tree.store_a)}"
    response = client.get(url, headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert "/stock/counts/" in html
    other = client_for(make_user("store_manager", tree.store_b))
    assert other.get(url).status_code == 404


def test_avt_page_export(scenario):
    tree = scenario.tree
    client = client_for(make_user("store_manager", tree.store_a))
    response = client.get(f"/stock/avt/export.csv?{_query(scenario, tree.store_a)}")
    assert response.status_code == 200
    assert response.content.decode("utf-8-sig").splitlines()[1].startswith("BEEF,")


def test_avt_page_exports_xlsx_and_csv_with_the_same_rows(scenario):
    tree = scenario.tree
    client = client_for(make_user("store_manager", tree.store_a))
    url = f"/stock/avt/?{_query(scenario, tree.store_a)}"
    name = f"avt-{tree.store_a.code}-{scenario.date_from:%Y%m%d}-{scenario.date_to:%Y%m%d}"
    workbook = xlsx_rows(client.get(f"{url}&export=xlsx"), name)
    table = csv_rows(client.get(f"{url}&export=csv"), name)
    assert_same_table(workbook, table)
    assert table[0][0] == "SKU" and len(table[0]) == 18
    assert table[1][12:] == ["33", "30", "3", "53.1250", "159.38", "2.80"]
    assert workbook[1][12:] == [33, 30, 3, 53.125, 159.38, 2.8]  # numbers a sheet can sum
    assert (table[-2][1], table[-1][1]) == ("Total", "Sales revenue")
    # The old address still gives the CSV; the page offers both buttons, its filters kept.
    old = csv_rows(client.get(f"/stock/avt/export.csv?{_query(scenario, tree.store_a)}"), name)
    assert old == table
    body = client.get(url).content.decode()
    assert 'data-testid="export-xlsx"' in body and "export=xlsx" in body
    assert f"node_id={tree.store_a.pk}&amp;" in body
    # Another store's report is not a way in.
    other = client_for(make_user("store_manager", tree.store_b))
    assert other.get(f"{url}&export=xlsx").status_code == 404
