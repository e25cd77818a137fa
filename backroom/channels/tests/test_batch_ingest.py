"""Till batches are applied set-wise (`intake.receive_orders`, `depletion.deplete_new`): one
ledger call for the whole batch, events published together, one audit entry. The outcome must
be the one of applying the orders one by one: golden numbers below."""

import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backroom.audit.models import AuditEntry
from backroom.channels import depletion, intake, services
from backroom.channels.choices import TILL_PLACED
from backroom.channels.models import InboxMessage, Order, OrderHistory, OrderLine
from backroom.channels.pos import TillLine, TillModifier, TillOrder, submit_orders
from backroom.channels.tests.conftest import D, partial_refund
from backroom.events import services as events
from backroom.events.models import OutboxEvent
from backroom.inventory.ledger_checks import balance_differences, valuation_differences
from backroom.inventory.models import StockMove, StockPosting
from backroom.kernel.actors import SYSTEM
from backroom.testing.factories import make_user, token_client_for

pytestmark = pytest.mark.django_db

PLACED_AT = "2026-12-04T12:30:00+08:00"


def body(store_id, *lines, key=None, placed_at=PLACED_AT):
    """A till order; lines are (sku, quantity) or (sku, quantity, modifier code)."""
    return {
        "uuid": str(key or uuid.uuid4()),
        "store_id": store_id,
        "placed_at": placed_at,
        "lines": [
            {
                "sku": line[0],
                "quantity": line[1],
                "unit_price": "18.00",
                "modifiers": [{"code": code} for code in line[2:]],
            }
            for line in lines
        ],
    }


def post_batch(client, orders):
    return client.post(
        "/api/v1/channels/pos/batches", {"orders": orders}, content_type="application/json"
    )


def sales(order=None, *, batch=None):
    """The sale moves of an order's own, or of a batch named by its first order."""
    source = ("channels.order", order.pk) if batch is None else ("channels.orders", batch)
    return sorted(
        (move.idempotency_key, move.quantity)
        for move in StockMove.objects.filter(
            source_type=source[0], source_id=str(source[1]), reason="sale"
        )
    )


