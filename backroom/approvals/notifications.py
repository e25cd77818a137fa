"""Approval notifications: in the app and by email (see docs/approvals.md, "Notifications").

The outbox consumer `notify_from_event` (subscribed in `handlers.py`, run by the worker after
the change committed) turns an approvals event into one `Notification` per recipient:

| event | recipient | kind | email |
|---|---|---|---|
| `approvals.task.assigned` | the assignee (the delegate when delegated) | `task_assigned`, or `task_escalated` when the task replaces an overdue one | yes |
| `approvals.task.reminded` | the assignee | `task_reminded` (SLA breached) | yes |
| `approvals.request.approved` / `rejected` / `returned` | the requester | `request_…` | yes |
| `approvals.request.commented` | the requester and the pending approvers, not the author | `request_commented` | no (in the app only) |

Idempotent twice over: the outbox records the consumption (a replayed event is skipped), and a
notification is unique per event and recipient. Each email is then sent by
`send_notification_email` after that commit: the row is claimed (`pending` → `sending`) before
the message goes out, so a retried job never sends it twice. Inactive users are not told;
users without an email address get the in-app notification only (email `skipped`). Emails are
written in the recipient's language (their `language`, else the site's).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from backroom.accounts.models import User
from backroom.approvals.choices import EmailStatus, NotificationKind, RequestStatus, TaskStatus
from backroom.approvals.events import ApprovalsEvent
from backroom.approvals.models import ApprovalRequest, ApprovalTask, Notification
from backroom.approvals.registry import get_document_type, is_registered
from backroom.events.models import OutboxEvent
from backroom.kernel import clock
from backroom.kernel.mail import EmailColumns, send_once

# The events the consumer reads (handlers.py subscribes to each).
EVENT_TYPES = [
    ApprovalsEvent.TASK_ASSIGNED,
    ApprovalsEvent.TASK_REMINDED,
    ApprovalsEvent.REQUEST_APPROVED,
    ApprovalsEvent.REQUEST_REJECTED,
    ApprovalsEvent.REQUEST_RETURNED,
    ApprovalsEvent.REQUEST_COMMENTED,
]

EMAILED_KINDS = {
    NotificationKind.TASK_ASSIGNED,
    NotificationKind.TASK_ESCALATED,
    NotificationKind.TASK_REMINDED,
    NotificationKind.REQUEST_APPROVED,
    NotificationKind.REQUEST_REJECTED,
    NotificationKind.REQUEST_RETURNED,
}
TASK_KINDS = {
    NotificationKind.TASK_ASSIGNED,
    NotificationKind.TASK_ESCALATED,
    NotificationKind.TASK_REMINDED,
}
_REQUEST_KINDS = {
    ApprovalsEvent.REQUEST_APPROVED: NotificationKind.REQUEST_APPROVED,
    ApprovalsEvent.REQUEST_REJECTED: NotificationKind.REQUEST_REJECTED,
    ApprovalsEvent.REQUEST_RETURNED: NotificationKind.REQUEST_RETURNED,
}


# --- from events to notifications --------------------------------------------------------------


def _plan(outbox_event: OutboxEvent) -> list[dict[str, Any]]:
    """Who is told what about one event (recipient ids, kind, request, task, actor, reason)."""
    payload = outbox_event.payload
    event_type = outbox_event.event_type
    if event_type in (ApprovalsEvent.TASK_ASSIGNED, ApprovalsEvent.TASK_REMINDED):
        task = ApprovalTask.objects.filter(pk=payload["task_id"]).first()
        if task is None:
            return []
        kind = NotificationKind.TASK_REMINDED
        if event_type == ApprovalsEvent.TASK_ASSIGNED:
            kind = (
                NotificationKind.TASK_ESCALATED
                if task.escalated_from_id
                else NotificationKind.TASK_ASSIGNED
            )
        return [
            {
                "recipient_id": payload["assignee_id"],
                "kind": kind,
                "request_id": task.request_id,
                "task_id": task.pk,
                "actor_id": None,
                "reason": "",
            }
        ]
    if event_type in _REQUEST_KINDS:
        requester_id = (
            ApprovalRequest.objects.filter(pk=payload["request_id"])
            .values_list("requester_id", flat=True)
            .first()
        )
        if requester_id is None:
            return []
        return [
            {
                "recipient_id": requester_id,
                "kind": _REQUEST_KINDS[ApprovalsEvent(event_type)],
                "request_id": payload["request_id"],
                "task_id": None,
                "actor_id": payload.get("actor_id"),
                "reason": payload.get("reason", ""),
            }
        ]
    if event_type == ApprovalsEvent.REQUEST_COMMENTED:
        request = ApprovalRequest.objects.filter(pk=payload["request_id"]).first()
        if request is None:
            return []
        comment = request.history.filter(pk=payload["comment_id"]).values_list("comment", flat=True)
        text = (comment.first() or "")[:500]
        waiting = ApprovalTask.objects.filter(
            request=request, status=TaskStatus.PENDING, request__status=RequestStatus.PENDING
        ).values_list("assignee_id", flat=True)
        recipients = [request.requester_id, *waiting]
        seen: set[int] = set()
        plan = []
        for user_id in recipients:
            if user_id in seen or user_id == payload.get("actor_id"):
                continue
            seen.add(user_id)
            plan.append(
                {
                    "recipient_id": user_id,
                    "kind": NotificationKind.REQUEST_COMMENTED,
                    "request_id": request.pk,
                    "task_id": None,
                    "actor_id": payload.get("actor_id"),
                    "reason": text,
                }
            )
        return plan
    return []


def notify_from_event(outbox_event: OutboxEvent) -> list[Notification]:
    """The outbox consumer: one notification per recipient of an approvals event; the emails
    are sent after this commits (see the module). A replay creates and sends nothing new."""
    plan = _plan(outbox_event)
    users = User.objects.in_bulk([item["recipient_id"] for item in plan])
    created = []
    now = clock.now()
    for item in plan:
        user = users.get(item["recipient_id"])
        if user is None or not user.is_active:
            continue
        emailed = item["kind"] in EMAILED_KINDS and bool(user.email)
        try:
            with transaction.atomic():
                notification = Notification.objects.create(
                    recipient=user,
                    kind=item["kind"],
                    request_id=item["request_id"],
                    task_id=item["task_id"],
                    actor_id=item["actor_id"],
                    reason=item["reason"] or "",
                    event_id=outbox_event.event_id,
                    created_at=now,
                    email_status=EmailStatus.PENDING if emailed else EmailStatus.SKIPPED,
                )
        except IntegrityError:
            continue  # this event told this user before
        created.append(notification)
    pending = [n.pk for n in created if n.email_status == EmailStatus.PENDING]
    if pending:
        transaction.on_commit(lambda: _queue_emails(pending), robust=True)
    return created


def _queue_emails(notification_ids: list[int]) -> None:
    from backroom.approvals.jobs import send_notification_emails

    send_notification_emails(notification_ids)


# --- email -------------------------------------------------------------------------------------


def _label(document_type: str) -> str:
    return str(get_document_type(document_type).label) if is_registered(document_type) else ""


def _time_zone(request: ApprovalRequest) -> str:
    try:
        return str(request.org_node.site.time_zone)
    except Exception:  # a region or entity node has no site
        return str(settings.TIME_ZONE)


def base_url() -> str:
    return str(getattr(settings, "BACKROOM_BASE_URL", "")).rstrip("/")


def headline(notification: Notification) -> str:
    """One sentence for the notification, in the active language."""
    request = notification.request
    values = {
        "document": f"{_label(request.document_type) or request.document_type} "
        f"{request.document_id}",
        "actor": str(notification.actor) if notification.actor_id else _("the system"),
    }
    texts = {
        NotificationKind.TASK_ASSIGNED: _("%(document)s waits for your approval."),
        NotificationKind.TASK_ESCALATED: _(
            "%(document)s was escalated to you: it is past its deadline."
        ),
        NotificationKind.TASK_REMINDED: _(
            "Reminder: %(document)s is past its deadline and waits for your approval."
        ),
        NotificationKind.REQUEST_APPROVED: _("Your request %(document)s is approved."),
        NotificationKind.REQUEST_REJECTED: _(
            "Your request %(document)s was rejected by %(actor)s."
        ),
        NotificationKind.REQUEST_RETURNED: _(
            "Your request %(document)s was returned to you by %(actor)s for changes."
        ),
        NotificationKind.REQUEST_COMMENTED: _("%(actor)s commented on %(document)s."),
    }
    return texts[NotificationKind(notification.kind)] % values


def link(notification: Notification) -> str:
    """Where the notification leads: the inbox for a waiting task, else the request."""
    if notification.kind in TASK_KINDS:
        return reverse("approvals:inbox")
    return reverse("approvals:request_detail", args=[notification.request_id])


def render_email(notification: Notification) -> tuple[str, str]:
    """Subject and plain-text body, in the recipient's language and the store's time zone."""
    from backroom.approvals.inbox import facts_of

    language = notification.recipient.language or settings.LANGUAGE_CODE
    request = notification.request
    with translation.override(language), timezone.override(_time_zone(request)):
        facts = facts_of([request])[request.pk]
        subject = "[Backroom] " + headline(notification)
        body = render_to_string(
            "approvals/email/notification.txt",
            {
                "notification": notification,
                "headline": headline(notification),
                "approval": request,
                "facts": facts,
                "task": notification.task,
                "url": base_url() + link(notification),
            },
        )
    return " ".join(subject.split())[:200], body


def send_notification_email(notification_id: int) -> bool:
    """Send one notification's email unless it was sent (or claimed) already; True when sent.

    The row is claimed before sending, so two runs never both send it; a failure is kept on the
    row (`failed`, with the error) and not retried automatically.
    """
    return send_once(
        Notification.objects.select_related(
            "recipient", "actor", "task", "request__org_node", "request__requester"
        ),
        notification_id,
        EmailColumns(status="email_status", error="email_error", sent_at="emailed_at"),
        recipient=lambda notification: notification.recipient,
        render=render_email,
    )


def send_notification_emails_now(notification_ids: Iterable[int]) -> int:
    """Send the given notifications' emails (each at most once); how many were sent."""
    return sum(send_notification_email(pk) for pk in notification_ids)


