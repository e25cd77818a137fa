"""Recipes (成本卡): one row per recipe line; the rows of one recipe need not be adjacent.

A recipe is its item's SKU, the date it takes effect, its yield and notes (the recipe columns,
repeated on each of its rows or filled on one; where two rows give one they must agree) and
its lines (ingredient SKU, quantity, unit, loss %, notes). Natural key: recipe SKU + ingredient
SKU (an ingredient appears once in a recipe: add up two lines of the same one).

Each recipe in the file is given whole. Applying it compares it with the item's published
versions: the same lines, yield and notes as the version starting on its date (or, without a
date or with a new one, as the latest version) change nothing; anything else publishes a new
version through `publish_recipe` (audited, published, the previous version closed), starting
on the given date or today. Published versions never change, so a different recipe dated on
an existing version's start is a problem asking for a new date.

Sub-recipes: an ingredient that is a prepared item whose recipe is further down the file is
published first. The importer is `ordered`: `depth` is the recipe's level (0: no sub-recipe
of the file, else one more than its deepest sub-recipe of the file), so the engine applies
every sub-recipe before the recipes that use it, and `group` is the recipe, so that all its
lines reach one `apply_rows` call (one chunk, one transaction with the job's cursor) and make
one version. A worker stopped between two chunks resumes safely: the re-check finds the
recipes already published equal to the file. A loop through recipes of the file and of the
database is a `recipe_cycle` problem naming it."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backroom.catalog.batch import catalog_batch
from backroom.catalog.choices import RECIPE_KINDS, ItemKind
from backroom.catalog.exceptions import MissingConversion, UnknownUnit
from backroom.catalog.models import Item, Recipe, RecipeLine
from backroom.catalog.permissions import CATALOG_MANAGE
from backroom.catalog.selectors import can_manage, can_view
from backroom.catalog.services import RecipeInput, RecipeLineInput, publish_recipe
from backroom.catalog.units import resolve_unit
from backroom.imports.columns import CODE, DATE, DECIMAL, TEXT, Column, Row
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

HEADER_FIELDS = ("effective_from", "yield_quantity", "recipe_notes")
PUBLISH, KEEP = "publish", "keep"

LineKey = tuple[int, Decimal, str, Decimal, str]  # component id, quantity, unit, loss %, notes


@dataclass
class Plan(RowGroup):
    """One recipe of the file: its rows, its recipe values, and what applying it will do."""

    ok: bool = True
    item: Item | None = None
    action: str = ""  # PUBLISH or KEEP once checked
    start: dt.date | None = None  # the new version's start when published
    level: int = 0

    @property
    def sku(self) -> str:
        return self.name


@register
class RecipesImporter(Importer):
    kind = "recipes"
    label = gettext_lazy("Recipes (cost cards)")
    description = gettext_lazy(
        "Recipes (cost cards): one row per line of a menu or prepared item's recipe. A changed "
        "recipe is published as a new version from its Effective from date (blank: today); an "
        "unchanged one is left as it is. Sub-recipes may be anywhere in the file."
    )
    permission = IMPORTS_USE
    writes = CATALOG_MANAGE
    ordered = True
    chunk_size = 500
    key_fields = ("recipe_sku", "component_sku")
    columns = (
        Column("recipe_sku", "Recipe SKU", "成品编码", CODE, True, "NOODLE-BEEF", max_length=40,
               aliases=("recipe", "recipe item", "dish sku", "菜品编码", "半成品编码"),
               help=gettext_lazy("The menu or prepared item whose recipe this line belongs to.")),
        Column("recipe_name", "Recipe name", "成品名称", TEXT, False, "Beef noodles 牛肉面",
               aliases=("dish", "菜品名称"),
               help=gettext_lazy("For reading only: the import does not change names.")),
        Column("effective_from", "Effective from", "生效日期", DATE, False, "2026-12-04",
               aliases=("start date", "version start", "起始日期"),
               help=gettext_lazy("When a changed recipe takes effect: today or later (blank: "
                                 "today); any date for an item's first recipe.")),
        Column("yield_quantity", "Yield", "出品量", DECIMAL, False, 1,
               aliases=("yield quantity", "batch yield", "产出量"),
               help=gettext_lazy("What the recipe makes, in the recipe item's base unit (20 "
                                 "for a 20 l batch of broth kept in l); blank: 1.")),
        Column("recipe_notes", "Recipe notes", "成本卡备注", TEXT, False, "", max_length=5000,
               aliases=("method", "做法")),
        Column("component_sku", "Ingredient SKU", "原料编码", CODE, True, "BEEF-SHANK",
               max_length=40,
               aliases=("ingredient", "component", "component sku", "原料", "配料编码")),
        Column("component_name", "Ingredient name", "原料名称", TEXT, False, "Beef shank 牛腱",
               aliases=("配料名称",),
               help=gettext_lazy("For reading only: the import does not change names.")),
        Column("quantity", "Quantity", "用量", DECIMAL, True, 120,
               aliases=("qty", "net quantity", "净用量", "数量"),
               help=gettext_lazy("Net quantity per yield, in the Unit column's unit.")),
        Column("unit", "Unit", "单位", CODE, False, "g", max_length=20,
               aliases=("unit code",),
               help=gettext_lazy("One of the ingredient's units or a unit of its kind (g for "
                                 "an item kept in kg); blank: its base unit.")),
        Column("loss_percent", "Loss %", "损耗率 %", DECIMAL, False, 25, places=4,
               maximum=Decimal("99.9999"),
               aliases=("loss", "loss percent", "trim loss %", "出成/损耗率 %", "损耗率"),
               help=gettext_lazy("Trim or cooking loss: 25 means 160 g bought for 120 g net. "
                                 "Blank: 0.")),
        Column("line_notes", "Line notes", "备注", TEXT, False, "", max_length=200,
               aliases=("notes", "line note")),
    )  # fmt: skip

    def __init__(self, actor: Any) -> None:
        super().__init__(actor)
        self.plans: dict[str, Plan] = {}
        self.items: dict[str, Item | None] = {}
        self.components: dict[int, Item] = {}  # row number → its resolved ingredient

    # --- lookups ------------------------------------------------------------------------

    def load_items(self, skus: set[str]) -> None:
        missing = {sku for sku in skus if sku.casefold() not in self.items}
        if not missing:
            return
        items = Item.objects.select_related("base_unit").prefetch_related("units")
        found = list(items.filter(sku__in=missing))
        for item in found:
            self.items[item.sku.casefold()] = item
        for sku in missing - {item.sku for item in found}:
            self.items[sku.casefold()] = items.filter(sku__iexact=sku).first()

    def item(self, sku: str) -> Item | None:
        return self.items.get(sku.casefold())

    # --- checking -----------------------------------------------------------------------

    def check_rows(self, rows: Sequence[Row], problems: Problems) -> None:
        skus = {row[key] for row in rows for key in self.key_fields if row.has(key)}
        self.load_items(skus)
        for row in rows:
            if not row.has("recipe_sku"):
                continue
            plan = self.plans.setdefault(row["recipe_sku"].casefold(), Plan(row["recipe_sku"]))
            plan.rows.append(row)
            plan.ok = plan.ok and row.ok
            if not plan.gather(row, [self.column(key) for key in HEADER_FIELDS], problems):
                plan.ok = row.ok = False
            if row.has("yield_quantity") and row["yield_quantity"] == 0:
                plan.ok = row.ok = False
                problems.add(
                    row.number, "yield_quantity", "invalid_number", _("Must be greater than zero.")
                )
            self.check_line(row, problems)
            plan.ok = plan.ok and row.ok

    def check_line(self, row: Row, problems: Problems) -> None:
        if row.has("quantity") and row["quantity"] == 0:
            row.ok = False
            problems.add(
                row.number,
                "quantity",
                "invalid_number",
                _("Must be greater than zero: leave out an ingredient the recipe does not use."),
            )
        if not row.has("component_sku"):
            return
        component = self.item(row["component_sku"])
        if component is None:
            row.ok = False
            problems.add(
                row.number,
                "component_sku",
                "unknown_reference",
                _("There is no item %(sku)s.") % {"sku": row["component_sku"]},
            )
            return
        unit = row.get("unit") or component.base_unit.code
        try:
            resolve_unit(component, unit)
        except (UnknownUnit, MissingConversion) as error:
            row.ok = False
            units = [component.base_unit.code, *(each.code for each in component.units.all())]
            problems.add(
                row.number,
                "unit",
                error.code,
                _("%(sku)s has no unit “%(unit)s”: use one of %(units)s or a unit of its kind.")
                % {"sku": component.sku, "unit": unit, "units": ", ".join(units)},
            )
            return
        self.components[row.number] = component

    def finish_check(self, problems: Problems) -> None:
        if not can_manage(self.actor):
            problems.add(
                None,
                "",
                "permission_denied",
                _("You may not change recipes: that needs the catalog permission at head office."),
            )
        today = timezone.localdate()
        versions = self.versions(self.resolve(problems))
        for plan in self.plans.values():
            if plan.item is not None and plan.ok:
                self.plan_action(plan, versions.get(plan.item.pk, []), today, problems)
        self.check_sub_recipes(problems, today)
        self.check_cycles(problems, today)
        for plan in self.plans.values():
            self.set_level(plan, set())

    def resolve(self, problems: Problems) -> set[int]:
        """Find each recipe's item; the ids of those found."""
        found = set()
        for plan in self.plans.values():
            item = self.item(plan.sku)
            if item is None:
                problems.add(
                    plan.first,
                    "recipe_sku",
                    "unknown_reference",
                    _("There is no item %(sku)s.") % {"sku": plan.sku},
                )
                plan.ok = False
                continue
            if item.kind not in RECIPE_KINDS:
                problems.add(
                    plan.first,
                    "recipe_sku",
                    "invalid_value",
                    _("%(sku)s is a %(kind)s: only menu items and prepared items have recipes.")
                    % {"sku": item.sku, "kind": ItemKind(item.kind).label},
                )
                plan.ok = False
            plan.item = item
            found.add(item.pk)
        return found

    @staticmethod
    def versions(item_ids: set[int]) -> dict[int, list[Recipe]]:
        """Every published version of these items, newest first, with their lines."""
        found: dict[int, list[Recipe]] = {}
        recipes = (
            Recipe.objects.filter(item_id__in=item_ids)
            .prefetch_related(Prefetch("lines", queryset=RecipeLine.objects.order_by("position")))
            .order_by("item_id", "-version")
        )
        for recipe in recipes:
            found.setdefault(recipe.item_id, []).append(recipe)
        return found

    def content(self, plan: Plan) -> tuple[Decimal, str, Counter[LineKey]]:
        """The recipe as the file gives it: yield, notes and lines (in the form stored)."""
        lines: Counter[LineKey] = Counter()
        for row in plan.rows:
            component = self.components[row.number]
            lines[
                (
                    component.pk,
                    row["quantity"].normalize(),
                    row.get("unit") or component.base_unit.code,
                    row.get("loss_percent", Decimal(0)).normalize(),
                    row.get("line_notes") or "",
                )
            ] += 1
        return (
            plan.values.get("yield_quantity", Decimal(1)).normalize(),
            plan.values.get("recipe_notes") or "",
            lines,
        )

    @staticmethod
    def stored(recipe: Recipe) -> tuple[Decimal, str, Counter[LineKey]]:
        lines: Counter[LineKey] = Counter(
            (
                line.component_id,
                line.quantity.normalize(),
                line.unit_code,
                line.loss_percent.normalize(),
                line.notes,
            )
            for line in recipe.lines.all()
        )
        return recipe.yield_quantity.normalize(), recipe.notes, lines

    def plan_action(
        self, plan: Plan, versions: list[Recipe], today: dt.date, problems: Problems
    ) -> None:
        """Decide whether the recipe is kept or published, refusing what cannot be published."""
        assert plan.item is not None
        wanted = self.content(plan)
        start: dt.date | None = plan.values.get("effective_from")
        dated = next((recipe for recipe in versions if recipe.effective_from == start), None)
        latest = versions[0] if versions else None
        if dated is not None:
            if self.stored(dated) == wanted:
                plan.action = KEEP
                return
            plan.ok = False
            problems.add(
                plan.row_of("effective_from"),
                "effective_from",
                "version_published",
                _(
                    "Version %(version)s of %(sku)s starts on %(date)s and is published: it "
                    "cannot change. Write a later start date (today or after) to publish this "
                    "recipe as a new version."
                )
                % {"version": dated.version, "sku": plan.item.sku, "date": start},
            )
            return
        if latest is not None and self.stored(latest) == wanted:
            plan.action = KEEP
            return
        plan.action, plan.start = PUBLISH, start or today
        if latest is not None and plan.start <= latest.effective_from:
            plan.ok = False
            problems.add(
                plan.row_of("effective_from"),
                "effective_from",
                "invalid_date",
                _(
                    "Version %(version)s of %(sku)s starts on %(date)s: give a later start date "
                    "to publish this recipe as a new version."
                )
                % {
                    "version": latest.version,
                    "sku": plan.item.sku,
                    "date": latest.effective_from.isoformat(),
                },
            )
        elif latest is not None and plan.start < today:
            plan.ok = False
            problems.add(
                plan.row_of("effective_from"),
                "effective_from",
                "invalid_date",
                _(
                    "A new version cannot start in the past (recipes already used stay as they "
                    "were): write today's date or a later one."
                ),
            )
        if not plan.item.is_active:
            plan.ok = False
            problems.add(
                plan.first,
                "recipe_sku",
                "inactive",
                _("%(sku)s is inactive: its recipe cannot change.") % {"sku": plan.item.sku},
            )
        for row in plan.rows:
            component = self.components[row.number]
            if not component.is_active:
                plan.ok = False
                problems.add(
                    row.number,
                    "component_sku",
                    "inactive",
                    _("%(sku)s is inactive: a new recipe version cannot use it.")
                    % {"sku": component.sku},
                )

    def check_sub_recipes(self, problems: Problems, today: dt.date) -> None:
        """A prepared or menu ingredient that is not made ahead needs a recipe effective on the
        new version's start: published already, or published before it by this file. Checked
        for recipes with bad rows too (as if published), so that every problem shows at once."""
        needed: dict[int, list[tuple[Row, Item, dt.date]]] = {}
        for plan in self.plans.values():
            if plan.action == KEEP or plan.item is None:
                continue
            day = plan.start or plan.values.get("effective_from") or today
            for row in plan.rows:
                component = self.components.get(row.number)
                if (
                    component is not None
                    and component.kind in RECIPE_KINDS
                    and not component.is_made_ahead
                    and component.pk != plan.item.pk
                ):
                    needed.setdefault(component.pk, []).append((row, component, day))
        if not needed:
            return
        spans: dict[int, list[tuple[dt.date, dt.date | None]]] = {}
        for item_id, start, end in Recipe.objects.filter(item_id__in=needed).values_list(
            "item_id", "effective_from", "effective_to"
        ):
            spans.setdefault(item_id, []).append((start, end))
        for component_id, uses in needed.items():
            for row, component, day in uses:
                if any(
                    start <= day and (end is None or day < end)
                    for start, end in spans.get(component_id, [])
                ):
                    continue
                sub = self.plans.get(component.sku.casefold())
                if sub is not None and sub.action == PUBLISH and sub.start and sub.start <= day:
                    continue
                if sub is not None and not sub.ok:
                    continue  # its own problems say why
                problems.add(
                    row.number,
                    "component_sku",
                    "recipe_not_found",
                    _(
                        "%(sku)s has no recipe effective on %(date)s: add its recipe to the "
                        "file (starting on or before that day), or mark it made ahead and "
                        "stocked."
                    )
                    % {"sku": component.sku, "date": day.isoformat()},
                )

    def check_cycles(self, problems: Problems, today: dt.date) -> None:
        """A recipe that would use itself, through recipes of the file or of the database."""
        graph: dict[int, set[int]] = {}
        for item_id, component_id in (
            RecipeLine.objects.exclude(recipe__effective_to__lte=today)
            .values_list("recipe__item_id", "component_id")
            .distinct()
        ):
            graph.setdefault(item_id, set()).add(component_id)
        in_file = {plan.item.pk: plan for plan in self.plans.values() if plan.item is not None}
        for item_id, plan in in_file.items():
            graph[item_id] = {
                self.components[row.number].pk for row in plan.rows if row.number in self.components
            }
        names: dict[int, str] = {}
        for item_id, plan in in_file.items():
            path = find_path(graph, item_id)
            if path is None:
                continue
            missing = set(path) - set(names)
            if missing:
                names.update(Item.objects.filter(pk__in=missing).values_list("pk", "sku"))
            plan.ok = False
            problems.add(
                plan.first,
                "component_sku",
                "recipe_cycle",
                _("This recipe would use itself: %(path)s.")
                % {"path": " → ".join(names[step] for step in path)},
            )

    def set_level(self, plan: Plan, visiting: set[str]) -> int:
        """The recipe's level: one more than its deepest sub-recipe of the file (0: none)."""
        key = plan.sku.casefold()
        if plan.level or key in visiting:
            return plan.level
        visiting.add(key)
        deepest = -1
        for row in plan.rows:
            component = self.components.get(row.number)
            sub = self.plans.get(component.sku.casefold()) if component is not None else None
            if sub is not None and sub is not plan:
                deepest = max(deepest, self.set_level(sub, visiting))
        visiting.discard(key)
        plan.level = deepest + 1
        return plan.level

    def depth(self, row: Row) -> int:
        plan = self.plans.get(row["recipe_sku"].casefold())
        return plan.level if plan is not None else 0

    def group(self, row: Row) -> Any:
        return row["recipe_sku"].casefold()

    # --- applying -----------------------------------------------------------------------

    def apply_rows(self, rows: Sequence[Row]) -> list[Change]:
        """Whole recipes (see `group`), each published as one version when it changed."""
        done: dict[str, dict[int, Change]] = {}
        with catalog_batch(reuse=True):
            for row in rows:
                key = row["recipe_sku"].casefold()
                if key not in done:
                    done[key] = self.apply_recipe(self.plans[key])
        return [done[row["recipe_sku"].casefold()][row.number] for row in rows]

    def apply_recipe(self, plan: Plan) -> dict[int, Change]:
        """Publish the recipe (all its rows, gathered while checking) when it differs from
        what is published, compared again now; a change for each of its rows."""
        assert plan.item is not None
        item = plan.item
        versions = self.versions({item.pk}).get(item.pk, [])
        wanted = self.content(plan)
        start = plan.values.get("effective_from")
        dated = next((recipe for recipe in versions if recipe.effective_from == start), None)
        previous = dated or (versions[0] if versions else None)
        if previous is not None and self.stored(previous) == wanted:
            return {
                row.number: Change(row.number, UNCHANGED, self.key(plan, row)) for row in plan.rows
            }
        published = publish_recipe(
            item,
            RecipeInput(
                effective_from=start or timezone.localdate(),
                lines=[
                    RecipeLineInput(
                        component_sku=self.components[row.number].sku,
                        quantity=row["quantity"],
                        unit_code=row.get("unit") or self.components[row.number].base_unit.code,
                        loss_percent=row.get("loss_percent", Decimal(0)),
                        notes=row.get("line_notes") or "",
                    )
                    for row in sorted(plan.rows, key=lambda row: row.number)
                ],
                yield_quantity=wanted[0],
                notes=wanted[1],
            ),
            actor=self.actor,
            reason=str(_("Recipes import")),
        )
        if previous is None:
            return {
                row.number: Change(row.number, CREATED, self.key(plan, row)) for row in plan.rows
            }
        return self.differences(plan, previous, published)

    def differences(self, plan: Plan, previous: Recipe, published: Recipe) -> dict[int, Change]:
        """Every row of a re-published recipe is updated (the new version holds it); its
        fields name what differs from the previous version on that line and in the recipe."""
        header = []
        if published.yield_quantity != previous.yield_quantity:
            header.append("yield_quantity")
        if published.notes != previous.notes:
            header.append("recipe_notes")
        before = {line.component_id: line for line in previous.lines.all()}
        kept: set[int] = set()
        changes = {}
        for row in sorted(plan.rows, key=lambda row: row.number):
            component = self.components[row.number]
            old = before.get(component.pk)
            fields = list(header)
            if old is None:
                fields.append("component_sku")
            else:
                kept.add(component.pk)
                if old.quantity != row["quantity"]:
                    fields.append("quantity")
                if old.unit_code != (row.get("unit") or component.base_unit.code):
                    fields.append("unit")
                if old.loss_percent != row.get("loss_percent", Decimal(0)):
                    fields.append("loss_percent")
                if old.notes != (row.get("line_notes") or ""):
                    fields.append("line_notes")
            changes[row.number] = Change(row.number, UPDATED, self.key(plan, row), fields)
        if set(before) - kept:
            first = changes[min(changes)]
            first.fields.append("lines_removed")
        return changes

    def key(self, plan: Plan, row: Row) -> str:
        assert plan.item is not None
        return f"{plan.item.sku}/{self.components[row.number].sku}"

    # --- exporting ----------------------------------------------------------------------

    def export(self) -> Iterator[dict[str, Any]]:
        """The latest version of every recipe, one row per line."""
        if not can_view(self.actor):
            return
        lines = RecipeLine.objects.select_related("component").order_by("position", "id")
        recipes = (
            Recipe.objects.filter(effective_to__isnull=True)
            .select_related("item")
            .prefetch_related(Prefetch("lines", queryset=lines))
            .order_by("item__sku")
        )
        for recipe in recipes.iterator(chunk_size=200):
            for line in recipe.lines.all():
                yield {
                    "recipe_sku": recipe.item.sku,
                    "recipe_name": recipe.item.name,
                    "effective_from": recipe.effective_from,
                    "yield_quantity": recipe.yield_quantity,
                    "recipe_notes": recipe.notes,
                    "component_sku": line.component.sku,
                    "component_name": line.component.name,
                    "quantity": line.quantity,
                    "unit": line.unit_code,
                    "loss_percent": line.loss_percent,
                    "line_notes": line.notes,
                }


def find_path(graph: dict[int, set[int]], start: int) -> list[int] | None:
    """A path start → … → start through `graph`, or None (depth-first, each node once)."""
    finished: set[int] = set()

    def visit(node: int, path: list[int]) -> list[int] | None:
        for child in sorted(graph.get(node, ())):
            if child == start:
                return [*path, child]
            if child in finished or child in path:
                continue
            found = visit(child, [*path, child])
            if found is not None:
                return found
        finished.add(node)
        return None

    return visit(start, [start])
