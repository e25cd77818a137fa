from django.db import migrations

# The shipped roles gain the finance permissions that fit them. Codes are only added, never
# removed, so an administrator's edits survive. (hq_admin holds every permission already.)
ADDITIONS = {
    "finance": ["finance.view", "finance.post", "finance.close", "finance.manage"],
    "hq_operations": ["finance.view"],
    "region_manager": ["finance.view"],
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
        ("finance", "0001_initial"),
        ("accounts", "0002_default_roles"),
    ]
    operations = [migrations.RunPython(add_permissions, remove_permissions)]
