"""Meituan Waimai (美团外卖开放平台): `sig` signing, push parsing, replies and outbound calls.

Signature (CHANNELS.md): the request URL, `?`, every parameter but `sig` sorted by key and joined
`k=v` with `&` over raw (un-encoded) values, then the app secret; `sig` is its lower-case hex MD5.
Pushes to our callbacks are signed the same way over our callback URL; their values arrive
URL-encoded once more (nested `detail`, `extras`, `poi_receive_detail` are URL-encoded JSON), so
`verify` decodes each value once (`decode_value`) before signing.

Meituan pushes each event to its own callback URL; the view passes which one as the `topic`
(`TOPICS`). Nothing here does I/O or touches the database.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import unquote_plus

from django.utils.translation import gettext_lazy as _

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
    NOT_LIST,
    NOT_OBJECT,
    REQUIRED,
    BadSignature,
    MalformedPayload,
    MissingParameter,
    OutboundRejected,
    Problems,
    UnknownApp,
    UnknownStore,
)
from backroom.channels.platforms.parsing import (
    decimal_or_none,
    digest,
    from_unix,
    read_decimal,
    read_json,
    text,
)

API_BASE = "https://waimaiopen.meituan.com/api/v1/"
SIGNATURE_PARAM = "sig"
SIGNED_REQUIRED = ("app_id", "timestamp", SIGNATURE_PARAM)
# Parameters that change when Meituan pushes the same event again: never part of an event key.
VOLATILE_PARAMS = frozenset({SIGNATURE_PARAM, "timestamp", "app_id"})

# Reply codes (CHANNELS.md).
MISSING_PARAMETER = 701
UNKNOWN_APP = 702
BAD_SIGNATURE = 703
UNKNOWN_STORE = 803

# One callback URL per event; the route passes its name as `InboundRequest.topic`.
ORDER_PLACED = "order_placed"  # new paid order (推送已支付订单)
ORDER_CONFIRMED = "order_confirmed"  # merchant confirmed (推送已确认订单)
ORDER_CANCELLED = "order_cancelled"
ORDER_COMPLETED = "order_completed"
ORDER_STATUS = "order_status"  # a generic status change carrying `status`
REFUND = "refund"  # whole-order refund flow, `notify_type`
PARTIAL_REFUND = "partial_refund"  # partial refund flow, `notify_type` and `food`
DELIVERY_STATUS = "delivery_status"  # rider status, `logistics_status`
TOPICS = (
    ORDER_PLACED,
    ORDER_CONFIRMED,
    ORDER_CANCELLED,
    ORDER_COMPLETED,
    ORDER_STATUS,
    REFUND,
    PARTIAL_REFUND,
    DELIVERY_STATUS,
)

# Meituan order `status` → canonical status. 7 (delivered, in some documents) completes the
# order: the food has left the kitchen for good; 8 (completed) then changes nothing.
STATUS_CODES: dict[str, OrderStatus] = {
    "1": OrderStatus.RECEIVED,  # submitted
    "2": OrderStatus.RECEIVED,  # pushable to the merchant
    "3": OrderStatus.RECEIVED,  # merchant received
    "4": OrderStatus.ACCEPTED,  # merchant confirmed
    "6": OrderStatus.DELIVERING,
    "7": OrderStatus.COMPLETED,  # delivered
    "8": OrderStatus.COMPLETED,
    "9": OrderStatus.CANCELLED,
}
# Rider `logistics_status` → canonical status; the others (0 sent to delivery, 5 queued,
# 10 rider accepted, 15 rider at the store, 100 delivery cancelled) are history only.
LOGISTICS_STATUS: dict[str, OrderStatus] = {
    "20": OrderStatus.DELIVERING,  # picked up
    "40": OrderStatus.COMPLETED,  # delivered
}
# Whole-order refund `notify_type` → event kind; the others record history only.
REFUND_KINDS: dict[str, EventKind] = {
    "apply": EventKind.REFUND_REQUESTED,
    "agree": EventKind.REFUNDED,
}
# Partial refund: `part` (merchant-initiated) and `apply` are requests, `agree` refunds.
PARTIAL_REFUND_KINDS: dict[str, EventKind] = {
    "apply": EventKind.REFUND_REQUESTED,
    "part": EventKind.REFUND_REQUESTED,
    "agree": EventKind.PARTIALLY_REFUNDED,
}


# --- signing -----------------------------------------------------------------------------------


def decode_value(value: str) -> str:
    """One URL-decoding of a pushed value, as Meituan's Java SDK does (`+` is a space)."""
    return unquote_plus(value)


