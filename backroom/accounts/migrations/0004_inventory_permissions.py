from django.db import migrations

# The shipped roles gain the stock ledger's permissions. Codes are only added, never removed,
# so an administrator's edits survive.
ADDITIONS = {
    "hq_operations": ["inventory.view"],
    "finance": ["inventory.view", "inventory.manage"],
    "buyer": ["inventory.view", "inventory.move"],
    "region_manager": ["inventory.view", "inventory.move", "inventory.manage", "inventory.count"],
    "store_manager": ["inventory.view", "inventory.move", "inventory.count"],
    "store_staff": ["inventory.view", "inventory.move", "inventory.count"],
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
    dependencies = [("accounts", "0003_catalog_permissions")]
    operations = [migrations.RunPython(add_permissions, remove_permissions)]
