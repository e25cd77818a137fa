"""The columns an importer declares, and the reading of one cell into a typed value (or a
problem naming the row and column and saying how to fix it).

A column has a key (the field), an English and a Chinese header, other accepted headers, a
type, whether it is required, and an example for the template. Headers compare without case,
spaces or punctuation, so `Store code`, `store_code` and `STORE CODE` are one column."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from backroom.imports.problems import Problems
from backroom.kernel.spreadsheets import (
    CellError,
    Formula,
    cell_text,
    is_blank,
    read_code,
    read_date,
    read_decimal,
    read_text,
)

TEXT, CODE, DECIMAL, INTEGER, DATE, BOOLEAN, CHOICE = (
    "text",
    "code",
    "decimal",
    "integer",
    "date",
    "boolean",
    "choice",
)
TRUE_WORDS = {"1", "y", "yes", "true", "t", "x", "是", "对", "启用", "有效"}
FALSE_WORDS = {"0", "n", "no", "false", "f", "否", "停用", "无效"}


def header_key(name: Any) -> str:
    """A header as compared: case, spaces and punctuation ignored (`PO Line No.` = `polineno`)."""
    return re.sub(r"[\s_\-./#()（）:：*]+", "", cell_text(name)).casefold()


@dataclass(frozen=True)
class Column:
    key: str
    english: str
    chinese: str
    type: str = TEXT
    required: bool = False
    example: Any = ""
    help: Promise | str = ""
    aliases: tuple[str, ...] = ()
    max_length: int = 200
    places: int = 6
    minimum: Decimal | None = Decimal(0)
    maximum: Decimal = Decimal(10) ** 12
    choices: tuple[tuple[str, tuple[str, ...]], ...] = ()  # value, accepted spellings

    @property
    def names(self) -> tuple[str, ...]:
        return (self.english, self.chinese, self.key, *self.aliases)

    def header(self, language: str | None = None) -> str:
        """The header for a template or an export: Chinese for a Chinese user."""
        language = language or get_language() or "en"
        return self.chinese if language.lower().startswith("zh") else self.english

    @property
    def label(self) -> str:
        return self.header()

    def type_label(self) -> str:
        labels = {
            TEXT: _("text"),
            CODE: _("code (text)"),
            DECIMAL: _("number"),
            INTEGER: _("whole number"),
            DATE: _("date (2026-12-04)"),
            BOOLEAN: _("yes / no"),
            CHOICE: _("one of: %(values)s")
            % {"values": ", ".join(spellings[0] for _value, spellings in self.choices)},
        }
        return labels[self.type]


@dataclass
class Row:
    """One data row: its spreadsheet row number, its raw cells by field and its typed values
    (a field is missing from `values` when its cell was blank or bad)."""

    number: int
    raw: dict[str, Any]
    values: dict[str, Any] = field(default_factory=dict)
    ok: bool = True

    def __getitem__(self, key: str) -> Any:
        return self.values.get(key)

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def has(self, key: str) -> bool:
        return key in self.values


def read_cell(row: Row, column: Column, problems: Problems) -> None:
    """Type one cell of `row` into `row.values[column.key]`, or add a problem."""
    value = row.raw.get(column.key)
    if isinstance(value, Formula):
        problems.add(
            row.number,
            column.key,
            "formula",
            _(
                "The cell holds the formula %(formula)s but no value: open the file in Excel and "
                "save it, or paste the values instead of the formulas."
            )
            % {"formula": value},
        )
        row.ok = False
        return
    if is_blank(value):
        if column.required:
            problems.add(
                row.number,
                column.key,
                "required",
                _("Fill in the %(column)s.") % {"column": column.label},
            )
            row.ok = False
        return
    reader = _READERS[column.type]
    try:
        row.values[column.key] = reader(value, column)
    except CellError as error:
        problems.add(row.number, column.key, error.code, error.message)
        row.ok = False


def _text(value: Any, column: Column) -> str:
    return read_text(value, column.max_length)


def _code(value: Any, column: Column) -> str:
    return read_code(value, column.max_length)


def _decimal(value: Any, column: Column) -> Decimal:
    return read_decimal(value, places=column.places, minimum=column.minimum, maximum=column.maximum)


def _integer(value: Any, column: Column) -> int:
    number = _decimal(value, column)
    if number != number.to_integral_value():
        raise CellError(
            "invalid_number", _("“%(value)s” is not a whole number.") % {"value": cell_text(value)}
        )
    return int(number)


def _date(value: Any, column: Column) -> dt.date:
    return read_date(value)


def _boolean(value: Any, column: Column) -> bool:
    if isinstance(value, bool):
        return value
    text = cell_text(value).casefold()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise CellError(
        "invalid_value",
        _("“%(value)s” is not yes or no (write yes/no, 是/否 or 1/0).")
        % {"value": cell_text(value)},
    )


def _choice(value: Any, column: Column) -> str:
    text = header_key(value)
    for stored, spellings in column.choices:
        if text == header_key(stored) or any(text == header_key(name) for name in spellings):
            return stored
    raise CellError(
        "invalid_choice",
        _("“%(value)s” is not one of: %(values)s.")
        % {
            "value": cell_text(value),
            "values": ", ".join(spellings[0] for _stored, spellings in column.choices),
        },
    )


_READERS: dict[str, Any] = {
    TEXT: _text,
    CODE: _code,
    DECIMAL: _decimal,
    INTEGER: _integer,
    DATE: _date,
    BOOLEAN: _boolean,
    CHOICE: _choice,
}


def export_value(column: Column, value: Any) -> Any:
    """A typed value as the importer reads it back (a choice as its first spelling)."""
    if value is None or value == "":
        return None
    if column.type == CHOICE:
        for stored, spellings in column.choices:
            if stored == value:
                return spellings[0]
    if column.type == BOOLEAN:
        return _("yes") if value else _("no")
    if column.type == DECIMAL and isinstance(value, Decimal):
        normal = value.normalize()
        exponent = normal.as_tuple().exponent
        return value.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else normal
    return value