def signature_base(url: str, params: Mapping[str, str]) -> str:
    """`url?k1=v1&k2=v2` over raw values, every key but `sig`, sorted."""
    pairs = "&".join(f"{key}={params[key]}" for key in sorted(params) if key != SIGNATURE_PARAM)
    return f"{url}?{pairs}"


def sign(url: str, params: Mapping[str, str], secret: str) -> str:
    """The lower-case hex MD5 `sig` of a request, over raw (decoded) values."""
    base = signature_base(url, params) + secret
    # MD5 is the platform's protocol, not our choice of hash.
    return hashlib.md5(base.encode(), usedforsecurity=False).hexdigest()


def verify(url: str, params: Mapping[str, str], secret: str, *, decode: bool = True) -> bool:
    """True when `params["sig"]` signs `url` and the other params (constant-time comparison).

    `decode` (pushes to us): each value is URL-decoded once first. Outbound calls received by
    the fake platform are not encoded twice, so it passes `decode=False`.
    """
    given = params.get(SIGNATURE_PARAM, "")
    values = {
        key: (decode_value(value) if decode else value)
        for key, value in params.items()
        if key != SIGNATURE_PARAM
    }
    return hmac.compare_digest(sign(url, values, secret), given.lower())


# --- replies -----------------------------------------------------------------------------------


def ok() -> dict[str, Any]:
    """The success reply to a push."""
    return {"data": "ok"}


def error(code: int, msg: str) -> dict[str, Any]:
    """The failure reply to a push: 701 missing parameter, 702 unknown app, 703 bad signature,
    803 unknown store. Meituan pushes again after a failure."""
    return {"data": "ng", "error": {"code": code, "msg": msg}}


def reply_code(exception: Exception) -> int:
    """Meituan's code for one of our errors (malformed payloads count as bad parameters)."""
    if isinstance(exception, UnknownApp):
        return UNKNOWN_APP
    if isinstance(exception, BadSignature):
        return BAD_SIGNATURE
    if isinstance(exception, UnknownStore):
        return UNKNOWN_STORE
    return MISSING_PARAMETER


# --- pushes ------------------------------------------------------------------------------------


def decode_params(params: Mapping[str, str]) -> dict[str, str]:
    """The pushed values URL-decoded once, without `sig`."""
    return {key: decode_value(value) for key, value in params.items() if key != SIGNATURE_PARAM}


def stable_digest(decoded: Mapping[str, str]) -> str:
    """A digest of a push that is the same when Meituan pushes it again (new timestamp, sig)."""
    return digest(
        *(f"{key}={decoded[key]}" for key in sorted(decoded) if key not in VOLATILE_PARAMS)
    )


def parse_push(topic: str, params: Mapping[str, str]) -> list[PlatformEvent]:
    """The events of one push to the callback `topic`. Raises `MalformedPayload` listing every
    problem. A request without parameters is Meituan testing the URL: one HEARTBEAT."""
    decoded = decode_params(params)
    if not decoded:
        return [heartbeat()]
    if topic not in TOPICS:
        raise MalformedPayload({"topic": [str(_("is not a Meituan callback."))]})
    problems = Problems()
    order_id = decoded.get("order_id", "").strip()
    if not order_id:
        problems.add("order_id", REQUIRED)
    occurred_at = from_unix(decoded.get("utime") or decoded.get("ctime"), "utime", problems)
    event = _PARSERS[topic](decoded, order_id, occurred_at, problems)
    problems.raise_if_any()
    return [event]


def heartbeat() -> PlatformEvent:
    return PlatformEvent(
        kind=EventKind.HEARTBEAT, external_order_id="", event_key="heartbeat", raw_type="heartbeat"
    )


def _status(code: str, problems: Problems, field: str = "status") -> OrderStatus | None:
    if code == "":
        return None
    if code not in STATUS_CODES:
        problems.add(field, _("is not a known Meituan order status."))
        return None
    return STATUS_CODES[code]


