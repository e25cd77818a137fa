"""Errors raised by the platform adapters, each with a stable code. None of them changes anything.

`reply` in each adapter turns one of these into the platform's own error reply (Meituan's
701/702/703/803, an HTTP status for Ele.me and Square); the API maps them like any `DomainError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from backroom.kernel.exceptions import DomainError


class PlatformError(DomainError):
    """Base of every adapter error."""

    code = "platform_error"
    http_status = 400
    default_message = _("The platform request could not be processed.")


class MissingParameter(PlatformError):
    """A required request parameter (app id, timestamp, signature, order id...) is absent."""

    code = "missing_parameter"
    http_status = 400
    default_message = _("A required parameter is missing.")

    def __init__(self, names: Iterable[str]) -> None:
        self.names = sorted(names)
        super().__init__(
            gettext("Missing parameters: %(names)s.") % {"names": ", ".join(self.names)},
            details={"parameters": self.names},
        )


class UnknownApp(PlatformError):
    """The request names an app id that is not this channel account's."""

    code = "unknown_app"
    http_status = 403
    default_message = _("The request is for another app.")


class BadSignature(PlatformError):
    """The signature does not match the request (tampered, or the wrong secret)."""

    code = "bad_signature"
    http_status = 401
    default_message = _("The signature does not match.")


class UnknownStore(PlatformError):
    """The platform store (app_poi_code, shopId, location) is not mapped to one of our stores."""

    code = "unknown_store"
    http_status = 404
    default_message = _("The store is not connected to this channel.")

    def __init__(self, store_ref: str) -> None:
        super().__init__(
            gettext("Store %(store)s is not connected to this channel.") % {"store": store_ref},
            details={"store_ref": store_ref},
        )
        self.store_ref = store_ref


class MalformedPayload(PlatformError):
    """The payload is signed correctly but cannot be read. `details["fields"]` lists every problem."""

    code = "malformed_payload"
    http_status = 422
    default_message = _("The payload is malformed.")

    def __init__(self, errors: Mapping[str, Iterable[str]], *, message: Any = None) -> None:
        self.errors = {
            field: [str(problem) for problem in problems] for field, problems in errors.items()
        }
        summary = "; ".join(
            f"{field}: {' '.join(problems)}" for field, problems in self.errors.items()
        )
        super().__init__(
            message
            if message is not None
            else gettext("The payload is malformed: %(problems)s") % {"problems": summary},
            details={"fields": self.errors},
        )


class MalformedCsv(MalformedPayload):
    """The file cannot be imported at all (not UTF-8, no header, required columns missing)."""

    code = "malformed_csv"


class OutboundRejected(PlatformError):
    """The platform answered an outbound call with an error; `is_retryable` for its own faults."""

    code = "outbound_rejected"
    http_status = 502
    default_message = _("The platform rejected the call.")

    def __init__(self, platform_code: str, platform_message: str, *, is_retryable: bool) -> None:
        super().__init__(
            gettext("The platform rejected the call: %(code)s %(message)s")
            % {"code": platform_code, "message": platform_message},
            details={"platform_code": platform_code, "platform_message": platform_message},
        )
        self.platform_code = platform_code
        self.platform_message = platform_message
        self.is_retryable = is_retryable


class Problems:
    """Collects every problem of a payload so they are reported at once."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: Any) -> None:
        self.errors.setdefault(field, []).append(str(message))

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self) -> None:
        if self.errors:
            raise MalformedPayload(self.errors)


# Problem texts shared by the adapters.
REQUIRED = _("is required.")
NOT_JSON = _("is not valid JSON.")
NOT_NUMBER = _("is not a number.")
NOT_LIST = _("must be a list.")
NOT_OBJECT = _("must be an object.")
NOT_TIME = _("is not a valid time.")
