"""Procurement pages: who sees and does what (the permission matrix), receiving on the phone
with every problem at once, PO buttons, invoice entry and the review queue."""

from __future__ import annotations

import pytest
from django.test import Client

from backroom.inventory.models import StockMove
from backroom.kernel.actors import SYSTEM
from backroom.procurement import services
from backroom.procurement.models import (
    PurchaseOrder,
    Receipt,
    ReceiptLine,
    ReviewEntry,
    SupplierInvoice,
)
from backroom.procurement.tests.conftest import D
from backroom.testing.factories import make_user
from backroom.testing.matrix import assert_matrix, client_of


@pytest.fixture
def people(tree):
    return {
        "manager_a": make_user("store_manager", tree.store_a),
        "manager_b": make_user("store_manager", tree.store_b),
        "staff_a": make_user("store_staff", tree.store_a),
        "tech_a": make_user("technician", tree.store_a),
        "region": make_user("region_manager", tree.region),
        "buyer": make_user("buyer", tree.group),
        "buyer_b": make_user("buyer", tree.store_b),
        "finance": make_user("finance", tree.group),
    }


def _text(response):
    return response.content.decode()


def _requisition(world, manager):
    return services.create_requisition(
        world.store,
        [
            services.RequisitionLineInput(
                item_id=world.tomato.pk, quantity=D(4), supplier_id=world.supplier.pk
            ),
            services.RequisitionLineInput(
                item_id=world.milk.pk, quantity=D(2), supplier_id=world.supplier.pk
            ),
        ],
        actor=manager,
        note="Weekend",
    )


@pytest.fixture
def order(world, people):
    """A sent PO of store A: 4 cases of tomatoes, 2 crates of milk (chilled)."""
    requisition = _requisition(world, people["manager_a"])
    found = PurchaseOrder.objects.get(requisition=requisition)
    return services.send_purchase_order(found, actor=SYSTEM)


def _lines(order):
    tomato, milk = order.lines.order_by("line_no")
    return tomato, milk


def _state():
    return (
        Receipt.objects.count(),
        ReceiptLine.objects.count(),
        StockMove.objects.count(),
        list(PurchaseOrder.objects.values_list("status", "receipt_count")),
    )


# --- lists and details ------------------------------------------------------------------------


def test_order_list_matrix_and_state_filter(order, people):
    result = assert_matrix(
        "GET",
        "/procurement/orders/",
        allowed=people["manager_a"],
        forbidden=people["tech_a"],
        other_scope=people["manager_b"],
        expect_other_scope=200,
    )
    assert _text(result.allowed).count('data-testid="order-row"') == 1
    assert order.number in _text(result.allowed)
    assert order.number not in _text(result.other_scope)
    client = client_of(people["buyer"])
    assert order.number not in _text(client.get("/procurement/orders/?status=received"))
    fragment = client.get("/procurement/orders/?status=sent", HTTP_HX_REQUEST="true")
    assert order.number in _text(fragment) and "<html" not in _text(fragment)


def test_order_list_queries_do_not_grow_with_orders(world, people, django_assert_max_num_queries):
    for _ in range(3):
        _requisition(world, people["manager_a"])
    client = client_of(people["buyer"])
    client.get("/procurement/orders/")
    with django_assert_max_num_queries(12):
        assert client.get("/procurement/orders/").status_code == 200


def test_order_detail_matrix_and_buttons(order, people):
    url = f"/procurement/orders/{order.pk}/"
    result = assert_matrix(
        "GET",
        url,
        allowed=people["manager_a"],
        forbidden=people["tech_a"],
        other_scope=people["manager_b"],
    )
    body = _text(result.allowed)
    assert body.count('data-testid="order-line"') == 2
    assert 'data-testid="receive"' in body
    assert 'data-testid="cancel"' not in body  # the store manager does not manage POs
    buyer = _text(client_of(people["buyer"]).get(url))
    assert 'data-testid="cancel"' in buyer and 'data-testid="send"' not in buyer