def _order_placed(
    decoded: dict[str, str], order_id: str, occurred_at: Any, problems: Problems
) -> PlatformEvent:
    order = parse_order(decoded, problems)
    return PlatformEvent(
        kind=EventKind.ORDER_PLACED,
        external_order_id=order_id,
        event_key="placed",
        raw_type=ORDER_PLACED,
        occurred_at=order.placed_at if order else occurred_at,
        status=order.status if order else None,
        order=order,
    )


def _order_confirmed(
    decoded: dict[str, str], order_id: str, occurred_at: Any, problems: Problems
) -> PlatformEvent:
    # Some accounts push the whole order again on confirmation: keep it when it is there.
    order = parse_order(decoded, problems) if decoded.get("detail") else None
    return PlatformEvent(
        kind=EventKind.STATUS_CHANGED,
        external_order_id=order_id,
        event_key="confirmed",
        raw_type=ORDER_CONFIRMED,
        occurred_at=occurred_at,
        status=OrderStatus.ACCEPTED,
        order=order,
    )


def _order_cancelled(
    decoded: dict[str, str], order_id: str, occurred_at: Any, problems: Problems
) -> PlatformEvent:
    return PlatformEvent(
        kind=EventKind.CANCELLED,
        external_order_id=order_id,
        event_key="cancelled",
        raw_type=ORDER_CANCELLED,
        occurred_at=occurred_at,
        status=OrderStatus.CANCELLED,
        reason=decoded.get("reason", ""),
        extra=_extra(decoded, "reason_code", "deal_op_type"),
    )


def _order_completed(
    decoded: dict[str, str], order_id: str, occurred_at: Any, problems: Problems
) -> PlatformEvent:
    return PlatformEvent(
        kind=EventKind.STATUS_CHANGED,
        external_order_id=order_id,
        event_key="completed",
        raw_type=ORDER_COMPLETED,
        occurred_at=occurred_at,
        status=OrderStatus.COMPLETED,
    )


def _order_status(
    decoded: dict[str, str], order_id: str, occurred_at: Any, problems: Problems
) -> PlatformEvent:
    code = decoded.get("status", "").strip()
    if not code:
        problems.add("status", REQUIRED)
    status = _status(code, problems)
    kind = EventKind.CANCELLED if status == OrderStatus.CANCELLED else EventKind.STATUS_CHANGED
    return PlatformEvent(
        kind=kind,
        external_order_id=order_id,
        event_key=f"status:{code}",
        raw_type=f"{ORDER_STATUS}:{code}",
        occurred_at=occurred_at,
        status=status,
        reason=decoded.get("reason", ""),
    )


def _refund(
    decoded: dict[str, str], order_id: str, occurred_at: Any, problems: Problems
) -> PlatformEvent:
    notify_type = decoded.get("notify_type", "").strip()
    if not notify_type:
        problems.add("notify_type", REQUIRED)
    kind = REFUND_KINDS.get(notify_type, EventKind.STATUS_CHANGED)
    return PlatformEvent(
        kind=kind,
        external_order_id=order_id,
        event_key=f"refund:{notify_type}:{decoded.get('refund_id') or stable_digest(decoded)}",
        raw_type=f"{REFUND}:{notify_type}",
        occurred_at=occurred_at,
        status=OrderStatus.REFUNDED if kind == EventKind.REFUNDED else None,
        refund_amount=decimal_or_none(decoded.get("money")),
        reason=decoded.get("reason", ""),
        extra=_extra(decoded, "notify_type", "res_type", "is_appeal", "refund_id"),
    )


