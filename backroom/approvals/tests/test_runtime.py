"""Approval runtime through its services: routing, modes, decisions, delegation, SLA, errors."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from backroom.accounts import services as accounts_services
from backroom.approvals import runtime, services
from backroom.approvals.models import ApprovalHistory, ApprovalRequest, ApprovalTask, Delegation
from backroom.audit.models import AuditEntry
from backroom.events.models import OutboxEvent
from backroom.kernel import clock
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import ValidationFailed
from backroom.testing.factories import make_user

from .conftest import requisition_input

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
REQ = "procurement.requisition"


@pytest.fixture
def staff(tree):
    """A store-A staff member who submits requisitions."""
    return make_user("store_staff", tree.store_a, username="staff-a")


def submit(staff, document_id: str, amount: str, **extra: Any) -> ApprovalRequest:
    fields = {"amount": amount, "store": "SHA001", **extra.pop("fields", {})}
    return runtime.submit(
        runtime.Submission(document_type=REQ, document_id=document_id, fields=fields, **extra),
        requester=staff,
        actor=staff,
    )


def pending(request: ApprovalRequest) -> list[tuple[str, str]]:
    return [
        (task.step_name, task.assignee.username)
        for task in request.tasks.filter(status="pending").select_related("assignee")
    ]


def world() -> dict[str, Any]:
    """Everything a refused action must leave as it was."""
    return {
        "requests": list(
            ApprovalRequest.objects.values_list("pk", "status", "round", "current_step")
        ),
        "tasks": list(ApprovalTask.objects.values_list("pk", "status", "decided_by_id", "reason")),
        "history": ApprovalHistory.objects.count(),
        "audit": AuditEntry.objects.count(),
        "outbox": OutboxEvent.objects.count(),
    }


def events(event_type: str) -> list[dict[str, Any]]:
    return [e.payload for e in OutboxEvent.objects.filter(event_type=event_type).order_by("pk")]


def approve_all(request: ApprovalRequest, step_name: str) -> None:
    for task in request.tasks.filter(status="pending", step_name=step_name):
        runtime.approve(task, actor=task.assignee)


# --- routing -----------------------------------------------------------------------------------


def test_threshold_routes_on_the_base_currency_amount(requisition_policy, people, staff):
    # A USD document: 1,000 USD in its own currency, 7,200 CNY in the entity's base currency.
    usd = submit(
        staff, "REQ-USD", "7200.00", document_currency="USD", document_amount=Decimal("1000")
    )
    assert [step["name"] for step in usd.route] == ["Store manager", "Region manager"]
    assert usd.document_currency == "USD" and usd.document_amount == Decimal("1000")
    assert usd.fields["amount"] == "7200.00"
    assert usd.fields["requester"] == staff.pk
    assert usd.version.policy == requisition_policy and usd.version.number == 1
    assert pending(usd) == [("Store manager", "sm-a")]

    small = submit(staff, "REQ-CNY", "4000")
    assert [step["name"] for step in small.route] == ["Store manager"]
    audit = AuditEntry.objects.get(action="approvals.request.submit", target_id=str(usd.pk))
    assert audit.after["route"][1]["approver_ids"] == [people.region_manager.pk]
    assert events("approvals.request.submitted")[0]["document_id"] == "REQ-USD"


def test_no_policy_approves_at_once_and_calls_the_hook(tree, staff):
    called: list[tuple[str, str]] = []

    def hook(request):
        called.append((request.document_id, request.status))

    runtime.register_decision_hook(REQ, hook)
    try:
        request = submit(staff, "REQ-FREE", "10")
    finally:
        runtime.unregister_decision_hook(REQ, hook)
    assert request.status == "approved" and request.version is None
    assert called == [("REQ-FREE", "approved")]
    assert runtime.is_approved(REQ, "REQ-FREE")
    assert list(request.history.values_list("action", flat=True)) == [
        "submitted",
        "auto_approved",
        "completed",
    ]
    assert [e["status"] for e in events("approvals.request.approved")] == ["approved"]


def test_countersign_needs_everyone_and_the_document_is_approved_only_at_the_end(
    requisition_policy, people, staff
):
    decided: list[str] = []
    hook = runtime.register_decision_hook(REQ, lambda request: decided.append(request.status))
    try:
        request = submit(staff, "REQ-BIG", "150000")
        for step in ("Store manager", "Region manager", "HQ operations"):
            assert not runtime.is_approved(REQ, "REQ-BIG")
            approve_all(request, step)
        assert sorted(pending(request)) == [
            ("VP countersign", "vp-one"),
            ("VP countersign", "vp-two"),
        ]
        runtime.approve(
            request.tasks.get(assignee=people.vp_one, status="pending"), actor=people.vp_one
        )
        request.refresh_from_db()
        assert request.status == "pending" and request.current_step == 3
        assert not runtime.is_approved(REQ, "REQ-BIG")
        with pytest.raises(Exception) as refused:
            runtime.require_approved(REQ, "REQ-BIG")
        assert getattr(refused.value, "code", None) == "approval_required"
        assert decided == []
        runtime.approve(
            request.tasks.get(assignee=people.vp_two, status="pending"), actor=people.vp_two
        )
    finally:
        runtime.unregister_decision_hook(REQ, hook)
    request.refresh_from_db()
    assert request.status == "approved" and request.decided_at is not None
    assert decided == ["approved"]
    runtime.require_approved(REQ, "REQ-BIG")
    assert request.tasks.filter(status="approved").count() == 5
    assert AuditEntry.objects.filter(action="approvals.task.approve").count() == 5
    assert AuditEntry.objects.filter(action="approvals.request.approved").count() == 1


def test_any_one_closes_the_step_on_the_first_approval(requisition_policy, tree, people, staff):
    second = make_user("store_manager", tree.store_a, username="sm-a2")
    request = submit(staff, "REQ-ANY", "6000")
    assert sorted(pending(request)) == [("Store manager", "sm-a"), ("Store manager", "sm-a2")]
    runtime.approve(request.tasks.get(assignee=second), actor=second, comment="fine")
    assert request.tasks.get(assignee=people.store_manager).status == "cancelled"
    assert pending(request) == [("Region manager", "rm-east")]
    entry = request.history.get(action="approved")
    assert (entry.actor, entry.comment) == (second, "fine")


def test_sequence_assigns_one_after_another(people, staff):
    services.create_policy(
        services.PolicyInput(
            document_type=REQ,
            name="Sequence",
            steps=[
                services.StepInput(
                    name="VPs in turn",
                    approver_kind="users",
                    approver_params={"user_ids": [people.vp_two.pk, people.vp_one.pk]},
                    mode="sequence",
                )
            ],
        ),
        actor=SYSTEM,
        publish_now=True,
    )
    request = submit(staff, "REQ-SEQ", "100")
    assert pending(request) == [("VPs in turn", "vp-two")]
    runtime.approve(request.tasks.get(status="pending"), actor=people.vp_two)
    assert pending(request) == [("VPs in turn", "vp-one")]
    request.refresh_from_db()
    assert request.status == "pending"
    runtime.approve(request.tasks.get(status="pending"), actor=people.vp_one)
    request.refresh_from_db()
    assert request.status == "approved"
    assert list(request.tasks.order_by("pk").values_list("assignee__username", flat=True)) == [
        "vp-two",
        "vp-one",
    ]


def test_a_rejection_rejects_the_request_and_cancels_the_rest(requisition_policy, tree, staff):
    make_user("store_manager", tree.store_a, username="sm-a2")
    request = submit(staff, "REQ-NO", "6000")
    task = request.tasks.get(assignee__username="sm-a")
    with pytest.raises(ValidationFailed):
        runtime.reject(task, actor=task.assignee, reason="  ")
    runtime.reject(task, actor=task.assignee, reason="Too much flour")
    request.refresh_from_db()
    assert request.status == "rejected"
    assert sorted(request.tasks.values_list("status", flat=True)) == ["cancelled", "rejected"]
    assert events("approvals.request.rejected")[0]["reason"] == "Too much flour"
    assert not runtime.is_approved(REQ, "REQ-NO")


# --- pinned versions ---------------------------------------------------------------------------


def test_a_policy_change_mid_flight_leaves_running_requests_alone(
    requisition_policy, people, staff
):
    running = submit(staff, "REQ-OLD", "6000")
    services.update_policy(
        requisition_policy,
        requisition_input(
            people,
            steps=[
                services.StepInput(
                    name="VP only",
                    approver_kind="users",
                    approver_params={"user_ids": [people.vp_one.pk]},
                )
            ],
        ),
        actor=SYSTEM,
        publish_now=True,
    )
    new = submit(staff, "REQ-NEW", "6000")
    assert new.version.number == 2 and pending(new) == [("VP only", "vp-one")]
    approve_all(running, "Store manager")
    assert pending(running) == [("Region manager", "rm-east")]
    approve_all(running, "Region manager")
    running.refresh_from_db()
    assert running.status == "approved" and running.version.number == 1


# --- return, resubmit, withdraw ----------------------------------------------------------------


def test_return_then_resubmit_starts_a_new_round_with_the_same_version(
    requisition_policy, people, staff
):
    request = submit(staff, "REQ-RET", "6000")
    approve_all(request, "Store manager")
    task = request.tasks.get(status="pending")
    runtime.return_to_requester(task, actor=people.region_manager, reason="Split the order")
    request.refresh_from_db()
    assert request.status == "returned" and request.current_step is None
    assert not runtime.is_approved(REQ, "REQ-RET")
    # Policy v2 meanwhile: the resubmission keeps v1.
    services.update_policy(
        requisition_policy,
        requisition_input(people, condition="amount > 1"),
        actor=SYSTEM,
        publish_now=True,
    )
    runtime.resubmit(request, actor=staff, fields={"amount": "4000", "store": "SHA001"})
    request.refresh_from_db()
    assert (request.status, request.round, request.version.number) == ("pending", 2, 1)
    assert [step["name"] for step in request.route] == ["Store manager"]
    assert pending(request) == [("Store manager", "sm-a")]
    approve_all(request, "Store manager")
    request.refresh_from_db()
    assert request.status == "approved"
    assert list(request.history.values_list("action", flat=True)).count("resubmitted") == 1
    assert [e["round"] for e in events("approvals.request.returned")] == [1]


def test_withdrawal_cancels_tasks_and_later_decisions_are_refused(
    requisition_policy, people, staff
):
    request = submit(staff, "REQ-WD", "6000")
    task = request.tasks.get(status="pending")
    with pytest.raises(Exception) as other:
        runtime.withdraw(request, actor=people.store_manager)
    assert getattr(other.value, "code", None) == "permission_denied"
    runtime.withdraw(request, actor=staff, reason="Not needed")
    request.refresh_from_db()
    assert request.status == "withdrawn"
    assert list(request.tasks.values_list("status", flat=True)) == ["cancelled"]
    assert events("approvals.request.withdrawn")[0]["reason"] == "Not needed"
    before = world()
    with pytest.raises(Exception) as closed:
        runtime.approve(task, actor=people.store_manager)
    assert getattr(closed.value, "code", None) == "request_closed"
    with pytest.raises(Exception) as again:
        runtime.withdraw(request, actor=staff)
    assert getattr(again.value, "code", None) == "request_closed"
    assert world() == before
    # A new request for the same document may start now.
    assert submit(staff, "REQ-WD", "6000").status == "pending"


def test_one_open_request_per_document(requisition_policy, staff):
    submit(staff, "REQ-DUP", "6000")
    before = world()
    with pytest.raises(Exception) as duplicate:
        submit(staff, "REQ-DUP", "6000")
    assert getattr(duplicate.value, "code", None) == "request_open"
    assert world() == before


# --- refusals ----------------------------------------------------------------------------------


def test_not_your_task_and_already_decided_change_nothing(requisition_policy, tree, people, staff):
    second = make_user("store_manager", tree.store_a, username="sm-a2")
    request = submit(staff, "REQ-ERR", "6000")
    mine = request.tasks.get(assignee=people.store_manager)
    before = world()
    with pytest.raises(Exception) as foreign:
        runtime.approve(mine, actor=second)
    assert getattr(foreign.value, "code", None) == "not_your_task"
    assert world() == before
    runtime.approve(mine, actor=people.store_manager)
    before = world()
    with pytest.raises(Exception) as twice:
        runtime.approve(mine, actor=people.store_manager)
    assert getattr(twice.value, "code", None) == "already_decided"
    with pytest.raises(Exception) as cancelled:
        runtime.reject(request.tasks.get(assignee=second), actor=second, reason="late")
    assert getattr(cancelled.value, "code", None) == "already_decided"
    assert world() == before


def test_self_approval_is_refused_unless_the_policy_allows_it(tree, people):
    manager = people.store_manager
    steps = [
        services.StepInput(
            name="Store manager",
            approver_kind="role",
            approver_params={"role": "store_manager", "level": "store"},
        )
    ]
    policy = services.create_policy(
        services.PolicyInput(document_type=REQ, name="Self", steps=steps),
        actor=SYSTEM,
        publish_now=True,
    )
    before = world()
    with pytest.raises(Exception) as refused:
        submit(manager, "REQ-SELF", "100")
    assert getattr(refused.value, "code", None) == "self_approval"
    assert world() == before

    services.update_policy(
        policy,
        services.PolicyInput(document_type=REQ, name="Self", steps=steps, allow_self_approval=True),
        actor=SYSTEM,
        publish_now=True,
    )
    request = submit(manager, "REQ-SELF", "100")
    runtime.approve(request.tasks.get(), actor=manager)
    request.refresh_from_db()
    assert request.status == "approved"


def test_the_requesters_own_step_is_skipped_when_others_follow(requisition_policy, people):
    request = submit(people.store_manager, "REQ-SM", "6000")
    assert [step["skipped"] for step in request.route] == [True, False]
    assert pending(request) == [("Region manager", "rm-east")]
    assert request.history.filter(action="step_skipped").count() == 1


def test_when_only_the_requester_could_approve_it_goes_to_their_manager(requisition_policy, people):
    """A store manager's ¥300 requisition: their own step is the only one, so it goes one level
    up to their manager instead of being refused; the manager decides it."""
    manager = people.store_manager
    manager.manager = people.region_manager
    manager.save(update_fields=["manager"])
    request = submit(manager, "REQ-SM-SMALL", "300")
    assert [(step["name"], step["skipped"]) for step in request.route] == [("Store manager", False)]
    assert request.route[0]["to_requesters_manager"] is True
    assert pending(request) == [("Store manager", "rm-east")]
    runtime.approve(request.tasks.get(), actor=people.region_manager)
    request.refresh_from_db()
    assert request.status == "approved"


def test_a_step_without_an_approver_refuses_the_submission_and_alerts(tree, people):
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
    counts = (ApprovalRequest.objects.count(), ApprovalTask.objects.count())
    with pytest.raises(Exception) as refused:
        runtime.submit(
            runtime.Submission(
                document_type=REQ, document_id="REQ-HK", fields={"amount": "10", "store": "HKG001"}
            ),
            requester=hk_staff,
            actor=hk_staff,
        )
    assert refused.value.code == "no_approver"  # type: ignore[attr-defined]
    assert "Region manager" in str(refused.value)
    assert refused.value.details["step"] == "Region manager"  # type: ignore[attr-defined]
    assert (ApprovalRequest.objects.count(), ApprovalTask.objects.count()) == counts
    alert = events("approvals.route.unresolved")
    assert [(a["document_id"], a["step_name"]) for a in alert] == [("REQ-HK", "Region manager")]


def test_submitting_for_someone_else_needs_approvals_submit(requisition_policy, tree, staff):
    for other, code in (
        (make_user("store_manager", tree.store_a), "permission_denied"),
        (make_user("store_manager", tree.store_b), "not_found"),  # cannot see store A
    ):
        with pytest.raises(Exception) as refused:
            runtime.submit(
                runtime.Submission(REQ, "REQ-X", {"amount": "1", "store": "SHA001"}),
                requester=staff,
                actor=other,
            )
        assert getattr(refused.value, "code", None) == code
    assert not ApprovalRequest.objects.exists()
    integration = make_user("hq_admin", tree.region)
    request = runtime.submit(
        runtime.Submission(REQ, "REQ-X", {"amount": "1", "store": "SHA001"}),
        requester=staff,
        actor=integration,
    )
    assert request.requester == staff
    assert request.history.get(action="submitted").actor == integration


# --- delegation --------------------------------------------------------------------------------


def test_delegation_assigns_to_the_delegate_and_records_both(
    requisition_policy, tree, people, staff
):
    deputy = make_user("store_manager", tree.store_b, username="deputy")
    with clock.at(T0):
        delegation = runtime.create_delegation(
            delegator=people.region_manager,
            delegate=deputy,
            starts_at=T0,
            ends_at=T0 + dt.timedelta(days=3),
            reason="Holiday",
            actor=people.region_manager,
        )
        request = submit(staff, "REQ-DEL", "6000")
        approve_all(request, "Store manager")
    task = request.tasks.get(status="pending")
    assert (task.assignee, task.on_behalf_of) == (deputy, people.region_manager)
    with pytest.raises(Exception) as absent:
        runtime.approve(task, actor=people.region_manager)
    assert getattr(absent.value, "code", None) == "not_your_task"
    runtime.approve(task, actor=deputy, comment="covering")
    task.refresh_from_db()
    assert (task.decided_by, task.on_behalf_of) == (deputy, people.region_manager)
    entry = request.history.get(action="approved", task=task)
    assert (entry.actor, entry.on_behalf_of) == (deputy, people.region_manager)
    audit = AuditEntry.objects.get(action="approvals.task.approve", before__task_id=task.pk)
    assert audit.actor == deputy and audit.on_behalf_of_label == "rm-east"
    assert events("approvals.delegation.created")[0]["delegation_id"] == delegation.pk

    # After the window, tasks go to the region manager again.
    with clock.at(T0 + dt.timedelta(days=4)):
        later = submit(staff, "REQ-DEL2", "6000")
        approve_all(later, "Store manager")
    assert pending(later) == [("Region manager", "rm-east")]


def test_delegation_validation(people):
    with clock.at(T0):
        with pytest.raises(ValidationFailed) as invalid:
            runtime.create_delegation(
                delegator=people.vp_one,
                delegate=people.vp_one,
                starts_at=T0,
                ends_at=T0 - dt.timedelta(hours=1),
                actor=people.vp_one,
            )
        assert set(invalid.value.errors) == {"delegate_id", "ends_at"}
        with pytest.raises(Exception) as foreign:
            runtime.create_delegation(
                delegator=people.vp_one,
                delegate=people.vp_two,
                starts_at=T0,
                ends_at=T0 + dt.timedelta(days=1),
                actor=people.vp_two,
            )
        assert getattr(foreign.value, "code", None) == "permission_denied"
        runtime.create_delegation(
            delegator=people.vp_one,
            delegate=people.vp_two,
            starts_at=T0,
            ends_at=T0 + dt.timedelta(days=1),
            actor=people.vp_one,
        )
        with pytest.raises(ValidationFailed):
            runtime.create_delegation(
                delegator=people.vp_one,
                delegate=people.hq_operations,
                starts_at=T0 + dt.timedelta(hours=2),
                ends_at=T0 + dt.timedelta(days=2),
                actor=people.vp_one,
            )
    assert Delegation.objects.count() == 1


# --- SLA ---------------------------------------------------------------------------------------


def single_step_policy(people, on_breach: str) -> None:
    services.create_policy(
        services.PolicyInput(
            document_type=REQ,
            name=f"SLA {on_breach}",
            steps=[
                services.StepInput(
                    name="VP",
                    approver_kind="users",
                    approver_params={"user_ids": [people.vp_one.pk]},
                    sla_hours=4,
                    on_breach=on_breach,
                )
            ],
        ),
        actor=SYSTEM,
        publish_now=True,
    )


def test_escalation_after_an_sla_breach(requisition_policy, people, staff):
    accounts_services.update_user(
        people.region_manager,
        accounts_services.UserChanges(manager_id=people.hq_operations.pk, fields=["manager_id"]),
        actor=SYSTEM,
    )
    with clock.at(T0):
        request = submit(staff, "REQ-SLA", "6000")
        approve_all(request, "Store manager")
    task = request.tasks.get(status="pending")
    assert task.due_at == T0 + dt.timedelta(hours=24)
    assert runtime.escalate_overdue(T0 + dt.timedelta(hours=23)) == 0
    with clock.at(T0 + dt.timedelta(hours=25)):
        assert runtime.escalate_overdue() == 1
    task.refresh_from_db()
    assert task.status == "cancelled"
    escalated = request.tasks.get(status="pending")
    assert (escalated.assignee, escalated.escalated_from) == (people.hq_operations, task)
    assert escalated.created_at == T0 + dt.timedelta(hours=25)
    assert request.history.filter(action="escalated").count() == 1
    assert events("approvals.task.escalated")[0]["new_assignee_id"] == people.hq_operations.pk
    assert AuditEntry.objects.filter(action="approvals.task.escalate").count() == 1
    assert runtime.escalate_overdue(T0 + dt.timedelta(hours=26)) == 0  # handled once
    runtime.approve(escalated, actor=people.hq_operations)
    request.refresh_from_db()
    assert request.status == "approved"


def test_escalation_with_no_one_above_reminds_and_alerts(requisition_policy, people, staff):
    with clock.at(T0):
        request = submit(staff, "REQ-TOP", "6000")
        approve_all(request, "Store manager")
    assert runtime.escalate_overdue(T0 + dt.timedelta(hours=25)) == 1
    assert pending(request) == [("Region manager", "rm-east")]
    assert request.history.filter(action="reminded").count() == 1
    assert len(events("approvals.route.unresolved")) == 1


@pytest.mark.parametrize(
    ("on_breach", "task_status", "request_status", "history_action"),
    [
        ("remind", "pending", "pending", "reminded"),
        ("auto_approve", "approved", "approved", "approved"),
        ("auto_reject", "rejected", "rejected", "rejected"),
    ],
)
def test_breach_actions(people, staff, on_breach, task_status, request_status, history_action):
    single_step_policy(people, on_breach)
    with clock.at(T0):
        request = submit(staff, f"REQ-{on_breach}", "100")
    assert runtime.escalate_overdue(T0 + dt.timedelta(hours=3, minutes=59)) == 0
    assert runtime.escalate_overdue(T0 + dt.timedelta(hours=4)) == 1
    assert runtime.escalate_overdue(T0 + dt.timedelta(hours=5)) == 0
    task = request.tasks.get()
    request.refresh_from_db()
    assert (task.status, request.status) == (task_status, request_status)
    entry = request.history.get(action=history_action)
    assert entry.actor is None  # the system
    if on_breach == "remind":
        assert task.breach_handled_at == T0 + dt.timedelta(hours=4)
        assert len(events("approvals.task.reminded")) == 1
    else:
        assert task.decided_by is None and task.decided_at == T0 + dt.timedelta(hours=4)


def test_escalate_overdue_defaults_to_the_business_clock(people, staff):
    single_step_policy(people, "remind")
    with clock.at(T0):
        submit(staff, "REQ-CLOCK", "100")
    assert runtime.escalate_overdue() == 1  # real time is years past T0
    assert timezone.now() > T0


def test_a_racing_duplicate_submission_is_a_conflict_not_a_500(
    requisition_policy, staff, monkeypatch
):
    """The unique constraint, not the friendly pre-check, is what keeps one open request."""
    submit(staff, "REQ-RACE", "10")
    real_filter = ApprovalRequest.objects.filter

    class Blind:
        def exists(self) -> bool:
            return False

    def blind_filter(*args: Any, **kwargs: Any) -> Any:
        if "status__in" in kwargs:
            return Blind()
        return real_filter(*args, **kwargs)

    monkeypatch.setattr(ApprovalRequest.objects, "filter", blind_filter)
    before = world()
    with pytest.raises(Exception) as duplicate:
        submit(staff, "REQ-RACE", "10")
    monkeypatch.undo()
    assert getattr(duplicate.value, "code", None) == "request_open"
    assert world() == before