def test_send_cancel_close_need_manage_and_change_nothing_when_denied(world, people):
    requisition = _requisition(world, people["manager_a"])
    order = PurchaseOrder.objects.get(requisition=requisition)
    result = assert_matrix(
        "POST",
        f"/procurement/orders/{order.pk}/send/",
        allowed=people["buyer"],
        forbidden=people["manager_a"],
        other_scope=people["buyer_b"],
        expect_allowed=302,
        snapshot=lambda: PurchaseOrder.objects.values_list("status"),
    )
    assert result.allowed["Location"] == f"/procurement/orders/{order.pk}/"
    order.refresh_from_db()
    assert order.status == "sent"
    # Closing a PO that received nothing is refused, on the page, changing nothing.
    response = client_of(people["buyer"]).post(f"/procurement/orders/{order.pk}/close/")
    assert response.status_code == 409
    assert 'data-testid="form-errors"' in _text(response)
    order.refresh_from_db()
    assert order.status == "sent"
    response = client_of(people["buyer"]).post(
        f"/procurement/orders/{order.pk}/cancel/", {"reason": "Supplier out of stock"}
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.status, order.cancel_reason) == ("cancelled", "Supplier out of stock")


def test_requisition_pages(world, people, order):
    requisition = order.requisition
    result = assert_matrix(
        "GET",
        "/procurement/requisitions/",
        allowed=people["manager_a"],
        forbidden=people["tech_a"],
        other_scope=people["manager_b"],
        expect_other_scope=200,
    )
    assert requisition.number in _text(result.allowed)
    assert requisition.number not in _text(result.other_scope)
    result = assert_matrix(
        "GET",
        f"/procurement/requisitions/{requisition.pk}/",
        allowed=people["manager_a"],
        forbidden=people["tech_a"],
        other_scope=people["manager_b"],
    )
    body = _text(result.allowed)
    assert body.count('data-testid="requisition-line"') == 2
    assert f'href="/procurement/orders/{order.pk}/"' in body
    assert 'data-testid="requisition-approval"' in body


def test_supplier_pages(world, people):
    result = assert_matrix(
        "GET",
        "/procurement/suppliers/",
        allowed=people["manager_a"],
        forbidden=people["tech_a"],
        other_scope=None,
    )
    assert 'data-code="FRESH"' in _text(result.allowed)
    result = assert_matrix(
        "GET",
        f"/procurement/suppliers/{world.supplier.pk}/",
        allowed=people["manager_a"],
        forbidden=people["tech_a"],
        other_scope=None,
    )
    body = _text(result.allowed)
    assert body.count('data-testid="supplier-item"') == 3
    assert "45.50" in body and "80.00" in body  # current prices
    assert "MOQ 12" in body


def test_nav_shows_procurement_entries_by_permission(people, order):
    manager = _text(client_of(people["manager_a"]).get("/procurement/receiving/"))
    for url in ("/procurement/requisitions/", "/procurement/orders/", "/procurement/receiving/"):
        assert f'href="{url}"' in manager
    assert 'href="/procurement/invoices/review/"' not in manager
    finance = _text(client_of(people["finance"]).get("/procurement/invoices/"))
    assert 'href="/procurement/invoices/review/"' in finance
    assert 'href="/procurement/receiving/"' not in finance


# --- receiving --------------------------------------------------------------------------------


def _receipt_form(order, **overrides):
    tomato, milk = _lines(order)
    data = {
        f"received_{tomato.pk}": "3",
        f"rejected_{tomato.pk}": "1",
        f"reason_{tomato.pk}": "damaged",
        f"lot_{tomato.pk}": "T-0310",
        f"expiry_{tomato.pk}": "2030-03-17",
        f"received_{milk.pk}": "2",
        f"temperature_{milk.pk}": "3,5",
        f"lot_{milk.pk}": "M-1",
        f"expiry_{milk.pk}": "2030-03-20",
        "delivery_note_number": "DN-77",
    }
    data.update(overrides)
    return data


def test_receiving_list_shows_deliveries_of_own_store(order, people):
    result = assert_matrix(
        "GET",
        "/procurement/receiving/",
        allowed=people["staff_a"],
        forbidden=people["region"],  # sees POs, receives nothing
        other_scope=people["manager_b"],
        expect_other_scope=200,
    )
    assert f'data-number="{order.number}"' in _text(result.allowed)
    assert 'data-testid="delivery-row"' not in _text(result.other_scope)


