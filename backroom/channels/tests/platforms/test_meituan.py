import datetime as dt
import hashlib
import json
from decimal import Decimal
from urllib.parse import parse_qsl, quote_plus, urlsplit

import pytest

from backroom.channels.choices import OrderStatus
from backroom.channels.platforms import meituan
from backroom.channels.platforms.base import Credentials, EventKind, InboundRequest
from backroom.channels.platforms.errors import (
    BadSignature,
    MalformedPayload,
    MissingParameter,
    OutboundRejected,
    UnknownApp,
    UnknownStore,
)
from backroom.channels.testing.fakes import FakeMeituan, meituan_order_fields

from .helpers import CALLBACK, as_inbound

SECRET = "mt-test-secret"
CREDENTIALS = Credentials(app_id="6401", secret=SECRET)
ADAPTER = meituan.MeituanAdapter()


def push(topic: str, fields: dict[str, str], **options) -> InboundRequest:
    """A push as the platform sends it to the `topic` callback, as the view receives it."""
    url = CALLBACK + topic + "/"
    return as_inbound(FakeMeituan().build_push(url, fields, **options), topic=topic)


def events(topic: str, fields: dict[str, str], **options):
    request = push(topic, fields, **options)
    ADAPTER.verify_request(request, CREDENTIALS)
    return ADAPTER.parse(request)


# --- signing ---------------------------------------------------------------------------------


def test_sign_matches_the_documented_algorithm_computed_by_hand():
    url = "https://api.example.com/callback/order_placed"
    params = {"timestamp": "1700000000", "order_id": "123", "app_id": "6401"}
    by_hand = "https://api.example.com/callback/order_placed?app_id=6401&order_id=123&timestamp=1700000000abc"

    assert meituan.sign(url, params, "abc") == hashlib.md5(by_hand.encode()).hexdigest()
    assert meituan.sign(url, params, "abc") == "b8a53078b65ef78be0ae4dd0dc578eca"
    # `sig` itself never takes part.
    assert (
        meituan.sign(url, {**params, "sig": "whatever"}, "abc")
        == "b8a53078b65ef78be0ae4dd0dc578eca"
    )


def test_verify_url_decodes_pushed_values_once_before_signing():
    url = "https://backroom.example.com/mt/order_placed/"
    raw = {
        "app_id": "6401",
        "timestamp": "1700000000",
        "recipient_name": "张三 先生",
        "detail": '[{"app_food_code":"A+B","quantity":1}]',
    }
    by_hand = (
        url
        + '?app_id=6401&detail=[{"app_food_code":"A+B","quantity":1}]'
        + "&recipient_name=张三 先生&timestamp=1700000000"
        + SECRET
    )
    sig = hashlib.md5(by_hand.encode()).hexdigest()
    # As received after Django decoded the form once: each value still URL-encoded.
    received = {key: quote_plus(value) for key, value in raw.items()} | {"sig": sig}

    assert meituan.verify(url, received, SECRET)
    assert meituan.verify(url, received | {"sig": sig.upper()}, SECRET)
    assert not meituan.verify(url, received, SECRET, decode=False)


@pytest.mark.parametrize(
    "change",
    [
        {"total": "0.01"},  # tampered value
        {"extra_field": "1"},  # added parameter
        {"sig": "0" * 32},  # forged signature
    ],
)
def test_tampered_pushes_are_rejected(change):
    request = push(meituan.ORDER_PLACED, meituan_order_fields(), tamper=change)
    with pytest.raises(BadSignature) as caught:
        ADAPTER.verify_request(request, CREDENTIALS)
    assert caught.value.code == "bad_signature"
    reply = ADAPTER.reject(caught.value)
    assert reply.body["data"] == "ng" and reply.body["error"]["code"] == 703


