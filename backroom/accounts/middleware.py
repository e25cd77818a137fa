"""Bearer tokens on the API: `Authorization: Bearer brt_…` makes the token's user the request user."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _

from backroom.accounts.services import authenticate_token


class ApiTokenMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        header = request.headers.get("Authorization", "")
        if request.path.startswith("/api/") and header.lower().startswith("bearer "):
            token = authenticate_token(header[7:].strip())
            if token is None:
                return JsonResponse(
                    {
                        "code": "invalid_token",
                        "message": _("The API token is invalid, expired or revoked."),
                        "details": {},
                    },
                    status=401,
                )
            user = token.user
            user._api_token = token  # type: ignore[attr-defined]
            request.user = user
            request.api_token = token  # type: ignore[attr-defined]
            request._dont_enforce_csrf_checks = True  # type: ignore[attr-defined]
        return self.get_response(request)
