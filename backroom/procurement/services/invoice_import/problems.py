"""The problems of an invoice file: each a coded error of one row (the header is row 1; None
for the whole file) and one column, collected so that all of them are reported at once."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backroom.kernel.exceptions import DomainError
from backroom.procurement.exceptions import DocumentRejected, ProcurementError
from backroom.procurement.services.invoice_import.columns import BY_KEY, COLUMNS

MAX_PROBLEMS = 500


class ImportProblem(ProcurementError):
    """One problem of the file: `details.row` (the header is row 1; None for the whole file),
    `details.column` (as the file names it) and `details.field` (the column's key)."""


class EmptyFile(ImportProblem):
    code = "empty_file"
    default_message = gettext_lazy("The file is empty: it has no invoice lines.")


class UnsupportedFile(ImportProblem):
    code = "unsupported_file"
    default_message = gettext_lazy("Upload a CSV file or an Excel workbook (.xlsx).")


class MissingColumn(ImportProblem):
    code = "missing_column"
    default_message = gettext_lazy("A required column is missing.")


class DuplicateColumn(ImportProblem):
    code = "duplicate_column"
    default_message = gettext_lazy("Two columns have the same meaning.")


class RequiredValue(ImportProblem):
    code = "required"
    default_message = gettext_lazy("This cell is required.")


class InvalidNumber(ImportProblem):
    code = "invalid_number"
    default_message = gettext_lazy("This is not a number.")


class InvalidDate(ImportProblem):
    code = "invalid_date"
    default_message = gettext_lazy("This is not a date.")


class InvalidValue(ImportProblem):
    code = "invalid_value"
    default_message = gettext_lazy("This value cannot be used.")


class UnknownSupplier(ImportProblem):
    code = "unknown_supplier"
    default_message = gettext_lazy("There is no such supplier.")


class NotOnPurchaseOrder(ImportProblem):
    code = "not_on_purchase_order"
    default_message = gettext_lazy("The purchase order has no such line or item.")


class CurrencyMismatch(ImportProblem):
    code = "currency_mismatch"
    default_message = gettext_lazy("The currency differs from the purchase order's.")


class ConflictingValues(ImportProblem):
    code = "conflicting_values"
    default_message = gettext_lazy("The rows of one invoice give it different values.")


class TooManyRows(ImportProblem):
    code = "too_many_rows"
    default_message = gettext_lazy("The file has too many rows.")


class TooManyProblems(ImportProblem):
    code = "too_many_problems"
    default_message = gettext_lazy("The file has too many problems to list them all.")


class Problems:
    """The problems found so far, each of one row and column."""

    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers  # column key → the header as the file writes it
        self.items: list[ImportProblem | DomainError] = []

    def column(self, key: str) -> str:
        return self.headers.get(key) or str(BY_KEY[key].label)

    def where(self, row: int | None, key: str) -> dict[str, Any]:
        return {"row": row, "column": self.column(key) if key else "", "field": key}

    def add(
        self,
        kind: type[ImportProblem],
        row: int | None,
        key: str,
        message: Any,
        *,
        column: str = "",
        **details: Any,
    ) -> None:
        problem = kind(message, **details)
        problem.details.update(self.where(row, key))
        if column:
            problem.details["column"] = column
        self.items.append(problem)

    def add_error(self, error: DomainError, row: int | None, key: str) -> None:
        """A problem coded by the services (`unknown_purchase_order`, `duplicate_invoice`…)."""
        base = error.details if isinstance(error.details, dict) else {}
        error.details = {**base, **self.where(row, key)}
        self.items.append(error)

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if not self.items:
            return
        ordered = sorted(
            self.items,
            key=lambda problem: (
                problem.details.get("row") or 0,
                column_order(problem.details.get("field", "")),
            ),
        )
        if len(ordered) > MAX_PROBLEMS:
            rest = len(ordered) - MAX_PROBLEMS
            ordered = ordered[:MAX_PROBLEMS]
            ordered.append(
                TooManyProblems(
                    _("…and %(count)s more problems: fix these first.") % {"count": rest},
                    row=None,
                    column="",
                    more=rest,
                )
            )
        raise DocumentRejected(ordered)


def column_order(key: str) -> int:
    for index, column in enumerate(COLUMNS):
        if column.key == key:
            return index
    return -1
