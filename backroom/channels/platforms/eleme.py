"""Ele.me (饿了么开放平台): push verification, message parsing, replies and the API envelope.

Pushes: a GET is a heartbeat (answer `{"message":"ok"}`); a message is a POSTed JSON object with
`requestId`, `type`, `appId`, `shopId`, `timestamp` (ms), `userId`, `message` (a JSON string) and
`signature`: drop `signature`, sort the keys, concatenate `key=value` with no separators, append
the secret, upper-case hex MD5.

Order ids exceed 2**53: every JSON integer is read as its digits (`parsing.loads_exact`), so ids
stay exact strings and amounts are Decimals. Nothing here does I/O or touches the database.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from backroom.channels.choices import ChannelKind, OrderStatus
from backroom.channels.platforms.base import (
    CanonicalOrder,
    Credentials,
    EventKind,
    InboundRequest,
    LineIn,
    ModifierIn,
    OutboundRequest,
    PlatformEvent,
    RefundLine,
    Reply,
)
from backroom.channels.platforms.errors import (
    NOT_JSON,
    NOT_LIST,
    NOT_NUMBER,
    NOT_OBJECT,
    REQUIRED,
    BadSignature,
    MalformedPayload,
    MissingParameter,
    OutboundRejected,
    PlatformError,
    Problems,
    UnknownApp,
)
from backroom.channels.platforms.parsing import (
    decimal_or_none,
    digest,
    from_local_iso,
    from_unix,
    loads_exact,
    read_decimal,
    text,
)

API_URL = "https://open-api.shop.ele.me/api/v1/"
SIGNATURE_FIELD = "signature"
PUSH_REQUIRED = ("requestId", "type", "appId", "message", "timestamp", SIGNATURE_FIELD)


# --- message types → events --------------------------------------------------------------------

# Types whose event is the same however often it arrives: the key is the type alone.
STATUS_TYPES: dict[int, tuple[EventKind, OrderStatus | None]] = {
    10: (EventKind.ORDER_PLACED, OrderStatus.RECEIVED),  # new effective order
    12: (EventKind.STATUS_CHANGED, OrderStatus.ACCEPTED),  # merchant accepted
    14: (EventKind.CANCELLED, OrderStatus.CANCELLED),  # cancelled before acceptance
    15: (EventKind.CANCELLED, OrderStatus.CANCELLED),  # invalid (the customer cancelled)
    17: (EventKind.CANCELLED, OrderStatus.CANCELLED),  # forced invalid after acceptance
    18: (EventKind.STATUS_CHANGED, OrderStatus.COMPLETED),  # completed
}
# Cancellation (20–26) and refund (30–36) flows: a flow can repeat, so the key includes a digest
# of the message. None as the status: history only.
FLOW_TYPES: dict[int, tuple[EventKind, OrderStatus | None]] = {
    20: (EventKind.REFUND_REQUESTED, None),  # customer asks to cancel
    21: (EventKind.STATUS_CHANGED, None),  # customer withdrew the request
    22: (EventKind.STATUS_CHANGED, None),  # merchant refused
    23: (EventKind.CANCELLED, OrderStatus.CANCELLED),  # merchant agreed: cancelled
    24: (EventKind.STATUS_CHANGED, None),  # customer asked customer service to arbitrate
    25: (EventKind.CANCELLED, OrderStatus.CANCELLED),  # arbitration: cancelled
    26: (EventKind.STATUS_CHANGED, None),  # arbitration: not cancelled
    30: (EventKind.REFUND_REQUESTED, None),  # customer asks for a refund
    31: (EventKind.STATUS_CHANGED, None),  # customer withdrew the request
    32: (EventKind.STATUS_CHANGED, None),  # merchant refused
    33: (EventKind.REFUNDED, OrderStatus.REFUNDED),  # merchant agreed (partial: see refundType)
    34: (EventKind.STATUS_CHANGED, None),  # customer asked customer service to arbitrate
    35: (EventKind.REFUNDED, OrderStatus.REFUNDED),  # arbitration: refunded
    36: (EventKind.STATUS_CHANGED, None),  # arbitration: not refunded
}
# Delivery status 51–76: these move the order; the rest are history only.
DELIVERY_STATUS: dict[int, OrderStatus] = {
    55: OrderStatus.DELIVERING,  # picked up, on the way
    56: OrderStatus.COMPLETED,  # delivered: the food has left the kitchen for good
}
DELIVERY_TYPES = range(51, 77)
# Acknowledged, not acted on: reminders (45/46) and shop status (91/92); unknown types too.
IGNORED_TYPES = frozenset({45, 46, 91, 92})
CANCEL_FLOW = range(20, 27)
REFUND_FLOW = range(30, 37)


def event_for(message_type: int) -> tuple[EventKind, OrderStatus | None]:
    """The event kind and canonical status of a message type (unknown types: IGNORED)."""
    if message_type in STATUS_TYPES:
        return STATUS_TYPES[message_type]
    if message_type in FLOW_TYPES:
        return FLOW_TYPES[message_type]
    if message_type in DELIVERY_TYPES:
        return EventKind.STATUS_CHANGED, DELIVERY_STATUS.get(message_type)
    return EventKind.IGNORED, None


# --- signing -----------------------------------------------------------------------------------


def _md5_upper(value: str) -> str:
    # MD5 is the platform's protocol, not our choice of hash.
    return hashlib.md5(value.encode(), usedforsecurity=False).hexdigest().upper()


def push_signature(payload: Mapping[str, Any], secret: str) -> str:
    """The `signature` of a push: sorted `key=value` without separators, + secret, MD5 upper."""
    base = "".join(
        f"{key}={text(payload[key])}" for key in sorted(payload) if key != SIGNATURE_FIELD
    )
    return _md5_upper(base + secret)


def verify(payload: Mapping[str, Any], secret: str) -> bool:
    """True when the push's `signature` matches (constant-time). Read the body with
    `parse_body` so integers keep their exact digits."""
    given = text(payload.get(SIGNATURE_FIELD)).upper()
    return hmac.compare_digest(push_signature(payload, secret), given)


def api_signature(
    action: str, token: str, metas: Mapping[str, Any], params: Mapping[str, Any], secret: str
) -> str:
    """The API envelope's signature: action + token + sorted `key=JSON(value)` of params and
    metas + secret, upper-case MD5. JSON is compact and keeps non-ASCII text as is."""
    combined = {**params, **metas}
    pairs = "".join(
        f"{key}={json.dumps(combined[key], ensure_ascii=False, separators=(',', ':'))}"
        for key in sorted(combined)
    )
    return _md5_upper(action + token + pairs + secret)


def verify_envelope(envelope: Mapping[str, Any], secret: str) -> bool:
    """True when an API envelope's signature matches (what the platform checks)."""
    expected = api_signature(
        text(envelope.get("action")),
        text(envelope.get("token")),
        envelope.get("metas") or {},
        envelope.get("params") or {},
        secret,
    )
    return hmac.compare_digest(expected, text(envelope.get(SIGNATURE_FIELD)).upper())


