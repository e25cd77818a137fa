"""Menu prices and price lists."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from backroom.audit.services import record_audit, snapshot
from backroom.catalog.choices import SELLABLE_KINDS
from backroom.catalog.events import MenuPriceSet
from backroom.catalog.models import Item, MenuPrice
from backroom.catalog.selectors import root_node
from backroom.catalog.services.common import Problems, _decimal, require_catalog_manage
from backroom.events.services import publish
from backroom.kernel.exceptions import NotFound
from backroom.kernel.money import CURRENCIES, MONEY_PLACES
from backroom.org.models import OrgNode, Site

# --- menu prices ----------------------------------------------------------------------------


@dataclass
class MenuPriceInput:
    price: Decimal
    currency: str
    effective_from: dt.date
    site_id: int | None = None


def set_menu_price(item: Item, data: MenuPriceInput, *, actor: Any, reason: str = "") -> MenuPrice:
    """Set an item's price from a date, in a chain price list (no site; one per currency) or
    for one site. Setting a price again for the same slot and date replaces it (audited).
    """
    site = None
    if data.site_id is not None:
        site = Site.objects.select_related("node", "legal_entity").filter(pk=data.site_id).first()
        if site is None:
            raise NotFound()
    require_catalog_manage(actor, site)
    problems = Problems()
    if item.kind not in SELLABLE_KINDS:
        problems.add("item", _("Only menu items and retail goods have menu prices."))
    price = _decimal(
        problems, "price", data.price, places=MONEY_PLACES, digits=18, not_negative=True
    )
    if data.currency not in CURRENCIES:
        problems.add(
            "currency",
            _("“%(currency)s” is not a supported currency.") % {"currency": data.currency},
        )
    if not isinstance(data.effective_from, dt.date):
        problems.add("effective_from", _("A start date is required."))
    problems.raise_if_any()
    with transaction.atomic():
        same_slot = MenuPrice.objects.select_for_update().filter(
            item=item, site=site, effective_from=data.effective_from
        )
        if site is None:  # the chain keeps one price list per currency
            same_slot = same_slot.filter(currency=data.currency)
        existing = same_slot.first()
        before = snapshot(existing) if existing is not None else None
        if existing is not None:
            existing.price = price  # type: ignore[assignment]
            existing.currency = data.currency
            existing.save(update_fields=["price", "currency", "updated_at"])
            menu_price = existing
        else:
            menu_price = MenuPrice.objects.create(
                item=item,
                site=site,
                price=price,
                currency=data.currency,
                effective_from=data.effective_from,
            )
        node: OrgNode | None = site.node if site is not None else root_node()
        record_audit(
            actor=actor,
            action="catalog.menu_price.set",
            target=menu_price,
            before=before,
            after=snapshot(menu_price),
            reason=reason,
            org_node=node,
        )
        publish(
            MenuPriceSet(
                menu_price_id=menu_price.pk,
                item_id=item.pk,
                sku=item.sku,
                site_id=site.pk if site is not None else None,
                price=str(menu_price.price),
                currency=menu_price.currency,
                effective_from=data.effective_from.isoformat(),
            ),
            org_node=node,
        )
    return menu_price


@dataclass
class PriceListLine:
    sku: str
    price: Decimal


def set_price_list(
    lines: list[PriceListLine],
    *,
    currency: str,
    effective_from: dt.date,
    site_id: int | None = None,
    actor: Any,
    reason: str = "",
) -> list[MenuPrice]:
    """Set many prices at once from a date: a chain price list in one currency (no site) or
    one site's prices. One audit entry on the node (the root or the site) lists every price;
    each price still publishes `catalog.menu_price.set`. Same-day prices are replaced."""
    site = None
    if site_id is not None:
        site = Site.objects.select_related("node", "legal_entity").filter(pk=site_id).first()
        if site is None:
            raise NotFound()
    require_catalog_manage(actor, site)
    problems = Problems()
    if currency not in CURRENCIES:
        problems.add(
            "currency", _("“%(currency)s” is not a supported currency.") % {"currency": currency}
        )
    if not isinstance(effective_from, dt.date):
        problems.add("effective_from", _("A start date is required."))
    if not lines:
        problems.add("lines", _("A price list needs at least one price."))
    items = {row.sku: row for row in Item.objects.filter(sku__in=[line.sku for line in lines])}
    seen: set[str] = set()
    checked: list[tuple[Item, Decimal]] = []
    for index, line in enumerate(lines):
        item = items.get(line.sku)
        if item is None:
            problems.add(f"lines.{index}.sku", _("There is no item %(sku)s.") % {"sku": line.sku})
        elif item.kind not in SELLABLE_KINDS:
            problems.add(
                f"lines.{index}.sku", _("Only menu items and retail goods have menu prices.")
            )
        elif line.sku in seen:
            problems.add(f"lines.{index}.sku", _("%(sku)s is listed twice.") % {"sku": line.sku})
        seen.add(line.sku)
        price = _decimal(
            problems,
            f"lines.{index}.price",
            line.price,
            places=MONEY_PLACES,
            digits=18,
            not_negative=True,
        )
        if item is not None and price is not None:
            checked.append((item, price))
    problems.raise_if_any()
    node: OrgNode | None = site.node if site is not None else root_node()
    with transaction.atomic():
        same_day = MenuPrice.objects.select_for_update().filter(
            site=site, effective_from=effective_from, item__in=[item for item, _p in checked]
        )
        if site is None:
            same_day = same_day.filter(currency=currency)
        existing = {row.item_id: row for row in same_day}
        before = {
            items_row.sku: str(existing[items_row.pk].price)
            for items_row, _p in checked
            if items_row.pk in existing
        }
        saved: list[MenuPrice] = []
        for item, price in checked:
            row = existing.get(item.pk)
            if row is not None:
                row.price, row.currency = price, currency
                row.save(update_fields=["price", "currency", "updated_at"])
            else:
                row = MenuPrice.objects.create(
                    item=item,
                    site=site,
                    price=price,
                    currency=currency,
                    effective_from=effective_from,
                )
            saved.append(row)
        if saved:
            record_audit(
                actor=actor,
                action="catalog.price_list.set",
                target=node if node is not None else saved[0],
                before={"prices": before} if before else None,
                after={
                    "site_id": site.pk if site is not None else None,
                    "currency": currency,
                    "effective_from": effective_from,
                    "prices": {
                        item.sku: str(row.price)
                        for (item, _p), row in zip(checked, saved, strict=True)
                    },
                },
                reason=reason,
                org_node=node,
            )
        for (item, _price), row in zip(checked, saved, strict=True):
            publish(
                MenuPriceSet(
                    menu_price_id=row.pk,
                    item_id=item.pk,
                    sku=item.sku,
                    site_id=site.pk if site is not None else None,
                    price=str(row.price),
                    currency=row.currency,
                    effective_from=effective_from.isoformat(),
                ),
                org_node=node,
            )
    return saved