def test_a_batch_of_new_replayed_and_unmapped_orders_depletes_exactly_the_new_mapped_lines(
    tree, menu
):
    client = token_client_for(make_user("hq_admin", tree.group), "integration", tree.store_a)
    site = tree.store_a.site.pk
    first = body(site, ("NOODLES", "1", "extra-beef"))
    assert post_batch(client, [first]).status_code == 201
    after_first = StockMove.objects.filter(reason="sale").count()
    orders = [
        first,  # replayed: nothing again
        body(site, ("NOODLES", "2", "extra-beef")),
        body(site, ("NOODLES", "1"), ("MYSTERY", "3")),  # an unmapped line: kept, flagged
        body(site, ("TEA", "1"), ("NOODLES", "1")),  # TEA has no recipe: its own problem
    ]
    channel_audits = AuditEntry.objects.filter(action__startswith="channels.")
    audits = channel_audits.count()
    events_before = OutboxEvent.objects.count()
    response = post_batch(client, orders)
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["created"], data["replayed"]) == (3, 1)
    assert [row["replayed"] for row in data["results"]] == [True, False, False, False]
    new = [Order.objects.get(pk=row["order"]["id"]) for row in data["results"][1:]]
    two, unmapped, tea = new
    # One bowl: FLOUR 0.2, SALT 0.0025, BEEF 0.1; extra beef +0.05 per bowl. The three new
    # orders' 4 bowls (2 of them with extra beef) post one move per ingredient (decision 0017),
    # named by the batch's first order and dated in the quarter hour from 04:30 UTC.
    batch = min(order.pk for order in new)
    location = menu.walk_in.pk
    prefix = f"ch:o{batch:010d}:B20261204T0430:L{location}:I"
    assert sales(batch=batch) == sorted(
        [
            (f"{prefix}{menu.flour.pk}", D("-0.8")),
            (f"{prefix}{menu.salt.pk}", D("-0.01")),
            (f"{prefix}{menu.beef.pk}", D("-0.5")),
        ]
    )
    assert not any(sales(order) for order in new)
    assert StockMove.objects.filter(reason="sale").count() == after_first + 3
    # The lines depleted name the batch; the unmapped line and the tea without a recipe do not.
    assert sorted(
        (line.order_id, line.line_no)
        for line in OrderLine.objects.filter(order__in=new, sale_batch=batch)
    ) == sorted([(two.pk, 1), (unmapped.pk, 1), (tea.pk, 2)])
    # 5 bowls in all (1 + 2 + 1 + 1), 3 of them with extra beef.
    assert menu.on_hand(menu.flour) == D("9.0")
    assert menu.on_hand(menu.salt) == D("0.9875")
    assert menu.on_hand(menu.beef) == D("4.35")
    assert two.is_depleted and not two.depletion_error and two.unmapped_lines == 0
    assert not unmapped.is_depleted and unmapped.unmapped_lines == 1
    assert not tea.is_depleted and tea.depletion_error == ""
    lines = {(line.order_id, line.line_no): line for line in OrderLine.objects.all()}
    assert lines[(unmapped.pk, 2)].is_unmapped and not lines[(unmapped.pk, 2)].is_depleted
    assert lines[(unmapped.pk, 1)].is_depleted
    assert lines[(unmapped.pk, 1)].depleted_quantity == D(1)
    assert lines[(tea.pk, 1)].depletion_error and not lines[(tea.pk, 1)].is_depleted
    assert lines[(tea.pk, 2)].is_depleted
    # One ledger document for the batch's three orders.
    assert StockMove.objects.filter(source_id=str(batch)).values("posting").distinct().count() == 1
    # Inbox (processed), history, events per order; one audit entry listing the orders.
    for order, sent in zip(new, orders[1:], strict=True):
        message = InboxMessage.objects.get(external_order_id=sent["uuid"])
        assert (message.status, message.order_id, message.event_key) == (
            "processed",
            order.pk,
            TILL_PLACED,
        )
        history = OrderHistory.objects.get(order=order)
        assert (history.to_status, history.inbox_id, history.is_applied) == (
            "completed",
            message.pk,
            True,
        )
        assert order.completed_at == order.placed_at and order.status == "completed"
    published = list(OutboxEvent.objects.filter(pk__gt=0).order_by("id"))[events_before:]
    received = [e.payload for e in published if e.event_type == "channels.order.received"]
    depleted = [e.payload for e in published if e.event_type == "channels.order.depleted"]
    assert [p["order_id"] for p in received] == [o.pk for o in new]
    assert [p["unmapped_lines"] for p in received] == [0, 1, 0]
    assert {p["status"] for p in received} == {"completed"}
    assert [(p["order_id"], p["lines"]) for p in depleted] == [
        (two.pk, [1]),
        (unmapped.pk, [1]),
        (tea.pk, [2]),
    ]
    assert channel_audits.count() == audits + 1
    entry = channel_audits.latest("id")
    assert entry.action == "channels.order.receive_batch"
    assert [row["id"] for row in entry.after["orders"]] == [o.pk for o in new]
    # The same batch again: every order replayed, nothing changes.
    moves = StockMove.objects.count()
    again = post_batch(client, orders)
    assert again.status_code == 200 and again.json()["replayed"] == 4
    assert StockMove.objects.count() == moves and Order.objects.count() == 4
    # Mapping the unknown SKU depletes its lines once, however often it is saved.
    for _ in range(2):
        services.save_mapping(
            account=menu.pos, external_code="MYSTERY", item=menu.noodles, actor=SYSTEM
        )
    unmapped.refresh_from_db()
    assert unmapped.is_depleted and unmapped.unmapped_lines == 0
    assert menu.on_hand(menu.beef) == D("4.05")  # 3 more bowls


def test_an_order_the_ledger_refuses_keeps_its_reason_and_the_others_deplete_as_one_by_one(
    tree, menu
):
    """Beef (forbid negatives) is 5 kg, 0.1 kg a bowl. One by one: 10 bowls fit (4 kg left),
    50 do not, 20 fit (2 kg left), 30 do not, 2 fit (1.8 kg left)."""
    client = token_client_for(make_user("hq_admin", tree.group), "integration", tree.store_a)
    site = tree.store_a.site.pk
    bowls = ["10", "50", "20", "30", "2"]
    response = post_batch(client, [body(site, ("NOODLES", count)) for count in bowls])
    assert response.status_code == 201, response.content
    orders = [Order.objects.get(pk=row["order"]["id"]) for row in response.json()["results"]]
    assert [order.is_depleted for order in orders] == [True, False, True, False, True]
    assert [bool(order.depletion_error) for order in orders] == [False, True, False, True, False]
    assert "BEEF" in orders[1].depletion_error or "beef" in orders[1].depletion_error.lower()
    assert [StockMove.objects.filter(source_id=str(o.pk)).count() for o in orders] == [
        3,
        0,
        3,
        0,
        3,
    ]
    assert not OrderLine.objects.filter(order__in=[orders[1], orders[3]], is_depleted=True)
    # The batch's sums were refused (11.2 kg of beef), so each order posted its own moves.
    assert not StockMove.objects.filter(source_type="channels.orders").exists()
    assert not OrderLine.objects.filter(sale_batch__isnull=False).exists()
    assert menu.on_hand(menu.beef) == D("1.8")
    assert menu.on_hand(menu.flour) == D("3.6")
    assert menu.on_hand(menu.salt) == D("0.92")
    depleted = OutboxEvent.objects.filter(event_type="channels.order.depleted")
    assert sorted(e.payload["order_id"] for e in depleted) == sorted(
        orders[i].pk for i in (0, 2, 4)
    )
    # Stock received later: the refused orders deplete once, with their own keys.
    from backroom.inventory import services as inventory

    inventory.receive(
        item=menu.beef,
        location=menu.walk_in,
        quantity=D(10),
        unit_cost=D(60),
        key="more-beef",
        actor=SYSTEM,
    )
    inventory.receive(
        item=menu.flour,
        location=menu.walk_in,
        quantity=D(20),
        unit_cost=D(4),
        key="more-flour",
        actor=SYSTEM,
    )
    for order in (orders[1], orders[3], orders[1]):
        intake.deplete_pending(order)
    assert Order.objects.filter(is_depleted=True).count() == 5
    assert menu.on_hand(menu.beef) == D("3.8")


