"""Intake: store what a channel sends, then apply it to the canonical order.

1. `receive_message` stores the push (or till post) verbatim in the inbox, unique per
   (account, external order id, event key), before anything else; the caller answers at once
   and the worker (`jobs.process_inbox_message`) applies it after commit.
2. `process_message` parses the payload with the account kind's parser (`register_parser`;
   the POS parser is `channels.pos`) and applies each event; a failure keeps the message as
   failed with its reason, retried by the worker.
3. `apply_event` is idempotent on (account, external order id, event key) through the unique
   (order, event key) of the history, under the order's row lock. It creates the order, or moves
   it through the status machine (docs/channels.md):

       received → accepted → preparing → ready → delivering → completed
       (forward only; skipping allowed) · cancelled, refunded: side exits from any open state
       · partially refunded: after completion (before it, only the lines are marked)

   A status that is not ahead of the current one (out of order, or after a side exit) is
   recorded in the history with `is_applied` false and changes nothing. Accepting an online
   order reserves its ingredients; completing depletes them (and fulfils the reservation);
   cancelling releases them, or restocks what was depleted per the account's policy.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from backroom.accounts.authorization import require_permission
from backroom.audit.services import record_audit
from backroom.catalog.choices import SELLABLE_KINDS
from backroom.catalog.models import Item, Modifier
from backroom.channels import depletion, rollups
from backroom.channels.choices import (
    FORWARD,
    RESERVING,
    TERMINAL,
    TILL_KINDS,
    TILL_PLACED,
    ChannelKind,
    InboxStatus,
    MappingKind,
    OrderStatus,
)
from backroom.channels.events import OrderDepleted, OrderReceived, OrderStatusChanged
from backroom.channels.exceptions import InvalidTransition, OrderNotReceived, UnparseablePayload
from backroom.channels.models import (
    ChannelAccount,
    InboxMessage,
    MenuMapping,
    Order,
    OrderHistory,
    OrderLine,
)
from backroom.channels.permissions import CHANNELS_OPERATE
from backroom.channels.platforms.base import CanonicalOrder, EventKind, PlatformEvent
from backroom.events.services import publish, publish_many
from backroom.inventory.choices import ReservationStatus
from backroom.inventory.exceptions import InsufficientStock
from backroom.kernel.actors import SYSTEM
from backroom.kernel.bulk import insert_rows, insert_values, new_instance, update_rows
from backroom.kernel.dates import business_date
from backroom.kernel.exceptions import DomainError
from backroom.kernel.jsonutil import jsonable
from backroom.kernel.money import quantize_money, quantize_quantity
from backroom.kernel.prepared import prepared

logger = logging.getLogger(__name__)

Parser = Callable[[ChannelAccount, str, str], Sequence[PlatformEvent]]
_PARSERS: dict[str, Parser] = {}
MAX_ATTEMPTS = 8
STATUSES = frozenset(OrderStatus.values)  # `values` is rebuilt on every access


def register_parser(kind: str, parser: Parser) -> None:
    """A platform adapter registers how its stored pushes become events:
    `parser(account, payload, content_type) -> [PlatformEvent]` (raise ValueError/DomainError
    for a payload it cannot read)."""
    _PARSERS[str(kind)] = parser


# --- the inbox -----------------------------------------------------------------------------


def receive_message(
    account: ChannelAccount,
    *,
    payload: str,
    external_order_id: str = "",
    event_key: str = "",
    raw_type: str = "",
    content_type: str = "",
    process: bool = True,
) -> tuple[InboxMessage, bool]:
    """Store a message verbatim; (message, created). A replay returns the first message and
    queues nothing. With `process`, the worker applies it after commit."""
    key = event_key or "sha256:" + hashlib.sha256(payload.encode()).hexdigest()
    if key == TILL_PLACED:  # unique per order, not per key: `pos.submit_orders` stores those
        raise ValueError(f"{TILL_PLACED!r} is the key of a till's own message")
    try:
        with transaction.atomic():
            message = InboxMessage.objects.create(
                account=account,
                external_order_id=external_order_id[:64],
                event_key=key[:200],
                raw_type=raw_type[:100],
                payload=payload,
                content_type=content_type[:100],
            )
    except IntegrityError:
        # Through the unique index, which leaves the tills' own messages out.
        message = InboxMessage.objects.exclude(event_key=TILL_PLACED).get(
            account=account, external_order_id=external_order_id[:64], event_key=key[:200]
        )
        return message, False
    if process:
        transaction.on_commit(lambda: _queue(message.pk), robust=True)
    return message, True


def _queue(message_id: int) -> None:
    from backroom.channels.jobs import process_inbox_message

    process_inbox_message(message_id)


def _queue_stored() -> None:
    from backroom.channels.jobs import queue_apply_stored

    queue_apply_stored()


def apply_stored(limit: int = 500) -> int:
    """Apply the till orders stored by single requests (`receive_orders(defer=True)`), oldest
    first, set-wise as a batch is applied; how many were applied.

    Their messages are locked and skipped when locked (PostgreSQL; SQLite runs one writer at a
    time), so workers running at once share them out and each order is applied once."""
    with transaction.atomic():
        messages = list(
            InboxMessage.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=InboxStatus.STORED)
            .order_by("id")[:limit]
        )
        return _apply_stored(messages) if messages else 0


def _apply_stored(messages: Sequence[InboxMessage]) -> int:
    """Apply stored till orders whose messages this transaction has locked: per account and
    poster, what `receive_orders` would have applied in the request. An order locked by a
    status change is left to it (`_locked_order` applies it first)."""
    orders = Order.objects.select_for_update(skip_locked=True, of=("self",)).in_bulk(
        [message.order_id for message in messages if message.order_id is not None]
    )
    accounts = ChannelAccount.objects.select_related(
        "site__node", "site__legal_entity", "location"
    ).in_bulk({message.account_id for message in messages})
    actors = get_user_model().objects.in_bulk(
        {message.actor_id for message in messages if message.actor_id is not None}
    )
    lines: dict[int, list[OrderLine]] = {}
    for line in OrderLine.objects.filter(order_id__in=list(orders)).order_by("order_id", "line_no"):
        lines.setdefault(line.order_id, []).append(line)
    groups: dict[tuple[int, int | None], list[InboxMessage]] = {}
    for message in messages:
        if message.order_id in orders:
            groups.setdefault((message.account_id, message.actor_id), []).append(message)
    now = timezone.now()
    cache = depletion.ExplosionCache(shared=True)
    applied: list[int] = []
    for (account_id, actor_id), group in groups.items():
        account = accounts[account_id]
        new: list[NewOrder] = []
        built: list[tuple[Order, list[OrderLine]]] = []
        for message in group:
            message._state.fields_cache["account"] = account
            order = orders[message.order_id]  # type: ignore[index]
            order._state.fields_cache.update(account=account, site=account.site)
            for line in lines.get(order.pk, ()):
                line._state.fields_cache["order"] = order
            event = parse_message(message)[0]
            new.append(NewOrder(event, message.payload, message.raw_type, message.content_type))
            built.append((order, lines.get(order.pk, [])))
        _apply_new(
            account,
            new,
            built,
            [message.pk for message in group],
            None,
            actor=actors.get(actor_id, SYSTEM),
            cache=cache,
            now=now,
        )
        applied += [message.pk for message in group]
    if applied:
        InboxMessage.objects.filter(pk__in=applied).update(
            status=InboxStatus.PROCESSED, attempts=F("attempts") + 1, processed_at=now
        )
        done = set(applied)
        for message in messages:
            if message.pk in done:
                message.status, message.processed_at = InboxStatus.PROCESSED, now
                message.attempts += 1
    return len(applied)


def parse_message(message: InboxMessage) -> list[PlatformEvent]:
    """The events a stored message carries, through its account kind's parser."""
    parser = _PARSERS.get(message.account.kind)
    if parser is None:
        raise UnparseablePayload(
            _("No adapter reads %(kind)s messages yet.") % {"kind": message.account.kind}
        )
    try:
        return list(parser(message.account, message.payload, message.content_type))
    except DomainError:
        raise
    except (ValueError, KeyError, TypeError, ArithmeticError) as error:
        raise UnparseablePayload(
            _("The message could not be read: %(error)s") % {"error": error}
        ) from error


