"""Supplier items and prices: what a supplier sells (its own item code, the purchase unit, pack
size and minimum order) and at what price over which dates, for every store it serves or for
one region or store. Written through the procurement services `set_supplier_item` and
`create_price_list` (audited; `procurement.price_list.saved` and price alerts published).

Natural key: supplier + item + region/store + valid from (blank for a row that only sets the
supplier's terms for the item). The rows that are new form price lists: one per supplier,
region/store, dates, currency and price-list name. A row whose price already stands in an
active list, over the same dates, in the same currency, is unchanged. A row from a later date
than an open-ended standing price ends it the day before (`end_price_list`); another price for
a standing start date corrects it (`correct_price`) — both only while no purchase order was
priced from the days they change. Another end date or currency for a standing start date is
refused, and so is any other overlap with a price of the same item and scope (in the file or
in the database). Terms are the supplier item's: every row of a supplier's item gives the same;
a purchase unit cannot change once prices stand in it (they would mean another quantity).

Rows are applied list by list (`ordered` with `group`): terms-only rows first, then each
list's rows in one chunk, so that each list is created by one call."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backroom.catalog.choices import STOCKED_KINDS
from backroom.catalog.exceptions import MissingConversion, UnknownUnit
from backroom.catalog.models import Item
from backroom.catalog.units import resolve_unit
from backroom.imports.columns import CHOICE, CODE, DATE, DECIMAL, TEXT, Column, Row
from backroom.imports.importers.base import CREATED, UNCHANGED, UPDATED, Change, Importer, register
from backroom.imports.importers.suppliers import CURRENCY_CHOICES
from backroom.imports.permissions import IMPORTS_USE
from backroom.imports.problems import Problems
from backroom.kernel.spreadsheets import is_blank
from backroom.org.models import OrgNode
from backroom.procurement import selectors
from backroom.procurement.models import PriceList, PriceListLine, Supplier, SupplierItem
from backroom.procurement.permissions import PROCUREMENT_MANAGE, PROCUREMENT_VIEW
from backroom.procurement.services import (
    PriceLineInput,
    PriceListInput,
    SupplierItemInput,
    correct_price,
    create_price_list,
    end_price_list,
    set_supplier_item,
)
from backroom.procurement.services.common import related_to_actor
from backroom.procurement.services.pricing import price_used

TERMS = ("supplier_sku", "purchase_unit", "pack_size", "minimum_order_quantity")
PRICE_FIELDS = ("valid_from", "valid_to", "currency", "scope_code", "price_list_name")
DEFAULT_TERMS = {"supplier_sku": "", "pack_size": Decimal(1), "minimum_order_quantity": Decimal(0)}


@dataclass(frozen=True)
class Standing:
    """A price that stands in an active price list."""

    valid_from: dt.date
    valid_to: dt.date | None
    price: Decimal
    currency: str
    list_name: str
    price_list_id: int


@dataclass
class Resolved:
    """A row's references, found."""

    row: Row
    supplier: Supplier
    item: Item
    unit: str
    scope: OrgNode | None
    currency: str = ""
    terms: dict[str, Any] = field(default_factory=dict)

    @property
    def priced(self) -> bool:
        return self.row.has("price")

    @property
    def scope_id(self) -> int | None:
        return self.scope.pk if self.scope is not None else None

    @property
    def list_name(self) -> str:
        return self.row.get("price_list_name") or default_list_name(self.row["valid_from"])

    def key(self) -> str:
        text = f"{self.supplier.code}/{self.item.sku}"
        if self.scope is not None:
            text += f"@{self.scope.code}"
        if self.priced:
            text += f" {self.row['valid_from'].isoformat()}"
        return text


def default_list_name(valid_from: dt.date) -> str:
    return _("Prices from %(date)s") % {"date": valid_from.isoformat()}


def _overlaps(
    start: dt.date, end: dt.date | None, other_start: dt.date, other_end: dt.date | None
) -> bool:
    return (end is None or other_start <= end) and (other_end is None or other_end >= start)


