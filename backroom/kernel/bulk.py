"""Inserting many new rows at a fraction of the ORM's cost in Python: model instances built
without `Model.__init__` (`new_instance`), and rows written with one `COPY` on PostgreSQL
(`insert_rows`, `insert_values`); elsewhere, or for a few rows, `executemany` or one
`INSERT … RETURNING id` per chunk. Used where a request writes hundreds or thousands of rows
of one model: till batches, sales history, the outbox. `update_rows` is `bulk_update` in one
statement joined on the primary key."""

from __future__ import annotations

import json
import operator
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import models, transaction
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from django.utils import timezone

_DEFAULTS: dict[type[models.Model], tuple[dict[str, Any], list[tuple[str, Any]]]] = {}


def new_instance[M: models.Model](model: type[M], **values: Any) -> M:
    """`model(**values)` for attnames (`account_id`, not `account`), at a third of its cost:
    the model's defaults for the other fields, without `Model.__init__` (used only while no
    `pre_init`/`post_init` receiver listens to the model; otherwise `model(**values)`)."""
    defaults = _DEFAULTS.get(model)
    if defaults is None:
        if pre_init.has_listeners(model) or post_init.has_listeners(model):
            return model(**values)
        defaults = _DEFAULTS[model] = _defaults(model)
    constant, made = defaults
    instance = model.__new__(model)
    fields = instance.__dict__
    fields.update(constant)
    for name, field in made:
        if name not in values:
            fields[name] = field.get_default()
    fields.update(values)
    instance._state = ModelState()
    return instance


def _defaults(model: type[models.Model]) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
    """The defaults `Model.__init__` gives: constants once, and the fields whose default is
    made for each instance (a callable, or a mutable value)."""
    constant: dict[str, Any] = {}
    made: list[tuple[str, Any]] = []
    for field in model._meta.concrete_fields:
        value = field.get_default()
        if callable(field.default) or isinstance(value, list | dict | set):
            made.append((field.attname, field))
        else:
            constant[field.attname] = value
    return constant, made


def insert_rows(objects: Sequence[models.Model], *, ids: bool) -> None:
    """Insert new rows of one model as `bulk_create` would (auto_now times set; `pk` and
    `_state` filled in, the ids when `ids`), at a fraction of its cost in Python (see
    `insert_values`)."""
    if not objects:
        return
    model = type(objects[0])
    fields = _insert_fields(model)
    now = timezone.now()
    stamped = [field for field in fields if _stamped(field)]
    for row in objects:
        for field in stamped:
            if getattr(field, "auto_now", False) or getattr(row, field.attname) is None:
                setattr(row, field.attname, now)
    # The values as the instances hold them (a foreign key's attname descriptor is skipped).
    names = [field.attname for field in fields]
    if len(names) > 1:
        values = operator.itemgetter(*names)
        rows = [values(vars(row)) for row in objects]
    else:
        rows = [[vars(row)[name] for name in names] for row in objects]
    new_ids = _insert(model, fields, rows, ids)
    alias = transaction.get_connection().alias
    for position, row in enumerate(objects):
        if ids:
            row.pk = new_ids[position]
        row._state.adding = False
        row._state.db = alias


def insert_values(
    model: type[models.Model], rows: Sequence[dict[str, Any]], *, ids: bool
) -> list[int]:
    """Insert new rows given as {attname: value} (the model's defaults and auto_now times for
    the rest), without building model instances; their ids when `ids`. On PostgreSQL, one
    `COPY` (ids drawn from the table's sequence first); a few rows, or another database:
    `executemany`, or one `INSERT … RETURNING id` per chunk when the ids are wanted. A unique
    violation raises `IntegrityError` like any insert."""
    if not rows:
        return []
    fields = _insert_fields(model)
    now = timezone.now()
    values: list[list[Any]] = []
    for row in rows:
        line = []
        for field in fields:
            if field.attname in row:
                line.append(row[field.attname])
            elif _stamped(field):
                line.append(now)
            else:
                line.append(field.get_default())
        values.append(line)
    return _insert(model, fields, values, ids)


