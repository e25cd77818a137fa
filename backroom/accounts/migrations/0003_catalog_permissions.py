from django.db import migrations

# The shipped roles gain the catalog's permissions. Roles an administrator edited keep their
# edits: codes are only added, never removed.
ADDITIONS = {
    "hq_operations": ["catalog.view"],
    "finance": ["catalog.view"],
    "buyer": ["catalog.view", "catalog.manage"],
    "region_manager": ["catalog.view"],
    "store_manager": ["catalog.view"],
    "store_staff": ["catalog.view"],
    "technician": ["catalog.view"],
    "integration": ["catalog.view"],
}


def add_permissions(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(code__in=ADDITIONS, is_system=True):
        missing = [code for code in ADDITIONS[role.code] if code not in role.permissions]
        if missing:
            role.permissions = [*role.permissions, *missing]
            role.save(update_fields=["permissions"])


def remove_permissions(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(code__in=ADDITIONS, is_system=True):
        role.permissions = [code for code in role.permissions if code not in ADDITIONS[role.code]]
        role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_default_roles")]
    operations = [migrations.RunPython(add_permissions, remove_permissions)]
