"""Sales channels: accounts per store and platform, menu mappings, canonical orders with their
lines and history, and the inbox of raw pushes.

Idempotency is in the database: an inbox message is unique per (account, external order id,
event key); an order per (account, external id) and, for tills, per UUID; a history row per
(order, event key), so an event applies to an order once however often it is replayed.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from backroom.channels.choices import (
    TILL_PLACED,
    AfterDepletion,
    ChannelKind,
    InboxStatus,
    MappingKind,
    OrderStatus,
)
from backroom.channels.crypto import EncryptedJSONField
from backroom.kernel.models import TimestampedModel
from backroom.kernel.money import CurrencyField, MoneyField, QuantityField
from backroom.kernel.scoping import OrgScopedQuerySet


class ChannelAccount(TimestampedModel):
    """A store's account on one channel: its own POS API, Meituan, Ele.me, Square, own app.

    `store_ref` is the platform's code for the store (Meituan `app_poi_code`, Ele.me `shopId`,
    the Square location); pushes are routed by (kind, store_ref). `secrets` holds the
    credentials (app id and secret, signature key), encrypted at rest.
    """

    scope_field = "site__node"

    site = models.ForeignKey("org.Site", on_delete=models.PROTECT, related_name="channel_accounts")
    kind = models.CharField(_("channel"), max_length=12, choices=ChannelKind.choices)
    name = models.CharField(_("name"), max_length=100)
    store_ref = models.CharField(_("store code on the platform"), max_length=64)
    secrets = EncryptedJSONField(_("credentials"), blank=True, default=dict)
    location = models.ForeignKey(
        "inventory.Location",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Where sales are depleted from; empty: the store's first stock location."),
    )
    after_depletion = models.CharField(
        _("cancellation after depletion"),
        max_length=10,
        choices=AfterDepletion.choices,
        default=AfterDepletion.WASTE,
    )
    is_active = models.BooleanField(_("active"), default=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["site", "kind", "name"]
        verbose_name = _("channel account")
        verbose_name_plural = _("channel accounts")
        constraints = [
            models.UniqueConstraint(fields=["kind", "store_ref"], name="channels_account_ref"),
            models.CheckConstraint(
                condition=~models.Q(store_ref=""), name="channels_account_ref_required"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class MenuMapping(TimestampedModel):
    """An external code of one account mapped to our menu item (with modifiers always applied,
    e.g. a "large" SKU), or an external modifier code mapped to our modifier."""

    scope_field = "account__site__node"

    account = models.ForeignKey(ChannelAccount, on_delete=models.CASCADE, related_name="mappings")
    kind = models.CharField(
        _("kind"), max_length=10, choices=MappingKind.choices, default=MappingKind.ITEM
    )
    external_code = models.CharField(_("external code"), max_length=100)
    item = models.ForeignKey(
        "catalog.Item", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    modifier = models.ForeignKey(
        "catalog.Modifier", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    modifier_codes = models.JSONField(_("modifiers always applied"), default=list, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["account", "kind", "external_code"]
        verbose_name = _("menu mapping")
        verbose_name_plural = _("menu mappings")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "kind", "external_code"], name="channels_mapping_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(kind=MappingKind.ITEM, item__isnull=False, modifier__isnull=True)
                | models.Q(kind=MappingKind.MODIFIER, item__isnull=True, modifier__isnull=False),
                name="channels_mapping_target",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}:{self.external_code}"


class Order(TimestampedModel):
    """A canonical order from any channel. Money in `currency`; `business_date` is the store's
    local business day of `placed_at` (its time zone and cut-off hour)."""

    scope_field = "site__node"

    # No index of its own for these two: the unique (account, external id) and the (site,
    # business date, status) index lead with them. Each index is written for every order.
    account = models.ForeignKey(
        ChannelAccount, on_delete=models.PROTECT, related_name="orders", db_index=False
    )
    site = models.ForeignKey("org.Site", on_delete=models.PROTECT, related_name="+", db_index=False)
    kind = models.CharField(_("channel"), max_length=12, choices=ChannelKind.choices)
    external_id = models.CharField(_("external id"), max_length=64)
    pos_uuid = models.UUIDField(_("till UUID"), null=True, blank=True, unique=True)
    display_id = models.CharField(_("order number"), max_length=64, blank=True)
    business_date = models.DateField(_("business date"))
    status = models.CharField(
        _("status"), max_length=20, choices=OrderStatus.choices, default=OrderStatus.RECEIVED
    )
    currency = CurrencyField(verbose_name=_("currency"), default="CNY")
    total = MoneyField(verbose_name=_("paid by the customer"), default=0)
    original_price = MoneyField(verbose_name=_("before discounts"), default=0)
    platform_discount = MoneyField(verbose_name=_("platform-borne discount"), default=0)
    merchant_discount = MoneyField(verbose_name=_("merchant-borne discount"), default=0)
    delivery_fee = MoneyField(verbose_name=_("delivery fee"), default=0)
    packaging_fee = MoneyField(verbose_name=_("packaging fee"), default=0)
    commission = MoneyField(verbose_name=_("platform commission"), default=0)
    income = MoneyField(verbose_name=_("platform-reported income"), null=True, blank=True)
    refunded_amount = MoneyField(verbose_name=_("refunded"), default=0)
    is_paid = models.BooleanField(_("paid"), default=True)
    customer_name = models.CharField(_("customer"), max_length=100, blank=True)
    customer_phone = models.CharField(_("phone"), max_length=40, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    # Who rang the order up at the till (the POS's staff code; empty when it sends none): the
    # refunds and discounts per staff member are read from it (docs/anomalies.md).
    staff_code = models.CharField(_("staff member"), max_length=40, blank=True, default="")
    placed_at = models.DateTimeField(_("placed at"))
    status_changed_at = models.DateTimeField(_("status changed at"), default=timezone.now)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    unmapped_lines = models.PositiveIntegerField(_("unmapped lines"), default=0)
    is_reserved = models.BooleanField(_("ingredients reserved"), default=False)
    is_depleted = models.BooleanField(_("depleted"), default=False)
    is_restocked = models.BooleanField(_("restocked after cancellation"), default=False)
    depletion_error = models.CharField(_("depletion problem"), max_length=500, blank=True)
    is_history = models.BooleanField(
        _("imported history"),
        default=False,
        help_text=_(
            "Imported sales from before go-live: counted in the sales rollups, never depleted."
        ),
    )

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-placed_at", "-id"]
        verbose_name = pgettext_lazy("sales order", "order")
        verbose_name_plural = _("orders")
        constraints = [
            # A till's order is found and kept unique by its UUID (`pos_uuid`, the external id
            # parsed), so only the other orders are indexed by their external id: one index
            # keyed by random UUIDs fewer to write per till order (decision 0014).
            models.UniqueConstraint(
                fields=["account", "external_id"],
                condition=models.Q(pos_uuid__isnull=True),
                name="channels_order_external_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["site", "business_date", "status"], name="channels_order_day"),
            models.Index(fields=["site", "status", "placed_at"], name="channels_order_board"),
        ]

    def __str__(self) -> str:
        return self.display_id or self.external_id

    @property
    def is_online(self) -> bool:
        return self.kind != ChannelKind.POS


class OrderLine(models.Model):
    """A line as the channel sent it, mapped to our menu item when its SKU is known.

    An unmapped line is kept and flagged (`is_unmapped`), never ignored: it depletes once a
    mapping is saved. `depleted_quantity` is what the ledger took for it (once).
    """

    scope_field = "order__site__node"

    # Indexed by the unique (order, line number), which leads with it.
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", db_index=False)
    line_no = models.PositiveIntegerField(_("line"))
    external_sku = models.CharField(_("external SKU"), max_length=100)
    name = models.CharField(_("name"), max_length=200, blank=True)
    quantity = QuantityField(verbose_name=_("quantity"))
    unit_price = MoneyField(verbose_name=_("unit price"), default=0)
    modifiers = models.JSONField(_("modifiers"), default=list, blank=True)
    menu_item = models.ForeignKey(
        "catalog.Item", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    is_unmapped = models.BooleanField(_("unmapped"), default=False)
    refunded_quantity = QuantityField(verbose_name=_("refunded quantity"), default=0)
    is_depleted = models.BooleanField(_("depleted"), default=False)
    depleted_quantity = QuantityField(verbose_name=_("depleted quantity"), default=0)
    restocked_quantity = QuantityField(verbose_name=_("restocked quantity"), default=0)
    depletion_error = models.CharField(_("depletion problem"), max_length=500, blank=True)
    # Set when the line was depleted in a batch with other orders: the batch's first order,
    # whose summed sale moves hold this line's ingredients (decision 0017). Empty when the
    # order's own moves (`ch:o<order>:D…`) hold them.
    sale_batch = models.BigIntegerField(_("depleted in the batch of order"), null=True, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["order", "line_no"]
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        constraints = [
            models.UniqueConstraint(fields=["order", "line_no"], name="channels_line_unique"),
        ]
        indexes = [
            models.Index(
                fields=["is_unmapped", "external_sku"],
                name="channels_line_unmapped",
                condition=models.Q(is_unmapped=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}/{self.line_no} {self.external_sku}"


class OrderHistory(models.Model):
    """Every event applied to an order, in arrival order; an out-of-order one is recorded with
    `is_applied` false and leaves the order as it was. Unique per (order, event key)."""

    scope_field = "order__site__node"

    # Indexed by the unique (order, event key), which leads with it.
    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="history", db_index=False
    )
    event_key = models.CharField(max_length=200)
    event_kind = models.CharField(_("event"), max_length=30)
    raw_type = models.CharField(_("platform type"), max_length=100, blank=True)
    from_status = models.CharField(max_length=20, choices=OrderStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=OrderStatus.choices, blank=True)
    is_applied = models.BooleanField(_("applied"), default=True)
    note = models.CharField(_("note"), max_length=500, blank=True)
    event = models.JSONField(_("event"), default=dict)
    inbox = models.ForeignKey(
        "InboxMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    occurred_at = models.DateTimeField(_("occurred at"), null=True, blank=True)
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["order", "id"]
        verbose_name = _("order history")
        verbose_name_plural = _("order history")
        constraints = [
            models.UniqueConstraint(fields=["order", "event_key"], name="channels_history_once"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.event_kind} {self.from_status}→{self.to_status}"


class InboxMessage(models.Model):
    """A push or till post exactly as it arrived (`payload` verbatim), stored before anything
    else; the worker applies it. A failed one stays here with its reason and is retried.

    A till's single order is `stored`: its order and lines are written with the message, and
    the worker applies the rest on behalf of `actor`, who posted it (decision 0012)."""

    scope_field = "account__site__node"

    # Indexed by the unique (account, external order id, event key), which leads with it.
    account = models.ForeignKey(
        ChannelAccount, on_delete=models.PROTECT, related_name="inbox", db_index=False
    )
    external_order_id = models.CharField(max_length=64, blank=True)
    event_key = models.CharField(max_length=200)
    raw_type = models.CharField(max_length=100, blank=True)
    payload = models.TextField()
    content_type = models.CharField(max_length=100, blank=True)
    status = models.CharField(
        max_length=10, choices=InboxStatus.choices, default=InboxStatus.RECEIVED
    )
    reason = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        verbose_name = _("inbox message")
        verbose_name_plural = _("inbox messages")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "external_order_id", "event_key"],
                condition=~models.Q(event_key=TILL_PLACED),
                name="channels_inbox_once",
            ),
            # A till order's message is unique by its order, whose UUID is unique: an index
            # that grows at its end instead of one keyed by the UUID (decision 0014).
            models.UniqueConstraint(
                fields=["order"],
                condition=models.Q(event_key=TILL_PLACED),
                name="channels_inbox_till_once",
            ),
        ]
        indexes = [
            models.Index(
                fields=["status", "id"],
                name="channels_inbox_pending",
                condition=~models.Q(status="processed"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}:{self.external_order_id}:{self.event_key}"


# --- Sold out (估清) and outbound calls (backroom/channels/soldout.py, outbound.py) -------------


class OutboundStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    GIVEN_UP = "given_up", _("Given up")
    SUPERSEDED = "superseded", _("Superseded")


class OutboundAction(models.TextChoices):
    SOLD_OUT = "sold_out", _("Sold out")
    BACK_IN_STOCK = "back_in_stock", _("Back in stock")
    ACCEPT_ORDER = "accept_order", _("Accept order")
    CANCEL_ORDER = "cancel_order", _("Cancel order")
    ORDER_READY = "order_ready", _("Order ready")


# The calls that tell a platform of a store's decision on one of its orders (one per order each).
ORDER_ACTIONS: frozenset[str] = frozenset(
    {OutboundAction.ACCEPT_ORDER, OutboundAction.CANCEL_ORDER, OutboundAction.ORDER_READY}
)


class SoldOutState(models.Model):
    """A store's menu item: how many portions it can still make (`sellable`, None = not limited
    by tracked stock) and whether it is sold out. `is_manual` is a hold a manager set: it stays
    sold out whatever the stock until a manager clears it. Written only by `soldout` services."""

    scope_field = "site__node"

    site = models.ForeignKey("org.Site", on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey("catalog.Item", on_delete=models.CASCADE, related_name="+")
    sellable = models.IntegerField(_("portions left"), null=True, blank=True)
    is_sold_out = models.BooleanField(_("sold out"), default=False)
    is_manual = models.BooleanField(_("held by hand"), default=False)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    computed_at = models.DateTimeField(_("counted at"), default=timezone.now)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["site", "item"]
        verbose_name = _("sold-out state")
        verbose_name_plural = _("sold-out states")
        constraints = [
            models.UniqueConstraint(fields=["site", "item"], name="channels_soldout_unique"),
            models.CheckConstraint(
                condition=models.Q(is_manual=False) | models.Q(is_sold_out=True),
                name="channels_soldout_manual_is_sold_out",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.site_id}:{self.item_id} {'sold out' if self.is_sold_out else self.sellable}"


class OutboundCall(TimestampedModel):
    """One call to a platform's API (sold out, back in stock; accept, cancel, ready), kept
    with its result. `request` is what to send, without credentials: the call is signed again
    at each attempt. Failed calls the platform may accept later are retried with backoff.
    An order's calls name it (`order`), at most one per order and action."""

    scope_field = "account__site__node"

    account = models.ForeignKey(
        ChannelAccount, on_delete=models.PROTECT, related_name="outbound_calls"
    )
    action = models.CharField(_("action"), max_length=30, choices=OutboundAction.choices)
    item = models.ForeignKey(
        "catalog.Item", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.PROTECT, related_name="outbound_calls"
    )
    request = models.JSONField(_("request"), default=dict, blank=True)
    platform_action = models.CharField(_("platform call"), max_length=100, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=OutboundStatus.choices, default=OutboundStatus.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    response = models.JSONField(_("response"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = _("outbound call")
        verbose_name_plural = _("outbound calls")
        indexes = [
            models.Index(
                fields=["next_attempt_at", "id"],
                name="channels_outbound_due",
                condition=models.Q(status__in=["pending", "failed"]),
            ),
            models.Index(fields=["account", "item", "action"], name="channels_outbound_item"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "action"],
                condition=models.Q(order__isnull=False),
                name="channels_outbound_order_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}:{self.action}:{self.status}"


# --- Sales rollups (docs/channels-sales.md) --------------------------------------------------
# Projections of completed orders, maintained in the order's own transaction by
# `channels.rollups` and rebuildable with `backroom rebuild-sales-rollups`. Money in `currency`;
# `net` = gross − merchant-borne discounts (platform-borne ones are paid to us by the platform).


class SalesDay(models.Model):
    """A store's sales on one business day: the first row a rollup update locks, so writers of
    the same store-day take the other rollup rows one at a time."""

    scope_field = "site__node"

    site = models.ForeignKey("org.Site", on_delete=models.PROTECT, related_name="+")
    business_date = models.DateField(_("business date"))
    currency = CurrencyField(verbose_name=_("currency"))
    orders = models.IntegerField(_("orders"), default=0)
    gross = MoneyField(verbose_name=_("gross sales"), default=0)
    merchant_discount = MoneyField(verbose_name=_("merchant-borne discount"), default=0)
    platform_discount = MoneyField(verbose_name=_("platform-borne discount"), default=0)
    net = MoneyField(verbose_name=_("net sales"), default=0)
    packaging_fee = MoneyField(verbose_name=_("packaging fee"), default=0)
    delivery_fee = MoneyField(verbose_name=_("delivery fee"), default=0)
    commission = MoneyField(verbose_name=_("platform commission"), default=0)
    history_net = MoneyField(
        verbose_name=_("net sales of imported history"),
        default=0,
        help_text=_("Part of the net sales from history imported without depletion."),
    )

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["site", "business_date"]
        verbose_name = _("daily sales")
        verbose_name_plural = _("daily sales")
        constraints = [
            models.UniqueConstraint(
                fields=["site", "business_date", "currency"], name="channels_sales_day_unique"
            ),
        ]
        # The dashboards read a few days of many stores (the store list hashed: kernel.lookups).
        indexes = [models.Index(fields=["business_date", "site"], name="channels_sales_day_date")]

    def __str__(self) -> str:
        return f"{self.site_id} {self.business_date}: {self.net} {self.currency}"


class SalesChannelDay(models.Model):
    """A store's sales on one business day through one channel."""

    scope_field = "site__node"

    site = models.ForeignKey("org.Site", on_delete=models.PROTECT, related_name="+")
    business_date = models.DateField(_("business date"))
    kind = models.CharField(_("channel"), max_length=12, choices=ChannelKind.choices)
    currency = CurrencyField(verbose_name=_("currency"))
    orders = models.IntegerField(_("orders"), default=0)
    gross = MoneyField(verbose_name=_("gross sales"), default=0)
    merchant_discount = MoneyField(verbose_name=_("merchant-borne discount"), default=0)
    platform_discount = MoneyField(verbose_name=_("platform-borne discount"), default=0)
    net = MoneyField(verbose_name=_("net sales"), default=0)
    packaging_fee = MoneyField(verbose_name=_("packaging fee"), default=0)
    delivery_fee = MoneyField(verbose_name=_("delivery fee"), default=0)
    commission = MoneyField(verbose_name=_("platform commission"), default=0)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["site", "business_date", "kind"]
        verbose_name = _("daily sales by channel")
        verbose_name_plural = _("daily sales by channel")
        constraints = [
            models.UniqueConstraint(
                fields=["site", "business_date", "kind", "currency"],
                name="channels_sales_channel_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["business_date", "site"], name="channels_sales_channel_date")
        ]

    def __str__(self) -> str:
        return f"{self.site_id} {self.business_date} {self.kind}: {self.net} {self.currency}"


class SalesHour(models.Model):
    """A store's sales in one local clock hour (0–23, the store's time zone) of a business day."""

    scope_field = "site__node"

    site = models.ForeignKey("org.Site", on_delete=models.PROTECT, related_name="+")
    business_date = models.DateField(_("business date"))
    hour = models.PositiveSmallIntegerField(_("hour"))
    currency = CurrencyField(verbose_name=_("currency"))
    orders = models.IntegerField(_("orders"), default=0)
    gross = MoneyField(verbose_name=_("gross sales"), default=0)
    net = MoneyField(verbose_name=_("net sales"), default=0)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["site", "business_date", "hour"]
        verbose_name = _("hourly sales")
        verbose_name_plural = _("hourly sales")
        constraints = [
            models.UniqueConstraint(
                fields=["site", "business_date", "hour", "currency"],
                name="channels_sales_hour_unique",
            ),
            models.CheckConstraint(condition=models.Q(hour__lte=23), name="channels_sales_hour"),
        ]

    def __str__(self) -> str:
        return f"{self.site_id} {self.business_date} {self.hour:02d}h: {self.net}"


class SalesItemDay(models.Model):
    """A store's sales of one menu item on a business day; `menu_item` empty is the "unmapped"
    bucket (lines whose SKU has no mapping yet: they move to the item once it is mapped)."""

    scope_field = "site__node"

    site = models.ForeignKey("org.Site", on_delete=models.PROTECT, related_name="+")
    business_date = models.DateField(_("business date"))
    menu_item = models.ForeignKey(
        "catalog.Item", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    currency = CurrencyField(verbose_name=_("currency"))
    quantity = QuantityField(verbose_name=_("quantity"), default=0)
    gross = MoneyField(verbose_name=_("gross sales"), default=0)
    merchant_discount = MoneyField(verbose_name=_("merchant-borne discount"), default=0)
    platform_discount = MoneyField(verbose_name=_("platform-borne discount"), default=0)
    net = MoneyField(verbose_name=_("net sales"), default=0)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["site", "business_date", "menu_item"]
        verbose_name = _("daily item sales")
        verbose_name_plural = _("daily item sales")
        constraints = [
            models.UniqueConstraint(
                fields=["site", "business_date", "menu_item", "currency"],
                condition=models.Q(menu_item__isnull=False),
                name="channels_sales_item_unique",
            ),
            models.UniqueConstraint(
                fields=["site", "business_date", "currency"],
                condition=models.Q(menu_item__isnull=True),
                name="channels_sales_unmapped_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.site_id} {self.business_date} {self.menu_item_id or '-'}: {self.quantity}"


class OrderSales(models.Model):
    """What one order adds to the rollups right now (`rows`, as last applied). A change to the
    order moves the rollups by the difference, so replaying an update changes nothing."""

    scope_field = "site__node"

    order = models.OneToOneField(
        Order, primary_key=True, on_delete=models.CASCADE, related_name="sales"
    )
    site = models.ForeignKey("org.Site", on_delete=models.PROTECT, related_name="+")
    business_date = models.DateField(_("business date"))
    currency = CurrencyField(verbose_name=_("currency"))
    rows = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("order sales")
        verbose_name_plural = _("order sales")
        indexes = [models.Index(fields=["site", "business_date"], name="channels_order_sales_day")]

    def __str__(self) -> str:
        return f"{self.order_id}: {len(self.rows)} rollup rows"


# --- Order anomalies (backroom/channels/anomalies.py) ------------------------------------------


class AnomalyRule(models.TextChoices):
    MISSING_ADDRESS = "missing_address", _("Missing address")
    BAD_ADDRESS = "bad_address", _("Unusable address")
    PAYMENT_FAILED = "payment_failed", _("Payment failed")
    DUPLICATE_ORDER = "duplicate_order", _("Duplicate order")
    HIGH_DISCOUNT = "high_discount", _("Discount above the limit")
    STUCK = "stuck", _("Stuck in a state")


class AnomalySeverity(models.TextChoices):
    WARNING = "warning", _("Warning")
    CRITICAL = "critical", _("Critical")


class AnomalyResolution(models.TextChoices):
    AUTO = "auto", _("Condition cleared")
    MANUAL = "manual", _("Resolved by a manager")


class OrderAnomaly(models.Model):
    """An order that broke an anomaly rule: open until the condition clears (resolved
    automatically) or a manager resolves it with a note. At most one open anomaly per order ×
    rule; `fingerprint` tells conditions of one rule apart (the status an order is stuck in), so
    a manager's resolution is not re-opened by the same condition. Written only by `anomalies`."""

    scope_field = "site__node"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="anomalies")
    site = models.ForeignKey("org.Site", on_delete=models.PROTECT, related_name="+")
    rule = models.CharField(_("rule"), max_length=20, choices=AnomalyRule.choices)
    fingerprint = models.CharField(max_length=100, blank=True)
    severity = models.CharField(_("severity"), max_length=10, choices=AnomalySeverity.choices)
    message = models.CharField(_("message"), max_length=300)
    details = models.JSONField(_("details"), default=dict, blank=True)
    related_order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    detected_at = models.DateTimeField(_("detected at"))
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolution = models.CharField(
        _("resolution"), max_length=10, choices=AnomalyResolution.choices, blank=True
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolution_note = models.CharField(_("resolution note"), max_length=500, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-detected_at", "-id"]
        verbose_name = _("order anomaly")
        verbose_name_plural = _("order anomalies")
        constraints = [
            models.UniqueConstraint(
                fields=["order", "rule"],
                condition=models.Q(resolved_at__isnull=True),
                name="channels_anomaly_open_once",
            ),
            models.CheckConstraint(
                condition=models.Q(resolved_at__isnull=True, resolution="")
                | models.Q(resolved_at__isnull=False) & ~models.Q(resolution=""),
                name="channels_anomaly_resolution",
            ),
        ]
        indexes = [
            models.Index(
                fields=["site", "-detected_at"],
                name="channels_anomaly_open",
                condition=models.Q(resolved_at__isnull=True),
            ),
            models.Index(fields=["site", "rule", "-detected_at"], name="channels_anomaly_rule"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.rule}"


# --- Square item-sales imports (backroom/channels/square_import.py) ---------------------------


class ImportBatch(TimestampedModel):
    """One uploaded Square item-sales export: who imported which file (its sha256, unique per
    account: the same file again is "already imported") and what came of it. Its tickets went
    through the intake as orders and refunds; `errors` lists every refused row."""

    scope_field = "account__site__node"

    account = models.ForeignKey(ChannelAccount, on_delete=models.PROTECT, related_name="imports")
    file_name = models.CharField(_("file name"), max_length=255)
    file_sha256 = models.CharField(_("file sha256"), max_length=64)
    file_size = models.PositiveIntegerField(_("file size"), default=0)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    lines_imported = models.PositiveIntegerField(_("lines imported"), default=0)
    lines_duplicate = models.PositiveIntegerField(_("lines already imported"), default=0)
    orders_created = models.PositiveIntegerField(_("orders created"), default=0)
    refunds = models.PositiveIntegerField(_("refunds"), default=0)
    failed_messages = models.PositiveIntegerField(_("tickets waiting"), default=0)
    tickets_held_back = models.PositiveIntegerField(_("tickets held back"), default=0)
    error_count = models.PositiveIntegerField(_("rows refused"), default=0)
    errors = models.JSONField(_("row problems"), default=list, blank=True)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("sales import")
        verbose_name_plural = _("sales imports")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "file_sha256"], name="channels_import_file_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}:{self.file_name}"
