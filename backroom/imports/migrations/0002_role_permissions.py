from django.db import migrations

# The shipped roles that bring data in gain the imports permission; each importer also needs
# the permission of what it writes. (hq_admin holds every permission already.)
ADDITIONS = {
    "hq_operations": ["imports.use"],
    "finance": ["imports.use"],
    "buyer": ["imports.use"],
    "store_manager": ["imports.use"],
    "integration": ["imports.use"],
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
        ("imports", "0001_initial"),
        ("accounts", "0002_default_roles"),
    ]
    operations = [migrations.RunPython(add_permissions, remove_permissions)]
