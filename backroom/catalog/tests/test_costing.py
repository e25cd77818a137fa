"""Cost cards and menu prices: golden numbers for the noodle shop, sources, currencies."""

from __future__ import annotations

from decimal import Decimal

import pytest

from backroom.accounts.services import grant_membership
from backroom.audit.models import AuditEntry
from backroom.catalog import costing, services
from backroom.catalog.models import MenuPrice
from backroom.catalog.tests.conftest import OPENING
from backroom.events.models import OutboxEvent
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import NotFound, PermissionDenied, ValidationFailed
from backroom.testing.factories import make_user

D = Decimal


def set_price(item, price, currency="CNY", site=None, effective_from=OPENING, actor=SYSTEM):
    return services.set_menu_price(
        item,
        services.MenuPriceInput(
            price=D(price),
            currency=currency,
            effective_from=effective_from,
            site_id=site.pk if site is not None else None,
        ),
        actor=actor,
    )


@pytest.fixture
def priced(shop, tree):
    set_price(shop.items["BNS"], "38.00")
    set_price(shop.items["BNS"], "42.00", site=tree.store_b.site)
    set_price(shop.items["BNS"], "48.00", "HKD", site=tree.store_hk.site)
    return shop


@pytest.fixture
def no_inventory(monkeypatch):
    monkeypatch.setattr(costing, "_average_cost_function", lambda: None)


@pytest.fixture
def beef_average_at_store_a(monkeypatch, tree, shop):
    def average_cost(item, site):
        if item.sku == "BEEF-SHANK" and site.pk == tree.store_a.site.pk:
            return D("90.5")
        return None

    monkeypatch.setattr(costing, "_average_cost_function", lambda: average_cost)


def summary(card):
    return [
        (line.position, line.component.sku, line.base_quantity, line.source, line.cost)
        for line in card.lines
    ]


def test_standard_cost_card_golden_numbers(priced, tree, no_inventory):
    card = costing.cost_card(priced.items["BNS"], tree.store_a.site, on=OPENING)
    assert summary(card) == [
        (1, "BROTH", D("0.400000"), "sub_recipe", D("2.7200")),
        (2, "DOUGH", D("0.150000"), "sub_recipe", D("0.6440")),
        (3, "BEEF-SHANK", D("0.160000"), "standard_cost", D("12.8000")),
        (4, "CORIANDER", D("0.006250"), "standard_cost", D("0.1875")),
        (5, "CHILLI-OIL", D("0.010000"), "standard_cost", D("0.4000")),
        (6, "SPRING-ONION", D("0.010000"), "standard_cost", D("0.1000")),
    ]
    broth = card.lines[0]
    assert [
        (c.item.sku, c.base_quantity, c.unit_cost, c.cost, c.source) for c in broth.components
    ] == [
        ("BEEF-BONE", D("0.200000"), D("12"), D("2.4000"), "standard_cost"),
        ("GINGER", D("0.012500"), D("16"), D("0.2000"), "standard_cost"),
        ("STAR-ANISE", D("0.001000"), D("120"), D("0.1200"), "standard_cost"),
    ]
    assert card.total_cost == D("16.8515")
    assert card.currency == "CNY"
    assert card.price_amount == D("38.00")
    assert card.price.site_id is None  # store A uses the chain price
    assert card.food_cost_percent == D("44.35")
    assert card.gross_margin == D("21.1485")
    assert card.is_complete is True
    assert card.warnings == []
    assert card.recipe_version == 1
    assert costing.describe_sources(card) == {"standard_cost": 10}


def test_average_cost_wins_where_the_site_has_one(priced, tree, beef_average_at_store_a):
    card_a = costing.cost_card(priced.items["BNS"], tree.store_a.site, on=OPENING)
    beef = card_a.lines[2]
    assert (beef.source, beef.unit_cost, beef.cost) == ("average_cost", D("90.5"), D("14.4800"))
    assert card_a.total_cost == D("18.5315")
    assert card_a.food_cost_percent == D("48.77")
    card_b = costing.cost_card(priced.items["BNS"], tree.store_b.site, on=OPENING)
    assert card_b.lines[2].source == "standard_cost"
    assert card_b.price.site_id == tree.store_b.site.pk
    assert card_b.total_cost == D("16.8515")
    assert card_b.food_cost_percent == D("40.12")


