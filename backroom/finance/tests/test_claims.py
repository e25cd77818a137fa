"""Expense claims: submit with a receipt, approve through the policies, post, pay; rejection,
withdrawal, bad input (every problem at once, nothing changed) and scope."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from backroom.approvals import runtime
from backroom.approvals import services as approvals
from backroom.audit.models import AuditEntry
from backroom.finance.choices import ClaimStatus
from backroom.finance.models import ExpenseClaim, Journal
from backroom.finance.services.claims import (
    ClaimInput,
    approval_request,
    mark_claim_paid,
    submit_claim,
    withdraw_claim,
)
from backroom.finance.tests.conftest import D
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import Conflict, NotFound, PermissionDenied, ValidationFailed
from backroom.testing.factories import make_user

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def receipt(content: bytes = PNG) -> SimpleUploadedFile:
    return SimpleUploadedFile("receipt.png", content, content_type="image/png")


def claim_input(**changes) -> ClaimInput:
    values = dict(
        category="travel",
        description="Taxi to the supplier",
        spent_on=timezone.localdate() - dt.timedelta(days=1),
        amount="58.50",
        cost_centre="KITCHEN",
    )
    values.update(changes)
    return ClaimInput(**values)


def lines(journal: Journal) -> list[tuple[str, object]]:
    return [
        (line.account.code, line.base_amount) for line in journal.lines.select_related("account")
    ]


@pytest.fixture
def staff(tree):
    return make_user("store_staff", tree.store_a)


@pytest.fixture
def manager_policy(tree):
    approvals.create_policy(
        approvals.PolicyInput(
            document_type="finance.expense_claim",
            name="Store manager",
            steps=[
                approvals.StepInput(
                    name="Manager",
                    approver_kind="role",
                    approver_params={"role": "store_manager", "level": "store"},
                )
            ],
        ),
        actor=SYSTEM,
        publish_now=True,
    )
    return make_user("store_manager", tree.store_a)


def test_without_a_policy_a_claim_posts_at_once_and_is_paid(books, tree, staff):
    claim = submit_claim(tree.store_a.site, claim_input(), receipt=receipt(), actor=staff)
    assert claim.status == ClaimStatus.APPROVED and claim.number.startswith("EC-SHA001-")
    assert lines(claim.journal) == [("5602.01", D("58.5000")), ("2241.02", D("-58.5000"))]
    assert claim.journal.lines.first().cost_centre == "KITCHEN"
    assert claim.receipt.read().startswith(b"\x89PNG")
    finance = make_user("finance", tree.entity)
    with pytest.raises((PermissionDenied, NotFound)):
        mark_claim_paid(claim, actor=staff)
    paid = mark_claim_paid(claim, actor=finance)
    assert paid.status == ClaimStatus.PAID
    assert lines(paid.payment_journal) == [("2241.02", D("58.5000")), ("1002", D("-58.5000"))]
    with pytest.raises(Conflict):
        mark_claim_paid(paid, actor=finance)
    assert AuditEntry.objects.filter(action="finance.claim.paid").count() == 1


def test_a_claim_waits_for_its_approver_then_posts(books, tree, staff, manager_policy):
    claim = submit_claim(tree.store_a.site, claim_input(), receipt=receipt(), actor=staff)
    assert claim.status == ClaimStatus.PENDING_APPROVAL and claim.journal is None
    task = approval_request(claim).tasks.get(status="pending")
    runtime.approve(task, actor=manager_policy)
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.APPROVED and claim.journal is not None


def test_a_rejected_claim_posts_nothing(books, tree, staff, manager_policy):
    claim = submit_claim(tree.store_a.site, claim_input(), receipt=receipt(), actor=staff)
    task = approval_request(claim).tasks.get(status="pending")
    runtime.reject(task, actor=manager_policy, reason="No invoice")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.REJECTED and claim.decision_reason == "No invoice"
    assert not Journal.objects.exists()


def test_only_the_claimant_withdraws_a_waiting_claim(books, tree, staff, manager_policy):
    claim = submit_claim(tree.store_a.site, claim_input(), receipt=receipt(), actor=staff)
    with pytest.raises(PermissionDenied):
        withdraw_claim(claim, actor=manager_policy)
    claim = withdraw_claim(claim, actor=staff, reason="Duplicate")
    assert claim.status == ClaimStatus.WITHDRAWN and not Journal.objects.exists()
    with pytest.raises(Conflict):
        withdraw_claim(claim, actor=staff)


def test_bad_input_reports_every_problem_and_keeps_nothing(books, tree, staff):
    future = timezone.localdate() + dt.timedelta(days=2)
    with pytest.raises(ValidationFailed) as error:
        submit_claim(
            tree.store_a.site,
            claim_input(category="yacht", description=" ", spent_on=future, amount="-3"),
            receipt=receipt(b"not an image at all"),
            actor=staff,
        )
    assert set(error.value.errors) == {"category", "description", "spent_on", "amount", "receipt"}
    with pytest.raises(ValidationFailed) as error:
        submit_claim(tree.store_a.site, claim_input(amount="1.005"), receipt=None, actor=staff)
    assert set(error.value.errors) == {"amount", "receipt"}
    assert not ExpenseClaim.objects.exists()


def test_a_claim_at_another_store_is_refused(books, tree, staff):
    with pytest.raises((NotFound, PermissionDenied)):
        submit_claim(tree.store_b.site, claim_input(), receipt=receipt(), actor=staff)
    assert not ExpenseClaim.objects.exists()


# --- pages and API ---------------------------------------------------------------------------


def test_claim_pages_submit_show_errors_and_pay(books, tree, staff):
    from backroom.testing.factories import client_for
    from backroom.testing.matrix import assert_matrix

    outsider = make_user("store_staff", tree.store_b)
    assert_matrix(
        "GET",
        "/finance/claims/new/",
        allowed=staff,
        forbidden=make_user(None),
        other_scope=None,
    )
    client = client_for(staff)
    form = {
        "store": str(tree.store_a.site.pk),
        "category": "office",
        "description": "",
        "amount": "abc",
        "spent_on": timezone.localdate().isoformat(),
    }
    response = client.post("/finance/claims/new/", {**form, "receipt": receipt()})
    body = response.content.decode()
    assert response.status_code == 422 and not ExpenseClaim.objects.exists()
    assert 'data-testid="error-description"' in body and 'data-testid="error-amount"' in body
    form.update(description="Printer paper", amount="36.80")
    response = client.post("/finance/claims/new/", {**form, "receipt": receipt()})
    claim = ExpenseClaim.objects.get()
    assert response.status_code == 302 and response.url == f"/finance/claims/{claim.pk}/"
    assert claim.status == ClaimStatus.APPROVED
    assert client.get(f"/finance/claims/{claim.pk}/receipt/").status_code == 200
    assert client_for(outsider).get(f"/finance/claims/{claim.pk}/").status_code == 404
    assert client_for(outsider).get(f"/finance/claims/{claim.pk}/receipt/").status_code == 404
    finance = make_user("finance", tree.entity)
    assert "claims-to-pay" in client_for(finance).get("/finance/claims/").content.decode()
    assert_matrix(
        "POST",
        f"/finance/claims/{claim.pk}/paid/",
        allowed=finance,
        forbidden=staff,
        other_scope=make_user("finance", tree.entity_hk),
        expect_allowed=302,
        snapshot=lambda: list(ExpenseClaim.objects.values_list("status")),
    )
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.PAID


def test_claim_api_submit_matrix_and_bad_payload(books, tree, staff):
    import json

    from backroom.testing.factories import client_for

    payload = {
        "store_id": tree.store_a.site.pk,
        "category": "meals",
        "description": "Team lunch",
        "spent_on": (timezone.localdate() - dt.timedelta(days=2)).isoformat(),
        "amount": "120.00",
    }

    def post(user, body=payload, image=PNG):
        return client_for(user).post(
            "/api/v1/finance/expense-claims",
            {"payload": json.dumps(body), "receipt": receipt(image)},
        )

    assert client_for(None).post("/api/v1/finance/expense-claims").status_code == 401
    assert post(make_user("store_staff", tree.store_b)).status_code == 404
    assert post(make_user(None)).status_code in (403, 404)
    bad = post(staff, {**payload, "amount": "-1"})
    assert bad.status_code == 422 and "payload.amount" in bad.json()["details"]["fields"]
    not_image = post(staff, image=b"%PDF-1.4 nope")
    assert not_image.status_code == 422 and "receipt" in not_image.json()["details"]["fields"]
    assert not ExpenseClaim.objects.exists()
    created = post(staff)
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["status"] == "approved" and data["store_code"] == "SHA001"
    listed = client_for(staff).get("/api/v1/finance/expense-claims").json()["items"]
    assert [row["number"] for row in listed] == [data["number"]]
    assert (
        client_for(make_user("store_staff", tree.store_b))
        .get(f"/api/v1/finance/expense-claims/{data['id']}")
        .status_code
        == 404
    )
