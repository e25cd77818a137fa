"""Intake and depletion scenarios through the services: orders, the status machine, reservations,
depletion once, restocking after a cancellation, unmapped lines caught up by a mapping."""

import datetime as dt
import json
import uuid

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from backroom.audit.models import AuditEntry
from backroom.channels import intake, services
from backroom.channels.choices import InboxStatus, OrderStatus
from backroom.channels.depletion import _sold_by_item
from backroom.channels.exceptions import InvalidTransition, OrderNotReceived
from backroom.channels.models import ChannelAccount, InboxMessage, Order, OrderHistory
from backroom.channels.pos import TillLine, TillOrder, submit_orders
from backroom.channels.tests.conftest import D, partial_refund, placed, status_event
from backroom.events.models import OutboxEvent
from backroom.inventory import services as inventory
from backroom.inventory.exceptions import InsufficientStock
from backroom.inventory.ledger_checks import balance_differences, valuation_differences
from backroom.inventory.models import Reservation, StockMove
from backroom.kernel.actors import SYSTEM
from backroom.testing.factories import make_user

pytestmark = pytest.mark.django_db


def sales(order):
    return {
        (move.item.sku, move.quantity)
        for move in StockMove.objects.filter(
            source_type="channels.order", source_id=str(order.pk), reason="sale"
        ).select_related("item")
    }


def test_a_completed_order_depletes_its_recipes_with_modifiers_and_sub_recipes_once(menu):
    event = placed("MT1", lines=[("NOODLES", "2")], modifiers=("extra-beef",), status="completed")
    # Meituan's modifier codes need a mapping; the POS fallback only applies to tills.
    services.save_mapping(
        account=menu.meituan,
        external_code="extra-beef",
        modifier=__import__("backroom.catalog.models", fromlist=["Modifier"]).Modifier.objects.get(
            code="extra-beef"
        ),
        actor=SYSTEM,
    )
    services.save_mapping(
        account=menu.meituan, external_code="NOODLES", item=menu.noodles, actor=SYSTEM
    )
    applied = intake.apply_event(menu.meituan, event)
    order = applied.order
    assert applied.created and order.status == "completed" and order.is_depleted
    assert sales(order) == {
        ("FLOUR", D("-0.400000")),
        ("SALT", D("-0.005000")),
        ("BEEF", D("-0.300000")),
    }
    assert menu.on_hand(menu.flour) == D("9.6") and menu.on_hand(menu.beef) == D("4.7")
    line = order.lines.get()
    assert line.is_depleted and line.depleted_quantity == 2 and line.menu_item == menu.noodles
    assert OutboxEvent.objects.filter(event_type="channels.order.depleted").count() == 1
    assert (
        AuditEntry.objects.filter(action="channels.order.receive", target_id=str(order.pk)).count()
        == 1
    )
    # Replays (same key) and a repeated completion (new key) change nothing.
    assert intake.apply_event(menu.meituan, event).replayed
    again = intake.apply_event(menu.meituan, status_event("MT1", "completed", key="done-2"))
    assert not again.is_applied and again.history.note
    assert len(sales(order)) == 3 and menu.on_hand(menu.flour) == D("9.6")
    assert balance_differences() == [] and valuation_differences() == []


def test_online_order_reserves_at_acceptance_and_completion_turns_it_into_consumption(menu):
    services.save_mapping(
        account=menu.meituan, external_code="NOODLES", item=menu.noodles, actor=SYSTEM
    )
    order = intake.apply_event(menu.meituan, placed("MT2")).order
    assert order.status == "received" and not order.is_reserved
    intake.apply_event(menu.meituan, status_event("MT2", "accepted"))
    order.refresh_from_db()
    assert order.is_reserved
    reserved = {
        (row.item.sku, row.quantity, row.status)
        for row in Reservation.objects.filter(source_id=str(order.pk)).select_related("item")
    }
    assert reserved == {
        ("FLOUR", D("0.200000"), "active"),
        ("SALT", D("0.002500"), "active"),
        ("BEEF", D("0.100000"), "active"),
    }
    intake.apply_event(menu.meituan, status_event("MT2", "preparing"))
    intake.apply_event(menu.meituan, status_event("MT2", "completed"))
    order.refresh_from_db()
    assert order.status == "completed" and order.is_depleted and not order.is_reserved
    assert set(
        Reservation.objects.filter(source_id=str(order.pk)).values_list("status", flat=True)
    ) == {"fulfilled"}
    assert menu.on_hand(menu.beef) == D("4.9")
    history = list(order.history.values_list("from_status", "to_status", "is_applied"))
    assert history == [
        ("", "received", True),
        ("received", "accepted", True),
        ("accepted", "preparing", True),
        ("preparing", "completed", True),
    ]


