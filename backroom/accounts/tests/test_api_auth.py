"""How callers authenticate: bearer tokens (valid, expired, revoked, scoped) and CSRF on sessions."""

import datetime as dt

from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from backroom.accounts import services
from backroom.accounts.models import ApiToken, Membership, Role
from backroom.kernel.actors import SYSTEM
from backroom.org.models import Brand, Site
from backroom.testing.factories import make_user
from backroom.testing.matrix import assert_matrix

ME = "/api/v1/accounts/me"
SITES = "/api/v1/org/sites"


def _issue(user, role_code, node):
    return services.create_api_token(
        actor=user, name="test", role=Role.objects.get(code=role_code), node=node
    )


def _bearer(raw):
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def test_valid_token_authenticates_and_marks_use(tree):
    user = make_user("hq_admin", tree.group)
    issued = _issue(user, "hq_admin", tree.group)
    response = _bearer(issued.raw).get(ME)
    assert response.status_code == 200
    assert response.json()["id"] == user.pk
    assert ApiToken.objects.get(pk=issued.token.pk).last_used_at is not None


def test_expired_revoked_and_malformed_tokens_are_refused_with_invalid_token(tree):
    user = make_user("hq_admin", tree.group)
    expired = _issue(user, "hq_admin", tree.group)
    ApiToken.objects.filter(pk=expired.token.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    revoked = _issue(user, "hq_admin", tree.group)
    services.revoke_api_token(revoked.token, actor=user)
    deactivated_user = make_user("hq_admin", tree.group)
    of_deactivated = _issue(deactivated_user, "hq_admin", tree.group)
    services.set_user_active(deactivated_user, False, actor=SYSTEM)
    for raw in (
        expired.raw,
        revoked.raw,
        of_deactivated.raw,
        "brt_nope_nope",
        expired.raw[:-1] + "x",
    ):
        response = _bearer(raw).get(ME)
        assert response.status_code == 401, raw
        assert response.json()["code"] == "invalid_token"


def test_a_refused_token_writes_nothing(tree):
    user = make_user("hq_admin", tree.group)
    revoked = _issue(user, "hq_admin", tree.group)
    services.revoke_api_token(revoked.token, actor=user)
    response = _bearer(revoked.raw).post(
        "/api/v1/org/brands", {"code": "X", "name": "X"}, content_type="application/json"
    )
    assert response.status_code == 401
    assert Brand.objects.count() == 0


def test_token_scoped_to_store_a_cannot_read_store_b(tree):
    admin = make_user("hq_admin", tree.group)
    client = _bearer(_issue(admin, "store_manager", tree.store_a).raw)
    assert [row["code"] for row in client.get(SITES).json()["items"]] == ["SHA001"]
    assert client.get(f"{SITES}/{tree.store_a.site.pk}").status_code == 200
    response = client.get(f"{SITES}/{tree.store_b.site.pk}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_token_carries_its_role_not_the_users_other_roles(tree):
    admin = make_user("hq_admin", tree.group)
    client = _bearer(_issue(admin, "store_manager", tree.store_a).raw)
    # the user is an HQ admin, but this token only holds store_manager (no org.manage)
    response = client.patch(
        f"{SITES}/{tree.store_a.site.pk}", {"name": "Nope"}, content_type="application/json"
    )
    assert response.status_code == 403
    tree.store_a.refresh_from_db()
    assert tree.store_a.name != "Nope"


def test_token_never_exceeds_its_users_grants(tree):
    user = make_user("hq_admin", tree.region)
    client = _bearer(_issue(user, "store_manager", tree.store_a).raw)
    assert client.get(f"{SITES}/{tree.store_a.site.pk}").status_code == 200
    # the user loses the role the token was cut from: the token loses it too
    services.revoke_membership(Membership.objects.get(user=user), actor=SYSTEM)
    assert client.get(f"{SITES}/{tree.store_a.site.pk}").status_code == 404
    assert client.get(SITES).json()["count"] == 0


def test_superuser_tokens_are_still_scoped(tree):
    user = make_user("store_manager", tree.store_a)
    type(user).objects.filter(pk=user.pk).update(is_superuser=True)
    user.refresh_from_db()
    client = _bearer(_issue(user, "store_manager", tree.store_a).raw)
    assert [row["code"] for row in client.get(SITES).json()["items"]] == ["SHA001"]


def test_session_writes_need_the_csrf_token(tree):
    admin = make_user("hq_admin", tree.group)
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    assert client.get(ME).status_code == 200  # reads need no CSRF token
    refused = client.post(
        "/api/v1/org/brands", {"code": "NOODLE", "name": "Noodle"}, content_type="application/json"
    )
    assert refused.status_code == 403
    assert Brand.objects.count() == 0
    secret = _get_new_csrf_string()
    client.cookies["csrftoken"] = secret
    accepted = client.post(
        "/api/v1/org/brands",
        {"code": "NOODLE", "name": "Noodle"},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=secret,
    )
    assert accepted.status_code == 201
    assert Brand.objects.get().code == "NOODLE"


def test_bearer_writes_need_no_csrf_token(tree):
    admin = make_user("hq_admin", tree.group)
    client = Client(
        enforce_csrf_checks=True,
        HTTP_AUTHORIZATION=f"Bearer {_issue(admin, 'hq_admin', tree.group).raw}",
    )
    response = client.post(
        "/api/v1/org/brands", {"code": "NOODLE", "name": "Noodle"}, content_type="application/json"
    )
    assert response.status_code == 201


def test_request_id_is_echoed(tree):
    admin = make_user("hq_admin", tree.group)
    client = _bearer(_issue(admin, "hq_admin", tree.group).raw)
    response = client.get(ME, HTTP_X_REQUEST_ID="req-12345678")
    assert response["X-Request-ID"] == "req-12345678"
    assert len(client.get(ME)["X-Request-ID"]) == 32


def test_matrix_with_token_callers(tree):
    """The matrix helper takes ready-made clients too: here, tokens cut for each row."""
    admin = make_user("hq_admin", tree.group)
    site_a = tree.store_a.site
    result = assert_matrix(
        "PATCH",
        f"{SITES}/{site_a.pk}",
        payload={"city": "Suzhou"},
        allowed=_bearer(_issue(admin, "hq_admin", tree.store_a).raw),
        forbidden=_bearer(_issue(admin, "store_manager", tree.store_a).raw),
        other_scope=_bearer(_issue(admin, "hq_admin", tree.store_b).raw),
        snapshot=lambda: Site.objects.filter(pk=site_a.pk).values_list("city"),
    )
    assert result.allowed.json()["city"] == "Suzhou"


def test_matrix_on_a_page_redirects_anonymous_callers_to_sign_in(tree):
    result = assert_matrix(
        "GET",
        reverse("web:home"),
        allowed=make_user("store_staff", tree.store_a),
        forbidden=None,
        other_scope=None,
    )
    assert "SHA001" in result.allowed.content.decode()
