"""An item class's target service level (safety stock of suggested orders): set when the class
is created or changed through the API (catalog.manage), 0.50–0.999 or empty, every refusal a
localised field error that changes nothing; audited and published."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import translation

from backroom.accounts.services import grant_membership
from backroom.audit.models import AuditEntry
from backroom.catalog import services
from backroom.catalog.models import ItemClass
from backroom.events.models import OutboxEvent
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import ValidationFailed
from backroom.testing.factories import client_for, make_user
from backroom.testing.matrix import assert_matrix

API = "/api/v1/catalog"
D = Decimal


@pytest.fixture
def people(tree, catalog_roles):
    def holder(role, node):
        user = make_user()
        grant_membership(user, catalog_roles[role], node, actor=SYSTEM)
        return user

    return {
        "editor": holder("manager", tree.group),
        "region_editor": holder("manager", tree.region),
        "viewer": holder("viewer", tree.store_a),
        "nobody": holder("outsider", tree.store_a),
    }


def _classes():
    return list(ItemClass.objects.order_by("pk").values_list("code", "name", "service_level"))


def _send(client, method, url, payload):
    return getattr(client, method)(
        url, json.dumps(payload, default=str), content_type="application/json"
    )


def test_create_with_a_service_level(food_class, people, django_capture_on_commit_callbacks):
    editor = client_for(people["editor"])
    with django_capture_on_commit_callbacks(execute=True):
        response = _send(
            editor,
            "post",
            f"{API}/item-classes",
            {"code": "meat", "name": "Meat", "service_level": "0.98"},
        )
    assert response.status_code == 201, response.content
    assert response.json()["service_level"] == "0.980"
    assert ItemClass.objects.get(code="meat").service_level == D("0.98")
    event = OutboxEvent.objects.get(event_type="catalog.item_class.created", payload__code="meat")
    assert event.payload["service_level"] == "0.980"
    listed = client_for(people["viewer"]).get(f"{API}/item-classes").json()["items"]
    assert [(row["code"], row["service_level"]) for row in listed] == [
        ("food", None),
        ("meat", "0.980"),
    ]


@pytest.mark.parametrize(
    ("value", "field"),
    [("0.3", "service_level"), ("1", "service_level"), ("0.9995", "service_level")],
)
def test_out_of_range_levels_are_refused_with_a_field_error(food_class, people, value, field):
    editor = client_for(people["editor"])
    before = (_classes(), AuditEntry.objects.count(), OutboxEvent.objects.count())
    created = _send(
        editor,
        "post",
        f"{API}/item-classes",
        {"code": "meat", "name": "Meat", "service_level": value},
    )
    changed = _send(
        editor, "patch", f"{API}/item-classes/{food_class.pk}", {"service_level": value}
    )
    for response in (created, changed):
        assert response.status_code == 422, response.content
        body = response.json()
        assert body["code"] == "invalid"
        assert list(body["details"]["fields"]) == [field]
    assert (_classes(), AuditEntry.objects.count(), OutboxEvent.objects.count()) == before


def test_the_error_is_localised(food_class, people):
    with translation.override("en"):
        with pytest.raises(ValidationFailed) as caught:
            services.update_item_class(
                food_class, services.ItemClassChanges(service_level="0.3"), actor=SYSTEM
            )
    [message] = caught.value.errors["service_level"]
    assert message.startswith("Use a service level from 0.50 to 0.999")
    response = client_for(people["editor"]).patch(
        f"{API}/item-classes/{food_class.pk}",
        json.dumps({"service_level": "0.3"}),
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert response.status_code == 422
    assert response.json()["details"]["fields"]["service_level"]


def test_patch_matrix_and_whole_effect(food_class, people, django_capture_on_commit_callbacks):
    url = f"{API}/item-classes/{food_class.pk}"
    with django_capture_on_commit_callbacks(execute=True):
        result = assert_matrix(
            "PATCH",
            url,
            payload={"service_level": "0.97", "reason": "Fewer stock-outs"},
            allowed=people["editor"],
            forbidden=people["viewer"],  # sees the class, may not change it
            other_scope=None,  # the catalog is chain-wide
            snapshot=_classes,
        )
    body = result.allowed.json()
    assert (body["code"], body["name"], body["service_level"]) == ("food", "Food", "0.970")
    assert ItemClass.objects.get(pk=food_class.pk).service_level == D("0.97")
    entry = AuditEntry.objects.get(action="catalog.item_class.update")
    assert (entry.reason, entry.before["service_level"], entry.after["service_level"]) == (
        "Fewer stock-outs",
        None,
        "0.970",
    )
    event = OutboxEvent.objects.get(event_type="catalog.item_class.updated")
    assert (event.payload["changed"], event.payload["service_level"]) == (
        ["service_level"],
        "0.970",
    )
    # A manager below the root may not change chain-wide master data; an outsider sees none.
    before = (_classes(), AuditEntry.objects.count())
    region = _send(client_for(people["region_editor"]), "patch", url, {"service_level": "0.9"})
    assert (region.status_code, region.json()["code"]) == (403, "permission_denied")
    hidden = _send(client_for(people["nobody"]), "patch", url, {"service_level": "0.9"})
    assert (hidden.status_code, hidden.json()["code"]) == (404, "not_found")
    missing = _send(client_for(people["editor"]), "patch", f"{API}/item-classes/999999", {})
    assert missing.status_code == 404
    assert (_classes(), AuditEntry.objects.count()) == before


def test_patch_changes_only_what_is_sent_and_null_clears(food_class, people):
    editor = client_for(people["editor"])
    url = f"{API}/item-classes/{food_class.pk}"
    assert _send(editor, "patch", url, {"service_level": "0.99"}).status_code == 200
    renamed = _send(editor, "patch", url, {"name": "Fresh food"})
    assert (renamed.json()["name"], renamed.json()["service_level"]) == ("Fresh food", "0.990")
    cleared = _send(editor, "patch", url, {"service_level": None})
    assert cleared.json()["service_level"] is None
    audits = AuditEntry.objects.filter(action="catalog.item_class.update").count()
    unchanged = _send(editor, "patch", url, {"service_level": None})
    assert unchanged.status_code == 200
    assert AuditEntry.objects.filter(action="catalog.item_class.update").count() == audits
    empty_name = _send(editor, "patch", url, {"name": None, "negative_stock_policy": None})
    assert empty_name.status_code == 422
    assert set(empty_name.json()["details"]["fields"]) == {"name", "negative_stock_policy"}


def test_the_database_refuses_a_level_out_of_range(food_class):
    with pytest.raises(IntegrityError), transaction.atomic():
        ItemClass.objects.filter(pk=food_class.pk).update(service_level=D("0.3"))


def test_the_item_page_shows_the_level(flour, people):
    page = client_for(people["viewer"]).get(f"/catalog/items/{flour.pk}/")
    assert page.status_code == 200
    assert "planning default" in page.content.decode()
    services.update_item_class(
        flour.item_class, services.ItemClassChanges(service_level=D("0.975")), actor=SYSTEM
    )
    body = client_for(people["viewer"]).get(f"/catalog/items/{flour.pk}/").content.decode()
    assert 'data-testid="item-service-level"' in body and "0.975" in body
