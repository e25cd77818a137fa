from django.urls import reverse

from backroom.accounts.models import Membership, Role, User
from backroom.accounts.permissions import CATALOGUE
from backroom.accounts.services import grant_membership
from backroom.audit.models import AuditEntry
from backroom.events.models import OutboxEvent
from backroom.kernel.actors import SYSTEM
from backroom.testing.factories import PASSWORD, client_for, make_user
from backroom.web.tests.conftest import counts


def test_user_list_shows_users_in_scope_with_visible_roles(tree, django_assert_max_num_queries):
    manager = make_user("store_manager", tree.store_a, username="manager.a")
    make_user("store_staff", tree.store_a, username="staff.a")
    make_user("store_staff", tree.store_b, username="staff.b")
    make_user("hq_admin", tree.group, username="boss")
    client = client_for(manager)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("web:users"))
    assert response.status_code == 200
    people = list(response.context["people"])
    assert [p.username for p in people] == ["manager.a", "staff.a"]
    assert [(m.role.code, m.node.code) for p in people for m in p.visible_memberships] == [
        ("store_manager", "SHA001"),
        ("store_staff", "SHA001"),
    ]
    assert response.context["can_manage"] is False
    assert 'data-testid="new-user"' not in response.content.decode()


def test_user_list_query_count_does_not_grow_with_users(tree, django_assert_max_num_queries):
    admin = make_user("hq_admin", tree.group)
    for _ in range(15):
        make_user("store_staff", tree.store_b)
    client = client_for(admin)
    with django_assert_max_num_queries(10):
        assert client.get(reverse("web:users")).status_code == 200


def test_users_without_accounts_view_is_forbidden(tree):
    staff = make_user("store_staff", tree.store_a)
    assert client_for(staff).get(reverse("web:users")).status_code == 403


def test_user_of_another_store_is_not_found(tree):
    manager = make_user("store_manager", tree.store_a)
    other = make_user("store_staff", tree.store_b)
    assert client_for(manager).get(reverse("web:user_detail", args=[other.pk])).status_code == 404


def test_admin_grants_a_role(tree):
    admin = make_user("hq_admin", tree.group)
    person = make_user("store_staff", tree.store_a)
    before = counts()
    response = client_for(admin).post(
        reverse("web:user_grant", args=[person.pk]),
        {"role": Role.objects.get(code="store_manager").pk, "node": tree.store_b.pk},
    )
    assert response.status_code == 302
    membership = Membership.objects.get(user=person, role__code="store_manager")
    assert membership.node_id == tree.store_b.pk
    AuditEntry.objects.get(
        action="accounts.membership.grant", target_id=str(membership.pk), actor=admin
    )
    OutboxEvent.objects.get(
        event_type="accounts.membership.granted", payload__membership_id=membership.pk
    )
    after = counts()
    assert (after.memberships, after.audit) == (before.memberships + 1, before.audit + 1)


def test_grant_is_forbidden_without_accounts_manage(tree):
    manager = make_user("store_manager", tree.store_a)
    person = make_user("store_staff", tree.store_a)
    before = counts()
    response = client_for(manager).post(
        reverse("web:user_grant", args=[person.pk]),
        {"role": Role.objects.get(code="store_manager").pk, "node": tree.store_a.pk},
    )
    assert response.status_code == 403
    assert counts() == before


def test_grant_at_a_node_outside_scope_is_rejected(tree):
    region_admin = make_user("hq_admin", tree.region)
    person = make_user("store_staff", tree.store_a)
    before = counts()
    response = client_for(region_admin).post(
        reverse("web:user_grant", args=[person.pk]),
        {"role": Role.objects.get(code="store_staff").pk, "node": tree.store_hk.pk},
    )
    assert response.status_code == 422
    assert list(response.context["form"].errors) == ["node"]
    assert counts() == before


def test_granting_more_than_one_holds_is_refused(tree):
    region_manager = make_user("region_manager", tree.region)
    # A role holding accounts.manage but not everything it might grant (roles have no
    # service yet, so this catalogue row is made directly).
    custom = Role.objects.create(
        code="people", name="People admin", permissions=["accounts.manage"]
    )
    grant_membership(region_manager, custom, tree.region, actor=SYSTEM)
    person = make_user("store_staff", tree.store_a)
    before = counts()
    response = client_for(region_manager).post(
        reverse("web:user_grant", args=[person.pk]),
        {"role": Role.objects.get(code="hq_admin").pk, "node": tree.store_a.pk},
    )
    assert response.status_code == 403
    assert "You cannot grant" in response.content.decode()
    assert counts() == before