# --- replies -----------------------------------------------------------------------------------


def ok() -> dict[str, Any]:
    """The answer to a heartbeat and to every accepted message."""
    return {"message": "ok"}


# --- pushes ------------------------------------------------------------------------------------


def parse_body(body: bytes) -> dict[str, Any]:
    """The pushed JSON object, integers as exact digits. Raises `MalformedPayload`."""
    try:
        payload = loads_exact(body)
    except ValueError as error:
        raise MalformedPayload({"body": [str(NOT_JSON)]}) from error
    if not isinstance(payload, dict):
        raise MalformedPayload({"body": [str(NOT_OBJECT)]})
    return payload


def parse_push(payload: Mapping[str, Any]) -> list[PlatformEvent]:
    """The events of one verified message. Raises `MalformedPayload` listing every problem."""
    problems = Problems()
    raw_type = text(payload.get("type")).strip()
    if not raw_type:
        problems.add("type", REQUIRED)
    elif not raw_type.isdigit():
        problems.add("type", NOT_NUMBER)
    message_text = payload.get("message")
    message: Any = {}
    if message_text is None or message_text == "":
        problems.add("message", REQUIRED)
    elif isinstance(message_text, dict):
        message = message_text  # tolerated: some relays unwrap it
    else:
        try:
            message = loads_exact(text(message_text))
        except ValueError:
            problems.add("message", NOT_JSON)
        if not isinstance(message, dict):
            problems.add("message", NOT_OBJECT)
            message = {}
    problems.raise_if_any()

    message_type = int(raw_type)
    kind, status = event_for(message_type)
    order_id = text(message.get("orderId") or message.get("id")).strip()
    occurred_at = _occurred_at(message, payload, problems)
    message_digest = digest(text(message_text))

    if kind == EventKind.ORDER_PLACED:
        order = parse_order(message, problems, fallback_shop=text(payload.get("shopId")))
        problems.raise_if_any()
        assert order is not None
        return [
            PlatformEvent(
                kind=kind,
                external_order_id=order.external_id,
                event_key="placed",
                raw_type=raw_type,
                occurred_at=order.placed_at,
                status=status,
                order=order,
            )
        ]

    if kind != EventKind.IGNORED and not order_id:
        problems.add("message.orderId", REQUIRED)
    refund_lines: tuple[RefundLine, ...] = ()
    if message_type in REFUND_FLOW:
        refund_lines = _refund_lines(message, problems)
        if message_type in (33, 35) and text(message.get("refundType")) == "part":
            kind, status = EventKind.PARTIALLY_REFUNDED, OrderStatus.PARTIALLY_REFUNDED
    problems.raise_if_any()

    event_key = raw_type if message_type in STATUS_TYPES else f"{raw_type}:{message_digest}"
    extra = {"type": raw_type}
    if message_type in CANCEL_FLOW:
        extra["flow"] = "cancel"
    elif message_type in REFUND_FLOW:
        extra["flow"] = "refund"
    elif message_type in DELIVERY_TYPES:
        extra["flow"] = "delivery"
    for key in ("state", "subState", "refundStatus", "refundType", "name", "phone"):
        if message.get(key) not in (None, ""):
            extra[key] = text(message[key])
    return [
        PlatformEvent(
            kind=kind,
            external_order_id=order_id,
            event_key=event_key,
            raw_type=raw_type,
            occurred_at=occurred_at,
            status=status,
            refund_lines=refund_lines,
            refund_amount=decimal_or_none(message.get("refundAmount") or message.get("totalPrice"))
            if message_type in REFUND_FLOW
            else None,
            reason=text(message.get("reason") or message.get("remark")),
            extra=extra,
        )
    ]


