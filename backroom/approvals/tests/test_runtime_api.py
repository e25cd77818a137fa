"""Approval runtime API: permission matrices, whole effects, coded conflicts that change nothing."""

from __future__ import annotations

import datetime as dt

import pytest

from backroom.approvals import runtime
from backroom.approvals.models import ApprovalHistory, ApprovalRequest, ApprovalTask, Delegation
from backroom.audit.models import AuditEntry
from backroom.events.models import OutboxEvent
from backroom.kernel import clock
from backroom.testing.factories import client_for, make_user
from backroom.testing.matrix import assert_matrix

API = "/api/v1/approvals"
REQ = "procurement.requisition"

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(tree):
    return make_user("store_staff", tree.store_a, username="staff-a")


@pytest.fixture
def callers(tree):
    return {
        "colleague": make_user("store_staff", tree.store_a),  # sees store A, not involved
        "other_store": make_user("store_manager", tree.store_b),  # cannot see store A
        "hk_admin": make_user("hq_admin", tree.store_hk),  # manages another subtree
    }


def submitted(staff, document_id="REQ-1", amount="6000"):
    return runtime.submit(
        runtime.Submission(REQ, document_id, {"amount": amount, "store": "SHA001"}),
        requester=staff,
        actor=staff,
    )


def state():
    return (
        list(ApprovalRequest.objects.values_list("pk", "status", "round")),
        list(ApprovalTask.objects.values_list("pk", "status", "assignee_id")),
        ApprovalHistory.objects.count(),
    )


def test_submit_matrix(requisition_policy, tree, staff, callers):
    integration = make_user("hq_admin", tree.region)
    result = assert_matrix(
        "POST",
        f"{API}/requests",
        payload={
            "document_type": REQ,
            "document_id": "REQ-API",
            "fields": {"amount": "7200.00", "store": "SHA001"},
            "requester_id": staff.pk,
            "document_currency": "USD",
            "document_amount": "1000",
        },
        allowed=integration,  # approvals.submit at EAST: may name the requester
        forbidden=callers["colleague"],  # sees store A, lacks approvals.submit
        other_scope=callers["other_store"],
        expect_allowed=201,
        snapshot=state,
    )
    body = result.allowed.json()
    assert (body["status"], body["requester_id"], body["version"]) == ("pending", staff.pk, 1)
    assert body["document_amount"] == "1000.0000" or body["document_amount"] == "1000"
    assert [step["name"] for step in body["route"]] == ["Store manager", "Region manager"]
    assert [task["step_name"] for task in body["tasks"]] == ["Store manager"]
    assert [row["action"] for row in body["history"]] == ["submitted", "assigned"]
    assert AuditEntry.objects.filter(action="approvals.request.submit").count() == 1
    assert OutboxEvent.objects.filter(event_type="approvals.request.submitted").count() == 1
    # The submitting integration follows what it submitted.
    followed = client_for(integration).get(f"{API}/requests/{body['id']}")
    assert followed.status_code == 200


