"""The webhooks API: a permission matrix per endpoint, whole effects, shown-once secrets."""

import json

import pytest

from backroom.audit.models import AuditEntry
from backroom.testing.factories import client_for, make_user, token_client_for
from backroom.testing.matrix import assert_matrix
from backroom.webhooks.choices import DeliveryStatus
from backroom.webhooks.models import WebhookDelivery, WebhookEndpoint
from backroom.webhooks.tests.helpers import make_endpoint, touch_site

BASE = "/api/v1/webhooks"


@pytest.fixture
def people(tree):
    return {
        "engineer": make_user("integration", tree.store_a),
        "staff": make_user("store_staff", tree.store_a),
        "other": make_user("integration", tree.store_b),
        "viewer": make_user("hq_operations", tree.group),
    }


@pytest.fixture
def delivered(deliver, tree, receiver):
    """An endpoint at store A with one succeeded delivery."""
    issued = make_endpoint(tree.store_a, receiver.url)
    touch_site(tree.store_a)
    deliver()
    return issued.endpoint, WebhookDelivery.objects.get(endpoint=issued.endpoint)


def _endpoints():
    return WebhookEndpoint.objects.order_by("id").values_list(
        "name", "url", "event_types", "is_active", "secret"
    )


def test_list_endpoints_matrix(tree, people):
    mine = make_endpoint(tree.store_a).endpoint
    theirs = make_endpoint(tree.store_b).endpoint
    result = assert_matrix(
        "GET",
        f"{BASE}/endpoints",
        allowed=people["engineer"],
        forbidden=people["staff"],
        other_scope=people["other"],
        expect_other_scope=200,
    )
    body = result.allowed.json()
    assert body["count"] == 1
    item = body["items"][0]
    assert item["id"] == mine.pk
    assert item["node_code"] == "SHA001"
    assert item["circuit_state"] == "closed"
    assert "secret" not in item and "previous_secret" not in item
    assert [i["id"] for i in result.other_scope.json()["items"]] == [theirs.pk]
    group_view = client_for(people["viewer"]).get(f"{BASE}/endpoints").json()
    assert {i["id"] for i in group_view["items"]} == {mine.pk, theirs.pk}


def test_list_endpoints_query_count_does_not_grow(tree, people, django_assert_max_num_queries):
    for _ in range(8):
        make_endpoint(tree.store_a)
    client = client_for(people["engineer"])
    with django_assert_max_num_queries(8):
        response = client.get(f"{BASE}/endpoints?limit=50")
    assert response.json()["count"] == 8


def test_create_endpoint_matrix_and_effect(tree, people):
    payload = {
        "node_id": tree.store_a.pk,
        "name": "Till bridge",
        "url": "https://till.example.com/hook",
        "event_types": ["org.node.updated"],
    }
    result = assert_matrix(
        "POST",
        f"{BASE}/endpoints",
        payload=payload,
        allowed=people["engineer"],
        forbidden=people["staff"],
        other_scope=people["other"],
        expect_allowed=201,
        snapshot=_endpoints,
    )
    body = result.allowed.json()
    endpoint = WebhookEndpoint.objects.get(pk=body["endpoint"]["id"])
    assert body["secret"] == endpoint.secret
    assert body["secret"].startswith("whsec_")
    assert body["endpoint"]["name"] == "Till bridge"
    assert body["endpoint"]["event_types"] == ["org.node.updated"]
    AuditEntry.objects.get(action="webhooks.endpoint.create", target_id=str(endpoint.pk))
    # Never shown again.
    again = client_for(people["engineer"]).get(f"{BASE}/endpoints/{endpoint.pk}")
    assert endpoint.secret not in again.content.decode()


def test_create_endpoint_reports_all_field_errors(tree, people):
    before = list(_endpoints())
    response = client_for(people["engineer"]).post(
        f"{BASE}/endpoints",
        json.dumps(
            {"node_id": tree.store_a.pk, "name": "", "url": "gopher://x", "event_types": []}
        ),
        content_type="application/json",
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["details"]["fields"]) == {"name", "url", "event_types"}
    assert list(_endpoints()) == before


def test_get_and_patch_endpoint_matrix(tree, people):
    endpoint = make_endpoint(tree.store_a).endpoint
    url = f"{BASE}/endpoints/{endpoint.pk}"
    result = assert_matrix(
        "GET",
        url,
        allowed=people["engineer"],
        forbidden=people["staff"],
        other_scope=people["other"],
    )
    assert result.allowed.json()["url"] == "https://hooks.example.com/backroom"

    result = assert_matrix(
        "PATCH",
        url,
        payload={"name": "Renamed", "is_active": False, "reason": "moving"},
        allowed=people["engineer"],
        forbidden=people["viewer"],  # sees it, may not change it
        other_scope=people["other"],
        snapshot=_endpoints,
    )
    assert result.allowed.json()["name"] == "Renamed"
    assert result.allowed.json()["is_active"] is False
    endpoint.refresh_from_db()
    assert (endpoint.name, endpoint.is_active) == ("Renamed", False)
    assert AuditEntry.objects.get(action="webhooks.endpoint.update").reason == "moving"
    AuditEntry.objects.get(action="webhooks.endpoint.deactivate")


