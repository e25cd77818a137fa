"""Requisition → approval → PO (and distribution order) → send → receive (partial, rejected,
lots into the ledger) → invoice three-way match; every bad input coded, nothing changed."""

from __future__ import annotations

import datetime as dt

import pytest

from backroom.approvals import runtime
from backroom.approvals import services as approval_services
from backroom.approvals.exceptions import ApprovalRequired
from backroom.approvals.models import ApprovalTask
from backroom.audit.models import AuditEntry
from backroom.events.models import OutboxEvent
from backroom.inventory import selectors as inventory_selectors
from backroom.inventory.models import StockMove, TransferOrder
from backroom.kernel import clock
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import DomainError, NotFound, PermissionDenied
from backroom.procurement import selectors, services
from backroom.procurement.exceptions import (
    DocumentRejected,
    OverReceipt,
    SupplierInactive,
    UnknownPurchaseOrder,
)
from backroom.procurement.models import (
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ReceiptLine,
    Requisition,
    RequisitionLine,
    ReviewEntry,
    SupplierInvoice,
)
from backroom.procurement.tests.conftest import D
from backroom.testing.factories import make_user

NOW = dt.datetime(2025, 3, 10, 1, 0, tzinfo=dt.UTC)  # Monday 09:00 in Shanghai


@pytest.fixture(autouse=True)
def _clock():
    with clock.at(NOW):
        yield


@pytest.fixture
def policy(db):
    """Requisitions above ¥1,000 wait for the store's region manager."""
    return approval_services.create_policy(
        approval_services.PolicyInput(
            document_type="procurement.requisition",
            name="Requisitions",
            condition="amount > 1000",
            steps=[
                approval_services.StepInput(
                    name="Region manager",
                    approver_kind="role",
                    approver_params={"role": "region_manager", "level": "region"},
                )
            ],
        ),
        actor=SYSTEM,
        publish_now=True,
    )


def _events(kind):
    return list(OutboxEvent.objects.filter(event_type=kind).order_by("id"))


def _state():
    return (
        Requisition.objects.count(),
        RequisitionLine.objects.count(),
        PurchaseOrder.objects.count(),
        Receipt.objects.count(),
        ReceiptLine.objects.count(),
        StockMove.objects.count(),
        SupplierInvoice.objects.count(),
        AuditEntry.objects.count(),
        OutboxEvent.objects.count(),
    )


def _requisition(world, manager, **extra):
    return services.create_requisition(
        world.store,
        extra.pop(
            "lines",
            [
                services.RequisitionLineInput(
                    item_id=world.tomato.pk,
                    quantity=D(10),
                    supplier_id=world.supplier.pk,
                    suggested_quantity=D(9),
                ),
                services.RequisitionLineInput(
                    item_id=world.oil.pk, quantity=D(12), supplier_id=world.supplier.pk
                ),
                services.RequisitionLineInput(
                    item_id=world.tomato.pk,
                    quantity=D(5),
                    unit="kg",
                    source_site_id=world.warehouse.pk,
                ),
            ],
        ),
        actor=manager,
        **extra,
    )


def _sent_po(world, manager):
    requisition = _requisition(world, manager)
    order = PurchaseOrder.objects.get(requisition=requisition)
    return services.send_purchase_order(order, actor=SYSTEM)


