"""`Idempotency-Key` on API writes: the same key and body replays the first response.

The key is unique per principal (a user or an API token), backed by a unique constraint: the
first request inserts a pending record before it runs, so a concurrent duplicate gets a 409
instead of running twice. A different body under a used key is a 422. Server errors and 401/403 refusals are not
stored, so the client may retry them with the same key.
"""

import hashlib
from collections.abc import Callable

from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _

from backroom.kernel.models import IdempotencyRecord

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
HEADER = "Idempotency-Key"


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"code": code, "message": message, "details": {}}, status=status)


def _principal(request: HttpRequest) -> str | None:
    token = getattr(request, "api_token", None)
    if token is not None:
        return f"token:{token.pk}"
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return None


class IdempotencyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.headers.get(HEADER)
        if not key or request.method not in WRITE_METHODS or not request.path.startswith("/api/"):
            return self.get_response(request)
        principal = _principal(request)
        if principal is None:
            return self.get_response(request)  # authentication will refuse it
        if len(key) > 255:
            return _error(
                422, "invalid_idempotency_key", _("Idempotency-Key must be at most 255 characters.")
            )
        try:
            body = request.body
        except RequestDataTooBig:
            return _error(413, "request_too_large", _("The request body is too large."))
        request_hash = hashlib.sha256(
            b"|".join([request.method.encode(), request.get_full_path().encode(), body])
        ).hexdigest()
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    principal=principal,
                    key=key,
                    method=request.method,
                    path=request.path[:500],
                    request_hash=request_hash,
                )
        except IntegrityError:
            existing = IdempotencyRecord.objects.get(principal=principal, key=key)
            if existing.request_hash != request_hash:
                return _error(
                    422,
                    "idempotency_key_reused",
                    _("This Idempotency-Key was used with a different request."),
                )
            if existing.status_code is None:
                return _error(
                    409,
                    "idempotency_in_progress",
                    _("A request with this Idempotency-Key is still running."),
                )
            response = HttpResponse(
                bytes(existing.body),
                status=existing.status_code,
                content_type=existing.content_type,
            )
            response["Idempotent-Replayed"] = "true"
            return response

        response = self.get_response(request)
        # Not stored: server errors, and refusals the client can fix and retry with the same key
        # (not signed in, missing CSRF token, no permission yet).
        if (
            response.status_code >= 500
            or response.status_code in (401, 403)
            or getattr(response, "streaming", False)
        ):
            record.delete()
        else:
            IdempotencyRecord.objects.filter(pk=record.pk).update(
                status_code=response.status_code,
                content_type=response.get("Content-Type", "application/json"),
                body=response.content,
            )
        return response
