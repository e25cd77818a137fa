"""Our own POS API: tills (and the own app) post orders one at a time or in batches of up to
1,000, each with a till-generated UUID as its idempotency key (unique in the database).

A batch is checked whole first; every problem is reported at once with its index and nothing
is applied when any order is invalid (`batch_rejected`, `details.orders`). A UUID posted
before is acknowledged with its existing order (`replayed`) and changes nothing. Stock is not
a reason to refuse a till's sale: the sale happened; when the ledger refuses its depletion the
order keeps the reason in `depletion_error` and depletes later.

Each order is stored in the inbox as the JSON the till sent for it (the POS parser reads it
back). A batch is applied at once, so the till learns the result in the same request. A single
order posted with `defer` (the API's single-order endpoint, decision 0012) is stored with its
lines and answered; the worker applies its depletion, history, audit and events a moment later
(`intake.apply_stored`), and anything that changes the order first applies them itself.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from backroom.accounts.authorization import require_permission
from backroom.channels.choices import TILL_KINDS, TILL_PLACED, ChannelKind, InboxStatus, OrderStatus
from backroom.channels.depletion import ExplosionCache
from backroom.channels.exceptions import NoChannelAccount
from backroom.channels.intake import (
    STATUSES,
    NewOrder,
    apply_event,
    receive_orders,
    receives_in_bulk,
    register_parser,
)
from backroom.channels.models import ChannelAccount, InboxMessage, Order
from backroom.channels.permissions import CHANNELS_OPERATE
from backroom.channels.platforms.base import (
    CanonicalOrder,
    EventKind,
    LineIn,
    ModifierIn,
    PlatformEvent,
)
from backroom.kernel.exceptions import DomainError, NotFound, ValidationFailed
from backroom.kernel.jsonutil import jsonable
from backroom.kernel.prepared import prepared
from backroom.org.models import Site

MAX_BATCH = 1000


@dataclass
class TillModifier:
    code: str
    name: str = ""
    quantity: Decimal = Decimal(1)


@dataclass
class TillLine:
    sku: str
    quantity: Decimal
    unit_price: Decimal = Decimal(0)
    name: str = ""
    modifiers: list[TillModifier] = field(default_factory=list)


@dataclass
class TillOrder:
    """One order as a till sends it. `status` completed for a till sale (the default); an own-app
    order starts received and moves on through `intake.change_status`."""

    uuid: uuid.UUID
    store_id: int
    placed_at: dt.datetime
    lines: list[TillLine]
    channel: str = ChannelKind.POS
    status: str = OrderStatus.COMPLETED
    display_id: str = ""
    currency: str = ""
    total: Decimal | None = None
    original_price: Decimal | None = None
    merchant_discount: Decimal = Decimal(0)
    delivery_fee: Decimal = Decimal(0)
    packaging_fee: Decimal = Decimal(0)
    customer_name: str = ""
    customer_phone: str = ""
    address: str = ""
    notes: str = ""
    staff_code: str = ""


@dataclass
class TillResult:
    index: int
    uuid: uuid.UUID
    order: Order
    replayed: bool


class OrdersRejected(ValidationFailed):
    """A batch with problems: every problem of every order at once; nothing was applied."""

    code = "batch_rejected"

    def __init__(self, orders: list[dict[str, Any]]) -> None:
        super().__init__(
            {}, message=_("Some orders of the batch are invalid; nothing was applied.")
        )
        self.details["orders"] = orders


def _problem(index: int, error: DomainError) -> dict[str, Any]:
    return {"index": index, "code": error.code, "message": error.message, "details": error.details}


def _accounts(store_ids: set[int], kinds: set[str]) -> dict[tuple[int, str], ChannelAccount]:
    found: dict[tuple[int, str], ChannelAccount] = {}
    for account in _active_accounts(list(store_ids), list(kinds)):
        found.setdefault((account.site_id, account.kind), account)
    return found


@prepared
def _active_accounts(store_ids: list[int], kinds: list[str]) -> QuerySet[ChannelAccount]:
    return (
        ChannelAccount.objects.select_related("site__node", "site__legal_entity")
        .filter(site_id__in=store_ids, kind__in=kinds, is_active=True)
        .order_by("pk")
    )


def _access(actor: Any, site: Site | None) -> DomainError | None:
    """Why the actor may not post orders at the store (None when it may)."""
    if site is None:
        return NotFound()
    try:
        require_permission(actor, CHANNELS_OPERATE, site.node)
    except DomainError as error:
        return error
    return None


def _check(order: TillOrder) -> list[str]:
    errors: list[str] = []
    if not order.lines:
        errors.append(_("An order needs at least one line."))
    for number, line in enumerate(order.lines, start=1):
        if line.quantity <= 0:
            errors.append(_("Line %(line)s: the quantity must be positive.") % {"line": number})
        if not line.sku.strip():
            errors.append(_("Line %(line)s: the SKU is missing.") % {"line": number})
    if order.channel not in TILL_KINDS:
        errors.append(_("The channel must be pos or own_app."))
    if order.status not in STATUSES or order.status in (
        OrderStatus.REFUNDED,
        OrderStatus.PARTIALLY_REFUNDED,
        OrderStatus.CANCELLED,
    ):
        errors.append(_("A new order is received, accepted or completed."))
    if timezone.is_naive(order.placed_at):
        errors.append(_("The time the order was placed needs a time zone."))
    return errors


def submit_orders(
    orders: Sequence[TillOrder], *, actor: Any, defer: bool = False
) -> list[TillResult]:
    """Apply a batch of till orders, all or nothing (see the module). With `defer`, new orders
    that do not reserve are stored and left to the worker to apply."""
    if not orders:
        raise ValidationFailed({"orders": [_("Send at least one order.")]})
    if len(orders) > MAX_BATCH:
        raise ValidationFailed(
            {"orders": [_("At most %(count)s orders per batch.") % {"count": MAX_BATCH}]}
        )
    single = len(orders) == 1
    problems: list[tuple[int, DomainError]] = []
    store_ids = {order.store_id for order in orders}
    accounts = _accounts(store_ids, {order.channel for order in orders})
    # The accounts bring their stores; only stores without one are read on their own.
    sites: dict[int, Site] = {account.site_id: account.site for account in accounts.values()}
    if missing := store_ids - set(sites):
        sites |= Site.objects.select_related("node").in_bulk(missing)
    seen: dict[uuid.UUID, int] = {}
    existing = _existing([order.uuid for order in orders])
    access: dict[int, DomainError | None] = {}
    for index, order in enumerate(orders):
        if order.store_id not in access:
            access[order.store_id] = _access(actor, sites.get(order.store_id))
        denied = access[order.store_id]
        if denied is not None:
            problems.append((index, denied))
            continue
        account = accounts.get((order.store_id, order.channel))
        if account is None:
            problems.append((index, NoChannelAccount(details={"store_id": order.store_id})))
            continue
        if order.uuid in seen:
            message = _("The UUID is used by order %(index)s.") % {"index": seen[order.uuid]}
            problems.append((index, ValidationFailed({"uuid": [message]})))
            continue
        seen[order.uuid] = index
        previous = existing.get(order.uuid)
        if previous is not None and previous.account_id != account.pk:
            message = _("The UUID belongs to another store's order.")
            problems.append((index, ValidationFailed({"uuid": [message]})))
            continue
        errors = _check(order)
        if errors:
            problems.append((index, ValidationFailed({"order": errors})))
    if problems:
        if single:
            raise problems[0][1]
        raise OrdersRejected([_problem(index, error) for index, error in problems])
    results: dict[int, TillResult] = {}
    with transaction.atomic():
        bulk: dict[int, list[tuple[int, TillOrder, NewOrder]]] = {}
        new: dict[int, NewOrder] = {}  # each new order's stored JSON and event, built once
        one_by_one: list[int] = []
        for index, order in enumerate(orders):
            account = accounts[(order.store_id, order.channel)]
            previous = existing.get(order.uuid)
            if previous is not None:
                results[index] = TillResult(index, order.uuid, previous, replayed=True)
                continue
            data = _data(order)
            entry = new[index] = NewOrder(
                _placed(account, data), _json(data), "pos.order", "application/json"
            )
            if receives_in_bulk(account, entry.event):
                bulk.setdefault(account.pk, []).append((index, order, entry))
            else:
                one_by_one.append(index)
        # One recipe explosion cache for the whole request; each account's new orders are
        # written set-wise and depleted with one ledger call (by the worker, with `defer`).
        cache = None if defer else ExplosionCache(shared=True)
        for entries in bulk.values():
            account = accounts[(entries[0][1].store_id, entries[0][1].channel)]
            created = receive_orders(
                account,
                [entry for _i, _o, entry in entries],
                actor=actor,
                cache=cache,
                defer=defer,
            )
            if created is None:  # a concurrent request inserted one of them: one by one
                one_by_one.extend(index for index, _order, _entry in entries)
                continue
            for (index, order, _entry), row in zip(entries, created, strict=True):
                results[index] = TillResult(index, order.uuid, row, replayed=False)
        for index in sorted(one_by_one):
            order = orders[index]
            account = accounts[(order.store_id, order.channel)]
            results[index] = _apply(index, order, new[index], account, actor)
    return [results[index] for index in range(len(orders))]


def _existing(uuids: list[uuid.UUID]) -> dict[uuid.UUID | None, Order]:
    """The orders already posted with these UUIDs. A till's new order is rarely one of them:
    a query of one column says so first, cheaper to build than the orders with their stores."""
    if not _any_posted(uuids):
        return {}
    posted = Order.objects.filter(pos_uuid__in=uuids).select_related("site__node")
    return {row.pos_uuid: row for row in posted}


@prepared
def _any_posted(uuids: list[uuid.UUID]) -> QuerySet[Order, int]:
    return Order.objects.filter(pos_uuid__in=uuids).order_by().values_list("pk", flat=True)[:1]


def _payload(order: TillOrder) -> str:
    """The JSON stored in the inbox for a till order (the POS parser reads it back)."""
    return _json(_data(order))


_ORDER_FIELDS = tuple(item.name for item in dataclasses.fields(TillOrder) if item.name != "lines")
_LINE_FIELDS = tuple(item.name for item in dataclasses.fields(TillLine) if item.name != "modifiers")
_MODIFIER_FIELDS = tuple(item.name for item in dataclasses.fields(TillModifier))


def _data(order: TillOrder) -> dict[str, Any]:
    """The till order as the dict its stored JSON holds, with its values not yet turned into
    JSON (Decimals, the UUID, the time): what `_json` stores and `_placed` reads, so a batch
    never parses back the JSON it has just written."""
    data = {name: getattr(order, name) for name in _ORDER_FIELDS}
    data["lines"] = [
        {
            **{name: getattr(line, name) for name in _LINE_FIELDS},
            "modifiers": [
                {name: getattr(m, name) for name in _MODIFIER_FIELDS} for m in line.modifiers
            ],
        }
        for line in order.lines
    ]
    return data


def _json(data: dict[str, Any]) -> str:
    """The text `json.dumps(jsonable(order), sort_keys=True, ensure_ascii=False)` gives."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False, default=_plain)


