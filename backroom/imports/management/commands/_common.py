"""What `backroom import` and `backroom export` share: the acting user."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.utils.translation import gettext as _

INVALID_INPUT = 2


def check_kind(kind: str) -> None:
    from backroom.imports.importers import IMPORTERS

    if kind not in IMPORTERS:
        raise CommandError(
            _("%(kind)s: no such importer (one of %(kinds)s)")
            % {"kind": kind, "kinds": ", ".join(IMPORTERS)},
            returncode=INVALID_INPUT,
        )


def acting_user(username: str | None) -> Any:
    """The named active user, or (without a name) the first active superuser."""
    users = get_user_model().objects.filter(is_active=True)
    user = (
        users.filter(username=username).first()
        if username
        else users.filter(is_superuser=True).order_by("pk").first()
    )
    if user is None:
        raise CommandError(
            _("%(user)s: no such active user") % {"user": username or "superuser"},
            returncode=INVALID_INPUT,
        )
    return user
