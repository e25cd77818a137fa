"""Approvals errors with stable codes."""

from django.utils.translation import gettext_lazy as _

from backroom.kernel.exceptions import Conflict, DomainError


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