def test_a_batch_sums_its_orders_per_business_day_and_quarter_hour(tree, menu):
    """Store A's day ends at 04:00 local (UTC+8). The first two orders share the quarter hour
    from 04:30 UTC, the third starts the next one, the fourth is the next business day."""
    client = token_client_for(make_user("hq_admin", tree.group), "integration", tree.store_a)
    site = tree.store_a.site.pk
    times = [
        "2026-12-04T12:30:00+08:00",
        "2026-12-04T12:44:59+08:00",
        "2026-12-04T12:45:00+08:00",
        "2026-12-05T12:30:00+08:00",
    ]
    sent = [
        body(site, ("NOODLES", str(bowls), "extra-beef"), placed_at=at)
        for bowls, at in zip((1, 2, 3, 4), times, strict=True)
    ]
    response = post_batch(client, sent)
    assert response.status_code == 201, response.content
    orders = [Order.objects.get(pk=row["order"]["id"]) for row in response.json()["results"]]
    assert [order.business_date.isoformat() for order in orders] == [
        "2026-12-04",
        "2026-12-04",
        "2026-12-04",
        "2026-12-05",
    ]
    batch = min(order.pk for order in orders)
    moves = StockMove.objects.filter(source_type="channels.orders", source_id=str(batch))
    prefix = f"ch:o{batch:010d}:B"
    # A bowl with extra beef: FLOUR 0.2, SALT 0.0025, BEEF 0.15.
    per_bowl = {menu.flour.pk: D("0.2"), menu.salt.pk: D("0.0025"), menu.beef.pk: D("0.15")}
    expected = {
        f"{prefix}{window}:L{menu.walk_in.pk}:I{item}": -amount * bowls
        for window, bowls in (("20261204T0430", 3), ("20261204T0445", 3), ("20261205T0430", 4))
        for item, amount in per_bowl.items()
    }
    assert {move.idempotency_key: move.quantity for move in moves} == expected
    # Named on the stock movements page by the first order as the till knows it, and the count.
    opening = Order.objects.get(pk=batch)
    assert {move.source_number for move in moves} == {f"{opening.external_id} … (4)"}
    # Each move is dated by the last order of its quarter hour.
    assert {move.idempotency_key.split(":")[2]: move.occurred_at.isoformat() for move in moves} == {
        "B20261204T0430": "2026-12-04T04:44:59+00:00",
        "B20261204T0445": "2026-12-04T04:45:00+00:00",
        "B20261205T0430": "2026-12-05T04:30:00+00:00",
    }
    assert menu.on_hand(menu.beef) == D("5") - D("0.15") * 10
    assert balance_differences() == [] and valuation_differences() == []
    # Each order's lines name the batch, and find the moves of its own business day.
    for order in orders:
        lines = list(order.lines.all())
        assert {line.sale_batch for line in lines} == {batch}
        days = {
            move.idempotency_key.split(":")[2][1:9] for move in depletion.sale_moves(order, lines)
        }
        assert days == {order.business_date.strftime("%Y%m%d")}