def test_large_with_extra_beef(priced, tree, no_inventory):
    card = costing.cost_card(
        priced.items["BNS"], tree.store_a.site, on=OPENING, modifiers=["large", "extra-beef"]
    )
    assert summary(card) == [
        (1, "BROTH", D("0.600000"), "sub_recipe", D("4.0800")),
        (2, "DOUGH", D("0.225000"), "sub_recipe", D("0.9660")),
        (3, "BEEF-SHANK", D("0.240000"), "standard_cost", D("19.2000")),
        (4, "CORIANDER", D("0.009375"), "standard_cost", D("0.2813")),
        (5, "CHILLI-OIL", D("0.015000"), "standard_cost", D("0.6000")),
        (6, "SPRING-ONION", D("0.015000"), "standard_cost", D("0.1500")),
        (7, "BEEF-SHANK", D("0.060000"), "standard_cost", D("4.8000")),
    ]
    assert card.lines[6].origin == "modifier:extra-beef"
    assert card.total_cost == D("30.0773")  # exact 30.07725, rounded once
    assert card.food_cost_percent == D("79.15")
    assert card.modifiers == ["large", "extra-beef"]


def test_other_currency_is_reported_not_converted(priced, tree, no_inventory):
    card = costing.cost_card(priced.items["BNS"], tree.store_hk.site, on=OPENING)
    assert card.currency == "HKD"
    assert card.price_amount == D("48.00")
    assert card.is_complete is False
    assert card.food_cost_percent is None
    assert len(card.warnings) == 10
    assert card.warnings[0] == "BEEF-BONE is costed in CNY, not HKD; it is left out."


def test_missing_price_and_missing_cost(shop, tree, no_inventory):
    services.update_item(shop.items["SALT"], services.ItemChanges(standard_cost=None), actor=SYSTEM)
    card = costing.cost_card(shop.items["BNS"], tree.store_a.site, on=OPENING)
    assert card.price is None
    assert card.food_cost_percent is None
    assert card.is_complete is False
    assert card.lines[1].cost is None  # dough: salt has no cost
    assert [c.source for c in card.lines[1].components] == [
        "standard_cost",
        "standard_cost",
        "missing",
    ]
    assert card.warnings == [
        "SALT has no cost at this site.",
        "There is no menu price on this date.",
    ]


def test_chain_card_without_site(priced):
    card = costing.cost_card(priced.items["BNS"], None, on=OPENING)
    assert card.total_cost == D("16.8515")
    assert card.food_cost_percent == D("44.35")


def test_inventory_contract_falls_back_to_standard_cost(priced, tree):
    """With the real inventory app: a site that never received anything has no average cost."""
    card = costing.cost_card(priced.items["BNS"], tree.store_a.site, on=OPENING)
    assert card.total_cost == D("16.8515")
    assert {line.source for line in card.lines} == {"sub_recipe", "standard_cost"}


# --- menu prices --------------------------------------------------------------------------


def test_set_menu_price_whole_effect_and_replacement(shop, tree):
    price = set_price(shop.items["BNS"], "38.00")
    assert MenuPrice.objects.get(item=shop.items["BNS"], site=None).price == D("38.00")
    assert AuditEntry.objects.get(action="catalog.menu_price.set").org_node_id == tree.group.pk
    event = OutboxEvent.objects.get(event_type="catalog.menu_price.set")
    assert event.payload == {
        "menu_price_id": price.pk,
        "item_id": shop.items["BNS"].pk,
        "sku": "BNS",
        "site_id": None,
        "price": "38.0000",
        "currency": "CNY",
        "effective_from": "2026-01-01",
    }
    set_price(shop.items["BNS"], "39.00")  # same day again: replaces
    assert MenuPrice.objects.filter(item=shop.items["BNS"]).count() == 1
    entry = AuditEntry.objects.filter(action="catalog.menu_price.set").order_by("id").last()
    assert (entry.before["price"], entry.after["price"]) == ("38.0000", "39.0000")


