"""The channels API: the POS API (one order, batches), orders, status changes, unmapped lines and
mappings, each with its permission matrix (anonymous / no permission / other store / allowed)."""

import uuid

import pytest
from django.db.models import Sum
from django.utils import timezone

from backroom.audit.models import AuditEntry
from backroom.catalog.models import Modifier
from backroom.channels import intake
from backroom.channels.models import InboxMessage, MenuMapping, Order, OrderLine
from backroom.channels.schemas import OrderOut
from backroom.channels.tests.conftest import D, placed
from backroom.events.models import OutboxEvent
from backroom.inventory.models import Reservation, StockMove
from backroom.kernel.dates import business_date
from backroom.testing.factories import client_for, make_user, token_client_for
from backroom.testing.matrix import assert_matrix

pytestmark = pytest.mark.django_db


def till_order(store_id, *, sku="NOODLES", quantity="1", key=None, **extra):
    return {
        "uuid": str(key or uuid.uuid4()),
        "store_id": store_id,
        "placed_at": "2026-12-04T12:30:00+08:00",
        "display_id": "T-1",
        "lines": [
            {
                "sku": sku,
                "quantity": quantity,
                "unit_price": "18.00",
                "modifiers": [{"code": "extra-beef"}],
            }
        ],
        **extra,
    }


def world():
    return (
        list(Order.objects.values_list("external_id", "status")),
        StockMove.objects.count(),
        InboxMessage.objects.count(),
    )


def test_post_till_order_matrix_and_whole_effect(tree, menu):
    store = tree.store_a.site.pk
    body = till_order(store)
    staff = make_user("store_staff", tree.store_a)
    result = assert_matrix(
        "POST",
        "/api/v1/channels/pos/orders",
        payload=body,
        allowed=staff,
        forbidden=make_user("finance", tree.store_a),  # sees orders, may not post them
        other_scope=make_user("store_staff", tree.store_b),
        expect_allowed=201,
        snapshot=world,
    )
    data = result.allowed.json()
    assert data["replayed"] is False and data["index"] == 0
    order = Order.objects.get(pk=data["order"]["id"])
    assert (order.kind, order.status, order.external_id, str(order.pos_uuid)) == (
        "pos",
        "completed",
        body["uuid"],
        body["uuid"],
    )
    assert order.total == D("18.00") and order.currency == "CNY"
    assert order.business_date.isoformat() == "2026-12-04"
    # Stored with its lines; the worker applies the rest after commit (decision 0012).
    assert not order.is_depleted and data["order"]["is_depleted"] is False
    assert OrderLine.objects.filter(order=order).count() == 1
    message = InboxMessage.objects.get(account=menu.pos)
    assert message.status == "stored" and body["uuid"] in message.payload
    assert not StockMove.objects.filter(reason="sale").exists()
    assert intake.apply_stored() == 1  # the worker's job
    order.refresh_from_db()
    assert order.is_depleted
    # The modifier (our own code, sent by our till) adds 50 g of beef.
    assert StockMove.objects.filter(source_id=str(order.pk), reason="sale").count() == 3
    assert menu.on_hand(menu.beef) == D("4.85")
    message.refresh_from_db()
    assert message.status == "processed" and message.attempts == 1
    audit = AuditEntry.objects.get(action="channels.order.receive")
    assert audit.actor_id == staff.pk  # on behalf of the till's user
    assert OutboxEvent.objects.filter(event_type="channels.order.received").count() == 1
    # The same UUID again: acknowledged with the existing order, nothing changes.
    before = world()
    again = client_for(make_user("store_staff", tree.store_a)).post(
        "/api/v1/channels/pos/orders", body, content_type="application/json"
    )
    assert again.status_code == 200 and again.json()["replayed"] is True
    assert again.json()["order"]["id"] == order.pk and world() == before


def test_till_order_with_an_unknown_sku_is_kept_and_flagged(tree, menu):
    client = client_for(make_user("store_staff", tree.store_a))
    response = client.post(
        "/api/v1/channels/pos/orders",
        till_order(tree.store_a.site.pk, sku="MYSTERY"),
        content_type="application/json",
    )
    assert response.status_code == 201
    order = Order.objects.get(pk=response.json()["order"]["id"])
    assert order.unmapped_lines == 1 and not order.is_depleted
    assert OrderLine.objects.get(order=order).is_unmapped


