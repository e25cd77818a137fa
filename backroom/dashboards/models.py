"""Dashboards: the rollups the KPIs read besides the sales rollups (`channels.SalesDay` and its
siblings), and alerts with their rules (docs/dashboards.md).

Rollups are projections of facts held elsewhere, rebuilt by `backroom rebuild-dashboard-rollups`:

- `StockDay`: a store's stock moves of one business day summed by kind (receipts, sales
  depletion, waste, …) and its stock value at the day's end. Theoretical food cost, waste,
  count variances, stock value and days of inventory are read from it.
- `SoldOutSpell`: when a menu item was sold out at a store (from the sold-out events).
- `ForecastDay`: the forecast of a store's sales for a day as it stood before the day started
  (the planning app keeps only the latest forecast, which is of future days).

Alerts: an `AlertRule` is data (a CEL condition over KPI values, a scope, a severity, recipients,
a cool-down); anomaly detectors raise alerts too. Repeats of one condition (rule or detector,
store, fingerprint) while it is open are grouped on one `Alert` (its `occurrences`).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from backroom.dashboards.choices import (
    AlertSource,
    AlertStatus,
    EmailStatus,
    RuleSchedule,
    RuleScope,
    RuleTrigger,
    Severity,
)
from backroom.kernel.models import TimestampedModel
from backroom.kernel.money import CurrencyField, MoneyField
from backroom.kernel.scoping import OrgScopedQuerySet


class StockDay(models.Model):
    """A store's stock moves of one business day, summed by what they were (value in the
    entity's base currency, signed as in the ledger: receipts +, issues −), and the value of
    its stock at the day's end (`closing_value` = Σ of every move up to that day)."""

    scope_field = "site__node"

    site = models.ForeignKey("org.Site", on_delete=models.PROTECT, related_name="+")
    business_date = models.DateField(_("business date"))
    receipts = MoneyField(verbose_name=_("receipts"), default=0)
    sales = MoneyField(verbose_name=_("sales depletion"), default=0)
    waste = MoneyField(verbose_name=_("waste"), default=0)
    consumption = MoneyField(verbose_name=_("other consumption"), default=0)
    production = MoneyField(verbose_name=_("production (output − input)"), default=0)
    transfers = MoneyField(verbose_name=_("transfers (in − out)"), default=0)
    variance = MoneyField(verbose_name=_("count variances and adjustments"), default=0)
    revaluation = MoneyField(verbose_name=_("revaluations and price variances"), default=0)
    net_change = MoneyField(verbose_name=_("net change"), default=0)
    closing_value = MoneyField(verbose_name=_("stock value at the day's end"), default=0)
    moves = models.IntegerField(_("moves"), default=0)
    # Menu prices × portions of the sold lines recorded straight on sale depletions (a sales
    # import, the demo's stock history): sales the ledger holds the usage of that are not
    # orders, so food cost has a base for them (inventory.reports.sold_lines).
    sold_revenue = MoneyField(verbose_name=_("sales recorded on depletions"), default=0)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["site", "business_date"]
        verbose_name = _("daily stock")
        verbose_name_plural = _("daily stock")
        constraints = [
            models.UniqueConstraint(
                fields=["site", "business_date"], name="dashboards_stock_day_unique"
            ),
        ]
        indexes = [models.Index(fields=["business_date", "site"], name="dashboards_stock_day_date")]

    def __str__(self) -> str:
        return f"{self.site_id} {self.business_date}: {self.net_change} → {self.closing_value}"


class StockDayPosting(models.Model):
    """A stock posting already added to the `StockDay` rows (the worker adds each once)."""

    # The posting's id, without a foreign key (as the ledger's own rows: decision 0005).
    posting_id = models.BigIntegerField(primary_key=True)
    rolled_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("rolled-up stock posting")
        verbose_name_plural = _("rolled-up stock postings")

    def __str__(self) -> str:
        return str(self.posting_id)


