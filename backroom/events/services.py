"""Publishing events and dispatching the outbox.

`publish` runs in the caller's transaction: it writes the outbox row, runs in-process
subscribers right there (their writes commit or roll back with the change), and asks for a
dispatch after commit. On rollback the row and the dispatch request vanish together. Async
subscribers run from the outbox in the worker, at least once; each records its consumption
under a unique constraint, so a replay is skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from backroom.events.catalogue import payload_class, payload_to_dict
from backroom.events.models import EventConsumption, OutboxEvent
from backroom.kernel.bulk import insert_rows, insert_values, new_instance

logger = logging.getLogger(__name__)

Handler = Callable[[OutboxEvent], None]
ManyHandler = Callable[[list[OutboxEvent]], None]


@dataclass(frozen=True)
class Subscriber:
    name: str
    event_type: str  # "*" for every event
    handler: Handler
    is_async: bool
    many: ManyHandler | None = None  # see subscribe_many
    # An async subscriber's cheap test of whether an event concerns it at all: when false, the
    # event is passed by without a transaction or a consumption record.
    wants: Callable[[OutboxEvent], bool] | None = None


_subscribers: list[Subscriber] = []


def subscribe(
    event_type: str,
    *,
    is_async: bool = True,
    name: str | None = None,
    wants: Callable[[OutboxEvent], bool] | None = None,
) -> Callable[[Handler], Handler]:
    """Register a handler for an event type ("*" for all). Async handlers run in the worker;
    `wants` lets one pass by, cheaply, the events that match its type but concern it not (a
    "*" subscriber, most often)."""

    def register(handler: Handler) -> Handler:
        subscriber_name = name or f"{handler.__module__}.{handler.__qualname__}"
        if not any(
            s.name == subscriber_name and s.event_type == str(event_type) for s in _subscribers
        ):
            _subscribers.append(
                Subscriber(subscriber_name, str(event_type), handler, is_async, wants=wants)
            )
        return handler

    return register


def subscribe_many(event_type: str, *, name: str) -> Callable[[ManyHandler], ManyHandler]:
    """Register an in-process handler that takes events in lists: all the events of the type
    one `publish_many` call records, at once (a list of one from `publish`). For work that is
    cheaper set-wise, such as rollups of a 1,000-order till batch."""

    def register(handler: ManyHandler) -> ManyHandler:
        if not any(s.name == name and s.event_type == str(event_type) for s in _subscribers):
            _subscribers.append(
                Subscriber(name, str(event_type), lambda event: handler([event]), False, handler)
            )
        return handler

    return register


def subscribers_for(event_type: str, *, is_async: bool) -> list[Subscriber]:
    return [s for s in _subscribers if s.is_async == is_async and s.event_type in (event_type, "*")]


def publish(payload: Any, *, org_node: Any = None) -> OutboxEvent:
    """Record an event in the outbox in the current transaction."""
    event_type = payload.event_type
    if payload_class(event_type) is not type(payload):
        raise TypeError(f"{type(payload).__name__} is not the payload of {event_type}")
    outbox_event = OutboxEvent.objects.create(
        event_type=event_type,
        payload=payload_to_dict(payload),
        org_node=org_node,
        occurred_at=timezone.now(),
    )
    for subscriber in subscribers_for(event_type, is_async=False):
        subscriber.handler(outbox_event)
    if subscribers_for(event_type, is_async=True):
        _request_dispatch_once()
    else:
        OutboxEvent.objects.filter(pk=outbox_event.pk).update(
            dispatched_at=outbox_event.occurred_at
        )
    return outbox_event


def publish_many(payloads: Sequence[Any], *, org_node: Any = None) -> list[OutboxEvent]:
    """`publish` for many events at once: one insert; in-process subscribers run event by
    event, in order, as `publish` would run them (those of `subscribe_many` once, with their
    list, after the others); one dispatch request."""
    for payload in payloads:
        if payload_class(payload.event_type) is not type(payload):
            raise TypeError(f"{type(payload).__name__} is not the payload of {payload.event_type}")
    now = timezone.now()
    node_id = None if org_node is None else org_node.pk
    rows = [
        new_instance(
            OutboxEvent,
            event_type=payload.event_type,
            payload=payload_to_dict(payload),
            org_node_id=node_id,
            occurred_at=now,
        )
        for payload in payloads
    ]
    # One `COPY` on PostgreSQL: a till batch publishes two events per order.
    insert_rows(rows, ids=True)
    if org_node is not None:
        for outbox_event in rows:
            outbox_event._state.fields_cache["org_node"] = org_node
    quiet: list[int] = []
    lists: dict[Subscriber, list[OutboxEvent]] = {}
    # The subscribers of each event type, found once per batch rather than twice per event.
    routes: dict[str, tuple[list[Subscriber], bool]] = {}
    for outbox_event in rows:
        event_type = outbox_event.event_type
        route = routes.get(event_type)
        if route is None:
            route = routes[event_type] = (
                subscribers_for(event_type, is_async=False),
                bool(subscribers_for(event_type, is_async=True)),
            )
        in_process, dispatched = route
        for subscriber in in_process:
            if subscriber.many is None:
                subscriber.handler(outbox_event)
            else:
                lists.setdefault(subscriber, []).append(outbox_event)
        if not dispatched:
            quiet.append(outbox_event.pk)
    for subscriber, events in lists.items():
        assert subscriber.many is not None
        subscriber.many(events)
    if len(quiet) < len(rows):
        _request_dispatch_once()
    if quiet:
        OutboxEvent.objects.filter(pk__in=quiet).update(dispatched_at=now)
    return rows


def _request_dispatch_once() -> None:
    """Ask for one dispatch after the outermost commit, however many events the transaction has."""
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        _request_dispatch()
        return
    if any(entry[1] is _request_dispatch for entry in connection.run_on_commit):
        return
    transaction.on_commit(_request_dispatch, robust=True)


def _request_dispatch() -> None:
    from backroom.events.jobs import dispatch_outbox_task

    dispatch_outbox_task()


_round: ContextVar[dict[Any, Any] | None] = ContextVar("dispatch_round", default=None)


def round_memo() -> dict[Any, Any]:
    """A dict that lives for one `dispatch_outbox` round (a new, empty one outside a round):
    an async subscriber keeps in it what is the same for every event of the round, such as
    the active webhook endpoints, instead of reading it again per event."""
    memo = _round.get()
    return {} if memo is None else memo


def round_cached[T](key: str, make: Callable[[], T]) -> T:
    """What `make()` gives, made once per dispatch round (`round_memo`); afresh outside one."""
    memo = round_memo()
    if key not in memo:
        memo[key] = make()
    return memo[key]  # type: ignore[no-any-return]


def dispatch_event(outbox_event: OutboxEvent) -> bool:
    """Run every async subscriber that has not yet consumed this event. True when all succeeded."""
    if _run_subscribers(outbox_event):
        _mark_dispatched([outbox_event.pk])
        return True
    return False


def _mark_dispatched(ids: list[int]) -> None:
    OutboxEvent.objects.filter(pk__in=ids).update(
        attempts=F("attempts") + 1, dispatched_at=timezone.now(), last_error=""
    )


def _run_subscribers(outbox_event: OutboxEvent) -> bool:
    """The subscribers' part of `dispatch_event`; a failure is recorded on the event at once,
    a success is left to the caller to record (with the others of its round)."""
    all_ok = True
    errors: list[str] = []
    for subscriber in subscribers_for(outbox_event.event_type, is_async=True):
        try:
            if subscriber.wants is not None and not subscriber.wants(outbox_event):
                continue
            with transaction.atomic():
                insert_values(
                    EventConsumption,
                    [{"event_id": outbox_event.pk, "subscriber": subscriber.name}],
                    ids=False,
                )
                subscriber.handler(outbox_event)
        except IntegrityError:
            continue  # consumed before: at-least-once delivery de-duplicated here
        except Exception as error:
            all_ok = False
            errors.append(f"{subscriber.name}: {error!r}")
            logger.exception("subscriber %s failed on %s", subscriber.name, outbox_event.event_id)
    if not all_ok:
        OutboxEvent.objects.filter(pk=outbox_event.pk).update(
            attempts=outbox_event.attempts + 1,
            dispatched_at=None,
            last_error="\n".join(errors)[:5000],
        )
    return all_ok


def untried_events() -> bool:
    """Whether an event waits for its first dispatch."""
    return OutboxEvent.objects.filter(dispatched_at__isnull=True, attempts=0).exists()


def dispatch_outbox(limit: int = 500) -> int:
    """Dispatch pending outbox events in order; returns how many were fully dispatched.

    One round: the events come with their org node, subscribers may keep what every event
    of the round shares (`round_memo`), and the events dispatched are marked with one update
    at the end (a crash before it dispatches them again; their consumptions skip the work)."""
    pending = (
        OutboxEvent.objects.filter(dispatched_at__isnull=True)
        .select_related("org_node")
        .order_by("id")[:limit]
    )
    token = _round.set({})
    done: list[int] = []
    try:
        for outbox_event in pending:
            if _run_subscribers(outbox_event):
                done.append(outbox_event.pk)
    finally:
        _round.reset(token)
        if done:
            _mark_dispatched(done)
    return len(done)