def test_menu_price_problems_and_permissions(shop, tree, catalog_roles):
    with pytest.raises(ValidationFailed) as caught:
        set_price(shop.items["SALT"], "-1", currency="ZZZ")
    assert set(caught.value.details["fields"]) == {"item", "price", "currency"}
    region_pricer = make_user()
    grant_membership(region_pricer, catalog_roles["manager"], tree.region, actor=SYSTEM)
    other = make_user("store_manager", tree.store_hk)
    before = (MenuPrice.objects.count(), AuditEntry.objects.count(), OutboxEvent.objects.count())
    with pytest.raises(PermissionDenied):
        set_price(shop.items["BNS"], "40", actor=region_pricer)  # chain price: root only
    with pytest.raises(NotFound):
        set_price(shop.items["BNS"], "40", site=tree.store_a.site, actor=other)
    assert (MenuPrice.objects.count(), AuditEntry.objects.count(), OutboxEvent.objects.count()) == (
        before
    )
    set_price(shop.items["BNS"], "40", site=tree.store_a.site, actor=region_pricer)
    assert MenuPrice.objects.get(site=tree.store_a.site).price == D("40")


def test_chain_price_list_per_currency(shop, tree, no_inventory):
    set_price(shop.items["BNS"], "38.00")
    set_price(shop.items["BNS"], "46.00", "HKD")
    set_price(shop.items["BNS"], "47.00", "HKD")  # same list, same day: replaces
    assert MenuPrice.objects.filter(item=shop.items["BNS"], site=None).count() == 2
    hk = costing.cost_card(shop.items["BNS"], tree.store_hk.site, on=OPENING)
    assert (hk.price_amount, hk.price_currency) == (D("47.00"), "HKD")
    mainland = costing.cost_card(shop.items["BNS"], tree.store_a.site, on=OPENING)
    assert (mainland.price_amount, mainland.price_currency) == (D("38.00"), "CNY")
    assert costing.cost_card(shop.items["BNS"], None, on=OPENING).price_currency == "CNY"


def test_set_price_list_whole_effect(shop, tree):
    from backroom.catalog.models import Item

    retail = Item.objects.get(sku="BNS")
    set_price(retail, "30.00", "HKD")  # replaced by the list below
    lines = [services.PriceListLine("BNS", D("46")), services.PriceListLine("BNS", D("1"))]
    before = (MenuPrice.objects.count(), AuditEntry.objects.count(), OutboxEvent.objects.count())
    with pytest.raises(ValidationFailed) as caught:
        services.set_price_list(
            [*lines, services.PriceListLine("SALT", D("-2")), services.PriceListLine("NOPE", D(1))],
            currency="HKD",
            effective_from=OPENING,
            actor=SYSTEM,
        )
    assert set(caught.value.details["fields"]) == {
        "lines.1.sku",
        "lines.2.sku",
        "lines.2.price",
        "lines.3.sku",
    }
    assert (MenuPrice.objects.count(), AuditEntry.objects.count(), OutboxEvent.objects.count()) == (
        before
    )
    saved = services.set_price_list(
        [lines[0]], currency="HKD", effective_from=OPENING, actor=SYSTEM, reason="HK menu 2026"
    )
    assert [(row.item.sku, row.price, row.currency) for row in saved] == [
        ("BNS", D("46.0000"), "HKD")
    ]
    assert MenuPrice.objects.filter(item=retail, currency="HKD").count() == 1
    entry = AuditEntry.objects.get(action="catalog.price_list.set")
    assert entry.target_id == str(tree.group.pk)
    assert entry.before == {"prices": {"BNS": "30.0000"}}
    assert entry.after == {
        "site_id": None,
        "currency": "HKD",
        "effective_from": "2026-01-01",
        "prices": {"BNS": "46.0000"},
    }
    assert entry.reason == "HK menu 2026"
    assert OutboxEvent.objects.filter(event_type="catalog.menu_price.set").count() == 2
    manager = make_user("store_manager", tree.store_a)
    with pytest.raises(PermissionDenied):
        services.set_price_list(lines[:1], currency="CNY", effective_from=OPENING, actor=manager)
