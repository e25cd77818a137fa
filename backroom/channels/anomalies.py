"""Order anomaly rules: what is wrong with an order, recorded once and resolved when it clears.

Rules are small functions over an order (and a context of thresholds and precomputed lookups)
that return a `Finding` or None:

- `missing_address`: a delivery order without an address;
- `bad_address`: a delivery address that cannot be read, coordinates out of range (or only one
  of them), or a delivery point farther from the store than the limit;
- `payment_failed`: an unpaid order of a channel whose orders are always paid online;
- `duplicate_order`: the same order number on the same account and business day under another
  external id, or the same customer phone with identical lines within a few minutes;
- `high_discount`: a merchant-borne discount above a share of the original price;
- `stuck`: an open order longer in its state than that state's limit.

Detection runs in-process with the order events (`channels.order.received`,
`channels.order.status_changed`), inside the transaction that changed the order, set-wise for a
till batch (a few queries whatever its size; till sales are only checked for discounts), and in
the periodic `anomaly_jobs.detect_stuck_orders` for orders that sit still. Evaluating an order
again is idempotent: a finding with an open anomaly changes nothing, an open anomaly whose
condition no longer holds is resolved (`auto`), and a new finding is recorded once (a unique
constraint on the open anomaly per order × rule) and published as `channels.order.anomaly`.
A manager's resolution (with a note, audited) is not re-opened by the same condition
(same rule and fingerprint).

Thresholds are data: `settings.CHANNELS_ANOMALIES` overrides any of `DEFAULTS`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, F, Max, OuterRef, Q, QuerySet
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backroom.accounts.authorization import require_permission
from backroom.audit.services import record_audit
from backroom.channels import rollups
from backroom.channels.choices import TERMINAL, ChannelKind, OrderStatus
from backroom.channels.events import ChannelsEvent, OrderAnomalyDetected
from backroom.channels.models import (
    AnomalyResolution,
    AnomalyRule,
    AnomalySeverity,
    ChannelAccount,
    Order,
    OrderAnomaly,
    OrderLine,
)
from backroom.channels.permissions import CHANNELS_MANAGE, CHANNELS_VIEW
from backroom.events.models import OutboxEvent
from backroom.events.services import publish_many, subscribe_many
from backroom.kernel import clock
from backroom.kernel.dates import business_date
from backroom.kernel.exceptions import Conflict, NotFound, ValidationFailed
from backroom.org.models import Site

DEFAULTS: dict[str, Any] = {
    # Channels whose orders are delivered (an own-app order is a delivery when it has a fee).
    "delivery_kinds": ["meituan", "eleme"],
    # Channels whose orders are always paid online: unpaid is a failed payment. (Meituan and
    # Ele.me send unpaid for cash on delivery, which is not a failure.)
    "online_paid_kinds": ["own_app"],
    # An address with fewer letters or digits than this cannot be read.
    "min_address_length": 6,
    # A delivery point farther than this from the store (when the store has coordinates).
    "max_delivery_km": 20,
    # Flag a delivery address that came without coordinates.
    "require_coordinates": False,
    # Same phone and identical lines within this many minutes: a duplicate.
    "duplicate_window_minutes": 10,
    # Merchant-borne discount above this share of the original price.
    "discount_limit_percent": 50,
    # Minutes an open order may stay in each state.
    "stuck_minutes": {
        "received": 10,
        "accepted": 45,
        "preparing": 60,
        "ready": 30,
        "delivering": 90,
    },
}


class AnomalyResolved(Conflict):
    """The anomaly is resolved already (by its condition clearing or by someone else)."""

    code = "anomaly_resolved"
    default_message = gettext_lazy("This alert is resolved already.")


@dataclass(frozen=True)
class Limits:
    """The thresholds in force (`DEFAULTS` overridden by `settings.CHANNELS_ANOMALIES`)."""

    delivery_kinds: frozenset[str]
    online_paid_kinds: frozenset[str]
    min_address_length: int
    max_delivery_km: Decimal
    require_coordinates: bool
    duplicate_window: dt.timedelta
    discount_limit_percent: Decimal
    stuck_minutes: dict[str, int]


def limits() -> Limits:
    """The thresholds from settings, each falling back to its default."""
    values = {**DEFAULTS, **getattr(settings, "CHANNELS_ANOMALIES", {})}
    stuck = {**DEFAULTS["stuck_minutes"], **values["stuck_minutes"]}
    return Limits(
        delivery_kinds=frozenset(values["delivery_kinds"]),
        online_paid_kinds=frozenset(values["online_paid_kinds"]),
        min_address_length=int(values["min_address_length"]),
        max_delivery_km=Decimal(str(values["max_delivery_km"])),
        require_coordinates=bool(values["require_coordinates"]),
        duplicate_window=dt.timedelta(minutes=int(values["duplicate_window_minutes"])),
        discount_limit_percent=Decimal(str(values["discount_limit_percent"])),
        stuck_minutes={
            status: int(minutes)
            for status, minutes in stuck.items()
            if minutes and status in OrderStatus.values
        },
    )


@dataclass(frozen=True)
class Finding:
    """A rule that fires on an order. `fingerprint` tells apart conditions of one rule."""

    rule: str
    severity: str
    details: dict[str, Any] = field(default_factory=dict)
    fingerprint: str = ""
    related_order_id: int | None = None


@dataclass
class Context:
    """What rules read besides the order: thresholds, now, and set-wise lookups."""

    limits: Limits
    now: dt.datetime
    duplicates: dict[int, Finding] = field(default_factory=dict)


Rule = Callable[[Order, Context], Finding | None]


def is_delivery(order: Order, context: Context) -> bool:
    """A delivery order: a delivery platform's, or an own-app order with a delivery fee."""
    if order.kind in context.limits.delivery_kinds:
        return True
    return order.kind == ChannelKind.OWN_APP and order.delivery_fee > 0


