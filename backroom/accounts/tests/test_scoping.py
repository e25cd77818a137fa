import datetime as dt

import pytest
from django.utils import timezone

from backroom.accounts.exceptions import InvalidCredentials, LoginThrottled
from backroom.accounts.models import ApiToken, Role
from backroom.accounts.services import (
    authenticate_token,
    create_api_token,
    revoke_api_token,
    sign_in,
)
from backroom.kernel.exceptions import PermissionDenied
from backroom.org.models import OrgNode, Site
from backroom.org.selectors import sites_for
from backroom.testing.factories import PASSWORD, make_user


def codes(queryset):
    return sorted(site.node.code for site in queryset)


def test_a_role_covers_its_subtree(tree):
    region_manager = make_user("region_manager", tree.region)
    manager = make_user("store_manager", tree.store_a)
    admin = make_user("hq_admin", tree.group)
    assert codes(sites_for(region_manager)) == ["SHA001", "SHA002"]
    assert codes(sites_for(manager)) == ["SHA001"]
    assert codes(sites_for(admin)) == ["HKG001", "SHA001", "SHA002"]
    assert codes(Site.objects.restrict(manager, "org.manage")) == []


def test_no_role_sees_nothing_and_anonymous_sees_nothing(tree):
    from django.contrib.auth.models import AnonymousUser

    nobody = make_user()
    assert list(OrgNode.objects.restrict(nobody, "org.view")) == []
    assert list(OrgNode.objects.restrict(AnonymousUser(), "org.view")) == []


def test_inactive_user_sees_nothing(tree):
    manager = make_user("store_manager", tree.store_a)
    manager.is_active = False
    assert manager.scope_paths("org.view") == []


def test_overlapping_grants_collapse_to_the_widest(tree):
    user = make_user("store_manager", tree.store_a)
    from backroom.accounts.services import grant_membership
    from backroom.kernel.actors import SYSTEM

    grant_membership(user, Role.objects.get(code="region_manager"), tree.region, actor=SYSTEM)
    assert user.scope_paths("org.view") == [tree.region.path]


def test_token_is_narrowed_to_its_role_and_node(tree):
    admin = make_user("hq_admin", tree.group)
    issued = create_api_token(
        actor=admin, name="pos", role=Role.objects.get(code="store_staff"), node=tree.store_a
    )
    assert issued.raw.startswith("brt_")
    assert ApiToken.objects.get(pk=issued.token.pk).token_hash != issued.raw
    token = authenticate_token(issued.raw)
    user = token.user
    user._api_token = token
    assert user.scope_paths("org.view") == [tree.store_a.path]
    assert (
        user.scope_paths("org.manage") == []
    )  # store staff cannot manage, even for an admin's token


def test_token_cannot_exceed_its_user(tree):
    manager = make_user("store_manager", tree.store_a)
    with pytest.raises(PermissionDenied):
        create_api_token(
            actor=manager, name="x", role=Role.objects.get(code="hq_admin"), node=tree.store_a
        )
    assert ApiToken.objects.count() == 0


def test_expired_revoked_and_forged_tokens_are_refused(tree):
    admin = make_user("hq_admin", tree.group)
    role = Role.objects.get(code="store_staff")
    issued = create_api_token(actor=admin, name="a", role=role, node=tree.store_a)
    assert authenticate_token(issued.raw + "x") is None
    assert authenticate_token("brt_nope_nope") is None
    ApiToken.objects.filter(pk=issued.token.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    assert authenticate_token(issued.raw) is None
    other = create_api_token(actor=admin, name="b", role=role, node=tree.store_a)
    revoke_api_token(other.token, actor=admin)
    assert authenticate_token(other.raw) is None


def test_sign_in_throttles_after_repeated_failures(tree, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    user = make_user("store_manager", tree.store_a, username="wang")
    for _ in range(3):
        with pytest.raises(InvalidCredentials):
            sign_in(None, "wang", "wrong")
    with pytest.raises(LoginThrottled):
        sign_in(None, "WANG", PASSWORD)  # even the right password, until the window passes
    from django.core.cache import cache

    cache.clear()
    assert sign_in(None, "wang", PASSWORD) == user


def test_tokens_whose_secret_contains_underscores_authenticate(tree, monkeypatch):
    """Regression: the secret is URL-safe base64 and may itself contain "_"."""
    import secrets

    monkeypatch.setattr(secrets, "token_urlsafe", lambda n: "a_b_c" + "x" * 38)
    admin = make_user("hq_admin", tree.group)
    issued = create_api_token(
        actor=admin, name="u", role=Role.objects.get(code="store_staff"), node=tree.store_a
    )
    assert authenticate_token(issued.raw).pk == issued.token.pk


def test_root_holders_see_users_without_a_role_and_others_do_not(tree):
    from backroom.accounts.selectors import users_for

    newcomer = make_user()
    hq = make_user("hq_operations", tree.group)
    region = make_user("region_manager", tree.region)
    assert newcomer in users_for(hq)
    assert newcomer not in users_for(region)


def test_paths_are_zero_padded_so_ordering_is_tree_order(tree):
    assert tree.store_a.path == "".join(f"/{pk:010d}" for pk in tree.store_a.ancestor_ids()) + "/"
    assert tree.store_a.ancestor_ids()[-1] == tree.store_a.pk
    ordered = list(OrgNode.objects.order_by("path").values_list("code", flat=True))
    assert ordered == ["GRP", "CN-CO", "EAST", "SHA001", "SHA002", "HK-CO", "HKG001"]


def test_shipped_roles_gain_later_apps_permissions(db):
    roles = {role.code: set(role.permissions) for role in Role.objects.all()}
    assert {"catalog.view", "inventory.view", "inventory.move", "inventory.count"} <= roles[
        "store_staff"
    ]
    assert {"catalog.view", "catalog.manage", "inventory.move"} <= roles["buyer"]
    assert "inventory.view" not in roles["technician"]
    assert roles["hq_admin"] == {"*"}