def test_the_requester_submits_for_themselves(requisition_policy, staff):
    response = client_for(staff).post(
        f"{API}/requests",
        {
            "document_type": REQ,
            "document_id": "REQ-OWN",
            "fields": {"amount": "10", "store": "SHA001"},
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["requester_id"] == staff.pk
    again = client_for(staff).post(
        f"{API}/requests",
        {
            "document_type": REQ,
            "document_id": "REQ-OWN",
            "fields": {"amount": "10", "store": "SHA001"},
        },
        content_type="application/json",
    )
    assert (again.status_code, again.json()["code"]) == (409, "request_open")


def test_submit_without_an_approver_is_a_coded_422(tree, people):
    from backroom.approvals import services
    from backroom.kernel.actors import SYSTEM

    services.create_policy(
        services.PolicyInput(
            document_type=REQ,
            name="Regional",
            steps=[
                services.StepInput(
                    name="Region manager",
                    approver_kind="role",
                    approver_params={"role": "region_manager", "level": "region"},
                )
            ],
        ),
        actor=SYSTEM,
        publish_now=True,
    )
    hk_staff = make_user("store_staff", tree.store_hk)
    response = client_for(hk_staff).post(
        f"{API}/requests",
        {"document_type": REQ, "document_id": "R", "fields": {"amount": "1", "store": "HKG001"}},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response.json()["code"] == "no_approver"
    assert response.json()["details"]["step"] == "Region manager"
    assert not ApprovalRequest.objects.exists()


def test_get_request_matrix(requisition_policy, staff, callers):
    request = submitted(staff)
    result = assert_matrix(
        "GET",
        f"{API}/requests/{request.pk}",
        allowed=staff,
        forbidden=callers["colleague"],
        other_scope=callers["other_store"],
    )
    assert result.allowed.json()["id"] == request.pk
    # The assignee sees it too; an administrator of another subtree does not.
    assert (
        client_for(request.tasks.get().assignee).get(f"{API}/requests/{request.pk}").status_code
        == 200
    )
    assert client_for(callers["hk_admin"]).get(f"{API}/requests/{request.pk}").status_code == 404


def test_list_requests_boxes(requisition_policy, people, staff, callers):
    request = submitted(staff)
    result = assert_matrix(
        "GET",
        f"{API}/requests",
        allowed=staff,
        forbidden=callers["colleague"],
        other_scope=callers["hk_admin"],
        expect_forbidden=200,
        expect_other_scope=200,
    )
    assert [item["id"] for item in result.allowed.json()["items"]] == [request.pk]
    assert result.forbidden.json()["items"] == []
    assert result.other_scope.json()["items"] == []
    manager = client_for(people.store_manager)
    assert [i["id"] for i in manager.get(f"{API}/requests?box=waiting").json()["items"]] == [
        request.pk
    ]
    assert manager.get(f"{API}/requests?box=mine").json()["items"] == []
    assert client_for(staff).get(f"{API}/requests?box=waiting").json()["items"] == []
    admin = client_for(people.admin)
    assert admin.get(f"{API}/requests?status=pending").json()["count"] == 1
    assert admin.get(f"{API}/requests?status=approved").json()["count"] == 0


def test_approve_matrix_and_whole_effect(requisition_policy, people, staff, callers):
    request = submitted(staff)
    task = request.tasks.get()
    result = assert_matrix(
        "POST",
        f"{API}/tasks/{task.pk}/approve",
        payload={"comment": "ok"},
        allowed=people.store_manager,
        forbidden=callers["colleague"],  # sees the task's store, but it is not theirs
        other_scope=callers["other_store"],
        expect_forbidden=409,
        snapshot=state,
    )
    body = result.allowed.json()
    assert [(t["step_name"], t["status"]) for t in body["tasks"]] == [
        ("Store manager", "approved"),
        ("Region manager", "pending"),
    ]
    assert body["current_step"] == 1
    assert AuditEntry.objects.filter(action="approvals.task.approve").count() == 1
    assert OutboxEvent.objects.filter(event_type="approvals.task.decided").count() == 1


def test_not_your_task_body(requisition_policy, staff, callers):
    task = submitted(staff).tasks.get()
    response = client_for(callers["colleague"]).post(
        f"{API}/tasks/{task.pk}/approve", {}, content_type="application/json"
    )
    assert (response.status_code, response.json()["code"]) == (409, "not_your_task")


def test_reject_and_return_need_a_reason(requisition_policy, people, staff):
    task = submitted(staff).tasks.get()
    client = client_for(people.store_manager)
    before = state()
    for verb in ("reject", "return"):
        response = client.post(f"{API}/tasks/{task.pk}/{verb}", {}, content_type="application/json")
        assert response.status_code == 422
        assert state() == before
    response = client.post(
        f"{API}/tasks/{task.pk}/reject", {"reason": "No budget"}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    again = client.post(f"{API}/tasks/{task.pk}/approve", {}, content_type="application/json")
    assert (again.status_code, again.json()["code"]) == (409, "request_closed")


def test_return_resubmit_withdraw_through_the_api(requisition_policy, people, staff, callers):
    request = submitted(staff)
    task = request.tasks.get()
    returned = client_for(people.store_manager).post(
        f"{API}/tasks/{task.pk}/return",
        {"reason": "Add the supplier"},
        content_type="application/json",
    )
    assert returned.json()["status"] == "returned"
    result = assert_matrix(
        "POST",
        f"{API}/requests/{request.pk}/resubmit",
        payload={"fields": {"amount": "6000", "store": "SHA001", "supplier": "SUP-1"}},
        allowed=staff,
        forbidden=people.store_manager,  # sees it (their task), is not the requester
        other_scope=callers["other_store"],
        snapshot=state,
    )
    body = result.allowed.json()
    assert (body["status"], body["round"], body["fields"]["supplier"]) == ("pending", 2, "SUP-1")
    result = assert_matrix(
        "POST",
        f"{API}/requests/{request.pk}/withdraw",
        payload={"reason": "Ordered elsewhere"},
        allowed=staff,
        forbidden=people.store_manager,
        other_scope=callers["other_store"],
        snapshot=state,
    )
    assert result.allowed.json()["status"] == "withdrawn"
    closed = client_for(staff).post(
        f"{API}/requests/{request.pk}/withdraw", {}, content_type="application/json"
    )
    assert (closed.status_code, closed.json()["code"]) == (409, "request_closed")


def test_the_api_cannot_skip_a_step(requisition_policy, people, staff):
    """The region manager cannot approve before the store manager: there is no task for them,
    and the document stays unapproved until the last step."""
    request = submitted(staff)
    first = request.tasks.get()
    response = client_for(people.region_manager).post(
        f"{API}/tasks/{first.pk}/approve", {}, content_type="application/json"
    )
    assert (response.status_code, response.json()["code"]) == (409, "not_your_task")
    client_for(people.store_manager).post(
        f"{API}/tasks/{first.pk}/approve", {}, content_type="application/json"
    )
    assert not runtime.is_approved(REQ, "REQ-1")


def test_delegations_matrix(people, callers):
    start = clock.now() + dt.timedelta(hours=1)
    payload = {
        "delegate_id": people.vp_two.pk,
        "starts_at": start.isoformat(),
        "ends_at": (start + dt.timedelta(days=2)).isoformat(),
        "reason": "Trip",
    }
    result = assert_matrix(
        "POST",
        f"{API}/delegations",
        payload=payload,
        allowed=people.vp_one,
        forbidden=None,  # everyone signed in may delegate their own approvals
        other_scope=None,
        expect_allowed=201,
        snapshot=lambda: list(Delegation.objects.values_list("pk")),
    )
    created = result.allowed.json()
    assert (created["delegator_id"], created["delegate_id"]) == (people.vp_one.pk, people.vp_two.pk)
    listed = assert_matrix(
        "GET",
        f"{API}/delegations",
        allowed=people.vp_two,
        forbidden=callers["colleague"],
        other_scope=None,
        expect_forbidden=200,
    )
    assert [item["id"] for item in listed.allowed.json()["items"]] == [created["id"]]
    assert listed.forbidden.json()["items"] == []
    bad = client_for(people.vp_one).post(
        f"{API}/delegations",
        {**payload, "delegate_id": people.vp_one.pk},
        content_type="application/json",
    )
    assert bad.status_code == 422
