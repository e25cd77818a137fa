"""Transfer orders (调拨单): dispatch into transit, receive with discrepancies, golden values,
every error at once, and who may do what."""

from __future__ import annotations

import pytest
from django.utils import timezone

from backroom.audit.models import AuditEntry
from backroom.config.ledger_checks import run_ledger_checks
from backroom.events.models import OutboxEvent
from backroom.inventory import reports, services
from backroom.inventory.documents import DiscrepancyReasonRequired, TransferOrderStateError
from backroom.inventory.exceptions import BatchRejected, TransferToSelf
from backroom.inventory.models import (
    ItemValuation,
    StockMove,
    StockPosting,
    TransferOrder,
    TransferOrderLine,
)
from backroom.inventory.services import (
    DispatchLine,
    ReceiptLine,
    TransferLineInput,
    in_transit,
)
from backroom.inventory.services.transfer_orders import transfer_key
from backroom.inventory.tests.conftest import D, key
from backroom.kernel.actors import SYSTEM
from backroom.kernel.dates import business_date
from backroom.kernel.exceptions import NotFound, PermissionDenied, ValidationFailed
from backroom.testing.factories import client_for, make_user
from backroom.testing.matrix import assert_matrix

BASE = "/api/v1/inventory/transfer-orders"
PAGES = "/stock/transfers"


def _receive(stock, quantity, cost, location=None, item=None, **extra):
    return services.receive(
        item=item or stock.flour,
        location=location or stock.walk_in,
        quantity=D(quantity),
        unit_cost=D(cost),
        key=key(),
        actor=SYSTEM,
        **extra,
    )


def _order(stock, *lines, actor=SYSTEM, **extra):
    return services.create_transfer_order(
        from_location_id=stock.walk_in.pk,
        to_location_id=stock.freezer_b.pk,
        lines=list(lines) or [TransferLineInput(item_id=stock.flour.pk, quantity=D(10))],
        actor=actor,
        **extra,
    )


def _state():
    return (
        TransferOrder.objects.count(),
        list(TransferOrder.objects.values_list("status", flat=True)),
        list(
            TransferOrderLine.objects.values_list(
                "dispatched_quantity", "received_quantity", "discrepancy_quantity"
            )
        ),
        StockMove.objects.count(),
        StockPosting.objects.count(),
        AuditEntry.objects.count(),
        OutboxEvent.objects.count(),
    )


def _valuation(item, location):
    row = ItemValuation.objects.filter(item=item, location=location).first()
    return (row.quantity, row.value) if row else (D(0), D(0))


def _checks_clean():
    assert all(not result.differences for result in run_ledger_checks())


# --- services -------------------------------------------------------------------------------


