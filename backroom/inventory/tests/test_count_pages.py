"""Count pages: the permission matrix of every page, saving lines with HTMX (every error at
once, nothing half-saved), submitting, the review screen and approving."""

from __future__ import annotations

import pytest

from backroom.inventory import services
from backroom.inventory.models import CountLine, CountSheet, StockBalance, StockMove
from backroom.inventory.services import CountEntry, LineCount, TemplateLineInput
from backroom.inventory.tests.conftest import D, key
from backroom.kernel.actors import SYSTEM
from backroom.testing.factories import client_for, make_user
from backroom.testing.matrix import assert_matrix

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def people(tree):
    return {
        "staff_a": make_user("store_staff", tree.store_a),  # view, move, count
        "manager": make_user("region_manager", tree.region),  # + manage
        "tech_a": make_user("technician", tree.store_a),  # no inventory permission
        "staff_b": make_user("store_staff", tree.store_b),
    }


def _receive(stock, quantity, cost="2", item=None, location=None):
    services.receive(
        item=item or stock.flour,
        location=location or stock.walk_in,
        quantity=D(quantity),
        unit_cost=D(cost),
        key=key(),
        actor=SYSTEM,
    )


def _started(stock, **extra):
    sheet = services.create_count(
        stock.walk_in.site, actor=SYSTEM, location_ids=[stock.walk_in.pk], **extra
    )
    return services.start_count(sheet, actor=SYSTEM)


def _counted():
    return list(CountLine.objects.order_by("id").values_list("id", "counted_quantity", "entries"))


def _ledger():
    return (StockMove.objects.count(), list(CountSheet.objects.values_list("id", "status")))


# --- the permission matrix -------------------------------------------------------------------


def test_count_list_matrix(stock, people):
    sheet = _started(stock)
    result = assert_matrix(
        "GET",
        "/stock/counts/",
        allowed=people["staff_a"],
        forbidden=people["tech_a"],
        other_scope=people["staff_b"],
        expect_other_scope=200,
    )
    assert sheet.number in result.allowed.content.decode()
    assert sheet.number not in result.other_scope.content.decode()


def test_start_page_matrix(stock, people):
    _receive(stock, "10")
    site = stock.walk_in.site
    result = assert_matrix(
        "POST",
        "/stock/counts/new/",
        payload={"site": site.pk, "kind": "full", "locations": [stock.walk_in.pk]},
        allowed=people["staff_a"],
        forbidden=people["tech_a"],
        other_scope=people["staff_b"],
        expect_allowed=302,
        snapshot=lambda: CountSheet.objects.values_list("id"),
    )
    sheet = CountSheet.objects.get()
    assert result.allowed["Location"] == f"/stock/counts/{sheet.pk}/"
    assert (sheet.status, sheet.created_by_id) == ("counting", people["staff_a"].pk)
    assert [line.item_id for line in sheet.lines.all()] == [stock.flour.pk]
    page = client_for(people["staff_a"]).get("/stock/counts/new/")
    assert page.status_code == 200
    assert "Walkin" in page.content.decode()


def test_start_page_reports_a_closed_location(stock, people):
    services.update_location(stock.dry, actor=SYSTEM, is_active=False)
    response = client_for(people["staff_a"]).post(
        "/stock/counts/new/",
        {"site": stock.walk_in.site_id, "kind": "full", "locations": [stock.dry.pk]},
    )
    assert response.status_code == 422
    assert "is closed" in response.content.decode()
    assert CountSheet.objects.count() == 0


def test_sheet_page_matrix(stock, people):
    _receive(stock, "10")
    sheet = _started(stock)
    result = assert_matrix(
        "GET",
        f"/stock/counts/{sheet.pk}/",
        allowed=people["staff_a"],
        forbidden=people["tech_a"],
        other_scope=people["staff_b"],
    )
    body = result.allowed.content.decode()
    assert 'inputmode="decimal"' in body
    assert f'name="qty-{sheet.lines.get().pk}-kg"' in body
    assert "0 of 1 counted" in body


