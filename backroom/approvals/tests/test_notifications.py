"""Approval notifications: emails for each event kind through the outbox consumer (after
commit), in the recipient's language, skipped without an address, sent once however often the
job runs; in-app notifications and their page; the "My approvals" navigation badge."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from backroom.accounts import services as accounts_services
from backroom.approvals import comments, notifications, runtime
from backroom.approvals.models import ApprovalRequest, Notification
from backroom.events.models import EventConsumption, OutboxEvent
from backroom.events.services import dispatch_event, dispatch_outbox
from backroom.kernel import clock
from backroom.kernel import mail as kernel_mail
from backroom.kernel.actors import SYSTEM
from backroom.testing.factories import client_for, make_user

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
REQ = "procurement.requisition"


def profile(user: Any, *, email: str = "", language: str = "") -> Any:
    return accounts_services.update_user(
        user,
        accounts_services.UserChanges(email=email, language=language, fields=["email", "language"]),
        actor=SYSTEM,
    )


@pytest.fixture
def staff(tree):
    user = make_user("store_staff", tree.store_a, username="staff-a")
    return profile(user, email="staff@example.com", language="en")


@pytest.fixture
def mailboxes(people, staff):
    """The store manager reads Chinese; the region manager has no email address."""
    profile(people.store_manager, email="manager@example.com", language="zh-hans")
    profile(people.hq_operations, email="ops@example.com")
    return people


@pytest.fixture
def after_commit(django_capture_on_commit_callbacks):
    """Run a block, then what its commit would trigger: the outbox dispatch (the consumer) and
    the email job it queues — as the worker would."""

    class Runner:
        def __call__(self, action: Any) -> Any:
            result = action()
            with django_capture_on_commit_callbacks(execute=True):
                dispatch_outbox()
            return result

    return Runner()


def submit(staff: Any, document_id: str = "REQ-N1", amount: str = "6000") -> ApprovalRequest:
    return runtime.submit(
        runtime.Submission(REQ, document_id, {"amount": amount, "store": "SHA001"}),
        requester=staff,
        actor=staff,
    )


def sent_to(address: str) -> list[Any]:
    return [message for message in mail.outbox if message.to == [address]]


def zh(text: str) -> str:
    with translation.override("zh-hans"):
        return translation.gettext(text)


# --- emails per event kind ---------------------------------------------------------------------


def test_a_task_assigned_emails_the_approver_in_their_language(
    requisition_policy, mailboxes, staff, after_commit
):
    mail.outbox.clear()
    with clock.at(T0):
        approval = after_commit(lambda: submit(staff))
    [message] = mail.outbox
    assert message.to == ["manager@example.com"]
    assert "REQ-N1" in message.subject and message.subject.startswith("[Backroom]")
    assert zh("Requester") != "Requester" and zh("Requester") in message.body  # Chinese
    assert zh("Store") in message.body
    assert "6,000.00 CNY" in message.body or "6000.00 CNY" in message.body
    assert "http://127.0.0.1:8000/approvals/inbox/" in message.body
    notification = Notification.objects.get()
    assert (notification.recipient, notification.kind, notification.request) == (
        mailboxes.store_manager,
        "task_assigned",
        approval,
    )
    assert notification.email_status == "sent" and notification.emailed_at is not None
    assert notification.task == approval.tasks.get()


@pytest.mark.parametrize(
    ("decision", "kind", "status"),
    [
        ("approve", "request_approved", "approved"),
        ("reject", "request_rejected", "rejected"),
        ("return", "request_returned", "returned"),
    ],
)
def test_the_requester_hears_of_the_outcome(
    requisition_policy, mailboxes, staff, after_commit, decision, kind, status
):
    approval = after_commit(lambda: submit(staff, amount="60"))  # store manager only
    task = approval.tasks.get()
    mail.outbox.clear()
    after_commit(
        lambda: runtime.decide(
            task, decision, actor=mailboxes.store_manager, reason="Not this week."
        )
    )
    approval.refresh_from_db()
    assert approval.status == status
    [message] = sent_to("staff@example.com")
    assert "REQ-N1" in message.subject
    assert f"/approvals/requests/{approval.pk}/" in message.body
    if decision != "approve":
        assert "Not this week." in message.body
        assert str(mailboxes.store_manager) in message.subject
    assert len(mail.outbox) == 1
    assert Notification.objects.get(kind=kind).recipient == staff


def test_an_sla_reminder_emails_the_approver(requisition_policy, mailboxes, staff, after_commit):
    with clock.at(T0):
        approval = after_commit(lambda: submit(staff))  # store manager's step: remind on breach
    mail.outbox.clear()
    assert after_commit(lambda: runtime.escalate_overdue(T0 + dt.timedelta(hours=25))) == 1
    [message] = mail.outbox
    assert message.to == ["manager@example.com"]
    notification = Notification.objects.get(kind="task_reminded")
    assert notification.task == approval.tasks.get()
    assert notification.email_status == "sent"


def test_an_escalation_emails_the_next_level_once(
    requisition_policy, mailboxes, staff, after_commit
):
    region_manager = profile(mailboxes.region_manager, email="region@example.com")
    accounts_services.update_user(
        region_manager,
        accounts_services.UserChanges(manager_id=mailboxes.hq_operations.pk, fields=["manager_id"]),
        actor=SYSTEM,
    )
    with clock.at(T0):
        approval = after_commit(lambda: submit(staff))
        task = approval.tasks.get()
        after_commit(lambda: runtime.approve(task, actor=mailboxes.store_manager))
    assert len(sent_to("region@example.com")) == 1  # the region manager's step (escalate)
    mail.outbox.clear()
    with clock.at(T0 + dt.timedelta(hours=25)):
        assert after_commit(lambda: runtime.escalate_overdue()) == 1
    [message] = mail.outbox  # one email, though the escalation publishes two events
    assert message.to == ["ops@example.com"]
    notification = Notification.objects.get(kind="task_escalated")
    assert notification.recipient == mailboxes.hq_operations
    assert notification.task.escalated_from is not None


def test_users_without_email_get_the_in_app_notification_only(
    requisition_policy, people, staff, after_commit
):
    mail.outbox.clear()
    after_commit(lambda: submit(staff))  # the store manager has no address here
    assert mail.outbox == []
    notification = Notification.objects.get()
    assert (notification.recipient, notification.email_status) == (people.store_manager, "skipped")


def test_nothing_is_sent_inside_the_request(requisition_policy, mailboxes, staff):
    """Without the commit (the test transaction never commits) the consumer has not run: the
    email belongs to the worker, after commit."""
    mail.outbox.clear()
    submit(staff)
    assert mail.outbox == []
    assert not Notification.objects.exists()
    dispatch_outbox()  # the worker's sweep: consumer, then the email job after its commit
    assert Notification.objects.count() == 1


def test_a_comment_tells_the_others_in_the_app_without_email(
    requisition_policy, mailboxes, staff, after_commit, tmp_path, settings
):
    settings.MEDIA_ROOT = str(tmp_path)
    approval = after_commit(lambda: submit(staff))
    mail.outbox.clear()
    after_commit(lambda: comments.add_comment(approval, actor=staff, comment="Any news?"))
    assert mail.outbox == []
    notification = Notification.objects.get(kind="request_commented")
    assert (notification.recipient, notification.reason, notification.email_status) == (
        mailboxes.store_manager,
        "Any news?",
        "skipped",
    )


# --- idempotency -------------------------------------------------------------------------------


def test_an_event_emails_once_however_often_the_job_runs(
    requisition_policy, mailboxes, staff, after_commit
):
    mail.outbox.clear()
    after_commit(lambda: submit(staff))
    assert len(mail.outbox) == 1
    event = OutboxEvent.objects.get(event_type="approvals.task.assigned")
    # The dispatch job retried (the outbox row was not marked dispatched): skipped by consumption.
    OutboxEvent.objects.filter(pk=event.pk).update(dispatched_at=None)
    after_commit(lambda: dispatch_outbox())
    after_commit(lambda: dispatch_event(OutboxEvent.objects.get(pk=event.pk)))
    # Even with the consumption record lost, the notification is unique per event and user.
    EventConsumption.objects.filter(event=event).delete()
    after_commit(lambda: dispatch_event(OutboxEvent.objects.get(pk=event.pk)))
    assert after_commit(lambda: notifications.notify_from_event(event)) == []
    # The email job retried, and the sweep: the row is claimed and sent already.
    notification = Notification.objects.get()
    assert notifications.send_notification_email(notification.pk) is False
    assert notifications.send_pending_emails() == 0
    assert len(mail.outbox) == 1
    assert Notification.objects.count() == 1


def test_a_failed_email_is_kept_on_the_row(
    requisition_policy, mailboxes, staff, after_commit, monkeypatch
):
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError("SMTP down")

    monkeypatch.setattr(kernel_mail, "send_mail", refuse)  # the shared sender
    after_commit(lambda: submit(staff))
    notification = Notification.objects.get()
    assert notification.email_status == "failed"
    assert "SMTP down" in notification.email_error
    # The event itself is consumed: the in-app notification stands.
    assert OutboxEvent.objects.get(event_type="approvals.task.assigned").dispatched_at is not None


# --- in the app --------------------------------------------------------------------------------


def text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_nav_badge_counts_own_and_delegated_pending_tasks(requisition_policy, people, staff, tree):
    deputy = make_user("store_staff", tree.store_a, username="deputy")
    with clock.at(T0):
        submit(staff, "REQ-OWN", "60")  # the store manager's
        runtime.create_delegation(
            delegator=people.store_manager,
            delegate=deputy,
            starts_at=T0,
            ends_at=T0 + dt.timedelta(days=2),
            actor=people.store_manager,
        )
        delegated = submit(staff, "REQ-DEL", "60")  # goes to the deputy
        submit(staff, "REQ-DEL2", "60")
        withdrawn = submit(staff, "REQ-GONE", "60")
        runtime.withdraw(withdrawn, actor=staff)
    assert delegated.tasks.get().assignee == deputy
    assert notifications.pending_task_count(people.store_manager) == 1
    assert notifications.pending_task_count(deputy) == 2
    assert notifications.pending_task_count(staff) == 0

    html = text(client_for(deputy).get("/"))
    assert re.search(
        r'My approvals</span><span class="[^"]*" data-testid="nav-badge">2</span>', html
    )
    staff_html = text(client_for(staff).get("/"))
    assert "My approvals" in staff_html
    assert not re.search(r"My approvals</span><span[^>]*nav-badge", staff_html)

    request = RequestFactory().get("/")
    request.user = deputy
    with CaptureQueriesContext(connection) as queries:
        assert notifications.pending_badge(request) == 2
        assert notifications.pending_badge(request) == 2
    assert len(queries) == 1  # cached for the rest of the request


def test_notifications_page(requisition_policy, mailboxes, staff, after_commit, tree):
    approval = after_commit(lambda: submit(staff, amount="60"))
    after_commit(lambda: runtime.approve(approval.tasks.get(), actor=mailboxes.store_manager))
    url = "/approvals/notifications/"
    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and "/login" in anonymous["Location"]
    # Each user sees only their own.
    other = make_user("store_manager", tree.store_b)
    assert 'data-testid="notification"' not in text(client_for(other).get(url))
    manager_page = text(client_for(mailboxes.store_manager).get(url))
    assert manager_page.count('data-testid="notification"') == 1
    assert 'data-kind="task_assigned"' in manager_page
    page = text(client_for(staff).get(url))
    assert page.count('data-testid="notification"') == 1
    assert 'data-kind="request_approved" data-unread="yes"' in page
    assert f'href="/approvals/requests/{approval.pk}/"' in page
    assert re.search(
        r'Notifications</span><span class="[^"]*" data-testid="nav-badge">1</span>', page
    )
    # Marking read: the user's own only.
    assert Client().post("/approvals/notifications/read/").status_code == 302
    assert Notification.objects.filter(read_at__isnull=True).count() == 2
    response = client_for(staff).post("/approvals/notifications/read/")
    assert response.status_code == 302
    assert list(
        Notification.objects.filter(read_at__isnull=True).values_list("recipient", flat=True)
    ) == [mailboxes.store_manager.pk]
    assert 'data-unread="no"' in text(client_for(staff).get(url))
