"""What an importer is: its columns, its natural key, how it checks rows (each chunk in file
order, then once at the end for rules across rows), how it applies them through the owning
app's services, and how it exports what exists in the same columns.

The engine (`backroom.imports.services.engine`) reads the file, types every cell, refuses
duplicate natural keys within the file and calls these hooks; an importer only knows its
domain. Register one with `@register`; `IMPORTERS` maps each kind to its class."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.utils.functional import Promise
from django.utils.translation import gettext as _

from backroom.imports.columns import CODE, Column, Row, header_key
from backroom.imports.problems import Problems

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"


@dataclass
class Change:
    """What applying one row did: `action` is created, updated or unchanged; `key` names the
    thing in words (a code, store/item/lot); `fields` lists what an update changed."""

    row: int
    action: str
    key: str
    fields: list[str] = field(default_factory=list)


@dataclass
class RowGroup:
    """The rows of a file that describe one thing (an item with its units, a recipe with its
    lines): the values they give for the thing itself, and the row that gave each."""

    name: str  # as the first row writes it
    rows: list[Row] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    given_in: dict[str, int] = field(default_factory=dict)

    @property
    def first(self) -> int:
        return self.rows[0].number

    def row_of(self, key: str) -> int:
        return self.given_in.get(key, self.first)

    def gather(
        self,
        row: Row,
        columns: Sequence[Column],
        problems: Problems,
        same: Callable[[Any, Any], bool] = operator.eq,
    ) -> bool:
        """Take the row's values of these columns; a value another row gave differently is a
        `conflicting_values` problem (False)."""
        ok = True
        for column in columns:
            if not row.has(column.key):
                continue
            if column.key not in self.values:
                self.values[column.key] = row[column.key]
                self.given_in[column.key] = row.number
            elif not same(self.values[column.key], row[column.key]):
                ok = False
                problems.add(
                    row.number,
                    column.key,
                    "conflicting_values",
                    _(
                        "Row %(row)s gives %(name)s another %(column)s (%(value)s): give the "
                        "same value on each of its rows, or fill it on one row only."
                    )
                    % {
                        "row": self.given_in[column.key],
                        "name": self.name,
                        "column": column.label,
                        "value": self.values[column.key],
                    },
                )
        return ok


class Importer:
    """Base of every importer. One instance checks (and then applies) one file for one actor,
    so it may keep what it learns across chunks (codes seen, references to rows further on)."""

    kind: ClassVar[str]
    label: ClassVar[Promise]
    description: ClassVar[Promise]  # the first line of the template's instructions
    columns: ClassVar[tuple[Column, ...]]
    key_fields: ClassVar[tuple[str, ...]]  # the natural key: one row per key in a file
    ordered: ClassVar[bool] = False  # apply by `depth` and `group` (parents first), not file order
    chunk_size: ClassVar[int] = 200
    permission: ClassVar[str]  # held anywhere to see the importer at all
    writes: ClassVar[str]  # the permission of what it writes, held somewhere (checked per row)
    do_not_call_in_templates: ClassVar[bool] = True  # templates show the class itself
    # The query parameters of its list page that its export keeps (only those rows): a file
    # exported from a filtered page holds those rows, and imported again touches only them.
    export_filters: ClassVar[tuple[str, ...]] = ()

    def __init__(self, actor: Any) -> None:
        self.actor = actor
        self.filters: dict[str, str] = {}  # for `export`: see `keep_filters`

    # --- who may use it -------------------------------------------------------------------

    @classmethod
    def allowed(cls, actor: Any) -> bool:
        return bool(
            actor is not None
            and getattr(actor, "is_authenticated", False)
            and actor.has_scoped_permission(cls.permission, None)
            and actor.has_scoped_permission(cls.writes, None)
        )

    # --- checking -------------------------------------------------------------------------

    def check_rows(self, rows: Sequence[Row], problems: Problems) -> None:
        """Check a chunk of typed rows (those with bad cells have `ok` False) against the
        database and the rows seen so far; add a problem for each bad one."""

    def finish_check(self, problems: Problems) -> None:
        """Rules across the whole file (a reference to a row further on, a cycle)."""

    def depth(self, row: Row) -> int:
        """For `ordered` importers: rows of a lower depth are applied first."""
        return 0

    def group(self, row: Row) -> Any:
        """For `ordered` importers: rows of one group (a recipe's lines, one price list) are
        applied together, in one `apply_rows` call, whatever the chunk size; None: no group.
        Rows are applied by (depth, group, row number)."""
        return None

    # --- applying -------------------------------------------------------------------------

    def apply_rows(self, rows: Sequence[Row]) -> list[Change]:
        """Apply checked rows through the services (inside the engine's transaction): create
        what is new, update what changed, leave the rest."""
        raise NotImplementedError

    # --- exporting ------------------------------------------------------------------------

    def export(self) -> Iterator[dict[str, Any]]:
        """What exists in the actor's scope (narrowed by `self.filters`), one dict of typed
        values per row (by column key), in the form this importer reads back unchanged."""
        raise NotImplementedError

    def keep_filters(self, query: Mapping[str, str]) -> None:
        """Export only the rows the list page's filters keep (those of `export_filters`)."""
        self.filters = {key: query[key] for key in self.export_filters if query.get(key)}

    # --- helpers --------------------------------------------------------------------------

    @classmethod
    def column(cls, key: str) -> Column:
        for column in cls.columns:
            if column.key == key:
                return column
        raise KeyError(key)

    @classmethod
    def sample(cls) -> dict[str, Any]:
        return {column.key: column.example for column in cls.columns}

    @classmethod
    def natural_key(cls, row: Row) -> tuple[Any, ...] | None:
        """The row's natural key, codes compared without case; None when a part is missing."""
        parts = []
        for key in cls.key_fields:
            value = row.get(key)
            if value is None or value == "":
                return None
            if cls.column(key).type == CODE and isinstance(value, str):
                value = value.casefold()
            parts.append(value)
        return tuple(parts)

    @classmethod
    def match_header(cls, name: Any) -> Column | None:
        wanted = header_key(name)
        if not wanted:
            return None
        for column in cls.columns:
            if any(header_key(candidate) == wanted for candidate in column.names):
                return column
        return None


IMPORTERS: dict[str, type[Importer]] = {}


def register(importer: type[Importer]) -> type[Importer]:
    IMPORTERS[importer.kind] = importer
    return importer
