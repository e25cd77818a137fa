"""The fake platforms over real local HTTP: pushes reach a callback, outbound calls are recorded."""

import json
from decimal import Decimal

import pytest

from backroom.channels.choices import ChannelKind, OrderStatus
from backroom.channels.platforms import ADAPTERS, eleme, get_adapter, meituan
from backroom.channels.platforms.base import EventKind
from backroom.channels.platforms.errors import OutboundRejected
from backroom.channels.platforms.square import SquareAdapter
from backroom.channels.testing.fakes import (
    BIG_ORDER_ID,
    CallbackReceiver,
    FakeEleme,
    FakeMeituan,
    meituan_order_fields,
    send,
)


@pytest.fixture
def fake_meituan():
    with FakeMeituan() as fake:
        yield fake


@pytest.fixture
def fake_eleme():
    with FakeEleme() as fake:
        yield fake


@pytest.fixture
def meituan_receiver(fake_meituan):
    with CallbackReceiver(get_adapter(ChannelKind.MEITUAN), fake_meituan.credentials) as receiver:
        yield receiver


@pytest.fixture
def eleme_receiver(fake_eleme):
    with CallbackReceiver(get_adapter(ChannelKind.ELEME), fake_eleme.credentials) as receiver:
        yield receiver


def test_every_platform_kind_has_its_adapter():
    assert set(ADAPTERS) == {ChannelKind.MEITUAN, ChannelKind.ELEME, ChannelKind.SQUARE}
    assert isinstance(get_adapter(ChannelKind.MEITUAN), meituan.MeituanAdapter)
    assert isinstance(get_adapter(ChannelKind.ELEME), eleme.ElemeAdapter)
    assert isinstance(get_adapter(ChannelKind.SQUARE), SquareAdapter)
    assert get_adapter(ChannelKind.MEITUAN).topics == meituan.TOPICS
    with pytest.raises(KeyError):
        get_adapter(ChannelKind.POS)


# --- Meituan ---------------------------------------------------------------------------------


def test_meituan_pushes_a_signed_order_that_the_receiver_accepts(fake_meituan, meituan_receiver):
    status, answer = fake_meituan.push_order(
        meituan_receiver.url_for(meituan.ORDER_PLACED), order_id="88001"
    )
    assert (status, answer) == (200, {"data": "ok"})
    [event] = meituan_receiver.received.events
    assert (event.kind, event.external_order_id) == (EventKind.ORDER_PLACED, "88001")
    assert event.order is not None and len(event.order.lines) == 3
    assert event.order.lines[0].name == "红烧牛肉面"

    status, answer = fake_meituan.push(
        meituan_receiver.url_for(meituan.ORDER_STATUS), {"order_id": "88001", "status": "4"}
    )
    assert answer == {"data": "ok"}
    assert meituan_receiver.received.events[-1].status == OrderStatus.ACCEPTED


def test_meituan_tampered_or_wrongly_signed_pushes_get_the_error_reply_and_store_nothing(
    fake_meituan, meituan_receiver
):
    url = meituan_receiver.url_for(meituan.ORDER_PLACED)
    _status, answer = fake_meituan.push(url, meituan_order_fields(), tamper={"total": "0.01"})
    assert answer["data"] == "ng" and answer["error"]["code"] == 703
    _status, answer = fake_meituan.push(url, meituan_order_fields(), secret="wrong")
    assert answer["error"]["code"] == 703
    # Signed for another callback URL: rejected too.
    push = fake_meituan.build_push(
        meituan_receiver.url_for(meituan.ORDER_CANCELLED), meituan_order_fields()
    )
    _status, answer = type(push)(push.method, url, push.body, push.content_type).send()
    assert answer["error"]["code"] == 703
    assert meituan_receiver.received.events == []
    assert meituan_receiver.received.rejected == ["bad_signature"] * 3


def test_meituan_malformed_push_is_answered_with_its_code(fake_meituan, meituan_receiver):
    fields = meituan_order_fields()
    fields["detail"] = "not json"
    _status, answer = fake_meituan.push(meituan_receiver.url_for(meituan.ORDER_PLACED), fields)
    assert answer["data"] == "ng" and answer["error"]["code"] == 701
    assert "detail" in answer["error"]["msg"]
    assert meituan_receiver.received.rejected == ["malformed_payload"]


def test_meituan_outbound_calls_are_verified_and_recorded(fake_meituan):
    options = fake_meituan.outbound_options()
    sold_out = meituan.set_sold_out("SH001", ["NOODLE-BEEF", "TEA-LEMON"], sold_out=True, **options)
    assert meituan.parse_response(*send(sold_out)) == "ok"
    assert fake_meituan.sold_out == {"SH001": {"NOODLE-BEEF", "TEA-LEMON"}}

    back = meituan.set_sold_out("SH001", ["TEA-LEMON"], sold_out=False, **options)
    assert meituan.parse_response(*send(back)) == "ok"
    assert fake_meituan.sold_out == {"SH001": {"NOODLE-BEEF"}}

    assert meituan.parse_response(*send(meituan.accept_order("88001", **options))) == "ok"
    assert fake_meituan.accepted == ["88001"]

    calls = fake_meituan.calls
    assert [(call.method, call.action, call.is_verified) for call in calls] == [
        ("POST", "food/sku/sellStatus", True),
        ("POST", "food/sku/sellStatus", True),
        ("GET", "order/confirm", True),
    ]
    assert json.loads(calls[0].params["food_data"]) == [
        {"app_food_code": "NOODLE-BEEF"},
        {"app_food_code": "TEA-LEMON"},
    ]


