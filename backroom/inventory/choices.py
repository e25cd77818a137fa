from django.db import models
from django.utils.translation import gettext_lazy as _


class LocationKind(models.TextChoices):
    WALK_IN = "walk_in", _("Walk-in cooler")
    FREEZER = "freezer", _("Freezer")
    DRY_STORE = "dry_store", _("Dry store")
    BAR = "bar", _("Bar")
    IN_TRANSIT = "in_transit", _("In transit")
    OTHER = "other", _("Other")


class MoveReason(models.TextChoices):
    RECEIPT = "receipt", _("Receipt")
    CONSUMPTION = "consumption", _("Consumption")
    SALE = "sale", _("Sale depletion")
    WASTE = "waste", _("Waste")
    ADJUSTMENT = "adjustment", _("Adjustment")
    COUNT_VARIANCE = "count_variance", _("Count variance")
    TRANSFER_OUT = "transfer_out", _("Transfer out")
    TRANSFER_IN = "transfer_in", _("Transfer in")
    PRODUCTION_INPUT = "production_input", _("Used in production")
    PRODUCTION = "production", _("Production output")
    REVALUATION = "revaluation", _("Revaluation")
    PRICE_VARIANCE = "price_variance", _("Price variance")
    REVERSAL = "reversal", _("Reversal")
    TRANSFER_DISCREPANCY = "transfer_discrepancy", _("Transfer discrepancy")


# Moves that carry value only (no quantity): revaluations and price variances.
VALUE_ONLY_REASONS = {MoveReason.REVALUATION, MoveReason.PRICE_VARIANCE}
# Reasons a caller may give to `consume` (stock leaving for good).
ISSUE_REASONS = {
    MoveReason.CONSUMPTION,
    MoveReason.SALE,
    MoveReason.WASTE,
    MoveReason.PRODUCTION_INPUT,
}
# Reasons a caller may give to `adjust`.
ADJUST_REASONS = {MoveReason.ADJUSTMENT, MoveReason.COUNT_VARIANCE}


class ReservationStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    RELEASED = "released", _("Released")
    FULFILLED = "fulfilled", _("Fulfilled")


class PostingOperation(models.TextChoices):
    RECEIVE = "receive", _("Receive")
    CONSUME = "consume", _("Consume")
    ADJUST = "adjust", _("Adjust")
    TRANSFER = "transfer", _("Transfer")
    TRANSFER_RECEIPT = "transfer_receipt", _("Transfer receipt")
    PRODUCE = "produce", _("Produce")
    REVERSE = "reverse", _("Reverse")
    CORRECT_COST = "correct_cost", _("Receipt cost correction")
    BATCH = "batch", _("Batch")
    WASTE = "waste", _("Waste")
    TRANSFER_DISCREPANCY = "transfer_discrepancy", _("Transfer discrepancy")


class WasteReason(models.TextChoices):
    """Why stock was thrown away (报损)."""

    EXPIRED = "expired", _("Expired")
    SPOILED = "spoiled", _("Spoiled")
    DROPPED = "dropped", _("Dropped")
    OVER_PRODUCTION = "over_production", _("Over-production")
    RETURNED = "returned", _("Returned")


class WasteStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PENDING_APPROVAL = "pending_approval", _("Waiting for approval")
    POSTED = "posted", _("Posted")
    REJECTED = "rejected", _("Rejected")
    CANCELLED = "cancelled", _("Cancelled")


class TransferStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    DISPATCHED = "dispatched", _("Dispatched")
    PARTIALLY_RECEIVED = "partially_received", _("Partially received")
    RECEIVED = "received", _("Received")
    CANCELLED = "cancelled", _("Cancelled")


class DiscrepancyReason(models.TextChoices):
    """Why a transfer line arrived with a different quantity than was dispatched."""

    SHORT = "short", _("Short")
    DAMAGED = "damaged", _("Damaged")
    OVER = "over", _("Over")
