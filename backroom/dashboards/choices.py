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