def _occurred_at(message: Mapping[str, Any], payload: Mapping[str, Any], problems: Problems) -> Any:
    for key in ("updateTime", "updateAt"):
        if message.get(key) not in (None, ""):
            return from_unix(message[key], f"message.{key}", problems)
    return from_unix(payload.get("timestamp"), "timestamp", problems, milliseconds=True)


def _refund_lines(message: Mapping[str, Any], problems: Problems) -> tuple[RefundLine, ...]:
    goods = message.get("goodsList") or []
    if not isinstance(goods, list):
        problems.add("message.goodsList", NOT_LIST)
        return ()
    lines = []
    for index, good in enumerate(goods):
        where = f"message.goodsList[{index}]."
        if not isinstance(good, dict):
            problems.add(where.rstrip("."), NOT_OBJECT)
            continue
        sku = text(good.get("extendCode")) or text(good.get("skuId")) or text(good.get("name"))
        quantity = read_decimal(good, "quantity", problems, where=where, default=None)
        price = read_decimal(good, "price", problems, where=where)
        lines.append(RefundLine(external_sku=sku, quantity=quantity, amount=price * quantity))
    return tuple(lines)


def parse_order(
    message: Mapping[str, Any], problems: Problems, *, fallback_shop: str = ""
) -> CanonicalOrder | None:
    """The canonical order of a type-10 message; problems collected, None when unusable."""
    order_id = text(message.get("id") or message.get("orderId")).strip()
    if not order_id:
        problems.add("message.id", REQUIRED)
    shop = text(message.get("shopId")) or fallback_shop
    if not shop:
        problems.add("message.shopId", REQUIRED)
    placed_at = from_local_iso(message.get("createdAt"), "message.createdAt", problems)
    if message.get("createdAt") in (None, ""):
        problems.add("message.createdAt", REQUIRED)

    groups = message.get("groups")
    if not isinstance(groups, list) or not groups:
        problems.add("message.groups", NOT_LIST if groups else REQUIRED)
        groups = []
    lines: list[LineIn] = []
    for group_index, group in enumerate(groups):
        if not isinstance(group, dict):
            problems.add(f"message.groups[{group_index}]", NOT_OBJECT)
            continue
        # "extra" groups are packaging and the like, already in packageFee.
        if text(group.get("type")) not in ("", "normal"):
            continue
        items = group.get("items")
        if not isinstance(items, list):
            problems.add(f"message.groups[{group_index}].items", NOT_LIST)
            continue
        for item_index, item in enumerate(items):
            where = f"message.groups[{group_index}].items[{item_index}]."
            if not isinstance(item, dict):
                problems.add(where.rstrip("."), NOT_OBJECT)
                continue
            sku = text(item.get("extendCode")) or text(item.get("skuId")) or text(item.get("id"))
            if not sku:
                problems.add(where + "skuId", REQUIRED)
            lines.append(
                LineIn(
                    line_no=len(lines) + 1,
                    external_sku=sku,
                    name=text(item.get("name")),
                    quantity=read_decimal(item, "quantity", problems, where=where, default=None),
                    unit_price=read_decimal(item, "price", problems, where=where, default=None),
                    modifiers=_modifiers(item, where, problems),
                )
            )
    if groups and not lines:
        problems.add("message.groups", REQUIRED)

    platform_discount, merchant_discount = split_activities(
        message.get("orderActivities"), problems
    )
    latitude, longitude = _geo(message.get("deliveryGeo"))
    phones = message.get("phoneList") or []
    income = message.get("income")
    total = read_decimal(message, "totalPrice", problems, where="message.")
    original = read_decimal(message, "originalPrice", problems, where="message.")
    delivery_fee = read_decimal(message, "deliverFee", problems, where="message.")
    package_fee = read_decimal(message, "packageFee", problems, where="message.")
    commission = abs(read_decimal(message, "serviceFee", problems, where="message."))
    if income not in (None, "") and decimal_or_none(income) is None:
        problems.add("message.income", NOT_NUMBER)
    if problems or placed_at is None:
        return None
    return CanonicalOrder(
        external_id=order_id,
        display_id=order_id,
        store_ref=shop,
        placed_at=placed_at,
        status=OrderStatus.RECEIVED,
        lines=tuple(lines),
        currency="CNY",
        total=total,
        original_price=original,
        platform_discount=platform_discount,
        merchant_discount=merchant_discount,
        delivery_fee=delivery_fee,
        packaging_fee=package_fee,
        commission=commission,
        income=decimal_or_none(income),
        paid=message.get("onlinePaid", True) is not False,
        customer_name=text(message.get("consignee")),
        customer_phone=text(phones[0]) if isinstance(phones, list) and phones else "",
        address=text(message.get("deliveryPoiAddress") or message.get("address")),
        latitude=latitude,
        longitude=longitude,
        notes=text(message.get("description")),
        day_seq=text(message.get("daySn")),
    )


