"""A sample migration pack: a small fictional chain joining the demo group — Lotus Dumpling
House (莲花饺子馆), a legal entity with a region, two Guangzhou stores and a central kitchen —
as the workbooks a chain brings: its org tree, storage locations, people, items with units,
recipes (成本卡) with sub-recipes, suppliers, price lists and opening stock. Numbered in the
order they import (each file refers to what the ones before create); some rows refer to rows
further down their own file (a store above its region, a dish above its sub-recipes), as real
files do.

It refers only to what every Backroom has (the group GRP, the standard units) and to the demo's
item classes and categories (fresh, dry, prep, menu, supplies…)."""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from backroom.imports.columns import export_value
from backroom.imports.importers import IMPORTERS
from backroom.kernel.spreadsheets import write_xlsx

D = Decimal

STORES: list[dict[str, Any]] = [
    {
        "code": "LOTUS-CO",
        "name": "莲花餐饮管理有限公司 Lotus Catering Co.",
        "kind": "entity",
        "parent_code": "GRP",
        "base_currency": "CNY",
        "country": "CN",
    },
    # The stores come before their region: a file need not be in tree order.
    {
        "code": "GZ001",
        "name": "莲花饺子馆 天河店 Tianhe",
        "kind": "store",
        "parent_code": "SOUTH",
        "time_zone": "Asia/Shanghai",
        "cutoff_hour": 4,
        "city": "广州 Guangzhou",
        "address": "天河路 385 号",
        "status": "open",
    },
    {
        "code": "GZ002",
        "name": "莲花饺子馆 越秀店 Yuexiu",
        "kind": "store",
        "parent_code": "SOUTH",
        "time_zone": "Asia/Shanghai",
        "cutoff_hour": 4,
        "city": "广州 Guangzhou",
        "address": "北京路 218 号",
        "status": "open",
    },
    {
        "code": "CK-GZ",
        "name": "莲花中央厨房 Lotus central kitchen",
        "kind": "kitchen",
        "parent_code": "SOUTH",
        "time_zone": "Asia/Shanghai",
        "cutoff_hour": 0,
        "city": "广州 Guangzhou",
        "status": "open",
    },
    {"code": "SOUTH", "name": "华南 South China", "kind": "region", "parent_code": "LOTUS-CO"},
]

LOCATIONS = [
    {"store_code": code, "location_code": location, "name": name, "kind": kind}
    for code in ("GZ001", "GZ002")
    for location, name, kind in (
        ("WALKIN", "冷藏库 Walk-in", "walk_in"),
        ("FREEZER", "冷冻库 Freezer", "freezer"),
        ("DRY", "干货库 Dry store", "dry_store"),
    )
] + [
    {"store_code": "CK-GZ", "location_code": "WALKIN", "name": "冷藏库 Walk-in", "kind": "walk_in"}
]

USERS = [
    {
        "username": "lotus.region",
        "role_code": "region_manager",
        "node_code": "SOUTH",
        "display_name": "陈华南 Chen Huanan",
        "email": "region@lotus.example",
        "language": "zh-hans",
    },
    {
        "username": "lotus.gz001",
        "role_code": "store_manager",
        "node_code": "GZ001",
        "display_name": "黄天河 Huang Tianhe",
        "email": "gz001@lotus.example",
        "language": "zh-hans",
    },
    {
        "username": "lotus.gz002",
        "role_code": "store_manager",
        "node_code": "GZ002",
        "display_name": "李越秀 Li Yuexiu",
        "email": "gz002@lotus.example",
        "language": "zh-hans",
    },
    {
        "username": "lotus.ck",
        "role_code": "store_staff",
        "node_code": "CK-GZ",
        "display_name": "周厨 Zhou Chu",
        "language": "zh-hans",
    },
]


def _item(
    sku: str,
    name: str,
    kind: str,
    category: str,
    item_class: str,
    base: str,
    storage: str = "",
    shelf: int | None = None,
    **unit: Any,
) -> dict[str, Any]:
    row = {
        "sku": sku,
        "name": name,
        "kind": kind,
        "category": category,
        "item_class": item_class,
        "base_unit": base,
        "storage": storage or None,
        "shelf_life_days": shelf,
    }
    return {**row, **unit}


