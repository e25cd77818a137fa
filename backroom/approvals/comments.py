"""Comments on approval requests, with attachments (see docs/approvals.md, "Comments").

- Who may comment: the requester, anyone with a task on the request (assigned, or delegated
  away: both the delegate and the delegator), and holders of `approvals.manage` at its node.
  A request may be commented on whether it is open or closed.
- A comment is a history entry (`commented`) with its text, plus up to
  `APPROVALS_COMMENT_MAX_ATTACHMENTS` files: JPEG, PNG, WebP, HEIC images or PDF documents of at
  most `APPROVALS_ATTACHMENT_MAX_BYTES` each. The type is read from the file's first bytes,
  never trusted from the upload. Every problem is reported at once (`attachment_rejected`, or
  `invalid` for the text alone) and nothing is saved — not even a file.
- Files are stored like waste photos: under MEDIA_ROOT, with no public URL; they are streamed
  only to people who may see the request (to anyone else they do not exist: 404).
- A decision's own optional comment stays on its decision's history entry, as before.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Prefetch, Q, QuerySet
from django.http import FileResponse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from backroom.approvals.choices import HistoryAction
from backroom.approvals.events import RequestCommented
from backroom.approvals.exceptions import AttachmentRejected
from backroom.approvals.models import ApprovalHistory, ApprovalRequest, RequestAttachment
from backroom.approvals.permissions import APPROVALS_MANAGE
from backroom.approvals.selectors import can_see_request
from backroom.audit.services import record_audit
from backroom.events.services import publish
from backroom.kernel import clock
from backroom.kernel.exceptions import NotFound, PermissionDenied, ValidationFailed
from backroom.kernel.files import document_type

MAX_COMMENT = 2000
DEFAULT_MAX_ATTACHMENTS = 5
DEFAULT_ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
# What a file's first bytes may name, and the extension it is stored under.
ATTACHMENT_TYPES = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/heic": "heic",
    "application/pdf": "pdf",
}


def max_attachments() -> int:
    return int(getattr(settings, "APPROVALS_COMMENT_MAX_ATTACHMENTS", DEFAULT_MAX_ATTACHMENTS))


def max_attachment_bytes() -> int:
    return int(getattr(settings, "APPROVALS_ATTACHMENT_MAX_BYTES", DEFAULT_ATTACHMENT_MAX_BYTES))


def _display_name(upload: UploadedFile, index: int) -> str:
    """The uploaded name without any path, control characters or quotes (shown and offered as
    the download name)."""
    name = os.path.basename((upload.name or "").replace("\\", "/"))
    name = re.sub(r'[\x00-\x1f\x7f"]', "", name).strip()
    return name[:150] or _("attachment %(number)s") % {"number": index + 1}


# --- who may do what ---------------------------------------------------------------------------


def may_comment(actor: Any, request: ApprovalRequest) -> bool:
    """The requester, anyone with a task on the request (assigned or delegated away), or a
    holder of `approvals.manage` at its node."""
    if actor is None or not getattr(actor, "is_authenticated", False) or actor.pk is None:
        return False
    if request.requester_id == actor.pk:
        return True
    if request.tasks.filter(Q(assignee_id=actor.pk) | Q(on_behalf_of_id=actor.pk)).exists():
        return True
    return bool(actor.has_scoped_permission(APPROVALS_MANAGE, request.org_node))


# --- checking the input ------------------------------------------------------------------------


def _clean_comment(text: str, errors: dict[str, list[str]], *, has_files: bool) -> str:
    text = (text or "").strip()
    if not text and not has_files:
        errors.setdefault("comment", []).append(_("Write a comment or attach a file."))
    elif len(text) > MAX_COMMENT or "\x00" in text:
        errors.setdefault("comment", []).append(
            _("At most %(count)s characters of text.") % {"count": MAX_COMMENT}
        )
    return text


def check_attachments(
    files: Sequence[UploadedFile],
) -> tuple[list[tuple[UploadedFile, str, str]], dict[str, list[str]], list[dict[str, Any]]]:
    """Each acceptable file with its sniffed type and display name, plus every problem found
    (field errors and coded problems), for all files at once."""
    errors: dict[str, list[str]] = {}
    problems: list[dict[str, Any]] = []

    def problem(field: str, code: str, message: str, **extra: Any) -> None:
        errors.setdefault(field, []).append(message)
        problems.append({"field": field, "code": code, "message": message, **extra})

    limit = max_attachments()
    if len(files) > limit:
        problem(
            "attachments",
            "too_many_attachments",
            ngettext("Attach at most %(count)s file.", "Attach at most %(count)s files.", limit)
            % {"count": limit},
            count=len(files),
            limit=limit,
        )
    max_bytes = max_attachment_bytes()
    accepted = []
    for index, upload in enumerate(files):
        name = _display_name(upload, index)
        field = f"attachments.{index}"
        size = upload.size or 0
        if size == 0:
            problem(
                field, "attachment_empty", _("“%(name)s” is empty.") % {"name": name}, name=name
            )
            continue
        if size > max_bytes:
            problem(
                field,
                "attachment_too_large",
                _("“%(name)s” is too large (at most %(size)s MB).")
                % {"name": name, "size": max_bytes // (1024 * 1024)},
                name=name,
                size=size,
                limit=max_bytes,
            )
            continue
        upload.seek(0)
        head = upload.read(16)
        upload.seek(0)
        kind = document_type(head)
        if kind is None:
            problem(
                field,
                "attachment_type",
                _("“%(name)s” is not a JPEG, PNG, WebP or HEIC image or a PDF document.")
                % {"name": name},
                name=name,
            )
            continue
        accepted.append((upload, kind, name))
    return accepted, errors, problems


# --- the service -------------------------------------------------------------------------------


def add_comment(
    request: ApprovalRequest,
    *,
    actor: Any,
    comment: str = "",
    attachments: Sequence[UploadedFile] = (),
) -> ApprovalHistory:
    """Comment on a request (open or closed), with optional attachments.

    Refused with `permission_denied` unless `may_comment`; every problem of the text and the
    files at once (`attachment_rejected` when a file is at fault, else `invalid`); nothing is
    saved unless everything is right. Writes a `commented` history entry, the files, an audit
    entry (`approvals.request.comment`) and the event `approvals.request.commented`.
    """
    if not may_comment(actor, request):
        raise PermissionDenied(_("You may not comment on this request."))
    files = list(attachments)
    errors: dict[str, list[str]] = {}
    text = _clean_comment(comment, errors, has_files=bool(files))
    accepted, file_errors, problems = check_attachments(files)
    if problems:
        raise AttachmentRejected({**errors, **file_errors}, problems)
    if errors:
        raise ValidationFailed(errors)
    saved: list[str] = []
    try:
        with transaction.atomic():
            entry = ApprovalHistory.objects.create(
                request=request,
                round=request.round,
                action=HistoryAction.COMMENTED,
                actor=actor,
                occurred_at=clock.now(),
                comment=text,
            )
            for position, (upload, kind, name) in enumerate(accepted):
                attachment = RequestAttachment(
                    request=request,
                    history=entry,
                    name=name,
                    content_type=kind,
                    size=upload.size or 0,
                    position=position,
                )
                attachment.file.save(
                    f"{request.pk}-{entry.pk}-{position + 1}.{ATTACHMENT_TYPES[kind]}",
                    upload,
                    save=False,
                )
                saved.append(attachment.file.name or "")
                attachment.save()
            record_audit(
                actor=actor,
                action="approvals.request.comment",
                target=request,
                after={
                    "history_id": entry.pk,
                    "comment": text[:500],
                    "attachments": [
                        {"name": name, "content_type": kind, "size": upload.size}
                        for upload, kind, name in accepted
                    ],
                },
                org_node=request.org_node,
            )
            publish(
                RequestCommented(
                    request_id=request.pk,
                    document_type=request.document_type,
                    document_id=request.document_id,
                    status=request.status,
                    round=request.round,
                    actor_id=actor.pk,
                    comment_id=entry.pk,
                    attachments=len(accepted),
                ),
                org_node=request.org_node,
            )
    except BaseException:
        for name in saved:
            if name:
                RequestAttachment.file.field.storage.delete(name)
        raise
    return entry


# --- reads -------------------------------------------------------------------------------------


def comments_of(request: ApprovalRequest) -> QuerySet[ApprovalHistory]:
    """The request's comments, oldest first, with their authors and attachments."""
    return (
        request.history.filter(action=HistoryAction.COMMENTED)
        .select_related("actor")
        .prefetch_related(
            Prefetch("attachments", queryset=RequestAttachment.objects.order_by("position", "pk"))
        )
        .order_by("occurred_at", "pk")
    )


