"""The catalog: units of measure, item classes, categories, items and their unit conversions.

Quantities in the ledger are always in the item's base unit. An item's other units (purchase,
count, recipe) carry a factor to the base unit with 12 decimal places, so a case of 6 × 2.5 kg
bags is 15 kg and a 750 ml bottle is 0.75 l exactly.
"""

import datetime as dt
from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from backroom.catalog.choices import (
    Dimension,
    ItemKind,
    ModifierAction,
    NegativeStockPolicy,
    Rounding,
    Storage,
)
from backroom.kernel.models import TimestampedModel
from backroom.kernel.money import (
    FACTOR_DIGITS,
    FACTOR_PLACES,
    CurrencyField,
    MoneyField,
    QuantityField,
)


class Unit(TimestampedModel):
    """A unit of measure (kg, g, l, ml, each). Units of one dimension convert by `to_reference`."""

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=100)
    dimension = models.CharField(_("dimension"), max_length=10, choices=Dimension.choices)
    to_reference = models.DecimalField(
        _("size in the dimension's reference unit"),
        max_digits=FACTOR_DIGITS,
        decimal_places=FACTOR_PLACES,
        help_text=_("g for mass, ml for volume, 1 for count"),
    )
    decimal_places = models.PositiveSmallIntegerField(_("decimal places"), default=3)
    rounding = models.CharField(
        _("rounding"), max_length=10, choices=Rounding.choices, default=Rounding.HALF_UP
    )

    class Meta:
        ordering = ["dimension", "to_reference"]
        verbose_name = _("unit")
        verbose_name_plural = _("units")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(to_reference__gt=0), name="catalog_unit_positive_size"
            ),
            models.CheckConstraint(
                condition=models.Q(decimal_places__lte=6), name="catalog_unit_places_max_6"
            ),
        ]

    def __str__(self) -> str:
        return self.code