def test_a_removed_parameter_or_another_url_or_secret_is_rejected():
    request = push(meituan.ORDER_PLACED, meituan_order_fields())
    without_caution = {key: value for key, value in request.params.items() if key != "caution"}
    assert not meituan.verify(request.url, without_caution, SECRET)
    assert not meituan.verify(
        request.url.replace("order_placed", "order_cancelled"), request.params, SECRET
    )
    assert not meituan.verify(request.url, request.params, "another-secret")
    with pytest.raises(BadSignature):
        ADAPTER.verify_request(
            push(meituan.ORDER_PLACED, meituan_order_fields(), secret="leaked-old-secret"),
            CREDENTIALS,
        )


def test_missing_signature_parameters_and_another_app_get_their_codes():
    request = push(meituan.ORDER_PLACED, meituan_order_fields())
    params = {
        key: value for key, value in request.params.items() if key not in ("sig", "timestamp")
    }
    with pytest.raises(MissingParameter) as missing:
        ADAPTER.verify_request(InboundRequest("POST", request.url, params), CREDENTIALS)
    assert missing.value.names == ["sig", "timestamp"]
    assert ADAPTER.reject(missing.value).body == {
        "data": "ng",
        "error": {"code": 701, "msg": str(missing.value)},
    }

    with pytest.raises(UnknownApp) as unknown:
        ADAPTER.verify_request(request, Credentials(app_id="9999", secret=SECRET))
    assert ADAPTER.reject(unknown.value).body["error"]["code"] == 702
    assert ADAPTER.reject(UnknownStore("SH404")).body["error"]["code"] == 803


def test_replies():
    assert meituan.ok() == {"data": "ok"}
    assert ADAPTER.ack().body == {"data": "ok"} and ADAPTER.ack().status == 200
    assert meituan.error(703, "bad sig") == {"data": "ng", "error": {"code": 703, "msg": "bad sig"}}


def test_an_empty_request_is_the_platform_testing_the_url():
    request = InboundRequest("GET", CALLBACK + "order_placed/", {})
    ADAPTER.verify_request(request, CREDENTIALS)
    [event] = ADAPTER.parse(request)
    assert event.kind == EventKind.HEARTBEAT


# --- parsing ---------------------------------------------------------------------------------


def test_a_new_order_push_becomes_the_canonical_order():
    [event] = events(
        meituan.ORDER_PLACED,
        meituan_order_fields(order_id="27061900338318741", ctime=1_780_000_000),
    )

    assert event.kind == EventKind.ORDER_PLACED
    assert event.external_order_id == "27061900338318741"
    assert event.event_key == "placed"
    assert event.status == OrderStatus.RECEIVED
    order = event.order
    assert order is not None
    assert order.display_id == "270619003383187410"
    assert order.store_ref == "SH001"
    assert order.placed_at == dt.datetime(2026, 5, 28, 20, 26, 40, tzinfo=dt.UTC)
    assert [
        (line.line_no, line.external_sku, line.quantity, line.unit_price) for line in order.lines
    ] == [
        (1, "NOODLE-BEEF", Decimal(2), Decimal("28.0")),
        (2, "DUMPLING-PORK", Decimal(1), Decimal("18.5")),
        (3, "TEA-LEMON", Decimal(1), Decimal("9.0")),
    ]
    assert [modifier.code for modifier in order.lines[0].modifiers] == [
        "大份",
        "辣度:微辣",
        "加料:香菜",
    ]
    assert [modifier.code for modifier in order.lines[2].modifiers] == ["冰度:少冰"]
    assert order.lines[0].name == "红烧牛肉面"
    assert (order.total, order.original_price, order.delivery_fee) == (
        Decimal("78.5"),
        Decimal("88.5"),
        Decimal("5.0"),
    )
    assert (order.platform_discount, order.merchant_discount) == (Decimal("7.0"), Decimal("6.0"))
    assert order.packaging_fee == Decimal("3.0")
    assert (order.commission, order.income) == (Decimal("7.12"), Decimal("61.38"))
    assert order.paid is True
    assert (order.customer_name, order.customer_phone) == ("张三(先生)", "13800138000")
    assert order.address == "上海市徐汇区漕溪北路 88 号 1201 室"
    assert (order.latitude, order.longitude) == (Decimal("31.190812"), Decimal("121.437316"))
    assert order.notes == "少放辣 不要葱"
    assert order.day_seq == "17"
    assert order.currency == "CNY"