def send_pending_emails(limit: int = 200) -> int:
    """The sweep: emails whose job was lost (worker down after the commit)."""
    ids = list(
        Notification.objects.filter(email_status=EmailStatus.PENDING)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    return send_notification_emails_now(ids)


# --- in the app --------------------------------------------------------------------------------


def pending_task_count(user: Any) -> int:
    """How many approval tasks wait for the user: their own and those delegated to them (a
    delegated task is assigned to the delegate): the inbox's count. One query."""
    from backroom.approvals.inbox import pending_count

    return pending_count(user)


def unread_count(user: Any) -> int:
    if user is None or not getattr(user, "is_authenticated", False) or user.pk is None:
        return 0
    return Notification.objects.filter(recipient_id=user.pk, read_at__isnull=True).count()


def _cached(request: HttpRequest, key: str, compute: Any) -> int:
    """Compute a count once per request, however many templates render the navigation."""
    cache = request.__dict__.setdefault("_approvals_counts", {})
    if key not in cache:
        cache[key] = compute(getattr(request, "user", None))
    return int(cache[key])


def pending_badge(request: HttpRequest) -> int:
    """The "My approvals" navigation badge."""
    return _cached(request, "pending", pending_task_count)


def unread_badge(request: HttpRequest) -> int:
    """The "Notifications" navigation badge."""
    return _cached(request, "unread", unread_count)


def recent_for(user: Any, limit: int = 50) -> list[Notification]:
    """The user's newest notifications."""
    if user is None or not getattr(user, "is_authenticated", False) or user.pk is None:
        return []
    return list(
        Notification.objects.filter(recipient_id=user.pk)
        .select_related("request", "actor", "task")
        .order_by("-created_at", "-pk")[:limit]
    )


def mark_all_read(user: Any) -> int:
    """Mark the user's unread notifications read; how many there were. (Reading is the
    user's own view state: not audited.)"""
    if user is None or not getattr(user, "is_authenticated", False) or user.pk is None:
        return 0
    return Notification.objects.filter(recipient_id=user.pk, read_at__isnull=True).update(
        read_at=clock.now()
    )