ITEMS = [
    _item(
        "LT-FLOUR",
        "面粉 Dumpling flour",
        "ingredient",
        "flour-starch",
        "dry",
        "kg",
        "ambient",
        180,
        unit="bag",
        unit_factor=D(25),
        unit_name="25 kg bag",
        is_purchase=True,
        is_count=True,
    ),
    _item("LT-PORK", "猪前腿肉 Pork shoulder", "ingredient", "pork", "fresh", "kg", "chilled", 4),
    _item(
        "LT-CABBAGE", "白菜 Napa cabbage", "ingredient", "vegetables", "fresh", "kg", "chilled", 7
    ),
    _item(
        "LT-CHIVE", "韭菜 Garlic chives", "ingredient", "vegetables", "fresh", "kg", "chilled", 3
    ),
    _item("LT-GINGER", "生姜 Ginger", "ingredient", "herbs", "fresh", "kg", "ambient", 30),
    _item(
        "LT-SOY",
        "生抽 Light soy sauce",
        "ingredient",
        "condiments",
        "dry",
        "l",
        "ambient",
        540,
        unit="bottle",
        unit_factor=D("0.5"),
        unit_name="500 ml bottle",
        is_purchase=True,
        is_count=True,
    ),
    _item(
        "LT-BOX",
        "外卖餐盒 Takeaway box",
        "supplies",
        "packaging",
        "supplies",
        "each",
        "ambient",
        None,
        unit="carton",
        unit_factor=D(100),
        unit_name="carton of 100",
        is_purchase=True,
        is_count=True,
    ),
    _item(
        "LT-WRAPPER", "饺子皮 Dumpling wrappers", "prepared", "doughs", "prep", "kg", "chilled", 2
    ),
    _item(
        "LT-FILL-PORK",
        "猪肉白菜馅 Pork and cabbage filling",
        "prepared",
        "fillings",
        "prep",
        "kg",
        "chilled",
        1,
    ),
    _item(
        "LT-FILL-CHIVE",
        "猪肉韭菜馅 Pork and chive filling",
        "prepared",
        "fillings",
        "prep",
        "kg",
        "chilled",
        1,
    ),
    _item("LT-DUMP-PORK", "猪肉白菜水饺 (12) Pork & cabbage dumplings", "menu", "", "menu", "each"),
    _item("LT-DUMP-CHIVE", "韭菜猪肉水饺 (12) Pork & chive dumplings", "menu", "", "menu", "each"),
]


def _lines(
    recipe: str, yield_quantity: Decimal, *lines: tuple[str, str, str, str]
) -> list[dict[str, Any]]:
    return [
        {
            "recipe_sku": recipe,
            "yield_quantity": yield_quantity,
            "component_sku": sku,
            "quantity": D(quantity),
            "unit": unit,
            "loss_percent": D(loss),
        }
        for sku, quantity, unit, loss in lines
    ]


# The dishes first, their sub-recipes (fillings, wrappers) below them.
RECIPES = [
    *_lines(
        "LT-DUMP-PORK",
        D(1),
        ("LT-WRAPPER", "0.12", "kg", "0"),
        ("LT-FILL-PORK", "0.18", "kg", "0"),
        ("LT-BOX", "1", "each", "0"),
    ),
    *_lines(
        "LT-DUMP-CHIVE",
        D(1),
        ("LT-WRAPPER", "0.12", "kg", "0"),
        ("LT-FILL-CHIVE", "0.18", "kg", "0"),
        ("LT-BOX", "1", "each", "0"),
    ),
    *_lines(
        "LT-FILL-PORK",
        D(1),
        ("LT-PORK", "0.6", "kg", "5"),
        ("LT-CABBAGE", "0.4", "kg", "15"),
        ("LT-GINGER", "0.02", "kg", "10"),
        ("LT-SOY", "0.03", "l", "0"),
    ),
    *_lines(
        "LT-FILL-CHIVE",
        D(1),
        ("LT-PORK", "0.6", "kg", "5"),
        ("LT-CHIVE", "0.4", "kg", "10"),
        ("LT-GINGER", "0.02", "kg", "10"),
        ("LT-SOY", "0.03", "l", "0"),
    ),
    *_lines("LT-WRAPPER", D(1), ("LT-FLOUR", "0.65", "kg", "2")),
]

