"""Items with their units: one row per item and unit, as a buyer keeps an item list in Excel.

Why one row per item × unit rather than one row per item with purchase / count / recipe unit
slots: an item may have any number of units, and one unit may serve several uses (a case is
bought and counted, a pack only counted), so three fixed slots would lose units on the way
out and back. An item without other units is one row with the unit columns blank; an item
with a case and a pack is two rows. The item columns may be repeated on each row of an item
(the export does) or filled on one of them; where two rows both give a value they must agree.

Natural key: SKU + unit. The importer is `ordered` with `group` the SKU, so that the rows of one
item, wherever they are in the file, reach one `apply_rows` call: a new item is created with
all its units at once. Writes go through the catalog services only (`create_item`,
`update_item`, `deactivate_item`, `add_item_unit`, `change_item_unit`), each audited and
published. What those services never change (an item's kind and base unit; reactivating an
item) is a problem naming the row, not a silent skip. Factors are stored exactly as written
(up to 12 decimal places, the column's precision), so conversions never drift.

Blank cells: a column left out of the file leaves its field as it is. A blank name, kind,
item class, base unit, storage, currency, unit factor, decimal places or rounding keeps the
current value (a new item or unit takes the default); a blank category, barcode, shelf life,
standard cost or unit description means none, and a blank yes/no flag means no (active
excepted: blank keeps it)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backroom.catalog.batch import catalog_batch
from backroom.catalog.choices import ItemKind, Rounding, Storage
from backroom.catalog.models import Category, Item, ItemClass, ItemUnit, Unit
from backroom.catalog.permissions import CATALOG_MANAGE
from backroom.catalog.selectors import can_manage, filter_items, items_for
from backroom.catalog.services import (
    ItemChanges,
    ItemInput,
    ItemUnitChanges,
    ItemUnitInput,
    add_item_unit,
    change_item_unit,
    create_item,
    deactivate_item,
    update_item,
)
from backroom.imports.columns import BOOLEAN, CHOICE, CODE, DECIMAL, INTEGER, TEXT, Column, Row
from backroom.imports.importers.base import (
    CREATED,
    UNCHANGED,
    UPDATED,
    Change,
    Importer,
    RowGroup,
    register,
)
from backroom.imports.permissions import IMPORTS_USE
from backroom.imports.problems import Problems
from backroom.kernel.money import CURRENCIES, FACTOR_PLACES, MONEY_PLACES
from backroom.kernel.spreadsheets import is_blank

KIND_CHOICES = (
    (ItemKind.INGREDIENT.value, ("ingredient", "原料")),
    (ItemKind.PREPARED.value, ("prepared", "半成品", "prepared item")),
    (ItemKind.MENU.value, ("menu", "菜品", "menu item", "dish")),
    (ItemKind.RETAIL.value, ("retail", "零售商品", "retail goods", "商品")),
    (ItemKind.SUPPLIES.value, ("supplies", "耗材", "supply")),
    (ItemKind.SPARE_PART.value, ("spare part", "备件")),
)
STORAGE_CHOICES = (
    (Storage.AMBIENT.value, ("ambient", "常温")),
    (Storage.CHILLED.value, ("chilled", "冷藏")),
    (Storage.FROZEN.value, ("frozen", "冷冻")),
)
ROUNDING_CHOICES = (
    (Rounding.HALF_UP.value, ("half up", "四舍五入")),
    (Rounding.UP.value, ("up", "向上取整", "round up")),
    (Rounding.DOWN.value, ("down", "向下取整", "round down")),
)

# The item's own columns (as opposed to those of one of its units).
ITEM_FIELDS = (
    "name",
    "kind",
    "category",
    "item_class",
    "base_unit",
    "barcode",
    "shelf_life_days",
    "storage",
    "is_made_ahead",
    "standard_cost",
    "cost_currency",
    "is_active",
)
UNIT_FIELDS = (
    "unit_factor",
    "unit_name",
    "is_purchase",
    "is_count",
    "is_recipe",
    "unit_places",
    "unit_rounding",
)
# Item fields a blank cell empties (when the column is in the file); the others keep their value.
EMPTY_ITEM_VALUES: dict[str, Any] = {
    "category": None,
    "barcode": "",
    "shelf_life_days": None,
    "standard_cost": None,
    "is_made_ahead": False,
}
EMPTY_UNIT_VALUES: dict[str, Any] = {
    "unit_name": "",
    "is_purchase": False,
    "is_count": False,
    "is_recipe": False,
}
# Column key → the ItemUnit field it sets.
UNIT_MODEL_FIELDS = {
    "unit_factor": "factor",
    "unit_name": "name",
    "is_purchase": "is_purchase",
    "is_count": "is_count",
    "is_recipe": "is_recipe",
    "unit_places": "decimal_places",
    "unit_rounding": "rounding",
}
REQUIRED_FOR_NEW = ("name", "kind", "item_class", "base_unit")
FACTOR_MAXIMUM = Decimal(10) ** 12 - Decimal(1).scaleb(-FACTOR_PLACES)


@dataclass
class Entry(RowGroup):
    """One SKU of the file: its rows, and the item values its rows give."""

    plain_row: int | None = None  # the row without a unit, if any

    @property
    def sku(self) -> str:
        return self.name


@register
class ItemsImporter(Importer):
    kind = "items"
    export_filters = ("kind", "q")  # the item list's
    label = gettext_lazy("Items and units")
    description = gettext_lazy(
        "Items and their units: one row per item and unit (an item with a case and a pack is "
        "two rows with the same SKU; an item with no other unit is one row with the unit "
        "columns blank). Item columns may be repeated on each row of an item or filled on one."
    )
    permission = IMPORTS_USE
    writes = CATALOG_MANAGE
    ordered = True  # only to apply each item's rows together (see `group`)
    chunk_size = 500
    key_fields = ("sku", "unit")
    columns = (
        Column("sku", "SKU", "物料编码", CODE, True, "BEEF-SHANK", max_length=40,
               aliases=("item sku", "item code", "编码", "物料")),
        Column("name", "Name", "名称", TEXT, False, "Beef shank 牛腱", max_length=200,
               aliases=("item name", "物料名称", "品名"),
               help=gettext_lazy("Required for a new item.")),
        Column("kind", "Kind", "类型", CHOICE, False, "ingredient", choices=KIND_CHOICES,
               aliases=("item kind", "物料类型"),
               help=gettext_lazy("Required for a new item; cannot change afterwards.")),
        Column("category", "Category code", "分类编码", CODE, False, "meat", max_length=40,
               aliases=("category", "分类"),
               help=gettext_lazy("An existing category's code; blank for none.")),
        Column("item_class", "Item class code", "物料类别编码", CODE, False, "food",
               max_length=30, aliases=("item class", "class", "物料类别"),
               help=gettext_lazy("An existing item class (stock policies); required for a new "
                                 "item.")),
        Column("base_unit", "Base unit", "基本单位", CODE, False, "kg", max_length=20,
               aliases=("stock unit", "库存单位"),
               help=gettext_lazy("The unit stock is kept in: kg, g, l, ml, each or another "
                                 "unit of the system. Required for a new item; cannot change "
                                 "afterwards.")),
        Column("barcode", "Barcode", "条码", CODE, False, "6901234567892", max_length=40,
               aliases=("EAN", "条形码"),
               help=gettext_lazy("Letters and digits; format the column as text.")),
        Column("shelf_life_days", "Shelf life (days)", "保质期（天）", INTEGER, False, 7,
               minimum=Decimal(1), maximum=Decimal(36500), aliases=("shelf life", "保质期")),
        Column("storage", "Storage", "储存条件", CHOICE, False, "chilled",
               choices=STORAGE_CHOICES, aliases=("储存",),
               help=gettext_lazy("Blank: ambient for a new item.")),
        Column("is_made_ahead", "Made ahead and stocked", "预制入库", BOOLEAN, False, "no",
               aliases=("made ahead",),
               help=gettext_lazy("Prepared items only: made in batches and kept in stock.")),
        Column("standard_cost", "Standard cost", "标准成本", DECIMAL, False, Decimal("58.5"),
               places=MONEY_PLACES, aliases=("cost", "每基本单位标准成本"),
               help=gettext_lazy("Per base unit, before tax; used by cost cards until the "
                                 "store has an average cost.")),
        Column("cost_currency", "Cost currency", "成本币种", CODE, False, "CNY", max_length=3,
               aliases=("currency", "币种"), help=gettext_lazy("Blank: CNY for a new item.")),
        Column("is_active", "Active", "启用", BOOLEAN, False, "yes",
               aliases=("是否启用",),
               help=gettext_lazy("“no” retires the item; an import cannot bring it back.")),
        Column("unit", "Unit", "单位", CODE, False, "case", max_length=20,
               aliases=("pack unit", "包装单位", "unit code"),
               help=gettext_lazy("One of the item's units (case, bag, bottle); blank on a row "
                                 "that only gives the item.")),
        Column("unit_factor", "Base units per unit", "换算率", DECIMAL, False, 10,
               places=FACTOR_PLACES, maximum=FACTOR_MAXIMUM,
               aliases=("factor", "conversion", "每单位折合基本单位数"),
               help=gettext_lazy("How many base units one of this unit holds (10 for a case of "
                                 "4 × 2.5 kg kept in kg); stored exactly as written.")),
        Column("unit_name", "Unit description", "规格", TEXT, False, "case of 4 × 2.5 kg",
               max_length=100, aliases=("unit name", "规格说明")),
        Column("is_purchase", "Used for purchasing", "用于采购", BOOLEAN, False, "yes",
               aliases=("purchase unit", "采购单位")),
        Column("is_count", "Used for counting", "用于盘点", BOOLEAN, False, "yes",
               aliases=("count unit", "盘点单位")),
        Column("is_recipe", "Used in recipes", "用于配方", BOOLEAN, False, "no",
               aliases=("recipe unit", "配方单位")),
        Column("unit_places", "Unit decimal places", "单位小数位数", INTEGER, False, 0,
               maximum=Decimal(6), aliases=("decimal places", "小数位数"),
               help=gettext_lazy("0 to 6; blank: 3 for a new unit.")),
        Column("unit_rounding", "Unit rounding", "单位舍入方式", CHOICE, False, "up",
               choices=ROUNDING_CHOICES, aliases=("rounding", "舍入方式"),
               help=gettext_lazy("“up” orders whole cases; blank: half up for a new unit.")),
    )  # fmt: skip

    def __init__(self, actor: Any) -> None:
        super().__init__(actor)
        self.entries: dict[str, Entry] = {}
        self.items: dict[str, Item | None] = {}
        self.mapped: set[str] = set()
        self.codes: dict[str, dict[str, str]] = {}  # field → stored codes by code without case

    # --- lookups ------------------------------------------------------------------------

    def load_items(self, skus: set[str]) -> None:
        missing = {sku for sku in skus if sku.casefold() not in self.items}
        if not missing:
            return
        found = list(
            Item.objects.select_related("base_unit", "category", "item_class")
            .prefetch_related("units")
            .filter(sku__in=missing)
        )
        for item in found:
            self.items[item.sku.casefold()] = item
        for sku in missing - {item.sku for item in found}:
            self.items[sku.casefold()] = (
                Item.objects.select_related("base_unit", "category", "item_class")
                .prefetch_related("units")
                .filter(sku__iexact=sku)
                .first()
            )

    @staticmethod
    def fresh_items(skus: set[str]) -> dict[str, Item]:
        """The items of these SKUs as they are now, by SKU without case, units prefetched."""
        items = Item.objects.select_related("base_unit", "category", "item_class")
        items = items.prefetch_related("units")
        found: dict[str, Item] = {}
        for item in items.filter(sku__in=skus):
            found[item.sku.casefold()] = item
        for sku in skus:
            if sku.casefold() not in found:
                other = items.filter(sku__iexact=sku).first()
                if other is not None:
                    found[sku.casefold()] = other
        return found

    def canonical(self, key: str, code: str) -> str:
        """The stored spelling of a code the file writes in another case (`KG` → `kg`)."""
        return self.codes[key].get(code.casefold(), code)

    @staticmethod
    def by_code[T](queryset: Any) -> dict[str, T]:
        """Rows by code without case (an exact spelling wins over another case's)."""
        found: dict[str, T] = {}
        for row in queryset:
            found.setdefault(row.code.casefold(), row)
        return found

    # --- checking -----------------------------------------------------------------------

    def check_rows(self, rows: Sequence[Row], problems: Problems) -> None:
        if rows and not self.mapped:
            self.mapped = set(rows[0].raw)
        self.load_items({row["sku"] for row in rows if row.has("sku")})
        for row in rows:
            if not row.has("sku"):
                continue
            entry = self.entries.setdefault(row["sku"].casefold(), Entry(row["sku"]))
            entry.rows.append(row)
            if not entry.gather(
                row, [self.column(key) for key in ITEM_FIELDS], problems, same_value
            ):
                row.ok = False
            if is_blank(row.raw.get("unit")):
                if entry.plain_row is not None:
                    row.ok = False
                    problems.add(
                        row.number,
                        "sku",
                        "duplicate_key",
                        _("Row %(first)s is also %(sku)s without a unit: keep one of the two rows.")
                        % {"first": entry.plain_row, "sku": entry.sku},
                    )
                entry.plain_row = entry.plain_row or row.number
                for key in UNIT_FIELDS:
                    if row.has(key) and row[key] not in ("", False):
                        row.ok = False
                        problems.add(
                            row.number,
                            "unit",
                            "required",
                            _("Give the unit that the %(column)s is for.")
                            % {"column": self.column(key).label},
                        )
                        break

    def finish_check(self, problems: Problems) -> None:
        if not can_manage(self.actor):
            problems.add(
                None,
                "",
                "permission_denied",
                _("You may not change items: that needs the catalog permission at head office."),
            )
        units: dict[str, Unit] = self.by_code(Unit.objects.all())
        classes: dict[str, ItemClass] = self.by_code(ItemClass.objects.all())
        categories: dict[str, Category] = self.by_code(Category.objects.all())
        for key, rows in (("base_unit", units), ("item_class", classes), ("category", categories)):
            self.codes[key] = {code: row.code for code, row in rows.items()}
        for key, entry in self.entries.items():
            self.check_entry(entry, self.items.get(key), units, classes, categories, problems)

    def check_entry(
        self,
        entry: Entry,
        item: Item | None,
        units: dict[str, Unit],
        classes: dict[str, ItemClass],
        categories: dict[str, Category],
        problems: Problems,
    ) -> None:
        values = entry.values

        def problem(key: str, code: str, message: str, row: int | None = None) -> None:
            problems.add(row or entry.row_of(key), key, code, message)

        if item is None:
            for key in REQUIRED_FOR_NEW:
                if key not in values and all(is_blank(row.raw.get(key)) for row in entry.rows):
                    problem(
                        key,
                        "required",
                        _("Fill in the %(column)s: %(sku)s is a new item.")
                        % {"column": self.column(key).label, "sku": entry.sku},
                    )
        else:
            if "kind" in values and values["kind"] != item.kind:
                problem(
                    "kind",
                    "cannot_change",
                    _(
                        "%(sku)s is a %(kind)s: the kind of an item cannot change. Create a new "
                        "item instead."
                    )
                    % {"sku": item.sku, "kind": ItemKind(item.kind).label},
                )
            if "base_unit" in values and values["base_unit"].casefold() != (
                item.base_unit.code.casefold()
            ):
                problem(
                    "base_unit",
                    "cannot_change",
                    _(
                        "%(sku)s is kept in %(unit)s: its base unit cannot change, since its "
                        "stock, recipes and conversions are in it. Create a new item instead."
                    )
                    % {"sku": item.sku, "unit": item.base_unit.code},
                )
            if values.get("is_active") is True and not item.is_active:
                problem(
                    "is_active",
                    "cannot_change",
                    _("%(sku)s is inactive: an import cannot make it active again.")
                    % {"sku": item.sku},
                )
        base: Unit | None = item.base_unit if item is not None else None
        if "base_unit" in values and item is None:
            base = units.get(values["base_unit"].casefold())
            if base is None:
                problem(
                    "base_unit",
                    "unknown_reference",
                    _("The unit “%(code)s” does not exist: use one of %(units)s.")
                    % {
                        "code": values["base_unit"],
                        "units": ", ".join(sorted(u.code for u in units.values())),
                    },
                )
        if values.get("item_class") and values["item_class"].casefold() not in classes:
            problem(
                "item_class",
                "unknown_reference",
                _("The item class “%(code)s” does not exist.") % {"code": values["item_class"]},
            )
        if values.get("category") and values["category"].casefold() not in categories:
            problem(
                "category",
                "unknown_reference",
                _("The category “%(code)s” does not exist.") % {"code": values["category"]},
            )
        kind = values.get("kind") or (item.kind if item is not None else None)
        if values.get("is_made_ahead") and kind != ItemKind.PREPARED:
            problem(
                "is_made_ahead",
                "invalid_value",
                _("Only a prepared item can be made ahead and stocked."),
            )
        if "cost_currency" in values and values["cost_currency"].upper() not in CURRENCIES:
            problem(
                "cost_currency",
                "invalid_value",
                _("“%(currency)s” is not a supported currency: use one of %(currencies)s.")
                % {"currency": values["cost_currency"], "currencies": ", ".join(CURRENCIES)},
            )
        if values.get("barcode") and not values["barcode"].isalnum():
            problem("barcode", "invalid_value", _("Use up to 40 letters and digits."))
        self.check_units(entry, item, base, units, problem)

    def check_units(
        self,
        entry: Entry,
        item: Item | None,
        base: Unit | None,
        units: dict[str, Unit],
        problem: Any,
    ) -> None:
        existing = item_units(item)
        for row in entry.rows:
            if not row.has("unit"):
                continue
            code = row["unit"]
            factor = row.get("unit_factor")
            current = existing.get(code.casefold())
            if factor is None:
                if current is None and is_blank(row.raw.get("unit_factor")):
                    problem(
                        "unit_factor",
                        "required",
                        _("Give how many %(base)s one %(unit)s holds: it is a new unit of %(sku)s.")
                        % {
                            "base": base.code if base else _("base units"),
                            "unit": code,
                            "sku": entry.sku,
                        },
                        row.number,
                    )
                continue
            if factor == 0:
                problem(
                    "unit_factor", "invalid_number", _("Must be greater than zero."), row.number
                )
                continue
            if base is None:
                continue
            if code == base.code and factor != 1:
                problem(
                    "unit_factor",
                    "invalid_number",
                    _("%(code)s is the base unit: its factor must be 1.") % {"code": code},
                    row.number,
                )
                continue
            same = units.get(code.casefold())
            if same is not None and same.code == code and same.dimension == base.dimension:
                expected = (same.to_reference / base.to_reference).quantize(
                    Decimal(1).scaleb(-FACTOR_PLACES)
                )
                if factor != expected:
                    problem(
                        "unit_factor",
                        "invalid_number",
                        _("1 %(code)s is %(expected)s %(base)s: the factor must agree.")
                        % {
                            "code": code,
                            "expected": f"{expected.normalize():f}",
                            "base": base.code,
                        },
                        row.number,
                    )

    # --- applying -----------------------------------------------------------------------

    def group(self, row: Row) -> Any:
        return row["sku"].casefold()

    def apply_rows(self, rows: Sequence[Row]) -> list[Change]:
        groups: dict[str, list[Row]] = {}
        for row in rows:
            groups.setdefault(row["sku"].casefold(), []).append(row)
        changes: list[Change] = []
        items = self.fresh_items({self.entries[key].sku for key in groups})
        with catalog_batch(reuse=True):
            for key, group in groups.items():
                changes.extend(self.apply_item(self.entries[key], group, items.get(key)))
        return sorted(changes, key=lambda change: change.row)

    def wanted(self, entry: Entry, key: str) -> tuple[bool, Any]:
        """Whether the file sets this item field, and to what."""
        if key in entry.values:
            return True, entry.values[key]
        if key in self.mapped and key in EMPTY_ITEM_VALUES:
            return True, EMPTY_ITEM_VALUES[key]
        return False, None

    def apply_item(self, entry: Entry, rows: list[Row], item: Item | None) -> list[Change]:
        reason = str(_("Items import"))
        if item is None:
            item = self.create(entry, rows)
            return [Change(row.number, CREATED, change_key(item, row)) for row in rows]
        changed = self.update(entry, item, reason)
        changes = []
        current = item_units(item)
        for row in rows:
            fields, changed = changed, []
            action = UPDATED
            if row.has("unit"):
                unit = current.get(row["unit"].casefold())
                if unit is None:
                    add_item_unit(item, self.unit_input(row), actor=self.actor)
                    action = CREATED
                else:
                    fields = fields + self.update_unit(unit, row, reason)
            if action != CREATED and not fields:
                action = UNCHANGED
            changes.append(Change(row.number, action, change_key(item, row), fields))
        return changes

    def create(self, entry: Entry, rows: list[Row]) -> Item:
        values = {key: self.wanted(entry, key)[1] for key in ITEM_FIELDS}
        data = ItemInput(
            sku=entry.sku,
            name=values["name"],
            kind=values["kind"],
            base_unit=self.canonical("base_unit", values["base_unit"]),
            item_class=self.canonical("item_class", values["item_class"]),
            category=self.canonical("category", values["category"]) if values["category"] else None,
            barcode=values["barcode"] or "",
            shelf_life_days=values["shelf_life_days"],
            storage=values["storage"] or Storage.AMBIENT,
            is_made_ahead=bool(values["is_made_ahead"]),
            standard_cost=values["standard_cost"],
            cost_currency=(values["cost_currency"] or "CNY").upper(),
            units=[self.unit_input(row) for row in rows if row.has("unit")],
        )
        item = create_item(data, actor=self.actor)
        if values["is_active"] is False:
            deactivate_item(item, actor=self.actor, reason=str(_("Items import")))
        return item

    def update(self, entry: Entry, item: Item, reason: str) -> list[str]:
        """Apply the item's fields; the column keys of those that changed."""
        current = {
            "name": item.name,
            "category": item.category.code if item.category else None,
            "item_class": item.item_class.code,
            "barcode": item.barcode,
            "shelf_life_days": item.shelf_life_days,
            "storage": item.storage,
            "is_made_ahead": item.is_made_ahead,
            "standard_cost": item.standard_cost,
            "cost_currency": item.cost_currency,
        }
        values: dict[str, Any] = {}
        for key, now in current.items():
            given, value = self.wanted(entry, key)
            if not given:
                continue
            if key in self.codes and value:
                value = self.canonical(key, value)
            elif key == "cost_currency":
                value = value.upper()
            if not same_value(now, value, exact=True):
                values[key] = value
        if values:
            update_item(item, ItemChanges(**values), actor=self.actor, reason=reason)
        changed = list(values)
        if self.wanted(entry, "is_active")[1] is False and item.is_active:
            deactivate_item(item, actor=self.actor, reason=reason)
            changed.append("is_active")
        return changed

    def unit_input(self, row: Row) -> ItemUnitInput:
        return ItemUnitInput(
            code=row["unit"],
            factor=row["unit_factor"],
            name=row.get("unit_name") or "",
            is_purchase=bool(row.get("is_purchase")),
            is_count=bool(row.get("is_count")),
            is_recipe=bool(row.get("is_recipe")),
            decimal_places=row.get("unit_places", 3),
            rounding=row.get("unit_rounding") or Rounding.HALF_UP,
        )

    def update_unit(self, unit: ItemUnit, row: Row, reason: str) -> list[str]:
        """Apply one unit row to an existing unit; the column keys of what changed."""
        values: dict[str, Any] = {}
        for key, name in UNIT_MODEL_FIELDS.items():
            if row.has(key):
                value = row[key]
            elif key in self.mapped and key in EMPTY_UNIT_VALUES:
                value = EMPTY_UNIT_VALUES[key]
            else:
                continue
            if not same_value(getattr(unit, name), value, exact=True):
                values[key] = value
        if values:
            change_item_unit(
                unit,
                ItemUnitChanges(**{UNIT_MODEL_FIELDS[key]: value for key, value in values.items()}),
                actor=self.actor,
                reason=reason,
            )
        return list(values)

    # --- exporting ----------------------------------------------------------------------

    def export(self) -> Iterator[dict[str, Any]]:
        """Every item the actor may see (or those the item list's filters keep), one row per
        unit (one row for an item without)."""
        for item in filter_items(items_for(self.actor), self.filters).iterator(chunk_size=500):
            values = {
                "sku": item.sku,
                "name": item.name,
                "kind": item.kind,
                "category": item.category.code if item.category else None,
                "item_class": item.item_class.code,
                "base_unit": item.base_unit.code,
                "barcode": item.barcode,
                "shelf_life_days": item.shelf_life_days,
                "storage": item.storage,
                "is_made_ahead": item.is_made_ahead,
                "standard_cost": item.standard_cost,
                "cost_currency": item.cost_currency,
                "is_active": item.is_active,
            }
            units = list(item.units.all())
            if not units:
                yield values
            for unit in units:
                yield {
                    **values,
                    "unit": unit.code,
                    "unit_factor": unit.factor,
                    "unit_name": unit.name,
                    "is_purchase": unit.is_purchase,
                    "is_count": unit.is_count,
                    "is_recipe": unit.is_recipe,
                    "unit_places": unit.decimal_places,
                    "unit_rounding": unit.rounding,
                }


def same_value(first: Any, second: Any, *, exact: bool = False) -> bool:
    """Two cell values the same: codes and text without case unless `exact`; numbers by value."""
    if isinstance(first, str) and isinstance(second, str) and not exact:
        return first.casefold() == second.casefold()
    return bool(first == second)


def item_units(item: Item | None) -> dict[str, ItemUnit]:
    """The item's units by code without case (an exact spelling first)."""
    if item is None:
        return {}
    found: dict[str, ItemUnit] = {}
    for unit in sorted(item.units.all(), key=lambda unit: unit.pk):
        found.setdefault(unit.code.casefold(), unit)
    return found


def change_key(item: Item, row: Row) -> str:
    return f"{item.sku}/{row['unit']}" if row.has("unit") else item.sku
