"""Suggested orders from a central kitchen (配送): the kitchen's distribution calendar sets the
window, the store's order guide from it names items in their own unit (with or without a
pack), and the manager's submission becomes a requisition with distribution lines, whose
approval makes the draft transfer order from the kitchen."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from backroom.approvals import runtime
from backroom.approvals import services as approval_services
from backroom.approvals.models import ApprovalTask
from backroom.audit.models import AuditEntry
from backroom.catalog import services as catalog
from backroom.inventory import services as inventory
from backroom.inventory.models import TransferOrder
from backroom.inventory.services import TransferLineInput, create_transfer_order
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import DomainError
from backroom.org.choices import NodeKind
from backroom.planning import suggestions
from backroom.planning.models import SuggestedOrder, SuggestionStatus
from backroom.planning.tests.test_suggestions import MONDAY, _forecast
from backroom.procurement import services as procurement
from backroom.procurement.choices import SourceKind
from backroom.procurement.models import Requisition, RequisitionLine
from backroom.testing.factories import make_node, make_user
from backroom.testing.matrix import assert_matrix

D = Decimal


@pytest.fixture
def kitchen(tree, menu):
    """Central kitchen CK01 makes the noodle dough (made ahead and stocked) and portions beef
    and salt; it delivers to the East region on Tue/Thu/Sat, order by 14:00, a day ahead.
    Store A's order guide from it: DOUGH in 2 kg packs, BEEF in grams (any quantity), SALT
    in 1 kg packs with a par of 3 kg. Store A has 2 kg of dough and a draft transfer of 1 kg
    more from the kitchen."""
    catalog.update_item(menu.dough, catalog.ItemChanges(is_made_ahead=True), actor=SYSTEM)
    node = make_node(NodeKind.KITCHEN, tree.region, "CK01")
    kitchen_store = inventory.create_location(
        node.site, code="COLD", name="Cold room", kind="walk_in", actor=SYSTEM
    )
    procurement.set_delivery_calendar(
        None,
        procurement.CalendarInput(
            node_id=tree.region.pk, weekdays=[2, 4, 6], cutoff_time=dt.time(14), lead_time_days=1
        ),
        actor=SYSTEM,
        source_site=node.site,
    )
    procurement.set_distribution_guide(
        tree.store_a.site,
        node.site,
        [
            procurement.DistributionGuideLineInput(
                item_id=menu.dough.pk, unit="kg", pack_size=D(2)
            ),
            procurement.DistributionGuideLineInput(item_id=menu.beef.pk, unit="g"),
            procurement.DistributionGuideLineInput(
                item_id=menu.salt.pk, pack_size=D(1), par_quantity=D(3)
            ),
        ],
        actor=SYSTEM,
    )
    inventory.receive(
        item=menu.dough,
        location=menu.walk_in,
        quantity=D(2),
        unit_cost=D(3),
        key="open-DOUGH",
        actor=SYSTEM,
    )
    create_transfer_order(
        from_location_id=kitchen_store.pk,
        to_location_id=menu.walk_in.pk,
        lines=[TransferLineInput(item_id=menu.dough.pk, quantity=D(1))],
        actor=SYSTEM,
    )
    return node.site


def _lines(order):
    return {line.item.sku: line for line in order.lines.select_related("item")}


def test_distribution_suggestion_golden_numbers(tree, menu, kitchen):
    """Ordered Monday: the kitchen delivers Tuesday and Thursday → 3 days covered (Mon–Wed).
    15 bowls a day = 45 bowls; a bowl takes 0.25 kg dough (made ahead: not exploded) and
    0.1 kg beef; the dish's daily error of 2 bowls → σ dough 0.625 kg, beef 0.25 kg; 95 %.
    DOUGH: 11.25 + 1.644854 × 0.625 × √3 = 13.030607 − 2 on hand − 1 on a draft transfer
    = 10.030607 → 6 packs of 2 kg = 12 kg.
    BEEF: 4.5 + 0.712243 − 5 on hand = 0.212243 kg, no packs → 212.243 g.
    SALT (no forecast: the dough is not exploded): par 3 − 1 on hand = 2 → 2 packs of 1 kg."""
    site = tree.store_a.site
    _forecast(site, menu.noodles, 15, 2.0)
    [order] = suggestions.build_suggestions(site, today=MONDAY)
    assert (order.supplier, order.source_site) == (None, kitchen)
    assert (order.delivery_date, order.cover_until) == (dt.date(2026, 11, 3), dt.date(2026, 11, 5))
    lines = _lines(order)
    assert list(lines) == ["BEEF", "DOUGH", "SALT"]
    dough, beef, salt = lines["DOUGH"], lines["BEEF"], lines["SALT"]
    assert (dough.basis, dough.window_days, dough.usage, dough.daily_error) == (
        "forecast",
        3,
        D("11.25"),
        D("0.625"),
    )
    assert (dough.safety_stock, dough.on_hand, dough.on_order, dough.in_transit) == (
        D("1.780607"),
        D(2),
        D(1),
        D(0),
    )
    assert (dough.need, dough.pack_size, dough.packs, dough.quantity, dough.unit) == (
        D("10.030607"),
        D(2),
        6,
        D(12),
        "kg",
    )
    assert (dough.supplier_item, dough.unit_pack_size, dough.service_level) == (
        None,
        D(2),
        D("0.95"),
    )
    assert (beef.usage, beef.safety_stock, beef.on_hand, beef.need) == (
        D("4.5"),
        D("0.712243"),
        D(5),
        D("0.212243"),
    )
    assert (beef.pack_size, beef.packs, beef.base_quantity, beef.quantity, beef.unit) == (
        None,
        0,
        D("0.212243"),
        D("212.243"),
        "g",
    )
    assert (salt.basis, salt.par, salt.need, salt.packs, salt.quantity, salt.unit) == (
        "par",
        D(3),
        D(2),
        2,
        D(2),
        "kg",
    )


def test_the_window_follows_the_kitchens_calendar(tree, menu, kitchen):
    """Thursday 2026-11-05: the next delivery a day ahead is Saturday, then Tuesday (the
    kitchen does not deliver on Sunday or Monday) → 5 days covered. The store's own
    calendar (daily) wins over the region's."""
    site = tree.store_a.site
    [order] = suggestions.build_suggestions(site, today=dt.date(2026, 11, 5))
    assert (order.delivery_date, order.cover_until) == (dt.date(2026, 11, 7), dt.date(2026, 11, 10))
    assert {line.window_days for line in order.lines.all()} == {5}
    procurement.set_delivery_calendar(
        None,
        procurement.CalendarInput(
            node_id=tree.store_a.pk, weekdays=[1, 2, 3, 4, 5, 6, 7], cutoff_time=dt.time(14)
        ),
        actor=SYSTEM,
        source_site=kitchen,
    )
    [order] = suggestions.build_suggestions(site, today=dt.date(2026, 11, 5))
    assert (order.delivery_date, order.cover_until) == (dt.date(2026, 11, 6), dt.date(2026, 11, 7))