SUPPLIERS = [
    {
        "code": "PEARL",
        "name": "珠江食品贸易 Pearl River Foods",
        "node_code": "LOTUS-CO",
        "currency": "CNY",
        "order_email": "orders@pearl.example",
        "payment_terms_days": 30,
        "lead_time_days": 1,
        "contact_name": "梁先生 Mr Liang",
        "contact_phone": "020-8888 1234",
    },
    {
        "code": "CANTONPACK",
        "name": "广州包装 Canton Packaging",
        "node_code": "LOTUS-CO",
        "currency": "CNY",
        "order_email": "sales@cantonpack.example",
        "payment_terms_days": 45,
        "lead_time_days": 3,
    },
]

PRICE_FROM = "2026-11-01"
PRICES = [
    {
        "supplier_code": supplier,
        "item_sku": sku,
        "purchase_unit": unit,
        "pack_size": D(1),
        "price": D(price),
        "currency": "CNY",
        "valid_from": PRICE_FROM,
        "price_list_name": "2026 Q4",
    }
    for supplier, sku, unit, price in (
        ("PEARL", "LT-FLOUR", "bag", "95.00"),
        ("PEARL", "LT-PORK", "kg", "36.50"),
        ("PEARL", "LT-CABBAGE", "kg", "4.20"),
        ("PEARL", "LT-CHIVE", "kg", "9.80"),
        ("PEARL", "LT-GINGER", "kg", "14.00"),
        ("PEARL", "LT-SOY", "bottle", "8.90"),
        ("CANTONPACK", "LT-BOX", "carton", "38.00"),
    )
]

OPENING_STOCK = [
    {
        "store_code": store,
        "location_code": location,
        "item_sku": sku,
        "lot_code": lot,
        "expiry_date": expiry,
        "quantity": D(quantity),
        "unit": unit,
        "unit_cost": D(cost),
    }
    for store, location, sku, lot, expiry, quantity, unit, cost in (
        ("GZ001", "DRY", "LT-FLOUR", "", "", "3", "bag", "95"),
        ("GZ001", "DRY", "LT-SOY", "", "", "6", "bottle", "8.9"),
        ("GZ001", "DRY", "LT-BOX", "", "", "2", "carton", "38"),
        ("GZ001", "WALKIN", "LT-PORK", "P-1201", "2099-12-31", "8.5", "kg", "36.5"),
        ("GZ001", "WALKIN", "LT-CABBAGE", "", "", "6", "kg", "4.2"),
        ("GZ001", "WALKIN", "LT-GINGER", "", "", "0.8", "kg", "14"),
        ("GZ002", "DRY", "LT-FLOUR", "", "", "2", "bag", "95"),
        ("GZ002", "DRY", "LT-BOX", "", "", "1", "carton", "38"),
        ("GZ002", "WALKIN", "LT-PORK", "P-1202", "2099-12-31", "6", "kg", "36.5"),
        ("GZ002", "WALKIN", "LT-CHIVE", "", "", "3", "kg", "9.8"),
    )
]

PACK: list[tuple[str, list[dict[str, Any]]]] = [
    ("stores", STORES),
    ("locations", LOCATIONS),
    ("users", USERS),
    ("items", ITEMS),
    ("recipes", RECIPES),
    ("suppliers", SUPPLIERS),
    ("prices", PRICES),
    ("opening_stock", OPENING_STOCK),
]


def pack_files() -> list[tuple[str, str, bytes]]:
    """(kind, file name, workbook) of each file, in import order; headers in the active
    language."""
    files = []
    for number, (kind, rows) in enumerate(PACK, start=1):
        importer = IMPORTERS[kind]
        header = [column.header() for column in importer.columns]
        data = [
            [export_value(column, row.get(column.key)) for column in importer.columns]
            for row in rows
        ]
        name = f"{number:02d}-{kind.replace('_', '-')}.xlsx"
        files.append((kind, name, write_xlsx([(str(importer.label), header, data)])))
    return files


def sample_pack_zip() -> bytes:
    """The pack as one zip: the workbooks and a read-me saying in which order to import."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        lines = [
            _("Lotus Dumpling House: a sample migration pack for Backroom."),
            _("Import the files in the order of their numbers, on the Imports page or with"),
            "    backroom import KIND FILE",
            "",
        ]
        for kind, name, data in pack_files():
            archive.writestr(name, data)
            lines.append(f"{name}: {IMPORTERS[kind].label}  (backroom import {kind} {name})")
        archive.writestr("README.txt", "\n".join(lines) + "\n")
    return out.getvalue()
