"""Stock ledger errors with stable codes. Every one means: nothing was changed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from backroom.kernel.exceptions import Conflict, ValidationFailed


def _plain(quantity: Decimal) -> str:
    text = f"{quantity.normalize():f}"
    return text


class InsufficientStock(Conflict):
    """Not enough usable stock and the item class forbids negative stock: "short by N kg"."""

    code = "insufficient_stock"
    default_message = _("Not enough stock.")

    def __init__(self, item: Any, location: Any, short_by: Decimal, *, field: str = "quantity"):
        unit = getattr(getattr(item, "base_unit", None), "code", "")
        message = gettext("%(item)s at %(location)s: short by %(short)s %(unit)s.") % {
            "item": getattr(item, "sku", item),
            "location": location,
            "short": _plain(short_by),
            "unit": unit,
        }
        super().__init__(
            message,
            details={
                "item_id": getattr(item, "pk", None),
                "item": getattr(item, "sku", str(item)),
                "location_id": getattr(location, "pk", None),
                "short_by": str(short_by),
                "unit": unit,
                "field": field,
            },
        )
        self.item = item
        self.location = location
        self.short_by = short_by


class _FieldError(ValidationFailed):
    """A ValidationFailed naming one field, with a stable code of its own."""

    def __init__(self, message: Any = None, *, field: str, **details: Any) -> None:
        text = str(message if message is not None else self.default_message)
        super().__init__({field: [text]}, message=text)
        self.details.update(details)


class UnknownLocation(_FieldError):
    code = "unknown_location"
    default_message = _("There is no such location.")


class LocationInactive(_FieldError):
    code = "location_inactive"
    default_message = _("The location is closed.")


class NegativeQuantity(_FieldError):
    code = "negative_quantity"
    default_message = _("The quantity must be greater than zero.")


class TransferToSelf(_FieldError):
    code = "transfer_to_self"
    default_message = _("A transfer needs two different locations.")


class ExpiredLot(_FieldError):
    code = "expired_lot"
    default_message = _("The lot has expired; only waste may take it.")


class UnknownLot(_FieldError):
    code = "unknown_lot"
    default_message = _("There is no such lot of this item.")


class ItemNotStocked(_FieldError):
    code = "item_not_stocked"
    default_message = _("This item is not kept in stock.")


class AlreadyReversed(Conflict):
    code = "already_reversed"
    default_message = _("This move has already been reversed.")


class NotReversible(Conflict):
    code = "not_reversible"
    default_message = _("This move cannot be reversed.")


class NothingInTransit(Conflict):
    code = "nothing_in_transit"
    default_message = _("Nothing of this transfer is left in transit.")


class BatchRejected(ValidationFailed):
    """A batch with problems: every problem of every line at once; nothing was posted.

    `details["lines"]` lists {"index", "code", "message", "details"} for each bad line.
    """

    code = "batch_rejected"
    default_message = _("Some lines of the batch are invalid; nothing was posted.")

    def __init__(self, lines: list[dict[str, Any]]) -> None:
        super().__init__({}, message=self.default_message)
        self.details["lines"] = lines
        self.lines = lines
