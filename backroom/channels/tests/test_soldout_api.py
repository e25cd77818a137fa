"""Sold-out API and pages: each endpoint and page with its permission matrix (anonymous / no
permission / other store / allowed); denied requests change nothing."""

import pytest

from backroom.channels.models import OutboundCall, SoldOutState
from backroom.channels.tests.test_soldout import EL_SPEC, MT_CODE, fake_platforms, sell
from backroom.testing.factories import client_for, make_user
from backroom.testing.matrix import assert_matrix

pytestmark = pytest.mark.django_db


@pytest.fixture
def platforms(tree, menu):
    with fake_platforms(tree, menu) as connected:
        yield connected


def world():
    return (
        list(
            SoldOutState.objects.order_by("pk").values_list(
                "item_id", "sellable", "is_sold_out", "is_manual", "reason"
            )
        ),
        list(OutboundCall.objects.order_by("pk").values_list("status", "attempts")),
    )


def test_panel_matrix_and_order(tree, menu, platforms, django_capture_on_commit_callbacks):
    store = tree.store_a.site.pk
    manager = make_user("store_manager", tree.store_a)
    client_for(manager).post(
        f"/api/v1/channels/stores/{store}/sold-out",
        {"item_id": menu.tea.pk, "reason": "No lemons"},
        content_type="application/json",
    )
    result = assert_matrix(
        "GET",
        f"/api/v1/channels/stores/{store}/sold-out",
        allowed=make_user("store_staff", tree.store_a),
        forbidden=make_user("technician", tree.store_a),  # sees the store, not its channels
        other_scope=make_user("store_staff", tree.store_b),
        snapshot=world,
    )
    body = result.allowed.json()
    assert body["store_id"] == store
    rows = [(r["sku"], r["sellable"], r["is_sold_out"], r["is_manual"]) for r in body["items"]]
    assert rows == [("TEA", None, True, True), ("NOODLES", 50, False, False)]
    assert body["items"][0]["reason"] == "No lemons"


def test_hold_and_clear_matrix_with_the_whole_effect(
    tree, menu, platforms, django_capture_on_commit_callbacks
):
    store = tree.store_a.site.pk
    with django_capture_on_commit_callbacks(execute=True):
        result = assert_matrix(
            "POST",
            f"/api/v1/channels/stores/{store}/sold-out",
            payload={"item_id": menu.noodles.pk, "reason": "Broth spoiled"},
            allowed=make_user("store_manager", tree.store_a),
            forbidden=make_user("store_staff", tree.store_a),  # sees the panel, may not hold
            other_scope=make_user("store_manager", tree.store_b),
            snapshot=world,
        )
    body = result.allowed.json()
    assert (body["is_sold_out"], body["is_manual"], body["reason"], body["sellable"]) == (
        True,
        True,
        "Broth spoiled",
        50,
    )
    assert body["outbound_calls"] == list(
        OutboundCall.objects.order_by("pk").values_list("pk", flat=True)
    )
    assert platforms.meituan.sold_out == {"SH001": {MT_CODE}}
    assert platforms.eleme.sold_out == {EL_SPEC}

    with django_capture_on_commit_callbacks(execute=True):
        cleared = assert_matrix(
            "POST",
            f"/api/v1/channels/stores/{store}/sold-out/{menu.noodles.pk}/clear",
            payload={"reason": "New broth"},
            allowed=make_user("store_manager", tree.store_a),
            forbidden=make_user("store_staff", tree.store_a),
            other_scope=make_user("store_manager", tree.store_b),
            snapshot=world,
        )
    assert (cleared.allowed.json()["is_sold_out"], cleared.allowed.json()["is_manual"]) == (
        False,
        False,
    )
    assert platforms.meituan.sold_out == {"SH001": set()} and platforms.eleme.sold_out == set()
    again = client_for(make_user("store_manager", tree.store_a)).post(
        f"/api/v1/channels/stores/{store}/sold-out/{menu.noodles.pk}/clear",
        {},
        content_type="application/json",
    )
    assert again.status_code == 409 and again.json()["code"] == "not_held"


def test_hold_refuses_bad_input_all_at_once(tree, menu):
    client = client_for(make_user("store_manager", tree.store_a))
    response = client.post(
        f"/api/v1/channels/stores/{tree.store_a.site.pk}/sold-out",
        {"item_id": menu.flour.pk, "reason": "x"},
        content_type="application/json",
    )
    assert response.status_code == 422 and response.json()["details"]["fields"] == {
        "item_id": ["This item is not on the menu."]
    }
    assert world() == ([], [])