def test_receive_form_matrix_posts_for_the_allowed_user_only(order, people, world):
    url = f"/procurement/orders/{order.pk}/receive/"
    get = assert_matrix(
        "GET",
        url,
        allowed=people["staff_a"],
        forbidden=people["region"],
        other_scope=people["manager_b"],
    )
    body = _text(get.allowed)
    assert body.count('data-testid="receive-line"') == 2
    assert body.count('data-testid="temperature"') == 1  # only the chilled milk
    assert 'capture="environment"' in body and 'accept="image/*"' in body
    result = assert_matrix(
        "POST",
        url,
        payload=_receipt_form(order),
        allowed=people["manager_a"],
        forbidden=people["region"],
        other_scope=people["manager_b"],
        expect_allowed=302,
        snapshot=_state,
    )
    receipt = Receipt.objects.get()
    assert result.allowed["Location"] == f"/procurement/receipts/{receipt.pk}/"
    tomato, milk = receipt.lines.order_by("line_no")
    assert (tomato.received_quantity, tomato.rejected_quantity, tomato.rejection_reason) == (
        D(3),
        D(1),
        "damaged",
    )
    assert (milk.temperature, milk.temperature_ok, milk.lot_code) == (D("3.5"), True, "M-1")
    order.refresh_from_db()
    assert order.status == "partially_received"  # one case of tomatoes still expected
    moves = StockMove.objects.filter(source_type="procurement.receipt").order_by("id")
    assert [(move.quantity, move.lot.code) for move in moves] == [
        (D(30), "T-0310"),  # 3 cases of 10 kg
        (D(24), "M-1"),  # 2 crates of 12 l
    ]
    page = _text(client_of(people["manager_a"]).get(result.allowed["Location"]))
    assert "T-0310" in page and 'data-testid="rejected"' in page


def test_receiving_shows_every_problem_at_once_and_keeps_what_was_typed(order, people):
    tomato, milk = _lines(order)
    before = _state()
    client = client_of(people["manager_a"])
    response = client.post(
        f"/procurement/orders/{order.pk}/receive/",
        _receipt_form(
            order,
            **{
                f"received_{tomato.pk}": "9",  # 4 ordered: over-receipt
                f"reason_{tomato.pk}": "",  # rejected 1 without a reason
                f"temperature_{milk.pk}": "",  # chilled without a temperature
                f"lot_{milk.pk}": "KEEP-ME",
            },
        ),
    )
    assert response.status_code == 422
    body = _text(response)
    assert body.count('data-testid="line-errors"') == 2
    assert "would be received" in body
    assert "Say why goods were rejected." in body
    assert "give its temperature on arrival" in body
    assert 'value="KEEP-ME"' in body and 'value="9"' in body
    assert _state() == before


def test_temperature_out_of_range_needs_a_note_or_a_rejection(order, people):
    tomato, milk = _lines(order)
    client = client_of(people["manager_a"])
    form = {f"received_{milk.pk}": "2", f"temperature_{milk.pk}": "9"}
    response = client.post(f"/procurement/orders/{order.pk}/receive/", form)
    assert response.status_code == 422
    assert "reject it or accept it with a note" in _text(response)
    assert Receipt.objects.count() == 0
    form[f"note_{milk.pk}"] = "Used at once for the staff meal"
    response = client.post(f"/procurement/orders/{order.pk}/receive/", form)
    assert response.status_code == 302
    line = ReceiptLine.objects.get()
    assert (line.temperature_ok, line.note) == (False, "Used at once for the staff meal")
    del tomato


def test_receiving_a_bad_expiry_date_changes_nothing(order, people):
    tomato, _milk = _lines(order)
    response = client_of(people["manager_a"]).post(
        f"/procurement/orders/{order.pk}/receive/",
        {f"received_{tomato.pk}": "4", f"expiry_{tomato.pk}": "31/02/2030"},
    )
    assert response.status_code == 422
    assert "YYYY-MM-DD" in _text(response)
    assert Receipt.objects.count() == 0


# --- invoices ---------------------------------------------------------------------------------