def _plain(value: Any) -> Any:
    if type(value) is Decimal:
        return str(value)
    plain = jsonable(value)
    if plain is value:
        raise TypeError(f"{type(value).__name__} is not JSON serializable")
    return plain


def _apply(
    index: int, order: TillOrder, entry: NewOrder, account: ChannelAccount, actor: Any
) -> TillResult:
    message = InboxMessage.objects.create(
        account=account,
        external_order_id=str(order.uuid),
        event_key=TILL_PLACED,
        raw_type="pos.order",
        payload=entry.payload,
        content_type=entry.content_type,
    )
    applied = apply_event(account, entry.event, inbox=message, actor=actor)
    if applied.replayed:
        # The same UUID from a concurrent request (a till retrying) committed its order first:
        # its message is the order's one (unique per order, decision 0014).
        message.delete()
        assert applied.order is not None
        return TillResult(index, order.uuid, applied.order, replayed=True)
    message.status = InboxStatus.PROCESSED
    message.order = applied.order
    message.attempts = 1
    message.processed_at = timezone.now()
    message.save(update_fields=["status", "order", "attempts", "processed_at"])
    assert applied.order is not None
    return TillResult(index, order.uuid, applied.order, replayed=applied.replayed)


def _decimal(value: Any, default: str = "0") -> Decimal:
    if type(value) is Decimal:
        return value  # Decimal(str(value)) is the same number, written the same way
    return Decimal(str(value if value is not None else default))


