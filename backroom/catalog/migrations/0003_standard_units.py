"""The units every deployment starts with; chains add their own (e.g. 斤 variants) via the API."""

from decimal import Decimal

from django.db import migrations

STANDARD_UNITS = [
    # code, name, dimension, size in g / ml / 1, decimal places
    ("mg", "milligram", "mass", Decimal("0.001"), 0),
    ("g", "gram", "mass", Decimal(1), 1),
    ("jin", "jin (斤, 500 g)", "mass", Decimal(500), 3),
    ("kg", "kilogram", "mass", Decimal(1000), 3),
    ("ml", "millilitre", "volume", Decimal(1), 0),
    ("l", "litre", "volume", Decimal(1000), 3),
    ("each", "each", "count", Decimal(1), 0),
]


def add_units(apps, schema_editor):
    Unit = apps.get_model("catalog", "Unit")
    for code, name, dimension, size, places in STANDARD_UNITS:
        Unit.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "dimension": dimension,
                "to_reference": size,
                "decimal_places": places,
                "rounding": "half_up",
            },
        )


def remove_units(apps, schema_editor):
    Unit = apps.get_model("catalog", "Unit")
    Unit.objects.filter(code__in=[row[0] for row in STANDARD_UNITS]).delete()


class Migration(migrations.Migration):
    dependencies = [("catalog", "0002_menuprice_modifier_modifiereffect_recipe_recipeline_and_more")]

    operations = [migrations.RunPython(add_units, remove_units)]