def _received(order, manager):
    tomato, milk = _lines(order)
    services.receive_purchase_order(
        order,
        [
            services.ReceiptLineInput(line_id=tomato.pk, quantity=D(4)),
            services.ReceiptLineInput(line_id=milk.pk, quantity=D(2), temperature=D(3)),
        ],
        actor=manager,
    )
    return tomato, milk


def test_invoice_entry_matches_and_mismatch_goes_to_review(order, people):
    tomato, milk = _received(order, people["manager_a"])
    url = f"/procurement/orders/{order.pk}/invoice/"
    get = assert_matrix(
        "GET",
        url,
        allowed=people["finance"],
        forbidden=people["manager_a"],
        other_scope=people["buyer_b"],
    )
    assert _text(get.allowed).count('data-testid="invoice-line"') == 2
    client = client_of(people["finance"])
    matched = client.post(
        url,
        {
            "invoice_number": "A-1",
            "invoice_date": "2026-01-05",
            "tax_amount": "0",
            f"quantity_{tomato.pk}": "4",
            f"price_{tomato.pk}": "80",
            f"quantity_{milk.pk}": "2",
            f"price_{milk.pk}": "120",
        },
    )
    assert matched.status_code == 302
    invoice = SupplierInvoice.objects.get(invoice_number="A-1")
    assert invoice.status == "payable"
    assert 'data-status="matched"' in _text(client.get(matched["Location"]))
    mismatch = client.post(
        url,
        {
            "invoice_number": "A-2",
            "invoice_date": "2026-01-05",
            f"quantity_{tomato.pk}": "4",
            f"price_{tomato.pk}": "88",
        },
    )
    assert mismatch.status_code == 302
    entry = ReviewEntry.objects.get(invoice__invoice_number="A-2")
    queue = _text(client.get("/procurement/invoices/review/"))
    assert queue.count('data-testid="review-entry"') == 1 and "A-2" in queue
    # The same number again: a coded error on the page, nothing saved.
    again = client.post(
        url,
        {"invoice_number": "A-2", "invoice_date": "2026-01-05", f"quantity_{tomato.pk}": "1"},
    )
    assert again.status_code == 422
    assert "was entered before" in _text(again)
    assert SupplierInvoice.objects.count() == 2
    del entry


def test_review_queue_matrix_and_resolution(order, people):
    tomato, _milk = _received(order, people["manager_a"])
    services.enter_invoice(
        order.supplier,
        services.InvoiceInput(
            invoice_number="B-1",
            invoice_date=order.order_date,
            purchase_order_number=order.number,
            lines=[
                services.InvoiceLineInput(
                    quantity=D(4), unit_price=D(95), purchase_order_line_id=tomato.pk
                )
            ],
        ),
        actor=people["finance"],
    )
    entry = ReviewEntry.objects.get()
    assert_matrix(
        "GET",
        "/procurement/invoices/review/",
        allowed=people["finance"],
        forbidden=people["manager_a"],
        other_scope=None,
    )
    url = f"/procurement/invoices/review/{entry.pk}/resolve/"
    result = assert_matrix(
        "POST",
        url,
        payload={"decision": "reject", "note": "Price not agreed"},
        allowed=people["finance"],
        forbidden=people["manager_a"],
        other_scope=people["buyer_b"],
        expect_allowed=302,
        snapshot=lambda: ReviewEntry.objects.values_list("status"),
    )
    assert result.allowed["Location"] == "/procurement/invoices/review/"
    entry.refresh_from_db()
    assert (entry.status, entry.resolution_note) == ("rejected", "Price not agreed")
    assert entry.invoice.status == "rejected"
    # Resolving again is refused with a message, nothing changed.
    response = client_of(people["finance"]).post(url, {"decision": "accept"}, follow=True)
    assert "already resolved" in _text(response)
    entry.refresh_from_db()
    assert entry.status == "rejected"


def test_anonymous_is_sent_to_sign_in_everywhere(order):
    client = Client()
    for url in (
        "/procurement/requisitions/",
        f"/procurement/orders/{order.pk}/",
        "/procurement/receiving/",
        "/procurement/invoices/",
        "/procurement/suppliers/",
    ):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]
