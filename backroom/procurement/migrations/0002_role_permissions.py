from django.db import migrations

# The shipped roles gain the procurement permissions that fit them. Codes are only added, never
# removed, so an administrator's edits survive. (hq_admin holds every permission already.)
ADDITIONS = {
    "hq_operations": ["procurement.view", "procurement.manage"],
    "finance": ["procurement.view", "procurement.invoice"],
    "buyer": [
        "procurement.view",
        "procurement.order",
        "procurement.manage",
        "procurement.invoice",
        "procurement.receive",
    ],
    "region_manager": ["procurement.view", "procurement.order"],
    "store_manager": ["procurement.view", "procurement.order", "procurement.receive"],
    "store_staff": ["procurement.view", "procurement.receive"],
    "integration": ["procurement.view"],
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
        ("procurement", "0001_initial"),
        ("accounts", "0004_inventory_permissions"),
    ]
    operations = [migrations.RunPython(add_permissions, remove_permissions)]
