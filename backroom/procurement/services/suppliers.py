"""Suppliers, their contacts, the items they sell, delivery calendars and order guides.

A delivery calendar and an order guide name their source: a supplier (直送) or a warehouse /
central kitchen (配送), never both. Writes need `procurement.manage` at the supplier's org node
(a distribution calendar: at the warehouse or kitchen; an order guide: at the store).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext as _

from backroom.audit.services import snapshot
from backroom.catalog.choices import STOCKED_KINDS
from backroom.catalog.exceptions import MissingConversion, UnknownUnit
from backroom.catalog.models import Item
from backroom.catalog.units import resolve_unit
from backroom.events.services import publish
from backroom.kernel.exceptions import ErrorCollector, ValidationFailed
from backroom.kernel.money import CURRENCIES
from backroom.org.choices import NodeKind
from backroom.org.models import OrgNode, Site, code_validator
from backroom.procurement.events import SupplierSaved
from backroom.procurement.models import (
    DeliveryCalendar,
    DeliveryException,
    OrderGuide,
    OrderGuideLine,
    Supplier,
    SupplierContact,
    SupplierItem,
)
from backroom.procurement.permissions import PROCUREMENT_MANAGE
from backroom.procurement.services.common import ZERO, audit, decimal, require_at, text

SUPPLIER_NODE_KINDS = {NodeKind.GROUP, NodeKind.ENTITY, NodeKind.REGION}
DISTRIBUTION_SITE_KINDS = {NodeKind.WAREHOUSE, NodeKind.KITCHEN}


def check_distribution_site(site: Site | None, *, store: Site | None = None) -> Site:
    """A warehouse or central kitchen that can supply the store (422 `source_site_id`
    otherwise: no such site, a store, or the store itself)."""
    if site is None or site.node.kind not in DISTRIBUTION_SITE_KINDS or site == store:
        raise ValidationFailed({"source_site_id": [_("Choose a warehouse or central kitchen.")]})
    return site


def source_of(*, supplier: Supplier | None = None, source_site: Site | None = None) -> Any:
    """The one source a calendar or an order guide names: a supplier or a warehouse /
    central kitchen. Both or neither is refused (422), as the database would."""
    if (supplier is None) == (source_site is None):
        raise ValidationFailed(
            {
                "source_site_id": [
                    _("Name either a supplier or a warehouse / central kitchen, not both.")
                    if supplier is not None
                    else _("Name a supplier or a warehouse / central kitchen.")
                ]
            }
        )
    return supplier if supplier is not None else check_distribution_site(source_site)


@dataclass
class SupplierInput:
    """A supplier's master data; `node_id` is the org node it serves (group, entity, region)."""

    code: str
    name: str
    node_id: int
    currency: str
    payment_terms_days: int = 30
    lead_time_days: int = 1
    requires_pack_multiples: bool = False
    price_alert_percent: Decimal = Decimal(10)
    over_receipt_tolerance_percent: Decimal = Decimal(0)
    invoice_tolerance_amount: Decimal = Decimal(1)
    invoice_tolerance_percent: Decimal = Decimal(2)
    tax_id: str = ""
    order_email: str = ""
    is_active: bool = True


_CHANGEABLE = (
    "name",
    "currency",
    "payment_terms_days",
    "lead_time_days",
    "requires_pack_multiples",
    "price_alert_percent",
    "over_receipt_tolerance_percent",
    "invoice_tolerance_amount",
    "invoice_tolerance_percent",
    "tax_id",
    "order_email",
    "is_active",
)


def _check_supplier_fields(values: dict[str, Any], errors: ErrorCollector) -> None:
    if "name" in values:
        values["name"] = text(errors, "name", values["name"], 200, required=True)
    if "currency" in values:
        currency = (values["currency"] or "").strip().upper()
        if currency not in CURRENCIES:
            errors.add("currency", _("“%(code)s” is not a currency we use.") % {"code": currency})
        values["currency"] = currency
    for name in ("payment_terms_days", "lead_time_days"):
        if name in values and not (isinstance(values[name], int) and 0 <= values[name] <= 365):
            errors.add(name, _("Use a whole number of days between 0 and 365."))
    for name in (
        "price_alert_percent",
        "over_receipt_tolerance_percent",
        "invoice_tolerance_amount",
        "invoice_tolerance_percent",
    ):
        if name in values:
            values[name] = decimal(errors, name, values[name])
    if "tax_id" in values:
        values["tax_id"] = text(errors, "tax_id", values["tax_id"], 40, required=False)
    if "order_email" in values:
        values["order_email"] = text(
            errors, "order_email", values["order_email"], 254, required=False
        )


