"""Waste records (报损): value at moving-average cost, approval through the approval policies
(here: above ¥200, the region manager), photos, posting through the ledger once, every error at
once, and who may do what."""

from __future__ import annotations

import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import close_old_connections, connection

from backroom.approvals import services as approval_services
from backroom.approvals.exceptions import ApprovalRequired, NotYourTask
from backroom.approvals.exceptions import SelfApproval as RouteSelfApproval
from backroom.approvals.models import ApprovalRequest
from backroom.audit.models import AuditEntry
from backroom.config.ledger_checks import run_ledger_checks
from backroom.events.models import OutboxEvent
from backroom.inventory import services
from backroom.inventory.documents import WasteStateError
from backroom.inventory.exceptions import BatchRejected, InsufficientStock
from backroom.inventory.models import (
    ItemValuation,
    StockMove,
    StockPosting,
    WasteDocument,
    WasteLine,
)
from backroom.inventory.services import WasteLineInput
from backroom.inventory.tests.conftest import D, key
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import Conflict, NotFound, PermissionDenied, ValidationFailed
from backroom.testing.factories import client_for, make_user
from backroom.testing.matrix import assert_matrix

BASE = "/api/v1/inventory/waste"
# The smallest valid PNG header is enough: the type is read from the first bytes.
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