def test_meituan_rejects_a_call_signed_with_the_wrong_secret_or_altered(fake_meituan):
    options = {**fake_meituan.outbound_options(), "secret": "wrong"}
    with pytest.raises(OutboundRejected) as caught:
        meituan.parse_response(
            *send(meituan.set_sold_out("SH001", ["X"], sold_out=True, **options))
        )
    assert (caught.value.platform_code, caught.value.is_retryable) == ("703", False)

    good = meituan.set_sold_out("SH001", ["X"], sold_out=True, **fake_meituan.outbound_options())
    altered = type(good)(
        good.method, good.url, good.action, {**good.params, "app_poi_code": "SH002"}
    )
    with pytest.raises(OutboundRejected):
        meituan.parse_response(*send(altered))
    assert [call.is_verified for call in fake_meituan.calls] == [False, False]
    assert fake_meituan.sold_out == {}


def test_meituan_fails_the_next_calls_on_demand(fake_meituan):
    fake_meituan.fail_next(2)
    request = meituan.set_sold_out("SH001", ["X"], sold_out=True, **fake_meituan.outbound_options())
    for _attempt in range(2):
        with pytest.raises(OutboundRejected) as caught:
            meituan.parse_response(*send(request))
        assert caught.value.is_retryable
    assert fake_meituan.sold_out == {}
    assert meituan.parse_response(*send(request)) == "ok"  # the retry succeeds
    assert fake_meituan.sold_out == {"SH001": {"X"}}
    assert [call.failed for call in fake_meituan.calls_for("food/sku/sellStatus")] == [
        True,
        True,
        False,
    ]


# --- Ele.me ----------------------------------------------------------------------------------


def test_eleme_heartbeat_and_a_big_integer_order(fake_eleme, eleme_receiver):
    assert fake_eleme.build_heartbeat(eleme_receiver.url_for()).send() == (200, {"message": "ok"})
    status, answer = fake_eleme.push_order(eleme_receiver.url_for(), order_id=BIG_ORDER_ID)
    assert (status, answer) == (200, {"message": "ok"})
    heartbeat, placed = eleme_receiver.received.events
    assert heartbeat.kind == EventKind.HEARTBEAT
    assert placed.kind == EventKind.ORDER_PLACED
    assert placed.external_order_id == "3000000000000000001"
    assert placed.order is not None
    assert (placed.order.platform_discount, placed.order.merchant_discount) == (
        Decimal("7.0"),
        Decimal("7.5"),
    )
    # The raw body kept for the inbox has the id as the platform sent it.
    assert b"3000000000000000001" in eleme_receiver.received.raw[-1]


def test_eleme_tampered_pushes_are_rejected_and_store_nothing(fake_eleme, eleme_receiver):
    url = eleme_receiver.url_for()
    status, answer = fake_eleme.push(url, 12, {"orderId": BIG_ORDER_ID}, tamper={"type": 18})
    assert (status, answer["message"]) == (401, "bad_signature")
    status, _answer = fake_eleme.push(url, 12, {"orderId": BIG_ORDER_ID}, secret="wrong")
    assert status == 401
    assert eleme_receiver.received.events == []
    assert eleme_receiver.received.rejected == ["bad_signature", "bad_signature"]


def test_eleme_outbound_calls_are_verified_recorded_and_can_fail(fake_eleme):
    options = fake_eleme.outbound_options()
    fake_eleme.fail_next(1)
    clear = eleme.set_sold_out(
        [(1_300_000_000_001, 200_000_000_000_000_011)], sold_out=True, **options
    )
    with pytest.raises(OutboundRejected) as caught:
        eleme.parse_response(*send(clear))
    assert caught.value.is_retryable
    assert eleme.parse_response(*send(clear)) is True
    assert fake_eleme.sold_out == {(1_300_000_000_001, 200_000_000_000_000_011)}

    fill = eleme.set_sold_out(
        [(1_300_000_000_001, 200_000_000_000_000_011)], sold_out=False, **options
    )
    assert eleme.parse_response(*send(fill)) is True
    assert fake_eleme.sold_out == set()

    assert eleme.parse_response(*send(eleme.accept_order(str(BIG_ORDER_ID), **options))) is True
    assert fake_eleme.accepted == ["3000000000000000001"]
    assert [(call.action, call.is_verified, call.failed) for call in fake_eleme.calls] == [
        ("eleme.product.item.batchClearStock", True, True),
        ("eleme.product.item.batchClearStock", True, False),
        ("eleme.product.item.batchFillStock", True, False),
        ("eleme.order.confirmOrderLite", True, False),
    ]

    forged = eleme.set_sold_out([(1, 2)], sold_out=True, **{**options, "secret": "wrong"})
    with pytest.raises(OutboundRejected) as rejected:
        eleme.parse_response(*send(forged))
    assert rejected.value.platform_code == "ILLEGAL_REQUEST"
    assert fake_eleme.calls[-1].is_verified is False
    assert fake_eleme.sold_out == set()