def create_supplier(data: SupplierInput, *, actor: Any) -> Supplier:
    """Add a supplier for the stores under `data.node_id` (procurement.manage there)."""
    node = OrgNode.objects.filter(pk=data.node_id).first()
    require_at(actor, PROCUREMENT_MANAGE, node)
    errors = ErrorCollector()
    assert node is not None
    if node.kind not in SUPPLIER_NODE_KINDS:
        errors.add("node_id", _("A supplier is defined for the group, a legal entity or a region."))
    code = (data.code or "").strip().upper()
    try:
        code_validator(code)
    except Exception:
        errors.add("code", _("Use 1–20 capital letters, digits or hyphens."))
    if Supplier.objects.filter(code=code).exists():
        errors.add("code", _("The code %(code)s is already used.") % {"code": code})
    values = {name: getattr(data, name) for name in _CHANGEABLE}
    _check_supplier_fields(values, errors)
    errors.raise_if_any()
    with transaction.atomic():
        supplier = Supplier.objects.create(code=code, node=node, **values)
        audit(supplier, "supplier.create", actor, node, **snapshot(supplier))
        publish(
            SupplierSaved(
                supplier_id=supplier.pk, code=code, is_active=supplier.is_active, created=True
            ),
            org_node=node,
        )
    return supplier


def update_supplier(
    supplier: Supplier, changes: dict[str, Any], *, actor: Any, reason: str = ""
) -> Supplier:
    """Change a supplier's master data (any of the fields of SupplierInput but code and node);
    deactivating it stops new orders (`supplier_inactive`)."""
    require_at(actor, PROCUREMENT_MANAGE, supplier.node)
    unknown = set(changes) - set(_CHANGEABLE)
    if unknown:
        raise ValidationFailed({name: [_("This field cannot be changed.")] for name in unknown})
    errors = ErrorCollector()
    values = dict(changes)
    _check_supplier_fields(values, errors)
    errors.raise_if_any()
    with transaction.atomic():
        supplier = Supplier.objects.select_for_update().select_related("node").get(pk=supplier.pk)
        before = snapshot(supplier)
        for name, value in values.items():
            setattr(supplier, name, value)
        supplier.save()
        audit(
            supplier,
            "supplier.update",
            actor,
            supplier.node,
            reason=reason,
            before=before,
            **snapshot(supplier),
        )
        publish(
            SupplierSaved(
                supplier_id=supplier.pk,
                code=supplier.code,
                is_active=supplier.is_active,
                created=False,
            ),
            org_node=supplier.node,
        )
    return supplier


@dataclass
class ContactInput:
    name: str
    role: str = ""
    phone: str = ""
    email: str = ""
    is_primary: bool = False


CONTACT_FIELDS = ("name", "role", "phone", "email", "is_primary")
# Digits with the separators people write (+86 21-5555 1234, (021) 5555-1234 转 8).
PHONE_PATTERN = re.compile(
    r"^\+?[\d\s().\-/]*\d[\d\s().\-/]*(?:(?:ext\.?|x|转|分机)\s*\d+)?$", re.IGNORECASE
)


def _check_contact_fields(values: dict[str, Any], errors: ErrorCollector) -> None:
    """Clean and check the contact fields in `values` (every problem into `errors`)."""
    limits = {"name": 100, "role": 100, "phone": 40, "email": 254}
    for name, limit in limits.items():
        if name in values:
            values[name] = text(errors, name, values[name], limit, required=name == "name")
    if values.get("phone") and not PHONE_PATTERN.match(values["phone"]):
        errors.add("phone", _("Enter a phone number: digits, spaces, + - ( ) and an extension."))
    if values.get("email"):
        try:
            validate_email(values["email"])
        except DjangoValidationError:
            errors.add("email", _("Enter a valid e-mail address."))
    if "is_primary" in values and not isinstance(values["is_primary"], bool):
        errors.add("is_primary", _("Answer yes or no."))