def test_out_of_order_status_is_recorded_and_changes_nothing(menu):
    intake.apply_event(menu.meituan, placed("MT3", status="accepted"))
    intake.apply_event(menu.meituan, status_event("MT3", "ready"))
    late = intake.apply_event(menu.meituan, status_event("MT3", "preparing"))
    order = Order.objects.get(external_id="MT3")
    assert order.status == "ready" and not late.is_applied
    row = OrderHistory.objects.get(order=order, event_key="preparing")
    assert (row.from_status, row.to_status, row.is_applied) == ("ready", "ready", False)
    assert row.event["status"] == "preparing"


def test_a_status_before_its_order_is_not_received_yet(menu):
    with pytest.raises(OrderNotReceived):
        intake.apply_event(menu.meituan, status_event("MT404", "accepted"))
    assert not Order.objects.exists()


def test_unknown_sku_is_kept_flagged_and_depletes_once_mapped(menu):
    order = intake.apply_event(
        menu.meituan, placed("MT4", lines=[("MT-NOODLE-L", "1"), ("TEA", "1")], status="completed")
    ).order
    assert order.unmapped_lines == 2 and not order.is_depleted
    assert list(order.lines.values_list("is_unmapped", flat=True)) == [True, True]
    assert sales(order) == set()
    _mapping, caught_up = services.save_mapping(
        account=menu.meituan,
        external_code="MT-NOODLE-L",
        item=menu.noodles,
        modifier_codes=["extra-beef"],
        actor=SYSTEM,
    )
    assert caught_up == 1
    order.refresh_from_db()
    assert order.unmapped_lines == 1 and not order.is_depleted
    assert sales(order) == {
        ("FLOUR", D("-0.200000")),
        ("SALT", D("-0.002500")),
        ("BEEF", D("-0.150000")),
    }
    # Saving the mapping again catches nothing up and depletes nothing twice.
    assert (
        services.save_mapping(
            account=menu.meituan, external_code="MT-NOODLE-L", item=menu.noodles, actor=SYSTEM
        )[1]
        == 0
    )
    assert len(sales(order)) == 3


def test_cancellation_after_depletion_returns_stock_under_the_return_policy(menu):
    services.save_mapping(
        account=menu.meituan, external_code="NOODLES", item=menu.noodles, actor=SYSTEM
    )
    intake.apply_event(menu.meituan, placed("MT5", status="completed"))
    assert menu.on_hand(menu.flour) == D("9.8")
    intake.apply_event(menu.meituan, status_event("MT5", "cancelled"))
    order = Order.objects.get(external_id="MT5")
    assert order.status == "cancelled" and order.is_restocked
    assert menu.on_hand(menu.flour) == 10 and menu.on_hand(menu.beef) == 5
    assert StockMove.objects.filter(reason="reversal").count() == 3
    assert not StockMove.objects.filter(reason="waste").exists()
    # A replayed cancellation restocks nothing twice.
    intake.apply_event(menu.meituan, status_event("MT5", "cancelled", key="cancel-again"))
    assert StockMove.objects.filter(reason="reversal").count() == 3
    assert balance_differences() == [] and valuation_differences() == []


def test_cancellation_after_depletion_is_waste_under_the_waste_policy(menu):
    intake.apply_event(menu.own_app, placed("APP1", status="completed"))
    intake.apply_event(menu.own_app, status_event("APP1", "refunded"))
    order = Order.objects.get(external_id="APP1")
    assert order.status == "refunded" and order.refunded_amount == D("18.00")
    assert menu.on_hand(menu.flour) == D("9.8")  # made and thrown away
    assert {
        (sku, quantity)
        for sku, quantity in StockMove.objects.filter(reason="waste").values_list(
            "item__sku", "quantity"
        )
    } == {("FLOUR", D("-0.2")), ("SALT", D("-0.0025")), ("BEEF", D("-0.1"))}
    assert balance_differences() == [] and valuation_differences() == []


def test_partial_refund_after_completion_returns_that_part(menu):
    intake.apply_event(menu.pos, placed("P1", lines=[("NOODLES", "2")], status="completed"))
    intake.apply_event(menu.pos, partial_refund("P1", "NOODLES", "1"))
    order = Order.objects.get(external_id="P1")
    assert order.status == "partially_refunded" and order.refunded_amount == D("27.00") - D("18.00")
    line = order.lines.get()
    assert (line.refunded_quantity, line.restocked_quantity) == (1, 1)
    # POS accounts default to "waste": returned as an adjustment, then wasted.
    assert menu.on_hand(menu.flour) == D("9.6")
    assert StockMove.objects.filter(reason="adjustment").count() == 3
    assert StockMove.objects.filter(reason="waste").count() == 3
    # Then the whole order is refunded: only the rest is restocked.
    intake.apply_event(menu.pos, status_event("P1", "refunded"))
    line.refresh_from_db()
    assert line.restocked_quantity == 2
    assert StockMove.objects.filter(reason="waste").count() == 6
    assert balance_differences() == [] and valuation_differences() == []


