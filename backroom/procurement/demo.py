"""Demo seed for procurement (runs after the stock and sales seeds): suppliers, their prices,
delivery calendars and order guides for every demo store, then a morning at SH001 that went
through every step of the flow.

Master data, as the system:
- 沪鲜蔬菜 Hu Fresh Vegetables (daily, order by 22:00 for the next day), 申牛肉业 Shen Meat (Mon/
  Wed/Fri, lead time 1 day, order by 16:00, whole cases with minimums) and 粮油干货 Grain & Dry
  Goods (weekly on Tuesday, lead time 2 days, packs of bags) serve the CN-SH entity's stores;
  港島食品 Island Foods serves Hong Kong in HKD (Tue/Fri).
- group price lists (the North region's vegetables 6 % dearer on their own list), calendars per
  region (SH001 orders vegetables until 23:00), an order guide per store and supplier with pars.
- distribution (配送) to the East China stores: the Shanghai central kitchen (CK-SH) sends its
  broths, sauces and braises (made ahead) Monday to Saturday, order by 15:00 for the next day;
  the Shanghai warehouse (WH-SH) sends packaging on Tuesdays and Fridays, order by 12:00. Each
  East store has an order guide from both, in their own units and packs, with pars.

The SH001 story, through the services as the demo users (dated over the last days with the
business clock):
- manager.sh001's requisition for meat and vegetables → approved by whoever its approval waits
  for → two POs, sent by the buyer;
- the vegetables arrived in full (lots and expiry posted to stock) and their invoice matched
  (payable); the meat arrived short with one line rejected (temperature) and its invoice bills a
  higher price than the PO → in the review queue;
- a dry-goods requisition approved and its PO sent, arriving today (receive it on the phone);
- a small requisition of tomorrow's greens waiting for approval.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from backroom.approvals import runtime
from backroom.catalog.models import Item
from backroom.catalog.units import to_base
from backroom.kernel import clock
from backroom.kernel.actors import SYSTEM
from backroom.org.choices import NodeKind
from backroom.org.models import OrgNode
from backroom.procurement import services
from backroom.procurement.choices import RequisitionStatus
from backroom.procurement.models import PurchaseOrder, Requisition, Supplier, SupplierItem

if TYPE_CHECKING:
    from backroom.config.demo import DemoContext

PRICES_FROM = dt.date(2025, 6, 1)
D = Decimal

# code, name, node, currency, lead days, terms, whole packs, over-receipt %, calendar
# (weekdays, cut-off), contact (name, role, phone, e-mail)
SUPPLIERS: list[tuple[str, str, str, str, int, int, bool, str, list[int], dt.time, tuple[str, ...]]] = [
    ("HUFRESH", "沪鲜蔬菜 Hu Fresh Vegetables", "CN-SH", "CNY", 1, 15, False, "5",
     [1, 2, 3, 4, 5, 6, 7], dt.time(22, 0),
     ("王芳 Wang Fang", "调度 Dispatch", "+86 21 5555 0101", "dispatch@hufresh.example")),
    ("SHENMEAT", "申牛肉业 Shen Meat", "CN-SH", "CNY", 1, 30, True, "2",
     [1, 3, 5], dt.time(16, 0),
     ("李强 Li Qiang", "销售 Sales", "+86 21 5555 0202", "orders@shenmeat.example")),
    ("GRAINDRY", "粮油干货 Grain & Dry Goods", "CN-SH", "CNY", 2, 45, True, "0",
     [2], dt.time(12, 0),
     ("赵敏 Zhao Min", "客服 Customer service", "+86 21 5555 0303", "cs@graindry.example")),
    ("ISLAND", "港島食品 Island Foods", "HK-01", "HKD", 1, 30, False, "5",
     [2, 5], dt.time(15, 0),
     ("Chan Tai Man", "Sales", "+852 5555 0404", "sales@islandfoods.example")),
]  # fmt: skip

# supplier → (sku, purchase unit, pack size, MOQ, par in purchase units, price markup %)
SUPPLIER_ITEMS: dict[str, list[tuple[str, str, str, str, str, int]]] = {
    "HUFRESH": [
        ("NAPA-CABBAGE", "crate", "1", "0", "2", 0),
        ("BOK-CHOY", "case", "1", "0", "3", 0),
        ("SPINACH", "case", "1", "0", "2", 0),
        ("BEAN-SPROUT", "bag", "1", "0", "2", 0),
        ("SPRING-ONION", "bag", "1", "0", "2", 0),
        ("CORIANDER", "bag", "1", "0", "1", 0),
        ("GINGER", "bag", "1", "0", "1", 0),
        ("TOMATO", "case", "1", "0", "2", 0),
        ("CUCUMBER", "case", "1", "0", "2", 0),
        ("CHINESE-CHIVE", "bag", "1", "0", "1", 0),
    ],
    "SHENMEAT": [
        ("BEEF-SHANK", "case", "1", "1", "2", 0),
        ("BEEF-BRISKET", "case", "1", "1", "2", 0),
        ("PORK-MINCE", "box", "1", "2", "3", 0),
        ("PORK-BELLY", "case", "1", "1", "1", 0),
        ("CHICKEN-THIGH", "case", "1", "1", "2", 0),
        ("BEEF-BONE", "case", "1", "1", "2", 0),
    ],
    "GRAINDRY": [
        ("FLOUR-HG", "sack", "1", "2", "4", 0),
        ("FLOUR-AP", "sack", "1", "1", "2", 0),
        ("RICE", "sack", "1", "1", "2", 0),
        ("SUGAR", "sack", "1", "1", "1", 0),
        ("CHILLI-DRIED", "bag", "2", "2", "4", 0),
        ("SICHUAN-PEPPER", "bag", "2", "2", "2", 0),
        ("STAR-ANISE", "bag", "2", "2", "2", 0),
        ("SESAME-SEED", "bag", "2", "2", "2", 0),
    ],
    "ISLAND": [
        ("BOK-CHOY", "case", "1", "0", "2", 10),
        ("PORK-MINCE", "box", "1", "1", "2", 10),
        ("FLOUR-HG", "sack", "1", "1", "2", 10),
        ("EGG", "tray", "1", "1", "4", 10),
    ],
}
# Distribution (配送): site → (weekdays, cut-off, lead days, [(sku, unit, pack or "", par)]).
DISTRIBUTION: dict[str, tuple[list[int], dt.time, int, list[tuple[str, str, str, str]]]] = {
    "CK-SH": ([1, 2, 3, 4, 5, 6], dt.time(15, 0), 1, [
        ("PREP-BEEF-BROTH", "l", "5", "10"),
        ("PREP-PORK-BROTH", "l", "5", "10"),
        ("PREP-CHICKEN-BROTH", "l", "5", "5"),
        ("PREP-CHILLI-OIL", "l", "1", "2"),
        ("PREP-SCALLION-OIL", "l", "1", "1"),
        ("PREP-BRAISED-BEEF", "kg", "2", "4"),
        ("PREP-BRAISED-PORK", "kg", "2", "4"),
        ("PREP-MARINATED-EGG", "each", "30", "60"),
        ("PREP-ZHAJIANG", "kg", "", "2"),
    ]),
    "WH-SH": ([2, 5], dt.time(12, 0), 1, [
        ("BOWL-TAKEAWAY", "case", "1", "2"),
        ("LID-TAKEAWAY", "case", "1", "2"),
        ("BAG-TAKEAWAY", "pack", "1", "5"),
        ("CHOPSTICKS", "pack", "1", "10"),
        ("NAPKIN", "pack", "1", "10"),
    ]),
}  # fmt: skip
DISTRIBUTION_REGION = "EAST"
HKD_PER_CNY = D("1.09")
NORTH_MARKUP = D("1.06")

# What the SH001 story orders (supplier code, sku, quantity in purchase units).
FIRST_ORDER = [
    ("SHENMEAT", "BEEF-SHANK", "3"),
    ("SHENMEAT", "PORK-MINCE", "4"),
    ("SHENMEAT", "CHICKEN-THIGH", "2"),
    ("HUFRESH", "BOK-CHOY", "4"),
    ("HUFRESH", "NAPA-CABBAGE", "2"),
    ("HUFRESH", "SPRING-ONION", "2"),
]
DRY_ORDER = [
    ("GRAINDRY", "FLOUR-HG", "4"),
    ("GRAINDRY", "CHILLI-DRIED", "4"),
    ("GRAINDRY", "SICHUAN-PEPPER", "2"),
    ("HUFRESH", "TOMATO", "2"),
    ("HUFRESH", "CORIANDER", "1"),
]
WAITING_ORDER = [
    ("HUFRESH", "SPINACH", "2"),
    ("HUFRESH", "BEAN-SPROUT", "3"),
]


def _price(item: Item, unit: str, markup: int) -> Decimal:
    """A believable supplier price per purchase unit: the standard cost, marked up a little."""
    base = to_base(item, D(1), unit)
    cost = (item.standard_cost or D(1)) * base * (100 + markup) / 100
    return cost.quantize(D("0.01"))


def seed(ctx: DemoContext) -> None:
    """Suppliers, prices, calendars, order guides, then the SH001 story (see the module)."""
    catalog = ctx.extra.get("catalog")
    if not catalog or "CN-SH" not in ctx.nodes:
        return
    items: dict[str, Item] = catalog["items"]
    suppliers: dict[str, Supplier] = {}
    supplier_items: dict[tuple[str, str], SupplierItem] = {}
    stores = sorted(
        (node for node in ctx.nodes.values() if node.kind == NodeKind.STORE),
        key=lambda node: node.code,
    )
    for (
        code,
        name,
        node_code,
        currency,
        lead,
        terms,
        whole_packs,
        over,
        weekdays,
        cutoff,
        contact,
    ) in SUPPLIERS:
        node = ctx.nodes.get(node_code)
        if node is None:
            continue
        supplier = services.create_supplier(
            services.SupplierInput(
                code=code,
                name=name,
                node_id=node.pk,
                currency=currency,
                payment_terms_days=terms,
                lead_time_days=lead,
                requires_pack_multiples=whole_packs,
                over_receipt_tolerance_percent=D(over),
                order_email=contact[3],
            ),
            actor=SYSTEM,
        )
        suppliers[code] = supplier
        services.add_contact(
            supplier,
            services.ContactInput(
                name=contact[0],
                role=contact[1],
                phone=contact[2],
                email=contact[3],
                is_primary=True,
            ),
            actor=SYSTEM,
        )
        lines = []
        north = []
        for sku, unit, pack, moq, _par, markup in SUPPLIER_ITEMS[code]:
            item = items.get(sku)
            if item is None:
                continue
            supplier_items[code, sku] = services.set_supplier_item(
                supplier,
                services.SupplierItemInput(
                    item_id=item.pk,
                    purchase_unit=unit,
                    pack_size=D(pack),
                    minimum_order_quantity=D(moq),
                    supplier_sku=f"{code[:3]}-{sku}",
                ),
                actor=SYSTEM,
            )
            price = _price(item, unit, markup)
            if currency == "HKD":
                price = (price * HKD_PER_CNY).quantize(D("0.1"))
            lines.append(services.PriceLineInput(item.pk, price))
            north.append(
                services.PriceLineInput(item.pk, (price * NORTH_MARKUP).quantize(D("0.1")))
            )
        services.create_price_list(
            supplier,
            services.PriceListInput(
                name=f"{PRICES_FROM:%Y} 标准价 Standard", valid_from=PRICES_FROM, lines=lines
            ),
            actor=SYSTEM,
        )
        regions = [
            region
            for region in ctx.nodes.values()
            if region.kind == NodeKind.REGION and region.path.startswith(node.path)
        ]
        for region in sorted(regions, key=lambda row: row.code):
            services.set_delivery_calendar(
                supplier,
                services.CalendarInput(node_id=region.pk, weekdays=weekdays, cutoff_time=cutoff),
                actor=SYSTEM,
            )
            if code == "HUFRESH" and region.code == "NORTH":
                services.create_price_list(
                    supplier,
                    services.PriceListInput(
                        name="华北价 North China",
                        valid_from=PRICES_FROM,
                        lines=north,
                        node_id=region.pk,
                    ),
                    actor=SYSTEM,
                )
        if code == "HUFRESH" and "SH001" in ctx.nodes:
            services.set_delivery_calendar(
                supplier,
                services.CalendarInput(
                    node_id=ctx.nodes["SH001"].pk,
                    weekdays=weekdays,
                    cutoff_time=dt.time(23, 0),
                    exceptions={dt.date(2027, 2, 6): False},
                ),
                actor=SYSTEM,
            )
        for store in stores:
            if not store.path.startswith(node.path):
                continue
            store = OrgNode.objects.select_related("site").get(pk=store.pk)
            known = [
                (supplier_items[code, sku], D(par))
                for sku, _unit, _pack, _moq, par, _markup in SUPPLIER_ITEMS[code]
                if (code, sku) in supplier_items
            ]
            services.set_order_guide(
                store.site,
                supplier,
                [row.pk for row, _par in known],
                pars={row.pk: par for row, par in known},
                actor=SYSTEM,
            )
    _distribution(ctx, items, stores)
    ctx.extra["procurement"] = {"suppliers": suppliers}
    if {"manager.sh001", "buyer", "finance"} <= set(ctx.users) and "SH001" in ctx.nodes:
        _story(ctx, items, suppliers)


def _distribution(ctx: DemoContext, items: dict[str, Item], stores: list[OrgNode]) -> None:
    """The central kitchen's and the warehouse's schedules and order guides (see the module)."""
    region = ctx.nodes.get(DISTRIBUTION_REGION)
    if region is None:
        return
    served = [
        OrgNode.objects.select_related("site").get(pk=store.pk)
        for store in stores
        if store.path.startswith(region.path)
    ]
    for code, (weekdays, cutoff, lead, lines) in DISTRIBUTION.items():
        node = ctx.nodes.get(code)
        if node is None:
            continue
        source = OrgNode.objects.select_related("site").get(pk=node.pk).site
        services.set_delivery_calendar(
            None,
            services.CalendarInput(
                node_id=region.pk, weekdays=weekdays, cutoff_time=cutoff, lead_time_days=lead
            ),
            actor=SYSTEM,
            source_site=source,
        )
        guide = [
            services.DistributionGuideLineInput(
                item_id=items[sku].pk,
                unit=unit,
                pack_size=D(pack) if pack else None,
                par_quantity=D(par),
            )
            for sku, unit, pack, par in lines
            if sku in items
        ]
        for store in served:
            services.set_distribution_guide(store.site, source, guide, actor=SYSTEM)


def _approve(requisition: Requisition, when: dt.datetime) -> None:
    """Whoever the requisition's approval waits for approves it, step by step."""
    for _step in range(6):
        request = runtime.latest_request("procurement.requisition", str(requisition.pk))
        if request is None or not request.is_open:
            return
        task = (
            request.tasks.filter(status="pending").select_related("assignee").order_by("pk").first()
        )
        if task is None:
            return
        with clock.at(when):
            runtime.approve(task, actor=task.assignee, comment="按订货指南 As per the order guide")
        when += dt.timedelta(minutes=20)


