"""`jsonable` is `to_jsonable(dataclasses.asdict(value))` in one pass: the same plain values."""

import dataclasses
import datetime as dt
import json
import uuid
from decimal import Decimal

from django.db import models

from backroom.kernel.jsonutil import jsonable, to_jsonable


class Colour(models.TextChoices):
    RED = "red", "Red"


@dataclasses.dataclass
class Inner:
    at: dt.datetime
    day: dt.date
    amount: Decimal | None = None


@dataclasses.dataclass
class Outer:
    key: uuid.UUID
    colour: Colour
    inner: Inner
    items: tuple[Inner, ...] = ()
    extra: dict[str, str] = dataclasses.field(default_factory=dict)
    count: int = 0
    note: str = ""


def test_jsonable_gives_what_to_jsonable_of_asdict_gives():
    at = dt.datetime(2026, 12, 6, 12, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    value = Outer(
        key=uuid.UUID(int=7),
        colour=Colour.RED,
        inner=Inner(at, at.date(), Decimal("1.50")),
        items=(Inner(at, at.date()), Inner(at.astimezone(dt.UTC), at.date(), Decimal(0))),
        extra={"a": "b"},
        count=3,
        note="说明",
    )
    expected = to_jsonable(dataclasses.asdict(value))
    assert jsonable(value) == expected
    assert json.dumps(jsonable(value), sort_keys=True) == json.dumps(expected, sort_keys=True)
    assert jsonable(value)["inner"]["at"] == "2026-12-06T12:30:00+08:00"
    assert jsonable(value)["colour"] == "red"
