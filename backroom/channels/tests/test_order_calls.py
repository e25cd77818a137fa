"""Order-status calls to the platforms: a store accepting, cancelling or marking ready a Meituan
or Ele.me order tells the platform (the fakes verify the signatures and record the calls),
after the commit, once, retried with backoff; failures show on the board and in the API;
dry-run accounts send nothing; the platform's own pushes call nobody."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from backroom.channels import intake, order_calls, outbound
from backroom.channels.choices import OrderStatus
from backroom.channels.models import ChannelAccount, Order, OutboundCall
from backroom.channels.platforms.base import CanonicalOrder, EventKind, LineIn, PlatformEvent
from backroom.channels.testing.fakes import BIG_ORDER_ID
from backroom.channels.tests.conftest import status_event
from backroom.channels.tests.test_soldout import EL_SPEC, MT_CODE, Platforms, fake_platforms
from backroom.testing.factories import client_for, make_user

pytestmark = pytest.mark.django_db

MT_ORDER = "27061900338318741"
EL_ORDER = str(BIG_ORDER_ID)  # > 2**53: stays an exact string all the way to the fake


@pytest.fixture
def platforms(tree, menu):
    with fake_platforms(tree, menu) as connected:
        yield connected


def place(account: ChannelAccount, external_id: str, *, code: str) -> Order:
    """A new order pushed by the platform (status received): no call goes back for it."""
    event = PlatformEvent(
        kind=EventKind.ORDER_PLACED,
        external_order_id=external_id,
        event_key="placed",
        raw_type="order_placed",
        status=OrderStatus.RECEIVED,
        order=CanonicalOrder(
            external_id=external_id,
            display_id="#17",
            store_ref=account.store_ref,
            placed_at=timezone.now(),
            status=OrderStatus.RECEIVED,
            lines=(LineIn(1, code, "Noodles", Decimal(1), Decimal(28)),),
            total=Decimal(28),
            address="上海市徐汇区漕溪北路 88 号",
        ),
    )
    order = intake.apply_event(account, event).order
    assert order is not None
    return order


def move(order: Order, status: str, actor, key: str, reason: str = "") -> Order:
    intake.change_status(order, status=status, actor=actor, key=key, reason=reason)
    order.refresh_from_db()
    return order


def calls_of(order: Order) -> list[tuple[str, str, str]]:
    return [
        (call.action, call.platform_action, call.status)
        for call in OutboundCall.objects.filter(order=order).order_by("pk")
    ]


@pytest.fixture
def staff(tree):
    return make_user("store_staff", tree.store_a)


def test_accepting_a_meituan_order_tells_the_platform_once(
    tree, menu, platforms: Platforms, staff, django_capture_on_commit_callbacks
):
    order = place(platforms.mt_account, MT_ORDER, code=MT_CODE)
    assert OutboundCall.objects.count() == 0  # the platform's own push calls nobody
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        order = move(order, "accepted", staff, "acc-1")
    assert callbacks  # sent after the commit, not inside the transaction
    assert order.status == "accepted" and order.is_reserved
    assert calls_of(order) == [("accept_order", "order/confirm", "sent")]
    assert platforms.meituan.accepted == [MT_ORDER]
    recorded = platforms.meituan.calls_for("order/confirm")
    assert [(c.is_verified, c.params["order_id"]) for c in recorded] == [(True, MT_ORDER)]
    call = OutboundCall.objects.get(order=order)
    assert call.account_id == platforms.mt_account.pk and call.attempts == 1
    assert "secret" not in str(call.request) and call.request == {"order_id": MT_ORDER}
    # The same request again is a replay: nothing new is recorded or sent.
    with django_capture_on_commit_callbacks(execute=True):
        move(order, "accepted", staff, "acc-1")
    # Asking for the same decision again records nothing new (unique per order and action).
    again = order_calls.queue_for_status_change(
        order, from_status="received", to_status="accepted", event_key="api:other"
    )
    assert [row.pk for row in again] == [call.pk]
    assert OutboundCall.objects.filter(order=order).count() == 1
    assert len(platforms.meituan.calls_for("order/confirm")) == 1


def test_cancelling_tells_both_platforms_with_the_reason(
    tree, menu, platforms: Platforms, staff, django_capture_on_commit_callbacks
):
    mt = place(platforms.mt_account, MT_ORDER, code=MT_CODE)
    el = place(platforms.el_account, EL_ORDER, code=":".join(map(str, EL_SPEC)))
    # Ele.me accepted it on its own (a push): the store then cancels through the API.
    intake.apply_event(platforms.el_account, status_event(EL_ORDER, "accepted"))
    with django_capture_on_commit_callbacks(execute=True):
        mt = move(mt, "cancelled", staff, "c-1", reason="牛肉用完 Out of beef")
        response = client_for(staff).post(
            f"/api/v1/channels/orders/{el.pk}/status",
            {"status": "cancelled", "reason": "Kitchen closed early", "key": "c-2"},
            content_type="application/json",
        )
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert platforms.meituan.cancelled == [
        {"order_id": MT_ORDER, "reason": "牛肉用完 Out of beef", "reason_code": "2007"}
    ]
    assert platforms.eleme.cancelled == [
        {"orderId": EL_ORDER, "type": "others", "remark": "Kitchen closed early"}
    ]
    assert platforms.meituan.accepted == [] and platforms.eleme.accepted == []
    assert calls_of(mt) == [("cancel_order", "order/cancel", "sent")]
    el.refresh_from_db()
    assert calls_of(el) == [("cancel_order", "eleme.order.cancelOrderLite", "sent")]
    assert all(call.is_verified for call in platforms.meituan.calls + platforms.eleme.calls)
    # Without a reason the platform still gets one.
    other = place(platforms.mt_account, "27061900338318742", code=MT_CODE)
    with django_capture_on_commit_callbacks(execute=True):
        move(other, "cancelled", staff, "c-3")
    assert platforms.meituan.cancelled[-1]["reason"] == order_calls.DEFAULT_CANCEL_REASON


def test_ready_tells_the_platform_and_preparing_calls_nobody(
    tree, menu, platforms: Platforms, staff, django_capture_on_commit_callbacks
):
    mt = place(platforms.mt_account, MT_ORDER, code=MT_CODE)
    el = place(platforms.el_account, EL_ORDER, code=":".join(map(str, EL_SPEC)))
    with django_capture_on_commit_callbacks(execute=True):
        for step, status in enumerate(["accepted", "preparing", "ready"]):
            move(mt, status, staff, f"mt-{step}")
        # Ele.me: the store jumps straight from received to ready (accept and ready, in order).
        move(el, "ready", staff, "el-ready")
    assert calls_of(mt) == [
        ("accept_order", "order/confirm", "sent"),
        ("order_ready", "order/preparationMealComplete", "sent"),
    ]
    assert platforms.meituan.ready == [MT_ORDER] and platforms.meituan.accepted == [MT_ORDER]
    assert calls_of(el) == [
        ("accept_order", "eleme.order.confirmOrderLite", "sent"),
        ("order_ready", "eleme.order.mealComplete", "sent"),
    ]
    assert platforms.eleme.ready == [EL_ORDER] and platforms.eleme.accepted == [EL_ORDER]
    assert [c.action for c in platforms.eleme.calls] == [
        "eleme.order.confirmOrderLite",
        "eleme.order.mealComplete",
    ]
    # Completing (the rider took it) tells nobody.
    with django_capture_on_commit_callbacks(execute=True):
        move(mt, "completed", staff, "mt-done")
    assert OutboundCall.objects.filter(order=mt).count() == 2


def test_platform_pushes_and_till_orders_call_nobody(
    tree, menu, platforms: Platforms, staff, django_capture_on_commit_callbacks
):
    order = place(platforms.mt_account, MT_ORDER, code=MT_CODE)
    with django_capture_on_commit_callbacks(execute=True):
        for status in ("accepted", "ready", "cancelled"):
            intake.apply_event(platforms.mt_account, status_event(MT_ORDER, status))
        own = intake.apply_event(
            menu.own_app,
            PlatformEvent(
                kind=EventKind.ORDER_PLACED,
                external_order_id="APP-1",
                event_key="placed",
                raw_type="new",
                status=OrderStatus.RECEIVED,
                order=CanonicalOrder(
                    external_id="APP-1",
                    display_id="#1",
                    store_ref="x",
                    placed_at=timezone.now(),
                    status=OrderStatus.RECEIVED,
                    lines=(LineIn(1, "NOODLES", "Noodles", Decimal(1), Decimal(18)),),
                ),
            ),
        ).order
        move(own, "accepted", staff, "own-acc")
    order.refresh_from_db()
    assert order.status == "cancelled"
    assert OutboundCall.objects.count() == 0
    assert platforms.meituan.calls == [] and platforms.eleme.calls == []


def test_a_failing_platform_is_retried_and_the_failure_shows_without_blocking_the_store(
    tree, menu, platforms: Platforms, staff, django_capture_on_commit_callbacks
):
    order = place(platforms.el_account, EL_ORDER, code=":".join(map(str, EL_SPEC)))
    platforms.eleme.fail_next(1)
    with django_capture_on_commit_callbacks(execute=True):
        order = move(order, "accepted", staff, "acc-1")
    assert order.status == "accepted"  # the store moved on
    call = OutboundCall.objects.get(order=order)
    assert (call.status, call.attempts, call.action) == ("failed", 1, "accept_order")
    assert call.next_attempt_at is not None and call.response["status"] == 500
    assert platforms.eleme.accepted == []
    # The failure shows on the order's card on the board and in the order's API detail.
    manager = make_user("store_manager", tree.store_a)
    board = client_for(manager).get(f"/channels/board/?store={tree.store_a.site.pk}")
    html = board.content.decode()
    assert f'data-testid="platform-call-failed" data-call="{call.pk}"' in html
    assert 'data-action="accept_order"' in html and 'data-testid="retry-platform-call"' in html
    detail = client_for(staff).get(f"/api/v1/channels/orders/{order.pk}").json()
    assert [(c["action"], c["status"], c["attempts"]) for c in detail["platform_calls"]] == [
        ("accept_order", "failed", 1)
    ]
    listed = client_for(manager).get(
        "/api/v1/channels/outbound-calls", {"store_id": tree.store_a.site.pk, "status": "failed"}
    )
    assert [row["order_id"] for row in listed.json()["items"]] == [order.pk]
    # Not due before the backoff; after it the sweep sends it, with the same Ele.me request id.
    assert outbound.send_due() == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert outbound.send_due(now=call.next_attempt_at + dt.timedelta(seconds=1)) == 1
    call.refresh_from_db()
    assert (call.status, call.attempts, call.last_error) == ("sent", 2, "")
    assert platforms.eleme.accepted == [EL_ORDER]
    first, second = platforms.eleme.calls
    assert (first.failed, second.failed) == (True, False)
    assert first.request_id.split("|")[0] == second.request_id.split("|")[0]
    board = client_for(manager).get(f"/channels/board/?store={tree.store_a.site.pk}")
    assert 'data-testid="platform-call-failed"' not in board.content.decode()


def test_a_failed_call_retried_from_the_board(
    tree, menu, platforms: Platforms, staff, django_capture_on_commit_callbacks
):
    order = place(platforms.mt_account, MT_ORDER, code=MT_CODE)
    platforms.meituan.fail_next(1)
    with django_capture_on_commit_callbacks(execute=True):
        move(order, "accepted", staff, "acc-1")
    call = OutboundCall.objects.get(order=order)
    # Store staff may not retry (channels.manage); the manager can, back on the board.
    denied = client_for(staff).post(f"/channels/outbound/{call.pk}/retry/", {"back": "board"})
    assert denied.status_code == 403
    call.refresh_from_db()
    assert call.status == "failed"
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(make_user("store_manager", tree.store_a)).post(
            f"/channels/outbound/{call.pk}/retry/", {"back": "board"}
        )
    assert response.status_code == 302
    assert response["Location"].endswith(f"/channels/board/?store={tree.store_a.site.pk}")
    call.refresh_from_db()
    assert call.status == "sent" and platforms.meituan.accepted == [MT_ORDER]


def test_a_dry_run_account_sends_nothing(
    tree, menu, platforms: Platforms, staff, django_capture_on_commit_callbacks
):
    account = platforms.mt_account
    account.secrets = {**account.secrets, "dry_run": "1"}
    account.save(update_fields=["secrets"])  # test setup: no service edits credentials yet
    order = place(account, MT_ORDER, code=MT_CODE)
    with django_capture_on_commit_callbacks(execute=True):
        move(order, "accepted", staff, "acc-1")
        move(order, "cancelled", staff, "c-1", reason="Test")
    assert calls_of(order) == [
        ("accept_order", "order/confirm", "sent"),
        ("cancel_order", "order/cancel", "sent"),
    ]
    assert all(
        call.response["body"]["dry_run"] is True
        for call in OutboundCall.objects.filter(order=order)
    )
    assert platforms.meituan.calls == []


def test_a_rolled_back_decision_sends_nothing(
    tree, menu, platforms: Platforms, staff, django_capture_on_commit_callbacks
):
    from django.db import transaction

    order = place(platforms.mt_account, MT_ORDER, code=MT_CODE)
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            move(order, "accepted", staff, "acc-1")
            raise RuntimeError("rolled back")
    assert OutboundCall.objects.count() == 0 and platforms.meituan.calls == []
    order.refresh_from_db()
    assert order.status == "received"
