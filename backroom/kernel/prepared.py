"""Reads of a fixed shape whose SQL the ORM builds once per process.

Building and compiling a queryset costs the ORM 1–2 ms of CPU for a join over three tables,
ten times what the database spends answering it. A request that must answer within a few
milliseconds (a till's order, a bearer token) makes the same few reads every time with other
values. `@prepared` turns a function that builds such a queryset into one that returns its
rows: the first call for a shape builds the queryset with marker values in place of the
arguments, compiles it, and finds where each marker landed among the statement's parameters;
later calls bind their own values there and run the stored SQL.

    @prepared
    def _token(prefix: str, token_hash: str) -> QuerySet[ApiToken]:
        return ApiToken.objects.select_related("user").filter(prefix=prefix, token_hash=token_hash)

    rows = _token(prefix, digest)  # list[ApiToken], user attached

A shape is the builder and, for each argument, its type and (for a list, tuple or set) its
length; booleans and None are part of the shape and reach the builder as they are. The other
arguments are strings, integers or UUIDs, alone or in a collection: values compared in the
statement as they are (`=`, `IN`), never transformed (`__contains`, `__iexact`), which is
checked when the shape is first built. Querysets of model instances (with `select_related`)
and `values_list` ones are supported; `prefetch_related`, annotations and `select_for_update`
are not. Collections longer than `LONGEST` are read through the ORM as usual.
"""

from __future__ import annotations

import functools
import itertools
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.query import (
    FlatValuesListIterable,
    ModelIterable,
    ValuesListIterable,
    get_related_populators,
)

LONGEST = 64  # longer collections vary too much in length to be worth a statement each
_SHAPES_PER_READ = 256

# Markers: values no caller sends, each recognisable among a statement's parameters.
_TEXT_MARK = "\u2063prepared:"
_TEXT = _TEXT_MARK + "{}\u2063"
_FIRST_INTEGER = 2_013_265_921  # within 32 bits, so integer lookups keep it as it is
_UUID_HIGH = 0xB5C0_0F1E_D000_0000 << 64


class PreparedError(TypeError):
    """A builder or its arguments that `@prepared` cannot serve (a programming error)."""


@dataclass(frozen=True)
class _Statement:
    alias: str
    sql: str
    # Per parameter: (argument index, element index or None, as hex) or a constant.
    slots: tuple[tuple[int, int | None, bool] | Any, ...]
    compiler: Any
    iterable: type
    fetch_mode: Any
    converters: dict[int, Any]  # the database's and the fields' conversions per column
    # Model rows: the model's columns, their attnames and the select_related populators.
    columns: slice = slice(0)
    names: tuple[str, ...] = ()
    populators: tuple[Any, ...] = ()


class _Constant:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


_EMPTY = object()  # the shape's statement could match nothing (an empty IN list)


def prepared[**P, M](build: Callable[P, QuerySet[Any, M]]) -> Callable[P, list[M]]:
    """The rows of `build(*args)`, from SQL compiled once per shape (see the module)."""
    shapes: dict[tuple[Any, ...], _Statement | object] = {}

    @functools.wraps(build)
    def read(*args: P.args, **kwargs: P.kwargs) -> list[M]:
        if kwargs:
            raise PreparedError(f"{build.__qualname__}: pass the values positionally")
        shape = _shape(args)
        if shape is None:  # a long collection: the ORM as usual
            return list(build(*args, **kwargs))
        statement = shapes.get(shape)
        if statement is None:
            if len(shapes) >= _SHAPES_PER_READ:
                shapes.clear()
            statement = shapes[shape] = _compile(build, args)
        if statement is _EMPTY:
            return []
        assert isinstance(statement, _Statement)
        return _run(statement, args)

    return read


def _shape(args: tuple[Any, ...]) -> tuple[Any, ...] | None:
    shape: list[Any] = []
    for value in args:
        if value is None or isinstance(value, bool):
            shape.append(value)
        elif isinstance(value, str | int | uuid.UUID):
            shape.append(_kind(value))
        elif isinstance(value, Collection):
            if len(value) > LONGEST:
                return None
            shape.append((type(value), tuple(_kind(item) for item in value)))
        else:
            raise PreparedError(f"{type(value).__name__} values cannot be prepared")
    return tuple(shape)


def _kind(value: Any) -> type:
    if isinstance(value, bool) or not isinstance(value, str | int | uuid.UUID):
        raise PreparedError(f"{type(value).__name__} values cannot be prepared")
    return str if isinstance(value, str) else int if isinstance(value, int) else uuid.UUID


