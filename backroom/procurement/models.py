"""Procurement: suppliers and what they sell at what price, when they deliver, store
requisitions (要货), purchase orders (采购单), receipts (验收) and supplier invoices with their
three-way match.

Quantities on supplier-facing documents are in the supplier item's purchase unit (a case, a
bag), with the base-unit equivalent kept beside them; prices are per purchase unit in the
supplier's currency.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from backroom.kernel.files import private_storage
from backroom.kernel.models import TimestampedModel
from backroom.kernel.money import CurrencyField, MoneyField, QuantityField
from backroom.kernel.scoping import OrgScopedQuerySet
from backroom.org.models import code_validator
from backroom.procurement.choices import (
    InvoiceStatus,
    MatchStatus,
    PurchaseOrderEmailStatus,
    PurchaseOrderStatus,
    RejectionReason,
    RequisitionStatus,
    ReviewStatus,
    SourceKind,
)


def PercentField(**kwargs: Any) -> models.DecimalField:
    return models.DecimalField(max_digits=7, decimal_places=4, **kwargs)


def delivery_note_storage() -> Any:
    """Where delivery-note photos are kept (private: see kernel.files)."""
    return private_storage


# --- suppliers -------------------------------------------------------------------------------


class Supplier(TimestampedModel):
    """A supplier, defined at an org node (the group or a legal entity) for the stores below it.

    Tolerances: a receipt may exceed the ordered quantity by `over_receipt_tolerance_percent`;
    an invoice line matches when its difference from PO price × received quantity is at most
    the lesser of `invoice_tolerance_amount` and `invoice_tolerance_percent` of the expected
    amount.
    """

    scope_field = "node"

    code = models.CharField(_("code"), max_length=20, unique=True, validators=[code_validator])
    name = models.CharField(_("name"), max_length=200)
    node = models.ForeignKey(
        "org.OrgNode", verbose_name=_("org scope"), on_delete=models.PROTECT, related_name="+"
    )
    currency = CurrencyField(verbose_name=_("currency"))
    tax_id = models.CharField(_("tax id"), max_length=40, blank=True)
    payment_terms_days = models.PositiveSmallIntegerField(_("payment terms (days)"), default=30)
    lead_time_days = models.PositiveSmallIntegerField(_("lead time (days)"), default=1)
    is_active = models.BooleanField(_("active"), default=True)
    requires_pack_multiples = models.BooleanField(_("orders in whole packs only"), default=False)
    price_alert_percent = PercentField(
        verbose_name=_("price-change alert above %"), default=Decimal(10)
    )
    over_receipt_tolerance_percent = PercentField(
        verbose_name=_("over-receipt tolerance %"), default=Decimal(0)
    )
    invoice_tolerance_amount = MoneyField(
        verbose_name=_("invoice tolerance (amount)"), default=Decimal(1)
    )
    invoice_tolerance_percent = PercentField(
        verbose_name=_("invoice tolerance %"), default=Decimal(2)
    )
    order_email = models.EmailField(_("order e-mail"), blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("supplier")
        verbose_name_plural = _("suppliers")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(price_alert_percent__gte=0)
                & models.Q(over_receipt_tolerance_percent__gte=0)
                & models.Q(invoice_tolerance_amount__gte=0)
                & models.Q(invoice_tolerance_percent__gte=0),
                name="procurement_supplier_tolerances_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class SupplierContact(TimestampedModel):
    """A person at the supplier (sales, dispatch, accounts)."""

    supplier = models.ForeignKey(Supplier, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(_("name"), max_length=100)
    role = models.CharField(_("role"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    is_primary = models.BooleanField(_("primary"), default=False)

    class Meta:
        ordering = ["supplier", "-is_primary", "name"]
        verbose_name = _("supplier contact")
        verbose_name_plural = _("supplier contacts")

    def __str__(self) -> str:
        return self.name


class DeliveryCalendar(TimestampedModel):
    """When a supplier — or a warehouse / central kitchen (配送, `source_site`) — delivers to the
    stores under `node` (a store, a region, an entity). Exactly one of the two is set.

    `weekdays` lists ISO weekdays (1 = Monday … 7 = Sunday). An order placed after `cutoff_time`
    (the store's local time) counts as placed the next day; the goods can arrive
    `lead_time_days` (the supplier's, or one day from a site, when empty) after the order day,
    on the next delivery day. The most specific calendar (the store's own, else its nearest
    ancestor's) applies.
    """

    scope_field = "node"

    supplier = models.ForeignKey(
        Supplier,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="delivery_calendars",
    )
    source_site = models.ForeignKey(
        "org.Site",
        verbose_name=_("warehouse or central kitchen"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    node = models.ForeignKey("org.OrgNode", on_delete=models.PROTECT, related_name="+")
    weekdays = models.JSONField(_("delivery weekdays"), default=list)
    cutoff_time = models.TimeField(_("order cut-off time"))
    lead_time_days = models.PositiveSmallIntegerField(_("lead time (days)"), null=True, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["supplier", "node__path"]
        verbose_name = _("delivery calendar")
        verbose_name_plural = _("delivery calendars")
        constraints = [
            models.UniqueConstraint(
                fields=["supplier", "node"], name="procurement_calendar_unique"
            ),
            models.UniqueConstraint(
                fields=["source_site", "node"], name="procurement_calendar_site_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(supplier__isnull=False, source_site__isnull=True)
                | models.Q(supplier__isnull=True, source_site__isnull=False),
                name="procurement_calendar_one_source",
            ),
        ]

    def __str__(self) -> str:
        source = self.supplier or self.source_site
        return f"{source.code if source else '-'} → {self.node.code}"


class DeliveryException(models.Model):
    """A date that differs from the weekly pattern: no delivery (a holiday) or an extra one."""

    calendar = models.ForeignKey(
        DeliveryCalendar, on_delete=models.CASCADE, related_name="exceptions"
    )
    date = models.DateField(_("date"))
    delivers = models.BooleanField(_("delivers that day"), default=False)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        ordering = ["calendar", "date"]
        verbose_name = _("delivery exception")
        verbose_name_plural = _("delivery exceptions")
        constraints = [
            models.UniqueConstraint(
                fields=["calendar", "date"], name="procurement_calendar_exception_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.date}: {'delivery' if self.delivers else 'no delivery'}"


class SupplierItem(TimestampedModel):
    """A catalog item as a supplier sells it: its SKU, purchase unit, pack size and MOQ.

    `purchase_unit` is a unit code the item converts (its case, bag, or its base unit);
    orders are in purchase units, in multiples of `pack_size` when the supplier requires
    whole packs, and at least `minimum_order_quantity`.
    """

    supplier = models.ForeignKey(Supplier, on_delete=models.CASCADE, related_name="items")
    item = models.ForeignKey("catalog.Item", on_delete=models.PROTECT, related_name="+")
    supplier_sku = models.CharField(_("supplier SKU"), max_length=60, blank=True)
    purchase_unit = models.CharField(_("purchase unit"), max_length=20)
    pack_size = QuantityField(verbose_name=_("pack size (purchase units)"), default=Decimal(1))
    minimum_order_quantity = QuantityField(
        verbose_name=_("minimum order (purchase units)"), default=Decimal(0)
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["supplier", "item"]
        verbose_name = _("supplier item")
        verbose_name_plural = _("supplier items")
        constraints = [
            models.UniqueConstraint(fields=["supplier", "item"], name="procurement_supplier_item"),
            models.CheckConstraint(
                condition=models.Q(pack_size__gt=0) & models.Q(minimum_order_quantity__gte=0),
                name="procurement_supplier_item_pack_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.supplier.code}: {self.item.sku} per {self.purchase_unit}"


class PriceList(TimestampedModel):
    """A supplier's prices over [valid_from, valid_to] (inclusive; open-ended when empty), for
    the stores under `node` (every store the supplier serves when empty)."""

    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="price_lists")
    name = models.CharField(_("name"), max_length=100)
    currency = CurrencyField(verbose_name=_("currency"))
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(_("valid to"), null=True, blank=True)
    node = models.ForeignKey(
        "org.OrgNode",
        verbose_name=_("region or store"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["supplier", "-valid_from"]
        verbose_name = _("price list")
        verbose_name_plural = _("price lists")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(valid_to__isnull=True)
                | models.Q(valid_to__gte=models.F("valid_from")),
                name="procurement_price_list_dates_in_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.supplier.code}: {self.name}"


class PriceListLine(models.Model):
    """The price of one supplier item per purchase unit."""

    price_list = models.ForeignKey(PriceList, on_delete=models.CASCADE, related_name="lines")
    supplier_item = models.ForeignKey(SupplierItem, on_delete=models.PROTECT, related_name="+")
    price = MoneyField(verbose_name=_("price per purchase unit"))

    class Meta:
        ordering = ["price_list", "supplier_item"]
        verbose_name = _("price list line")
        verbose_name_plural = _("price list lines")
        constraints = [
            models.UniqueConstraint(
                fields=["price_list", "supplier_item"], name="procurement_price_line_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(price__gte=0), name="procurement_price_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.price_list_id}: {self.supplier_item_id} @ {self.price}"


class OrderGuide(TimestampedModel):
    """The items a store orders (its order sheet), in order: from a supplier (直送), or from a
    warehouse / central kitchen (配送, `source_site`). Exactly one of the two is set."""

    scope_field = "store__node"

    store = models.ForeignKey("org.Site", on_delete=models.PROTECT, related_name="+")
    supplier = models.ForeignKey(
        Supplier, null=True, blank=True, on_delete=models.CASCADE, related_name="order_guides"
    )
    source_site = models.ForeignKey(
        "org.Site",
        verbose_name=_("warehouse or central kitchen"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    is_active = models.BooleanField(_("active"), default=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["store", "supplier"]
        verbose_name = _("order guide")
        verbose_name_plural = _("order guides")
        constraints = [
            models.UniqueConstraint(
                fields=["store", "supplier"], name="procurement_order_guide_unique"
            ),
            models.UniqueConstraint(
                fields=["store", "source_site"], name="procurement_order_guide_site_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(supplier__isnull=False, source_site__isnull=True)
                | models.Q(supplier__isnull=True, source_site__isnull=False),
                name="procurement_order_guide_one_source",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.store_id} × {self.supplier_id or f'site {self.source_site_id}'}"


class OrderGuideLine(models.Model):
    """One item of an order guide with its par. A supplier's guide names the supplier item
    (unit, pack and MOQ are the supplier's); a warehouse's or kitchen's names the item, the
    unit it is ordered in and, optionally, the pack it is sent in (in that unit). `item` is
    set on every line."""

    guide = models.ForeignKey(OrderGuide, on_delete=models.CASCADE, related_name="lines")
    supplier_item = models.ForeignKey(
        SupplierItem, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    item = models.ForeignKey(
        "catalog.Item", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    pack_size = QuantityField(verbose_name=_("pack size"), null=True, blank=True)
    position = models.PositiveIntegerField(default=0)
    par_quantity = QuantityField(verbose_name=_("par (purchase units)"), null=True, blank=True)

    class Meta:
        ordering = ["guide", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["guide", "supplier_item"], name="procurement_order_guide_line_unique"
            ),
            models.UniqueConstraint(
                fields=["guide", "item"], name="procurement_order_guide_line_item_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(supplier_item__isnull=False)
                | models.Q(item__isnull=False) & ~models.Q(unit=""),
                name="procurement_order_guide_line_has_item",
            ),
            models.CheckConstraint(
                condition=models.Q(pack_size__isnull=True) | models.Q(pack_size__gt=0),
                name="procurement_order_guide_line_pack_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.guide_id}/{self.supplier_item_id or self.item_id}"

    @property
    def order_unit(self) -> str:
        """The unit the line is ordered in: the supplier item's purchase unit, or its own."""
        return self.supplier_item.purchase_unit if self.supplier_item else self.unit

    @property
    def order_pack_size(self) -> Decimal | None:
        """The pack it comes in (in `order_unit`): the supplier item's, or its own (if any)."""
        return self.supplier_item.pack_size if self.supplier_item else self.pack_size


# --- requisitions (要货) ----------------------------------------------------------------------


class Requisition(TimestampedModel):
    """A store's request for goods: draft → waiting for approval → approved (its POs and
    distribution orders are created) / rejected, or cancelled."""

    scope_field = "store__node"

    number = models.CharField(_("number"), max_length=40, unique=True)
    store = models.ForeignKey("org.Site", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(
        "inventory.Location",
        verbose_name=_("receiving location"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=RequisitionStatus.choices,
        default=RequisitionStatus.DRAFT,
    )
    needed_by = models.DateField(_("needed by"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)
    is_urgent = models.BooleanField(_("urgent"), default=False)
    currency = CurrencyField(verbose_name=_("currency"))
    estimated_amount = MoneyField(verbose_name=_("estimated amount"), default=Decimal(0))
    requires_approval = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.CharField(max_length=500, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = _("requisition")
        verbose_name_plural = _("requisitions")
        indexes = [
            models.Index(fields=["store", "status"], name="procurement_req_store_idx"),
        ]

    def __str__(self) -> str:
        return self.number


class RequisitionLine(models.Model):
    """One item requested: from a supplier (quantity in its purchase unit) or from a warehouse /
    central kitchen (quantity in `unit`), with the suggestion it departs from."""

    requisition = models.ForeignKey(Requisition, on_delete=models.CASCADE, related_name="lines")
    line_no = models.PositiveIntegerField(_("line"))
    source_kind = models.CharField(_("source"), max_length=12, choices=SourceKind.choices)
    supplier_item = models.ForeignKey(
        SupplierItem, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    source_site = models.ForeignKey(
        "org.Site", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    item = models.ForeignKey("catalog.Item", on_delete=models.PROTECT, related_name="+")
    suggested_quantity = QuantityField(verbose_name=_("suggested"), null=True, blank=True)
    quantity = QuantityField(verbose_name=_("requested"))
    unit = models.CharField(_("unit"), max_length=20)
    base_quantity = QuantityField(verbose_name=_("requested (base unit)"))
    unit_price = MoneyField(verbose_name=_("unit price"), null=True, blank=True)
    amount = MoneyField(verbose_name=_("amount"), default=Decimal(0))
    deviation_reason = models.CharField(_("deviation reason"), max_length=300, blank=True)
    purchase_order_line = models.ForeignKey(
        "PurchaseOrderLine", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    transfer_order = models.ForeignKey(
        "inventory.TransferOrder",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        ordering = ["requisition", "line_no"]
        verbose_name = _("requisition line")
        verbose_name_plural = _("requisition lines")
        constraints = [
            models.UniqueConstraint(
                fields=["requisition", "line_no"], name="procurement_req_line_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0) & models.Q(base_quantity__gt=0),
                name="procurement_req_line_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(source_kind=SourceKind.SUPPLIER, supplier_item__isnull=False)
                | models.Q(source_kind=SourceKind.DISTRIBUTION, source_site__isnull=False),
                name="procurement_req_line_has_source",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.requisition_id}/{self.line_no}"


# --- purchase orders (采购单) -----------------------------------------------------------------


class PurchaseOrder(TimestampedModel):
    """An order to a supplier for delivery to one store (直送).

    draft → approved → sent → partially received → received, or closed short; cancelled
    before anything was received. Lines are in purchase units at the PO price.
    """

    scope_field = "store__node"

    number = models.CharField(_("number"), max_length=40, unique=True)
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="purchase_orders")
    store = models.ForeignKey("org.Site", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(
        "inventory.Location",
        verbose_name=_("receiving location"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    requisition = models.ForeignKey(
        Requisition,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="purchase_orders",
    )
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=PurchaseOrderStatus.choices,
        default=PurchaseOrderStatus.DRAFT,
    )
    currency = CurrencyField(verbose_name=_("currency"))
    total_amount = MoneyField(verbose_name=_("total"), default=Decimal(0))
    order_date = models.DateField(_("order date"))
    expected_date = models.DateField(_("expected delivery"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=500, blank=True)
    receipt_count = models.PositiveIntegerField(default=0)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = _("purchase order")
        verbose_name_plural = _("purchase orders")
        indexes = [
            models.Index(fields=["store", "status"], name="procurement_po_store_idx"),
            models.Index(fields=["supplier", "status"], name="procurement_po_supplier_idx"),
        ]

    def __str__(self) -> str:
        return self.number


class PurchaseOrderLine(models.Model):
    """One supplier item ordered; what arrived (accepted and rejected) so far."""

    order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="lines")
    line_no = models.PositiveIntegerField(_("line"))
    supplier_item = models.ForeignKey(SupplierItem, on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey("catalog.Item", on_delete=models.PROTECT, related_name="+")
    quantity = QuantityField(verbose_name=_("ordered"))
    unit = models.CharField(_("unit"), max_length=20)
    base_quantity = QuantityField(verbose_name=_("ordered (base unit)"))
    unit_price = MoneyField(verbose_name=_("price per unit"))
    amount = MoneyField(verbose_name=_("amount"))
    received_quantity = QuantityField(verbose_name=_("received"), default=Decimal(0))
    received_base = QuantityField(verbose_name=_("received (base unit)"), default=Decimal(0))
    rejected_quantity = QuantityField(verbose_name=_("rejected"), default=Decimal(0))

    class Meta:
        ordering = ["order", "line_no"]
        verbose_name = _("purchase order line")
        verbose_name_plural = _("purchase order lines")
        constraints = [
            models.UniqueConstraint(fields=["order", "line_no"], name="procurement_po_line_unique"),
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0)
                & models.Q(received_quantity__gte=0)
                & models.Q(rejected_quantity__gte=0),
                name="procurement_po_line_quantities",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}/{self.line_no}"

    @property
    def outstanding_quantity(self) -> Decimal:
        return max(self.quantity - self.received_quantity, Decimal(0))


# --- receiving (验收) -------------------------------------------------------------------------


class Receipt(TimestampedModel):
    """One delivery received against a PO: accepted lines posted to the ledger at the PO price,
    rejected lines recorded with their reason, the delivery note's photo kept."""

    scope_field = "store__node"

    number = models.CharField(_("number"), max_length=40, unique=True)
    purchase_order = models.ForeignKey(
        PurchaseOrder, on_delete=models.PROTECT, related_name="receipts"
    )
    store = models.ForeignKey("org.Site", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey("inventory.Location", on_delete=models.PROTECT, related_name="+")
    received_at = models.DateTimeField(_("received at"))
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    delivery_note_number = models.CharField(_("delivery note number"), max_length=60, blank=True)
    delivery_note_photo = models.FileField(
        _("delivery note photo"),
        upload_to="receipts/%Y/%m/",
        storage=delivery_note_storage,
        blank=True,
    )
    photo_content_type = models.CharField(max_length=50, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)
    currency = CurrencyField(verbose_name=_("currency"))
    accepted_value = MoneyField(verbose_name=_("accepted value"), default=Decimal(0))
    posting = models.ForeignKey(
        "inventory.StockPosting", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = _("receipt")
        verbose_name_plural = _("receipts")

    def __str__(self) -> str:
        return self.number


class ReceiptLine(models.Model):
    """What arrived of one PO line: accepted and rejected quantities (purchase units), the
    item actually delivered (a substitute), lot and expiry, temperature on arrival."""

    receipt = models.ForeignKey(Receipt, on_delete=models.CASCADE, related_name="lines")
    line_no = models.PositiveIntegerField(_("line"))
    purchase_order_line = models.ForeignKey(
        PurchaseOrderLine, on_delete=models.PROTECT, related_name="receipt_lines"
    )
    item = models.ForeignKey("catalog.Item", on_delete=models.PROTECT, related_name="+")
    is_substitution = models.BooleanField(_("substitution"), default=False)
    expected_quantity = QuantityField(verbose_name=_("expected"))
    received_quantity = QuantityField(verbose_name=_("accepted"))
    rejected_quantity = QuantityField(verbose_name=_("rejected"), default=Decimal(0))
    rejection_reason = models.CharField(
        _("rejection reason"), max_length=20, choices=RejectionReason.choices, blank=True
    )
    unit = models.CharField(_("unit"), max_length=20)
    base_quantity = QuantityField(verbose_name=_("accepted (base unit)"))
    unit_price = MoneyField(verbose_name=_("price per unit"))
    amount = MoneyField(verbose_name=_("accepted value"))
    lot_code = models.CharField(_("lot"), max_length=60, blank=True)
    expiry_date = models.DateField(_("expiry date"), null=True, blank=True)
    temperature = models.DecimalField(
        _("temperature (°C)"), max_digits=5, decimal_places=1, null=True, blank=True
    )
    temperature_ok = models.BooleanField(null=True, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        ordering = ["receipt", "line_no"]
        verbose_name = _("receipt line")
        verbose_name_plural = _("receipt lines")
        constraints = [
            models.UniqueConstraint(
                fields=["receipt", "line_no"], name="procurement_receipt_line_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(received_quantity__gte=0) & models.Q(rejected_quantity__gte=0),
                name="procurement_receipt_line_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.receipt_id}/{self.line_no}"


# --- supplier invoices and the three-way match ------------------------------------------------


class SupplierInvoice(TimestampedModel):
    """A supplier's invoice, matched against PO price × received quantity.

    Scoped to the PO's store; an invoice naming an unknown PO is kept (nothing lost) at the
    supplier's node, in the review queue.
    """

    scope_field = "org_node"

    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="invoices")
    invoice_number = models.CharField(_("invoice number"), max_length=60)
    purchase_order = models.ForeignKey(
        PurchaseOrder,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="invoices",
    )
    purchase_order_reference = models.CharField(
        _("PO number on the invoice"), max_length=60, blank=True
    )
    org_node = models.ForeignKey("org.OrgNode", on_delete=models.PROTECT, related_name="+")
    invoice_date = models.DateField(_("invoice date"))
    due_date = models.DateField(_("due date"))
    currency = CurrencyField(verbose_name=_("currency"))
    net_amount = MoneyField(verbose_name=_("net amount"))
    tax_amount = MoneyField(verbose_name=_("tax"), default=Decimal(0))
    total_amount = MoneyField(verbose_name=_("total"))
    status = models.CharField(_("status"), max_length=12, choices=InvoiceStatus.choices)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(_("note"), max_length=500, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = _("supplier invoice")
        verbose_name_plural = _("supplier invoices")
        constraints = [
            models.UniqueConstraint(
                fields=["supplier", "invoice_number"], name="procurement_invoice_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.supplier.code}/{self.invoice_number}"


class SupplierInvoiceLine(models.Model):
    """One invoiced line: the PO line it bills (None when it matches none), quantity in the
    PO line's unit, unit price and amount (net)."""

    invoice = models.ForeignKey(SupplierInvoice, on_delete=models.CASCADE, related_name="lines")
    line_no = models.PositiveIntegerField(_("line"))
    purchase_order_line = models.ForeignKey(
        PurchaseOrderLine, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    item = models.ForeignKey(
        "catalog.Item", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    description = models.CharField(_("description"), max_length=200, blank=True)
    quantity = QuantityField(verbose_name=_("quantity"))
    unit_price = MoneyField(verbose_name=_("unit price"))
    amount = MoneyField(verbose_name=_("amount"))

    class Meta:
        ordering = ["invoice", "line_no"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "line_no"], name="procurement_invoice_line_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id}/{self.line_no}"


class MatchResult(models.Model):
    """The outcome of one three-way match run on an invoice, line by line in `lines`."""

    invoice = models.ForeignKey(SupplierInvoice, on_delete=models.CASCADE, related_name="matches")
    status = models.CharField(_("status"), max_length=20, choices=MatchStatus.choices)
    expected_amount = MoneyField(verbose_name=_("PO price × received"))
    invoiced_amount = MoneyField(verbose_name=_("invoiced (net)"))
    difference = MoneyField(verbose_name=_("difference"))
    tolerance_amount = MoneyField(verbose_name=_("tolerance used"))
    lines = models.JSONField(default=list)
    matched_at = models.DateTimeField(_("matched at"))

    class Meta:
        ordering = ["-id"]
        verbose_name = _("match result")
        verbose_name_plural = _("match results")

    def __str__(self) -> str:
        return f"{self.invoice_id}: {self.status}"


class ReviewEntry(TimestampedModel):
    """An invoice waiting for a person (review queue): why, and how it was resolved."""

    scope_field = "invoice__org_node"

    invoice = models.ForeignKey(SupplierInvoice, on_delete=models.CASCADE, related_name="reviews")
    match = models.ForeignKey(
        MatchResult, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reasons = models.JSONField(default=list)
    status = models.CharField(
        _("status"), max_length=10, choices=ReviewStatus.choices, default=ReviewStatus.OPEN
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolution_note = models.CharField(max_length=500, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = _("invoice review")
        verbose_name_plural = _("invoice reviews")
        indexes = [models.Index(fields=["status"], name="procurement_review_status_idx")]

    def __str__(self) -> str:
        return f"review {self.pk} of {self.invoice_id}"


# --- purchase orders by e-mail ------------------------------------------------------------------


class PurchaseOrderEmail(TimestampedModel):
    """One e-mail of a sent PO's PDF to one supplier address (see services/order_emails.py).

    Unique per PO and recipient, so a replayed `procurement.po.sent` plans nothing twice; the
    row is claimed (`pending` → `sending`) before the message goes out, so a retried job never
    sends it twice. A PO whose supplier has no address gets one `skipped` row with an empty
    `recipient`.
    """

    scope_field = "purchase_order__store__node"

    purchase_order = models.ForeignKey(
        PurchaseOrder, on_delete=models.CASCADE, related_name="emails"
    )
    recipient = models.EmailField(_("recipient"), blank=True)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=PurchaseOrderEmailStatus.choices,
        default=PurchaseOrderEmailStatus.PENDING,
    )
    event_id = models.UUIDField(_("event"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["purchase_order", "id"]
        verbose_name = _("purchase order e-mail")
        verbose_name_plural = _("purchase order e-mails")
        constraints = [
            models.UniqueConstraint(
                fields=["purchase_order", "recipient"], name="procurement_po_email_once"
            ),
        ]
        indexes = [models.Index(fields=["status"], name="procurement_po_email_st_idx")]

    def __str__(self) -> str:
        return f"{self.purchase_order_id} → {self.recipient or '-'}: {self.status}"
