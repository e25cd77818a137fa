"""Sold out (估清): how many portions of each menu item a store can still make, which items are
sold out, and telling the delivery platforms.

- `sellable_counts(site)`: per menu item, min over the stocked items its recipe uses (through
  sub-recipes) whose item class forbids negative stock, of floor(available-to-promise / need
  per portion); None when the item has no complete recipe or uses no such item (not limited:
  preps made as needed, goods that may go negative). One `availability` read per store for the whole menu; the
  per-portion needs are cached per process and business day, checked against the catalogue's
  change stamp (`depletion.catalog_stamp`, one query).
- `recompute_store(site)`: under the store's state rows' locks, recount and move items in and
  out of sold out. An item is sold out when its count reaches 0, or when a manager holds it by
  hand (`mark_sold_out`); it comes back by itself when stock returns, unless held by hand
  (`clear_sold_out` releases the hold). Runs after every commit that moved stock or
  reservations at the store (`channels.handlers`, coalesced per store and transaction), and
  every ten minutes for every store (reservations that expire move nothing).
- Every change of state records an audit entry, publishes `channels.item.sold_out` or
  `channels.item.back_in_stock`, and queues one outbound call per active Meituan / Ele.me
  account of the store carrying the item's mapped codes there (`outbound.queue_call`), sent
  after commit and retried with backoff.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, localcontext
from enum import StrEnum
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backroom.accounts.authorization import require_permission
from backroom.audit.services import record_audit, snapshot
from backroom.catalog.choices import SELLABLE_KINDS, NegativeStockPolicy
from backroom.catalog.exceptions import RecipeCycle, RecipeNotFound
from backroom.catalog.models import Item
from backroom.catalog.recipes import Exploder
from backroom.catalog.selectors import site_today
from backroom.channels import outbound
from backroom.channels.choices import ChannelKind, MappingKind
from backroom.channels.depletion import catalog_stamp
from backroom.channels.models import (
    ChannelAccount,
    MenuMapping,
    OutboundAction,
    OutboundCall,
    SoldOutState,
)
from backroom.channels.permissions import CHANNELS_MANAGE, CHANNELS_VIEW
from backroom.channels.platforms import eleme, meituan
from backroom.channels.platforms.base import Credentials, OutboundRequest
from backroom.events.catalogue import event
from backroom.events.services import publish
from backroom.inventory.services.reservations import availability
from backroom.kernel.actors import SYSTEM
from backroom.kernel.bulk import update_rows
from backroom.kernel.exceptions import Conflict, ErrorCollector, NotFound, ValidationFailed
from backroom.kernel.money import QUANTITY_PLACES
from backroom.org.models import Site
from backroom.org.selectors import get_site

_STEP = Decimal(1).scaleb(-QUANTITY_PLACES)
STATE_AUDIT_FIELDS = ["sellable", "is_sold_out", "is_manual", "reason"]
SOLD_OUT_ACTIONS = (OutboundAction.SOLD_OUT, OutboundAction.BACK_IN_STOCK)


# --- events ------------------------------------------------------------------------------------


class SoldOutEvent(StrEnum):
    ITEM_SOLD_OUT = "channels.item.sold_out"
    ITEM_BACK_IN_STOCK = "channels.item.back_in_stock"


@event(SoldOutEvent.ITEM_SOLD_OUT)
@dataclass(frozen=True)
class ItemSoldOut:
    """A menu item became sold out at a store: `is_manual` when a manager held it."""

    site_id: int
    item_id: int
    sku: str
    sellable: int | None
    is_manual: bool
    reason: str = ""
    outbound_calls: list[int] = field(default_factory=list)


@event(SoldOutEvent.ITEM_BACK_IN_STOCK)
@dataclass(frozen=True)
class ItemBackInStock:
    """A menu item can be sold again at a store (stock returned, or a hold was cleared)."""

    site_id: int
    item_id: int
    sku: str
    sellable: int | None
    reason: str = ""
    outbound_calls: list[int] = field(default_factory=list)


# --- sellable counts ---------------------------------------------------------------------------


def menu_items() -> QuerySet[Item]:
    """The items a store may sell: active menu items and retail goods."""
    return Item.objects.filter(kind__in=SELLABLE_KINDS, is_active=True).order_by("pk")


@dataclass(frozen=True)
class MenuNeeds:
    """Per menu item, the forbid-negatives stocked items one portion uses ({} when it has no
    complete recipe or uses none: not limited)."""

    day: dt.date
    stamp: tuple[Any, ...]
    needs: dict[int, dict[int, Decimal]]
    skus: dict[int, str]


_needs_cache: dict[dt.date, MenuNeeds] = {}


def menu_needs(day: dt.date) -> MenuNeeds:
    """Every menu item's per-portion needs on `day`, exploded through sub-recipes (cached)."""
    stamp = catalog_stamp()
    cached = _needs_cache.get(day)
    if cached is not None and cached.stamp == stamp:
        return cached
    exploder = Exploder(day)
    needs: dict[int, dict[int, Decimal]] = {}
    skus: dict[int, str] = {}
    for item in menu_items().select_related("base_unit"):
        skus[item.pk] = item.sku
        totals: dict[int, Decimal] = defaultdict(Decimal)
        try:
            exploder.add(totals, item, Decimal(1))
        except (RecipeNotFound, RecipeCycle, ValidationFailed):
            needs[item.pk] = {}  # no complete recipe: not limited by stock
            continue
        with localcontext() as context:
            context.prec = 80
            rounded = {
                leaf: quantity.quantize(_STEP, rounding=ROUND_HALF_UP)
                for leaf, quantity in totals.items()
            }
        needs[item.pk] = {leaf: quantity for leaf, quantity in rounded.items() if quantity > 0}
    # Only stock that may not go negative limits what can be sold: preps made as needed and
    # goods whose class allows (or only warns about) negative stock never sell an item out.
    leaves = {leaf for need in needs.values() for leaf in need}
    limiting = set(
        Item.objects.filter(
            pk__in=leaves, item_class__negative_stock_policy=NegativeStockPolicy.FORBID
        ).values_list("pk", flat=True)
    )
    needs = {
        item_id: {leaf: quantity for leaf, quantity in need.items() if leaf in limiting}
        for item_id, need in needs.items()
    }
    computed = MenuNeeds(day=day, stamp=stamp, needs=needs, skus=skus)
    if len(_needs_cache) > 8:
        _needs_cache.clear()
    _needs_cache[day] = computed
    return computed


