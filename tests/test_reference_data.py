"""Reference data seeded by data migrations comes back after `flush`."""

import pytest
from django.core.management import call_command

from backroom.accounts.models import Role
from backroom.catalog.models import Unit


@pytest.mark.django_db(transaction=True)
def test_flush_restores_shipped_roles_and_units():
    Role.objects.all().delete()
    Unit.objects.all().delete()

    call_command("flush", interactive=False, verbosity=0)

    store_staff = Role.objects.get(code="store_staff")
    assert {"catalog.view", "inventory.count"} <= set(store_staff.permissions)  # later migrations
    assert Unit.objects.get(code="kg").to_reference == 1000


@pytest.mark.django_db(transaction=True)
def test_a_plain_migrate_keeps_an_administrators_edits():
    role = Role.objects.get(code="store_staff")
    role.permissions = ["org.view"]
    role.save()

    call_command("migrate", verbosity=0)

    role.refresh_from_db()
    assert role.permissions == ["org.view"]