def update_rows(objects: Sequence[models.Model], fields: Sequence[str]) -> None:
    """`bulk_update(objects, fields)` as `UPDATE … FROM` a list of values joined on the primary
    key (500 rows a statement): the ORM builds a `CASE WHEN` per row and field instead, which
    costs far more in Python. Like `bulk_update`, no signals and no `auto_now`; the objects
    must be of one model and saved."""
    if not objects:
        return
    meta = type(objects[0])._meta
    connection = transaction.get_connection()
    quote = connection.ops.quote_name
    columns: list[Any] = [meta.pk, *(meta.get_field(name) for name in fields)]
    names = [f"c{index}" for index in range(len(columns))]
    if connection.vendor == "postgresql":  # a value list's cells are typed by their first row
        cells = [f"CAST(%s AS {field.db_type(connection)})" for field in columns]
    else:
        cells = ["%s"] * len(columns)
    row = "(" + ", ".join(cells) + ")"
    table = quote(meta.db_table)
    assigned = ", ".join(
        f"{quote(field.column)} = v.{name}"
        for field, name in zip(columns[1:], names[1:], strict=True)
    )
    with connection.cursor() as cursor:
        for start in range(0, len(objects), _UPDATE_CHUNK):
            chunk = objects[start : start + _UPDATE_CHUNK]
            cursor.execute(
                f"WITH v ({', '.join(names)}) AS (VALUES {', '.join([row] * len(chunk))}) "  # noqa: S608
                f"UPDATE {table} SET {assigned} FROM v "
                f"WHERE {table}.{quote(columns[0].column)} = v.c0",
                [
                    field.get_db_prep_save(getattr(instance, field.attname), connection)
                    for instance in chunk
                    for field in columns
                ],
            )


_UPDATE_CHUNK = 500


def _insert_fields(model: type[models.Model]) -> list[Any]:
    meta = model._meta
    automatic = meta.pk is not None and meta.pk.get_internal_type() in _AUTO_KEYS
    return [field for field in meta.concrete_fields if not (field.primary_key and automatic)]


def _stamped(field: Any) -> bool:
    return bool(getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False))


def _insert(
    model: type[models.Model], fields: list[Any], rows: Sequence[Sequence[Any]], ids: bool
) -> list[int]:
    meta = model._meta
    connection = transaction.get_connection()
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    columns = [field.column for field in fields]
    new_ids: list[int] = []
    if connection.vendor == "postgresql" and len(rows) >= _COPY_FROM:
        if ids:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                    [meta.db_table, meta.pk.column, len(rows)],  # type: ignore[union-attr]
                )
                new_ids = [row[0] for row in cursor.fetchall()]
            columns = [meta.pk.column, *columns]  # type: ignore[union-attr]
        encoders = {
            index + (1 if ids else 0): field.encoder
            for index, field in enumerate(fields)
            if isinstance(field, models.JSONField)
        }
        sql = f"COPY {table} ({', '.join(quote(column) for column in columns)}) FROM STDIN"
        with connection.cursor() as cursor, connection.wrap_database_errors:
            # Choices (str and int enums) go as they are: psycopg dumps them by their value.
            with cursor.cursor.copy(sql) as copy:
                write = copy.write_row
                for position, values in enumerate(rows):
                    line = [new_ids[position], *values] if ids else list(values)
                    for index, encoder in encoders.items():
                        if line[index] is not None:
                            line[index] = json.dumps(line[index], cls=encoder)
                    write(line)
        return new_ids
    plain = [_PLAIN_VALUES.get(field.get_internal_type(), ()) for field in fields]
    prepared = [
        [
            value
            if value is None or isinstance(value, types)
            else field.get_db_prep_save(value, connection)
            for field, types, value in zip(fields, plain, values, strict=True)
        ]
        for values in rows
    ]
    column_list = ", ".join(quote(column) for column in columns)
    placeholder = "(" + ", ".join(["%s"] * len(columns)) + ")"
    with connection.cursor() as cursor:
        if not ids:
            sql = f"INSERT INTO {table} ({column_list}) VALUES {placeholder}"  # noqa: S608
            if len(prepared) == 1:  # executemany's set-up costs more than one row
                cursor.execute(sql, prepared[0])
            else:
                cursor.executemany(sql, prepared)
            return new_ids
        size = max(1, 30_000 // len(columns))
        for start in range(0, len(prepared), size):
            chunk = prepared[start : start + size]
            cursor.execute(
                f"INSERT INTO {table} ({column_list}) VALUES "  # noqa: S608
                + ", ".join([placeholder] * len(chunk))
                + f" RETURNING {quote(meta.pk.column)}",  # type: ignore[union-attr]
                [value for values in chunk for value in values],
            )
            new_ids.extend(row[0] for row in cursor.fetchall())
    return new_ids


_COPY_FROM = 20  # rows; fewer go in one INSERT (one round trip instead of two)
_AUTO_KEYS = frozenset({"AutoField", "BigAutoField", "SmallAutoField"})
# Values that go to the driver as they are (what get_db_prep_save would return for them):
# skipping Django's per-value conversion halves the cost of a big insert on SQLite.
_TEXT, _WHOLE = (str,), (int,)
_PLAIN_VALUES: dict[str, tuple[type, ...]] = {
    "CharField": _TEXT,
    "TextField": _TEXT,
    "IntegerField": _WHOLE,
    "SmallIntegerField": _WHOLE,
    "BigIntegerField": _WHOLE,
    "PositiveIntegerField": _WHOLE,
    "PositiveSmallIntegerField": _WHOLE,
    "PositiveBigIntegerField": _WHOLE,
    "BooleanField": (bool,),
    "ForeignKey": _WHOLE,
    "OneToOneField": _WHOLE,
    "DecimalField": (Decimal,),
}
