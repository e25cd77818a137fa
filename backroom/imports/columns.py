"""The columns an importer declares, and the reading of one cell into a typed value (or a
problem naming the row and column and saying how to fix it).

A column has a key (the field), an English and a Chinese header, other accepted headers, a
type, whether it is required, and an example for the template. Headers compare without case,
spaces or punctuation, so `Store code`, `store_code` and `STORE CODE` are one column."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from backroom.imports.problems import Problems
from backroom.kernel.spreadsheets import Formula, cell_text, from_serial, is_blank

TEXT, CODE, DECIMAL, INTEGER, DATE, BOOLEAN, CHOICE = (
    "text",
    "code",
    "decimal",
    "integer",
    "date",
    "boolean",
    "choice",
)
FIRST_DAY, LAST_DAY = dt.date(2000, 1, 1), dt.date(2100, 12, 31)
TRUE_WORDS = {"1", "y", "yes", "true", "t", "x", "是", "对", "启用", "有效"}
FALSE_WORDS = {"0", "n", "no", "false", "f", "否", "停用", "无效"}

_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)")
_SCIENTIFIC = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+")
_WITH_COMMA = re.compile(r"[+-]?[\d.,]*,[\d.,]*")
_DATE = re.compile(
    r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
)
_CHINESE_DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?")
_DAY_FIRST = re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})")
_SERIAL = re.compile(r"\d{5}(?:\.0*)?")


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


class CellError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _text(value: Any, column: Column) -> str:
    text = cell_text(value)
    if len(text) > column.max_length:
        raise CellError(
            "too_long", _("At most %(count)s characters.") % {"count": column.max_length}
        )
    return text


def _code(value: Any, column: Column) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool) and abs(value) >= 1e15:
        raise CellError(
            "invalid_value",
            _(
                "“%(value)s” is a number too long for Excel to keep exactly: format the column as "
                "text, type the code again and save."
            )
            % {"value": f"{value:.15g}"},
        )
    text = _text(value, column)
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


def _decimal(value: Any, column: Column) -> Decimal:
    number: Decimal | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(f"{value:.15g}")  # Excel shows 15 significant digits of a double
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
    if column.minimum is not None and number < column.minimum:
        if column.minimum == 0:
            raise CellError("invalid_number", _("Cannot be negative."))
        raise CellError("invalid_number", _("At least %(minimum)s.") % {"minimum": column.minimum})
    if number > column.maximum:
        raise CellError("invalid_number", _("At most %(maximum)s.") % {"maximum": column.maximum})
    exponent = number.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > column.places:
        raise CellError(
            "invalid_number",
            _("At most %(count)s decimal places.") % {"count": column.places},
        )
    return number


def _integer(value: Any, column: Column) -> int:
    number = _decimal(value, column)
    if number != number.to_integral_value():
        raise CellError(
            "invalid_number", _("“%(value)s” is not a whole number.") % {"value": cell_text(value)}
        )
    return int(number)


def _date(value: Any, column: Column) -> dt.date:
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


def to_decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