def test_cash_on_delivery_is_not_paid():
    [event] = events(meituan.ORDER_PLACED, meituan_order_fields(pay_type="1"))
    assert event.order is not None and event.order.paid is False


@pytest.mark.parametrize(
    ("code", "kind", "status"),
    [
        ("1", EventKind.STATUS_CHANGED, OrderStatus.RECEIVED),
        ("2", EventKind.STATUS_CHANGED, OrderStatus.RECEIVED),
        ("3", EventKind.STATUS_CHANGED, OrderStatus.RECEIVED),
        ("4", EventKind.STATUS_CHANGED, OrderStatus.ACCEPTED),
        ("6", EventKind.STATUS_CHANGED, OrderStatus.DELIVERING),
        ("7", EventKind.STATUS_CHANGED, OrderStatus.COMPLETED),
        ("8", EventKind.STATUS_CHANGED, OrderStatus.COMPLETED),
        ("9", EventKind.CANCELLED, OrderStatus.CANCELLED),
    ],
)
def test_each_status_code_maps_to_the_canonical_status(code, kind, status):
    [event] = events(
        meituan.ORDER_STATUS, {"order_id": "501", "status": code, "utime": "1780000100"}
    )
    assert (event.kind, event.status, event.event_key) == (kind, status, f"status:{code}")
    assert meituan.STATUS_CODES[code] == status
    # A new order push carries the same code.
    [placed] = events(meituan.ORDER_PLACED, meituan_order_fields(status=code))
    assert placed.order is not None and placed.order.status == status


def test_an_unknown_status_code_is_malformed():
    with pytest.raises(MalformedPayload) as caught:
        events(meituan.ORDER_STATUS, {"order_id": "501", "status": "5"})
    assert list(caught.value.errors) == ["status"]


@pytest.mark.parametrize(
    ("topic", "fields", "kind", "status"),
    [
        (meituan.ORDER_CONFIRMED, {}, EventKind.STATUS_CHANGED, OrderStatus.ACCEPTED),
        (
            meituan.ORDER_CANCELLED,
            {"reason": "用户取消", "reason_code": "1001"},
            EventKind.CANCELLED,
            OrderStatus.CANCELLED,
        ),
        (meituan.ORDER_COMPLETED, {}, EventKind.STATUS_CHANGED, OrderStatus.COMPLETED),
        (
            meituan.REFUND,
            {"notify_type": "apply", "reason": "餐洒了"},
            EventKind.REFUND_REQUESTED,
            None,
        ),
        (
            meituan.REFUND,
            {"notify_type": "agree", "money": "78.5"},
            EventKind.REFUNDED,
            OrderStatus.REFUNDED,
        ),
        (meituan.REFUND, {"notify_type": "reject"}, EventKind.STATUS_CHANGED, None),
        (meituan.REFUND, {"notify_type": "cancelRefund"}, EventKind.STATUS_CHANGED, None),
        (
            meituan.DELIVERY_STATUS,
            {"logistics_status": "10", "time": "1780000300"},
            EventKind.STATUS_CHANGED,
            None,
        ),
        (
            meituan.DELIVERY_STATUS,
            {"logistics_status": "20", "time": "1780000400"},
            EventKind.STATUS_CHANGED,
            OrderStatus.DELIVERING,
        ),
        (
            meituan.DELIVERY_STATUS,
            {"logistics_status": "40", "time": "1780000900"},
            EventKind.STATUS_CHANGED,
            OrderStatus.COMPLETED,
        ),
    ],
)
def test_each_callback_maps_to_its_event(topic, fields, kind, status):
    [event] = events(topic, {"order_id": "27061900338318741", **fields})
    assert (event.kind, event.status, event.external_order_id) == (
        kind,
        status,
        "27061900338318741",
    )


