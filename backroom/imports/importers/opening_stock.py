"""Opening stock: what each store holds on the day it starts with Backroom, by location and lot,
at its cost. Posted to the stock ledger as receipts from the source "opening_stock", through
the ledger's batch service (audited, published, balances and average cost updated).

Natural key: store + location + item + lot. Importing the same file again changes nothing (the
moves' keys are the natural keys); a file with a new quantity for a key posts the difference
as an adjustment and says so. The cost of what was posted cannot be changed by a re-import (a
receipt cost correction does that): such a row is refused."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from django.db.models import Min, Sum
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backroom.catalog.exceptions import MissingConversion, UnknownUnit
from backroom.catalog.models import Item
from backroom.catalog.units import to_base
from backroom.imports.columns import CODE, DATE, DECIMAL, Column, Row
from backroom.imports.importers.base import CREATED, UNCHANGED, UPDATED, Change, Importer, register
from backroom.imports.importers.sites import LOCATION_CODE, STORE_CODE, Sites
from backroom.imports.permissions import IMPORTS_USE
from backroom.imports.problems import Problems
from backroom.inventory.choices import MoveReason
from backroom.inventory.ledger import site_today
from backroom.inventory.models import Location, StockMove
from backroom.inventory.permissions import INVENTORY_MOVE
from backroom.inventory.services import MoveInput, Source, post_moves
from backroom.inventory.services.posting import ADJUST, RECEIVE
from backroom.org.models import Site

SOURCE_TYPE = "opening_stock"
NO_LOT = ""
COST_TOLERANCE = Decimal("0.000001")  # the ledger keeps cost per base unit to 10 places


def move_key(location: Location, item: Item, lot: str) -> str:
    """The idempotency key of a key's first opening move (corrections add `:2`, `:3`…)."""
    return f"opening:{location.pk}:{item.pk}:{lot.casefold()}"


