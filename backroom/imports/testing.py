"""Test helpers: a file built from rows, imported through the same path as the CLI."""

from __future__ import annotations

from typing import Any

from backroom.imports.models import ImportJob
from backroom.imports.services import import_file
from backroom.kernel.spreadsheets import write_csv, write_xlsx


def workbook(header: list[str], rows: list[list[Any]]) -> bytes:
    return write_xlsx([("Data", header, rows)])


def csv_file(header: list[str], rows: list[list[Any]], *, encoding: str = "utf-8") -> bytes:
    data = write_csv(header, rows)
    if encoding != "utf-8":
        data = data.decode("utf-8-sig").encode(encoding)
    return data


def run_import(
    kind: str,
    header: list[str],
    rows: list[list[Any]],
    *,
    actor: Any,
    dry_run: bool = False,
    file_type: str = "xlsx",
) -> ImportJob:
    """Import these rows as a file of `file_type`, in this process; returns the finished job
    (its `status`, counts, `problems` and `changes`)."""
    data = workbook(header, rows) if file_type == "xlsx" else csv_file(header, rows)
    return import_file(kind, f"test.{file_type}", data, actor=actor, dry_run=dry_run)


def problem_codes(job: ImportJob) -> list[tuple[int | None, str, str]]:
    """(row, field, code) of each problem, for assertions."""
    return [(problem["row"], problem["field"], problem["code"]) for problem in job.problems]
