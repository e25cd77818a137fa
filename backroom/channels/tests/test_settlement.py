"""Daily settlement: golden differences for a Meituan day (agreeing, amount off, within the
0.01 tolerance, no income reported, cancelled, partially refunded, a statement with an order we
do not have), and the settlement API and pages with their permission matrices."""

from __future__ import annotations

import csv
import io

import pytest

from backroom.channels import intake, services, settlement
from backroom.channels.choices import ChannelKind
from backroom.channels.models import Order, OrderSales, SalesDay
from backroom.channels.tests.conftest import D, status_event
from backroom.channels.tests.test_rollups import DAY, at, meituan_order, refund
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import NotFound, PermissionDenied
from backroom.testing.exports import assert_same_table, csv_rows, xlsx_rows
from backroom.testing.factories import make_user
from backroom.testing.matrix import assert_matrix, client_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def settled(menu, tree):
    """Store A's Meituan day; store B has an Ele.me account with one agreeing order."""
    services.save_mapping(
        account=menu.meituan, external_code="NOODLES", item=menu.noodles, actor=SYSTEM
    )
    account = menu.meituan
    # expected = total + platform discount − commission − delivery fee
    orders = {
        # 36 + 2 + 5 − 5.2 − 2.6 = 35.20 paid → 35.20 + 2.60 − 4.16 − 5 = 28.64
        "S1": dict(
            merchant="5.20",
            platform="2.60",
            packaging="2",
            delivery="5",
            commission="4.16",
            income="28.64",
        ),
        "S2": dict(commission="3.00", income="33.50"),  # expected 33.00: 0.50 more reported
        "S3": dict(commission="3.00", income="33.01"),  # 0.01 apart: agrees
        "S4": dict(commission="3.00"),  # no income in the push
        "S5": dict(commission="3.00", income="33.00"),  # cancelled: not compared
        "S6": dict(commission="3.00", income="33.00"),  # partially refunded: compared as sold
    }
    for minute, (external_id, money) in enumerate(orders.items()):
        intake.apply_event(
            account,
            meituan_order(
                external_id, [("NOODLES", "2", "18.00")], placed_at=at(12, minute), **money
            ),
        )
        if external_id == "S5":
            intake.apply_event(account, status_event(external_id, "cancelled"))
            continue
        intake.apply_event(account, status_event(external_id, "completed"))
    intake.apply_event(account, refund("S6", "NOODLES", "1", "refund-1"))
    eleme = services.create_account(
        site=tree.store_b.site,
        kind=ChannelKind.ELEME,
        name="Ele.me B",
        store_ref="EL-2",
        actor=SYSTEM,
    )
    services.save_mapping(account=eleme, external_code="NOODLES", item=menu.noodles, actor=SYSTEM)
    event = meituan_order("E1", [("NOODLES", "1", "18.00")], placed_at=at(12), income="18.00")
    intake.apply_event(eleme, event)
    intake.apply_event(eleme, status_event("E1", "completed"))
    menu.eleme_b = eleme
    return menu


def lines_of(result):
    return [
        (line.external_id, line.expected, line.reported, line.difference, line.reason)
        for line in result.lines
    ]


def test_golden_settlement(settled, tree):
    manager = make_user("finance", tree.store_a)
    result = settlement.settle(manager, account=settled.meituan, business_date=DAY)
    assert lines_of(result) == [
        ("S1", D("28.64"), D("28.64"), D(0), ""),
        ("S2", D(33), D("33.50"), D("0.50"), "amount"),
        ("S3", D(33), D("33.01"), D("0.01"), ""),
        ("S4", D(33), None, D(-33), "missing_reported"),
        ("S6", D(33), D(33), D(0), ""),
    ]
    assert [line.external_id for line in result.differences] == ["S2", "S4"]
    assert result.counts == {"amount": 1, "missing_reported": 1, "missing_ours": 0}
    assert result.expected_total == D("160.64")
    assert result.reported_total == D("128.15")
    assert result.difference_total == D("-32.49")
    assert result.not_compared == {"cancelled": 1}
    assert result.lines[-1].refunded == D("18.00")  # S6's partial refund, shown beside it
    assert result.currency == "CNY"


def test_statement_replaces_the_reported_side(settled, tree):
    manager = make_user("finance", tree.store_a)
    statement = {"S1": D("28.64"), "S2": D(33), "S5": D(33), "GHOST": D("12.30")}
    result = settlement.settle(
        manager, account=settled.meituan, business_date=DAY, statement=statement
    )
    assert [(line.external_id, line.reason) for line in result.differences] == [
        ("S3", "missing_reported"),
        ("S4", "missing_reported"),
        ("S5", "missing_ours"),  # cancelled here, settled by the platform
        ("S6", "missing_reported"),
        ("GHOST", "missing_ours"),
    ]
    ghost = result.lines[-1]
    assert (ghost.order_id, ghost.expected, ghost.reported, ghost.difference) == (
        None,
        None,
        D("12.30"),
        D("12.30"),
    )


def test_service_scoping(settled, tree):
    with pytest.raises(PermissionDenied):
        settlement.settle(
            make_user("store_staff", tree.store_a), account=settled.meituan, business_date=DAY
        )
    with pytest.raises(NotFound):
        settlement.settle(
            make_user("finance", tree.store_b), account=settled.meituan, business_date=DAY
        )
    with pytest.raises(NotFound):
        settlement.get_settlement_account(make_user("finance", tree.store_b), settled.meituan.pk)
    # POS accounts are not settled with a platform.
    with pytest.raises(NotFound):
        settlement.get_settlement_account(make_user("finance", tree.store_a), settled.pos.pk)
    everything = settlement.settlements(make_user("hq_operations", tree.group), business_date=DAY)
    assert [row.account.pk for row in everything] == [settled.meituan.pk, settled.eleme_b.pk]
    assert everything[1].differences == []


