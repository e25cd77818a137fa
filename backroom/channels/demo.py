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
- Every store has 60 days of order history (`_History`, imported with `history.import_history`
  as sales from before go-live: counted in the rollups, never depleted; see
  docs/decisions/0007-sales-history-without-depletion.md). For the 21 days the stock demo
  covers, the orders sell exactly the portions its sale depletions used, dish by dish, so the
  sales pages and the AvT's theoretical usage tell the same story; the earlier days follow
  each store's own dishes and levels. Weekly seasonality (Friday and Saturday busiest, Sunday
  next), lunch and dinner peaks, two member-day promotions (20 % off, busier) and a public
  holiday (busier still). At SH001 and SH002 dishes also sell on Meituan and Ele.me (drinks
  only at the tills).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.utils import timezone

from backroom.catalog.choices import ItemKind
from backroom.catalog.models import Item
from backroom.catalog.selectors import site_today
from backroom.channels import history, intake, pos, services, soldout
from backroom.channels.choices import ChannelKind, OrderStatus
from backroom.channels.depletion import StockPlaces
from backroom.channels.models import ChannelAccount, Order
from backroom.channels.platforms.base import (
    CanonicalOrder,
    EventKind,
    LineIn,
    PlatformEvent,
)
from backroom.inventory.choices import MoveReason
from backroom.inventory.models import StockMove
from backroom.inventory.reports import SALES_SOURCE
from backroom.kernel.actors import SYSTEM
from backroom.kernel.dates import business_date
from backroom.org.choices import NodeKind
from backroom.org.models import OrgNode, Site

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
    if menu:
        _History(ctx, stores, accounts, menu).run()
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
                staff_code=f"{site.node.code}-{(n + 1) % TILL_STAFF + 1:02d}",
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


# --- 60 days of order history -----------------------------------------------------------------

HISTORY_DAYS = 60
# Weekday levels (Monday first) for the days before the stock demo's window; inside it the
# portions are the stock demo's own (Friday and Saturday × 1.3).
WEEKDAY = (0.92, 0.9, 0.95, 1.0, 1.3, 1.32, 1.12)
PROMO_DAYS_AGO = (47, 33)  # member days: 20 % off everything, 40 % busier
PROMO_LIFT, PROMO_OFF = 1.4, Decimal("0.20")
HOLIDAY_LIFT = 1.6
# Public holidays with a fixed date (month, day, days), and Spring Festival by year.
HOLIDAYS = (
    (1, 1, 1, "元旦 New Year's Day"),
    (5, 1, 5, "劳动节 Labour Day"),
    (10, 1, 7, "国庆节 National Day"),
)
SPRING_FESTIVAL = {
    2026: dt.date(2026, 2, 17),
    2027: dt.date(2027, 2, 6),
    2028: dt.date(2028, 1, 26),
}
# Share of a store's dishes sold on each platform, where it is on them (drinks: tills only).
PLATFORM_SHARE = {ChannelKind.MEITUAN: 0.28, ChannelKind.ELEME: 0.14}
# Dishes per order: tills (tables) and delivery.
TILL_SIZES, TILL_WEIGHTS = (1, 2, 3, 4, 5, 6), (10, 22, 25, 20, 13, 10)
TILL_STAFF = 3  # cashiers per store: the till orders are rung up by each in turn
DELIVERY_SIZES, DELIVERY_WEIGHTS = (1, 2, 3), (45, 40, 15)
# When orders are placed (local hour as a float): lunch, dinner, afternoon, late.
DAYPARTS = ((0.46, 12.2, 0.75), (0.38, 18.6, 0.9), (0.10, 15.3, 0.9), (0.06, 20.9, 0.5))
OPEN, CLOSE = 10.0, 21.98


def holidays_between(first: dt.date, last: dt.date) -> dict[dt.date, str]:
    """Public holidays (mainland China) from `first` to `last`."""
    found: dict[dt.date, str] = {}
    for year in range(first.year, last.year + 1):
        spans = [(dt.date(year, month, day), days, name) for month, day, days, name in HOLIDAYS]
        if year in SPRING_FESTIVAL:
            spans.append((SPRING_FESTIVAL[year], 7, "春节 Spring Festival"))
        for start, days, name in spans:
            for offset in range(days):
                day = start + dt.timedelta(days=offset)
                if first <= day <= last:
                    found[day] = name
    return found


def _menu_prices() -> dict[str, dict[str, Decimal]]:
    from backroom.catalog.demo import MENU, RETAIL

    prices = {sku: {"CNY": Decimal(cny), "HKD": Decimal(hkd)} for sku, _n, _c, cny, hkd, _l in MENU}
    prices |= {sku: {"CNY": Decimal(cny), "HKD": Decimal(hkd)} for sku, _n, _c, cny, hkd in RETAIL}
    return prices