def process_message(message_id: int) -> InboxMessage:
    """Apply a stored message; mark it processed, or failed with the reason (retried later).

    The message row is locked while it is applied, so the task queued after commit and the
    retry sweep never apply it at once."""
    with transaction.atomic():
        message = (
            InboxMessage.objects.select_for_update(of=("self",))
            .select_related("account__site__node")
            .get(pk=message_id)
        )
        if message.status == InboxStatus.PROCESSED:
            return message
        if message.status == InboxStatus.STORED:
            _apply_stored([message])
            return message
        order = None
        try:
            with transaction.atomic():
                for event in parse_message(message):
                    applied = apply_event(message.account, event, inbox=message)
                    order = applied.order or order
        except (DomainError, ValueError) as error:
            reason = getattr(error, "code", "invalid")
            message.status = InboxStatus.FAILED
            message.reason = f"{reason}: {getattr(error, 'message', str(error))}"[:5000]
        else:
            message.status = InboxStatus.PROCESSED
            message.reason = ""
            message.order = order
            message.processed_at = timezone.now()
        message.attempts += 1
        message.save(update_fields=["status", "reason", "attempts", "order", "processed_at"])
    return message


def retry_failed(limit: int = 500) -> int:
    """Apply again the messages that failed (or were never processed), oldest first."""
    stale = timezone.now() - dt.timedelta(minutes=1)
    pending = (
        InboxMessage.objects.filter(attempts__lt=MAX_ATTEMPTS)
        .exclude(status=InboxStatus.PROCESSED)
        .filter(received_at__lt=stale)
        .order_by("id")
        .values_list("pk", flat=True)[:limit]
    )
    done = 0
    for message_id in list(pending):
        if process_message(message_id).status == InboxStatus.PROCESSED:
            done += 1
    return done


# --- applying events -----------------------------------------------------------------------


