from django.db import migrations

# The shipped roles gain the approvals permissions that fit them. Codes are only added, never
# removed, so an administrator's edits survive. (hq_admin holds every permission already.)
ADDITIONS = {
    "hq_operations": ["approvals.report"],
    "finance": ["approvals.report"],
    "region_manager": ["approvals.report"],
    "integration": ["approvals.submit"],
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
        ("approvals", "0003_comments_notifications"),
        ("accounts", "0004_inventory_permissions"),
    ]
    operations = [migrations.RunPython(add_permissions, remove_permissions)]