class ItemClass(TimestampedModel):
    """A class of items sharing stock policies: negative stock, and the target service level
    suggested orders size safety stock for (the chance of not running out before the next
    delivery; empty: the `PLANNING_SERVICE_LEVELS` setting's, else 0.95)."""

    code = models.SlugField(_("code"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=100)
    negative_stock_policy = models.CharField(
        _("negative stock"),
        max_length=10,
        choices=NegativeStockPolicy.choices,
        default=NegativeStockPolicy.FORBID,
    )
    service_level = models.DecimalField(
        _("service level"),
        max_digits=4,
        decimal_places=3,
        null=True,
        blank=True,
        help_text=_("0.50 to 0.999; empty: the planning default."),
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("item class")
        verbose_name_plural = _("item classes")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(service_level__isnull=True)
                | models.Q(service_level__gte=Decimal("0.5"), service_level__lte=Decimal("0.999")),
                name="catalog_item_class_service_level_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Category(TimestampedModel):
    """A category of items; categories nest (Produce › Vegetables)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        return self.name


class Item(TimestampedModel):
    """Something the chain buys, makes, sells or keeps: ingredient, prepared item, menu item..."""

    sku = models.CharField(_("SKU"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=12, choices=ItemKind.choices)
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.PROTECT, related_name="items"
    )
    item_class = models.ForeignKey(ItemClass, on_delete=models.PROTECT, related_name="items")
    base_unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    barcode = models.CharField(_("barcode"), max_length=40, blank=True, db_index=True)
    shelf_life_days = models.PositiveIntegerField(_("shelf life (days)"), null=True, blank=True)
    storage = models.CharField(
        _("storage"), max_length=10, choices=Storage.choices, default=Storage.AMBIENT
    )
    is_active = models.BooleanField(_("active"), default=True)
    is_made_ahead = models.BooleanField(
        _("made ahead and stocked"),
        default=False,
        help_text=_(
            "A prepared item made in batches and kept in stock (broth, chilli oil): recipes "
            "that use it take it from stock instead of exploding its own recipe."
        ),
    )
    standard_cost = MoneyField(
        verbose_name=_("standard cost per base unit"),
        null=True,
        blank=True,
        help_text=_("Used by cost cards when the site has no moving-average cost yet."),
    )
    cost_currency = CurrencyField(verbose_name=_("standard cost currency"), default="CNY")

    class Meta:
        ordering = ["sku"]
        verbose_name = _("item")
        verbose_name_plural = _("items")

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"


class ItemUnit(TimestampedModel):
    """One of an item's units and its factor to the item's base unit (1 case = 15 kg)."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="units")
    code = models.CharField(_("unit"), max_length=20, help_text=_("e.g. case, bag, bottle, kg"))
    name = models.CharField(
        _("name"), max_length=100, blank=True, help_text=_("e.g. case of 6 × 2.5 kg")
    )
    factor = models.DecimalField(
        _("base units per unit"), max_digits=FACTOR_DIGITS, decimal_places=FACTOR_PLACES
    )
    is_purchase = models.BooleanField(_("purchase unit"), default=False)
    is_count = models.BooleanField(_("count unit"), default=False)
    is_recipe = models.BooleanField(_("recipe unit"), default=False)
    decimal_places = models.PositiveSmallIntegerField(_("decimal places"), default=3)
    rounding = models.CharField(
        _("rounding"), max_length=10, choices=Rounding.choices, default=Rounding.HALF_UP
    )

    class Meta:
        ordering = ["item", "factor"]
        verbose_name = _("item unit")
        verbose_name_plural = _("item units")
        constraints = [
            models.UniqueConstraint(fields=["item", "code"], name="catalog_item_unit_unique"),
            models.CheckConstraint(
                condition=models.Q(factor__gt=0), name="catalog_item_unit_positive_factor"
            ),
            models.CheckConstraint(
                condition=models.Q(decimal_places__lte=6), name="catalog_item_unit_places_max_6"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.item.sku}: 1 {self.code} = {self.factor.normalize()} {self.item.base_unit.code}"
        )


class Recipe(TimestampedModel):
    """One version of a menu or prepared item's recipe (成本卡), effective over [from, to).

    Versions are immutable once published: a change is a new version, and publishing it closes
    the previous one's `effective_to` at the new one's `effective_from`.
    """

    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="recipes")
    version = models.PositiveIntegerField(_("version"))
    effective_from = models.DateField(_("effective from"))
    effective_to = models.DateField(
        _("effective until (exclusive)"), null=True, blank=True, help_text=_("Open when empty")
    )
    yield_quantity = QuantityField(
        verbose_name=_("yield (in the item's base unit)"), default=Decimal(1)
    )
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        ordering = ["item", "-version"]
        verbose_name = _("recipe")
        verbose_name_plural = _("recipes")
        constraints = [
            models.UniqueConstraint(fields=["item", "version"], name="catalog_recipe_version"),
            models.UniqueConstraint(
                fields=["item", "effective_from"], name="catalog_recipe_one_per_start"
            ),
            models.CheckConstraint(
                condition=models.Q(yield_quantity__gt=0), name="catalog_recipe_positive_yield"
            ),
            models.CheckConstraint(
                condition=models.Q(effective_to__isnull=True)
                | models.Q(effective_to__gt=models.F("effective_from")),
                name="catalog_recipe_dates_in_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item.sku} v{self.version}"

    def is_effective_on(self, day: dt.date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day < self.effective_to)


class RecipeLine(TimestampedModel):
    """A component of a recipe: an item, a quantity in one of its units, and a loss/trim %.

    The quantity needed is net / (1 − loss %): 100 g of trimmed spring onion at 20 % trim loss
    needs 125 g bought.
    """

    recipe = models.ForeignKey(Recipe, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    component = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="used_in")
    quantity = QuantityField(verbose_name=_("quantity"))
    unit_code = models.CharField(_("unit"), max_length=20)
    loss_percent = models.DecimalField(
        _("yield/trim loss %"), max_digits=7, decimal_places=4, default=Decimal(0)
    )
    notes = models.CharField(_("notes"), max_length=200, blank=True)

    class Meta:
        ordering = ["recipe", "position", "id"]
        verbose_name = _("recipe line")
        verbose_name_plural = _("recipe lines")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="catalog_recipe_line_positive_quantity"
            ),
            models.CheckConstraint(
                condition=models.Q(loss_percent__gte=0, loss_percent__lt=100),
                name="catalog_recipe_line_loss_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.recipe}: {self.quantity.normalize():f} {self.unit_code} {self.component.sku}"


class Modifier(TimestampedModel):
    """An option on a dish that changes its recipe: extra beef, no coriander, large size."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("modifier")
        verbose_name_plural = _("modifiers")

    def __str__(self) -> str:
        return self.name


class ModifierEffect(TimestampedModel):
    """One change a modifier makes: add an item, remove one, replace A by B, or scale by ×N."""

    modifier = models.ForeignKey(Modifier, on_delete=models.CASCADE, related_name="effects")
    action = models.CharField(_("action"), max_length=10, choices=ModifierAction.choices)
    item = models.ForeignKey(
        Item,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The item added, removed or replaced"),
    )
    replacement = models.ForeignKey(
        Item, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    quantity = QuantityField(
        verbose_name=_("quantity"),
        null=True,
        blank=True,
        help_text=_("Added per portion; for a replacement, the new quantity (else the same)"),
    )
    unit_code = models.CharField(_("unit"), max_length=20, blank=True)
    factor = models.DecimalField(
        _("scale factor"), max_digits=FACTOR_DIGITS, decimal_places=FACTOR_PLACES, null=True
    )

    class Meta:
        ordering = ["modifier", "id"]
        verbose_name = _("modifier effect")
        verbose_name_plural = _("modifier effects")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(factor__isnull=True) | models.Q(factor__gt=0),
                name="catalog_modifier_effect_positive_factor",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.modifier.code}: {self.action}"


class MenuPrice(TimestampedModel):
    """A menu item's selling price from a date, at one site or (site empty) a chain price list.

    The chain keeps one default price list per currency (CNY for the mainland, HKD for Hong
    Kong); a site uses its own price, else the chain price in its entity's currency.
    """

    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="menu_prices")
    site = models.ForeignKey(
        "org.Site", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    price = MoneyField(verbose_name=_("price"))
    currency = CurrencyField(verbose_name=_("currency"))
    effective_from = models.DateField(_("effective from"))

    class Meta:
        ordering = ["item", "site", "-effective_from"]
        verbose_name = _("menu price")
        verbose_name_plural = _("menu prices")
        constraints = [
            models.UniqueConstraint(
                fields=["item", "site", "effective_from"],
                condition=models.Q(site__isnull=False),
                name="catalog_menu_price_site_unique",
            ),
            models.UniqueConstraint(
                fields=["item", "currency", "effective_from"],
                condition=models.Q(site__isnull=True),
                name="catalog_menu_price_chain_currency_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(price__gte=0), name="catalog_menu_price_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item.sku} {self.price} {self.currency} from {self.effective_from}"
