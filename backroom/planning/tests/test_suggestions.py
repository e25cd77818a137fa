"""Suggested orders end to end: golden numbers from forecast, backtest error, stock, the
delivery calendar and pack sizes; and the manager's submission as a requisition."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from backroom.audit.models import AuditEntry
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import DomainError
from backroom.planning import suggestions
from backroom.planning.models import (
    DemandForecast,
    ForecastAccuracy,
    ForecastRun,
    SuggestedOrder,
    SuggestionStatus,
)
from backroom.procurement import services as procurement
from backroom.procurement.models import Requisition
from backroom.testing.factories import make_user

MONDAY = dt.date(2026, 11, 2)
D = Decimal


@pytest.fixture
def meat(tree, menu):
    """Supplier MEAT delivers Mon/Wed/Fri with a day's lead time: beef in 2.5 kg packs, flour
    in 25 kg bags; store A's order guide holds both."""
    supplier = procurement.create_supplier(
        procurement.SupplierInput(
            code="MEAT", name="Meat & Flour", node_id=tree.entity.pk, currency="CNY"
        ),
        actor=SYSTEM,
    )
    beef = procurement.set_supplier_item(
        supplier,
        procurement.SupplierItemInput(item_id=menu.beef.pk, purchase_unit="kg", pack_size=D("2.5")),
        actor=SYSTEM,
    )
    flour = procurement.set_supplier_item(
        supplier,
        procurement.SupplierItemInput(item_id=menu.flour.pk, purchase_unit="kg", pack_size=D(25)),
        actor=SYSTEM,
    )
    procurement.create_price_list(
        supplier,
        procurement.PriceListInput(
            name="2026",
            valid_from=dt.date(2026, 1, 1),
            lines=[
                procurement.PriceLineInput(menu.beef.pk, D("62.00")),
                procurement.PriceLineInput(menu.flour.pk, D("4.20")),
            ],
        ),
        actor=SYSTEM,
    )
    procurement.set_delivery_calendar(
        supplier,
        procurement.CalendarInput(
            node_id=tree.region.pk, weekdays=[1, 3, 5], cutoff_time=dt.time(10), lead_time_days=1
        ),
        actor=SYSTEM,
    )
    procurement.set_order_guide(tree.store_a.site, supplier, [beef.pk, flour.pk], actor=SYSTEM)
    return supplier


def _forecast(site, item, per_day, error):
    run = ForecastRun.objects.create(
        started_at=dt.datetime.now(dt.UTC), as_of=MONDAY - dt.timedelta(days=1), horizon=28
    )
    for offset in range(28):
        DemandForecast.objects.create(
            run=run,
            site=site,
            menu_item=item,
            date=MONDAY + dt.timedelta(days=offset),
            quantity=D(per_day),
            model="test",
        )
    ForecastAccuracy.objects.create(
        run=run, site=site, menu_item=item, model="test", error_scale=error
    )


def test_suggestion_golden_numbers(tree, menu, meat):
    """Ordered Monday: next deliveries Wednesday and Friday → 4 days covered (Mon–Thu).
    15 bowls a day = 60 bowls. A bowl uses 0.1 kg beef and 0.2 kg flour; the dish's daily
    error of 2 bowls → σ beef 2 × 0.1 × 1.25 = 0.25 kg, flour 0.5 kg; 95 %: z = 1.644854.
    BEEF: 6 + 1.644854 × 0.25 × 2 = 6.822427 − 5 on hand = 1.822427 → 1 pack of 2.5 kg.
    FLOUR: 12 + 1.644854 × 0.5 × 2 = 13.644854 − 10 on hand = 3.644854 → 1 bag of 25 kg."""
    site = tree.store_a.site
    _forecast(site, menu.noodles, 15, 2.0)
    [order] = suggestions.build_suggestions(site, today=MONDAY)
    assert (order.delivery_date, order.cover_until) == (dt.date(2026, 11, 4), dt.date(2026, 11, 6))
    lines = {line.item.sku: line for line in order.lines.select_related("item")}
    beef, flour = lines["BEEF"], lines["FLOUR"]
    assert (beef.basis, beef.window_days, beef.usage) == ("forecast", 4, D("6"))
    assert (beef.daily_error, beef.safety_stock, beef.on_hand) == (D("0.25"), D("0.822427"), D(5))
    assert (beef.need, beef.packs, beef.quantity) == (D("1.822427"), 1, D("2.5"))
    assert (flour.safety_stock, flour.need, flour.packs, flour.quantity) == (
        D("1.644854"),
        D("3.644854"),
        1,
        D(25),
    )


def test_a_new_suggestion_supersedes_the_open_one(tree, menu, meat):
    site = tree.store_a.site
    _forecast(site, menu.noodles, 15, 2.0)
    first = suggestions.build_suggestions(site, today=MONDAY)[0]
    second = suggestions.build_suggestions(site, today=MONDAY)[0]
    first.refresh_from_db()
    assert first.status == SuggestionStatus.SUPERSEDED
    assert second.status == SuggestionStatus.OPEN


