"""Fan-out, signed sending to a real local HTTP server, retries, circuit breaker, replay, rotation."""

import datetime as dt
import json
import time

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from backroom.accounts import services as accounts_services
from backroom.audit.models import AuditEntry
from backroom.events.models import EventConsumption, OutboxEvent
from backroom.events.services import dispatch_outbox
from backroom.kernel.actors import SYSTEM
from backroom.testing.factories import PASSWORD, client_for, make_user
from backroom.webhooks import services
from backroom.webhooks.choices import AttemptTrigger, CircuitState, DeliveryStatus
from backroom.webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint
from backroom.webhooks.tests.helpers import expected_signature, make_endpoint, touch_site


def _make_due(**filters):
    WebhookDelivery.objects.filter(**filters).update(
        next_attempt_at=timezone.now() - dt.timedelta(seconds=1)
    )


# --- fan-out --------------------------------------------------------------------------------


def test_fan_out_follows_the_org_tree(tree):
    group_all = make_endpoint(tree.group, event_types=["*"]).endpoint
    group_users = make_endpoint(tree.group, event_types=["accounts.user.created"]).endpoint
    region = make_endpoint(tree.region).endpoint
    store_a = make_endpoint(tree.store_a).endpoint
    store_b = make_endpoint(tree.store_b).endpoint
    make_endpoint(tree.group, event_types=["*"], is_active=False)
    make_endpoint(tree.entity_hk)
    dispatch_outbox()  # on-commit does not fire inside the test transaction: nothing is sent

    event_a = touch_site(tree.store_a)
    event_b = touch_site(tree.store_b)
    user_event = OutboxEvent.objects.get(
        event_type="accounts.user.created",
        payload__user_id=accounts_services.create_user(
            accounts_services.UserInput(username="no-node", password=PASSWORD), actor=SYSTEM
        ).pk,
    )
    assert user_event.org_node is None
    dispatch_outbox()

    def endpoints_of(event):
        return set(WebhookDelivery.objects.filter(event=event).values_list("endpoint", flat=True))

    assert endpoints_of(event_a) == {group_all.pk, region.pk, store_a.pk}
    assert endpoints_of(event_b) == {group_all.pk, region.pk, store_b.pk}
    assert endpoints_of(user_event) == {group_all.pk, group_users.pk}
    delivery = WebhookDelivery.objects.get(event=event_a, endpoint=store_a)
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.event_type == "org.node.updated"
    assert delivery.attempt_count == 0
    # Machine bookkeeping is not audited (the delivery and attempt rows are the record).
    assert not AuditEntry.objects.filter(target_type="webhooks.webhookdelivery").exists()
    # At least once upstream, once here: a second fan-out creates nothing.
    assert services.deliver_event(event_a) == []
    assert WebhookDelivery.objects.filter(event=event_a).count() == 3


def test_a_dispatch_round_reads_the_endpoints_once_and_the_next_round_afresh(tree):
    store_a = make_endpoint(tree.store_a).endpoint
    dispatch_outbox()
    events = [touch_site(tree.store_a), touch_site(tree.store_b), touch_site(tree.store_a)]
    with CaptureQueriesContext(connection) as captured:
        assert dispatch_outbox() >= 3
    reads = [q for q in captured.captured_queries if 'FROM "webhooks_webhookendpoint"' in q["sql"]]
    assert len(reads) == 1
    assert [WebhookDelivery.objects.filter(event=e).count() for e in events] == [1, 0, 1]
    # The event no endpoint waits for passed the subscriber by: no transaction, no record.
    consumed = EventConsumption.objects.filter(subscriber="webhooks.deliver_event")
    assert set(consumed.filter(event__in=events).values_list("event_id", flat=True)) == {
        events[0].pk,
        events[2].pk,
    }
    store_b = make_endpoint(tree.store_b).endpoint  # seen by the next round
    event = touch_site(tree.store_b)
    dispatch_outbox()
    assert set(WebhookDelivery.objects.filter(event=event).values_list("endpoint", flat=True)) == {
        store_b.pk
    }
    assert store_a.pk != store_b.pk


