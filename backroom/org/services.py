"""Writes to the org tree. Each checks permission, validates everything at once, audits, publishes."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from backroom.accounts.authorization import require_permission
from backroom.accounts.permissions import ORG_MANAGE
from backroom.audit.services import record_audit, snapshot
from backroom.events.services import publish
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import ErrorCollector, PermissionDenied
from backroom.kernel.money import CURRENCIES
from backroom.org.choices import ALLOWED_PARENTS, SITE_KINDS, NodeKind, SiteStatus
from backroom.org.events import BrandCreated, NodeCreated, NodeUpdated
from backroom.org.models import PATH_DIGITS, Brand, LegalEntity, OrgNode, Site, code_validator
from backroom.org.selectors import legal_entity_of


@dataclass
class NodeInput:
    kind: str
    code: str
    name: str
    parent_id: int | None = None


@dataclass
class EntityDetails:
    base_currency: str
    country: str
    tax_id: str = ""


@dataclass
class SiteDetails:
    time_zone: str = "Asia/Shanghai"
    cutoff_hour: int = 4
    address: str = ""
    city: str = ""
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    opening_date: dt.date | None = None
    status: str = SiteStatus.OPEN
    brand_code: str | None = None


@dataclass
class SiteChanges:
    """Fields to change on a site; None leaves a field as it is."""

    name: str | None = None
    time_zone: str | None = None
    cutoff_hour: int | None = None
    address: str | None = None
    city: str | None = None
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    opening_date: dt.date | None = None
    status: str | None = None
    changed: list[str] = field(default_factory=list)


def _validate_site(errors: ErrorCollector, details: SiteDetails | SiteChanges) -> None:
    if details.time_zone is not None and details.time_zone not in zoneinfo.available_timezones():
        errors.add(
            "time_zone",
            _("“%(time_zone)s” is not a known time zone.") % {"time_zone": details.time_zone},
        )
    if details.cutoff_hour is not None and not 0 <= details.cutoff_hour <= 23:
        errors.add("cutoff_hour", _("The cut-off hour must be between 0 and 23."))
    if details.latitude is not None and not -90 <= details.latitude <= 90:
        errors.add("latitude", _("Latitude must be between -90 and 90."))
    if details.longitude is not None and not -180 <= details.longitude <= 180:
        errors.add("longitude", _("Longitude must be between -180 and 180."))
    if details.status is not None and details.status not in SiteStatus.values:
        errors.add("status", _("“%(status)s” is not a site status.") % {"status": details.status})


def create_node(
    node_input: NodeInput,
    *,
    actor: Any,
    entity: EntityDetails | None = None,
    site: SiteDetails | None = None,
) -> OrgNode:
    """Create a node of the tree (with its entity or site details) under `parent_id`."""
    errors = ErrorCollector()
    parent: OrgNode | None = None
    if node_input.kind not in NodeKind.values:
        errors.add("kind", _("“%(kind)s” is not a kind of node.") % {"kind": node_input.kind})
    if node_input.parent_id is not None:
        parent = OrgNode.objects.filter(pk=node_input.parent_id).first()
        if parent is None:
            errors.add("parent_id", _("The parent node does not exist."))
    if node_input.kind in NodeKind.values:
        allowed = ALLOWED_PARENTS[node_input.kind]
        if (
            parent is None
            and node_input.kind != NodeKind.GROUP
            and "parent_id" not in errors.errors
        ):
            errors.add("parent_id", _("Only the group has no parent."))
        if parent is not None and parent.kind not in allowed:
            errors.add(
                "parent_id",
                _("A %(child)s cannot be placed under a %(parent)s.")
                % {"child": NodeKind(node_input.kind).label, "parent": NodeKind(parent.kind).label},
            )
        if (
            node_input.kind == NodeKind.GROUP
            and OrgNode.objects.filter(kind=NodeKind.GROUP).exists()
        ):
            errors.add(
                "kind", _("There is already a group: one deployment serves one organisation.")
            )
    code = (node_input.code or "").strip().upper()
    try:
        code_validator(code)
    except Exception:
        errors.add("code", _("Use 1–20 capital letters, digits or hyphens."))
    if OrgNode.objects.filter(code=code).exists():
        errors.add("code", _("The code %(code)s is already used.") % {"code": code})
    if not node_input.name.strip():
        errors.add("name", _("A name is required."))
    if node_input.kind == NodeKind.ENTITY:
        if entity is None:
            errors.add("base_currency", _("A legal entity needs a base currency and a country."))
        else:
            if entity.base_currency not in CURRENCIES:
                errors.add(
                    "base_currency",
                    _("“%(currency)s” is not a supported currency.")
                    % {"currency": entity.base_currency},
                )
            if len(entity.country) != 2 or not entity.country.isalpha():
                errors.add("country", _("Use a two-letter ISO country code."))
    brand = None
    if node_input.kind in SITE_KINDS:
        site = site or SiteDetails()
        _validate_site(errors, site)
        if site.brand_code:
            brand = Brand.objects.filter(code=site.brand_code).first()
            if brand is None:
                errors.add(
                    "brand_code",
                    _("There is no brand %(brand_code)s.") % {"brand_code": site.brand_code},
                )
        if parent is not None and legal_entity_of(parent) is None:
            errors.add("parent_id", _("A site must sit under a legal entity."))
    if parent is not None:
        require_permission(actor, ORG_MANAGE, parent)
    else:
        require_permission(actor, ORG_MANAGE)
    errors.raise_if_any()

    with transaction.atomic():
        node = OrgNode(
            kind=node_input.kind,
            code=code,
            name=node_input.name.strip(),
            parent=parent,
            depth=(parent.depth + 1) if parent else 0,
            path="",
        )
        try:
            node.save()
        except IntegrityError:
            errors.add("code", _("The code %(code)s is already used.") % {"code": code})
            errors.raise_if_any()
        # Zero-padded so that ordering by path is tree order under any collation.
        node.path = f"{parent.path if parent else '/'}{node.pk:0{PATH_DIGITS}d}/"
        OrgNode.objects.filter(pk=node.pk).update(path=node.path)
        if node.kind == NodeKind.ENTITY and entity is not None:
            LegalEntity.objects.create(
                node=node,
                base_currency=entity.base_currency,
                country=entity.country.upper(),
                tax_id=entity.tax_id,
            )
        if node.kind in SITE_KINDS and site is not None:
            entity_row = legal_entity_of(node)
            assert entity_row is not None
            Site.objects.create(
                node=node,
                legal_entity=entity_row,
                brand=brand,
                time_zone=site.time_zone,
                cutoff_hour=site.cutoff_hour,
                address=site.address,
                city=site.city,
                latitude=site.latitude,
                longitude=site.longitude,
                opening_date=site.opening_date,
                status=site.status,
            )
        after = snapshot(node)
        if node.kind in SITE_KINDS:
            after["site"] = snapshot(node.site)
        if node.kind == NodeKind.ENTITY:
            after["legal_entity"] = snapshot(node.legal_entity)
        record_audit(actor=actor, action="org.node.create", target=node, after=after, org_node=node)
        publish(
            NodeCreated(
                node_id=node.pk,
                kind=node.kind,
                code=node.code,
                name=node.name,
                parent_id=node.parent_id,
            ),
            org_node=node,
        )
    return node


def update_site(site: Site, changes: SiteChanges, *, actor: Any, reason: str = "") -> Site:
    """Change a site's details (name, clock, address, status)."""
    require_permission(actor, ORG_MANAGE, site.node)
    errors = ErrorCollector()
    _validate_site(errors, changes)
    if changes.name is not None and not changes.name.strip():
        errors.add("name", _("A name is required."))
    errors.raise_if_any()
    with transaction.atomic():
        site = Site.objects.select_for_update().select_related("node").get(pk=site.pk)
        before = {**snapshot(site), "name": site.node.name}
        changed: list[str] = []
        for field_name in (
            "time_zone",
            "cutoff_hour",
            "address",
            "city",
            "latitude",
            "longitude",
            "opening_date",
            "status",
        ):
            value = getattr(changes, field_name)
            if value is not None and value != getattr(site, field_name):
                setattr(site, field_name, value)
                changed.append(field_name)
        if changes.name is not None and changes.name.strip() != site.node.name:
            site.node.name = changes.name.strip()
            site.node.save(update_fields=["name", "updated_at"])
            changed.append("name")
        if not changed:
            return site
        site.save()
        record_audit(
            actor=actor,
            action="org.site.update",
            target=site.node,
            before=before,
            after={**snapshot(site), "name": site.node.name},
            reason=reason,
            org_node=site.node,
        )
        publish(
            NodeUpdated(
                node_id=site.node_id, kind=site.node.kind, code=site.node.code, changed=changed
            ),
            org_node=site.node,
        )
    return site


def create_brand(code: str, name: str, *, actor: Any = SYSTEM) -> Brand:
    """Create a brand (a dimension on sites): chain-wide master data, managed at the group."""
    root = OrgNode.objects.filter(parent__isnull=True).first()
    if not getattr(actor, "is_authenticated", False) or not actor.has_scoped_permission(
        ORG_MANAGE, root
    ):
        raise PermissionDenied()
    errors = ErrorCollector()
    code = code.strip().upper()
    try:
        code_validator(code)
    except Exception:
        errors.add("code", _("Use 1–20 capital letters, digits or hyphens."))
    if Brand.objects.filter(code=code).exists():
        errors.add("code", _("The brand code %(code)s is already used.") % {"code": code})
    if not name.strip():
        errors.add("name", _("A name is required."))
    errors.raise_if_any()
    with transaction.atomic():
        brand = Brand.objects.create(code=code, name=name.strip())
        record_audit(actor=actor, action="org.brand.create", target=brand, after=snapshot(brand))
        publish(BrandCreated(brand_id=brand.pk, code=brand.code, name=brand.name))
    return brand
