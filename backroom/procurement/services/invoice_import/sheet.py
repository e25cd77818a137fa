"""An invoice file read into rows of typed cells: its type from its bytes (a zip workbook is
.xlsx; anything else must be CSV text in UTF-8, with or without a BOM, else GB18030/GBK), its
header row, and each cell checked (numbers, dates, codes), a problem for every bad one."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

from backroom.kernel.spreadsheets import (
    CellError,
    EmptySheet,
    UnreadableSheet,
    cell_text,
    is_blank,
    open_sheet,
    read_code,
    read_date,
    read_decimal,
)
from backroom.procurement.services.invoice_import.columns import (
    BY_HEADER,
    BY_KEY,
    COLUMNS,
    accepted_headers,
    header_key,
)
from backroom.procurement.services.invoice_import.problems import (
    DuplicateColumn,
    EmptyFile,
    InvalidDate,
    InvalidNumber,
    InvalidValue,
    MissingColumn,
    Problems,
    RequiredValue,
    UnsupportedFile,
)

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_ROWS = 5000
MAX_QUANTITY = Decimal(1_000_000)
MAX_PRICE = Decimal(1_000_000)
MAX_AMOUNT = Decimal(1_000_000_000)

# --- reading the file --------------------------------------------------------------------------


@dataclass
class Sheet:
    """A file's type and its non-blank rows."""

    file_type: str
    rows: list[tuple[int, list[Any]]]  # (spreadsheet row number, cells) of the non-blank rows


def read_sheet(data: bytes) -> Sheet:
    """The file's non-blank rows, by its bytes: an .xlsx workbook (its first sheet) or CSV
    (see `backroom.kernel.spreadsheets`); more than MAX_ROWS + 1 are not read."""
    try:
        sheet = open_sheet(data, known_header=lambda name: header_key(name) in BY_HEADER)
        rows: list[tuple[int, list[Any]]] = []
        for row in sheet.rows():
            rows.append(row)
            if len(rows) > MAX_ROWS + 1:
                break
    except EmptySheet:
        raise EmptyFile() from None
    except UnreadableSheet as error:
        raise UnsupportedFile(error.message) from None
    return Sheet(sheet.file_type, rows)


# --- checking cells ----------------------------------------------------------------------------


@dataclass
class Row:
    """One data row: its number, its raw cells by column key and their typed values (empty or
    None where the cell was blank or bad)."""

    number: int
    values: dict[str, Any]
    supplier_code: str = ""
    invoice_number: str = ""
    invoice_date: dt.date | None = None
    purchase_order_number: str = ""
    po_line_no: int | None = None
    item_sku: str = ""
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    amount: Decimal | None = None
    tax: Decimal | None = None
    currency: str = ""

    def blank(self, key: str) -> bool:
        return is_blank(self.values.get(key))


class Cells:
    """Reads one row's cells into typed values, adding a problem for each bad cell."""

    def __init__(self, problems: Problems) -> None:
        self.problems = problems

    def required(self, row: Row, key: str) -> bool:
        if row.blank(key):
            self.problems.add(
                RequiredValue,
                row.number,
                key,
                _("Fill in the %(column)s.") % {"column": BY_KEY[key].label},
            )
            return False
        return True

    def identifier(self, row: Row, key: str, limit: int, *, required: bool) -> str:
        if row.blank(key):
            if required:
                self.required(row, key)
            return ""
        try:
            return read_code(row.values[key], limit)
        except CellError as error:
            self.problems.add(InvalidValue, row.number, key, error.message)
            return ""

    def number(
        self, row: Row, key: str, *, places: int, maximum: Decimal, required: bool
    ) -> Decimal | None:
        if row.blank(key):
            if required:
                self.required(row, key)
            return None
        try:
            return read_decimal(row.values[key], places=places, minimum=Decimal(0), maximum=maximum)
        except CellError as error:
            self.problems.add(InvalidNumber, row.number, key, error.message)
            return None

    def line_number(self, row: Row, key: str) -> int | None:
        if row.blank(key):
            return None
        value = row.values[key]
        raw = cell_text(value)
        try:
            number = Decimal(raw)
        except InvalidOperation:
            number = Decimal(-1)
        if not number.is_finite() or number != number.to_integral_value() or not 1 <= number:
            self.problems.add(
                InvalidNumber,
                row.number,
                key,
                _("“%(value)s” is not a line number (1, 2, 3…).") % {"value": raw},
            )
            return None
        if number > 100_000:
            self.problems.add(InvalidNumber, row.number, key, _("No PO has so many lines."))
            return None
        return int(number)

    def date(self, row: Row, key: str) -> dt.date | None:
        if not self.required(row, key):
            return None
        try:
            return read_date(row.values[key])
        except CellError as error:
            self.problems.add(InvalidDate, row.number, key, error.message)
            return None

    def currency(self, row: Row, key: str) -> str:
        if row.blank(key):
            return ""
        value = cell_text(row.values[key]).upper()
        if not re.fullmatch(r"[A-Z]{3}", value):
            self.problems.add(
                InvalidValue,
                row.number,
                key,
                _("“%(value)s” is not a currency code such as CNY or HKD.") % {"value": value},
            )
            return ""
        return value


