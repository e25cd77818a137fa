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