# --- sending --------------------------------------------------------------------------------


def test_receiver_gets_a_signed_event(deliver, tree, receiver):
    issued = make_endpoint(tree.store_a, receiver.url)
    event = touch_site(tree.store_a)
    deliver()

    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert request.path == "/hooks/backroom"
    webhook_id = request.headers["webhook-id"]
    timestamp = request.headers["webhook-timestamp"]
    assert webhook_id == str(event.event_id)
    assert abs(int(timestamp) - time.time()) < 60
    assert request.headers["webhook-signature"] == expected_signature(
        issued.secret, webhook_id, timestamp, request.body
    )
    assert request.headers["content-type"] == "application/json"
    body = json.loads(request.body)
    assert body == {
        "type": "org.node.updated",
        "timestamp": event.occurred_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "data": event.payload,
    }

    delivery = WebhookDelivery.objects.get(event=event, endpoint=issued.endpoint)
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.attempt_count == 1
    assert delivery.next_attempt_at is None
    assert delivery.last_status_code == 200
    attempt = delivery.attempts.get()
    assert attempt.number == 1
    assert attempt.trigger == AttemptTrigger.SCHEDULED
    assert attempt.status_code == 200
    assert attempt.is_success
    assert attempt.latency_ms is not None and attempt.latency_ms >= 0
    assert attempt.response_excerpt == '{"ok": true}'
    assert attempt.error == ""
    assert attempt.request_timestamp == int(timestamp)
    assert not AuditEntry.objects.filter(
        target_id=str(delivery.pk), target_type="webhooks.webhookdelivery"
    ).exists()


def test_long_responses_are_cut_to_one_kilobyte(deliver, tree, receiver):
    receiver.response_body = b"x" * 5000
    make_endpoint(tree.store_a, receiver.url)
    touch_site(tree.store_a)
    deliver()
    attempt = DeliveryAttempt.objects.get()
    assert attempt.response_excerpt == "x" * 1024


def test_unreachable_endpoint_records_the_error(deliver, tree):
    make_endpoint(tree.store_a, "http://127.0.0.1:1/nothing-listens-here")
    touch_site(tree.store_a)
    deliver()
    attempt = DeliveryAttempt.objects.get()
    assert attempt.status_code is None
    assert not attempt.is_success
    assert "refused" in attempt.error.lower()
    delivery = attempt.delivery
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.last_error == attempt.error


def test_server_error_is_retried_with_backoff_then_succeeds(deliver, tree, receiver):
    receiver.respond_with(500, 200)
    issued = make_endpoint(tree.store_a, receiver.url)
    event = touch_site(tree.store_a)
    deliver()

    delivery = WebhookDelivery.objects.get(endpoint=issued.endpoint)
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.attempt_count == 1
    assert delivery.last_status_code == 500
    first = delivery.attempts.get()
    assert (first.status_code, first.is_success) == (500, False)
    assert first.error == "HTTP 500 Internal Server Error"
    wait = delivery.next_attempt_at - delivery.last_attempt_at
    assert dt.timedelta(seconds=5) <= wait < dt.timedelta(seconds=7)

    # Not due yet: nothing is sent.
    assert services.send_due_deliveries() == 0
    assert len(receiver.requests) == 1

    _make_due(pk=delivery.pk)
    assert services.send_due_deliveries() == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.attempt_count == 2
    assert delivery.next_attempt_at is None
    assert [r.headers["webhook-id"] for r in receiver.requests] == [str(event.event_id)] * 2
    assert list(delivery.attempts.order_by("number").values_list("status_code", flat=True)) == [
        500,
        200,
    ]
    endpoint = WebhookEndpoint.objects.get(pk=issued.endpoint.pk)
    assert endpoint.consecutive_failures == 0
    assert endpoint.circuit_state() == CircuitState.CLOSED


