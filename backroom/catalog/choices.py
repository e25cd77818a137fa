from django.db import models
from django.utils.translation import gettext_lazy as _


class ItemKind(models.TextChoices):
    INGREDIENT = "ingredient", _("Ingredient")
    PREPARED = "prepared", _("Prepared item")
    MENU = "menu", _("Menu item")
    RETAIL = "retail", _("Retail goods")
    SUPPLIES = "supplies", _("Supplies")
    SPARE_PART = "spare_part", _("Spare part")


# Kinds whose stock is kept in the ledger (menu items are exploded through recipes instead).
STOCKED_KINDS = {
    ItemKind.INGREDIENT,
    ItemKind.PREPARED,
    ItemKind.RETAIL,
    ItemKind.SUPPLIES,
    ItemKind.SPARE_PART,
}


class Storage(models.TextChoices):
    AMBIENT = "ambient", _("Ambient")
    CHILLED = "chilled", _("Chilled")
    FROZEN = "frozen", _("Frozen")


class NegativeStockPolicy(models.TextChoices):
    ALLOW = "allow", _("Allow")
    WARN = "warn", _("Warn")
    FORBID = "forbid", _("Forbid")


class Dimension(models.TextChoices):
    MASS = "mass", _("Mass")
    VOLUME = "volume", _("Volume")
    COUNT = "count", _("Count")


class Rounding(models.TextChoices):
    """How a quantity in a unit is rounded: to its decimal places, or up to whole units (cases)."""

    HALF_UP = "half_up", _("Round to the unit's places")
    UP = "up", _("Round up (whole cases when buying)")
    DOWN = "down", _("Round down")


# Kinds that may have a recipe: menu items (sold) and prepared items (sub-recipes, prep).
RECIPE_KINDS = {ItemKind.MENU, ItemKind.PREPARED}

# Kinds that may carry a menu price.
SELLABLE_KINDS = {ItemKind.MENU, ItemKind.RETAIL}


class ModifierAction(models.TextChoices):
    """What a modifier does to a dish's recipe (applied to the dish's own lines, in this order)."""

    REPLACE = "replace", _("Replace an ingredient")
    REMOVE = "remove", _("Remove an ingredient")
    SCALE = "scale", _("Scale the whole recipe")
    ADD = "add", _("Add an ingredient")


class CostSource(models.TextChoices):
    """Where a cost card line's unit cost came from."""

    AVERAGE_COST = "average_cost", _("Moving-average cost at the site")
    STANDARD_COST = "standard_cost", _("Standard cost of the item")
    SUB_RECIPE = "sub_recipe", _("Sum of its sub-recipe")
    MISSING = "missing", _("No cost known")
