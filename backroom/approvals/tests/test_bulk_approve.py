"""Bulk approval of low-value tasks: the service (every rule of a single decision still holds,
the bulk limit in base currency, one task's failure never undoes another) and the API (the
permission matrix, every outcome reported, the limit cannot be skipped)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from backroom.approvals import runtime
from backroom.approvals.models import ApprovalHistory, ApprovalRequest, ApprovalTask
from backroom.audit.models import AuditEntry
from backroom.events.models import OutboxEvent
from backroom.kernel import clock
from backroom.kernel.exceptions import PermissionDenied, ValidationFailed
from backroom.testing.factories import client_for, make_user
from backroom.testing.matrix import assert_matrix

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)
URL = "/api/v1/approvals/tasks/bulk-approve"


def submit(requester, document_id: str, amount: str, store: str = "SHA001") -> ApprovalRequest:
    return runtime.submit(
        runtime.Submission(
            document_type="procurement.requisition",
            document_id=document_id,
            fields={"amount": amount, "store": store},
        ),
        requester=requester,
        actor=requester,
    )


def task_of(request: ApprovalRequest) -> ApprovalTask:
    return request.tasks.get(status="pending")


def world() -> Any:
    return (
        list(ApprovalRequest.objects.order_by("pk").values_list("pk", "status", "current_step")),
        list(ApprovalTask.objects.order_by("pk").values_list("pk", "status", "decided_by_id")),
        ApprovalHistory.objects.count(),
        AuditEntry.objects.count(),
        OutboxEvent.objects.count(),
    )


@pytest.fixture
def staff(tree):
    return make_user("store_staff", tree.store_a, username="staff-a")


@pytest.fixture
def small(requisition_policy, staff) -> list[ApprovalRequest]:
    """Three requisitions waiting for the store manager: ¥1,000, ¥2,000 (the limit exactly)
    and ¥2,500 (above it)."""
    with clock.at(T0):
        return [
            submit(staff, "REQ-1", "1000"),
            submit(staff, "REQ-2", "2000.00"),
            submit(staff, "REQ-3", "2500"),
        ]


def outcomes(result: list[runtime.BulkOutcome]) -> list[tuple[int, str]]:
    return [(outcome.task_id, outcome.code) for outcome in result]


def test_approves_low_value_and_refuses_the_rest(small, people):
    tasks = [task_of(request) for request in small]
    with clock.at(T0 + dt.timedelta(hours=1)):
        result = runtime.bulk_approve(
            [tasks[0].pk, tasks[2].pk, tasks[1].pk, tasks[0].pk],
            actor=people.store_manager,
            comment="Weekly top-up",
        )
    assert outcomes(result) == [
        (tasks[0].pk, "approved"),
        (tasks[2].pk, "bulk_limit_exceeded"),  # ¥2,500 > ¥2,000: decide it on its own
        (tasks[1].pk, "approved"),  # at the limit exactly
    ]  # in the order given, the duplicate once
    assert [outcome.request_id for outcome in result] == [small[0].pk, small[2].pk, small[1].pk]
    assert result[1].approved is False and "2,000.00" in result[1].message
    for request in small:
        request.refresh_from_db()
    assert [request.status for request in small] == ["approved", "approved", "pending"]
    assert task_of(small[2]).decided_by_id is None  # untouched
    decided = ApprovalTask.objects.get(pk=tasks[0].pk)
    assert (decided.status, decided.decided_by, decided.decided_at) == (
        "approved",
        people.store_manager,
        T0 + dt.timedelta(hours=1),
    )
    approved = ApprovalHistory.objects.get(task=decided, action="approved")
    assert approved.comment == "Weekly top-up"
    assert AuditEntry.objects.filter(action="approvals.task.approve").count() == 2
    assert OutboxEvent.objects.filter(event_type="approvals.request.approved").count() == 2


def test_the_limit_is_a_setting_in_base_currency(small, people, settings):
    settings.APPROVALS_BULK_MAX_AMOUNT = "999.99"
    tasks = [task_of(request) for request in small]
    assert not runtime.is_bulk_eligible(small[0])
    result = runtime.bulk_approve([task.pk for task in tasks], actor=people.store_manager)
    assert [outcome.code for outcome in result] == ["bulk_limit_exceeded"] * 3
    settings.APPROVALS_BULK_MAX_AMOUNT = "3000"
    result = runtime.bulk_approve([task.pk for task in tasks], actor=people.store_manager)
    assert [outcome.code for outcome in result] == ["approved"] * 3


def test_a_document_in_another_currency_counts_in_base(requisition_policy, staff, people):
    """USD 250 is ¥1,800 in base: eligible; USD 300 = ¥2,160 is not, whatever its own figure."""
    requests = []
    for document_id, base, own in (("USD-1", "1800", "250"), ("USD-2", "2160", "300")):
        requests.append(
            runtime.submit(
                runtime.Submission(
                    document_type="procurement.requisition",
                    document_id=document_id,
                    fields={"amount": base, "store": "SHA001"},
                    document_currency="USD",
                    document_amount=Decimal(own),
                ),
                requester=staff,
                actor=staff,
            )
        )
    result = runtime.bulk_approve(
        [task_of(request).pk for request in requests], actor=people.store_manager
    )
    assert [outcome.code for outcome in result] == ["approved", "bulk_limit_exceeded"]


def test_every_single_decision_rule_still_holds(small, people, staff, tree, settings):
    settings.APPROVALS_BULK_MAX_AMOUNT = "10000"
    second = make_user("store_manager", tree.store_a, username="sm-a2")
    with clock.at(T0):
        countersigned = submit(staff, "REQ-6000", "6000")  # store managers (any one), region
    theirs = countersigned.tasks.get(assignee=second)
    mine = countersigned.tasks.get(assignee=people.store_manager)
    runtime.approve(theirs, actor=second)  # sm-a2 decides first: sm-a's task is cancelled
    withdrawn = small[0]
    withdrawn_task = withdrawn.tasks.get(assignee=people.store_manager)
    runtime.withdraw(withdrawn, actor=staff)
    make_user("store_manager", tree.store_b, username="sm-b")
    with clock.at(T0):
        other_store = submit(make_user("store_staff", tree.store_b), "REQ-B", "500", "SHA002")
    hidden = other_store.tasks.get(status="pending")
    region_task = task_of(countersigned)  # the region manager's
    before = world()
    result = runtime.bulk_approve(
        [mine.pk, withdrawn_task.pk, region_task.pk, hidden.pk, 987654],
        actor=people.store_manager,
    )
    assert outcomes(result) == [
        (mine.pk, "already_decided"),
        (withdrawn_task.pk, "request_closed"),
        (region_task.pk, "not_your_task"),
        (hidden.pk, "not_found"),  # another store's task: not even its request id
        (987654, "not_found"),
    ]
    assert [outcome.request_id for outcome in result] == [
        countersigned.pk,
        withdrawn.pk,
        countersigned.pk,
        None,
        None,
    ]
    assert world() == before


def test_delegated_tasks(requisition_policy, people, staff):
    with clock.at(T0):
        runtime.create_delegation(
            delegator=people.store_manager,
            delegate=people.vp_one,
            starts_at=T0,
            ends_at=T0 + dt.timedelta(days=3),
            actor=people.store_manager,
        )
        request = submit(staff, "REQ-D", "800")
    task = task_of(request)
    assert (task.assignee, task.on_behalf_of) == (people.vp_one, people.store_manager)
    refused = runtime.bulk_approve([task.pk], actor=people.store_manager)
    assert outcomes(refused) == [(task.pk, "not_your_task")]
    done = runtime.bulk_approve([task.pk], actor=people.vp_one)
    assert outcomes(done) == [(task.pk, "approved")]
    history = ApprovalHistory.objects.get(task=task, action="approved")
    assert (history.actor, history.on_behalf_of) == (people.vp_one, people.store_manager)


def test_one_failure_never_undoes_another(small, people, monkeypatch):
    """A task whose decision blows up mid-way (after its own writes) rolls back alone."""
    tasks = [task_of(request) for request in small[:2]]
    real_decide = runtime.decide

    def flaky(task: Any, decision: str, **kwargs: Any) -> Any:
        result = real_decide(task, decision, **kwargs)
        if task == tasks[1].pk:
            raise PermissionDenied("boom")
        return result

    monkeypatch.setattr(runtime, "decide", flaky)
    result = runtime.bulk_approve([task.pk for task in tasks], actor=people.store_manager)
    assert outcomes(result) == [(tasks[0].pk, "approved"), (tasks[1].pk, "permission_denied")]
    assert ApprovalTask.objects.get(pk=tasks[0].pk).status == "approved"
    assert ApprovalTask.objects.get(pk=tasks[1].pk).status == "pending"
    assert ApprovalRequest.objects.get(pk=small[1].pk).status == "pending"


def test_bad_input(small, people):
    with pytest.raises(ValidationFailed) as empty:
        runtime.bulk_approve([], actor=people.store_manager)
    assert set(empty.value.errors) == {"task_ids"}
    with pytest.raises(ValidationFailed):
        runtime.bulk_approve(list(range(1, 202)), actor=people.store_manager)
    with pytest.raises(ValidationFailed) as long_comment:
        runtime.bulk_approve([1], actor=people.store_manager, comment="x" * 2001)
    assert set(long_comment.value.errors) == {"comment"}


# --- API ---------------------------------------------------------------------------------------


def test_api_matrix(small, people, tree):
    ids = [task_of(request).pk for request in small[:2]]
    result = assert_matrix(
        "POST",
        URL,
        payload={"task_ids": ids, "comment": "ok"},
        allowed=people.store_manager,
        # Sees store A, is not the assignee: every task is `not_your_task`, nothing changes.
        forbidden=make_user("store_staff", tree.store_a),
        # Store B's manager cannot see store A: every task is `not_found`, nothing changes.
        other_scope=make_user("store_manager", tree.store_b),
        expect_forbidden=200,
        expect_other_scope=200,
        snapshot=world,
    )
    assert result.forbidden is not None and result.other_scope is not None
    assert [item["code"] for item in result.forbidden.json()["results"]] == ["not_your_task"] * 2
    hidden = result.other_scope.json()
    assert [(item["code"], item["request_id"]) for item in hidden["results"]] == [
        ("not_found", None)
    ] * 2
    assert result.allowed is not None
    body = result.allowed.json()
    assert (body["approved"], body["failed"], Decimal(body["limit"])) == (2, 0, Decimal(2000))
    assert [(item["task_id"], item["approved"], item["code"]) for item in body["results"]] == [
        (ids[0], True, "approved"),
        (ids[1], True, "approved"),
    ]
    assert (
        ApprovalRequest.objects.filter(pk__in=[r.pk for r in small[:2]], status="approved").count()
        == 2
    )


def test_api_cannot_skip_the_limit(small, people):
    task = task_of(small[2])
    response = client_for(people.store_manager).post(
        URL, {"task_ids": [task.pk]}, content_type="application/json"
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["approved"], body["failed"]) == (0, 1)
    assert body["results"][0]["code"] == "bulk_limit_exceeded"
    assert task_of(small[2]).status == "pending"


def test_api_bad_input_changes_nothing(small, people):
    client = client_for(people.store_manager)
    before = world()
    for payload in ({"task_ids": []}, {"task_ids": list(range(1, 202))}, {"task_ids": [0]}, {}):
        response = client.post(URL, payload, content_type="application/json")
        assert response.status_code == 422, payload
    assert world() == before