def _check_contact_name(
    supplier: Supplier,
    values: dict[str, Any],
    errors: ErrorCollector,
    *,
    contact: SupplierContact | None = None,
) -> None:
    """A name is one contact's per supplier, in any case: an import matches contacts by name."""
    if not values.get("name"):
        return
    others = supplier.contacts.all()
    if contact is not None:
        others = others.exclude(pk=contact.pk)
    if any(
        other.casefold() == values["name"].casefold()
        for other in others.values_list("name", flat=True)
    ):
        errors.add(
            "name", _("%(name)s is already a contact of this supplier.") % {"name": values["name"]}
        )


def add_contact(supplier: Supplier, data: ContactInput, *, actor: Any) -> SupplierContact:
    """Add a person to call or mail at the supplier."""
    require_at(actor, PROCUREMENT_MANAGE, supplier.node)
    errors = ErrorCollector()
    values = {name: getattr(data, name) for name in CONTACT_FIELDS}
    _check_contact_fields(values, errors)
    _check_contact_name(supplier, values, errors)
    errors.raise_if_any()
    with transaction.atomic():
        contact = SupplierContact.objects.create(supplier=supplier, **values)
        audit(contact, "supplier.contact.add", actor, supplier.node, **snapshot(contact))
    return contact


def update_contact(
    contact: SupplierContact, *, actor: Any, reason: str = "", **changes: Any
) -> SupplierContact:
    """Change a supplier contact's name, role, phone, e-mail or primary flag (only the fields
    given; procurement.manage at the supplier's node). Checked as when adding one, every
    problem at once (422). Nothing differs → no write, no audit entry."""
    supplier = Supplier.objects.select_related("node").get(pk=contact.supplier_id)
    require_at(actor, PROCUREMENT_MANAGE, supplier.node)
    unknown = set(changes) - set(CONTACT_FIELDS)
    if unknown:
        raise ValidationFailed({name: [_("This field cannot be changed.")] for name in unknown})
    errors = ErrorCollector()
    values = dict(changes)
    _check_contact_fields(values, errors)
    _check_contact_name(supplier, values, errors, contact=contact)
    errors.raise_if_any()
    with transaction.atomic():
        contact = SupplierContact.objects.select_for_update().get(pk=contact.pk)
        values = {name: value for name, value in values.items() if getattr(contact, name) != value}
        if not values:
            return contact
        before = snapshot(contact)
        for name, value in values.items():
            setattr(contact, name, value)
        contact.save()
        audit(
            contact,
            "supplier.contact.update",
            actor,
            supplier.node,
            reason=reason,
            before=before,
            **snapshot(contact),
        )
    return contact


@dataclass
class SupplierItemInput:
    """An item as the supplier sells it: purchase unit (a unit the item converts), pack size
    and minimum order, both in purchase units."""

    item_id: int
    purchase_unit: str
    pack_size: Decimal = Decimal(1)
    minimum_order_quantity: Decimal = Decimal(0)
    supplier_sku: str = ""
    is_active: bool = True


def set_supplier_item(supplier: Supplier, data: SupplierItemInput, *, actor: Any) -> SupplierItem:
    """Add or change the supplier's terms for one item."""
    require_at(actor, PROCUREMENT_MANAGE, supplier.node)
    errors = ErrorCollector()
    item = Item.objects.select_related("base_unit").filter(pk=data.item_id).first()
    if item is None:
        errors.add("item_id", _("There is no such item."))
    elif item.kind not in STOCKED_KINDS:
        errors.add("item_id", _("%(item)s is not kept in stock.") % {"item": item.sku})
    unit = (data.purchase_unit or "").strip()
    if item is not None:
        try:
            resolve_unit(item, unit, field="purchase_unit")
        except (UnknownUnit, MissingConversion) as error:
            errors.add("purchase_unit", error.message)
    pack = decimal(errors, "pack_size", data.pack_size, positive=True)
    moq = decimal(errors, "minimum_order_quantity", data.minimum_order_quantity)
    sku = text(errors, "supplier_sku", data.supplier_sku, 60, required=False)
    errors.raise_if_any()
    with transaction.atomic():
        supplier_item, created = SupplierItem.objects.select_for_update().get_or_create(
            supplier=supplier,
            item=item,
            defaults={
                "purchase_unit": unit,
                "pack_size": pack,
                "minimum_order_quantity": moq,
                "supplier_sku": sku,
                "is_active": data.is_active,
            },
        )
        before = None
        if not created:
            before = snapshot(supplier_item)
            supplier_item.purchase_unit = unit
            supplier_item.pack_size = pack
            supplier_item.minimum_order_quantity = moq
            supplier_item.supplier_sku = sku
            supplier_item.is_active = data.is_active
            supplier_item.save()
        audit(
            supplier_item,
            "supplier_item.set",
            actor,
            supplier.node,
            before=before,
            **snapshot(supplier_item),
        )
    return supplier_item


