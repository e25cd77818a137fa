"""Storage locations: the walk-ins, freezers, dry stores and bars of each store, warehouse and
central kitchen (opening stock is counted into them). Natural key: store + location code.
Created and changed through the inventory services; a location's kind cannot change."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backroom.imports.columns import BOOLEAN, CHOICE, TEXT, Column, Row
from backroom.imports.importers.base import CREATED, UNCHANGED, UPDATED, Change, Importer, register
from backroom.imports.importers.sites import LOCATION_CODE, STORE_CODE, Sites
from backroom.imports.permissions import IMPORTS_USE
from backroom.imports.problems import Problems
from backroom.inventory.choices import LocationKind
from backroom.inventory.models import Location
from backroom.inventory.permissions import INVENTORY_MANAGE
from backroom.inventory.selectors import locations_for
from backroom.inventory.services import create_location, update_location
from backroom.org.models import Site

KINDS = tuple(
    (value, (str(label_en), label_zh, *extra))
    for value, label_en, label_zh, extra in (
        (LocationKind.WALK_IN, "walk-in cooler", "冷藏库", ("walk in", "cooler", "冷库")),
        (LocationKind.FREEZER, "freezer", "冷冻库", ("冻库",)),
        (LocationKind.DRY_STORE, "dry store", "干货库", ("dry", "常温库")),
        (LocationKind.BAR, "bar", "吧台", ()),
        (LocationKind.OTHER, "other", "其他", ()),
    )
)


@register
class LocationsImporter(Importer):
    kind = "locations"
    label = gettext_lazy("Storage locations")
    description = gettext_lazy(
        "Storage locations: one row per store (or warehouse, central kitchen) and location."
    )
    permission = IMPORTS_USE
    writes = INVENTORY_MANAGE
    key_fields = ("store_code", "location_code")
    columns = (
        STORE_CODE,
        LOCATION_CODE,
        Column("name", "Name", "名称", TEXT, True, "Walk-in cooler", max_length=100),
        Column("kind", "Kind", "类型", CHOICE, True, "walk-in cooler", choices=KINDS),
        Column(
            "active",
            "Active",
            "启用",
            BOOLEAN,
            False,
            "yes",
            help=gettext_lazy("“no” closes the location: it takes no more stock."),
        ),
    )

    def __init__(self, actor: Any) -> None:
        super().__init__(actor)
        self.site = Sites()

    def existing(self, site: Site, code: str) -> Location | None:
        return Location.objects.filter(site=site, code__iexact=code).first()

    def check_rows(self, rows: Sequence[Row], problems: Problems) -> None:
        for row in rows:
            if not row.has("store_code"):
                continue
            site = self.site(row["store_code"])
            if site is None:
                problems.add(
                    row.number,
                    "store_code",
                    "unknown_reference",
                    _("There is no store %(code)s.") % {"code": row["store_code"]},
                )
                continue
            if not self.actor.has_scoped_permission(INVENTORY_MANAGE, site.node):
                problems.add(
                    row.number,
                    "store_code",
                    "permission_denied",
                    _("You may not manage the locations of %(code)s.") % {"code": site.node.code},
                )
                continue
            location = (
                self.existing(site, row["location_code"]) if row.has("location_code") else None
            )
            if location is not None and row.has("kind") and location.kind != row["kind"]:
                problems.add(
                    row.number,
                    "kind",
                    "cannot_change",
                    _("%(code)s is a %(kind)s: a location's kind cannot change.")
                    % {"code": location.code, "kind": location.get_kind_display()},
                )

    def apply_rows(self, rows: Sequence[Row]) -> list[Change]:
        changes = []
        for row in rows:
            site = self.site(row["store_code"])
            assert site is not None
            key = f"{site.node.code}/{row['location_code'].upper()}"
            location = self.existing(site, row["location_code"])
            if location is None:
                location = create_location(
                    site,
                    code=row["location_code"],
                    name=row["name"],
                    kind=row["kind"],
                    actor=self.actor,
                )
                if row.get("active") is False:
                    update_location(location, actor=self.actor, is_active=False)
                changes.append(Change(row.number, CREATED, key))
                continue
            changed = []
            if row["name"] != location.name:
                changed.append("name")
            if row.has("active") and row["active"] != location.is_active:
                changed.append("active")
            if changed:
                update_location(
                    location,
                    actor=self.actor,
                    name=row["name"] if "name" in changed else None,
                    is_active=row["active"] if "active" in changed else None,
                    reason=str(_("Import")),
                )
            changes.append(Change(row.number, UPDATED if changed else UNCHANGED, key, changed))
        return changes

    def export(self) -> Iterator[dict[str, Any]]:
        for location in locations_for(self.actor, INVENTORY_MANAGE).exclude(
            kind=LocationKind.IN_TRANSIT
        ):
            yield {
                "store_code": location.site.node.code,
                "location_code": location.code,
                "name": location.name,
                "kind": location.kind,
                "active": location.is_active,
            }
