"""The stock ledger: locations, lots, append-only moves, and the balances projected from them.

`StockMove` is the truth. `StockBalance` (item × location × lot) and `ItemValuation`
(item × location: quantity, value, moving-average cost) are projections updated in the same
transaction as the moves, under row locks taken in a fixed order, and rebuildable from the moves
(`backroom check-ledgers`). Quantities are in the item's base unit; see docs/inventory.md for
the valuation rules.
"""

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from backroom.inventory.choices import (
    LocationKind,
    MoveReason,
    PostingOperation,
    ReservationStatus,
)
from backroom.kernel.models import TimestampedModel
from backroom.kernel.money import MoneyField, QuantityField
from backroom.kernel.scoping import OrgScopedQuerySet

COST_DIGITS, COST_PLACES = 24, 10


def CostField(**kwargs: Any) -> models.DecimalField:
    """A cost per base unit: Decimal(24, 10). Money per gram needs more than 4 places."""
    return models.DecimalField(max_digits=COST_DIGITS, decimal_places=COST_PLACES, **kwargs)


class Location(TimestampedModel):
    """A place inside a site where stock is kept (walk-in, freezer, dry store, bar, in transit)."""

    scope_field = "site__node"

    site = models.ForeignKey("org.Site", on_delete=models.PROTECT, related_name="locations")
    code = models.CharField(_("code"), max_length=20)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=12, choices=LocationKind.choices)
    is_active = models.BooleanField(_("active"), default=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["site", "code"]
        verbose_name = _("location")
        verbose_name_plural = _("locations")
        constraints = [
            models.UniqueConstraint(fields=["site", "code"], name="inventory_location_unique"),
            models.CheckConstraint(
                condition=~models.Q(code=""), name="inventory_location_code_required"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.site.node.code}/{self.code}"


class Lot(models.Model):
    """A lot of an item, created by a receipt or production, with an optional expiry date."""

    item = models.ForeignKey("catalog.Item", on_delete=models.PROTECT, related_name="lots")
    code = models.CharField(_("lot"), max_length=60)
    expiry_date = models.DateField(_("expiry date"), null=True, blank=True)
    received_at = models.DateTimeField(_("received at"), default=timezone.now)

    class Meta:
        ordering = ["item", "expiry_date", "received_at", "id"]
        verbose_name = _("lot")
        verbose_name_plural = _("lots")
        constraints = [
            models.UniqueConstraint(fields=["item", "code"], name="inventory_lot_unique"),
            models.CheckConstraint(
                condition=~models.Q(code=""), name="inventory_lot_code_required"
            ),
        ]

    def __str__(self) -> str:
        return self.code


class StockPosting(models.Model):
    """One call of the ledger's service API (a receipt, a transfer, a batch): the audit target."""

    scope_field = "site__node"

    operation = models.CharField(_("operation"), max_length=20, choices=PostingOperation.choices)
    site = models.ForeignKey(
        "org.Site", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    move_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = _("stock posting")
        verbose_name_plural = _("stock postings")

    def __str__(self) -> str:
        return f"{self.operation} #{self.pk}"


class StockMoveQuerySet(OrgScopedQuerySet):
    def update(self, **kwargs: Any) -> int:
        raise TypeError("Stock moves are append-only; post a reversal instead.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("Stock moves are append-only; post a reversal instead.")


class StockMove(models.Model):
    """One signed quantity of an item entering (+) or leaving (−) a location, with its value.

    Append-only: never updated or deleted; a correction is a reversal dated when it is made.
    `(idempotency_key, key_line)` is unique: an operation's moves share its key, so a replay
    finds them instead of posting again.
    """

    scope_field = "site__node"

    posting = models.ForeignKey(StockPosting, on_delete=models.PROTECT, related_name="moves")
    # No single-column indexes where a composite index below leads with the column: every index
    # is paid on each insert, and the ledger is the hottest table.
    item = models.ForeignKey(
        "catalog.Item", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    # Denormalised from the location (which is constrained) for scoping: no database
    # constraint, as for `actor` below, saving two foreign-key checks per inserted move.
    site = models.ForeignKey(
        "org.Site",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="moves", db_index=False
    )
    lot = models.ForeignKey(Lot, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    quantity = QuantityField(verbose_name=_("quantity (base unit)"))
    unit_cost = CostField(verbose_name=_("unit cost"))
    value = MoneyField(verbose_name=_("value"))
    reason = models.CharField(_("reason"), max_length=20, choices=MoveReason.choices)
    source_type = models.CharField(_("source type"), max_length=50, blank=True)
    source_id = models.CharField(_("source id"), max_length=64, blank=True)
    source_number = models.CharField(_("source number"), max_length=64, blank=True)
    idempotency_key = models.CharField(max_length=200)
    key_line = models.PositiveIntegerField(default=0)
    occurred_at = models.DateTimeField(_("occurred at"))
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )

    objects = StockMoveQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        verbose_name = _("stock move")
        verbose_name_plural = _("stock moves")
        constraints = [
            models.UniqueConstraint(
                fields=["idempotency_key", "key_line"], name="inventory_move_idempotent"
            ),
            models.CheckConstraint(
                condition=~models.Q(quantity=0)
                | models.Q(reason__in=[MoveReason.REVALUATION, MoveReason.PRICE_VARIANCE]),
                name="inventory_move_quantity_nonzero",
            ),
            models.CheckConstraint(
                condition=models.Q(quantity=0)
                | ~models.Q(reason__in=[MoveReason.REVALUATION, MoveReason.PRICE_VARIANCE]),
                name="inventory_move_value_only_reasons",
            ),
            models.CheckConstraint(
                condition=models.Q(reason=MoveReason.REVERSAL, reverses__isnull=False)
                | (~models.Q(reason=MoveReason.REVERSAL) & models.Q(reverses__isnull=True)),
                name="inventory_move_reversal_target",
            ),
            models.CheckConstraint(
                condition=models.Q(unit_cost__gte=0), name="inventory_move_cost_not_negative"
            ),
        ]
        indexes = [
            models.Index(
                fields=["item", "location", "occurred_at"], name="inventory_move_item_idx"
            ),
            models.Index(fields=["site", "occurred_at"], name="inventory_move_site_idx"),
            models.Index(fields=["source_type", "source_id"], name="inventory_move_source_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.reason} {self.quantity} of item {self.item_id} at {self.location_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise TypeError("Stock moves are append-only; post a reversal instead.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError("Stock moves are append-only; post a reversal instead.")


class StockBalance(models.Model):
    """On hand and value of an item at a location in one lot (or without a lot): Σ of its moves."""

    scope_field = "location__site__node"

    item = models.ForeignKey("catalog.Item", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="balances")
    lot = models.ForeignKey(Lot, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    quantity = QuantityField(verbose_name=_("on hand"), default=0)
    value = MoneyField(verbose_name=_("value"), default=0)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["item", "location", "lot"]
        verbose_name = _("stock balance")
        verbose_name_plural = _("stock balances")
        constraints = [
            # Two constraints because NULL lots never collide in a plain unique constraint.
            models.UniqueConstraint(
                fields=["item", "location", "lot"],
                condition=models.Q(lot__isnull=False),
                name="inventory_balance_unique_lot",
            ),
            models.UniqueConstraint(
                fields=["item", "location"],
                condition=models.Q(lot__isnull=True),
                name="inventory_balance_unique_no_lot",
            ),
        ]

    def __str__(self) -> str:
        return f"item {self.item_id} at {self.location_id} lot {self.lot_id}: {self.quantity}"


class ItemValuation(models.Model):
    """Quantity, value and moving-average cost of an item at a location (Σ over its lots)."""

    scope_field = "location__site__node"

    item = models.ForeignKey("catalog.Item", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="valuations")
    quantity = QuantityField(verbose_name=_("on hand"), default=0)
    value = MoneyField(verbose_name=_("value"), default=0)
    average_cost = CostField(verbose_name=_("average unit cost"), null=True, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["item", "location"]
        verbose_name = _("item valuation")
        verbose_name_plural = _("item valuations")
        constraints = [
            models.UniqueConstraint(fields=["item", "location"], name="inventory_valuation_unique"),
            models.CheckConstraint(
                condition=models.Q(average_cost__isnull=True) | models.Q(average_cost__gte=0),
                name="inventory_valuation_cost_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"item {self.item_id} at {self.location_id}: {self.quantity} @ {self.average_cost}"


class Reservation(TimestampedModel):
    """Stock promised to an order not yet fulfilled; reduces available-to-promise until it ends."""

    scope_field = "site__node"

    item = models.ForeignKey("catalog.Item", on_delete=models.PROTECT, related_name="+")
    site = models.ForeignKey("org.Site", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    quantity = QuantityField(verbose_name=_("quantity (base unit)"))
    source_type = models.CharField(_("source type"), max_length=50, blank=True)
    source_id = models.CharField(_("source id"), max_length=64, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=ReservationStatus.choices,
        default=ReservationStatus.ACTIVE,
    )
    idempotency_key = models.CharField(max_length=200, unique=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = _("reservation")
        verbose_name_plural = _("reservations")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="inventory_reservation_positive"
            ),
        ]
        indexes = [
            models.Index(fields=["item", "site", "status"], name="inventory_reservation_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} of item {self.item_id} at site {self.site_id} ({self.status})"


class CountKind(models.TextChoices):
    FULL = "full", _("Full count")
    CYCLE = "cycle", _("Cycle count")


class CountStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    COUNTING = "counting", _("Counting")
    SUBMITTED = "submitted", _("Submitted")
    POSTED = "posted", _("Posted")
    CANCELLED = "cancelled", _("Cancelled")


class CountSheet(TimestampedModel):
    """A stock count (盘点) at a site: draft → counting → submitted → posted (or cancelled).

    The theoretical quantities are frozen on the lines when counting starts; `start_move_id`
    is the last ledger move id at that moment (read under the valuation locks), so moves
    posted during the count (id above it) are added on top when the variances are posted.
    """

    scope_field = "site__node"

    site = models.ForeignKey("org.Site", on_delete=models.PROTECT, related_name="+")
    number = models.CharField(_("sheet number"), max_length=40, unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=CountKind.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=CountStatus.choices, default=CountStatus.DRAFT
    )
    locations = models.ManyToManyField(Location, related_name="+", verbose_name=_("locations"))
    item_ids = models.JSONField(_("items (cycle count)"), default=list, blank=True)
    review_threshold = MoneyField(verbose_name=_("review above value"), null=True, blank=True)
    requires_review = models.BooleanField(_("requires review"), default=False)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    start_move_id = models.BigIntegerField(null=True, blank=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    posted_at = models.DateTimeField(_("posted at"), null=True, blank=True)
    posting = models.ForeignKey(
        StockPosting, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = _("count sheet")
        verbose_name_plural = _("count sheets")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(review_threshold__isnull=True)
                | models.Q(review_threshold__gte=0),
                name="inventory_count_threshold_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class CountLine(models.Model):
    """One item × location × lot of a count: frozen theoretical quantity and what was counted.

    `entries` keeps what the counter typed in count units ([{"unit": "case", "quantity": "3"},
    {"unit": "bag", "quantity": "4"}]); `counted_quantity` is their total in the base unit.
    """

    sheet = models.ForeignKey(CountSheet, on_delete=models.CASCADE, related_name="lines")
    item = models.ForeignKey("catalog.Item", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    shelf_order = models.PositiveIntegerField(_("shelf order"))
    theoretical_quantity = QuantityField(verbose_name=_("theoretical (frozen)"))
    counted_quantity = QuantityField(verbose_name=_("counted"), null=True, blank=True)
    entries = models.JSONField(_("counted entries"), default=list, blank=True)
    counted_at = models.DateTimeField(_("counted at"), null=True, blank=True)
    variance_quantity = QuantityField(verbose_name=_("variance"), null=True, blank=True)
    variance_value = MoneyField(verbose_name=_("variance value"), null=True, blank=True)

    class Meta:
        ordering = ["sheet", "shelf_order"]
        verbose_name = _("count line")
        verbose_name_plural = _("count lines")
        constraints = [
            models.UniqueConstraint(
                fields=["sheet", "item", "location", "lot"],
                condition=models.Q(lot__isnull=False),
                name="inventory_countline_unique_lot",
            ),
            models.UniqueConstraint(
                fields=["sheet", "item", "location"],
                condition=models.Q(lot__isnull=True),
                name="inventory_countline_unique_no_lot",
            ),
            models.CheckConstraint(
                condition=models.Q(counted_quantity__isnull=True)
                | models.Q(counted_quantity__gte=0),
                name="inventory_countline_counted_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sheet_id}/{self.shelf_order}: item {self.item_id}"