def _is_closed(order: Order) -> bool:
    return order.status in TERMINAL


def _address_matters(order: Order, context: Context) -> bool:
    """Address rules hold until the order is delivered, cancelled or refunded."""
    return is_delivery(order, context) and order.status in (
        OrderStatus.RECEIVED,
        OrderStatus.ACCEPTED,
        OrderStatus.PREPARING,
        OrderStatus.READY,
        OrderStatus.DELIVERING,
    )


def missing_address(order: Order, context: Context) -> Finding | None:
    """A delivery order with no address."""
    if not _address_matters(order, context) or order.address.strip():
        return None
    return Finding(AnomalyRule.MISSING_ADDRESS, AnomalySeverity.CRITICAL)


_READABLE = re.compile(r"\w", re.UNICODE)
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)


def distance_km(
    latitude: Decimal, longitude: Decimal, to_latitude: Decimal, to_longitude: Decimal
) -> float:
    """Great-circle distance (haversine, mean Earth radius 6371 km)."""
    phi1, phi2 = math.radians(latitude), math.radians(to_latitude)
    delta_phi = phi2 - phi1
    delta_lambda = math.radians(to_longitude) - math.radians(longitude)
    a = (
        math.sin(delta_phi / 2) ** 2
        + math.cos(phi1) * math.cos(phi2) * math.sin(delta_lambda / 2) ** 2
    )
    return 6371.0 * 2 * math.asin(min(1.0, math.sqrt(a)))


