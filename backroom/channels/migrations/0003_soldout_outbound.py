# Sold-out states and outbound calls (channels/soldout.py, outbound.py).

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0004_menu_price_per_currency"),
        ("channels", "0002_role_permissions"),
        ("org", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="OutboundCall",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="created at")),
                ("updated_at", models.DateTimeField(auto_now=True, verbose_name="updated at")),
                (
                    "action",
                    models.CharField(
                        choices=[("sold_out", "Sold out"), ("back_in_stock", "Back in stock")],
                        max_length=30,
                        verbose_name="action",
                    ),
                ),
                ("request", models.JSONField(blank=True, default=dict, verbose_name="request")),
                (
                    "platform_action",
                    models.CharField(blank=True, max_length=100, verbose_name="platform call"),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "Pending"),
                            ("sent", "Sent"),
                            ("failed", "Failed"),
                            ("given_up", "Given up"),
                            ("superseded", "Superseded"),
                        ],
                        default="pending",
                        max_length=12,
                        verbose_name="status",
                    ),
                ),
                ("attempts", models.PositiveIntegerField(default=0, verbose_name="attempts")),
                ("last_error", models.TextField(blank=True, verbose_name="last error")),
                (
                    "next_attempt_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="next attempt at"),
                ),
                ("claimed_until", models.DateTimeField(blank=True, null=True)),
                ("response", models.JSONField(blank=True, null=True, verbose_name="response")),
                ("sent_at", models.DateTimeField(blank=True, null=True, verbose_name="sent at")),
                (
                    "account",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="outbound_calls",
                        to="channels.channelaccount",
                    ),
                ),
                (
                    "item",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="catalog.item",
                    ),
                ),
            ],
            options={
                "verbose_name": "outbound call",
                "verbose_name_plural": "outbound calls",
                "ordering": ["-id"],
                "indexes": [
                    models.Index(
                        condition=models.Q(("status__in", ["pending", "failed"])),
                        fields=["next_attempt_at", "id"],
                        name="channels_outbound_due",
                    ),
                    models.Index(
                        fields=["account", "item", "action"], name="channels_outbound_item"
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="SoldOutState",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "sellable",
                    models.IntegerField(blank=True, null=True, verbose_name="portions left"),
                ),
                ("is_sold_out", models.BooleanField(default=False, verbose_name="sold out")),
                ("is_manual", models.BooleanField(default=False, verbose_name="held by hand")),
                ("reason", models.CharField(blank=True, max_length=200, verbose_name="reason")),
                (
                    "changed_at",
                    models.DateTimeField(
                        default=django.utils.timezone.now, verbose_name="changed at"
                    ),
                ),
                (
                    "computed_at",
                    models.DateTimeField(
                        default=django.utils.timezone.now, verbose_name="counted at"
                    ),
                ),
                (
                    "changed_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "item",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="catalog.item",
                    ),
                ),
                (
                    "site",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="org.site"
                    ),
                ),
            ],
            options={
                "verbose_name": "sold-out state",
                "verbose_name_plural": "sold-out states",
                "ordering": ["site", "item"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("site", "item"), name="channels_soldout_unique"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("is_manual", False), ("is_sold_out", True), _connector="OR"
                        ),
                        name="channels_soldout_manual_is_sold_out",
                    ),
                ],
            },
        ),
    ]
