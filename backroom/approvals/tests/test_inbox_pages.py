"""The inbox, a request's detail and "My requests": the permission matrix of each page and of
the decision POSTs, errors that change nothing, HTMX cards, delegation, withdraw and resubmit,
the nav items and a query-count guard on the inbox."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backroom.approvals import runtime
from backroom.approvals.models import ApprovalHistory, ApprovalRequest, ApprovalTask
from backroom.kernel import clock
from backroom.testing.factories import client_for, make_user
from backroom.testing.matrix import assert_matrix

pytestmark = pytest.mark.django_db

INBOX = "/approvals/inbox/"
MINE = "/approvals/requests/"
HX = {"HTTP_HX_REQUEST": "true"}
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def submit(requester: Any, document_id: str, amount: str = "8600.00") -> ApprovalRequest:
    return runtime.submit(
        runtime.Submission(
            document_type="procurement.requisition",
            document_id=document_id,
            fields={"amount": amount, "store": "SHA001"},
        ),
        requester=requester,
        actor=requester,
    )


def world() -> Any:
    return (
        list(ApprovalRequest.objects.order_by("pk").values_list("pk", "status", "round")),
        list(ApprovalTask.objects.order_by("pk").values_list("pk", "status", "decided_by_id")),
        ApprovalHistory.objects.count(),
    )


@pytest.fixture
def waiting(requisition_policy, people) -> ApprovalRequest:
    """The store manager's ¥8,600 requisition: their own step is skipped, the region manager's
    task waits (submitted a day and a half ago: past its 24-hour SLA)."""
    with clock.at(T0):
        return submit(people.store_manager, "REQ-1")


def task_of(request: ApprovalRequest) -> ApprovalTask:
    return request.tasks.get(status="pending")


def decide_url(task: ApprovalTask) -> str:
    return f"/approvals/inbox/{task.pk}/decide/"


def detail_url(request: ApprovalRequest) -> str:
    return f"/approvals/requests/{request.pk}/"


# --- the matrix --------------------------------------------------------------------------------


def test_inbox_matrix(waiting, people, tree):
    result = assert_matrix(
        "GET",
        INBOX,
        allowed=people.region_manager,
        forbidden=people.hq_operations,  # no task of theirs: an empty inbox
        other_scope=make_user("store_manager", tree.store_b),
        expect_forbidden=200,
        expect_other_scope=200,
    )
    assert result.forbidden is not None and result.other_scope is not None
    assert 'data-testid="inbox-card"' not in result.forbidden.content.decode()
    assert 'data-testid="inbox-card"' not in result.other_scope.content.decode()
    assert result.allowed is not None
    page = text(result.allowed)
    assert page.count('data-testid="inbox-card"') == 1
    for fact in ("Store requisition", "REQ-1", "8,600.00 CNY", str(people.store_manager)):
        assert fact in page, fact


def test_overdue_tasks_show_in_red(waiting, people):
    with clock.at(T0 + dt.timedelta(hours=30)):
        page = text(client_for(people.region_manager).get(INBOX))
    assert 'data-overdue="yes"' in page
    assert "text-danger" in page
    assert "1 day, 6 hours" in page  # how long it has waited
    with clock.at(T0 + dt.timedelta(hours=2)):
        page = text(client_for(people.region_manager).get(INBOX))
    assert 'data-overdue="no"' in page


def test_request_detail_matrix(waiting, people, tree):
    result = assert_matrix(
        "GET",
        detail_url(waiting),
        allowed=people.region_manager,
        forbidden=make_user("store_staff", tree.store_a),  # sees the store, not involved
        other_scope=make_user("store_manager", tree.store_b),
        expect_forbidden=404,
    )
    assert result.allowed is not None
    assert "Region manager" in text(result.allowed)
    for viewer in (people.store_manager, people.admin):  # the requester; approvals.manage
        assert client_for(viewer).get(detail_url(waiting)).status_code == 200
    assert client_for(people.hq_operations).get(detail_url(waiting)).status_code == 404


def test_my_requests_matrix(waiting, people, tree):
    result = assert_matrix(
        "GET",
        MINE,
        allowed=people.store_manager,
        forbidden=people.region_manager,  # approves it, did not submit it
        other_scope=make_user("store_manager", tree.store_b),
        expect_forbidden=200,
        expect_other_scope=200,
    )
    assert result.forbidden is not None and "REQ-1" not in text(result.forbidden)
    assert result.allowed is not None
    page = text(result.allowed)
    assert 'data-testid="request-row"' in page
    assert "Waiting at “Region manager”: rm-east" in page
    assert 'data-testid="withdraw"' in page
    assert 'data-testid="resubmit"' not in page


def test_approve_matrix(waiting, people, tree):
    task = task_of(waiting)
    assert_matrix(
        "POST",
        decide_url(task),
        payload={"decision": "approve"},
        allowed=people.region_manager,
        forbidden=people.hq_operations,  # sees the store: someone else's task is a conflict
        other_scope=make_user("store_manager", tree.store_b),
        expect_allowed=302,
        expect_forbidden=409,
        snapshot=world,
    )
    waiting.refresh_from_db()
    assert waiting.status == "approved"


def test_reject_and_return_matrix(requisition_policy, people, tree):
    for decision, status in (("reject", "rejected"), ("return", "returned")):
        request = submit(people.store_manager, f"REQ-{decision}")
        assert_matrix(
            "POST",
            decide_url(task_of(request)),
            payload={"decision": decision, "reason": "Too much."},
            allowed=people.region_manager,
            forbidden=people.hq_operations,
            other_scope=make_user("store_manager", tree.store_b),
            expect_allowed=302,
            expect_forbidden=409,
            snapshot=world,
        )
        request.refresh_from_db()
        assert request.status == status
        assert request.history.filter(reason="Too much.").exists()


# --- decisions -----------------------------------------------------------------------------


def test_approve_redirects_with_a_message(waiting, people):
    client = client_for(people.region_manager)
    response = client.post(decide_url(task_of(waiting)), {"decision": "approve"}, follow=True)
    page = text(response)
    assert "Approved." in page
    assert "Nothing waits for your approval." in page


def test_htmx_approve_replaces_the_card(waiting, people):
    task = task_of(waiting)
    response = client_for(people.region_manager).post(
        decide_url(task), {"decision": "approve"}, **HX
    )
    assert response.status_code == 200
    page = text(response)
    assert "<html" not in page
    assert 'data-testid="card-done"' in page and "Approved." in page
    assert 'data-testid="approve"' not in page


@pytest.mark.parametrize("htmx", [False, True])
def test_reject_without_a_reason_changes_nothing(waiting, people, htmx):
    before = world()
    response = client_for(people.region_manager).post(
        decide_url(task_of(waiting)), {"decision": "reject", "reason": "  "}, **(HX if htmx else {})
    )
    assert response.status_code == (200 if htmx else 422)
    page = text(response)
    assert 'data-testid="reason-error"' in page and "Give a reason." in page
    assert 'data-testid="reject-details" open' in page
    assert world() == before


@pytest.mark.parametrize("htmx", [False, True])
def test_deciding_a_closed_request_is_refused(waiting, people, htmx):
    task = task_of(waiting)
    runtime.withdraw(waiting, actor=people.store_manager)
    before = world()
    response = client_for(people.region_manager).post(
        decide_url(task), {"decision": "approve"}, **(HX if htmx else {})
    )
    assert response.status_code == (200 if htmx else 409)
    page = text(response)
    assert 'data-testid="card-error"' in page
    assert "Nothing was changed: This request is closed." in page
    assert 'data-testid="approve"' not in page
    assert world() == before


def test_someone_elses_task_is_refused_clearly(waiting, people):
    response = client_for(people.hq_operations).post(
        decide_url(task_of(waiting)), {"decision": "approve"}
    )
    assert response.status_code == 409
    assert "This task is assigned to someone else." in text(response)


def test_delegated_tasks_show_both_people(requisition_policy, people, tree):
    deputy = make_user("store_manager", tree.store_b, username="deputy")
    runtime.create_delegation(
        delegator=people.region_manager,
        delegate=deputy,
        starts_at=clock.now() - dt.timedelta(hours=1),
        ends_at=clock.now() + dt.timedelta(days=2),
        actor=people.region_manager,
    )
    request = submit(people.store_manager, "REQ-D")
    page = text(client_for(deputy).get(INBOX))
    assert 'data-testid="card-on-behalf"' in page
    assert "on behalf of rm-east" in page
    assert "Nothing waits" in text(client_for(people.region_manager).get(INBOX))
    response = client_for(deputy).post(decide_url(task_of(request)), {"decision": "approve"})
    assert response.status_code == 302
    detail = text(client_for(people.store_manager).get(detail_url(request)))
    assert "deputy" in detail and "on behalf of rm-east" in detail
    assert 'data-testid="history-on-behalf"' in detail
    # The delegator still sees the request they were asked about.
    assert client_for(people.region_manager).get(detail_url(request)).status_code == 200


# --- my requests: withdraw and resubmit ---------------------------------------------------------


def test_withdraw_is_the_requesters_alone(waiting, people):
    url = f"/approvals/requests/{waiting.pk}/withdraw/"
    before = world()
    assert client_for(people.region_manager).post(url).status_code == 404
    assert world() == before
    response = client_for(people.store_manager).post(url, follow=True)
    assert "The request is withdrawn." in text(response)
    waiting.refresh_from_db()
    assert waiting.status == "withdrawn"
    again = client_for(people.store_manager).post(url, follow=True)
    assert "Nothing was changed: This request is closed." in text(again)


def test_a_returned_request_is_resubmitted(waiting, people):
    runtime.return_to_requester(
        task_of(waiting), actor=people.region_manager, reason="Split it in two."
    )
    page = text(client_for(people.store_manager).get(MINE))
    assert 'data-testid="resubmit"' in page
    url = f"/approvals/requests/{waiting.pk}/resubmit/"
    assert client_for(people.region_manager).post(url).status_code == 404
    response = client_for(people.store_manager).post(url, follow=True)
    assert "The request is submitted again." in text(response)
    waiting.refresh_from_db()
    assert (waiting.status, waiting.round) == ("pending", 2)


# --- nav and queries ---------------------------------------------------------------------------


def test_nav_shows_inbox_and_requests_to_everyone(tree):
    staff = make_user("store_staff", tree.store_a)
    page = client_for(staff).get("/").content.decode()
    assert f'href="{INBOX}"' in page and f'href="{MINE}"' in page
    assert "/approvals/policies/" not in page


def test_inbox_queries_do_not_grow_with_tasks(requisition_policy, people):
    client = client_for(people.region_manager)
    submit(people.store_manager, "REQ-Q1")
    client.get(INBOX)  # warm the session and caches
    with CaptureQueriesContext(connection) as one:
        assert client.get(INBOX).status_code == 200
    for index in range(2, 5):
        submit(people.store_manager, f"REQ-Q{index}")
    with CaptureQueriesContext(connection) as four:
        response = client.get(INBOX)
    assert text(response).count('data-testid="inbox-card"') == 4
    assert len(four) == len(one), [query["sql"] for query in four.captured_queries]
    assert len(one) <= 12
