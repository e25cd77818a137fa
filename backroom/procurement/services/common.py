"""Shared pieces of the procurement services: audit, access, text checks, locations."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import models
from django.utils.translation import gettext as _

from backroom.accounts.authorization import require_permission
from backroom.audit.services import record_audit
from backroom.inventory.choices import LocationKind
from backroom.inventory.models import Location
from backroom.kernel.exceptions import ErrorCollector, NotFound, ValidationFailed
from backroom.kernel.money import quantize_quantity, to_decimal
from backroom.org.models import OrgNode, Site
from backroom.procurement.exceptions import NoReceivingLocation

ZERO = Decimal(0)


def actor_id(actor: Any) -> int | None:
    return actor.pk if isinstance(actor, get_user_model()) else None


def audit(
    target: models.Model,
    action: str,
    actor: Any,
    node: OrgNode | None,
    /,
    *,
    reason: str = "",
    before: dict[str, Any] | None = None,
    **after: Any,
) -> None:
    """One audit entry in domain words: `procurement.<action>` on `target`."""
    record_audit(
        actor=actor,
        action=f"procurement.{action}",
        target=target,
        before=before,
        after=after,
        reason=reason,
        org_node=node,
    )


def require_at(actor: Any, permission: str, node: OrgNode | None) -> None:
    require_permission(actor, permission, node)


def related_to_actor(actor: Any, permission: str, node: OrgNode) -> bool:
    """True when the actor holds `permission` at, above or below `node`: a supplier defined for
    an entity serves the stores below it, so their users see it."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return False
    paths = actor.scope_paths(permission)
    if paths is None:
        return True
    return any(node.path.startswith(path) or path.startswith(node.path) for path in paths)


def text(
    errors: ErrorCollector, name: str, value: str | None, limit: int, *, required: bool
) -> str:
    cleaned = (value or "").strip()
    if required and not cleaned:
        errors.add(name, _("This field is required."))
    elif len(cleaned) > limit:
        errors.add(name, _("At most %(count)s characters.") % {"count": limit})
    return cleaned


def decimal(
    errors: ErrorCollector,
    name: str,
    value: Any,
    *,
    minimum: Decimal | None = ZERO,
    positive: bool = False,
) -> Decimal:
    try:
        number = quantize_quantity(to_decimal(value, field=name))
    except ValidationFailed as error:
        for messages in error.errors.values():
            for message in messages:
                errors.add(name, message)
        return ZERO
    if positive and number <= 0:
        errors.add(name, _("Must be more than zero."))
    elif minimum is not None and number < minimum:
        errors.add(name, _("Must be at least %(minimum)s.") % {"minimum": minimum})
    return number


def receiving_location(site: Site, location_id: int | None = None) -> Location:
    """The location goods for `site` go to: the one named (an open, non-transit location of
    that site), else the site's first open stock location."""
    rows = (
        Location.objects.select_related("site__node")
        .filter(site=site, is_active=True)
        .exclude(kind=LocationKind.IN_TRANSIT)
    )
    if location_id is not None:
        found = rows.filter(pk=location_id).first()
        if found is None:
            raise ValidationFailed(
                {"location_id": [_("Choose an open stock location of %(site)s.") % {"site": site}]}
            )
        return found
    found = rows.order_by("id").first()
    if found is None:
        raise NoReceivingLocation(site=site.node.code)
    return found


def get_or_404(queryset: Any, pk: Any) -> Any:
    try:
        return queryset.get(pk=pk)
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        raise NotFound() from None


def store_sites(ids: Iterable[int]) -> dict[int, Site]:
    return Site.objects.select_related("node", "legal_entity").in_bulk(set(ids))


def store_today(site: Site) -> dt.date:
    """The site's business date now (by the business clock, so demos and tests can move it)."""
    from backroom.kernel import clock
    from backroom.kernel.dates import business_date

    return business_date(clock.now(), time_zone=site.time_zone, cutoff_hour=site.cutoff_hour)
