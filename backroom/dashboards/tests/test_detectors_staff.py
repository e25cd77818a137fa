"""`staff_refunds` and `staff_discounts`: till orders carry who rang them up (the POS API's
`staff_code`); a staff member's refunds or discounts as a share of their sales on a day are
compared with their own days and the store's other staff."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from backroom.catalog.selectors import site_today
from backroom.channels.models import Order
from backroom.channels.tests.conftest import menu  # noqa: F401 (fixture)
from backroom.dashboards import detectors
from backroom.dashboards.models import Alert
from backroom.testing.factories import client_for, make_user

pytestmark = pytest.mark.django_db

D = Decimal
STAFF = ("A1", "A2", "A3")


def _till_order(store_id: int, day: dt.date, staff: str, discount: str, n: int) -> dict:
    at = dt.datetime(day.year, day.month, day.day, 11 + n, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    return {
        "uuid": str(uuid.uuid4()),
        "store_id": store_id,
        "placed_at": at.isoformat(),
        "display_id": f"{staff}-{day:%m%d}-{n}",
        "staff_code": staff,
        "merchant_discount": discount,
        "lines": [{"sku": "TEA", "quantity": "4", "unit_price": "25.00"}],
    }


@pytest.fixture
def till(tree, menu):  # noqa: F811
    """15 days (yesterday and the 14 before) of three staff members, each ringing up four
    orders of 100.00 a day with a 5.00 discount each (5 % of their sales), through the POS API;
    `spike` changes yesterday's discounts of one member."""
    site = tree.store_a.site
    yesterday = site_today(site) - dt.timedelta(days=1)
    client = client_for(make_user("store_manager", tree.store_a))

    def post(*, spike: str = "") -> dt.date:
        orders = [
            _till_order(
                site.pk,
                yesterday - dt.timedelta(days=days_ago),
                staff,
                "40.00" if staff == spike and days_ago == 0 else "5.00",
                n,
            )
            for days_ago in range(15)
            for staff in STAFF
            for n in range(4)
        ]
        response = client.post(
            "/api/v1/channels/pos/batches", {"orders": orders}, content_type="application/json"
        )
        assert response.status_code == 201, response.content
        return yesterday

    post.client = client  # type: ignore[attr-defined]
    return post


def test_the_pos_api_takes_and_returns_the_staff_code(tree, menu):  # noqa: F811
    client = client_for(make_user("store_staff", tree.store_a))
    day = site_today(tree.store_a.site)
    body = _till_order(tree.store_a.site.pk, day - dt.timedelta(days=1), "ZHANG-07", "0", 1)
    response = client.post("/api/v1/channels/pos/orders", body, content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["order"]["staff_code"] == "ZHANG-07"
    order = Order.objects.get()
    assert order.staff_code == "ZHANG-07"
    detail = client.get(f"/api/v1/channels/orders/{order.pk}")
    assert detail.json()["staff_code"] == "ZHANG-07"
    # Optional (empty by default) and at most 40 characters; a refused order changes nothing.
    body = _till_order(tree.store_a.site.pk, day, "X" * 41, "0", 2)
    response = client.post("/api/v1/channels/pos/orders", body, content_type="application/json")
    assert response.status_code == 422
    del body["staff_code"]
    body["uuid"] = str(uuid.uuid4())
    response = client.post("/api/v1/channels/pos/orders", body, content_type="application/json")
    assert response.json()["order"]["staff_code"] == ""
    assert Order.objects.count() == 2


def test_usual_discounts_and_no_refunds_raise_nothing(till):
    yesterday = till()
    assert detectors.detect_staff_anomalies(day=yesterday) == 0
    assert not Alert.objects.exists()


def test_one_members_discounts_raise_one_alert_and_reruns_group(tree, till):
    yesterday = till(spike="A2")
    assert detectors.detect_staff_anomalies(day=yesterday) == 1
    alert = Alert.objects.get()
    assert (alert.detector, alert.site, alert.fingerprint, alert.severity) == (
        "staff_discounts",
        tree.store_a.site,
        "staff:A2",
        "critical",  # above twice the threshold
    )
    details = alert.details
    assert {
        key: details[key]
        for key in ("staff_code", "sales", "amount", "orders", "actual", "threshold")
    } == {
        "staff_code": "A2",
        "sales": "400.00",
        "amount": "160.00",
        "orders": 4,
        "actual": "0.4000",
        "threshold": "0.1200",  # 5 % + 3.5 × the 2-point floor (no spread of its own)
    }
    assert details["own"] == {"median": "0.0500", "mad": "0.0000", "days": 14, "bound": "0.1200"}
    assert details["peers"] == {"median": "0.0500", "mad": "0.0000", "days": 30, "bound": "0.1200"}
    assert len(details["order_ids"]) == 4
    assert {row["amount"] for row in details["order_ids"]} == {"40.0000"}
    assert "A2" in alert.title
    assert detectors.detect_staff_anomalies(day=yesterday) == 1
    alert.refresh_from_db()
    assert (Alert.objects.count(), alert.occurrences) == (1, 2)


def test_refunds_through_the_api_raise_a_refund_alert(tree, till):
    yesterday = till()
    refunded = Order.objects.filter(staff_code="A3", business_date=yesterday).order_by("pk")[:3]
    for order in refunded:
        response = till.client.post(
            f"/api/v1/channels/orders/{order.pk}/status",
            {"status": "refunded", "reason": "customer complaint"},
            content_type="application/json",
        )
        assert response.status_code == 200, response.content
    assert detectors.detect_staff_anomalies(day=yesterday) == 1
    alert = Alert.objects.get()
    assert (alert.detector, alert.fingerprint) == ("staff_refunds", "staff:A3")
    # 3 × 95.00 refunded of 400.00: 71.25 %; nobody refunds otherwise, so 0 + 3.5 × 2 points.
    assert (alert.details["amount"], alert.details["actual"], alert.details["threshold"]) == (
        "285.00",
        "0.7125",
        "0.0700",
    )
