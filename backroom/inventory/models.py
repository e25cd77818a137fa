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
    DiscrepancyReason,
    LocationKind,
    MoveReason,
    PostingOperation,
    ReservationStatus,
    TransferStatus,
    WasteReason,
    WasteStatus,
)
from backroom.kernel.files import private_storage
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

    # No database foreign keys on this table: each would be checked once per inserted move at
    # commit (docs/decisions/0005-ledger-moves-without-foreign-keys.md). The posting is created
    # in the same transaction; item, location and lot are checked by the service and held by the
    # balance and valuation rows written with the moves, which keep their constraints. PROTECT
    # still guards deletes made through Django.
    posting = models.ForeignKey(
        StockPosting, on_delete=models.PROTECT, related_name="moves", db_constraint=False
    )
    # No single-column indexes where a composite index below leads with the column: every index
    # is paid on each insert, and the ledger is the hottest table.
    item = models.ForeignKey(
        "catalog.Item",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
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
        Location,
        on_delete=models.PROTECT,
        related_name="moves",
        db_index=False,
        db_constraint=False,
    )
    # Indexed only where set (a partial index below): most moves have no lot.
    lot = models.ForeignKey(
        Lot,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
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
    # At most one reversal per move: a partial unique index (below) that holds only reversals,
    # instead of a one-to-one column index with an entry for every move.
    reverses = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversed_by",
        db_index=False,
        db_constraint=False,
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
            models.UniqueConstraint(
                fields=["reverses"],
                condition=models.Q(reverses__isnull=False),
                name="inventory_move_reversed_once",
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
            models.Index(
                fields=["lot"],
                condition=models.Q(lot__isnull=False),
                name="inventory_move_lot_idx",
            ),
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
    # A random number drawn anew by every posting that changes this item × location's balances
    # (written with them, under this row's lock): a process that saw the balances at this
    # revision may reuse them without reading them again (ledger.BalanceCache, decision 0006).
    revision = models.BigIntegerField(default=0, editable=False)

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
    template = models.ForeignKey(
        "CountTemplate",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sheets",
        verbose_name=_("template"),
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
    # The units offered to the counter, largest first (from the template); empty: the item's.
    count_units = models.JSONField(_("count units"), default=list, blank=True)
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


# --- waste (报损) and transfer orders (调拨) ----------------------------------------------------


def waste_photo_storage() -> Any:
    """Where waste photos are kept (private: see kernel.files)."""
    return private_storage


class WasteDocument(TimestampedModel):
    """A waste record (报损) at a site: draft → posted, or → waiting for approval → posted /
    rejected (or cancelled before posting).

    Its value is the lines' quantity at the moving-average cost. Above the approval threshold
    it waits for someone with inventory.manage (not the submitter) before it reaches the
    ledger; the ledger key of each line is `waste:<document id>:<line no>`.
    """

    scope_field = "site__node"

    site = models.ForeignKey("org.Site", on_delete=models.PROTECT, related_name="+")
    number = models.CharField(_("number"), max_length=40, unique=True)
    status = models.CharField(
        _("status"), max_length=20, choices=WasteStatus.choices, default=WasteStatus.DRAFT
    )
    note = models.CharField(_("note"), max_length=500, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)
    currency = models.CharField(_("currency"), max_length=3)
    total_value = MoneyField(verbose_name=_("value"), default=0)
    approval_threshold = MoneyField(verbose_name=_("approval above value"), null=True, blank=True)
    requires_approval = models.BooleanField(_("requires approval"), default=False)
    photo = models.FileField(
        _("photo"), upload_to="waste/%Y/%m/", storage=waste_photo_storage, blank=True
    )
    photo_content_type = models.CharField(max_length=50, blank=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision_reason = models.CharField(_("decision reason"), max_length=500, blank=True)
    posted_at = models.DateTimeField(_("posted at"), null=True, blank=True)
    posting = models.ForeignKey(
        StockPosting, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = _("waste record")
        verbose_name_plural = _("waste records")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(total_value__gte=0), name="inventory_waste_value_not_negative"
            ),
        ]
        indexes = [
            models.Index(fields=["site", "status", "occurred_at"], name="inventory_waste_site_idx"),
        ]

    def __str__(self) -> str:
        return self.number


class WasteLine(models.Model):
    """One item thrown away: quantity in the unit typed (and in the base unit), reason, value."""

    document = models.ForeignKey(WasteDocument, on_delete=models.CASCADE, related_name="lines")
    line_no = models.PositiveIntegerField(_("line"))
    item = models.ForeignKey("catalog.Item", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    quantity = QuantityField(verbose_name=_("quantity"))
    unit = models.CharField(_("unit"), max_length=20)
    base_quantity = QuantityField(verbose_name=_("quantity (base unit)"))
    reason = models.CharField(_("reason"), max_length=20, choices=WasteReason.choices)
    note = models.CharField(_("note"), max_length=300, blank=True)
    unit_cost = CostField(verbose_name=_("unit cost"), null=True, blank=True)
    value = MoneyField(verbose_name=_("value"), default=0)

    class Meta:
        ordering = ["document", "line_no"]
        verbose_name = _("waste line")
        verbose_name_plural = _("waste lines")
        constraints = [
            models.UniqueConstraint(
                fields=["document", "line_no"], name="inventory_wasteline_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0) & models.Q(base_quantity__gt=0),
                name="inventory_wasteline_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document_id}/{self.line_no}: item {self.item_id}"


class TransferOrder(TimestampedModel):
    """A transfer order (调拨单) from a location of one site to a location of another:
    draft → dispatched → (partially received →) received, or cancelled while a draft.

    Each line moves through the ledger under its own transfer key
    `transfer-order:<order id>:<line id>`: dispatch puts it in the sending site's in-transit
    location, receipts take it out; a closing receipt writes off what did not arrive (or books
    what arrived over) as `transfer_discrepancy`, so nothing of the order stays in transit.
    """

    scope_field = "from_site__node"

    number = models.CharField(_("number"), max_length=40, unique=True)
    status = models.CharField(
        _("status"), max_length=20, choices=TransferStatus.choices, default=TransferStatus.DRAFT
    )
    from_site = models.ForeignKey("org.Site", on_delete=models.PROTECT, related_name="+")
    from_location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    to_site = models.ForeignKey("org.Site", on_delete=models.PROTECT, related_name="+")
    to_location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(_("note"), max_length=500, blank=True)
    expected_date = models.DateField(_("expected on"), null=True, blank=True)
    receipt_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    dispatched_at = models.DateTimeField(_("dispatched at"), null=True, blank=True)
    dispatched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    received_at = models.DateTimeField(_("received at"), null=True, blank=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancel_reason = models.CharField(_("reason"), max_length=500, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = _("transfer order")
        verbose_name_plural = _("transfer orders")
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(from_site=models.F("to_site")),
                name="inventory_transfer_two_sites",
            ),
        ]
        indexes = [
            models.Index(fields=["from_site", "status"], name="inventory_transfer_from_idx"),
            models.Index(fields=["to_site", "status"], name="inventory_transfer_to_idx"),
        ]

    def __str__(self) -> str:
        return self.number


class TransferOrderLine(models.Model):
    """One item of a transfer order: requested, dispatched and received (base unit) and, when
    they differ at the closing receipt, the discrepancy with its reason and value."""

    order = models.ForeignKey(TransferOrder, on_delete=models.CASCADE, related_name="lines")
    line_no = models.PositiveIntegerField(_("line"))
    item = models.ForeignKey("catalog.Item", on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    requested_quantity = QuantityField(verbose_name=_("requested"))
    unit = models.CharField(_("unit"), max_length=20)
    requested_base = QuantityField(verbose_name=_("requested (base unit)"))
    dispatched_quantity = QuantityField(verbose_name=_("dispatched"), null=True, blank=True)
    dispatched_value = MoneyField(verbose_name=_("dispatched value"), null=True, blank=True)
    received_quantity = QuantityField(verbose_name=_("received"), default=0)
    discrepancy_quantity = QuantityField(verbose_name=_("discrepancy"), null=True, blank=True)
    discrepancy_reason = models.CharField(
        _("discrepancy reason"), max_length=10, choices=DiscrepancyReason.choices, blank=True
    )
    discrepancy_value = MoneyField(verbose_name=_("discrepancy value"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        ordering = ["order", "line_no"]
        verbose_name = _("transfer order line")
        verbose_name_plural = _("transfer order lines")
        constraints = [
            models.UniqueConstraint(
                fields=["order", "line_no"], name="inventory_transferline_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(requested_quantity__gt=0) & models.Q(requested_base__gt=0),
                name="inventory_transferline_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(dispatched_quantity__isnull=True)
                | models.Q(dispatched_quantity__gte=0),
                name="inventory_transferline_dispatched_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(received_quantity__gte=0),
                name="inventory_transferline_received_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}/{self.line_no}: item {self.item_id}"


# --- count templates (盘点模板) -----------------------------------------------------------------


class CountTemplate(TimestampedModel):
    """A reusable count at a site (盘点模板): which items to count at which locations, in the
    order of the shelves and in which units. A count started from it follows it; archived
    templates (`is_active` false) are kept for the counts that used them."""

    scope_field = "site__node"

    site = models.ForeignKey("org.Site", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(
        _("kind"), max_length=10, choices=CountKind.choices, default=CountKind.FULL
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["site", "name"]
        verbose_name = _("count template")
        verbose_name_plural = _("count templates")
        constraints = [
            models.UniqueConstraint(
                fields=["site", "name"],
                condition=models.Q(is_active=True),
                name="inventory_counttemplate_unique_name",
            ),
            models.CheckConstraint(
                condition=~models.Q(name=""), name="inventory_counttemplate_name_required"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CountTemplateLine(models.Model):
    """An item at a location of a template, at its place in the walk (`shelf_order`, unique in
    the template), with the units to count it in, largest first (["case", "bag"])."""

    template = models.ForeignKey(CountTemplate, on_delete=models.CASCADE, related_name="lines")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey("catalog.Item", on_delete=models.PROTECT, related_name="+")
    shelf_order = models.PositiveIntegerField(_("shelf order"))
    count_units = models.JSONField(_("count units"), default=list, blank=True)

    class Meta:
        ordering = ["template", "shelf_order"]
        verbose_name = _("count template line")
        verbose_name_plural = _("count template lines")
        constraints = [
            models.UniqueConstraint(
                fields=["template", "location", "item"],
                name="inventory_counttemplateline_unique",
            ),
            models.UniqueConstraint(
                fields=["template", "shelf_order"],
                name="inventory_counttemplateline_order_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template_id}/{self.shelf_order}: item {self.item_id}"


class StockPeriodClose(models.Model):
    """A change of the date a store's stock is closed through; the latest row per site wins
    (see `backroom.inventory.periods`). Rows are never changed: reopening adds a row."""

    site = models.ForeignKey("org.Site", on_delete=models.PROTECT, related_name="+")
    closed_through = models.DateField(_("closed through"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("stock period close")
        verbose_name_plural = _("stock period closes")
        indexes = [models.Index(fields=["site", "id"], name="inventory_period_site_idx")]

    def __str__(self) -> str:
        return f"{self.site_id} closed through {self.closed_through}"
