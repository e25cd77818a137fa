"""Demo seed for sales channels: till and delivery-platform accounts, menu mappings, and a
lunchtime of live orders at SH001, so the order board, sold-out panel, unmapped items, sales
and settlement pages have something true to show.

- Every store has a till account (our POS API).
- SH001 and SH002 are on Meituan Waimai and Ele.me as well. Their credentials are demo values
  and their outbound calls (sold out, back in stock) are recorded but never sent (the accounts
  are marked `dry_run`). Every menu item is mapped except two on Meituan, so the
  "Unmapped items" list has a seasonal special and a new drink waiting.
- SH001 had its fresh delivery this morning and sold at its tills over the last hours; Meituan and Ele.me orders are at every stage:
  received, accepted, preparing, delivering, completed (one Ele.me settlement differs by ¥1.50
  from our computation), plus one new order with an unmapped dish.
- The store manager holds one dish sold out by hand ("the braised beef ran out").

Not yet: 60 days of order history (the AvT report still reads the stock demo's sales there).
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING

from django.utils import timezone

from backroom.catalog.choices import ItemKind
from backroom.catalog.models import Item
from backroom.channels import intake, pos, services, soldout
from backroom.channels.choices import ChannelKind, OrderStatus
from backroom.channels.depletion import StockPlaces
from backroom.channels.models import ChannelAccount, Order
from backroom.channels.platforms.base import (
    CanonicalOrder,
    EventKind,
    LineIn,
    PlatformEvent,
)
from backroom.kernel.actors import SYSTEM
from backroom.org.choices import NodeKind

if TYPE_CHECKING:
    from backroom.config.demo import DemoContext

PLATFORM_STORES = ("SH001", "SH002")
UNMAPPED = {"mt-seasonal-hotpot-noodle": "秋季限定 火锅拌面", "mt-osmanthus-soda": "桂花气泡水"}
HELD = "M-BEEF-NOODLE"
C = Decimal("0.01")


def seed(ctx: DemoContext) -> None:
    catalog = ctx.extra.get("catalog")
    if not catalog:
        return
    menu = [
        item
        for item in Item.objects.filter(sku__in=catalog["menu"], kind="menu").order_by("sku")
        if item.recipes.exists()
    ]
    stores = sorted(
        (node for node in ctx.nodes.values() if node.kind == NodeKind.STORE),
        key=lambda node: node.code,
    )
    accounts: dict[str, dict[str, ChannelAccount]] = {}
    for node in stores:
        site = node.site
        accounts[node.code] = {
            ChannelKind.POS: services.create_account(
                site=site, kind=ChannelKind.POS, name="收银台 Tills", actor=SYSTEM
            )
        }
        if node.code in PLATFORM_STORES:
            accounts[node.code] |= _platform_accounts(node.code, site, menu)
    if "SH001" in accounts and menu:
        _lunchtime(ctx, accounts["SH001"], menu)
        manager = ctx.users.get("manager.sh001", SYSTEM)
        held = next((item for item in menu if item.sku == HELD), None)
        if held is not None:
            soldout.mark_sold_out(
                site=ctx.nodes["SH001"].site,
                item=held,
                reason="红烧牛肉用完 The braised beef ran out",
                actor=manager,
            )


def _platform_accounts(code: str, site, menu: list[Item]) -> dict[str, ChannelAccount]:  # type: ignore[no-untyped-def]
    number = int("".join(ch for ch in code if ch.isdigit()) or "1")
    meituan = services.create_account(
        site=site,
        kind=ChannelKind.MEITUAN,
        name="美团外卖 Meituan",
        store_ref=f"MT-{code}",
        secrets={"app_id": "demo-app", "app_secret": "demo-secret-not-real", "dry_run": "1"},
        after_depletion="waste",
        actor=SYSTEM,
    )
    eleme = services.create_account(
        site=site,
        kind=ChannelKind.ELEME,
        name="饿了么 Ele.me",
        store_ref=str(170000000 + number),
        secrets={
            "app_key": "demo-key",
            "secret": "demo-secret-not-real",
            "token": "demo",
            "dry_run": "1",
        },
        after_depletion="return",
        actor=SYSTEM,
    )
    for item in menu:
        services.save_mapping(
            account=meituan, external_code=_meituan_code(item), item=item, actor=SYSTEM
        )
        services.save_mapping(
            account=eleme, external_code=_eleme_code(item), item=item, actor=SYSTEM
        )
    return {ChannelKind.MEITUAN: meituan, ChannelKind.ELEME: eleme}


def _meituan_code(item: Item) -> str:
    return "mt-" + item.sku.lower().removeprefix("m-")


def _eleme_code(item: Item) -> str:
    return f"{1_000_000 + item.pk}:{2_000_000 + item.pk}"


def _price(item: Item) -> Decimal:
    from backroom.catalog.demo import MENU

    prices = {sku: Decimal(cny) for sku, _name, _category, cny, _hkd, _lines in MENU}
    return prices.get(item.sku, Decimal(28))


def _morning_delivery(site, now: dt.datetime) -> None:  # type: ignore[no-untyped-def]
    """Today's fresh delivery, before the first sale: every ingredient and drink, into the
    location the store keeps it in (as depletion will look for it)."""
    from backroom.inventory import services as inventory

    places = StockPlaces()
    probe = Order(site=site, account=ChannelAccount(site=site))
    when = now - dt.timedelta(hours=4)
    lines = []
    for item in Item.objects.filter(
        kind__in=(ItemKind.INGREDIENT, ItemKind.RETAIL), is_active=True
    ).order_by("sku"):
        quantity = Decimal(30) if item.base_unit.code == "each" else Decimal(5)
        expiry = when.date() + dt.timedelta(days=item.shelf_life_days or 30)
        lines.append(
            inventory.MoveInput(
                action=inventory.RECEIVE,
                item_id=item.pk,
                location_id=places.location_id(probe, item.pk),
                quantity=quantity,
                unit_cost=Decimal(item.standard_cost or 1),
                lot_code=f"L{when:%y%m%d}",
                expiry_date=expiry,
                key=f"demo:{site.node.code}:{item.sku}:{when:%y%m%d}:channels",
                source=inventory.Source(
                    "procurement.receipt",
                    f"{site.node.code}-{when:%y%m%d}",
                    f"GR-{site.node.code}-{when:%y%m%d}",
                ),
                occurred_at=when,
            )
        )
    inventory.post_moves(lines, actor=SYSTEM)


def _lunchtime(ctx: DemoContext, accounts: dict[str, ChannelAccount], menu: list[Item]) -> None:
    rng = ctx.random
    now = timezone.now().replace(second=0, microsecond=0)
    site = accounts[ChannelKind.POS].site
    _morning_delivery(site, now)
    # Till sales over the last three hours, in one catch-up batch as a till would send them.
    orders = []
    for n in range(12):
        dishes = rng.sample(menu, rng.randint(1, 3))
        orders.append(
            pos.TillOrder(
                uuid=uuid.UUID(int=rng.getrandbits(128), version=4),
                store_id=site.pk,
                placed_at=now - dt.timedelta(minutes=180 - n * 14),
                display_id=f"T{n + 1:03d}",
                lines=[
                    pos.TillLine(sku=dish.sku, quantity=Decimal(1), unit_price=_price(dish))
                    for dish in dishes
                ],
            )
        )
    pos.submit_orders(orders, actor=SYSTEM)
    meituan = accounts.get(ChannelKind.MEITUAN)
    eleme = accounts.get(ChannelKind.ELEME)
    if meituan is None or eleme is None:
        return
    stages = [
        (meituan, OrderStatus.COMPLETED, 95, Decimal(0)),
        (meituan, OrderStatus.DELIVERING, 35, Decimal(0)),
        (meituan, OrderStatus.PREPARING, 18, Decimal(0)),
        (meituan, OrderStatus.ACCEPTED, 9, Decimal(0)),
        (meituan, OrderStatus.RECEIVED, 2, Decimal(0)),
        (eleme, OrderStatus.COMPLETED, 80, Decimal("1.50")),
        (eleme, OrderStatus.COMPLETED, 64, Decimal(0)),
        (eleme, OrderStatus.PREPARING, 12, Decimal(0)),
    ]
    for index, (account, status, minutes_ago, income_gap) in enumerate(stages):
        dishes = rng.sample(menu, 2)
        _platform_order(
            account,
            f"{index + 1:02d}",
            [(_code(account, dish), dish.name, _price(dish)) for dish in dishes],
            now - dt.timedelta(minutes=minutes_ago),
            status,
            income_gap,
        )
    # A new Meituan order with a dish the store has not mapped yet.
    _platform_order(
        meituan,
        "09",
        [(code, name, Decimal(36)) for code, name in UNMAPPED.items()],
        now - dt.timedelta(minutes=1),
        OrderStatus.RECEIVED,
        Decimal(0),
    )


def _code(account: ChannelAccount, item: Item) -> str:
    return _meituan_code(item) if account.kind == ChannelKind.MEITUAN else _eleme_code(item)


def _platform_order(
    account: ChannelAccount,
    number: str,
    lines: list[tuple[str, str, Decimal]],
    placed_at: dt.datetime,
    status: str,
    income_gap: Decimal,
) -> None:
    """A platform order placed at `placed_at` and pushed on through each stage to `status`."""
    is_meituan = account.kind == ChannelKind.MEITUAN
    day = placed_at.strftime("%y%m%d")
    external_id = (
        f"27{day}{account.pk:04d}{number}" if is_meituan else f"30{day}{account.pk:06d}00{number}"
    )
    original = sum((price for _code, _name, price in lines), Decimal(0))
    platform_discount = Decimal(3)
    merchant_discount = Decimal(5)
    delivery_fee = Decimal(4)
    packaging_fee = Decimal(2)
    total = original + packaging_fee + delivery_fee - platform_discount - merchant_discount
    commission = (original * Decimal("0.18")).quantize(C)
    # What the platform reports it will pay us (see docs/channels-sales.md for our side).
    income = total + platform_discount - commission - delivery_fee - income_gap
    order = CanonicalOrder(
        external_id=external_id,
        display_id=f"#{number}",
        store_ref=account.store_ref,
        placed_at=placed_at,
        status=OrderStatus.RECEIVED,
        lines=tuple(
            LineIn(
                line_no=n,
                external_sku=code,
                name=name,
                quantity=Decimal(1),
                unit_price=price,
            )
            for n, (code, name, price) in enumerate(lines, start=1)
        ),
        total=total,
        original_price=original,
        platform_discount=platform_discount,
        merchant_discount=merchant_discount,
        delivery_fee=delivery_fee,
        packaging_fee=packaging_fee,
        commission=commission,
        income=income,
        customer_name="李女士" if is_meituan else "陈先生",
        customer_phone="138****" + number.zfill(4),
        address="上海市黄浦区南京东路 300 号 " + number + " 室",
        notes="不要香菜 No coriander" if number == "03" else "",
    )
    intake.apply_event(
        account,
        PlatformEvent(
            kind=EventKind.ORDER_PLACED,
            external_order_id=external_id,
            event_key="placed",
            raw_type="order_placed",
            occurred_at=placed_at,
            status=OrderStatus.RECEIVED,
            order=order,
        ),
    )
    path: list[str] = [OrderStatus.ACCEPTED, OrderStatus.PREPARING, OrderStatus.READY]
    path += [OrderStatus.DELIVERING, OrderStatus.COMPLETED]
    reached = path[: path.index(status) + 1] if status in path else []
    for step, target in enumerate(reached, start=1):
        intake.apply_event(
            account,
            PlatformEvent(
                kind=EventKind.STATUS_CHANGED,
                external_order_id=external_id,
                event_key=str(target),
                raw_type=str(target),
                occurred_at=placed_at + dt.timedelta(minutes=3 * step),
                status=OrderStatus(target),
            ),
        )