def split_activities(activities: Any, problems: Problems) -> tuple[Decimal, Decimal]:
    """(platform-borne, merchant-borne) discounts, positive, from `orderActivities`.

    Each activity gives `elemePart` and `restaurantPart` (negative numbers); an activity without
    the split is counted as merchant-borne, the conservative reading for settlement."""
    if activities in (None, ""):
        return Decimal(0), Decimal(0)
    if not isinstance(activities, list):
        problems.add("message.orderActivities", NOT_LIST)
        return Decimal(0), Decimal(0)
    platform = merchant = Decimal(0)
    for index, activity in enumerate(activities):
        where = f"message.orderActivities[{index}]."
        if not isinstance(activity, dict):
            problems.add(where.rstrip("."), NOT_OBJECT)
            continue
        if activity.get("elemePart") is None and activity.get("restaurantPart") is None:
            merchant += abs(read_decimal(activity, "amount", problems, where=where))
            continue
        platform += abs(read_decimal(activity, "elemePart", problems, where=where))
        merchant += abs(read_decimal(activity, "restaurantPart", problems, where=where))
    return platform, merchant


def _modifiers(item: Mapping[str, Any], where: str, problems: Problems) -> tuple[ModifierIn, ...]:
    """`newSpecs` and `attributes` ({name, value}) as modifiers coded `name:value`."""
    modifiers: list[ModifierIn] = []
    for key in ("newSpecs", "attributes"):
        entries = item.get(key) or []
        if not isinstance(entries, list):
            problems.add(where + key, NOT_LIST)
            continue
        for entry in entries:
            if not isinstance(entry, dict):
                problems.add(where + key, NOT_OBJECT)
                continue
            name, value = text(entry.get("name")), text(entry.get("value"))
            if value:
                modifiers.append(ModifierIn(code=f"{name}:{value}" if name else value, name=value))
    return tuple(modifiers)


