import datetime as dt

from django.db import migrations

# The rules shipped with Backroom: editable (and deactivatable) by administrators, never
# deleted. A rule already present (same code) is left as the administrator made it.
BUILTIN_RULES = [
    {
        "code": "food-cost-high",
        "name": "Theoretical food cost above 34 %",
        "description": "Yesterday's recipe cost of what was sold was above 34 % of its sales, "
        "on a day with more than 5,000 of sales.",
        "condition": "food_cost_pct > 0.34 && sales > 5000",
        "period": "yesterday",
        "schedule": "daily",
        "run_at": dt.time(7, 0),
        "severity": "warning",
    },
    {
        "code": "waste-high",
        "name": "Waste above 3 % of sales",
        "description": "Yesterday's write-offs at cost were more than 3 % of sales.",
        "condition": "waste_pct > 0.03",
        "period": "yesterday",
        "schedule": "daily",
        "run_at": dt.time(7, 0),
        "severity": "warning",
    },
    {
        "code": "sales-below-forecast",
        "name": "Sales 20 % under forecast",
        "description": "Yesterday's gross sales were more than 20 % under the forecast.",
        "condition": "sales_vs_forecast < -0.2",
        "period": "yesterday",
        "schedule": "daily",
        "run_at": dt.time(7, 0),
        "severity": "warning",
    },
    {
        "code": "sold-out-long",
        "name": "Items sold out over 120 minutes",
        "description": "Menu items have been sold out for more than 120 minutes in total today.",
        "condition": "soldout_minutes > 120",
        "period": "today",
        "schedule": "hourly",
        "run_at": dt.time(7, 0),
        "severity": "info",
    },
]


def add_rules(apps, schema_editor):
    AlertRule = apps.get_model("dashboards", "AlertRule")
    for values in BUILTIN_RULES:
        AlertRule.objects.get_or_create(
            code=values["code"],
            defaults={
                **values,
                "scope": "store",
                "trigger": "schedule",
                "recipient_roles": ["store_manager", "region_manager"],
                "send_email": False,
                "cooldown_minutes": 24 * 60,
                "is_active": True,
                "is_builtin": True,
            },
        )


def remove_rules(apps, schema_editor):
    AlertRule = apps.get_model("dashboards", "AlertRule")
    AlertRule.objects.filter(
        code__in=[values["code"] for values in BUILTIN_RULES], is_builtin=True, alerts__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("dashboards", "0003_alert_rule_schedule_and_emails")]
    operations = [migrations.RunPython(add_rules, remove_rules)]
