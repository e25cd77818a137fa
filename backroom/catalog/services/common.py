"""Shared pieces of the catalog services: validation helpers, the permission rule, audit."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from backroom.audit.services import record_audit
from backroom.catalog.permissions import CATALOG_MANAGE
from backroom.catalog.selectors import can_manage, root_node
from backroom.events.services import publish
from backroom.kernel.exceptions import ErrorCollector, NotFound, PermissionDenied, ValidationFailed
from backroom.org.models import Site


class _Unset:
    """Marks a field of a *Changes dataclass that was not given (None may be a real value)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


class Problems(ErrorCollector):
    """An ErrorCollector that remembers typed errors (unknown_unit, recipe_cycle...).

    When the only problem is one typed error, that error is raised with its own code;
    otherwise every problem is raised at once as `invalid`, with `details.codes` naming the
    typed ones by field.
    """

    def __init__(self) -> None:
        super().__init__()
        self.typed: list[tuple[str, ValidationFailed]] = []

    def add_error(self, field_name: str, error: ValidationFailed) -> None:
        for messages in error.errors.values():
            for message in messages:
                self.add(field_name, message)
        self.typed.append((field_name, error))

    def raise_if_any(self) -> None:
        if not self.errors:
            return
        if len(self.typed) == 1:
            field_name, error = self.typed[0]
            if set(self.errors) == {field_name} and len(self.errors[field_name]) == len(
                error.errors.get(field_name, [])
            ):
                raise error
        failure = ValidationFailed(self.errors)
        if self.typed:
            codes: dict[str, list[str]] = {}
            for field_name, error in self.typed:
                codes.setdefault(field_name, []).append(error.code)
            failure.details["codes"] = codes
        raise failure


def require_catalog_manage(actor: Any, site: Site | None = None) -> None:
    """Master data needs catalog.manage at the root node; a site's own data at that site."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise PermissionDenied()
    if site is None:
        if not can_manage(actor):
            raise PermissionDenied()
        return
    if actor.has_scoped_permission(CATALOG_MANAGE, site.node):
        return
    if not actor.has_scoped_permission("org.view", site.node):
        raise NotFound()
    raise PermissionDenied()


def _decimal(
    problems: ErrorCollector,
    field_name: str,
    value: Any,
    *,
    places: int,
    digits: int,
    positive: bool = False,
    not_negative: bool = False,
) -> Decimal | None:
    """Parse an exact decimal that fits a column; None (with an error recorded) otherwise."""
    if isinstance(value, float | bool):
        problems.add(field_name, _("Use an exact decimal, not a floating-point number."))
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except Exception:
        problems.add(field_name, _("“%(value)s” is not a number.") % {"value": value})
        return None
    if not number.is_finite():
        problems.add(field_name, _("The number must be finite."))
        return None
    exponent = number.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        problems.add(field_name, _("Use at most %(places)d decimal places.") % {"places": places})
        return None
    if abs(number) >= Decimal(10) ** (digits - places):
        problems.add(field_name, _("The number is too large."))
        return None
    if positive and number <= 0:
        problems.add(field_name, _("Must be greater than zero."))
        return None
    if not_negative and number < 0:
        problems.add(field_name, _("Must not be negative."))
        return None
    return number.quantize(Decimal(1).scaleb(-places))  # as the column will hold it


def _text(problems: ErrorCollector, field_name: str, value: str, max_length: int) -> str:
    value = (value or "").strip()
    if not value:
        problems.add(field_name, _("This field is required."))
    elif len(value) > max_length:
        problems.add(field_name, _("At most %(count)d characters.") % {"count": max_length})
    elif "\x00" in value:
        problems.add(field_name, _("Must not contain NUL characters."))
    return value


def _choice(problems: ErrorCollector, field_name: str, value: str, choices: Any) -> None:
    if value not in choices.values:
        problems.add(field_name, _("“%(value)s” is not a valid choice.") % {"value": value})


def _places(problems: ErrorCollector, field_name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 6:
        problems.add(field_name, _("Use 0 to 6 decimal places."))


def _audit_and_publish(
    *, actor: Any, action: str, target: Any, before: Any, after: Any, payload: Any, reason: str = ""
) -> None:
    root = root_node()
    record_audit(
        actor=actor,
        action=action,
        target=target,
        before=before,
        after=after,
        reason=reason,
        org_node=root,
    )
    if payload is not None:
        publish(payload, org_node=root)