def test_exhausted_retries_mark_the_delivery_failed(deliver, tree, receiver, monkeypatch):
    monkeypatch.setattr(services, "CIRCUIT_FAILURE_THRESHOLD", 100)
    receiver.respond_with(503)
    issued = make_endpoint(tree.store_a, receiver.url)
    touch_site(tree.store_a)
    deliver()
    delivery = WebhookDelivery.objects.get(endpoint=issued.endpoint)

    waits = []
    for _ in services.RETRY_DELAYS:
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.PENDING
        waits.append(delivery.next_attempt_at - delivery.last_attempt_at)
        _make_due(pk=delivery.pk)
        assert services.send_due_deliveries() == 1

    for wait, delay in zip(waits, services.RETRY_DELAYS, strict=True):
        assert delay <= wait < delay + dt.timedelta(seconds=2)
    assert sum(services.RETRY_DELAYS, dt.timedelta()) > dt.timedelta(hours=24)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempt_count == services.MAX_ATTEMPTS == 8
    assert delivery.failed_at is not None
    assert delivery.next_attempt_at is None
    assert len(receiver.requests) == 8
    assert delivery.attempts.count() == 8
    failed = OutboxEvent.objects.get(event_type="webhooks.delivery.failed")
    assert failed.org_node_id == tree.store_a.pk
    assert failed.payload["delivery_id"] == delivery.pk
    assert failed.payload["attempts"] == 8
    assert failed.payload["last_status_code"] == 503
    AuditEntry.objects.get(action="webhooks.delivery.fail", target_id=str(delivery.pk))
    # Nothing more is attempted, and the failure itself is never fanned out to webhooks.
    _make_due(pk=delivery.pk)
    assert services.send_due_deliveries() == 0
    make_endpoint(tree.group, receiver.url, ["*"])
    assert services.matching_endpoints(failed) == []


def test_circuit_opens_after_consecutive_failures_defers_and_closes_on_success(
    deliver, tree, receiver
):
    receiver.respond_with(500)
    issued = make_endpoint(tree.store_a, receiver.url)
    endpoint_id = issued.endpoint.pk
    for _ in range(services.CIRCUIT_FAILURE_THRESHOLD):
        touch_site(tree.store_a)
        deliver()
    endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)
    assert endpoint.consecutive_failures == 5
    assert endpoint.circuit_state() == CircuitState.OPEN
    assert endpoint.circuit_trips == 1
    cooling = endpoint.circuit_open_until - timezone.now()
    assert dt.timedelta(minutes=4) < cooling <= services.CIRCUIT_COOLING_BASE
    opened = OutboxEvent.objects.get(event_type="webhooks.endpoint.circuit_opened")
    assert opened.payload["endpoint_id"] == endpoint_id
    assert opened.payload["consecutive_failures"] == 5
    AuditEntry.objects.get(action="webhooks.endpoint.circuit_open", target_id=str(endpoint_id))
    assert len(receiver.requests) == 5

    # A new event while the circuit is open is deferred, not attempted.
    touch_site(tree.store_a)
    deliver()
    sixth = WebhookDelivery.objects.filter(endpoint_id=endpoint_id).latest("id")
    assert sixth.status == DeliveryStatus.PENDING
    assert sixth.attempt_count == 0
    assert sixth.next_attempt_at == endpoint.circuit_open_until
    assert sixth.attempts.count() == 0
    # Retries that come due while it is open are deferred too.
    _make_due(endpoint_id=endpoint_id)
    assert services.send_due_deliveries() == 0
    assert len(receiver.requests) == 5
    assert set(
        WebhookDelivery.objects.filter(endpoint_id=endpoint_id).values_list(
            "next_attempt_at", flat=True
        )
    ) == {endpoint.circuit_open_until}

    # Cooling over (half-open): the trial fails, so it opens again for longer.
    past = timezone.now() - dt.timedelta(seconds=1)
    WebhookEndpoint.objects.filter(pk=endpoint_id).update(circuit_open_until=past)
    _make_due(endpoint_id=endpoint_id)
    assert WebhookEndpoint.objects.get(pk=endpoint_id).circuit_state() == CircuitState.HALF_OPEN
    assert services.send_due_deliveries() == 1
    endpoint.refresh_from_db()
    assert endpoint.circuit_state() == CircuitState.OPEN
    assert endpoint.circuit_trips == 2
    cooling = endpoint.circuit_open_until - timezone.now()
    assert dt.timedelta(minutes=9) < cooling <= dt.timedelta(minutes=10)
    assert len(receiver.requests) == 6

    # Cooling over again and the receiver is back: one success closes it, the rest flow.
    receiver.respond_with(200)
    WebhookEndpoint.objects.filter(pk=endpoint_id).update(circuit_open_until=past)
    _make_due(endpoint_id=endpoint_id)
    assert services.send_due_deliveries() == 6
    endpoint.refresh_from_db()
    assert endpoint.circuit_state() == CircuitState.CLOSED
    assert (endpoint.consecutive_failures, endpoint.circuit_trips) == (0, 0)
    assert endpoint.circuit_open_until is None
    closed = OutboxEvent.objects.get(event_type="webhooks.endpoint.circuit_closed")
    assert closed.payload == {"endpoint_id": endpoint_id, "node_id": tree.store_a.pk}
    assert set(
        WebhookDelivery.objects.filter(endpoint_id=endpoint_id).values_list("status", flat=True)
    ) == {DeliveryStatus.SUCCEEDED}