def _instant(value: Any) -> dt.datetime:
    """The time from the stored JSON (ISO 8601), or a datetime as it reads back from it."""
    return dt.datetime.fromisoformat(value if isinstance(value, str) else value.isoformat())


def parse_till_order(
    account: ChannelAccount, payload: str, content_type: str
) -> list[PlatformEvent]:
    """The stored JSON of a till order → one ORDER_PLACED event."""
    return [_placed(account, json.loads(payload))]


def _placed(account: ChannelAccount, data: dict[str, Any]) -> PlatformEvent:
    """The ORDER_PLACED event of a till order's stored JSON, read (`parse_till_order`) or as
    `_data` gives it before it is written: the same event either way."""
    placed_at = _instant(data["placed_at"])
    lines = tuple(
        LineIn(
            line_no=number,
            external_sku=str(line["sku"]),
            name=str(line.get("name") or ""),
            quantity=_decimal(line["quantity"]),
            unit_price=_decimal(line.get("unit_price")),
            modifiers=tuple(
                ModifierIn(
                    code=str(m["code"]),
                    name=str(m.get("name") or ""),
                    quantity=_decimal(m.get("quantity"), "1"),
                )
                for m in line.get("modifiers") or ()
            ),
        )
        for number, line in enumerate(data["lines"], start=1)
    )
    subtotal = sum((line.quantity * line.unit_price for line in lines), Decimal(0))
    merchant_discount = _decimal(data.get("merchant_discount"))
    original = (
        _decimal(data["original_price"]) if data.get("original_price") is not None else subtotal
    )
    fees = _decimal(data.get("delivery_fee")) + _decimal(data.get("packaging_fee"))
    total = (
        _decimal(data["total"])
        if data.get("total") is not None
        else original - merchant_discount + fees
    )
    currency = data.get("currency") or account.site.legal_entity.base_currency
    status = OrderStatus(data.get("status") or OrderStatus.COMPLETED)
    order = CanonicalOrder(
        external_id=str(data["uuid"]),
        display_id=str(data.get("display_id") or ""),
        store_ref=account.store_ref,
        placed_at=placed_at,
        status=status,
        lines=lines,
        currency=currency,
        total=total,
        original_price=original,
        merchant_discount=merchant_discount,
        delivery_fee=_decimal(data.get("delivery_fee")),
        packaging_fee=_decimal(data.get("packaging_fee")),
        customer_name=str(data.get("customer_name") or ""),
        customer_phone=str(data.get("customer_phone") or ""),
        address=str(data.get("address") or ""),
        notes=str(data.get("notes") or ""),
        staff_code=str(data.get("staff_code") or ""),
    )
    return PlatformEvent(
        kind=EventKind.ORDER_PLACED,
        external_order_id=order.external_id,
        event_key=TILL_PLACED,
        raw_type="pos.order",
        occurred_at=placed_at,
        status=status,
        order=order,
    )


register_parser(ChannelKind.POS, parse_till_order)
register_parser(ChannelKind.OWN_APP, parse_till_order)
