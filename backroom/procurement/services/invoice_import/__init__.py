"""Supplier invoices imported from a file: CSV or .xlsx, one row per invoice line.

The file is read whole and checked before anything is written: every problem of every row is
reported at once (`document_rejected`, each problem with its own code, the spreadsheet row
number — the header is row 1 — and the column as the file names it). Only a file without a
problem is imported, and then every invoice in it goes through `enter_invoice` in one
transaction (matched at once, review-queue entries, audit and events exactly as for an
invoice entered by hand): all of the file or nothing. A dry run does the same and rolls it
back, so it shows exactly what the file would create, matched or in review.

Rows become invoices by (supplier code, invoice number); the invoice's date, PO number,
currency and tax may be repeated on each of its rows but must not differ. Headers are read in
English or Chinese, whatever their case and spacing (`columns.COLUMNS`). The file's type is
read from its bytes, never from its name: a zip workbook is .xlsx; anything else must be text
(UTF-8, with or without a BOM, else GB18030/GBK) with commas, semicolons or tabs between the
cells. `sheet` reads the file and its cells, `problems` holds the coded problems; this module
checks the invoices against suppliers and POs and enters them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from backroom.accounts.authorization import require_permission
from backroom.catalog.models import Item
from backroom.kernel.exceptions import DomainError, NotFound, PermissionDenied
from backroom.procurement.choices import PurchaseOrderStatus
from backroom.procurement.exceptions import (
    DocumentRejected,
    DuplicateInvoice,
    PurchaseOrderStateError,
    UnknownPurchaseOrder,
)
from backroom.procurement.models import (
    PurchaseOrder,
    PurchaseOrderLine,
    Supplier,
    SupplierInvoice,
)
from backroom.procurement.permissions import PROCUREMENT_INVOICE
from backroom.procurement.services.invoice_import.columns import BY_KEY, COLUMNS, INVOICE_FIELDS
from backroom.procurement.services.invoice_import.problems import (
    ConflictingValues,
    CurrencyMismatch,
    EmptyFile,
    ImportProblem,
    InvalidValue,
    NotOnPurchaseOrder,
    Problems,
    TooManyRows,
    UnknownSupplier,
    UnsupportedFile,
)
from backroom.procurement.services.invoice_import.sheet import (
    MAX_FILE_BYTES,
    MAX_ROWS,
    Cells,
    Row,
    header_row_index,
    read_headers,
    read_row,
    read_sheet,
)
from backroom.procurement.services.invoices import (
    MAX_LINES,
    InvoiceInput,
    InvoiceLineInput,
    enter_invoice,
)

# --- the result ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportedInvoice:
    """One invoice of the file: created (or, on a dry run, what would be created)."""

    supplier_code: str
    invoice_number: str
    purchase_order_number: str
    rows: list[int]
    line_count: int
    status: str  # payable or in_review
    match_status: str
    reasons: list[str]
    net_amount: Decimal
    tax_amount: Decimal
    total_amount: Decimal
    currency: str
    invoice_id: int | None  # None on a dry run


@dataclass(frozen=True)
class InvoiceImportResult:
    """What an import created (or a dry run would create), invoice by invoice."""

    file_name: str
    file_type: str
    dry_run: bool
    invoices: list[ImportedInvoice]
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def invoice_count(self) -> int:
        return len(self.invoices)

    @property
    def line_count(self) -> int:
        return sum(invoice.line_count for invoice in self.invoices)

    @property
    def payable_count(self) -> int:
        return sum(1 for invoice in self.invoices if invoice.status == "payable")

    @property
    def in_review_count(self) -> int:
        return sum(1 for invoice in self.invoices if invoice.status == "in_review")


# --- invoices: rows grouped, checked against suppliers and POs ---------------------------------


@dataclass
class _Invoice:
    """The rows of one invoice of the file and what they were found to name."""

    supplier_code: str
    invoice_number: str
    rows: list[Row] = field(default_factory=list)
    supplier: Supplier | None = None
    order: PurchaseOrder | None = None
    queue_unknown_po: bool = False
    lines: list[InvoiceLineInput] = field(default_factory=list)

    @property
    def first(self) -> Row:
        return self.rows[0]

    def value(self, name: str) -> Any:
        """The invoice's value of a header field: the first row that has one."""
        for row in self.rows:
            value = getattr(row, name)
            if value not in (None, ""):
                return value
        return None


def _shown(value: Any) -> str:
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return str(value)


