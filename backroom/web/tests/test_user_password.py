"""An administrator sets a user's password (an imported user has none they know): scoped like
every user change, the password rules applied, audited without the password."""

from django.contrib.auth import authenticate

from backroom.accounts.models import User
from backroom.audit.models import AuditEntry
from backroom.imports.testing import run_import
from backroom.testing.factories import client_for, make_user

NEW = "Lotus-dumplings-2026!"


def test_an_imported_user_signs_in_once_an_administrator_sets_a_password(tree):
    admin = make_user("hq_admin", tree.group)
    job = run_import(
        "users",
        ["Username", "Role code", "Org node code"],
        [["li.na", "store_manager", tree.store_a.code]],
        actor=admin,
    )
    assert job.status == "applied", job.problems
    person = User.objects.get(username="li.na")
    assert authenticate(username="li.na", password=NEW) is None

    client = client_for(admin)
    page = client.get(f"/users/{person.pk}/")
    assert b'data-testid="password-form"' in page.content
    weak = client.post(f"/users/{person.pk}/password/", {"password": "123"})
    assert weak.status_code == 422 and b"too short" in weak.content
    response = client.post(f"/users/{person.pk}/password/", {"password": NEW})
    assert response.status_code == 302
    assert authenticate(username="li.na", password=NEW) == person
    entry = AuditEntry.objects.filter(action="accounts.user.set_password").get()
    assert NEW not in str(entry.after) and entry.actor_id == admin.pk


def test_who_may_set_a_password(tree):
    person = make_user("store_staff", tree.store_b)
    before = User.objects.get(pk=person.pk).password
    assert (
        client_for(None).post(f"/users/{person.pk}/password/", {"password": NEW}).status_code == 302
    )
    staff = make_user("store_staff", tree.store_a)  # no accounts.manage
    assert (
        client_for(staff).post(f"/users/{person.pk}/password/", {"password": NEW}).status_code
        == 403
    )
    manager_a = make_user("store_manager", tree.store_a)  # manages store A, not B's staff
    response = client_for(manager_a).post(f"/users/{person.pk}/password/", {"password": NEW})
    assert response.status_code in (403, 404)
    assert User.objects.get(pk=person.pk).password == before
    assert not AuditEntry.objects.filter(action="accounts.user.set_password").exists()
