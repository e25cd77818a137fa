"""List exports of the procurement pages: `?export=xlsx|csv` on the page's own URL gives every
row the user may see (not only the page's first ones), keeps the page's filter, and never a
row of another store; the supplier list links to the importers' exports instead, for those
who may use them."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from openpyxl import load_workbook

from backroom.imports.importers import IMPORTERS
from backroom.kernel.actors import SYSTEM
from backroom.procurement import services
from backroom.procurement.models import PurchaseOrder, SupplierInvoice
from backroom.procurement.tests.conftest import D
from backroom.testing.factories import make_user
from backroom.testing.matrix import client_of

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

ORDER_HEADER = [
    "Number",
    "Order date",
    "Expected delivery",
    "Store code",
    "Store",
    "Receiving location",
    "Supplier code",
    "Supplier",
    "Status",
    "Currency",
    "Total",
    "Lines",
    "Receipts",
    "Requisition",
    "Sent at",
    "Note",
]
REQUISITION_HEADER = [
    "Number",
    "Created at",
    "Store code",
    "Store",
    "Receiving location",
    "Status",
    "Urgent",
    "Needed by",
    "Currency",
    "Estimated amount",
    "Lines",
    "Note",
]
INVOICE_HEADER = [
    "Invoice number",
    "Supplier code",
    "Supplier",
    "Purchase order",
    "Org unit code",
    "Invoice date",
    "Due date",
    "Status",
    "Currency",
    "Net amount",
    "Tax",
    "Total",
    "Note",
]
REVIEW_HEADER = [
    "Invoice number",
    "Supplier code",
    "Supplier",
    "Purchase order",
    "Store code",
    "Invoice date",
    "Currency",
    "Total",
    "Difference",
    "Reasons",
    "In review since",
]


@pytest.fixture
def people(tree):
    return {
        "manager_a": make_user("store_manager", tree.store_a),
        "manager_b": make_user("store_manager", tree.store_b),
        "tech_a": make_user("technician", tree.store_a),
        "buyer": make_user("buyer", tree.group),
        "buyer_b": make_user("buyer", tree.store_b),
        "finance": make_user("finance", tree.group),
    }


def _requisition(store, world, manager, note=""):
    return services.create_requisition(
        store,
        [
            services.RequisitionLineInput(
                item_id=world.tomato.pk, quantity=D(4), supplier_id=world.supplier.pk
            ),
            services.RequisitionLineInput(
                item_id=world.milk.pk, quantity=D(2), supplier_id=world.supplier.pk
            ),
        ],
        actor=manager,
        note=note,
    )


def _order(store, world, manager, *, send=True):
    """A PO of `store` (4 cases of tomatoes at 80, 2 crates of milk at 120), sent by default."""
    found = PurchaseOrder.objects.get(requisition=_requisition(store, world, manager))
    return services.send_purchase_order(found, actor=SYSTEM) if send else found


@pytest.fixture
def orders(world, people):
    """Store A: a sent PO and one not sent; store B: a sent PO."""
    return {
        "a_sent": _order(world.store, world, people["manager_a"]),
        "a_other": _order(world.store, world, people["manager_a"], send=False),
        "b_sent": _order(world.store_b, world, people["manager_b"]),
    }


def _received_invoice(order, manager, finance, number, tomato_price):
    """Receive the whole PO, then enter the supplier's invoice with the tomatoes' price."""
    tomato, milk = order.lines.order_by("line_no")
    services.receive_purchase_order(
        order,
        [
            services.ReceiptLineInput(line_id=tomato.pk, quantity=D(4)),
            services.ReceiptLineInput(line_id=milk.pk, quantity=D(2), temperature=D(3)),
        ],
        actor=manager,
    )
    return services.enter_invoice(
        order.supplier,
        services.InvoiceInput(
            invoice_number=number,
            invoice_date=order.order_date,
            purchase_order_number=order.number,
            lines=[
                services.InvoiceLineInput(
                    quantity=D(4), unit_price=D(tomato_price), purchase_order_line_id=tomato.pk
                ),
                services.InvoiceLineInput(
                    quantity=D(2), unit_price=D(120), purchase_order_line_id=milk.pk
                ),
            ],
        ),
        actor=finance,
    )


@pytest.fixture
def invoices(world, orders, people):
    """A matched invoice and one in review (tomatoes at 95, not 80) of store A; one in review
    of store B."""
    manager_a, finance = people["manager_a"], people["finance"]
    matched = _received_invoice(orders["a_sent"], manager_a, finance, "A-OK", 80)
    second = _order(world.store, world, manager_a)
    mismatch_a = _received_invoice(second, manager_a, finance, "A-BAD", 95)
    mismatch_b = _received_invoice(orders["b_sent"], people["manager_b"], finance, "B-BAD", 95)
    return {"matched": matched, "mismatch_a": mismatch_a, "mismatch_b": mismatch_b}


def _xlsx(response):
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    assert response["Content-Disposition"].startswith("attachment;")
    sheet = load_workbook(io.BytesIO(response.content), read_only=True).active
    header, *rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    return header, rows


def _csv(response):
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = response.content.decode("utf-8-sig")
    header, *rows = list(csv.reader(io.StringIO(text)))
    return header, rows


def _column(header, rows, name):
    index = header.index(name)
    return sorted(row[index] for row in rows)


def _assert_denied(url):
    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    return anonymous


# --- purchase orders ----------------------------------------------------------------------------


def test_order_export_xlsx_has_every_order_not_only_the_page(orders, people, monkeypatch):
    monkeypatch.setattr("backroom.procurement.views.orders.RECENT", 1)
    client = client_of(people["buyer"])
    page = client.get("/procurement/orders/").content.decode()
    assert page.count('data-testid="order-row"') == 1
    assert 'href="?export=xlsx"' in page and 'href="?export=csv"' in page
    response = client.get("/procurement/orders/?export=xlsx")
    assert response["Content-Disposition"] == 'attachment; filename="purchase-orders.xlsx"'
    header, rows = _xlsx(response)
    assert header == ORDER_HEADER
    assert sorted(row[0] for row in rows) == sorted(order.number for order in orders.values())
    sent = orders["a_sent"]
    row = next(row for row in rows if row[0] == sent.number)
    assert row[1].date() == sent.order_date  # an Excel date
    assert row[3:12] == [
        "SHA001",
        sent.store.node.name,
        "WALKIN",
        "FRESH",
        "Fresh Foods",
        "Sent",
        "CNY",
        560,  # 4 × 80 + 2 × 120, a number
        2,
    ]
    assert row[12:14] == [0, sent.requisition.number]
    assert row[14] is not None and row[14].tzinfo is None  # local wall-clock time


def test_order_export_csv_keeps_the_state_filter(orders, people):
    client = client_of(people["buyer"])
    page = client.get("/procurement/orders/?status=sent").content.decode()
    assert 'href="?status=sent&amp;export=csv"' in page
    header, rows = _csv(client.get("/procurement/orders/?status=sent&export=csv"))
    assert header == ORDER_HEADER
    assert _column(header, rows, "Number") == sorted(
        [orders["a_sent"].number, orders["b_sent"].number]
    )
    assert set(_column(header, rows, "Status")) == {"Sent"}
    row = next(row for row in rows if row[0] == orders["a_sent"].number)
    assert row[header.index("Total")] == "560"
    assert row[header.index("Order date")] == orders["a_sent"].order_date.isoformat()
    # A filter changed in place (HTMX) moves the export buttons with it.
    fragment = client.get("/procurement/orders/?status=sent", HTTP_HX_REQUEST="true")
    body = fragment.content.decode()
    assert "<html" not in body
    assert 'id="order-exports" class="d-flex" hx-swap-oob="true"' in body
    assert 'href="?status=sent&amp;export=xlsx"' in body


def test_order_export_is_scoped_to_the_store(orders, people):
    header, rows = _csv(client_of(people["manager_a"]).get("/procurement/orders/?export=csv"))
    assert _column(header, rows, "Number") == sorted(
        [orders["a_sent"].number, orders["a_other"].number]
    )
    assert set(_column(header, rows, "Store code")) == {"SHA001"}
    header, rows = _xlsx(client_of(people["manager_b"]).get("/procurement/orders/?export=xlsx"))
    assert [row[0] for row in rows] == [orders["b_sent"].number]


def test_order_export_denied(orders, people):
    url = "/procurement/orders/?export=csv"
    _assert_denied(url)
    assert client_of(people["tech_a"]).get(url).status_code == 403


def test_order_export_queries_do_not_grow_with_orders(
    world, people, orders, django_assert_max_num_queries
):
    client = client_of(people["buyer"])
    client.get("/procurement/orders/?export=xlsx")
    with django_assert_max_num_queries(8) as few:
        client.get("/procurement/orders/?export=xlsx")
    for _ in range(3):
        _order(world.store, world, people["manager_a"])
    with django_assert_max_num_queries(len(few)):
        _header, rows = _xlsx(client.get("/procurement/orders/?export=xlsx"))
    assert len(rows) == 6


# --- requisitions -------------------------------------------------------------------------------


def test_requisition_export_xlsx_and_csv_has_every_requisition(orders, people, monkeypatch):
    monkeypatch.setattr("backroom.procurement.views.requisitions.RECENT", 1)
    client = client_of(people["buyer"])
    page = client.get("/procurement/requisitions/").content.decode()
    assert page.count('data-testid="requisition-row"') == 1
    assert 'href="?export=xlsx"' in page
    numbers = sorted(order.requisition.number for order in orders.values())
    header, rows = _xlsx(client.get("/procurement/requisitions/?export=xlsx"))
    assert header == REQUISITION_HEADER
    assert sorted(row[0] for row in rows) == numbers
    requisition = orders["a_sent"].requisition
    row = next(row for row in rows if row[0] == requisition.number)
    assert row[1].tzinfo is None
    assert row[2:11] == [
        "SHA001",
        requisition.store.node.name,
        "WALKIN",
        str(requisition.get_status_display()),
        False,
        None,
        "CNY",
        560,
        2,
    ]
    header, rows = _csv(client.get("/procurement/requisitions/?export=csv"))
    assert header == REQUISITION_HEADER
    assert _column(header, rows, "Number") == numbers
    row = next(row for row in rows if row[0] == requisition.number)
    assert row[header.index("Estimated amount")] == "560"
    assert row[header.index("Urgent")] == "False"


def test_requisition_export_is_scoped_and_denied(orders, people):
    url = "/procurement/requisitions/?export=csv"
    header, rows = _csv(client_of(people["manager_b"]).get(url))
    assert _column(header, rows, "Number") == [orders["b_sent"].requisition.number]
    _assert_denied(url)
    assert client_of(people["tech_a"]).get(url).status_code == 403


# --- invoices -----------------------------------------------------------------------------------


def test_invoice_export_xlsx_and_csv_has_every_invoice(invoices, people, monkeypatch):
    monkeypatch.setattr("backroom.procurement.views.invoices.RECENT", 1)
    client = client_of(people["finance"])
    page = client.get("/procurement/invoices/").content.decode()
    assert page.count('data-testid="invoice-row"') == 1
    assert 'href="?export=xlsx"' in page
    header, rows = _xlsx(client.get("/procurement/invoices/?export=xlsx"))
    assert header == INVOICE_HEADER
    assert sorted(row[0] for row in rows) == ["A-BAD", "A-OK", "B-BAD"]
    invoice = SupplierInvoice.objects.select_related("purchase_order").get(invoice_number="A-OK")
    row = next(row for row in rows if row[0] == "A-OK")
    assert row[1:5] == ["FRESH", "Fresh Foods", invoice.purchase_order.number, "SHA001"]
    assert row[5].date() == invoice.invoice_date and row[6].date() == invoice.due_date
    assert row[7:12] == [str(invoice.get_status_display()), "CNY", 560, 0, 560]
    header, rows = _csv(client.get("/procurement/invoices/?export=csv"))
    assert header == INVOICE_HEADER
    row = next(row for row in rows if row[0] == "A-BAD")
    assert row[header.index("Net amount")] == "620"  # 4 × 95 + 2 × 120
    assert row[header.index("Status")] == str(invoices["mismatch_a"].get_status_display())


def test_invoice_export_is_scoped_and_denied(invoices, people):
    url = "/procurement/invoices/?export=csv"
    header, rows = _csv(client_of(people["manager_a"]).get(url))
    assert _column(header, rows, "Invoice number") == ["A-BAD", "A-OK"]
    header, rows = _csv(client_of(people["manager_b"]).get(url))
    assert _column(header, rows, "Invoice number") == ["B-BAD"]
    _assert_denied(url)
    assert client_of(people["tech_a"]).get(url).status_code == 403


def test_review_queue_export_xlsx_and_csv(invoices, people, monkeypatch):
    monkeypatch.setattr("backroom.procurement.views.invoices.RECENT", 1)
    client = client_of(people["finance"])
    page = client.get("/procurement/invoices/review/").content.decode()
    assert page.count('data-testid="review-entry"') == 1
    assert 'href="?export=xlsx"' in page
    header, rows = _xlsx(client.get("/procurement/invoices/review/?export=xlsx"))
    assert header == REVIEW_HEADER
    assert sorted(row[0] for row in rows) == ["A-BAD", "B-BAD"]  # the matched one is not there
    invoice = invoices["mismatch_a"]
    row = next(row for row in rows if row[0] == "A-BAD")
    assert row[1:5] == ["FRESH", "Fresh Foods", invoice.purchase_order.number, "SHA001"]
    assert row[5].date() == invoice.invoice_date
    assert row[6:9] == ["CNY", 620, 60]  # 60 more than PO price × received
    assert row[9] and "<" not in row[9]
    assert row[10].tzinfo is None
    header, rows = _csv(client.get("/procurement/invoices/review/?export=csv"))
    assert header == REVIEW_HEADER
    row = next(row for row in rows if row[0] == "B-BAD")
    assert row[header.index("Store code")] == "SHA002"
    assert row[header.index("Difference")] == "60"


def test_review_queue_export_is_scoped_and_denied(invoices, people):
    url = "/procurement/invoices/review/?export=csv"
    header, rows = _csv(client_of(people["buyer_b"]).get(url))
    assert _column(header, rows, "Invoice number") == ["B-BAD"]
    _assert_denied(url)
    assert client_of(people["manager_a"]).get(url).status_code == 403  # no procurement.invoice


# --- suppliers: the importers' exports ----------------------------------------------------------


def test_supplier_list_links_to_the_importers_exports_for_a_buyer(world, people):
    buyer = people["buyer"]
    assert IMPORTERS["suppliers"].allowed(buyer) and IMPORTERS["prices"].allowed(buyer)
    client = client_of(buyer)
    page = client.get("/procurement/suppliers/").content.decode()
    for kind in ("suppliers", "prices"):
        assert f'data-testid="round-trip-export" data-kind="{kind}"' in page
        assert f'href="/imports/{kind}/export/?format=xlsx"' in page
        assert f'href="/imports/{kind}/export/?format=csv"' in page
    assert "?export=" not in page  # no table export of its own
    download = client.get("/imports/suppliers/export/?format=csv")
    assert download.status_code == 200
    assert "FRESH" in download.content.decode("utf-8-sig")


def test_supplier_list_hides_the_exports_from_who_may_not_import(world, people):
    manager = people["manager_a"]
    assert not IMPORTERS["suppliers"].allowed(manager)
    assert not IMPORTERS["prices"].allowed(manager)
    page = client_of(manager).get("/procurement/suppliers/").content.decode()
    assert 'data-code="FRESH"' in page
    assert "round-trip-export" not in page and "/export/" not in page
