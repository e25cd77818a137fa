import datetime as dt
import hashlib
import json
from decimal import Decimal

import pytest

from backroom.channels.choices import OrderStatus
from backroom.channels.platforms import eleme
from backroom.channels.platforms.base import Credentials, EventKind, InboundRequest
from backroom.channels.platforms.errors import (
    BadSignature,
    MalformedPayload,
    MissingParameter,
    OutboundRejected,
    UnknownApp,
)
from backroom.channels.testing.fakes import (
    BIG_ORDER_ID,
    BIG_SHOP_ID,
    FakeEleme,
    eleme_order_message,
)

from .helpers import as_inbound

CALLBACK = "https://backroom.example.com/channels/eleme/3/"
FAKE = FakeEleme()
CREDENTIALS = FAKE.credentials
ADAPTER = eleme.ElemeAdapter()


def push(message_type: int, message: dict, **options) -> InboundRequest:
    return as_inbound(FAKE.build_push(CALLBACK, message_type, message, **options))


def events(message_type: int, message: dict, **options):
    request = push(message_type, message, **options)
    ADAPTER.verify_request(request, CREDENTIALS)
    return ADAPTER.parse(request)


# --- signing ---------------------------------------------------------------------------------


def test_push_signature_matches_the_documented_algorithm_computed_by_hand():
    payload = {
        "requestId": "r1",
        "type": 12,
        "appId": 20170001,
        "message": '{"orderId":1}',
        "shopId": 5,
        "timestamp": 1700000000000,
        "userId": 9,
    }
    by_hand = 'appId=20170001message={"orderId":1}requestId=r1shopId=5timestamp=1700000000000type=12userId=9el-secret'
    expected = hashlib.md5(by_hand.encode()).hexdigest().upper()
    assert expected == "B324B722C9BF9765F63A2ADCD61A579C"
    assert eleme.push_signature(payload, "el-secret") == expected
    # As received: the body read with integers kept as digits.
    received = eleme.parse_body(json.dumps({**payload, "signature": expected}).encode())
    assert eleme.verify(received, "el-secret")
    assert eleme.verify({**received, "signature": expected.lower()}, "el-secret")


def test_a_big_integer_shop_id_still_verifies_because_it_is_never_a_float():
    body = json.dumps(
        {
            "requestId": "r",
            "type": 18,
            "appId": 1,
            "message": "{}",
            "shopId": BIG_SHOP_ID,
            "timestamp": 1,
            "userId": 2,
        }
    )
    payload = json.loads(body)
    payload["signature"] = eleme.push_signature(payload, "s")
    received = eleme.parse_body(json.dumps(payload).encode())
    assert received["shopId"] == str(BIG_SHOP_ID)
    assert eleme.verify(received, "s")
    # What a float-based reader would have signed instead:
    assert f"{float(BIG_SHOP_ID):.0f}" != str(BIG_SHOP_ID)


@pytest.mark.parametrize(
    "tamper",
    [
        {"message": json.dumps({"orderId": BIG_ORDER_ID, "state": "settled"})},
        {"type": 18},
        {"shopId": BIG_SHOP_ID + 1},
        {"signature": "0" * 32},
    ],
)
def test_tampered_pushes_are_rejected(tamper):
    request = push(12, {"orderId": BIG_ORDER_ID, "state": "valid"}, tamper=tamper)
    with pytest.raises(BadSignature) as caught:
        ADAPTER.verify_request(request, CREDENTIALS)
    reply = ADAPTER.reject(caught.value)
    assert (reply.status, reply.body["message"]) == (401, "bad_signature")


def test_another_secret_app_or_a_missing_field_is_rejected():
    with pytest.raises(BadSignature):
        ADAPTER.verify_request(push(12, {"orderId": 1}, secret="another"), CREDENTIALS)
    with pytest.raises(UnknownApp):
        ADAPTER.verify_request(
            push(12, {"orderId": 1}), Credentials(app_id="1", secret=FAKE.secret)
        )
    payload = json.loads(push(12, {"orderId": 1}).body)
    del payload["signature"], payload["requestId"]
    with pytest.raises(MissingParameter) as missing:
        ADAPTER.verify_request(
            InboundRequest("POST", CALLBACK, body=json.dumps(payload).encode()), CREDENTIALS
        )
    assert missing.value.names == ["requestId", "signature"]
    with pytest.raises(MalformedPayload):
        ADAPTER.verify_request(InboundRequest("POST", CALLBACK, body=b"<xml/>"), CREDENTIALS)