def bad_address(order: Order, context: Context) -> Finding | None:
    """A delivery address that cannot be read, or whose coordinates are out of range."""
    address = order.address.strip()
    if not _address_matters(order, context) or not address:
        return None
    readable = len(_READABLE.findall(address))
    if readable < context.limits.min_address_length or not _LETTER.search(address):
        return Finding(
            AnomalyRule.BAD_ADDRESS,
            AnomalySeverity.WARNING,
            {"reason": "unreadable", "address": address[:100]},
            fingerprint="unreadable",
        )
    latitude, longitude = order.latitude, order.longitude
    if latitude is None and longitude is None:
        if context.limits.require_coordinates:
            return Finding(
                AnomalyRule.BAD_ADDRESS,
                AnomalySeverity.WARNING,
                {"reason": "no_coordinates"},
                fingerprint="no_coordinates",
            )
        return None
    coordinates = {"latitude": str(latitude), "longitude": str(longitude)}
    if (
        latitude is None
        or longitude is None
        or not (-90 <= latitude <= 90 and -180 <= longitude <= 180)
        or (latitude == 0 and longitude == 0)
    ):
        return Finding(
            AnomalyRule.BAD_ADDRESS,
            AnomalySeverity.WARNING,
            {"reason": "coordinates", **coordinates},
            fingerprint="coordinates",
        )
    site = order.site
    if site.latitude is not None and site.longitude is not None:
        distance = distance_km(latitude, longitude, site.latitude, site.longitude)
        if distance > context.limits.max_delivery_km:
            return Finding(
                AnomalyRule.BAD_ADDRESS,
                AnomalySeverity.WARNING,
                {
                    "reason": "too_far",
                    **coordinates,
                    "distance_km": f"{distance:.1f}",
                    "limit_km": str(context.limits.max_delivery_km),
                },
                fingerprint="too_far",
            )
    return None


def payment_failed(order: Order, context: Context) -> Finding | None:
    """An unpaid order on a channel whose orders are always paid online (until cancelled)."""
    if order.is_paid or order.kind not in context.limits.online_paid_kinds or _is_closed(order):
        return None
    return Finding(AnomalyRule.PAYMENT_FAILED, AnomalySeverity.CRITICAL, {"channel": order.kind})


def duplicate_order(order: Order, context: Context) -> Finding | None:
    """Set-wise: see `find_duplicates` (the context carries its findings)."""
    if _is_closed(order):
        return None
    return context.duplicates.get(order.pk)


def discount_base(order: Order) -> Decimal:
    """The original price, or when the channel sent none, what was paid plus the discounts."""
    if order.original_price > 0:
        return Decimal(order.original_price)
    return Decimal(order.total + order.platform_discount + order.merchant_discount)


def high_discount(order: Order, context: Context) -> Finding | None:
    """A merchant-borne discount above the limit's share of the original price."""
    if _is_closed(order) or order.merchant_discount <= 0:
        return None
    base = discount_base(order)
    limit = context.limits.discount_limit_percent
    if base > 0 and order.merchant_discount * 100 <= base * limit:
        return None
    percent = (order.merchant_discount * 100 / base) if base > 0 else Decimal(100)
    return Finding(
        AnomalyRule.HIGH_DISCOUNT,
        AnomalySeverity.WARNING,
        {
            "percent": f"{percent:.1f}",
            "limit_percent": str(limit),
            "merchant_discount": str(order.merchant_discount),
            "original_price": str(base),
        },
    )