def test_suppliers_and_kitchens_are_suggested_side_by_side(tree, menu, kitchen):
    """A supplier's guide and the kitchen's make two suggestions; a new run supersedes both."""
    supplier = procurement.create_supplier(
        procurement.SupplierInput(
            code="MEAT", name="Meat & Flour", node_id=tree.entity.pk, currency="CNY"
        ),
        actor=SYSTEM,
    )
    flour = procurement.set_supplier_item(
        supplier,
        procurement.SupplierItemInput(item_id=menu.flour.pk, purchase_unit="kg", pack_size=D(25)),
        actor=SYSTEM,
    )
    procurement.set_order_guide(tree.store_a.site, supplier, [flour.pk], actor=SYSTEM)
    first = suggestions.build_suggestions(tree.store_a.site, today=MONDAY)
    assert [(order.supplier_id, order.source_site_id) for order in first] == [
        (supplier.pk, None),
        (None, kitchen.pk),
    ]
    second = suggestions.build_suggestions(tree.store_a.site, today=MONDAY)
    assert (
        SuggestedOrder.objects.filter(pk__in=[order.pk for order in first])
        .filter(status=SuggestionStatus.SUPERSEDED)
        .count()
        == 2
    )
    assert all(order.status == SuggestionStatus.OPEN for order in second)
    listed = suggestions.suggestions_for(make_user("store_staff", tree.store_a), tree.store_a.site)
    assert [(order.supplier_id, order.source_site_id) for order in listed] == [
        (supplier.pk, None),
        (None, kitchen.pk),
    ]


