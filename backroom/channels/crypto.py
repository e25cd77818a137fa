"""Channel credentials encrypted at rest: Fernet (AES-128-CBC + HMAC-SHA256) under a key
derived from `settings.SECRET_KEY`.

The key is SHA-256("backroom.channels.credentials:" + SECRET_KEY), so rotating SECRET_KEY
makes stored credentials unreadable: re-enter them after a rotation (docs/channels.md).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import models

_PURPOSE = b"backroom.channels.credentials:"


def _fernet() -> Fernet:
    digest = hashlib.sha256(_PURPOSE + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(data: dict[str, Any]) -> str:
    """A Fernet token (text) holding `data` as JSON."""
    return _fernet().encrypt(json.dumps(data, sort_keys=True).encode()).decode()


def decrypt(token: str) -> dict[str, Any]:
    """The data of a token; ValueError when it was not made with this SECRET_KEY."""
    try:
        return json.loads(_fernet().decrypt(token.encode()))  # type: ignore[no-any-return]
    except InvalidToken as error:
        raise ValueError("The credentials cannot be decrypted with this SECRET_KEY.") from error


class EncryptedJSONField(models.TextField):
    """A dict stored as a Fernet token; never queryable, never shown in audit snapshots (the
    model names it `secrets`, which `audit.services.snapshot` leaves out)."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        if not value:
            return {}
        return decrypt(value)

    def to_python(self, value: Any) -> Any:
        if isinstance(value, dict):
            return value
        if not value:
            return {}
        return decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        if not value:
            return ""
        return encrypt(dict(value))
