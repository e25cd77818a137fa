"""Exports of the approvals pages that had none (`?export=xlsx|csv` on the page's own URL): the
signed-in user's own requests (every one, not the page's newest) and the tasks waiting for them
(the inbox). Never another user's requests or tasks; anonymous callers sent to sign in. Neither
page needs a permission (every user has their own requests and inbox) nor takes filters."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from backroom.approvals import inbox as inbox_views
from backroom.approvals import runtime
from backroom.approvals.tests.test_inbox_pages import T0, submit, task_of, world
from backroom.kernel import clock
from backroom.testing.exports import csv_rows, xlsx_rows
from backroom.testing.factories import client_for, make_user
from backroom.testing.matrix import assert_matrix

pytestmark = pytest.mark.django_db

INBOX = "/approvals/inbox/"
MINE = "/approvals/requests/"
REQUEST_HEADER = [
    "Number",
    "Kind",
    "Store code",
    "Store",
    "Status",
    "Waiting at",
    "Approvers",
    "Submitted at",
    "Decided at",
    "Amount",
    "Currency",
]
INBOX_HEADER = [
    "Number",
    "Kind",
    "Requester",
    "Store code",
    "Store",
    "Step",
    "On behalf of",
    "Submitted at",
    "Waiting since",
    "Days waiting",
    "Due at",
    "Overdue",
    "Amount",
    "Currency",
]


def _local(moment: dt.datetime) -> dt.datetime:
    return timezone.localtime(moment).replace(tzinfo=None, microsecond=0)


@pytest.fixture
def requests(requisition_policy, people, tree):
    """The store manager's ¥8,600 REQ-1 (waiting for the region manager) and ¥9,500 REQ-2
    (rejected by the region manager); store B's manager's ¥9,000 REQ-9, also waiting for the
    region manager (each requester's own store step is skipped)."""
    other = make_user("store_manager", tree.store_b, username="sm-b")
    with clock.at(T0):
        first = submit(people.store_manager, "REQ-1")
    with clock.at(T0 + dt.timedelta(hours=1)):
        second = submit(people.store_manager, "REQ-2", amount="9500.00")
    with clock.at(T0 + dt.timedelta(hours=2)):
        foreign = runtime.submit(
            runtime.Submission(
                document_type="procurement.requisition",
                document_id="REQ-9",
                fields={"amount": "9000.00", "store": "SHA002"},
            ),
            requester=other,
            actor=other,
        )
        runtime.decide(
            task_of(second).pk,
            runtime.Decision.REJECT,
            actor=people.region_manager,
            reason="Too much",
        )
    second.refresh_from_db()
    return first, second, foreign


# --- my requests -------------------------------------------------------------------------------


@pytest.mark.parametrize("file_type", ["xlsx", "csv"])
def test_my_requests_export_matrix(requests, people, tree, file_type):
    result = assert_matrix(
        "GET",
        f"{MINE}?export={file_type}",
        allowed=people.store_manager,
        forbidden=people.region_manager,  # approves them, submitted none: an empty file
        other_scope=make_user("store_manager", tree.store_b),
        expect_forbidden=200,
        expect_other_scope=200,
        snapshot=world,
    )
    assert (
        result.allowed["Content-Disposition"] == f'attachment; filename="my-requests.{file_type}"'
    )


def test_my_requests_every_request_of_the_users_not_just_the_newest(requests, people, monkeypatch):
    monkeypatch.setattr(inbox_views, "REQUESTS_SHOWN", 1)
    client = client_for(people.store_manager)
    assert client.get(MINE).content.decode().count('data-testid="request-row"') == 1

    rows = xlsx_rows(client.get(f"{MINE}?export=xlsx"), "my-requests")
    assert rows[0] == REQUEST_HEADER
    assert [row[0] for row in rows[1:]] == ["REQ-2", "REQ-1"]  # newest first; never REQ-9
    assert rows[2] == [
        "REQ-1",
        "Store requisition (要货)",
        "SHA001",
        "Store SHA001",
        "Pending",
        "Region manager",
        "rm-east",
        _local(T0),
        None,
        8600,
        "CNY",
    ]
    assert rows[1][4:] == [
        "Rejected",
        None,  # an empty cell: no longer waiting
        None,
        _local(T0 + dt.timedelta(hours=1)),
        _local(T0 + dt.timedelta(hours=2)),
        9500,
        "CNY",
    ]

    table = csv_rows(client.get(f"{MINE}?export=csv"), "my-requests")
    assert table[0] == REQUEST_HEADER
    assert [(row[0], row[4], row[9]) for row in table[1:]] == [
        ("REQ-2", "Rejected", "9500"),
        ("REQ-1", "Pending", "8600"),
    ]
    # Nobody else's requests: a user who submitted nothing gets the header alone.
    table = csv_rows(client_for(people.region_manager).get(f"{MINE}?export=csv"), "my-requests")
    assert table == [REQUEST_HEADER]


def test_my_requests_the_page_offers_the_exports(requests, people):
    body = client_for(people.store_manager).get(MINE).content.decode()
    assert 'href="?export=xlsx"' in body and 'href="?export=csv"' in body


# --- the inbox ---------------------------------------------------------------------------------


@pytest.mark.parametrize("file_type", ["xlsx", "csv"])
def test_inbox_export_matrix(requests, people, tree, file_type):
    result = assert_matrix(
        "GET",
        f"{INBOX}?export={file_type}",
        allowed=people.region_manager,
        forbidden=people.hq_operations,  # no task of theirs: an empty file
        other_scope=make_user("store_manager", tree.store_b, username="sm-b2"),
        expect_forbidden=200,
        expect_other_scope=200,
        snapshot=world,
    )
    assert (
        result.allowed["Content-Disposition"] == f'attachment; filename="my-approvals.{file_type}"'
    )


def test_inbox_the_users_pending_tasks_with_their_age(requests, people):
    first, _second, _foreign = requests
    task = task_of(first)
    client = client_for(people.region_manager)
    with clock.at(T0 + dt.timedelta(hours=25)):
        rows = xlsx_rows(client.get(f"{INBOX}?export=xlsx"), "my-approvals")
    assert rows[0] == INBOX_HEADER
    assert [row[0] for row in rows[1:]] == ["REQ-1", "REQ-9"]  # oldest first, as on the page
    assert rows[1] == [
        "REQ-1",
        "Store requisition (要货)",
        "sm-a",
        "SHA001",
        "Store SHA001",
        "Region manager",
        None,
        _local(T0),
        _local(task.created_at),
        1,
        _local(task.due_at),
        True,  # past its 24-hour SLA
        8600,
        "CNY",
    ]
    assert rows[2][2:5] == ["sm-b", "SHA002", "Store SHA002"] and rows[2][11] is False

    with clock.at(T0 + dt.timedelta(hours=25)):
        table = csv_rows(client.get(f"{INBOX}?export=csv"), "my-approvals")
    assert table[0] == INBOX_HEADER
    assert [(row[0], row[9], row[11], row[12]) for row in table[1:]] == [
        ("REQ-1", "1", "True", "8600"),
        ("REQ-9", "0", "False", "9000"),  # 23 hours of its 24
    ]
    # A decided task leaves the export as it leaves the inbox; nobody else's tasks are in it.
    client.post(f"/approvals/inbox/{task.pk}/decide/", {"decision": "approve"})
    table = csv_rows(client.get(f"{INBOX}?export=csv"), "my-approvals")
    assert [row[0] for row in table[1:]] == ["REQ-9"]
    table = csv_rows(client_for(people.store_manager).get(f"{INBOX}?export=csv"), "my-approvals")
    assert table == [INBOX_HEADER]


def test_inbox_the_page_offers_the_exports_even_after_a_failed_decision(requests, people):
    client = client_for(people.region_manager)
    body = client.get(INBOX).content.decode()
    assert f'href="{INBOX}?export=xlsx"' in body and f'href="{INBOX}?export=csv"' in body
    # A reject without a reason renders the inbox at the decision's URL: the links still
    # lead to the inbox's export.
    task = task_of(requests[0])
    response = client.post(f"/approvals/inbox/{task.pk}/decide/", {"decision": "reject"})
    assert response.status_code == 422
    assert f'href="{INBOX}?export=csv"' in response.content.decode()
