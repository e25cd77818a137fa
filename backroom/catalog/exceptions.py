"""Catalog errors with stable codes: unit conversions and recipe structure."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from backroom.kernel.exceptions import ValidationFailed


class _UnitError(ValidationFailed):
    """A unit problem for one item; `details` names the item and the unit besides the field."""

    def __init__(self, item: Any, unit_code: str, message: Any, *, field: str = "unit") -> None:
        super().__init__({field: [str(message)]}, message=message)
        self.item = item
        self.unit_code = unit_code
        self.details.update(
            {
                "item_id": getattr(item, "pk", None),
                "item": getattr(item, "sku", str(item)),
                "unit": unit_code,
            }
        )


class UnknownUnit(_UnitError):
    """The unit code is neither one of the item's units, its base unit, nor a known unit."""

    code = "unknown_unit"
    default_message = _("Unknown unit.")

    def __init__(self, item: Any, unit_code: str, *, field: str = "unit") -> None:
        message = gettext("“%(unit)s” is not a unit of %(item)s.") % {
            "unit": unit_code,
            "item": getattr(item, "sku", item),
        }
        super().__init__(item, unit_code, message, field=field)


class MissingConversion(_UnitError):
    """The unit is known but has no conversion to the item's base unit (ml for an item in kg)."""

    code = "missing_conversion"
    default_message = _("No conversion to the item's base unit.")

    def __init__(self, item: Any, unit_code: str, *, field: str = "unit") -> None:
        base = getattr(getattr(item, "base_unit", None), "code", "?")
        message = gettext(
            "%(item)s has no conversion from %(unit)s to its base unit %(base)s; "
            "add %(unit)s as one of its units."
        ) % {"unit": unit_code, "item": getattr(item, "sku", item), "base": base}
        super().__init__(item, unit_code, message, field=field)
        self.details["base_unit"] = base


class RecipeCycle(ValidationFailed):
    """A recipe would use itself, directly or through sub-recipes; `details.path` names the loop."""

    code = "recipe_cycle"
    default_message = _("A recipe cannot use itself.")

    def __init__(self, path: list[str], *, field: str = "lines") -> None:
        loop = " → ".join(path)
        message = gettext("This recipe would use itself: %(path)s.") % {"path": loop}
        super().__init__({field: [message]}, message=message)
        self.details["path"] = list(path)


class RecipeNotFound(ValidationFailed):
    """No recipe version of the item is effective on the date."""

    code = "recipe_not_found"
    default_message = _("No recipe is effective on that date.")

    def __init__(self, item: Any, on: Any, *, field: str = "item") -> None:
        message = gettext("%(item)s has no recipe effective on %(date)s.") % {
            "item": getattr(item, "sku", item),
            "date": on,
        }
        super().__init__({field: [message]}, message=message)
        self.details.update(
            {"item_id": getattr(item, "pk", None), "item": getattr(item, "sku", str(item))}
        )