def test_requisition_waits_for_approval_then_creates_po_and_distribution_order(world, tree, policy):
    manager = make_user("store_manager", tree.store_a)
    region_manager = make_user("region_manager", tree.region)
    requisition = _requisition(world, manager)
    # 10 cases × 80 + 12 bottles × 45.50 = 1,346.00 (+ the warehouse line at no cost yet).
    assert requisition.estimated_amount == D("1346.0000")
    assert requisition.status == "pending_approval"
    assert requisition.requires_approval is True
    assert PurchaseOrder.objects.count() == 0
    task = ApprovalTask.objects.get(request__document_id=str(requisition.pk), status="pending")
    assert task.assignee == region_manager
    runtime.approve(task, actor=region_manager)
    requisition.refresh_from_db()
    assert requisition.status == "approved"
    order = PurchaseOrder.objects.get(requisition=requisition)
    assert order.number == "PO-SHA001-000001"
    assert (order.status, order.total_amount, order.currency) == ("approved", D("1346"), "CNY")
    assert order.expected_date == dt.date(2025, 3, 11)  # no calendar: lead time 1 day
    lines = list(order.lines.order_by("line_no"))
    assert [(line.item.sku, line.quantity, line.unit, line.base_quantity) for line in lines] == [
        ("TOMATO", D(10), "case", D(100)),
        ("OIL", D(12), "bottle", D(60)),
    ]
    transfer = TransferOrder.objects.get()
    assert (transfer.status, transfer.from_site, transfer.to_site) == (
        "draft",
        world.warehouse,
        world.store,
    )
    assert (
        RequisitionLine.objects.get(requisition=requisition, line_no=3).transfer_order == transfer
    )
    event = _events("procurement.requisition.approved")[0]
    assert event.payload["purchase_order_ids"] == [order.pk]
    assert event.payload["transfer_order_ids"] == [transfer.pk]
    assert AuditEntry.objects.filter(action="procurement.requisition.approve").count() == 1
    # Planning's on-order: open PO quantities in base units.
    assert selectors.on_order(world.store, [world.tomato, world.oil, world.milk]) == {
        world.tomato.pk: D(100),
        world.oil.pk: D(60),
        world.milk.pk: D(0),
    }


def test_small_requisition_is_approved_at_once_and_po_is_sent(world, tree, policy):
    manager = make_user("store_manager", tree.store_a)
    requisition = _requisition(
        world,
        manager,
        lines=[
            services.RequisitionLineInput(
                item_id=world.tomato.pk, quantity=D(2), supplier_id=world.supplier.pk
            )
        ],
    )
    assert requisition.status == "approved"
    order = PurchaseOrder.objects.get(requisition=requisition)
    order = services.send_purchase_order(order, actor=make_user("buyer", tree.group))
    assert order.status == "sent"
    sent = _events("procurement.po.sent")[0].payload
    assert sent["number"] == order.number
    assert sent["lines"] == [
        {
            "line_no": 1,
            "item_sku": "TOMATO",
            "supplier_sku": "",
            "quantity": "2.000000",
            "unit": "case",
            "unit_price": "80.0000",
            "amount": "160.0000",
        }
    ]


def test_po_of_a_pending_requisition_cannot_be_sent(world, tree, policy):
    manager = make_user("store_manager", tree.store_a)
    make_user("region_manager", tree.region)
    requisition = _requisition(world, manager)
    order = services.create_purchase_order(
        world.store,
        world.supplier,
        [services.PurchaseOrderLineInput(world.tomato.pk, D(2))],
        actor=SYSTEM,
    )
    PurchaseOrder.objects.filter(pk=order.pk).update(status="approved", requisition=requisition)
    with pytest.raises(ApprovalRequired):
        services.send_purchase_order(order, actor=SYSTEM)
    assert PurchaseOrder.objects.get(pk=order.pk).status == "approved"


def test_every_bad_line_at_once_and_nothing_changed(world, tree):
    manager = make_user("store_manager", tree.store_a)
    before = _state()
    with pytest.raises(DocumentRejected) as error:
        _requisition(
            world,
            manager,
            lines=[
                # not whole packs of 6
                services.RequisitionLineInput(
                    item_id=world.oil.pk, quantity=D(14), supplier_id=world.supplier.pk
                ),
                # far from the suggestion without a reason
                services.RequisitionLineInput(
                    item_id=world.tomato.pk,
                    quantity=D(20),
                    supplier_id=world.supplier.pk,
                    suggested_quantity=D(5),
                ),
                # below the MOQ of 2 cases
                services.RequisitionLineInput(
                    item_id=world.tomato.pk, quantity=D(1), supplier_id=world.supplier.pk
                ),
            ],
        )
    assert [(problem["line"], problem["code"]) for problem in error.value.details["problems"]] == [
        (0, "not_pack_multiple"),
        (1, "deviation_reason_required"),
        (2, "below_minimum_order"),
    ]
    assert _state() == before