def test_rotate_secret_matrix(tree, people):
    issued = make_endpoint(tree.store_a)
    result = assert_matrix(
        "POST",
        f"{BASE}/endpoints/{issued.endpoint.pk}/rotate-secret",
        payload={"reason": "leaked"},
        allowed=people["engineer"],
        forbidden=people["staff"],
        other_scope=people["other"],
        snapshot=_endpoints,
    )
    body = result.allowed.json()
    endpoint = WebhookEndpoint.objects.get(pk=issued.endpoint.pk)
    assert body["secret"] == endpoint.secret != issued.secret
    assert endpoint.previous_secret == issued.secret
    assert body["previous_secret_expires_at"] is not None
    assert AuditEntry.objects.get(action="webhooks.endpoint.rotate_secret").reason == "leaked"


def test_deliveries_and_attempts_matrix(tree, people, delivered):
    endpoint, delivery = delivered
    result = assert_matrix(
        "GET",
        f"{BASE}/endpoints/{endpoint.pk}/deliveries",
        allowed=people["engineer"],
        forbidden=people["staff"],
        other_scope=people["other"],
    )
    body = result.allowed.json()
    assert body["count"] == 1
    item = body["items"][0]
    assert item["id"] == delivery.pk
    assert item["webhook_id"] == str(delivery.event.event_id)
    assert item["status"] == "succeeded"

    result = assert_matrix(
        "GET",
        f"{BASE}/deliveries/{delivery.pk}/attempts",
        allowed=people["engineer"],
        forbidden=people["staff"],
        other_scope=people["other"],
    )
    attempts = result.allowed.json()["items"]
    assert [(a["number"], a["status_code"], a["is_success"]) for a in attempts] == [(1, 200, True)]

    result = assert_matrix(
        "GET",
        f"{BASE}/deliveries/{delivery.pk}",
        allowed=people["viewer"],
        forbidden=people["staff"],
        other_scope=people["other"],
    )
    assert result.allowed.json()["event_type"] == "org.node.updated"


def test_replay_matrix_and_effect(
    tree, people, delivered, receiver, django_capture_on_commit_callbacks
):
    _endpoint, delivery = delivered

    def state():
        return [
            WebhookDelivery.objects.filter(pk=delivery.pk)
            .values_list("status", "attempt_count")
            .get(),
            delivery.attempts.count(),
            len(receiver.requests),
        ]

    with django_capture_on_commit_callbacks(execute=True):
        result = assert_matrix(
            "POST",
            f"{BASE}/deliveries/{delivery.pk}/replay",
            payload={"reason": "receiver lost it"},
            allowed=people["engineer"],
            forbidden=people["viewer"],
            other_scope=people["other"],
            expect_allowed=202,
            snapshot=state,
        )
    assert result.allowed.json()["id"] == delivery.pk
    assert len(receiver.requests) == 2
    assert receiver.requests[0].headers["webhook-id"] == receiver.requests[1].headers["webhook-id"]
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.attempts.count() == 2
    entry = AuditEntry.objects.get(action="webhooks.delivery.replay")
    assert entry.reason == "receiver lost it"


def test_replay_of_an_inactive_endpoint_is_a_conflict(tree, people, delivered):
    endpoint, delivery = delivered
    client = client_for(people["engineer"])
    client.patch(
        f"{BASE}/endpoints/{endpoint.pk}",
        json.dumps({"is_active": False}),
        content_type="application/json",
    )
    response = client.post(f"{BASE}/deliveries/{delivery.pk}/replay", "", "application/json")
    assert response.status_code == 409
    assert response.json()["code"] == "endpoint_inactive"
    assert AuditEntry.objects.filter(action="webhooks.delivery.replay").count() == 0


def test_event_types_matrix(tree, people):
    result = assert_matrix(
        "GET",
        f"{BASE}/event-types",
        allowed=people["engineer"],
        forbidden=people["staff"],
        other_scope=None,
    )
    types = [row["event_type"] for row in result.allowed.json()]
    assert "org.node.updated" in types
    assert "webhooks.endpoint.created" in types
    assert "webhooks.delivery.failed" not in types
    assert types == sorted(types)


def test_bearer_token_can_list_and_token_scope_limits(tree, people):
    mine = make_endpoint(tree.store_a).endpoint
    make_endpoint(tree.store_b)
    client = token_client_for(people["engineer"], "integration", tree.store_a)
    body = client.get(f"{BASE}/endpoints").json()
    assert [item["id"] for item in body["items"]] == [mine.pk]


def test_list_deliveries_query_count_does_not_grow(
    deliver, tree, people, receiver, django_assert_max_num_queries
):
    endpoint = make_endpoint(tree.store_a, receiver.url).endpoint
    for _ in range(6):
        touch_site(tree.store_a)
    deliver()
    client = client_for(people["engineer"])
    with django_assert_max_num_queries(9):
        response = client.get(f"{BASE}/endpoints/{endpoint.pk}/deliveries")
    assert response.json()["count"] == 6