def test_cancellation_keeps_its_reason_and_refund_its_amount():
    [cancelled] = events(
        meituan.ORDER_CANCELLED, {"order_id": "1", "reason": "用户取消", "reason_code": "1001"}
    )
    assert (cancelled.reason, cancelled.extra["reason_code"]) == ("用户取消", "1001")
    [refunded] = events(meituan.REFUND, {"order_id": "1", "notify_type": "agree", "money": "78.5"})
    assert refunded.refund_amount == Decimal("78.5")


def test_a_partial_refund_lists_its_lines():
    food = [
        {
            "app_food_code": "NOODLE-BEEF",
            "food_name": "红烧牛肉面",
            "count": 1,
            "refund_price": 28.0,
        },
        {"app_food_code": "TEA-LEMON", "food_name": "柠檬茶", "count": 1, "refund_price": 9.0},
    ]
    fields = {
        "order_id": "1",
        "notify_type": "agree",
        "money": "37.0",
        "food": json.dumps(food, ensure_ascii=False),
    }
    [event] = events(meituan.PARTIAL_REFUND, fields)
    assert (event.kind, event.status) == (
        EventKind.PARTIALLY_REFUNDED,
        OrderStatus.PARTIALLY_REFUNDED,
    )
    assert [(line.external_sku, line.quantity, line.amount) for line in event.refund_lines] == [
        ("NOODLE-BEEF", Decimal(1), Decimal("28.0")),
        ("TEA-LEMON", Decimal(1), Decimal("9.0")),
    ]
    assert event.refund_amount == Decimal("37.0")
    [requested] = events(meituan.PARTIAL_REFUND, {**fields, "notify_type": "part"})
    assert requested.kind == EventKind.REFUND_REQUESTED
    assert requested.event_key != event.event_key


@pytest.mark.parametrize(
    ("topic", "fields"),
    [
        (meituan.ORDER_PLACED, meituan_order_fields()),
        (meituan.ORDER_CANCELLED, {"order_id": "1", "reason": "超时"}),
        (meituan.ORDER_STATUS, {"order_id": "1", "status": "4"}),
        (meituan.REFUND, {"order_id": "1", "notify_type": "apply", "reason": "少送"}),
        (
            meituan.PARTIAL_REFUND,
            {
                "order_id": "1",
                "notify_type": "agree",
                "food": '[{"app_food_code":"A","count":1,"refund_price":2}]',
            },
        ),
        (
            meituan.DELIVERY_STATUS,
            {"order_id": "1", "logistics_status": "20", "time": "1780000400"},
        ),
    ],
)
def test_a_replayed_push_gives_the_same_event_key(topic, fields):
    [first] = events(topic, fields, timestamp=1_780_000_000)
    [again] = events(
        topic, fields, timestamp=1_780_000_777
    )  # pushed again later: new timestamp and sig
    assert first.event_key == again.event_key
    assert first == again


def test_distinct_refund_requests_get_distinct_keys():
    [first] = events(meituan.REFUND, {"order_id": "1", "notify_type": "apply", "reason": "少送"})
    [second] = events(meituan.REFUND, {"order_id": "1", "notify_type": "apply", "reason": "送错了"})
    [by_id] = events(meituan.REFUND, {"order_id": "1", "notify_type": "apply", "refund_id": "88"})
    assert first.event_key != second.event_key
    assert by_id.event_key == "refund:apply:88"


def test_a_malformed_order_lists_every_problem():
    fields = meituan_order_fields(
        lines=[{"app_food_code": "", "quantity": "two", "price": 3}, "oops"],
        extras=[{"mt_charge": "x", "poi_charge": 1}],
    )
    fields.pop("app_poi_code")
    fields["poi_receive_detail"] = "{not json"
    fields["ctime"] = "yesterday"
    with pytest.raises(MalformedPayload) as caught:
        events(meituan.ORDER_PLACED, fields)
    error = caught.value
    assert error.code == "malformed_payload"
    assert set(error.errors) == {
        "app_poi_code",
        "ctime",
        "detail[0].app_food_code",
        "detail[0].quantity",
        "detail[1]",
        "extras[0].mt_charge",
        "poi_receive_detail",
    }
    assert error.details["fields"]["poi_receive_detail"] == ["is not valid JSON."]
    assert "detail[0].quantity" in str(error)