def test_inactive_supplier_and_price_gap_are_coded(world, tree):
    manager = make_user("store_manager", tree.store_a)
    line = services.RequisitionLineInput(
        item_id=world.tomato.pk, quantity=D(2), supplier_id=world.supplier.pk
    )
    before = _state()
    with clock.at(dt.datetime(2024, 12, 30, 1, 0, tzinfo=dt.UTC)):
        with pytest.raises(Exception) as gap:
            _requisition(world, manager, lines=[line])
    assert gap.value.code == "no_valid_price"
    services.update_supplier(world.supplier, {"is_active": False}, actor=SYSTEM)
    after_update = _state()
    with pytest.raises(SupplierInactive):
        _requisition(world, manager, lines=[line])
    assert _state() == after_update
    assert before[:7] == after_update[:7]


def test_partial_receipt_with_rejected_line_posts_lots_at_po_price(world, tree):
    manager = make_user("store_manager", tree.store_a)
    order = _sent_po(world, manager)
    tomato, oil = order.lines.order_by("line_no")
    receipt = services.receive_purchase_order(
        order,
        [
            services.ReceiptLineInput(
                line_id=tomato.pk,
                quantity=D(6),
                lot_code="T-0310",
                expiry_date=dt.date(2025, 3, 20),
            ),
            services.ReceiptLineInput(
                line_id=oil.pk, quantity=D(0), rejected_quantity=D(12), rejection_reason="damaged"
            ),
        ],
        actor=manager,
        delivery_note_number="DN-1",
    )
    order.refresh_from_db()
    assert order.status == "partially_received"
    assert receipt.number == "RCV-SHA001-000001"
    assert receipt.accepted_value == D("480.0000")  # 6 cases × 80
    tomato.refresh_from_db()
    oil.refresh_from_db()
    assert (tomato.received_quantity, tomato.received_base) == (D(6), D(60))
    assert (oil.received_quantity, oil.rejected_quantity) == (D(0), D(12))
    rejected = ReceiptLine.objects.get(receipt=receipt, purchase_order_line=oil)
    assert rejected.rejection_reason == "damaged"
    move = StockMove.objects.get(reason="receipt")
    assert (move.item_id, move.location_id, move.quantity, move.value) == (
        world.tomato.pk,
        world.walk_in.pk,
        D(60),
        D(480),
    )
    assert move.idempotency_key == f"po-receipt:{receipt.pk}:1"
    balance = inventory_selectors.on_hand(SYSTEM, location=world.walk_in, item=world.tomato).get()
    assert (balance.quantity, balance.lot.code, balance.lot.expiry_date) == (
        D(60),
        "T-0310",
        dt.date(2025, 3, 20),
    )
    assert AuditEntry.objects.filter(action="procurement.receipt.create").count() == 1
    assert _events("procurement.receipt.posted")[0].payload["po_status"] == "partially_received"
    # Still on order: 4 cases of tomato (40 kg) and all 12 bottles of oil (60 l).
    assert selectors.on_order(world.store, [world.tomato.pk, world.oil.pk]) == {
        world.tomato.pk: D(40),
        world.oil.pk: D(60),
    }
    # The rest arrives: the PO is received.
    services.receive_purchase_order(
        order,
        [
            services.ReceiptLineInput(line_id=tomato.pk, quantity=D(4), lot_code="T-0311"),
            services.ReceiptLineInput(line_id=oil.pk, quantity=D(12)),
        ],
        actor=manager,
    )
    order.refresh_from_db()
    assert order.status == "received"
    assert selectors.on_order(world.store, [world.tomato.pk]) == {world.tomato.pk: D(0)}