def _requisition(
    ctx: DemoContext,
    items: dict[str, Item],
    suppliers: dict[str, Supplier],
    lines: list[tuple[str, str, str]],
    when: dt.datetime,
    note: str,
) -> Requisition:
    store = ctx.nodes["SH001"].site
    with clock.at(when):
        return services.create_requisition(
            store,
            [
                services.RequisitionLineInput(
                    item_id=items[sku].pk,
                    quantity=D(quantity),
                    supplier_id=suppliers[code].pk,
                    suggested_quantity=D(quantity),
                )
                for code, sku, quantity in lines
                if sku in items and code in suppliers
            ],
            actor=ctx.users["manager.sh001"],
            note=note,
        )


def _send(order: PurchaseOrder, buyer: Any, when: dt.datetime) -> PurchaseOrder:
    with clock.at(when):
        return services.send_purchase_order(order, actor=buyer)


def _receive_line(line: Any, received_on: dt.date, **changes: Any) -> services.ReceiptLineInput:
    storage = line.item.storage
    values: dict[str, Any] = {
        "line_id": line.pk,
        "quantity": line.quantity,
        "lot_code": f"L{received_on:%y%m%d}-{line.line_no}",
        "expiry_date": received_on + dt.timedelta(days=line.item.shelf_life_days or 30),
        "temperature": {"chilled": D("3.0"), "frozen": D("-18.0")}.get(storage),
    }
    values.update(changes)
    return services.ReceiptLineInput(**values)


