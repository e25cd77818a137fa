"""Order anomaly rules: each rule's golden cases and boundaries, detection with the order events
(once, however often replayed), automatic and manual resolution, the stuck-order sweep under a
controlled clock, the published event, and the till batch path."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from backroom.audit.models import AuditEntry
from backroom.channels import anomalies, intake
from backroom.channels.anomalies import Context, limits
from backroom.channels.anomaly_jobs import detect_stuck_orders
from backroom.channels.events import ChannelsEvent
from backroom.channels.models import Order, OrderAnomaly
from backroom.channels.platforms.base import PlatformEvent
from backroom.channels.pos import TillLine, TillOrder, submit_orders
from backroom.channels.tests.conftest import D, placed, status_event
from backroom.events.catalogue import event_types
from backroom.events.models import OutboxEvent
from backroom.kernel import clock
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import PermissionDenied, ValidationFailed
from backroom.org import services as org_services
from backroom.testing.factories import make_user

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 4, 0, tzinfo=dt.UTC)  # 12:00 in Shanghai


def order_event(
    external_id: str,
    *,
    status: str = "received",
    key: str = "placed",
    lines: tuple[tuple[str, str], ...] = (("NOODLES", "1"),),
    **fields: object,
) -> PlatformEvent:
    """An ORDER_PLACED event with any canonical order fields (a good delivery by default)."""
    base = placed(external_id, status=status, key=key, lines=[*lines])
    assert base.order is not None
    defaults: dict[str, object] = {
        "address": "88 Century Avenue, Pudong, Shanghai",
        "latitude": D("31.2304"),
        "longitude": D("121.4737"),
        "placed_at": fields.pop("placed_at", None) or clock.now(),
    }
    order = dataclasses.replace(base.order, **{**defaults, **fields})  # type: ignore[arg-type]
    return dataclasses.replace(base, order=order)


def receive(account, external_id: str, **fields: object) -> Order:
    applied = intake.apply_event(account, order_event(external_id, **fields))
    assert applied.order is not None
    return applied.order


def open_rules(order: Order) -> set[str]:
    return set(
        OrderAnomaly.objects.filter(order=order, resolved_at__isnull=True).values_list(
            "rule", flat=True
        )
    )


def anomaly_events() -> list[dict]:
    return [
        event.payload
        for event in OutboxEvent.objects.filter(event_type="channels.order.anomaly").order_by("id")
    ]


def check(rule, order: Order, **overrides) -> anomalies.Finding | None:
    """Run one rule function on an unsaved copy of `order` with `overrides` applied."""
    copy = Order.objects.select_related("site__node").get(pk=order.pk)
    for name, value in overrides.items():
        setattr(copy, name, value)
    return rule(copy, Context(limits=limits(), now=clock.now()))


# --- each rule ---------------------------------------------------------------------------------


def test_a_clean_delivery_order_raises_nothing(tree, menu):
    order = receive(menu.meituan, "OK1", customer_phone="13800000000")
    assert open_rules(order) == set()
    assert anomaly_events() == []


def test_missing_address_only_for_delivery_orders_and_until_delivered(tree, menu):
    order = receive(menu.meituan, "MA1", address="   ")
    assert open_rules(order) == {"missing_address"}
    anomaly = OrderAnomaly.objects.get(order=order)
    assert anomaly.severity == "critical" and anomaly.site_id == tree.store_a.site.pk
    # An own-app order is a delivery only with a delivery fee; a till sale never is.
    assert (
        receive(menu.own_app, "OA1", address="")
        and not OrderAnomaly.objects.filter(order__external_id="OA1").exists()
    )
    fee = receive(menu.own_app, "OA2", address="", delivery_fee=D("5"))
    assert open_rules(fee) == {"missing_address"}
    # Delivered: the address no longer matters.
    intake.apply_event(menu.meituan, status_event("MA1", "completed"))
    assert open_rules(order) == set()
    assert OrderAnomaly.objects.get(order=order).resolution == "auto"


def test_bad_address_rules_and_boundaries(tree, menu):
    order = receive(menu.meituan, "BA0")
    rule = anomalies.bad_address
    assert check(rule, order) is None
    # Six readable characters is the default minimum; digits alone are not an address.
    assert check(rule, order, address="Room 1")
    assert check(rule, order, address="Room 12") is None
    assert check(rule, order, address="1234567890").details["reason"] == "unreadable"
    assert check(rule, order, address="上海市浦东新区") is None  # CJK letters count
    assert check(rule, order, address="？？？？？？？").details["reason"] == "unreadable"
    # Coordinates: out of range, half given, or the null island.
    assert check(rule, order, latitude=D("90"), longitude=D("180")) is None
    assert check(rule, order, latitude=D("90.000001")).details["reason"] == "coordinates"
    assert check(rule, order, longitude=D("-180.5")).details["reason"] == "coordinates"
    assert check(rule, order, longitude=None).details["reason"] == "coordinates"
    assert check(rule, order, latitude=D(0), longitude=D(0)).details["reason"] == "coordinates"
    # No coordinates at all: only when required.
    assert check(rule, order, latitude=None, longitude=None) is None
    with override_settings(CHANNELS_ANOMALIES={"require_coordinates": True}):
        assert check(rule, order, latitude=None, longitude=None).fingerprint == "no_coordinates"
    # Too far from the store, once the store has coordinates (about 0.1° of latitude ≈ 11 km).
    org_services.update_site(
        order.site,
        org_services.SiteChanges(latitude=D("31.2304"), longitude=D("121.4737")),
        actor=SYSTEM,
    )
    assert check(rule, order, latitude=D("31.3304")) is None
    far = check(rule, order, latitude=D("31.5304"))
    assert far.details["reason"] == "too_far" and far.details["distance_km"] == "33.4"
    with override_settings(CHANNELS_ANOMALIES={"max_delivery_km": 10}):
        assert check(rule, order, latitude=D("31.3304")).details["limit_km"] == "10"
    # End to end: an unreadable address on a received order.
    bad = receive(menu.meituan, "BA1", address="---")
    assert open_rules(bad) == {"bad_address"}
    assert OrderAnomaly.objects.get(order=bad).message == "The address cannot be read: “---”."


def test_payment_failed_only_for_online_paid_channels_until_cancelled(tree, menu):
    cash = receive(menu.meituan, "PF0", paid=False)  # Meituan: cash on delivery
    assert open_rules(cash) == set()
    unpaid = receive(menu.own_app, "PF1", paid=False)
    assert open_rules(unpaid) == {"payment_failed"}
    with override_settings(CHANNELS_ANOMALIES={"online_paid_kinds": ["own_app", "meituan"]}):
        assert receive(menu.meituan, "PF2", paid=False) and open_rules(
            Order.objects.get(external_id="PF2")
        ) == {"payment_failed"}
    intake.apply_event(menu.own_app, status_event("PF1", "cancelled"))
    assert open_rules(unpaid) == set()


def test_duplicate_by_order_number_same_day(tree, menu):
    first = receive(menu.meituan, "DN1", display_id="#88")
    second = receive(menu.meituan, "DN2", display_id="#88")
    other_account = receive(menu.own_app, "DN3", display_id="#88")
    assert open_rules(first) == set() and open_rules(other_account) == set()
    assert open_rules(second) == {"duplicate_order"}
    anomaly = OrderAnomaly.objects.get(order=second)
    assert anomaly.related_order_id == first.pk
    assert anomaly.details == {
        "match": "display_id",
        "display_id": "#88",
        "other_order_id": first.pk,
        "other_external_id": "DN1",
    }
    # Another business day: not a duplicate.
    next_day = receive(
        menu.meituan, "DN4", display_id="#88", placed_at=clock.now() + dt.timedelta(days=1)
    )
    assert open_rules(next_day) == set()
    # Cancelling the first clears the second's duplicate.
    intake.apply_event(menu.meituan, status_event("DN1", "cancelled"))
    assert open_rules(second) == set()


def test_duplicate_by_phone_and_identical_lines_within_the_window(tree, menu):
    with clock.at(NOW):
        receive(menu.meituan, "DP1", customer_phone="139", lines=(("NOODLES", "2"), ("TEA", "1")))
    with clock.at(NOW + dt.timedelta(minutes=10)):  # the window's edge is inside
        same = receive(
            menu.meituan, "DP2", customer_phone="139", lines=(("TEA", "1"), ("NOODLES", "2.0"))
        )
    with clock.at(NOW + dt.timedelta(minutes=5)):
        other_lines = receive(menu.meituan, "DP3", customer_phone="139", lines=(("TEA", "2"),))
        other_phone = receive(
            menu.meituan, "DP4", customer_phone="138", lines=(("NOODLES", "2"), ("TEA", "1"))
        )
    with clock.at(NOW + dt.timedelta(minutes=10, seconds=1)):
        late = receive(menu.own_app, "DP5", customer_phone="139", lines=(("TEA", "2"),))
    assert open_rules(same) == {"duplicate_order"}
    assert OrderAnomaly.objects.get(order=same).details["minutes"] == 10
    assert OrderAnomaly.objects.get(order=same).details["other_external_id"] == "DP1"
    assert open_rules(other_lines) == set() and open_rules(other_phone) == set()
    # DP5 matches DP3 (5 min 1 s apart, across accounts of the store).
    assert open_rules(late) == {"duplicate_order"}
    assert OrderAnomaly.objects.get(order=late).related_order_id == other_lines.pk


def test_high_discount_boundaries(tree, menu):
    order = receive(menu.meituan, "HD0", original_price=D("100"), merchant_discount=D("50"))
    assert open_rules(order) == set()  # exactly the limit is allowed
    rule = anomalies.high_discount
    found = check(rule, order, merchant_discount=D("50.01"))
    assert found.details == {
        "percent": "50.0",
        "limit_percent": "50",
        "merchant_discount": "50.01",
        "original_price": "100.0000",
    }
    # No original price sent: paid + discounts is the base.
    assert check(rule, order, original_price=D(0), total=D("10"), merchant_discount=D("10")) is None
    assert check(rule, order, original_price=D(0), total=D("9"), merchant_discount=D("10"))
    with override_settings(CHANNELS_ANOMALIES={"discount_limit_percent": 30}):
        assert check(rule, order, merchant_discount=D("31"))
    high = receive(menu.meituan, "HD1", original_price=D("40"), merchant_discount=D("30"))
    assert open_rules(high) == {"high_discount"}
    assert OrderAnomaly.objects.get(order=high).message == (
        "Merchant-borne discount of 75.0% (limit 50%)."
    )


def test_stuck_limits_per_state(tree, menu):
    with clock.at(NOW):
        order = receive(menu.own_app, "ST0")
    rule = anomalies.stuck
    with clock.at(NOW + dt.timedelta(minutes=10)):
        assert check(rule, order) is None  # exactly the limit
    with clock.at(NOW + dt.timedelta(minutes=10, seconds=1)):
        found = check(rule, order)
        assert found.fingerprint == "received" and found.details["limit_minutes"] == 10
    for status, minutes in (
        ("accepted", 45),
        ("preparing", 60),
        ("ready", 30),
        ("delivering", 90),
    ):
        with clock.at(NOW + dt.timedelta(minutes=minutes)):
            assert check(rule, order, status=status, status_changed_at=NOW) is None
        with clock.at(NOW + dt.timedelta(minutes=minutes + 1)):
            assert check(rule, order, status=status, status_changed_at=NOW).details == {
                "status": status,
                "since": NOW.isoformat(),
                "minutes": minutes + 1,
                "limit_minutes": minutes,
            }
    with clock.at(NOW + dt.timedelta(days=3)):
        assert check(rule, order, status="completed") is None
    with override_settings(CHANNELS_ANOMALIES={"stuck_minutes": {"received": 3}}):
        with clock.at(NOW + dt.timedelta(minutes=4)):
            assert check(rule, order)


# --- detection, idempotency, resolution --------------------------------------------------------


def test_replayed_events_do_not_duplicate_anomalies(tree, menu):
    event = order_event("RP1", address="")
    intake.apply_event(menu.meituan, event)
    intake.apply_event(menu.meituan, event)  # replay
    order = Order.objects.get(external_id="RP1")
    assert OrderAnomaly.objects.filter(order=order).count() == 1
    # Running detection again (a subscriber called twice) records nothing new.
    assert anomalies.detect_for_orders([order.pk], is_new=True) == []
    assert anomalies.detect_for_orders([order.pk], is_new=False) == []
    assert OrderAnomaly.objects.filter(order=order).count() == 1
    assert len(anomaly_events()) == 1


def test_each_new_anomaly_is_published_once_with_its_payload(tree, menu):
    assert "channels.order.anomaly" in event_types()
    assert ChannelsEvent.ORDER_ANOMALY == "channels.order.anomaly"
    order = receive(
        menu.meituan, "EV1", address="", original_price=D("10"), merchant_discount=D("9")
    )
    events = anomaly_events()
    assert sorted(event["rule"] for event in events) == ["high_discount", "missing_address"]
    missing = next(event for event in events if event["rule"] == "missing_address")
    anomaly = OrderAnomaly.objects.get(order=order, rule="missing_address")
    assert missing == {
        "anomaly_id": anomaly.pk,
        "order_id": order.pk,
        "site_id": tree.store_a.site.pk,
        "rule": "missing_address",
        "severity": "critical",
        "message": "Delivery order without an address.",
        "kind": "meituan",
        "external_id": "EV1",
        "display_id": "#EV1",
        "details": {},
    }
    outbox = OutboxEvent.objects.get(
        event_type="channels.order.anomaly", payload__rule="missing_address"
    )
    assert outbox.org_node_id == tree.store_a.pk


def test_a_failed_order_transaction_leaves_no_anomaly(tree, menu, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("after the subscribers")

    monkeypatch.setattr(intake, "_after_status", boom)
    with pytest.raises(RuntimeError):
        intake.apply_event(menu.meituan, order_event("TX1", address=""))
    assert not Order.objects.filter(external_id="TX1").exists()
    assert OrderAnomaly.objects.count() == 0 and anomaly_events() == []


def test_stuck_job_detects_resolves_and_is_idempotent(tree, menu):
    with clock.at(NOW):
        waiting = receive(menu.own_app, "SJ1")
        moving = receive(menu.meituan, "SJ2", status="accepted")
        receive(menu.meituan, "SJ3", status="completed")
        receive(menu.pos_b, "SJ4", status="received", address="")
    with clock.at(NOW + dt.timedelta(minutes=10)):
        assert detect_stuck_orders.call_local() == 0
    with clock.at(NOW + dt.timedelta(minutes=11)):
        assert detect_stuck_orders.call_local() == 2  # SJ1 and the store B till order
        assert detect_stuck_orders.call_local() == 0  # once
    assert open_rules(waiting) == {"stuck"}
    anomaly = OrderAnomaly.objects.get(order=waiting)
    assert anomaly.detected_at == NOW + dt.timedelta(minutes=11)
    assert anomaly.details["minutes"] == 11 and anomaly.fingerprint == "received"
    assert anomaly.message == "Received for 11 min (limit 10 min)."
    assert open_rules(moving) == set()
    with clock.at(NOW + dt.timedelta(minutes=46)):
        assert detect_stuck_orders.call_local() == 1  # SJ2, accepted 46 minutes
    # The order moves on: resolved at once by the status event.
    with clock.at(NOW + dt.timedelta(minutes=50)):
        accepted = status_event("SJ1", "accepted")
        intake.apply_event(menu.own_app, dataclasses.replace(accepted, occurred_at=clock.now()))
    anomaly.refresh_from_db()
    assert anomaly.resolved_at == NOW + dt.timedelta(minutes=50) and anomaly.resolution == "auto"
    # Stuck again in the next state, later: a new anomaly with the new fingerprint.
    with clock.at(NOW + dt.timedelta(minutes=96)):
        assert detect_stuck_orders.call_local() == 1
    assert OrderAnomaly.objects.get(order=waiting, resolved_at__isnull=True).fingerprint == (
        "accepted"
    )
    # An order that moved without an event (nothing to resolve it) is swept by the job.
    Order.objects.filter(pk=moving.pk).update(status="completed")
    with clock.at(NOW + dt.timedelta(minutes=97)):
        detect_stuck_orders.call_local()
    assert open_rules(moving) == set()
    assert len([event for event in anomaly_events() if event["rule"] == "stuck"]) == 4


def test_stuck_job_query_count_does_not_grow_with_orders(tree, menu):
    def sweep(count: int, prefix: str, start: dt.datetime) -> int:
        with clock.at(start):
            for number in range(count):
                receive(menu.own_app, f"{prefix}{number}")
        with clock.at(start + dt.timedelta(minutes=20)):
            with CaptureQueriesContext(connection) as queries:
                assert anomalies.detect_stuck() == count
        return len(queries)

    one = sweep(1, "SA", NOW)
    assert sweep(12, "SB", NOW + dt.timedelta(hours=1)) == one


def test_manual_resolution_with_a_note_is_audited_and_not_reopened(tree, menu):
    order = receive(menu.meituan, "MR1", original_price=D("10"), merchant_discount=D("8"))
    anomaly = OrderAnomaly.objects.get(order=order)
    manager = make_user("store_manager", tree.store_a)
    staff = make_user("store_staff", tree.store_a)
    with pytest.raises(PermissionDenied):
        anomalies.resolve_anomaly(anomaly, note="ok", actor=staff)
    with pytest.raises(ValidationFailed):
        anomalies.resolve_anomaly(anomaly, note="  ", actor=manager)
    assert OrderAnomaly.objects.get(pk=anomaly.pk).resolved_at is None
    with clock.at(NOW):
        resolved = anomalies.resolve_anomaly(anomaly, note="Owner's friend", actor=manager)
    assert resolved.resolved_at == NOW and resolved.resolution == "manual"
    assert resolved.resolved_by == manager and resolved.resolution_note == "Owner's friend"
    entry = AuditEntry.objects.get(action="channels.anomaly.resolve")
    assert entry.actor_id == manager.pk and entry.reason == "Owner's friend"
    with pytest.raises(anomalies.AnomalyResolved):
        anomalies.resolve_anomaly(anomaly, note="again", actor=manager)
    # The order moves on: the same condition is not raised again.
    intake.apply_event(menu.meituan, status_event("MR1", "accepted"))
    assert OrderAnomaly.objects.filter(order=order).count() == 1
    assert open_rules(order) == set()


# --- the till batch path -----------------------------------------------------------------------


def till(store, *, discount: str = "0", lines: int = 1) -> TillOrder:
    return TillOrder(
        uuid=uuid.uuid4(),
        store_id=store.site.pk,
        placed_at=timezone.now(),
        lines=[TillLine(sku="NOODLES", quantity=D(1), unit_price=D("20")) for _ in range(lines)],
        original_price=D("20") * lines,
        merchant_discount=D(discount),
        address="",  # never a delivery
    )


def test_a_till_batch_checks_only_discounts_in_constant_queries(tree, menu):
    orders = [till(tree.store_a) for _ in range(30)] + [till(tree.store_a, discount="15")]
    submit_orders(orders, actor=SYSTEM)
    flagged = OrderAnomaly.objects.get()
    assert flagged.rule == "high_discount" and flagged.order.pos_uuid == orders[-1].uuid
    assert len(anomaly_events()) == 1
    # Detection on a batch is set-wise: the same few queries for 1 or 40 orders.
    small = [Order.objects.get(pos_uuid=orders[0].uuid).pk]
    with CaptureQueriesContext(connection) as one:
        anomalies.detect_for_orders(small, is_new=True)
    many = list(Order.objects.values_list("pk", flat=True))
    with CaptureQueriesContext(connection) as all_of_them:
        anomalies.detect_for_orders(many, is_new=True)
    assert len(one) == 1  # a plain till sale is not even loaded
    assert len(all_of_them) == 2  # the discounted one, and its known anomalies


def test_an_own_app_batch_finds_duplicates_within_itself(tree, menu):
    first = till(tree.store_a)
    first = dataclasses.replace(first, channel="own_app", status="received", customer_phone="137")
    second = dataclasses.replace(
        first, uuid=uuid.uuid4(), placed_at=first.placed_at + dt.timedelta(minutes=1)
    )
    submit_orders([first, second], actor=SYSTEM)
    later = Order.objects.get(pos_uuid=second.uuid)
    assert open_rules(later) == {"duplicate_order"}
    assert open_rules(Order.objects.get(pos_uuid=first.uuid)) == set()


def test_distance_is_haversine():
    assert anomalies.distance_km(D(0), D(0), D(0), D(1)) == pytest.approx(111.19, abs=0.01)
    assert anomalies.distance_km(D("31.23"), D("121.47"), D("31.23"), D("121.47")) == 0


def test_unknown_messages_fall_back_to_the_rule_label():
    assert anomalies.describe("high_discount", {}) == "Discount above the limit"
    assert anomalies.describe("nonsense", {}) == "nonsense"
    assert isinstance(Decimal(limits().discount_limit_percent), Decimal)


def test_webhooks_subscribed_to_anomalies_get_them(tree, menu):
    from backroom.events.services import dispatch_outbox
    from backroom.webhooks.models import WebhookDelivery
    from backroom.webhooks.tests.helpers import make_endpoint

    store_a = make_endpoint(tree.store_a, event_types=["channels.order.anomaly"]).endpoint
    store_b = make_endpoint(tree.store_b, event_types=["channels.order.anomaly"]).endpoint
    dispatch_outbox()
    receive(menu.meituan, "WH1", address="")
    dispatch_outbox()
    delivery = WebhookDelivery.objects.get(event_type="channels.order.anomaly")
    assert delivery.endpoint_id == store_a.pk and delivery.endpoint_id != store_b.pk
    assert delivery.event.payload["rule"] == "missing_address"