def test_each_depletion_is_one_move_per_ingredient_and_refunds_return_their_lines(menu):
    """Lines depleted together are summed per ingredient (key `:D<first line>`); a line mapped
    later is a depletion of its own. A partial refund returns exactly its line's ingredients at
    the sale's unit cost; the rest comes back when the order is cancelled."""
    services.save_mapping(
        account=menu.meituan, external_code="NOODLES", item=menu.noodles, actor=SYSTEM
    )
    event = placed(
        "MT9", lines=[("NOODLES", "2"), ("MT-NOODLE-L", "1"), ("NOODLES", "1")], status="completed"
    )
    order = intake.apply_event(menu.meituan, event).order
    services.save_mapping(
        account=menu.meituan,
        external_code="MT-NOODLE-L",
        item=menu.noodles,
        modifier_codes=["extra-beef"],
        actor=SYSTEM,
    )
    prefix = f"ch:o{order.pk:010d}"
    moves = {
        move.idempotency_key: move
        for move in StockMove.objects.filter(source_id=str(order.pk), reason="sale")
    }
    # Lines 1 and 3 (3 bowls) in one depletion, line 2 (1 bowl, extra beef) later in its own.
    assert {key: move.quantity for key, move in moves.items()} == {
        f"{prefix}:D1:I{menu.flour.pk}": D("-0.6"),
        f"{prefix}:D1:I{menu.salt.pk}": D("-0.0075"),
        f"{prefix}:D1:I{menu.beef.pk}": D("-0.3"),
        f"{prefix}:D2:I{menu.flour.pk}": D("-0.2"),
        f"{prefix}:D2:I{menu.salt.pk}": D("-0.0025"),
        f"{prefix}:D2:I{menu.beef.pk}": D("-0.15"),
    }
    assert menu.on_hand(menu.flour) == D("9.2") and menu.on_hand(menu.beef) == D("4.55")

    intake.apply_event(menu.meituan, partial_refund("MT9", "MT-NOODLE-L", "1"))
    returned = {
        move.item_id: move
        for move in StockMove.objects.filter(source_id=str(order.pk), reason="adjustment")
    }
    assert {item: move.quantity for item, move in returned.items()} == {
        menu.flour.pk: D("0.2"),
        menu.salt.pk: D("0.0025"),
        menu.beef.pk: D("0.15"),
    }
    beef_sale = moves[f"{prefix}:D2:I{menu.beef.pk}"]
    assert returned[menu.beef.pk].unit_cost == beef_sale.unit_cost
    assert returned[menu.beef.pk].value == -beef_sale.value  # the same beef, at its cost
    assert menu.on_hand(menu.flour) == D("9.4") and menu.on_hand(menu.beef) == D("4.7")

    # Cancelled: lines 1 and 3 come back; line 2 is not returned twice.
    intake.apply_event(menu.meituan, status_event("MT9", "cancelled"))
    assert menu.on_hand(menu.flour) == 10 and menu.on_hand(menu.salt) == 1
    assert menu.on_hand(menu.beef) == 5
    assert sorted(order.lines.values_list("line_no", "restocked_quantity")) == [
        (1, 2),
        (2, 1),
        (3, 1),
    ]
    assert not StockMove.objects.filter(reason="reversal").exists()  # not whole: a part went before
    assert balance_differences() == [] and valuation_differences() == []


def test_depletion_short_of_stock_is_kept_as_a_problem_and_retried(menu):
    order = intake.apply_event(
        menu.pos, placed("P2", lines=[("NOODLES", "60")], status="completed")
    ).order
    assert order.status == "completed" and not order.is_depleted
    assert "FLOUR" in order.depletion_error
    assert sales(order) == set() and menu.on_hand(menu.flour) == 10
    inventory.receive(
        item=menu.flour,
        location=menu.walk_in,
        quantity=D(5),
        unit_cost=D(4),
        key="more",
        actor=SYSTEM,
    )
    inventory.receive(
        item=menu.beef,
        location=menu.walk_in,
        quantity=D(5),
        unit_cost=D(60),
        key="more-b",
        actor=SYSTEM,
    )
    intake.deplete_pending(order)
    order.refresh_from_db()
    assert order.is_depleted and order.depletion_error == ""
    assert menu.on_hand(menu.flour) == D(3)


