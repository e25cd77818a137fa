"""Accounts API: users, memberships, roles, tokens — permission matrix and whole effect."""

import pytest

from backroom.accounts.models import ApiToken, Membership, Role, User
from backroom.audit.models import AuditEntry
from backroom.events.models import OutboxEvent
from backroom.testing.factories import PASSWORD, client_for, make_user
from backroom.testing.matrix import assert_matrix

API = "/api/v1/accounts"


@pytest.fixture
def people(tree):
    return {
        "hq": make_user("hq_admin", tree.group, username="hq"),
        "region_admin": make_user("hq_admin", tree.region, username="region-admin"),
        "region_manager": make_user("region_manager", tree.region, username="region-manager"),
        "staff_a": make_user("store_staff", tree.store_a, username="staff-a"),
        "admin_b": make_user("hq_admin", tree.store_b, username="admin-b"),
        "staff_b": make_user("store_staff", tree.store_b, username="staff-b"),
        "nobody": make_user(username="nobody"),
    }


def _usernames(response):
    return [row["username"] for row in response.json()["items"]]


def _state():
    return (
        User.objects.count(),
        Membership.objects.count(),
        ApiToken.objects.count(),
        sorted(User.objects.values_list("username", "display_name", "email", "is_active")),
    )


# --- me and roles ----------------------------------------------------------------------------


def test_me_shows_the_caller_and_their_roles(tree, people):
    result = assert_matrix(
        "GET", f"{API}/me", allowed=people["staff_a"], forbidden=None, other_scope=None
    )
    membership = Membership.objects.get(user=people["staff_a"])
    assert result.allowed.json() == {
        "id": people["staff_a"].pk,
        "username": "staff-a",
        "display_name": "",
        "language": "",
        "memberships": [
            {
                "id": membership.pk,
                "user_id": people["staff_a"].pk,
                "role": "store_staff",
                "node_id": tree.store_a.pk,
                "node_code": "SHA001",
            }
        ],
    }


def test_roles_are_listed_for_every_signed_in_user(tree, people):
    result = assert_matrix(
        "GET", f"{API}/roles", allowed=people["nobody"], forbidden=None, other_scope=None
    )
    codes = [row["code"] for row in result.allowed.json()["items"]]
    assert codes == sorted(Role.objects.values_list("code", flat=True))
    hq_admin = next(row for row in result.allowed.json()["items"] if row["code"] == "hq_admin")
    assert hq_admin["permissions"] == ["*"]
    assert hq_admin["is_system"] is True


# --- users -----------------------------------------------------------------------------------


def test_list_users_matrix(tree, people):
    result = assert_matrix(
        "GET",
        f"{API}/users",
        allowed=people["region_manager"],
        forbidden=people["nobody"],
        other_scope=people["admin_b"],
        expect_forbidden=200,
        expect_other_scope=200,
    )
    assert _usernames(result.allowed) == [
        "admin-b",
        "region-admin",
        "region-manager",
        "staff-a",
        "staff-b",
    ]
    assert _usernames(result.forbidden) == ["nobody"]  # only themselves
    assert _usernames(result.other_scope) == ["admin-b", "staff-b"]
    staff = next(row for row in result.allowed.json()["items"] if row["username"] == "staff-a")
    assert [m["node_code"] for m in staff["memberships"]] == ["SHA001"]


def test_list_users_filters(tree, people):
    client = client_for(people["hq"])
    assert _usernames(client.get(f"{API}/users", {"role": "store_staff"})) == [
        "staff-a",
        "staff-b",
    ]
    assert _usernames(client.get(f"{API}/users", {"node_id": tree.store_b.pk})) == [
        "admin-b",
        "staff-b",
    ]
    assert _usernames(client.get(f"{API}/users", {"search": "REGION"})) == [
        "region-admin",
        "region-manager",
    ]
    people["staff_b"].is_active = False
    User.objects.filter(pk=people["staff_b"].pk).update(is_active=False)
    assert _usernames(client.get(f"{API}/users", {"is_active": "false"})) == ["staff-b"]


def test_get_user_matrix(tree, people):
    target = people["staff_a"]
    result = assert_matrix(
        "GET",
        f"{API}/users/{target.pk}",
        allowed=people["region_manager"],
        forbidden=people["nobody"],
        other_scope=people["admin_b"],
        expect_forbidden=404,
    )
    body = result.allowed.json()
    assert (body["id"], body["username"], body["is_active"]) == (target.pk, "staff-a", True)