@dataclass
class Applied:
    """What `apply_event` did. `replayed`: the event key was applied before, nothing changed;
    `is_applied`: the order was created or changed status (false for an out-of-order event)."""

    order: Order | None
    history: OrderHistory | None = None
    created: bool = False
    replayed: bool = False
    is_applied: bool = False


def event_json(event: PlatformEvent) -> dict[str, Any]:
    return jsonable(event)  # type: ignore[no-any-return]


def apply_event(
    account: ChannelAccount,
    event: PlatformEvent,
    *,
    inbox: InboxMessage | None = None,
    actor: Any = SYSTEM,
    strict: bool = False,
) -> Applied:
    """Apply one canonical event to its order, once (see the module for the rules).

    `strict` (a person or till asking through our API): a transition that is not allowed raises
    `InvalidTransition`, and an acceptance short of stock raises `InsufficientStock`, changing
    nothing. Otherwise (platform pushes, which report facts) both are recorded and the state
    stays consistent. `OrderNotReceived` when a status event precedes its order (retried).
    """
    if event.kind in (EventKind.HEARTBEAT, EventKind.IGNORED):
        return Applied(None)
    _apply_stored_first(account, event.external_order_id)
    with transaction.atomic():
        order = _locked_order(account, event.external_order_id)
        if order is None:
            if event.order is None:
                raise OrderNotReceived(
                    details={"external_order_id": event.external_order_id, "event": event.kind}
                )
            created = _create_order(account, event.order, event)
            if created is None:  # a concurrent delivery of the same order won: apply to it
                order = _locked_order(account, event.external_order_id)
                assert order is not None
            else:
                return _created(created, event, inbox=inbox, actor=actor, strict=strict)
        if OrderHistory.objects.filter(order=order, event_key=event.event_key[:200]).exists():
            return Applied(order, replayed=True)
        return _transition(order, event, inbox=inbox, actor=actor, strict=strict)


def _apply_stored_first(account: ChannelAccount, external_id: str) -> None:
    """Apply a till order stored by its request (and not yet by the worker) in a transaction
    of its own, before a change to it takes its locks: its ledger posting then never waits,
    holding the audit chain's head, for stock another posting holds."""
    if account.kind not in TILL_KINDS:
        return
    with transaction.atomic():
        stored = list(
            InboxMessage.objects.select_for_update(of=("self",)).filter(
                account=account, external_order_id=external_id[:64], status=InboxStatus.STORED
            )
        )
        if stored:
            _apply_stored(stored)


def _locked_order(account: ChannelAccount, external_id: str) -> Order | None:
    """The order, locked; a till order stored by its request is applied first, so what
    follows (a refund, a cancellation, a late mapping) finds it as the request left it
    (`_apply_stored_first` has usually done so already, in its own transaction)."""
    locked = (
        Order.objects.select_for_update(of=("self",))
        .select_related("account__location", "site__node")
        .filter(by_external_id(account, external_id))
    )
    order = locked.first()
    if order is None or account.kind not in TILL_KINDS:
        return order
    stored = list(
        InboxMessage.objects.select_for_update(of=("self",)).filter(
            order=order, status=InboxStatus.STORED
        )
    )
    if not stored:
        return order
    _apply_stored(stored)  # this transaction holds the order: it is applied, not skipped
    return locked.first()


def _history(
    order: Order,
    event: PlatformEvent,
    *,
    from_status: str,
    to_status: str,
    is_applied: bool,
    inbox: InboxMessage | None,
    actor: Any,
    note: str = "",
) -> OrderHistory:
    return OrderHistory.objects.create(
        order=order,
        event_key=event.event_key[:200],
        event_kind=str(event.kind),
        raw_type=event.raw_type[:100],
        from_status=from_status,
        to_status=to_status,
        is_applied=is_applied,
        note=note[:500],
        event=event_json(event),
        inbox=inbox,
        occurred_at=event.occurred_at,
        actor=actor if getattr(actor, "pk", None) is not None else None,
    )


@dataclass(frozen=True)
class Resolved:
    item_id: int | None
    modifier_codes: tuple[str, ...]


def resolve_codes(
    account: ChannelAccount, skus: set[str], modifier_codes: set[str]
) -> tuple[dict[str, Resolved], dict[str, str]]:
    """Our menu item (and fixed modifiers) per external SKU, and our modifier code per external
    modifier code, from the account's mappings; a till (POS / own app) may also send our own
    SKUs and modifier codes directly."""
    items: dict[str, Resolved] = {}
    modifiers: dict[str, str] = {}
    for row in _mappings(account.pk, list(skus | modifier_codes)):
        if row.kind == MappingKind.ITEM and row.external_code in skus:
            items[row.external_code] = Resolved(row.item_id, tuple(row.modifier_codes or ()))
        elif row.kind == MappingKind.MODIFIER and row.modifier is not None:
            modifiers[row.external_code] = row.modifier.code
    if account.kind in (ChannelKind.POS, ChannelKind.OWN_APP):
        missing = skus - items.keys()
        if missing:
            for pk, sku in _sellable(list(missing)):
                items[sku] = Resolved(pk, ())
        missing = modifier_codes - modifiers.keys()
        if missing:
            for code in _active_modifiers(list(missing)):
                modifiers[code] = code
    return items, modifiers