class _History:
    """Orders for the business days today − 60 … today − 1 at every store (see the module)."""

    def __init__(
        self,
        ctx: DemoContext,
        stores: list[OrgNode],
        accounts: dict[str, dict[str, ChannelAccount]],
        menu: list[Item],
    ) -> None:
        self.rng = ctx.random
        self.accounts = accounts
        self.sites = {
            node.code: Site.objects.select_related("node", "legal_entity").get(node_id=node.pk)
            for node in stores
        }
        self.mapped = {item.pk for item in menu}
        self.prices = _menu_prices()
        self.items = {item.pk: item for item in Item.objects.filter(sku__in=self.prices)}

    def run(self) -> None:
        sold = self._stock_demo_sales()
        for code, site in self.sites.items():
            today = site_today(site)
            first = today - dt.timedelta(days=HISTORY_DAYS)
            plan = self._plan(site, today, sold.get(site.pk, {}))
            orders: dict[str, list[CanonicalOrder]] = defaultdict(list)
            for day in sorted(plan):
                for kind, order in self._orders(code, site, day, plan[day], first):
                    orders[kind].append(order)
            for kind, batch in orders.items():
                history.import_history(
                    self.accounts[code][kind],
                    batch,
                    actor=SYSTEM,
                    today=today,
                    source="demo: orders before go-live",
                )

    # what was sold -----------------------------------------------------------------------

    def _stock_demo_sales(self) -> dict[int, dict[dt.date, dict[int, int]]]:
        """Portions per store, business day and dish that the stock demo depleted (its sold
        lines, `sales.menu_item`): the history sells exactly these on those days."""
        by_site = {site.pk: site for site in self.sites.values()}
        sold: dict[int, dict[dt.date, dict[int, int]]] = defaultdict(lambda: defaultdict(dict))
        rows = (
            StockMove.objects.filter(
                site_id__in=list(by_site), reason=MoveReason.SALE, source_type=SALES_SOURCE
            )
            .values_list("site_id", "posting_id", "source_id", "source_number", "occurred_at")
            .distinct()
            .order_by()
        )
        for site_id, _posting, dish, portions, occurred_at in rows:
            if not dish.isdigit() or int(dish) not in self.items or not portions.isdigit():
                continue
            site = by_site[site_id]
            day = business_date(occurred_at, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour)
            day_sales = sold[site_id][day]
            day_sales[int(dish)] = day_sales.get(int(dish), 0) + int(portions)
        return sold

    def _plan(
        self, site: Site, today: dt.date, sold: dict[dt.date, dict[int, int]]
    ) -> dict[dt.date, tuple[dict[int, int], str]]:
        """Portions per day and dish, with what made the day special ("" on ordinary days)."""
        rng = self.rng
        # Each dish's level on an ordinary day: the stock demo's Monday–Thursday mean, or
        # (a store the stock demo did not sell at) popularity like it.
        ordinary = [day for day in sold if day.weekday() < 4]
        level: dict[int, float] = {}
        if ordinary:
            totals: dict[int, int] = defaultdict(int)
            for day in ordinary:
                for dish, portions in sold[day].items():
                    totals[dish] += portions
            level = {dish: total / len(ordinary) for dish, total in totals.items()}
        else:
            level = {
                dish: float(rng.choice([4, 6, 8, 10, 14, 18]))
                for dish in sorted(self.mapped)
                if rng.random() < 0.6
            }
        first = today - dt.timedelta(days=HISTORY_DAYS)
        holidays = holidays_between(first, today - dt.timedelta(days=1))
        plan: dict[dt.date, tuple[dict[int, int], str]] = {}
        for offset in range(HISTORY_DAYS):
            day = first + dt.timedelta(days=offset)
            if day in sold:
                plan[day] = (dict(sold[day]), "")
                continue
            lift, why = WEEKDAY[day.weekday()], ""
            if day in holidays:
                lift, why = max(lift, 1.0) * HOLIDAY_LIFT, holidays[day]
            elif (today - day).days in PROMO_DAYS_AGO:
                lift, why = lift * PROMO_LIFT, "promo"
            day_portions: dict[int, int] = {}
            for dish, base in sorted(level.items()):
                count = int(base * lift * rng.uniform(0.8, 1.2) + rng.random())
                if count > 0:
                    day_portions[dish] = count
            plan[day] = (day_portions, why)
        return plan

    # orders ------------------------------------------------------------------------------

    def _minute(self) -> float:
        """A local time of day (hours) from the lunch / dinner / afternoon / late mixture."""
        rng = self.rng
        pick = rng.random()
        mean, spread = DAYPARTS[-1][1:]
        for share, part_mean, part_spread in DAYPARTS:
            if pick <= share:
                mean, spread = part_mean, part_spread
                break
            pick -= share
        return min(max(rng.gauss(mean, spread), OPEN), CLOSE)

    def _orders(
        self,
        code: str,
        site: Site,
        day: dt.date,
        planned: tuple[dict[int, int], str],
        first: dt.date,
    ) -> list[tuple[str, CanonicalOrder]]:
        rng = self.rng
        portions, why = planned
        currency = site.legal_entity.base_currency
        platforms = [kind for kind in PLATFORM_SHARE if kind in self.accounts[code]]
        units: dict[str, list[int]] = defaultdict(list)
        for dish, count in sorted(portions.items()):
            for _ in range(count):
                kind: str = ChannelKind.POS
                if platforms and dish in self.mapped:
                    pick, acc = rng.random(), 0.0
                    for platform in platforms:
                        acc += PLATFORM_SHARE[platform]
                        if pick < acc:
                            kind = platform
                            break
                units[kind].append(dish)
        zone = ZoneInfo(site.time_zone)
        midnight = dt.datetime(day.year, day.month, day.day, tzinfo=zone)
        result: list[tuple[str, CanonicalOrder]] = []
        for kind, dishes in units.items():
            rng.shuffle(dishes)
            sizes, weights = (
                (TILL_SIZES, TILL_WEIGHTS)
                if kind == ChannelKind.POS
                else (DELIVERY_SIZES, DELIVERY_WEIGHTS)
            )
            number = 0
            while dishes:
                size = rng.choices(sizes, weights)[0]
                taken, dishes = dishes[:size], dishes[size:]
                number += 1
                placed_at = midnight + dt.timedelta(hours=self._minute())
                result.append(
                    (kind, self._order(code, kind, day, number, taken, placed_at, currency, why))
                )
        return result

    def _order(
        self,
        code: str,
        kind: str,
        day: dt.date,
        number: int,
        dishes: list[int],
        placed_at: dt.datetime,
        currency: str,
        why: str,
    ) -> CanonicalOrder:
        rng = self.rng
        account = self.accounts[code][kind]
        quantities: dict[int, int] = defaultdict(int)
        for dish in dishes:
            quantities[dish] += 1
        lines = []
        for line_no, (dish, quantity) in enumerate(sorted(quantities.items()), start=1):
            item = self.items[dish]
            if kind == ChannelKind.MEITUAN:
                sku = _meituan_code(item)
            elif kind == ChannelKind.ELEME:
                sku = _eleme_code(item)
            else:
                sku = item.sku
            lines.append(
                LineIn(
                    line_no=line_no,
                    external_sku=sku,
                    name=item.name,
                    quantity=Decimal(quantity),
                    unit_price=self.prices[item.sku][currency],
                )
            )
        original = sum((line.unit_price * line.quantity for line in lines), Decimal(0))
        merchant = (original * PROMO_OFF).quantize(C) if why == "promo" else Decimal(0)
        platform_discount = delivery = packaging = commission = Decimal(0)
        income = None
        staff = ""
        if kind == ChannelKind.POS:
            external_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            display = f"T{number:03d}"
            staff = f"{code}-{number % TILL_STAFF + 1:02d}"
        else:
            platform_discount, delivery, packaging = Decimal(3), Decimal(4), Decimal(2)
            merchant += Decimal(5) if original >= 40 else Decimal(0)
            commission = (original * Decimal("0.18")).quantize(C)
            serial = f"{day:%y%m%d}{int(''.join(ch for ch in code if ch.isdigit()) or 0):03d}"
            prefix = "27" if kind == ChannelKind.MEITUAN else "30"
            external_id = f"{prefix}{serial}{number:05d}{rng.randint(100, 999)}"
            display = f"#{number}"
        total = original + packaging + delivery - platform_discount - merchant
        if kind != ChannelKind.POS:
            income = total + platform_discount - commission - delivery
        return CanonicalOrder(
            external_id=external_id,
            display_id=display,
            store_ref=account.store_ref,
            placed_at=placed_at,
            status=OrderStatus.COMPLETED,
            lines=tuple(lines),
            currency=currency,
            total=total,
            original_price=original,
            platform_discount=platform_discount,
            merchant_discount=merchant,
            delivery_fee=delivery,
            packaging_fee=packaging,
            commission=commission,
            income=income,
            notes=why if why and why != "promo" else "",
            staff_code=staff,
        )
