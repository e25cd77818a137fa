"""Catalog API: units, item classes, categories, items and their units, recipes, modifiers,
menu prices, recipe explosion and cost cards. Mounted at /api/v1/catalog/."""

from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest
from ninja import Path, Query, Router, Status
from ninja.pagination import paginate

from backroom.catalog import costing, recipes, selectors, services, units
from backroom.catalog.models import (
    Category,
    Item,
    ItemClass,
    ItemUnit,
    MenuPrice,
    Modifier,
    Recipe,
    Unit,
)
from backroom.catalog.schemas import (
    CatalogReasonIn,
    CategoryIn,
    CategoryOut,
    ConvertOut,
    ConvertQuery,
    CostCardOut,
    CostCardQuery,
    ExplodeIn,
    ExplodeOut,
    ItemClassIn,
    ItemClassOut,
    ItemClassPatch,
    ItemFilter,
    ItemIn,
    ItemOut,
    ItemPatch,
    ItemUnitIn,
    ItemUnitOut,
    ItemUnitPatch,
    MenuPriceIn,
    MenuPriceOut,
    ModifierFilter,
    ModifierIn,
    ModifierOut,
    RecipeIn,
    RecipeOut,
    UnitIn,
    UnitOut,
)
from backroom.config.api_support import ObjectId, Pagination, errors

router = Router(tags=["catalog"])


# --- units, item classes, categories -------------------------------------------------------


@router.get("/units", response={200: list[UnitOut], **errors()})
@paginate(Pagination)
def list_units(request: HttpRequest) -> QuerySet[Unit]:
    """Units of measure shared by every item (g, kg, ml, l, each...)."""
    return selectors.units_for(request.user)


@router.post("/units", response={201: UnitOut, **errors(400, 403)})
def create_unit(request: HttpRequest, payload: UnitIn) -> Status[Unit]:
    return Status(
        201, services.create_unit(services.UnitInput(**payload.dict()), actor=request.user)
    )


@router.get("/item-classes", response={200: list[ItemClassOut], **errors()})
@paginate(Pagination)
def list_item_classes(request: HttpRequest) -> QuerySet[ItemClass]:
    return selectors.item_classes_for(request.user)


@router.post("/item-classes", response={201: ItemClassOut, **errors(400, 403)})
def create_item_class(request: HttpRequest, payload: ItemClassIn) -> Status[ItemClass]:
    return Status(
        201,
        services.create_item_class(services.ItemClassInput(**payload.dict()), actor=request.user),
    )


@router.patch(
    "/item-classes/{item_class_id}", response={200: ItemClassOut, **errors(400, 403, 404)}
)
def update_item_class(
    request: HttpRequest, item_class_id: Path[ObjectId], payload: ItemClassPatch
) -> ItemClass:
    """Change an item class (catalog.manage); only the fields sent change. `service_level`
    (0.50–0.999, null for the planning default) sizes the safety stock of the next suggested
    orders for its items."""
    item_class = selectors.get_item_class(request.user, item_class_id)
    data = payload.dict(exclude_unset=True)
    reason = data.pop("reason", "")
    return services.update_item_class(
        item_class, services.ItemClassChanges(**data), actor=request.user, reason=reason
    )


@router.get("/categories", response={200: list[CategoryOut], **errors()})
@paginate(Pagination)
def list_categories(request: HttpRequest) -> QuerySet[Category]:
    return selectors.categories_for(request.user)


@router.post("/categories", response={201: CategoryOut, **errors(400, 403)})
def create_category(request: HttpRequest, payload: CategoryIn) -> Status[Category]:
    return Status(
        201, services.create_category(services.CategoryInput(**payload.dict()), actor=request.user)
    )


# --- items ---------------------------------------------------------------------------------


