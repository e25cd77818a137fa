"""Telling the platforms what a store decided about their orders: accepted, cancelled (with the
reason), food ready.

When a person or till moves a Meituan or Ele.me order through our API or the order board
(`intake.change_status`, history event keys `api:…`), the `channels.order.status_changed`
subscriber in `channels/handlers.py` calls `queue_for_status_change` inside the same
transaction. It records one `OutboundCall` per decision the platform must hear of, naming the
order; `outbound` sends it after the commit, signs it afresh at each attempt and retries it with
backoff. The store is never blocked: the order has already moved here, and a call the platform
refuses or never answers stays on the board (`failed_by_order`) with its error and a retry
button until it is sent.

Which move makes which call (the platform's own pushes make none: it already knows):

| the order moves | call | Meituan | Ele.me |
|---|---|---|---|
| from received to accepted, preparing, ready or delivering | accept | `order/confirm` | `eleme.order.confirmOrderLite` |
| from received, accepted or preparing to ready or delivering | ready | `order/preparationMealComplete` | `eleme.order.mealComplete` |
| to cancelled | cancel, with the reason | `order/cancel` (`reason`, `reason_code` 2007) | `eleme.order.cancelOrderLite` (`type` others, `remark`) |

Idempotent at both ends: a call is unique per (order, action), so a replayed request or a
repeated subscriber records nothing new; Ele.me calls keep the same request id (`id`, its
UUID part) across attempts, so the platform can recognise a retry of a call it already took.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any

from backroom.channels import outbound
from backroom.channels.choices import ChannelKind, OrderStatus
from backroom.channels.models import (
    ORDER_ACTIONS,
    ChannelAccount,
    Order,
    OrderHistory,
    OutboundAction,
    OutboundCall,
    OutboundStatus,
)
from backroom.channels.platforms import eleme, meituan
from backroom.channels.platforms.base import Credentials, OutboundRequest

# Event keys of transitions a person or till asked for (`intake.change_status`).
STORE_DECISION_PREFIX = "api:"
DEFAULT_CANCEL_REASON = "商家取消订单 Cancelled by the store"
MEITUAN_CANCEL_CODE = "2007"  # the merchant cannot supply the order
ELEME_CANCEL_TYPE = "others"

_ACCEPTED_FROM = frozenset({OrderStatus.RECEIVED})
_ACCEPTED_TO = frozenset(
    {OrderStatus.ACCEPTED, OrderStatus.PREPARING, OrderStatus.READY, OrderStatus.DELIVERING}
)
_READY_FROM = frozenset({OrderStatus.RECEIVED, OrderStatus.ACCEPTED, OrderStatus.PREPARING})
_READY_TO = frozenset({OrderStatus.READY, OrderStatus.DELIVERING})


def actions_for(from_status: str, to_status: str) -> list[str]:
    """The calls a store's move of an order from `from_status` to `to_status` makes, in the
    order the platform expects them (accept before ready)."""
    actions: list[str] = []
    if from_status in _ACCEPTED_FROM and to_status in _ACCEPTED_TO:
        actions.append(OutboundAction.ACCEPT_ORDER)
    if from_status in _READY_FROM and to_status in _READY_TO:
        actions.append(OutboundAction.ORDER_READY)
    if to_status == OrderStatus.CANCELLED:
        actions.append(OutboundAction.CANCEL_ORDER)
    return actions


def _request(order: Order, action: str, reason: str) -> dict[str, Any]:
    request: dict[str, Any] = {"order_id": order.external_id}
    if action == OutboundAction.CANCEL_ORDER:
        request["reason"] = (reason.strip() or DEFAULT_CANCEL_REASON)[:200]
    if order.kind == ChannelKind.ELEME:
        # Kept across attempts: Ele.me's request id, so the platform can tell a retry.
        request["request_uuid"] = uuid.uuid4().hex.upper()
    return request


def queue_for_status_change(
    order: Order, *, from_status: str, to_status: str, event_key: str
) -> list[OutboundCall]:
    """Record the calls a store's decision makes (see the module), in the caller's
    transaction; none for the platform's own pushes, tills or inactive accounts."""
    if not event_key.startswith(STORE_DECISION_PREFIX):
        return []
    account: ChannelAccount = order.account
    if account.kind not in outbound.PLATFORM_KINDS or not account.is_active:
        return []
    actions = actions_for(from_status, to_status)
    if not actions:
        return []
    reason = ""
    if OutboundAction.CANCEL_ORDER in actions:
        event = (
            OrderHistory.objects.filter(order=order, event_key=event_key)
            .values_list("event", flat=True)
            .first()
        )
        reason = str((event or {}).get("reason") or "")
    return [
        outbound.queue_call(
            account=account,
            action=action,
            request=_request(order, action, reason),
            order=order,
        )
        for action in actions
    ]


# --- builders (signed afresh at each attempt, no I/O) ----------------------------------------


def _build_meituan(
    account: ChannelAccount,
    credentials: Credentials,
    request: Mapping[str, Any],
    base: str | None,
    *,
    action: str,
) -> OutboundRequest:
    options: dict[str, Any] = {
        "app_id": credentials.app_id,
        "secret": credentials.secret,
        "base_url": base or meituan.API_BASE,
    }
    order_id = str(request["order_id"])
    if action == OutboundAction.ACCEPT_ORDER:
        return meituan.accept_order(order_id, **options)
    if action == OutboundAction.ORDER_READY:
        return meituan.mark_ready(order_id, **options)
    return meituan.cancel_order(
        order_id, reason=str(request["reason"]), reason_code=MEITUAN_CANCEL_CODE, **options
    )


def _build_eleme(
    account: ChannelAccount,
    credentials: Credentials,
    request: Mapping[str, Any],
    base: str | None,
    *,
    action: str,
) -> OutboundRequest:
    options: dict[str, Any] = {
        "app_key": credentials.app_key,
        "secret": credentials.secret,
        "token": credentials.token,
        "url": base or eleme.API_URL,
    }
    stable = str(request.get("request_uuid") or "")
    if stable:
        options["request_id"] = f"{stable}|{int(time.time() * 1000)}"
    order_id = str(request["order_id"])
    if action == OutboundAction.ACCEPT_ORDER:
        return eleme.accept_order(order_id, **options)
    if action == OutboundAction.ORDER_READY:
        return eleme.mark_ready(order_id, **options)
    return eleme.cancel_order(
        order_id, reason=str(request["reason"]), cancel_type=ELEME_CANCEL_TYPE, **options
    )


for _action in sorted(ORDER_ACTIONS):
    outbound.register_builder(ChannelKind.MEITUAN, _action, partial(_build_meituan, action=_action))
    outbound.register_builder(ChannelKind.ELEME, _action, partial(_build_eleme, action=_action))


# --- reads --------------------------------------------------------------------------------------

UNSETTLED = (OutboundStatus.FAILED, OutboundStatus.GIVEN_UP)


def failed_by_order(order_ids: Iterable[int]) -> dict[int, list[OutboundCall]]:
    """The failed and given-up platform calls of these orders (for the board), oldest first;
    the caller has already scoped the orders."""
    ids = sorted(set(order_ids))
    found: dict[int, list[OutboundCall]] = defaultdict(list)
    if not ids:
        return found
    for call in (
        OutboundCall.objects.filter(order_id__in=ids, status__in=UNSETTLED)
        .select_related("account")
        .order_by("pk")
    ):
        assert call.order_id is not None
        found[call.order_id].append(call)
    return found
