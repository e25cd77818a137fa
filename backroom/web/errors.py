"""Turn domain errors into page responses: NotFound → 404, PermissionDenied → 403."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as HttpForbidden
from django.http import Http404, HttpRequest, HttpResponse

from backroom.kernel.exceptions import DomainError, NotFound, PermissionDenied, ValidationFailed

View = Callable[..., HttpResponse]


def page(permission: str | None = None) -> Callable[[View], View]:
    """A signed-in page; with `permission`, the user must hold it somewhere (else 403).

    Domain errors that escape the view become HTTP errors: NotFound → 404 (never telling
    whether the object exists), PermissionDenied → 403.
    """

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if permission is not None and not request.user.has_scoped_permission(permission):  # type: ignore[union-attr]
                raise HttpForbidden()
            try:
                return view(request, *args, **kwargs)
            except NotFound as error:
                raise Http404(error.message) from error
            except PermissionDenied as error:
                raise HttpForbidden(error.message) from error

        return login_required(wrapper)

    return decorator


def apply_errors(
    form: Any, error: ValidationFailed, field_map: dict[str, str] | None = None
) -> None:
    """Put a service's field errors on a form; fields the form lacks become non-field errors."""
    field_map = field_map or {}
    for field, messages in error.errors.items():
        name = field_map.get(field, field)
        for message in messages:
            if name in form.fields:
                form.add_error(name, message)
            else:
                form.add_error(None, message)
    if not error.errors:
        form.add_error(None, error.message)


def problem_messages(error: DomainError) -> list[str]:
    """What to show for a domain error: every field problem, or each coded problem of a
    document, else its message."""
    details = error.details if isinstance(error.details, dict) else {}
    found = [str(message) for texts in (details.get("fields") or {}).values() for message in texts]
    if not found:  # a document's several coded problems
        found = [
            str(problem.get("message", "") if isinstance(problem, dict) else problem)
            for problem in details.get("problems") or []
        ]
    return found or [error.message]


def problems_text(error: DomainError) -> str:
    """A domain error as one line for a flash message."""
    return " ".join(problem_messages(error))