@router.get("/items", response={200: list[ItemOut], **errors()})
@paginate(Pagination)
def list_items(request: HttpRequest, filters: Query[ItemFilter]) -> QuerySet[Item]:
    """Items with their units; filter by kind, category, class, active; search SKU/name/barcode."""
    items = selectors.items_for(request.user)
    if filters.kind:
        items = items.filter(kind=filters.kind)
    if filters.category:
        items = items.filter(
            Q(category__code=filters.category) | Q(category__parent__code=filters.category)
        )
    if filters.item_class:
        items = items.filter(item_class__code=filters.item_class)
    if filters.is_active is not None:
        items = items.filter(is_active=filters.is_active)
    return selectors.search_items(items, filters.search)


@router.get("/items/{item_id}", response={200: ItemOut, **errors(404)})
def get_item(request: HttpRequest, item_id: Path[ObjectId]) -> Item:
    return selectors.get_item(request.user, item_id)


@router.post("/items", response={201: ItemOut, **errors(400, 403)})
def create_item(request: HttpRequest, payload: ItemIn) -> Status[Item]:
    """Create an item with its base unit; add its other units with POST .../units."""
    item = services.create_item(services.ItemInput(**payload.dict()), actor=request.user)
    return Status(201, selectors.get_item(request.user, item.pk))


@router.patch("/items/{item_id}", response={200: ItemOut, **errors(400, 403, 404)})
def update_item(request: HttpRequest, item_id: Path[ObjectId], payload: ItemPatch) -> Item:
    """Change an item; only the fields sent change (SKU, kind and base unit never do)."""
    item = selectors.get_item(request.user, item_id)
    data = payload.dict(exclude_unset=True)
    reason = data.pop("reason", "")
    services.update_item(item, services.ItemChanges(**data), actor=request.user, reason=reason)
    return selectors.get_item(request.user, item_id)


@router.post("/items/{item_id}/deactivate", response={200: ItemOut, **errors(400, 403, 404)})
def deactivate_item(
    request: HttpRequest, item_id: Path[ObjectId], payload: CatalogReasonIn
) -> Item:
    item = selectors.get_item(request.user, item_id)
    services.deactivate_item(item, actor=request.user, reason=payload.reason)
    return selectors.get_item(request.user, item_id)


@router.get("/items/{item_id}/convert", response={200: ConvertOut, **errors(404)})
def convert(
    request: HttpRequest, item_id: Path[ObjectId], query: Query[ConvertQuery]
) -> dict[str, Any]:
    """Convert a quantity between two of the item's units (3 cases → kg → bags)."""
    item = selectors.get_item(request.user, item_id)
    base_quantity = units.to_base(item, query.quantity, query.from_unit)
    converted = units.from_base(item, base_quantity, query.to_unit)
    return {
        "item_id": item.pk,
        "quantity": query.quantity,
        "from_unit": query.from_unit,
        "to_unit": query.to_unit,
        "base_quantity": base_quantity,
        "base_unit": item.base_unit.code,
        "converted": converted,
        "rounded": units.round_in_unit(item, converted, query.to_unit),
    }


@router.get("/items/{item_id}/units", response={200: list[ItemUnitOut], **errors(404)})
def list_item_units(request: HttpRequest, item_id: Path[ObjectId]) -> list[ItemUnit]:
    return list(selectors.get_item(request.user, item_id).units.all())


@router.post("/items/{item_id}/units", response={201: ItemUnitOut, **errors(400, 403, 404)})
def add_item_unit(
    request: HttpRequest, item_id: Path[ObjectId], payload: ItemUnitIn
) -> Status[ItemUnit]:
    """Give the item another unit: factor = base units per unit (a case of 6 × 2.5 kg is 15)."""
    item = selectors.get_item(request.user, item_id)
    return Status(
        201,
        services.add_item_unit(item, services.ItemUnitInput(**payload.dict()), actor=request.user),
    )


