from dataclasses import dataclass

import pytest
from django.db import transaction

from backroom.events import services
from backroom.events.catalogue import event, event_types
from backroom.events.models import EventConsumption, OutboxEvent
from backroom.events.services import dispatch_outbox, publish, subscribe


@event("test.thing.happened")
@dataclass(frozen=True)
class ThingHappened:
    thing_id: int
    label: str


@event("test.other.happened")
@dataclass(frozen=True)
class OtherHappened:
    value: int


received_in_process: list[int] = []
received_async: list[int] = []
failures_left = {"count": 0}


@subscribe("test.thing.happened", is_async=False, name="test.in_process")
def _in_process(outbox_event):
    received_in_process.append(outbox_event.payload["thing_id"])


@subscribe("test.thing.happened", name="test.async")
def _async(outbox_event):
    if failures_left["count"]:
        failures_left["count"] -= 1
        raise RuntimeError("subscriber down")
    received_async.append(outbox_event.payload["thing_id"])


@pytest.fixture(autouse=True)
def _reset():
    received_in_process.clear()
    received_async.clear()
    failures_left["count"] = 0


def test_catalogue_lists_registered_types():
    assert {"test.thing.happened", "org.node.created", "accounts.user.created"} <= set(
        event_types()
    )


def test_publish_writes_outbox_and_runs_in_process_subscribers(
    db, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        row = publish(ThingHappened(thing_id=7, label="x"))
    assert OutboxEvent.objects.get(pk=row.pk).payload == {"thing_id": 7, "label": "x"}
    assert received_in_process == [7]
    assert received_async == []  # async ones wait for the commit
    assert len(callbacks) == 1  # a dispatch is requested after commit


def test_event_without_async_subscribers_is_marked_dispatched(
    db, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(
        services, "_subscribers", [s for s in services._subscribers if s.event_type != "*"]
    )
    with django_capture_on_commit_callbacks() as callbacks:
        row = publish(OtherHappened(value=1))
    assert callbacks == []
    assert OutboxEvent.objects.get(pk=row.pk).dispatched_at is not None


def test_rollback_discards_the_event_and_its_dispatch(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                publish(ThingHappened(thing_id=8, label="never"))
                raise RuntimeError("the change failed")
        except RuntimeError:
            pass
    assert callbacks == []
    assert not OutboxEvent.objects.filter(event_type="test.thing.happened").exists()
    assert received_async == []


def test_after_commit_the_worker_runs_async_subscribers(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        row = publish(ThingHappened(thing_id=9, label="y"))
    assert received_async == [9]  # Huey runs immediately in tests
    row.refresh_from_db()
    assert row.dispatched_at is not None
    assert EventConsumption.objects.filter(event=row, subscriber="test.async").count() == 1


def test_at_least_once_is_de_duplicated_per_subscriber(db):
    row = publish(ThingHappened(thing_id=10, label="z"))
    assert services.dispatch_event(row) is True
    assert services.dispatch_event(row) is True  # a replay (e.g. after a crash) runs nothing twice
    assert received_async == [10]


def test_failed_subscriber_is_retried_until_it_succeeds(db):
    failures_left["count"] = 1
    row = publish(ThingHappened(thing_id=11, label="w"))
    assert dispatch_outbox() == 0
    row.refresh_from_db()
    assert row.dispatched_at is None
    assert row.attempts == 1
    assert "subscriber down" in row.last_error
    assert not EventConsumption.objects.filter(event=row, subscriber="test.async").exists()
    assert dispatch_outbox() == 1
    assert received_async == [11]
    row.refresh_from_db()
    assert row.attempts == 2
    assert row.dispatched_at is not None


def test_wrong_payload_type_is_refused(db):
    payload = ThingHappened(thing_id=1, label="x")
    object.__setattr__(payload, "event_type", "test.other.happened")
    with pytest.raises(TypeError):
        publish(payload)


def test_one_dispatch_request_per_transaction(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        with transaction.atomic():
            publish(ThingHappened(thing_id=12, label="a"))
            publish(ThingHappened(thing_id=13, label="b"))
            try:
                with transaction.atomic():
                    publish(ThingHappened(thing_id=14, label="rolled back"))
                    raise RuntimeError
            except RuntimeError:
                pass
    assert len(callbacks) == 1
    assert sorted(
        OutboxEvent.objects.filter(event_type="test.thing.happened").values_list(
            "payload__thing_id", flat=True
        )
    ) == [12, 13]


@pytest.mark.parametrize("count", [3, 30])  # one INSERT; one COPY on PostgreSQL
def test_publish_many_writes_each_event_as_publish_would(
    db, count, django_assert_num_queries, monkeypatch
):
    from backroom.org.choices import NodeKind
    from backroom.testing.factories import make_node

    # "*" subscribers (webhooks) left out: the OtherHappened events then have none async.
    monkeypatch.setattr(
        services, "_subscribers", [s for s in services._subscribers if s.event_type != "*"]
    )
    node = make_node(NodeKind.GROUP, None, "EVTGRP")
    payloads = [
        ThingHappened(thing_id=n, label=f'标签 {n} "quoted"\\') if n % 3 else OtherHappened(n)
        for n in range(count)
    ]
    with transaction.atomic():
        rows = services.publish_many(payloads, org_node=node)
    stored = list(OutboxEvent.objects.filter(pk__in=[row.pk for row in rows]).order_by("id"))
    assert [row.pk for row in rows] == [row.pk for row in stored]
    assert len({row.event_id for row in stored}) == count
    for row, saved, payload in zip(rows, stored, payloads, strict=True):
        assert (saved.event_id, saved.event_type, saved.payload, saved.org_node_id) == (
            row.event_id,
            payload.event_type,
            services.payload_to_dict(payload),
            node.pk,
        )
        assert saved.occurred_at == row.occurred_at
        # Events with an async subscriber wait for the worker; the others are done.
        assert (saved.dispatched_at is None) == (payload.event_type == "test.thing.happened")
    assert received_in_process == [n for n in range(count) if n % 3]
    with django_assert_num_queries(0):
        assert all(row.org_node == node for row in rows)


def test_a_round_marks_what_it_dispatched_and_keeps_what_failed(db):
    failures_left["count"] = 1
    rows = [publish(ThingHappened(thing_id=n, label="r")) for n in (21, 22, 23)]
    assert dispatch_outbox() == 2  # the first event's subscriber failed once
    for row in rows:
        row.refresh_from_db()
    assert [row.dispatched_at is not None for row in rows] == [False, True, True]
    assert [row.attempts for row in rows] == [1, 1, 1]
    assert "subscriber down" in rows[0].last_error and rows[1].last_error == ""
    assert received_async == [22, 23]
    assert dispatch_outbox() == 1 and received_async == [22, 23, 21]


def test_the_round_memo_lives_for_one_round(db):
    seen: list[dict] = []

    @subscribe("test.other.happened", name="test.memo")
    def _memo(outbox_event):
        memo = services.round_memo()
        memo.setdefault("count", 0)
        memo["count"] += 1
        seen.append(dict(memo))

    try:
        publish(OtherHappened(value=1))
        publish(OtherHappened(value=2))
        dispatch_outbox()
        publish(OtherHappened(value=3))
        dispatch_outbox()
    finally:
        services._subscribers[:] = [s for s in services._subscribers if s.name != "test.memo"]
    assert [entry["count"] for entry in seen] == [1, 2, 1]
    assert services.round_memo() == {}  # outside a round: a fresh dict each time


def test_an_event_a_subscriber_does_not_want_passes_it_by_unrecorded(db):
    handled: list[int] = []

    @subscribe("test.other.happened", name="test.picky", wants=lambda e: e.payload["value"] > 1)
    def _picky(outbox_event):
        handled.append(outbox_event.payload["value"])

    try:
        unwanted, wanted = publish(OtherHappened(value=1)), publish(OtherHappened(value=2))
        assert dispatch_outbox() == 2
    finally:
        services._subscribers[:] = [s for s in services._subscribers if s.name != "test.picky"]
    assert handled == [2]
    consumed = EventConsumption.objects.filter(subscriber="test.picky")
    assert list(consumed.values_list("event_id", flat=True)) == [wanted.pk]
    for row in (unwanted, wanted):
        row.refresh_from_db()
        assert row.dispatched_at is not None
