"""Endpoint services: every write's whole effect, every denial changes nothing."""

import json

import pytest

from backroom.audit.models import AuditEntry
from backroom.events.models import OutboxEvent
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import NotFound, PermissionDenied, ValidationFailed
from backroom.testing.factories import make_user
from backroom.webhooks import services
from backroom.webhooks.exceptions import EndpointInactive
from backroom.webhooks.models import WebhookEndpoint
from backroom.webhooks.tests.helpers import make_endpoint


def _world():
    return (
        list(WebhookEndpoint.objects.order_by("id").values()),
        AuditEntry.objects.count(),
        OutboxEvent.objects.count(),
    )


def test_create_endpoint_records_row_audit_and_event_and_returns_the_secret_once(tree):
    engineer = make_user("integration", tree.store_a)
    issued = services.create_endpoint(
        services.EndpointInput(
            node_id=tree.store_a.pk,
            name="  POS bridge ",
            url=" https://pos.example.com/hooks ",
            event_types=["org.node.updated", "org.node.created", "org.node.updated"],
            description="Till sync",
        ),
        actor=engineer,
    )
    endpoint = WebhookEndpoint.objects.get(pk=issued.endpoint.pk)
    assert endpoint.node_id == tree.store_a.pk
    assert endpoint.name == "POS bridge"
    assert endpoint.url == "https://pos.example.com/hooks"
    assert endpoint.event_types == ["org.node.created", "org.node.updated"]
    assert endpoint.is_active
    assert endpoint.secret == issued.secret
    assert issued.secret.startswith("whsec_")
    entry = AuditEntry.objects.get(action="webhooks.endpoint.create", target_id=str(endpoint.pk))
    assert entry.actor_id == engineer.pk
    assert entry.org_node_id == tree.store_a.pk
    assert entry.after == {
        "node_id": tree.store_a.pk,
        "name": "POS bridge",
        "url": "https://pos.example.com/hooks",
        "event_types": ["org.node.created", "org.node.updated"],
        "description": "Till sync",
        "is_active": True,
    }
    assert issued.secret not in json.dumps(entry.after)
    event = OutboxEvent.objects.get(event_type="webhooks.endpoint.created")
    assert event.org_node_id == tree.store_a.pk
    assert event.payload == {
        "endpoint_id": endpoint.pk,
        "node_id": tree.store_a.pk,
        "name": "POS bridge",
        "event_types": ["org.node.created", "org.node.updated"],
    }


def test_star_subscribes_to_everything(tree):
    issued = make_endpoint(tree.group, event_types=["org.node.updated", "*"])
    assert issued.endpoint.event_types == ["*"]


def test_create_endpoint_reports_every_problem_at_once_and_changes_nothing(tree):
    before = _world()
    with pytest.raises(ValidationFailed) as caught:
        services.create_endpoint(
            services.EndpointInput(
                node_id=None,
                name=" ",
                url="ftp://files.example.com/drop",
                event_types=["org.node.updated", "no.such.event"],
            ),
            actor=SYSTEM,
        )
    fields = caught.value.details["fields"]
    assert set(fields) == {"node_id", "name", "url", "event_types"}
    assert fields["event_types"] == ["“no.such.event” is not an event type."]
    with pytest.raises(ValidationFailed) as caught:
        services.create_endpoint(
            services.EndpointInput(
                node_id=tree.store_a.pk, name="x", url="not a url", event_types=[]
            ),
            actor=SYSTEM,
        )
    assert set(caught.value.details["fields"]) == {"url", "event_types"}
    assert _world() == before


def test_delivery_events_cannot_be_subscribed(tree):
    with pytest.raises(ValidationFailed) as caught:
        make_endpoint(tree.group, event_types=["webhooks.delivery.failed"])
    assert set(caught.value.details["fields"]) == {"event_types"}


def test_denied_creations_change_nothing(tree):
    staff = make_user("store_staff", tree.store_a)
    viewer = make_user("hq_operations", tree.group)
    other = make_user("integration", tree.store_b)
    before = _world()
    with pytest.raises(PermissionDenied):
        make_endpoint(tree.store_a, actor=staff)
    with pytest.raises(PermissionDenied):
        make_endpoint(tree.store_a, actor=viewer)
    with pytest.raises(NotFound):
        make_endpoint(tree.store_a, actor=other)
    assert _world() == before


def test_update_endpoint_changes_fields_audits_and_publishes(tree):
    endpoint = make_endpoint(tree.store_a).endpoint
    engineer = make_user("integration", tree.store_a)
    updated = services.update_endpoint(
        endpoint,
        services.EndpointChanges(name="Renamed", url="http://10.0.0.5:8080/in", description=""),
        actor=engineer,
        reason="new receiver",
    )
    assert (updated.name, updated.url) == ("Renamed", "http://10.0.0.5:8080/in")
    entry = AuditEntry.objects.get(action="webhooks.endpoint.update")
    assert entry.reason == "new receiver"
    assert entry.before["name"] == "Hook at SHA001"
    assert entry.after["name"] == "Renamed"
    event = OutboxEvent.objects.get(event_type="webhooks.endpoint.updated")
    assert event.payload["changed"] == ["name", "url"]
    # No change: no audit entry, no event.
    before = _world()
    services.update_endpoint(updated, services.EndpointChanges(name="Renamed"), actor=engineer)
    assert _world() == before


def test_update_endpoint_validates_and_denies_without_changing_anything(tree):
    endpoint = make_endpoint(tree.store_a).endpoint
    other = make_user("integration", tree.store_b)
    viewer = make_user("hq_operations", tree.group)
    before = _world()
    with pytest.raises(ValidationFailed) as caught:
        services.update_endpoint(
            endpoint,
            services.EndpointChanges(name="", url="javascript:alert(1)", event_types=[]),
            actor=SYSTEM,
        )
    assert set(caught.value.details["fields"]) == {"name", "url", "event_types"}
    with pytest.raises(NotFound):
        services.update_endpoint(
            endpoint,
            services.EndpointChanges(name="Mine"),
            actor=other,
        )
    with pytest.raises(PermissionDenied):
        services.rotate_secret(endpoint, actor=viewer)
    assert _world() == before


def test_deactivate_and_reactivate(tree):
    endpoint = make_endpoint(tree.store_a).endpoint
    engineer = make_user("integration", tree.store_a)
    services.delete_endpoint(endpoint, actor=engineer, reason="retired")
    endpoint.refresh_from_db()
    assert not endpoint.is_active
    entry = AuditEntry.objects.get(action="webhooks.endpoint.deactivate")
    assert (entry.before["is_active"], entry.after["is_active"], entry.reason) == (
        True,
        False,
        "retired",
    )
    OutboxEvent.objects.get(event_type="webhooks.endpoint.deactivated")
    services.update_endpoint(endpoint, services.EndpointChanges(is_active=True), actor=engineer)
    endpoint.refresh_from_db()
    assert endpoint.is_active
    OutboxEvent.objects.get(event_type="webhooks.endpoint.activated")
    AuditEntry.objects.get(action="webhooks.endpoint.activate")


def test_replay_needs_an_active_endpoint(deliver, tree, receiver):
    from backroom.webhooks.models import WebhookDelivery
    from backroom.webhooks.tests.helpers import touch_site

    endpoint = make_endpoint(tree.store_a, receiver.url).endpoint
    touch_site(tree.store_a)
    deliver()
    services.set_endpoint_active(endpoint, False, actor=SYSTEM)
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    before = _world()
    with pytest.raises(EndpointInactive):
        services.replay_delivery(delivery, actor=SYSTEM)
    assert _world() == before