class StoreRunningTotal(models.Model):
    """A store's figures summed from its first business day through `business_date` (sales,
    channels, forecast, stock flows): the figures of any run of days are the difference of two
    rows, so a month, a quarter or a year of 500 stores reads two rows per store.

    Written for every day through `RunningTotalsRolled.through` (yesterday, after the nightly
    roll), one row per store, currency and day from the store's first day on (days without
    sales repeat the row before). A later change to a rolled day marks the store dirty from that
    day (`StoreRunningDirty`); its figures are read from the days until the worker recomputes
    its rows (running.py)."""

    scope_field = "site__node"

    site = models.ForeignKey("org.Site", on_delete=models.PROTECT, related_name="+")
    business_date = models.DateField(_("business date"))
    currency = CurrencyField(verbose_name=_("currency"))
    orders = models.BigIntegerField(default=0)
    gross = MoneyField(default=0)
    net = MoneyField(default=0)
    merchant_discount = MoneyField(default=0)
    platform_discount = MoneyField(default=0)
    commission = MoneyField(default=0)
    history_net = MoneyField(default=0)
    # Net sales per channel kind ({"pos": "1234.5000", ...}).
    channel_net = models.JSONField(default=dict, blank=True)
    forecast_gross = MoneyField(default=0)
    forecast_guests = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    # Gross sales of the days that had a forecast (what "sales vs forecast" compares).
    forecast_sales = MoneyField(default=0)
    receipts = MoneyField(default=0)
    sales = MoneyField(default=0)
    waste = MoneyField(default=0)
    consumption = MoneyField(default=0)
    variance = MoneyField(default=0)
    sold_revenue = MoneyField(default=0)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["site", "business_date"]
        verbose_name = _("running store figures")
        verbose_name_plural = _("running store figures")
        constraints = [
            models.UniqueConstraint(
                fields=["site", "business_date", "currency"],
                name="dashboards_running_total_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["business_date", "site"], name="dashboards_running_date"),
        ]

    def __str__(self) -> str:
        return f"{self.site_id} → {self.business_date}: {self.net} {self.currency}"


class RunningTotalsRolled(models.Model):
    """How far the running totals go: every store's rows exist through `through` (one row)."""

    through = models.DateField()
    rolled_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("running totals rolled")
        verbose_name_plural = _("running totals rolled")

    def __str__(self) -> str:
        return f"through {self.through}"


class StoreRunningDirty(models.Model):
    """A store's rolled day whose daily rows changed since its running totals were computed:
    its running rows from that day on are stale until recomputed."""

    site = models.ForeignKey("org.Site", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    marked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "day"], name="dashboards_running_dirty_once")
        ]

    def __str__(self) -> str:
        return f"{self.site_id} {self.day} dirty"


