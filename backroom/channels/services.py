"""Channel accounts and menu mappings. Saving a mapping catches up the lines it maps: they are
mapped, and those of completed orders are depleted then (never imported history's)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from backroom.accounts.authorization import require_permission
from backroom.audit.services import record_audit, snapshot
from backroom.catalog.choices import SELLABLE_KINDS
from backroom.catalog.models import Item, Modifier
from backroom.channels import intake
from backroom.channels.choices import AfterDepletion, ChannelKind, MappingKind, OrderStatus
from backroom.channels.events import AccountCreated, MappingSaved
from backroom.channels.models import ChannelAccount, MenuMapping, Order, OrderLine
from backroom.channels.permissions import CHANNELS_MANAGE
from backroom.events.services import publish
from backroom.inventory.models import Location
from backroom.kernel.bulk import update_rows
from backroom.kernel.exceptions import Conflict, ErrorCollector
from backroom.org.models import Site

_ACCOUNT_FIELDS = ["site", "kind", "name", "store_ref", "location", "after_depletion", "is_active"]


def create_account(
    *,
    site: Site,
    kind: str,
    name: str,
    store_ref: str = "",
    secrets: dict[str, str] | None = None,
    location: Location | None = None,
    after_depletion: str = AfterDepletion.WASTE,
    actor: Any,
) -> ChannelAccount:
    """Connect a store to a channel. `store_ref` defaults to the store's code (for our POS)."""
    require_permission(actor, CHANNELS_MANAGE, site.node)
    errors = ErrorCollector()
    if kind not in ChannelKind.values:
        errors.add("kind", _("Choose a channel."))
    if not name.strip() or len(name) > 100:
        errors.add("name", _("A name of 1 to 100 characters is required."))
    ref = (store_ref or site.node.code).strip()
    if len(ref) > 64:
        errors.add("store_ref", _("At most 64 characters."))
    if after_depletion not in AfterDepletion.values:
        errors.add("after_depletion", _("Choose waste or return."))
    if location is not None and location.site_id != site.pk:
        errors.add("location_id", _("The location is not at this store."))
    errors.raise_if_any()
    try:
        with transaction.atomic():
            account = ChannelAccount.objects.create(
                site=site,
                kind=kind,
                name=name.strip(),
                store_ref=ref,
                secrets=secrets or {},  # type: ignore[misc]
                location=location,
                after_depletion=after_depletion,
            )
            record_audit(
                actor=actor,
                action="channels.account.create",
                target=account,
                after=snapshot(account, _ACCOUNT_FIELDS),
                org_node=site.node,
            )
            publish(
                AccountCreated(account_id=account.pk, site_id=site.pk, kind=kind, store_ref=ref),
                org_node=site.node,
            )
    except IntegrityError:
        raise Conflict(
            _("Another account of this channel already uses the store code %(ref)s.")
            % {"ref": ref},
            details={"store_ref": ref},
        ) from None
    return account


def save_mapping(
    *,
    account: ChannelAccount,
    external_code: str,
    actor: Any,
    item: Item | None = None,
    modifier: Modifier | None = None,
    modifier_codes: Sequence[str] = (),
) -> tuple[MenuMapping, int]:
    """Map an external SKU to a menu item (with modifiers always applied), or an external
    modifier code to a modifier; replaces the previous mapping of that code. Lines already
    received with that SKU are mapped now, and those of completed orders depleted. Returns
    (mapping, lines caught up)."""
    require_permission(actor, CHANNELS_MANAGE, account.site.node)
    errors = ErrorCollector()
    code = external_code.strip()
    if not code or len(code) > 100:
        errors.add("external_code", _("A code of 1 to 100 characters is required."))
    kind = MappingKind.ITEM if modifier is None else MappingKind.MODIFIER
    if (item is None) == (modifier is None):
        errors.add("item_id", _("Choose a menu item or a modifier."))
    if item is not None and (item.kind not in SELLABLE_KINDS or not item.is_active):
        errors.add("item_id", _("%(sku)s is not sold.") % {"sku": item.sku})
    known = set(Modifier.objects.filter(code__in=modifier_codes).values_list("code", flat=True))
    for unknown in sorted(set(modifier_codes) - known):
        errors.add("modifier_codes", _("There is no modifier %(code)s.") % {"code": unknown})
    errors.raise_if_any()
    with transaction.atomic():
        mapping = (
            MenuMapping.objects.select_for_update()
            .filter(account=account, kind=kind, external_code=code)
            .first()
        )
        before = snapshot(mapping) if mapping is not None else None
        if mapping is None:
            mapping = MenuMapping(account=account, kind=kind, external_code=code)
        mapping.item = item
        mapping.modifier = modifier
        mapping.modifier_codes = list(modifier_codes)
        mapping.updated_by = actor if getattr(actor, "pk", None) is not None else None
        mapping.save()
        record_audit(
            actor=actor,
            action="channels.mapping.save",
            target=mapping,
            before=before,
            after=snapshot(mapping),
            org_node=account.site.node,
        )
        caught_up = _catch_up(mapping) if kind == MappingKind.ITEM else 0
        publish(
            MappingSaved(
                mapping_id=mapping.pk,
                account_id=account.pk,
                kind=kind,
                external_code=code,
                item_id=mapping.item_id,
                modifier_id=mapping.modifier_id,
                caught_up_lines=caught_up,
            ),
            org_node=account.site.node,
        )
    return mapping, caught_up


def _catch_up(mapping: MenuMapping) -> int:
    """Map the flagged lines of this SKU; deplete those of completed orders."""
    lines = list(
        OrderLine.objects.filter(
            order__account=mapping.account,
            is_unmapped=True,
            external_sku=mapping.external_code,
        ).select_related("order")
    )
    if not lines:
        return 0
    fixed = [
        {"code": code, "name": "", "quantity": "1", "modifier": code, "fixed": True}
        for code in mapping.modifier_codes
    ]
    for line in lines:
        line.menu_item_id = mapping.item_id
        line.is_unmapped = False
        line.modifiers = [entry for entry in line.modifiers if not entry.get("fixed")] + fixed
    update_rows(lines, ["menu_item", "is_unmapped", "modifiers"])
    for order_id, count in Counter(line.order_id for line in lines).items():
        Order.objects.filter(pk=order_id).update(unmapped_lines=F("unmapped_lines") - count)
    orders = {line.order_id: line.order for line in lines}
    for order in sorted(orders.values(), key=lambda row: row.pk):
        if order.is_history:
            continue  # sales from before go-live never deplete (channels/history.py)
        if order.status in (OrderStatus.COMPLETED, OrderStatus.PARTIALLY_REFUNDED):
            intake.deplete_pending(order)
    return len(lines)
