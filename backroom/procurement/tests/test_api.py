"""The procurement API's permission matrix: every endpoint as anonymous, a caller without the
permission, a caller of another store (or entity) and an allowed caller; denials change
nothing (rows, audit entries, outbox events). One row per endpoint, built on fresh data."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from backroom.accounts.models import User
from backroom.approvals.models import ApprovalRequest
from backroom.inventory.models import StockMove
from backroom.kernel import clock
from backroom.kernel.actors import SYSTEM
from backroom.org.models import OrgNode
from backroom.procurement import services
from backroom.procurement.models import (
    DeliveryCalendar,
    DeliveryException,
    OrderGuideLine,
    PriceList,
    PurchaseOrder,
    Receipt,
    ReceiptLine,
    Requisition,
    RequisitionLine,
    ReviewEntry,
    Supplier,
    SupplierContact,
    SupplierInvoice,
    SupplierItem,
)
from backroom.procurement.tests.conftest import D, World
from backroom.testing.factories import Tree, client_for, make_user
from backroom.testing.matrix import assert_matrix

NOW = dt.datetime(2025, 3, 10, 1, 0, tzinfo=dt.UTC)  # Monday 09:00 in Shanghai
API = "/api/v1/procurement"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def _clock():
    with clock.at(NOW):
        yield


def procurement_state() -> tuple[Any, ...]:
    """Everything a procurement write could change (rows and states)."""
    return (
        list(Supplier.objects.order_by("pk").values_list("pk", "name", "is_active", "updated_at")),
        list(
            SupplierContact.objects.order_by("pk").values_list(
                "pk", "name", "role", "phone", "email", "is_primary"
            )
        ),
        list(
            SupplierItem.objects.order_by("pk").values_list(
                "pk", "purchase_unit", "pack_size", "minimum_order_quantity", "is_active"
            )
        ),
        DeliveryCalendar.objects.count(),
        DeliveryException.objects.count(),
        PriceList.objects.count(),
        list(OrderGuideLine.objects.order_by("pk").values_list("pk", "supplier_item_id")),
        list(Requisition.objects.order_by("pk").values_list("pk", "status")),
        RequisitionLine.objects.count(),
        list(PurchaseOrder.objects.order_by("pk").values_list("pk", "status")),
        Receipt.objects.count(),
        ReceiptLine.objects.count(),
        StockMove.objects.count(),
        list(SupplierInvoice.objects.order_by("pk").values_list("pk", "status")),
        list(ReviewEntry.objects.order_by("pk").values_list("pk", "status")),
        ApprovalRequest.objects.count(),
    )


@dataclass
class Ctx:
    """The world plus people and documents built on demand through the services."""

    world: World
    tree: Tree

    def user(self, role: str, node: OrgNode) -> User:
        return make_user(role, node)

    @property
    def store(self) -> Any:
        return self.world.store

    def contact(self) -> SupplierContact:
        return services.add_contact(
            self.world.supplier, services.ContactInput(name="Ms Li", phone="138"), actor=SYSTEM
        )

    def requisition(self, *, submit: bool = False) -> Requisition:
        manager = self.user("store_manager", self.tree.store_a)
        return services.create_requisition(
            self.store,
            [
                services.RequisitionLineInput(
                    item_id=self.world.tomato.pk, quantity=D(2), supplier_id=self.world.supplier.pk
                )
            ],
            actor=manager,
            submit=submit,
        )

    def draft_po(self, **quantities: int) -> PurchaseOrder:
        amounts = quantities or {"tomato": 10, "oil": 12}
        return services.create_purchase_order(
            self.store,
            self.world.supplier,
            [
                services.PurchaseOrderLineInput(getattr(self.world, name).pk, D(quantity))
                for name, quantity in amounts.items()
            ],
            actor=SYSTEM,
        )

    def approved_po(self) -> PurchaseOrder:
        return services.approve_purchase_order(self.draft_po(), actor=SYSTEM)

    def sent_po(self) -> PurchaseOrder:
        return services.send_purchase_order(self.approved_po(), actor=SYSTEM)

    def receipt(self, order: PurchaseOrder | None = None, photo: bool = False) -> Receipt:
        order = order or self.sent_po()
        tomato = order.lines.get(item=self.world.tomato)
        return services.receive_purchase_order(
            order,
            [services.ReceiptLineInput(line_id=tomato.pk, quantity=D(6), lot_code="T-1")],
            actor=SYSTEM,
            delivery_note_photo=SimpleUploadedFile("note.png", PNG) if photo else None,
        )

    def invoice(self, price: str = "81.00") -> SupplierInvoice:
        order = self.sent_po()
        self.receipt(order)
        tomato = order.lines.get(item=self.world.tomato)
        return services.enter_invoice(
            self.world.supplier,
            services.InvoiceInput(
                invoice_number="INV-1",
                invoice_date=dt.date(2025, 3, 11),
                purchase_order_number=order.number,
                lines=[
                    services.InvoiceLineInput(
                        quantity=D(6), unit_price=D(price), purchase_order_line_id=tomato.pk
                    )
                ],
            ),
            actor=SYSTEM,
        )


@pytest.fixture
def ctx(world, tree, settings, tmp_path) -> Ctx:
    settings.MEDIA_ROOT = str(tmp_path)  # delivery-note photos
    return Ctx(world, tree)


# --- the rows ----------------------------------------------------------------------------------
# Each row returns assert_matrix's arguments and a check of the allowed response's body.

Row = Callable[[Ctx], tuple[dict[str, Any], Callable[[Any], None]]]


def _list_check(key: str, expected: Any) -> Callable[[Any], None]:
    def check(result: Any) -> None:
        assert [row[key] for row in result.allowed.json()["items"]] == [expected]
        assert result.forbidden.json()["items"] == []
        if result.other_scope.status_code == 200:
            assert result.other_scope.json()["items"] == []

    return check


def _field(key: str, expected: Any) -> Callable[[Any], None]:
    def check(result: Any) -> None:
        assert result.allowed.json()[key] == expected, result.allowed.json()

    return check


def supplier_rows() -> dict[str, Row]:
    """Supplier master data: managers of the supplier's node (buyer at the group); finance
    sees suppliers but may not change them (403); an HK buyer does not see a CN supplier."""

    def callers(ctx: Ctx, *, read: bool = False) -> dict[str, Any]:
        return {
            "allowed": ctx.user("buyer", ctx.tree.group),
            "forbidden": ctx.user("technician", ctx.tree.store_a)
            if read
            else ctx.user("finance", ctx.tree.group),
            "other_scope": ctx.user("buyer", ctx.tree.entity_hk),
            "expect_forbidden": 404 if read else 403,
        }

    def url(ctx: Ctx, rest: str = "") -> str:
        return f"{API}/suppliers/{ctx.world.supplier.pk}{rest}"

    return {
        "list suppliers": lambda ctx: (
            {
                "method": "GET",
                "url": f"{API}/suppliers",
                **callers(ctx, read=True),
                "expect_forbidden": 200,
                "expect_other_scope": 200,
            },
            _list_check("code", "FRESH"),
        ),
        "create supplier": lambda ctx: (
            {
                "method": "POST",
                "url": f"{API}/suppliers",
                "payload": {
                    "code": "DAIRY",
                    "name": "Dairy Co",
                    "node_id": ctx.tree.entity.pk,
                    "currency": "CNY",
                },
                **callers(ctx),
                "expect_allowed": 201,
            },
            _field("code", "DAIRY"),
        ),
        "get supplier": lambda ctx: (
            {"method": "GET", "url": url(ctx), **callers(ctx, read=True)},
            _field("code", "FRESH"),
        ),
        "update supplier": lambda ctx: (
            {
                "method": "PATCH",
                "url": url(ctx),
                "payload": {"name": "Fresh Foods Ltd", "reason": "Renamed"},
                **callers(ctx),
            },
            _field("name", "Fresh Foods Ltd"),
        ),
        "list contacts": lambda ctx: (
            {"method": "GET", "url": url(ctx, "/contacts"), **callers(ctx, read=True)},
            lambda result: result.allowed.json() == [],
        ),
        "add contact": lambda ctx: (
            {
                "method": "POST",
                "url": url(ctx, "/contacts"),
                "payload": {"name": "Ms Li", "phone": "138", "is_primary": True},
                **callers(ctx),
                "expect_allowed": 201,
            },
            _field("name", "Ms Li"),
        ),
        "update contact": lambda ctx: (
            {
                "method": "PATCH",
                "url": url(ctx, f"/contacts/{ctx.contact().pk}"),
                "payload": {"phone": "+86 138 0000 0001", "email": "li@fresh.example"},
                **callers(ctx),
            },
            lambda result: (
                {key: result.allowed.json()[key] for key in ("name", "phone", "email")}
                == {"name": "Ms Li", "phone": "+86 138 0000 0001", "email": "li@fresh.example"}
            ),
        ),
        "list supplier items": lambda ctx: (
            {"method": "GET", "url": url(ctx, "/items"), **callers(ctx, read=True)},
            lambda result: (
                [row["sku"] for row in result.allowed.json()["items"]] == ["MILK", "OIL", "TOMATO"]
            ),
        ),
        "set supplier item": lambda ctx: (
            {
                "method": "PUT",
                "url": url(ctx, f"/items/{ctx.world.tomato.pk}"),
                "payload": {"purchase_unit": "case", "pack_size": "2", "minimum_order_quantity": 4},
                **callers(ctx),
            },
            _field("pack_size", "2.000000"),
        ),
        "list calendars": lambda ctx: (
            {"method": "GET", "url": url(ctx, "/calendars"), **callers(ctx, read=True)},
            lambda result: result.allowed.json() == [],
        ),
        "set calendar": lambda ctx: (
            {
                "method": "PUT",
                "url": url(ctx, f"/calendars/{ctx.tree.region.pk}"),
                "payload": {
                    "weekdays": [2, 5],
                    "cutoff_time": "14:00",
                    "exceptions": [{"date": "2025-03-14", "delivers": False}],
                },
                **callers(ctx),
            },
            _field("weekdays", [2, 5]),
        ),
        "delivery dates": lambda ctx: (
            {
                "method": "GET",
                "url": url(ctx, f"/delivery-dates?store_id={ctx.store.pk}"),
                **callers(ctx, read=True),
            },
            _field("dates", ["2025-03-11", "2025-03-12"]),
        ),
        "list price lists": lambda ctx: (
            {"method": "GET", "url": url(ctx, "/price-lists"), **callers(ctx, read=True)},
            lambda result: [row["name"] for row in result.allowed.json()["items"]] == ["2025"],
        ),
        "create price list": lambda ctx: (
            {
                "method": "POST",
                "url": url(ctx, "/price-lists"),
                "payload": {
                    "name": "East 2025",
                    "valid_from": "2025-03-01",
                    "node_id": ctx.tree.region.pk,
                    "lines": [{"item_id": ctx.world.tomato.pk, "price": "78.50"}],
                },
                **callers(ctx),
                "expect_allowed": 201,
            },
            _field("name", "East 2025"),
        ),
        "price quote": lambda ctx: (
            {
                "method": "GET",
                "url": url(ctx, f"/price?store_id={ctx.store.pk}&item_id={ctx.world.oil.pk}"),
                **callers(ctx, read=True),
            },
            _field("price", "45.5000"),
        ),
    }


def store_rows() -> dict[str, Row]:
    """Store documents: the store's manager orders and receives, a buyer (group) manages POs;
    store B's people get 404 for store A's documents."""

    def url(rest: str) -> str:
        return f"{API}{rest}"

    def reader(ctx: Ctx) -> dict[str, Any]:
        return {
            "allowed": ctx.user("store_staff", ctx.tree.store_a),
            "forbidden": ctx.user("technician", ctx.tree.store_a),  # no procurement.view
            "other_scope": ctx.user("store_manager", ctx.tree.store_b),
            "expect_forbidden": 404,
        }

    def lister(ctx: Ctx) -> dict[str, Any]:
        return {**reader(ctx), "expect_forbidden": 200, "expect_other_scope": 200}

    def buyer(ctx: Ctx) -> dict[str, Any]:
        return {
            "allowed": ctx.user("buyer", ctx.tree.group),
            "forbidden": ctx.user("store_manager", ctx.tree.store_a),  # sees it, may not manage
            "other_scope": ctx.user("hq_operations", ctx.tree.store_b),
        }

    def orderer(ctx: Ctx) -> dict[str, Any]:
        return {
            "allowed": ctx.user("store_manager", ctx.tree.store_a),
            "forbidden": ctx.user("store_staff", ctx.tree.store_a),  # sees it, may not order
            "other_scope": ctx.user("store_manager", ctx.tree.store_b),
        }

    def requisition_payload(ctx: Ctx) -> dict[str, Any]:
        return {
            "store_id": ctx.store.pk,
            "lines": [
                {
                    "item_id": ctx.world.tomato.pk,
                    "quantity": "2",
                    "supplier_id": ctx.world.supplier.pk,
                }
            ],
        }

    def sent_id(ctx: Ctx) -> int:
        return ctx.sent_po().pk

    return {
        "list order guides": lambda ctx: (
            {
                "method": "GET",
                "url": url(f"/stores/{ctx.store.pk}/order-guides"),
                **lister(ctx),
                "expect_other_scope": 404,  # store A itself is out of sight
            },
            lambda result: result.allowed.json()["items"] == [],
        ),
        "set order guide": lambda ctx: (
            {
                "method": "PUT",
                "url": url(f"/stores/{ctx.store.pk}/order-guides/{ctx.world.supplier.pk}"),
                "payload": {
                    "lines": [
                        {"supplier_item_id": ctx.world.oil_si.pk, "par_quantity": "12"},
                        {"supplier_item_id": ctx.world.tomato_si.pk},
                    ]
                },
                **buyer(ctx),
            },
            lambda result: (
                [row["sku"] for row in result.allowed.json()["lines"]] == ["OIL", "TOMATO"]
            ),
        ),
        "list requisitions": lambda ctx: (
            {"method": "GET", "url": url("/requisitions"), **lister(ctx)},
            _list_check("id", ctx.requisition().pk),
        ),
        "create requisition": lambda ctx: (
            {
                "method": "POST",
                "url": url("/requisitions"),
                "payload": requisition_payload(ctx),
                **orderer(ctx),
                "expect_allowed": 201,
            },
            _field("status", "approved"),  # no approval policy: approved at once
        ),
        "get requisition": lambda ctx: (
            {"method": "GET", "url": url(f"/requisitions/{ctx.requisition().pk}"), **reader(ctx)},
            _field("status", "draft"),
        ),
        "submit requisition": lambda ctx: (
            {
                "method": "POST",
                "url": url(f"/requisitions/{ctx.requisition().pk}/submit"),
                **orderer(ctx),
            },
            _field("status", "approved"),
        ),
        "cancel requisition": lambda ctx: (
            {
                "method": "POST",
                "url": url(f"/requisitions/{ctx.requisition().pk}/cancel"),
                "payload": {"reason": "Not needed"},
                **orderer(ctx),
            },
            _field("status", "cancelled"),
        ),
        "list purchase orders": lambda ctx: (
            {"method": "GET", "url": url("/purchase-orders"), **lister(ctx)},
            _list_check("id", ctx.draft_po().pk),
        ),
        "create purchase order": lambda ctx: (
            {
                "method": "POST",
                "url": url("/purchase-orders"),
                "payload": {
                    "store_id": ctx.store.pk,
                    "supplier_id": ctx.world.supplier.pk,
                    "lines": [{"item_id": ctx.world.tomato.pk, "quantity": "3"}],
                },
                **buyer(ctx),
                "expect_allowed": 201,
            },
            _field("total_amount", "240.0000"),
        ),
        "get purchase order": lambda ctx: (
            {"method": "GET", "url": url(f"/purchase-orders/{ctx.draft_po().pk}"), **reader(ctx)},
            _field("status", "draft"),
        ),
        "approve purchase order": lambda ctx: (
            {
                "method": "POST",
                "url": url(f"/purchase-orders/{ctx.draft_po().pk}/approve"),
                **buyer(ctx),
            },
            _field("status", "approved"),
        ),
        "send purchase order": lambda ctx: (
            {
                "method": "POST",
                "url": url(f"/purchase-orders/{ctx.approved_po().pk}/send"),
                **buyer(ctx),
            },
            _field("status", "sent"),
        ),
        "cancel purchase order": lambda ctx: (
            {
                "method": "POST",
                "url": url(f"/purchase-orders/{sent_id(ctx)}/cancel"),
                "payload": {"reason": "Supplier cannot deliver"},
                **buyer(ctx),
            },
            _field("status", "cancelled"),
        ),
        "close purchase order": lambda ctx: (
            {
                "method": "POST",
                "url": url(f"/purchase-orders/{ctx.receipt().purchase_order_id}/close"),
                "payload": {"reason": "Rest not coming"},
                **buyer(ctx),
            },
            _field("status", "closed"),
        ),
        "receive purchase order": lambda ctx: (
            {
                "method": "POST",
                "url": url(f"/purchase-orders/{(order := ctx.sent_po()).pk}/receipts"),
                "payload": {
                    "lines": [
                        {"line_id": order.lines.get(line_no=1).pk, "quantity": "10"},
                        {
                            "line_id": order.lines.get(line_no=2).pk,
                            "quantity": "0",
                            "rejected_quantity": "12",
                            "rejection_reason": "damaged",
                        },
                    ]
                },
                "allowed": ctx.user("store_staff", ctx.tree.store_a),
                # sees the PO (procurement.view), may not receive
                "forbidden": ctx.user("region_manager", ctx.tree.region),
                "other_scope": ctx.user("store_staff", ctx.tree.store_b),
                "expect_allowed": 201,
            },
            _field("accepted_value", "800.0000"),
        ),
        "list receipts": lambda ctx: (
            {"method": "GET", "url": url("/receipts"), **lister(ctx)},
            _list_check("id", ctx.receipt().pk),
        ),
        "get receipt": lambda ctx: (
            {"method": "GET", "url": url(f"/receipts/{ctx.receipt().pk}"), **reader(ctx)},
            _field("accepted_value", "480.0000"),
        ),
        "get receipt photo": lambda ctx: (
            {
                "method": "GET",
                "url": url(f"/receipts/{(receipt := ctx.receipt(photo=True)).pk}/photo"),
                **reader(ctx),
                "allowed": None,  # a file response: checked below
            },
            lambda result: _photo_served(ctx, receipt),
        ),
    }


def _photo_served(ctx: Ctx, receipt: Receipt) -> None:
    staff = ctx.user("store_staff", ctx.tree.store_a)
    response = client_for(staff).get(f"{API}/receipts/{receipt.pk}/photo")
    assert (response.status_code, response["Content-Type"]) == (200, "image/png")
    assert b"".join(response.streaming_content) == PNG
    assert response["X-Content-Type-Options"] == "nosniff"


def invoice_rows() -> dict[str, Row]:
    """Invoices and the review queue: finance (procurement.invoice) at the group; HK finance
    does not see CN invoices; a store manager sees invoices but may not enter them, and does
    not see the review queue at all."""

    def finance(ctx: Ctx, *, forbidden: str = "store_manager") -> dict[str, Any]:
        return {
            "allowed": ctx.user("finance", ctx.tree.group),
            "forbidden": ctx.user(forbidden, ctx.tree.store_a),
            "other_scope": ctx.user("finance", ctx.tree.entity_hk),
        }

    def invoice_payload(ctx: Ctx) -> dict[str, Any]:
        order = ctx.receipt().purchase_order
        return {
            "supplier_id": ctx.world.supplier.pk,
            "invoice_number": "INV-77",
            "invoice_date": "2025-03-11",
            "purchase_order_number": order.number,
            "lines": [
                {
                    "quantity": "6",
                    "unit_price": "80",
                    "purchase_order_line_id": order.lines.get(line_no=1).pk,
                }
            ],
        }

    return {
        "list invoices": lambda ctx: (
            {
                "method": "GET",
                "url": f"{API}/invoices",
                **finance(ctx, forbidden="technician"),
                "expect_forbidden": 200,
                "expect_other_scope": 200,
            },
            _list_check("id", ctx.invoice().pk),
        ),
        "enter invoice": lambda ctx: (
            {
                "method": "POST",
                "url": f"{API}/invoices",
                "payload": invoice_payload(ctx),
                **finance(ctx),
                "expect_allowed": 201,
            },
            _field("status", "payable"),
        ),
        "get invoice": lambda ctx: (
            {
                "method": "GET",
                "url": f"{API}/invoices/{ctx.invoice().pk}",
                **finance(ctx, forbidden="technician"),
                "expect_forbidden": 404,
            },
            _field("status", "in_review"),
        ),
        "list review queue": lambda ctx: (
            {
                "method": "GET",
                "url": f"{API}/review-queue",
                **finance(ctx),
                "expect_forbidden": 200,
                "expect_other_scope": 200,
            },
            _list_check("invoice_id", ctx.invoice().pk),
        ),
        "get review": lambda ctx: (
            {
                "method": "GET",
                "url": f"{API}/review-queue/{ctx.invoice().reviews.get().pk}",
                **finance(ctx),
                "expect_forbidden": 404,
            },
            _field("reasons", ["price_mismatch"]),
        ),
        "resolve review": lambda ctx: (
            {
                "method": "POST",
                "url": f"{API}/review-queue/{ctx.invoice().reviews.get().pk}/resolve",
                "payload": {"decision": "reject", "note": "Wrong price"},
                **finance(ctx),
                "expect_forbidden": 404,  # the queue is out of sight without the permission
            },
            _field("status", "rejected"),
        ),
    }


ROWS: dict[str, Row] = {**supplier_rows(), **store_rows(), **invoice_rows()}


@pytest.mark.parametrize("name", list(ROWS))
def test_permission_matrix(ctx, name, django_capture_on_commit_callbacks):
    arguments, check = ROWS[name](ctx)
    method, url = arguments.pop("method"), arguments.pop("url")
    with django_capture_on_commit_callbacks(execute=True):
        result = assert_matrix(method, url, snapshot=procurement_state, **arguments)
    outcome = check(result)
    assert outcome is None or outcome is True, result.allowed and result.allowed.content[:500]


def test_every_endpoint_has_a_matrix_row():
    from backroom.procurement.api import router

    operations = {
        operation.view_func.__name__
        for path in router.path_operations.values()
        for operation in path.operations
    }
    assert len(ROWS) + len(MATRICES_ELSEWHERE) == len(operations)
    assert MATRICES_ELSEWHERE <= operations


# Endpoints whose permission matrix lives in another module (multipart bodies, files).
MATRICES_ELSEWHERE = {
    "receive_purchase_order_with_photo",  # test_receipt_with_photo_matrix below
    "get_purchase_order_pdf",  # test_po_documents.py
    "resend_purchase_order_email",  # test_po_documents.py
    "import_invoices",  # test_invoice_import.py
    "rematch_invoice",  # test_invoice_import.py
    "set_distribution_guide",  # test_distribution_guides.py
    "list_distribution_calendars",  # test_distribution_guides.py
    "set_distribution_calendar",  # test_distribution_guides.py
    "distribution_dates",  # test_distribution_guides.py
}


def test_receipt_with_photo_matrix(ctx, tmp_path):
    order = ctx.sent_po()
    tomato = order.lines.get(line_no=1)
    url = f"{API}/purchase-orders/{order.pk}/receipts/with-photo"
    body = json.dumps({"lines": [{"line_id": tomato.pk, "quantity": "4", "lot_code": "T-9"}]})

    def post(user: User | None) -> Any:
        return client_for(user).post(
            url, {"payload": body, "photo": SimpleUploadedFile("note.png", PNG, "image/png")}
        )

    before = procurement_state()
    assert post(None).status_code == 401
    denied = post(make_user("region_manager", ctx.tree.region))
    assert (denied.status_code, denied.json()["code"]) == (403, "permission_denied")
    hidden = post(make_user("store_staff", ctx.tree.store_b))
    assert (hidden.status_code, hidden.json()["code"]) == (404, "not_found")
    assert procurement_state() == before
    assert list(tmp_path.rglob("*.png")) == []
    response = post(make_user("store_staff", ctx.tree.store_a))
    assert response.status_code == 201, response.content
    receipt = Receipt.objects.get(pk=response.json()["id"])
    assert response.json()["has_photo"] is True
    assert receipt.photo_content_type == "image/png"
    assert receipt.delivery_note_photo.read() == PNG
    [line] = response.json()["lines"]
    assert (line["received_quantity"], line["lot_code"]) == ("4.000000", "T-9")