def test_admin_revokes_a_role(tree):
    admin = make_user("hq_admin", tree.group)
    person = make_user("store_staff", tree.store_a)
    membership = Membership.objects.get(user=person)
    response = client_for(admin).post(reverse("web:membership_revoke", args=[membership.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("web:user_detail", args=[person.pk])
    assert not Membership.objects.filter(pk=membership.pk).exists()
    entry = AuditEntry.objects.get(action="accounts.membership.revoke", actor=admin)
    assert entry.before["role_id"] == membership.role_id
    OutboxEvent.objects.get(event_type="accounts.membership.revoked")


def test_revoke_is_forbidden_or_not_found_and_changes_nothing(tree):
    manager = make_user("store_manager", tree.store_a)
    mine = Membership.objects.get(user=make_user("store_staff", tree.store_a))
    theirs = Membership.objects.get(user=make_user("store_staff", tree.store_b))
    region_admin = make_user("hq_admin", tree.region)
    hk = Membership.objects.get(user=make_user("store_staff", tree.store_hk))
    before = counts()
    client = client_for(manager)
    assert client.post(reverse("web:membership_revoke", args=[mine.pk])).status_code == 403
    assert client.post(reverse("web:membership_revoke", args=[theirs.pk])).status_code == 403
    response = client_for(region_admin).post(reverse("web:membership_revoke", args=[hk.pk]))
    assert response.status_code == 404
    assert counts() == before


def test_admin_creates_a_user_with_a_role(tree):
    admin = make_user("hq_admin", tree.group)
    before = counts()
    response = client_for(admin).post(
        reverse("web:user_create"),
        {
            "username": "li.na",
            "display_name": "李娜",
            "email": "li.na@example.com",
            "password": PASSWORD,
            "language": "zh-hans",
            "role": Role.objects.get(code="store_staff").pk,
            "node": tree.store_a.pk,
        },
    )
    person = User.objects.get(username="li.na")
    assert response.status_code == 302
    assert response["Location"] == reverse("web:user_detail", args=[person.pk])
    assert (person.display_name, person.language, person.check_password(PASSWORD)) == (
        "李娜",
        "zh-hans",
        True,
    )
    Membership.objects.get(user=person, role__code="store_staff", node=tree.store_a)
    AuditEntry.objects.get(action="accounts.user.create", target_id=str(person.pk))
    after = counts()
    assert (after.users, after.memberships, after.audit) == (
        before.users + 1,
        before.memberships + 1,
        before.audit + 2,
    )


def test_invalid_new_user_shows_every_error_and_changes_nothing(tree):
    admin = make_user("hq_admin", tree.group, username="taken")
    before = counts()
    response = client_for(admin).post(
        reverse("web:user_create"),
        {
            "username": "TAKEN",
            "password": "short",
            "role": Role.objects.get(code="store_staff").pk,
            "node": tree.store_a.pk,
        },
    )
    assert response.status_code == 422
    errors = response.context["form"].errors
    assert set(errors) == {"username", "password"}
    assert errors["username"] == ["This username is taken."]
    assert counts() == before


def test_new_user_is_forbidden_without_accounts_manage(tree):
    manager = make_user("store_manager", tree.store_a)
    before = counts()
    response = client_for(manager).post(
        reverse("web:user_create"), {"username": "x", "password": PASSWORD}
    )
    assert response.status_code == 403
    assert counts() == before


def test_roles_page_lists_roles_with_permission_labels(tree):
    response = client_for(make_user("store_staff", tree.store_a)).get(reverse("web:roles"))
    assert response.status_code == 200
    rows = {row["role"].code: row for row in response.context["rows"]}
    assert len(rows) == Role.objects.count()
    manager = rows["store_manager"]
    assert [p["code"] for p in manager["permissions"]] == manager["role"].permissions
    labels = {p["code"]: str(p["label"]) for p in manager["permissions"]}
    assert labels["org.view"] == "See the org tree and sites"
    assert labels["accounts.view"] == "See users and their roles"
    assert len(rows["hq_admin"]["permissions"]) == len(CATALOGUE)
    assert rows["hq_admin"]["is_everything"] is True
