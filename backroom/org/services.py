"""Writes to the org tree. Each checks permission, validates everything at once, audits, publishes."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Any

from django.apps import apps
from django.db import IntegrityError, models, transaction
from django.db.models.functions import Concat, Substr
from django.utils import timezone
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
from backroom.org.models import (
    PATH_DIGITS,
    PATH_LENGTH,
    Brand,
    LegalEntity,
    OrgNode,
    Site,
    code_validator,
)
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


@cache
def time_zones() -> frozenset[str]:
    """The IANA time zones this machine knows (read from its tz database once per process)."""
    return frozenset(zoneinfo.available_timezones())


def _validate_site(errors: ErrorCollector, details: SiteDetails | SiteChanges) -> None:
    if details.time_zone is not None and details.time_zone not in time_zones():
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


def _require_manage_at_scope(actor: Any, node: OrgNode) -> None:
    """Changing a node itself needs the right to create it: org.manage at its parent (at the
    top of the tree for the group). Not found when the actor cannot see the node; denied when
    they can but do not manage its parent."""
    if node.parent_id is None:
        require_permission(actor, ORG_MANAGE)
        return
    require_permission(actor, ORG_MANAGE, node)
    if not actor.has_scoped_permission(ORG_MANAGE, OrgNode.objects.get(pk=node.parent_id)):
        raise PermissionDenied()


def rename_node(node: OrgNode, *, name: str, actor: Any, reason: str = "") -> OrgNode:
    """Rename a node of any kind (the code, its key, stays)."""
    _require_manage_at_scope(actor, node)
    errors = ErrorCollector()
    name = (name or "").strip()
    if not name:
        errors.add("name", _("A name is required."))
    elif len(name) > 200:
        errors.add("name", _("A name has at most 200 characters."))
    errors.raise_if_any()
    with transaction.atomic():
        node = OrgNode.objects.select_for_update().get(pk=node.pk)
        if node.name == name:
            return node
        before = {"name": node.name}
        node.name = name
        node.save(update_fields=["name", "updated_at"])
        record_audit(
            actor=actor,
            action="org.node.rename",
            target=node,
            before=before,
            after={"name": node.name},
            reason=reason,
            org_node=node,
        )
        publish(
            NodeUpdated(node_id=node.pk, kind=node.kind, code=node.code, changed=["name"]),
            org_node=node,
        )
    return node


def entity_has_books_or_stock(entity: LegalEntity) -> bool:
    """Whether anything has been recorded in the entity's currency: a set of books, or stock
    moved at one of its sites (read through the registry: org sits below finance and stock)."""
    if apps.get_model("finance", "Book").objects.filter(entity=entity).exists():
        return True
    moves = apps.get_model("inventory", "StockMove").objects
    return bool(moves.filter(site__legal_entity=entity).exists())


def update_entity(
    entity: LegalEntity,
    *,
    actor: Any,
    tax_id: str | None = None,
    country: str | None = None,
    base_currency: str | None = None,
    reason: str = "",
) -> list[str]:
    """Change a legal entity's tax id, country or base currency (None leaves a field as it is);
    the names of the changed fields. The currency stays once the entity has books or stock."""
    _require_manage_at_scope(actor, entity.node)
    errors = ErrorCollector()
    wanted: dict[str, str] = {}
    if tax_id is not None:
        wanted["tax_id"] = tax_id.strip()
        if len(wanted["tax_id"]) > 40:
            errors.add("tax_id", _("A tax id has at most 40 characters."))
    if country is not None:
        wanted["country"] = country.strip().upper()
        if len(wanted["country"]) != 2 or not wanted["country"].isalpha():
            errors.add("country", _("Use a two-letter ISO country code."))
    if base_currency is not None:
        wanted["base_currency"] = base_currency.strip().upper()
        if wanted["base_currency"] not in CURRENCIES:
            errors.add(
                "base_currency",
                _("“%(currency)s” is not a supported currency.")
                % {"currency": wanted["base_currency"]},
            )
    errors.raise_if_any()
    with transaction.atomic():
        entity = LegalEntity.objects.select_for_update().select_related("node").get(pk=entity.pk)
        changed = [key for key, value in wanted.items() if value != getattr(entity, key)]
        if not changed:
            return []
        if "base_currency" in changed and entity_has_books_or_stock(entity):
            errors.add(
                "base_currency",
                _(
                    "%(code)s keeps its books or stock in %(currency)s: its base currency "
                    "cannot be changed."
                )
                % {"code": entity.node.code, "currency": entity.base_currency},
            )
            errors.raise_if_any()
        before = snapshot(entity)
        for key in changed:
            setattr(entity, key, wanted[key])
        entity.save(update_fields=[*changed, "updated_at"])
        record_audit(
            actor=actor,
            action="org.entity.update",
            target=entity.node,
            before=before,
            after=snapshot(entity),
            reason=reason,
            org_node=entity.node,
        )
        publish(
            NodeUpdated(
                node_id=entity.node_id,
                kind=entity.node.kind,
                code=entity.node.code,
                changed=changed,
            ),
            org_node=entity.node,
        )
    return changed


def move_node(node: OrgNode, *, parent: OrgNode, actor: Any, reason: str = "") -> OrgNode:
    """Hang a node (and its subtree) under another parent of the same legal entity, rewriting
    the materialised paths of the subtree in one transaction."""
    node = OrgNode.objects.get(pk=node.pk)
    parent = OrgNode.objects.get(pk=parent.pk)
    if node.parent_id == parent.pk:
        return node
    _require_manage_at_scope(actor, node)
    require_permission(actor, ORG_MANAGE, parent)
    errors = ErrorCollector()
    if parent.kind not in ALLOWED_PARENTS[node.kind]:
        errors.add(
            "parent_id",
            _("A %(child)s cannot be placed under a %(parent)s.")
            % {"child": NodeKind(node.kind).label, "parent": NodeKind(parent.kind).label},
        )
    elif parent.path.startswith(node.path):
        errors.add(
            "parent_id",
            _("%(code)s cannot be placed under itself or one of its own nodes (%(parent)s).")
            % {"code": node.code, "parent": parent.code},
        )
    elif node.kind != NodeKind.ENTITY and legal_entity_of(node) != legal_entity_of(parent):
        errors.add(
            "parent_id",
            _(
                "%(parent)s belongs to another legal entity: a node cannot be moved from one "
                "legal entity to another (its sites keep their books and stock)."
            )
            % {"parent": parent.code},
        )
    errors.raise_if_any()
    old_path = node.path
    new_path = f"{parent.path}{node.pk:0{PATH_DIGITS}d}/"
    shift = parent.depth + 1 - node.depth
    subtree = OrgNode.objects.filter(path__startswith=old_path)
    with transaction.atomic():
        longest = max(
            len(path) for path in subtree.select_for_update().values_list("path", flat=True)
        )
        if longest - len(old_path) + len(new_path) > PATH_LENGTH:
            errors.add(
                "parent_id",
                _("The tree would be too deep under %(parent)s.") % {"parent": parent.code},
            )
            errors.raise_if_any()
        before = {"parent": node.parent_id, "path": old_path}
        subtree.update(
            path=Concat(
                models.Value(new_path),
                Substr("path", len(old_path) + 1),
                output_field=models.CharField(),
            ),
            depth=models.F("depth") + shift,
        )
        OrgNode.objects.filter(pk=node.pk).update(parent=parent, updated_at=timezone.now())
        node.refresh_from_db()
        record_audit(
            actor=actor,
            action="org.node.move",
            target=node,
            before=before,
            after={"parent": node.parent_id, "path": node.path},
            reason=reason,
            org_node=node,
        )
        publish(
            NodeUpdated(node_id=node.pk, kind=node.kind, code=node.code, changed=["parent"]),
            org_node=node,
        )
    forget = getattr(actor, "forget_grants", None)
    if callable(forget):  # the actor's cached grant paths may lie in the moved subtree
        forget()
    return node


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