def test_a_substitute_is_received_into_stock_against_the_ordered_line(world, tree):
    from backroom.inventory.tests.conftest import make_item

    manager = make_user("store_manager", tree.store_a)
    order = _sent_po(world, manager)
    tomato, oil = order.lines.order_by("line_no")
    cherry = make_item("CHERRY-TOMATO", "kg", "food", units=[("case", "5")])
    milk_only = world.milk  # sold by the crate: a "case" of it means nothing
    state = _state()
    # A substitute the PO's unit does not fit, and one that does not exist: both at once.
    with pytest.raises(DomainError) as caught:
        services.receive_purchase_order(
            order,
            [
                services.ReceiptLineInput(
                    line_id=tomato.pk, quantity=D(2), substitute_item_id=milk_only.pk
                ),
                services.ReceiptLineInput(line_id=oil.pk, quantity=D(6), substitute_item_id=999999),
            ],
            actor=manager,
        )
    assert caught.value.code == "document_rejected"
    assert _state() == state

    receipt = services.receive_purchase_order(
        order,
        [services.ReceiptLineInput(line_id=tomato.pk, quantity=D(2), substitute_item_id=cherry.pk)],
        actor=manager,
    )
    line = ReceiptLine.objects.get(receipt=receipt)
    assert (line.item_id, line.is_substitution, line.base_quantity) == (cherry.pk, True, D(10))
    # The stock is the substitute's (2 cases of 5 kg at the ordered line's price), and the
    # ordered line counts it as delivered.
    move = StockMove.objects.get(reason="receipt")
    assert (move.item_id, move.quantity, move.value) == (cherry.pk, D(10), D(160))
    tomato.refresh_from_db()
    assert tomato.received_quantity == D(2)
    assert selectors.on_order(world.store, [world.tomato.pk]) == {world.tomato.pk: D(80)}


def test_over_receipt_beyond_tolerance_is_refused_and_changes_nothing(world, tree):
    manager = make_user("store_manager", tree.store_a)
    order = _sent_po(world, manager)
    tomato = order.lines.get(line_no=1)
    before = _state()
    with pytest.raises(OverReceipt) as error:
        # 10 ordered, 10 % tolerance → at most 11.
        services.receive_purchase_order(
            order, [services.ReceiptLineInput(line_id=tomato.pk, quantity=D("11.5"))], actor=manager
        )
    assert error.value.details["limit"] == "11.000000"
    assert _state() == before
    services.receive_purchase_order(
        order, [services.ReceiptLineInput(line_id=tomato.pk, quantity=D(11))], actor=manager
    )
    assert PurchaseOrderLine.objects.get(pk=tomato.pk).received_quantity == D(11)


def test_chilled_goods_need_a_temperature_in_range_or_a_note(world, tree):
    manager = make_user("store_manager", tree.store_a)
    order = services.create_purchase_order(
        world.store,
        world.supplier,
        [services.PurchaseOrderLineInput(world.milk.pk, D(3))],
        actor=SYSTEM,
    )
    services.approve_purchase_order(order, actor=SYSTEM)
    services.send_purchase_order(order, actor=SYSTEM)
    milk = order.lines.get()
    before = _state()
    with pytest.raises(Exception) as missing:
        services.receive_purchase_order(
            order, [services.ReceiptLineInput(line_id=milk.pk, quantity=D(3))], actor=manager
        )
    assert missing.value.code == "temperature_required"
    with pytest.raises(Exception) as warm:
        services.receive_purchase_order(
            order,
            [services.ReceiptLineInput(line_id=milk.pk, quantity=D(3), temperature=D("8.5"))],
            actor=manager,
        )
    assert warm.value.code == "temperature_out_of_range"
    assert _state() == before
    receipt = services.receive_purchase_order(
        order,
        [
            services.ReceiptLineInput(
                line_id=milk.pk, quantity=D(3), temperature=D("8.5"), note="Used today"
            )
        ],
        actor=manager,
    )
    line = receipt.lines.get()
    assert (line.temperature, line.temperature_ok, line.note) == (D("8.5"), False, "Used today")


def test_store_scoping(world, tree):
    manager_a = make_user("store_manager", tree.store_a)
    manager_b = make_user("store_manager", tree.store_b)
    buyer = make_user("buyer", tree.group)
    order = _sent_po(world, manager_a)
    assert list(selectors.purchase_orders_for(manager_a)) == [order]
    assert list(selectors.purchase_orders_for(manager_b)) == []
    assert list(selectors.purchase_orders_for(buyer)) == [order]
    assert list(selectors.suppliers_for(manager_b)) == [world.supplier]
    before = _state()
    with pytest.raises(NotFound):
        services.receive_purchase_order(
            order,
            [services.ReceiptLineInput(line_id=order.lines.first().pk, quantity=D(1))],
            actor=manager_b,
        )
    with pytest.raises(PermissionDenied):
        services.send_purchase_order(order, actor=manager_a)  # store managers do not send POs
    with pytest.raises((NotFound, PermissionDenied)):
        _requisition(world, manager_b)
    assert _state() == before


