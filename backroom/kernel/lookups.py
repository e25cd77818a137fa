"""`field__any=[...]`: membership in a list sent as ONE parameter on PostgreSQL.

`__in` sends one placeholder per value; a dashboard of 500 stores repeats the store list in
every query, and the driver then spends most of the request splitting queries with thousands
of placeholders. `__any` sends `column = ANY(%s)` with the list as a single array on
PostgreSQL, and the usual `IN (...)` elsewhere (SQLite has no arrays).

A long list (HASHED_FROM values or more) is sent as `column IN (SELECT unnest(%s))`: the
planner then hashes it and joins, where `= ANY` compares each row with the list one value at
a time (500 stores × 7,000 rows is 3.5 million comparisons).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Field, Lookup
from django.db.models.fields.related import ForeignObject

HASHED_FROM = 64


class AnyOf(Lookup):  # type: ignore[type-arg]
    lookup_name = "any"
    prepare_rhs = False

    def get_prep_lookup(self) -> Any:
        values = list(self.rhs)
        if all(type(value) is int for value in values):
            return values  # ids, already what the database takes (500 stores per query)
        return [self.lhs.output_field.get_prep_value(value) for value in values]

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values = list(self.rhs)
        if not values:
            return "1 = 0", []
        if connection.vendor == "postgresql":
            if len(values) >= HASHED_FROM:
                return f"{lhs} IN (SELECT unnest(%s))", [*lhs_params, values]
            return f"{lhs} = ANY(%s)", [*lhs_params, values]
        return f"{lhs} IN ({', '.join(['%s'] * len(values))})", [*lhs_params, *values]


Field.register_lookup(AnyOf)
ForeignObject.register_lookup(AnyOf)