# The reads of every till order, compiled once per process (kernel.prepared).


@prepared
def _mappings(account_id: int, codes: list[str]) -> QuerySet[MenuMapping]:
    return MenuMapping.objects.filter(
        account_id=account_id, external_code__in=codes
    ).select_related("modifier")


@prepared
def _sellable(skus: list[str]) -> QuerySet[Item, tuple[int, str]]:
    return Item.objects.filter(sku__in=skus, kind__in=SELLABLE_KINDS, is_active=True).values_list(
        "pk", "sku"
    )


@prepared
def _active_modifiers(codes: list[str]) -> QuerySet[Modifier, str]:
    return Modifier.objects.filter(code__in=codes, is_active=True).values_list("code", flat=True)


def _till_uuid(account: ChannelAccount, external_id: str) -> uuid.UUID | None:
    """A till order's UUID (`Order.pos_uuid`): the external id parsed, at a till's account;
    None elsewhere, or when the external id is not a UUID."""
    if account.kind not in TILL_KINDS:
        return None
    try:
        return uuid.UUID(external_id)
    except ValueError:
        return None


def by_external_id(account: ChannelAccount, external_id: str) -> Q:
    """The filter for the account's order with this external id, through the index that holds
    it: a till order's UUID (`pos_uuid`, set from the external id when it is one), any other
    order's (account, external id) (decision 0014)."""
    till_uuid = _till_uuid(account, external_id)
    if till_uuid is None:
        return Q(account=account, external_id=external_id, pos_uuid__isnull=True)
    return Q(pos_uuid=till_uuid, account=account, external_id=external_id)


def by_external_ids(account: ChannelAccount, external_ids: Iterable[str]) -> Q:
    """`by_external_id` for many external ids of one account."""
    uuids: list[uuid.UUID] = []
    keyed: list[str] = []
    others: list[str] = []
    for external_id in external_ids:
        till_uuid = _till_uuid(account, external_id)
        if till_uuid is None:
            others.append(external_id)
        else:
            uuids.append(till_uuid)
            keyed.append(external_id)
    found = Q(account=account, external_id__in=others, pos_uuid__isnull=True)
    if uuids:
        found |= Q(pos_uuid__in=uuids, account=account, external_id__in=keyed)
    return found


def _create_order(
    account: ChannelAccount, data: CanonicalOrder, event: PlatformEvent
) -> Order | None:
    """Insert the order and its lines (None when a concurrent delivery inserted it first)."""
    skus = {line.external_sku for line in data.lines}
    codes = {m.code for line in data.lines for m in line.modifiers}
    items, modifiers = resolve_codes(account, skus, codes)
    order, lines, status = _build_order(account, data, event, items, modifiers)
    try:
        with transaction.atomic():
            order.save()
            for row in lines:
                row.order = order
            OrderLine.objects.bulk_create(lines)
    except IntegrityError:
        if Order.objects.filter(by_external_id(account, order.external_id)).exists():
            return None
        raise
    order.status = status  # entered below, with its side effects
    return order


def _entry_status(data: CanonicalOrder, event: PlatformEvent) -> str:
    status: str = data.status if data.status in STATUSES else OrderStatus.RECEIVED
    if event.status is not None and event.status in STATUSES:
        status = _later(status, event.status)
    return status


def _build_order(
    account: ChannelAccount,
    data: CanonicalOrder,
    event: PlatformEvent,
    items: dict[str, Resolved],
    modifiers: dict[str, str],
) -> tuple[Order, list[OrderLine], str]:
    """The order (status received, unsaved), its lines (unsaved) and the status it enters."""
    site = account.site
    status = _entry_status(data, event)
    pos_uuid = _till_uuid(account, data.external_id)
    order = new_instance(
        Order,
        account_id=account.pk,
        site_id=site.pk,
        kind=account.kind,
        external_id=data.external_id[:64],
        pos_uuid=pos_uuid,
        display_id=data.display_id[:64],
        business_date=business_date(
            data.placed_at, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour
        ),
        status=OrderStatus.RECEIVED,
        currency=data.currency,
        total=quantize_money(data.total),
        original_price=quantize_money(data.original_price),
        platform_discount=quantize_money(data.platform_discount),
        merchant_discount=quantize_money(data.merchant_discount),
        delivery_fee=quantize_money(data.delivery_fee),
        packaging_fee=quantize_money(data.packaging_fee),
        commission=quantize_money(data.commission),
        income=quantize_money(data.income) if data.income is not None else None,
        refunded_amount=quantize_money(Decimal(0)),  # as it reads back (the default is 0)
        is_paid=data.paid,
        customer_name=data.customer_name[:100],
        customer_phone=data.customer_phone[:40],
        address=data.address[:300],
        latitude=data.latitude,
        longitude=data.longitude,
        notes=data.notes,
        staff_code=data.staff_code[:40],
        placed_at=data.placed_at,
        status_changed_at=event.occurred_at or data.placed_at,
    )
    order._state.fields_cache.update(account=account, site=site)
    lines: list[OrderLine] = []
    for line in data.lines:
        resolved = items.get(line.external_sku)
        entries: list[dict[str, Any]] = [
            {
                "code": m.code,
                "name": m.name,
                "quantity": str(m.quantity),
                "modifier": modifiers.get(m.code),
            }
            for m in line.modifiers
        ]
        if resolved is not None:
            entries += [
                {"code": code, "name": "", "quantity": "1", "modifier": code, "fixed": True}
                for code in resolved.modifier_codes
            ]
        lines.append(
            new_instance(
                OrderLine,
                line_no=line.line_no,
                external_sku=line.external_sku[:100],
                name=line.name[:200],
                quantity=quantize_quantity(line.quantity),
                unit_price=quantize_money(line.unit_price),
                modifiers=entries,
                menu_item_id=resolved.item_id if resolved else None,
                is_unmapped=resolved is None,
            )
        )
    order.unmapped_lines = sum(1 for row in lines if row.is_unmapped)
    return order, lines, status