def test_the_heartbeat_is_answered_ok():
    request = InboundRequest("GET", CALLBACK)
    ADAPTER.verify_request(request, CREDENTIALS)
    [event] = ADAPTER.parse(request)
    assert event.kind == EventKind.HEARTBEAT
    assert ADAPTER.ack().body == {"message": "ok"} == eleme.ok()


def test_api_envelope_signature_matches_the_documented_algorithm():
    request = eleme.build_envelope(
        "eleme.order.confirmOrderLite",
        {"orderId": "3000000000000000001"},
        app_key="k",
        secret="s",
        token="t",
        timestamp=1700000000,
        request_id="ID|1",
    )
    by_hand = (
        'eleme.order.confirmOrderLitetapp_key="k"orderId="3000000000000000001"timestamp=1700000000s'
    )
    envelope = request.json_body
    assert envelope is not None
    assert envelope["signature"] == hashlib.md5(by_hand.encode()).hexdigest().upper()
    assert envelope == {
        "nop": "1.0.0",
        "id": "ID|1",
        "action": "eleme.order.confirmOrderLite",
        "token": "t",
        "metas": {"app_key": "k", "timestamp": 1700000000},
        "params": {"orderId": "3000000000000000001"},
        "signature": envelope["signature"],
    }
    assert eleme.verify_envelope(envelope, "s")
    assert not eleme.verify_envelope(
        {**envelope, "params": {"orderId": "3000000000000000002"}}, "s"
    )
    assert not eleme.verify_envelope(envelope, "other")


def test_sold_out_envelope_json_encodes_nested_values_in_the_signature():
    request = eleme.set_sold_out(
        [(BIG_ORDER_ID, 7)], sold_out=True, app_key="k", secret="s", token="t", timestamp=1
    )
    specs = f'[{{"itemId":{BIG_ORDER_ID},"specId":7}}]'
    by_hand = f'eleme.product.item.batchClearStocktapp_key="k"specIds={specs}timestamp=1s'
    assert request.json_body is not None
    assert request.json_body["signature"] == hashlib.md5(by_hand.encode()).hexdigest().upper()
    _method, _url, body, headers = request.encode()
    assert body is not None and specs.encode() in body
    assert headers["Content-Type"].startswith("application/json")
    back = eleme.set_sold_out([(1, 2)], sold_out=False, app_key="k", secret="s", token="t")
    assert back.action == "eleme.product.item.batchFillStock"


# --- parsing ---------------------------------------------------------------------------------


def test_a_new_order_keeps_big_integer_ids_exact_and_splits_discounts():
    [event] = events(10, eleme_order_message(order_id=BIG_ORDER_ID))
    assert event.kind == EventKind.ORDER_PLACED
    assert event.external_order_id == "3000000000000000001"
    assert event.event_key == "placed"
    order = event.order
    assert order is not None
    assert order.external_id == "3000000000000000001"
    assert order.store_ref == str(BIG_SHOP_ID)
    assert order.placed_at == dt.datetime(2026, 6, 1, 3, 58, 20, tzinfo=dt.UTC)  # China time
    assert [(line.external_sku, line.quantity, line.unit_price) for line in order.lines] == [
        ("CHICKEN-RICE", Decimal(2), Decimal("22.0")),
        ("EGG", Decimal(2), Decimal("3.0")),
        ("PLUM-DRINK", Decimal(2), Decimal("8.0")),
    ]  # the packaging "extra" group is not a line
    assert [modifier.code for modifier in order.lines[0].modifiers] == ["规格:大份", "辣度:中辣"]
    assert (order.platform_discount, order.merchant_discount) == (Decimal("7.0"), Decimal("7.5"))
    assert (order.total, order.original_price, order.income) == (
        Decimal("61.5"),
        Decimal("74.0"),
        Decimal("48.35"),
    )
    assert (order.commission, order.delivery_fee, order.packaging_fee) == (
        Decimal("5.15"),
        Decimal("6.0"),
        Decimal("2.0"),
    )
    assert (order.customer_name, order.customer_phone) == ("李四 先生", "13900139000")
    assert (order.latitude, order.longitude) == (Decimal("39.990464"), Decimal("116.481488"))
    assert (order.notes, order.day_seq) == ("不要香菜", "23")