def test_bad_till_orders_are_refused_whole_with_every_problem(tree, menu):
    client = token_client_for(make_user("hq_admin", tree.group), "integration", tree.store_a)
    duplicate = str(uuid.uuid4())
    orders = [
        till_order(tree.store_a.site.pk, key=duplicate),
        till_order(tree.store_b.site.pk),  # the token's scope is store A only
        till_order(tree.store_a.site.pk, key=duplicate),
        till_order(tree.store_a.site.pk, channel="meituan"),
        till_order(tree.store_a.site.pk),
    ]
    before = world()
    response = client.post(
        "/api/v1/channels/pos/batches", {"orders": orders}, content_type="application/json"
    )
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["code"] == "batch_rejected"
    assert [(p["index"], p["code"]) for p in body["details"]["orders"]] == [
        (1, "not_found"),
        (2, "invalid"),
        (3, "invalid"),  # tills post pos or own_app orders only
    ]
    assert world() == before
    # Pydantic problems are reported at once too (422), nothing applied.
    response = client.post(
        "/api/v1/channels/pos/batches",
        {"orders": [till_order(tree.store_a.site.pk, quantity="-1"), {"uuid": "x"}]},
        content_type="application/json",
    )
    assert response.status_code == 422 and world() == before


def test_batch_applies_all_and_replays_posted_uuids(tree, menu):
    client = token_client_for(make_user("hq_admin", tree.group), "integration", tree.store_a)
    first = till_order(tree.store_a.site.pk)
    assert (
        client.post(
            "/api/v1/channels/pos/orders", first, content_type="application/json"
        ).status_code
        == 201
    )
    assert intake.apply_stored() == 1  # the worker applies the single order
    orders = [first] + [till_order(tree.store_a.site.pk) for _ in range(3)]
    response = client.post(
        "/api/v1/channels/pos/batches", {"orders": orders}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["created"], body["replayed"]) == (3, 1)
    assert [row["replayed"] for row in body["results"]] == [True, False, False, False]
    assert Order.objects.count() == 4
    # The orders of a batch's answer are built without validation: the same as validated.
    for row in body["results"]:
        detail = client.get(f"/api/v1/channels/orders/{row['order']['id']}").json()
        assert row["order"] == {key: detail[key] for key in row["order"]}
        assert set(row["order"]) == set(OrderOut.model_fields)
    # The single order's own 3 moves, and the batch's 3 new orders summed in 3 more.
    assert StockMove.objects.filter(reason="sale").count() == 6
    sold = StockMove.objects.filter(reason="sale").aggregate(total=Sum("quantity"))["total"]
    again = client.post(
        "/api/v1/channels/pos/batches", {"orders": orders}, content_type="application/json"
    )
    assert again.status_code == 200 and again.json()["replayed"] == 4
    assert StockMove.objects.filter(reason="sale").count() == 6
    assert StockMove.objects.filter(reason="sale").aggregate(total=Sum("quantity"))["total"] == sold


def test_batch_refuses_more_than_1000_orders(tree, menu):
    client = client_for(make_user("store_staff", tree.store_a))
    one = till_order(tree.store_a.site.pk)
    response = client.post(
        "/api/v1/channels/pos/batches",
        {"orders": [dict(one, uuid=str(uuid.uuid4())) for _ in range(1001)]},
        content_type="application/json",
    )
    assert response.status_code == 422 and not Order.objects.exists()


