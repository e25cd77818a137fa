"""Pages and API of bulk approval, the approvals report and delegation management: the
permission matrix of each, every problem at once with nothing changed, and the figures shown."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from backroom.approvals import runtime
from backroom.approvals.models import ApprovalHistory, ApprovalRequest, ApprovalTask, Delegation
from backroom.audit.models import AuditEntry
from backroom.kernel import clock
from backroom.testing.exports import assert_same_table, csv_rows, xlsx_rows
from backroom.testing.factories import client_for, make_user
from backroom.testing.matrix import assert_matrix

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)
INBOX = "/approvals/inbox/"
BULK = "/approvals/inbox/bulk-approve/"
DELEGATIONS = "/approvals/delegations/"
REPORT = "/approvals/report/"
API = "/api/v1/approvals"


def text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


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


def world() -> Any:
    return (
        list(ApprovalRequest.objects.order_by("pk").values_list("pk", "status")),
        list(ApprovalTask.objects.order_by("pk").values_list("pk", "status", "decided_by_id")),
        ApprovalHistory.objects.count(),
        list(Delegation.objects.order_by("pk").values_list("pk", "delegator_id", "cancelled_at")),
    )


@pytest.fixture
def staff(tree):
    return make_user("store_staff", tree.store_a, username="staff-a")


@pytest.fixture
def waiting(requisition_policy, staff) -> list[ApprovalRequest]:
    """¥1,200 and ¥1,800 (eligible for bulk) and ¥2,500 (not), all waiting for sm-a."""
    with clock.at(T0):
        return [
            submit(staff, "REQ-1", "1200"),
            submit(staff, "REQ-2", "1800"),
            submit(staff, "REQ-3", "2500"),
        ]


def task_ids(requests: list[ApprovalRequest]) -> list[int]:
    return [request.tasks.get(status="pending").pk for request in requests]


# --- inbox: bulk approve -----------------------------------------------------------------------


def test_inbox_offers_bulk_only_for_low_value(waiting, people):
    page = text(client_for(people.store_manager).get(INBOX))
    ids = task_ids(waiting)
    picks = re.findall(r'name="task" value="(\d+)" form="bulk-form"', page)
    assert picks == [str(ids[0]), str(ids[1])]  # not the ¥2,500 one
    assert 'data-testid="bulk-approve"' in page
    assert "Tick tasks of up to 2,000.00 (base currency)" in page
    assert 'id="bulk-form"' not in text(client_for(people.hq_operations).get(INBOX))


def test_bulk_page_matrix(waiting, people, tree):
    ids = task_ids(waiting)
    result = assert_matrix(
        "POST",
        BULK,
        payload={"task": ids[:2]},
        allowed=people.store_manager,
        forbidden=make_user("store_staff", tree.store_a),  # sees the store, not the assignee
        other_scope=make_user("store_manager", tree.store_b),
        expect_forbidden=200,
        expect_other_scope=200,
        snapshot=world,
    )
    for denied in (result.forbidden, result.other_scope):
        assert denied is not None
        page = text(denied)
        assert 'data-testid="inbox-card"' not in page  # nobody else's facts are shown
        assert "0 tasks approved." in page
        assert "2 selected tasks are not yours to decide (or no longer exist)." in page
    assert result.allowed is not None
    page = text(result.allowed)
    assert "2 tasks approved." in page
    assert page.count('data-testid="card-done"') == 2
    assert [r.status for r in ApprovalRequest.objects.order_by("pk")] == [
        "approved",
        "approved",
        "pending",
    ]


def test_bulk_page_reports_each_card(waiting, people):
    ids = task_ids(waiting)
    runtime.withdraw(waiting[1], actor=waiting[1].requester)
    response = client_for(people.store_manager).post(BULK, {"task": [ids[0], ids[1], ids[2]]})
    assert response.status_code == 200
    page = text(response)
    assert "1 task approved. 2 were not approved: see their cards." in page
    cards = re.findall(r'data-task="(\d+)"', page)
    assert cards[:3] == [str(ids[0]), str(ids[1]), str(ids[2])]  # outcomes first, in order
    assert "Not approved: This request is closed." in page
    assert "Not approved: Above 2,000.00 in base currency: decide this one on its own." in page
    assert ApprovalTask.objects.get(pk=ids[2]).status == "pending"


def test_bulk_page_without_selection(waiting, people):
    before = world()
    response = client_for(people.store_manager).post(BULK, {"task": ["x"]})
    assert response.status_code == 422
    assert "Select at least one task." in text(response)
    assert world() == before
    assert client_for(people.store_manager).get(BULK).status_code == 405


# --- the report --------------------------------------------------------------------------------


@pytest.fixture
def decided(waiting, people) -> None:
    ids = task_ids(waiting)
    with clock.at(T0 + dt.timedelta(hours=3)):
        runtime.approve(ids[0], actor=people.store_manager)
    with clock.at(T0 + dt.timedelta(hours=30)):
        runtime.approve(ids[1], actor=people.store_manager)


def report_url(**values: str) -> str:
    query = {"date_from": "2026-03-01", "date_to": "2026-03-05", **values}
    return REPORT + "?" + "&".join(f"{k}={v}" for k, v in query.items())


def test_report_page_matrix_and_figures(decided, people, tree):
    make_user("store_manager", tree.store_b, username="sm-b")
    result = assert_matrix(
        "GET",
        report_url(),
        allowed=people.admin,
        forbidden=people.store_manager,  # no approvals.manage nor approvals.report
        other_scope=make_user("hq_admin", tree.store_b),  # manages store B only
        expect_other_scope=200,
    )
    assert result.other_scope is not None
    assert 'data-testid="approver-row"' not in text(result.other_scope)
    assert 'data-testid="steps-empty"' in text(result.other_scope)
    assert result.allowed is not None
    page = text(result.allowed)
    # Store manager step: 3 tasks, 2 decided (3 h and 30 h: average 16 h 30 min), 2 breaches
    # (the 30-hour one and the ¥2,500 one still pending past its 24-hour SLA now).
    row = re.search(r'data-testid="step-row" data-step="Store manager".*?</tr>', page)
    assert row is not None
    for figure in ("16 h 30 min", "2 decided", '2 <span class="small">(66.7%)'):
        assert figure in row.group(0), figure
    approver = re.search(r'data-testid="approver-row" data-username="sm-a".*?</tr>', page)
    assert approver is not None and "16 h 30 min" in approver.group(0)
    other = client_for(make_user("hq_admin", tree.store_b)).get(
        report_url(node_id=str(tree.store_a.pk))
    )
    assert other.status_code == 404


def test_report_page_nav_and_sort(decided, people, tree):
    reporter = people.admin
    home = text(client_for(reporter).get("/"))
    assert 'href="/approvals/report/"' in home and 'href="/approvals/delegations/"' in home
    staff_home = text(client_for(people.store_manager).get("/"))
    assert 'href="/approvals/report/"' not in staff_home
    assert 'href="/approvals/delegations/"' in staff_home
    page = text(client_for(reporter).get(report_url(sort="name")))
    assert 'data-testid="sort-name" aria-sort="descending"' in page


def test_report_page_bad_filters(people):
    response = client_for(people.admin).get(
        REPORT + "?date_from=nope&date_to=2026-03-01&document_type=x"
    )
    assert response.status_code == 422
    page = text(response)
    assert 'data-testid="error-date_from"' in page
    assert 'data-testid="error-document_type"' in page
    assert 'value="nope"' in page  # typed values kept
    backwards = client_for(people.admin).get(report_url(date_from="2026-03-09"))
    assert backwards.status_code == 422
    assert "The end comes before the start." in text(backwards)


def test_report_csv_page_and_api(decided, people):
    response = client_for(people.admin).get(
        "/approvals/report/export.csv?" + report_url().split("?")[1]
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "approvals-steps-20260301-20260305.csv" in response["Content-Disposition"]
    lines = response.content.decode("utf-8-sig").splitlines()
    assert (
        lines[1]
        == "Store requisition (要货),Requisitions,Store manager,3,2,16.50,16.50,2,66.7,0,0,1"
    )
    api = client_for(people.admin).get(
        f"{API}/report/export?date_from=2026-03-01&date_to=2026-03-05&table=approvers"
    )
    assert api.status_code == 200
    assert api.content.decode("utf-8-sig").splitlines()[1].startswith("sm-a,sm-a,3,2,16.50,")
    assert client_for(people.store_manager).get(f"{API}/report/export").status_code == 403


def test_report_api_matrix(decided, people, tree):
    result = assert_matrix(
        "GET",
        f"{API}/report?date_from=2026-03-01&date_to=2026-03-05&node_id={tree.store_a.pk}",
        allowed=people.admin,
        forbidden=people.store_manager,
        other_scope=make_user("hq_admin", tree.store_b),
    )
    assert result.allowed is not None
    body = result.allowed.json()
    assert body["node_id"] == tree.store_a.pk
    (step,) = body["steps"]
    assert (step["step_name"], step["tasks"], step["decided"], step["average_seconds"]) == (
        "Store manager",
        3,
        2,
        int(16.5 * 3600),
    )
    assert step["breaches"] == 2 and step["breach_percent"] == "66.7"
    assert [row["username"] for row in body["approvers"]] == ["sm-a"]
    bad = client_for(people.admin).get(f"{API}/report?date_from=2026-03-05&date_to=2026-03-01")
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid")


# --- delegations -------------------------------------------------------------------------------


def delegation_form(**values: str) -> dict[str, str]:
    return {
        "delegate": "vp-two",
        "starts_at": "2026-03-10T09:00",
        "ends_at": "2026-03-14T18:00",
        "reason": "Annual leave",
        **values,
    }


def test_delegations_page_matrix(people, tree):
    with clock.at(T0):
        runtime.create_delegation(
            delegator=people.vp_one,
            delegate=people.vp_two,
            starts_at=T0 + dt.timedelta(days=1),
            ends_at=T0 + dt.timedelta(days=3),
            actor=people.vp_one,
        )
    result = assert_matrix(
        "GET",
        DELEGATIONS,
        allowed=people.vp_one,
        forbidden=people.store_manager,  # their own page, without vp-one's delegation
        other_scope=make_user("hq_admin", tree.store_b),  # an administrator, not over vp-one
        expect_forbidden=200,
        expect_other_scope=200,
    )
    for other in (result.forbidden, result.other_scope):
        assert other is not None and 'data-testid="delegation-row"' not in text(other)
    assert result.allowed is not None
    with clock.at(T0):
        page = text(client_for(people.vp_one).get(DELEGATIONS))
    assert page.count('data-testid="delegation-row"') == 1
    assert 'data-state="upcoming"' in page
    assert 'data-testid="delegator"' not in page  # no "For" field without approvals.manage
    with clock.at(T0):
        received = text(client_for(people.vp_two).get(DELEGATIONS))
    assert 'data-testid="delegation-cancel"' not in received  # the delegate cannot cancel it


def test_create_my_delegation(people):
    with clock.at(T0):
        response = client_for(people.vp_one).post(DELEGATIONS, delegation_form())
    assert response.status_code == 302
    delegation = Delegation.objects.get()
    assert (delegation.delegator, delegation.delegate, delegation.reason) == (
        people.vp_one,
        people.vp_two,
        "Annual leave",
    )
    # Typed in Shanghai time (UTC+8).
    assert delegation.starts_at == dt.datetime(2026, 3, 10, 1, 0, tzinfo=dt.UTC)
    assert delegation.ends_at == dt.datetime(2026, 3, 14, 10, 0, tzinfo=dt.UTC)
    assert AuditEntry.objects.filter(action="approvals.delegation.create").count() == 1


def test_every_problem_at_once_and_nothing_saved(people):
    with clock.at(T0):
        runtime.create_delegation(
            delegator=people.vp_one,
            delegate=people.vp_two,
            starts_at=T0 + dt.timedelta(days=1),
            ends_at=T0 + dt.timedelta(days=3),
            actor=people.vp_one,
        )
        before = world()
        unknown = client_for(people.vp_one).post(
            DELEGATIONS,
            delegation_form(delegate="nobody", starts_at="soon", ends_at="2026-03-01T08:00"),
        )
        overlapping = client_for(people.vp_one).post(
            DELEGATIONS,
            delegation_form(
                delegate="vp-one",
                starts_at="2026-03-03T09:00",
                ends_at="2026-03-06T09:00",
                reason="x" * 2001,
            ),
        )
    assert world() == before
    assert unknown.status_code == 422
    page = text(unknown)
    assert 'data-testid="error-delegate">There is no such user.' in page
    assert 'data-testid="error-starts_at">Enter a date and time.' in page
    assert 'data-testid="error-ends_at">The end is in the past.' in page
    assert 'value="nobody"' in page and 'value="soon"' in page  # typed values kept
    assert overlapping.status_code == 422
    page = text(overlapping)
    assert 'data-testid="error-delegate">Delegate to someone else.' in page
    assert 'data-testid="error-starts_at">You already delegate during this time.' in page
    assert 'data-testid="error-reason">At most 2000 characters of text.' in page


def test_others_delegations_need_approvals_manage_over_them(people, tree):
    before = world()
    with clock.at(T0):
        forbidden = client_for(people.vp_one).post(DELEGATIONS, delegation_form(delegator="sm-a"))
        outside = client_for(make_user("hq_admin", tree.store_b)).post(
            DELEGATIONS, delegation_form(delegator="sm-a")
        )
    assert forbidden.status_code == 403
    assert outside.status_code == 422
    assert "There is no such user in your scope." in text(outside)
    assert world() == before
    region_admin = make_user("hq_admin", tree.region)
    with clock.at(T0):
        created = client_for(region_admin).post(DELEGATIONS, delegation_form(delegator="SM-A"))
        assert created.status_code == 302
        delegation = Delegation.objects.get()
        assert (delegation.delegator, delegation.delegate) == (people.store_manager, people.vp_two)
        entry = AuditEntry.objects.get(action="approvals.delegation.create")
        assert entry.actor_id == region_admin.pk
        page = text(client_for(region_admin).get(DELEGATIONS))
    assert f'data-delegation="{delegation.pk}"' in page
    assert 'data-testid="delegation-cancel"' in page


def cancel_url(delegation: Delegation) -> str:
    return f"{DELEGATIONS}{delegation.pk}/cancel/"


@pytest.fixture
def store_manager_delegation(people) -> Delegation:
    with clock.at(T0):
        return runtime.create_delegation(
            delegator=people.store_manager,
            delegate=people.vp_two,
            starts_at=T0,
            ends_at=T0 + dt.timedelta(days=3),
            actor=people.store_manager,
        )


def test_cancel_page_matrix(store_manager_delegation, people, tree):
    result = assert_matrix(
        "POST",
        cancel_url(store_manager_delegation),
        allowed=people.store_manager,
        forbidden=people.vp_two,  # the delegate
        other_scope=make_user("hq_admin", tree.store_b),
        expect_allowed=302,
        expect_forbidden=404,
        snapshot=world,
    )
    assert result.allowed is not None
    store_manager_delegation.refresh_from_db()
    assert store_manager_delegation.cancelled_at is not None
    again = client_for(people.store_manager).post(cancel_url(store_manager_delegation), follow=True)
    assert "Nothing was changed: This delegation is already cancelled." in text(again)
    admin = make_user("hq_admin", tree.region)
    with clock.at(T0 + dt.timedelta(days=4)):
        runtime.create_delegation(
            delegator=people.store_manager,
            delegate=people.vp_two,
            starts_at=T0 + dt.timedelta(days=4),
            ends_at=T0 + dt.timedelta(days=5),
            actor=people.store_manager,
        )
    latest = Delegation.objects.latest("pk")
    assert client_for(admin).post(cancel_url(latest)).status_code == 302
    latest.refresh_from_db()
    assert latest.cancelled_at is not None


def test_cancel_api_matrix(store_manager_delegation, people, tree):
    result = assert_matrix(
        "POST",
        f"{API}/delegations/{store_manager_delegation.pk}/cancel",
        allowed=people.store_manager,
        forbidden=people.vp_two,
        other_scope=make_user("hq_admin", tree.store_b),
        expect_forbidden=404,
        snapshot=world,
    )
    assert result.allowed is not None
    assert result.allowed.json()["cancelled_at"] is not None
    again = client_for(people.store_manager).post(
        f"{API}/delegations/{store_manager_delegation.pk}/cancel"
    )
    assert (again.status_code, again.json()["code"]) == (409, "request_closed")


def test_report_page_exports_each_table_as_xlsx_and_csv(decided, people, tree):
    client = client_for(people.admin)
    for table in ("steps", "approvers"):
        name = f"approvals-{table}-20260301-20260305"
        workbook = xlsx_rows(client.get(report_url(table=table, export="xlsx")), name)
        rows = csv_rows(client.get(report_url(table=table, export="csv")), name)
        assert_same_table(workbook, rows)
        old = client.get(f"/approvals/report/export.csv?{report_url(table=table).split('?')[1]}")
        assert csv_rows(old, name) == rows
    assert rows[1][:5] == ["sm-a", "sm-a", "3", "2", "16.50"]
    assert workbook[1][:5] == ["sm-a", "sm-a", 3, 2, 16.5]
    page = text(client.get(report_url()))
    assert 'data-testid="export-steps-xlsx"' in page
    assert (
        "?date_from=2026-03-01&amp;date_to=2026-03-05&amp;sort=average&amp;table=approvers&amp;export=xlsx"
        in page
    )
    # The filters are checked and the scope kept as on the page.
    assert client.get(report_url(date_to="x", export="xlsx")).status_code == 422
    assert client_for(people.store_manager).get(report_url(export="xlsx")).status_code == 403
    other = make_user("hq_admin", tree.store_b)
    assert (
        client_for(other).get(report_url(node_id=str(tree.store_a.pk), export="csv")).status_code
        == 404
    )
