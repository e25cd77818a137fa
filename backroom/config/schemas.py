"""Schemas shared by every router."""

from typing import Any

from ninja import Schema


class ErrorOut(Schema):
    """Every error: a stable code, a localised message, details (e.g. {"fields": {...}})."""

    code: str
    message: str
    details: dict[str, Any]