def test_list_orders_matrix_and_filters(tree, menu):
    intake.apply_event(menu.own_app, placed("A1"))
    intake.apply_event(menu.pos_b, placed("B1", status="completed"))
    result = assert_matrix(
        "GET",
        "/api/v1/channels/orders",
        allowed=make_user("store_staff", tree.store_a),
        forbidden=make_user("technician", tree.store_a),
        other_scope=make_user("store_staff", tree.store_hk),
        expect_forbidden=200,
        expect_other_scope=200,
    )
    assert result.forbidden.json()["items"] == [] and result.other_scope.json()["items"] == []
    assert [row["external_id"] for row in result.allowed.json()["items"]] == ["A1"]
    client = client_for(make_user("region_manager", tree.region))
    rows = client.get("/api/v1/channels/orders", {"status": "completed"}).json()["items"]
    assert [row["external_id"] for row in rows] == ["B1"]
    site = tree.store_a.site
    today = business_date(timezone.now(), time_zone=site.time_zone, cutoff_hour=site.cutoff_hour)
    rows = client.get(
        "/api/v1/channels/orders", {"store_id": site.pk, "business_date": today.isoformat()}
    ).json()["items"]
    assert [row["store_code"] for row in rows] == ["SHA001"]
    assert (
        client.get("/api/v1/channels/orders", {"store_id": tree.store_hk.site.pk}).status_code
        == 404
    )


def test_get_order_with_history_matrix(tree, menu):
    order = intake.apply_event(menu.own_app, placed("A2")).order
    intake.apply_event(menu.own_app, placed("A2", status="ready", key="ready"))
    intake.apply_event(menu.own_app, placed("A2", status="accepted", key="late"))
    result = assert_matrix(
        "GET",
        f"/api/v1/channels/orders/{order.pk}",
        allowed=make_user("finance", tree.store_a),
        forbidden=make_user("technician", tree.store_a),
        other_scope=make_user("store_staff", tree.store_b),
        expect_forbidden=404,
    )
    data = result.allowed.json()
    assert data["status"] == "ready" and data["lines"][0]["external_sku"] == "NOODLES"
    assert [(h["to_status"], h["is_applied"]) for h in data["history"]] == [
        ("received", True),
        ("ready", True),
        ("ready", False),
    ]


def test_status_change_matrix_reserves_and_refuses_illegal_moves(tree, menu):
    order = intake.apply_event(menu.own_app, placed("A3")).order
    url = f"/api/v1/channels/orders/{order.pk}/status"
    result = assert_matrix(
        "POST",
        url,
        payload={"status": "accepted", "key": "acc-1"},
        allowed=make_user("store_staff", tree.store_a),
        forbidden=make_user("finance", tree.store_a),
        other_scope=make_user("store_manager", tree.store_b),
        snapshot=lambda: (
            list(Order.objects.values_list("status", flat=True)),
            Reservation.objects.count(),
        ),
    )
    assert result.allowed.json()["status"] == "accepted" and result.allowed.json()["is_reserved"]
    assert Reservation.objects.filter(status="active").count() == 3
    client = client_for(make_user("store_staff", tree.store_a))
    response = client.post(url, {"status": "received"}, content_type="application/json")
    assert response.status_code == 409 and response.json()["code"] == "invalid_transition"
    response = client.post(url, {"status": "completed"}, content_type="application/json")
    assert response.status_code == 200 and response.json()["is_depleted"]
    assert set(Reservation.objects.values_list("status", flat=True)) == {"fulfilled"}


def test_acceptance_short_of_stock_is_409_and_changes_nothing(tree, menu):
    order = intake.apply_event(menu.own_app, placed("A4", lines=[("NOODLES", "80")])).order
    client = client_for(make_user("store_staff", tree.store_a))
    response = client.post(
        f"/api/v1/channels/orders/{order.pk}/status",
        {"status": "accepted"},
        content_type="application/json",
    )
    assert response.status_code == 409 and response.json()["code"] == "insufficient_stock"
    order.refresh_from_db()
    assert order.status == "received" and not Reservation.objects.exists()