def _compile(
    build: Callable[..., QuerySet[Any, Any]], args: tuple[Any, ...]
) -> _Statement | object:
    counter = itertools.count()
    markers: dict[Any, tuple[int, int | None]] = {}

    def marker(value: Any, index: int, element: int | None) -> Any:
        number = next(counter)
        kind = _kind(value)
        made = (
            _TEXT.format(number)
            if kind is str
            else _FIRST_INTEGER + number
            if kind is int
            else uuid.UUID(int=_UUID_HIGH + number)
        )
        markers[made] = (index, element)
        return made

    marked: list[Any] = []
    for index, value in enumerate(args):
        if value is None or isinstance(value, bool):
            marked.append(value)
        elif isinstance(value, str | int | uuid.UUID):
            marked.append(marker(value, index, None))
        else:
            made = [marker(item, index, element) for element, item in enumerate(value)]
            marked.append(made if isinstance(value, list | tuple) else type(value)(made))
    queryset: Any = build(*marked)  # Any: Django's private attributes are read below
    name = build.__qualname__
    if queryset._prefetch_related_lookups or queryset.query.select_for_update:
        raise PreparedError(f"{name}: prefetch_related and select_for_update are not prepared")
    iterable = queryset._iterable_class
    if iterable not in (ModelIterable, ValuesListIterable, FlatValuesListIterable):
        raise PreparedError(f"{name}: only model rows and values_list are prepared")
    if queryset.query.annotation_select or queryset.query.extra_select:
        raise PreparedError(f"{name}: annotations are not prepared")
    if getattr(queryset._fetch_mode, "track_peers", False):
        raise PreparedError(f"{name}: fetch modes that track peers are not prepared")
    compiler = queryset.query.get_compiler(using=queryset.db)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:
        if any(isinstance(value, Collection) and not value for value in marked):
            return _EMPTY  # `IN ()`: nothing matches whatever the other values
        # A marker the lookup dropped (outside a small integer field's range, say).
        raise PreparedError(f"{name}: an argument does not reach the statement as it is") from None
    by_hex = {made.hex: place for made, place in markers.items() if isinstance(made, uuid.UUID)}
    slots: list[Any] = []
    found: set[tuple[int, int | None]] = set()
    for param in params:
        place = markers.get(param) if isinstance(param, str | int | uuid.UUID) else None
        hexed = place is None and isinstance(param, str) and param in by_hex
        if hexed:
            place = by_hex[param]
        if place is None:
            if isinstance(param, str) and _TEXT_MARK in param:
                raise PreparedError(f"{name}: an argument is transformed in the statement")
            slots.append(_Constant(param))
            continue
        found.add(place)
        slots.append((*place, hexed))
    if len(found) != len(markers):
        raise PreparedError(f"{name}: an argument does not reach the statement as it is")
    selected = [column[0] for column in compiler.select[: compiler.col_count]]
    if compiler.has_composite_fields(selected):
        raise PreparedError(f"{name}: composite fields are not prepared")
    columns = slice(0)
    names: tuple[str, ...] = ()
    populators: tuple[Any, ...] = ()
    if iterable is ModelIterable:  # what Django's `ModelIterable` works out per query, once
        klass_info, select = compiler.klass_info, compiler.select
        fields = klass_info["select_fields"]
        columns = slice(fields[0], fields[-1] + 1)
        names = tuple(column[0].target.attname for column in select[columns])
        populators = tuple(
            get_related_populators(klass_info, select, queryset.db, queryset._fetch_mode)
        )
    return _Statement(
        alias=queryset.db,
        sql=sql,
        slots=tuple(slots),
        compiler=compiler,
        iterable=iterable,
        fetch_mode=queryset._fetch_mode,
        converters=compiler.get_converters(selected),
        columns=columns,
        names=names,
        populators=populators,
    )


def _run(statement: _Statement, args: tuple[Any, ...]) -> list[Any]:
    ordered: list[Any] = [
        list(value) if isinstance(value, set | frozenset) else value for value in args
    ]
    params: list[Any] = []
    for slot in statement.slots:
        if isinstance(slot, _Constant):
            params.append(slot.value)
            continue
        index, element, hexed = slot
        value = ordered[index] if element is None else ordered[index][element]
        params.append(value.hex if hexed else value)
    with connections[statement.alias].cursor() as cursor:
        cursor.execute(statement.sql, params)
        fetched = cursor.fetchall()
    converters = statement.converters
    rows = statement.compiler.apply_converters(fetched, converters) if converters else fetched
    if statement.iterable is FlatValuesListIterable:
        return [row[0] for row in rows]
    if statement.iterable is ValuesListIterable:
        return [tuple(row) for row in rows]
    return _instances(statement, rows)


def _instances(statement: _Statement, rows: Any) -> list[Model]:
    """Model instances from rows, as Django's `ModelIterable` builds them."""
    model = statement.compiler.klass_info["model"]
    alias, names, columns = statement.alias, statement.names, statement.columns
    fetch_mode = statement.fetch_mode
    found: list[Model] = []
    for row in rows:
        instance = model.from_db(alias, names, row[columns], fetch_mode=fetch_mode)
        for populator in statement.populators:
            populator.populate(row, instance)
        found.append(instance)
    return found