@router.patch(
    "/items/{item_id}/units/{item_unit_id}", response={200: ItemUnitOut, **errors(400, 403, 404)}
)
def change_item_unit(
    request: HttpRequest,
    item_id: Path[ObjectId],
    item_unit_id: Path[ObjectId],
    payload: ItemUnitPatch,
) -> ItemUnit:
    item = selectors.get_item(request.user, item_id)
    item_unit = selectors.get_item_unit(request.user, item, item_unit_id)
    data = payload.dict(exclude_unset=True)
    reason = data.pop("reason", "")
    return services.change_item_unit(
        item_unit, services.ItemUnitChanges(**data), actor=request.user, reason=reason
    )


# --- recipes -------------------------------------------------------------------------------


@router.get("/items/{item_id}/recipes", response={200: list[RecipeOut], **errors(404)})
@paginate(Pagination)
def list_recipes(request: HttpRequest, item_id: Path[ObjectId]) -> QuerySet[Recipe]:
    """Every version of the item's recipe, newest first."""
    item = selectors.get_item(request.user, item_id)
    return selectors.recipes_for(request.user, item)


@router.get("/items/{item_id}/recipes/{version}", response={200: RecipeOut, **errors(404)})
def get_recipe(request: HttpRequest, item_id: Path[ObjectId], version: Path[ObjectId]) -> Recipe:
    item = selectors.get_item(request.user, item_id)
    return selectors.get_recipe(request.user, item, version)


@router.post("/items/{item_id}/recipes", response={201: RecipeOut, **errors(400, 403, 404)})
def publish_recipe(
    request: HttpRequest, item_id: Path[ObjectId], payload: RecipeIn
) -> Status[Recipe]:
    """Publish a new version; the previous one ends where it starts. Versions never change."""
    item = selectors.get_item(request.user, item_id)
    recipe = services.publish_recipe(
        item,
        services.RecipeInput(
            effective_from=payload.effective_from,
            yield_quantity=payload.yield_quantity,
            notes=payload.notes,
            lines=[services.RecipeLineInput(**line.dict()) for line in payload.lines],
        ),
        actor=request.user,
        reason=payload.reason,
    )
    return Status(201, selectors.get_recipe(request.user, item, recipe.version))


# --- modifiers -----------------------------------------------------------------------------


@router.get("/modifiers", response={200: list[ModifierOut], **errors()})
@paginate(Pagination)
def list_modifiers(request: HttpRequest, filters: Query[ModifierFilter]) -> QuerySet[Modifier]:
    modifiers = selectors.modifiers_for(request.user)
    if filters.search:
        modifiers = modifiers.filter(
            Q(code__icontains=filters.search) | Q(name__icontains=filters.search)
        )
    return modifiers


@router.get("/modifiers/{modifier_id}", response={200: ModifierOut, **errors(404)})
def get_modifier(request: HttpRequest, modifier_id: Path[ObjectId]) -> Modifier:
    return selectors.get_modifier(request.user, modifier_id)


@router.post("/modifiers", response={201: ModifierOut, **errors(400, 403)})
def create_modifier(request: HttpRequest, payload: ModifierIn) -> Status[Modifier]:
    modifier = services.create_modifier(
        services.ModifierInput(
            code=payload.code,
            name=payload.name,
            effects=[services.ModifierEffectInput(**effect.dict()) for effect in payload.effects],
        ),
        actor=request.user,
    )
    return Status(201, selectors.get_modifier(request.user, modifier.pk))


# --- menu prices ---------------------------------------------------------------------------


@router.get("/items/{item_id}/prices", response={200: list[MenuPriceOut], **errors(404)})
@paginate(Pagination)
def list_menu_prices(request: HttpRequest, item_id: Path[ObjectId]) -> QuerySet[MenuPrice]:
    """The chain prices and the prices of the sites the caller may see."""
    item = selectors.get_item(request.user, item_id)
    return selectors.menu_prices_for(request.user, item)


@router.post("/items/{item_id}/prices", response={201: MenuPriceOut, **errors(400, 403, 404)})
def set_menu_price(
    request: HttpRequest, item_id: Path[ObjectId], payload: MenuPriceIn
) -> Status[MenuPrice]:
    """Set a price from a date: chain-wide (no site) or for one site; the same day replaces."""
    item = selectors.get_item(request.user, item_id)
    data = payload.dict()
    reason = data.pop("reason")
    return Status(
        201,
        services.set_menu_price(
            item, services.MenuPriceInput(**data), actor=request.user, reason=reason
        ),
    )