def _story(ctx: DemoContext, items: dict[str, Item], suppliers: dict[str, Supplier]) -> None:
    manager, buyer, finance = (ctx.users[name] for name in ("manager.sh001", "buyer", "finance"))
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    # 1. Two days ago: meat and vegetables, approved, sent; delivered yesterday morning.
    ordered = now - dt.timedelta(days=2, hours=6)
    first = _requisition(ctx, items, suppliers, FIRST_ORDER, ordered, "周末备货 Weekend stock-up")
    _approve(first, ordered + dt.timedelta(hours=1))
    delivered = now - dt.timedelta(days=1, hours=4)
    for order in PurchaseOrder.objects.filter(requisition=first).select_related("supplier"):
        order = _send(order, buyer, ordered + dt.timedelta(hours=3))
        lines = list(order.lines.select_related("item").order_by("line_no"))
        day = timezone.localtime(delivered).date()
        if order.supplier.code == "SHENMEAT":
            beef, *rest = lines
            received = [
                _receive_line(
                    beef,
                    day,
                    quantity=beef.quantity - 1,
                    rejected_quantity=D(1),
                    rejection_reason="temperature",
                    note="一箱到货 9°C,拒收 One case arrived at 9 °C: refused",
                ),
                # The last line (the frozen chicken) comes with the next delivery.
                *[_receive_line(line, day) for line in rest[:-1]],
            ]
        else:
            received = [_receive_line(line, day) for line in lines]
        with clock.at(delivered):
            services.receive_purchase_order(
                order,
                received,
                actor=manager,
                delivery_note_number=f"DN-{order.supplier.code}-{day:%m%d}",
            )
        order.refresh_from_db()
        billed = []
        for line in order.lines.order_by("line_no"):
            if line.received_quantity <= 0:
                continue
            price = line.unit_price
            if order.supplier.code == "SHENMEAT" and line.line_no == 2:
                price = (price * D("1.08")).quantize(D("0.01"))  # not the PO price
            billed.append(
                services.InvoiceLineInput(
                    quantity=line.received_quantity,
                    unit_price=price,
                    purchase_order_line_id=line.pk,
                )
            )
        with clock.at(now - dt.timedelta(hours=3)):
            services.enter_invoice(
                order.supplier,
                services.InvoiceInput(
                    invoice_number=f"INV-{order.supplier.code}-{day:%y%m%d}",
                    invoice_date=day,
                    purchase_order_number=order.number,
                    lines=billed,
                ),
                actor=finance,
            )
    # 2. Yesterday: dry goods and greens, approved and sent; arriving today.
    ordered = now - dt.timedelta(days=1, hours=2)
    second = _requisition(ctx, items, suppliers, DRY_ORDER, ordered, "每周干货 Weekly dry goods")
    _approve(second, ordered + dt.timedelta(hours=1))
    for order in PurchaseOrder.objects.filter(requisition=second):
        _send(order, buyer, ordered + dt.timedelta(hours=2))
    # 3. This morning: greens for tomorrow, waiting for approval.
    waiting = _requisition(
        ctx, items, suppliers, WAITING_ORDER, now - dt.timedelta(hours=1), "明日青菜 Greens"
    )
    if waiting.status == RequisitionStatus.APPROVED:  # no policy asked for approval
        for order in PurchaseOrder.objects.filter(requisition=waiting):
            _send(order, buyer, now - dt.timedelta(minutes=30))