def test_create_user_with_first_role_matrix_and_whole_effect(tree, people):
    payload = {
        "username": "new-cook",
        "password": PASSWORD,
        "display_name": "New Cook",
        "email": "cook@example.com",
        "language": "zh-hans",
        "role": "store_staff",
        "node_id": tree.store_a.pk,
    }
    result = assert_matrix(
        "POST",
        f"{API}/users",
        payload=payload,
        allowed=people["region_admin"],
        forbidden=people["region_manager"],
        other_scope=people["admin_b"],
        expect_allowed=201,
        snapshot=_state,
    )
    user = User.objects.get(username="new-cook")
    assert user.check_password(PASSWORD)
    assert (user.display_name, user.email, user.language) == (
        "New Cook",
        "cook@example.com",
        "zh-hans",
    )
    membership = Membership.objects.get(user=user)
    assert (membership.role.code, membership.node_id) == ("store_staff", tree.store_a.pk)
    body = result.allowed.json()
    assert body["id"] == user.pk
    assert "password" not in body
    assert [m["id"] for m in body["memberships"]] == [membership.pk]
    assert AuditEntry.objects.get(action="accounts.user.create", target_id=str(user.pk))
    assert AuditEntry.objects.get(action="accounts.membership.grant", target_id=str(membership.pk))
    assert OutboxEvent.objects.get(event_type="accounts.user.created", payload__user_id=user.pk)
    assert OutboxEvent.objects.get(
        event_type="accounts.membership.granted", payload__membership_id=membership.pk
    )