# --- many new orders at once (till batches) ------------------------------------------------


@dataclass
class NewOrder:
    """A new order to store and apply with others (`receive_orders`): its ORDER_PLACED event
    and the message it came in, stored verbatim in the inbox."""

    event: PlatformEvent
    payload: str
    raw_type: str = ""
    content_type: str = ""


def receives_in_bulk(account: ChannelAccount, event: PlatformEvent) -> bool:
    """Whether `receive_orders` can take this event: a new order that does not reserve (a till
    sale, an order received or completed); the others go through `apply_event`."""
    if event.kind != EventKind.ORDER_PLACED or event.order is None:
        return False
    status = _entry_status(event.order, event)
    return not (status in RESERVING and account.kind != ChannelKind.POS)


def receive_orders(
    account: ChannelAccount,
    new: Sequence[NewOrder],
    *,
    actor: Any = SYSTEM,
    cache: depletion.ExplosionCache | None = None,
    defer: bool = False,
) -> list[Order] | None:
    """Store and apply many new orders of one account set-wise, with the effects `apply_event`
    has order by order: inbox messages (processed), orders and lines, history, completion and
    depletion (one ledger call for all, their ingredients summed: `depletion.deplete_new`,
    decision 0017), the same events per order (published together), and one audit entry for
    the batch (`channels.order.receive` on the order when there is only one). Each event must
    pass `receives_in_bulk`.

    With `defer` (a till's single order, decision 0012) only the orders, their lines and their
    inbox messages are written, the messages as `stored`; the worker applies the rest
    (`apply_stored`) after commit, exactly as it would have been applied here.

    None, with nothing written, when one of the orders exists already (a concurrent request
    inserted it): apply them one by one with `apply_event` instead.
    """
    if not new:
        return []
    skus = {line.external_sku for entry in new for line in entry.event.order.lines}  # type: ignore[union-attr]
    codes = {
        m.code
        for entry in new
        for line in entry.event.order.lines  # type: ignore[union-attr]
        for m in line.modifiers
    }
    items, modifiers = resolve_codes(account, skus, codes)
    now = timezone.now()
    built: list[tuple[Order, list[OrderLine]]] = []
    for entry in new:
        assert entry.event.order is not None and receives_in_bulk(account, entry.event)
        order, lines, status = _build_order(
            account, entry.event.order, entry.event, items, modifiers
        )
        order.status = status
        if status == OrderStatus.COMPLETED:
            order.completed_at = entry.event.occurred_at or order.status_changed_at or now
        built.append((order, lines))
    orders = [order for order, _lines in built]
    # A completed order is inserted as depleted when all its lines are mapped, as it almost
    # always ends: a batch then needs no update of its orders (each one a new row version and
    # an entry in every index). Those that end otherwise are corrected below.
    expected = [
        not defer
        and order.status == OrderStatus.COMPLETED
        and all(line.menu_item_id is not None for line in lines)
        for order, lines in built
    ]
    for order, is_depleted in zip(orders, expected, strict=True):
        order.is_depleted = is_depleted
    status = InboxStatus.STORED if defer else InboxStatus.PROCESSED
    try:
        with transaction.atomic():
            # Inserted in external id order: two batches sharing orders wait for each other
            # instead of deadlocking (the loser applies its orders one by one, as replays).
            in_key_order = sorted(orders, key=lambda order: order.external_id)
            insert_rows(in_key_order, ids=True)
            messages = insert_values(
                InboxMessage,
                [
                    {
                        "account_id": account.pk,
                        "external_order_id": entry.event.external_order_id[:64],
                        "event_key": entry.event.event_key[:200],
                        "raw_type": entry.raw_type[:100],
                        "payload": entry.payload,
                        "content_type": entry.content_type[:100],
                        "status": status.value,
                        "attempts": 0 if defer else 1,
                        "order_id": order.pk,
                        "actor_id": getattr(actor, "pk", None),
                        "received_at": now,
                        "processed_at": None if defer else now,
                    }
                    for entry, order in zip(new, orders, strict=True)
                ],
                ids=True,
            )
    except IntegrityError:
        for order in orders:
            order.pk = None
            order._state.adding = True
            order.is_depleted = False
        return None
    if defer:
        _insert_lines(built)
        transaction.on_commit(_queue_stored, robust=True)
        return orders
    _apply_new(account, new, built, messages, expected, actor=actor, cache=cache, now=now)
    return orders


