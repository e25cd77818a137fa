"""The NinjaAPI: `/api/v1/...`, OpenAPI at `/api/openapi.json`, docs at `/api/docs`.

Errors have one shape everywhere: {"code", "message", "details"}. Domain errors map to their
status (404/409/422...), input validation to 422 with every field's problems at once.
"""

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, AuthorizationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import SessionAuth

from backroom.kernel.exceptions import DomainError


class TokenAuth:
    """Accepts requests the ApiTokenMiddleware authenticated with a bearer token."""

    openapi_type = "http"
    openapi_scheme = "bearer"

    def __call__(self, request: HttpRequest) -> Any:
        return request.user if getattr(request, "api_token", None) is not None else None


api = NinjaAPI(
    title="Backroom API",
    version="1",
    description="Back-of-house operations for multi-store chains. See docs/api.md.",
    urls_namespace="api",
    openapi_url="/openapi.json",
    docs_url="/docs",
    auth=[TokenAuth(), SessionAuth()],
)


def _error(
    request: HttpRequest, status: int, code: str, message: str, details: Any = None
) -> HttpResponse:
    return api.create_response(
        request, {"code": code, "message": message, "details": details or {}}, status=status
    )


@api.exception_handler(DomainError)
def domain_error(request: HttpRequest, error: DomainError) -> HttpResponse:
    return _error(request, error.http_status, error.code, error.message, error.details)


@api.exception_handler(NinjaValidationError)
def validation_error(request: HttpRequest, error: NinjaValidationError) -> HttpResponse:
    fields: dict[str, list[str]] = {}
    for problem in error.errors:
        location = [
            str(part)
            for part in problem.get("loc", [])
            if part not in ("body", "query", "path", "payload")
        ]
        fields.setdefault(".".join(location) or "__all__", []).append(str(problem.get("msg", "")))
    return _error(request, 422, "invalid", _("Some fields are invalid."), {"fields": fields})


@api.exception_handler(AuthenticationError)
def authentication_error(request: HttpRequest, error: AuthenticationError) -> HttpResponse:
    return _error(request, 401, "not_authenticated", _("Sign in or send an API token."))


@api.exception_handler(AuthorizationError)
def authorization_error(request: HttpRequest, error: AuthorizationError) -> HttpResponse:
    return _error(request, 403, "permission_denied", _("You do not have permission to do this."))


@api.exception_handler(DjangoPermissionDenied)
def permission_denied(request: HttpRequest, error: DjangoPermissionDenied) -> HttpResponse:
    return _error(request, 403, "permission_denied", _("You do not have permission to do this."))


@api.exception_handler(Http404)
def not_found(request: HttpRequest, error: Http404) -> HttpResponse:
    return _error(request, 404, "not_found", _("Not found."))


@api.exception_handler(RequestDataTooBig)
def request_too_big(request: HttpRequest, error: RequestDataTooBig) -> HttpResponse:
    return _error(request, 413, "request_too_large", _("The request body is too large."))


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, error: HttpError) -> HttpResponse:
    if error.status_code == 400:
        # Ninja's only 400: a body that does not parse. Invalid input, like any other: 422.
        return _error(request, 422, "malformed_body", _("The request body is not valid JSON."))
    return _error(request, error.status_code, "http_error", str(error))


def _mount() -> None:
    from backroom.accounts.api import router as accounts_router
    from backroom.approvals.api import router as approvals_router
    from backroom.audit.api import router as audit_router
    from backroom.catalog.api import router as catalog_router
    from backroom.channels.api import router as channels_router
    from backroom.channels.api_reports import router as channels_reports_router
    from backroom.inventory.api import router as inventory_router
    from backroom.org.api import router as org_router
    from backroom.webhooks.api import router as webhooks_router

    api.add_router("/v1/org/", org_router)
    api.add_router("/v1/accounts/", accounts_router)
    api.add_router("/v1/audit/", audit_router)
    api.add_router("/v1/webhooks/", webhooks_router)
    api.add_router("/v1/catalog/", catalog_router)
    api.add_router("/v1/inventory/", inventory_router)
    api.add_router("/v1/approvals/", approvals_router)
    api.add_router("/v1/channels/", channels_router)
    api.add_router("/v1/channels/", channels_reports_router)
    api.add_router("/v1/channels/", "backroom.channels.api_soldout.router")  # sold out
    api.add_router("/v1/channels/", "backroom.channels.api_imports.router")  # Square CSV import
    api.add_router("/v1/channels/", "backroom.channels.api_anomalies.router")  # order alerts
    api.add_router("/v1/procurement/", "backroom.procurement.api.router")
    api.add_router("/v1/planning/", "backroom.planning.api.router")
    api.add_router("/v1/imports/", "backroom.imports.api.router")
    api.add_router("/v1/finance/", "backroom.finance.api.router")
    api.add_router("/v1/dashboards/", "backroom.dashboards.api.router")
    api.add_router("/v1/dashboards/", "backroom.dashboards.api_today.router")  # a store's today
    api.add_router("/v1/alerts/", "backroom.dashboards.api_alerts.router")


_mount()