@dataclass
class CalendarInput:
    """Delivery days to the stores under `node_id`: ISO weekdays (1 = Monday), the cut-off
    time for orders (store time), a lead time overriding the supplier's, and exceptions
    (date → delivers that day or not)."""

    node_id: int
    weekdays: Sequence[int]
    cutoff_time: dt.time
    lead_time_days: int | None = None
    exceptions: dict[dt.date, bool] = field(default_factory=dict)


def set_delivery_calendar(
    supplier: Supplier | None,
    data: CalendarInput,
    *,
    actor: Any,
    source_site: Site | None = None,
) -> DeliveryCalendar:
    """Create or replace the delivery calendar of a supplier — or, with `source_site` instead,
    the distribution schedule of a warehouse / central kitchen — for a store or region
    (procurement.manage at the supplier's node, or at the site)."""
    source = source_of(supplier=supplier, source_site=source_site)
    owner = source.node
    require_at(actor, PROCUREMENT_MANAGE, owner)
    errors = ErrorCollector()
    node = OrgNode.objects.filter(pk=data.node_id).first()
    if node is None:
        errors.add("node_id", _("There is no such store or region."))
    weekdays = sorted(set(data.weekdays))
    if not weekdays or any(not isinstance(day, int) or not 1 <= day <= 7 for day in weekdays):
        errors.add("weekdays", _("Give the delivery days as 1 (Monday) to 7 (Sunday)."))
    if data.lead_time_days is not None and not 0 <= data.lead_time_days <= 365:
        errors.add("lead_time_days", _("Use a whole number of days between 0 and 365."))
    errors.raise_if_any()
    assert node is not None
    with transaction.atomic():
        calendar, _created = DeliveryCalendar.objects.update_or_create(
            supplier=supplier,
            source_site=source_site,
            node=node,
            defaults={
                "weekdays": weekdays,
                "cutoff_time": data.cutoff_time,
                "lead_time_days": data.lead_time_days,
            },
        )
        DeliveryException.objects.filter(calendar=calendar).delete()
        DeliveryException.objects.bulk_create(
            [
                DeliveryException(calendar=calendar, date=day, delivers=delivers)
                for day, delivers in sorted(data.exceptions.items())
            ]
        )
        audit(
            calendar,
            "calendar.set",
            actor,
            owner,
            **({"supplier": supplier.code} if supplier else {"source_site": owner.code}),
            node=node.code,
            weekdays=weekdays,
            cutoff_time=data.cutoff_time,
            lead_time_days=data.lead_time_days,
            exceptions={str(day): delivers for day, delivers in data.exceptions.items()},
        )
    return calendar


