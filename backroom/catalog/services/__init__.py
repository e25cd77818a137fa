"""Writes to the catalog: units, item classes, categories, items and their units, recipes,
modifiers and menu prices. Each checks permission, validates everything at once, audits and
publishes its event in one transaction.

Who may write: master data (everything but site prices) needs `catalog.manage` at the root
group node, since one item list serves the whole chain; a site's own menu price needs
`catalog.manage` at that site (a region holding it may price its stores).
"""

from backroom.catalog.services.common import UNSET, Problems, require_catalog_manage
from backroom.catalog.services.items import (
    UNIT_FIELDS,
    CategoryInput,
    ItemChanges,
    ItemClassChanges,
    ItemClassInput,
    ItemInput,
    ItemUnitChanges,
    ItemUnitInput,
    UnitInput,
    add_item_unit,
    change_item_unit,
    create_category,
    create_item,
    create_item_class,
    create_unit,
    deactivate_item,
    update_item,
    update_item_class,
)
from backroom.catalog.services.prices import (
    MenuPriceInput,
    PriceListLine,
    set_menu_price,
    set_price_list,
)
from backroom.catalog.services.recipes import (
    ModifierEffectInput,
    ModifierInput,
    RecipeInput,
    RecipeLineInput,
    create_modifier,
    publish_recipe,
)

__all__ = [
    "UNIT_FIELDS",
    "UNSET",
    "CategoryInput",
    "ItemChanges",
    "ItemClassChanges",
    "ItemClassInput",
    "ItemInput",
    "ItemUnitChanges",
    "ItemUnitInput",
    "MenuPriceInput",
    "ModifierEffectInput",
    "ModifierInput",
    "PriceListLine",
    "Problems",
    "RecipeInput",
    "RecipeLineInput",
    "UnitInput",
    "add_item_unit",
    "change_item_unit",
    "create_category",
    "create_item",
    "create_item_class",
    "create_modifier",
    "create_unit",
    "deactivate_item",
    "publish_recipe",
    "require_catalog_manage",
    "set_menu_price",
    "set_price_list",
    "update_item",
    "update_item_class",
]
