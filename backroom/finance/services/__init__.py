"""Finance services: books, periods, rates, journals and automatic postings."""

from typing import Any

from django.contrib.auth import get_user_model


def as_user(actor: Any) -> Any:
    """The actor when it is a user (for `created_by`, `posted_by`); None for the system."""
    return actor if isinstance(actor, get_user_model()) else None
