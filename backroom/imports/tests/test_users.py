"""Users import: users created and roles granted through the accounts services; details checked
across a user's rows; nothing is ever revoked; export → import round-trips."""

from __future__ import annotations

import pytest
from django.utils import translation

from backroom.accounts.models import Membership, Role, User
from backroom.accounts.services import grant_membership
from backroom.audit.models import AuditEntry
from backroom.events.models import OutboxEvent
from backroom.imports.models import ImportStatus
from backroom.imports.services import export_file, get_importer, import_file, template_workbook
from backroom.imports.testing import problem_codes, run_import
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import PermissionDenied
from backroom.testing.factories import make_user

HEADER = ["Username", "Role code", "Org node code", "Display name", "Email", "Language", "Active"]

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(tree):
    return make_user("hq_admin", tree.group, username="admin")


def new_rows() -> list[list]:
    return [
        ["li.wei", "store_manager", "SHA001", "李伟", "li.wei@example.com", "中文", "yes"],
        ["li.wei", "store_staff", "sha002", "", "", "", ""],
        ["amy", "STORE_STAFF", "SHA001", "Amy", "", "en", "no"],
    ]


def roles_of(username: str) -> set[tuple[str, str]]:
    return set(
        Membership.objects.filter(user__username=username).values_list("role__code", "node__code")
    )


def test_creates_then_reimport_changes_nothing_then_updates_and_never_revokes(tree, admin):
    users_before = User.objects.count()
    job = run_import("users", HEADER, new_rows(), actor=admin)
    assert job.status == ImportStatus.APPLIED, job.problems
    assert (job.created_count, job.updated_count, job.unchanged_count) == (3, 0, 0)
    assert User.objects.count() == users_before + 2
    li = User.objects.get(username="li.wei")
    assert (li.display_name, li.email, li.language, li.is_active) == (
        "李伟",
        "li.wei@example.com",
        "zh-hans",
        True,
    )
    assert li.has_usable_password()  # a random one nobody knows
    assert roles_of("li.wei") == {("store_manager", "SHA001"), ("store_staff", "SHA002")}
    amy = User.objects.get(username="amy")
    assert (amy.display_name, amy.language, amy.is_active) == ("Amy", "en", False)
    assert roles_of("amy") == {("store_staff", "SHA001")}
    assert AuditEntry.objects.filter(action="accounts.user.create", actor=admin).count() == 2
    assert AuditEntry.objects.filter(action="accounts.membership.grant", actor=admin).count() == 3
    assert AuditEntry.objects.filter(action="accounts.user.deactivate", actor=admin).count() == 1
    granted = OutboxEvent.objects.filter(event_type="accounts.membership.granted").count()

    again = run_import("users", HEADER, new_rows(), actor=admin, file_type="csv")
    assert again.status == ImportStatus.APPLIED, again.problems
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 3)
    assert User.objects.count() == users_before + 2
    assert Membership.objects.filter(user__username__in=["li.wei", "amy"]).count() == 3
    assert OutboxEvent.objects.filter(event_type="accounts.membership.granted").count() == granted

    edited = [
        ["li.wei", "store_manager", "SHA001", "Li Wei", "", "", ""],  # li.wei's SHA002 row left out
        ["amy", "store_staff", "SHA001", "", "amy@example.com", "", "yes"],
        ["amy", "store_staff", "SHA002", "", "", "", "1"],
    ]
    updated = run_import("users", HEADER, edited, actor=admin)
    assert updated.status == ImportStatus.APPLIED, updated.problems
    assert (updated.created_count, updated.updated_count, updated.unchanged_count) == (1, 2, 0)
    assert updated.changes == [
        {
            "row": 2,
            "action": "updated",
            "key": "li.wei/store_manager/SHA001",
            "fields": ["display_name"],
        },
        {
            "row": 3,
            "action": "updated",
            "key": "amy/store_staff/SHA001",
            "fields": ["email", "is_active"],
        },
        {"row": 4, "action": "created", "key": "amy/store_staff/SHA002", "fields": []},
    ]
    li.refresh_from_db()
    amy.refresh_from_db()
    assert (li.display_name, li.email) == ("Li Wei", "li.wei@example.com")
    assert (amy.email, amy.is_active) == ("amy@example.com", True)
    assert roles_of("li.wei") == {("store_manager", "SHA001"), ("store_staff", "SHA002")}
    assert roles_of("amy") == {("store_staff", "SHA001"), ("store_staff", "SHA002")}
    assert AuditEntry.objects.filter(action="accounts.user.update", actor=admin).count() == 2
    assert AuditEntry.objects.filter(action="accounts.user.activate", actor=admin).count() == 1
    assert not AuditEntry.objects.filter(action="accounts.membership.revoke").exists()


