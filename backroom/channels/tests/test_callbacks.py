"""Platform callbacks end to end: pushes built and signed by the fake Meituan and Ele.me (and a
signed Square webhook) go through Django's test client to the public callback URLs, are stored
verbatim, applied by the worker (Huey immediate, after commit) and deplete once; bad ones are
refused with nothing stored."""

from __future__ import annotations

import datetime as dt
import json
import logging
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.test import Client

from backroom.channels import intake, services
from backroom.channels.choices import ChannelKind, InboxStatus, OrderStatus
from backroom.channels.models import ChannelAccount, InboxMessage, Order, OrderHistory
from backroom.channels.platforms import square
from backroom.channels.testing.fakes import (
    BIG_ORDER_ID,
    BIG_SHOP_ID,
    FakeEleme,
    FakeMeituan,
    PushRequest,
    eleme_order_message,
    meituan_order_fields,
)
from backroom.inventory.models import StockMove
from backroom.kernel.actors import SYSTEM

pytestmark = pytest.mark.django_db

HOST = "http://testserver"
MT_STORE = "SH001"
CTIME = 1_780_000_000


def mt_url(topic: str) -> str:
    return f"{HOST}/channels/callbacks/meituan/{topic}/"


EL_URL = f"{HOST}/channels/callbacks/eleme/"
SQ_URL = f"{HOST}/channels/callbacks/square/"


@pytest.fixture
def fakes():
    # Pushes are built and signed by the fakes; they need no running server for that.
    return FakeMeituan(), FakeEleme()


@pytest.fixture
def connected(tree, menu, fakes):
    """Store A on the fake Meituan (SH001) and Ele.me (a shop id above 2**53), NOODLES mapped."""
    meituan, eleme = fakes
    site = tree.store_a.site
    mt = services.create_account(
        site=site,
        kind=ChannelKind.MEITUAN,
        name="Meituan (fake)",
        store_ref=MT_STORE,
        secrets={"app_id": meituan.app_id, "app_secret": meituan.secret},
        after_depletion="return",
        actor=SYSTEM,
    )
    el = services.create_account(
        site=site,
        kind=ChannelKind.ELEME,
        name="Ele.me (fake)",
        store_ref=str(BIG_SHOP_ID),
        secrets={"app_id": eleme.app_id, "secret": eleme.secret},
        after_depletion="return",
        actor=SYSTEM,
    )
    services.save_mapping(account=mt, external_code="NOODLE-BEEF", item=menu.noodles, actor=SYSTEM)
    services.save_mapping(account=el, external_code="NOODLES-EXT", item=menu.noodles, actor=SYSTEM)
    return mt, el


def deliver(push: PushRequest, client: Client | None = None):
    client = client or Client()
    path = urlsplit(push.url).path
    if push.method == "GET":
        return client.get(path)
    return client.generic("POST", path, push.body, content_type=push.content_type)


def mt_lines() -> list[dict]:
    return [
        {
            "app_food_code": "NOODLE-BEEF",
            "food_name": "红烧牛肉面",
            "quantity": 2,
            "price": 28.0,
            "spec": "大份",
            "food_property": "辣度:微辣",
            "box_num": 1,
            "box_price": 1.0,
        },
        {
            "app_food_code": "DUMPLING-PORK",
            "food_name": "猪肉水饺",
            "quantity": 1,
            "price": 18.5,
            "spec": "12只",
            "box_num": 1,
            "box_price": 1.0,
        },
    ]


def mt_status_fields(order_id: str, **extra: str) -> dict[str, str]:
    return {"order_id": order_id, "app_poi_code": MT_STORE, "utime": str(CTIME + 600), **extra}


def el_groups() -> list[dict]:
    return [
        {
            "name": "1号篮子",
            "type": "normal",
            "items": [
                {
                    "id": 1_300_000_000_001,
                    "skuId": 200_000_000_000_000_011,
                    "name": "牛肉面",
                    "price": 22.0,
                    "quantity": 1,
                    "total": 22.0,
                    "extendCode": "NOODLES-EXT",
                    "newSpecs": [],
                    "attributes": [],
                },
                {
                    "id": 1_300_000_000_002,
                    "skuId": 200_000_000_000_000_012,
                    "name": "卤蛋",
                    "price": 3.0,
                    "quantity": 2,
                    "total": 6.0,
                    "extendCode": "EGG",
                    "newSpecs": [],
                    "attributes": [],
                },
            ],
        }
    ]