def attachments_by_entry(request: ApprovalRequest) -> dict[int, list[RequestAttachment]]:
    """Every attachment of the request, grouped by history entry (one query, for the page)."""
    grouped: dict[int, list[RequestAttachment]] = {}
    for attachment in request.attachments.order_by("history_id", "position", "pk"):
        grouped.setdefault(attachment.history_id, []).append(attachment)
    return grouped


def visible_attachment(actor: Any, attachment_id: int) -> RequestAttachment:
    """An attachment whose request the actor may see; else NotFound (never telling whether it
    exists)."""
    attachment = (
        RequestAttachment.objects.select_related("request__org_node")
        .filter(pk=attachment_id)
        .first()
    )
    if attachment is None or not can_see_request(actor, attachment.request):
        raise NotFound()
    return attachment


def attachment_response(attachment: RequestAttachment, *, download: bool = False) -> FileResponse:
    """Stream an attachment (call it after `visible_attachment`): its checked type, never
    sniffed by the browser, never kept by a shared cache."""
    response = FileResponse(attachment.file.open("rb"), content_type=attachment.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    disposition = "attachment" if download else "inline"
    ascii_name = attachment.name.encode("ascii", "replace").decode().replace("?", "_")
    response["Content-Disposition"] = (
        f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(attachment.name)}"
    )
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