def test_record_matrix_saves_one_line_with_htmx(stock, people):
    _receive(stock, "10")
    sheet = _started(stock)
    line = sheet.lines.get()
    result = assert_matrix(
        "POST",
        f"/stock/counts/{sheet.pk}/lines/",
        payload={"line": line.pk, f"qty-{line.pk}-kg": "7,5"},
        allowed=people["staff_a"],
        forbidden=people["tech_a"],
        other_scope=people["staff_b"],
        expect_allowed=302,  # without HTMX: back to the sheet
        snapshot=_counted,
    )
    assert result.allowed["Location"] == f"/stock/counts/{sheet.pk}/#line-{line.pk}"
    line.refresh_from_db()
    assert (line.counted_quantity, line.entries) == (D("7.5"), [{"unit": "kg", "quantity": "7.5"}])
    response = client_for(people["staff_a"]).post(
        f"/stock/counts/{sheet.pk}/lines/", {"line": line.pk, f"qty-{line.pk}-kg": "8"}, **HX
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert f'id="line-{line.pk}"' in body and 'hx-swap-oob="true"' in body
    assert "1 of 1 counted" in body and "1 line saved." in body
    line.refresh_from_db()
    assert line.counted_quantity == D(8)


def test_submit_post_and_cancel_pages_deny_without_changing_anything(stock, people):
    _receive(stock, "10")
    sheet = _started(stock)
    line = sheet.lines.get()
    services.record_counts(sheet, [LineCount(line.pk, [CountEntry("kg", D(9))])], actor=SYSTEM)
    for action in ("submit", "post", "cancel"):
        assert_matrix(
            "POST",
            f"/stock/counts/{sheet.pk}/{action}/",
            payload={},
            allowed=None,
            forbidden=people["tech_a"],
            other_scope=people["staff_b"],
            snapshot=_ledger,
        )
    assert CountSheet.objects.get().status == "counting"


# --- counting ---------------------------------------------------------------------------------


@pytest.fixture
def two_lines(stock, people):
    """A count of flour (offered in bags and kg by its template) and milk at the walk-in."""
    _receive(stock, "60", "10")  # flour: 60 kg at 10.00
    _receive(stock, "10", "1", item=stock.milk)  # milk: 10 l at 1.00
    template = services.create_count_template(
        stock.walk_in.site,
        actor=people["manager"],
        name="Walk-in",
        kind="cycle",
        lines=[
            TemplateLineInput(stock.walk_in.pk, stock.milk.pk),
            TemplateLineInput(stock.walk_in.pk, stock.flour.pk, count_units=["bag", "kg"]),
        ],
    )
    sheet = services.create_count_from_template(template, actor=people["staff_a"])
    milk, flour = list(sheet.lines.order_by("shelf_order"))
    return sheet, milk, flour


def test_the_counting_screen_offers_the_template_units_in_shelf_order(two_lines, people):
    sheet, milk, flour = two_lines
    body = client_for(people["staff_a"]).get(f"/stock/counts/{sheet.pk}/").content.decode()
    assert body.index(f'id="line-{milk.pk}"') < body.index(f'id="line-{flour.pk}"')
    assert f'name="qty-{flour.pk}-bag"' in body and f'name="qty-{flour.pk}-kg"' in body
    assert "= 25 kg" in body  # the bag's size is shown next to its input


def test_every_bad_line_is_shown_at_once_and_nothing_is_saved(two_lines, people):
    sheet, milk, flour = two_lines
    client = client_for(people["staff_a"])
    response = client.post(
        f"/stock/counts/{sheet.pk}/lines/",
        {
            "line": [milk.pk, flour.pk],
            f"qty-{milk.pk}-l": "abc",
            f"qty-{flour.pk}-bag": "-1",
            f"qty-{flour.pk}-kg": "3",
        },
        **HX,
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count('data-testid="line-error"') == 2
    assert "is not a number" in body and "cannot be negative" in body
    assert 'value="abc"' in body  # what was typed stays in the field
    assert "Nothing was saved" in body
    assert not CountLine.objects.filter(counted_quantity__isnull=False).exists()


def test_saving_a_location_records_every_typed_line_and_skips_empty_ones(two_lines, people):
    sheet, milk, flour = two_lines
    client = client_for(people["staff_a"])
    response = client.post(
        f"/stock/counts/{sheet.pk}/lines/",
        {
            "line": [milk.pk, flour.pk],
            f"qty-{milk.pk}-l": "",
            f"qty-{flour.pk}-bag": "2",
            f"qty-{flour.pk}-kg": "4.5",
        },
        **HX,
    )
    assert response.status_code == 200
    flour.refresh_from_db()
    milk.refresh_from_db()
    assert flour.counted_quantity == D("54.5")  # 2 bags of 25 kg + 4.5 kg
    assert flour.entries == [{"unit": "bag", "quantity": "2"}, {"unit": "kg", "quantity": "4.5"}]
    assert milk.counted_quantity is None
    assert "1 of 2 counted" in response.content.decode()


def test_submitting_marks_the_lines_not_counted(two_lines, people):
    sheet, _milk, flour = two_lines
    client = client_for(people["staff_a"])
    client.post(f"/stock/counts/{sheet.pk}/lines/", {"line": flour.pk, f"qty-{flour.pk}-kg": "60"})
    response = client.post(f"/stock/counts/{sheet.pk}/submit/")
    assert response.status_code == 422
    body = response.content.decode()
    assert "Count every line before submitting." in body
    assert body.count("Not counted yet.") == 1
    assert CountSheet.objects.get().status == "counting"


def test_review_shows_variances_by_value_and_a_manager_approves(two_lines, people):
    sheet, milk, flour = two_lines
    staff = client_for(people["staff_a"])
    staff.post(f"/stock/counts/{sheet.pk}/lines/", {"line": milk.pk, f"qty-{milk.pk}-l": "9"})
    staff.post(
        f"/stock/counts/{sheet.pk}/lines/",
        {"line": flour.pk, f"qty-{flour.pk}-bag": "0", f"qty-{flour.pk}-kg": "0"},
    )
    submitted = staff.post(f"/stock/counts/{sheet.pk}/submit/")
    assert submitted.status_code == 302
    sheet.refresh_from_db()
    assert (sheet.status, sheet.requires_review) == ("submitted", True)  # 600.00 > 500
    page = staff.get(f"/stock/counts/{sheet.pk}/").content.decode()
    # Flour −60 kg × 10.00 = −600.00 comes before milk −1 l × 1.00 = −1.00.
    assert page.index("-600.00") < page.index("-1.00")
    assert 'data-testid="waiting-approval"' in page
    refused = staff.post(f"/stock/counts/{sheet.pk}/post/", follow=True)
    assert "approve before posting" in refused.content.decode()
    not_allowed = staff.post(f"/stock/counts/{sheet.pk}/post/", {"approve": "1"})
    assert not_allowed.status_code == 403
    assert not StockMove.objects.filter(reason="count_variance").exists()
    manager = client_for(people["manager"])
    assert (
        'data-testid="approve-post"' in manager.get(f"/stock/counts/{sheet.pk}/").content.decode()
    )
    posted = manager.post(f"/stock/counts/{sheet.pk}/post/", {"approve": "1"}, follow=True)
    assert "posted" in posted.content.decode()
    sheet.refresh_from_db()
    assert (sheet.status, sheet.approved_by_id) == ("posted", people["manager"].pk)
    assert StockBalance.objects.get(item=flour.item, location=flour.location).quantity == 0
    assert StockBalance.objects.get(item=milk.item, location=milk.location).quantity == D(9)


def test_staff_sees_waiting_for_approval(two_lines, people):
    sheet, milk, flour = two_lines
    services.record_counts(
        sheet,
        [
            LineCount(milk.pk, [CountEntry("l", D(10))]),
            LineCount(flour.pk, [CountEntry("kg", D(1000))]),  # +940 kg × 10.00
        ],
        actor=SYSTEM,
    )
    services.submit_count(sheet, actor=SYSTEM)
    body = client_for(people["staff_a"]).get(f"/stock/counts/{sheet.pk}/").content.decode()
    assert 'data-testid="waiting-approval"' in body
    assert 'data-testid="approve-post"' not in body and 'data-testid="post-count"' not in body


def test_starting_from_a_template_on_the_page(two_lines, people, stock):
    template = CountSheet.objects.get().template
    client = client_for(people["staff_a"])
    page = client.get("/stock/counts/new/").content.decode()
    assert 'data-name="Walk-in"' in page
    response = client.post(
        "/stock/counts/new/", {"site": stock.walk_in.site_id, "template": template.pk}
    )
    assert response.status_code == 302
    sheet = CountSheet.objects.order_by("-id").first()
    assert sheet.template_id == template.pk
    assert [line.item.sku for line in sheet.lines.order_by("shelf_order")] == ["MILK", "FLOUR"]


def test_another_stores_template_cannot_be_used(two_lines, people, stock):
    template = CountSheet.objects.get().template
    before = CountSheet.objects.count()
    response = client_for(people["staff_b"]).post(
        "/stock/counts/new/", {"site": stock.freezer_b.site_id, "template": template.pk}
    )
    assert response.status_code == 422
    assert CountSheet.objects.count() == before


def test_cancelling_on_the_page(stock, people):
    _receive(stock, "10")
    sheet = _started(stock)
    response = client_for(people["staff_a"]).post(
        f"/stock/counts/{sheet.pk}/cancel/", {"reason": "wrong day"}
    )
    assert response.status_code == 302
    assert CountSheet.objects.get().status == "cancelled"


def test_the_list_page_costs_a_fixed_number_of_queries(
    stock, people, django_assert_max_num_queries
):
    _receive(stock, "10")
    for _ in range(5):
        _started(stock)
    client = client_for(people["staff_a"])
    with django_assert_max_num_queries(12):
        response = client.get("/stock/counts/")
    assert response.content.decode().count('data-testid="count-row"') == 5


def test_the_counting_screen_costs_a_fixed_number_of_queries(
    stock, people, django_assert_max_num_queries
):
    services.post_moves(
        [
            services.MoveInput(
                action=services.RECEIVE,
                item_id=stock.flour.pk,
                location_id=stock.walk_in.pk,
                quantity=D(1),
                unit_cost=D(2),
                lot_code=f"Q{number:03d}",
                key=key("q"),
            )
            for number in range(60)
        ],
        actor=SYSTEM,
    )
    sheet = _started(stock)
    client = client_for(people["staff_a"])
    with django_assert_max_num_queries(14):
        response = client.get(f"/stock/counts/{sheet.pk}/")
    assert response.content.decode().count('data-testid="count-line"') == 60
