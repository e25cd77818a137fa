"""A fake Meituan and a fake Ele.me for tests and the demo: local HTTP servers on port 0.

Each fake
- builds pushes the way the platform does (realistic orders with several lines, specs and
  attributes, discounts split between platform and merchant, Ele.me's big-integer ids), signed
  with the real signing code from the platform's side; `PushRequest.send()` posts one over HTTP,
  or hand its method/url/body to Django's test client;
- serves the platform API: every outbound call (accept, cancel, ready, sold out, back in stock)
  is recorded in `calls` with whether its signature verified; sold-out state is kept per store
  and the orders told accepted, cancelled (with the reason) and ready in `accepted`,
  `cancelled` and `ready`;
  `fail_next(n)` makes the next n calls fail like the platform's own outage (for retry tests).

`CallbackReceiver` is a tiny callback endpoint driving any `PlatformAdapter` the way a view does.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit

from backroom.channels.platforms import eleme, meituan
from backroom.channels.platforms.base import (
    Credentials,
    InboundRequest,
    OutboundRequest,
    PlatformAdapter,
    PlatformEvent,
)
from backroom.channels.platforms.errors import PlatformError

TIMEOUT = 10
# Test-only credentials of the fakes.
MEITUAN_TEST_SECRET = "mt-test-secret"
ELEME_TEST_SECRET = "el-test-secret"
ELEME_TEST_TOKEN = "el-test-token"


@dataclass(frozen=True)
class PushRequest:
    """One push, ready to send over HTTP or through Django's test client."""

    method: str
    url: str
    body: bytes = b""
    content_type: str = ""

    def send(self, timeout: float = TIMEOUT) -> tuple[int, Any]:
        """POST/GET it; (HTTP status, the JSON answer or the raw text)."""
        headers = {"Content-Type": self.content_type} if self.content_type else {}
        request = urllib.request.Request(  # noqa: S310 - local test URLs only
            self.url, data=self.body or None, method=self.method, headers=headers
        )
        return _exchange(request, timeout)


def send(outbound: OutboundRequest, timeout: float = TIMEOUT) -> tuple[int, bytes]:
    """Send an outbound call (tests only; production calls go through the channels worker)."""
    method, url, body, headers = outbound.encode()
    request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _exchange(request: urllib.request.Request, timeout: float) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


@dataclass
class RecordedCall:
    """An outbound call the fake received."""

    method: str
    path: str
    action: str
    params: dict[str, Any]
    is_verified: bool
    status: int = 200
    failed: bool = False
    request_id: str = ""  # Ele.me's envelope `id`


