"""Approvals errors with stable codes."""

from typing import Any

from django.utils.translation import gettext_lazy as _

from backroom.kernel.exceptions import Conflict, DomainError, ValidationFailed


class UnknownDocumentType(DomainError):
    """No app registered this document type."""

    code = "unknown_document_type"
    http_status = 422
    default_message = _("This document type is not registered for approvals.")


class ConditionFailed(DomainError):
    """A condition could not be evaluated against a document's fields (missing or bad values)."""

    code = "condition_failed"
    http_status = 422
    default_message = _("The condition could not be evaluated.")


class VersionPublished(Conflict):
    """A published policy version is immutable."""

    code = "policy_version_published"
    default_message = _("This policy version is published and can no longer change.")


class VersionSuperseded(Conflict):
    """Publishing a version older than the one in force would roll the policy back silently."""

    code = "policy_version_superseded"
    default_message = _("A newer version of this policy is already published.")


class NoApprover(DomainError):
    """A step of the route has no one who could approve it; the request is not started."""

    code = "no_approver"
    http_status = 422
    default_message = _("A step of the approval route has no approver.")


class SelfApproval(Conflict):
    """The requester may not approve their own request under this policy."""

    code = "self_approval"
    default_message = _("You cannot approve your own request.")


class NotYourTask(Conflict):
    """The task is assigned to someone else (and not delegated to the actor)."""

    code = "not_your_task"
    default_message = _("This task is assigned to someone else.")


class AlreadyDecided(Conflict):
    """The task was decided (or cancelled) already; the first decision counts."""

    code = "already_decided"
    default_message = _("This task has already been decided.")


class RequestClosed(Conflict):
    """The request is no longer waiting for this action (withdrawn, decided, or returned)."""

    code = "request_closed"
    default_message = _("This request is closed.")


class RequestOpen(Conflict):
    """The document already has a request in progress."""

    code = "request_open"
    default_message = _("This document already has an approval request in progress.")


class ApprovalRequired(Conflict):
    """The document cannot move on: its approval request is not (finally) approved."""

    code = "approval_required"
    default_message = _("This document needs approval first.")


class AboveBulkLimit(Conflict):
    """Bulk approval is for low-value documents only; this one must be decided on its own."""

    code = "bulk_limit_exceeded"
    default_message = _("This document is above the amount that can be approved in bulk.")


class AttachmentRejected(ValidationFailed):
    """One or more comment attachments cannot be accepted (type, size, count); nothing is saved.

    `details.fields` keys each problem like other validation errors (`attachments`,
    `attachments.<index>`); `details.problems` lists them with a stable code each:
    `attachment_type`, `attachment_too_large`, `attachment_empty`, `too_many_attachments`.
    """

    code = "attachment_rejected"
    default_message = _("Some attachments cannot be accepted; nothing was saved.")

    def __init__(self, errors: dict[str, list[str]], problems: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.details["problems"] = problems