def _insert_lines(built: list[tuple[Order, list[OrderLine]]]) -> None:
    """Insert the new orders' lines (the orders have their ids)."""
    for order, lines in built:
        # What `line.order = order` sets, without the descriptor's checks (new lines).
        for line in lines:
            vars(line)["order_id"] = order.pk
            line._state.fields_cache["order"] = order
    insert_rows([line for _order, lines in built for line in lines], ids=True)


def _apply_new(
    account: ChannelAccount,
    new: Sequence[NewOrder],
    built: list[tuple[Order, list[OrderLine]]],
    messages: Sequence[int],
    inserted: Sequence[bool] | None,
    *,
    actor: Any,
    cache: depletion.ExplosionCache | None,
    now: dt.datetime,
) -> None:
    """The effects of new orders whose rows are written (`inserted`: the `is_depleted` each was
    written with): depletion, the flags it sets, history, audit and events. Their lines are
    inserted here, after depletion set their flags. `inserted` None: a till's orders stored by
    their requests (the worker applying them), written as not depleted with their lines, whose
    flags are updated instead."""
    stored = inserted is None
    if inserted is None:
        inserted = [False] * len(built)
    orders = [order for order, _lines in built]
    for order in orders:
        order.is_depleted = False  # until the depletion below says so
    completed = [(order, lines) for order, lines in built if order.status == OrderStatus.COMPLETED]
    plans = depletion.deplete_new(completed, cache=cache) if completed else []
    if stored:
        # The flags depletion set, one update per distinct set of values (`bulk_update`'s CASE
        # per row costs more in Python than the few statements).
        flags: dict[tuple[bool, Decimal, str, int | None], list[int]] = {}
        for _order, lines in completed:
            for line in lines:
                key = (
                    line.is_depleted,
                    line.depleted_quantity,
                    line.depletion_error,
                    line.sale_batch,
                )
                flags.setdefault(key, []).append(line.pk)
        for (is_depleted, quantity, error, batch), ids in flags.items():
            if is_depleted or quantity or error:
                OrderLine.objects.filter(pk__in=ids).update(
                    is_depleted=is_depleted,
                    depleted_quantity=quantity,
                    depletion_error=error,
                    sale_batch=batch,
                )
    else:
        _insert_lines(built)
    for is_depleted in (True, False):
        wrong = [
            order.pk
            for order, written in zip(orders, inserted, strict=True)
            if order.is_depleted == is_depleted and written != is_depleted
        ]
        if wrong:
            Order.objects.filter(pk__in=wrong).update(is_depleted=is_depleted)
    for order in orders:
        if order.depletion_error:
            Order.objects.filter(pk=order.pk).update(depletion_error=order.depletion_error)
    user_id = getattr(actor, "pk", None)
    insert_values(
        OrderHistory,
        [
            {
                "order_id": order.pk,
                "event_key": entry.event.event_key[:200],
                "event_kind": str(entry.event.kind),
                "raw_type": entry.event.raw_type[:100],
                "from_status": "",
                "to_status": str(order.status),
                "is_applied": True,
                "note": "",
                "event": event_json(entry.event),
                "inbox_id": message,
                "occurred_at": entry.event.occurred_at,
                "recorded_at": now,
                "actor_id": user_id,
            }
            for entry, order, message in zip(new, orders, messages, strict=True)
        ],
        ids=False,
    )
    _audit_received(orders, built, actor=actor)
    site = account.site
    with rollups.fresh_orders(built):
        publish_many(
            [
                OrderReceived(
                    order_id=order.pk,
                    account_id=order.account_id,
                    site_id=order.site_id,
                    kind=order.kind,
                    external_id=order.external_id,
                    status=order.status,
                    total=str(order.total),
                    currency=order.currency,
                    unmapped_lines=order.unmapped_lines,
                    business_date=order.business_date.isoformat(),
                )
                for order in orders
            ],
            org_node=site.node,
        )
    published = [plan for plan in plans if plan.result is not None and not plan.error]
    if published:
        publish_many(
            [
                OrderDepleted(
                    order_id=plan.order.pk,
                    site_id=plan.order.site_id,
                    posting_id=plan.result.posting.pk,  # type: ignore[union-attr]
                    lines=[line.line_no for line in plan.lines],
                )
                for plan in published
            ],
            org_node=site.node,
        )


def _audit_received(
    orders: list[Order], built: list[tuple[Order, list[OrderLine]]], *, actor: Any
) -> None:
    """One audit entry: on the order when there is one, else on the account listing them."""
    rows = [
        {
            "id": order.pk,
            "account_id": order.account_id,
            "external_id": order.external_id,
            "status": order.status,
            "total": order.total,
            "lines": len(lines),
            "unmapped_lines": order.unmapped_lines,
        }
        for order, lines in built
    ]
    first = orders[0]
    if len(orders) == 1:
        after = {key: value for key, value in rows[0].items() if key != "id"}
        record_audit(
            actor=actor,
            action="channels.order.receive",
            target=first,
            after=after,
            org_node=first.site.node,
        )
        return
    record_audit(
        actor=actor,
        action="channels.order.receive_batch",
        target=first.account,
        after={"count": len(rows), "orders": rows},
        org_node=first.site.node,
    )