def counts_from(
    needs: Mapping[int, Mapping[int, Decimal]], available: Mapping[int, Decimal]
) -> dict[int, int | None]:
    """min over each item's needs of floor(available / need), never below 0; None without needs."""
    counts: dict[int, int | None] = {}
    with localcontext() as context:
        context.prec = 60
        for item_id, need in needs.items():
            if not need:
                counts[item_id] = None
                continue
            portions = min(
                (available.get(leaf, Decimal(0)) / quantity).to_integral_value(ROUND_FLOOR)
                for leaf, quantity in need.items()
            )
            counts[item_id] = max(0, int(portions))
    return counts


def sellable_counts(
    site: Site, item_ids: Iterable[int] | None = None, *, on: dt.date | None = None
) -> dict[int, int | None]:
    """{menu item id: portions the store can still make, None = not limited}; one
    availability read for the whole menu (or for `item_ids`)."""
    return _counts(site, menu_needs(on or site_today(site)), item_ids)


def _counts(
    site: Site, plan: MenuNeeds, item_ids: Iterable[int] | None = None
) -> dict[int, int | None]:
    wanted = (
        plan.needs if item_ids is None else {i: plan.needs[i] for i in item_ids if i in plan.needs}
    )
    leaves = sorted({leaf for need in wanted.values() for leaf in need})
    atp = availability(site.pk, leaves) if leaves else {}
    return counts_from(wanted, {leaf: row.available for leaf, row in atp.items()})


# --- outbound calls for a change of state -----------------------------------------------------

_ELEME_SPEC = re.compile(r"^\s*(\d+)\s*[:/]\s*(\d+)\s*$")


def eleme_spec(code: str) -> tuple[str, str] | None:
    """Ele.me clears stock by (itemId, specId): a mapping code `itemId:specId` names one."""
    match = _ELEME_SPEC.match(code)
    return (match.group(1), match.group(2)) if match else None


def _build_meituan(
    account: ChannelAccount,
    credentials: Credentials,
    request: Mapping[str, Any],
    base: str | None,
) -> OutboundRequest:
    return meituan.set_sold_out(
        account.store_ref,
        list(request["codes"]),
        sold_out=bool(request["sold_out"]),
        app_id=credentials.app_id,
        secret=credentials.secret,
        base_url=base or meituan.API_BASE,
    )


