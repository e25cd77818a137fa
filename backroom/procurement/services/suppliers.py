"""Suppliers, their contacts, the items they sell, delivery calendars and order guides.

Writes need `procurement.manage` at the supplier's org node (an order guide: at the store).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

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


def add_contact(supplier: Supplier, data: ContactInput, *, actor: Any) -> SupplierContact:
    """Add a person to call or mail at the supplier."""
    require_at(actor, PROCUREMENT_MANAGE, supplier.node)
    errors = ErrorCollector()
    name = text(errors, "name", data.name, 100, required=True)
    role = text(errors, "role", data.role, 100, required=False)
    phone = text(errors, "phone", data.phone, 40, required=False)
    email = text(errors, "email", data.email, 254, required=False)
    if email and "@" not in email:
        errors.add("email", _("Enter a valid e-mail address."))
    errors.raise_if_any()
    with transaction.atomic():
        contact = SupplierContact.objects.create(
            supplier=supplier,
            name=name,
            role=role,
            phone=phone,
            email=email,
            is_primary=data.is_primary,
        )
        audit(contact, "supplier.contact.add", actor, supplier.node, **snapshot(contact))
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
    supplier: Supplier, data: CalendarInput, *, actor: Any
) -> DeliveryCalendar:
    """Create or replace the supplier's delivery calendar for a store or region."""
    require_at(actor, PROCUREMENT_MANAGE, supplier.node)
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
            supplier.node,
            supplier=supplier.code,
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
    known = set(
        SupplierItem.objects.filter(supplier=supplier, pk__in=supplier_item_ids).values_list(
            "pk", flat=True
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


__all__ = [
    "ZERO",
    "CalendarInput",
    "ContactInput",
    "SupplierInput",
    "SupplierItemInput",
    "add_contact",
    "create_supplier",
    "set_delivery_calendar",
    "set_order_guide",
    "set_supplier_item",
    "update_supplier",
]