@register
class OpeningStockImporter(Importer):
    kind = "opening_stock"
    label = gettext_lazy("Opening stock")
    description = gettext_lazy(
        "Opening stock: one row per store, location, item and lot, with the quantity on hand "
        "and its unit cost (before tax)."
    )
    permission = IMPORTS_USE
    writes = INVENTORY_MOVE
    chunk_size = 1000
    key_fields = ("store_code", "location_code", "item_sku", "lot_code")
    columns = (
        STORE_CODE,
        LOCATION_CODE,
        Column(
            "item_sku",
            "Item SKU",
            "物料编码",
            CODE,
            True,
            "BEEF-SLICED",
            max_length=40,
            aliases=("SKU", "item code", "物料"),
        ),
        Column(
            "lot_code",
            "Lot",
            "批次号",
            CODE,
            False,
            "L20261201",
            max_length=60,
            aliases=("lot code", "batch", "批次"),
            help=gettext_lazy("Leave blank for stock not kept by lot."),
        ),
        Column(
            "expiry_date",
            "Expiry date",
            "到期日",
            DATE,
            False,
            "2026-12-20",
            aliases=("best before", "保质期至"),
            help=gettext_lazy("For a new lot only."),
        ),
        Column(
            "quantity",
            "Quantity",
            "数量",
            DECIMAL,
            True,
            Decimal("12.5"),
            aliases=("qty", "on hand", "库存数量"),
        ),
        Column(
            "unit",
            "Unit",
            "单位",
            CODE,
            False,
            "kg",
            max_length=20,
            help=gettext_lazy("One of the item's units; blank means its base unit."),
        ),
        Column(
            "unit_cost",
            "Unit cost",
            "单位成本",
            DECIMAL,
            True,
            Decimal("58.2"),
            places=4,
            aliases=("cost", "成本单价"),
            help=gettext_lazy("Per unit of the Unit column, before tax."),
        ),
    )

    def __init__(self, actor: Any) -> None:
        super().__init__(actor)
        self.site = Sites()
        self.locations: dict[tuple[int, str], Location | None] = {}
        self.items: dict[str, Item | None] = {}
        self.allowed_sites: dict[int, bool] = {}

    # --- lookups ------------------------------------------------------------------------

    def location(self, site: Site, code: str) -> Location | None:
        key = (site.pk, code.casefold())
        if key not in self.locations:
            self.locations[key] = Location.objects.filter(
                site=site, code__iexact=code, is_active=True
            ).first()
        return self.locations[key]

    def load_items(self, skus: set[str]) -> None:
        missing = {sku.casefold() for sku in skus} - set(self.items)
        if not missing:
            return
        found = (
            Item.objects.select_related("base_unit", "item_class")
            .prefetch_related("units")
            .filter(sku__in={sku for sku in skus if sku.casefold() in missing})
        )
        for item in found:
            self.items[item.sku.casefold()] = item
        for sku in missing:
            self.items.setdefault(sku, None)
        # SKUs differing only in case: look them up one by one (rare).
        for sku in [sku for sku in skus if sku.casefold() in missing]:
            if self.items.get(sku.casefold()) is None:
                self.items[sku.casefold()] = (
                    Item.objects.select_related("base_unit", "item_class")
                    .prefetch_related("units")
                    .filter(sku__iexact=sku)
                    .first()
                )

    def may_post(self, site: Site) -> bool:
        if site.pk not in self.allowed_sites:
            self.allowed_sites[site.pk] = self.actor.has_scoped_permission(
                INVENTORY_MOVE, site.node
            )
        return self.allowed_sites[site.pk]

    # --- checking -----------------------------------------------------------------------

    def resolve(self, row: Row, problems: Problems | None) -> tuple[Site, Location, Item] | None:
        def problem(field: str, code: str, message: str) -> None:
            if problems is not None:
                problems.add(row.number, field, code, message)

        site = self.site(row["store_code"]) if row.has("store_code") else None
        if row.has("store_code") and site is None:
            problem(
                "store_code",
                "unknown_reference",
                _("There is no store %(code)s.") % {"code": row["store_code"]},
            )
        elif site is not None and not self.may_post(site):
            problem(
                "store_code",
                "permission_denied",
                _("You may not post stock at %(code)s.") % {"code": row["store_code"]},
            )
            site = None
        location = None
        if site is not None and row.has("location_code"):
            location = self.location(site, row["location_code"])
            if location is None:
                problem(
                    "location_code",
                    "unknown_reference",
                    _("%(store)s has no location %(code)s.")
                    % {"store": site.node.code, "code": row["location_code"]},
                )
        item = self.items.get(row["item_sku"].casefold()) if row.has("item_sku") else None
        if row.has("item_sku") and item is None:
            problem(
                "item_sku",
                "unknown_reference",
                _("There is no item %(sku)s.") % {"sku": row["item_sku"]},
            )
        elif item is not None and not item.is_active:
            problem("item_sku", "inactive", _("Item %(sku)s is inactive.") % {"sku": item.sku})
            item = None
        if site is None or location is None or item is None:
            return None
        return site, location, item

    def check_rows(self, rows: Sequence[Row], problems: Problems) -> None:
        self.load_items({row["item_sku"] for row in rows if row.has("item_sku")})
        resolved = []
        for row in rows:
            found = self.resolve(row, problems)
            if found is None or not row.ok:
                continue
            _site, location, item = found
            base = self.base_quantity(row, item, problems)
            if base is None:
                continue
            if base == 0:
                problems.add(
                    row.number,
                    "quantity",
                    "invalid_number",
                    _("Leave out rows with nothing on hand."),
                )
                continue
            expiry = row.get("expiry_date")
            if expiry is not None and expiry < site_today(location):
                problems.add(
                    row.number,
                    "expiry_date",
                    "expired",
                    _(
                        "The lot expired on %(date)s: opening stock cannot be expired "
                        "(record it as waste once imported, or leave it out)."
                    )
                    % {"date": expiry.isoformat()},
                )
                continue
            resolved.append((row, location, item, base))
        posted = self.posted(
            [
                (location, item, row.get("lot_code") or NO_LOT)
                for row, location, item, _base in resolved
            ]
        )
        for row, location, item, _base in resolved:
            earlier = posted.get((location.pk, item.pk, (row.get("lot_code") or NO_LOT).casefold()))
            if (
                earlier is not None
                and abs(earlier["cost"] - self.base_cost(row, item)) > COST_TOLERANCE
            ):
                problems.add(
                    row.number,
                    "unit_cost",
                    "cost_changed",
                    _(
                        "This stock was imported at %(cost)s per %(unit)s: a re-import "
                        "cannot change its cost (correct the receipt cost instead)."
                    )
                    % {"cost": earlier["cost"].normalize(), "unit": item.base_unit.code},
                )

    def base_quantity(self, row: Row, item: Item, problems: Problems | None) -> Decimal | None:
        unit = row.get("unit") or item.base_unit.code
        try:
            return to_base(item, row["quantity"], unit)
        except (UnknownUnit, MissingConversion):
            if problems is not None:
                units = [item.base_unit.code, *(unit.code for unit in item.units.all())]
                problems.add(
                    row.number,
                    "unit",
                    "unknown_unit",
                    _("Item %(sku)s has no unit “%(unit)s”: use one of %(units)s.")
                    % {"sku": item.sku, "unit": unit, "units": ", ".join(units)},
                )
            return None

    def base_cost(self, row: Row, item: Item) -> Decimal:
        """The row's cost per base unit, as the ledger keeps it."""
        unit = row.get("unit") or item.base_unit.code
        return row["unit_cost"] / to_base(item, Decimal(1), unit)

    def posted(
        self, keys: Sequence[tuple[Location, Item, str]]
    ) -> dict[tuple[int, int, str], dict[str, Any]]:
        """The opening stock posted so far for these keys: quantity, cost, number of moves.
        The first move of a key is found by its idempotency key (a unique index: a new file
        costs one indexed probe per chunk); corrections, only for keys found."""
        if not keys:
            return {}
        natural = {
            move_key(location, item, lot): (location.pk, item.pk, lot.casefold())
            for location, item, lot in keys
        }
        found: dict[tuple[int, int, str], dict[str, Any]] = {}
        first = StockMove.objects.filter(idempotency_key__in=natural).values_list(
            "idempotency_key", "quantity", "unit_cost"
        )
        for key, quantity, unit_cost in first:
            found[natural[key]] = {"quantity": quantity, "cost": unit_cost, "moves": 1}
        if not found:
            return found
        corrections = (
            StockMove.objects.filter(
                source_type=SOURCE_TYPE,
                location_id__in={location for location, _item, _lot in found},
                item_id__in={item for _location, item, _lot in found},
            )
            .exclude(idempotency_key__in=natural)
            .values_list("location_id", "item_id", "lot__code", "quantity")
        )
        for location_id, item_id, lot_code, quantity in corrections:
            earlier = found.get((location_id, item_id, (lot_code or NO_LOT).casefold()))
            if earlier is not None:
                earlier["quantity"] += quantity
                earlier["moves"] += 1
        return found

    # --- applying -----------------------------------------------------------------------

    def apply_rows(self, rows: Sequence[Row]) -> list[Change]:
        self.load_items({row["item_sku"] for row in rows})
        resolved = []
        for row in rows:
            found = self.resolve(row, None)
            assert found is not None, "checked rows resolve"
            resolved.append((row, *found))
        posted = self.posted(
            [
                (location, item, row.get("lot_code") or NO_LOT)
                for row, _site, location, item in resolved
            ]
        )
        lines: list[MoveInput] = []
        changes: list[Change] = []
        for row, site, location, item in resolved:
            lot = row.get("lot_code") or None
            natural = f"{site.node.code}/{location.code}/{item.sku}" + (f"/{lot}" if lot else "")
            key = move_key(location, item, lot or NO_LOT)
            base = self.base_quantity(row, item, None)
            assert base is not None
            source = Source(SOURCE_TYPE, str(location.pk), natural[:64])
            earlier = posted.get((location.pk, item.pk, (lot or NO_LOT).casefold()))
            if earlier is None:
                lines.append(
                    MoveInput(
                        action=RECEIVE,
                        item_id=item.pk,
                        location_id=location.pk,
                        quantity=row["quantity"],
                        unit=row.get("unit") or None,
                        unit_cost=row["unit_cost"],
                        lot_code=lot,
                        expiry_date=row.get("expiry_date"),
                        key=key,
                        source=source,
                    )
                )
                changes.append(Change(row.number, CREATED, natural))
            elif earlier["quantity"] == base:
                changes.append(Change(row.number, UNCHANGED, natural))
            else:
                lines.append(
                    MoveInput(
                        action=ADJUST,
                        item_id=item.pk,
                        location_id=location.pk,
                        quantity=base - earlier["quantity"],
                        unit_cost=earlier["cost"],
                        lot_code=lot,
                        key=f"{key}:{earlier['moves'] + 1}",
                        reason=MoveReason.ADJUSTMENT,
                        source=source,
                    )
                )
                changes.append(Change(row.number, UPDATED, natural, ["quantity"]))
        if lines:
            post_moves(lines, actor=self.actor, reason=str(_("Opening stock import")))
        return changes

    # --- exporting ----------------------------------------------------------------------

    def export(self) -> Iterator[dict[str, Any]]:
        """The opening stock as imported (not today's on hand): per key, the posted quantity in
        the base unit at the posted cost."""
        sites = {
            site.pk: site
            for site in Site.objects.select_related("node")
            if self.actor.has_scoped_permission(INVENTORY_MOVE, site.node)
        }
        moves = (
            StockMove.objects.filter(source_type=SOURCE_TYPE, site_id__in=sites)
            .values("site_id", "location__code", "item__sku", "item__base_unit__code", "lot__code")
            .annotate(
                quantity=Sum("quantity"), cost=Min("unit_cost"), expiry=Min("lot__expiry_date")
            )
            .order_by("site_id", "location__code", "item__sku", "lot__code")
        )
        for move in moves.iterator(chunk_size=2000):
            if not move["quantity"]:
                continue
            yield {
                "store_code": sites[move["site_id"]].node.code,
                "location_code": move["location__code"],
                "item_sku": move["item__sku"],
                "lot_code": move["lot__code"] or "",
                "expiry_date": move["expiry"],
                "quantity": move["quantity"],
                "unit": move["item__base_unit__code"],
                "unit_cost": move["cost"],
            }
