from django.db import migrations

# The shipped roles gain the planning permissions. Codes are only added, never removed,
# so an administrator's edits survive.
ADDITIONS = {
    "hq_operations": ["planning.view", "planning.manage"],
    "finance": ["planning.view"],
    "buyer": ["planning.view", "planning.manage"],
    "region_manager": ["planning.view", "planning.manage"],
    "store_manager": ["planning.view", "planning.manage"],
    "store_staff": ["planning.view"],
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
    dependencies = [
        ("planning", "0001_initial"),
        ("accounts", "0004_inventory_permissions"),
    ]
    operations = [migrations.RunPython(add_permissions, remove_permissions)]
