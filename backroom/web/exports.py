"""A list page's rows as a download: `?export=xlsx` or `?export=csv` on the page's own URL
(its filters kept), every row the user may see, not just the page's first ones.

    COLUMNS = [Column(_("Number"), attrgetter("number")), …]

    def order_list(request):
        rows = selectors.purchase_orders_for(request.user, status=status)
        if wanted := export_format(request):
            return export_table(wanted, "purchase-orders", COLUMNS, rows)

The page shows the buttons with `{% include "web/export_buttons.html" %}`. Lists that an
importer reads back (items, suppliers, users…) link to the importer's export instead, so that
export → edit → import round-trips."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
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