def test_circuit_cooling_grows_and_is_capped():
    assert [services.circuit_cooling(trips) for trips in range(7)] == [
        dt.timedelta(minutes=5),
        dt.timedelta(minutes=10),
        dt.timedelta(minutes=20),
        dt.timedelta(minutes=40),
        dt.timedelta(minutes=80),
        dt.timedelta(hours=2),
        dt.timedelta(hours=2),
    ]


def test_deliveries_kept_waiting_past_the_retry_window_fail(deliver, tree, receiver):
    issued = make_endpoint(tree.store_a, receiver.url)
    future = timezone.now() + dt.timedelta(minutes=5)
    WebhookEndpoint.objects.filter(pk=issued.endpoint.pk).update(
        circuit_open_until=future, consecutive_failures=5
    )
    touch_site(tree.store_a)
    deliver()
    delivery = WebhookDelivery.objects.get(endpoint=issued.endpoint)
    assert delivery.next_attempt_at == future
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        cycle_started_at=timezone.now() - services.RETRY_WINDOW - dt.timedelta(minutes=1),
        next_attempt_at=timezone.now() - dt.timedelta(seconds=1),
    )
    assert services.send_due_deliveries() == 0
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts.count() == 0
    assert receiver.requests == []
    assert OutboxEvent.objects.get(event_type="webhooks.delivery.failed").payload["attempts"] == 0


# --- replay ---------------------------------------------------------------------------------


def test_replay_from_the_page_resends_with_the_same_webhook_id(
    deliver, tree, receiver, django_capture_on_commit_callbacks
):
    issued = make_endpoint(tree.store_a, receiver.url)
    event = touch_site(tree.store_a)
    deliver()
    delivery = WebhookDelivery.objects.get(endpoint=issued.endpoint)
    assert delivery.status == DeliveryStatus.SUCCEEDED
    engineer = make_user("integration", tree.store_a)
    url = reverse("webhooks:replay", args=[delivery.pk])

    client = client_for(engineer)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url)

    assert response.status_code == 302
    assert response["Location"] == reverse("webhooks:delivery_detail", args=[delivery.pk])
    assert [r.headers["webhook-id"] for r in receiver.requests] == [str(event.event_id)] * 2
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.attempt_count == 1  # a fresh cycle
    assert list(delivery.attempts.order_by("number").values_list("trigger", flat=True)) == [
        AttemptTrigger.SCHEDULED,
        AttemptTrigger.REPLAY,
    ]
    entry = AuditEntry.objects.get(action="webhooks.delivery.replay", target_id=str(delivery.pk))
    assert entry.actor_id == engineer.pk
    assert entry.before["status"] == "succeeded"
    assert entry.after["status"] == "pending"