def test_a_push_without_order_id_or_to_an_unknown_callback_is_malformed():
    with pytest.raises(MalformedPayload) as caught:
        events(meituan.ORDER_COMPLETED, {"status": "8"})
    assert list(caught.value.errors) == ["order_id"]
    with pytest.raises(MalformedPayload) as unknown:
        events("order_teleported", {"order_id": "1"})
    assert list(unknown.value.errors) == ["topic"]


def test_store_and_app_are_read_before_verification():
    request = push(meituan.ORDER_PLACED, meituan_order_fields(app_poi_code="门店 01"))
    assert ADAPTER.store_ref(request) == "门店 01"
    assert ADAPTER.app_ref(request) == "6401"


# --- outbound calls --------------------------------------------------------------------------


def test_sold_out_call_is_signed_per_the_documented_algorithm():
    request = meituan.set_sold_out(
        "SH001",
        ["NOODLE-BEEF", "TEA-LEMON"],
        sold_out=True,
        app_id="6401",
        secret="abc",
        timestamp=1700000000,
    )
    food_data = '[{"app_food_code":"NOODLE-BEEF"},{"app_food_code":"TEA-LEMON"}]'
    by_hand = (
        "https://waimaiopen.meituan.com/api/v1/food/sku/sellStatus?app_id=6401&app_poi_code=SH001"
        f"&food_data={food_data}&sell_status=1&timestamp=1700000000abc"
    )
    assert (request.method, request.url, request.action) == (
        "POST",
        "https://waimaiopen.meituan.com/api/v1/food/sku/sellStatus",
        "food/sku/sellStatus",
    )
    assert request.params["sig"] == hashlib.md5(by_hand.encode()).hexdigest()
    assert request.params["food_data"] == food_data
    back = meituan.set_sold_out(
        "SH001", ["NOODLE-BEEF"], sold_out=False, app_id="6401", secret="abc"
    )
    assert back.params["sell_status"] == "0"


def test_accept_is_a_signed_get_with_the_query_encoded():
    request = meituan.accept_order(
        "27061900338318741", app_id="6401", secret="abc", timestamp=1700000000
    )
    method, url, body, _headers = request.encode()
    assert (method, body) == ("GET", None)
    query = dict(parse_qsl(urlsplit(url).query))
    assert query["order_id"] == "27061900338318741"
    assert meituan.verify(request.url, query, "abc", decode=False)
    cancel = meituan.cancel_order("1", reason="食材不足 & 售罄", app_id="6401", secret="abc")
    _method, cancel_url, _body, _headers = cancel.encode()
    assert dict(parse_qsl(urlsplit(cancel_url).query))["reason"] == "食材不足 & 售罄"
    assert meituan.verify(
        cancel.url, dict(parse_qsl(urlsplit(cancel_url).query)), "abc", decode=False
    )


def test_api_answers_are_read_and_failures_raised():
    assert meituan.parse_response(200, b'{"data":"ok"}') == "ok"
    with pytest.raises(OutboundRejected) as rejected:
        meituan.parse_response(200, '{"data":"ng","error":{"code":703,"msg":"签名错误"}}'.encode())
    assert (rejected.value.platform_code, rejected.value.is_retryable) == ("703", False)
    with pytest.raises(OutboundRejected) as outage:
        meituan.parse_response(502, b"Bad gateway")
    assert outage.value.is_retryable
    with pytest.raises(OutboundRejected) as busy:
        meituan.parse_response(200, b'{"data":"ng","error":{"code":700,"msg":"busy"}}')
    assert busy.value.is_retryable
