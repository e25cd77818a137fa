"""Catalog consistency checks run by `backroom check-ledgers`."""

from __future__ import annotations

from backroom.catalog.models import Recipe
from backroom.config.ledger_checks import ledger_check


@ledger_check("catalog.recipe_versions")
def check_recipe_versions() -> list[str]:
    """Each item's recipe versions follow one another: v(n) ends where v(n+1) starts, and only
    the newest version is open."""
    differences: list[str] = []
    rows = Recipe.objects.order_by("item_id", "version").values_list(
        "item_id", "item__sku", "version", "effective_from", "effective_to"
    )
    previous = None
    for row in rows:
        item_id, sku, version, start, end = row
        if previous is not None and previous[0] == item_id:
            _item, _sku, prev_version, _prev_start, prev_end = previous
            if prev_end != start:
                differences.append(
                    f"{sku}: version {prev_version} ends on {prev_end} but version {version} "
                    f"starts on {start}"
                )
        if end is not None and end <= start:
            differences.append(f"{sku}: version {version} ends on {end}, before it starts")
        previous = row
        if len(differences) >= 100:
            break
    return differences
