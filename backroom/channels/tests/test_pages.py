"""The order board and the unmapped items work list: permission matrix and whole effects."""

import pytest

from backroom.channels import intake
from backroom.channels.models import MenuMapping, Order
from backroom.channels.tests.conftest import D, placed
from backroom.inventory.models import Reservation
from backroom.testing.factories import client_for, make_user
from backroom.testing.matrix import assert_matrix

pytestmark = pytest.mark.django_db


def test_board_matrix_shows_the_store_orders_by_state(tree, menu):
    intake.apply_event(menu.own_app, placed("A1"))
    intake.apply_event(menu.own_app, placed("A2", status="ready"))
    intake.apply_event(menu.meituan, placed("A3", lines=[("MT-X", "1")], status="accepted"))
    intake.apply_event(menu.pos_b, placed("B1"))
    result = assert_matrix(
        "GET",
        f"/channels/board/?store={tree.store_a.site.pk}",
        allowed=make_user("store_staff", tree.store_a),
        forbidden=make_user("technician", tree.store_a),
        other_scope=make_user("store_staff", tree.store_b),
    )
    html = result.allowed.content.decode()
    assert 'data-order="A1"' in html and 'data-order="A2"' in html
    assert 'data-order="B1"' not in html
    assert 'data-testid="unmapped-badge"' in html
    assert html.count('data-testid="next-step"') == 3
    # HTMX asks for the board alone.
    partial = client_for(make_user("store_staff", tree.store_a)).get(
        f"/channels/board/?store={tree.store_a.site.pk}", HTTP_HX_REQUEST="true"
    )
    assert partial.status_code == 200 and b"<html" not in partial.content
    assert b'data-order="A1"' in partial.content


def test_board_status_button_matrix(tree, menu):
    order = intake.apply_event(menu.own_app, placed("A5")).order
    result = assert_matrix(
        "POST",
        f"/channels/orders/{order.pk}/status/",
        payload={"status": "accepted"},
        allowed=make_user("store_staff", tree.store_a),
        forbidden=make_user("finance", tree.store_a),
        other_scope=make_user("store_manager", tree.store_b),
        expect_allowed=302,
        snapshot=lambda: list(Order.objects.values_list("status", "is_reserved")),
    )
    assert result.allowed["Location"].endswith(f"?store={tree.store_a.site.pk}")
    order.refresh_from_db()
    assert order.status == "accepted" and order.is_reserved
    assert Reservation.objects.filter(status="active").count() == 3
    # An illegal move is shown as a message and changes nothing.
    client = client_for(make_user("store_staff", tree.store_a))
    response = client.post(
        f"/channels/orders/{order.pk}/status/", {"status": "received"}, follow=True
    )
    assert response.status_code == 200 and "cannot become" in response.content.decode()
    order.refresh_from_db()
    assert order.status == "accepted"


def test_unmapped_list_matrix_and_one_click_mapping(tree, menu):
    intake.apply_event(menu.meituan, placed("M1", lines=[("NOODLES", "2")], status="completed"))
    intake.apply_event(menu.pos_b, placed("B2", lines=[("B-99", "1")], status="completed"))
    result = assert_matrix(
        "GET",
        "/channels/unmapped/",
        allowed=make_user("store_manager", tree.store_a),
        forbidden=make_user("store_staff", tree.store_a),
        other_scope=None,
    )
    html = result.allowed.content.decode()
    assert 'data-code="NOODLES"' in html and 'data-code="B-99"' not in html
    posted = assert_matrix(
        "POST",
        "/channels/unmapped/map/",
        payload={"account": menu.meituan.pk, "external_code": "NOODLES", "item": menu.noodles.pk},
        allowed=make_user("store_manager", tree.store_a),
        forbidden=make_user("store_staff", tree.store_a),
        other_scope=make_user("store_manager", tree.store_b),
        expect_allowed=302,
        snapshot=lambda: MenuMapping.objects.count(),
    )
    assert posted.allowed["Location"] == "/channels/unmapped/"
    order = Order.objects.get(external_id="M1")
    assert order.is_depleted and order.unmapped_lines == 0
    assert menu.on_hand(menu.flour) == D("9.6")
    page = client_for(make_user("store_manager", tree.store_a)).get("/channels/unmapped/")
    assert 'data-code="NOODLES"' not in page.content.decode()
