"""Stock locations inside a site."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from backroom.accounts.authorization import require_permission
from backroom.audit.services import record_audit, snapshot
from backroom.events.services import publish
from backroom.inventory.choices import LocationKind
from backroom.inventory.events import LocationCreated, LocationUpdated
from backroom.inventory.models import Location
from backroom.inventory.permissions import INVENTORY_MANAGE
from backroom.kernel.exceptions import ErrorCollector
from backroom.org.models import Site, code_validator

TRANSIT_CODE = "IN-TRANSIT"


def create_location(site: Site, *, code: str, name: str, kind: str, actor: Any) -> Location:
    """Add a location (walk-in, freezer, dry store, bar, in transit) to a site."""
    require_permission(actor, INVENTORY_MANAGE, site.node)
    errors = ErrorCollector()
    code = (code or "").strip().upper()
    try:
        code_validator(code)
    except Exception:
        errors.add("code", _("Use 1–20 capital letters, digits or hyphens."))
    if Location.objects.filter(site=site, code=code).exists():
        errors.add("code", _("The code %(code)s is already used at this site.") % {"code": code})
    if not (name or "").strip():
        errors.add("name", _("A name is required."))
    elif len(name.strip()) > 100:
        errors.add("name", _("A name has at most 100 characters."))
    if kind not in LocationKind.values:
        errors.add("kind", _("“%(kind)s” is not a kind of location.") % {"kind": kind})
    errors.raise_if_any()
    with transaction.atomic():
        location = Location.objects.create(site=site, code=code, name=name.strip(), kind=kind)
        record_audit(
            actor=actor,
            action="inventory.location.create",
            target=location,
            after=snapshot(location),
            org_node=site.node,
        )
        publish(
            LocationCreated(location_id=location.pk, site_id=site.pk, code=code, kind=kind),
            org_node=site.node,
        )
    return location


def update_location(
    location: Location,
    *,
    actor: Any,
    name: str | None = None,
    is_active: bool | None = None,
    reason: str = "",
) -> Location:
    """Rename a location or close/reopen it (a closed location takes no moves)."""
    require_permission(actor, INVENTORY_MANAGE, location.site.node)
    errors = ErrorCollector()
    if name is not None and not name.strip():
        errors.add("name", _("A name is required."))
    errors.raise_if_any()
    with transaction.atomic():
        location = (
            Location.objects.select_for_update().select_related("site__node").get(pk=location.pk)
        )
        before = snapshot(location)
        changed = []
        if name is not None and name.strip() != location.name:
            location.name = name.strip()
            changed.append("name")
        if is_active is not None and is_active != location.is_active:
            location.is_active = is_active
            changed.append("is_active")
        if not changed:
            return location
        location.save()
        record_audit(
            actor=actor,
            action="inventory.location.update",
            target=location,
            before=before,
            after=snapshot(location),
            reason=reason,
            org_node=location.site.node,
        )
        publish(
            LocationUpdated(location_id=location.pk, site_id=location.site_id, changed=changed),
            org_node=location.site.node,
        )
    return location


def transit_location(site: Site, *, actor: Any) -> Location:
    """The site's in-transit location, created on first use."""
    existing = (
        Location.objects.select_related("site__node")
        .filter(site=site, kind=LocationKind.IN_TRANSIT, is_active=True)
        .order_by("id")
        .first()
    )
    if existing is not None:
        return existing
    from backroom.kernel.actors import SYSTEM

    return create_location(
        site,
        code=TRANSIT_CODE,
        name=str(_("In transit")),
        kind=LocationKind.IN_TRANSIT,
        actor=SYSTEM,
    )
