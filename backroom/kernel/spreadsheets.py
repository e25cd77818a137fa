"""Spreadsheets as users bring them: an .xlsx workbook or a CSV file (UTF-8, with or without a
BOM, else GB18030/GBK), its type read from its bytes, never from its name. Rows are streamed,
so a 200,000-row file is read in steady memory; blank rows are skipped but keep their numbers.

What cannot be read raises `UnreadableSheet` with a message for the user (an old .xls, a
password-protected workbook, a zip that is not a workbook, binary data, a broken CSV quote).
What can be read but would mislead is reported beside the rows: merged cells (only the first
cell keeps the value) and formulas without a saved value (the file was written by a program
that did not compute them).

And the writing side: `write_xlsx` / `write_csv` stream rows out with the same conventions, so
what Backroom exports it also imports."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backroom.kernel.exceptions import DomainError
from backroom.kernel.files import document_type

CSV, XLSX = "csv", "xlsx"
MAX_UNPACKED_BYTES = 400 * 1024 * 1024  # a workbook is a zip: refuse a zip bomb before reading
EXCEL_EPOCH = dt.date(1899, 12, 30)  # serial 1 = 1900-01-01 (and Excel's phantom 1900-02-29)
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED = "EncryptionInfo".encode("utf-16-le")
_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?"')
_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")


class UnreadableSheet(DomainError):
    """The file is not a spreadsheet Backroom can read; the message says what to do."""

    code = "unsupported_file"
    default_message = gettext_lazy("Upload a CSV file or an Excel workbook (.xlsx).")


class EmptySheet(UnreadableSheet):
    code = "empty_file"
    default_message = gettext_lazy("The file is empty.")


@dataclass(frozen=True)
class CellNote:
    """Something about a cell (or a range) the reader noticed: `kind` is "merged" or
    "formula"; `row` and `column` (0-based) its top-left cell; `ref` as Excel writes it."""

    kind: str
    row: int
    column: int
    ref: str
    last_row: int = 0


@dataclass
class Sheet:
    """A readable file: its type, a way to stream its non-blank rows (row number, cells), and
    the notes about merged cells and formulas found while opening it."""

    file_type: str
    _rows: Callable[[], Iterator[tuple[int, list[Any]]]]
    notes: list[CellNote] = field(default_factory=list)

    def rows(self) -> Iterator[tuple[int, list[Any]]]:
        return self._rows()


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def cell_text(value: Any) -> str:
    """A cell as text: whole floats without `.0`, dates in ISO form, strings stripped."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.15g}"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def from_serial(value: float) -> dt.date:
    """The day of an Excel date serial (days since 1899-12-30; a fraction is the time)."""
    return EXCEL_EPOCH + dt.timedelta(days=int(value))


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def column_index(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - 64
    return number - 1


# --- opening a file ---------------------------------------------------------------------------


def open_sheet(source: bytes | Path, *, known_header: Callable[[str], bool] | None = None) -> Sheet:
    """A readable sheet from a file's bytes or path (the first sheet of a workbook). CSV's
    delimiter is the one under which a line of the first ten names the most known headers
    (comma on a tie); `known_header` says whether a header is known."""
    data = source.read_bytes() if isinstance(source, Path) else source
    if not data or not data.strip().removeprefix(b"\xef\xbb\xbf").strip():
        raise EmptySheet()
    head = data[:16]
    if head.startswith(b"PK\x03\x04"):
        return _open_xlsx(data)
    if head.startswith(_OLE):
        if _ENCRYPTED in data:  # an encrypted OOXML package is a compound file
            raise UnreadableSheet(
                _(
                    "The workbook is protected with a password: open it in Excel, remove the "
                    "password (File → Info → Protect Workbook), save it and upload it again."
                )
            )
        raise UnreadableSheet(
            _("This is an old Excel workbook (.xls): save it as .xlsx or CSV and upload that.")
        )
    if document_type(head) is not None or b"\x00" in data[:4096]:
        raise UnreadableSheet()
    text = decode_text(data)
    delimiter = sniff_delimiter(text, known_header or (lambda _name: False))
    return Sheet(CSV, lambda: _csv_rows(text, delimiter))


def decode_text(data: bytes) -> str:
    """UTF-8 (a BOM is dropped), else GB18030 (a superset of GBK), else a clear refusal."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            break
        return text
    raise UnreadableSheet(_("The file is not text in UTF-8 or GBK: save it as CSV UTF-8."))


def sniff_delimiter(text: str, known_header: Callable[[str], bool]) -> str:
    lines = [line for line in text[:20000].splitlines()[:50] if line.strip()][:10]
    best, found = ",", 0
    for delimiter in (",", ";", "\t"):
        for line in lines:
            try:
                cells = next(csv.reader([line], delimiter=delimiter), [])
            except csv.Error:
                continue
            known = sum(1 for cell in cells if known_header(cell.strip()))
            if not known and len(cells) > 1 and delimiter == "\t":
                known = 1  # a tab-separated line is rarely anything else
            if known > found:
                best, found = delimiter, known
    return best


def _csv_rows(text: str, delimiter: str) -> Iterator[tuple[int, list[Any]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        for cells in reader:
            if not all(is_blank(cell) for cell in cells):
                yield reader.line_num, list(cells)
    except csv.Error:
        raise UnreadableSheet(
            _("Row %(row)s of the CSV file cannot be read (an unclosed quote?).")
            % {"row": reader.line_num + 1}
        ) from None


def _open_xlsx(data: bytes) -> Sheet:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise UnreadableSheet(
            _("The file is a damaged zip archive, not a readable Excel workbook (.xlsx).")
        ) from None
    if "xl/workbook.xml" not in names:
        raise UnreadableSheet(_("The file is a zip archive but not an Excel workbook (.xlsx)."))
    if unpacked > MAX_UNPACKED_BYTES:
        raise UnreadableSheet(
            _("The workbook is too large once unpacked (at most %(size)s MB).")
            % {"size": MAX_UNPACKED_BYTES >> 20}
        )
    workbook = _load(data, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        path = getattr(sheet, "_worksheet_path", "")
    finally:
        workbook.close()
    merged, has_formulas = _scan_sheet_xml(data, path) if path else ([], False)
    notes = list(merged)

    def rows() -> Iterator[tuple[int, list[Any]]]:
        values = _load(data, data_only=True)
        formulas = _load(data, data_only=False) if has_formulas else None
        try:
            value_rows = values.worksheets[0].iter_rows(values_only=True)
            formula_rows = formulas.worksheets[0].iter_rows(values_only=True) if formulas else None
            for number, cells in enumerate(value_rows, start=1):
                raw = next(formula_rows, None) if formula_rows is not None else None
                cells = list(cells)
                if raw is not None:
                    for index, cell in enumerate(raw):
                        if isinstance(cell, str) and cell.startswith("=") and index < len(cells):
                            if cells[index] is None:
                                cells[index] = Formula(cell)
                if not all(is_blank(cell) for cell in cells):
                    yield number, cells
        except UnreadableSheet:
            raise
        except Exception:  # openpyxl raises many kinds for a damaged workbook
            raise UnreadableSheet(_("The Excel workbook (.xlsx) cannot be read.")) from None
        finally:
            values.close()
            if formulas is not None:
                formulas.close()

    return Sheet(XLSX, rows, notes)


class Formula(str):
    """A formula cell whose value the file does not hold (never computed by a spreadsheet)."""


def _load(data: bytes, *, data_only: bool) -> Any:
    from openpyxl import load_workbook

    try:
        return load_workbook(io.BytesIO(data), read_only=True, data_only=data_only)
    except Exception:  # openpyxl raises many kinds for a damaged workbook
        raise UnreadableSheet(_("The Excel workbook (.xlsx) cannot be read.")) from None


def _scan_sheet_xml(data: bytes, path: str) -> tuple[list[CellNote], bool]:
    """The merged ranges of a sheet and whether it has formulas, read from its XML in pieces
    (a merged range is an element near the end; the sheet may be tens of megabytes)."""
    notes: list[CellNote] = []
    has_formulas = False
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        try:
            stream = archive.open(path.lstrip("/"))
        except KeyError:
            return notes, False
        with stream:
            tail = b""
            while chunk := stream.read(1 << 20):
                window = tail + chunk
                if not has_formulas and _FORMULA.search(window):
                    has_formulas = True
                for match in _MERGE.finditer(window):
                    first_col, first_row, _last_col, last_row = match.groups()
                    ref = match.group(0).split(b'"')[1].decode()
                    note = CellNote(
                        "merged",
                        int(first_row),
                        column_index(first_col.decode()),
                        ref,
                        int(last_row or first_row),
                    )
                    if note not in notes:
                        notes.append(note)
                tail = window[-200:]
    return notes, has_formulas


# --- reading cells ----------------------------------------------------------------------------

FIRST_DAY, LAST_DAY = dt.date(2000, 1, 1), dt.date(2100, 12, 31)
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)")
_SCIENTIFIC = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+")
_WITH_COMMA = re.compile(r"[+-]?[\d.,]*,[\d.,]*")
_DATE = re.compile(
    r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
)
_CHINESE_DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?")
_DAY_FIRST = re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})")
_SERIAL = re.compile(r"\d{5}(?:\.0*)?")


class CellError(Exception):
    """A cell that cannot be read as what its column holds: a stable `code` and a message
    saying how to fix it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def read_text(value: Any, max_length: int) -> str:
    text = cell_text(value)
    if len(text) > max_length:
        raise CellError("too_long", _("At most %(count)s characters.") % {"count": max_length})
    return text


def read_code(value: Any, max_length: int) -> str:
    """A code (SKU, lot, invoice number): text, refusing what Excel shortened to 15 digits."""
    if isinstance(value, int | float) and not isinstance(value, bool) and abs(value) >= 1e15:
        raise CellError(
            "invalid_value",
            _(
                "“%(value)s” is a number too long for Excel to keep exactly: format the column as "
                "text, type the code again and save."
            )
            % {"value": f"{value:.15g}"},
        )
    text = read_text(value, max_length)
    if _SCIENTIFIC.fullmatch(text):
        raise CellError(
            "invalid_value",
            _(
                "“%(value)s” looks like a long number Excel shortened: format the column as text "
                "and type the code again."
            )
            % {"value": text},
        )
    if any(character in text for character in "\r\n\t"):
        raise CellError("invalid_value", _("A code cannot contain line breaks or tabs."))
    return text


def read_decimal(value: Any, *, places: int, minimum: Decimal | None, maximum: Decimal) -> Decimal:
    """A number as written (a workbook's double to the 15 digits Excel shows), refusing
    scientific notation, thousands separators, and what is out of range or too precise."""
    number: Decimal | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(f"{value:.15g}")
    elif isinstance(value, Decimal):
        number = value
    else:
        raw = cell_text(value)
        if _PLAIN_NUMBER.fullmatch(raw):
            number = Decimal(raw)
        elif _SCIENTIFIC.fullmatch(raw):
            raise CellError(
                "invalid_number",
                _(
                    "“%(value)s” is in scientific notation: write the number out in full "
                    "(format the column as a number in Excel)."
                )
                % {"value": raw},
            )
        elif _WITH_COMMA.fullmatch(raw):
            raise CellError(
                "invalid_number",
                _(
                    "“%(value)s” has a comma: write numbers with a decimal point and without "
                    "thousands separators (1234.5)."
                )
                % {"value": raw},
            )
    if number is None or not number.is_finite():
        raise CellError(
            "invalid_number", _("“%(value)s” is not a number.") % {"value": cell_text(value)}
        )
    if minimum is not None and number < minimum:
        if minimum == 0:
            raise CellError("invalid_number", _("Cannot be negative."))
        raise CellError("invalid_number", _("At least %(minimum)s.") % {"minimum": minimum})
    if number > maximum:
        raise CellError("invalid_number", _("At most %(maximum)s.") % {"maximum": maximum})
    exponent = number.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise CellError(
            "invalid_number", _("At most %(count)s decimal places.") % {"count": places}
        )
    return number


def read_date(value: Any) -> dt.date:
    """A day from an Excel date or serial, or text written year first (2026-12-04, 2026/12/04,
    2026年12月4日); a day-first date is refused as ambiguous."""
    raw = cell_text(value)
    found: dt.date | None = None
    try:
        if isinstance(value, dt.datetime):
            found = value.date()
        elif isinstance(value, dt.date):
            found = value
        elif isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            found = from_serial(float(value))
        elif match := _DATE.fullmatch(raw) or _CHINESE_DATE.fullmatch(raw):
            year, month, day = (int(part) for part in match.groups())
            found = dt.date(year, month, day)
        elif _SERIAL.fullmatch(raw):
            found = from_serial(float(raw))
        elif _DAY_FIRST.fullmatch(raw):
            raise CellError(
                "invalid_date",
                _(
                    "“%(value)s” could be day/month or month/day: write the year first "
                    "(2026-12-04) or use an Excel date."
                )
                % {"value": raw},
            )
    except (ValueError, OverflowError):
        found = None
    if found is None:
        raise CellError(
            "invalid_date",
            _(
                "“%(value)s” is not a date: write 2026-12-04, 2026/12/04 or 2026年12月4日, or use "
                "an Excel date."
            )
            % {"value": raw},
        )
    if not FIRST_DAY <= found <= LAST_DAY:
        raise CellError("invalid_date", _("Give a date between 2000 and 2100."))
    return found


# --- writing ----------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A cell as a spreadsheet holds it: decimals without trailing zeros (1.2000 → 1.2), aware
    times in the current time zone without one (Excel cannot hold a zone)."""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value.is_finite() else str(value)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        from django.utils import timezone

        return timezone.localtime(value).replace(tzinfo=None)
    return value


def write_csv(header: list[str], rows: Iterable[list[Any]]) -> bytes:
    """CSV in UTF-8 with a BOM, so Excel opens Chinese text correctly."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if cell is None else cell_text(_plain(cell)) for cell in row])
    return codecs.BOM_UTF8 + out.getvalue().encode("utf-8")


def write_xlsx(
    sheets: Iterable[tuple[str, list[str], Iterable[list[Any]]]],
    *,
    text_columns: dict[str, set[int]] | None = None,
) -> bytes:
    """A workbook of one or more sheets (title, header, rows), written in streaming mode.
    Decimals become text unless whole (Excel keeps 15 digits); columns listed in
    `text_columns[title]` are always text, so codes like 000123 keep their zeros."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    for title, header, rows in sheets:
        sheet = workbook.create_sheet(title[:31])
        bold = []
        for name in header:
            cell = WriteOnlyCell(sheet, value=name)
            cell.font = Font(bold=True)
            bold.append(cell)
        sheet.append(bold)
        as_text = (text_columns or {}).get(title, set())
        for row in rows:
            cells = []
            for index, value in enumerate(row):
                if index in as_text and value is not None:
                    value = cell_text(_plain(value))
                elif isinstance(value, Decimal):
                    value = _excel_number(value)
                else:
                    value = _plain(value)
                cells.append(value)
            sheet.append(cells)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _excel_number(value: Decimal) -> Any:
    """A decimal Excel can hold exactly (15 significant digits) as a number, else as text."""
    normal = value.normalize()
    digits = len(normal.as_tuple().digits)
    if digits <= 15:
        return int(normal) if normal == normal.to_integral_value() else float(normal)
    return format(value, "f")
