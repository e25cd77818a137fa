"""Receiving on a phone (390 × 844): the SH001 store manager opens the delivery the demo left
on its way, is told every problem at once, rejects part of a line with a reason, enters lots,
expiry dates and temperatures and a photo of the delivery note, and sees the receipt; the
accepted goods are in stock with their lots."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Sum

from backroom.inventory.models import StockMove
from backroom.procurement.models import PurchaseOrder, Receipt
from tests.browser.conftest import PHONE, screenshot
from tests.browser.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# An 8 × 8 red PNG: a real image for the delivery note.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAEUlEQVR4nGM4Y2yMFTEMLQkACspMgdVP2G4AAAAASUVORK5CYII="
)


def _look(page: Any, name: str) -> None:
    screenshot(page, name)


def _fits(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def _on_hand(order: PurchaseOrder) -> dict[str, Decimal]:
    rows = (
        StockMove.objects.filter(location=order.location, item__in=order.lines.values("item"))
        .values_list("item__sku")
        .annotate(total=Sum("quantity"))
    )
    return {sku: total for sku, total in rows}


@pytest.mark.parametrize("viewport", [("phone", PHONE)])
def test_store_manager_receives_a_delivery_on_the_phone(
    demo,
    live_server,
    page_at,
    viewport,
    settings,
    tmp_path,
):
    settings.MEDIA_ROOT = str(tmp_path)
    order = (
        PurchaseOrder.objects.filter(
            store__node__code="SH001", status="sent", supplier__code="HUFRESH"
        )
        .select_related("location")
        .get()
    )
    lines = list(order.lines.select_related("item").order_by("line_no"))
    first, second = lines[0], lines[1]
    assert first.item.storage == "chilled"  # tomatoes: a temperature is asked for
    before = _on_hand(order)
    page = page_at
    sign_in(page, live_server.url, "manager.sh001")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/procurement/receiving/")
    _fits(page)
    page.click(f"[data-testid=delivery-row][data-number='{order.number}']")
    page.wait_for_selector("[data-testid=receive-form]")
    cards = page.locator("[data-testid=receive-line]")
    assert cards.count() == len(lines)
    photo = page.locator("[data-testid=photo]")
    assert photo.get_attribute("capture") == "environment"
    assert photo.get_attribute("accept") == "image/*"
    card = cards.nth(0)
    assert card.locator("[data-testid=received]").get_attribute("inputmode") == "decimal"
    _fits(page)
    _look(page, "receive-en-phone")
    # First try: one case rejected without a reason, no temperatures: every problem at once.
    card.locator("summary").first.click()
    card.locator("[data-testid=rejected]").fill("1")
    card.locator("[data-testid=received]").fill(f"{(first.quantity - 1).normalize():f}")
    card.locator("[data-testid=lot]").fill("TOM-0412")
    page.click("[data-testid=save-receipt]")
    page.wait_for_selector("[data-testid=line-errors]")
    assert page.locator("[data-testid=line-errors]").count() == len(lines)
    assert Receipt.objects.filter(purchase_order=order).count() == 0
    card = page.locator("[data-testid=receive-line]").nth(0)
    assert card.locator("[data-testid=lot]").input_value() == "TOM-0412"  # kept
    _fits(page)
    _look(page, "receive-errors-en-phone")
    # Correct it: the reason, temperatures, lots and expiry dates, and the delivery note.
    card.locator("[data-testid=reason]").select_option("damaged")
    card.locator("[data-testid=temperature]").fill("3,5")
    card.locator("[data-testid=expiry]").fill("2030-04-19")
    other = page.locator("[data-testid=receive-line]").nth(1)
    other.locator("[data-testid=temperature]").fill("4")
    other.locator("[data-testid=lot]").fill("COR-0412")
    other.locator("[data-testid=expiry]").fill("2030-04-16")
    page.fill("[data-testid=delivery-note-number]", "DN-4412")
    page.locator("[data-testid=photo]").set_input_files(
        files=[{"name": "note.png", "mimeType": "image/png", "buffer": PNG}]
    )
    _look(page, "receive-filled-en-phone")
    page.click("[data-testid=save-receipt]")
    page.wait_for_selector("[data-testid=receipt-summary]")
    receipt = Receipt.objects.get(purchase_order=order)
    assert receipt.delivery_note_number == "DN-4412"
    assert receipt.photo_content_type == "image/png"
    rows = list(receipt.lines.order_by("line_no"))
    assert (rows[0].received_quantity, rows[0].rejected_quantity, rows[0].rejection_reason) == (
        first.quantity - 1,
        Decimal(1),
        "damaged",
    )
    assert (rows[0].lot_code, str(rows[0].expiry_date), rows[0].temperature) == (
        "TOM-0412",
        "2030-04-19",
        Decimal("3.5"),
    )
    assert (rows[1].received_quantity, rows[1].lot_code) == (second.quantity, "COR-0412")
    order.refresh_from_db()
    assert order.status == "partially_received"  # a case of tomatoes is still owed
    assert "Partially received" in page.inner_text("[data-testid=order-status]")
    assert page.locator("[data-testid=receipt-line] [data-testid=rejected]").count() == 1
    after = _on_hand(order)
    per_case = first.base_quantity / first.quantity
    assert after[first.item.sku] - before.get(first.item.sku, Decimal(0)) == per_case * (
        first.quantity - 1
    )
    assert after[second.item.sku] - before.get(second.item.sku, Decimal(0)) == second.base_quantity
    moves = StockMove.objects.filter(source_type="procurement.receipt", source_id=str(receipt.pk))
    assert {move.lot.code for move in moves} == {"TOM-0412", "COR-0412"}
    _fits(page)
    _look(page, "receipt-en-phone")