def _build_eleme(
    account: ChannelAccount,
    credentials: Credentials,
    request: Mapping[str, Any],
    base: str | None,
) -> OutboundRequest:
    return eleme.set_sold_out(
        [(int(item), int(spec)) for item, spec in request["specs"]],
        sold_out=bool(request["sold_out"]),
        app_key=credentials.app_key,
        secret=credentials.secret,
        token=credentials.token,
        url=base or eleme.API_URL,
    )


for _action in SOLD_OUT_ACTIONS:
    outbound.register_builder(ChannelKind.MEITUAN, _action, _build_meituan)
    outbound.register_builder(ChannelKind.ELEME, _action, _build_eleme)


def _codes_by_account(site_id: int, item_id: int) -> list[tuple[ChannelAccount, list[str]]]:
    accounts = outbound.platform_accounts(site_id)
    codes: dict[int, list[str]] = defaultdict(list)
    for account_id, code in (
        MenuMapping.objects.filter(account__in=accounts, kind=MappingKind.ITEM, item_id=item_id)
        .order_by("external_code")
        .values_list("account_id", "external_code")
    ):
        codes[account_id].append(code)
    return [(account, codes[account.pk]) for account in accounts if codes.get(account.pk)]


def queue_platform_calls(
    site_id: int,
    item_id: int,
    *,
    sold_out: bool,
    accounts: Sequence[tuple[ChannelAccount, list[str]]] | None = None,
) -> list[OutboundCall]:
    """One call per active platform account of the store that maps the item (all its codes
    there), in the caller's transaction; a newer call supersedes unsent older ones."""
    action = OutboundAction.SOLD_OUT if sold_out else OutboundAction.BACK_IN_STOCK
    calls = []
    for account, codes in accounts if accounts is not None else _codes_by_account(site_id, item_id):
        error = ""
        request: dict[str, Any]
        if account.kind == ChannelKind.ELEME:
            specs = [spec for spec in (eleme_spec(code) for code in codes) if spec]
            request = {"specs": [list(spec) for spec in specs], "sold_out": sold_out}
            if not specs:
                error = _(
                    "Ele.me needs the item and spec ids: map the item with a code "
                    "itemId:specId (mapped codes: %(codes)s)."
                ) % {"codes": ", ".join(codes)}
        else:
            request = {"app_poi_code": account.store_ref, "codes": codes, "sold_out": sold_out}
        calls.append(
            outbound.queue_call(
                account=account,
                action=action,
                request=request,
                item=item_id,
                supersedes=SOLD_OUT_ACTIONS,
                error=error,
            )
        )
    return calls


# --- state changes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """An item that moved in or out of sold out at a store."""

    item_id: int
    is_sold_out: bool
    sellable: int | None
    calls: list[int]


def _announce(
    state: SoldOutState,
    *,
    sku: str,
    before: dict[str, Any] | None,
    actor: Any,
    reason: str = "",
    node: Any,
) -> Change:
    """Audit, event and platform calls for a state that just changed (caller's transaction)."""
    calls = queue_platform_calls(state.site_id, state.item_id, sold_out=state.is_sold_out)
    ids = [call.pk for call in calls]
    record_audit(
        actor=actor,
        action="channels.item.sold_out" if state.is_sold_out else "channels.item.back_in_stock",
        target=state,
        before=before,
        after=snapshot(state, STATE_AUDIT_FIELDS),
        reason=reason,
        org_node=node,
    )
    if state.is_sold_out:
        publish(
            ItemSoldOut(
                site_id=state.site_id,
                item_id=state.item_id,
                sku=sku,
                sellable=state.sellable,
                is_manual=state.is_manual,
                reason=state.reason,
                outbound_calls=ids,
            ),
            org_node=node,
        )
    else:
        publish(
            ItemBackInStock(
                site_id=state.site_id,
                item_id=state.item_id,
                sku=sku,
                sellable=state.sellable,
                reason=reason,
                outbound_calls=ids,
            ),
            org_node=node,
        )
    return Change(state.item_id, state.is_sold_out, state.sellable, ids)


def _locked_states(site: Site, item_ids: Sequence[int]) -> dict[int, SoldOutState]:
    """The store's state rows for these items, created when missing, locked in id order."""
    existing = set(
        SoldOutState.objects.filter(site=site, item_id__in=item_ids).values_list(
            "item_id", flat=True
        )
    )
    missing = [item_id for item_id in item_ids if item_id not in existing]
    if missing:
        SoldOutState.objects.bulk_create(
            [SoldOutState(site=site, item_id=item_id) for item_id in missing],
            ignore_conflicts=True,
        )
    rows = SoldOutState.objects.select_for_update().filter(site=site, item_id__in=item_ids)
    return {row.item_id: row for row in rows.order_by("pk")}


