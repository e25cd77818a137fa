from django.db import migrations

# The shipped roles gain the dashboards and alerts permissions. Codes are only added, never
# removed, so an administrator's edits survive.
ADDITIONS = {
    "hq_operations": ["dashboards.view", "alerts.view", "alerts.manage", "alerts.rules"],
    "finance": ["dashboards.view", "alerts.view"],
    "buyer": ["dashboards.view", "alerts.view"],
    "region_manager": ["dashboards.view", "alerts.view", "alerts.manage"],
    "store_manager": ["dashboards.view", "alerts.view", "alerts.manage"],
    "store_staff": ["alerts.view"],
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
        ("dashboards", "0001_initial"),
        ("accounts", "0004_inventory_permissions"),
    ]
    operations = [migrations.RunPython(add_permissions, remove_permissions)]