def _geo(value: Any) -> tuple[Decimal | None, Decimal | None]:
    """`deliveryGeo` is "longitude,latitude"."""
    parts = text(value).split(",")
    if len(parts) != 2:
        return None, None
    longitude, latitude = decimal_or_none(parts[0]), decimal_or_none(parts[1])
    return latitude, longitude


# --- outbound calls ----------------------------------------------------------------------------


def build_envelope(
    action: str,
    params: Mapping[str, Any],
    *,
    app_key: str,
    secret: str,
    token: str,
    timestamp: int | None = None,
    request_id: str | None = None,
    url: str = API_URL,
) -> OutboundRequest:
    """A signed API call: `{nop, id, action, token, metas: {app_key, timestamp}, params, signature}`."""
    now = timestamp or int(time.time())
    metas = {"app_key": app_key, "timestamp": now}
    envelope = {
        "nop": "1.0.0",
        "id": request_id or f"{uuid.uuid4().hex.upper()}|{now * 1000}",
        "action": action,
        "token": token,
        "metas": metas,
        "params": dict(params),
        "signature": api_signature(action, token, metas, params, secret),
    }
    return OutboundRequest(method="POST", url=url, action=action, json_body=envelope)


def accept_order(order_id: str, **credentials: Any) -> OutboundRequest:
    """Accept (confirm) an order."""
    return build_envelope("eleme.order.confirmOrderLite", {"orderId": order_id}, **credentials)


def cancel_order(
    order_id: str, *, reason: str, cancel_type: str = "others", **credentials: Any
) -> OutboundRequest:
    """Cancel an order with a reason."""
    return build_envelope(
        "eleme.order.cancelOrderLite",
        {"orderId": order_id, "type": cancel_type, "remark": reason},
        **credentials,
    )


def mark_ready(order_id: str, **credentials: Any) -> OutboundRequest:
    """The food is ready for the rider (出餐)."""
    return build_envelope("eleme.order.mealComplete", {"orderId": order_id}, **credentials)


