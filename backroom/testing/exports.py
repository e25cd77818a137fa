"""Reading a page's downloads back in tests: `.xlsx` and CSV of one report hold the same table."""

from __future__ import annotations

import csv
import io
from decimal import Decimal, InvalidOperation
from typing import Any

import openpyxl

from backroom.kernel.spreadsheets import cell_text

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_rows(response: Any, filename: str) -> list[list[Any]]:
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == XLSX
    assert response["Content-Disposition"] == f'attachment; filename="{filename}.xlsx"'
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    assert len(workbook.worksheets) == 1
    return [list(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]


def csv_rows(response: Any, filename: str) -> list[list[str]]:
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="{filename}.csv"'
    assert response.content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def _same(workbook_cell: Any, text: str) -> bool:
    if isinstance(workbook_cell, int | float) and not isinstance(workbook_cell, bool):
        try:
            return Decimal(str(workbook_cell)) == Decimal(text)
        except InvalidOperation:
            return False
    return cell_text(workbook_cell) == text


def assert_same_table(workbook: list[list[Any]], table: list[list[str]]) -> None:
    """The same header and rows: numbers equal as numbers (16.5 in the workbook, "16.50" in the
    CSV), everything else as the CSV's text."""
    assert len(workbook) == len(table)
    assert workbook[0] == table[0]
    for ours, theirs in zip(workbook[1:], table[1:], strict=True):
        assert len(ours) == len(theirs), (ours, theirs)
        assert all(_same(a, b) for a, b in zip(ours, theirs, strict=True)), (ours, theirs)