def test_submit_asks_a_reason_for_a_large_deviation_then_makes_a_requisition(tree, menu, meat):
    site = tree.store_a.site
    manager = make_user("store_manager", tree.store_a)
    _forecast(site, menu.noodles, 15, 2.0)
    order = suggestions.build_suggestions(site, today=MONDAY)[0]
    beef = order.lines.get(item=menu.beef)
    with pytest.raises(DomainError) as caught:
        suggestions.submit_suggestion(order, {beef.pk: "10"}, {}, actor=manager)
    assert caught.value.code == "deviation_reason_required"
    assert not Requisition.objects.exists()
    order.refresh_from_db()
    assert order.status == SuggestionStatus.OPEN
    requisition = suggestions.submit_suggestion(
        order, {beef.pk: "10"}, {beef.pk: "Party on Saturday"}, actor=manager
    )
    order.refresh_from_db()
    assert order.status == SuggestionStatus.SUBMITTED and order.requisition == requisition
    lines = {line.item.sku: line for line in requisition.lines.select_related("item")}
    assert lines["BEEF"].quantity == D(10) and lines["BEEF"].deviation_reason == "Party on Saturday"
    assert lines["FLOUR"].quantity == D(25)
    assert SuggestedOrder.objects.filter(status=SuggestionStatus.OPEN).count() == 0


def test_a_line_cut_to_zero_asks_a_reason_with_every_other_problem(tree, menu, meat):
    site = tree.store_a.site
    manager = make_user("store_manager", tree.store_a)
    _forecast(site, menu.noodles, 15, 2.0)
    order = suggestions.build_suggestions(site, today=MONDAY)[0]
    beef, flour = order.lines.get(item=menu.beef), order.lines.get(item=menu.flour)
    assert beef.quantity > 0 and flour.quantity > 0
    with pytest.raises(DomainError) as caught:
        suggestions.submit_suggestion(order, {beef.pk: "0"}, {}, actor=manager)
    assert caught.value.code == "deviation_reason_required"
    assert "none ordered" in caught.value.message and beef.item.name in caught.value.message
    # With a second problem (flour far from its suggestion too), both come at once.
    with pytest.raises(DomainError) as caught:
        suggestions.submit_suggestion(order, {beef.pk: "0", flour.pk: "100"}, {}, actor=manager)
    assert caught.value.code == "document_rejected"
    assert caught.value.codes == ["deviation_reason_required", "deviation_reason_required"]
    assert (
        not Requisition.objects.exists()
        and not AuditEntry.objects.filter(action="planning.suggestion.submitted").exists()
    )
    order.refresh_from_db()
    assert order.status == SuggestionStatus.OPEN

    requisition = suggestions.submit_suggestion(
        order, {beef.pk: "0"}, {beef.pk: "Beef from the freezer first"}, actor=manager
    )
    assert [line.item.sku for line in requisition.lines.select_related("item")] == ["FLOUR"]
    entry = AuditEntry.objects.get(action="planning.suggestion.submitted")
    assert entry.after["not_ordered"] == [
        {"sku": "BEEF", "suggested": str(beef.quantity), "reason": "Beef from the freezer first"}
    ]


def test_a_refused_submission_shows_the_page_again_with_what_was_typed(tree, menu, meat):
    from django.template.defaultfilters import floatformat

    from backroom.testing.factories import client_for

    site = tree.store_a.site
    _forecast(site, menu.noodles, 15, 2.0)
    order = suggestions.build_suggestions(site, today=MONDAY)[0]
    beef, flour = order.lines.get(item=menu.beef), order.lines.get(item=menu.flour)
    client = client_for(make_user("store_manager", tree.store_a))
    response = client.post(
        f"/planning/suggestions/{order.pk}/submit/",
        {f"quantity-{beef.pk}": "0", f"quantity-{flour.pk}": "50", f"reason-{flour.pk}": "Fête"},
    )
    assert response.status_code == 200  # the page again, not a redirect that loses the edits
    body = response.content.decode()
    assert "none ordered against the suggested" in body
    assert f'name="quantity-{beef.pk}" value="0"' in body
    assert f'name="quantity-{flour.pk}" value="50"' in body
    assert 'value="Fête"' in body
    assert not Requisition.objects.exists()
    # A fresh look at the page shows the suggestion again.
    body = client.get(f"/planning/suggestions/?store={site.pk}").content.decode()
    assert f'name="quantity-{beef.pk}" value="{floatformat(beef.quantity, -3)}"' in body


def test_suggestion_pages_matrix(tree, menu, meat):
    from backroom.testing.matrix import assert_matrix

    site = tree.store_a.site
    _forecast(site, menu.noodles, 15, 2.0)
    order = suggestions.build_suggestions(site, today=MONDAY)[0]
    beef = order.lines.get(item=menu.beef)
    callers = {
        "forbidden": make_user("technician", tree.region),
        "other_scope": make_user("store_manager", tree.store_b),
    }
    page = assert_matrix(
        "GET",
        f"/planning/suggestions/?store={site.pk}",
        allowed=make_user("store_staff", tree.store_a),
        **callers,
    )
    body = page.allowed.content.decode()
    assert 'data-sku="BEEF"' in body and "1.822 kg" in body  # the need, explained, in its unit
    assert 'data-testid="line-in-order-unit"' in body
    result = assert_matrix(
        "POST",
        f"/planning/suggestions/{order.pk}/submit/",
        payload={f"quantity-{beef.pk}": "5", f"reason-{beef.pk}": "Busy weekend"},
        allowed=make_user("store_manager", tree.store_a),
        expect_allowed=302,
        expect_forbidden=403,
        snapshot=lambda: (
            list(Requisition.objects.values_list("pk")),
            list(SuggestedOrder.objects.values_list("pk", "status")),
        ),
        **callers,
    )
    assert result.allowed["Location"].endswith(f"?store={site.pk}")
    requisition = Requisition.objects.get()
    assert requisition.lines.get(item=menu.beef).quantity == D(5)