def test_golden_dispatch_and_receive_short(stock):
    """20 kg at 2.00; 10 kg dispatched (20.00 in transit); 8 kg arrive, 2 kg short: B gets
    8 kg worth 16.00, 2 kg worth 4.00 are written off from transit, transit back to zero."""
    _receive(stock, "20", "2")
    sender = make_user("store_manager", stock.walk_in.site.node)
    receiver = make_user("store_manager", stock.freezer_b.site.node)
    order = _order(stock, actor=sender, note="weekend")
    assert (order.number, order.status) == ("TRF-SHA001-000001", "draft")
    line = TransferOrderLine.objects.get(order=order)
    order = services.dispatch_transfer_order(order, actor=sender)
    line.refresh_from_db()
    assert (order.status, line.dispatched_quantity, line.dispatched_value) == (
        "dispatched",
        D(10),
        D(20),
    )
    assert in_transit(transfer_key(line)) == {None: D(10)}
    assert _valuation(stock.flour, stock.walk_in) == (D(10), D(20))
    order = services.receive_transfer_order(
        order,
        [ReceiptLine(line_id=line.pk, quantity=D(8), discrepancy_reason="short")],
        actor=receiver,
    )
    line.refresh_from_db()
    assert order.status == "received"
    assert (
        line.received_quantity,
        line.discrepancy_quantity,
        line.discrepancy_reason,
        line.discrepancy_value,
    ) == (D(8), D(-2), "short", D(-4))
    assert in_transit(transfer_key(line)) == {}
    assert _valuation(stock.flour, stock.freezer_b) == (D(8), D(16))
    discrepancy = StockMove.objects.get(reason="transfer_discrepancy")
    assert (
        discrepancy.quantity,
        discrepancy.value,
        discrepancy.location.kind,
        discrepancy.site_id,
        discrepancy.source_id,
        discrepancy.source_number,
    ) == (D(-2), D(-4), "in_transit", stock.walk_in.site_id, transfer_key(line), order.number)
    assert discrepancy.posting.operation == "transfer_discrepancy"
    actions = list(
        AuditEntry.objects.filter(action__startswith="inventory.transfer_order.")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == [
        "inventory.transfer_order.create",
        "inventory.transfer_order.dispatch",
        "inventory.transfer_order.receive",
    ]
    received = OutboxEvent.objects.get(event_type="inventory.transfer_order.received")
    assert (received.payload["discrepancy_lines"], received.payload["discrepancy_value"]) == (
        1,
        "-4.0000",
    )
    _checks_clean()


def test_golden_over_delivery_is_booked_at_dispatch_cost(stock, tree):
    """2 bags (50 kg) of flour at 2.40 dispatched in bags; 2.1 bags arrive: the extra 2.5 kg is
    booked into B at 2.40 = 6.00."""
    _receive(stock, "100", "2.4")
    order = _order(stock, TransferLineInput(item_id=stock.flour.pk, quantity=D(2), unit="bag"))
    line = TransferOrderLine.objects.get(order=order)
    assert (line.requested_base, line.unit) == (D(50), "bag")
    services.dispatch_transfer_order(order, actor=SYSTEM)
    line.refresh_from_db()
    assert line.dispatched_value == D(120)
    services.receive_transfer_order(
        order,
        [ReceiptLine(line_id=line.pk, quantity=D("2.1"), discrepancy_reason="over")],
        actor=SYSTEM,
    )
    line.refresh_from_db()
    assert (line.received_quantity, line.discrepancy_quantity, line.discrepancy_value) == (
        D("2.1"),
        D("0.1"),
        D(6),
    )
    assert _valuation(stock.flour, stock.freezer_b) == (D("52.5"), D(126))
    assert in_transit(transfer_key(line)) == {}
    _checks_clean()
    # In the receiving store's actual-vs-theoretical report the extra arrived with the transfer.
    site = tree.store_b.site
    today = business_date(timezone.now(), time_zone=site.time_zone, cutoff_hour=site.cutoff_hour)
    report = reports.avt(SYSTEM, node=tree.store_b, date_from=today, date_to=today)
    (flour,) = report.rows
    assert (flour.transfers_in, flour.closing, flour.actual) == (D("52.5"), D("52.5"), D(0))


def test_partial_receipt_then_close(stock):
    _receive(stock, "20", "2")
    order = _order(stock)
    line = TransferOrderLine.objects.get(order=order)
    services.dispatch_transfer_order(order, actor=SYSTEM)
    order = services.receive_transfer_order(
        order, [ReceiptLine(line_id=line.pk, quantity=D(4))], actor=SYSTEM, close=False
    )
    assert order.status == "partially_received"
    assert in_transit(transfer_key(line)) == {None: D(6)}
    before = _state()
    with pytest.raises(BatchRejected) as error:
        services.receive_transfer_order(
            order, [ReceiptLine(line_id=line.pk, quantity=D(7))], actor=SYSTEM, close=False
        )
    assert error.value.details["lines"][0]["code"] == "invalid"
    with pytest.raises(BatchRejected) as error:
        services.receive_transfer_order(
            order, [ReceiptLine(line_id=line.pk, quantity=D(5))], actor=SYSTEM
        )
    assert [problem["code"] for problem in error.value.details["lines"]] == [
        "discrepancy_reason_required"
    ]
    with pytest.raises(BatchRejected):
        services.receive_transfer_order(
            order,
            [ReceiptLine(line_id=line.pk, quantity=D(5), discrepancy_reason="over")],
            actor=SYSTEM,
        )
    assert _state() == before
    order = services.receive_transfer_order(
        order,
        [ReceiptLine(line_id=line.pk, quantity=D(5), discrepancy_reason="damaged")],
        actor=SYSTEM,
    )
    line.refresh_from_db()
    assert (order.status, order.receipt_count) == ("received", 2)
    assert (line.received_quantity, line.discrepancy_quantity, line.discrepancy_value) == (
        D(9),
        D(-1),
        D(-2),
    )
    assert _valuation(stock.flour, stock.freezer_b) == (D(9), D(18))
    with pytest.raises(TransferOrderStateError):
        services.receive_transfer_order(order, actor=SYSTEM)
    _checks_clean()


def test_receive_everything_as_sent(stock):
    _receive(stock, "20", "2")
    _receive(stock, "5", "1", item=stock.milk)
    order = _order(
        stock,
        TransferLineInput(item_id=stock.flour.pk, quantity=D(10)),
        TransferLineInput(item_id=stock.milk.pk, quantity=D(3)),
    )
    services.dispatch_transfer_order(order, actor=SYSTEM)
    order = services.receive_transfer_order(order, actor=SYSTEM)
    assert order.status == "received"
    assert list(
        TransferOrderLine.objects.filter(order=order)
        .order_by("line_no")
        .values_list("received_quantity", "discrepancy_quantity")
    ) == [(D(10), None), (D(3), None)]
    assert StockMove.objects.filter(reason="transfer_discrepancy").count() == 0
    _checks_clean()


def test_dispatch_less_and_a_line_not_sent(stock):
    _receive(stock, "20", "2")
    order = _order(
        stock,
        TransferLineInput(item_id=stock.flour.pk, quantity=D(10)),
        TransferLineInput(item_id=stock.napkins.pk, quantity=D(100)),
    )
    flour, napkins = TransferOrderLine.objects.filter(order=order).order_by("line_no")
    services.dispatch_transfer_order(
        order,
        [DispatchLine(line_id=flour.pk, quantity=D(6)), DispatchLine(napkins.pk, D(0))],
        actor=SYSTEM,
    )
    flour.refresh_from_db()
    napkins.refresh_from_db()
    assert (flour.dispatched_quantity, napkins.dispatched_quantity) == (D(6), D(0))
    assert in_transit(transfer_key(napkins)) == {}
    order = services.receive_transfer_order(order, actor=SYSTEM)
    assert order.status == "received"
    assert _valuation(stock.flour, stock.freezer_b) == (D(6), D(12))


def test_dispatch_reports_every_shortfall_and_changes_nothing(stock):
    _receive(stock, "1", "2")
    order = _order(
        stock,
        TransferLineInput(item_id=stock.flour.pk, quantity=D(10)),
        TransferLineInput(item_id=stock.flour.pk, quantity=D(1)),
    )
    lines = list(TransferOrderLine.objects.filter(order=order).order_by("line_no"))
    before = _state()
    with pytest.raises(BatchRejected) as error:
        services.dispatch_transfer_order(
            order,
            [
                DispatchLine(lines[0].pk, D(5)),
                DispatchLine(lines[0].pk, D(1)),
                DispatchLine(9999, D(1)),
            ],
            actor=SYSTEM,
        )
    assert [(p["index"], p["code"]) for p in error.value.details["lines"]] == [
        (1, "invalid"),
        (2, "invalid"),
    ]
    with pytest.raises(BatchRejected) as error:
        services.dispatch_transfer_order(order, actor=SYSTEM)
    assert [p["code"] for p in error.value.details["lines"]] == ["insufficient_stock"]
    assert _state() == before


def test_create_errors_at_once(stock):
    before = _state()
    with pytest.raises(TransferToSelf) as error:
        services.create_transfer_order(
            from_location_id=stock.walk_in.pk,
            to_location_id=stock.dry.pk,
            lines=[TransferLineInput(item_id=stock.flour.pk, quantity=D(1))],
            actor=SYSTEM,
        )
    assert error.value.code == "transfer_to_self"
    with pytest.raises(ValidationFailed) as error:
        services.create_transfer_order(
            from_location_id=stock.walk_in.pk,
            to_location_id=stock.walk_in.pk,
            lines=[],
            actor=SYSTEM,
        )
    assert set(error.value.details["fields"]) == {"to_location_id", "lines"}
    with pytest.raises(BatchRejected) as error:
        _order(
            stock,
            TransferLineInput(item_id=stock.flour.pk, quantity=D(-1)),
            TransferLineInput(item_id=stock.flour.pk, quantity=D(1), unit="crate"),
            TransferLineInput(item_id=stock.flour.pk, quantity=D(1), lot_code="NONE"),
        )
    assert [p["code"] for p in error.value.details["lines"]] == [
        "negative_quantity",
        "unknown_unit",
        "unknown_lot",
    ]
    with pytest.raises(ValidationFailed) as error:
        services.create_transfer_order(
            from_location_id=999999,
            to_location_id=stock.freezer_b.pk,
            lines=[TransferLineInput(item_id=stock.flour.pk, quantity=D(1))],
            actor=SYSTEM,
        )
    assert error.value.code == "unknown_location"
    assert _state() == before


def test_cancel_only_a_draft(stock):
    _receive(stock, "20", "2")
    order = _order(stock)
    order = services.cancel_transfer_order(order, actor=SYSTEM, reason="not needed")
    assert (order.status, order.cancel_reason) == ("cancelled", "not needed")
    with pytest.raises(TransferOrderStateError):
        services.dispatch_transfer_order(order, actor=SYSTEM)
    sent = _order(stock)
    services.dispatch_transfer_order(sent, actor=SYSTEM)
    with pytest.raises(TransferOrderStateError):
        services.cancel_transfer_order(sent, actor=SYSTEM)


def test_permissions_sender_dispatches_receiver_receives(stock):
    _receive(stock, "20", "2")
    sender = make_user("store_manager", stock.walk_in.site.node)
    receiver = make_user("store_manager", stock.freezer_b.site.node)
    tech = make_user("technician", stock.walk_in.site.node)
    order = _order(stock, actor=receiver)  # a store may ask another for stock
    before = _state()
    with pytest.raises(NotFound):
        services.dispatch_transfer_order(order, actor=receiver)
    with pytest.raises((PermissionDenied, NotFound)):
        services.dispatch_transfer_order(order, actor=tech)
    assert _state() == before
    services.dispatch_transfer_order(order, actor=sender)
    before = _state()
    with pytest.raises(NotFound):
        services.receive_transfer_order(order, actor=sender)
    assert _state() == before
    assert services.receive_transfer_order(order, actor=receiver).status == "received"
    with pytest.raises((PermissionDenied, NotFound)):
        _order(stock, actor=tech)


def test_discrepancy_reason_required_error_class(stock):
    assert DiscrepancyReasonRequired.code == "discrepancy_reason_required"


# --- API ------------------------------------------------------------------------------------


def _body(stock, **extra):
    body = {
        "from_location_id": stock.walk_in.pk,
        "to_location_id": stock.freezer_b.pk,
        "lines": [{"item_id": stock.flour.pk, "quantity": "10"}],
    }
    body.update(extra)
    return body


def test_api_full_flow_with_discrepancy(stock):
    _receive(stock, "20", "2")
    sender = client_for(make_user("store_manager", stock.walk_in.site.node))
    receiver = client_for(make_user("store_manager", stock.freezer_b.site.node))
    response = sender.post(BASE, _body(stock), content_type="application/json")
    assert response.status_code == 201, response.content
    order = response.json()
    assert (order["status"], order["from_site_id"], order["to_site_id"]) == (
        "draft",
        stock.walk_in.site_id,
        stock.freezer_b.site_id,
    )
    line_id = order["lines"][0]["id"]
    response = sender.post(
        f"{BASE}/{order['id']}/dispatch",
        {"lines": [{"line_id": line_id, "quantity": "10"}]},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["lines"][0]["dispatched_value"] == "20.0000"
    assert (
        receiver.get(BASE, {"direction": "in", "site_id": stock.freezer_b.site_id}).json()["count"]
        == 1
    )
    assert receiver.get(BASE, {"status": "draft"}).json()["count"] == 0
    response = receiver.post(
        f"{BASE}/{order['id']}/receive",
        {"lines": [{"line_id": line_id, "quantity": "9"}]},
        content_type="application/json",
    )
    assert (response.status_code, response.json()["code"]) == (422, "batch_rejected")
    assert response.json()["details"]["lines"][0]["code"] == "discrepancy_reason_required"
    response = receiver.post(
        f"{BASE}/{order['id']}/receive",
        {"lines": [{"line_id": line_id, "quantity": "9", "discrepancy_reason": "damaged"}]},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    line = response.json()["lines"][0]
    assert (
        response.json()["status"],
        line["received_quantity"],
        line["discrepancy_quantity"],
        line["discrepancy_value"],
    ) == ("received", "9.000000", "-1.000000", "-2.0000")


def test_api_transfer_to_self_is_coded(stock):
    client = client_for(make_user("store_manager", stock.walk_in.site.node))
    response = client.post(
        BASE, _body(stock, to_location_id=stock.dry.pk), content_type="application/json"
    )
    assert (response.status_code, response.json()["code"]) == (422, "transfer_to_self")
    assert TransferOrder.objects.count() == 0


@pytest.fixture
def people(stock):
    return {
        "sender": make_user("store_manager", stock.walk_in.site.node),
        "receiver": make_user("store_manager", stock.freezer_b.site.node),
        "tech": make_user("technician", stock.walk_in.site.node),
        "outsider": make_user("store_manager", make_store_c(stock)),
    }


def make_store_c(stock):
    from backroom.org.models import OrgNode

    return OrgNode.objects.get(code="HKG001")


def test_matrix_list_and_detail(stock, people):
    order = _order(stock, actor=people["sender"])
    result = assert_matrix(
        "GET",
        BASE,
        allowed=people["receiver"],
        forbidden=people["tech"],
        other_scope=people["outsider"],
        expect_forbidden=200,
        expect_other_scope=200,
    )
    assert result.allowed.json()["count"] == 1
    assert result.forbidden.json()["count"] == 0
    assert result.other_scope.json()["count"] == 0
    for viewer in ("sender", "receiver"):
        assert_matrix(
            "GET",
            f"{BASE}/{order.pk}",
            allowed=people[viewer],
            forbidden=people["tech"],
            other_scope=people["outsider"],
            expect_forbidden=404,
        )


def test_matrix_create(stock, people):
    result = assert_matrix(
        "POST",
        BASE,
        payload=_body(stock),
        allowed=people["receiver"],
        forbidden=people["tech"],
        other_scope=people["outsider"],
        expect_allowed=201,
        snapshot=_state,
    )
    assert result.allowed.json()["status"] == "draft"


def test_matrix_dispatch(stock, people):
    _receive(stock, "20", "2")
    order = _order(stock)
    result = assert_matrix(
        "POST",
        f"{BASE}/{order.pk}/dispatch",
        payload={},
        allowed=people["sender"],
        forbidden=people["tech"],
        other_scope=people["receiver"],
        expect_forbidden=404,
        snapshot=_state,
    )
    assert result.allowed.json()["status"] == "dispatched"


def test_matrix_receive(stock, people):
    _receive(stock, "20", "2")
    order = _order(stock)
    services.dispatch_transfer_order(order, actor=SYSTEM)
    result = assert_matrix(
        "POST",
        f"{BASE}/{order.pk}/receive",
        payload={},
        allowed=people["receiver"],
        forbidden=people["tech"],
        other_scope=people["sender"],
        expect_forbidden=404,
        snapshot=_state,
    )
    assert result.allowed.json()["status"] == "received"


def test_matrix_cancel(stock, people):
    order = _order(stock)
    result = assert_matrix(
        "POST",
        f"{BASE}/{order.pk}/cancel",
        payload={"reason": "no"},
        allowed=people["receiver"],
        forbidden=people["tech"],
        other_scope=people["outsider"],
        expect_forbidden=404,
        snapshot=_state,
    )
    assert result.allowed.json()["status"] == "cancelled"


# --- pages ----------------------------------------------------------------------------------


def test_page_matrix_list_and_detail(stock, people):
    order = _order(stock, actor=people["sender"])
    result = assert_matrix(
        "GET",
        f"{PAGES}/",
        allowed=people["receiver"],
        forbidden=people["tech"],
        other_scope=None,
    )
    assert order.number in result.allowed.content.decode()
    assert order.number not in client_for(people["outsider"]).get(f"{PAGES}/").content.decode()
    assert_matrix(
        "GET",
        f"{PAGES}/{order.pk}/",
        allowed=people["sender"],
        forbidden=people["tech"],
        other_scope=people["outsider"],
    )


def test_page_create_dispatch_receive(stock, people):
    _receive(stock, "20", "2")
    sender = client_for(people["sender"])
    response = sender.post(
        f"{PAGES}/new/",
        {
            "from_location_id": stock.walk_in.pk,
            "to_location_id": stock.freezer_b.pk,
            "note": "",
            "item_id": [stock.flour.pk, ""],
            "quantity": ["10", ""],
            "unit": ["kg", ""],
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    order = TransferOrder.objects.get()
    line = TransferOrderLine.objects.get(order=order)
    assert response["Location"] == f"{PAGES}/{order.pk}/"
    assert_matrix(
        "POST",
        f"{PAGES}/{order.pk}/dispatch/",
        payload={f"dispatched_{line.pk}": "10"},
        allowed=people["sender"],
        forbidden=people["tech"],
        other_scope=people["receiver"],
        expect_allowed=302,
        snapshot=_state,
    )
    order.refresh_from_db()
    assert order.status == "dispatched"
    receiver = client_for(people["receiver"])
    response = receiver.post(f"{PAGES}/{order.pk}/receive/", {f"received_{line.pk}": "8"})
    assert response.status_code == 422
    assert "say why" in response.content.decode()
    assert_matrix(
        "POST",
        f"{PAGES}/{order.pk}/receive/",
        payload={f"received_{line.pk}": "8", f"reason_{line.pk}": "short"},
        allowed=people["receiver"],
        forbidden=people["tech"],
        other_scope=people["sender"],
        expect_allowed=302,
        snapshot=_state,
    )
    order.refresh_from_db()
    line.refresh_from_db()
    assert (order.status, line.discrepancy_quantity) == ("received", D(-2))


def test_openapi_lists_the_document_endpoints(db):
    paths = client_for(None).get("/api/openapi.json").json()["paths"]
    for name in (
        "/api/v1/inventory/waste",
        "/api/v1/inventory/waste/with-photo",
        "/api/v1/inventory/waste/{document_id}/photo",
        "/api/v1/inventory/waste/{document_id}/approve",
        "/api/v1/inventory/transfer-orders",
        "/api/v1/inventory/transfer-orders/{order_id}/dispatch",
        "/api/v1/inventory/transfer-orders/{order_id}/receive",
        "/api/v1/inventory/transfers",
    ):
        assert name in paths, name


def test_page_create_errors_keep_what_was_typed(stock, people):
    response = client_for(people["sender"]).post(
        f"{PAGES}/new/",
        {
            "from_location_id": stock.walk_in.pk,
            "to_location_id": stock.walk_in.pk,
            "note": "",
            "item_id": [stock.flour.pk],
            "quantity": ["7"],
            "unit": ["kg"],
        },
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert TransferOrder.objects.count() == 0
    assert f'<option value="{stock.flour.pk}" selected>' in page
    assert 'value="7"' in page
