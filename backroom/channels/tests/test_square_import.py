"""Square item-sales CSV import: a golden file, the same file again, an overlapping file, bad
rows, refunds whose sale comes later; and the permission matrix of the page and the API."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from backroom.audit.models import AuditEntry
from backroom.channels import intake, services, square_import
from backroom.channels.choices import ChannelKind, InboxStatus, OrderStatus
from backroom.channels.models import ImportBatch, InboxMessage, Order
from backroom.events.models import OutboxEvent
from backroom.inventory.models import StockMove
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import NotFound, PermissionDenied, ValidationFailed
from backroom.testing.factories import make_user
from backroom.testing.matrix import assert_matrix, client_of

pytestmark = pytest.mark.django_db

HEADER = [
    "Date",
    "Time",
    "Time Zone",
    "Category",
    "Item",
    "Qty",
    "Price Point Name",
    "SKU",
    "Modifiers Applied",
    "Gross Sales",
    "Discounts",
    "Net Sales",
    "Tax",
    "Transaction ID",
    "Payment ID",
    "Event Type",
    "Location",
]
LOCATION = "Main St"


def row(ticket, qty="1", *, time="12:01:00", gross="$18.00", event="Payment", sku="NOODLES",
        item="Beef noodles", location=LOCATION, date="2026-06-01"):  # fmt: skip
    net = gross
    return [date, time, "Beijing", "Noodles", item, qty, "Regular", sku, "", gross, "$0.00",
            net, "$0.00", ticket, f"P-{ticket}", event, location]  # fmt: skip


def export(*rows: list[str]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue().encode()


GOLDEN = export(
    row("T1", "2", gross="$36.00"),
    row("T2", time="12:30:00"),
    row("T3", time="13:00:00"),
    row("T3", "-1", time="18:00:00", gross="-$18.00", event="Refund"),
)


@pytest.fixture
def sq(tree, menu):
    account = services.create_account(
        site=tree.store_a.site,
        kind=ChannelKind.SQUARE,
        name="Square",
        store_ref=LOCATION,
        after_depletion="return",
        actor=SYSTEM,
    )
    services.save_mapping(account=account, external_code="NOODLES", item=menu.noodles, actor=SYSTEM)
    return account


def run(account, data: bytes, name: str = "items.csv", actor=SYSTEM):
    actor = actor if actor is not SYSTEM else make_user("store_manager", account.site.node)
    return square_import.import_item_sales(account=account, data=data, file_name=name, actor=actor)


def world():
    return (
        ImportBatch.objects.count(),
        InboxMessage.objects.count(),
        list(Order.objects.order_by("pk").values_list("external_id", "status")),
        StockMove.objects.count(),
    )


def sold(account) -> dict[str, tuple[str, bool]]:
    return {
        order.external_id: (order.status, order.is_depleted)
        for order in Order.objects.filter(account=account)
    }


def test_golden_import_makes_completed_orders_that_deplete_once_and_refunds(sq, menu):
    result = run(sq, GOLDEN, "items-2026-06-01.csv")
    batch = result.batch
    assert not result.already_imported
    assert (batch.file_name, batch.file_sha256, batch.file_size) == (
        "items-2026-06-01.csv",
        square_import.square.file_sha256(GOLDEN),
        len(GOLDEN),
    )
    assert (batch.rows, batch.lines_imported, batch.lines_duplicate) == (4, 4, 0)
    assert (batch.orders_created, batch.refunds, batch.error_count, batch.errors) == (3, 1, 0, [])
    assert batch.imported_by is not None and batch.imported_by.has_scoped_permission(
        "channels.operate", sq.site.node
    )
    assert sold(sq) == {
        "T1": (OrderStatus.COMPLETED, True),
        "T2": (OrderStatus.COMPLETED, True),
        "T3": (OrderStatus.REFUNDED, True),  # refunded after depletion: stock returned
    }
    t1 = Order.objects.get(account=sq, external_id="T1")
    assert t1.business_date == dt.date(2026, 6, 1) and t1.total == Decimal("36.00")
    assert list(t1.lines.values_list("external_sku", "quantity")) == [("NOODLES", Decimal("2"))]
    # 4 bowls sold, 1 returned: 3 × 0.2 kg of flour.
    assert menu.on_hand(menu.flour) == Decimal("9.4")
    # Each ticket's rows are in the inbox exactly as in the file.
    lines = GOLDEN.decode().splitlines(keepends=True)
    t1_message = InboxMessage.objects.get(account=sq, external_order_id="T1")
    assert t1_message.payload == lines[0] + lines[1]
    assert t1_message.status == InboxStatus.PROCESSED and t1_message.content_type.startswith(
        "text/csv"
    )
    refund = InboxMessage.objects.get(account=sq, external_order_id="T3", raw_type="Refund")
    assert refund.payload == lines[0] + lines[3] + lines[4]
    assert refund.status == InboxStatus.PROCESSED
    assert AuditEntry.objects.filter(
        action="channels.square_import", target_id=str(batch.pk)
    ).exists()


def test_the_same_file_again_is_already_imported_and_changes_nothing(sq, menu):
    manager = make_user("store_manager", sq.site.node)
    first = run(sq, GOLDEN, actor=manager).batch
    before = world(), menu.on_hand(menu.flour), AuditEntry.objects.count()
    again = run(sq, GOLDEN, "renamed.csv", actor=manager)
    assert again.already_imported and again.batch.pk == first.pk
    assert (world(), menu.on_hand(menu.flour), AuditEntry.objects.count()) == before


def test_an_overlapping_file_imports_only_its_new_lines(sq, menu):
    run(sq, GOLDEN)
    overlapping = export(
        row("T3", time="13:00:00"),  # imported before
        row("T3", "-1", time="18:00:00", gross="-$18.00", event="Refund"),  # imported before
        row("T1", "-1", time="19:00:00", gross="-$18.00", event="Refund"),  # new: partial refund
        row("T4", "3", time="19:30:00", gross="$54.00"),  # new ticket
    )
    batch = run(sq, overlapping, "items-overlap.csv").batch
    assert (batch.lines_imported, batch.lines_duplicate, batch.orders_created, batch.refunds) == (
        2,
        2,
        1,
        1,
    )
    assert batch.error_count == 0
    statuses = sold(sq)
    assert statuses["T4"] == (OrderStatus.COMPLETED, True)
    assert statuses["T3"] == (OrderStatus.REFUNDED, True)
    assert statuses["T1"][0] == OrderStatus.PARTIALLY_REFUNDED
    t1 = Order.objects.get(account=sq, external_id="T1")
    assert t1.lines.get().refunded_quantity == Decimal("1")
    # GOLDEN: 3 bowls net; T1 refund returns 1; T4 sells 3 → 5 bowls.
    assert menu.on_hand(menu.flour) == Decimal("9.0")
    # The overlap imported a third time (another hash): nothing at all is new.
    before = world(), menu.on_hand(menu.flour)
    third = run(sq, overlapping + export(row("T2", time="12:30:00"))[len(export()) :]).batch
    assert (third.lines_imported, third.lines_duplicate, third.orders_created) == (0, 5, 0)
    assert (world()[1:], menu.on_hand(menu.flour)) == (before[0][1:], before[1])


def test_every_bad_row_is_reported_and_its_ticket_waits_for_the_fixed_file(sq, menu):
    broken = export(
        row("T1"),
        row("T2", "abc"),  # row 3: bad quantity
        row("T2", gross="eighteen"),  # row 4: bad money, same ticket
        row("T3", location="Airport"),  # row 5: another Square location
        row("T4", time="25:99"),  # row 6: bad time
    )
    batch = run(sq, broken).batch
    problems = [(error["row"], error["column"]) for error in batch.errors]
    assert problems == [
        (3, "Qty"),
        (4, "Gross Sales"),
        (4, "Net Sales"),
        (5, "Location"),
        (6, "Date"),
    ]
    assert batch.error_count == 5 and batch.tickets_held_back == 2
    assert sold(sq) == {"T1": (OrderStatus.COMPLETED, True)}
    fixed = export(row("T1"), row("T2", "2"), row("T2"), row("T3"), row("T4"))
    batch = run(sq, fixed, "fixed.csv").batch
    assert (batch.orders_created, batch.lines_imported, batch.lines_duplicate) == (3, 4, 1)
    assert batch.errors == []
    assert Order.objects.get(account=sq, external_id="T2").lines.count() == 2
    assert menu.on_hand(menu.flour) == Decimal("8.8")  # 1 + 3 + 1 + 1 bowls


def test_a_ticket_that_grew_a_line_is_reported_not_changed(sq):
    run(sq, export(row("T1")))
    batch = run(sq, export(row("T1"), row("T1", sku="NOODLES", item="Extra bowl"))).batch
    assert [(error["row"], error["column"]) for error in batch.errors] == [(3, "Transaction ID")]
    assert Order.objects.get(account=sq, external_id="T1").lines.count() == 1


def test_a_refund_before_its_sale_is_kept_and_applied_once_the_sale_is_imported(sq, menu):
    refund_only = export(row("T9", "-1", time="18:00:00", gross="-$18.00", event="Refund"))
    batch = run(sq, refund_only).batch
    assert (batch.refunds, batch.failed_messages, batch.error_count) == (0, 1, 1)
    waiting = InboxMessage.objects.get(account=sq, external_order_id="T9")
    assert waiting.status == InboxStatus.FAILED and waiting.reason.startswith("order_not_received")
    run(sq, export(row("T9")))
    InboxMessage.objects.filter(pk=waiting.pk).update(
        received_at=waiting.received_at - dt.timedelta(minutes=5)
    )
    assert intake.retry_failed() == 1
    order = Order.objects.get(account=sq, external_id="T9")
    assert order.status == OrderStatus.PARTIALLY_REFUNDED
    assert order.lines.get().refunded_quantity == Decimal("1")
    assert menu.on_hand(menu.flour) == Decimal("10")


def test_files_that_are_not_exports_and_wrong_accounts_are_refused(sq, menu, tree):
    before = world()
    with pytest.raises(ValidationFailed) as error:
        run(sq, b"Date,Item\n2026-06-01,Noodles\n")
    assert "file.Qty" in error.value.errors and "file.Transaction ID" in error.value.errors
    with pytest.raises(ValidationFailed):
        run(sq, b"")
    with pytest.raises(ValidationFailed):
        run(menu.meituan, GOLDEN, actor=make_user("store_manager", tree.store_a))
    with pytest.raises(PermissionDenied):
        run(sq, GOLDEN, actor=make_user("finance", tree.store_a))
    with pytest.raises(NotFound):
        run(sq, GOLDEN, actor=make_user("store_manager", tree.store_b))
    assert world() == before


# --- the API and the page: permission matrices -----------------------------------------------


class Upload:
    """A file the test client can send again and again (each request reads it)."""

    def __init__(self, data: bytes, name: str = "items.csv") -> None:
        self.data, self.name = data, name

    def read(self) -> bytes:
        return self.data


def test_api_upload_matrix(sq, tree, menu):
    url = "/api/v1/channels/square/imports"
    payload = {"account_id": sq.pk, "file": Upload(GOLDEN)}
    callers = {
        "anonymous": (Client(), 401, "not_authenticated"),
        "forbidden": (client_of(make_user("finance", tree.store_a)), 403, "permission_denied"),
        "other_scope": (client_of(make_user("store_manager", tree.store_b)), 404, "not_found"),
    }
    before = world(), AuditEntry.objects.count(), OutboxEvent.objects.count()
    for caller, (client, status, code) in callers.items():
        response = client.post(url, payload)
        assert (response.status_code, response.json()["code"]) == (status, code), caller
        assert (world(), AuditEntry.objects.count(), OutboxEvent.objects.count()) == before, caller
    allowed = client_of(make_user("store_manager", tree.store_a))
    response = allowed.post(url, payload)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["already_imported"] is False and body["store_id"] == tree.store_a.site.pk
    assert (body["orders_created"], body["lines_imported"], body["errors"]) == (3, 4, [])
    again = allowed.post(url, {"account_id": sq.pk, "file": Upload(GOLDEN, "again.csv")})
    assert again.status_code == 200 and again.json()["already_imported"] is True
    assert again.json()["id"] == body["id"]
    bad = allowed.post(url, {"account_id": sq.pk, "file": Upload(b"no,columns\n1,2\n")})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid"


def test_api_list_and_detail_matrix(sq, tree):
    batch = run(sq, GOLDEN).batch
    listed = assert_matrix(
        "GET",
        "/api/v1/channels/square/imports",
        allowed=make_user("finance", tree.store_a),
        forbidden=make_user("technician", tree.store_a),
        other_scope=make_user("store_manager", tree.store_b),
        expect_forbidden=200,
        expect_other_scope=200,
    )
    assert [item["id"] for item in listed.allowed.json()["items"]] == [batch.pk]
    assert listed.forbidden.json()["items"] == [] and listed.other_scope.json()["items"] == []
    detail = assert_matrix(
        "GET",
        f"/api/v1/channels/square/imports/{batch.pk}",
        allowed=make_user("store_staff", tree.store_a),
        forbidden=make_user("technician", tree.store_a),
        other_scope=make_user("store_manager", tree.store_b),
        expect_forbidden=404,
    )
    assert detail.allowed.json()["file_sha256"] == batch.file_sha256


def test_page_upload_matrix_and_result_page(sq, tree, menu):
    snapshot = world
    result = assert_matrix(
        "POST",
        "/channels/square/import/",
        payload={"account": sq.pk, "file": Upload(GOLDEN)},
        allowed=make_user("store_manager", tree.store_a),
        forbidden=make_user("finance", tree.store_a),
        other_scope=make_user("store_manager", tree.store_b),
        expect_allowed=302,
        snapshot=snapshot,
    )
    batch = ImportBatch.objects.get()
    assert result.allowed["Location"] == f"/channels/square/imports/{batch.pk}/"
    assert sold(sq)["T1"] == (OrderStatus.COMPLETED, True)
    page = assert_matrix(
        "GET",
        f"/channels/square/imports/{batch.pk}/",
        allowed=make_user("store_staff", tree.store_a),
        forbidden=make_user("technician", tree.store_a),
        other_scope=make_user("store_manager", tree.store_b),
    )
    html = page.allowed.content.decode()
    assert 'data-testid="count-orders">3<' in html and batch.file_sha256 in html


def test_page_form_lists_accounts_and_reports_problems(sq, tree):
    manager = client_of(make_user("store_manager", tree.store_a))
    form = manager.get("/channels/square/import/")
    assert form.status_code == 200 and f'value="{sq.pk}"' in form.content.decode()
    bad = manager.post(
        "/channels/square/import/",
        {"account": sq.pk, "file": SimpleUploadedFile("x.csv", b"Date\n2026-01-01\n")},
    )
    assert bad.status_code == 422 and 'data-testid="import-problems"' in bad.content.decode()
    broken = export(row("T1"), row("T2", "abc"))
    done = manager.post(
        "/channels/square/import/",
        {"account": sq.pk, "file": SimpleUploadedFile("b.csv", broken)},
        follow=True,
    )
    html = done.content.decode()
    assert 'data-testid="import-error" data-row="3"' in html and "Qty" in html
    assert ImportBatch.objects.count() == 1
