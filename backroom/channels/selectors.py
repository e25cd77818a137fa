"""Reads of channel accounts, orders and unmapped lines, scoped to the actor."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Max, Min, Q, QuerySet

from backroom.channels.choices import FORWARD, OrderStatus
from backroom.channels.models import ChannelAccount, Order, OrderLine
from backroom.channels.permissions import CHANNELS_MANAGE, CHANNELS_VIEW
from backroom.kernel.exceptions import NotFound
from backroom.org.models import Site


def accounts_for(
    actor: Any, permission: str = CHANNELS_VIEW, *, site: Site | None = None
) -> QuerySet[ChannelAccount]:
    rows = ChannelAccount.objects.restrict(actor, permission).select_related("site__node")
    if site is not None:
        rows = rows.filter(site=site)
    return rows.order_by("site__node__path", "kind", "name", "pk")


def get_account(actor: Any, account_id: int, permission: str = CHANNELS_VIEW) -> ChannelAccount:
    try:
        return accounts_for(actor, permission).get(pk=account_id)
    except ChannelAccount.DoesNotExist:
        raise NotFound() from None


def account_for_push(kind: str, store_ref: str) -> ChannelAccount | None:
    """The active account a platform push addresses (unscoped: the push is signed instead)."""
    return (
        ChannelAccount.objects.select_related("site__node")
        .filter(kind=kind, store_ref=store_ref, is_active=True)
        .first()
    )


def orders_for(
    actor: Any,
    *,
    site: Site | None = None,
    status: str | None = None,
    business_date: dt.date | None = None,
    kind: str | None = None,
) -> QuerySet[Order]:
    """Orders at the stores the actor may see channel orders of, newest first."""
    rows = Order.objects.restrict(actor, CHANNELS_VIEW).select_related("site__node", "account")
    if site is not None:
        rows = rows.filter(site=site)
    if status:
        rows = rows.filter(status=status)
    if business_date is not None:
        rows = rows.filter(business_date=business_date)
    if kind:
        rows = rows.filter(kind=kind)
    return rows.order_by("-placed_at", "-pk")


def get_order(actor: Any, order_id: int) -> Order:
    try:
        return (
            orders_for(actor)
            .prefetch_related("lines__menu_item", "history", "outbound_calls")
            .get(pk=order_id)
        )
    except Order.DoesNotExist:
        raise NotFound() from None


# Columns of the live board: open states in order, then today's closed ones.
BOARD_OPEN = [status for status in FORWARD if status != OrderStatus.COMPLETED]


def board(actor: Any, site: Site, day: dt.date) -> dict[str, list[Order]]:
    """The store's orders by status: every open order, and the day's completed and cancelled."""
    rows = orders_for(actor, site=site).filter(Q(status__in=BOARD_OPEN) | Q(business_date=day))
    columns: dict[str, list[Order]] = {status: [] for status in OrderStatus.values}
    for order in rows.order_by("placed_at", "pk")[:500]:
        columns[order.status].append(order)
    return columns


@dataclass(frozen=True)
class UnmappedSku:
    """An external SKU of one account seen on unmapped lines."""

    account: ChannelAccount
    external_sku: str
    name: str
    lines: int
    first_seen: dt.datetime
    last_seen: dt.datetime


def unmapped(actor: Any, *, site: Site | None = None) -> list[UnmappedSku]:
    """External SKUs without a mapping, per account, most lines first (channels.manage)."""
    rows = OrderLine.objects.restrict(actor, CHANNELS_MANAGE).filter(is_unmapped=True)
    if site is not None:
        rows = rows.filter(order__site=site)
    grouped = (
        rows.values("order__account_id", "external_sku")
        .annotate(
            lines=Count("id"),
            name=Max("name"),
            first_seen=Min("order__placed_at"),
            last_seen=Max("order__placed_at"),
        )
        .order_by("-lines", "external_sku")[:500]
    )
    rows_found = list(grouped)
    accounts = ChannelAccount.objects.select_related("site__node").in_bulk(
        {row["order__account_id"] for row in rows_found}
    )
    return [
        UnmappedSku(
            account=accounts[row["order__account_id"]],
            external_sku=row["external_sku"],
            name=row["name"] or "",
            lines=row["lines"],
            first_seen=row["first_seen"],
            last_seen=row["last_seen"],
        )
        for row in rows_found
    ]
