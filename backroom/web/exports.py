"""A list page's rows as a download: `?export=xlsx` or `?export=csv` on the page's own URL
(its filters kept), every row the user may see, not just the page's first ones.

    COLUMNS = [Column(_("Number"), attrgetter("number")), …]

    def order_list(request):
        rows = selectors.purchase_orders_for(request.user, status=status)
        if wanted := export_format(request):
            return export_table(wanted, "purchase-orders", COLUMNS, rows)

A report whose CSV export already lays it out as rows (a header first, totals rows last) goes
through `export_report` instead, the same rows in both formats.

The page shows the buttons with `{% include "web/export_buttons.html" %}`. Lists that an
importer reads back (items, suppliers, users…) link to the importer's export instead, so that
export → edit → import round-trips."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.http import HttpRequest, HttpResponse

from backroom.kernel.spreadsheets import write_csv, write_xlsx

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_ROWS = 100_000


@dataclass(frozen=True)
class Column:
    header: Any  # a (lazy) translated header
    value: Callable[[Any], Any]


def export_format(request: HttpRequest) -> str | None:
    wanted = request.GET.get("export", "")
    return wanted if wanted in ("csv", "xlsx") else None


def download(data: bytes, filename: str) -> HttpResponse:
    """A file for the browser to save, never shown inline or cached."""
    content_type = "text/csv; charset=utf-8" if filename.endswith(".csv") else XLSX
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def export_table(
    file_type: str, name: str, columns: list[Column], rows: Iterable[Any]
) -> HttpResponse:
    """The rows (at most MAX_ROWS) under the columns' headers, as .xlsx or CSV (UTF-8, BOM)."""
    header = [str(column.header) for column in columns]

    def values() -> Iterable[list[Any]]:
        for number, row in enumerate(rows):
            if number >= MAX_ROWS:
                break
            yield [column.value(row) for column in columns]

    if file_type == "csv":
        return download(write_csv(header, values()), f"{name}.csv")
    return download(write_xlsx([(name[:31], header, values())]), f"{name}.xlsx")


def export_report(
    file_type: str,
    name: str,
    rows: Iterable[Sequence[Any]],
    *,
    numbers: Collection[int] = (),
) -> HttpResponse:
    """A report laid out as rows, its header first, as .xlsx or CSV with the same header and
    rows. The `numbers` columns (by index) hold numbers, or numbers as formatted text
    ("16.50"): the CSV keeps the report's text, the workbook gets numbers a spreadsheet can
    sum. Text in the other columns
    that a spreadsheet would read as a formula (=, +, -, @) gets a leading apostrophe."""
    lines = iter(rows)
    header = next(lines)

    def cell(index: int) -> Callable[[Sequence[Any]], Any]:
        if index in numbers:
            return lambda row: _number(row[index]) if file_type == "xlsx" else _text(row[index])
        return lambda row: _not_a_formula(row[index])

    columns = [Column(text, cell(index)) for index, text in enumerate(header)]
    return export_table(file_type, name, columns, lines)


def _number(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if not value:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        return value


def _text(value: Any) -> Any:
    """A decimal as the report wrote it (66.7, 100.0), not normalised."""
    return f"{value:f}" if isinstance(value, Decimal) else value


def _not_a_formula(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
