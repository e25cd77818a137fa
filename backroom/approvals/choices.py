from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class ApproverKind(models.TextChoices):
    """Who approves a step. Parameters live in `PolicyStep.approver_params`."""

    ROLE = "role", _("A role at the document's node or an ancestor level")
    USERS = "users", _("Named users")
    REQUESTER_MANAGER = "requester_manager", _("The requester's manager")


class ApproverLevel(models.TextChoices):
    """Where a role is looked up: the document's own node or its nearest ancestor of a kind."""

    NODE = "node", _("The document's node")
    STORE = "store", _("Store")
    REGION = "region", _("Region")
    ENTITY = "entity", _("Legal entity")
    GROUP = "group", _("Group")


class StepMode(models.TextChoices):
    ANY_ONE = "any_one", _("Any one approves (或签)")
    ALL = "all", _("All must approve (会签)")
    SEQUENCE = "sequence", _("One after another")


class BreachAction(models.TextChoices):
    REMIND = "remind", _("Remind")
    ESCALATE = "escalate", _("Escalate to the next level up")
    AUTO_APPROVE = "auto_approve", _("Approve automatically")
    AUTO_REJECT = "auto_reject", _("Reject automatically")


class RequestStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("approval", "Pending")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    RETURNED = "returned", _("Returned to the requester")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class TaskStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("approval", "Pending")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    SKIPPED = "skipped", _("Skipped")
    CANCELLED = "cancelled", _("Cancelled")


class HistoryAction(models.TextChoices):
    """What happened to a request, one history row each."""

    SUBMITTED = "submitted", _("Submitted")
    AUTO_APPROVED = "auto_approved", _("Approved without a policy")
    ASSIGNED = "assigned", _("Assigned")
    STEP_SKIPPED = "step_skipped", _("Step skipped")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    RETURNED = "returned", _("Returned to the requester")
    RESUBMITTED = "resubmitted", _("Resubmitted")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    REMINDED = "reminded", _("Reminded (SLA breached)")
    ESCALATED = "escalated", _("Escalated (SLA breached)")
    COMPLETED = "completed", _("Request decided")
    COMMENTED = "commented", _("Commented")


class NotificationKind(models.TextChoices):
    """Why a user is told about a request (in the app, and by email for most kinds)."""

    TASK_ASSIGNED = "task_assigned", _("A request waits for your approval")
    TASK_ESCALATED = "task_escalated", _("A request was escalated to you")
    TASK_REMINDED = "task_reminded", _("Reminder: a request is past its deadline")
    REQUEST_APPROVED = "request_approved", _("Your request was approved")
    REQUEST_REJECTED = "request_rejected", _("Your request was rejected")
    REQUEST_RETURNED = "request_returned", _("Your request was returned to you")
    REQUEST_COMMENTED = "request_commented", _("New comment on a request")


class EmailStatus(models.TextChoices):
    """A notification's email: waiting, claimed by a sender, sent, not sent by design, failed."""

    PENDING = "pending", pgettext_lazy("email", "Waiting")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    SKIPPED = "skipped", _("Not sent")
    FAILED = "failed", _("Failed")