def test_strict_acceptance_short_of_stock_changes_nothing(menu):
    order = intake.apply_event(menu.own_app, placed("APP2", lines=[("NOODLES", "60")])).order
    staff = make_user("store_staff", order.site.node)
    with pytest.raises(InsufficientStock):
        intake.change_status(order, status="accepted", actor=staff, key="k1")
    order.refresh_from_db()
    assert order.status == "received" and not Reservation.objects.exists()
    with pytest.raises(InvalidTransition):
        intake.change_status(order, status="partially_refunded", actor=staff, key="k2")
    done = intake.change_status(order, status="cancelled", actor=staff, key="k3")
    assert done.order.status == "cancelled"
    with pytest.raises(InvalidTransition):
        intake.change_status(order, status="accepted", actor=staff, key="k4")
    # The same key again is a replay.
    assert intake.change_status(order, status="cancelled", actor=staff, key="k3").replayed


def test_inbox_stores_verbatim_and_processes_till_orders_and_keeps_failures(menu):
    payload = json.dumps(
        {
            "uuid": "6f1c7d2e-1111-4a2b-9c3d-000000000001",
            "store_id": menu.pos.site_id,
            "placed_at": "2026-12-04T12:00:00+08:00",
            "lines": [{"sku": "NOODLES", "quantity": "1"}],
        }
    )
    message, created = intake.receive_message(
        menu.pos,
        payload=payload,
        external_order_id="6f1c7d2e-1111-4a2b-9c3d-000000000001",
        event_key="pos:resent",
        process=False,
    )
    assert created and message.payload == payload
    again, created = intake.receive_message(
        menu.pos,
        payload=payload,
        external_order_id="6f1c7d2e-1111-4a2b-9c3d-000000000001",
        event_key="pos:resent",
        process=False,
    )
    assert not created and again.pk == message.pk
    done = intake.process_message(message.pk)
    assert done.status == InboxStatus.PROCESSED and done.order.status == "completed"
    assert done.order.is_depleted and done.order.business_date.isoformat() == "2026-12-04"
    bad, _created = intake.receive_message(menu.pos, payload="{not json", process=False)
    failed = intake.process_message(bad.pk)
    assert failed.status == InboxStatus.FAILED and failed.attempts == 1
    assert failed.reason.startswith("unparseable_payload")
    assert InboxMessage.objects.get(pk=bad.pk).payload == "{not json"


def test_credentials_are_encrypted_at_rest(menu):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT secrets FROM channels_channelaccount WHERE id = %s", [menu.meituan.pk]
        )
        stored = cursor.fetchone()[0]
    assert "s3cret" not in stored and stored.startswith("gAAAA")
    assert ChannelAccount.objects.get(pk=menu.meituan.pk).secrets == {
        "app_id": "42",
        "app_secret": "s3cret",
    }
    entry = AuditEntry.objects.get(action="channels.account.create", target_id=str(menu.meituan.pk))
    assert "s3cret" not in str(entry.after)


def test_a_menu_item_without_recipe_keeps_its_problem_and_the_rest_depletes(menu):
    order = intake.apply_event(
        menu.pos, placed("P3", lines=[("NOODLES", "1"), ("TEA", "1")], status="completed")
    ).order
    noodles, tea = order.lines.order_by("line_no")
    assert noodles.is_depleted and not tea.is_depleted and tea.depletion_error
    assert not order.is_depleted and sales(order) == {
        ("FLOUR", D("-0.200000")),
        ("SALT", D("-0.002500")),
        ("BEEF", D("-0.100000")),
    }


def test_the_worker_applies_a_stored_push_after_commit_and_retries_failures(
    menu, django_capture_on_commit_callbacks
):
    def parse(account, payload, content_type):
        if payload == "later":
            return [status_event("W1", "accepted", key="acc")]
        return [placed("W1", key="placed")]

    previous = intake._PARSERS.get("meituan")
    intake.register_parser("meituan", parse)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            early, _created = intake.receive_message(
                menu.meituan, payload="later", external_order_id="W1", event_key="acc"
            )
        early.refresh_from_db()
        assert early.status == InboxStatus.FAILED and early.reason.startswith("order_not_received")
        with django_capture_on_commit_callbacks(execute=True):
            message, _created = intake.receive_message(
                menu.meituan, payload="new", external_order_id="W1", event_key="placed"
            )
        message.refresh_from_db()
        assert message.status == InboxStatus.PROCESSED and message.order.external_id == "W1"
        InboxMessage.objects.filter(pk=early.pk).update(
            received_at=early.received_at - dt.timedelta(minutes=5)
        )
        assert intake.retry_failed() == 1
        early.refresh_from_db()
        assert early.status == InboxStatus.PROCESSED and early.attempts == 2
        assert Order.objects.get(external_id="W1").status == OrderStatus.ACCEPTED
    finally:
        intake._PARSERS.pop("meituan", None)
        if previous is not None:
            intake.register_parser("meituan", previous)