def _created(
    order: Order, event: PlatformEvent, *, inbox: InboxMessage | None, actor: Any, strict: bool
) -> Applied:
    target = order.status
    order.status = OrderStatus.RECEIVED
    note = _enter(order, OrderStatus.RECEIVED, target, strict=strict)
    order.status = target
    order.save(update_fields=["status", "is_reserved", "updated_at"])
    history = _history(
        order,
        event,
        from_status="",
        to_status=target,
        is_applied=True,
        inbox=inbox,
        actor=actor,
        note=note,
    )
    _after_status(order, event, target)  # stock before the audit chain's head (`_transition`)
    record_audit(
        actor=actor,
        action="channels.order.receive",
        target=order,
        after={
            "account_id": order.account_id,
            "external_id": order.external_id,
            "status": order.status,
            "total": order.total,
            "lines": order.lines.count(),
            "unmapped_lines": order.unmapped_lines,
        },
        org_node=order.site.node,
    )
    publish(
        OrderReceived(
            order_id=order.pk,
            account_id=order.account_id,
            site_id=order.site_id,
            kind=order.kind,
            external_id=order.external_id,
            status=order.status,
            total=str(order.total),
            currency=order.currency,
            unmapped_lines=order.unmapped_lines,
            business_date=order.business_date.isoformat(),
        ),
        org_node=order.site.node,
    )
    return Applied(order, history, created=True, is_applied=True)


def _later(current: str, target: str) -> str:
    if current in FORWARD and target in FORWARD:
        return target if FORWARD.index(target) > FORWARD.index(current) else current
    return target


def target_status(event: PlatformEvent) -> str | None:
    """The status an event moves its order to (None: it only adds to the history)."""
    if event.kind == EventKind.CANCELLED:
        return OrderStatus.CANCELLED
    if event.kind == EventKind.REFUNDED:
        return OrderStatus.REFUNDED
    if event.kind == EventKind.PARTIALLY_REFUNDED:
        return OrderStatus.PARTIALLY_REFUNDED
    if event.kind == EventKind.REFUND_REQUESTED:
        return None
    if event.status is not None:
        return str(event.status)
    if event.order is not None:
        return str(event.order.status)
    return None


def allowed(current: str, target: str) -> bool:
    """The status machine: may an order at `current` move to `target`?"""
    if current in TERMINAL:
        return False
    if target in TERMINAL:
        return True
    if target == OrderStatus.PARTIALLY_REFUNDED:
        return True  # lines are marked; the status moves only after completion
    if current == OrderStatus.PARTIALLY_REFUNDED:
        return False
    return (
        current in FORWARD and target in FORWARD and FORWARD.index(target) > FORWARD.index(current)
    )


def _transition(
    order: Order, event: PlatformEvent, *, inbox: InboxMessage | None, actor: Any, strict: bool
) -> Applied:
    current = order.status
    target = target_status(event)
    if target is None or not allowed(current, target):
        if strict and target is not None:
            raise InvalidTransition(
                _("An order that is %(current)s cannot become %(target)s.")
                % {
                    "current": OrderStatus(current).label,
                    "target": OrderStatus(target).label,
                },
                details={"status": current, "requested": target},
            )
        note = (
            ""
            if target is None
            else _("Out of order: the order is already %(current)s.")
            % {"current": OrderStatus(current).label}
        )
        history = _history(
            order,
            event,
            from_status=current,
            to_status=current,
            is_applied=False,
            inbox=inbox,
            actor=actor,
            note=note,
        )
        return Applied(order, history)
    if target == OrderStatus.PARTIALLY_REFUNDED:
        if current not in (OrderStatus.COMPLETED, OrderStatus.PARTIALLY_REFUNDED):
            target = current
    note = _enter(order, current, target, strict=strict, event=event)
    order.status = target
    order.status_changed_at = event.occurred_at or timezone.now()
    order.save(
        update_fields=[
            "status",
            "status_changed_at",
            "is_reserved",
            "refunded_amount",
            "updated_at",
        ]
    )
    history = _history(
        order,
        event,
        from_status=current,
        to_status=target,
        is_applied=True,
        inbox=inbox,
        actor=actor,
        note=note,
    )
    # Stock first, then the audit entry: every ledger posting locks stock before the audit
    # chain's head, so one that took the head first could wait for stock held by another.
    _after_status(order, event, target)
    if target != current:
        record_audit(
            actor=actor,
            action="channels.order.status",
            target=order,
            before={"status": current},
            after={"status": target},
            reason=event.reason[:500],
            org_node=order.site.node,
        )
        publish(
            OrderStatusChanged(
                order_id=order.pk,
                site_id=order.site_id,
                from_status=current,
                to_status=target,
                event_key=event.event_key[:200],
            ),
            org_node=order.site.node,
        )
    return Applied(order, history, is_applied=True)


