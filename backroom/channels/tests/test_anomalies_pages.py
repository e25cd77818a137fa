"""Order alerts through the API and the pages: permission matrices (denials change nothing), the
board's highlighting and filter, the HQ grouping, and query counts that do not grow."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backroom.audit.models import AuditEntry
from backroom.channels.models import OrderAnomaly
from backroom.channels.tests.conftest import D
from backroom.channels.tests.test_anomalies import receive
from backroom.testing.factories import client_for, make_user
from backroom.testing.matrix import assert_matrix

pytestmark = pytest.mark.django_db


def _alerts(tree, menu):
    """Store A: a Meituan order without an address, an own-app order with a big discount;
    store B: a till order with a big discount."""
    missing = receive(menu.meituan, "PA1", address="")
    discount = receive(menu.own_app, "PA2", original_price=D("20"), merchant_discount=D("15"))
    other = receive(menu.pos_b, "PB1", original_price=D("20"), merchant_discount=D("15"))
    return (
        OrderAnomaly.objects.get(order=missing),
        OrderAnomaly.objects.get(order=discount),
        OrderAnomaly.objects.get(order=other),
    )


def _state():
    return list(
        OrderAnomaly.objects.order_by("pk").values_list(
            "pk", "resolved_at", "resolution", "resolved_by", "resolution_note"
        )
    )


# --- API -------------------------------------------------------------------------------------


def test_api_list_matrix_and_filters(tree, menu):
    missing, discount, other = _alerts(tree, menu)
    url = f"/api/v1/channels/anomalies?store_id={tree.store_a.site.pk}"
    result = assert_matrix(
        "GET",
        url,
        allowed=make_user("store_staff", tree.store_a),
        forbidden=make_user("technician", tree.store_a),
        other_scope=make_user("store_staff", tree.store_b),
        expect_forbidden=200,
    )
    assert result.forbidden.json() == {"items": [], "count": 0}
    body = result.allowed.json()
    assert body["count"] == 2
    assert [item["id"] for item in body["items"]] == [discount.pk, missing.pk]  # newest first
    assert body["items"][1] == {
        "id": missing.pk,
        "order_id": missing.order_id,
        "store_id": tree.store_a.site.pk,
        "external_id": "PA1",
        "display_id": "#PA1",
        "order_status": "received",
        "rule": "missing_address",
        "severity": "critical",
        "message": "Delivery order without an address.",
        "details": {},
        "related_order_id": None,
        "detected_at": body["items"][1]["detected_at"],
        "resolved_at": None,
        "resolution": "",
        "resolved_by": None,
        "resolution_note": "",
    }
    region = client_for(make_user("region_manager", tree.region))
    everything = region.get("/api/v1/channels/anomalies").json()
    assert {item["id"] for item in everything["items"]} == {missing.pk, discount.pk, other.pk}
    by_rule = region.get("/api/v1/channels/anomalies?rule=high_discount").json()
    assert {item["id"] for item in by_rule["items"]} == {discount.pk, other.pk}
    assert region.get("/api/v1/channels/anomalies?state=resolved").json()["count"] == 0
    assert region.get("/api/v1/channels/anomalies?rule=nope").status_code == 422


def test_api_list_query_count_does_not_grow(tree, menu):
    region = client_for(make_user("region_manager", tree.region))
    receive(menu.meituan, "QC0", address="")
    region.get("/api/v1/channels/anomalies")
    with CaptureQueriesContext(connection) as few:
        assert region.get("/api/v1/channels/anomalies").json()["count"] == 1
    for number in range(8):
        receive(
            menu.meituan,
            f"QC{number + 1}",
            address="",
            original_price=D(10),
            merchant_discount=D(9),
        )
    with CaptureQueriesContext(connection) as many:
        assert region.get("/api/v1/channels/anomalies").json()["count"] == 17
    assert len(many) == len(few)


def test_api_resolve_matrix(tree, menu):
    missing, _discount, _other = _alerts(tree, menu)
    manager = make_user("store_manager", tree.store_a)
    result = assert_matrix(
        "POST",
        f"/api/v1/channels/anomalies/{missing.pk}/resolve",
        payload={"note": "Called the customer for the address"},
        allowed=manager,
        forbidden=make_user("store_staff", tree.store_a),  # sees it, may not resolve
        other_scope=make_user("store_manager", tree.store_b),
        snapshot=_state,
    )
    body = result.allowed.json()
    assert body["resolution"] == "manual" and body["resolved_by"] == manager.username
    assert body["resolution_note"] == "Called the customer for the address"
    missing.refresh_from_db()
    assert missing.resolved_at is not None and missing.resolved_by == manager
    entry = AuditEntry.objects.get(action="channels.anomaly.resolve")
    assert entry.target_id == str(missing.pk) and entry.actor_id == manager.pk
    assert entry.after["note"] == "Called the customer for the address"
    # Again: 409, and an empty note: 422; neither changes anything.
    before = (_state(), AuditEntry.objects.count())
    client = client_for(manager)
    again = client.post(
        f"/api/v1/channels/anomalies/{missing.pk}/resolve",
        {"note": "again"},
        content_type="application/json",
    )
    assert again.status_code == 409 and again.json()["code"] == "anomaly_resolved"
    empty = client.post(
        f"/api/v1/channels/anomalies/{_discount.pk}/resolve",
        {"note": ""},
        content_type="application/json",
    )
    assert empty.status_code == 422
    assert (_state(), AuditEntry.objects.count()) == before


# --- pages -----------------------------------------------------------------------------------


def test_store_alerts_page_matrix(tree, menu):
    missing, discount, other = _alerts(tree, menu)
    result = assert_matrix(
        "GET",
        f"/channels/alerts/?store={tree.store_a.site.pk}",
        allowed=make_user("store_manager", tree.store_a),
        forbidden=make_user("technician", tree.store_a),
        other_scope=make_user("store_staff", tree.store_b),
    )
    html = result.allowed.content.decode()
    assert f'data-anomaly="{missing.pk}"' in html and f'data-anomaly="{discount.pk}"' in html
    assert f'data-anomaly="{other.pk}"' not in html
    assert "Delivery order without an address." in html
    assert html.count('data-testid="resolve-form"') == 2
    assert 'data-testid="alert-groups"' not in html
    # Staff see the alerts but get no resolve form.
    staff = client_for(make_user("store_staff", tree.store_a))
    page = staff.get(f"/channels/alerts/?store={tree.store_a.site.pk}").content.decode()
    assert f'data-anomaly="{missing.pk}"' in page and 'data-testid="resolve-form"' not in page


def test_hq_alerts_page_groups_by_store_and_rule(tree, menu):
    _alerts(tree, menu)
    receive(menu.meituan, "PA3", original_price=D("20"), merchant_discount=D("19"))
    html = (
        client_for(make_user("hq_operations", tree.group)).get("/channels/alerts/").content.decode()
    )
    assert 'data-testid="alert-groups"' in html
    groups = [
        (chunk.split('data-store="')[1].split('"')[0], chunk.split('data-rule="')[1].split('"')[0])
        for chunk in html.split('data-testid="alert-group"')[1:]
    ]
    # Newest first: PA3 (store A, discount), then store B's till order, then A's address.
    assert groups == [
        ("SHA001", "high_discount"),
        ("SHA002", "high_discount"),
        ("SHA001", "missing_address"),
    ]
    assert html.split('data-testid="group-count">')[1].startswith("2<")
    # A store B user's HQ view holds store B only.
    own = client_for(make_user("store_staff", tree.store_b)).get("/channels/alerts/").content
    assert own.count(b'data-testid="alert-group"') == 1
    # Filters: a rule, resolved ones; HTMX asks for the list alone.
    region = client_for(make_user("region_manager", tree.region))
    filtered = region.get("/channels/alerts/?rule=missing_address").content.decode()
    assert filtered.count('data-testid="alert-row"') == 1
    assert (
        region.get("/channels/alerts/?state=resolved").content.count(b'data-testid="alert-row"')
        == 0
    )
    partial = region.get("/channels/alerts/", HTTP_HX_REQUEST="true")
    assert b"<html" not in partial.content and b'data-testid="order-alerts"' in partial.content


def test_resolve_page_matrix(tree, menu):
    missing, _discount, _other = _alerts(tree, menu)
    manager = make_user("store_manager", tree.store_a)
    result = assert_matrix(
        "POST",
        f"/channels/alerts/{missing.pk}/resolve/",
        payload={"note": "Rider has the address", "store": tree.store_a.site.pk},
        allowed=manager,
        forbidden=make_user("store_staff", tree.store_a),
        other_scope=make_user("store_manager", tree.store_b),
        expect_allowed=302,
        snapshot=_state,
    )
    assert result.allowed["Location"].endswith(f"/channels/alerts/?store={tree.store_a.site.pk}")
    missing.refresh_from_db()
    assert missing.resolution == "manual" and missing.resolution_note == "Rider has the address"
    # An empty note is refused with a message and changes nothing.
    before = _state()
    response = client_for(manager).post(
        f"/channels/alerts/{_discount.pk}/resolve/", {"note": " "}, follow=True
    )
    assert response.status_code == 200 and "Say what was done" in response.content.decode()
    assert _state() == before


def test_board_highlights_anomalies_and_filters_them(tree, menu):
    missing, discount, _other = _alerts(tree, menu)
    receive(menu.own_app, "PA4")  # clean
    url = f"/channels/board/?store={tree.store_a.site.pk}"
    client = client_for(make_user("store_staff", tree.store_a))
    html = client.get(url).content.decode()
    assert html.count('data-testid="anomaly-badge"') == 2
    assert 'data-rule="missing_address"' in html and "Delivery order without an address." in html
    assert 'data-order="PA4"' in html
    only = client.get(url + "&anomalies=1").content.decode()
    assert 'data-order="PA1"' in only and 'data-order="PA2"' in only
    assert 'data-order="PA4"' not in only
    polling = f'hx-get="/channels/board/?store={tree.store_a.site.pk}&amp;anomalies=1"'
    assert polling in only  # the refresh keeps the filter
    # A resolved anomaly is no longer highlighted.
    OrderAnomaly.objects.filter(pk=discount.pk).update(
        resolved_at=missing.detected_at, resolution="auto"
    )
    html = client.get(url).content.decode()
    assert html.count('data-testid="anomaly-badge"') == 1


def test_board_query_count_does_not_grow_with_anomalies(tree, menu):
    client = client_for(make_user("store_staff", tree.store_a))
    url = f"/channels/board/?store={tree.store_a.site.pk}"
    receive(menu.meituan, "BQ0", address="")
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for number in range(10):
        receive(
            menu.meituan,
            f"BQ{number + 1}",
            address="",
            original_price=D(10),
            merchant_discount=D(9),
        )
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert response.content.decode().count('data-testid="anomaly-badge"') == 21
    assert len(many) == len(few), [query["sql"] for query in many.captured_queries]


def test_navigation_has_order_alerts(tree, menu):
    html = client_for(make_user("store_staff", tree.store_a)).get("/channels/board/").content
    assert b'href="/channels/alerts/"' in html
    assert b'href="/channels/alerts/"' not in (
        client_for(make_user("technician", tree.store_a)).get("/").content
    )
