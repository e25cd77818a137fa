"""`InboundRequest.from_django`: what a callback view hands the adapters."""

from django.test import RequestFactory

from backroom.channels.platforms import eleme, meituan
from backroom.channels.platforms.base import EventKind, InboundRequest, Reply
from backroom.channels.testing.fakes import FakeEleme, FakeMeituan, meituan_order_fields


def test_a_meituan_form_push_through_django_verifies_and_parses():
    fake = FakeMeituan()
    url = "http://testserver/channels/meituan/7/order_placed/"
    push = fake.build_push(url, meituan_order_fields(recipient_name="王 五+1"))
    request = RequestFactory().generic(
        "POST", "/channels/meituan/7/order_placed/", push.body, content_type=push.content_type
    )

    inbound = InboundRequest.from_django(request, topic=meituan.ORDER_PLACED)
    assert inbound.url == url
    assert inbound.headers["content-type"] == push.content_type
    adapter = meituan.MeituanAdapter()
    adapter.verify_request(inbound, fake.credentials)
    [event] = adapter.parse(inbound)
    assert event.order is not None and event.order.customer_name == "王 五+1"

    # Behind a proxy the public URL is passed explicitly; the signature covers it.
    proxied = InboundRequest.from_django(
        request, url="https://shop.example.com/channels/meituan/7/order_placed/"
    )
    assert not meituan.verify(proxied.url, proxied.params, fake.secret)


def test_a_get_with_query_parameters_is_read_too():
    request = RequestFactory().get("/cb/", {"order_id": "1", "status": "4"})
    inbound = InboundRequest.from_django(request)
    assert (inbound.method, dict(inbound.params), inbound.body) == (
        "GET",
        {"order_id": "1", "status": "4"},
        b"",
    )


def test_an_eleme_json_push_through_django_keeps_the_raw_body():
    fake = FakeEleme()
    push = fake.build_push("http://testserver/cb/", 12, {"orderId": 3000000000000000001})
    request = RequestFactory().generic("POST", "/cb/", push.body, content_type=push.content_type)
    inbound = InboundRequest.from_django(request)
    assert inbound.params == {} and inbound.body == push.body
    adapter = eleme.ElemeAdapter()
    adapter.verify_request(inbound, fake.credentials)
    [event] = adapter.parse(inbound)
    assert (event.kind, event.external_order_id) == (
        EventKind.STATUS_CHANGED,
        "3000000000000000001",
    )


def test_reply_content_is_compact_json_keeping_chinese():
    assert (
        Reply(200, meituan.error(703, "签名错误")).content()
        == '{"data":"ng","error":{"code":703,"msg":"签名错误"}}'.encode()
    )
