"""The approvals report with golden numbers: a scripted week of decisions on a controllable
clock (on time, late, reminded, escalated, decided by the SLA timer), then every figure of the
steps table and the approvers table, the scope, the period and the CSV export."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from backroom.accounts import services as accounts_services
from backroom.approvals import reporting, runtime, services
from backroom.approvals.models import ApprovalRequest
from backroom.kernel import clock
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import NotFound, PermissionDenied, ValidationFailed
from backroom.testing.factories import make_user

pytestmark = pytest.mark.django_db

# 09:00 in Shanghai (the deployment's time zone in tests) on Monday 2 March 2026.
T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
DAY1, DAY5 = dt.date(2026, 3, 2), dt.date(2026, 3, 6)


def at(hours: float) -> Any:
    return clock.at(T0 + dt.timedelta(hours=hours))


def submit(
    requester, document_type: str, document_id: str, amount: str, store: str = "SHA001"
) -> ApprovalRequest:
    fields: dict[str, Any] = {"amount": amount, "store": store}
    return runtime.submit(
        runtime.Submission(document_type=document_type, document_id=document_id, fields=fields),
        requester=requester,
        actor=requester,
    )


def pending_task(request: ApprovalRequest) -> Any:
    return request.tasks.get(status="pending")


@pytest.fixture
def history(requisition_policy, people, tree) -> dict[str, Any]:
    """The scripted week (hours after T0):

    R1 ¥1,000   store manager approves after 2 h.
    R2 ¥8,000   store manager approves after 30 h (breach, SLA 24 h); the region manager then
                approves after 4 h.
    R3 ¥6,000   submitted at +1 h; reminded at +25 h; the store manager rejects at +27 h
                (26 h, breach).
    R4 ¥9,000   the store manager's own: their step is skipped; the region manager's task is
                escalated at +25 h to HQ operations (breach + escalation), still pending.
    W1 ¥500     an expense claim whose 1-hour step is approved by the SLA timer at +3 h.
    Old         a requisition ten days earlier: outside the period.
    B1          a requisition at store B (another store: outside a store-A-only scope).
    """
    staff = make_user("store_staff", tree.store_a, username="staff-a")
    staff_b = make_user("store_staff", tree.store_b, username="staff-b")
    make_user("store_manager", tree.store_b, username="sm-b")
    accounts_services.update_user(
        people.region_manager,
        accounts_services.UserChanges(manager_id=people.hq_operations.pk, fields=["manager_id"]),
        actor=SYSTEM,
    )
    services.create_policy(
        services.PolicyInput(
            document_type="finance.expense_claim",
            name="Expense claims",
            steps=[
                services.StepInput(
                    name="Store manager",
                    approver_kind="role",
                    approver_params={"role": "store_manager", "level": "store"},
                    sla_hours=1,
                    on_breach="auto_approve",
                )
            ],
        ),
        actor=SYSTEM,
        publish_now=True,
    )
    sm, rm = people.store_manager, people.region_manager
    with clock.at(T0 - dt.timedelta(days=10)):
        old = submit(staff, "procurement.requisition", "REQ-OLD", "1000")
        runtime.approve(pending_task(old), actor=sm)
    with at(0):
        r1 = submit(staff, "procurement.requisition", "REQ-1", "1000")
        r2 = submit(staff, "procurement.requisition", "REQ-2", "8000")
        r4 = submit(sm, "procurement.requisition", "REQ-4", "9000")
        w1 = submit(staff, "finance.expense_claim", "W-1", "500")
    with at(0.5):
        b1 = submit(staff_b, "procurement.requisition", "REQ-B1", "1000", store="SHA002")
    with at(1):
        r3 = submit(staff, "procurement.requisition", "REQ-3", "6000")
    with at(2):
        runtime.approve(pending_task(r1), actor=sm)
    assert runtime.escalate_overdue(T0 + 3 * HOUR) == 1  # W1 approved by the timer
    # R4 escalated; R2, B1 and R3 reminded (R3 is due at +25 h exactly: that is overdue).
    assert runtime.escalate_overdue(T0 + 25 * HOUR) == 4
    with at(27):
        runtime.reject(pending_task(r3), actor=sm, reason="Too much")
    with at(30):
        runtime.approve(pending_task(r2), actor=sm)
    with at(34):
        runtime.approve(pending_task(r2), actor=rm)
    return {"r1": r1, "r2": r2, "r3": r3, "r4": r4, "w1": w1, "b1": b1, "old": old}


def report(actor, **values: Any) -> reporting.ApprovalsReport:
    values = {"date_from": DAY1, "date_to": DAY5, **values}
    with at(40):
        return reporting.approvals_report(actor, reporting.ReportFilter(**values))


def steps_by_name(result: reporting.ApprovalsReport) -> dict[tuple[str, str], Any]:
    return {(row.policy_name, row.step_name): row for row in result.steps}


def figures(row: Any) -> tuple:
    return (
        row.tasks,
        row.decided,
        row.average_seconds,
        row.median_seconds,
        row.breaches,
        row.breach_percent,
        row.escalations,
        row.auto_decisions,
        row.open,
    )


def test_golden_steps(history, people):
    result = report(people.admin, node=None)
    rows = steps_by_name(result)
    assert list(rows) == [
        ("Expense claims", "Store manager"),
        ("Requisitions", "Store manager"),
        ("Requisitions", "Region manager"),
    ]  # by document type label (expense claim, requisition), then position
    h = 3600
    # Store manager: R1 2 h, R2 30 h (late), R3 26 h (late) and B1 at store B (pending, late).
    assert figures(rows["Requisitions", "Store manager"]) == (
        4,
        3,
        (2 + 30 + 26) * h // 3,
        26 * h,
        3,
        Decimal("75.0"),
        0,
        0,
        1,
    )
    # Region manager: R2 4 h on time; R4's task escalated away (late); its replacement pending.
    assert figures(rows["Requisitions", "Region manager"]) == (
        3,
        1,
        4 * h,
        4 * h,
        1,
        Decimal("33.3"),
        1,
        0,
        1,
    )
    assert figures(rows["Expense claims", "Store manager"]) == (
        1,
        1,
        3 * h,
        3 * h,
        1,
        Decimal("100.0"),
        0,
        1,
        0,
    )
    assert rows["Expense claims", "Store manager"].label == "Expense claim (报销)"
    assert result.totals == {
        "tasks": 8,
        "decided": 5,
        "breaches": 5,
        "breach_percent": Decimal("62.5"),
        "escalations": 1,
        "auto_decisions": 1,
        "open": 2,
    }


def test_golden_approvers_slowest_first(history, people):
    result = report(people.admin)
    table = [
        (
            row.username,
            row.tasks,
            row.decided,
            row.average_seconds,
            row.median_seconds,
            row.breaches,
            row.breach_percent,
            row.open,
            row.overdue,
        )
        for row in result.approvers
    ]
    h = 3600
    assert table == [
        # R1, R2, R3 and W1 (decided by the timer: not a decision of theirs, still a breach).
        ("sm-a", 4, 3, 69600, 26 * h, 3, Decimal("75.0"), 0, 0),
        ("rm-east", 2, 1, 4 * h, 4 * h, 1, Decimal("50.0"), 0, 0),
        ("hq-ops", 1, 0, None, None, 0, Decimal("0.0"), 1, 0),  # R4's escalation, not yet due
        ("sm-b", 1, 0, None, None, 1, Decimal("100.0"), 1, 1),  # B1: pending and overdue
    ]
    by_open = reporting.sort_approvers(result.approvers, "open")
    assert [row.username for row in by_open] == ["hq-ops", "sm-b", "rm-east", "sm-a"]
    by_name = report(people.admin, sort="name").approvers
    assert [row.username for row in by_name] == ["hq-ops", "rm-east", "sm-a", "sm-b"]
    # The same moment a day later: HQ operations' task is overdue too.
    with clock.at(T0 + 50 * HOUR):
        later = reporting.approvals_report(
            people.admin, reporting.ReportFilter(date_from=DAY1, date_to=DAY5)
        )
    hq = next(row for row in later.approvers if row.username == "hq-ops")
    assert (hq.open, hq.overdue, hq.breaches) == (1, 1, 1)


def test_document_type_and_node_filters(history, people, tree):
    waste = report(people.admin, document_type="finance.expense_claim")
    assert [(row.policy_name, row.step_name) for row in waste.steps] == [
        ("Expense claims", "Store manager")
    ]
    assert [row.username for row in waste.approvers] == ["sm-a"]
    store_b = report(people.admin, node=tree.store_b)
    assert [(row.step_name, row.tasks) for row in store_b.steps] == [("Store manager", 1)]
    assert [row.username for row in store_b.approvers] == ["sm-b"]


def test_period_bounds_in_local_time(history, people):
    """The old requisition is only in its own period; the period ends at local midnight."""
    with at(40):
        old = reporting.approvals_report(
            people.admin,
            reporting.ReportFilter(date_from=dt.date(2026, 2, 20), date_to=dt.date(2026, 2, 20)),
        )
    assert [(row.step_name, row.tasks, row.decided) for row in old.steps] == [
        ("Store manager", 1, 1)
    ]
    # 2 March ends at 16:00 UTC: R1–R4, W1, B1 and R3 were assigned by then; the later tasks
    # (R2's region step at +30 h, R4's escalation at +25 h) fall on 3 March.
    first_day = report(people.admin, date_to=DAY1)
    assert first_day.totals["tasks"] == 6


def test_scope(history, people, tree):
    """A region-level reporter sees the region; a store-B administrator only store B; someone
    without either permission is refused; a node outside the scope is not found."""
    store_b_admin = make_user("hq_admin", tree.store_b)
    only_b = report(store_b_admin)
    assert [row.username for row in only_b.approvers] == ["sm-b"]
    assert only_b.totals["tasks"] == 1
    with pytest.raises(NotFound):
        reporting.get_report_node(store_b_admin, tree.store_hk.pk)
    with pytest.raises(PermissionDenied):
        report(people.store_manager)
    # HQ operations holds approvals.report (granted to the shipped role): the whole group.
    assert report(people.hq_operations).totals["tasks"] == report(people.admin).totals["tasks"]
    technician = make_user("technician", tree.group)
    with pytest.raises(PermissionDenied):
        report(technician)  # no approvals.manage nor approvals.report


def test_bad_filters_all_at_once(people, tree):
    with pytest.raises(ValidationFailed) as invalid:
        reporting.approvals_report(
            people.admin,
            reporting.ReportFilter(date_from=DAY5, date_to=DAY1, document_type="nope"),
        )
    assert set(invalid.value.errors) == {"date_to", "document_type"}
    with pytest.raises(ValidationFailed) as too_long:
        reporting.approvals_report(
            people.admin,
            reporting.ReportFilter(date_from=dt.date(2025, 1, 1), date_to=dt.date(2026, 3, 1)),
        )
    assert set(too_long.value.errors) == {"date_to"}


def test_csv(history, people):
    result = report(people.admin)
    steps = reporting.to_csv(reporting.csv_rows(result, "steps"))
    assert steps.startswith("\ufeffDocument type,Policy,Step,Tasks,")
    lines = steps.splitlines()
    assert lines[1:] == [
        "Expense claim (报销),Expense claims,Store manager,1,1,3.00,3.00,1,100.0,0,1,0",
        "Store requisition (要货),Requisitions,Store manager,4,3,19.33,26.00,3,75.0,0,0,1",
        "Store requisition (要货),Requisitions,Region manager,3,1,4.00,4.00,1,33.3,1,0,1",
    ]
    approvers = reporting.to_csv(reporting.csv_rows(result, "approvers")).splitlines()
    assert approvers[1] == "sm-a,sm-a,4,3,19.33,26.00,3,75.0,0,0"
    assert reporting.to_csv([["=HYPERLINK(1)"]]) == "\ufeff'=HYPERLINK(1)\r\n"