# --- three-way match -----------------------------------------------------------------------


def _received(world, tree):
    manager = make_user("store_manager", tree.store_a)
    order = _sent_po(world, manager)
    tomato, oil = order.lines.order_by("line_no")
    services.receive_purchase_order(
        order,
        [
            services.ReceiptLineInput(line_id=tomato.pk, quantity=D(10)),
            services.ReceiptLineInput(line_id=oil.pk, quantity=D(12)),
        ],
        actor=manager,
    )
    return order, tomato, oil


def _invoice(world, order, number, tomato_price, oil_price="45.50", **extra):
    tomato, _oil = order.lines.order_by("line_no")
    return services.enter_invoice(
        world.supplier,
        services.InvoiceInput(
            invoice_number=number,
            invoice_date=dt.date(2025, 3, 12),
            purchase_order_number=order.number,
            lines=[
                services.InvoiceLineInput(
                    quantity=D(10), unit_price=D(tomato_price), purchase_order_line_id=tomato.pk
                ),
                services.InvoiceLineInput(
                    quantity=D(12), unit_price=D(oil_price), item_id=world.oil.pk
                ),
            ],
            tax_amount=extra.pop("tax", D(0)),
        ),
        actor=extra.pop("actor", SYSTEM),
    )


def test_exact_match_is_payable_and_published(world, tree):
    order, _tomato, _oil = _received(world, tree)
    invoice = _invoice(world, order, "INV-1", "80.00", tax=D("121.14"))
    assert invoice.status == "payable"
    assert invoice.due_date == dt.date(2025, 4, 11)
    assert invoice.matches.get().status == "matched"
    event = _events("procurement.invoice.matched")[0].payload
    assert (event["total"], event["match_status"], event["store_id"]) == (
        "1467.1400",
        "matched",
        world.store.pk,
    )
    assert ReviewEntry.objects.count() == 0


def test_price_mismatch_within_tolerance_is_payable(world, tree):
    order, _tomato, _oil = _received(world, tree)
    # 10 × 80.08 = 800.80: 0.80 over; tolerance = min(1.00, 2 % of 800) = 1.00.
    invoice = _invoice(world, order, "INV-2", "80.08")
    assert invoice.status == "payable"
    match = invoice.matches.get()
    assert (match.status, match.difference) == ("within_tolerance", D("0.8000"))


def test_price_mismatch_beyond_tolerance_goes_to_review(world, tree):
    order, _tomato, _oil = _received(world, tree)
    invoice = _invoice(world, order, "INV-3", "81.00")  # 10.00 over
    assert invoice.status == "in_review"
    entry = ReviewEntry.objects.get(invoice=invoice)
    assert entry.reasons == ["price_mismatch"]
    assert entry.match.lines[0]["status"] == "mismatch"
    assert _events("procurement.invoice.matched") == []
    finance = make_user("finance", tree.group)
    assert list(selectors.review_queue_for(finance)) == [entry]
    services.resolve_review(entry, actor=finance, accept=True, note="Price rise agreed")
    invoice.refresh_from_db()
    assert invoice.status == "payable"
    assert _events("procurement.invoice.matched")[0].payload["accepted_by_review"] is True


def test_unknown_po_is_an_error_or_a_review_entry(world, tree):
    _received(world, tree)
    data = services.InvoiceInput(
        invoice_number="INV-9",
        invoice_date=dt.date(2025, 3, 12),
        purchase_order_number="PO-NOPE-1",
        lines=[services.InvoiceLineInput(quantity=D(1), unit_price=D(5))],
    )
    before = _state()
    with pytest.raises(UnknownPurchaseOrder):
        services.enter_invoice(world.supplier, data, actor=SYSTEM)
    assert _state() == before
    invoice = services.enter_invoice(world.supplier, data, actor=SYSTEM, queue_unknown_po=True)
    assert invoice.status == "in_review"
    assert ReviewEntry.objects.get(invoice=invoice).reasons == ["unknown_po"]