def _store(site: Site | int) -> Site:
    if isinstance(site, Site):
        return site
    return Site.objects.select_related("node").get(pk=site)


def recompute_store(site: Site | int, *, actor: Any = SYSTEM) -> list[Change]:
    """Recount every menu item at the store and apply what changed (see the module)."""
    site = _store(site)
    plan = menu_needs(site_today(site))
    item_ids = sorted(plan.needs)
    if not item_ids:
        return []
    now = timezone.now()
    changes: list[Change] = []
    with transaction.atomic():
        # Lock first, then read stock: a recount waiting for this one reads what it committed.
        states = _locked_states(site, item_ids)
        counts = _counts(site, plan)
        touched: list[SoldOutState] = []
        for item_id in item_ids:
            state = states[item_id]
            count = counts.get(item_id)
            is_out = count is not None and count <= 0
            if state.is_manual or is_out == state.is_sold_out:
                if state.sellable != count:
                    state.sellable = count
                    state.computed_at = now
                    touched.append(state)
                continue
            before = snapshot(state, STATE_AUDIT_FIELDS)
            state.sellable = count
            state.is_sold_out = is_out
            state.reason = ""
            state.changed_at = state.computed_at = now
            state.changed_by = None
            state.save()
            changes.append(
                _announce(
                    state,
                    sku=plan.skus[item_id],
                    before=before,
                    actor=actor,
                    reason=_("No stock left for a portion.") if is_out else _("Stock returned."),
                    node=site.node,
                )
            )
        if touched:
            update_rows(touched, ["sellable", "computed_at"])
    return changes


def _menu_item(item: Item | int) -> Item:
    item_id = item.pk if isinstance(item, Item) else item
    found = menu_items().filter(pk=item_id).first()
    if found is None:
        raise ValidationFailed({"item_id": [_("This item is not on the menu.")]})
    return found


@dataclass(frozen=True)
class StateResult:
    """A state after a manager's change, with the outbound calls it queued."""

    state: SoldOutState
    calls: list[int]


def mark_sold_out(*, site: Site, item: Item | int, reason: str, actor: Any) -> StateResult:
    """A manager holds an item sold out at a store, with a reason, whatever the stock; the
    platforms are told unless it was already sold out. Replaces the reason of an existing hold."""
    require_permission(actor, CHANNELS_MANAGE, site.node)
    errors = ErrorCollector()
    reason = reason.strip()
    if not reason or len(reason) > 200:
        errors.add("reason", _("A reason of 1 to 200 characters is required."))
    try:
        menu_item = _menu_item(item)
    except ValidationFailed as error:
        for name, messages in error.errors.items():
            for message in messages:
                errors.add(name, message)
    errors.raise_if_any()
    with transaction.atomic():
        state = _locked_states(site, [menu_item.pk])[menu_item.pk]
        before = snapshot(state, STATE_AUDIT_FIELDS)
        was_out = state.is_sold_out
        state.is_sold_out = True
        state.is_manual = True
        state.reason = reason
        state.sellable = sellable_counts(site, [menu_item.pk]).get(menu_item.pk)
        state.changed_at = state.computed_at = timezone.now()
        state.changed_by = actor if getattr(actor, "pk", None) is not None else None
        state.save()
        calls: list[int] = []
        if was_out:
            record_audit(
                actor=actor,
                action="channels.item.hold",
                target=state,
                before=before,
                after=snapshot(state, STATE_AUDIT_FIELDS),
                reason=reason,
                org_node=site.node,
            )
        else:
            calls = _announce(
                state, sku=menu_item.sku, before=before, actor=actor, reason=reason, node=site.node
            ).calls
    return StateResult(state, calls)