def world():
    return (
        list(Order.objects.values_list("external_id", "status", "income").order_by("pk")),
        list(SalesDay.objects.values_list("site_id", "orders", "net").order_by("pk")),
        OrderSales.objects.count(),
    )


def test_settlement_api_matrix(settled, tree):
    result = assert_matrix(
        "GET",
        f"/api/v1/channels/settlement?account_id={settled.meituan.pk}&business_date={DAY}",
        allowed=make_user("store_manager", tree.store_a),
        forbidden=make_user("store_staff", tree.store_a),  # sees orders, not money
        other_scope=make_user("store_manager", tree.store_b),
        snapshot=world,
    )
    body = result.allowed.json()
    assert body["account_id"] == settled.meituan.pk
    assert body["channel"] == "meituan"
    assert body["orders_compared"] == 5
    assert D(body["expected_total"]) == D("160.64")
    assert D(body["difference_total"]) == D("-32.49")
    assert body["difference_counts"] == {"amount": 1, "missing_reported": 1, "missing_ours": 0}
    assert body["not_compared"] == {"cancelled": 1}
    assert [(row["external_id"], row["reason"]) for row in body["differences"]] == [
        ("S2", "amount"),
        ("S4", "missing_reported"),
    ]
    assert D(body["differences"][0]["difference"]) == D("0.50")
    assert body["differences"][1]["reported"] is None


def test_settlement_api_bad_input(settled, tree):
    client = client_of(make_user("store_manager", tree.store_a))
    response = client.get(
        f"/api/v1/channels/settlement?account_id={settled.meituan.pk}&business_date=nope"
    )
    assert response.status_code == 422
    response = client.get(
        f"/api/v1/channels/settlement?account_id={settled.pos.pk}&business_date={DAY}"
    )
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_settlement_page_matrix_filters_and_csv(settled, tree):
    url = f"/channels/settlement/?store={settled.meituan.site_id}&date={DAY}"
    result = assert_matrix(
        "GET",
        url,
        allowed=make_user("finance", tree.store_a),
        forbidden=make_user("store_staff", tree.store_a),
        other_scope=make_user("finance", tree.store_b),
        snapshot=world,
    )
    page = result.allowed.content.decode()
    assert page.count('data-testid="settlement-line"') == 2
    assert 'data-order="S2" data-reason="amount"' in page
    assert 'data-order="S4" data-reason="missing_reported"' in page
    # Region-wide, filtered by platform: Ele.me only (store B's, no differences).
    hq = client_of(make_user("hq_operations", tree.region))
    page = hq.get(f"/channels/settlement/?channel=eleme&date={DAY}").content.decode()
    assert page.count('data-testid="settlement-account"') == 1
    assert f'data-account="{settled.eleme_b.pk}"' in page
    assert 'data-testid="settlement-line"' not in page
    # Store B's finance sees only store B without a filter.
    page = client_of(make_user("finance", tree.store_b)).get(f"/channels/settlement/?date={DAY}")
    assert page.content.decode().count('data-testid="settlement-account"') == 1


def test_settlement_export_matrix_and_rows(settled, tree):
    url = f"/channels/settlement/export.csv?store={settled.meituan.site_id}&date={DAY}"
    result = assert_matrix(
        "GET",
        url,
        allowed=make_user("finance", tree.store_a),
        forbidden=make_user("store_staff", tree.store_a),
        other_scope=make_user("finance", tree.store_b),
        snapshot=world,
    )
    response = result.allowed
    assert response["Content-Type"].startswith("text/csv")
    text = response.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == 3
    assert len(rows[0]) == 12
    assert [(row[4], row[7], row[8], row[9]) for row in rows[1:]] == [
        ("S2", "33.0000", "33.5000", "0.5000"),
        ("S4", "33.0000", "", "-33.0000"),
    ]
    every = client_of(make_user("finance", tree.store_a)).get(url + "&all=1")
    assert len(list(csv.reader(io.StringIO(every.content.decode("utf-8-sig"))))) == 6


def test_settlement_page_exports_xlsx_and_csv_with_the_same_rows(settled, tree):
    client = client_of(make_user("finance", tree.store_a))
    url = f"/channels/settlement/?store={settled.meituan.site_id}&date={DAY}"
    name = f"settlement-{DAY}"
    for every in ("", "&all=1"):
        workbook = xlsx_rows(client.get(f"{url}{every}&export=xlsx"), name)
        rows = csv_rows(client.get(f"{url}{every}&export=csv"), name)
        assert_same_table(workbook, rows)
        old = client.get(
            f"/channels/settlement/export.csv?store={settled.meituan.site_id}&date={DAY}{every}"
        )
        assert csv_rows(old, name) == rows
    assert len(rows) == 6
    differences = xlsx_rows(client.get(f"{url}&export=xlsx"), name)
    assert [(row[4], row[7], row[8], row[9]) for row in differences[1:]] == [
        ("S2", 33, 33.5, 0.5),
        ("S4", 33, None, -33),
    ]
    body = client.get(url).content.decode()
    assert 'data-testid="export-xlsx"' in body and "&amp;export=xlsx" in body
    other = client_of(make_user("finance", tree.store_b))
    assert other.get(f"{url}&export=xlsx").status_code == 404
