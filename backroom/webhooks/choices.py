from django.db import models
from django.utils.translation import gettext_lazy as _


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class CircuitState(models.TextChoices):
    CLOSED = "closed", _("Circuit closed")
    OPEN = "open", _("Circuit open")
    HALF_OPEN = "half_open", _("Circuit half-open")


class AttemptTrigger(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    REPLAY = "replay", _("Manual replay")