def test_submit_makes_distribution_lines_and_approval_a_draft_transfer(tree, menu, kitchen):
    """The manager orders 14 kg of dough (with a reason: far from 12) and keeps the rest; the
    requisition waits for the region manager, whose approval creates the draft transfer order
    from the kitchen to the store, in the lines' own units."""
    approval_services.create_policy(
        approval_services.PolicyInput(
            document_type="procurement.requisition",
            name="Every requisition",
            condition="",
            steps=[
                approval_services.StepInput(
                    name="Region manager",
                    approver_kind="role",
                    approver_params={"role": "region_manager", "level": "region"},
                )
            ],
        ),
        actor=SYSTEM,
        publish_now=True,
    )
    region_manager = make_user("region_manager", tree.region)
    manager = make_user("store_manager", tree.store_a)
    site = tree.store_a.site
    _forecast(site, menu.noodles, 15, 2.0)
    [order] = suggestions.build_suggestions(site, today=MONDAY)
    dough = order.lines.get(item=menu.dough)
    requisition = suggestions.submit_suggestion(
        order, {dough.pk: "14"}, {dough.pk: "Weekend catering"}, actor=manager
    )
    order.refresh_from_db()
    assert (order.status, order.requisition) == (SuggestionStatus.SUBMITTED, requisition)
    assert requisition.status == "pending_approval"
    rows = list(
        RequisitionLine.objects.filter(requisition=requisition)
        .order_by("line_no")
        .values_list(
            "item__sku",
            "source_kind",
            "source_site_id",
            "supplier_item_id",
            "quantity",
            "unit",
            "base_quantity",
            "suggested_quantity",
            "deviation_reason",
        )
    )
    assert rows == [
        ("BEEF", SourceKind.DISTRIBUTION, kitchen.pk, None, D("212.243"), "g", D("0.212243"),
         D("212.243"), ""),
        ("DOUGH", SourceKind.DISTRIBUTION, kitchen.pk, None, D(14), "kg", D(14), D(12),
         "Weekend catering"),
        ("SALT", SourceKind.DISTRIBUTION, kitchen.pk, None, D(2), "kg", D(2), D(2), ""),
    ]  # fmt: skip
    assert not TransferOrder.objects.filter(note__contains=requisition.number).exists()
    assert AuditEntry.objects.filter(action="planning.suggestion.submitted").count() == 1
    task = ApprovalTask.objects.get(request__document_id=str(requisition.pk), status="pending")
    runtime.approve(task, actor=region_manager)
    requisition.refresh_from_db()
    assert requisition.status == "approved"
    transfer = TransferOrder.objects.get(note__contains=requisition.number)
    assert (transfer.status, transfer.from_site, transfer.to_site, transfer.to_location) == (
        "draft",
        kitchen,
        site,
        menu.walk_in,
    )
    assert transfer.expected_date == order.delivery_date
    assert list(
        transfer.lines.order_by("line_no").values_list(
            "item__sku", "requested_quantity", "unit", "requested_base"
        )
    ) == [
        ("BEEF", D("212.243"), "g", D("0.212243")),
        ("DOUGH", D(14), "kg", D(14)),
        ("SALT", D(2), "kg", D(2)),
    ]
    assert set(
        RequisitionLine.objects.filter(requisition=requisition).values_list(
            "transfer_order_id", flat=True
        )
    ) == {transfer.pk}
    # The next suggestion counts the draft transfer as on order.
    [again] = suggestions.build_suggestions(site, today=MONDAY)
    assert again.lines.get(item=menu.dough).on_order == D(15)  # 1 + 14


def test_a_deviation_without_reason_changes_nothing(tree, menu, kitchen):
    site = tree.store_a.site
    _forecast(site, menu.noodles, 15, 2.0)
    [order] = suggestions.build_suggestions(site, today=MONDAY)
    dough = order.lines.get(item=menu.dough)
    with pytest.raises(DomainError) as caught:
        suggestions.submit_suggestion(
            order, {dough.pk: "30"}, {}, actor=make_user("store_manager", tree.store_a)
        )
    assert caught.value.code == "deviation_reason_required"
    assert not Requisition.objects.exists()
    order.refresh_from_db()
    assert order.status == SuggestionStatus.OPEN


def test_the_page_shows_the_kitchens_card_and_why(tree, menu, kitchen):
    site = tree.store_a.site
    _forecast(site, menu.noodles, 15, 2.0)
    [order] = suggestions.build_suggestions(site, today=MONDAY)
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
    assert 'data-source-site="CK01"' in body and "data-supplier=" not in body
    assert "Central kitchen CK01" in body
    assert 'data-sku="DOUGH"' in body and "10.031" in body  # the need, explained
    assert 'data-sku="BEEF"' in body and "212.243" in body
    result = assert_matrix(
        "POST",
        f"/planning/suggestions/{order.pk}/submit/",
        payload={f"quantity-{beef.pk}": "250"},
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
    line = Requisition.objects.get().lines.get(item=menu.beef)
    assert (line.source_kind, line.quantity, line.unit) == (SourceKind.DISTRIBUTION, D(250), "g")
