"""Supplier invoices imported from a file (CSV in UTF-8 or GBK, .xlsx) and matched again after a
late delivery: the whole effect of a good file, every problem of a bad one at once with nothing
changed, dry runs, the API and page permission matrices, and the CLI's exit codes."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import ManagementUtility, call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client

from backroom.audit.models import AuditEntry
from backroom.events.models import OutboxEvent
from backroom.kernel import clock
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import PermissionDenied
from backroom.procurement import services
from backroom.procurement.exceptions import DocumentRejected, ReviewStateError
from backroom.procurement.models import (
    MatchResult,
    PurchaseOrder,
    ReviewEntry,
    SupplierInvoice,
    SupplierInvoiceLine,
)
from backroom.procurement.tests.conftest import D
from backroom.testing.factories import client_for, make_user
from backroom.testing.matrix import assert_matrix

NOW = dt.datetime(2025, 3, 10, 1, 0, tzinfo=dt.UTC)  # Monday 09:00 in Shanghai
API = "/api/v1/procurement"
HEADER = (
    "supplier code,invoice number,invoice date,PO number,PO line no,item SKU,quantity,"
    "unit price,amount,tax,currency"
)


@pytest.fixture(autouse=True)
def _clock():
    with clock.at(NOW):
        yield


def _events(kind: str) -> list[OutboxEvent]:
    return list(OutboxEvent.objects.filter(event_type=kind).order_by("id"))


def _state() -> tuple[Any, ...]:
    """Everything an invoice import or a re-match could change."""
    return (
        list(SupplierInvoice.objects.order_by("pk").values_list("pk", "status")),
        SupplierInvoiceLine.objects.count(),
        MatchResult.objects.count(),
        list(ReviewEntry.objects.order_by("pk").values_list("pk", "status", "match_id")),
        AuditEntry.objects.count(),
        OutboxEvent.objects.count(),
    )


def _po(world, *, store=None, tomato: int = 10, oil: int = 12, send: bool = True) -> PurchaseOrder:
    """A PO of store A (or `store`): tomatoes (line 1, 80.00 a case) and oil (line 2, 45.50 a
    bottle); approved and sent unless `send` is false (then a draft)."""
    order = services.create_purchase_order(
        store or world.store,
        world.supplier,
        [
            services.PurchaseOrderLineInput(world.tomato.pk, D(tomato)),
            services.PurchaseOrderLineInput(world.oil.pk, D(oil)),
        ],
        actor=SYSTEM,
    )
    if not send:
        return order
    return services.send_purchase_order(
        services.approve_purchase_order(order, actor=SYSTEM), actor=SYSTEM
    )


def _receive(order: PurchaseOrder, *, tomato: int = 0, oil: int = 0, actor: Any = SYSTEM) -> None:
    lines = {line.item.sku: line for line in order.lines.select_related("item")}
    services.receive_purchase_order(
        order,
        [
            services.ReceiptLineInput(line_id=lines[sku].pk, quantity=D(quantity))
            for sku, quantity in (("TOMATO", tomato), ("OIL", oil))
            if quantity
        ],
        actor=actor,
    )


def _csv(*rows: str, header: str = HEADER, encoding: str = "utf-8") -> bytes:
    return "\r\n".join([header, *rows]).encode(encoding) + b"\r\n"


def _golden(first: PurchaseOrder, second: PurchaseOrder) -> bytes:
    """INV-1 bills `first` exactly (tax on its first row); INV-2 bills tomatoes of `second`
    at 81.00 instead of 80.00: 10.00 over a tolerance of 1.00."""
    return _csv(
        f"FRESH,INV-1,2025-03-11,{first.number},1,,10,80.00,,104.00,CNY",
        f"FRESH,INV-1,2025-03-11,{first.number},,OIL,12,45.50,546.00,,",
        f"FRESH,INV-2,2025/03/12,{second.number},1,TOMATO,10,81,,,",
        f" fresh ,INV-2,2025/03/12,{second.number},2,,12,45.5,,,",
    )


@pytest.fixture
def received(world):
    """Two sent POs of store A, each received in full."""
    first, second = _po(world), _po(world)
    _receive(first, tomato=10, oil=12)
    _receive(second, tomato=10, oil=12)
    return first, second


@pytest.fixture
def finance_a(tree):
    return make_user("finance", tree.store_a)


# --- a good file -------------------------------------------------------------------------------


def test_golden_csv_creates_a_matched_and_a_reviewed_invoice(world, received, finance_a):
    first, second = received
    audit_before = AuditEntry.objects.filter(action="procurement.invoice.enter").count()
    result = services.import_invoices(_golden(first, second), "march.csv", actor=finance_a)
    assert (result.file_type, result.dry_run, result.invoice_count, result.line_count) == (
        "csv",
        False,
        2,
        4,
    )
    assert (result.payable_count, result.in_review_count) == (1, 1)
    one, two = result.invoices
    assert (one.invoice_number, one.status, one.match_status, one.rows) == (
        "INV-1",
        "payable",
        "matched",
        [2, 3],
    )
    assert (two.invoice_number, two.status, two.reasons, two.rows) == (
        "INV-2",
        "in_review",
        ["price_mismatch"],
        [4, 5],
    )
    matched = SupplierInvoice.objects.get(invoice_number="INV-1")
    assert (matched.pk, matched.status, matched.purchase_order_id) == (
        one.invoice_id,
        "payable",
        first.pk,
    )
    assert (matched.net_amount, matched.tax_amount, matched.total_amount) == (
        D("1346.0000"),
        D("104.0000"),
        D("1450.0000"),
    )
    assert matched.invoice_date == dt.date(2025, 3, 11)
    assert matched.entered_by == finance_a
    assert list(matched.lines.order_by("line_no").values_list("quantity", "unit_price")) == [
        (D("10.000000"), D("80.0000")),
        (D("12.000000"), D("45.5000")),
    ]
    reviewed = SupplierInvoice.objects.get(invoice_number="INV-2")
    assert (reviewed.status, reviewed.invoice_date) == ("in_review", dt.date(2025, 3, 12))
    assert reviewed.total_amount == D("1356.0000")  # 810 + 546, no tax
    assert ReviewEntry.objects.get().invoice == reviewed
    assert ReviewEntry.objects.get().reasons == ["price_mismatch"]
    # Exactly what entering them one by one does: audit and events.
    assert AuditEntry.objects.filter(action="procurement.invoice.enter").count() - audit_before == 2
    assert len(_events("procurement.invoice.entered")) == 2
    [event] = _events("procurement.invoice.matched")
    assert (event.payload["invoice_number"], event.payload["total"]) == ("INV-1", "1450.0000")
    assert [e.payload["invoice_number"] for e in _events("procurement.invoice.in_review")] == [
        "INV-2"
    ]


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig", "gb18030"])
def test_csv_in_gbk_or_with_a_bom_and_chinese_headers(world, received, finance_a, encoding):
    first, _second = received
    data = _csv(
        f"FRESH,发票-甲1,2025年3月11日,{first.number},1,,10,80,,,CNY",
        f"FRESH,发票-甲1,2025年3月11日,{first.number},,OIL,12,45.50,,,",
        header="供应商编码,发票号, 发票日期 ,采购单号,行号,物料编码,数量,单价,金额,税额,币种",
        encoding=encoding,
    )
    result = services.import_invoices(data, "发票.csv", actor=finance_a)
    invoice = SupplierInvoice.objects.get()
    assert (invoice.invoice_number, invoice.status, invoice.invoice_date) == (
        "发票-甲1",
        "payable",
        dt.date(2025, 3, 11),
    )
    assert result.invoices[0].invoice_id == invoice.pk


def test_semicolons_and_spaced_headers_are_read(world, received, finance_a):
    first, _second = received
    data = _csv(
        f"FRESH;S-1;2025.03.11;{first.number};1;10;80",
        f"FRESH;S-1;2025-03-11;{first.number};2;12;45.50",
        header="Supplier_Code;INVOICE NO;Invoice Date;PO No.;Line No;Qty;Price",
    )
    assert services.import_invoices(data, "x.csv", actor=finance_a).payable_count == 1


def _xlsx(rows: list[list[Any]]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_xlsx_with_a_title_row_excel_dates_and_numbers(world, received, finance_a):
    first, second = received
    data = _xlsx(
        [
            ["Invoices March 2025"],
            [],
            [
                "Supplier Code",
                "Invoice Number",
                "Invoice Date",
                "PO Number",
                "PO Line No",
                "Quantity",
                "Unit Price",
                "Amount",
                "Tax",
                "Notes",
            ],
            [
                "FRESH",
                "X-1",
                dt.datetime(2025, 3, 11),
                first.number,
                1,
                10,
                80.0,
                None,
                10.4,
                "ignored",
            ],
            [
                "FRESH",
                "X-1",
                dt.datetime(2025, 3, 11),
                first.number,
                2.0,
                12,
                45.5,
                546,
                None,
                None,
            ],
            ["FRESH", 20250001, 45728, second.number, 1, 10.0, 80, 800.0, None, None],
            ["FRESH", 20250001, "45728", second.number, 2, 12, "45.50", None, None, None],
        ]
    )
    result = services.import_invoices(data, "march.xlsx", actor=finance_a)
    assert (result.file_type, result.payable_count, result.ignored_columns) == (
        "xlsx",
        2,
        ["Notes"],
    )
    x1 = SupplierInvoice.objects.get(invoice_number="X-1")
    assert (x1.tax_amount, x1.total_amount, x1.status) == (D("10.4"), D("1356.4"), "payable")
    numbered = SupplierInvoice.objects.get(invoice_number="20250001")  # not "20250001.0"
    assert numbered.invoice_date == dt.date(2025, 3, 12)  # Excel serial 45728


# --- a bad file: every problem at once, nothing changed ------------------------------------------


def _rejected(data: bytes, actor: Any, **options: Any) -> list[tuple[Any, str, str]]:
    before = _state()
    with pytest.raises(DocumentRejected) as caught:
        services.import_invoices(data, "bad.csv", actor=actor, **options)
    assert _state() == before
    return [
        (problem["details"]["row"], problem["details"]["column"], problem["code"])
        for problem in caught.value.details["problems"]
    ]


def test_every_problem_of_a_file_is_listed_with_row_and_column(world, tree, received, finance_a):
    first, _second = received
    other_store = _po(world, store=world.store_b)
    draft = _po(world, send=False)
    services.import_invoices(
        _csv(f"FRESH,DONE-1,2025-03-11,{first.number},1,,10,80,,,"), "done.csv", actor=finance_a
    )
    po = first.number
    data = _csv(
        f"FRESH,E-1,2025-03-11,{po},1,,,80,,,",  # 2: no quantity
        f"FRESH,E-2,2025-03-11,{po},1,,abc,80,,,",  # 3: not a number
        f"FRESH,E-3,2025-03-11,{po},1,,1e+15,80,,,",  # 4: scientific notation
        f'FRESH,E-4,2025-03-11,{po},1,,"2,5",80,,,',  # 5: decimal comma
        f"FRESH,E-5,2025-13-45,{po},1,,1,80,,,",  # 6: no such date
        f"NOPE,E-6,2025-03-11,{po},1,,1,80,,,",  # 7: unknown supplier
        "FRESH,E-7,2025-03-11,PO-NOPE-1,1,,1,80,,,",  # 8: unknown PO
        f"FRESH,E-8,2025-03-11,{po},9,,1,80,,,",  # 9: no line 9
        f"FRESH,E-9,2025-03-11,{po},,MILK,1,120,,,",  # 10: milk is not on the PO
        f"FRESH,DONE-1,2025-03-11,{po},1,,1,80,,,",  # 11: entered before
        f"FRESH,E-10,2025-03-11,{po},1,,1,80,,,",
        f"FRESH,E-10,2025-03-12,{po},2,,1,45.5,,,",  # 13: another date for E-10
        f"FRESH,E-11,2025-03-11,{other_store.number},1,,1,80,,,",  # 14: store B's PO
        f"FRESH,E-12,2025-03-11,{draft.number},1,,1,80,,,",  # 15: a draft PO
        f"FRESH,E-13,2025-03-11,{po},1,,1,-80,,,HKD",  # 16: negative price, other currency
        f"FRESH,,2025-03-11,{po},,,1,80,,,",  # 17: no invoice number, no line or SKU
    )
    problems = _rejected(data, finance_a)
    assert problems == [
        (2, "quantity", "required"),
        (3, "quantity", "invalid_number"),
        (4, "quantity", "invalid_number"),
        (5, "quantity", "invalid_number"),
        (6, "invoice date", "invalid_date"),
        (7, "supplier code", "unknown_supplier"),
        (8, "PO number", "unknown_purchase_order"),
        (9, "PO line no", "not_on_purchase_order"),
        (10, "item SKU", "not_on_purchase_order"),
        (11, "invoice number", "duplicate_invoice"),
        (13, "invoice date", "conflicting_values"),
        (14, "PO number", "unknown_purchase_order"),
        (15, "PO number", "purchase_order_state"),
        (16, "unit price", "invalid_number"),
        (16, "currency", "currency_mismatch"),
        (17, "invoice number", "required"),
        (17, "PO line no", "required"),
    ]
    # Store B's PO is as unknown to store A's finance as a PO that does not exist.
    with pytest.raises(DocumentRejected) as caught:
        services.import_invoices(data, "bad.csv", actor=finance_a)
    messages = {p["details"]["row"]: p["message"] for p in caught.value.details["problems"]}
    assert messages[14] == f"FRESH has no purchase order {other_store.number}."
    assert messages[8] == "FRESH has no purchase order PO-NOPE-1."
    assert "scientific notation" in messages[4] and "comma" in messages[5]


def test_missing_and_doubled_columns(world, received, finance_a):
    first, _second = received
    data = _csv(
        f"FRESH,M-1,{first.number},10,80,80",
        header="supplier,发票号,采购单号,数量,单价,price",
    )
    assert _rejected(data, finance_a) == [
        (1, "invoice date", "missing_column"),
        (1, "PO line no", "missing_column"),
        (1, "price", "duplicate_column"),
    ]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty_file"),
        (b"\xef\xbb\xbf \r\n\r\n", "empty_file"),
        (HEADER.encode() + b"\r\n,,,,,,,,,,\r\n", "empty_file"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "unsupported_file"),
        (b"%PDF-1.7\n...", "unsupported_file"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "unsupported_file"),
        (b"PK\x03\x04 not really a zip", "unsupported_file"),
    ],
)
def test_empty_or_wrong_type_of_file(world, finance_a, data, code):
    problems = _rejected(data, finance_a)
    assert [row[2] for row in problems] == [code]


def test_a_zip_that_is_not_a_workbook_is_refused(world, finance_a):
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")
    assert _rejected(buffer.getvalue(), finance_a) == [(None, "", "unsupported_file")]


def test_the_same_file_twice_is_refused_whole(world, received, finance_a):
    first, second = received
    services.import_invoices(_golden(first, second), "march.csv", actor=finance_a)
    assert _rejected(_golden(first, second), finance_a) == [
        (2, "invoice number", "duplicate_invoice"),
        (4, "invoice number", "duplicate_invoice"),
    ]


def test_dry_run_shows_the_outcome_and_changes_nothing(world, received, finance_a):
    first, second = received
    before = _state()
    result = services.import_invoices(
        _golden(first, second), "march.csv", actor=finance_a, dry_run=True
    )
    assert _state() == before
    assert result.dry_run is True
    assert [(i.invoice_number, i.status, i.invoice_id) for i in result.invoices] == [
        ("INV-1", "payable", None),
        ("INV-2", "in_review", None),
    ]
    # The file imports for real afterwards, exactly as previewed.
    real = services.import_invoices(_golden(first, second), "march.csv", actor=finance_a)
    assert [i.status for i in real.invoices] == ["payable", "in_review"]


def test_unknown_po_is_queued_when_asked_and_allowed(world, tree, received):
    data = _csv("FRESH,Q-1,2025-03-11,PO-LOST-1,,TOMATO,2,80,,,")
    store_finance = make_user("finance", tree.store_a)
    # A store's finance may not keep an invoice at the supplier's node: still unknown to them.
    assert _rejected(data, store_finance, queue_unknown_po=True) == [
        (2, "PO number", "unknown_purchase_order")
    ]
    group_finance = make_user("finance", tree.group)
    result = services.import_invoices(data, "q.csv", actor=group_finance, queue_unknown_po=True)
    invoice = SupplierInvoice.objects.get(invoice_number="Q-1")
    assert (invoice.status, invoice.purchase_order_id, invoice.purchase_order_reference) == (
        "in_review",
        None,
        "PO-LOST-1",
    )
    assert invoice.lines.get().item == world.tomato
    assert ReviewEntry.objects.get(invoice=invoice).reasons == ["unknown_po"]
    assert result.invoices[0].reasons == ["unknown_po"]


def test_without_the_invoice_permission_nothing_is_read(world, tree, received):
    first, second = received
    manager = make_user("store_manager", tree.store_a)
    before = _state()
    with pytest.raises(PermissionDenied):
        services.import_invoices(_golden(first, second), "x.csv", actor=manager)
    assert _state() == before


# --- matching again ---------------------------------------------------------------------------


def _invoice_before_delivery(world, finance) -> tuple[PurchaseOrder, SupplierInvoice]:
    """A PO whose invoice (10 cases of tomatoes at the PO price) came before the goods."""
    order = _po(world)
    services.import_invoices(
        _csv(f"FRESH,LATE-1,2025-03-11,{order.number},1,,10,80,,,"), "late.csv", actor=finance
    )
    invoice = SupplierInvoice.objects.get(invoice_number="LATE-1")
    assert invoice.status == "in_review"
    assert ReviewEntry.objects.get(invoice=invoice).reasons == ["quantity_mismatch"]
    return order, invoice


def test_rematch_before_and_after_a_late_delivery(world, tree, finance_a):
    order, invoice = _invoice_before_delivery(world, finance_a)
    entry = ReviewEntry.objects.get(invoice=invoice)
    first_match = entry.match_id
    # Nothing arrived yet: still in review, the entry points at the new match; no event.
    services.rematch_invoice(invoice, actor=finance_a)
    entry.refresh_from_db()
    invoice.refresh_from_db()
    assert (invoice.status, entry.status, entry.reasons) == (
        "in_review",
        "open",
        ["quantity_mismatch"],
    )
    assert (
        entry.match_id != first_match and MatchResult.objects.filter(invoice=invoice).count() == 2
    )
    assert _events("procurement.invoice.matched") == []
    rematch_audit = AuditEntry.objects.get(action="procurement.invoice.rematch")
    assert rematch_audit.actor == finance_a
    assert rematch_audit.after["match"] == "mismatch"
    # The goods arrive (received by store staff, who cannot work invoices): matched at once.
    staff = make_user("store_staff", tree.store_a)
    _receive(order, tomato=10, actor=staff)
    invoice.refresh_from_db()
    entry.refresh_from_db()
    assert invoice.status == "payable"
    assert (entry.status, entry.resolved_by) == ("accepted", staff)
    assert entry.match.status == "matched"
    [event] = _events("procurement.invoice.matched")
    assert (event.payload["invoice_number"], event.payload["accepted_by_review"]) == (
        "LATE-1",
        False,
    )
    automatic = AuditEntry.objects.filter(action="procurement.invoice.rematch").latest("id")
    assert automatic.after["receipt"] == order.receipts.get().number
    assert automatic.after["outcome"] == "payable"
    # Matching it again now is a state error and publishes nothing more.
    before = _state()
    with pytest.raises(ReviewStateError):
        services.rematch_invoice(invoice, actor=finance_a)
    assert _state() == before
    assert len(_events("procurement.invoice.matched")) == 1
    with pytest.raises(ReviewStateError):
        services.resolve_review(entry, actor=finance_a, accept=True)


def test_partial_delivery_refreshes_the_review_then_the_rest_matches(world, finance_a):
    order, invoice = _invoice_before_delivery(world, finance_a)
    _receive(order, tomato=6)
    entry = ReviewEntry.objects.get(invoice=invoice)
    invoice.refresh_from_db()
    assert (invoice.status, entry.status, entry.match.lines[0]["received"]) == (
        "in_review",
        "open",
        "6.000000",
    )
    assert _events("procurement.invoice.matched") == []
    _receive(order, tomato=4)
    invoice.refresh_from_db()
    assert invoice.status == "payable"
    assert len(_events("procurement.invoice.matched")) == 1
    assert ReviewEntry.objects.get(invoice=invoice).status == "accepted"


def test_rematch_after_a_tolerance_change(world, tree, received, finance_a):
    first, second = received
    services.import_invoices(_golden(first, second), "march.csv", actor=finance_a)
    invoice = SupplierInvoice.objects.get(invoice_number="INV-2")
    services.update_supplier(
        world.supplier,
        {"invoice_tolerance_amount": D(20), "invoice_tolerance_percent": D(5)},
        actor=SYSTEM,
        reason="Agreed with the supplier",
    )
    result = services.rematch_invoice(invoice, actor=finance_a)
    assert result.status == "within_tolerance"
    invoice.refresh_from_db()
    assert invoice.status == "payable"
    assert [e.payload["invoice_number"] for e in _events("procurement.invoice.matched")] == [
        "INV-1",
        "INV-2",
    ]


# --- API ----------------------------------------------------------------------------------------


def _upload(client: Client, data: bytes, name: str = "march.csv", **fields: Any) -> Any:
    return client.post(f"{API}/invoices/import", {"file": SimpleUploadedFile(name, data), **fields})


def test_import_api_matrix(world, tree, received, finance_a):
    first, second = received
    data = _golden(first, second)
    manager, finance_b = (
        make_user("store_manager", tree.store_a),
        make_user("finance", tree.store_b),
    )
    before = _state()
    anonymous = _upload(Client(), data)
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "not_authenticated")
    denied = _upload(client_for(manager), data)
    assert (denied.status_code, denied.json()["code"]) == (403, "permission_denied")
    other = _upload(client_for(finance_b), data)
    assert (other.status_code, other.json()["code"]) == (422, "document_rejected")
    assert [
        (p["code"], p["details"]["row"], p["details"]["column"])
        for p in other.json()["details"]["problems"]
    ] == [
        ("unknown_purchase_order", 2, "PO number"),
        ("unknown_purchase_order", 4, "PO number"),
    ]
    assert _state() == before
    dry = _upload(client_for(finance_a), data, dry_run="true")
    assert dry.status_code == 200, dry.content
    assert (dry.json()["dry_run"], dry.json()["invoice_count"]) == (True, 2)
    assert _state() == before
    allowed = _upload(client_for(finance_a), data, dry_run="false")
    assert allowed.status_code == 200, allowed.content
    body = allowed.json()
    assert (body["file_type"], body["payable_count"], body["in_review_count"]) == ("csv", 1, 1)
    assert [(i["invoice_number"], i["status"], i["rows"]) for i in body["invoices"]] == [
        ("INV-1", "payable", [2, 3]),
        ("INV-2", "in_review", [4, 5]),
    ]
    assert (
        body["invoices"][0]["invoice_id"] == SupplierInvoice.objects.get(invoice_number="INV-1").pk
    )
    again = _upload(client_for(finance_a), data)
    assert (again.status_code, again.json()["code"]) == (422, "document_rejected")
    assert {p["code"] for p in again.json()["details"]["problems"]} == {"duplicate_invoice"}


def test_import_api_replays_with_the_same_idempotency_key(world, received, finance_a):
    first, second = received
    client = client_for(finance_a)
    boundary = "BoUnDaRy"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + _golden(first, second)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    send = lambda: client.post(  # noqa: E731
        f"{API}/invoices/import",
        body,
        content_type=f"multipart/form-data; boundary={boundary}",
        HTTP_IDEMPOTENCY_KEY="import-1",
    )
    first_response = send()
    assert first_response.status_code == 200, first_response.content
    state = _state()
    replay = send()
    assert replay.status_code == 200 and replay["Idempotent-Replayed"] == "true"
    assert replay.json() == first_response.json()
    assert _state() == state


def test_rematch_api_matrix(world, tree, received, finance_a, django_capture_on_commit_callbacks):
    first, second = received
    services.import_invoices(_golden(first, second), "march.csv", actor=finance_a)
    invoice = SupplierInvoice.objects.get(invoice_number="INV-2")
    services.update_supplier(
        world.supplier, {"invoice_tolerance_amount": D(20)}, actor=SYSTEM, reason="Agreed"
    )
    services.update_supplier(
        world.supplier, {"invoice_tolerance_percent": D(5)}, actor=SYSTEM, reason="Agreed"
    )
    with django_capture_on_commit_callbacks(execute=True):
        result = assert_matrix(
            "POST",
            f"{API}/invoices/{invoice.pk}/rematch",
            allowed=finance_a,
            forbidden=make_user("store_manager", tree.store_a),  # sees it, may not match it
            other_scope=make_user("finance", tree.store_b),
            snapshot=_state,
        )
    body = result.allowed.json()
    assert (body["status"], body["match"]["status"]) == ("payable", "within_tolerance")
    again = client_for(finance_a).post(f"{API}/invoices/{invoice.pk}/rematch")
    assert (again.status_code, again.json()["code"]) == (409, "review_state")


# --- pages --------------------------------------------------------------------------------------


def test_import_page_matrix_problems_and_summary(world, tree, received, finance_a):
    first, second = received
    url = "/procurement/invoices/import/"
    page = assert_matrix(
        "GET",
        url,
        allowed=finance_a,
        forbidden=make_user("store_manager", tree.store_a),
        other_scope=None,
    )
    assert 'data-testid="invoice-import-form"' in page.allowed.content.decode()
    data = _golden(first, second)
    manager, finance_b = (
        make_user("store_manager", tree.store_a),
        make_user("finance", tree.store_b),
    )
    before = _state()
    anonymous = Client().post(url, {"file": SimpleUploadedFile("m.csv", data)})
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    denied = client_for(manager).post(url, {"file": SimpleUploadedFile("m.csv", data)})
    assert denied.status_code == 403
    other = client_for(finance_b).post(url, {"file": SimpleUploadedFile("m.csv", data)})
    assert other.status_code == 422
    text = other.content.decode()
    assert text.count('data-testid="import-problem"') == 2
    assert 'data-row="2" data-code="unknown_purchase_order"' in text
    assert _state() == before
    client = client_for(finance_a)
    dry = client.post(url, {"file": SimpleUploadedFile("m.csv", data), "dry_run": "1"})
    assert dry.status_code == 200
    assert 'data-dry-run="true"' in dry.content.decode()
    assert _state() == before
    done = client.post(url, {"file": SimpleUploadedFile("m.csv", data)})
    assert done.status_code == 200
    text = done.content.decode()
    assert text.count('data-testid="import-invoice"') == 2
    assert 'data-number="INV-2" data-status="in_review"' in text
    assert SupplierInvoice.objects.count() == 2
    nothing = client.post(url, {})
    assert nothing.status_code == 422 and SupplierInvoice.objects.count() == 2


def test_invoice_list_links_to_the_import_for_those_who_may(world, tree, finance_a):
    link = 'data-testid="import-link"'
    assert link in client_for(finance_a).get("/procurement/invoices/").content.decode()
    manager = make_user("store_manager", tree.store_a)
    assert link not in client_for(manager).get("/procurement/invoices/").content.decode()


def test_match_again_button_and_its_matrix(world, tree, finance_a):
    order, invoice = _invoice_before_delivery(world, finance_a)
    detail = f"/procurement/invoices/{invoice.pk}/"
    manager = make_user("store_manager", tree.store_a)
    assert 'data-testid="rematch"' in client_for(finance_a).get(detail).content.decode()
    assert 'data-testid="rematch"' not in client_for(manager).get(detail).content.decode()
    result = assert_matrix(
        "POST",
        f"/procurement/invoices/{invoice.pk}/rematch/",
        allowed=finance_a,
        forbidden=manager,
        other_scope=make_user("finance", tree.store_b),
        expect_allowed=302,
        snapshot=_state,
    )
    assert result.allowed["Location"] == detail
    assert MatchResult.objects.filter(invoice=invoice).count() == 2
    _receive(order, tomato=10)
    invoice.refresh_from_db()
    assert invoice.status == "payable"
    page = client_for(finance_a).get(detail).content.decode()
    assert 'data-testid="rematch"' not in page
    refused = client_for(finance_a).post(
        f"/procurement/invoices/{invoice.pk}/rematch/", follow=True
    )
    assert "only an invoice in review is matched again" in refused.content.decode()


# --- CLI ----------------------------------------------------------------------------------------


def test_cli_imports_and_exits_2_on_bad_input(
    world, received, finance_a, tmp_path, capsys, monkeypatch
):
    # The real command line closes the database connections when it ends: not the test's.
    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)
    first, second = received
    good = tmp_path / "march.csv"
    good.write_bytes(_golden(first, second))
    out = io.StringIO()
    call_command(
        "procurement",
        "import-invoices",
        str(good),
        "--user",
        finance_a.username,
        "--dry-run",
        stdout=out,
    )
    assert "dry run" in out.getvalue() and SupplierInvoice.objects.count() == 0
    out = io.StringIO()
    call_command(
        "procurement", "import-invoices", str(good), "--user", finance_a.username, stdout=out
    )
    assert "FRESH INV-1" in out.getvalue() and SupplierInvoice.objects.count() == 2
    before = _state()
    # The same file again, through the real command line: every problem printed, exit code 2.
    with pytest.raises(SystemExit) as exited:
        ManagementUtility(
            ["backroom", "procurement", "import-invoices", str(good), "--user", finance_a.username]
        ).execute()
    assert exited.value.code == 2
    errors = capsys.readouterr().err
    assert "row 2, invoice number" in errors and "[duplicate_invoice]" in errors
    assert "row 4, invoice number" in errors
    assert _state() == before
    for arguments in (
        [str(tmp_path / "missing.csv"), "--user", finance_a.username],
        [str(good), "--user", "nobody"],
    ):
        with pytest.raises(CommandError) as refused:
            call_command("procurement", "import-invoices", *arguments)
        assert refused.value.returncode == 2
    assert _state() == before


def test_cli_without_permission_exits_1(world, tree, received, tmp_path):
    first, second = received
    path = tmp_path / "march.csv"
    path.write_bytes(_golden(first, second))
    manager = make_user("store_manager", tree.store_a)
    with pytest.raises(CommandError) as refused:
        call_command("procurement", "import-invoices", str(path), "--user", manager.username)
    assert refused.value.returncode == 1
    assert SupplierInvoice.objects.count() == 0


def test_problem_details_are_json_ready(world, received, finance_a):
    """The API answers with the problems as they are: every value is plain JSON."""
    first, _second = received
    with pytest.raises(DocumentRejected) as caught:
        services.import_invoices(
            _csv(f"FRESH,J-1,2025-03-11,{first.number},1,,x,80,,,"), "j.csv", actor=finance_a
        )
    json.dumps(caught.value.as_dict())


# --- at the same time (PostgreSQL row locks) ----------------------------------------------------


def _at_once(*calls: Any) -> list[str]:
    """Run the calls in threads started together; each one's outcome: "ok" or its error code."""
    import threading

    from django.db import close_old_connections

    barrier = threading.Barrier(len(calls))
    outcomes: list[str] = []

    def run(call: Any) -> None:
        try:
            barrier.wait(timeout=10)
            call()
            outcomes.append("ok")
        except Exception as error:
            outcomes.append(getattr(error, "code", repr(error)))
        finally:
            close_old_connections()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(outcomes)


postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row-lock concurrency is tested on PostgreSQL"
)


@postgres_only
@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_the_same_file_twice_at_once_is_imported_once(world, tree):
    finance = make_user("finance", tree.store_a)
    first, second = _po(world), _po(world)
    _receive(first, tomato=10, oil=12)
    _receive(second, tomato=10, oil=12)
    data = _golden(first, second)
    outcomes = _at_once(
        *[lambda: services.import_invoices(data, "m.csv", actor=finance) for _ in range(2)]
    )
    assert outcomes == ["document_rejected", "ok"]
    assert SupplierInvoice.objects.count() == 2
    assert SupplierInvoiceLine.objects.count() == 4
    assert len(_events("procurement.invoice.matched")) == 1


@postgres_only
@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_receipt_and_a_rematch_at_once_publish_the_match_once(world, tree):
    finance = make_user("finance", tree.store_a)
    order, invoice = _invoice_before_delivery(world, finance)
    outcomes = _at_once(
        lambda: _receive(PurchaseOrder.objects.get(pk=order.pk), tomato=10),
        lambda: services.rematch_invoice(SupplierInvoice.objects.get(pk=invoice.pk), actor=finance),
    )
    assert outcomes in (["ok", "ok"], ["ok", "review_state"])
    invoice.refresh_from_db()
    assert invoice.status == "payable"
    assert len(_events("procurement.invoice.matched")) == 1
    assert ReviewEntry.objects.get(invoice=invoice).status == "accepted"