class _Server:
    """A threaded HTTP server on 127.0.0.1, port 0, that hands each request to `handle`."""

    def __init__(self) -> None:
        self.calls: list[RecordedCall] = []
        self._lock = threading.Lock()
        self._failures = 0
        self._failure_status = 500
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle
    def start(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {name.lower(): value for name, value in self.headers.items()}
                status, answer = fake.handle(self.command, self.path, headers, body)
                raw = json.dumps(answer, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=utf-8")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = _serve
            do_POST = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return  # quiet in tests

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server = self._server
        self._thread = threading.Thread(
            target=lambda: server.serve_forever(poll_interval=0.05), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # failure switch
    def fail_next(self, count: int = 1, *, status: int = 500) -> None:
        """The next `count` calls fail as a platform outage would (recorded as failed)."""
        with self._lock:
            self._failures = count
            self._failure_status = status

    def _take_failure(self) -> int | None:
        with self._lock:
            if self._failures <= 0:
                return None
            self._failures -= 1
            return self._failure_status

    def _record(self, call: RecordedCall) -> None:
        with self._lock:
            self.calls.append(call)

    def calls_for(self, action: str) -> list[RecordedCall]:
        with self._lock:
            return [call for call in self.calls if call.action == action]

    def handle(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, Any]:
        raise NotImplementedError


# --- Meituan -----------------------------------------------------------------------------------


def meituan_order_fields(
    *,
    order_id: str = "27061900338318741",
    app_poi_code: str = "SH001",
    ctime: int = 1_780_000_000,
    status: str = "2",
    lines: Sequence[Mapping[str, Any]] | None = None,
    extras: Sequence[Mapping[str, Any]] | None = None,
    **overrides: Any,
) -> dict[str, str]:
    """A realistic new-order push, raw values (nested structures as JSON text)."""
    details = (
        list(lines)
        if lines is not None
        else [
            {
                "app_food_code": "NOODLE-BEEF",
                "sku_id": "NOODLE-BEEF-L",
                "food_name": "红烧牛肉面",
                "quantity": 2,
                "price": 28.0,
                "unit": "份",
                "spec": "大份",
                "food_property": "辣度:微辣,加料:香菜",
                "box_num": 2,
                "box_price": 1.0,
            },
            {
                "app_food_code": "DUMPLING-PORK",
                "sku_id": "DUMPLING-PORK-12",
                "food_name": "猪肉水饺",
                "quantity": 1,
                "price": 18.5,
                "unit": "份",
                "spec": "12只",
                "food_property": "",
                "box_num": 1,
                "box_price": 1.0,
            },
            {
                "app_food_code": "TEA-LEMON",
                "sku_id": "TEA-LEMON",
                "food_name": "柠檬茶",
                "quantity": 1,
                "price": 9.0,
                "unit": "杯",
                "spec": "",
                "food_property": "冰度:少冰",
                "box_num": 0,
                "box_price": 0,
            },
        ]
    )
    reductions = (
        list(extras)
        if extras is not None
        else [
            {
                "reduce_fee": 10.0,
                "mt_charge": 4.0,
                "poi_charge": 6.0,
                "remark": "满80减10",
                "type": 2,
            },
            {
                "reduce_fee": 3.0,
                "mt_charge": 3.0,
                "poi_charge": 0.0,
                "remark": "新客立减",
                "type": 1,
            },
        ]
    )
    fields = {
        "order_id": order_id,
        "wm_order_id_view": f"{order_id}0",
        "app_poi_code": app_poi_code,
        "wm_poi_name": "Backroom 面馆",
        "recipient_name": "张三(先生)",
        "recipient_phone": "13800138000",
        "recipient_address": "上海市徐汇区漕溪北路 88 号 1201 室",
        "latitude": "31.190812",
        "longitude": "121.437316",
        "total": "78.5",
        "original_price": "88.5",
        "shipping_fee": "5.0",
        "pay_type": "2",
        "caution": "少放辣 不要葱",
        "ctime": str(ctime),
        "utime": str(ctime),
        "delivery_time": "0",
        "day_seq": "17",
        "status": status,
        "detail": json.dumps(details, ensure_ascii=False),
        "extras": json.dumps(reductions, ensure_ascii=False),
        "poi_receive_detail": json.dumps(
            {
                "foodShareFeeChargeByPoi": 712,
                "logisticsFee": 500,
                "onlinePayment": 7850,
                "wmPoiReceiveCent": 6138,
            },
            ensure_ascii=False,
        ),
    }
    fields.update({key: str(value) for key, value in overrides.items()})
    return fields


class FakeMeituan(_Server):
    """The Meituan Waimai open platform, as far as Backroom talks to it."""

    def __init__(self, *, app_id: str = "6401", secret: str = MEITUAN_TEST_SECRET) -> None:
        super().__init__()
        self.app_id = app_id
        self.secret = secret
        self.sold_out: dict[str, set[str]] = {}  # app_poi_code → food codes sold out
        self.accepted: list[str] = []
        self.cancelled: list[dict[str, str]] = []  # order_id, reason, reason_code
        self.ready: list[str] = []

    @property
    def credentials(self) -> Credentials:
        return Credentials(app_id=self.app_id, secret=self.secret)

    @property
    def api_base(self) -> str:
        """Pass as `base_url` to the `meituan` request builders."""
        return f"{self.base_url}/api/v1/"

    def outbound_options(self) -> dict[str, Any]:
        return {"app_id": self.app_id, "secret": self.secret, "base_url": self.api_base}

    # pushes
    def build_push(
        self,
        callback_url: str,
        fields: Mapping[str, str],
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        tamper: Mapping[str, str] | None = None,
    ) -> PushRequest:
        """A signed push: raw values signed over the callback URL, each URL-encoded once, sent
        as a form. `tamper` changes fields after signing; `secret` signs with another key."""
        raw = {**fields, "app_id": self.app_id, "timestamp": str(timestamp or int(time.time()))}
        raw["sig"] = meituan.sign(callback_url, raw, secret or self.secret)
        raw.update(tamper or {})
        encoded = {key: quote_plus(value) for key, value in raw.items()}
        return PushRequest(
            "POST", callback_url, urlencode(encoded).encode(), "application/x-www-form-urlencoded"
        )

    def push_order(self, callback_url: str, **fields: Any) -> tuple[int, Any]:
        return self.build_push(callback_url, meituan_order_fields(**fields)).send()

    def push(self, callback_url: str, fields: Mapping[str, str], **options: Any) -> tuple[int, Any]:
        return self.build_push(callback_url, fields, **options).send()

    # the API
    def handle(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, Any]:
        parts = urlsplit(path)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        if body:
            params.update(parse_qsl(body.decode(), keep_blank_values=True))
        action = parts.path.removeprefix("/api/v1/")
        url = f"{self.base_url}{parts.path}"
        is_verified = meituan.verify(url, params, self.secret, decode=False)
        call = RecordedCall(method, parts.path, action, params, is_verified)
        failure = self._take_failure()
        if failure is not None:
            call.status, call.failed = failure, True
            self._record(call)
            return failure, meituan.error(700, "系统繁忙")
        self._record(call)
        if params.get("app_id") != self.app_id:
            return 200, meituan.error(meituan.UNKNOWN_APP, "app_id 不存在")
        if not is_verified:
            return 200, meituan.error(meituan.BAD_SIGNATURE, "签名验证错误")
        if action == "food/sku/sellStatus":
            codes = {food["app_food_code"] for food in json.loads(params["food_data"])}
            store = self.sold_out.setdefault(params["app_poi_code"], set())
            if params["sell_status"] == "1":
                store |= codes
            else:
                store -= codes
        elif action == "order/confirm":
            self.accepted.append(params["order_id"])
        elif action == "order/cancel":
            self.cancelled.append(
                {
                    "order_id": params["order_id"],
                    "reason": params.get("reason", ""),
                    "reason_code": params.get("reason_code", ""),
                }
            )
        elif action == "order/preparationMealComplete":
            self.ready.append(params["order_id"])
        return 200, meituan.ok()


# --- Ele.me ------------------------------------------------------------------------------------

BIG_ORDER_ID = 3_000_000_000_000_000_001  # > 2**53: a float would make it ...000000
BIG_SHOP_ID = 170_000_000_000_000_123


def eleme_order_message(
    *,
    order_id: int | str = BIG_ORDER_ID,
    shop_id: int | str = BIG_SHOP_ID,
    created_at: str = "2026-06-01T11:58:20",
    groups: Sequence[Mapping[str, Any]] | None = None,
    activities: Sequence[Mapping[str, Any]] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """A realistic type-10 message (as a dict; the fake sends it as a JSON string)."""
    message: dict[str, Any] = {
        "id": order_id,
        "orderId": order_id,
        "shopId": shop_id,
        "daySn": 23,
        "createdAt": created_at,
        "activeAt": created_at,
        "deliverTime": None,
        "book": False,
        "onlinePaid": True,
        "status": "unprocessed",
        "refundStatus": "noRefund",
        "totalPrice": 61.5,
        "originalPrice": 74.0,
        "income": 48.35,
        "serviceFee": -5.15,
        "deliverFee": 6.0,
        "packageFee": 2.0,
        "groups": list(groups)
        if groups is not None
        else [
            {
                "name": "1号篮子",
                "type": "normal",
                "items": [
                    {
                        "id": 1_300_000_000_001,
                        "skuId": 200_000_000_000_000_011,
                        "name": "黄焖鸡米饭",
                        "categoryId": 1,
                        "price": 22.0,
                        "quantity": 2,
                        "total": 44.0,
                        "extendCode": "CHICKEN-RICE",
                        "barCode": "",
                        "newSpecs": [{"name": "规格", "value": "大份"}],
                        "attributes": [{"name": "辣度", "value": "中辣"}],
                    },
                    {
                        "id": 1_300_000_000_002,
                        "skuId": 200_000_000_000_000_012,
                        "name": "卤蛋",
                        "categoryId": 2,
                        "price": 3.0,
                        "quantity": 2,
                        "total": 6.0,
                        "extendCode": "EGG",
                        "barCode": "6901234567892",
                        "newSpecs": [],
                        "attributes": [],
                    },
                    {
                        "id": 1_300_000_000_003,
                        "skuId": 200_000_000_000_000_013,
                        "name": "酸梅汤",
                        "categoryId": 3,
                        "price": 8.0,
                        "quantity": 2,
                        "total": 16.0,
                        "extendCode": "PLUM-DRINK",
                        "barCode": "",
                        "newSpecs": [],
                        "attributes": [{"name": "温度", "value": "去冰"}],
                    },
                ],
            },
            {
                "name": "其它费用",
                "type": "extra",
                "items": [
                    {"id": -70000, "name": "餐盒", "price": 2.0, "quantity": 1, "total": 2.0}
                ],
            },
        ],
        "orderActivities": list(activities)
        if activities is not None
        else [
            {
                "id": 1,
                "name": "满60减10",
                "categoryId": 12,
                "amount": -10.0,
                "elemePart": -2.5,
                "restaurantPart": -7.5,
            },
            {
                "id": 2,
                "name": "红包抵扣",
                "categoryId": 15,
                "amount": -4.5,
                "elemePart": -4.5,
                "restaurantPart": 0,
            },
        ],
        "consignee": "李四 先生",
        "phoneList": ["13900139000"],
        "deliveryPoiAddress": "北京市朝阳区望京街 9 号",
        "deliveryGeo": "116.481488,39.990464",
        "description": "不要香菜",
        "invoiced": False,
    }
    message.update(overrides)
    return message


class FakeEleme(_Server):
    """The Ele.me open platform, as far as Backroom talks to it."""

    def __init__(
        self,
        *,
        app_id: str = "20170001",
        app_key: str = "el-test-key",
        secret: str = ELEME_TEST_SECRET,
        token: str = ELEME_TEST_TOKEN,
    ) -> None:
        super().__init__()
        self.app_id = app_id
        self.app_key = app_key
        self.secret = secret
        self.token = token
        self.sold_out: set[tuple[int, int]] = set()  # (itemId, specId)
        self.accepted: list[str] = []
        self.cancelled: list[dict[str, str]] = []  # orderId, type, remark
        self.ready: list[str] = []

    @property
    def credentials(self) -> Credentials:
        return Credentials(
            app_id=self.app_id, secret=self.secret, token=self.token, app_key=self.app_key
        )

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/v1/"

    def outbound_options(self) -> dict[str, Any]:
        """Keyword arguments for the `eleme` envelope builders, pointed at this fake."""
        return {
            "app_key": self.app_key,
            "secret": self.secret,
            "token": self.token,
            "url": self.api_url,
        }

    # pushes
    def build_push(
        self,
        callback_url: str,
        message_type: int,
        message: Mapping[str, Any],
        *,
        shop_id: int | str = BIG_SHOP_ID,
        timestamp_ms: int | None = None,
        request_id: str | None = None,
        secret: str | None = None,
        tamper: Mapping[str, Any] | None = None,
    ) -> PushRequest:
        """A signed push; ids go out as JSON numbers, as Ele.me sends them."""
        payload: dict[str, Any] = {
            "requestId": request_id or uuid.uuid4().hex,
            "type": message_type,
            "appId": int(self.app_id),
            "message": json.dumps(message, ensure_ascii=False),
            "shopId": int(shop_id),
            "timestamp": timestamp_ms or int(time.time() * 1000),
            "userId": 1_100_000_000_000_000_007,
        }
        payload["signature"] = eleme.push_signature(payload, secret or self.secret)
        payload.update(tamper or {})
        body = json.dumps(payload, ensure_ascii=False).encode()
        return PushRequest("POST", callback_url, body, "application/json;charset=utf-8")

    def build_heartbeat(self, callback_url: str) -> PushRequest:
        return PushRequest("GET", callback_url)

    def push_order(self, callback_url: str, **fields: Any) -> tuple[int, Any]:
        message = eleme_order_message(**fields)
        return self.build_push(callback_url, 10, message, shop_id=message["shopId"]).send()

    def push(
        self, callback_url: str, message_type: int, message: Mapping[str, Any], **options: Any
    ) -> tuple[int, Any]:
        return self.build_push(callback_url, message_type, message, **options).send()

    # the API
    def handle(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, Any]:
        try:
            envelope = json.loads(body or b"{}")  # Python ints are exact
        except ValueError:
            envelope = {}
        envelope = envelope if isinstance(envelope, dict) else {}
        action = str(envelope.get("action", ""))
        params = envelope.get("params") or {}
        metas = envelope.get("metas") or {}
        is_verified = (
            eleme.verify_envelope(envelope, self.secret)
            and metas.get("app_key") == self.app_key
            and envelope.get("token") == self.token
        )
        request_id = envelope.get("id")
        call = RecordedCall(
            method, urlsplit(path).path, action, params, is_verified, request_id=str(request_id)
        )
        failure = self._take_failure()
        if failure is not None:
            call.status, call.failed = failure, True
            self._record(call)
            return failure, {
                "id": request_id,
                "result": None,
                "error": {"code": "SERVER_ERROR", "message": "服务繁忙"},
            }
        self._record(call)
        if not is_verified:
            return 200, {
                "id": request_id,
                "result": None,
                "error": {"code": "ILLEGAL_REQUEST", "message": "签名错误"},
            }
        pairs = {(int(spec["itemId"]), int(spec["specId"])) for spec in params.get("specIds", [])}
        if action == "eleme.product.item.batchClearStock":
            self.sold_out |= pairs
        elif action == "eleme.product.item.batchFillStock":
            self.sold_out -= pairs
        elif action == "eleme.order.confirmOrderLite":
            self.accepted.append(str(params["orderId"]))
        elif action == "eleme.order.cancelOrderLite":
            self.cancelled.append(
                {
                    "orderId": str(params["orderId"]),
                    "type": str(params.get("type", "")),
                    "remark": str(params.get("remark", "")),
                }
            )
        elif action == "eleme.order.mealComplete":
            self.ready.append(str(params["orderId"]))
        return 200, {"id": request_id, "result": True, "error": None}


# --- a callback endpoint driving an adapter ----------------------------------------------------


@dataclass
class Received:
    """What the receiver got: events of verified pushes, and rejected requests."""

    events: list[PlatformEvent] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # error codes
    raw: list[bytes] = field(default_factory=list)


class CallbackReceiver(_Server):
    """Our side in miniature: verify → parse → ack, or reject, as a view does.

    Meituan topics are the last path segment: push to `url_for("order_placed")`."""

    def __init__(
        self, adapter: PlatformAdapter, credentials: Credentials, *, public_url: str | None = None
    ) -> None:
        super().__init__()
        self.adapter = adapter
        self.credentials = credentials
        self.public_url = public_url
        self.received = Received()

    def url_for(self, topic: str = "") -> str:
        return f"{self.base_url}/callback/{topic}" if topic else f"{self.base_url}/callback/"

    def handle(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, Any]:
        parts = urlsplit(path)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        if method == "POST" and "form-urlencoded" in headers.get("content-type", ""):
            params.update(parse_qsl(body.decode(), keep_blank_values=True))
        topic = parts.path.removeprefix("/callback/").strip("/")
        inbound = InboundRequest(
            method=method,
            url=f"{self.base_url}{parts.path}",
            params=params,
            body=body,
            headers=headers,
            topic=topic,
        )
        try:
            self.adapter.verify_request(inbound, self.credentials)
            events = self.adapter.parse(inbound)
        except PlatformError as error:
            with self._lock:
                self.received.rejected.append(error.code)
            reply = self.adapter.reject(error)
            return reply.status, reply.body
        with self._lock:
            self.received.raw.append(body)
            self.received.events.extend(events)
        reply = self.adapter.ack()
        return reply.status, reply.body