def _check_conflicts(invoice: _Invoice, problems: Problems) -> None:
    for name in INVOICE_FIELDS:
        first = next((row for row in invoice.rows if getattr(row, name) not in (None, "")), None)
        if first is None:
            continue
        expected = getattr(first, name)
        for row in invoice.rows:
            value = getattr(row, name)
            if value in (None, "") or value == expected:
                continue
            problems.add(
                ConflictingValues,
                row.number,
                name,
                _(
                    "Invoice %(number)s has %(column)s %(first)s on row %(row)s and "
                    "%(value)s here: one invoice has one value."
                )
                % {
                    "number": invoice.invoice_number,
                    "column": BY_KEY[name].label,
                    "first": _shown(expected),
                    "row": first.number,
                    "value": _shown(value),
                },
            )


def _suppliers(actor: Any, codes: Iterable[str]) -> dict[str, Supplier]:
    from backroom.procurement.selectors import suppliers_for

    return {
        supplier.code.upper(): supplier
        for supplier in suppliers_for(actor, PROCUREMENT_INVOICE).filter(code__in=set(codes))
    }


def _check_invoices(
    actor: Any, invoices: list[_Invoice], problems: Problems, *, queue_unknown_po: bool
) -> None:
    suppliers = _suppliers(actor, {invoice.supplier_code for invoice in invoices})
    entered = set(
        SupplierInvoice.objects.filter(
            supplier__in=suppliers.values(),
            invoice_number__in={invoice.invoice_number for invoice in invoices},
        ).values_list("supplier_id", "invoice_number")
    )
    numbers = {invoice.value("purchase_order_number") for invoice in invoices} - {None}
    visible = {
        (order.supplier_id, order.number): order
        for order in PurchaseOrder.objects.restrict(actor, PROCUREMENT_INVOICE)
        .select_related("store__node")
        .filter(supplier__in=suppliers.values(), number__in=numbers)
    }
    existing = set(
        PurchaseOrder.objects.filter(
            supplier__in=suppliers.values(), number__in=numbers
        ).values_list("supplier_id", "number")
    )
    po_lines: dict[int, list[PurchaseOrderLine]] = {}
    for line in (
        PurchaseOrderLine.objects.filter(order__in=visible.values())
        .select_related("item", "supplier_item")
        .order_by("order_id", "line_no")
    ):
        po_lines.setdefault(line.order_id, []).append(line)
    skus = {row.item_sku for invoice in invoices for row in invoice.rows if row.item_sku}
    catalog = {
        item.sku.upper(): item
        for item in Item.objects.filter(sku__in=skus | {sku.upper() for sku in skus})
    }
    for invoice in invoices:
        first = invoice.first
        supplier = suppliers.get(invoice.supplier_code)
        if supplier is None:
            problems.add(
                UnknownSupplier,
                first.number,
                "supplier_code",
                _("There is no supplier %(code)s you may enter invoices of.")
                % {"code": invoice.supplier_code},
                supplier=invoice.supplier_code,
            )
            continue
        invoice.supplier = supplier
        if (supplier.pk, invoice.invoice_number) in entered:
            problems.add_error(
                DuplicateInvoice(
                    _("Invoice %(number)s of %(supplier)s was entered before.")
                    % {"number": invoice.invoice_number, "supplier": supplier.code},
                    details={"supplier": supplier.code, "invoice_number": invoice.invoice_number},
                ),
                first.number,
                "invoice_number",
            )
        if len(invoice.rows) > MAX_LINES:
            problems.add(
                InvalidValue,
                invoice.rows[MAX_LINES].number,
                "invoice_number",
                _("Invoice %(number)s has more than %(count)s lines.")
                % {"number": invoice.invoice_number, "count": MAX_LINES},
            )
        reference = invoice.value("purchase_order_number")
        if reference is None:
            continue
        order = visible.get((supplier.pk, reference))
        if order is None:
            may_queue = (
                queue_unknown_po
                and actor.has_scoped_permission(PROCUREMENT_INVOICE, supplier.node)
                and (supplier.pk, reference) not in existing
            )
            if may_queue:
                invoice.queue_unknown_po = True
                _queued_lines(invoice, catalog)
            else:
                problems.add_error(
                    UnknownPurchaseOrder(
                        _("%(supplier)s has no purchase order %(number)s.")
                        % {"supplier": supplier.code, "number": reference},
                        purchase_order_number=reference,
                    ),
                    _row_with(invoice, "purchase_order_number"),
                    "purchase_order_number",
                )
            continue
        invoice.order = order
        if order.status in (PurchaseOrderStatus.DRAFT, PurchaseOrderStatus.CANCELLED):
            problems.add_error(
                PurchaseOrderStateError(
                    _("Purchase order %(number)s is %(status)s: it cannot be invoiced.")
                    % {"number": order.number, "status": order.get_status_display()},
                    details={"status": order.status},
                ),
                _row_with(invoice, "purchase_order_number"),
                "purchase_order_number",
            )
        currency = invoice.value("currency")
        if currency and currency != order.currency:
            problems.add(
                CurrencyMismatch,
                _row_with(invoice, "currency"),
                "currency",
                _("Purchase order %(number)s is in %(currency)s.")
                % {"number": order.number, "currency": order.currency},
            )
        _order_lines(invoice, po_lines.get(order.pk, []), problems)