def test_ids_sent_as_strings_or_just_above_2_53_stay_exact():
    for order_id in ("1200896812013418516", 2**53 + 1):
        [event] = events(10, eleme_order_message(order_id=order_id))
        assert event.external_order_id == str(order_id)


def test_items_without_merchant_code_fall_back_to_the_platform_sku_id():
    message = eleme_order_message()
    del message["groups"][0]["items"][1]["extendCode"]
    [event] = events(10, message)
    assert event.order is not None
    assert event.order.lines[1].external_sku == "200000000000000012"


def test_activities_without_a_split_are_merchant_borne():
    [event] = events(10, eleme_order_message(activities=[{"name": "店铺满减", "amount": -6}]))
    assert event.order is not None
    assert (event.order.platform_discount, event.order.merchant_discount) == (
        Decimal(0),
        Decimal(6),
    )


@pytest.mark.parametrize(
    ("message_type", "kind", "status"),
    [
        (12, EventKind.STATUS_CHANGED, OrderStatus.ACCEPTED),
        (14, EventKind.CANCELLED, OrderStatus.CANCELLED),
        (15, EventKind.CANCELLED, OrderStatus.CANCELLED),
        (17, EventKind.CANCELLED, OrderStatus.CANCELLED),
        (18, EventKind.STATUS_CHANGED, OrderStatus.COMPLETED),
        (20, EventKind.REFUND_REQUESTED, None),
        (21, EventKind.STATUS_CHANGED, None),
        (22, EventKind.STATUS_CHANGED, None),
        (23, EventKind.CANCELLED, OrderStatus.CANCELLED),
        (24, EventKind.STATUS_CHANGED, None),
        (25, EventKind.CANCELLED, OrderStatus.CANCELLED),
        (26, EventKind.STATUS_CHANGED, None),
        (30, EventKind.REFUND_REQUESTED, None),
        (31, EventKind.STATUS_CHANGED, None),
        (32, EventKind.STATUS_CHANGED, None),
        (33, EventKind.REFUNDED, OrderStatus.REFUNDED),
        (34, EventKind.STATUS_CHANGED, None),
        (35, EventKind.REFUNDED, OrderStatus.REFUNDED),
        (36, EventKind.STATUS_CHANGED, None),
        (45, EventKind.IGNORED, None),
        (46, EventKind.IGNORED, None),
        (51, EventKind.STATUS_CHANGED, None),
        (53, EventKind.STATUS_CHANGED, None),
        (55, EventKind.STATUS_CHANGED, OrderStatus.DELIVERING),
        (56, EventKind.STATUS_CHANGED, OrderStatus.COMPLETED),
        (76, EventKind.STATUS_CHANGED, None),
        (91, EventKind.IGNORED, None),
        (92, EventKind.IGNORED, None),
        (77, EventKind.IGNORED, None),  # unknown types are acknowledged and ignored
        (99, EventKind.IGNORED, None),
    ],
)
def test_each_message_type_maps_to_its_event(message_type, kind, status):
    message = {"orderId": BIG_ORDER_ID, "state": "x", "updateTime": 1780000000, "reason": "r"}
    [event] = events(message_type, message)
    assert (event.kind, event.status) == (kind, status)
    assert event.external_order_id == str(BIG_ORDER_ID)
    assert event.raw_type == str(message_type)
    assert event.occurred_at == dt.datetime.fromtimestamp(1780000000, tz=dt.UTC)


def test_shop_status_messages_need_no_order():
    [event] = events(91, {"shopId": BIG_SHOP_ID, "state": "closed"})
    assert (event.kind, event.external_order_id) == (EventKind.IGNORED, "")