# --- explosion and cost cards --------------------------------------------------------------


@router.post("/explode", response={200: ExplodeOut, **errors(400, 403, 404)})
def explode(request: HttpRequest, payload: ExplodeIn) -> dict[str, Any]:
    """The stocked items (in base units) that a quantity of a dish or prep uses."""
    item = selectors.get_item(request.user, payload.item_id)
    site = (
        selectors.get_site_for_catalog(request.user, payload.site_id)
        if payload.site_id is not None
        else None
    )
    day = payload.on or selectors.site_today(site)
    exploded = recipes.explode(
        item, payload.quantity, modifiers=payload.modifiers, on=day, site=site
    )
    items = {
        row.pk: row for row in Item.objects.select_related("base_unit").filter(pk__in=exploded)
    }
    return {
        "item_id": item.pk,
        "sku": item.sku,
        "quantity": payload.quantity,
        "on": day,
        "modifiers": payload.modifiers,
        "ingredients": [
            {
                "item_id": item_id,
                "sku": items[item_id].sku,
                "name": items[item_id].name,
                "base_unit": items[item_id].base_unit.code,
                "quantity": quantity,
            }
            for item_id, quantity in sorted(exploded.items(), key=lambda row: items[row[0]].sku)
        ],
    }


def _component_out(component: costing.CostComponent) -> dict[str, Any]:
    return {
        "item_id": component.item.pk,
        "sku": component.item.sku,
        "name": component.item.name,
        "base_unit": component.item.base_unit.code,
        "base_quantity": component.base_quantity,
        "unit_cost": component.unit_cost,
        "cost": component.cost,
        "currency": component.currency,
        "source": component.source,
    }


def card_out(card: costing.CostCard) -> dict[str, Any]:
    """A cost card as plain data (API and pages)."""
    return {
        "item_id": card.item.pk,
        "sku": card.item.sku,
        "name": card.item.name,
        "site_id": card.site.pk if card.site is not None else None,
        "on": card.on,
        "recipe_version": card.recipe_version,
        "yield_quantity": card.yield_quantity,
        "modifiers": card.modifiers,
        "currency": card.currency,
        "total_cost": card.total_cost,
        "price": card.price_amount,
        "price_currency": card.price_currency,
        "food_cost_percent": card.food_cost_percent,
        "gross_margin": card.gross_margin,
        "is_complete": card.is_complete,
        "warnings": card.warnings,
        "lines": [
            {
                "position": line.position,
                "component_id": line.component.pk,
                "component_sku": line.component.sku,
                "component_name": line.component.name,
                "quantity": line.quantity,
                "unit_code": line.unit_code,
                "loss_percent": line.loss_percent,
                "base_quantity": line.base_quantity,
                "base_unit": line.component.base_unit.code,
                "origin": line.origin,
                "source": line.source,
                "unit_cost": line.unit_cost,
                "cost": line.cost,
                "currency": line.currency,
                "components": [_component_out(c) for c in line.components],
            }
            for line in card.lines
        ],
    }


@router.get("/items/{item_id}/cost-card", response={200: CostCardOut, **errors(404)})
def get_cost_card(
    request: HttpRequest, item_id: Path[ObjectId], query: Query[CostCardQuery]
) -> dict[str, Any]:
    """Cost per portion at a site and food cost % against its menu price; each line says
    whether its cost is the site's moving average, the standard cost or a sub-recipe's sum."""
    item = selectors.get_item(request.user, item_id)
    site = None
    if query.site_id is not None:
        site = selectors.get_site_for_catalog(request.user, query.site_id)
    modifiers = [code.strip() for code in (query.modifiers or "").split(",") if code.strip()]
    card = costing.cost_card(item, site, on=query.on, modifiers=modifiers)
    return card_out(card)
