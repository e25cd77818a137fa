"""The store's "today": golden numbers for sales by hour against the forecast (orders through the
POS service at known local hours, the forecast through planning and the nightly snapshot), the
business-day boundary, and each section's content as the store manager sees it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from backroom.approvals import runtime
from backroom.approvals import services as approval_services
from backroom.channels import soldout
from backroom.channels.tests import conftest as channels_tests
from backroom.dashboards.alerts import Signal, raise_alert
from backroom.dashboards.choices import AlertStatus
from backroom.dashboards.models import Alert, ForecastDay
from backroom.dashboards.tests.today_data import (
    DAY,
    D,
    at,
    forecast,
    history,
    till_sale,
)
from backroom.dashboards.today import get_today_store, store_today, today_sales, today_stores
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import NotFound
from backroom.procurement import services as procurement
from backroom.procurement.tests import conftest as procurement_tests
from backroom.testing.factories import make_user

pytestmark = pytest.mark.django_db

# The channels tests' menu and the procurement tests' supplier world.
menu = channels_tests.menu
world = procurement_tests.world


def _hours(sales) -> dict[int, tuple]:
    return {row.hour: (row.orders, row.gross, row.expected) for row in sales.hours}


def test_golden_sales_against_the_forecast_by_hour(tree, menu):
    site = tree.store_a.site
    history(menu)
    assert forecast(menu, site) == 1
    assert ForecastDay.objects.get(site=site, business_date=DAY).gross == D(1200)
    # Today: two orders in the 11 o'clock hour (200), one at 12:15 (100).
    till_sale(menu, at(11, 10))
    till_sale(menu, at(11, 40))
    till_sale(menu, at(12, 15))

    sales = today_sales(site, DAY, at(12, 30))

    assert (sales.forecast_gross, sales.forecast_source, sales.currency) == (
        D(1200),
        "forecast",
        "CNY",
    )
    # 1,200 spread 1/8, 3/8, 1/2 over 11h, 12h and 18h; the hours between are in the table.
    hours = _hours(sales)
    assert hours[11] == (2, D(200), D(150))
    assert hours[12] == (1, D(100), D(450))
    assert hours[18] == (0, D(0), D(600))
    assert hours[15] == (0, D(0), D(0))
    assert [row.hour for row in sales.hours] == list(range(11, 19))
    current = [row.hour for row in sales.hours if row.is_current]
    assert current == [12]
    assert sales.hours[-1].cumulative_expected == D(1200)
    assert sales.hours[-1].cumulative_gross == D(300)
    # By 12:30: all of 11h (150) and half of 12h (225).
    assert sales.expected_by_now == D(375)
    assert (sales.gross, sales.net, sales.orders, sales.average_ticket) == (
        D(300),
        D(300),
        3,
        D(100),
    )
    assert sales.vs_expected == D(300) / D(375) - 1
    # At 11:05 only 12.50 was expected (5 minutes of 11h): too early to compare.
    early = today_sales(site, DAY, at(11, 5))
    assert (early.expected_by_now, early.vs_expected) == (D("12.50"), None)
    cards = {card.code: card.value for card in sales.kpis}
    assert cards["sales"] == D(300)
    assert cards["orders"] == 3
    assert cards["average_ticket"] == D(100)


def test_without_a_forecast_the_same_weekday_of_the_last_four_weeks_stands_in(tree, menu):
    site = tree.store_a.site
    history(menu)  # 800 a week before; nothing the three weeks before that
    till_sale(menu, at(11, 10))
    sales = today_sales(site, DAY, at(12, 0))
    assert (sales.forecast_gross, sales.forecast_source) == (D(800), "history")
    assert _hours(sales)[11] == (1, D(100), D(100))
    assert _hours(sales)[12][2] == D(300)
    assert sales.expected_by_now == D(100)
    assert sales.vs_expected == D(0)


def test_nothing_known_gives_no_expectation(tree, menu):
    sales = today_sales(tree.store_a.site, DAY, at(9, 0))
    assert (sales.forecast_gross, sales.forecast_source, sales.expected_by_now) == (None, "", None)
    assert (sales.orders, sales.gross, sales.vs_expected) == (0, D(0), None)
    # Only the running hour is shown.
    assert [(row.hour, row.is_current) for row in sales.hours] == [(9, True)]


def test_an_order_before_the_cutoff_counts_to_the_day_before(tree, menu):
    site = tree.store_a.site
    # 02:00 on DAY is before the 04:00 cut-off: it belongs to the business day before.
    till_sale(menu, at(2, 0))
    till_sale(menu, at(10, 0))
    manager = make_user("store_manager", tree.store_a)

    late_night = store_today(manager, site, now=at(3, 0))
    assert late_night.business_date == DAY - dt.timedelta(days=1)
    assert (late_night.sales.orders, late_night.sales.gross) == (1, D(100))
    assert [row.hour for row in late_night.sales.hours if row.orders] == [2]

    morning = store_today(manager, site, now=at(10, 30))
    assert morning.business_date == DAY
    assert (morning.sales.orders, morning.sales.gross) == (1, D(100))
    assert [row.hour for row in morning.sales.hours if row.orders] == [10]
    assert morning.now.tzinfo is not None and morning.now.utcoffset() == dt.timedelta(hours=8)


def test_the_store_must_be_one_of_the_users(tree):
    manager = make_user("store_manager", tree.store_a)
    assert [site.pk for site in today_stores(manager)] == [tree.store_a.site.pk]
    assert get_today_store(manager, tree.store_a.site.pk) == tree.store_a.site
    with pytest.raises(NotFound):
        get_today_store(manager, tree.store_b.site.pk)
    with pytest.raises(NotFound):
        get_today_store(make_user("technician", tree.store_a), tree.store_a.site.pk)
    region = make_user("region_manager", tree.region)
    assert [site.pk for site in today_stores(region)] == [
        tree.store_a.site.pk,
        tree.store_b.site.pk,
    ]


# --- sections ------------------------------------------------------------------------------------


def test_a_purchase_order_due_today_shows_until_it_is_received(tree, world):
    manager = make_user("store_manager", tree.store_a)
    site = world.store
    local_today = store_today(manager, site).business_date
    order = procurement.create_purchase_order(
        site,
        world.supplier,
        [procurement.PurchaseOrderLineInput(world.tomato.pk, D(2))],
        actor=SYSTEM,
        expected_date=local_today,
    )
    later = procurement.create_purchase_order(
        site,
        world.supplier,
        [procurement.PurchaseOrderLineInput(world.tomato.pk, D(2))],
        actor=SYSTEM,
        expected_date=local_today + dt.timedelta(days=2),
    )
    for po in (order, later):
        procurement.approve_purchase_order(po, actor=SYSTEM)
        procurement.send_purchase_order(po, actor=SYSTEM)

    deliveries = store_today(manager, site).deliveries
    assert [(row.kind, row.number, row.source) for row in deliveries.rows] == [
        ("purchase_order", order.number, "Fresh Foods")
    ]
    assert deliveries.rows[0].receive_url == f"/procurement/orders/{order.pk}/receive/"
    assert deliveries.count == 1 and not deliveries.rows[0].is_late

    line = order.lines.get()
    procurement.receive_purchase_order(
        order, [procurement.ReceiptLineInput(line_id=line.pk, quantity=D(2))], actor=manager
    )
    assert store_today(manager, site).deliveries.count == 0
    # Store B's manager holds no permission at store A: the section is left out.
    assert store_today(make_user("store_manager", tree.store_b), site).deliveries is None


def test_a_sold_out_item_shows_with_how_long(tree, menu):
    manager = make_user("store_manager", tree.store_a)
    site = tree.store_a.site
    soldout.mark_sold_out(site=site, item=menu.noodles, reason="Out of beef", actor=manager)
    later = timezone.now() + dt.timedelta(minutes=25)
    section = store_today(manager, site, now=later).sold_out
    assert section.count == 1
    row = section.rows[0]
    assert (row.sku, row.is_sold_out, row.is_manual, row.reason) == (
        "NOODLES",
        True,
        True,
        "Out of beef",
    )
    assert row.minutes == 25
    assert section.url == f"/channels/sold-out/?store={site.pk}"
    soldout.clear_sold_out(site=site, item=menu.noodles, actor=manager)
    assert store_today(manager, site).sold_out.count == 0


def test_approval_tasks_waiting_for_the_user_about_the_store(tree):
    manager = make_user("store_manager", tree.store_a, username="sm-a")
    staff = make_user("store_staff", tree.store_a)
    approval_services.create_policy(
        approval_services.PolicyInput(
            document_type="procurement.requisition",
            name="Requisitions",
            condition="amount > 100",
            steps=[
                approval_services.StepInput(
                    name="Store manager",
                    approver_kind="role",
                    approver_params={"role": "store_manager", "level": "store"},
                )
            ],
        ),
        actor=SYSTEM,
        publish_now=True,
    )
    request = runtime.submit(
        runtime.Submission(
            document_type="procurement.requisition",
            document_id="REQ-7",
            fields={"amount": "500", "store": "SHA001"},
        ),
        requester=staff,
        actor=staff,
    )
    section = store_today(manager, tree.store_a.site).approvals
    assert section.count == 1
    row = section.rows[0]
    assert (row.request_id, row.step, row.url) == (
        request.pk,
        "Store manager",
        f"/approvals/requests/{request.pk}/",
    )
    assert "REQ-7" in row.title
    # Not the staff member's, and not on store B's page for a region manager.
    assert store_today(staff, tree.store_a.site).approvals.count == 0
    region = make_user("region_manager", tree.region)
    assert store_today(region, tree.store_b.site).approvals.count == 0


def test_open_alerts_of_the_store(tree):
    manager = make_user("store_manager", tree.store_a)
    site = tree.store_a.site
    alert, _new = raise_alert(
        Signal(title="Sales far below forecast", severity="critical", node=tree.store_a, site=site),
        detector="sales_drop",
    )
    raise_alert(
        Signal(title="Waste spike", severity="warning", node=tree.store_b, site=tree.store_b.site),
        detector="waste_spike",
    )
    section = store_today(manager, site).alerts
    assert section.count == 1
    assert (section.rows[0].id, section.rows[0].severity) == (alert.pk, "critical")
    assert section.rows[0].url == f"/dashboards/alerts/{alert.pk}/"
    assert section.url == f"/dashboards/alerts/?site={site.pk}"
    Alert.objects.filter(pk=alert.pk).update(status=AlertStatus.RESOLVED)
    assert store_today(manager, site).alerts.count == 0


def test_sections_the_user_may_not_see_are_left_out(tree):
    # A buyer follows the dashboards and deliveries, not the channels: no sold-out section.
    buyer = store_today(make_user("buyer", tree.group), tree.store_a.site)
    assert buyer.sales is not None
    assert (buyer.deliveries is None, buyer.counts is None, buyer.alerts is None) == (
        False,
        False,
        False,
    )
    assert buyer.sold_out is None
    manager = store_today(make_user("store_manager", tree.store_a), tree.store_a.site)
    assert all(
        getattr(manager, name) is not None
        for name in ("sales", "deliveries", "counts", "sold_out", "approvals", "alerts")
    )


def test_counts_due_and_an_inbound_transfer(tree, menu):
    from backroom.inventory import services as inventory

    manager = make_user("store_manager", tree.store_a)
    site = tree.store_a.site
    weekly = inventory.create_count_template(
        site,
        actor=SYSTEM,
        name="Weekly full count",
        lines=[inventory.TemplateLineInput(location_id=menu.walk_in.pk, item_id=menu.beef.pk)],
    )
    sheet = inventory.create_count(site, actor=SYSTEM, kind="full", location_ids=[menu.walk_in.pk])
    counts = store_today(manager, site).counts
    assert [(row.kind, row.id) for row in counts.rows] == [
        ("sheet", sheet.pk),
        ("template", weekly.pk),
    ]
    assert counts.rows[1].last_counted_at is None
    assert counts.rows[1].url == f"/stock/counts/new/?site={site.pk}&template={weekly.pk}"
    # A count of the template under way: the template is no longer listed as due.
    inventory.cancel_count(sheet, actor=SYSTEM)
    started = inventory.create_count_from_template(weekly, actor=SYSTEM)
    assert [(row.kind, row.id) for row in store_today(manager, site).counts.rows] == [
        ("sheet", started.pk)
    ]

    inventory.receive(
        item=menu.beef,
        location=menu.walk_in_b,
        quantity=D(2),
        unit_cost=D(60),
        key="b",
        actor=SYSTEM,
    )
    local_today = store_today(manager, site).business_date
    transfer = inventory.create_transfer_order(
        from_location_id=menu.walk_in_b.pk,
        to_location_id=menu.walk_in.pk,
        lines=[inventory.TransferLineInput(item_id=menu.beef.pk, quantity=D(1))],
        actor=SYSTEM,
        expected_date=local_today,
    )
    assert store_today(manager, site).deliveries.count == 0  # a draft is not on its way
    inventory.dispatch_transfer_order(transfer, actor=SYSTEM)
    deliveries = store_today(manager, site).deliveries
    assert [(row.kind, row.number, row.source) for row in deliveries.rows] == [
        ("transfer", transfer.number, tree.store_b.name)
    ]
    assert deliveries.rows[0].receive_url == f"/stock/transfers/{transfer.pk}/"
