"""The inventory API, with a permission matrix: anonymous, no permission, permission, other store."""

import json

import pytest

from backroom.audit.models import AuditEntry
from backroom.inventory.models import ItemValuation, Location, StockMove
from backroom.inventory.tests.conftest import D
from backroom.testing.factories import client_for, make_user, token_client_for

BASE = "/api/v1/inventory"


def post(client, url, body, **headers):
    return client.post(
        f"{BASE}{url}", data=json.dumps(body), content_type="application/json", **headers
    )


@pytest.fixture
def people(tree):
    return {
        "admin_a": make_user("hq_admin", tree.store_a),  # every permission at store A only
        "staff_a": make_user("technician", tree.store_a),  # no inventory permission
        "admin": make_user("hq_admin", tree.group),
    }


def test_receive_then_consume_through_the_api_with_replay(stock, people):
    client = client_for(people["admin_a"])
    body = {
        "item_id": stock.flour.pk,
        "location_id": stock.walk_in.pk,
        "quantity": "2",
        "unit": "bag",
        "unit_cost": "100",
        "lot_code": "L1",
        "expiry_date": "2099-01-01",
        "key": "r1",
        "source": {"type": "procurement.receipt", "id": "9", "number": "GR-1"},
    }
    first = post(client, "/receipts", body)
    assert first.status_code == 201, first.content
    data = first.json()
    assert data["replayed"] is False and data["move_count"] == 1
    move = data["moves"][0]
    assert (D(move["quantity"]), D(move["unit_cost"]), D(move["value"])) == (D(50), D(4), D(200))
    again = post(client, "/receipts", body)
    assert again.status_code == 200 and again.json()["replayed"] is True
    assert StockMove.objects.count() == 1
    short = post(
        client,
        "/consumptions",
        {"item_id": stock.flour.pk, "location_id": stock.walk_in.pk, "quantity": "51"},
    )
    assert short.status_code == 409
    assert short.json()["code"] == "insufficient_stock"
    assert short.json()["details"]["short_by"] == "1.000000"
    used = post(
        client,
        "/consumptions",
        {"item_id": stock.flour.pk, "location_id": stock.walk_in.pk, "quantity": "5"},
        HTTP_IDEMPOTENCY_KEY="use-1",
    )
    assert used.status_code == 201
    assert StockMove.objects.get(reason="consumption").idempotency_key == (
        f"api:u{people['admin_a'].pk}:use-1"
    )
    on_hand = client.get(f"{BASE}/on-hand", {"site_id": stock.walk_in.site_id})
    assert on_hand.status_code == 200
    rows = on_hand.json()["items"]
    assert [(row["lot"], D(row["quantity"]), D(row["value"])) for row in rows] == [
        ("L1", D(45), D(180))
    ]
    history = client.get(f"{BASE}/items/{stock.flour.pk}/moves")
    assert [row["reason"] for row in history.json()["items"]] == ["consumption", "receipt"]
    assert history.json()["items"][1]["source_number"] == "GR-1"


def test_batch_posts_all_or_nothing_and_reports_every_line(stock, people):
    client = token_client_for(people["admin_a"], "hq_admin", stock.walk_in.site.node)
    lines = [
        {
            "action": "receive",
            "key": f"b{n}",
            "item_id": stock.flour.pk,
            "location_id": stock.walk_in.pk,
            "quantity": "10",
            "unit_cost": "2",
        }
        for n in range(3)
    ]
    bad = post(
        client,
        "/batches",
        {"moves": [*lines, {**lines[0], "key": "x", "action": "issue", "quantity": "-1"}]},
    )
    assert bad.status_code == 422
    assert bad.json()["code"] == "batch_rejected"
    assert [(line["index"], line["code"]) for line in bad.json()["details"]["lines"]] == [
        (3, "negative_quantity")
    ]
    assert StockMove.objects.count() == 0
    good = post(client, "/batches?moves=true", {"moves": lines})
    assert good.status_code == 201, good.content
    assert good.json()["move_count"] == 3 and len(good.json()["moves"]) == 3
    assert ItemValuation.objects.get().quantity == D(30)
    assert AuditEntry.objects.filter(action="inventory.batch").count() == 1


def test_transfer_and_receipt_at_the_other_store(stock, people, tree):
    admin = client_for(people["admin"])
    post(
        admin,
        "/receipts",
        {
            "item_id": stock.flour.pk,
            "location_id": stock.walk_in.pk,
            "quantity": "8",
            "unit_cost": "2",
        },
    )
    sent = post(
        admin,
        "/transfers",
        {
            "item_id": stock.flour.pk,
            "from_location_id": stock.walk_in.pk,
            "to_location_id": stock.freezer_b.pk,
            "quantity": "5",
        },
    )
    assert sent.status_code == 201, sent.content
    arrived = post(
        admin,
        f"/transfers/{sent.json()['posting_id']}/receipts",
        {"location_id": stock.freezer_b.pk},
    )
    assert arrived.status_code == 201, arrived.content
    assert ItemValuation.objects.get(location=stock.freezer_b).quantity == D(5)


@pytest.mark.parametrize(
    "who, expected",
    [("anonymous", 401), ("staff_a", 403), ("admin_a", 201), ("admin_a_other_store", 404)],
)
def test_write_permission_matrix(stock, people, who, expected):
    user = None if who == "anonymous" else people[who.replace("_other_store", "")]
    location = stock.freezer_b if who.endswith("other_store") else stock.walk_in
    response = post(
        client_for(user),
        "/receipts",
        {"item_id": stock.flour.pk, "location_id": location.pk, "quantity": "1", "unit_cost": "1"},
    )
    assert response.status_code == expected, response.content
    assert StockMove.objects.count() == (1 if expected == 201 else 0)


@pytest.mark.parametrize("who, expected", [("anonymous", 401), ("staff_a", 404), ("admin_a", 200)])
def test_read_permission_matrix_and_other_store_is_not_found(stock, people, who, expected):
    user = None if who == "anonymous" else people[who]
    client = client_for(user)
    mine = client.get(f"{BASE}/locations/{stock.walk_in.pk}")
    assert mine.status_code == expected
    other = client.get(f"{BASE}/locations/{stock.freezer_b.pk}")
    assert other.status_code == (401 if who == "anonymous" else 404)
    if who == "admin_a":
        listed = client.get(f"{BASE}/locations")
        assert {row["code"] for row in listed.json()["items"]} == {"WALKIN", "DRY"}


def test_location_create_and_close(stock, people, tree):
    client = client_for(people["admin_a"])
    created = post(
        client,
        "/locations",
        {"site_id": tree.store_a.site.pk, "code": "bar", "name": "Bar", "kind": "bar"},
    )
    assert created.status_code == 201, created.content
    assert created.json()["code"] == "BAR" and created.json()["site_code"] == "SHA001"
    closed = client.patch(
        f"{BASE}/locations/{created.json()['id']}",
        data=json.dumps({"is_active": False}),
        content_type="application/json",
    )
    assert closed.status_code == 200 and closed.json()["is_active"] is False
    assert Location.objects.get(code="BAR").is_active is False
    refused = post(
        client,
        "/locations",
        {"site_id": tree.store_b.site.pk, "code": "X", "name": "X", "kind": "bar"},
    )
    assert refused.status_code == 404
