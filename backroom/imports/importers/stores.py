"""Org tree: the group, legal entities, regions, stores, warehouses and central kitchens, one row
per node, written through the org services (`create_node`, `update_site`, `rename_node`,
`update_entity`, `move_node`: audited, published).

Natural key: the node's code. A row may name a parent defined further down the file: rows are
applied parents first (`ordered`, `depth`). An unknown parent or a cycle is a problem.

An existing node is renamed, and moved under another parent already in Backroom (in the same
legal entity, not under its own subtree; one file does not move a node under another node it
moves). An entity's country and tax id change; its currency only while it has no books and no
stock. What the org services cannot change is refused, row by row, with a problem saying so: a
node's kind, a move to another legal entity, an entity's currency once it has books or stock,
and a site's brand. Renaming or moving a node needs org.manage at its parent, as creating it
does (a site's own manager may rename it, by `update_site`, but not move it).
Blank cells of an existing node leave its values as they are, except Address and City, where a
blank cell clears the value; a new node's blank cells take the defaults."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backroom.accounts.permissions import ORG_MANAGE
from backroom.imports.columns import CHOICE, CODE, DATE, DECIMAL, INTEGER, TEXT, Column, Row
from backroom.imports.importers.base import CREATED, UNCHANGED, UPDATED, Change, Importer, register
from backroom.imports.permissions import IMPORTS_USE
from backroom.imports.problems import Problems
from backroom.kernel.money import CURRENCIES
from backroom.kernel.spreadsheets import is_blank
from backroom.org.choices import ALLOWED_PARENTS, SITE_KINDS, NodeKind, SiteStatus
from backroom.org.models import Brand, OrgNode, code_validator
from backroom.org.selectors import legal_entity_of, nodes_for
from backroom.org.services import (
    EntityDetails,
    NodeInput,
    SiteChanges,
    SiteDetails,
    create_node,
    entity_has_books_or_stock,
    move_node,
    rename_node,
    time_zones,
    update_entity,
    update_site,
)

SITE_FIELDS = (
    "time_zone",
    "cutoff_hour",
    "city",
    "address",
    "latitude",
    "longitude",
    "opening_date",
    "status",
    "brand_code",
)
ENTITY_FIELDS = ("base_currency", "country", "tax_id")
CLEARED_BY_BLANK = ("city", "address")  # text a blank cell clears; other blanks keep the value
UPDATABLE_SITE_FIELDS = (
    "time_zone",
    "cutoff_hour",
    "city",
    "address",
    "latitude",
    "longitude",
    "opening_date",
    "status",
)

KIND_CHOICES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (NodeKind.GROUP, ("group", "集团", "总部")),
    (NodeKind.ENTITY, ("entity", "legal entity", "法人", "法人主体", "公司主体")),
    (NodeKind.REGION, ("region", "区域", "大区", "片区")),
    (NodeKind.STORE, ("store", "门店", "店铺")),
    (NodeKind.WAREHOUSE, ("warehouse", "仓库")),
    (NodeKind.KITCHEN, ("kitchen", "central kitchen", "中央厨房", "央厨")),
)
STATUS_CHOICES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (SiteStatus.OPEN, ("open", "营业", "营业中")),
    (SiteStatus.PLANNED, ("planned", "筹备", "筹备中", "计划")),
    (SiteStatus.CLOSED, ("closed", "关闭", "已关闭", "闭店")),
)


def normal_code(value: str) -> str:
    """A node code as the org services store it (they upper-case what they are given)."""
    return value.strip().upper()


@dataclass
class Entry:
    """What the file says about one node (its first row), for rules across rows."""

    row: int
    kind: str | None  # the stored kind for an existing node
    parent: str | None  # the parent's code as given (upper case), None when blank
    node: OrgNode | None  # the existing node of this code


@register
class StoresImporter(Importer):
    kind = "stores"
    label = gettext_lazy("Org tree and stores")
    description = gettext_lazy(
        "Org tree: one row per node (legal entity, region, store, warehouse or central kitchen) "
        "with its code, name, kind and parent code; a parent may be on a row further down. "
        "Stores, warehouses and kitchens also take their clock, address and status; legal "
        "entities their base currency and country. An existing node may be renamed or moved "
        "under another parent of the same legal entity; it keeps its kind."
    )
    permission = IMPORTS_USE
    writes = ORG_MANAGE
    ordered = True
    key_fields = ("code",)
    columns = (
        Column(
            "code",
            "Code",
            "编码",
            CODE,
            True,
            "SHA003",
            max_length=20,
            aliases=("node code", "org code", "组织编码", "机构编码"),
            help=gettext_lazy("1–20 capital letters, digits or hyphens; the node's key."),
        ),
        Column(
            "name",
            "Name",
            "名称",
            TEXT,
            True,
            "静安寺店",
            max_length=200,
            aliases=("node name", "store name", "门店名称"),
        ),
        Column(
            "kind",
            "Kind",
            "类型",
            CHOICE,
            True,
            "store",
            choices=KIND_CHOICES,
            aliases=("type", "node kind", "节点类型"),
        ),
        Column(
            "parent_code",
            "Parent code",
            "上级编码",
            CODE,
            False,
            "EAST",
            max_length=20,
            aliases=("parent", "上级", "上级组织"),
            help=gettext_lazy(
                "The code of the node above (in Backroom or on another row of this file); "
                "blank only for the group."
            ),
        ),
        Column(
            "time_zone",
            "Time zone",
            "时区",
            TEXT,
            False,
            "Asia/Shanghai",
            max_length=64,
            aliases=("timezone", "tz"),
            help=gettext_lazy("Sites only: an IANA time zone; Asia/Shanghai when blank."),
        ),
        Column(
            "cutoff_hour",
            "Business-day cut-off hour",
            "营业日切换时点",
            INTEGER,
            False,
            4,
            maximum=Decimal(23),
            aliases=("cut-off hour", "cutoff hour", "切换时点"),
            help=gettext_lazy(
                "Sites only: the hour (0–23) at which the business day ends; 4 when blank."
            ),
        ),
        Column(
            "city",
            "City",
            "城市",
            TEXT,
            False,
            "上海",
            max_length=100,
            help=gettext_lazy("Sites only."),
        ),
        Column(
            "address",
            "Address",
            "地址",
            TEXT,
            False,
            "南京西路 1618 号",
            max_length=300,
            help=gettext_lazy("Sites only."),
        ),
        Column(
            "latitude",
            "Latitude",
            "纬度",
            DECIMAL,
            False,
            Decimal("31.2231"),
            minimum=Decimal(-90),
            maximum=Decimal(90),
            places=6,
            help=gettext_lazy("Sites only: −90 to 90."),
        ),
        Column(
            "longitude",
            "Longitude",
            "经度",
            DECIMAL,
            False,
            Decimal("121.4452"),
            minimum=Decimal(-180),
            maximum=Decimal(180),
            places=6,
            help=gettext_lazy("Sites only: −180 to 180."),
        ),
        Column(
            "opening_date",
            "Opening date",
            "开业日期",
            DATE,
            False,
            "2026-03-01",
            help=gettext_lazy("Sites only."),
        ),
        Column(
            "status",
            "Status",
            "状态",
            CHOICE,
            False,
            "open",
            choices=STATUS_CHOICES,
            aliases=("site status", "营业状态"),
            help=gettext_lazy("Sites only: open when blank."),
        ),
        Column(
            "brand_code",
            "Brand code",
            "品牌编码",
            CODE,
            False,
            "",
            max_length=20,
            aliases=("brand", "品牌"),
            help=gettext_lazy(
                "Sites only: an existing brand; set when the site is created (it cannot be "
                "changed by an import)."
            ),
        ),
        Column(
            "base_currency",
            "Base currency",
            "本位币",
            CODE,
            False,
            "",
            max_length=3,
            aliases=("currency", "币种"),
            help=gettext_lazy("Legal entities only, required for a new one: e.g. CNY."),
        ),
        Column(
            "country",
            "Country",
            "国家/地区",
            CODE,
            False,
            "",
            max_length=2,
            aliases=("country code", "国家"),
            help=gettext_lazy(
                "Legal entities only, required for a new one: a two-letter code, e.g. CN."
            ),
        ),
        Column(
            "tax_id",
            "Tax id",
            "税号",
            CODE,
            False,
            "",
            max_length=40,
            aliases=("tax number", "纳税人识别号", "统一社会信用代码"),
            help=gettext_lazy("Legal entities only."),
        ),
    )

    def __init__(self, actor: Any) -> None:
        super().__init__(actor)
        self.nodes: dict[str, OrgNode | None] = {}
        self.entries: dict[str, Entry] = {}
        self.brands: dict[str, Brand | None] = {}
        self.managed: dict[int, bool] = {}
        self.depths: dict[str, int] = {}
        self.moves: dict[str, tuple[int, OrgNode, OrgNode]] = {}

    # --- lookups ------------------------------------------------------------------------

    def load_nodes(self, codes: set[str]) -> None:
        missing = codes - set(self.nodes)
        if not missing:
            return
        found = OrgNode.objects.select_related(
            "parent", "site", "site__brand", "legal_entity"
        ).filter(code__in=missing)
        for node in found:
            self.nodes[node.code] = node
        for code in missing:
            self.nodes.setdefault(code, None)

    def brand(self, code: str) -> Brand | None:
        key = normal_code(code)
        if key not in self.brands:
            self.brands[key] = Brand.objects.filter(code=key).first()
        return self.brands[key]

    def may_manage(self, node: OrgNode) -> bool:
        if node.pk not in self.managed:
            self.managed[node.pk] = self.actor.has_scoped_permission(ORG_MANAGE, node)
        return self.managed[node.pk]

    def may_manage_scope(self, node: OrgNode) -> bool:
        """Renaming or moving a node needs org.manage where it could be created: its parent."""
        if node.parent is None:
            return bool(self.actor.has_scoped_permission(ORG_MANAGE))
        return self.may_manage(node.parent)

    def entity_of(self, node: OrgNode) -> int | None:
        entity = legal_entity_of(node)
        return entity.pk if entity is not None else None

    # --- checking -----------------------------------------------------------------------

    def check_rows(self, rows: Sequence[Row], problems: Problems) -> None:
        codes = set()
        for row in rows:
            for key in ("code", "parent_code"):
                if row.has(key):
                    codes.add(normal_code(row[key]))
        self.load_nodes(codes)
        for row in rows:
            if not row.has("code"):
                continue
            code = normal_code(row["code"])
            try:
                code_validator(code)
            except ValidationError:
                problems.add(
                    row.number,
                    "code",
                    "invalid_code",
                    _("“%(code)s” is not a code: use 1–20 capital letters, digits or hyphens.")
                    % {"code": row["code"]},
                )
                continue
            node = self.nodes[code]
            parent = normal_code(row["parent_code"]) if row.has("parent_code") else None
            kind = node.kind if node is not None else row.get("kind")
            if code not in self.entries:  # a duplicate code is the engine's problem
                self.entries[code] = Entry(row.number, kind, parent, node)
            if kind is not None:
                self.check_fields(row, kind, problems)
            if node is not None:
                self.check_existing(row, node, parent, problems)
            elif kind is not None:
                self.check_new(row, kind, parent, problems)

    def check_fields(self, row: Row, kind: str, problems: Problems) -> None:
        """Site columns only on sites, entity columns only on entities; values the services
        accept."""
        label = NodeKind(kind).label
        if kind not in SITE_KINDS:
            for key in SITE_FIELDS:
                if row.has(key):
                    problems.add(
                        row.number,
                        key,
                        "not_applicable",
                        _(
                            "Only stores, warehouses and kitchens have a %(column)s: "
                            "leave it blank for a %(kind)s."
                        )
                        % {"column": self.column(key).label, "kind": label},
                    )
        if kind != NodeKind.ENTITY:
            for key in ENTITY_FIELDS:
                if row.has(key):
                    problems.add(
                        row.number,
                        key,
                        "not_applicable",
                        _("Only legal entities have a %(column)s: leave it blank for a %(kind)s.")
                        % {"column": self.column(key).label, "kind": label},
                    )
        if kind in SITE_KINDS and row.has("time_zone") and row["time_zone"] not in time_zones():
            problems.add(
                row.number,
                "time_zone",
                "invalid_value",
                _("“%(value)s” is not a time zone: use a name such as Asia/Shanghai.")
                % {"value": row["time_zone"]},
            )
        if kind == NodeKind.ENTITY:
            if row.has("base_currency") and row["base_currency"].upper() not in CURRENCIES:
                problems.add(
                    row.number,
                    "base_currency",
                    "invalid_value",
                    _("“%(value)s” is not a supported currency: use one of %(values)s.")
                    % {"value": row["base_currency"], "values": ", ".join(CURRENCIES)},
                )
            if row.has("country") and not (
                len(row["country"]) == 2 and row["country"].isascii() and row["country"].isalpha()
            ):
                problems.add(
                    row.number,
                    "country",
                    "invalid_value",
                    _("Use a two-letter country code (CN, HK)."),
                )

    def check_existing(
        self, row: Row, node: OrgNode, parent: str | None, problems: Problems
    ) -> None:
        """An existing node: the actor manages it, and the row changes only what the services
        can change."""
        if not self.may_manage(node):
            problems.add(
                row.number,
                "code",
                "permission_denied",
                _("You may not change %(code)s.") % {"code": node.code},
            )
        if row.has("kind") and row["kind"] != node.kind:
            problems.add(
                row.number,
                "kind",
                "cannot_change",
                _("%(code)s is a %(kind)s: the kind of a node cannot be changed.")
                % {"code": node.code, "kind": NodeKind(node.kind).label},
            )
        current_parent = node.parent.code if node.parent is not None else None
        if parent is not None and parent != current_parent:
            self.check_move(row, node, parent, problems)
        renamed = row.has("name") and row["name"] != node.name
        if node.kind not in SITE_KINDS and renamed and not self.may_manage_scope(node):
            problems.add(
                row.number,
                "name",
                "permission_denied",
                _("You may not rename %(code)s: that needs the org rights above it.")
                % {"code": node.code},
            )
        if node.kind == NodeKind.ENTITY:
            entity = node.legal_entity
            wanted = self.entity_changes(row, node)
            if wanted and not self.may_manage_scope(node):
                problems.add(
                    row.number,
                    next(iter(wanted)),
                    "permission_denied",
                    _("You may not change the legal entity %(code)s.") % {"code": node.code},
                )
            if "base_currency" in wanted and entity_has_books_or_stock(entity):
                problems.add(
                    row.number,
                    "base_currency",
                    "cannot_change",
                    _(
                        "%(code)s keeps its books or stock in %(value)s: its base currency "
                        "cannot be changed."
                    )
                    % {"code": node.code, "value": entity.base_currency},
                )
        if node.kind in SITE_KINDS and row.has("brand_code"):
            brand = node.site.brand
            if normal_code(row["brand_code"]) != (brand.code if brand else None):
                problems.add(
                    row.number,
                    "brand_code",
                    "cannot_change",
                    _("The brand of %(code)s is “%(brand)s”: it cannot be changed by an import.")
                    % {"code": node.code, "brand": brand.code if brand else "—"},
                )

    def check_move(self, row: Row, node: OrgNode, parent: str, problems: Problems) -> None:
        """An existing node under another parent: one already in Backroom, of a kind it may hang
        under, in the same legal entity, not in its own subtree; the actor manages both."""
        target = self.nodes.get(parent)
        if target is None:
            problems.add(
                row.number,
                "parent_code",
                "unknown_reference",
                _(
                    "There is no node %(code)s in Backroom: a node can be moved only under an "
                    "existing node (import the new parent first)."
                )
                % {"code": parent},
            )
            return
        self.moves[node.code] = (row.number, node, target)
        if target.kind not in ALLOWED_PARENTS[node.kind]:
            problems.add(
                row.number,
                "parent_code",
                "invalid_parent",
                _("A %(child)s cannot be placed under a %(parent)s (%(code)s).")
                % {
                    "child": NodeKind(node.kind).label,
                    "parent": NodeKind(target.kind).label,
                    "code": target.code,
                },
            )
        elif target.path.startswith(node.path):
            problems.add(
                row.number,
                "parent_code",
                "invalid_parent",
                _("%(code)s cannot be placed under itself or one of its own nodes (%(parent)s).")
                % {"code": node.code, "parent": target.code},
            )
        elif self.entity_of(node) != self.entity_of(target):
            problems.add(
                row.number,
                "parent_code",
                "cannot_change",
                _(
                    "%(parent)s belongs to another legal entity: a node cannot be moved from "
                    "one legal entity to another."
                )
                % {"parent": target.code},
            )
        if not (self.may_manage_scope(node) and self.may_manage(target)):
            problems.add(
                row.number,
                "parent_code",
                "permission_denied",
                _("You may not move %(code)s under %(parent)s.")
                % {"code": node.code, "parent": target.code},
            )

    def entity_changes(self, row: Row, node: OrgNode) -> dict[str, str]:
        """The entity columns of the row that differ from the entity's values."""
        entity = node.legal_entity
        wanted = {}
        for key in ENTITY_FIELDS:
            value = row.get(key)
            if value is None:
                continue
            if key != "tax_id":
                value = value.upper()
            if value != getattr(entity, key):
                wanted[key] = value
        return wanted

    def check_new(self, row: Row, kind: str, parent: str | None, problems: Problems) -> None:
        """A new node: its parent comes in finish_check (it may be further down the file)."""
        if kind == NodeKind.GROUP:
            if parent is not None:
                problems.add(
                    row.number,
                    "parent_code",
                    "invalid_parent",
                    _("The group is the top of the tree: leave its parent code blank."),
                )
            if OrgNode.objects.filter(kind=NodeKind.GROUP).exists():
                problems.add(
                    row.number,
                    "kind",
                    "invalid_value",
                    _("There is already a group: one deployment serves one organisation."),
                )
            elif not self.actor.has_scoped_permission(ORG_MANAGE):
                problems.add(
                    row.number, "code", "permission_denied", _("You may not create the group.")
                )
        elif parent is None:
            problems.add(
                row.number,
                "parent_code",
                "required",
                _("Fill in the %(column)s: only the group has no parent.")
                % {"column": self.column("parent_code").label},
            )
        if kind == NodeKind.ENTITY:
            for key in ("base_currency", "country"):
                if not row.has(key) and is_blank(row.raw.get(key)):
                    problems.add(
                        row.number,
                        key,
                        "required",
                        _("Fill in the %(column)s of a new legal entity.")
                        % {"column": self.column(key).label},
                    )
        if kind in SITE_KINDS and row.has("brand_code") and self.brand(row["brand_code"]) is None:
            problems.add(
                row.number,
                "brand_code",
                "unknown_reference",
                _("There is no brand %(code)s.") % {"code": row["brand_code"]},
            )

    def finish_check(self, problems: Problems) -> None:
        """Each new node's parent: in Backroom or on a row of the file, of a kind it may hang
        under, no cycle, and the actor manages the nearest existing ancestor."""
        self.load_nodes({entry.parent for entry in self.entries.values() if entry.parent})
        for code, (row_number, _node, target) in self.moves.items():
            for other, (_row, moved, _target) in self.moves.items():
                if other != code and target.path.startswith(moved.path):
                    problems.add(
                        row_number,
                        "parent_code",
                        "invalid_parent",
                        _(
                            "%(parent)s is under %(other)s, which this file also moves: move "
                            "%(code)s in another file."
                        )
                        % {"parent": target.code, "other": other, "code": code},
                    )
                    break
        in_cycle: set[str] = set()
        for code, entry in self.entries.items():
            if entry.node is not None or entry.parent is None or entry.kind == NodeKind.GROUP:
                continue
            parent_entry = self.entries.get(entry.parent)
            parent_node = self.nodes.get(entry.parent)
            if parent_entry is None and parent_node is None:
                problems.add(
                    entry.row,
                    "parent_code",
                    "unknown_reference",
                    _("There is no node %(code)s, in Backroom or in this file.")
                    % {"code": entry.parent},
                )
                continue
            if parent_node is not None:
                parent_kind: str | None = parent_node.kind
            else:
                parent_kind = parent_entry.kind if parent_entry is not None else None
            if entry.kind is not None and parent_kind is not None:
                if parent_kind not in ALLOWED_PARENTS[entry.kind]:
                    problems.add(
                        entry.row,
                        "parent_code",
                        "invalid_parent",
                        _("A %(child)s cannot be placed under a %(parent)s (%(code)s).")
                        % {
                            "child": NodeKind(entry.kind).label,
                            "parent": NodeKind(parent_kind).label,
                            "code": entry.parent,
                        },
                    )
            ancestor, cycle = self.existing_ancestor(code)
            if cycle:
                if code not in in_cycle:
                    in_cycle.update(cycle)
                    for member in cycle:
                        problems.add(
                            self.entries[member].row,
                            "parent_code",
                            "cycle",
                            _("The parent codes go round in a circle: %(codes)s.")
                            % {"codes": " → ".join([*cycle, cycle[0]])},
                        )
                continue
            if ancestor is not None and not self.may_manage(ancestor):
                problems.add(
                    entry.row,
                    "parent_code",
                    "permission_denied",
                    _("You may not add nodes under %(code)s.") % {"code": ancestor.code},
                )

    def existing_ancestor(self, code: str) -> tuple[OrgNode | None, list[str]]:
        """The nearest node in Backroom above a new node (through the new nodes of the file),
        or the codes of the cycle the chain runs into; (None, []) when the chain ends at an
        unknown code."""
        chain: list[str] = []
        current = code
        while True:
            if current in chain:
                return None, chain[chain.index(current) :]
            chain.append(current)
            entry = self.entries.get(current)
            if entry is not None and entry.node is None:
                if entry.parent is None:
                    return None, []
                current = entry.parent
                continue
            return self.nodes.get(current), []

    def depth(self, row: Row) -> int:
        """How many new nodes of the file sit above this row's node."""
        if not row.has("code"):
            return 0
        code = normal_code(row["code"])
        if code not in self.depths:
            level, seen, current = 0, {code}, self.entries.get(code)
            while current is not None and current.node is None and current.parent:
                above = self.entries.get(current.parent)
                if above is None or above.node is not None or current.parent in seen:
                    break
                seen.add(current.parent)
                level += 1
                current = above
            self.depths[code] = level
        return self.depths[code]

    # --- applying -----------------------------------------------------------------------

    def apply_rows(self, rows: Sequence[Row]) -> list[Change]:
        changes = []
        for row in rows:
            code = normal_code(row["code"])
            node = (
                OrgNode.objects.select_related("site", "parent", "legal_entity")
                .filter(code=code)
                .first()
            )
            if node is None:
                changes.append(Change(row.number, CREATED, self.create(row, code).code))
            else:  # checking refused every change the services cannot make
                changed = self.update(row, node)
                changes.append(Change(row.number, UPDATED if changed else UNCHANGED, code, changed))
        return changes

    def create(self, row: Row, code: str) -> OrgNode:
        kind = row["kind"]
        parent = (
            OrgNode.objects.get(code=normal_code(row["parent_code"]))
            if row.has("parent_code")
            else None
        )
        entity = None
        if kind == NodeKind.ENTITY:
            entity = EntityDetails(
                base_currency=row["base_currency"].upper(),
                country=row["country"].upper(),
                tax_id=row.get("tax_id", ""),
            )
        site = None
        if kind in SITE_KINDS:
            defaults = SiteDetails()
            site = SiteDetails(
                time_zone=row.get("time_zone", defaults.time_zone),
                cutoff_hour=row.get("cutoff_hour", defaults.cutoff_hour),
                address=row.get("address", ""),
                city=row.get("city", ""),
                latitude=row.get("latitude"),
                longitude=row.get("longitude"),
                opening_date=row.get("opening_date"),
                status=row.get("status", defaults.status),
                brand_code=normal_code(row["brand_code"]) if row.has("brand_code") else None,
            )
        return create_node(
            NodeInput(
                kind=kind,
                code=code,
                name=row["name"],
                parent_id=parent.pk if parent is not None else None,
            ),
            actor=self.actor,
            entity=entity,
            site=site,
        )

    def update(self, row: Row, node: OrgNode) -> list[str]:
        """Change what the row changes on a node; the names of the changed columns."""
        reason = str(_("Org tree import"))
        if node.kind in SITE_KINDS:
            changed = self.update_site(row, node)
        else:
            changed = []
            if row["name"] != node.name:
                rename_node(node, name=row["name"], actor=self.actor, reason=reason)
                changed.append("name")
        if node.kind == NodeKind.ENTITY:
            wanted = self.entity_changes(row, node)
            if wanted:
                update_entity(node.legal_entity, actor=self.actor, reason=reason, **wanted)
                changed.extend(wanted)
        if row.has("parent_code"):
            parent = normal_code(row["parent_code"])
            if node.parent is None or parent != node.parent.code:
                target = OrgNode.objects.get(code=parent)
                move_node(node, parent=target, actor=self.actor, reason=reason)
                changed.append("parent_code")
        return changed

    def update_site(self, row: Row, node: OrgNode) -> list[str]:
        """Change what the row changes on a site; the names of the changed columns."""
        site = node.site
        changes = SiteChanges()
        changed = []
        if row["name"] != node.name:
            changes.name = row["name"]
            changed.append("name")
        for key in UPDATABLE_SITE_FIELDS:
            if row.has(key):
                wanted = row[key]
            elif key in CLEARED_BY_BLANK and key in row.raw:
                wanted = ""
            else:
                continue
            if wanted != getattr(site, key):
                setattr(changes, key, wanted)
                changed.append(key)
        if changed:
            update_site(site, changes, actor=self.actor, reason=str(_("Org tree import")))
        return changed

    # --- exporting ----------------------------------------------------------------------

    def export(self) -> Iterator[dict[str, Any]]:
        """The nodes the actor manages, in tree order (parents first)."""
        nodes = nodes_for(self.actor, ORG_MANAGE).select_related(
            "parent", "site", "site__brand", "legal_entity"
        )
        for node in nodes.iterator(chunk_size=500):
            values: dict[str, Any] = {
                "code": node.code,
                "name": node.name,
                "kind": node.kind,
                "parent_code": node.parent.code if node.parent is not None else None,
            }
            if node.kind in SITE_KINDS:
                site = node.site
                values.update(
                    time_zone=site.time_zone,
                    cutoff_hour=site.cutoff_hour,
                    city=site.city,
                    address=site.address,
                    latitude=site.latitude,
                    longitude=site.longitude,
                    opening_date=site.opening_date,
                    status=site.status,
                    brand_code=site.brand.code if site.brand is not None else None,
                )
            if node.kind == NodeKind.ENTITY:
                entity = node.legal_entity
                values.update(
                    base_currency=entity.base_currency, country=entity.country, tax_id=entity.tax_id
                )
            yield values