def test_outbound_calls_list_and_retry_matrix(
    tree, menu, platforms, django_capture_on_commit_callbacks
):
    platforms.meituan.fail_next(1)
    with django_capture_on_commit_callbacks(execute=True):
        sell(tree.store_a.site.pk, "50")
    failed = OutboundCall.objects.get(status="failed")
    result = assert_matrix(
        "GET",
        "/api/v1/channels/outbound-calls?status=failed",
        allowed=make_user("store_staff", tree.store_a),
        forbidden=make_user("technician", tree.store_a),
        other_scope=make_user("store_staff", tree.store_b),
        expect_forbidden=200,
        expect_other_scope=200,
        snapshot=world,
    )
    assert result.forbidden.json()["items"] == [] and result.other_scope.json()["items"] == []
    [row] = result.allowed.json()["items"]
    assert (row["id"], row["channel"], row["action"], row["attempts"]) == (
        failed.pk,
        "meituan",
        "sold_out",
        1,
    )
    assert row["store_id"] == tree.store_a.site.pk and "700" in row["last_error"]
    everything = client_for(make_user("store_staff", tree.store_a)).get(
        "/api/v1/channels/outbound-calls"
    )
    assert everything.json()["count"] == 2

    with django_capture_on_commit_callbacks(execute=True):
        retried = assert_matrix(
            "POST",
            f"/api/v1/channels/outbound-calls/{failed.pk}/retry",
            allowed=make_user("store_manager", tree.store_a),
            forbidden=make_user("store_staff", tree.store_a),
            other_scope=make_user("store_manager", tree.store_b),
            snapshot=world,
        )
    assert retried.allowed.json()["status"] == "pending"  # sent after the commit
    failed.refresh_from_db()
    assert failed.status == "sent" and platforms.meituan.sold_out == {"SH001": {MT_CODE}}


# --- pages ----------------------------------------------------------------------------------


def test_panel_page_matrix(tree, menu, platforms, django_capture_on_commit_callbacks):
    platforms.meituan.fail_next(1)
    with django_capture_on_commit_callbacks(execute=True):
        sell(tree.store_a.site.pk, "50")
    result = assert_matrix(
        "GET",
        f"/channels/sold-out/?store={tree.store_a.site.pk}",
        allowed=make_user("store_manager", tree.store_a),
        forbidden=make_user("technician", tree.store_a),
        other_scope=make_user("store_staff", tree.store_b),
        snapshot=world,
    )
    html = result.allowed.content.decode()
    assert 'data-sku="NOODLES" data-sold-out="true"' in html
    assert html.index('data-sku="NOODLES"') < html.index('data-sku="TEA"')  # sold out on top
    assert html.count('data-testid="failed-call"') == 1 and 'data-testid="retry-call"' in html
    # Store staff see the panel but get no buttons.
    staff = client_for(make_user("store_staff", tree.store_a)).get(
        f"/channels/sold-out/?store={tree.store_a.site.pk}"
    )
    assert staff.status_code == 200 and 'data-testid="hold-form"' not in staff.content.decode()
    assert 'data-testid="retry-call"' not in staff.content.decode()


def test_hold_clear_and_retry_pages_matrix(
    tree, menu, platforms, django_capture_on_commit_callbacks
):
    store = tree.store_a.site.pk
    with django_capture_on_commit_callbacks(execute=True):
        result = assert_matrix(
            "POST",
            "/channels/sold-out/hold/",
            payload={"store": store, "item": menu.noodles.pk, "reason": "Fryer down"},
            allowed=make_user("store_manager", tree.store_a),
            forbidden=make_user("store_staff", tree.store_a),
            other_scope=make_user("store_manager", tree.store_b),
            expect_allowed=302,
            snapshot=world,
        )
    assert result.allowed["Location"] == f"/channels/sold-out/?store={store}"
    held = SoldOutState.objects.get(site_id=store, item=menu.noodles)
    assert (held.is_manual, held.reason) == (True, "Fryer down")
    assert platforms.meituan.sold_out == {"SH001": {MT_CODE}}

    with django_capture_on_commit_callbacks(execute=True):
        assert_matrix(
            "POST",
            "/channels/sold-out/clear/",
            payload={"store": store, "item": menu.noodles.pk},
            allowed=make_user("store_manager", tree.store_a),
            forbidden=make_user("store_staff", tree.store_a),
            other_scope=make_user("store_manager", tree.store_b),
            expect_allowed=302,
            snapshot=world,
        )
    assert not SoldOutState.objects.get(site_id=store, item=menu.noodles).is_sold_out

    platforms.eleme.fail_next(1)
    with django_capture_on_commit_callbacks(execute=True):
        sell(store, "50")
    failed = OutboundCall.objects.get(status="failed")
    with django_capture_on_commit_callbacks(execute=True):
        assert_matrix(
            "POST",
            f"/channels/outbound/{failed.pk}/retry/",
            allowed=make_user("store_manager", tree.store_a),
            forbidden=make_user("store_staff", tree.store_a),
            other_scope=make_user("store_manager", tree.store_b),
            expect_allowed=302,
            snapshot=world,
        )
    failed.refresh_from_db()
    assert failed.status == "sent" and platforms.eleme.sold_out == {EL_SPEC}


def test_a_hold_without_a_reason_is_refused_on_the_page(tree, menu):
    client = client_for(make_user("store_manager", tree.store_a))
    response = client.post(
        "/channels/sold-out/hold/",
        {"store": tree.store_a.site.pk, "item": menu.noodles.pk, "reason": ""},
        follow=True,
    )
    assert response.status_code == 200
    assert "A reason of 1 to 200 characters is required." in response.content.decode()
    assert world() == ([], [])