def _period(start: dt.date, end: dt.date | None) -> str:
    return f"{start.isoformat()} – {end.isoformat() if end else '…'}"


@register
class PriceImporter(Importer):
    kind = "prices"
    label = gettext_lazy("Supplier items and prices")
    description = gettext_lazy(
        "Supplier items and prices: one row per supplier, item, region or store, and start "
        "date, with the price per purchase unit. Rows with the same supplier, dates, region or "
        "store, currency and price-list name form one price list. Leave the price and dates "
        "blank to set only how the supplier sells the item."
    )
    permission = IMPORTS_USE
    writes = PROCUREMENT_MANAGE
    ordered = True  # a price list's rows applied together (see `group`)
    chunk_size = 1000
    key_fields = ("supplier_code", "item_sku", "scope_code", "valid_from")
    optional_key_fields: ClassVar[tuple[str, ...]] = ("scope_code", "valid_from")
    columns = (
        Column(
            "supplier_code",
            "Supplier code",
            "供应商编码",
            CODE,
            True,
            "FRESH",
            max_length=20,
            aliases=("supplier", "供应商"),
        ),
        Column(
            "item_sku",
            "Item SKU",
            "物料编码",
            CODE,
            True,
            "TOMATO",
            max_length=40,
            aliases=("SKU", "item code", "物料"),
        ),
        Column(
            "supplier_sku",
            "Supplier's item code",
            "供应商物料编码",
            CODE,
            False,
            "T-10",
            max_length=60,
            aliases=("supplier SKU", "supplier item code", "供应商货号"),
            help=gettext_lazy("Printed on purchase orders; blank clears it."),
        ),
        Column(
            "purchase_unit",
            "Purchase unit",
            "采购单位",
            CODE,
            True,
            "case",
            max_length=20,
            aliases=("unit", "order unit", "单位"),
            help=gettext_lazy(
                "A unit of the item (its base unit or one it converts, such as "
                "its case); the price is per this unit. It cannot change once "
                "prices stand in it."
            ),
        ),
        Column(
            "pack_size",
            "Pack size",
            "包装数量",
            DECIMAL,
            False,
            1,
            aliases=("pack", "每包装数量"),
            help=gettext_lazy(
                "Purchase units per pack (whole packs when the supplier requires "
                "them); blank keeps it (1 for a new item)."
            ),
        ),
        Column(
            "minimum_order_quantity",
            "Minimum order",
            "起订量",
            DECIMAL,
            False,
            2,
            aliases=("MOQ", "minimum order quantity", "最小起订量"),
            help=gettext_lazy("In purchase units; blank keeps it (0 for a new item)."),
        ),
        Column(
            "price",
            "Price",
            "单价",
            DECIMAL,
            False,
            Decimal("80.5"),
            places=4,
            aliases=("unit price", "price per unit", "采购价", "价格"),
            help=gettext_lazy(
                "Per purchase unit, before tax; blank with blank dates sets only the terms above."
            ),
        ),
        Column(
            "currency",
            "Currency",
            "币种",
            CHOICE,
            False,
            "CNY",
            choices=CURRENCY_CHOICES,
            aliases=("货币",),
            help=gettext_lazy("Blank: the supplier's currency."),
        ),
        Column(
            "valid_from",
            "Valid from",
            "生效日期",
            DATE,
            False,
            "2026-01-01",
            aliases=("from", "start date", "开始日期"),
            help=gettext_lazy("First day the price applies; required with a price."),
        ),
        Column(
            "valid_to",
            "Valid to",
            "失效日期",
            DATE,
            False,
            "",
            aliases=("to", "end date", "结束日期", "截止日期"),
            help=gettext_lazy("Last day the price applies; blank: until further notice."),
        ),
        Column(
            "scope_code",
            "Region or store",
            "适用区域或门店",
            CODE,
            False,
            "",
            max_length=20,
            aliases=("scope", "region", "store", "适用范围"),
            help=gettext_lazy(
                "Code of a region or store the supplier serves; blank: every store it serves."
            ),
        ),
        Column(
            "price_list_name",
            "Price list",
            "价格表",
            TEXT,
            False,
            "2026",
            max_length=100,
            aliases=("price list name", "价格表名称"),
            help=gettext_lazy(
                "Names the price list of the row; blank: “Prices from” its start date."
            ),
        ),
    )

    def __init__(self, actor: Any) -> None:
        super().__init__(actor)
        self.suppliers: dict[str, Supplier | None] = {}
        self.items: dict[str, Item | None] = {}
        self.nodes: dict[str, OrgNode | None] = {}
        self.may: dict[tuple[str, int], bool] = {}
        self.supplier_items: dict[tuple[int, int], SupplierItem] = {}
        # supplier item id → scope node id (None: every store) → its standing prices
        self.standing: dict[int, dict[int | None, list[Standing]]] = {}
        self.priced_items: set[int] = set()  # supplier items with a price in any list
        self.terms_seen: dict[tuple[int, int], tuple[int, dict[str, Any]]] = {}
        # (supplier, item, scope) → the file's periods: start, end, row, and whether the row
        # repeats an open-ended standing price (a later row of the file may end it)
        self.periods: dict[
            tuple[int, int, int | None], list[tuple[dt.date, dt.date | None, int, bool]]
        ] = {}
        # standing price list id + supplier item id → the row that ends it (one per file)
        self.superseded: dict[tuple[int, int], int] = {}

    @classmethod
    def natural_key(cls, row: Row) -> tuple[Any, ...] | None:
        """Supplier + item + scope + start date, the last two may be blank (every store; terms
        only)."""
        parts: list[Any] = []
        for key in cls.key_fields:
            value = row.get(key)
            if value is None or value == "":
                if key not in cls.optional_key_fields:
                    return None
                value = ""
            parts.append(value.casefold() if isinstance(value, str) else value)
        return tuple(parts)

    def group(self, row: Row) -> Any:
        """The price list a priced row goes into (terms-only rows: none, so they come first):
        its rows are applied by one call, so that they make one list."""
        if not row.has("price") or not row.has("supplier_code"):
            return None
        supplier = self.suppliers.get(row["supplier_code"].upper())
        currency = row.get("currency") or (supplier.currency if supplier else "")
        valid_from, valid_to = row.get("valid_from"), row.get("valid_to")
        name = row.get("price_list_name") or (default_list_name(valid_from) if valid_from else "")
        parts = (
            row["supplier_code"].upper(),
            (row.get("scope_code") or "").upper(),
            valid_from,
            valid_to,
            currency,
            name,
        )
        return "\x1f".join("" if part is None else str(part) for part in parts)

    # --- lookups ------------------------------------------------------------------------

    def load(self, rows: Sequence[Row]) -> None:
        codes = {row["supplier_code"].upper() for row in rows if row.has("supplier_code")}
        missing = codes - set(self.suppliers)
        if missing:
            for supplier in Supplier.objects.select_related("node").filter(code__in=missing):
                self.suppliers[supplier.code] = supplier
            for code in missing:
                self.suppliers.setdefault(code, None)
        skus = {row["item_sku"] for row in rows if row.has("item_sku")}
        wanted = {sku for sku in skus if sku.casefold() not in self.items}
        if wanted:
            items = Item.objects.select_related("base_unit").prefetch_related("units")
            for item in items.filter(sku__in=wanted):
                self.items[item.sku.casefold()] = item
            for sku in wanted:
                if sku.casefold() not in self.items:  # SKUs differing only in case (rare)
                    self.items[sku.casefold()] = items.filter(sku__iexact=sku).first()

    def node(self, code: str) -> OrgNode | None:
        key = code.upper()
        if key not in self.nodes:
            self.nodes[key] = OrgNode.objects.filter(code=key).first()
        return self.nodes[key]

    def allowed_to(self, permission: str, supplier: Supplier) -> bool:
        key = (permission, supplier.node_id)
        if key not in self.may:
            if permission == PROCUREMENT_VIEW:
                self.may[key] = related_to_actor(self.actor, permission, supplier.node)
            else:
                self.may[key] = self.actor.has_scoped_permission(permission, supplier.node)
        return self.may[key]

    def load_standing(self, pairs: set[tuple[int, int]]) -> None:
        """The supplier items of these (supplier, item) pairs and their standing prices, read
        afresh (an earlier chunk may have written them)."""
        if not pairs:
            return
        found = SupplierItem.objects.filter(
            supplier_id__in={supplier for supplier, _item in pairs},
            item_id__in={item for _supplier, item in pairs},
        )
        ids = []
        for supplier_item in found:
            pair = (supplier_item.supplier_id, supplier_item.item_id)
            if pair in pairs:
                self.supplier_items[pair] = supplier_item
                ids.append(supplier_item.pk)
        for supplier_item_id in ids:
            self.standing[supplier_item_id] = {}
        lines = PriceListLine.objects.filter(supplier_item_id__in=ids).select_related("price_list")
        for line in lines:
            self.priced_items.add(line.supplier_item_id)
            price_list = line.price_list
            if not price_list.is_active:
                continue
            self.standing[line.supplier_item_id].setdefault(price_list.node_id, []).append(
                Standing(
                    price_list.valid_from,
                    price_list.valid_to,
                    line.price,
                    price_list.currency,
                    price_list.name,
                    price_list.pk,
                )
            )

    def unit(self, item: Item, text: str) -> str | None:
        """The item's unit code written `text` (case aside), else None."""
        known = [item.base_unit.code, *(unit.code for unit in item.units.all())]
        for code in known:
            if code == text:
                return code
        for code in known:
            if code.casefold() == text.casefold():
                return code
        try:
            resolve_unit(item, text, field="purchase_unit")
        except (UnknownUnit, MissingConversion):
            return None
        return text

    # --- checking -----------------------------------------------------------------------

    def resolve(self, row: Row, problems: Problems | None) -> Resolved | None:
        def problem(field: str, code: str, message: str) -> None:
            if problems is not None:
                problems.add(row.number, field, code, message)

        supplier = None
        if row.has("supplier_code"):
            supplier = self.suppliers.get(row["supplier_code"].upper())
            if supplier is None or not self.allowed_to(PROCUREMENT_VIEW, supplier):
                problem(
                    "supplier_code",
                    "unknown_reference",
                    _("There is no supplier %(code)s.") % {"code": row["supplier_code"]},
                )
                supplier = None
            elif not self.allowed_to(PROCUREMENT_MANAGE, supplier):
                problem(
                    "supplier_code",
                    "permission_denied",
                    _("You may not change the items and prices of %(code)s.")
                    % {"code": supplier.code},
                )
                supplier = None
        item = self.items.get(row["item_sku"].casefold()) if row.has("item_sku") else None
        if row.has("item_sku") and item is None:
            problem(
                "item_sku",
                "unknown_reference",
                _("There is no item %(sku)s.") % {"sku": row["item_sku"]},
            )
        unit = None
        if item is not None and row.has("purchase_unit"):
            unit = self.unit(item, row["purchase_unit"])
            if unit is None:
                units = [item.base_unit.code, *(unit.code for unit in item.units.all())]
                problem(
                    "purchase_unit",
                    "unknown_unit",
                    _("Item %(sku)s has no unit “%(unit)s”: use one of %(units)s.")
                    % {"sku": item.sku, "unit": row["purchase_unit"], "units": ", ".join(units)},
                )
        scope = None
        if row.get("scope_code"):
            scope = self.node(row["scope_code"])
            if scope is None:
                problem(
                    "scope_code",
                    "unknown_reference",
                    _("There is no region or store %(code)s.") % {"code": row["scope_code"]},
                )
            elif supplier is not None and not scope.path.startswith(supplier.node.path):
                problem(
                    "scope_code",
                    "invalid_scope",
                    _(
                        "%(supplier)s does not serve %(code)s: name a region or store under "
                        "%(node)s."
                    )
                    % {"supplier": supplier.code, "code": scope.code, "node": supplier.node.code},
                )
                scope = None
        if supplier is None or item is None or unit is None:
            return None
        if row.get("scope_code") and scope is None:
            return None
        terms = {name: row[name] for name in TERMS if row.has(name)}
        terms["purchase_unit"] = unit
        if "supplier_sku" in row.raw and not row.has("supplier_sku"):
            terms["supplier_sku"] = ""  # a blank cell clears it
        return Resolved(
            row, supplier, item, unit, scope, row.get("currency") or supplier.currency, terms
        )

    def check_rows(self, rows: Sequence[Row], problems: Problems) -> None:
        self.load(rows)
        found = [resolved for row in rows if (resolved := self.resolve(row, problems))]
        for row in rows:
            self.check_values(row, problems)
        self.load_standing({(found.supplier.pk, found.item.pk) for found in found})
        for resolved in found:
            if resolved.row.ok:
                self.check_terms(resolved, problems)
                if resolved.priced and resolved.row.has("valid_from"):
                    self.check_price(resolved, problems)

    def check_values(self, row: Row, problems: Problems) -> None:
        """The cells' rules among themselves: a price with its start date, dates in order, a
        pack of more than nothing."""
        if row.has("pack_size") and row["pack_size"] <= 0:
            problems.add(row.number, "pack_size", "invalid_number", _("Must be more than zero."))
            row.ok = False

        def given(name: str) -> bool:
            return name in row.raw and not is_blank(row.raw[name])

        if given("price"):
            if not given("valid_from"):
                problems.add(
                    row.number,
                    "valid_from",
                    "required",
                    _("Give the date from which the price applies."),
                )
                row.ok = False
        elif any(given(name) for name in PRICE_FIELDS):
            problems.add(
                row.number,
                "price",
                "required",
                _(
                    "Give the price, or leave the dates, currency, region or store and "
                    "price list blank to set only the supplier's terms."
                ),
            )
            row.ok = False
        if row.has("valid_from") and row.has("valid_to") and row["valid_to"] < row["valid_from"]:
            problems.add(
                row.number, "valid_to", "invalid_date", _("The end date is before the start date.")
            )
            row.ok = False

    def check_terms(self, found: Resolved, problems: Problems) -> None:
        row = found.row
        pair = (found.supplier.pk, found.item.pk)
        existing = self.supplier_items.get(pair)
        if existing is None and (found.item.kind not in STOCKED_KINDS or not found.item.is_active):
            problems.add(
                row.number,
                "item_sku",
                "not_stocked",
                _("%(sku)s is not an active stocked item: it cannot be bought.")
                % {"sku": found.item.sku},
            )
        if (
            existing is not None
            and existing.pk in self.priced_items
            and found.unit != existing.purchase_unit
        ):
            problems.add(
                row.number,
                "purchase_unit",
                "purchase_unit_changed",
                _(
                    "%(supplier)s's prices of %(sku)s are per %(unit)s: keep that unit "
                    "(a new unit would change what those prices mean)."
                )
                % {
                    "supplier": found.supplier.code,
                    "sku": found.item.sku,
                    "unit": existing.purchase_unit,
                },
            )
        first = self.terms_seen.get(pair)
        if first is None:
            self.terms_seen[pair] = (row.number, dict(found.terms))
            return
        number, terms = first
        for name, value in found.terms.items():
            if name not in terms:
                terms[name] = value
            elif terms[name] != value:
                problems.add(
                    row.number,
                    name,
                    "inconsistent_terms",
                    _(
                        "Row %(row)s gives %(value)s for this supplier's item: every row "
                        "of it gives the same."
                    )
                    % {"row": number, "value": terms[name] if terms[name] != "" else "—"},
                )

    def check_price(self, found: Resolved, problems: Problems) -> None:
        """A price for a new start date; the same as a standing one (unchanged); a corrected
        price for a standing start date, if no purchase order was priced from it yet; or a
        price from a later date than an open-ended standing one, which then ends the day
        before (if no purchase order from that day on was priced from it). Any other overlap,
        with the database or another row of the file, is refused."""
        row = found.row
        start, end = row["valid_from"], row.get("valid_to")
        existing = self.supplier_items.get((found.supplier.pk, found.item.pk))
        standing = self.standing.get(existing.pk, {}).get(found.scope_id, []) if existing else []
        same = next((price for price in standing if price.valid_from == start), None)
        clash = None
        repeats_open = False
        if same is not None:
            repeats_open = self.check_same_start(found, same, standing, problems)
        else:
            clashes = [
                price
                for price in standing
                if _overlaps(start, end, price.valid_from, price.valid_to)
            ]
            clash = clashes[0] if clashes else None
            if (
                clash is not None
                and len(clashes) == 1
                and clash.valid_to is None
                and clash.valid_from < start
                and existing is not None
            ):
                self.check_supersede(found, existing, clash, problems)
            elif clash is not None:
                problems.add(
                    row.number,
                    "valid_from",
                    "price_overlap",
                    _(
                        "Price list “%(list)s” already prices %(sku)s over %(period)s: "
                        "prices of one item and region or store may not overlap."
                    )
                    % {
                        "list": clash.list_name,
                        "sku": found.item.sku,
                        "period": _period(clash.valid_from, clash.valid_to),
                    },
                )
        key = (found.supplier.pk, found.item.pk, found.scope_id)
        periods = self.periods.setdefault(key, [])
        for other_start, other_end, number, other_repeats_open in periods:
            if clash is not None or not _overlaps(start, end, other_start, other_end):
                continue
            if (other_repeats_open and other_start < start) or (
                repeats_open and start < other_start
            ):
                continue  # the later row ends the standing open-ended price
            problems.add(
                row.number,
                "valid_from",
                "price_overlap",
                _(
                    "Row %(row)s prices this item over %(period)s: prices of one item "
                    "and region or store may not overlap."
                )
                % {"row": number, "period": _period(other_start, other_end)},
            )
            break
        periods.append((start, end, row.number, repeats_open))

    def check_same_start(
        self, found: Resolved, same: Standing, standing: list[Standing], problems: Problems
    ) -> bool:
        """A row for a standing start date: the same price, or a corrected one if no purchase
        order was priced from it; its end date and currency stay. An open-ended row matches a
        price that a later one ended (the file it came from, imported again). True when the
        row is such an open-ended price: a later row of the file may end it."""
        row = found.row
        end = row.get("valid_to")
        if end is None and same.valid_to is not None:
            after = same.valid_to + dt.timedelta(days=1)
            if any(price.valid_from == after for price in standing):
                end = same.valid_to
        values = {
            "list": same.list_name,
            "period": _period(same.valid_from, same.valid_to),
            "sku": found.item.sku,
            "price": same.price.normalize(),
            "currency": same.currency,
        }
        for name, theirs, ours in (
            ("valid_to", same.valid_to, end),
            ("currency", same.currency, found.currency),
        ):
            if theirs != ours:
                problems.add(
                    row.number,
                    name,
                    "price_changed",
                    _(
                        "Price list “%(list)s” (%(period)s) prices %(sku)s at %(price)s "
                        "%(currency)s: its dates and currency cannot be changed. Give the new "
                        "price from a later date."
                    )
                    % values,
                )
                return False
        repeats_open = row.get("valid_to") is None
        if same.price == row["price"]:
            return repeats_open
        price_list = PriceList.objects.select_related("node").get(pk=same.price_list_id)
        existing = self.supplier_items[(found.supplier.pk, found.item.pk)]
        if price_used(price_list, [existing.pk]):
            problems.add(
                row.number,
                "price",
                "price_changed",
                _(
                    "Price list “%(list)s” (%(period)s) prices %(sku)s at %(price)s "
                    "%(currency)s and purchase orders were priced from it: that price stays. "
                    "Give the new price from a later date."
                )
                % values,
            )
        return repeats_open

    def check_supersede(
        self, found: Resolved, existing: SupplierItem, current: Standing, problems: Problems
    ) -> None:
        """A row starting after an open-ended standing price ends that price the day before,
        unless purchase orders from that day on were priced from it."""
        row = found.row
        start = row["valid_from"]
        values = {
            "list": current.list_name,
            "sku": found.item.sku,
            "period": _period(current.valid_from, current.valid_to),
        }
        other = self.superseded.setdefault((current.price_list_id, existing.pk), row.number)
        if other != row.number:
            problems.add(
                row.number,
                "valid_from",
                "price_overlap",
                _("Row %(row)s already ends price list “%(list)s” for %(sku)s.")
                % {**values, "row": other},
            )
            return
        price_list = PriceList.objects.select_related("node").get(pk=current.price_list_id)
        if price_used(price_list, [existing.pk], after=start - dt.timedelta(days=1)):
            problems.add(
                row.number,
                "valid_from",
                "price_overlap",
                _(
                    "Price list “%(list)s” prices %(sku)s over %(period)s and purchase orders "
                    "from %(date)s on were priced from it: give the new price from a later date."
                )
                % {**values, "date": start.isoformat()},
            )

    # --- applying -----------------------------------------------------------------------

    def apply_rows(self, rows: Sequence[Row]) -> list[Change]:
        self.load(rows)
        found: list[Resolved] = []
        for row in rows:
            resolved = self.resolve(row, None)
            assert resolved is not None, "checked rows resolve"
            found.append(resolved)
        self.load_standing({(resolved.supplier.pk, resolved.item.pk) for resolved in found})
        actions: dict[int, Change] = {}
        lists: dict[tuple[Any, ...], list[Resolved]] = {}
        # a standing open-ended list and its new last day → the items whose prices end then
        ends: dict[tuple[int, dt.date], list[int]] = {}
        for resolved in found:
            actions[resolved.row.number] = self.apply_terms(resolved)
            if not resolved.priced:
                continue
            existing = self.supplier_items[(resolved.supplier.pk, resolved.item.pk)]
            standing = self.standing.get(existing.pk, {}).get(resolved.scope_id, [])
            start = resolved.row["valid_from"]
            same = next((price for price in standing if price.valid_from == start), None)
            if same is not None:  # checked: the same price stands, or a corrected one
                if same.price != resolved.row["price"]:
                    correct_price(
                        PriceList.objects.select_related("supplier").get(pk=same.price_list_id),
                        resolved.item.pk,
                        resolved.row["price"],
                        actor=self.actor,
                    )
                    actions[resolved.row.number] = Change(
                        resolved.row.number, UPDATED, resolved.key(), ["price"]
                    )
                continue
            current = next(
                (
                    price
                    for price in standing
                    if price.valid_to is None and price.valid_from < start
                ),
                None,
            )
            if current is not None:  # checked: it ends the day before
                last_day = start - dt.timedelta(days=1)
                ends.setdefault((current.price_list_id, last_day), []).append(resolved.item.pk)
                actions[resolved.row.number] = Change(
                    resolved.row.number,
                    UPDATED,
                    resolved.key(),
                    [_("price from %(date)s") % {"date": start.isoformat()}],
                )
            key = (
                resolved.supplier.pk,
                resolved.scope_id,
                resolved.row["valid_from"],
                resolved.row.get("valid_to"),
                resolved.currency,
                resolved.list_name,
            )
            lists.setdefault(key, []).append(resolved)
            if current is None:
                actions[resolved.row.number] = Change(resolved.row.number, CREATED, resolved.key())
        for (price_list_id, last_day), item_ids in ends.items():
            end_price_list(
                PriceList.objects.select_related("supplier").get(pk=price_list_id),
                last_day,
                item_ids=item_ids,
                actor=self.actor,
            )
        for members in lists.values():
            first = members[0]
            create_price_list(
                first.supplier,
                PriceListInput(
                    name=first.list_name,
                    valid_from=first.row["valid_from"],
                    valid_to=first.row.get("valid_to"),
                    node_id=first.scope_id,
                    currency=first.currency,
                    lines=[
                        PriceLineInput(member.item.pk, member.row["price"]) for member in members
                    ],
                ),
                actor=self.actor,
            )
        return [actions[row.number] for row in rows]

    def apply_terms(self, found: Resolved) -> Change:
        """Create or change the supplier item when its terms differ (once per item)."""
        pair = (found.supplier.pk, found.item.pk)
        existing = self.supplier_items.get(pair)
        if existing is None:
            wanted = {**DEFAULT_TERMS, **found.terms}
            self.supplier_items[pair] = set_supplier_item(
                found.supplier,
                SupplierItemInput(item_id=found.item.pk, **wanted),
                actor=self.actor,
            )
            return Change(found.row.number, CREATED, found.key())
        changed = [
            name
            for name in TERMS
            if name in found.terms and found.terms[name] != getattr(existing, name)
        ]
        if not changed:
            return Change(found.row.number, UNCHANGED, found.key())
        wanted = {name: getattr(existing, name) for name in TERMS}
        wanted.update(found.terms)
        self.supplier_items[pair] = set_supplier_item(
            found.supplier,
            SupplierItemInput(item_id=found.item.pk, is_active=existing.is_active, **wanted),
            actor=self.actor,
        )
        return Change(found.row.number, UPDATED, found.key(), changed)

    # --- exporting ----------------------------------------------------------------------

    def export(self) -> Iterator[dict[str, Any]]:
        """The items and standing prices of the suppliers the actor may manage: a row per
        price in an active list, and a terms-only row per supplier item without one."""
        suppliers = [
            supplier
            for supplier in selectors.suppliers_for(self.actor, PROCUREMENT_MANAGE)
            if self.allowed_to(PROCUREMENT_MANAGE, supplier)
        ]
        supplier_items = SupplierItem.objects.filter(supplier__in=suppliers).select_related(
            "supplier", "item"
        )
        by_id = {supplier_item.pk: supplier_item for supplier_item in supplier_items}
        lines = (
            PriceListLine.objects.filter(supplier_item_id__in=by_id, price_list__is_active=True)
            .select_related("price_list__node")
            .order_by("price_list__valid_from", "price_list__node__code", "price_list_id", "id")
        )
        rows: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        priced: set[int] = set()
        for line in lines.iterator(chunk_size=2000):
            supplier_item = by_id[line.supplier_item_id]
            priced.add(supplier_item.pk)
            price_list = line.price_list
            values = self.terms_of(supplier_item)
            values.update(
                price=line.price,
                currency=price_list.currency,
                valid_from=price_list.valid_from,
                valid_to=price_list.valid_to,
                scope_code=price_list.node.code if price_list.node else "",
                price_list_name=price_list.name,
            )
            order = (
                supplier_item.supplier.code,
                1,
                price_list.valid_from,
                values["scope_code"],
                price_list.pk,
                supplier_item.item.sku,
            )
            rows.append((order, values))
        for supplier_item in by_id.values():
            if supplier_item.pk not in priced:
                order = (supplier_item.supplier.code, 0, dt.date.min, "", 0, supplier_item.item.sku)
                rows.append((order, self.terms_of(supplier_item)))
        rows.sort(key=lambda pair: pair[0])
        for _order, values in rows:
            yield values

    @staticmethod
    def terms_of(supplier_item: SupplierItem) -> dict[str, Any]:
        return {
            "supplier_code": supplier_item.supplier.code,
            "item_sku": supplier_item.item.sku,
            "supplier_sku": supplier_item.supplier_sku,
            "purchase_unit": supplier_item.purchase_unit,
            "pack_size": supplier_item.pack_size,
            "minimum_order_quantity": supplier_item.minimum_order_quantity,
        }
