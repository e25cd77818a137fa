"""API shapes of imports."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Schema


class ColumnOut(Schema):
    key: str
    english: str
    chinese: str
    type: str
    required: bool
    example: str
    help: str


class ImporterOut(Schema):
    kind: str
    label: str
    description: str
    columns: list[ColumnOut]


class ProblemOut(Schema):
    row: int | None
    field: str
    column: str
    code: str
    message: str


class ChangeOut(Schema):
    row: int
    action: str
    key: str
    fields: list[str]


class ImportJobOut(Schema):
    id: int
    kind: str
    file_name: str
    file_type: str
    status: str
    status_label: str
    apply_requested: bool
    header_row: int
    headers: list[str]
    mapping: dict[str, str]
    total_rows: int
    checked_rows: int
    applied_rows: int
    progress_percent: int
    created_count: int
    updated_count: int
    unchanged_count: int
    problem_count: int
    problems: list[ProblemOut]
    changes: list[ChangeOut]
    error: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    @staticmethod
    def resolve_status_label(job: Any) -> str:
        return str(job.get_status_display())


class ImportJobListOut(Schema):
    id: int
    kind: str
    file_name: str
    status: str
    total_rows: int
    applied_rows: int
    problem_count: int
    created_at: dt.datetime
    finished_at: dt.datetime | None


class ColumnMappingIn(Schema):
    mapping: dict[str, str]
