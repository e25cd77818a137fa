"""`price_jump`: supplier invoices entered through the procurement services are checked by the
worker (`procurement.invoice.entered`) against the item's own prices from that supplier; a
steady price alerts on +20 %, a volatile one does not; a replay groups."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from backroom.dashboards import detectors
from backroom.dashboards.models import Alert
from backroom.events.services import dispatch_outbox
from backroom.kernel import clock
from backroom.kernel.actors import SYSTEM
from backroom.procurement import services
from backroom.procurement.models import PurchaseOrder
from backroom.procurement.tests.conftest import world  # noqa: F401 (fixture)
from backroom.testing.factories import make_user

pytestmark = pytest.mark.django_db

D = Decimal
NOW = dt.datetime(2025, 3, 10, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _clock():
    with clock.at(NOW):
        yield


def _buy(world, manager, number: int, tomato: str, oil: str):  # noqa: F811
    """A requisition → PO (price list: tomato 80.00 a case, oil 45.50 a bottle), sent, and its
    invoice at the given prices."""
    requisition = services.create_requisition(
        world.store,
        [
            services.RequisitionLineInput(
                item_id=world.tomato.pk, quantity=D(10), supplier_id=world.supplier.pk
            ),
            services.RequisitionLineInput(
                item_id=world.oil.pk, quantity=D(12), supplier_id=world.supplier.pk
            ),
        ],
        actor=manager,
    )
    order = services.send_purchase_order(
        PurchaseOrder.objects.get(requisition=requisition), actor=SYSTEM
    )
    tomato_line, oil_line = order.lines.order_by("line_no")
    invoice = services.enter_invoice(
        world.supplier,
        services.InvoiceInput(
            invoice_number=f"INV-{number}",
            invoice_date=dt.date(2025, 3, 1) + dt.timedelta(days=number),
            purchase_order_number=order.number,
            lines=[
                services.InvoiceLineInput(
                    quantity=D(10), unit_price=D(tomato), purchase_order_line_id=tomato_line.pk
                ),
                services.InvoiceLineInput(
                    quantity=D(12), unit_price=D(oil), purchase_order_line_id=oil_line.pk
                ),
            ],
        ),
        actor=SYSTEM,
    )
    dispatch_outbox()  # the worker: dashboards.price_jump
    return invoice


@pytest.fixture
def bought(world, tree):  # noqa: F811
    """Four earlier invoices: tomato always 80.00, oil 36.00 or 55.00 (median 45.50, MAD 9.50)."""
    manager = make_user("store_manager", tree.store_a)
    for number, oil in enumerate(("36.00", "55.00", "55.00", "36.00"), start=1):
        _buy(world, manager, number, "80.00", oil)
    assert not Alert.objects.exists()
    return manager


def test_usual_prices_raise_nothing(world, bought):  # noqa: F811
    _buy(world, bought, 5, "82.00", "50.00")
    assert not Alert.objects.exists()


def test_a_jump_on_a_steady_price_raises_one_alert_a_volatile_one_does_not(world, tree, bought):  # noqa: F811
    # Tomato +20 % on a price that never moved; oil +23 % on one that moves ±20 % anyway.
    invoice = _buy(world, bought, 5, "96.00", "56.00")
    alert = Alert.objects.get()
    assert (alert.detector, alert.site, alert.node, alert.severity) == (
        "price_jump",
        world.store,
        tree.store_a,
        "warning",
    )
    assert alert.fingerprint == f"supplier:{world.supplier.pk}:item:{world.tomato.pk}"
    details = alert.details
    assert {
        key: details[key]
        for key in (
            "invoice_number",
            "line_no",
            "item",
            "unit",
            "actual",
            "median",
            "mad",
            "rise",
            "threshold_rise",
            "history_count",
        )
    } == {
        "invoice_number": "INV-5",
        "line_no": 1,
        "item": "TOMATO",
        "unit": "case",
        "actual": "96.00",
        "median": "80.00",
        "mad": "0.00",
        "rise": "0.2000",
        "threshold_rise": "0.1500",  # the 15 % floor
        "history_count": 4,
    }
    assert [row["number"] for row in details["history"]] == ["INV-4", "INV-3", "INV-2", "INV-1"]
    assert reverse(details["invoice_page"], args=[details["invoice_id"]]) == (
        f"/procurement/invoices/{invoice.pk}/"
    )
    assert "+20 %" in alert.title
    # A replay of the event (or a re-run) groups on the open alert.
    assert detectors.detect_price_jumps(invoice.pk) == 1
    alert.refresh_from_db()
    assert (Alert.objects.count(), alert.occurrences) == (1, 2)


def test_a_volatile_price_alerts_beyond_its_own_spread(world, bought):  # noqa: F811
    _buy(world, bought, 5, "80.00", "90.00")
    alert = Alert.objects.get()
    # MAD 9.50 on a median of 45.50: 3 × 1.4826 × 9.5 / 45.5 = 92.87 %, above the 15 % floor.
    assert (alert.details["item"], alert.details["threshold_rise"], alert.details["rise"]) == (
        "OIL",
        "0.9287",
        "0.9780",
    )


def test_too_little_history_says_nothing(world, tree):  # noqa: F811
    manager = make_user("store_manager", tree.store_a)
    _buy(world, manager, 1, "80.00", "45.50")
    _buy(world, manager, 2, "200.00", "45.50")
    assert not Alert.objects.exists()


# --- price_change: a new price list beyond the supplier's threshold ------------------------------


def _june_prices(world, **prices):  # noqa: F811
    from backroom.procurement.models import PriceList

    PriceList.objects.filter(name="2025").update(valid_to=dt.date(2025, 5, 31))
    items = {"tomato": world.tomato, "milk": world.milk, "oil": world.oil}
    price_list = services.create_price_list(
        world.supplier,
        services.PriceListInput(
            name="June",
            valid_from=dt.date(2025, 6, 1),
            lines=[services.PriceLineInput(items[name].pk, D(p)) for name, p in prices.items()],
        ),
        actor=SYSTEM,
    )
    dispatch_outbox()  # the worker: dashboards.price_change
    return price_list


def test_a_price_list_beyond_the_threshold_alerts_buyers_not_stores(world, tree):  # noqa: F811
    from backroom.dashboards.selectors_alerts import alerts_for

    # Threshold 10 %: tomato +15 %, oil +31.87 % (beyond twice the threshold), milk +5 %.
    price_list = _june_prices(world, tomato="92.00", milk="126.00", oil="60.00")
    alert = Alert.objects.get()
    assert (alert.detector, alert.node, alert.site, alert.severity) == (
        "price_change",
        tree.entity,  # the supplier's node: the list covers every store
        None,
        "critical",
    )
    assert alert.fingerprint == f"price_list:{price_list.pk}"
    assert alert.title == "Price change from Fresh Foods: 2 items beyond ±10 %"
    assert alert.message == (
        "Price list “June” (CNY, from 2025-06-01): "
        "OIL 45.50 → 60.00 (+31.87 %); TOMATO 80.00 → 92.00 (+15.00 %)"
    )
    assert [line["sku"] for line in alert.details["lines"]] == ["TOMATO", "OIL"]
    assert alert.details["threshold_percent"] == "10.00"
    buyer = make_user("buyer", tree.entity)
    manager = make_user("store_manager", tree.store_a)
    assert list(alerts_for(buyer)) == [alert]
    assert not alerts_for(manager).exists()
    # A replay of the event groups on the open alert.
    assert detectors.alert_price_change(price_list.pk, alert.details["lines"])
    alert.refresh_from_db()
    assert (Alert.objects.count(), alert.occurrences) == (1, 2)


def test_prices_within_the_threshold_raise_nothing(world):  # noqa: F811
    _june_prices(world, tomato="86.00", milk="126.00")  # +7.5 %, +5 %
    assert not Alert.objects.exists()