def test_a_partial_refund_agreement_lists_its_lines():
    message = {
        "orderId": BIG_ORDER_ID,
        "refundStatus": "successful",
        "refundType": "part",
        "reason": "少送卤蛋",
        "totalPrice": 6.0,
        "goodsList": [{"name": "卤蛋", "extendCode": "EGG", "quantity": 2, "price": 3.0}],
        "updateTime": 1780000500,
    }
    [event] = events(33, message)
    assert (event.kind, event.status) == (
        EventKind.PARTIALLY_REFUNDED,
        OrderStatus.PARTIALLY_REFUNDED,
    )
    assert [(line.external_sku, line.quantity, line.amount) for line in event.refund_lines] == [
        ("EGG", Decimal(2), Decimal("6.0"))
    ]
    assert (event.refund_amount, event.reason, event.extra["flow"]) == (
        Decimal("6.0"),
        "少送卤蛋",
        "refund",
    )


@pytest.mark.parametrize("message_type", [10, 12, 18, 30, 33, 55, 45])
def test_a_replayed_push_gives_the_same_event_key(message_type):
    message = (
        eleme_order_message()
        if message_type == 10
        else {"orderId": BIG_ORDER_ID, "updateTime": 1780000000}
    )
    [first] = events(message_type, message, request_id="a", timestamp_ms=1780000000000)
    [again] = events(message_type, message, request_id="b", timestamp_ms=1780000099000)
    assert first.event_key == again.event_key
    assert first == again


def test_repeated_flow_messages_with_new_content_get_new_keys():
    [first] = events(30, {"orderId": 1, "reason": "少送", "updateTime": 1})
    [second] = events(30, {"orderId": 1, "reason": "少送", "updateTime": 2})
    assert first.event_key != second.event_key
    assert first.event_key.startswith("30:")


def test_a_malformed_message_lists_every_problem():
    message = eleme_order_message(createdAt="", income="lots")
    message["groups"][0]["items"][0]["quantity"] = "two"
    message["groups"][0]["items"][1]["newSpecs"] = "large"
    message["orderActivities"] = {"amount": -1}
    with pytest.raises(MalformedPayload) as caught:
        events(10, message)
    assert set(caught.value.errors) == {
        "message.createdAt",
        "message.income",
        "message.groups[0].items[0].quantity",
        "message.groups[0].items[1].newSpecs",
        "message.orderActivities",
    }


def test_a_message_that_is_not_json_or_without_order_id_is_malformed():
    request = push(12, {}, tamper={})
    payload = json.loads(request.body)
    payload["message"] = "{broken"
    payload["signature"] = eleme.push_signature(
        eleme.parse_body(json.dumps(payload).encode()), FAKE.secret
    )
    broken = InboundRequest("POST", CALLBACK, body=json.dumps(payload).encode())
    ADAPTER.verify_request(broken, CREDENTIALS)
    with pytest.raises(MalformedPayload) as caught:
        ADAPTER.parse(broken)
    assert caught.value.errors == {"message": ["is not valid JSON."]}
    with pytest.raises(MalformedPayload) as no_order:
        events(12, {"state": "valid"})
    assert list(no_order.value.errors) == ["message.orderId"]


def test_store_and_app_are_read_before_verification():
    request = push(12, {"orderId": 1}, shop_id=BIG_SHOP_ID)
    assert ADAPTER.store_ref(request) == str(BIG_SHOP_ID)
    assert ADAPTER.app_ref(request) == FAKE.app_id


def test_api_answers_are_read_and_failures_raised():
    assert eleme.parse_response(
        200, b'{"id":"1","result":{"orderId":3000000000000000001},"error":null}'
    ) == {"orderId": "3000000000000000001"}
    with pytest.raises(OutboundRejected) as rejected:
        eleme.parse_response(
            200, b'{"id":"1","result":null,"error":{"code":"ILLEGAL_REQUEST","message":"x"}}'
        )
    assert (rejected.value.platform_code, rejected.value.is_retryable) == ("ILLEGAL_REQUEST", False)
    with pytest.raises(OutboundRejected) as busy:
        eleme.parse_response(
            200, b'{"id":"1","result":null,"error":{"code":"SERVER_ERROR","message":"x"}}'
        )
    assert busy.value.is_retryable
    with pytest.raises(OutboundRejected) as outage:
        eleme.parse_response(503, b"")
    assert outage.value.is_retryable
