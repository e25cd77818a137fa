"""The outbox through a real Huey queue (SQLite, and Redis when REDIS_URL is set), not immediate mode.

The dispatch request made after commit is serialised into the queue's storage, read back and
executed as the worker would; running it twice (at-least-once delivery) reaches each async
subscriber once.
"""

import logging
import os
import time
import uuid
from io import StringIO

import huey
import pytest
from django.core.management import call_command
from django.db import connections, transaction
from huey.contrib import djhuey
from huey.signals import SIGNAL_COMPLETE, SIGNAL_ERROR

from backroom.events import jobs, services
from backroom.events.models import EventConsumption, OutboxEvent
from backroom.events.services import Subscriber, dispatch_outbox
from backroom.org.choices import NodeKind
from backroom.org.events import OrgEvent
from backroom.org.models import OrgNode
from backroom.testing.factories import make_node

SUBSCRIBER = "test.worker.node_created"
received: list[str] = []


def _on_node_created(outbox_event):
    received.append(str(outbox_event.event_id))


@pytest.fixture
def async_subscriber():
    """An async subscriber to org.node.created, registered for this test only."""
    subscriber = Subscriber(SUBSCRIBER, OrgEvent.NODE_CREATED, _on_node_created, is_async=True)
    services._subscribers.append(subscriber)
    received.clear()
    yield subscriber
    services._subscribers.remove(subscriber)
    received.clear()


def _redis_url() -> str:
    return os.environ.get("REDIS_URL", "")


@pytest.fixture(params=["sqlite", "redis"])
def queue(request, tmp_path, monkeypatch):
    """A real Huey queue that the dispatch task is sent to instead of the immediate one."""
    if request.param == "sqlite":
        real = huey.SqliteHuey(name="backroom-test", filename=str(tmp_path / "huey.sqlite3"))
    else:
        if not _redis_url():
            pytest.skip("REDIS_URL is not set")
        real = huey.RedisHuey(name=f"backroom-test-{uuid.uuid4().hex}", url=_redis_url())
    real._registry.register(jobs.dispatch_outbox_task.task_class)
    monkeypatch.setattr(jobs.dispatch_outbox_task, "huey", real)
    yield real
    real.flush()


def _run_next(queue) -> int:
    """Take one task off the queue and execute it, as a consumer thread does."""
    task = queue.dequeue()
    assert task is not None
    assert type(task) is jobs.dispatch_outbox_task.task_class
    return queue.execute(task)