def _partial_refund(
    decoded: dict[str, str], order_id: str, occurred_at: Any, problems: Problems
) -> PlatformEvent:
    notify_type = decoded.get("notify_type", "").strip()
    if not notify_type:
        problems.add("notify_type", REQUIRED)
    kind = PARTIAL_REFUND_KINDS.get(notify_type, EventKind.STATUS_CHANGED)
    foods = read_json(decoded.get("food", ""), "food", problems, default=[])
    lines: list[RefundLine] = []
    if not isinstance(foods, list):
        problems.add("food", NOT_LIST)
        foods = []
    for index, food in enumerate(foods):
        where = f"food[{index}]."
        if not isinstance(food, dict):
            problems.add(f"food[{index}]", NOT_OBJECT)
            continue
        sku = text(food.get("app_food_code")) or text(food.get("sku_id"))
        if not sku:
            problems.add(where + "app_food_code", REQUIRED)
        quantity = read_decimal(food, "count", problems, where=where, default=None)
        unit_refund = read_decimal(food, "refund_price", problems, where=where)
        lines.append(RefundLine(external_sku=sku, quantity=quantity, amount=unit_refund * quantity))
    if kind != EventKind.STATUS_CHANGED and not lines:
        problems.add("food", REQUIRED)
    return PlatformEvent(
        kind=kind,
        external_order_id=order_id,
        event_key=f"partial_refund:{notify_type}:{decoded.get('refund_id') or stable_digest(decoded)}",
        raw_type=f"{PARTIAL_REFUND}:{notify_type}",
        occurred_at=occurred_at,
        status=OrderStatus.PARTIALLY_REFUNDED if kind == EventKind.PARTIALLY_REFUNDED else None,
        refund_lines=tuple(lines),
        refund_amount=decimal_or_none(decoded.get("money")),
        reason=decoded.get("reason", ""),
        extra=_extra(decoded, "notify_type", "res_type", "refund_id"),
    )


def _delivery_status(
    decoded: dict[str, str], order_id: str, occurred_at: Any, problems: Problems
) -> PlatformEvent:
    code = decoded.get("logistics_status", "").strip()
    if not code:
        problems.add("logistics_status", REQUIRED)
    at = from_unix(decoded.get("time"), "time", problems) or occurred_at
    return PlatformEvent(
        kind=EventKind.STATUS_CHANGED,
        external_order_id=order_id,
        event_key=f"delivery:{code}:{stable_digest(decoded)}",
        raw_type=f"{DELIVERY_STATUS}:{code}",
        occurred_at=at,
        status=LOGISTICS_STATUS.get(code),  # None: history only
        extra=_extra(decoded, "logistics_status", "dispatcher_name", "dispatcher_mobile"),
    )


_PARSERS = {
    ORDER_PLACED: _order_placed,
    ORDER_CONFIRMED: _order_confirmed,
    ORDER_CANCELLED: _order_cancelled,
    ORDER_COMPLETED: _order_completed,
    ORDER_STATUS: _order_status,
    REFUND: _refund,
    PARTIAL_REFUND: _partial_refund,
    DELIVERY_STATUS: _delivery_status,
}


def _extra(decoded: Mapping[str, str], *keys: str) -> dict[str, str]:
    return {key: decoded[key] for key in keys if decoded.get(key)}


