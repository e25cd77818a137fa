from django.db import migrations


def create_default_roles(apps, schema_editor):
    from backroom.accounts.permissions import DEFAULT_ROLES

    Role = apps.get_model("accounts", "Role")
    for code, (name, permissions) in DEFAULT_ROLES.items():
        Role.objects.get_or_create(
            code=code, defaults={"name": str(name), "permissions": permissions, "is_system": True}
        )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(create_default_roles, migrations.RunPython.noop)]