def test_a_refund_of_an_order_depleted_in_a_batch_returns_its_own_share_at_the_sale_cost(
    tree, menu
):
    """Opening stock: FLOUR 10 kg at 4.00, SALT 1 kg at 2.00, BEEF 5 kg at 60.00."""
    menu.pos.after_depletion = "return"
    menu.pos.save(update_fields=["after_depletion"])
    client = token_client_for(make_user("hq_admin", tree.group), "integration", tree.store_a)
    site = tree.store_a.site.pk
    sent = [body(site, ("NOODLES", "1")), body(site, ("NOODLES", "2", "extra-beef"))]
    assert post_batch(client, sent).status_code == 201
    one, two = (Order.objects.get(external_id=order["uuid"]) for order in sent)
    assert one.lines.get().sale_batch == two.lines.get().sale_batch is not None
    # 3 bowls, 2 with extra beef.
    assert (menu.on_hand(menu.flour), menu.on_hand(menu.beef)) == (D("9.4"), D("4.6"))

    intake.apply_event(menu.pos, partial_refund(sent[1]["uuid"], "NOODLES", "1"))
    # One bowl with extra beef comes back: FLOUR 0.2, SALT 0.0025, BEEF 0.15, at the sale's cost.
    returned = StockMove.objects.filter(source_type="channels.order", source_id=str(two.pk))
    assert sorted((move.item_id, move.quantity, move.value) for move in returned) == sorted(
        [
            (menu.flour.pk, D("0.2"), D("0.80")),
            (menu.salt.pk, D("0.0025"), D("0.005")),
            (menu.beef.pk, D("0.15"), D("9.00")),
        ]
    )
    assert (menu.on_hand(menu.flour), menu.on_hand(menu.beef)) == (D("9.6"), D("4.75"))

    # A whole refund of the other order: an adjustment too, since the batch's moves also hold
    # the first order's sale; they are never reversed.
    intake.change_status(one, status="refunded", actor=SYSTEM, key="refund-one")
    intake.change_status(one, status="refunded", actor=SYSTEM, key="refund-one")  # a replay
    assert (menu.on_hand(menu.flour), menu.on_hand(menu.beef)) == (D("9.8"), D("4.85"))
    assert menu.on_hand(menu.salt) == D("0.9975")
    assert not StockMove.objects.filter(reverses__isnull=False).exists()
    assert StockMove.objects.filter(source_type="channels.orders").count() == 3
    assert balance_differences() == [] and valuation_differences() == []


def test_a_batch_posts_one_ledger_document_and_publishes_the_events_together(tree, menu):
    seen: list[list[int]] = []

    def handler(outbox_events):
        seen.append([e.payload["order_id"] for e in outbox_events])

    events.subscribe_many("channels.order.received", name="test.batch")(handler)
    try:
        orders = [
            TillOrder(
                uuid=uuid.uuid4(),
                store_id=tree.store_a.site.pk,
                placed_at=Order._meta.get_field("placed_at").to_python(PLACED_AT),
                lines=[TillLine("NOODLES", Decimal(1), modifiers=[TillModifier("extra-beef")])],
            )
            for _ in range(3)
        ]
        postings = StockPosting.objects.count()
        with CaptureQueriesContext(connection) as captured:
            results = submit_orders(orders, actor=SYSTEM)
        assert StockPosting.objects.count() == postings + 1
        # Inserted depleted, as they end: the orders are not updated afterwards.
        assert all(Order.objects.get(pk=result.order.pk).is_depleted for result in results)
        order_table = Order._meta.db_table
        assert not [
            query["sql"]
            for query in captured.captured_queries
            if query["sql"].startswith(f'UPDATE "{order_table}"')
        ]
        assert seen == [[result.order.pk for result in results]]
        # A single order goes through the same path: a list of one.
        submit_orders([TillOrder(**{**orders[0].__dict__, "uuid": uuid.uuid4()})], actor=SYSTEM)
        assert len(seen) == 2 and len(seen[1]) == 1
        assert AuditEntry.objects.filter(action="channels.order.receive").count() == 1
    finally:
        events._subscribers[:] = [s for s in events._subscribers if s.name != "test.batch"]


def test_receive_orders_writes_nothing_when_an_order_exists_already(tree, menu):
    """A concurrent request inserted one of the orders: the batch is applied one by one."""
    key = uuid.uuid4()
    till = TillOrder(
        uuid=key,
        store_id=tree.store_a.site.pk,
        placed_at=Order._meta.get_field("placed_at").to_python(PLACED_AT),
        lines=[TillLine("NOODLES", Decimal(1))],
    )
    from backroom.channels.pos import _payload, parse_till_order

    payload = _payload(till)
    event = parse_till_order(menu.pos, payload, "application/json")[0]
    intake.apply_event(menu.pos, event)
    before = (Order.objects.count(), InboxMessage.objects.count(), StockMove.objects.count())
    other = TillOrder(**{**till.__dict__, "uuid": uuid.uuid4()})
    other_payload = _payload(other)
    entries = [
        intake.NewOrder(parse_till_order(menu.pos, p, "")[0], p) for p in (other_payload, payload)
    ]
    assert intake.receive_orders(menu.pos, entries) is None
    assert (Order.objects.count(), InboxMessage.objects.count(), StockMove.objects.count()) == (
        before
    )