def parse_order(decoded: Mapping[str, str], problems: Problems) -> CanonicalOrder | None:
    """The canonical order of a push's decoded fields; problems collected, None when unusable."""
    for required in ("order_id", "app_poi_code", "ctime", "detail"):
        if not decoded.get(required, "").strip() and required != "order_id":
            problems.add(required, REQUIRED)
    placed_at = from_unix(decoded.get("ctime"), "ctime", problems)
    status = _status(decoded.get("status", "").strip(), problems) or OrderStatus.RECEIVED

    details = read_json(decoded.get("detail", ""), "detail", problems, default=[])
    if not isinstance(details, list):
        problems.add("detail", NOT_LIST)
        details = []
    lines: list[LineIn] = []
    packaging = Decimal(0)
    for index, item in enumerate(details):
        where = f"detail[{index}]."
        if not isinstance(item, dict):
            problems.add(f"detail[{index}]", NOT_OBJECT)
            continue
        sku = text(item.get("app_food_code")) or text(item.get("sku_id"))
        if not sku:
            problems.add(where + "app_food_code", REQUIRED)
        quantity = read_decimal(item, "quantity", problems, where=where, default=None)
        price = read_decimal(item, "price", problems, where=where, default=None)
        packaging += read_decimal(item, "box_num", problems, where=where) * read_decimal(
            item, "box_price", problems, where=where
        )
        lines.append(
            LineIn(
                line_no=index + 1,
                external_sku=sku,
                name=text(item.get("food_name")),
                quantity=quantity,
                unit_price=price,
                modifiers=_modifiers(item),
            )
        )
    if not lines and "detail" not in problems.errors:
        problems.add("detail", REQUIRED)

    extras = read_json(decoded.get("extras", ""), "extras", problems, default=[])
    if not isinstance(extras, list):
        problems.add("extras", NOT_LIST)
        extras = []
    platform_discount = merchant_discount = Decimal(0)
    for index, extra in enumerate(extras):
        if not isinstance(extra, dict):
            problems.add(f"extras[{index}]", NOT_OBJECT)
            continue
        where = f"extras[{index}]."
        platform_discount += read_decimal(extra, "mt_charge", problems, where=where)
        merchant_discount += read_decimal(extra, "poi_charge", problems, where=where)

    receive = read_json(
        decoded.get("poi_receive_detail", ""), "poi_receive_detail", problems, default={}
    )
    if not isinstance(receive, dict):
        problems.add("poi_receive_detail", NOT_OBJECT)
        receive = {}
    # Settlement figures are in fen (cents).
    commission = (
        read_decimal(receive, "foodShareFeeChargeByPoi", problems, where="poi_receive_detail.")
        / 100
    )
    income_cents = decimal_or_none(receive.get("wmPoiReceiveCent"))

    total = read_decimal(decoded, "total", problems)
    original_price = read_decimal(decoded, "original_price", problems)
    delivery_fee = read_decimal(decoded, "shipping_fee", problems)
    if problems or placed_at is None:
        return None
    return CanonicalOrder(
        external_id=decoded["order_id"].strip(),
        display_id=decoded.get("wm_order_id_view", "") or decoded["order_id"].strip(),
        store_ref=decoded["app_poi_code"],
        placed_at=placed_at,
        status=status,
        lines=tuple(lines),
        currency="CNY",
        total=total,
        original_price=original_price,
        platform_discount=platform_discount,
        merchant_discount=merchant_discount,
        delivery_fee=delivery_fee,
        packaging_fee=packaging,
        commission=commission,
        income=income_cents / 100 if income_cents is not None else None,
        paid=decoded.get("pay_type", "2") != "1",  # 1 is cash on delivery
        customer_name=decoded.get("recipient_name", ""),
        customer_phone=decoded.get("recipient_phone", ""),
        address=decoded.get("recipient_address", ""),
        latitude=decimal_or_none(decoded.get("latitude")),
        longitude=decimal_or_none(decoded.get("longitude")),
        notes=decoded.get("caution", ""),
        day_seq=decoded.get("day_seq", ""),
    )


def _modifiers(item: Mapping[str, Any]) -> tuple[ModifierIn, ...]:
    """`spec` (大份) and `food_property` (辣度:微辣,加料:珍珠) as modifiers, codes as their text."""
    modifiers: list[ModifierIn] = []
    spec = text(item.get("spec")).strip()
    if spec:
        modifiers.append(ModifierIn(code=spec, name=spec))
    for part in text(item.get("food_property")).split(","):
        if part.strip():
            modifiers.append(ModifierIn(code=part.strip(), name=part.strip()))
    return tuple(modifiers)


# --- outbound calls ----------------------------------------------------------------------------


def build_request(
    action: str,
    params: Mapping[str, str],
    *,
    app_id: str,
    secret: str,
    method: str = "POST",
    timestamp: int | None = None,
    base_url: str = API_BASE,
) -> OutboundRequest:
    """A signed call to `base_url + action`, with `app_id`, `timestamp` and `sig` added."""
    url = base_url.rstrip("/") + "/" + action.lstrip("/")
    signed = {**params, "app_id": app_id, "timestamp": str(timestamp or int(time.time()))}
    signed[SIGNATURE_PARAM] = sign(url, signed, secret)
    return OutboundRequest(method=method, url=url, action=action, params=signed)


def accept_order(order_id: str, *, app_id: str, secret: str, **options: Any) -> OutboundRequest:
    """Confirm (accept) an order."""
    return build_request(
        "order/confirm",
        {"order_id": order_id},
        app_id=app_id,
        secret=secret,
        method="GET",
        **options,
    )


