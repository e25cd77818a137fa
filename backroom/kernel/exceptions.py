"""Typed domain errors with stable codes. The API maps them to HTTP in one place."""

from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    """Base of every expected error. `code` is stable and documented; `message` is localised."""

    code: ClassVar[str] = "domain_error"
    http_status: ClassVar[int] = 422
    default_message: ClassVar[Any] = _("The request could not be completed.")

    def __init__(self, message: Any = None, *, details: Any = None) -> None:
        self.message = str(message if message is not None else self.default_message)
        self.details = details if details is not None else {}
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class NotFound(DomainError):
    """The object does not exist, or the actor may not see it (never tell which)."""

    code = "not_found"
    http_status = 404
    default_message = _("Not found.")


class PermissionDenied(DomainError):
    """The actor can see the object but may not do this to it."""

    code = "permission_denied"
    http_status = 403
    default_message = _("You do not have permission to do this.")


class Conflict(DomainError):
    """The request conflicts with the current state (a duplicate, a state transition)."""

    code = "conflict"
    http_status = 409
    default_message = _("The request conflicts with the current state.")


class ValidationFailed(DomainError):
    """Input is invalid. `details` maps each field to its messages; all problems at once."""

    code = "invalid"
    http_status = 422
    default_message = _("Some fields are invalid.")

    def __init__(self, errors: dict[str, list[str]] | None = None, *, message: Any = None) -> None:
        super().__init__(message, details={"fields": errors or {}})
        self.errors = errors or {}


class ErrorCollector:
    """Collects field errors so a service can report every problem at once."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: Any) -> None:
        self.errors.setdefault(field, []).append(str(message))

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationFailed(self.errors)
