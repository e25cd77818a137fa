"""Idempotency-Key under concurrency: two identical requests at once run the write once."""

import json
import threading
import time

import pytest
from django.db import connection

from backroom.kernel.models import IdempotencyRecord
from backroom.org import services as org_services
from backroom.org.models import OrgNode
from backroom.testing.factories import client_for, make_tree, make_user


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_create_one_row(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("concurrency is tested on PostgreSQL")
    tree = make_tree()
    admin = make_user("hq_admin", tree.group)
    real_create = org_services.create_node

    def slow_create(*args, **kwargs):
        time.sleep(0.3)  # keep the first request running while the duplicate arrives
        return real_create(*args, **kwargs)

    monkeypatch.setattr(org_services, "create_node", slow_create)
    body = json.dumps(
        {"kind": "store", "code": "SHA009", "name": "Twin", "parent_id": tree.region.pk}
    )
    statuses = []
    barrier = threading.Barrier(2)

    def post():
        client = client_for(admin)
        barrier.wait()
        response = client.post(
            "/api/v1/org/nodes",
            body,
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="twin-1",
        )
        statuses.append(
            (response.status_code, response.json()["code"] if response.status_code != 201 else None)
        )
        connection.close()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(s for s, _ in statuses) in ([201, 201], [201, 409])
    if 409 in [s for s, _ in statuses]:
        assert (409, "idempotency_in_progress") in statuses
    assert OrgNode.objects.filter(code="SHA009").count() == 1
    assert IdempotencyRecord.objects.get(key="twin-1").status_code == 201


def test_request_id_is_echoed_or_generated(client):
    response = client.get("/login/", HTTP_X_REQUEST_ID="abcDEF12-3456")
    assert response["X-Request-ID"] == "abcDEF12-3456"
    generated = client.get("/login/", HTTP_X_REQUEST_ID="bad id with spaces")["X-Request-ID"]
    assert generated != "bad id with spaces"
    assert len(generated) == 32


def test_refusals_are_not_stored_so_a_corrected_retry_runs(tree):
    """Regression: a write refused for a missing CSRF token, retried with the same key, must run."""
    from django.test import Client

    admin = make_user("hq_admin", tree.group)
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    body = json.dumps(
        {"kind": "store", "code": "SHA010", "name": "Retry", "parent_id": tree.region.pk}
    )
    refused = client.post(
        "/api/v1/org/nodes", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert refused.status_code == 403
    assert not IdempotencyRecord.objects.filter(key="k-1").exists()
    client.get("/")  # a page with a form sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    created = client.post(
        "/api/v1/org/nodes",
        body,
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k-1",
        HTTP_X_CSRFTOKEN=token,
    )
    assert created.status_code == 201
    assert OrgNode.objects.filter(code="SHA010").count() == 1


def test_query_string_is_part_of_the_request(tree):
    admin = make_user("hq_admin", tree.group)
    client = client_for(admin)
    body = json.dumps({"kind": "store", "code": "SHA011", "name": "Q", "parent_id": tree.region.pk})
    first = client.post(
        "/api/v1/org/nodes?a=1", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-2"
    )
    assert first.status_code == 201
    second = client.post(
        "/api/v1/org/nodes?a=2", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-2"
    )
    assert second.status_code == 422
    assert second.json()["code"] == "idempotency_key_reused"


@pytest.mark.parametrize("idempotency_key", [None, "k-big"])
def test_a_body_over_the_upload_limit_is_a_json_413(tree, settings, idempotency_key):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    admin = make_user("hq_admin", tree.group)
    body = json.dumps(
        {"kind": "store", "code": "SHA012", "name": "x" * 2000, "parent_id": tree.region.pk}
    )
    headers = {"HTTP_IDEMPOTENCY_KEY": idempotency_key} if idempotency_key else {}
    response = client_for(admin).post(
        "/api/v1/org/nodes", body, content_type="application/json", **headers
    )
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    assert not OrgNode.objects.filter(code="SHA012").exists()
    assert not IdempotencyRecord.objects.exists()


def test_a_body_that_is_not_json_is_a_422_and_changes_nothing(tree):
    admin = make_user("hq_admin", tree.group)
    before = OrgNode.objects.count()
    response = client_for(admin).post(
        "/api/v1/org/nodes", b'{"kind": "store", "code": ', content_type="application/json"
    )
    assert response.status_code == 422
    assert response.json()["code"] == "malformed_body"
    assert OrgNode.objects.count() == before