def header_row_index(rows: Sequence[tuple[int, list[Any]]]) -> int:
    """The header row: the first of the first ten rows that names at least three known columns
    (so a title above the table is skipped), else the first row."""
    for index, (_number, cells) in enumerate(rows[:10]):
        if sum(1 for cell in cells if header_key(cell_text(cell)) in BY_HEADER) >= 3:
            return index
    return 0


def read_headers(
    header: tuple[int, list[Any]], problems: Problems
) -> tuple[dict[str, int], list[str]]:
    """Each known column's position; the columns the import ignores."""
    number, cells = header
    positions: dict[str, int] = {}
    ignored: list[str] = []
    for index, cell in enumerate(cells):
        name = cell_text(cell)
        column = BY_HEADER.get(header_key(name)) if name else None
        if column is None:
            if name:
                ignored.append(name)
            continue
        if column.key in positions:
            problems.add(
                DuplicateColumn,
                number,
                column.key,
                _("“%(first)s” and “%(second)s” are both the %(column)s: keep one of them.")
                % {
                    "first": problems.headers[column.key],
                    "second": name,
                    "column": column.label,
                },
                column=name,
            )
            continue
        positions[column.key] = index
        problems.headers[column.key] = name
    for column in COLUMNS:
        if column.required and column.key not in positions:
            problems.add(
                MissingColumn,
                number,
                column.key,
                _("The file has no %(column)s column (its header may be: %(names)s).")
                % {"column": column.label, "names": accepted_headers(column)},
            )
    if "po_line_no" not in positions and "item_sku" not in positions:
        problems.add(
            MissingColumn,
            number,
            "po_line_no",
            _(
                "The file needs a PO line no column (%(lines)s) or an item SKU column (%(skus)s) "
                "to say which PO line each row bills."
            )
            % {
                "lines": accepted_headers(BY_KEY["po_line_no"]),
                "skus": accepted_headers(BY_KEY["item_sku"]),
            },
        )
    return positions, ignored


def read_row(number: int, cells: list[Any], positions: dict[str, int], read: Cells) -> Row:
    row = Row(
        number,
        {key: cells[index] if index < len(cells) else None for key, index in positions.items()},
    )
    row.supplier_code = read.identifier(row, "supplier_code", 20, required=True).upper()
    row.invoice_number = read.identifier(row, "invoice_number", 60, required=True)
    row.invoice_date = read.date(row, "invoice_date")
    row.purchase_order_number = read.identifier(row, "purchase_order_number", 60, required=True)
    row.po_line_no = read.line_number(row, "po_line_no")
    row.item_sku = read.identifier(row, "item_sku", 60, required=False)
    if row.blank("po_line_no") and row.blank("item_sku"):
        read.problems.add(
            RequiredValue,
            number,
            "po_line_no" if "po_line_no" in positions else "item_sku",
            _("Give the PO line no or the item SKU this row bills."),
        )
    row.quantity = read.number(row, "quantity", places=6, maximum=MAX_QUANTITY, required=True)
    row.unit_price = read.number(row, "unit_price", places=4, maximum=MAX_PRICE, required=True)
    row.amount = read.number(row, "amount", places=4, maximum=MAX_AMOUNT, required=False)
    row.tax = read.number(row, "tax", places=4, maximum=MAX_AMOUNT, required=False)
    row.currency = read.currency(row, "currency")
    return row