def test_replay_page_refuses_get_missing_csrf_and_users_without_permission(
    deliver, tree, receiver, django_capture_on_commit_callbacks
):
    issued = make_endpoint(tree.store_a, receiver.url)
    touch_site(tree.store_a)
    deliver()
    delivery = WebhookDelivery.objects.get(endpoint=issued.endpoint)
    url = reverse("webhooks:replay", args=[delivery.pk])
    engineer = make_user("integration", tree.store_a)
    viewer = make_user("hq_operations", tree.group)  # may look, may not replay
    other_store = make_user("integration", tree.store_b)
    staff = make_user("store_staff", tree.store_a)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(engineer)
    audit_before = AuditEntry.objects.count()
    outbox_before = OutboxEvent.objects.count()

    with django_capture_on_commit_callbacks(execute=True):
        assert client_for(engineer).get(url).status_code == 405
        assert strict.post(url).status_code == 403
        assert client_for(viewer).post(url).status_code == 403
        assert client_for(other_store).post(url).status_code == 404
        assert client_for(staff).post(url).status_code == 403

    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.attempts.count() == 1
    assert AuditEntry.objects.count() == audit_before
    assert OutboxEvent.objects.count() == outbox_before


def test_replay_of_a_failed_delivery_starts_a_new_cycle_even_with_the_circuit_open(
    deliver, tree, receiver, django_capture_on_commit_callbacks
):
    receiver.respond_with(500)
    issued = make_endpoint(tree.store_a, receiver.url)
    touch_site(tree.store_a)
    deliver()
    delivery = WebhookDelivery.objects.get(endpoint=issued.endpoint)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.FAILED, next_attempt_at=None, attempt_count=8
    )
    WebhookEndpoint.objects.filter(pk=issued.endpoint.pk).update(
        consecutive_failures=9, circuit_open_until=timezone.now() + dt.timedelta(hours=1)
    )
    receiver.respond_with(200)
    with django_capture_on_commit_callbacks(execute=True):
        services.replay_delivery(delivery, actor=SYSTEM, reason="receiver fixed")
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.failed_at is None
    assert len(receiver.requests) == 2
    endpoint = WebhookEndpoint.objects.get(pk=issued.endpoint.pk)
    assert endpoint.circuit_state() == CircuitState.CLOSED
    entry = AuditEntry.objects.get(action="webhooks.delivery.replay", target_id=str(delivery.pk))
    assert entry.reason == "receiver fixed"


# --- rotation -------------------------------------------------------------------------------


def test_rotation_signs_with_both_secrets_for_a_day(deliver, tree, receiver):
    issued = make_endpoint(tree.store_a, receiver.url)
    rotated = services.rotate_secret(issued.endpoint, actor=SYSTEM)
    assert rotated.secret != issued.secret
    assert rotated.secret.startswith("whsec_")
    endpoint = WebhookEndpoint.objects.get(pk=issued.endpoint.pk)
    assert endpoint.secret == rotated.secret
    assert endpoint.previous_secret == issued.secret
    remaining = endpoint.previous_secret_expires_at - timezone.now()
    assert dt.timedelta(hours=23, minutes=59) < remaining <= dt.timedelta(hours=24)

    touch_site(tree.store_a)

    deliver()
    request = receiver.requests[-1]
    webhook_id, timestamp = request.headers["webhook-id"], request.headers["webhook-timestamp"]
    assert request.headers["webhook-signature"] == " ".join(
        [
            expected_signature(rotated.secret, webhook_id, timestamp, request.body),
            expected_signature(issued.secret, webhook_id, timestamp, request.body),
        ]
    )

    # A day later only the new secret signs.
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        previous_secret_expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    touch_site(tree.store_a)
    deliver()
    request = receiver.requests[-1]
    assert request.headers["webhook-signature"] == expected_signature(
        rotated.secret,
        request.headers["webhook-id"],
        request.headers["webhook-timestamp"],
        request.body,
    )

    entry = AuditEntry.objects.get(action="webhooks.endpoint.rotate_secret")
    audit_text = json.dumps([entry.before, entry.after])
    assert issued.secret not in audit_text and rotated.secret not in audit_text
    assert "previous_secret_expires_at" in entry.after
    rotated_event = OutboxEvent.objects.get(event_type="webhooks.endpoint.secret_rotated")
    assert rotated.secret not in json.dumps(rotated_event.payload)