def test_unmapped_list_and_mapping_matrix_catches_up(tree, menu):
    intake.apply_event(menu.meituan, placed("M1", lines=[("MT-88", "2")], status="completed"))
    intake.apply_event(menu.pos_b, placed("B2", lines=[("B-99", "1")], status="completed"))
    listed = assert_matrix(
        "GET",
        "/api/v1/channels/unmapped",
        allowed=make_user("store_manager", tree.store_a),
        forbidden=make_user("store_staff", tree.store_a),  # sees orders, does not map
        other_scope=make_user("store_manager", tree.store_hk),
        expect_forbidden=200,
        expect_other_scope=200,
    )
    assert listed.forbidden.json()["items"] == [] and listed.other_scope.json()["items"] == []
    rows = listed.allowed.json()["items"]
    assert [(row["external_sku"], row["lines"], row["channel"]) for row in rows] == [
        ("MT-88", 1, "meituan")
    ]
    result = assert_matrix(
        "POST",
        "/api/v1/channels/mappings",
        payload={
            "account_id": menu.meituan.pk,
            "external_code": "MT-88",
            "item_id": menu.noodles.pk,
        },
        allowed=make_user("store_manager", tree.store_a),
        forbidden=make_user("store_staff", tree.store_a),
        other_scope=make_user("store_manager", tree.store_b),
        snapshot=lambda: (MenuMapping.objects.count(), StockMove.objects.count()),
    )
    assert result.allowed.json()["caught_up_lines"] == 1
    order = Order.objects.get(external_id="M1")
    assert order.unmapped_lines == 0 and order.is_depleted
    assert menu.on_hand(menu.flour) == D("9.6")
    modifier = Modifier.objects.get(code="extra-beef")
    client = client_for(make_user("store_manager", tree.store_a))
    response = client.post(
        "/api/v1/channels/mappings",
        {"account_id": menu.meituan.pk, "external_code": "MT-XB", "modifier_id": modifier.pk},
        content_type="application/json",
    )
    assert response.status_code == 200 and response.json()["kind"] == "modifier"
    response = client.post(
        "/api/v1/channels/mappings",
        {"account_id": menu.meituan.pk, "external_code": "MT-1", "item_id": menu.flour.pk},
        content_type="application/json",
    )
    assert response.status_code == 422


def test_accounts_matrix_never_returns_credentials(tree, menu):
    result = assert_matrix(
        "POST",
        "/api/v1/channels/accounts",
        payload={
            "store_id": tree.store_a.site.pk,
            "channel": "eleme",
            "name": "Ele.me",
            "store_ref": "ELE-77",
            "secrets": {"app_key": "k", "app_secret": "very-secret"},
            "after_depletion": "return",
        },
        allowed=make_user("store_manager", tree.store_a),
        forbidden=make_user("store_staff", tree.store_a),
        other_scope=make_user("store_manager", tree.store_b),
        expect_allowed=201,
    )
    data = result.allowed.json()
    assert data["has_credentials"] is True and "very-secret" not in result.allowed.content.decode()
    listed = client_for(make_user("store_staff", tree.store_a)).get("/api/v1/channels/accounts")
    assert "very-secret" not in listed.content.decode()
    assert {row["channel"] for row in listed.json()["items"]} == {
        "pos",
        "meituan",
        "own_app",
        "eleme",
    }
    again = client_for(make_user("store_manager", tree.store_a)).post(
        "/api/v1/channels/accounts",
        {
            "store_id": tree.store_a.site.pk,
            "channel": "eleme",
            "name": "Dup",
            "store_ref": "ELE-77",
        },
        content_type="application/json",
    )
    assert again.status_code == 409


def test_a_store_without_a_till_account_is_told_so(tree, menu):
    client = client_for(make_user("hq_admin", tree.group))
    response = client.post(
        "/api/v1/channels/pos/orders",
        till_order(tree.store_hk.site.pk),
        content_type="application/json",
    )
    assert response.status_code == 422 and response.json()["code"] == "no_channel_account"
    assert not Order.objects.exists()


def test_order_list_queries_do_not_grow_with_orders(tree, menu, django_assert_max_num_queries):
    client = client_for(make_user("store_staff", tree.store_a))
    intake.apply_event(menu.own_app, placed("Q0"))
    with django_assert_max_num_queries(12) as few:
        client.get("/api/v1/channels/orders")
    for number in range(1, 8):
        intake.apply_event(menu.own_app, placed(f"Q{number}"))
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get("/api/v1/channels/orders")
    assert response.json()["count"] == 8