def stuck(order: Order, context: Context) -> Finding | None:
    """An open order longer in its state than the state's limit."""
    minutes = context.limits.stuck_minutes.get(order.status)
    if minutes is None:
        return None
    since = max(order.status_changed_at, order.placed_at)
    waited = context.now - since
    if waited <= dt.timedelta(minutes=minutes):
        return None
    return Finding(
        AnomalyRule.STUCK,
        AnomalySeverity.WARNING,
        {
            "status": order.status,
            "since": since.isoformat(),
            "minutes": int(waited.total_seconds() // 60),
            "limit_minutes": minutes,
        },
        fingerprint=order.status,
    )


RULES: dict[str, Rule] = {
    AnomalyRule.MISSING_ADDRESS: missing_address,
    AnomalyRule.BAD_ADDRESS: bad_address,
    AnomalyRule.PAYMENT_FAILED: payment_failed,
    AnomalyRule.DUPLICATE_ORDER: duplicate_order,
    AnomalyRule.HIGH_DISCOUNT: high_discount,
    AnomalyRule.STUCK: stuck,
}
# Till sales complete at once, have no address, are paid at the till and carry UUIDs: only
# their discounts (and, for an order a till left open, its wait) are checked.
TILL_RULES: frozenset[str] = frozenset({AnomalyRule.HIGH_DISCOUNT, AnomalyRule.STUCK})


def rules_for(order: Order) -> Iterable[str]:
    return TILL_RULES if order.kind == ChannelKind.POS else RULES.keys()


# --- duplicates, set-wise --------------------------------------------------------------------


def _days(site: Site, start: dt.datetime, end: dt.datetime) -> list[dt.date]:
    first = business_date(start, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour)
    last = business_date(end, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour)
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def _signature(rows: Iterable[tuple[str, Decimal, Any]]) -> tuple[Any, ...]:
    return tuple(
        sorted(
            (
                sku,
                Decimal(quantity).normalize(),
                tuple(sorted(str(m.get("code", "")) for m in modifiers or [])),
            )
            for sku, quantity, modifiers in rows
        )
    )


def _earlier(other: dict[str, Any], order: Order) -> bool:
    return bool((other["placed_at"], other["pk"]) < (order.placed_at, order.pk))


def find_duplicates(orders: Sequence[Order], limits_: Limits) -> dict[int, Finding]:
    """The later order of each duplicate pair among these orders and the store's others: the
    same order number on one account and business day (another external id), or the same
    customer phone with identical lines within the window. Cancelled and refunded orders do
    not count. Two queries per store (three with phones), whatever the number of orders."""
    found: dict[int, Finding] = {}
    candidates = [o for o in orders if o.kind != ChannelKind.POS and not _is_closed(o)]
    by_site: dict[int, list[Order]] = defaultdict(list)
    for order in candidates:
        by_site[order.site_id].append(order)
    fields = ("pk", "account_id", "business_date", "display_id", "external_id", "placed_at")
    for site_id, group in by_site.items():
        site = group[0].site
        numbered = [o for o in group if o.display_id]
        if numbered:
            others = (
                Order.objects.filter(
                    site_id=site_id,
                    business_date__in={o.business_date for o in numbered},
                    display_id__in={o.display_id for o in numbered},
                )
                .exclude(status__in=TERMINAL)
                .values(*fields)
            )
            index: dict[tuple[int, dt.date, str], list[dict[str, Any]]] = defaultdict(list)
            for row in others:
                index[(row["account_id"], row["business_date"], row["display_id"])].append(row)
            for order in numbered:
                matches = [
                    row
                    for row in index[(order.account_id, order.business_date, order.display_id)]
                    if row["pk"] != order.pk and _earlier(row, order)
                ]
                if matches:
                    first = min(matches, key=lambda row: (row["placed_at"], row["pk"]))
                    found[order.pk] = Finding(
                        AnomalyRule.DUPLICATE_ORDER,
                        AnomalySeverity.WARNING,
                        {
                            "match": "display_id",
                            "display_id": order.display_id,
                            "other_order_id": first["pk"],
                            "other_external_id": first["external_id"],
                        },
                        fingerprint=f"order:{first['pk']}",
                        related_order_id=first["pk"],
                    )
        phoned = [o for o in group if o.customer_phone and o.pk not in found]
        if not phoned:
            continue
        window = limits_.duplicate_window
        start = min(o.placed_at for o in phoned) - window
        end = max(o.placed_at for o in phoned) + window
        nearby = list(
            Order.objects.filter(
                site_id=site_id,
                business_date__in=_days(site, start, end),
                customer_phone__in={o.customer_phone for o in phoned},
                placed_at__gte=start,
                placed_at__lte=end,
            )
            .exclude(status__in=TERMINAL)
            .values(*fields, "customer_phone")
        )
        by_phone: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in nearby:
            by_phone[row["customer_phone"]].append(row)
        pairs: dict[int, list[dict[str, Any]]] = {}
        for order in phoned:
            close = [
                row
                for row in by_phone[order.customer_phone]
                if row["pk"] != order.pk
                and _earlier(row, order)
                and abs(order.placed_at - row["placed_at"]) <= window
            ]
            if close:
                pairs[order.pk] = close
        if not pairs:
            continue
        wanted = set(pairs) | {row["pk"] for rows in pairs.values() for row in rows}
        lines: dict[int, list[tuple[str, Decimal, Any]]] = defaultdict(list)
        for order_id, sku, quantity, modifiers in OrderLine.objects.filter(
            order_id__in=wanted
        ).values_list("order_id", "external_sku", "quantity", "modifiers"):
            lines[order_id].append((sku, quantity, modifiers))
        for order in phoned:
            if order.pk not in pairs:
                continue
            mine = _signature(lines[order.pk])
            same = [row for row in pairs[order.pk] if _signature(lines[row["pk"]]) == mine]
            if mine and same:
                first = min(same, key=lambda row: (row["placed_at"], row["pk"]))
                found[order.pk] = Finding(
                    AnomalyRule.DUPLICATE_ORDER,
                    AnomalySeverity.WARNING,
                    {
                        "match": "phone_lines",
                        "other_order_id": first["pk"],
                        "other_external_id": first["external_id"],
                        "minutes": int(abs(order.placed_at - first["placed_at"]).total_seconds())
                        // 60,
                    },
                    fingerprint=f"order:{first['pk']}",
                    related_order_id=first["pk"],
                )
    return found


# --- messages --------------------------------------------------------------------------------


def describe(rule: str, details: dict[str, Any]) -> str:
    """The anomaly's message in the active language."""
    try:
        if rule == AnomalyRule.MISSING_ADDRESS:
            return _("Delivery order without an address.")
        if rule == AnomalyRule.BAD_ADDRESS:
            reason = details.get("reason")
            if reason == "unreadable":
                return _("The address cannot be read: “%(address)s”.") % details
            if reason == "no_coordinates":
                return _("The address came without coordinates.")
            if reason == "too_far":
                return (
                    _(
                        "The delivery point is %(distance_km)s km from the store (limit %(limit_km)s km)."
                    )
                    % details
                )
            return _("Coordinates out of range (%(latitude)s, %(longitude)s).") % details
        if rule == AnomalyRule.PAYMENT_FAILED:
            return _("Not paid, though %(channel)s orders are paid online.") % {
                "channel": ChannelKind(details["channel"]).label
                if details.get("channel") in ChannelKind.values
                else details.get("channel", "")
            }
        if rule == AnomalyRule.DUPLICATE_ORDER:
            if details.get("match") == "display_id":
                return (
                    _(
                        "Order number %(display_id)s was used the same day by order %(other_external_id)s."
                    )
                    % details
                )
            return (
                _("Same phone and items as order %(other_external_id)s, %(minutes)s min apart.")
                % details
            )
        if rule == AnomalyRule.HIGH_DISCOUNT:
            return (
                _("Merchant-borne discount of %(percent)s%% (limit %(limit_percent)s%%).") % details
            )
        if rule == AnomalyRule.STUCK:
            status = details.get("status", "")
            label = OrderStatus(status).label if status in OrderStatus.values else status
            return _("%(status)s for %(minutes)s min (limit %(limit_minutes)s min).") % {
                **details,
                "status": label,
            }
    except (KeyError, TypeError, ValueError):
        pass
    return str(AnomalyRule(rule).label) if rule in AnomalyRule.values else rule


def message_of(anomaly: OrderAnomaly) -> str:
    """An anomaly's message in the active language (the stored one is in the default)."""
    return describe(anomaly.rule, anomaly.details)


# --- detection -------------------------------------------------------------------------------


def _payload(anomaly: OrderAnomaly, order: Order) -> OrderAnomalyDetected:
    return OrderAnomalyDetected(
        anomaly_id=anomaly.pk,
        order_id=order.pk,
        site_id=order.site_id,
        rule=anomaly.rule,
        severity=anomaly.severity,
        message=anomaly.message,
        kind=order.kind,
        external_id=order.external_id,
        display_id=order.display_id,
        details=anomaly.details,
    )


def reconcile(
    orders: Sequence[Order], context: Context, *, rules: Callable[[Order], Iterable[str]]
) -> list[OrderAnomaly]:
    """Evaluate `rules(order)` on each order and bring its anomalies in line: resolve the open
    ones whose condition cleared, record (and publish) new findings once. The caller holds the
    orders' row locks or created them in this transaction. Returns the new anomalies."""
    if not orders:
        return []
    ids = [order.pk for order in orders]
    known = OrderAnomaly.objects.filter(order_id__in=ids).filter(
        Q(resolved_at__isnull=True) | Q(resolution=AnomalyResolution.MANUAL)
    )
    open_ones: dict[tuple[int, str], OrderAnomaly] = {}
    manual: set[tuple[int, str, str]] = set()
    for anomaly in known:
        if anomaly.resolved_at is None:
            open_ones[(anomaly.order_id, anomaly.rule)] = anomaly
        else:
            manual.add((anomaly.order_id, anomaly.rule, anomaly.fingerprint))
    to_resolve: list[int] = []
    new: list[tuple[OrderAnomaly, Order]] = []
    with translation.override(settings.LANGUAGE_CODE):
        for order in orders:
            for rule in rules(order):
                finding = RULES[rule](order, context)
                current = open_ones.get((order.pk, rule))
                if current is not None and (
                    finding is None or finding.fingerprint != current.fingerprint
                ):
                    to_resolve.append(current.pk)
                    current = None
                if (
                    finding is None
                    or current is not None
                    or (order.pk, rule, finding.fingerprint) in manual
                ):
                    continue
                anomaly = OrderAnomaly(
                    order=order,
                    site_id=order.site_id,
                    rule=rule,
                    fingerprint=finding.fingerprint,
                    severity=finding.severity,
                    message=describe(rule, finding.details)[:300],
                    details=finding.details,
                    related_order_id=finding.related_order_id,
                    detected_at=context.now,
                )
                new.append((anomaly, order))
    closed = [order.pk for order in orders if _is_closed(order)]
    resolved = Q(pk__in=to_resolve)
    if closed:  # a cancelled order no longer makes another one a duplicate
        resolved |= Q(rule=AnomalyRule.DUPLICATE_ORDER, related_order_id__in=closed)
    if to_resolve or closed:
        OrderAnomaly.objects.filter(resolved, resolved_at__isnull=True).update(
            resolved_at=context.now, resolution=AnomalyResolution.AUTO
        )
    if not new:
        return []
    created = OrderAnomaly.objects.bulk_create([anomaly for anomaly, _order in new])
    by_site: dict[int, list[OrderAnomalyDetected]] = defaultdict(list)
    nodes: dict[int, Any] = {}
    for anomaly, order in zip(created, [order for _anomaly, order in new], strict=True):
        by_site[order.site_id].append(_payload(anomaly, order))
        nodes[order.site_id] = order.site.node
    for site_id, payloads in by_site.items():
        publish_many(payloads, org_node=nodes[site_id])
    return created


def _all_but_duplicates(order: Order) -> Iterable[str]:
    """After a status change: every rule, but duplicates only once the order is closed (an
    order's number, phone and lines never change; closing it clears its duplicate)."""
    return [
        rule
        for rule in rules_for(order)
        if rule != AnomalyRule.DUPLICATE_ORDER or _is_closed(order)
    ]


def _quiet_till(order: Order, limits: Limits) -> bool:
    """A new till sale without a merchant discount that is not left open: it cannot break a
    rule (the query in `_orders` says the same for orders not in memory)."""
    return (
        order.kind == ChannelKind.POS
        and order.merchant_discount <= 0
        and order.status not in limits.stuck_minutes
    )


def _orders(order_ids: Iterable[int], *, skip_quiet_tills: Limits | None = None) -> list[Order]:
    ids = set(order_ids)
    if skip_quiet_tills is not None:
        # Orders the intake has just inserted are judged in memory: a single till sale then
        # costs no query at all.
        for order_id in list(ids):
            order = rollups.fresh_order(order_id)
            if order is not None and _quiet_till(order, skip_quiet_tills):
                ids.discard(order_id)
        if not ids:
            return []
    rows = Order.objects.select_related("site__node").filter(pk__in=ids)
    if skip_quiet_tills is not None:
        # A new till sale without a merchant discount that is not left open cannot break a
        # rule: not even loaded (a 1,000-order batch of plain sales costs one empty query).
        rows = rows.exclude(
            Q(kind=ChannelKind.POS, merchant_discount__lte=0)
            & ~Q(status__in=list(skip_quiet_tills.stuck_minutes))
        )
    return list(rows.order_by("pk"))


def detect_for_orders(order_ids: Iterable[int], *, is_new: bool) -> list[OrderAnomaly]:
    """Evaluate the rules on these orders (in the caller's transaction). New orders get every
    rule that applies to their channel; changed ones every rule but duplicates."""
    limits_ = limits()
    orders = _orders(order_ids, skip_quiet_tills=limits_ if is_new else None)
    if not orders:
        return []
    context = Context(limits=limits_, now=clock.now())
    if is_new:
        context.duplicates = find_duplicates(orders, context.limits)
        return reconcile(orders, context, rules=rules_for)
    return reconcile(orders, context, rules=_all_but_duplicates)


def _ids(events: list[OutboxEvent]) -> list[int]:
    return [int(event.payload["order_id"]) for event in events if event.payload.get("order_id")]


@subscribe_many(ChannelsEvent.ORDER_RECEIVED, name="channels.anomalies.received")
def on_orders_received(events: list[OutboxEvent]) -> None:
    """New orders (one, or a till batch at once): every rule that applies to them."""
    detect_for_orders(_ids(events), is_new=True)


@subscribe_many(ChannelsEvent.ORDER_STATUS_CHANGED, name="channels.anomalies.status")
def on_status_changed(events: list[OutboxEvent]) -> None:
    """An order moved: a stuck one is no longer stuck, a cancelled one clears its alerts."""
    detect_for_orders(_ids(events), is_new=False)


def detect_stuck(*, batch: int = 1000) -> int:
    """The periodic sweep: record orders open beyond their state's limit, and resolve stuck
    alerts whose order moved on without an event. Index-friendly: per store and state, orders
    placed before the limit (the `channels_order_board` index), then `status_changed_at`.
    Orders locked by a change in progress are skipped (that change re-evaluates them)."""
    now = clock.now()
    limits_ = limits()
    OrderAnomaly.objects.filter(rule=AnomalyRule.STUCK, resolved_at__isnull=True).exclude(
        order__status=F("fingerprint")
    ).update(resolved_at=now, resolution=AnomalyResolution.AUTO)
    if not limits_.stuck_minutes:
        return 0
    late = Q()
    for status, minutes in limits_.stuck_minutes.items():
        cutoff = now - dt.timedelta(minutes=minutes)
        late |= Q(status=status, placed_at__lt=cutoff, status_changed_at__lt=cutoff)
    known = OrderAnomaly.objects.filter(order=OuterRef("pk"), rule=AnomalyRule.STUCK).filter(
        Q(resolved_at__isnull=True)
        | Q(resolution=AnomalyResolution.MANUAL, fingerprint=OuterRef("status"))
    )
    site_ids = sorted(set(ChannelAccount.objects.values_list("site_id", flat=True)))
    ids = list(
        Order.objects.filter(late, site_id__in=site_ids)
        .filter(~Exists(known))
        .order_by("pk")
        .values_list("pk", flat=True)[:batch]
    )
    if not ids:
        return 0
    context = Context(limits=limits_, now=now)
    with transaction.atomic():
        orders = list(
            Order.objects.select_for_update(of=("self",), skip_locked=True)
            .select_related("site__node")
            .filter(pk__in=ids)
            .order_by("pk")
        )
        return len(reconcile(orders, context, rules=lambda order: [AnomalyRule.STUCK]))


# --- manual resolution -----------------------------------------------------------------------


def resolve_anomaly(anomaly: OrderAnomaly, *, note: str, actor: Any) -> OrderAnomaly:
    """A manager resolves an alert with a note (channels.manage at its store; audited). The
    same condition does not re-open it. `anomaly_resolved` when it is resolved already."""
    require_permission(actor, CHANNELS_MANAGE, anomaly.site.node)
    note = (note or "").strip()
    if not note:
        raise ValidationFailed({"note": [_("Say what was done about it.")]})
    if len(note) > 500:
        raise ValidationFailed({"note": [_("At most 500 characters.")]})
    with transaction.atomic():
        locked = (
            OrderAnomaly.objects.select_for_update().select_related("site__node").get(pk=anomaly.pk)
        )
        if locked.resolved_at is not None:
            raise AnomalyResolved(details={"resolved_at": locked.resolved_at.isoformat()})
        locked.resolved_at = clock.now()
        locked.resolution = AnomalyResolution.MANUAL
        locked.resolved_by = actor
        locked.resolution_note = note
        locked.save(update_fields=["resolved_at", "resolution", "resolved_by", "resolution_note"])
        record_audit(
            actor=actor,
            action="channels.anomaly.resolve",
            target=locked,
            before={"resolved": False},
            after={
                "resolved": True,
                "order_id": locked.order_id,
                "rule": locked.rule,
                "note": note,
            },
            reason=note,
            org_node=locked.site.node,
        )
    return locked


# --- selectors -------------------------------------------------------------------------------

STATES = ("open", "resolved", "all")


def anomalies_for(
    actor: Any,
    *,
    site: Site | None = None,
    rule: str | None = None,
    state: str = "open",
) -> QuerySet[OrderAnomaly]:
    """Anomalies at the stores the actor may see channel orders of, newest first."""
    rows = OrderAnomaly.objects.restrict(actor, CHANNELS_VIEW).select_related(
        "order", "site__node", "resolved_by"
    )
    if site is not None:
        rows = rows.filter(site=site)
    if rule:
        rows = rows.filter(rule=rule)
    if state == "open":
        rows = rows.filter(resolved_at__isnull=True)
    elif state == "resolved":
        rows = rows.filter(resolved_at__isnull=False)
    return rows.order_by("-detected_at", "-pk")


def get_anomaly(actor: Any, anomaly_id: int) -> OrderAnomaly:
    try:
        return anomalies_for(actor, state="all").get(pk=anomaly_id)
    except OrderAnomaly.DoesNotExist:
        raise NotFound() from None


def open_by_order(order_ids: Iterable[int]) -> dict[int, list[OrderAnomaly]]:
    """Open anomalies of these orders (already scoped by the caller), one query."""
    found: dict[int, list[OrderAnomaly]] = defaultdict(list)
    ids = list(order_ids)
    if ids:
        rows = OrderAnomaly.objects.filter(order_id__in=ids, resolved_at__isnull=True).order_by(
            "order_id", "rule"
        )
        for anomaly in rows:
            found[anomaly.order_id].append(anomaly)
    return found


@dataclass(frozen=True)
class AlertGroup:
    """Open alerts of one store and rule: how many, and the newest."""

    site: Site
    rule: str
    count: int
    newest: dt.datetime

    @property
    def rule_label(self) -> str:
        return str(AnomalyRule(self.rule).label)


def alert_groups(actor: Any) -> list[AlertGroup]:
    """Open alerts at every store in the actor's scope, per store × rule, newest first."""
    rows = list(
        anomalies_for(actor)
        .order_by()
        .values("site_id", "rule")
        .annotate(count=Count("id"), newest=Max("detected_at"))
        .order_by("-newest", "site_id", "rule")
    )
    sites = Site.objects.select_related("node").in_bulk({row["site_id"] for row in rows})
    return [
        AlertGroup(sites[row["site_id"]], row["rule"], row["count"], row["newest"]) for row in rows
    ]
