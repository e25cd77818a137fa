"""The problems of an import file, each of one row (None for the whole file) and one column,
collected so that all of them are reported at once. Plain data: a 200,000-row file may have
thousands, and they are stored with the import as JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

MAX_KEPT = 2000  # problems kept with an import; the count goes on


@dataclass(frozen=True)
class Problem:
    row: int | None  # the spreadsheet's row number; None for the whole file
    field: str  # the column's key ("" for the whole row)
    code: str  # stable: required, invalid_number, unknown_reference, duplicate_key…
    message: str
    column: str = ""  # the header as the file writes it

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Problems:
    """Problems found so far. `headers` names each field's column as the file writes it."""

    def __init__(self, headers: dict[str, str] | None = None) -> None:
        self.headers = headers or {}
        self.items: list[Problem] = []
        self.count = 0
        self.rows: set[int] = set()

    def add(self, row: int | None, field: str, code: str, message: Any) -> None:
        self.count += 1
        if row is not None:
            self.rows.add(row)
        if len(self.items) < MAX_KEPT:
            self.items.append(Problem(row, field, code, str(message), self.headers.get(field, "")))

    def __bool__(self) -> bool:
        return self.count > 0

    def __len__(self) -> int:
        return self.count

    def sorted(self) -> list[Problem]:
        return sorted(self.items, key=lambda problem: (problem.row or 0, problem.field))
