"""Procurement errors with stable codes. Every one means: nothing was changed.

A document (a requisition, a PO, a receipt, an invoice) is checked whole: when it has more than
one problem they are raised together as `document_rejected`, whose `details.problems` lists each
problem's own code, message, line (0-based, None for the header) and details.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.utils.translation import gettext_lazy as _

from backroom.kernel.exceptions import Conflict, DomainError, ValidationFailed


class ProcurementError(DomainError):
    """A coded problem, optionally of one line (`line`, 0-based) and one field."""

    http_status = 422

    def __init__(
        self, message: Any = None, *, line: int | None = None, field: str = "", **details: Any
    ) -> None:
        super().__init__(message, details={**details})
        if line is not None:
            self.details["line"] = line
        if field:
            self.details["field"] = field


class SupplierInactive(ProcurementError):
    code = "supplier_inactive"
    default_message = _("The supplier is inactive: nothing can be ordered from it.")


class NotPackMultiple(ProcurementError):
    code = "not_pack_multiple"
    default_message = _("The quantity is not a whole number of packs.")


class BelowMinimumOrder(ProcurementError):
    code = "below_minimum_order"
    default_message = _("The quantity is below the supplier's minimum order quantity.")


class NoValidPrice(ProcurementError):
    code = "no_valid_price"
    default_message = _(
        "No price list of the supplier has a valid price for this item on that day."
    )


class NoExchangeRate(ProcurementError):
    code = "no_exchange_rate"
    default_message = _("The price is in another currency than the store's base currency.")


class UnknownSupplierItem(ProcurementError):
    code = "unknown_supplier_item"
    default_message = _("The supplier does not sell this item.")


class DeviationReasonRequired(ProcurementError):
    code = "deviation_reason_required"
    default_message = _("The quantity is far from the suggestion: say why.")


class NoReceivingLocation(ProcurementError):
    code = "no_receiving_location"
    default_message = _("The site has no open stock location to receive into.")


class OverReceipt(ProcurementError):
    code = "over_receipt"
    http_status = 409
    default_message = _("More would be received than was ordered (beyond the tolerance).")


class TemperatureRequired(ProcurementError):
    code = "temperature_required"
    default_message = _("Chilled and frozen goods need their temperature on arrival.")


class TemperatureOutOfRange(ProcurementError):
    code = "temperature_out_of_range"
    default_message = _(
        "The temperature is outside the allowed range: reject the goods or accept them with a note."
    )


class RejectionReasonRequired(ProcurementError):
    code = "rejection_reason_required"
    default_message = _("Say why goods were rejected.")


class UnknownPurchaseOrder(ProcurementError):
    code = "unknown_purchase_order"
    default_message = _("There is no such purchase order for this supplier.")


class PriceListOverlap(ProcurementError):
    code = "price_list_overlap"
    http_status = 409
    default_message = _("Another price list already prices these items over the same dates.")


class DuplicateInvoice(Conflict):
    code = "duplicate_invoice"
    default_message = _("This supplier invoice number was entered before.")


class RequisitionStateError(Conflict):
    code = "requisition_state"
    default_message = _("The requisition is not in a state that allows this.")


class PurchaseOrderStateError(Conflict):
    code = "purchase_order_state"
    default_message = _("The purchase order is not in a state that allows this.")


class ReviewStateError(Conflict):
    code = "review_state"
    default_message = _("The review entry is already resolved.")


class NoEmailRecipient(ProcurementError):
    code = "no_email_recipient"
    default_message = _(
        "The supplier has no e-mail address: add an order e-mail or a contact with one."
    )


class NothingToResend(Conflict):
    code = "nothing_to_resend"
    default_message = _("The purchase order was e-mailed to every address already.")


class DocumentRejected(DomainError):
    """Several problems of one document at once (each with its own code)."""

    code = "document_rejected"
    http_status = 422
    default_message = _("The document has several problems; nothing was saved.")

    def __init__(self, problems: Sequence[DomainError]) -> None:
        super().__init__(
            details={
                "problems": [
                    {
                        "code": problem.code,
                        "message": problem.message,
                        "line": problem.details.get("line"),
                        "details": problem.details,
                    }
                    for problem in problems
                ]
            }
        )
        self.problems = list(problems)

    @property
    def codes(self) -> list[str]:
        return [problem.code for problem in self.problems]


def raise_all(problems: Sequence[DomainError]) -> None:
    """Nothing when there is no problem; the problem itself when one; else document_rejected."""
    if not problems:
        return
    if len(problems) == 1:
        raise problems[0]
    if all(type(problem) is ValidationFailed for problem in problems):
        merged: dict[str, list[str]] = {}
        for problem in problems:
            for name, messages in problem.errors.items():  # type: ignore[attr-defined]
                merged.setdefault(name, []).extend(messages)
        raise ValidationFailed(merged)
    raise DocumentRejected(problems)
