"""Standard Webhooks signing: `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.

A secret looks like `whsec_<base64 of random bytes>`; the HMAC key is the decoded part after
the prefix. See https://www.standardwebhooks.com and docs/webhooks.md.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Iterable

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
SIGNATURE_VERSION = "v1"


def generate_secret() -> str:
    """A new signing secret: `whsec_` plus 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key of a secret: the base64-decoded part after `whsec_`."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError("A webhook secret must be whsec_ followed by base64.") from error


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One signature, `v1,<base64>`, over `{id}.{timestamp}.{body}`."""
    signed_content = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed_content, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def signature_header(
    signing_secrets: Iterable[str], message_id: str, timestamp: int, body: bytes
) -> str:
    """The `webhook-signature` value: one signature per secret, space-separated."""
    return " ".join(sign(secret, message_id, timestamp, body) for secret in signing_secrets)


def verify(secret: str, message_id: str, timestamp: int, body: bytes, header: str) -> bool:
    """True when any `v1` signature in `header` matches (constant-time comparison)."""
    expected = sign(secret, message_id, timestamp, body)
    return any(
        hmac.compare_digest(expected, candidate)
        for candidate in header.split()
        if candidate.startswith(f"{SIGNATURE_VERSION},")
    )
