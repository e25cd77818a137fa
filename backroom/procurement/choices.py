from django.db import models
from django.utils.translation import gettext_lazy as _


class RequisitionStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PENDING_APPROVAL = "pending_approval", _("Waiting for approval")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    CANCELLED = "cancelled", _("Cancelled")


class SourceKind(models.TextChoices):
    """Where a requisition line is filled from: a supplier (直送) or one of our sites (配送)."""

    SUPPLIER = "supplier", _("Supplier (direct to store)")
    DISTRIBUTION = "distribution", _("Warehouse or central kitchen")


class PurchaseOrderStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    APPROVED = "approved", _("Approved")
    SENT = "sent", _("Sent")
    PARTIALLY_RECEIVED = "partially_received", _("Partially received")
    RECEIVED = "received", _("Received")
    CLOSED = "closed", _("Closed")
    CANCELLED = "cancelled", _("Cancelled")


# A PO in these states still expects goods (what is not yet received is "on order").
OPEN_PO_STATUSES = (
    PurchaseOrderStatus.APPROVED,
    PurchaseOrderStatus.SENT,
    PurchaseOrderStatus.PARTIALLY_RECEIVED,
)
RECEIVABLE_PO_STATUSES = (PurchaseOrderStatus.SENT, PurchaseOrderStatus.PARTIALLY_RECEIVED)


class RejectionReason(models.TextChoices):
    """Why goods were refused at the door (验收拒收)."""

    DAMAGED = "damaged", _("Damaged")
    TEMPERATURE = "temperature", _("Temperature out of range")
    EXPIRED = "expired", _("Expired or short-dated")
    QUALITY = "quality", _("Poor quality")
    WRONG_ITEM = "wrong_item", _("Wrong item")
    NOT_ORDERED = "not_ordered", _("Not ordered")
    OTHER = "other", _("Other")


class InvoiceStatus(models.TextChoices):
    IN_REVIEW = "in_review", _("In review")
    PAYABLE = "payable", _("Payable")
    REJECTED = "rejected", _("Rejected")


class MatchStatus(models.TextChoices):
    MATCHED = "matched", _("Matched exactly")
    WITHIN_TOLERANCE = "within_tolerance", _("Matched within tolerance")
    MISMATCH = "mismatch", _("Mismatch")
    UNKNOWN_PO = "unknown_po", _("Unknown purchase order")


class ReviewReason(models.TextChoices):
    PRICE_MISMATCH = "price_mismatch", _("Price differs from the PO")
    QUANTITY_MISMATCH = "quantity_mismatch", _("Quantity differs from what was received")
    TOTAL_MISMATCH = "total_mismatch", _("Invoice total differs from its lines")
    UNMATCHED_LINE = "unmatched_line", _("Invoice line not on the PO")
    UNKNOWN_PO = "unknown_po", _("Unknown purchase order")


class ReviewStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Rejected")


class PurchaseOrderEmailStatus(models.TextChoices):
    """Where one e-mail of a sent PO's PDF to one supplier address stands."""

    PENDING = "pending", _("Waiting to be sent")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    SKIPPED = "skipped", _("Not sent")
    FAILED = "failed", _("Failed")
