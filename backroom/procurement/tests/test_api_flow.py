"""The procurement API end to end — requisition → approval (through the approvals API) → PO →
send → partial receipt with a rejected line → invoice with a price mismatch → review queue →
resolved — and its coded errors: each surfaces with its code and changes nothing."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from backroom.approvals import services as approval_services
from backroom.audit.models import AuditEntry
from backroom.events.models import OutboxEvent
from backroom.inventory.models import StockMove
from backroom.kernel import clock
from backroom.kernel.actors import SYSTEM
from backroom.procurement import services
from backroom.procurement.models import PurchaseOrder, Requisition
from backroom.procurement.tests.test_api import API, NOW, Ctx, procurement_state
from backroom.testing.factories import client_for, make_user


@pytest.fixture(autouse=True)
def _clock():
    with clock.at(NOW):
        yield


@pytest.fixture
def ctx(world, tree, settings, tmp_path) -> Ctx:
    settings.MEDIA_ROOT = str(tmp_path)
    return Ctx(world, tree)


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


def everything() -> tuple[Any, ...]:
    return (procurement_state(), AuditEntry.objects.count(), OutboxEvent.objects.count())


def post(client: Any, url: str, body: dict[str, Any] | None = None, **headers: str) -> Any:
    return client.post(
        f"{API}{url}", json.dumps(body or {}), content_type="application/json", headers=headers
    )


def events(kind: str) -> list[dict[str, Any]]:
    return [row.payload for row in OutboxEvent.objects.filter(event_type=kind).order_by("pk")]


def test_requisition_to_resolved_invoice_through_the_api(
    ctx, tree, policy, django_capture_on_commit_callbacks
):
    world = ctx.world
    manager = client_for(make_user("store_manager", tree.store_a))
    region_manager_user = make_user("region_manager", tree.region)
    region_manager = client_for(region_manager_user)
    buyer = client_for(make_user("buyer", tree.group))
    finance = client_for(make_user("finance", tree.group))

    # 1. The store asks for 10 cases of tomato and 12 bottles of oil: ¥1,346, above the policy.
    created = post(
        manager,
        "/requisitions",
        {
            "store_id": world.store.pk,
            "needed_by": "2025-03-12",
            "lines": [
                {
                    "item_id": world.tomato.pk,
                    "quantity": "10",
                    "supplier_id": world.supplier.pk,
                    "suggested_quantity": "9",
                },
                {"item_id": world.oil.pk, "quantity": "12", "supplier_id": world.supplier.pk},
            ],
        },
    )
    assert created.status_code == 201, created.content
    requisition = created.json()
    assert (requisition["status"], requisition["estimated_amount"]) == (
        "pending_approval",
        "1346.0000",
    )
    assert requisition["purchase_order_ids"] == []
    assert [line["sku"] for line in requisition["lines"]] == ["TOMATO", "OIL"]

    # 2. The region manager approves it through the approvals API.
    approval = region_manager.get(
        f"/api/v1/approvals/requests/{requisition['approval_request_id']}"
    )
    [task] = [task for task in approval.json()["tasks"] if task["status"] == "pending"]
    assert task["assignee_id"] == region_manager_user.pk
    decided = region_manager.post(
        f"/api/v1/approvals/tasks/{task['id']}/approve",
        json.dumps({"comment": "OK"}),
        content_type="application/json",
    )
    assert decided.status_code == 200, decided.content
    assert decided.json()["status"] == "approved"

    # 3. The PO appears, approved, for the store.
    requisition = manager.get(f"{API}/requisitions/{requisition['id']}").json()
    assert requisition["status"] == "approved"
    [order_id] = requisition["purchase_order_ids"]
    listed = manager.get(
        f"{API}/purchase-orders", {"store_id": world.store.pk, "status": "approved"}
    )
    assert [row["id"] for row in listed.json()["items"]] == [order_id]
    order = listed.json()["items"][0]
    assert (order["number"], order["total_amount"], order["requisition_id"]) == (
        "PO-SHA001-000001",
        "1346.0000",
        requisition["id"],
    )

    # 4. The buyer sends it: procurement.po.sent carries the whole order.
    sent = post(buyer, f"/purchase-orders/{order_id}/send")
    assert sent.status_code == 200, sent.content
    assert sent.json()["status"] == "sent"
    tomato_line, oil_line = sent.json()["lines"]
    assert [line["item_sku"] for line in events("procurement.po.sent")[0]["lines"]] == [
        "TOMATO",
        "OIL",
    ]

    # 5. Part of it arrives: 6 cases of tomato (lot, expiry), all the oil rejected as damaged.
    with django_capture_on_commit_callbacks(execute=True):
        received = post(
            manager,
            f"/purchase-orders/{order_id}/receipts",
            {
                "delivery_note_number": "DN-88",
                "lines": [
                    {
                        "line_id": tomato_line["id"],
                        "quantity": "6",
                        "lot_code": "T-0310",
                        "expiry_date": "2025-03-20",
                    },
                    {
                        "line_id": oil_line["id"],
                        "quantity": "0",
                        "rejected_quantity": "12",
                        "rejection_reason": "damaged",
                    },
                ],
            },
        )
    assert received.status_code == 201, received.content
    receipt = received.json()
    assert (receipt["number"], receipt["accepted_value"], receipt["purchase_order_id"]) == (
        "RCV-SHA001-000001",
        "480.0000",
        order_id,
    )
    assert [
        (
            line["sku"],
            line["received_quantity"],
            line["rejected_quantity"],
            line["rejection_reason"],
        )
        for line in receipt["lines"]
    ] == [("TOMATO", "6.000000", "0.000000", ""), ("OIL", "0.000000", "12.000000", "damaged")]
    move = StockMove.objects.get(reason="receipt")
    assert (move.item_id, move.quantity, move.value, move.lot.code) == (
        world.tomato.pk,
        60,
        480,
        "T-0310",
    )
    order = manager.get(f"{API}/purchase-orders/{order_id}").json()
    assert order["status"] == "partially_received"
    assert [line["outstanding_quantity"] for line in order["lines"]] == ["4.000000", "12.000000"]

    # 6. The invoice bills the 6 cases at ¥81 instead of ¥80: into the review queue.
    entered = post(
        finance,
        "/invoices",
        {
            "supplier_id": world.supplier.pk,
            "invoice_number": "F-2025-031",
            "invoice_date": "2025-03-11",
            "purchase_order_number": order["number"],
            "tax_amount": "38.88",
            "lines": [
                {
                    "quantity": "6",
                    "unit_price": "81.00",
                    "purchase_order_line_id": tomato_line["id"],
                }
            ],
        },
    )
    assert entered.status_code == 201, entered.content
    invoice = entered.json()
    assert (invoice["status"], invoice["net_amount"], invoice["total_amount"]) == (
        "in_review",
        "486.0000",
        "524.8800",
    )
    assert (invoice["match"]["status"], invoice["match"]["difference"]) == ("mismatch", "6.0000")
    assert invoice["due_date"] == "2025-04-10"

    # 7. The review queue shows why; finance accepts it with a note: payable, event published.
    queue = finance.get(f"{API}/review-queue").json()
    assert queue["count"] == 1
    [entry] = queue["items"]
    assert (entry["invoice_id"], entry["reasons"], entry["status"]) == (
        invoice["id"],
        ["price_mismatch"],
        "open",
    )
    assert entry["match"]["lines"][0]["po_price"] == "80.0000"
    resolved = post(
        finance,
        f"/review-queue/{entry['id']}/resolve",
        {"decision": "accept", "note": "Price rise agreed by phone"},
    )
    assert resolved.status_code == 200, resolved.content
    assert (resolved.json()["status"], resolved.json()["resolution_note"]) == (
        "accepted",
        "Price rise agreed by phone",
    )
    assert finance.get(f"{API}/invoices/{invoice['id']}").json()["status"] == "payable"
    [matched] = events("procurement.invoice.matched")
    assert (matched["accepted_by_review"], matched["total"]) == (True, "524.8800")
    assert finance.get(f"{API}/review-queue").json()["count"] == 0
    again = post(finance, f"/review-queue/{entry['id']}/resolve", {"decision": "accept"})
    assert (again.status_code, again.json()["code"]) == (409, "review_state")

    # 8. The rest is not coming: the buyer closes the PO short.
    closed = post(buyer, f"/purchase-orders/{order_id}/close", {"reason": "Short delivery"})
    assert closed.json()["status"] == "closed"
    assert AuditEntry.objects.filter(action="procurement.po.close").count() == 1


def test_idempotency_key_replays_a_requisition(ctx, tree):
    manager = client_for(make_user("store_manager", tree.store_a))
    body = {
        "store_id": ctx.store.pk,
        "lines": [
            {"item_id": ctx.world.tomato.pk, "quantity": "2", "supplier_id": ctx.world.supplier.pk}
        ],
    }
    first = post(manager, "/requisitions", body, **{"Idempotency-Key": "req-1"})
    assert first.status_code == 201
    state = everything()
    replay = post(manager, "/requisitions", body, **{"Idempotency-Key": "req-1"})
    assert (replay.status_code, replay.json()) == (201, first.json())
    assert replay["Idempotent-Replayed"] == "true"
    assert everything() == state
    assert Requisition.objects.count() == 1 and PurchaseOrder.objects.count() == 1


# --- coded errors: each one changes nothing ----------------------------------------------------


def test_every_bad_requisition_line_at_once(ctx, tree):
    manager = client_for(make_user("store_manager", tree.store_a))
    world = ctx.world
    before = everything()
    response = post(
        manager,
        "/requisitions",
        {
            "store_id": world.store.pk,
            "lines": [
                {"item_id": world.oil.pk, "quantity": "14", "supplier_id": world.supplier.pk},
                {
                    "item_id": world.tomato.pk,
                    "quantity": "20",
                    "supplier_id": world.supplier.pk,
                    "suggested_quantity": "5",
                },
                {"item_id": world.tomato.pk, "quantity": "1", "supplier_id": world.supplier.pk},
            ],
        },
    )
    assert (response.status_code, response.json()["code"]) == (422, "document_rejected")
    problems = response.json()["details"]["problems"]
    assert [(problem["line"], problem["code"]) for problem in problems] == [
        (0, "not_pack_multiple"),
        (1, "deviation_reason_required"),
        (2, "below_minimum_order"),
    ]
    assert problems[0]["details"]["suggested"] == "18.000000"
    assert everything() == before


def test_inactive_supplier_and_price_gap(ctx, tree):
    buyer = client_for(make_user("buyer", tree.group))
    world = ctx.world
    order = {
        "store_id": world.store.pk,
        "supplier_id": world.supplier.pk,
        "lines": [{"item_id": world.tomato.pk, "quantity": "2"}],
    }
    gap = buyer.get(
        f"{API}/suppliers/{world.supplier.pk}/price",
        {"store_id": world.store.pk, "item_id": world.tomato.pk, "date": "2024-12-31"},
    )
    assert (gap.status_code, gap.json()["code"]) == (422, "no_valid_price")
    with clock.at(dt.datetime(2024, 12, 30, 1, 0, tzinfo=dt.UTC)):
        before = everything()
        response = post(buyer, "/purchase-orders", order)
        assert (response.status_code, response.json()["code"]) == (422, "no_valid_price")
        assert everything() == before
    patched = buyer.patch(
        f"{API}/suppliers/{world.supplier.pk}",
        json.dumps({"is_active": False, "reason": "Lost the licence"}),
        content_type="application/json",
    )
    assert patched.json()["is_active"] is False
    before = everything()
    response = post(buyer, "/purchase-orders", order)
    assert (response.status_code, response.json()["code"]) == (422, "supplier_inactive")
    assert response.json()["details"]["supplier"] == "FRESH"
    assert everything() == before


def test_po_of_a_pending_requisition_needs_its_approval(ctx, tree, policy):
    make_user("region_manager", tree.region)
    buyer = client_for(make_user("buyer", tree.group))
    pending = services.create_requisition(
        ctx.store,
        [
            services.RequisitionLineInput(
                item_id=ctx.world.tomato.pk, quantity=13, supplier_id=ctx.world.supplier.pk
            )
        ],
        actor=make_user("store_manager", tree.store_a),
    )
    assert pending.status == "pending_approval"  # ¥1,040: waits for the region manager
    order = ctx.approved_po()
    # Tie a PO to the waiting requisition (as if created early): it may not be sent yet.
    PurchaseOrder.objects.filter(pk=order.pk).update(requisition=pending)
    before = everything()
    response = post(buyer, f"/purchase-orders/{order.pk}/send")
    assert (response.status_code, response.json()["code"]) == (409, "approval_required")
    assert everything() == before


def test_receipt_problems_all_at_once_and_over_receipt(ctx, tree):
    staff = client_for(make_user("store_staff", tree.store_a))
    order = ctx.sent_po()
    tomato, oil = order.lines.order_by("line_no")
    before = everything()
    response = post(
        staff,
        f"/purchase-orders/{order.pk}/receipts",
        {
            "lines": [
                {"line_id": tomato.pk, "quantity": "12"},  # 10 ordered, 10 % tolerance
                {"line_id": oil.pk, "quantity": "6", "rejected_quantity": "6"},  # no reason
            ]
        },
    )
    assert (response.status_code, response.json()["code"]) == (422, "document_rejected")
    assert [
        (problem["line"], problem["code"]) for problem in response.json()["details"]["problems"]
    ] == [(0, "over_receipt"), (1, "rejection_reason_required")]
    alone = post(
        staff,
        f"/purchase-orders/{order.pk}/receipts",
        {"lines": [{"line_id": tomato.pk, "quantity": "11.5"}]},
    )
    assert (alone.status_code, alone.json()["code"]) == (409, "over_receipt")
    assert alone.json()["details"]["limit"] == "11.000000"
    invalid = post(
        staff,
        f"/purchase-orders/{order.pk}/receipts",
        {"lines": [{"line_id": tomato.pk, "quantity": "-1"}]},
    )
    assert (invalid.status_code, invalid.json()["code"]) == (422, "invalid")
    assert "lines.0.quantity" in invalid.json()["details"]["fields"]
    assert everything() == before


def test_unknown_po_is_an_error_or_queued_and_duplicates_conflict(ctx, tree):
    finance = client_for(make_user("finance", tree.group))
    body = {
        "supplier_id": ctx.world.supplier.pk,
        "invoice_number": "F-404",
        "invoice_date": "2025-03-11",
        "purchase_order_number": "PO-NOPE-1",
        "lines": [{"quantity": "1", "unit_price": "5"}],
    }
    before = everything()
    response = post(finance, "/invoices", body)
    assert (response.status_code, response.json()["code"]) == (422, "unknown_purchase_order")
    assert everything() == before
    queued = post(finance, "/invoices", {**body, "queue_unknown_po": True})
    assert queued.status_code == 201, queued.content
    assert (queued.json()["status"], queued.json()["match"]["status"]) == (
        "in_review",
        "unknown_po",
    )
    [entry] = finance.get(f"{API}/review-queue").json()["items"]
    assert entry["reasons"] == ["unknown_po"]
    before = everything()
    duplicate = post(finance, "/invoices", {**body, "queue_unknown_po": True})
    assert (duplicate.status_code, duplicate.json()["code"]) == (409, "duplicate_invoice")
    assert everything() == before
    rejected = post(finance, f"/review-queue/{entry['id']}/resolve", {"decision": "reject"})
    assert (rejected.status_code, rejected.json()["code"]) == (422, "invalid")
    assert everything() == before


def test_list_queries_do_not_grow_with_rows(ctx, tree):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    buyer = client_for(make_user("buyer", tree.group))
    urls = ["/purchase-orders", "/requisitions", "/receipts", "/suppliers", "/invoices"]

    def counts() -> list[int]:
        found = []
        for url in urls:
            with CaptureQueriesContext(connection) as queries:
                assert buyer.get(f"{API}{url}").status_code == 200
            found.append(len(queries))
        return found

    ctx.receipt()
    ctx.requisition()
    few = counts()
    for _ in range(3):
        ctx.receipt()
        ctx.requisition()
    assert counts() == few