def clear_sold_out(*, site: Site, item: Item | int, actor: Any, reason: str = "") -> StateResult:
    """A manager releases a hold: the item is back in stock at once (platforms told) when the
    store can make it, else it stays sold out until stock returns. 409 `not_held` otherwise."""
    require_permission(actor, CHANNELS_MANAGE, site.node)
    if len(reason) > 200:
        raise ValidationFailed({"reason": [_("At most 200 characters.")]})
    menu_item = _menu_item(item)
    with transaction.atomic():
        state = _locked_states(site, [menu_item.pk])[menu_item.pk]
        if not state.is_manual:
            raise NotHeld()
        before = snapshot(state, STATE_AUDIT_FIELDS)
        count = sellable_counts(site, [menu_item.pk]).get(menu_item.pk)
        state.is_manual = False
        state.sellable = count
        state.is_sold_out = count is not None and count <= 0
        state.reason = reason.strip()
        state.changed_at = state.computed_at = timezone.now()
        state.changed_by = actor if getattr(actor, "pk", None) is not None else None
        state.save()
        calls: list[int] = []
        if state.is_sold_out:
            record_audit(
                actor=actor,
                action="channels.item.release",
                target=state,
                before=before,
                after=snapshot(state, STATE_AUDIT_FIELDS),
                reason=reason,
                org_node=site.node,
            )
        else:
            calls = _announce(
                state, sku=menu_item.sku, before=before, actor=actor, reason=reason, node=site.node
            ).calls
    return StateResult(state, calls)


def resend_for_mapping(account: ChannelAccount, item_id: int) -> list[OutboundCall]:
    """A code just mapped on a platform account for an item sold out at its store: tell the
    platform now (in the caller's transaction)."""
    if account.kind not in outbound.PLATFORM_KINDS or not account.is_active:
        return []
    state = SoldOutState.objects.filter(site_id=account.site_id, item_id=item_id).first()
    if state is None or not state.is_sold_out:
        return []
    codes = list(
        MenuMapping.objects.filter(account=account, kind=MappingKind.ITEM, item_id=item_id)
        .order_by("external_code")
        .values_list("external_code", flat=True)
    )
    return queue_platform_calls(
        account.site_id, item_id, sold_out=True, accounts=[(account, codes)] if codes else []
    )


class NotHeld(Conflict):
    """Clearing an item that is not held sold out by hand."""

    code = "not_held"
    default_message = gettext_lazy("This item is not held sold out by hand.")


# --- selectors ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PanelRow:
    """A menu item on a store's sold-out panel."""

    item_id: int
    sku: str
    name: str
    sellable: int | None
    is_sold_out: bool
    is_manual: bool
    reason: str
    changed_at: dt.datetime | None


def panel_site(actor: Any, site_id: int, permission: str = CHANNELS_VIEW) -> Site:
    """A store the actor may see (404 otherwise) and holds `permission` at (403 otherwise)."""
    site = get_site(actor, site_id)
    require_permission(actor, permission, site.node)
    if site.node.kind != "store":
        raise NotFound()
    return site


def panel(actor: Any, site: Site) -> list[PanelRow]:
    """The store's menu with live counts and states, sold-out items first, then fewest left."""
    require_permission(actor, CHANNELS_VIEW, site.node)
    counts = sellable_counts(site)
    states = {
        state.item_id: state
        for state in SoldOutState.objects.filter(site=site, item_id__in=list(counts))
    }
    items = {
        item.pk: item for item in menu_items().filter(pk__in=list(counts)).only("pk", "sku", "name")
    }
    rows = []
    for item_id, count in counts.items():
        state = states.get(item_id)
        item = items[item_id]
        rows.append(
            PanelRow(
                item_id=item_id,
                sku=item.sku,
                name=item.name,
                sellable=count,
                is_sold_out=state.is_sold_out if state is not None else False,
                is_manual=state.is_manual if state is not None else False,
                reason=state.reason if state is not None else "",
                changed_at=state.changed_at if state is not None else None,
            )
        )
    rows.sort(
        key=lambda row: (
            not row.is_sold_out,
            row.sellable is None,
            row.sellable if row.sellable is not None else 0,
            row.name,
        )
    )
    return rows


def outbound_calls_for(
    actor: Any, *, site: Site | None = None, status: str | None = None
) -> QuerySet[OutboundCall]:
    """Outbound calls of the accounts at stores the actor may see channels at, newest first."""
    rows = OutboundCall.objects.restrict(actor, CHANNELS_VIEW).select_related("account", "item")
    if site is not None:
        rows = rows.filter(account__site=site)
    if status:
        rows = rows.filter(status=status)
    return rows.order_by("-pk")


def get_outbound_call(actor: Any, call_id: int, permission: str = CHANNELS_VIEW) -> OutboundCall:
    try:
        return (
            OutboundCall.objects.restrict(actor, permission)
            .select_related("account__site__node", "item")
            .get(pk=call_id)
        )
    except OutboundCall.DoesNotExist:
        raise NotFound() from None