def cancel_order(
    order_id: str,
    *,
    reason: str,
    reason_code: str = "2007",
    app_id: str,
    secret: str,
    **options: Any,
) -> OutboundRequest:
    """Cancel an order with a reason (2007: the merchant cannot supply the order)."""
    return build_request(
        "order/cancel",
        {"order_id": order_id, "reason": reason, "reason_code": reason_code},
        app_id=app_id,
        secret=secret,
        method="GET",
        **options,
    )


def mark_ready(order_id: str, *, app_id: str, secret: str, **options: Any) -> OutboundRequest:
    """The food is ready for the rider (出餐完成)."""
    return build_request(
        "order/preparationMealComplete",
        {"order_id": order_id},
        app_id=app_id,
        secret=secret,
        method="GET",
        **options,
    )


def decide_refund(
    order_id: str, *, agree: bool, reason: str, app_id: str, secret: str, **options: Any
) -> OutboundRequest:
    """Agree to or reject a customer's refund request."""
    action = "order/refund/agree" if agree else "order/refund/reject"
    return build_request(
        action,
        {"order_id": order_id, "reason": reason},
        app_id=app_id,
        secret=secret,
        method="GET",
        **options,
    )


def set_sold_out(
    app_poi_code: str,
    app_food_codes: Sequence[str],
    *,
    sold_out: bool,
    app_id: str,
    secret: str,
    **options: Any,
) -> OutboundRequest:
    """Mark foods sold out (`sell_status` 1) or back in stock (0) at one store."""
    food_data = [{"app_food_code": code} for code in app_food_codes]
    return build_request(
        "food/sku/sellStatus",
        {
            "app_poi_code": app_poi_code,
            "food_data": json.dumps(food_data, ensure_ascii=False, separators=(",", ":")),
            "sell_status": "1" if sold_out else "0",
        },
        app_id=app_id,
        secret=secret,
        **options,
    )


def parse_response(status: int, body: bytes) -> Any:
    """`data` of an API answer; raises `OutboundRejected` (retryable for the platform's own faults)."""
    try:
        payload = json.loads(body or b"null")
    except ValueError:
        payload = None
    if status >= 500 or status == 429:
        raise OutboundRejected(str(status), body[:200].decode(errors="replace"), is_retryable=True)
    if not isinstance(payload, dict) or "data" not in payload:
        raise OutboundRejected(
            str(status), body[:200].decode(errors="replace"), is_retryable=status >= 400
        )
    if payload["data"] == "ng" or payload.get("error"):
        problem = payload.get("error") or {}
        code = str(problem.get("code", ""))
        raise OutboundRejected(
            code, str(problem.get("msg", "")), is_retryable=code in RETRYABLE_CODES
        )
    return payload["data"]


# 700 system error, 711 too many requests: worth retrying later.
RETRYABLE_CODES = frozenset({"700", "711"})


# --- the adapter -------------------------------------------------------------------------------


class MeituanAdapter:
    """Meituan callbacks for a generic view (see `base.PlatformAdapter`)."""

    kind: str = ChannelKind.MEITUAN.value
    topics: tuple[str, ...] = TOPICS

    def app_ref(self, request: InboundRequest) -> str:
        return request.params.get("app_id", "")

    def store_ref(self, request: InboundRequest) -> str:
        return decode_value(request.params.get("app_poi_code", ""))

    def verify_request(self, request: InboundRequest, credentials: Credentials) -> None:
        if not request.params:
            return  # Meituan testing the URL: answered ok, nothing stored
        missing = [name for name in SIGNED_REQUIRED if not request.params.get(name)]
        if missing:
            raise MissingParameter(missing)
        if credentials.app_id and request.params["app_id"] != credentials.app_id:
            raise UnknownApp()
        if not verify(request.url, request.params, credentials.secret):
            raise BadSignature()

    def parse(self, request: InboundRequest) -> list[PlatformEvent]:
        return parse_push(request.topic, request.params)

    def ack(self) -> Reply:
        return Reply(200, ok())

    def reject(self, error_: Exception) -> Reply:
        # Meituan reads the body, not the status; a failure makes it push again.
        return Reply(200, error(reply_code(error_), str(error_)))