def decide_refund(
    order_id: str, *, agree: bool, reason: str = "", **credentials: Any
) -> OutboundRequest:
    """Agree to or refuse a cancellation/refund request."""
    if agree:
        return build_envelope("eleme.order.agreeRefundLite", {"orderId": order_id}, **credentials)
    return build_envelope(
        "eleme.order.disagreeRefundLite", {"orderId": order_id, "reason": reason}, **credentials
    )


def set_sold_out(
    spec_ids: Sequence[tuple[int | str, int | str]], *, sold_out: bool, **credentials: Any
) -> OutboundRequest:
    """Clear stock (sold out) or fill it (back in stock) for (itemId, specId) pairs."""
    action = (
        "eleme.product.item.batchClearStock" if sold_out else "eleme.product.item.batchFillStock"
    )
    pairs = [{"itemId": int(item), "specId": int(spec)} for item, spec in spec_ids]
    return build_envelope(action, {"specIds": pairs}, **credentials)


# The platform's own faults and rate limits: worth retrying later.
RETRYABLE_CODES = frozenset({"SERVER_ERROR", "EXCEED_LIMIT", "SERVICE_UNAVAILABLE"})


def parse_response(status: int, body: bytes) -> Any:
    """`result` of an API answer; raises `OutboundRejected` (retryable for the platform's faults)."""
    if status >= 500 or status == 429:
        raise OutboundRejected(str(status), body[:200].decode(errors="replace"), is_retryable=True)
    try:
        payload = loads_exact(body or b"null")
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        raise OutboundRejected(
            str(status), body[:200].decode(errors="replace"), is_retryable=status >= 400
        )
    problem = payload.get("error")
    if problem:
        code = text(problem.get("code")) if isinstance(problem, dict) else text(problem)
        message = text(problem.get("message")) if isinstance(problem, dict) else ""
        raise OutboundRejected(code, message, is_retryable=code in RETRYABLE_CODES)
    return payload.get("result")


# --- the adapter -------------------------------------------------------------------------------


class ElemeAdapter:
    """Ele.me callbacks for a generic view (see `base.PlatformAdapter`): one URL for all types."""

    kind: str = ChannelKind.ELEME.value
    topics: tuple[str, ...] = ("",)

    def _payload(self, request: InboundRequest) -> dict[str, Any]:
        return parse_body(request.body)

    def app_ref(self, request: InboundRequest) -> str:
        try:
            return text(self._payload(request).get("appId"))
        except MalformedPayload:
            return ""

    def store_ref(self, request: InboundRequest) -> str:
        try:
            return text(self._payload(request).get("shopId"))
        except MalformedPayload:
            return ""

    def verify_request(self, request: InboundRequest, credentials: Credentials) -> None:
        if request.method == "GET":
            return  # heartbeat: answered ok, nothing stored
        payload = self._payload(request)
        missing = [name for name in PUSH_REQUIRED if payload.get(name) in (None, "")]
        if missing:
            raise MissingParameter(missing)
        if credentials.app_id and text(payload["appId"]) != credentials.app_id:
            raise UnknownApp()
        if not verify(payload, credentials.secret):
            raise BadSignature()

    def parse(self, request: InboundRequest) -> list[PlatformEvent]:
        if request.method == "GET":
            return [
                PlatformEvent(
                    kind=EventKind.HEARTBEAT,
                    external_order_id="",
                    event_key="heartbeat",
                    raw_type="heartbeat",
                )
            ]
        return parse_push(self._payload(request))

    def ack(self) -> Reply:
        return Reply(200, ok())

    def reject(self, error_: Exception) -> Reply:
        status = error_.http_status if isinstance(error_, PlatformError) else 400
        code = error_.code if isinstance(error_, PlatformError) else "error"
        return Reply(status, {"message": code, "detail": str(error_)})
