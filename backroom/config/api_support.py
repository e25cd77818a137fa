"""Building blocks shared by the routers: bounded ids and text, pagination, error declarations.

Bounds matter: an unbounded integer reaches the database as an overflow (a 500 on SQLite) and a
NUL character is refused by PostgreSQL, so both are rejected up front as a 422.
"""

import datetime as dt
from typing import Annotated, Any

from ninja import Field, Schema
from ninja.pagination import LimitOffsetPagination
from pydantic import AfterValidator, BaseModel, ValidationError

from backroom.config.schemas import ErrorOut
from backroom.kernel.dates import as_utc
from backroom.kernel.exceptions import ValidationFailed

MAX_ID = 2**53  # ids fit in a JSON number exactly and in every database's bigint

ObjectId = Annotated[int, Field(ge=1, le=MAX_ID)]
# Text without NUL characters (PostgreSQL refuses them in text columns).
Text = Annotated[str, Field(pattern=r"^[^\x00]*$")]
# An instant given to the API, normalised to UTC (PostgreSQL refuses offsets past ±15:59).
Instant = Annotated[dt.datetime, AfterValidator(as_utc)]


def text(*, min_length: int = 0, max_length: int | None = None, default: Any = ...) -> Any:
    """A text field without NUL characters, with length bounds."""
    return Field(default, min_length=min_length, max_length=max_length, pattern=r"^[^\x00]*$")


class Pagination(LimitOffsetPagination):
    """`limit` (1–500, default 50) and `offset`; the response carries `items` and `count`."""

    class Input(Schema):
        limit: int = Field(50, ge=1, le=500)
        offset: int = Field(0, ge=0, le=MAX_ID)


def errors(*statuses: int) -> dict[int, type[ErrorOut]]:
    """Error responses for a router declaration: `response={200: ThingOut, **errors(404)}`.

    401 (not signed in, bad token), 413 (a body over the upload limit) and 422 (invalid input)
    can happen on every operation and are always included.
    """
    return {status: ErrorOut for status in sorted({401, 413, 422, *statuses})}


def parse_json_form(schema: type[BaseModel], payload: str) -> Any:
    """A multipart form's `payload` field, checked like a JSON body: every problem as a 422
    `invalid` under `payload.<field>`."""
    try:
        return schema.model_validate_json(payload)
    except ValidationError as error:
        fields: dict[str, list[str]] = {}
        for problem in error.errors():
            name = ".".join(str(part) for part in problem.get("loc", ())) or "payload"
            fields.setdefault(f"payload.{name}", []).append(str(problem.get("msg", "")))
        raise ValidationFailed(fields) from None
