"""`Idempotency-Key` on API writes, seen through real endpoints."""

import json

from django.test import Client

from backroom.audit.models import AuditEntry
from backroom.kernel.actors import SYSTEM
from backroom.kernel.models import IdempotencyRecord
from backroom.org import services
from backroom.org.models import Brand
from backroom.testing.factories import client_for, make_user, token_client_for

BRANDS = "/api/v1/org/brands"


def _post(client, body, key, **extra):
    return client.post(
        BRANDS, json.dumps(body), content_type="application/json", HTTP_IDEMPOTENCY_KEY=key, **extra
    )


def test_same_key_and_body_replays_the_first_response(tree):
    client = client_for(make_user("hq_admin", tree.group))
    first = _post(client, {"code": "NOODLE", "name": "Noodle"}, "key-1")
    again = _post(client, {"code": "NOODLE", "name": "Noodle"}, "key-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Brand.objects.count() == 1
    assert AuditEntry.objects.filter(action="org.brand.create").count() == 1


def test_a_replayed_validation_error_is_the_same_error(tree):
    client = client_for(make_user("hq_admin", tree.group))
    services.create_brand("NOODLE", "Noodle", actor=SYSTEM)
    first = _post(client, {"code": "NOODLE", "name": "Again"}, "key-1")
    again = _post(client, {"code": "NOODLE", "name": "Again"}, "key-1")
    assert first.status_code == again.status_code == 422
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"


def test_same_key_with_another_body_is_refused(tree):
    client = client_for(make_user("hq_admin", tree.group))
    _post(client, {"code": "NOODLE", "name": "Noodle"}, "key-1")
    response = _post(client, {"code": "RICE", "name": "Rice"}, "key-1")
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert list(Brand.objects.values_list("code", flat=True)) == ["NOODLE"]


def test_keys_belong_to_their_principal(tree):
    admin = make_user("hq_admin", tree.group)
    session = client_for(admin)
    token = token_client_for(admin, "hq_admin", tree.group)
    assert _post(session, {"code": "NOODLE", "name": "Noodle"}, "key-1").status_code == 201
    # the same key from another principal (the user's token) is a new request
    second = _post(token, {"code": "NOODLE", "name": "Noodle"}, "key-1")
    assert second.status_code == 422
    assert "Idempotent-Replayed" not in second
    assert IdempotencyRecord.objects.count() == 2


def test_a_server_error_is_not_stored_so_the_client_may_retry(tree, monkeypatch):
    admin = make_user("hq_admin", tree.group)
    client = Client(raise_request_exception=False)
    client.force_login(admin)
    real = services.create_brand

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "create_brand", broken)
    failed = _post(client, {"code": "NOODLE", "name": "Noodle"}, "key-1")
    assert failed.status_code == 500
    assert IdempotencyRecord.objects.count() == 0
    assert Brand.objects.count() == 0

    monkeypatch.setattr(services, "create_brand", real)
    retried = _post(client, {"code": "NOODLE", "name": "Noodle"}, "key-1")
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried
    assert Brand.objects.count() == 1


def test_reads_and_keyless_writes_are_not_recorded(tree):
    client = client_for(make_user("hq_admin", tree.group))
    client.get(BRANDS, HTTP_IDEMPOTENCY_KEY="key-1")
    client.post(BRANDS, {"code": "NOODLE", "name": "Noodle"}, content_type="application/json")
    assert IdempotencyRecord.objects.count() == 0
