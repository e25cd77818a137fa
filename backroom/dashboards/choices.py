"""Choices of the dashboards app."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Severity(models.TextChoices):
    INFO = "info", _("Information")
    WARNING = "warning", _("Warning")
    CRITICAL = "critical", _("Critical")


class AlertStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    RESOLVED = "resolved", _("Resolved")


class RuleTrigger(models.TextChoices):
    SCHEDULE = "schedule", _("On a schedule")
    EVENT = "event", _("When an event happens")


class RuleScope(models.TextChoices):
    CHAIN = "chain", _("The whole chain")
    REGION = "region", _("Each region")
    STORE = "store", _("Each store")


class AlertSource(models.TextChoices):
    RULE = "rule", _("Alert rule")
    DETECTOR = "detector", _("Anomaly detection")


class RuleSchedule(models.TextChoices):
    EVERY_15_MINUTES = "15min", _("Every 15 minutes")
    HOURLY = "hourly", _("Every hour")
    DAILY = "daily", _("Daily at a time")


class RulePeriod(models.TextChoices):
    TODAY = "today", _("Today so far")
    YESTERDAY = "yesterday", _("Yesterday")
    LAST_7_DAYS = "last_7_days", _("The last 7 days (to yesterday)")
    LAST_28_DAYS = "last_28_days", _("The last 28 days (to yesterday)")


class EmailStatus(models.TextChoices):
    PENDING = "pending", _("To send")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    SKIPPED = "skipped", _("Not sent (no address)")
    FAILED = "failed", _("Failed")
