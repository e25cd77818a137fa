from django.db import migrations

# Everyone who works at or above a store may claim expenses; finance also pays them.
# Codes are only added, never removed, so an administrator's edits survive.
ROLES = [
    "hq_operations",
    "finance",
    "buyer",
    "region_manager",
    "store_manager",
    "store_staff",
    "technician",
]


def add_permissions(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(code__in=ROLES, is_system=True):
        if "finance.claim" not in role.permissions:
            role.permissions = [*role.permissions, "finance.claim"]
            role.save(update_fields=["permissions"])


def remove_permissions(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(code__in=ROLES, is_system=True):
        role.permissions = [code for code in role.permissions if code != "finance.claim"]
        role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [("finance", "0004_expense_claims")]
    operations = [migrations.RunPython(add_permissions, remove_permissions)]