def set_order_guide(
    store: Site,
    supplier: Supplier,
    supplier_item_ids: Sequence[int],
    *,
    actor: Any,
    pars: dict[int, Decimal] | None = None,
) -> OrderGuide:
    """The items a store orders from a supplier, in this order (replaces the previous list)."""
    require_at(actor, PROCUREMENT_MANAGE, store.node)
    known = dict(
        SupplierItem.objects.filter(supplier=supplier, pk__in=supplier_item_ids).values_list(
            "pk", "item_id"
        )
    )
    missing = [pk for pk in supplier_item_ids if pk not in known]
    if missing:
        raise ValidationFailed(
            {"supplier_item_ids": [_("Not items of this supplier: %(ids)s") % {"ids": missing}]}
        )
    pars = pars or {}
    with transaction.atomic():
        guide, _created = OrderGuide.objects.get_or_create(store=store, supplier=supplier)
        OrderGuideLine.objects.filter(guide=guide).delete()
        OrderGuideLine.objects.bulk_create(
            [
                OrderGuideLine(
                    guide=guide,
                    supplier_item_id=pk,
                    item_id=known[pk],
                    position=position,
                    par_quantity=pars.get(pk),
                )
                for position, pk in enumerate(dict.fromkeys(supplier_item_ids))
            ]
        )
        audit(
            guide,
            "order_guide.set",
            actor,
            store.node,
            supplier=supplier.code,
            supplier_item_ids=list(supplier_item_ids),
        )
    return guide


@dataclass(frozen=True)
class DistributionGuideLineInput:
    """An item a store orders from a warehouse or central kitchen: the unit it is ordered in
    (the item's base unit when None), the pack it is sent in (in that unit; none: any
    quantity) and the par (in that unit)."""

    item_id: int
    unit: str | None = None
    pack_size: Decimal | None = None
    par_quantity: Decimal | None = None


def set_distribution_guide(
    store: Site,
    source_site: Site,
    lines: Sequence[DistributionGuideLineInput],
    *,
    actor: Any,
) -> OrderGuide:
    """The items a store orders from a warehouse or central kitchen (配送), in this order, with
    their unit, pack and par (replaces the previous list; procurement.manage at the store).
    Every problem of every line is reported at once and nothing changes."""
    require_at(actor, PROCUREMENT_MANAGE, store.node)
    source = check_distribution_site(source_site, store=store)
    errors = ErrorCollector()
    items = (
        Item.objects.select_related("base_unit")
        .prefetch_related("units")
        .in_bulk({line.item_id for line in lines})
    )
    rows: list[OrderGuideLine] = []
    seen: set[int] = set()
    for index, line in enumerate(lines):
        prefix = f"lines.{index}"
        item = items.get(line.item_id)
        if item is None or item.kind not in STOCKED_KINDS or not item.is_active:
            errors.add(f"{prefix}.item_id", _("There is no such stocked item."))
            continue
        if item.pk in seen:
            errors.add(f"{prefix}.item_id", _("%(item)s is listed twice.") % {"item": item.sku})
            continue
        seen.add(item.pk)
        unit = (line.unit or item.base_unit.code).strip()
        try:
            resolve_unit(item, unit, field=f"{prefix}.unit")
        except (UnknownUnit, MissingConversion) as error:
            errors.add(f"{prefix}.unit", error.message)
        pack = (
            None
            if line.pack_size is None
            else decimal(errors, f"{prefix}.pack_size", line.pack_size, positive=True)
        )
        par = (
            None
            if line.par_quantity is None
            else decimal(errors, f"{prefix}.par_quantity", line.par_quantity)
        )
        rows.append(
            OrderGuideLine(
                item=item, unit=unit, pack_size=pack, par_quantity=par, position=len(rows)
            )
        )
    errors.raise_if_any()
    with transaction.atomic():
        guide, _created = OrderGuide.objects.get_or_create(store=store, source_site=source)
        OrderGuideLine.objects.filter(guide=guide).delete()
        for row in rows:
            row.guide = guide
        OrderGuideLine.objects.bulk_create(rows)
        audit(
            guide,
            "order_guide.set",
            actor,
            store.node,
            source_site=source.node.code,
            lines=[
                {
                    "item_id": row.item_id,
                    "unit": row.unit,
                    "pack_size": row.pack_size,
                    "par_quantity": row.par_quantity,
                }
                for row in rows[:200]
            ],
        )
    return guide


__all__ = [
    "DISTRIBUTION_SITE_KINDS",
    "ZERO",
    "CalendarInput",
    "ContactInput",
    "DistributionGuideLineInput",
    "SupplierInput",
    "SupplierItemInput",
    "add_contact",
    "check_distribution_site",
    "create_supplier",
    "set_delivery_calendar",
    "set_distribution_guide",
    "set_order_guide",
    "set_supplier_item",
    "source_of",
    "update_contact",
    "update_supplier",
]