def _row_with(invoice: _Invoice, name: str) -> int:
    """The first row of the invoice that gives `name` (the first row when none does)."""
    for row in invoice.rows:
        if getattr(row, name) not in (None, ""):
            return row.number
    return invoice.first.number


def _order_lines(invoice: _Invoice, lines: Sequence[PurchaseOrderLine], problems: Problems) -> None:
    order = invoice.order
    assert order is not None
    by_number = {line.line_no: line for line in lines}
    by_sku: dict[str, PurchaseOrderLine] = {}
    for line in lines:  # lowest line first: an item ordered twice bills its first line
        by_sku.setdefault(line.item.sku.upper(), line)
        if line.supplier_item.supplier_sku:
            by_sku.setdefault(line.supplier_item.supplier_sku.upper(), line)
    for row in invoice.rows:
        found: PurchaseOrderLine | None = None
        if row.po_line_no is not None:
            found = by_number.get(row.po_line_no)
            if found is None:
                problems.add(
                    NotOnPurchaseOrder,
                    row.number,
                    "po_line_no",
                    _("Purchase order %(number)s has no line %(line)s.")
                    % {"number": order.number, "line": row.po_line_no},
                )
                continue
            if row.item_sku and row.item_sku.upper() not in {
                found.item.sku.upper(),
                (found.supplier_item.supplier_sku or "").upper(),
            }:
                problems.add(
                    NotOnPurchaseOrder,
                    row.number,
                    "item_sku",
                    _("Line %(line)s of %(number)s is %(item)s, not %(sku)s.")
                    % {
                        "line": row.po_line_no,
                        "number": order.number,
                        "item": found.item.sku,
                        "sku": row.item_sku,
                    },
                )
                continue
        elif row.item_sku:
            found = by_sku.get(row.item_sku.upper())
            if found is None:
                problems.add(
                    NotOnPurchaseOrder,
                    row.number,
                    "item_sku",
                    _("Purchase order %(number)s has no line for item %(sku)s.")
                    % {"number": order.number, "sku": row.item_sku},
                )
                continue
        if found is None or row.quantity is None or row.unit_price is None:
            continue
        invoice.lines.append(
            InvoiceLineInput(
                quantity=row.quantity,
                unit_price=row.unit_price,
                amount=row.amount,
                purchase_order_line_id=found.pk,
            )
        )


def _queued_lines(invoice: _Invoice, catalog: dict[str, Item]) -> None:
    """Lines of an invoice naming an unknown PO, kept for review: by item when the SKU is one."""
    for row in invoice.rows:
        if row.quantity is None or row.unit_price is None:
            continue
        item = catalog.get(row.item_sku.upper()) if row.item_sku else None
        description = row.item_sku or (
            _("PO line %(line)s") % {"line": row.po_line_no} if row.po_line_no else ""
        )
        invoice.lines.append(
            InvoiceLineInput(
                quantity=row.quantity,
                unit_price=row.unit_price,
                amount=row.amount,
                item_id=item.pk if item is not None else None,
                description=description,
            )
        )


def _group(rows: list[Row]) -> list[_Invoice]:
    invoices: dict[tuple[str, str], _Invoice] = {}
    for row in rows:
        if not row.supplier_code or not row.invoice_number:
            continue
        key = (row.supplier_code, row.invoice_number)
        invoice = invoices.get(key)
        if invoice is None:
            invoice = invoices[key] = _Invoice(row.supplier_code, row.invoice_number)
        invoice.rows.append(row)
    return list(invoices.values())


# --- the import --------------------------------------------------------------------------------


class _RolledBack(Exception):
    def __init__(self, result: InvoiceImportResult) -> None:
        super().__init__("dry run")
        self.result = result