def test_export_then_import_changes_nothing(tree, admin):
    run_import("users", HEADER, new_rows(), actor=admin)
    make_user("store_staff", tree.store_hk, username="hk.staff")
    memberships, users = Membership.objects.count(), User.objects.count()
    data = export_file("users", actor=admin, file_type="xlsx")
    job = import_file("users", "users.xlsx", data, actor=admin, dry_run=False)
    assert job.status == ImportStatus.APPLIED, job.problems
    assert (job.created_count, job.updated_count, job.unchanged_count) == (0, 0, memberships)
    assert (Membership.objects.count(), User.objects.count()) == (memberships, users)


def test_dry_run_reports_every_problem_and_changes_nothing(tree, admin):
    users, memberships = User.objects.count(), Membership.objects.count()
    rows = [
        ["cook", "chef", "SHA001", "", "", "", ""],  # 2
        ["cook2", "store_staff", "NOPE", "", "", "", ""],  # 3
        ["cook3", "store_staff", "SHA001", "", "not-an-email", "fr", "maybe"],  # 4
        ["bad user!", "store_staff", "SHA001", "", "", "", ""],  # 5
        ["twice", "store_staff", "SHA001", "Tom", "", "", ""],  # 6
        ["twice", "store_staff", "SHA002", "Thomas", "", "", ""],  # 7
        ["twice", "store_staff", "sha001", "", "", "", ""],  # 8
        ["cook4", "", "SHA001", "", "", "", ""],  # 9
        ["admin", "store_staff", "SHA001", "", "", "", "no"],  # 10: fine
    ]
    job = run_import("users", HEADER, rows, actor=admin, dry_run=True)
    assert job.status == ImportStatus.INVALID
    assert sorted(problem_codes(job)) == [
        (2, "role_code", "unknown_reference"),
        (3, "node_code", "unknown_reference"),
        (4, "email", "invalid_value"),
        (4, "is_active", "invalid_value"),
        (4, "language", "invalid_choice"),
        (5, "username", "invalid_value"),
        (6, "display_name", "conflicting_value"),
        (7, "display_name", "conflicting_value"),
        (8, "node_code", "duplicate_key"),
        (9, "role_code", "required"),
    ]
    assert (User.objects.count(), Membership.objects.count()) == (users, memberships)
    assert User.objects.get(username="admin").is_active


def test_permission_needs_imports_and_accounts_manage_at_the_node(tree):
    staff = make_user("store_staff", tree.store_a)
    with pytest.raises(PermissionDenied):
        get_importer("users", staff)

    # Roles have no service yet: this catalogue row is made directly (as in the web tests).
    people = Role.objects.create(
        code="people",
        name="People admin",
        permissions=["org.view", "accounts.view", "accounts.manage", "imports.use"],
    )
    manager = make_user("store_manager", tree.store_a)
    grant_membership(manager, people, tree.store_a, actor=SYSTEM)
    make_user("store_staff", tree.store_b, username="bob")
    users, memberships = User.objects.count(), Membership.objects.count()
    rows = [
        ["new.a", "store_staff", "SHA001", "", "", "", ""],  # 2: fine
        ["new.b", "store_staff", "SHA002", "", "", "", ""],  # 3: another store
        ["boss", "hq_admin", "SHA001", "", "", "", ""],  # 4: more than they hold
        ["bob", "store_staff", "SHA001", "Bobby", "", "", ""],  # 5: bob also holds a role at B
    ]
    job = run_import("users", HEADER, rows, actor=manager)
    assert job.status == ImportStatus.INVALID
    assert sorted(problem_codes(job)) == [
        (3, "node_code", "permission_denied"),
        (4, "role_code", "permission_denied"),
        (5, "username", "permission_denied"),
    ]
    assert (User.objects.count(), Membership.objects.count()) == (users, memberships)

    # Granting bob a role at store A without touching his details is theirs to do.
    rows = [rows[0], ["bob", "store_staff", "SHA001", "", "", "", ""]]
    job = run_import("users", HEADER, rows, actor=manager)
    assert (job.status, job.created_count) == (ImportStatus.APPLIED, 2), job.problems
    assert roles_of("bob") == {("store_staff", "SHA001"), ("store_staff", "SHA002")}

    # Their export holds the roles at store A only, and imports back unchanged.
    data = export_file("users", actor=manager, file_type="xlsx")
    job = import_file("users", "mine.xlsx", data, actor=manager, dry_run=False)
    assert (job.status, job.unchanged_count) == (ImportStatus.APPLIED, 5), job.problems


def test_template_in_chinese_imports_its_sample_row(tree, admin):
    with translation.override("zh-hans"):
        data = template_workbook("users", actor=admin)
    job = import_file("users", "模板.xlsx", data, actor=admin, dry_run=False)
    assert (job.status, job.created_count) == (ImportStatus.APPLIED, 1), job.problems
    user = User.objects.get(username="li.wei")
    assert (user.display_name, user.language) == ("李伟", "zh-hans")
    assert roles_of("li.wei") == {("store_manager", "SHA001")}