def test_create_user_reports_every_problem_at_once(tree, people):
    before = _state()
    response = client_for(people["hq"]).post(
        f"{API}/users",
        {"username": "staff-a", "password": "short", "language": "xx", "role": "store_staff"},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid"
    assert set(response.json()["details"]["fields"]) == {"username", "password", "language", "role"}
    assert _state() == before


def test_create_user_with_unknown_role_is_a_field_error(tree, people):
    response = client_for(people["hq"]).post(
        f"{API}/users",
        {"username": "x-user", "password": PASSWORD, "role": "emperor", "node_id": tree.group.pk},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert set(response.json()["details"]["fields"]) == {"role"}


def test_patch_user_matrix_and_whole_effect(tree, people):
    target = people["staff_a"]
    manager = people["region_manager"]
    result = assert_matrix(
        "PATCH",
        f"{API}/users/{target.pk}",
        payload={
            "display_name": "Ada",
            "email": "ada@example.com",
            "language": "en",
            "manager_id": manager.pk,
            "reason": "onboarding",
        },
        allowed=people["region_admin"],
        forbidden=people["region_manager"],
        other_scope=people["admin_b"],
        snapshot=lambda: User.objects.filter(pk=target.pk).values_list(
            "display_name", "email", "language", "manager_id"
        ),
    )
    target.refresh_from_db()
    assert (target.display_name, target.email, target.language, target.manager_id) == (
        "Ada",
        "ada@example.com",
        "en",
        manager.pk,
    )
    body = result.allowed.json()
    assert (body["display_name"], body["manager_id"]) == ("Ada", manager.pk)
    entry = AuditEntry.objects.get(action="accounts.user.update")
    assert entry.before == {"display_name": "", "email": "", "language": "", "manager_id": None}
    assert entry.after["manager_id"] == manager.pk
    assert entry.reason == "onboarding"
    assert entry.org_node_id == tree.store_a.pk
    event = OutboxEvent.objects.get(event_type="accounts.user.updated")
    assert event.payload == {
        "user_id": target.pk,
        "username": "staff-a",
        "changed": ["display_name", "email", "language", "manager_id"],
    }


def test_patch_user_only_changes_what_is_sent_and_clears_manager_with_null(tree, people):
    target = people["staff_a"]
    client = client_for(people["hq"])
    client.patch(
        f"{API}/users/{target.pk}",
        {"display_name": "Ada", "manager_id": people["hq"].pk},
        content_type="application/json",
    )
    response = client.patch(
        f"{API}/users/{target.pk}", {"manager_id": None}, content_type="application/json"
    )
    assert response.status_code == 200
    target.refresh_from_db()
    assert (target.display_name, target.manager_id) == ("Ada", None)


def test_patch_user_reports_every_problem_at_once(tree, people):
    target = people["staff_a"]
    before = _state()
    audits = AuditEntry.objects.count()
    response = client_for(people["hq"]).patch(
        f"{API}/users/{target.pk}",
        {"email": "not-an-email", "language": "xx", "manager_id": target.pk},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert set(response.json()["details"]["fields"]) == {"email", "language", "manager_id"}
    assert _state() == before
    assert AuditEntry.objects.count() == audits


def test_deactivate_and_reactivate_matrix_and_whole_effect(tree, people):
    target = people["staff_a"]
    result = assert_matrix(
        "POST",
        f"{API}/users/{target.pk}/deactivate",
        payload={"reason": "left"},
        allowed=people["region_admin"],
        forbidden=people["region_manager"],
        other_scope=people["admin_b"],
        snapshot=_state,
    )
    assert result.allowed.json()["is_active"] is False
    target.refresh_from_db()
    assert target.is_active is False
    entry = AuditEntry.objects.get(action="accounts.user.deactivate")
    assert (entry.before, entry.after, entry.reason) == (
        {"is_active": True},
        {"is_active": False},
        "left",
    )
    result = assert_matrix(
        "POST",
        f"{API}/users/{target.pk}/reactivate",
        payload={},
        allowed=people["region_admin"],
        forbidden=people["region_manager"],
        other_scope=people["admin_b"],
        snapshot=_state,
    )
    assert result.allowed.json()["is_active"] is True
    assert AuditEntry.objects.get(action="accounts.user.activate").after == {"is_active": True}


# --- memberships -----------------------------------------------------------------------------


def test_list_memberships_matrix_and_filters(tree, people):
    result = assert_matrix(
        "GET",
        f"{API}/memberships",
        allowed=people["region_manager"],
        forbidden=people["nobody"],
        other_scope=people["admin_b"],
        expect_forbidden=200,
        expect_other_scope=200,
    )
    rows = result.allowed.json()["items"]
    assert sorted((row["node_code"], row["role"]) for row in rows) == [
        ("EAST", "hq_admin"),
        ("EAST", "region_manager"),
        ("SHA001", "store_staff"),
        ("SHA002", "hq_admin"),
        ("SHA002", "store_staff"),
    ]
    assert result.forbidden.json()["count"] == 0
    assert {row["node_code"] for row in result.other_scope.json()["items"]} == {"SHA002"}
    client = client_for(people["hq"])
    only = client.get(f"{API}/memberships", {"user_id": people["staff_a"].pk}).json()["items"]
    assert [row["user_id"] for row in only] == [people["staff_a"].pk]
    staff = client.get(f"{API}/memberships", {"role": "store_staff"}).json()
    assert staff["count"] == 2


def test_grant_membership_matrix_and_whole_effect(tree, people):
    target = people["staff_a"]
    result = assert_matrix(
        "POST",
        f"{API}/memberships",
        payload={"user_id": target.pk, "role": "store_manager", "node_id": tree.store_a.pk},
        allowed=people["region_admin"],
        forbidden=people["region_manager"],
        other_scope=people["admin_b"],
        expect_allowed=201,
        snapshot=lambda: Membership.objects.count(),
    )
    membership = Membership.objects.get(user=target, role__code="store_manager")
    assert result.allowed.json() == {
        "id": membership.pk,
        "user_id": target.pk,
        "role": "store_manager",
        "node_id": tree.store_a.pk,
        "node_code": "SHA001",
    }
    assert AuditEntry.objects.get(action="accounts.membership.grant", target_id=str(membership.pk))
    assert OutboxEvent.objects.get(
        event_type="accounts.membership.granted", payload__membership_id=membership.pk
    )


def test_cannot_grant_a_role_with_permissions_one_does_not_hold(tree, people):
    granter = make_user("hq_operations", tree.group)
    # hq_operations lacks accounts.manage altogether
    response = client_for(granter).post(
        f"{API}/memberships",
        {"user_id": people["staff_a"].pk, "role": "hq_admin", "node_id": tree.store_a.pk},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert not Membership.objects.filter(user=people["staff_a"], role__code="hq_admin").exists()


def test_revoke_membership_matrix_and_whole_effect(tree, people):
    membership = Membership.objects.get(user=people["staff_a"])
    result = assert_matrix(
        "DELETE",
        f"{API}/memberships/{membership.pk}?reason=moved",
        allowed=people["region_admin"],
        forbidden=people["region_manager"],
        other_scope=people["admin_b"],
        snapshot=lambda: Membership.objects.count(),
    )
    assert result.allowed.json()["id"] == membership.pk
    assert not Membership.objects.filter(pk=membership.pk).exists()
    entry = AuditEntry.objects.get(action="accounts.membership.revoke")
    assert (entry.target_id, entry.reason) == (str(membership.pk), "moved")
    assert OutboxEvent.objects.get(
        event_type="accounts.membership.revoked", payload__membership_id=membership.pk
    )


# --- API tokens ------------------------------------------------------------------------------


def test_create_token_returns_the_raw_value_once(tree, people):
    integrator = make_user("integration", tree.store_a)
    result = assert_matrix(
        "POST",
        f"{API}/tokens",
        payload={"name": "POS bridge", "role": "integration", "node_id": tree.store_a.pk},
        allowed=integrator,
        forbidden=people["staff_a"],  # lacks accounts.manage_own_tokens
        other_scope=make_user("integration", tree.store_b),
        expect_allowed=201,
        snapshot=lambda: ApiToken.objects.count(),
    )
    body = result.allowed.json()
    token = ApiToken.objects.get(user=integrator)
    assert body["id"] == token.pk
    assert body["token"].startswith(f"brt_{token.prefix}_")
    assert (body["role"], body["node_id"], body["revoked_at"]) == (
        "integration",
        tree.store_a.pk,
        None,
    )
    assert body["token"] not in str(
        AuditEntry.objects.get(action="accounts.api_token.create").after
    )
    assert OutboxEvent.objects.get(
        event_type="accounts.api_token.created", payload__token_id=token.pk
    )
    listed = client_for(integrator).get(f"{API}/tokens").json()
    assert [row["id"] for row in listed["items"]] == [token.pk]
    assert "token" not in listed["items"][0]


def test_token_role_never_exceeds_the_users_grants(tree, people):
    integrator = make_user("integration", tree.store_a)
    response = client_for(integrator).post(
        f"{API}/tokens",
        {"name": "too much", "role": "hq_admin", "node_id": tree.store_a.pk},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert ApiToken.objects.count() == 0


def test_list_tokens_shows_only_ones_own(tree, people):
    mine = make_user("integration", tree.store_a)
    theirs = make_user("integration", tree.store_a)
    for user in (mine, theirs):
        client_for(user).post(
            f"{API}/tokens",
            {"name": "t", "role": "integration", "node_id": tree.store_a.pk},
            content_type="application/json",
        )
    result = assert_matrix(
        "GET",
        f"{API}/tokens",
        allowed=mine,
        forbidden=people["nobody"],
        other_scope=None,
        expect_forbidden=200,
    )
    assert [row["id"] for row in result.allowed.json()["items"]] == [
        ApiToken.objects.get(user=mine).pk
    ]
    assert result.forbidden.json()["count"] == 0


def test_revoke_token_matrix_and_whole_effect(tree, people):
    owner = make_user("integration", tree.store_a)
    created = (
        client_for(owner)
        .post(
            f"{API}/tokens",
            {"name": "t", "role": "integration", "node_id": tree.store_a.pk},
            content_type="application/json",
        )
        .json()
    )
    result = assert_matrix(
        "POST",
        f"{API}/tokens/{created['id']}/revoke",
        allowed=owner,
        forbidden=people["hq"],  # even an HQ admin cannot revoke someone else's token here
        other_scope=make_user("integration", tree.store_b),
        expect_forbidden=404,
        snapshot=lambda: list(ApiToken.objects.values_list("revoked_at", flat=True)),
    )
    token = ApiToken.objects.get(pk=created["id"])
    assert token.revoked_at is not None
    assert result.allowed.json()["revoked_at"] is not None
    assert AuditEntry.objects.get(action="accounts.api_token.revoke").target_id == str(token.pk)
    assert OutboxEvent.objects.get(
        event_type="accounts.api_token.revoked", payload__token_id=token.pk
    )
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {created['token']}"}
    assert client_for(None).get(f"{API}/me", **bearer).json()["code"] == "invalid_token"


# --- query counts ----------------------------------------------------------------------------


def test_list_endpoints_do_not_grow_queries_with_rows(tree, people, django_assert_max_num_queries):
    for number in range(10):
        make_user("store_staff", tree.store_a, username=f"cook-{number}")
    client = client_for(people["hq"])
    client.get(f"{API}/me")  # warm the session
    for url in ("users", "memberships", "roles", "tokens", "me"):
        with django_assert_max_num_queries(8):
            response = client.get(f"{API}/{url}")
        assert response.status_code == 200