def sale_moves(order: Order) -> list[tuple[str, Decimal]]:
    return sorted(
        StockMove.objects.filter(
            source_type="channels.order", source_id=str(order.pk), reason="sale"
        ).values_list("item__sku", "quantity")
    )


def world():
    return (
        InboxMessage.objects.count(),
        Order.objects.count(),
        OrderHistory.objects.count(),
        StockMove.objects.count(),
    )


# --- Meituan ---------------------------------------------------------------------------------


def test_meituan_order_placed_then_completed_depletes_once_and_replays_change_nothing(
    connected, menu, fakes, django_capture_on_commit_callbacks
):
    meituan, _eleme = fakes
    mt, _el = connected
    fields = meituan_order_fields(lines=mt_lines(), ctime=CTIME, app_poi_code=MT_STORE)
    placed = meituan.build_push(mt_url("order_placed"), fields)

    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(placed, Client(enforce_csrf_checks=True))  # no CSRF token needed
    assert response.status_code == 200 and response.json() == {"data": "ok"}
    message = InboxMessage.objects.get(account=mt)
    assert message.payload == placed.body.decode()  # verbatim, as posted
    assert (message.external_order_id, message.event_key) == (fields["order_id"], "placed")
    assert message.status == InboxStatus.PROCESSED and message.attempts == 1
    order = Order.objects.get(account=mt)
    assert (order.external_id, order.status, order.unmapped_lines) == (
        "27061900338318741",
        OrderStatus.RECEIVED,
        1,
    )
    assert list(order.lines.values_list("external_sku", "quantity", "is_unmapped")) == [
        ("NOODLE-BEEF", Decimal("2"), False),
        ("DUMPLING-PORK", Decimal("1"), True),
    ]
    assert order.platform_discount == Decimal("7") and order.merchant_discount == Decimal("6")

    completed = meituan.build_push(
        mt_url("order_completed"), mt_status_fields(order.external_id), timestamp=CTIME + 700
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(completed).json() == {"data": "ok"}
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED and order.is_depleted is False  # one unmapped
    assert sale_moves(order) == [
        ("BEEF", Decimal("-0.200000")),
        ("FLOUR", Decimal("-0.400000")),
        ("SALT", Decimal("-0.005000")),
    ]
    assert menu.on_hand(menu.flour) == Decimal("9.6")

    before = world()
    # The same push again, and the platform's retry of it (new timestamp, new sig).
    retry = meituan.build_push(
        mt_url("order_completed"), mt_status_fields(order.external_id), timestamp=CTIME + 900
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(completed).json() == {"data": "ok"}
        assert deliver(retry).json() == {"data": "ok"}
        assert deliver(placed).json() == {"data": "ok"}
    assert world() == before
    assert menu.on_hand(menu.flour) == Decimal("9.6")


def test_meituan_bad_signatures_are_refused_logged_and_store_nothing(
    connected, fakes, caplog, django_capture_on_commit_callbacks
):
    meituan, _eleme = fakes
    fields = meituan_order_fields(lines=mt_lines(), ctime=CTIME, app_poi_code=MT_STORE)
    tampered = meituan.build_push(mt_url("order_placed"), fields, tamper={"total": "1.0"})
    wrong_secret = meituan.build_push(mt_url("order_placed"), fields, secret="guessed")
    other_topic = meituan.build_push(mt_url("order_placed"), fields)
    other_app = FakeMeituan(app_id="9999").build_push(mt_url("order_placed"), fields)
    before = world()
    with caplog.at_level(logging.WARNING, logger="backroom.channels.callbacks"):
        with django_capture_on_commit_callbacks(execute=True):
            bad = [deliver(push).json() for push in (tampered, wrong_secret, other_app)]
            # Signed over another callback URL: the signature covers the URL.
            moved = Client().generic(
                "POST",
                "/channels/callbacks/meituan/order_confirmed/",
                other_topic.body,
                content_type=other_topic.content_type,
            )
            missing = Client().post(
                "/channels/callbacks/meituan/order_placed/",
                {"order_id": "1", "app_poi_code": MT_STORE},
            )
    assert [reply["error"]["code"] for reply in bad] == [703, 703, 702]
    assert all(reply["data"] == "ng" for reply in bad)
    assert moved.json()["error"]["code"] == 703
    assert missing.json()["error"]["code"] == 701
    assert world() == before
    rejected = [r for r in caplog.records if "callback rejected" in r.getMessage()]
    assert len(rejected) == 5
    text = " ".join(r.getMessage() for r in rejected)
    assert "platform=meituan reason=bad_signature" in text and "reason=unknown_app" in text
    assert "remote=127.0.0.1" in text
    assert meituan.secret not in text and "recipient" not in text and "13800138000" not in text


def test_meituan_unknown_store_and_heartbeat(connected, fakes, django_capture_on_commit_callbacks):
    meituan, _eleme = fakes
    before = world()
    fields = meituan_order_fields(lines=mt_lines(), ctime=CTIME, app_poi_code="NOT-OURS")
    reply = deliver(meituan.build_push(mt_url("order_placed"), fields)).json()
    assert reply["data"] == "ng" and reply["error"]["code"] == 803
    # The platform testing the URL: no parameters at all.
    assert Client().get("/channels/callbacks/meituan/order_placed/").json() == {"data": "ok"}
    assert Client().post("/channels/callbacks/meituan/refund/").json() == {"data": "ok"}
    assert world() == before
    assert Client().get("/channels/callbacks/meituan/no_such_topic/").status_code == 404


def test_meituan_status_before_the_order_ends_consistent_after_the_retry(
    connected, menu, fakes, django_capture_on_commit_callbacks
):
    meituan, _eleme = fakes
    mt, _el = connected
    order_id = "27061900338318999"
    completed = meituan.build_push(mt_url("order_completed"), mt_status_fields(order_id))
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(completed).json() == {"data": "ok"}  # acknowledged at once
    early = InboxMessage.objects.get(account=mt, event_key="completed")
    assert early.status == InboxStatus.FAILED and early.reason.startswith("order_not_received")

    fields = meituan_order_fields(
        order_id=order_id, lines=mt_lines()[:1], ctime=CTIME, app_poi_code=MT_STORE
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(meituan.build_push(mt_url("order_placed"), fields)).json() == {"data": "ok"}
    order = Order.objects.get(account=mt, external_id=order_id)
    assert order.status == OrderStatus.RECEIVED and not order.is_depleted

    InboxMessage.objects.filter(pk=early.pk).update(
        received_at=early.received_at - dt.timedelta(minutes=5)
    )
    assert intake.retry_failed() == 1
    early.refresh_from_db()
    order.refresh_from_db()
    assert early.status == InboxStatus.PROCESSED and early.attempts == 2
    assert order.status == OrderStatus.COMPLETED and order.is_depleted
    assert menu.on_hand(menu.flour) == Decimal("9.6")
    assert intake.retry_failed() == 0  # nothing left; nothing depletes twice
    assert menu.on_hand(menu.flour) == Decimal("9.6")


def test_meituan_malformed_signed_push_is_kept_failed_with_its_reason(
    connected, fakes, django_capture_on_commit_callbacks
):
    meituan, _eleme = fakes
    mt, _el = connected
    fields = meituan_order_fields(ctime=CTIME, app_poi_code=MT_STORE, detail="[{not json")
    push = meituan.build_push(mt_url("order_placed"), fields)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert deliver(push).json() == {"data": "ok"}
    assert callbacks == []  # not queued: it is failed already
    message = InboxMessage.objects.get(account=mt)
    assert message.payload == push.body.decode()
    assert message.status == InboxStatus.FAILED
    assert message.reason.startswith("malformed_payload:") and "detail" in message.reason
    assert message.external_order_id == fields["order_id"]
    assert Order.objects.count() == 0
    # Meituan pushes it again (new timestamp): the same message, nothing new.
    again = meituan.build_push(mt_url("order_placed"), fields, timestamp=CTIME + 5)
    assert deliver(again).json() == {"data": "ok"}
    assert InboxMessage.objects.count() == 1
    # Retryable: the sweep reads it again (and it still fails until the parser is fixed).
    InboxMessage.objects.filter(pk=message.pk).update(
        received_at=message.received_at - dt.timedelta(minutes=5)
    )
    assert intake.retry_failed() == 0
    message.refresh_from_db()
    assert message.status == InboxStatus.FAILED and message.attempts == 1


def test_meituan_push_without_store_code_is_routed_by_its_order(
    connected, menu, fakes, django_capture_on_commit_callbacks
):
    meituan, _eleme = fakes
    mt, _el = connected
    fields = meituan_order_fields(lines=mt_lines()[:1], ctime=CTIME, app_poi_code=MT_STORE)
    cancel = {"order_id": fields["order_id"], "reason": "用户取消", "reason_code": "1001"}
    cancel_push = meituan.build_push(mt_url("order_cancelled"), cancel)
    # Before the order is in, nothing says which store it is for: refused, Meituan retries.
    assert deliver(cancel_push).json()["error"]["code"] == 803
    with django_capture_on_commit_callbacks(execute=True):
        deliver(meituan.build_push(mt_url("order_placed"), fields))
    with django_capture_on_commit_callbacks(execute=True):
        deliver(meituan.build_push(mt_url("order_confirmed"), mt_status_fields(fields["order_id"])))
    assert Order.objects.get(account=mt).is_reserved
    with django_capture_on_commit_callbacks(execute=True):
        reply = deliver(cancel_push).json()
    assert reply == {"data": "ok"}
    order = Order.objects.get(account=mt)
    assert order.status == OrderStatus.CANCELLED and not order.is_reserved
    assert menu.on_hand(menu.flour) == Decimal("10")


def test_the_public_callback_url_setting_is_what_signatures_cover(
    connected, fakes, settings, django_capture_on_commit_callbacks
):
    meituan, _eleme = fakes
    settings.CHANNELS_CALLBACK_BASE_URL = "https://backroom.example.com/"
    fields = meituan_order_fields(lines=mt_lines(), ctime=CTIME, app_poi_code=MT_STORE)
    internal = meituan.build_push(mt_url("order_placed"), fields)
    public = meituan.build_push(
        "https://backroom.example.com/channels/callbacks/meituan/order_placed/", fields
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(internal).json()["error"]["code"] == 703
        assert InboxMessage.objects.count() == 0
        assert deliver(public).json() == {"data": "ok"}
    assert Order.objects.filter(external_id=fields["order_id"]).exists()


# --- Ele.me ----------------------------------------------------------------------------------


def test_eleme_heartbeat_order_and_completion_with_big_integer_ids(
    connected, menu, fakes, django_capture_on_commit_callbacks
):
    _meituan, eleme = fakes
    _mt, el = connected
    assert deliver(eleme.build_heartbeat(EL_URL)).json() == {"message": "ok"}
    assert InboxMessage.objects.count() == 0

    message = eleme_order_message(groups=el_groups())
    placed = eleme.build_push(EL_URL, 10, message, request_id="req-1")
    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(placed)
    assert response.status_code == 200 and response.json() == {"message": "ok"}
    stored = InboxMessage.objects.get(account=el)
    assert stored.payload == placed.body.decode() and str(BIG_ORDER_ID) in stored.payload
    assert stored.external_order_id == "3000000000000000001" and stored.event_key == "placed"
    order = Order.objects.get(account=el)
    assert order.external_id == "3000000000000000001"  # exact: 2**53 < id
    assert order.unmapped_lines == 1 and order.status == OrderStatus.RECEIVED

    done = {"orderId": BIG_ORDER_ID, "state": "settled", "shopId": BIG_SHOP_ID, "updateTime": CTIME}
    completed = eleme.build_push(EL_URL, 18, done, request_id="req-2")
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(completed).json() == {"message": "ok"}
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    assert sale_moves(order) == [
        ("BEEF", Decimal("-0.100000")),
        ("FLOUR", Decimal("-0.200000")),
        ("SALT", Decimal("-0.002500")),
    ]
    before = world()
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(completed).json() == {"message": "ok"}
        resent = eleme.build_push(EL_URL, 18, done, request_id="req-3", timestamp_ms=1)
        assert deliver(resent).json() == {"message": "ok"}
        assert deliver(placed).json() == {"message": "ok"}
    assert world() == before
    assert menu.on_hand(menu.flour) == Decimal("9.8")


def test_eleme_refusals_store_nothing(connected, fakes, django_capture_on_commit_callbacks):
    _meituan, eleme = fakes
    message = eleme_order_message(groups=el_groups())
    before = world()
    tampered = deliver(eleme.build_push(EL_URL, 10, message, tamper={"type": 18}))
    wrong = deliver(eleme.build_push(EL_URL, 10, message, secret="guessed"))
    unknown = deliver(eleme.build_push(EL_URL, 10, message, shop_id=12345))
    garbage = Client().generic("POST", "/channels/callbacks/eleme/", b"{nope", "application/json")
    assert (tampered.status_code, tampered.json()["message"]) == (401, "bad_signature")
    assert (wrong.status_code, wrong.json()["message"]) == (401, "bad_signature")
    assert (unknown.status_code, unknown.json()["message"]) == (404, "unknown_store")
    assert garbage.status_code >= 400
    assert world() == before


def test_eleme_malformed_message_is_kept_failed(
    connected, fakes, django_capture_on_commit_callbacks
):
    _meituan, eleme = fakes
    _mt, el = connected
    message = eleme_order_message(groups=[{"name": "x", "type": "normal", "items": "nope"}])
    push = eleme.build_push(EL_URL, 10, message)
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(push).json() == {"message": "ok"}
    stored = InboxMessage.objects.get(account=el)
    assert stored.status == InboxStatus.FAILED and stored.reason.startswith("malformed_payload")
    assert stored.payload == push.body.decode()
    assert stored.external_order_id == str(BIG_ORDER_ID)
    assert Order.objects.count() == 0


# --- Square webhooks -------------------------------------------------------------------------


def test_square_webhook_is_verified_and_recorded_by_event_id(
    tree, settings, django_capture_on_commit_callbacks
):
    account = services.create_account(
        site=tree.store_a.site,
        kind=ChannelKind.SQUARE,
        name="Square",
        store_ref="L8XYZ",
        secrets={"secret": "sq-signature-key"},
        actor=SYSTEM,
    )
    body = json.dumps(
        {
            "merchant_id": "MERCHANT1",
            "type": "payment.updated",
            "event_id": "evt-1",
            "data": {
                "type": "payment",
                "id": "P1",
                "object": {"payment": {"id": "P1", "order_id": "O1", "location_id": "L8XYZ"}},
            },
        }
    ).encode()
    good = square.sign_webhook(SQ_URL, body, "sq-signature-key")
    client = Client()
    bad = client.generic(
        "POST",
        "/channels/callbacks/square/",
        body,
        content_type="application/json",
        headers={"x-square-hmacsha256-signature": "AAAA"},
    )
    assert bad.status_code == 401 and InboxMessage.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            ok = client.generic(
                "POST",
                "/channels/callbacks/square/",
                body,
                content_type="application/json",
                headers={"x-square-hmacsha256-signature": good},
            )
            assert ok.status_code == 200
    message = InboxMessage.objects.get(account=account)
    assert (message.event_key, message.external_order_id) == ("evt-1", "O1")
    assert message.status == InboxStatus.PROCESSED and message.payload == body.decode()
    assert client.get("/channels/callbacks/square/").status_code == 405


def test_callbacks_of_an_inactive_account_are_refused(
    connected, fakes, django_capture_on_commit_callbacks
):
    meituan, _eleme = fakes
    mt, _el = connected
    ChannelAccount.objects.filter(pk=mt.pk).update(is_active=False)
    fields = meituan_order_fields(lines=mt_lines(), ctime=CTIME, app_poi_code=MT_STORE)
    reply = deliver(meituan.build_push(mt_url("order_placed"), fields)).json()
    assert reply["error"]["code"] == 803 and InboxMessage.objects.count() == 0


def test_meituan_push_without_its_store_code_finds_the_store_by_the_order(
    connected, fakes, django_capture_on_commit_callbacks
):
    meituan, _eleme = fakes
    mt, _el = connected
    order_id = "27061900338318777"
    fields = meituan_order_fields(
        order_id=order_id, lines=mt_lines()[:1], ctime=CTIME, app_poi_code=MT_STORE
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(meituan.build_push(mt_url("order_placed"), fields)).json() == {"data": "ok"}
    cancel = mt_status_fields(order_id, reason="顾客取消")
    cancel.pop("app_poi_code")
    with django_capture_on_commit_callbacks(execute=True):
        push = meituan.build_push(mt_url("order_cancelled"), cancel)
        assert deliver(push).json() == {"data": "ok"}
    order = Order.objects.get(account=mt, external_id=order_id)
    assert order.status == OrderStatus.CANCELLED
    assert InboxMessage.objects.get(
        account=mt, external_order_id=order_id, event_key__startswith="cancel"
    )