def _enter(invoice: _Invoice, actor: Any, problems: Problems) -> ImportedInvoice:
    supplier = invoice.supplier
    assert supplier is not None
    date = invoice.value("invoice_date")
    tax = invoice.value("tax")
    data = InvoiceInput(
        invoice_number=invoice.invoice_number,
        invoice_date=date,
        purchase_order_number=invoice.value("purchase_order_number") or "",
        lines=invoice.lines,
        tax_amount=tax if tax is not None else Decimal(0),
        currency=invoice.value("currency") or "",
    )
    try:
        created = enter_invoice(
            supplier, data, actor=actor, queue_unknown_po=invoice.queue_unknown_po
        )
    except (NotFound, PermissionDenied):
        raise
    except DomainError as error:  # a race the checks could not see (say, the same file twice)
        problems.add_error(error, invoice.first.number, "invoice_number")
        problems.raise_if_any()
        raise
    match = created.matches.order_by("-pk").first()
    review = created.reviews.order_by("-pk").first()
    return ImportedInvoice(
        supplier_code=supplier.code,
        invoice_number=created.invoice_number,
        purchase_order_number=created.purchase_order_reference,
        rows=[row.number for row in invoice.rows],
        line_count=len(invoice.lines),
        status=str(created.status),
        match_status=str(match.status) if match is not None else "",
        reasons=list(review.reasons) if review is not None else [],
        net_amount=created.net_amount,
        tax_amount=created.tax_amount,
        total_amount=created.total_amount,
        currency=created.currency,
        invoice_id=created.pk,
    )


def import_invoices(
    file_bytes: bytes,
    filename: str,
    *,
    actor: Any,
    dry_run: bool = False,
    queue_unknown_po: bool = False,
) -> InvoiceImportResult:
    """Import supplier invoices from a CSV or .xlsx file (procurement.invoice at each PO's
    store): every problem at once as `document_rejected` and nothing changed, else every
    invoice entered and matched in one transaction. A PO the actor may not invoice is unknown
    to them. With `queue_unknown_po` an invoice naming no PO of its supplier is kept in the
    review queue (by those who may invoice at the supplier's node), as `enter_invoice` does.
    `dry_run` returns what would be created and changes nothing."""
    require_permission(actor, PROCUREMENT_INVOICE)
    name = (filename or "").strip()[:200]
    if len(file_bytes) > MAX_FILE_BYTES:
        raise DocumentRejected(
            [
                UnsupportedFile(
                    _("The file is larger than %(size)s MB.") % {"size": MAX_FILE_BYTES >> 20},
                    row=None,
                    column="",
                )
            ]
        )
    try:
        sheet = read_sheet(file_bytes)
    except ImportProblem as problem:
        problem.details = {"row": None, "column": "", "field": "", **problem.details}
        raise DocumentRejected([problem]) from None
    problems = Problems({})
    if not sheet.rows:
        problems.add(EmptyFile, None, "", EmptyFile.default_message)
        problems.raise_if_any()
    header = header_row_index(sheet.rows)
    positions, ignored = read_headers(sheet.rows[header], problems)
    problems.raise_if_any()  # without its columns no row can be read
    data_rows = sheet.rows[header + 1 :]
    if not data_rows:
        problems.add(EmptyFile, None, "", _("The file has a header but no invoice lines."))
    if len(data_rows) > MAX_ROWS:
        problems.add(
            TooManyRows,
            data_rows[MAX_ROWS][0],
            "",
            _("At most %(count)s invoice lines per file: split it.") % {"count": MAX_ROWS},
        )
        problems.raise_if_any()
    read = Cells(problems)
    rows = [read_row(number, cells, positions, read) for number, cells in data_rows]
    invoices = _group(rows)
    for invoice in invoices:
        _check_conflicts(invoice, problems)
    _check_invoices(actor, invoices, problems, queue_unknown_po=queue_unknown_po)
    problems.raise_if_any()
    try:
        with transaction.atomic():
            created = [_enter(invoice, actor, problems) for invoice in invoices]
            result = InvoiceImportResult(
                file_name=name,
                file_type=sheet.file_type,
                dry_run=dry_run,
                invoices=created,
                ignored_columns=ignored,
            )
            if dry_run:
                raise _RolledBack(result)
    except _RolledBack as rolled_back:
        invoices_preview = [
            replace(invoice, invoice_id=None) for invoice in rolled_back.result.invoices
        ]
        return InvoiceImportResult(
            file_name=name,
            file_type=sheet.file_type,
            dry_run=True,
            invoices=invoices_preview,
            ignored_columns=ignored,
        )
    return result


__all__ = [
    "COLUMNS",
    "MAX_FILE_BYTES",
    "ImportProblem",
    "ImportedInvoice",
    "InvoiceImportResult",
    "import_invoices",
    "read_sheet",
]