def test_commit_enqueues_dispatch_and_worker_delivers_once(
    db, queue, async_subscriber, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        group = make_node(NodeKind.GROUP, None, "GRP")
    assert len(callbacks) == 1
    outbox_event = OutboxEvent.objects.get(event_type=OrgEvent.NODE_CREATED)
    assert outbox_event.payload["node_id"] == group.pk
    assert outbox_event.dispatched_at is None
    assert received == []  # nothing runs until the worker takes the task
    assert queue.pending_count() == 1

    assert _run_next(queue) == 1
    assert received == [str(outbox_event.event_id)]
    outbox_event.refresh_from_db()
    assert outbox_event.dispatched_at is not None
    assert outbox_event.attempts == 1
    assert queue.pending_count() == 0


def test_dispatch_task_running_twice_delivers_once(db, queue, async_subscriber):
    make_node(NodeKind.GROUP, None, "GRP")
    outbox_event = OutboxEvent.objects.get(event_type=OrgEvent.NODE_CREATED)
    jobs.dispatch_outbox_task()
    jobs.dispatch_outbox_task()
    assert queue.pending_count() == 2
    assert _run_next(queue) == 1
    assert _run_next(queue) == 0  # nothing left to dispatch
    assert received == [str(outbox_event.event_id)]
    assert EventConsumption.objects.filter(event=outbox_event, subscriber=SUBSCRIBER).count() == 1


def test_an_event_committed_as_a_dispatch_finishes_is_dispatched_by_it(
    db, queue, async_subscriber, monkeypatch
):
    group = make_node(NodeKind.GROUP, None, "GRP")
    rounds: list[int] = []

    def round_then_a_commit(limit: int = 500) -> int:
        count = dispatch_outbox(limit)
        if count == 0 and len(rounds) == 1:
            # Committed after the dispatch's last round read the outbox: its own task is
            # turned away by the lock the dispatch still holds.
            make_node(NodeKind.ENTITY, group, "ENT")
            assert jobs.dispatch_outbox_task.call_local() == 0
        rounds.append(count)
        return count

    monkeypatch.setattr(jobs, "dispatch_outbox", round_then_a_commit)
    assert jobs.dispatch_outbox_task.call_local() == 2
    assert rounds == [1, 0, 1, 0]  # a second look after letting go of the lock
    assert len(received) == 2
    assert not OutboxEvent.objects.filter(dispatched_at__isnull=True).exists()


def test_redelivery_after_a_crash_is_de_duplicated(db, queue, async_subscriber):
    make_node(NodeKind.GROUP, None, "GRP")
    outbox_event = OutboxEvent.objects.get(event_type=OrgEvent.NODE_CREATED)
    jobs.dispatch_outbox_task()
    assert _run_next(queue) == 1
    # The worker died after the subscriber committed but before the event was marked done:
    # the sweep offers the same event again.
    OutboxEvent.objects.filter(pk=outbox_event.pk).update(dispatched_at=None)
    jobs.dispatch_outbox_task()
    assert _run_next(queue) == 1
    assert received == [str(outbox_event.event_id)]
    assert EventConsumption.objects.filter(event=outbox_event, subscriber=SUBSCRIBER).count() == 1
    outbox_event.refresh_from_db()
    assert outbox_event.dispatched_at is not None
    assert outbox_event.attempts == 2


def test_rolled_back_events_never_reach_outbox_queue_or_subscribers(
    db, queue, async_subscriber, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            make_node(NodeKind.GROUP, None, "GRP")
            raise RuntimeError("the change failed after publishing")
    assert callbacks == []
    assert not OrgNode.objects.exists()
    assert not OutboxEvent.objects.exists()
    assert queue.pending_count() == 0
    assert dispatch_outbox() == 0
    assert received == []
    assert not EventConsumption.objects.exists()


def test_dispatch_is_requested_only_on_commit(
    db, queue, async_subscriber, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        make_node(NodeKind.GROUP, None, "GRP")
        assert queue.pending_count() == 0
    assert callbacks == [services._request_dispatch]
    assert queue.pending_count() == 0  # not committed (callbacks captured, not run)
    callbacks[0]()
    assert queue.pending_count() == 1


def test_a_running_consumer_delivers_each_event_once(transactional_db, queue, async_subscriber):
    """A real consumer thread, its own database connection, committed data, two dispatch tasks."""

    @queue.signal(SIGNAL_COMPLETE, SIGNAL_ERROR)
    def _close_worker_connection(signal, task, *args, **kwargs):
        connections.close_all()  # runs in the worker thread: closes that thread's connection

    make_node(NodeKind.GROUP, None, "GRP")  # commits: the dispatch request is enqueued
    outbox_event = OutboxEvent.objects.get(event_type=OrgEvent.NODE_CREATED)
    jobs.dispatch_outbox_task()  # a duplicate request, as after a redelivery
    assert queue.pending_count() == 2

    consumer = queue.create_consumer(workers=1, worker_type="thread", periodic=False)
    consumer._set_signal_handlers = lambda: None  # leave the test process's handlers alone
    consumer.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            outbox_event.refresh_from_db()
            if queue.pending_count() == 0 and outbox_event.dispatched_at is not None:
                break
            time.sleep(0.05)
    finally:
        consumer.stop(graceful=True)
    assert queue.pending_count() == 0
    assert outbox_event.dispatched_at is not None
    assert received == [str(outbox_event.event_id)]
    assert EventConsumption.objects.filter(event=outbox_event, subscriber=SUBSCRIBER).count() == 1


def test_worker_command_runs_the_consumer_with_the_configured_options(settings, monkeypatch):
    created = {}
    niceness = {"now": 0}

    def nice(increment: int) -> int:
        niceness["now"] += increment
        return niceness["now"]

    monkeypatch.setattr(os, "nice", nice)
    settings.WORKER_NICENESS = 7

    class FakeConsumer:
        def run(self):
            created["ran"] = True

    def create_consumer(**options):
        created["options"] = options
        return FakeConsumer()

    huey_logger = logging.getLogger("huey")
    for attribute in ("handlers", "level", "propagate"):  # the consumer configures its logger
        monkeypatch.setattr(huey_logger, attribute, getattr(huey_logger, attribute))
    monkeypatch.setattr(huey_logger, "handlers", [])
    monkeypatch.setattr(djhuey.HUEY, "immediate", False)
    monkeypatch.setattr(djhuey.HUEY, "create_consumer", create_consumer)
    out = StringIO()
    call_command("worker", stdout=out)
    assert created["ran"] is True
    consumer = settings.HUEY["consumer"]
    assert created["options"]["workers"] == consumer["workers"]
    assert created["options"]["worker_type"] == consumer["worker_type"]
    assert created["options"]["periodic"] is consumer["periodic"]
    registered = set(djhuey.HUEY._registry._registry)
    assert "backroom.events.jobs.dispatch_outbox_task" in registered
    assert "backroom.events.jobs.sweep_outbox" in registered
    assert "Worker consuming" in out.getvalue()
    assert niceness["now"] == 7 and "(niceness 7)" in out.getvalue()  # below the web processes
    assert huey_logger.propagate is False  # its own handler, not printed twice via the root
    assert len(huey_logger.handlers) == 1


def test_worker_command_does_nothing_in_immediate_mode(monkeypatch):
    monkeypatch.setattr(djhuey.HUEY, "immediate", True)
    monkeypatch.setattr(
        djhuey.HUEY, "create_consumer", lambda **options: pytest.fail("no consumer expected")
    )
    err = StringIO()
    call_command("worker", stderr=err)
    assert "immediate mode" in err.getvalue()
