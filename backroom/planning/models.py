"""Planning: what the forecaster knows in advance (holidays, promotions, closures, catering
orders) and what it produced (runs, daily forecasts per store × menu item and guest count, and
each series' backtest accuracy). See docs/forecast.md.

A forecast row is replaced by the next run for the same store, series and date: the table holds
the latest forecast of every future day, and `ForecastRun` says when and how it was made.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from backroom.kernel.models import TimestampedModel
from backroom.kernel.money import QuantityField
from backroom.kernel.scoping import OrgScopedQuerySet


class Holiday(TimestampedModel):
    """A public holiday or a local one (a city festival) for the stores of a country, or of a
    region or store when `node` is set. `closes_stores` makes it a day without sales (a store
    closure for all of them) rather than a day with different demand."""

    scope_field = "node"

    country = models.CharField(_("country"), max_length=2, help_text=_("ISO 3166-1 alpha-2"))
    node = models.ForeignKey(
        "org.OrgNode",
        verbose_name=_("only under"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Leave empty for the whole country."),
    )
    date = models.DateField(_("date"))
    name = models.CharField(_("name"), max_length=100)
    closes_stores = models.BooleanField(_("stores closed"), default=False)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["date", "country", "name"]
        verbose_name = _("holiday")
        verbose_name_plural = _("holidays")
        constraints = [
            models.UniqueConstraint(
                fields=["country", "node", "date"],
                condition=models.Q(node__isnull=False),
                name="planning_holiday_unique",
            ),
            models.UniqueConstraint(
                fields=["country", "date"],
                condition=models.Q(node__isnull=True),
                name="planning_holiday_country_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.name} ({self.country})"


class Promotion(TimestampedModel):
    """A promotion known in advance at a store (or every store under a region): on these days
    demand for the item (or every item, when empty) is expected to differ."""

    scope_field = "node"

    node = models.ForeignKey(
        "org.OrgNode", verbose_name=_("stores under"), on_delete=models.PROTECT, related_name="+"
    )
    menu_item = models.ForeignKey(
        "catalog.Item",
        verbose_name=_("menu item"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    name = models.CharField(_("name"), max_length=100)
    date_from = models.DateField(_("from"))
    date_to = models.DateField(_("to"))

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["date_from", "name"]
        verbose_name = _("promotion")
        verbose_name_plural = _("promotions")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(date_to__gte=models.F("date_from")),
                name="planning_promotion_dates",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.date_from}–{self.date_to}"


class StoreClosure(TimestampedModel):
    """Days a store does not trade (refit, local lockdown): no demand, and not a zero to learn."""

    scope_field = "site__node"

    site = models.ForeignKey(
        "org.Site", verbose_name=_("store"), on_delete=models.PROTECT, related_name="+"
    )
    date_from = models.DateField(_("from"))
    date_to = models.DateField(_("to"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["date_from"]
        verbose_name = _("store closure")
        verbose_name_plural = _("store closures")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(date_to__gte=models.F("date_from")),
                name="planning_closure_dates",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.site_id} {self.date_from}–{self.date_to}"


class PlannedEvent(TimestampedModel):
    """A known order on top of the forecast (a catering order, a staff party): its quantity of
    a menu item on a day is added to the forecast demand."""

    scope_field = "site__node"

    site = models.ForeignKey(
        "org.Site", verbose_name=_("store"), on_delete=models.PROTECT, related_name="+"
    )
    date = models.DateField(_("date"))
    menu_item = models.ForeignKey(
        "catalog.Item", verbose_name=_("menu item"), on_delete=models.PROTECT, related_name="+"
    )
    quantity = QuantityField(verbose_name=_("quantity"))
    note = models.CharField(_("note"), max_length=200, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["date", "site"]
        verbose_name = _("planned event")
        verbose_name_plural = _("planned events")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="planning_event_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.site_id} {self.date} {self.menu_item_id} × {self.quantity}"


class RunStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class ForecastRun(models.Model):
    """One refresh of the forecasts: when, for which day, how many series, how it went."""

    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    as_of = models.DateField(_("history up to"))
    horizon = models.PositiveSmallIntegerField(_("horizon (days)"))
    status = models.CharField(
        _("status"), max_length=8, choices=RunStatus.choices, default=RunStatus.RUNNING
    )
    series = models.PositiveIntegerField(_("series"), default=0)
    models_used = models.JSONField(_("models"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("forecast run")
        verbose_name_plural = _("forecast runs")

    def __str__(self) -> str:
        return f"{self.as_of} +{self.horizon}d {self.status}"


class DemandForecast(models.Model):
    """The latest forecast of a store's daily demand for a menu item, or of its guest count
    (orders) when `menu_item` is empty."""

    scope_field = "site__node"

    run = models.ForeignKey(ForecastRun, on_delete=models.CASCADE, related_name="+")
    site = models.ForeignKey("org.Site", on_delete=models.PROTECT, related_name="+")
    menu_item = models.ForeignKey(
        "catalog.Item", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    date = models.DateField(_("date"))
    quantity = QuantityField(verbose_name=_("forecast"))
    model = models.CharField(_("model"), max_length=40)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["site", "menu_item", "date"]
        verbose_name = _("demand forecast")
        verbose_name_plural = _("demand forecasts")
        constraints = [
            models.UniqueConstraint(
                fields=["site", "menu_item", "date"],
                condition=models.Q(menu_item__isnull=False),
                name="planning_forecast_unique",
            ),
            models.UniqueConstraint(
                fields=["site", "date"],
                condition=models.Q(menu_item__isnull=True),
                name="planning_forecast_guests_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.site_id} {self.menu_item_id or 'guests'} {self.date}: {self.quantity}"


class ForecastAccuracy(models.Model):
    """How a series' chosen model did in the backtest of the run that last forecast it, next
    to the seasonal-naive forecast of the same days; `error_scale` (the mean absolute error of
    one day) sizes safety stock."""

    scope_field = "site__node"

    run = models.ForeignKey(ForecastRun, on_delete=models.CASCADE, related_name="+")
    site = models.ForeignKey("org.Site", on_delete=models.PROTECT, related_name="+")
    menu_item = models.ForeignKey(
        "catalog.Item", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    model = models.CharField(_("model"), max_length=40)
    mase = models.FloatField(_("MASE"), null=True)
    wape = models.FloatField(_("WAPE"), null=True)
    bias = models.FloatField(_("bias"), null=True)
    naive_mase = models.FloatField(_("seasonal naive MASE"), null=True)
    naive_wape = models.FloatField(_("seasonal naive WAPE"), null=True)
    error_scale = models.FloatField(_("daily error"), default=0)
    actual_total = models.FloatField(_("actual in backtest"), default=0)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["site", "menu_item"]
        verbose_name = _("forecast accuracy")
        verbose_name_plural = _("forecast accuracy")
        constraints = [
            models.UniqueConstraint(
                fields=["site", "menu_item"],
                condition=models.Q(menu_item__isnull=False),
                name="planning_accuracy_unique",
            ),
            models.UniqueConstraint(
                fields=["site"],
                condition=models.Q(menu_item__isnull=True),
                name="planning_accuracy_guests_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.site_id} {self.menu_item_id or 'guests'}: {self.model} MASE {self.mase}"


class SuggestionStatus(models.TextChoices):
    OPEN = "open", _("To review")
    SUBMITTED = "submitted", _("Submitted")
    SUPERSEDED = "superseded", _("Superseded")


class SuggestedOrder(TimestampedModel):
    """This morning's suggested order of a store from one supplier — or from one warehouse /
    central kitchen (配送, `source_site`; exactly one of the two is set): what to order today
    for the next delivery, to last until the delivery after it. A newer suggestion for the
    same store and source supersedes an open one; submitting it makes a requisition."""

    scope_field = "site__node"

    site = models.ForeignKey(
        "org.Site", verbose_name=_("store"), on_delete=models.PROTECT, related_name="+"
    )
    supplier = models.ForeignKey(
        "procurement.Supplier",
        verbose_name=_("supplier"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    source_site = models.ForeignKey(
        "org.Site",
        verbose_name=_("warehouse or central kitchen"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    order_date = models.DateField(_("order date"))
    delivery_date = models.DateField(_("next delivery"))
    cover_until = models.DateField(_("covers until"))
    status = models.CharField(
        _("status"), max_length=12, choices=SuggestionStatus.choices, default=SuggestionStatus.OPEN
    )
    requisition = models.ForeignKey(
        "procurement.Requisition",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    run = models.ForeignKey(
        ForecastRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        # Suppliers' suggestions first on every database (PostgreSQL sorts NULL last, SQLite
        # first).
        ordering = [
            "site",
            models.F("supplier").asc(nulls_last=True),
            "source_site",
            "-order_date",
        ]
        verbose_name = _("suggested order")
        verbose_name_plural = _("suggested orders")
        constraints = [
            models.UniqueConstraint(
                fields=["site", "supplier"],
                condition=models.Q(status="open"),
                name="planning_one_open_suggestion",
            ),
            models.UniqueConstraint(
                fields=["site", "source_site"],
                condition=models.Q(status="open"),
                name="planning_one_open_site_suggestion",
            ),
            models.CheckConstraint(
                condition=models.Q(supplier__isnull=False, source_site__isnull=True)
                | models.Q(supplier__isnull=True, source_site__isnull=False),
                name="planning_suggestion_one_source",
            ),
        ]

    def __str__(self) -> str:
        source = self.supplier_id or f"site {self.source_site_id}"
        return f"{self.site_id} × {source} {self.order_date}"


class SuggestedLine(models.Model):
    """One item of a suggestion with every step of its arithmetic (suggestion_math). A line
    from a warehouse or kitchen has no supplier item: `unit` is its guide line's unit, and
    `pack_size` is empty when it is not sent in packs (the need is ordered as it is)."""

    # What a manager typed in a refused submission, shown again on the page (never stored).
    entered_quantity: str | None = None
    entered_reason: str = ""

    order = models.ForeignKey(SuggestedOrder, on_delete=models.CASCADE, related_name="lines")
    supplier_item = models.ForeignKey(
        "procurement.SupplierItem",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    item = models.ForeignKey("catalog.Item", on_delete=models.PROTECT, related_name="+")
    basis = models.CharField(_("basis"), max_length=10)
    usage = QuantityField(verbose_name=_("forecast usage"))
    safety_stock = QuantityField(verbose_name=_("safety stock"))
    par = QuantityField(verbose_name=_("par"), null=True, blank=True)
    on_hand = QuantityField(verbose_name=_("on hand"))
    on_order = QuantityField(verbose_name=_("on order"))
    in_transit = QuantityField(verbose_name=_("in transit"))
    need = QuantityField(verbose_name=_("need"))
    pack_size = QuantityField(verbose_name=_("pack size"), null=True, blank=True)  # base/pack
    unit_pack_size = QuantityField(  # the same pack in `unit` (empty on older lines)
        verbose_name=_("pack size (order unit)"), null=True, blank=True
    )
    moq = QuantityField(verbose_name=_("minimum order"))  # base units
    packs = models.PositiveIntegerField(_("packs"), default=0)
    quantity = QuantityField(verbose_name=_("suggested (purchase unit)"))
    base_quantity = QuantityField(verbose_name=_("suggested (base unit)"))
    unit = models.CharField(_("order unit"), max_length=20)
    service_level = models.DecimalField(max_digits=5, decimal_places=4)
    daily_error = QuantityField(verbose_name=_("daily usage error"))
    window_days = models.PositiveSmallIntegerField(_("days covered"))

    class Meta:
        ordering = ["order", "item__sku"]
        verbose_name = _("suggested line")
        verbose_name_plural = _("suggested lines")
        constraints = [
            models.UniqueConstraint(fields=["order", "item"], name="planning_suggested_item"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} {self.item_id}: {self.quantity} {self.unit}"

    @property
    def order_pack_size(self) -> Decimal | None:
        """The pack in `unit` (None: sent in any quantity)."""
        if self.unit_pack_size is not None:
            return self.unit_pack_size
        supplier_item = self.supplier_item if self.supplier_item_id else None
        return supplier_item.pack_size if supplier_item is not None else None
