"""Channel kinds and the canonical order status machine (see docs/channels.md)."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class ChannelKind(models.TextChoices):
    POS = "pos", _("POS (Backroom API)")
    MEITUAN = "meituan", _("Meituan Waimai")
    ELEME = "eleme", _("Ele.me")
    SQUARE = "square", _("Square (CSV import)")
    OWN_APP = "own_app", _("Own app / mini-program")


# The tills' own channels: their orders carry a till-generated UUID as the external id.
TILL_KINDS: tuple[str, ...] = (ChannelKind.POS, ChannelKind.OWN_APP)
# The event key of a till order's one inbox message (the order as the till posted it).
TILL_PLACED = "pos:placed"


class OrderStatus(models.TextChoices):
    RECEIVED = "received", pgettext_lazy("order status", "Received")
    ACCEPTED = "accepted", _("Accepted")
    PREPARING = "preparing", _("Preparing")
    READY = "ready", _("Ready")
    DELIVERING = "delivering", _("Delivering")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")
    REFUNDED = "refunded", _("Refunded")
    PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")


# The forward path; an order may skip ahead (a till sale goes straight to completed) but never back.
FORWARD: tuple[str, ...] = (
    OrderStatus.RECEIVED,
    OrderStatus.ACCEPTED,
    OrderStatus.PREPARING,
    OrderStatus.READY,
    OrderStatus.DELIVERING,
    OrderStatus.COMPLETED,
)
# Side exits: cancelled before completion; refunds (whole or partial) after acceptance.
TERMINAL: frozenset[str] = frozenset({OrderStatus.CANCELLED, OrderStatus.REFUNDED})


class AfterDepletion(models.TextChoices):
    """What a cancellation or refund does to stock an order already depleted (per account)."""

    WASTE = "waste", _("Food was made: record it as waste")
    RETURN = "return", _("Nothing was made: stock returns")


class InboxStatus(models.TextChoices):
    RECEIVED = "received", pgettext_lazy("inbox message", "Received")
    STORED = "stored", _("Stored, to apply")  # a till's order, written; the worker applies it
    PROCESSED = "processed", _("Processed")
    FAILED = "failed", _("Failed")


class MappingKind(models.TextChoices):
    ITEM = "item", _("Menu item")
    MODIFIER = "modifier", _("Modifier")


# Statuses from which an order may still move forward, and where its ingredients are reserved
# (online orders only: accepted but not yet completed).
RESERVING: frozenset[str] = frozenset(
    {OrderStatus.ACCEPTED, OrderStatus.PREPARING, OrderStatus.READY, OrderStatus.DELIVERING}
)
