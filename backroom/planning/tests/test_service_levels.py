"""Service levels per item class: the class's own (set by HQ in the catalog) sizes the safety
stock of the next suggestion, else the `PLANNING_SERVICE_LEVELS` setting, else 0.95."""

from __future__ import annotations

from decimal import Decimal

from backroom.catalog import services as catalog
from backroom.catalog.models import ItemClass
from backroom.kernel.actors import SYSTEM
from backroom.planning import suggestions
from backroom.planning.tests.test_suggestions import MONDAY, _forecast, meat  # noqa: F401
from backroom.testing.factories import client_for, make_user

D = Decimal


def _beef(site):
    [order] = suggestions.build_suggestions(site, today=MONDAY)
    return order.lines.get(item__sku="BEEF")


def test_safety_stock_follows_the_item_classs_service_level(tree, menu, meat, settings):  # noqa: F811
    """BEEF (class food) over 4 days with σ 0.25 kg/day (see test_suggestions):
    95 % (no level anywhere): 1.644854 × 0.25 × 2 = 0.822427 → need 1.822427, 1 pack;
    the setting's 97 % for food: 1.880794 × 0.5 = 0.940397;
    the class's own 99.9 % wins over the setting: 3.090232 × 0.5 = 1.545116;
    the class's 99 %: 2.326348 × 0.5 = 1.163174 → need 2.163174, still 1 pack of 2.5 kg;
    back to empty: the setting again."""
    site = tree.store_a.site
    _forecast(site, menu.noodles, 15, 2.0)
    settings.PLANNING_SERVICE_LEVELS = {}
    beef = _beef(site)
    assert (beef.service_level, beef.safety_stock, beef.need) == (
        D("0.95"),
        D("0.822427"),
        D("1.822427"),
    )
    settings.PLANNING_SERVICE_LEVELS = {"food": "0.97", "default": "0.9"}
    beef = _beef(site)
    assert (beef.service_level, beef.safety_stock) == (D("0.97"), D("0.940397"))
    food = ItemClass.objects.get(code="food")
    catalog.update_item_class(
        food, catalog.ItemClassChanges(service_level=D("0.999")), actor=SYSTEM
    )
    beef = _beef(site)
    assert (beef.service_level, beef.safety_stock) == (D("0.999"), D("1.545116"))
    catalog.update_item_class(food, catalog.ItemClassChanges(service_level=D("0.99")), actor=SYSTEM)
    beef = _beef(site)
    assert (beef.service_level, beef.safety_stock, beef.need, beef.packs) == (
        D("0.99"),
        D("1.163174"),
        D("2.163174"),
        1,
    )
    catalog.update_item_class(food, catalog.ItemClassChanges(service_level=None), actor=SYSTEM)
    assert _beef(site).service_level == D("0.97")
    settings.PLANNING_SERVICE_LEVELS = {"default": "0.9"}
    assert _beef(site).service_level == D("0.9")


def test_hq_changes_the_level_through_the_api_and_the_next_suggestion_uses_it(
    tree,
    menu,
    meat,  # noqa: F811
    settings,
):
    settings.PLANNING_SERVICE_LEVELS = {}
    site = tree.store_a.site
    _forecast(site, menu.noodles, 15, 2.0)
    food = ItemClass.objects.get(code="food")
    response = client_for(make_user("buyer", tree.group)).patch(
        f"/api/v1/catalog/item-classes/{food.pk}",
        {"service_level": "0.99", "reason": "Fewer stock-outs of meat"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["service_level"] == "0.990"
    assert _beef(site).safety_stock == D("1.163174")