@pytest.fixture(autouse=True)
def waste_policy(db):
    """Write-offs above ¥200 wait for the region manager of the store."""
    return approval_services.create_policy(
        approval_services.PolicyInput(
            document_type="inventory.waste",
            name="Write-offs",
            condition="amount > 200",
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


def _clerk(stock):
    """Someone recording waste at the store (an approval request needs a person)."""
    return make_user("store_staff", stock.walk_in.site.node)


def _region_manager(stock):
    return make_user("region_manager", stock.walk_in.site.node.parent)


def _countersign(policy):
    """The write-off policy, changed so that every region manager must approve (会签)."""
    approval_services.update_policy(
        policy,
        approval_services.PolicyInput(
            document_type="inventory.waste",
            name="Write-offs",
            condition="amount > 200",
            steps=[
                approval_services.StepInput(
                    name="Region managers",
                    approver_kind="role",
                    approver_params={"role": "region_manager", "level": "region"},
                    mode="all",
                )
            ],
        ),
        actor=SYSTEM,
        publish_now=True,
    )


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


def _line(stock, quantity="1", reason="spoiled", **extra):
    return WasteLineInput(
        item_id=extra.pop("item_id", stock.flour.pk),
        location_id=extra.pop("location_id", stock.walk_in.pk),
        quantity=D(quantity),
        reason=reason,
        **extra,
    )


def _state():
    return (
        WasteDocument.objects.count(),
        WasteLine.objects.count(),
        StockMove.objects.count(),
        StockPosting.objects.count(),
        AuditEntry.objects.count(),
        OutboxEvent.objects.count(),
        ApprovalRequest.objects.count(),
    )


def _events(kind):
    return list(OutboxEvent.objects.filter(event_type=kind).order_by("id"))


# --- services: value, posting, approval ---------------------------------------------------


def test_golden_waste_below_threshold_posts_at_moving_average(stock):
    """10 kg at 2.00 and 10 kg at 3.00 → average 2.50; 3 kg + 0.1 bag (2.5 kg) = 5.5 kg ×
    2.50 = 13.75, below 200: posted at submission."""
    _receive(stock, "10", "2")
    _receive(stock, "10", "3")
    manager = make_user("store_manager", stock.walk_in.site.node)
    document = services.create_waste(
        stock.walk_in.site,
        [
            _line(stock, "3", "spoiled", note="mould"),
            _line(stock, "0.1", "dropped", unit="bag"),
        ],
        actor=manager,
        note="Friday close",
    )
    assert document.number == "WST-SHA001-000001"
    assert (document.status, document.total_value, document.currency) == (
        "posted",
        D("13.75"),
        "CNY",
    )
    assert (document.requires_approval, document.approval_threshold) == (False, None)
    assert ApprovalRequest.objects.get(document_id=str(document.pk)).status == "approved"
    lines = list(WasteLine.objects.filter(document=document).order_by("line_no"))
    assert [(line.quantity, line.unit, line.base_quantity, line.value) for line in lines] == [
        (D(3), "kg", D(3), D("7.5")),
        (D("0.1"), "bag", D("2.5"), D("6.25")),
    ]
    assert all(line.unit_cost == D("2.5") for line in lines)
    moves = list(StockMove.objects.filter(posting=document.posting).order_by("id"))
    assert [(move.quantity, move.value, move.reason, move.idempotency_key) for move in moves] == [
        (D(-3), D("-7.5"), "waste", f"waste:{document.pk}:1"),
        (D("-2.5"), D("-6.25"), "waste", f"waste:{document.pk}:2"),
    ]
    assert {(move.source_type, move.source_id, move.source_number) for move in moves} == {
        ("inventory.waste", str(document.pk), document.number)
    }
    assert document.posting.operation == "waste"
    valuation = ItemValuation.objects.get(item=stock.flour, location=stock.walk_in)
    assert (valuation.quantity, valuation.value) == (D("14.5"), D("36.25"))
    actions = list(
        AuditEntry.objects.filter(action__startswith="inventory.waste")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["inventory.waste.create", "inventory.waste", "inventory.waste.submit"]
    assert AuditEntry.objects.filter(action="approvals.request.approved").get().target_id == str(
        ApprovalRequest.objects.get().pk
    )
    assert AuditEntry.objects.get(action="inventory.waste").target_id == str(document.posting_id)
    assert [
        event.payload["requires_approval"] for event in _events("inventory.waste.submitted")
    ] == [False]
    posted = _events("inventory.waste.posted")
    assert [(event.payload["value"], event.payload["approved_by_id"]) for event in posted] == [
        ("13.7500", None)
    ]
    assert all(not result.differences for result in run_ledger_checks())


def test_above_threshold_waits_then_approved_by_another_manager(stock):
    """100 kg at 2.50 = 250.00 > 200: waits; a region manager approves; posts 250.00."""
    _receive(stock, "100", "2.5")
    manager = make_user("store_manager", stock.walk_in.site.node)
    approver = _region_manager(stock)
    document = services.create_waste(
        stock.walk_in.site, [_line(stock, "100", "expired")], actor=manager
    )
    assert (document.status, document.total_value, document.requires_approval) == (
        "pending_approval",
        D("250.0000"),
        True,
    )
    assert document.posting_id is None
    assert StockMove.objects.filter(reason="waste").count() == 0
    document = services.approve_waste(document, actor=approver, reason="bad delivery")
    assert (document.status, document.decided_by_id, document.decision_reason) == (
        "posted",
        approver.pk,
        "bad delivery",
    )
    assert document.total_value == D("250.0000")
    assert StockMove.objects.get(reason="waste").value == D("-250.0000")
    assert ItemValuation.objects.get(item=stock.flour, location=stock.walk_in).quantity == 0
    assert [event.payload["approved_by_id"] for event in _events("inventory.waste.posted")] == [
        approver.pk
    ]
    request = ApprovalRequest.objects.get(document_id=str(document.pk))
    assert (request.status, request.fields["amount"], request.fields["reason"]) == (
        "approved",
        "250.0000",
        "expired",
    )
    # Approving again: the state says no; nothing posts twice.
    before = _state()
    with pytest.raises(WasteStateError):
        services.approve_waste(document, actor=approver)
    assert _state() == before


def test_approving_in_the_approvals_inbox_posts_the_record(stock):
    """The approvals runtime's decision hook posts; the waste page is not needed."""
    from backroom.approvals import runtime

    _receive(stock, "100", "2.5")
    approver = _region_manager(stock)
    document = services.create_waste(
        stock.walk_in.site, [_line(stock, "100", "expired")], actor=_clerk(stock)
    )
    task = ApprovalRequest.objects.get(document_id=str(document.pk)).tasks.get()
    runtime.approve(task, actor=approver, comment="freezer log checked")
    document.refresh_from_db()
    assert (document.status, document.decided_by_id) == ("posted", approver.pk)
    assert StockMove.objects.get(reason="waste").value == D("-250.0000")


def test_posting_cannot_skip_the_approval(stock):
    """Whatever calls the posting, a record whose request is not approved does not post."""
    from backroom.inventory.services import waste as waste_services

    _receive(stock, "100", "2.5")
    _region_manager(stock)
    document = services.create_waste(stock.walk_in.site, [_line(stock, "100")], actor=_clerk(stock))
    before = _state()
    with pytest.raises(ApprovalRequired):
        waste_services._post(document, actor=SYSTEM)
    assert _state() == before


def test_a_two_step_policy_posts_only_after_the_last_approval(stock, waste_policy):
    """Countersign: after the first of two approvals the record still waits, unposted."""
    from backroom.approvals import runtime

    _countersign(waste_policy)
    _receive(stock, "100", "2.5")
    first, second = _region_manager(stock), _region_manager(stock)
    document = services.create_waste(stock.walk_in.site, [_line(stock, "100")], actor=_clerk(stock))
    document = services.approve_waste(document, actor=first)
    assert (document.status, document.posting_id) == ("pending_approval", None)
    assert StockMove.objects.filter(reason="waste").count() == 0
    with pytest.raises(NotYourTask):
        services.approve_waste(document, actor=first)
    assert runtime.is_approved("inventory.waste", str(document.pk)) is False
    document = services.approve_waste(document, actor=second)
    assert document.status == "posted"


def test_policy_boundary(stock):
    """The policy's `amount > 200`: exactly 200.00 posts at once, 200.02 waits."""
    _region_manager(stock)
    _receive(stock, "10", "20")
    exactly = services.create_waste(stock.walk_in.site, [_line(stock, "10")], actor=_clerk(stock))
    assert (exactly.status, exactly.total_value) == ("posted", D("200.0000"))
    _receive(stock, "10", "20.002")
    above = services.create_waste(stock.walk_in.site, [_line(stock, "10")], actor=_clerk(stock))
    assert (above.status, above.total_value) == ("pending_approval", D("200.0200"))


def test_no_region_manager_refuses_the_record_with_a_clear_error(stock):
    """A step with no approver is caught when the record is submitted, not left stuck."""
    _receive(stock, "100", "3")
    clerk = _clerk(stock)
    before = _state()
    with pytest.raises(Exception) as error:
        services.create_waste(stock.walk_in.site, [_line(stock, "100")], actor=clerk)
    assert getattr(error.value, "code", None) == "no_approver"
    # Nothing changed but the admin alert, committed on its own.
    assert _state()[:-2] == before[:-2] and _state()[-1] == before[-1]
    assert [event.payload["problem"] != "" for event in _events("approvals.route.unresolved")] == [
        True
    ]


def test_submitter_cannot_decide_and_store_manager_cannot_approve(stock):
    _receive(stock, "100", "3")
    region = _region_manager(stock)
    manager = make_user("store_manager", stock.walk_in.site.node)
    other = make_user("region_manager", stock.freezer_b.site.node)
    before = _state()
    # The region manager's own write-off: nobody else could approve it (they have no manager).
    with pytest.raises(RouteSelfApproval) as error:
        services.create_waste(stock.walk_in.site, [_line(stock, "100")], actor=region)
    assert error.value.code == "self_approval"
    assert _state() == before
    document = services.create_waste(stock.walk_in.site, [_line(stock, "100")], actor=manager)
    before = _state()
    with pytest.raises(NotYourTask):
        services.approve_waste(document, actor=manager)
    with pytest.raises(NotYourTask):
        services.reject_waste(document, actor=manager, reason="no")
    with pytest.raises(NotYourTask):
        services.approve_waste(document, actor=other)
    assert _state() == before


def test_a_store_managers_own_write_off_goes_to_their_manager(stock):
    """Only the requester could approve, so the route goes one level up."""
    _receive(stock, "100", "3")
    region = _region_manager(stock)
    manager = make_user("store_manager", stock.walk_in.site.node)
    manager.manager = region
    manager.save(update_fields=["manager"])
    # The only region manager is the store manager's boss; the policy's step would pick them
    # anyway, so use a policy naming the store manager's role to show the fallback.
    approval_services.create_policy(
        approval_services.PolicyInput(
            document_type="inventory.waste",
            name="Store write-offs",
            condition=f'store == "{stock.walk_in.site.node.code}"',
            steps=[
                approval_services.StepInput(
                    name="Store manager",
                    approver_kind="role",
                    approver_params={"role": "store_manager", "level": "store"},
                )
            ],
        ),
        actor=SYSTEM,
        publish_now=True,
    )
    document = services.create_waste(stock.walk_in.site, [_line(stock, "10")], actor=manager)
    request = ApprovalRequest.objects.get(document_id=str(document.pk))
    assert document.status == "pending_approval"
    assert list(request.tasks.values_list("assignee_id", flat=True)) == [region.pk]
    assert request.route[0]["to_requesters_manager"] is True
    assert services.approve_waste(document, actor=region).status == "posted"


def test_reject_needs_a_reason_and_posts_nothing(stock):
    _receive(stock, "100", "3")
    approver = _region_manager(stock)
    document = services.create_waste(stock.walk_in.site, [_line(stock, "100")], actor=_clerk(stock))
    with pytest.raises(ValidationFailed) as error:
        services.reject_waste(document, actor=approver, reason="  ")
    assert error.value.details["fields"] == {"reason": ["Say why the record is rejected."]}
    document = services.reject_waste(document, actor=approver, reason="count it instead")
    assert (document.status, document.decision_reason) == ("rejected", "count it instead")
    assert StockMove.objects.filter(reason="waste").count() == 0
    assert AuditEntry.objects.filter(action="inventory.waste.reject").count() == 1
    assert len(_events("inventory.waste.rejected")) == 1
    with pytest.raises(WasteStateError):
        services.approve_waste(document, actor=approver)


def test_draft_submit_and_cancel(stock):
    _receive(stock, "10", "2")
    clerk = _clerk(stock)
    document = services.create_waste(
        stock.walk_in.site, [_line(stock, "1")], actor=clerk, submit=False
    )
    assert (document.status, document.total_value) == ("draft", D("2.0000"))
    document = services.cancel_waste(document, actor=SYSTEM, reason="typo")
    assert document.status == "cancelled"
    with pytest.raises(WasteStateError):
        services.submit_waste(document, actor=SYSTEM)
    draft = services.create_waste(
        stock.walk_in.site, [_line(stock, "1")], actor=clerk, submit=False
    )
    # The system submits on the clerk's behalf: the request is theirs.
    assert services.submit_waste(draft, actor=SYSTEM).status == "posted"
    assert ApprovalRequest.objects.get(document_id=str(draft.pk)).requester_id == clerk.pk


def test_the_requester_withdraws_a_waiting_record(stock):
    _receive(stock, "100", "3")
    _region_manager(stock)
    clerk = _clerk(stock)
    document = services.create_waste(stock.walk_in.site, [_line(stock, "100")], actor=clerk)
    someone = make_user("store_manager", stock.walk_in.site.node)
    before = _state()
    with pytest.raises(PermissionDenied):
        services.cancel_waste(document, actor=someone)
    assert _state() == before
    document = services.cancel_waste(document, actor=clerk, reason="counted wrong")
    assert document.status == "cancelled"
    assert ApprovalRequest.objects.get(document_id=str(document.pk)).status == "withdrawn"
    assert StockMove.objects.filter(reason="waste").count() == 0


def test_expired_lot_may_be_wasted(stock):
    import datetime as dt

    _receive(stock, "5", "4", lot_code="L-OLD", expiry_date=dt.date(2020, 1, 1))
    document = services.create_waste(
        stock.walk_in.site, [_line(stock, "5", "expired", lot_code="L-OLD")], actor=_clerk(stock)
    )
    move = StockMove.objects.get(posting=document.posting)
    assert (move.lot.code, move.quantity, move.value) == ("L-OLD", D(-5), D(-20))


def test_every_problem_at_once_and_nothing_changed(stock):
    _receive(stock, "10", "2")
    clerk = _clerk(stock)
    before = _state()
    with pytest.raises(BatchRejected) as error:
        services.create_waste(
            stock.walk_in.site,
            [
                _line(stock, "1"),
                _line(stock, "-1"),
                _line(stock, "1", unit="crate"),
                _line(stock, "1", reason="stolen"),
                _line(stock, "1", location_id=stock.freezer_b.pk),
                _line(stock, "1", lot_code="NOPE"),
                _line(stock, "1", item_id=999999),
            ],
            actor=clerk,
        )
    codes = [(line["index"], line["code"]) for line in error.value.details["lines"]]
    assert codes == [
        (1, "negative_quantity"),
        (2, "unknown_unit"),
        (3, "invalid"),
        (4, "unknown_location"),
        (5, "unknown_lot"),
        (6, "invalid"),
    ]
    assert _state() == before


def test_insufficient_stock_at_submission_changes_nothing(stock):
    _receive(stock, "1", "2")
    clerk = _clerk(stock)
    before = _state()
    with pytest.raises(InsufficientStock):
        services.create_waste(stock.walk_in.site, [_line(stock, "5")], actor=clerk)
    assert _state() == before


def test_photo_is_checked_by_its_bytes_and_kept(stock, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    _receive(stock, "10", "2")
    clerk = _clerk(stock)
    before = _state()
    fake = SimpleUploadedFile("x.jpg", b"<script>alert(1)</script>", content_type="image/jpeg")
    with pytest.raises(ValidationFailed) as error:
        services.create_waste(stock.walk_in.site, [_line(stock)], actor=clerk, photo=fake)
    assert error.value.details["fields"] == {"photo": ["Upload a JPEG, PNG, WebP or HEIC image."]}
    settings.INVENTORY_WASTE_PHOTO_MAX_BYTES = 32
    with pytest.raises(ValidationFailed) as error:
        services.create_waste(
            stock.walk_in.site,
            [_line(stock)],
            actor=clerk,
            photo=SimpleUploadedFile("x.png", PNG, content_type="image/png"),
        )
    assert list(error.value.details["fields"]) == ["photo"]
    assert _state() == before
    del settings.INVENTORY_WASTE_PHOTO_MAX_BYTES
    document = services.create_waste(
        stock.walk_in.site,
        [_line(stock)],
        actor=clerk,
        photo=SimpleUploadedFile("IMG_1.bin", JPEG, content_type="application/octet-stream"),
    )
    assert document.photo_content_type == "image/jpeg"
    assert document.photo.name.startswith("waste/") and document.photo.name.endswith(".jpg")
    assert (tmp_path / document.photo.name).read_bytes() == JPEG


def test_a_failed_record_leaves_no_photo_behind(stock, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    _receive(stock, "1", "2")
    with pytest.raises(InsufficientStock):
        services.create_waste(
            stock.walk_in.site,
            [_line(stock, "5")],
            actor=_clerk(stock),
            photo=SimpleUploadedFile("a.png", PNG, content_type="image/png"),
        )
    assert [path for path in tmp_path.rglob("*") if path.is_file()] == []


def test_store_staff_of_another_store_cannot_record(stock):
    other = make_user("store_manager", stock.freezer_b.site.node)
    before = _state()
    with pytest.raises(NotFound):
        services.create_waste(stock.walk_in.site, [_line(stock)], actor=other)
    assert _state() == before


# --- concurrency (PostgreSQL) ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_approvers_at_once_post_once(stock):
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL-only")
    _receive(stock, "100", "3")
    approvers = [_region_manager(stock) for _ in range(2)]
    document = services.create_waste(stock.walk_in.site, [_line(stock, "100")], actor=_clerk(stock))
    assert document.status == "pending_approval"
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def decide(actor, approve):
        try:
            barrier.wait()
            if approve:
                services.approve_waste(WasteDocument.objects.get(pk=document.pk), actor=actor)
                outcomes.append("approved")
            else:
                services.reject_waste(
                    WasteDocument.objects.get(pk=document.pk), actor=actor, reason="no"
                )
                outcomes.append("rejected")
        except Conflict as error:  # waste_state, not_your_task, request_closed, already_decided
            outcomes.append(error.code)
        finally:
            close_old_connections()

    threads = [
        threading.Thread(target=decide, args=(approvers[0], True)),
        threading.Thread(target=decide, args=(approvers[1], False)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # The loser finds the record decided (waste_state) or its task cancelled (not_your_task):
    # either way exactly one decision counts.
    assert len(outcomes) == 2
    assert sorted(outcomes)[0] in ("approved", "rejected")
    assert sorted(outcomes)[1] in (
        "already_decided",
        "not_your_task",
        "request_closed",
        "waste_state",
    )
    document.refresh_from_db()
    expected_moves = 1 if document.status == "posted" else 0
    assert StockMove.objects.filter(reason="waste").count() == expected_moves
    assert (
        AuditEntry.objects.filter(
            action__in=["inventory.waste.approve", "inventory.waste.reject"]
        ).count()
        == 1
    )
    assert all(not result.differences for result in run_ledger_checks())


# --- API ------------------------------------------------------------------------------------


def _payload(stock, **extra):
    body = {
        "site_id": stock.walk_in.site.pk,
        "note": "",
        "lines": [
            {
                "item_id": stock.flour.pk,
                "location_id": stock.walk_in.pk,
                "quantity": "2",
                "reason": "spoiled",
            }
        ],
    }
    body.update(extra)
    return body


def test_api_create_list_detail(stock):
    _receive(stock, "10", "2")
    manager = make_user("store_manager", stock.walk_in.site.node)
    client = client_for(manager)
    response = client.post(BASE, _payload(stock), content_type="application/json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["total_value"], body["currency"], body["has_photo"]) == (
        "posted",
        "4.0000",
        "CNY",
        False,
    )
    assert [
        (line["sku"], line["quantity"], line["unit"], line["value"], line["reason"])
        for line in body["lines"]
    ] == [("FLOUR", "2.000000", "kg", "4.0000", "spoiled")]
    listing = client.get(BASE, {"status": "posted", "site_id": stock.walk_in.site.pk}).json()
    assert (listing["count"], listing["items"][0]["number"]) == (1, body["number"])
    assert client.get(BASE, {"status": "pending_approval"}).json()["count"] == 0
    detail = client.get(f"{BASE}/{body['id']}").json()
    assert detail["posting_id"] == body["posting_id"]


def test_api_errors_are_coded(stock):
    client = client_for(make_user("store_manager", stock.walk_in.site.node))
    bad = _payload(
        stock,
        lines=[
            {
                "item_id": stock.flour.pk,
                "location_id": stock.walk_in.pk,
                "quantity": "0",
                "reason": "spoiled",
            }
        ],
    )
    response = client.post(BASE, bad, content_type="application/json")
    assert response.status_code == 422
    assert response.json()["code"] == "batch_rejected"
    response = client.post(BASE, _payload(stock), content_type="application/json")
    assert (response.status_code, response.json()["code"]) == (409, "insufficient_stock")
    assert WasteDocument.objects.count() == 0


def test_api_approve_reject_flow(stock):
    _receive(stock, "100", "3")
    manager = make_user("store_manager", stock.walk_in.site.node)
    approver = make_user("region_manager", stock.walk_in.site.node.parent)
    body = (
        client_for(manager)
        .post(
            BASE,
            _payload(
                stock,
                lines=[
                    {
                        "item_id": stock.flour.pk,
                        "location_id": stock.walk_in.pk,
                        "quantity": "80",
                        "reason": "expired",
                    }
                ],
            ),
            content_type="application/json",
        )
        .json()
    )
    assert body["status"] == "pending_approval"
    response = client_for(manager).post(
        f"{BASE}/{body['id']}/approve", {}, content_type="application/json"
    )
    assert (response.status_code, response.json()["code"]) == (409, "not_your_task")
    response = client_for(approver).post(
        f"{BASE}/{body['id']}/approve", {"reason": "ok"}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["total_value"]) == ("posted", "240.0000")
    response = client_for(approver).post(
        f"{BASE}/{body['id']}/reject", {"reason": "late"}, content_type="application/json"
    )
    assert (response.status_code, response.json()["code"]) == (409, "waste_state")


def test_api_cannot_post_before_the_last_approval(stock, waste_policy):
    """Countersign through the API: after the first of two approvals nothing is posted, and
    no other call (submit again, approve by someone without a task) moves it on."""
    _countersign(waste_policy)
    _receive(stock, "100", "3")
    first, second = _region_manager(stock), _region_manager(stock)
    outsider = make_user("hq_admin", stock.walk_in.site.node.parent.parent)
    clerk = _clerk(stock)
    body = (
        client_for(clerk)
        .post(
            BASE,
            _payload(
                stock,
                lines=[
                    {
                        "item_id": stock.flour.pk,
                        "location_id": stock.walk_in.pk,
                        "quantity": "80",
                        "reason": "spoiled",
                    }
                ],
            ),
            content_type="application/json",
        )
        .json()
    )
    url = f"{BASE}/{body['id']}"
    assert client_for(first).post(f"{url}/approve", {}, content_type="application/json").json()[
        "status"
    ] == ("pending_approval")
    before = _state()
    for who, action in ((outsider, "approve"), (first, "approve"), (clerk, "submit")):
        response = client_for(who).post(f"{url}/{action}", {}, content_type="application/json")
        assert response.status_code == 409, (who, action, response.content)
    assert _state() == before
    assert StockMove.objects.filter(reason="waste").count() == 0
    assert client_for(clerk).get(url).json()["approval_request_id"] is not None
    response = client_for(second).post(f"{url}/approve", {}, content_type="application/json")
    assert response.json()["status"] == "posted"
    assert StockMove.objects.filter(reason="waste").count() == 1


def test_api_multipart_create_with_photo_and_photo_access(stock, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    _receive(stock, "10", "2")
    manager = make_user("store_manager", stock.walk_in.site.node)
    import json

    response = client_for(manager).post(
        f"{BASE}/with-photo",
        {
            "payload": json.dumps(_payload(stock)),
            "photo": SimpleUploadedFile("p.png", PNG, content_type="image/png"),
        },
    )
    assert response.status_code == 201, response.content
    document_id = response.json()["id"]
    assert response.json()["has_photo"] is True
    photo = client_for(manager).get(f"{BASE}/{document_id}/photo")
    assert photo.status_code == 200
    assert photo["Content-Type"] == "image/png"
    assert photo["X-Content-Type-Options"] == "nosniff"
    assert b"".join(photo.streaming_content) == PNG
    other = make_user("store_manager", stock.freezer_b.site.node)
    assert client_for(other).get(f"{BASE}/{document_id}/photo").status_code == 404
    assert client_for(None).get(f"{BASE}/{document_id}/photo").status_code == 401


# --- security matrix ------------------------------------------------------------------------


@pytest.fixture
def people(stock):
    site = stock.walk_in.site
    return {
        "manager": make_user("store_manager", site.node),
        "approver": make_user("region_manager", site.node.parent),
        "tech": make_user("technician", site.node),
        "other": make_user("store_manager", stock.freezer_b.site.node),
        "other_approver": make_user("region_manager", stock.freezer_b.site.node),
    }


def _pending(stock, actor):
    _receive(stock, "100", "3")
    return services.create_waste(stock.walk_in.site, [_line(stock, "100")], actor=actor)


def test_matrix_list(stock, people):
    services.create_waste(
        stock.walk_in.site, [_line(stock, "1")], actor=people["manager"], submit=False
    )
    result = assert_matrix(
        "GET",
        BASE,
        allowed=people["manager"],
        forbidden=people["tech"],
        other_scope=people["other"],
        expect_forbidden=200,
        expect_other_scope=200,
    )
    assert result.forbidden.json()["count"] == 0
    assert result.other_scope.json()["count"] == 0
    assert result.allowed.json()["count"] == 1


def test_matrix_detail(stock, people):
    document = services.create_waste(
        stock.walk_in.site, [_line(stock, "1")], actor=people["manager"], submit=False
    )
    assert_matrix(
        "GET",
        f"{BASE}/{document.pk}",
        allowed=people["manager"],
        forbidden=people["tech"],
        other_scope=people["other"],
        expect_forbidden=404,
    )


def test_matrix_create(stock, people):
    _receive(stock, "10", "2")
    result = assert_matrix(
        "POST",
        BASE,
        payload=_payload(stock),
        allowed=people["manager"],
        forbidden=people["tech"],
        other_scope=people["other"],
        expect_allowed=201,
        snapshot=_state,
    )
    assert result.allowed.json()["status"] == "posted"


def test_matrix_approve(stock, people):
    document = _pending(stock, people["manager"])
    result = assert_matrix(
        "POST",
        f"{BASE}/{document.pk}/approve",
        payload={"reason": ""},
        allowed=people["approver"],
        forbidden=people["manager"],
        other_scope=people["other_approver"],
        expect_forbidden=409,  # not_your_task: the submitter has no task on it
        snapshot=_state,
    )
    assert result.allowed.json()["status"] == "posted"


def test_matrix_reject(stock, people):
    document = _pending(stock, people["manager"])
    result = assert_matrix(
        "POST",
        f"{BASE}/{document.pk}/reject",
        payload={"reason": "no"},
        allowed=people["approver"],
        forbidden=people["manager"],
        other_scope=people["other_approver"],
        expect_forbidden=409,  # not_your_task: the submitter has no task on it
        snapshot=_state,
    )
    assert result.allowed.json()["status"] == "rejected"


def test_matrix_submit_and_cancel(stock, people):
    _receive(stock, "10", "2")
    draft = services.create_waste(
        stock.walk_in.site, [_line(stock, "1")], actor=people["manager"], submit=False
    )
    result = assert_matrix(
        "POST",
        f"{BASE}/{draft.pk}/submit",
        payload={},
        allowed=people["manager"],
        forbidden=people["tech"],
        other_scope=people["other"],
        expect_forbidden=404,
        snapshot=_state,
    )
    assert result.allowed.json()["status"] == "posted"
    draft = services.create_waste(
        stock.walk_in.site, [_line(stock, "1")], actor=people["manager"], submit=False
    )
    result = assert_matrix(
        "POST",
        f"{BASE}/{draft.pk}/cancel",
        payload={"reason": "typo"},
        allowed=people["manager"],
        forbidden=people["tech"],
        other_scope=people["other"],
        expect_forbidden=404,
        snapshot=_state,
    )
    assert result.allowed.json()["status"] == "cancelled"


def test_matrix_photo(stock, people, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    _receive(stock, "10", "2")
    document = services.create_waste(
        stock.walk_in.site,
        [_line(stock, "1")],
        actor=people["manager"],
        photo=SimpleUploadedFile("p.png", PNG, content_type="image/png"),
    )
    url = f"{BASE}/{document.pk}/photo"
    assert_matrix(
        "GET",
        url,
        allowed=None,  # a streamed file: checked below
        forbidden=people["tech"],
        other_scope=people["other"],
        expect_forbidden=404,
    )
    response = client_for(people["manager"]).get(url)
    assert (response.status_code, b"".join(response.streaming_content)) == (200, PNG)
    no_photo = services.create_waste(
        stock.walk_in.site, [_line(stock, "1")], actor=people["manager"]
    )
    response = client_for(people["manager"]).get(f"{BASE}/{no_photo.pk}/photo")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


# --- pages ----------------------------------------------------------------------------------

PAGES = "/stock/waste"


def test_page_matrix_list_and_detail(stock, people):
    document = services.create_waste(
        stock.walk_in.site, [_line(stock, "1")], actor=people["manager"], submit=False
    )
    result = assert_matrix(
        "GET",
        f"{PAGES}/",
        allowed=people["manager"],
        forbidden=people["tech"],
        other_scope=None,
        expect_forbidden=403,
    )
    assert document.number in result.allowed.content.decode()
    other = client_for(people["other"]).get(f"{PAGES}/").content.decode()
    assert document.number not in other
    assert_matrix(
        "GET",
        f"{PAGES}/{document.pk}/",
        allowed=people["manager"],
        forbidden=people["tech"],
        other_scope=people["other"],
    )


def test_page_new_waste_posts_with_photo(stock, people, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    _receive(stock, "10", "2")
    form = {
        "site_id": stock.walk_in.site.pk,
        "note": "",
        "item_id": stock.flour.pk,
        "location_id": stock.walk_in.pk,
        "quantity": "1",
        "unit": "kg",
        "reason": "dropped",
        "line_note": "",
        "lot_code": "",
    }
    result = assert_matrix(
        "POST",
        f"{PAGES}/new/",
        payload=form,
        allowed=None,
        forbidden=people["tech"],
        other_scope=people["other"],
        expect_other_scope=404,
        snapshot=_state,
    )
    assert result.allowed is None
    client = client_for(people["manager"])
    form["photo"] = SimpleUploadedFile("p.jpg", JPEG, content_type="image/jpeg")
    response = client.post(f"{PAGES}/new/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    document = WasteDocument.objects.get()
    assert response["Location"] == f"{PAGES}/{document.pk}/"
    assert (document.status, document.photo_content_type) == ("posted", "image/jpeg")


def test_page_new_waste_shows_errors(stock, people):
    client = client_for(people["manager"])
    response = client.post(
        f"{PAGES}/new/",
        {
            "site_id": stock.walk_in.site.pk,
            "item_id": stock.flour.pk,
            "location_id": stock.walk_in.pk,
            "quantity": "5",
            "unit": "kg",
            "reason": "dropped",
        },
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert "short by 5" in page
    assert WasteDocument.objects.count() == 0
    # What was typed is kept, so the manager fixes the line instead of typing it again.
    assert f'<option value="{stock.flour.pk}" selected>' in page
    assert 'name="quantity" inputmode="decimal" autocomplete="off" value="5"' in page
    assert '<option value="dropped" selected>' in page


def test_page_approve_and_reject(stock, people):
    document = _pending(stock, people["manager"])
    assert_matrix(
        "POST",
        f"{PAGES}/{document.pk}/approve/",
        payload={"reason": "fine"},
        allowed=people["approver"],
        forbidden=people["manager"],
        other_scope=people["other_approver"],
        expect_allowed=302,
        expect_forbidden=409,  # not_your_task: the submitter has no task on it
        snapshot=_state,
    )
    document.refresh_from_db()
    assert document.status == "posted"
    second = services.create_waste(
        stock.walk_in.site,
        [_line(stock, "100", item_id=stock.flour.pk)],
        actor=people["manager"],
        submit=False,
    )
    assert second.status == "draft"
    response = client_for(people["approver"]).post(f"{PAGES}/{second.pk}/reject/", {"reason": "x"})
    assert response.status_code == 409


def test_page_reject_flow(stock, people):
    document = _pending(stock, people["manager"])
    response = client_for(people["approver"]).post(f"{PAGES}/{document.pk}/reject/", {"reason": ""})
    assert response.status_code == 422
    response = client_for(people["approver"]).post(
        f"{PAGES}/{document.pk}/reject/", {"reason": "not ours"}
    )
    assert response.status_code == 302
    document.refresh_from_db()
    assert (document.status, document.decision_reason) == ("rejected", "not ours")


def test_list_query_count_does_not_grow(stock, people, django_assert_max_num_queries):
    _receive(stock, "100", "1")
    for _ in range(5):
        services.create_waste(stock.walk_in.site, [_line(stock, "1")], actor=people["manager"])
    client = client_for(people["manager"])
    with django_assert_max_num_queries(12):
        assert client.get(BASE).json()["count"] == 5