def test_explosions_kept_across_requests_follow_recipe_changes(tree, menu):
    import datetime as dt
    from zoneinfo import ZoneInfo

    from django.utils import timezone

    from backroom.catalog import services as catalog
    from backroom.channels import depletion

    client = token_client_for(make_user("hq_admin", tree.group), "integration", tree.store_a)
    site = tree.store_a.site.pk
    today = timezone.localdate()
    noon = dt.datetime.combine(today, dt.time(12), tzinfo=ZoneInfo(tree.store_a.site.time_zone))
    assert (
        post_batch(client, [body(site, ("NOODLES", "1"), placed_at=noon.isoformat())]).status_code
        == 201
    )
    assert depletion._EXPLODED["lines"]  # kept for the next request
    assert menu.on_hand(menu.beef) == D("4.9")
    stamp = depletion.catalog_stamp()
    catalog.publish_recipe(
        menu.noodles,
        catalog.RecipeInput(
            effective_from=today,
            lines=[
                catalog.RecipeLineInput(component_sku="DOUGH", quantity=D(250), unit_code="g"),
                catalog.RecipeLineInput(component_sku="BEEF", quantity=D(200), unit_code="g"),
            ],
        ),
        actor=SYSTEM,
    )
    # Another process learns of the change through the stamp; this one through the signal.
    assert depletion.catalog_stamp() != stamp
    assert not depletion._EXPLODED["lines"]
    assert (
        post_batch(client, [body(site, ("NOODLES", "1"), placed_at=noon.isoformat())]).status_code
        == 201
    )
    assert menu.on_hand(menu.beef) == D("4.7")
    # A stale cache from another process's point of view: the stamp alone drops it.
    depletion._EXPLODED["stamp"] = stamp
    cache = depletion.ExplosionCache(shared=True)
    assert depletion._EXPLODED["stamp"] == depletion.catalog_stamp() != stamp
    assert cache._lines is depletion._EXPLODED["lines"] and not cache._lines


def test_a_batch_stores_and_applies_what_the_parser_reads_back_from_the_stored_json(tree, menu):
    """Batches build each order's event from the till order without parsing back the JSON
    they store: the JSON and the event must be those of the parser's round trip."""
    import datetime as dt
    import json
    from zoneinfo import ZoneInfo

    from backroom.channels.pos import _data, _json, _payload, _placed, parse_till_order
    from backroom.kernel.jsonutil import jsonable

    site = tree.store_a.site.pk
    orders = [
        TillOrder(
            uuid=uuid.uuid4(),
            store_id=site,
            placed_at=dt.datetime(2026, 12, 4, 12, 30, 15, 120, tzinfo=ZoneInfo("Asia/Shanghai")),
            lines=[
                TillLine("NOODLES", Decimal("1.500"), Decimal("18.00"), "Noodles «大»"),
                TillLine(
                    "TEA", Decimal(2), modifiers=[TillModifier("extra-beef", "Beef", Decimal(2))]
                ),
            ],
        ),
        TillOrder(
            uuid=uuid.uuid4(),
            store_id=site,
            placed_at=dt.datetime(2026, 12, 4, 4, 30, tzinfo=dt.UTC),
            lines=[TillLine("MYSTERY", Decimal("3"), Decimal("2.5"))],
            channel="own_app",
            status="received",
            display_id="A-12",
            currency="USD",
            total=Decimal("7.25"),
            original_price=Decimal("8.00"),
            merchant_discount=Decimal("1.00"),
            delivery_fee=Decimal("0.25"),
            packaging_fee=Decimal("0"),
            customer_name="Ann\ttab",
            customer_phone="555",
            address="1 Road\\",
            notes='say "hi"\n',
            staff_code="S1",
        ),
    ]
    for order in orders:
        expected = json.dumps(jsonable(order), sort_keys=True, ensure_ascii=False)
        assert _payload(order) == _json(_data(order)) == expected
        event = _placed(menu.pos, _data(order))
        parsed = parse_till_order(menu.pos, expected, "application/json")
        assert parsed == [event]
        assert intake.event_json(event) == intake.event_json(parsed[0])
