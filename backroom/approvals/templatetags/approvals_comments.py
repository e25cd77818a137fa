"""The comment section of a request's page, and its attachments in the history.

Tags, so the request page (its view lives in inbox.py) needs nothing more in its context:
`{% comment_form approval %}` renders the form for those who may comment (with the errors and
the typed text after a refused post, which `comment_views` leaves on the request), and
`{% request_attachments approval as files %}` fetches every attachment of the request in one
query, read per history entry with `files|entry_files:entry.pk`.
"""

from __future__ import annotations

from typing import Any

from django import template

from backroom.approvals import comments
from backroom.approvals.models import ApprovalRequest, RequestAttachment

register = template.Library()


@register.inclusion_tag("approvals/_comment_form.html", takes_context=True)
def comment_form(context: template.Context, approval: ApprovalRequest) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    state = getattr(request, "approvals_comment_form", None) or {}
    return {
        "approval": approval,
        "may_comment": comments.may_comment(user, approval),
        "comment": state.get("comment", ""),
        "errors": state.get("errors", {}),
        "problems": state.get("problems", []),
        "message": state.get("message", ""),
        "max_attachments": comments.max_attachments(),
        "max_megabytes": comments.max_attachment_bytes() // (1024 * 1024),
        "csrf_token": context.get("csrf_token"),
    }


@register.simple_tag
def request_attachments(approval: ApprovalRequest) -> dict[int, list[RequestAttachment]]:
    return comments.attachments_by_entry(approval)


@register.filter
def entry_files(files: dict[int, list[RequestAttachment]], entry_id: int) -> list:
    return files.get(entry_id, []) if files else []