class SoldOutSpell(models.Model):
    """A menu item sold out at a store from `started_at` until `ended_at` (empty: still)."""

    scope_field = "site__node"

    site = models.ForeignKey("org.Site", on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey("catalog.Item", on_delete=models.CASCADE, related_name="+")
    started_at = models.DateTimeField(_("sold out at"))
    ended_at = models.DateTimeField(_("back at"), null=True, blank=True)
    is_manual = models.BooleanField(_("held by hand"), default=False)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["site", "started_at"]
        verbose_name = _("sold-out spell")
        verbose_name_plural = _("sold-out spells")
        constraints = [
            models.UniqueConstraint(
                fields=["site", "item"],
                condition=models.Q(ended_at__isnull=True),
                name="dashboards_soldout_one_open",
            ),
        ]
        indexes = [models.Index(fields=["site", "started_at"], name="dashboards_soldout_site")]

    def __str__(self) -> str:
        return f"{self.site_id}:{self.item_id} {self.started_at}–{self.ended_at or ''}"


class ForecastDay(models.Model):
    """A store's forecast sales for a day (item forecasts × menu prices, compared with gross
    sales) and guests, as the last forecast made before that day had them."""

    scope_field = "site__node"

    site = models.ForeignKey("org.Site", on_delete=models.PROTECT, related_name="+")
    business_date = models.DateField(_("business date"))
    currency = CurrencyField(verbose_name=_("currency"))
    gross = MoneyField(verbose_name=_("forecast sales at menu prices"), default=0)
    guests = models.DecimalField(_("forecast guests"), max_digits=12, decimal_places=2, default=0)
    made_at = models.DateTimeField(_("forecast made at"), default=timezone.now)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["site", "business_date"]
        verbose_name = _("daily sales forecast")
        verbose_name_plural = _("daily sales forecasts")
        constraints = [
            models.UniqueConstraint(
                fields=["site", "business_date"], name="dashboards_forecast_day_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["business_date", "site"], name="dashboards_forecast_day_date")
        ]

    def __str__(self) -> str:
        return f"{self.site_id} {self.business_date}: {self.gross} {self.currency}"


class AlertRule(TimestampedModel):
    """An alert rule: when `condition` (CEL over KPI codes) holds for a scope's KPI values, an
    alert is raised (at most once per `cooldown_minutes` per scope node while it stays open)."""

    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    condition = models.TextField(_("condition"))
    scope = models.CharField(
        _("evaluated for"), max_length=10, choices=RuleScope.choices, default=RuleScope.STORE
    )
    # Where the rule applies: this node's subtree (empty: the whole organisation).
    node = models.ForeignKey(
        "org.OrgNode", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    trigger = models.CharField(
        _("trigger"), max_length=10, choices=RuleTrigger.choices, default=RuleTrigger.SCHEDULE
    )
    # For a schedule: the period the KPIs cover ("today", "yesterday", "last_7_days").
    period = models.CharField(_("period"), max_length=20, default="yesterday")
    # For a trigger: the event type that makes the rule look (e.g. "inventory.stock.posted").
    event_type = models.CharField(_("event"), max_length=100, blank=True)
    severity = models.CharField(
        _("severity"), max_length=10, choices=Severity.choices, default=Severity.WARNING
    )
    # Role codes told at the alert's store and its ancestors (e.g. ["store_manager"]).
    recipient_roles = models.JSONField(_("recipients (roles)"), default=list, blank=True)
    send_email = models.BooleanField(_("send email"), default=False)
    cooldown_minutes = models.PositiveIntegerField(_("cool-down (minutes)"), default=24 * 60)
    is_active = models.BooleanField(_("active"), default=True)
    is_builtin = models.BooleanField(_("shipped with Backroom"), default=False)
    # For a schedule: how often the worker evaluates it (rules.is_due), and when it last did.
    schedule = models.CharField(
        _("schedule"), max_length=10, choices=RuleSchedule.choices, default=RuleSchedule.DAILY
    )
    run_at = models.TimeField(_("daily at"), default=dt.time(7, 0))
    last_evaluated_at = models.DateTimeField(_("last evaluated"), null=True, blank=True)

    objects = OrgScopedQuerySet.as_manager()
    scope_field = "node"

    class Meta:
        ordering = ["code"]
        verbose_name = _("alert rule")
        verbose_name_plural = _("alert rules")

    def __str__(self) -> str:
        return self.name


class Alert(TimestampedModel):
    """A problem that found its manager: open until resolved; repeats of the same condition
    while it is open add to `occurrences` instead of a new alert."""

    scope_field = "node"

    source = models.CharField(_("source"), max_length=10, choices=AlertSource.choices)
    rule = models.ForeignKey(
        AlertRule, null=True, blank=True, on_delete=models.PROTECT, related_name="alerts"
    )
    # The detector's code when `source` is a detector (e.g. "sales_drop").
    detector = models.CharField(_("detector"), max_length=40, blank=True)
    # Where it happened: a store (site) or a region/chain node for rules evaluated above stores.
    node = models.ForeignKey("org.OrgNode", on_delete=models.PROTECT, related_name="+")
    site = models.ForeignKey(
        "org.Site", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # What raised it, as one key: "rule:<id>" or "detector:<code>" (grouping below).
    origin = models.CharField(max_length=60)
    # Tells conditions of one rule or detector apart at one node (an item, a staff member).
    fingerprint = models.CharField(max_length=200, blank=True)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)
    title = models.CharField(_("title"), max_length=300)
    message = models.TextField(_("message"), blank=True)
    # The figures behind it (KPI values, expected and actual, thresholds) and links to them.
    details = models.JSONField(_("details"), default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=AlertStatus.choices, default=AlertStatus.OPEN
    )
    occurrences = models.PositiveIntegerField(_("occurrences"), default=1)
    first_raised_at = models.DateTimeField(_("first raised"))
    last_raised_at = models.DateTimeField(_("last raised"))
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-last_raised_at", "-id"]
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        constraints = [
            # One open (not resolved) alert per condition: repeats are grouped on it.
            models.UniqueConstraint(
                fields=["origin", "node", "fingerprint"],
                condition=~models.Q(status=AlertStatus.RESOLVED),
                name="dashboards_alert_one_open",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "last_raised_at"], name="dashboards_alert_status"),
            models.Index(fields=["site", "status"], name="dashboards_alert_site"),
        ]

    def __str__(self) -> str:
        return self.title


class AlertActivity(models.Model):
    """What happened to an alert: raised again, read, acknowledged (with a note), assigned,
    resolved; who and when."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="activity")
    action = models.CharField(_("action"), max_length=20)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(_("note"), blank=True)
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("alert activity")
        verbose_name_plural = _("alert activity")

    def __str__(self) -> str:
        return f"{self.alert_id} {self.action}"


class AlertRead(models.Model):
    """A user has seen an alert (the notification centre's unread count)."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    read_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["alert", "user"], name="dashboards_alert_read_once")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} read {self.alert_id}"


class AlertEmail(models.Model):
    """One email telling a recipient of a rule about a new alert: created once per alert and
    user (a replayed event adds nothing), claimed (`pending` → `sending`) before it is sent,
    so it goes out at most once."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="emails")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    status = models.CharField(
        _("status"), max_length=10, choices=EmailStatus.choices, default=EmailStatus.PENDING
    )
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["alert", "id"]
        verbose_name = _("alert email")
        verbose_name_plural = _("alert emails")
        constraints = [
            models.UniqueConstraint(
                fields=["alert", "recipient"], name="dashboards_alert_email_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.alert_id} → {self.recipient_id}: {self.status}"