@pytest.mark.parametrize("status", [301, 302, 307])
def test_redirects_are_not_followed(deliver, tree, receiver, status):
    receiver.respond_with(status)
    make_endpoint(tree.store_a, receiver.url)
    touch_site(tree.store_a)
    deliver()
    attempt = DeliveryAttempt.objects.get()
    assert attempt.status_code == status
    assert not attempt.is_success
    assert len(receiver.requests) == 1


def test_the_verification_example_in_the_docs_accepts_a_real_request(deliver, tree, receiver):
    from pathlib import Path

    from django.conf import settings

    text = (Path(settings.PROJECT_DIR) / "docs" / "webhooks.md").read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(compile(code, "docs/webhooks.md", "exec"), namespace)  # our own documentation
    verify = namespace["verify"]

    issued = make_endpoint(tree.store_a, receiver.url)
    services.rotate_secret(issued.endpoint, actor=SYSTEM)
    touch_site(tree.store_a)
    deliver()
    request = receiver.requests[0]
    new_secret = WebhookEndpoint.objects.get(pk=issued.endpoint.pk).secret
    assert verify(new_secret, request.headers, request.body)
    assert verify(issued.secret, request.headers, request.body)  # still within 24 hours
    assert not verify(issued.secret, request.headers, request.body + b" ")
    assert not verify("whsec_" + "A" * 44, request.headers, request.body)


def test_worker_tasks_send_and_sweep(deliver, tree, receiver):
    from backroom.webhooks import jobs

    receiver.respond_with(500, 200)
    issued = make_endpoint(tree.store_a, receiver.url)
    touch_site(tree.store_a)
    deliver()
    delivery = WebhookDelivery.objects.get(endpoint=issued.endpoint)
    assert delivery.status == DeliveryStatus.PENDING
    # The task refuses a delivery that is not due yet.
    assert jobs.send_delivery_task.call_local(delivery.pk) is False
    assert jobs.send_delivery_task.call_local(10**9) is False
    _make_due(pk=delivery.pk)
    assert jobs.send_due_deliveries_task.call_local() == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    # Every minute.
    periodic = jobs.send_due_deliveries_task.task_class()
    assert periodic.validate_datetime(dt.datetime(2026, 1, 1, 3, 17))
    assert periodic.validate_datetime(dt.datetime(2026, 1, 1, 3, 18))


def test_a_claimed_delivery_is_left_alone_until_its_claim_expires(deliver, tree, receiver):
    receiver.respond_with(500, 200)
    issued = make_endpoint(tree.store_a, receiver.url)
    touch_site(tree.store_a)
    deliver()
    delivery = WebhookDelivery.objects.get(endpoint=issued.endpoint)
    # Another worker holds it (mid-send): nobody else sends it, and a replay is refused.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.SENDING,
        claimed_until=timezone.now() + dt.timedelta(seconds=30),
        next_attempt_at=None,
    )
    assert services.send_due_deliveries() == 0
    assert services.send_delivery(delivery) is None
    with pytest.raises(services.Conflict):
        services.replay_delivery(delivery, actor=SYSTEM)
    assert len(receiver.requests) == 1
    # That worker died: once the claim expires the delivery is sent again.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        claimed_until=timezone.now() - dt.timedelta(seconds=1)
    )
    assert services.send_due_deliveries() == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.claimed_until is None
    assert len(receiver.requests) == 2