def _enter(
    order: Order, current: str, target: str, *, strict: bool, event: PlatformEvent | None = None
) -> str:
    """Side effects that must succeed (or fail) with the status change: reservations, refunds.
    Returns a note for the history."""
    note = ""
    reserving = target in RESERVING and current not in RESERVING
    if reserving and order.is_online and not order.is_reserved:
        if strict:
            depletion.reserve(order)
        else:
            try:
                with transaction.atomic():
                    depletion.reserve(order)
            except InsufficientStock as error:
                note = _("Not reserved: %(error)s") % {"error": error.message}
    if target in TERMINAL:
        if order.is_reserved:
            depletion.end_reservations(order, ReservationStatus.RELEASED)
        if target == OrderStatus.REFUNDED:
            order.refunded_amount = (
                quantize_money(event.refund_amount)
                if event is not None and event.refund_amount is not None
                else order.total
            )
            order.lines.update(refunded_quantity=F("quantity"))
    if target == OrderStatus.PARTIALLY_REFUNDED or (
        event is not None and event.kind == EventKind.PARTIALLY_REFUNDED
    ):
        assert event is not None
        _mark_refund(order, event)
    return note


def _mark_refund(order: Order, event: PlatformEvent) -> None:
    """Count refunded quantities against the lines (by SKU, first line with room first)."""
    if event.refund_amount is not None:
        order.refunded_amount = quantize_money(order.refunded_amount + event.refund_amount)
    lines = list(order.lines.order_by("line_no"))
    changed: dict[int, OrderLine] = {}
    for refund in event.refund_lines:
        left = quantize_quantity(refund.quantity)
        for line in lines:
            if left <= 0:
                break
            if line.external_sku != refund.external_sku:
                continue
            room = line.quantity - line.refunded_quantity
            take = min(room, left)
            if take > 0:
                line.refunded_quantity += take
                left -= take
                changed[line.pk] = line
        if refund.quantity > 0 and left == quantize_quantity(refund.quantity):
            logger.info("refund of unknown SKU %s on order %s", refund.external_sku, order.pk)
    update_rows(list(changed.values()), ["refunded_quantity"])
    if changed:
        _restock_refunded(order, changed, event)


def _restock_refunded(order: Order, lines: dict[int, OrderLine], event: PlatformEvent) -> None:
    wanted = {
        pk: line.refunded_quantity - line.restocked_quantity
        for pk, line in lines.items()
        if line.is_depleted
    }
    wanted = {pk: amount for pk, amount in wanted.items() if amount > 0}
    if wanted:
        depletion.restock(order, wanted, tag=event.event_key)


def _after_status(order: Order, event: PlatformEvent, target: str) -> None:
    """Stock effects of reaching a status: deplete at completion, restock after a side exit."""
    if target == OrderStatus.COMPLETED and order.completed_at is None:
        order.completed_at = event.occurred_at or order.status_changed_at or timezone.now()
        order.save(update_fields=["completed_at"])
        depletion.deplete(order)
    elif target in TERMINAL:
        depleted = {
            line.pk: line.depleted_quantity - line.restocked_quantity
            for line in order.lines.filter(is_depleted=True)
        }
        depleted = {pk: amount for pk, amount in depleted.items() if amount > 0}
        if depleted:
            depletion.restock(order, depleted, tag=event.event_key)


# --- transitions asked through our API or pages --------------------------------------------


def change_status(order: Order, *, status: str, actor: Any, key: str, reason: str = "") -> Applied:
    """Move an order through the status machine on behalf of a person or till (strict: an
    illegal move is `invalid_transition`, an acceptance short of stock `insufficient_stock`;
    nothing changes). `key` makes a retried request a replay."""
    require_permission(actor, CHANNELS_OPERATE, order.site.node)
    if status not in STATUSES or status == OrderStatus.PARTIALLY_REFUNDED:
        raise InvalidTransition(details={"status": order.status, "requested": status})
    kinds = {
        OrderStatus.CANCELLED: EventKind.CANCELLED,
        OrderStatus.REFUNDED: EventKind.REFUNDED,
    }
    event = PlatformEvent(
        kind=kinds.get(OrderStatus(status), EventKind.STATUS_CHANGED),
        external_order_id=order.external_id,
        event_key=f"api:{key}"[:200],
        raw_type="api",
        occurred_at=timezone.now(),
        status=OrderStatus(status),
        reason=reason,
    )
    return apply_event(order.account, event, actor=actor, strict=True)


def deplete_pending(order: Order) -> None:
    """Deplete what is left of a completed order (a line mapped later, stock received after a
    refusal); nothing for an order that is not completed."""
    _apply_stored_first(order.account, order.external_id)
    with transaction.atomic():
        locked = _locked_order(order.account, order.external_id)
        if locked is None or locked.status not in (
            OrderStatus.COMPLETED,
            OrderStatus.PARTIALLY_REFUNDED,
        ):
            return
        depletion.deplete(locked)
