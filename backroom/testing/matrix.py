"""The permission matrix: one request as four callers, and proof that denials changed nothing.

Every endpoint and page gets the same four rows (NetBox's pattern):

    ============  ==========================================  ===========================
    caller        API URL (``/api/...``)                      page URL
    ============  ==========================================  ===========================
    anonymous     401 ``not_authenticated``                   302 to the sign-in page
    forbidden     403 ``permission_denied`` (or 404 when the  403 (or 404)
                  caller may not even see the object; 200
                  with no items for a list)
    other_scope   404 ``not_found`` (store A asking about B)  404
    allowed       ``expect_allowed`` (200, 201...)            ``expect_allowed``
    ============  ==========================================  ===========================

Usage::

    from backroom.testing.matrix import assert_matrix

    def test_patch_site_matrix(tree):
        site = tree.store_a.site
        result = assert_matrix(
            "PATCH",
            f"/api/v1/org/sites/{site.pk}",
            payload={"name": "Renamed"},
            allowed=make_user("hq_admin", tree.region),
            forbidden=make_user("store_manager", tree.store_a),  # sees it, may not change it
            other_scope=make_user("hq_admin", tree.store_b),
            snapshot=lambda: Site.objects.filter(pk=site.pk).values_list("node__name"),
        )
        assert result.allowed.json()["name"] == "Renamed"

Callers are `User`s (signed in with a session through `Client.force_login`) or ready-made
`Client`s (e.g. `token_client_for(...)` for bearer tokens). `None` skips a row that does not
apply (say, a catalogue with no scope). The denied rows run first, in the order above, and
after each one `snapshot()` must return what it returned before, as must the counts of audit
entries and outbox events (always checked, so a denial that audits or publishes fails too).
The allowed row runs last and is not compared: the test asserts its whole effect itself.

API requests send `payload` as JSON; page requests send it form-encoded. The error codes of API
denials are asserted too (`not_authenticated`, `permission_denied`, `not_found`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import resolve_url
from django.test import Client

from backroom.accounts.models import User
from backroom.audit.models import AuditEntry
from backroom.events.models import OutboxEvent

Caller = User | Client | None

ERROR_CODES = {401: "not_authenticated", 403: "permission_denied", 404: "not_found"}


@dataclass
class MatrixResult:
    """The response each caller got (None for a skipped row)."""

    anonymous: HttpResponse
    forbidden: HttpResponse | None
    other_scope: HttpResponse | None
    allowed: HttpResponse | None


def client_of(caller: User | Client) -> Client:
    """A test client acting as `caller` (a signed-in session for a user)."""
    if isinstance(caller, Client):
        return caller
    client = Client()
    client.force_login(caller)
    return client


def send(client: Client, method: str, url: str, payload: Any = None) -> HttpResponse:
    """One request: JSON for the API, form-encoded for pages."""
    method = method.lower()
    call = getattr(client, method)
    if payload is None:
        return call(url)  # type: ignore[no-any-return]
    if url.startswith("/api/"):
        if method == "get":
            return call(url, payload)  # type: ignore[no-any-return]
        return call(url, json.dumps(payload), content_type="application/json")  # type: ignore[no-any-return]
    return call(url, payload)  # type: ignore[no-any-return]


def _world(snapshot: Callable[[], Any] | None) -> dict[str, Any]:
    state: dict[str, Any] = {
        "audit": AuditEntry.objects.count(),
        "outbox": OutboxEvent.objects.count(),
    }
    if snapshot is not None:
        value = snapshot()
        # Evaluate querysets now: a lazy queryset would compare as "changed" every time.
        state["snapshot"] = list(value) if hasattr(value, "_fetch_all") else value
    return state


def _check_denied(
    row: str,
    response: HttpResponse,
    expected: int,
    url: str,
    before: dict[str, Any],
    snapshot: Callable[[], Any] | None,
) -> None:
    body = response.content.decode(errors="replace")[:500]
    assert response.status_code == expected, (
        f"{row}: expected {expected}, got {response.status_code}: {body}"
    )
    if url.startswith("/api/") and expected in ERROR_CODES:
        assert json.loads(response.content)["code"] == ERROR_CODES[expected], f"{row}: {body}"
    after = _world(snapshot)
    assert after == before, f"{row}: a denied request changed something: {before} → {after}"


def assert_matrix(
    method: str,
    url: str,
    *,
    payload: Any = None,
    allowed: Caller,
    forbidden: Caller,
    other_scope: Caller,
    expect_allowed: int = 200,
    expect_forbidden: int = 403,
    expect_other_scope: int = 404,
    snapshot: Callable[[], Any] | None = None,
) -> MatrixResult:
    """Send one request as anonymous, forbidden, other-scope and allowed callers; see the module.

    `expect_forbidden` is 404 where a caller without the permission may not see the object, and
    200 for lists (which show such a caller nothing: assert the items on `result.forbidden`).
    `expect_other_scope` is 200 for lists likewise.
    """
    before = _world(snapshot)

    anonymous = send(Client(), method, url, payload)
    if url.startswith("/api/"):
        _check_denied("anonymous", anonymous, 401, url, before, snapshot)
    else:
        _check_denied("anonymous", anonymous, 302, url, before, snapshot)
        login = resolve_url(settings.LOGIN_URL)
        assert anonymous["Location"].startswith(login), anonymous["Location"]

    forbidden_response = None
    if forbidden is not None:
        forbidden_response = send(client_of(forbidden), method, url, payload)
        _check_denied("forbidden", forbidden_response, expect_forbidden, url, before, snapshot)

    other_response = None
    if other_scope is not None:
        other_response = send(client_of(other_scope), method, url, payload)
        _check_denied("other_scope", other_response, expect_other_scope, url, before, snapshot)

    allowed_response = None
    if allowed is not None:
        allowed_response = send(client_of(allowed), method, url, payload)
        body = allowed_response.content.decode(errors="replace")[:500]
        assert allowed_response.status_code == expect_allowed, (
            f"allowed: expected {expect_allowed}, got {allowed_response.status_code}: {body}"
        )
    return MatrixResult(anonymous, forbidden_response, other_response, allowed_response)
