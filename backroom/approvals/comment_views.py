"""Pages for comments, their attachments and the notifications list (docs/approvals.md).

- `request_comment` (POST, multipart, no script needed): the comment form of the request page.
  Success redirects to the request (`#comment`) with a message; refused input shows the request
  page again with every problem next to the form and the typed text kept (422), nothing saved.
  A request the user may not see is a 404; one they may see but not comment on is a 403.
- `attachment`: streams a file to those who may see its request; to anyone else a 404.
- `notifications`: the signed-in user's recent notifications; `notifications_read` marks them
  all read.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from backroom.approvals import comments, inbox, notifications
from backroom.approvals.exceptions import AttachmentRejected
from backroom.kernel.exceptions import ValidationFailed
from backroom.web.errors import page


@page()
@require_POST
def request_comment(request: HttpRequest, request_id: int) -> HttpResponse:
    """Add a comment (with files) to a request, then show the request again."""
    approval = inbox.visible_request(request.user, request_id)  # 404 unless they may see it
    text = request.POST.get("comment", "")
    try:
        comments.add_comment(
            approval,
            actor=request.user,
            comment=text,
            attachments=request.FILES.getlist("attachments"),
        )
    except ValidationFailed as error:
        problems = (
            error.details.get("problems", []) if isinstance(error, AttachmentRejected) else []
        )
        request.approvals_comment_form = {  # type: ignore[attr-defined]
            "comment": text,
            "errors": {"comment": error.errors.get("comment", [])},
            "problems": problems,
            "message": _("Nothing was saved: %(error)s") % {"error": error.message},
        }
        response = inbox.request_detail(request, request_id)
        response.status_code = 422
        return response
    messages.success(request, _("Your comment is added."))
    return redirect(reverse("approvals:request_detail", args=[approval.pk]) + "#comment")


@page()
def attachment(request: HttpRequest, attachment_id: int) -> HttpResponse:
    """One attachment, only to those who may see its request."""
    found = comments.visible_attachment(request.user, attachment_id)
    return comments.attachment_response(found, download=request.GET.get("download") == "1")  # type: ignore[return-value]


@page()
def notification_list(request: HttpRequest) -> HttpResponse:
    """The user's recent notifications, newest first (unread ones marked)."""
    items = notifications.recent_for(request.user)
    return render(
        request,
        "approvals/notifications.html",
        {
            "title": _("Notifications"),
            "items": [
                {
                    "notification": item,
                    "headline": notifications.headline(item),
                    "url": notifications.link(item),
                }
                for item in items
            ],
            "unread": sum(1 for item in items if item.read_at is None),
        },
    )


@page()
@require_POST
def notifications_read(request: HttpRequest) -> HttpResponse:
    """Mark every notification of the user read."""
    notifications.mark_all_read(request.user)
    return redirect("approvals:notifications")


urlpatterns = [
    path("requests/<int:request_id>/comments/", request_comment, name="request_comment"),
    path("attachments/<int:attachment_id>/", attachment, name="attachment"),
    path("notifications/", notification_list, name="notifications"),
    path("notifications/read/", notifications_read, name="notifications_read"),
]