def test_a_refund_values_an_ingredient_sold_from_several_lots_at_their_average_cost():
    """Golden numbers: 0.3 kg at 60.00 and 0.1 kg at 64.00 sold → 61.00 a kg returned; one row
    keeps its own cost to the last place."""
    rows = [
        StockMove(item_id=7, location_id=3, quantity=D("-0.3"), unit_cost=D(60), value=D("-18")),
        StockMove(item_id=7, location_id=3, quantity=D("-0.1"), unit_cost=D(64), value=D("-6.4")),
        StockMove(
            item_id=9, location_id=4, quantity=D("-0.002"), unit_cost=D("3.1234567891"), value=0
        ),
    ]
    assert _sold_by_item(rows) == {
        7: (3, D("0.4"), D("61.0000000000")),
        9: (4, D("0.002"), D("3.1234567891")),
    }


def test_a_till_order_is_found_by_its_uuid_and_the_others_by_their_external_id(menu):
    # Decision 0014: a till order is unique by its UUID alone; the lookups find every order
    # by (account, external id) all the same, through the index that holds it.
    till_id = "6f1c7d2e-2222-4a2b-9c3d-000000000002"
    till = intake.apply_event(menu.own_app, placed(till_id, status="completed")).order
    plain = intake.apply_event(menu.own_app, placed("APP-77", status="completed")).order
    platform = intake.apply_event(menu.meituan, placed(till_id)).order
    assert (till.pos_uuid, plain.pos_uuid, platform.pos_uuid) == (
        uuid.UUID(till_id),
        None,
        None,
    )

    def found(account: ChannelAccount, *ids: str) -> set[int]:
        pks = set(
            Order.objects.filter(intake.by_external_ids(account, ids)).values_list("pk", flat=True)
        )
        if len(ids) == 1:  # the one-id filter finds the same
            assert pks == {
                order.pk for order in Order.objects.filter(intake.by_external_id(account, ids[0]))
            }
        return pks

    assert found(menu.own_app, till_id) == {till.pk}
    assert found(menu.own_app, "APP-77") == {plain.pk}
    assert found(menu.meituan, till_id) == {platform.pk}
    assert found(menu.own_app, till_id, "APP-77", "nothing") == {till.pk, plain.pk}
    assert found(menu.own_app, till_id.upper()) == set()  # the same UUID, spelt otherwise
    assert found(menu.pos, till_id) == set()  # another account's
    # Replays find their order; each order has its one history entry.
    assert intake.apply_event(menu.own_app, placed(till_id, status="completed")).replayed
    assert intake.apply_event(menu.meituan, placed(till_id)).replayed
    assert OrderHistory.objects.filter(order__in=[till, plain, platform]).count() == 3
    # The database still refuses a second order with an external id already in the account.
    for account, external_id in ((menu.meituan, till_id), (menu.own_app, "APP-77")):
        twin = Order.objects.get(account=account, external_id=external_id)
        twin.pk = None
        with pytest.raises(IntegrityError), transaction.atomic():
            twin.save(force_insert=True)
    twin = Order.objects.get(pk=till.pk)
    twin.pk, twin.account = None, menu.pos  # the same UUID in another account
    with pytest.raises(IntegrityError), transaction.atomic():
        twin.save(force_insert=True)


def test_a_till_message_is_unique_per_order_and_the_inbox_refuses_its_key(menu):
    [result] = submit_orders(
        [
            TillOrder(
                uuid=uuid.uuid4(),
                store_id=menu.pos.site_id,
                placed_at=timezone.now(),
                lines=[TillLine(sku="NOODLES", quantity=D(1))],
            )
        ],
        actor=SYSTEM,
    )
    message = InboxMessage.objects.get(order=result.order)
    message.pk = None
    with pytest.raises(IntegrityError), transaction.atomic():
        message.save(force_insert=True)
    with pytest.raises(ValueError):
        intake.receive_message(
            menu.pos,
            payload="{}",
            external_order_id=message.external_order_id,
            event_key="pos:placed",
        )
    assert InboxMessage.objects.count() == 1
