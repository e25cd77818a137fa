"""Stock counts: freeze, record in count units, moves during the count, review, posting."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from backroom.audit.models import AuditEntry
from backroom.config.ledger_checks import run_ledger_checks
from backroom.events.models import OutboxEvent
from backroom.inventory import services
from backroom.inventory.counts import CountReviewRequired, CountStateError
from backroom.inventory.exceptions import BatchRejected, LocationInactive, UnknownLocation
from backroom.inventory.models import (
    CountLine,
    CountSheet,
    StockBalance,
    StockMove,
    StockPosting,
)
from backroom.inventory.services import CountEntry, LineCount
from backroom.inventory.services.counts import _variances
from backroom.inventory.tests.conftest import D, key
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import NotFound, PermissionDenied
from backroom.testing.factories import client_for, make_user


def _receive(stock, quantity, cost="2", location=None, item=None, **extra):
    return services.receive(
        item=item or stock.flour,
        location=location or stock.walk_in,
        quantity=D(quantity),
        unit_cost=D(cost),
        key=key(),
        actor=SYSTEM,
        **extra,
    )


def _started(stock, actor=SYSTEM, **extra):
    sheet = services.create_count(
        stock.walk_in.site, actor=actor, location_ids=[stock.walk_in.pk], **extra
    )
    return services.start_count(sheet, actor=actor)


def _entries(*pairs):
    return [CountEntry(unit, D(quantity)) for unit, quantity in pairs]


def _state():
    return (
        StockMove.objects.count(),
        StockPosting.objects.count(),
        AuditEntry.objects.count(),
        OutboxEvent.objects.count(),
        CountLine.objects.filter(counted_quantity__isnull=False).count(),
    )


def test_golden_count_with_consumption_during_the_count(stock):
    """Theoretical 10 kg frozen, 2 kg consumed during the count, 7 kg counted → −1 kg at 2.00."""
    _receive(stock, "10", "2")
    sheet = services.create_count(stock.walk_in.site, actor=SYSTEM, location_ids=[stock.walk_in.pk])
    assert sheet.status == "draft"
    assert sheet.number == "CNT-SHA001-000001"
    sheet = services.start_count(sheet, actor=SYSTEM)
    line = CountLine.objects.get(sheet=sheet)
    assert (sheet.status, line.item_id, line.theoretical_quantity, line.shelf_order) == (
        "counting",
        stock.flour.pk,
        D(10),
        1,
    )
    services.consume(
        item=stock.flour, location=stock.walk_in, quantity=D(2), key=key(), actor=SYSTEM
    )
    line.refresh_from_db()
    assert line.theoretical_quantity == D(10)  # frozen
    services.record_counts(
        sheet, [LineCount(line.pk, _entries(("kg", "6"), ("g", "1000")))], actor=SYSTEM
    )
    line.refresh_from_db()
    assert line.counted_quantity == D(7)
    assert line.entries == [{"unit": "kg", "quantity": "6"}, {"unit": "g", "quantity": "1000"}]
    sheet = services.submit_count(sheet, actor=SYSTEM)
    line.refresh_from_db()
    assert (sheet.status, sheet.requires_review) == ("submitted", False)
    assert (line.variance_quantity, line.variance_value) == (D(-1), D("-2.0000"))
    sheet = services.post_count(sheet, actor=SYSTEM)
    assert sheet.status == "posted" and sheet.posted_at is not None
    move = StockMove.objects.get(reason="count_variance")
    assert (move.quantity, move.value, move.source_type, move.source_number) == (
        D(-1),
        D(-2),
        "inventory.count",
        sheet.number,
    )
    assert move.posting_id == sheet.posting_id
    assert move.idempotency_key == f"count:{sheet.pk}"
    assert StockBalance.objects.get(item=stock.flour, location=stock.walk_in).quantity == D(7)
    assert [
        entry.action
        for entry in AuditEntry.objects.filter(target_type__icontains="count").order_by("id")
    ] == [
        "inventory.count.create",
        "inventory.count.start",
        "inventory.count.record",
        "inventory.count.submit",
        "inventory.count.post",
    ]
    assert AuditEntry.objects.filter(action="inventory.adjust").count() == 1
    assert list(
        OutboxEvent.objects.filter(event_type__startswith="inventory.count")
        .order_by("id")
        .values_list("event_type", flat=True)
    ) == [
        "inventory.count.created",
        "inventory.count.started",
        "inventory.count.counted",
        "inventory.count.submitted",
        "inventory.count.posted",
    ]
    posted = OutboxEvent.objects.get(event_type="inventory.count.posted").payload
    assert (posted["variance_lines"], posted["variance_value"]) == (1, "-2.0000")
    assert all(not result.differences for result in run_ledger_checks())


def test_replaying_post_is_idempotent(stock):
    _receive(stock, "10", "2")
    sheet = _started(stock)
    line = CountLine.objects.get(sheet=sheet)
    services.record_counts(sheet, [LineCount(line.pk, _entries(("bag", "0.5")))], actor=SYSTEM)
    services.submit_count(sheet, actor=SYSTEM)
    first = services.post_count(sheet, actor=SYSTEM)
    before = _state()
    again = services.post_count(sheet, actor=SYSTEM)
    assert _state() == before
    assert (again.pk, again.posting_id, again.status) == (first.pk, first.posting_id, "posted")
    move = StockMove.objects.get(reason="count_variance")
    assert move.quantity == D("2.5")  # half a 25 kg bag counted: 12.5 − 10
    assert StockBalance.objects.get(item=stock.flour, location=stock.walk_in).quantity == D("12.5")


def test_a_two_thousand_line_count_reports_every_bad_line_and_saves_nothing(stock):
    services.post_moves(
        [
            services.MoveInput(
                action=services.RECEIVE,
                item_id=stock.flour.pk,
                location_id=stock.walk_in.pk,
                quantity=D(1),
                unit_cost=D(2),
                lot_code=f"L{number:04d}",
                key=key("lot"),
            )
            for number in range(2000)
        ],
        actor=SYSTEM,
    )
    sheet = _started(stock)
    lines = list(CountLine.objects.filter(sheet=sheet).order_by("shelf_order"))
    assert len(lines) == 2000
    counts = [LineCount(line.pk, _entries(("kg", "1"))) for line in lines]
    counts[5] = LineCount(lines[5].pk, _entries(("crate", "1")))
    counts[700] = LineCount(lines[700].pk, _entries(("kg", "-1")))
    counts[1200] = LineCount(lines[1200].pk, _entries(("ml", "100")))
    counts[1999] = LineCount(999_999_999, _entries(("kg", "1")))
    counts[1500] = LineCount(lines[1500].pk, [])
    before = _state()
    with pytest.raises(BatchRejected) as caught:
        services.record_counts(sheet, counts, actor=SYSTEM)
    assert [(line["index"], line["code"]) for line in caught.value.lines] == [
        (5, "unknown_unit"),
        (700, "negative_quantity"),
        (1200, "missing_conversion"),
        (1500, "invalid"),
        (1999, "unknown_count_line"),
    ]
    assert _state() == before
    assert not CountLine.objects.filter(sheet=sheet, counted_quantity__isnull=False).exists()
    good = [LineCount(line.pk, _entries(("g", "1000"))) for line in lines]
    services.record_counts(sheet, good, actor=SYSTEM)
    assert CountLine.objects.filter(sheet=sheet, counted_quantity=D(1)).count() == 2000
    assert AuditEntry.objects.get(action="inventory.count.record").after["line_count"] == 2000


def test_recording_needs_a_sheet_being_counted(stock):
    _receive(stock, "10")
    sheet = services.create_count(stock.walk_in.site, actor=SYSTEM)
    before = _state()
    with pytest.raises(CountStateError) as caught:
        services.record_counts(sheet, [LineCount(1, _entries(("kg", "1")))], actor=SYSTEM)
    assert caught.value.code == "count_state"
    assert _state() == before


def test_submit_needs_every_line_counted(stock):
    _receive(stock, "10")
    _receive(stock, "4", location=stock.dry)
    sheet = services.start_count(
        services.create_count(stock.walk_in.site, actor=SYSTEM), actor=SYSTEM
    )
    assert CountLine.objects.filter(sheet=sheet).count() == 2
    with pytest.raises(Exception) as caught:
        services.submit_count(sheet, actor=SYSTEM)
    assert caught.value.code == "invalid"  # type: ignore[attr-defined]
    assert len(caught.value.details["uncounted"]) == 2  # type: ignore[attr-defined]
    assert CountSheet.objects.get(pk=sheet.pk).status == "counting"


def test_counting_a_closed_location_is_refused(stock):
    services.update_location(stock.dry, actor=SYSTEM, is_active=False)
    before = CountSheet.objects.count()
    with pytest.raises(LocationInactive) as caught:
        services.create_count(stock.walk_in.site, actor=SYSTEM, location_ids=[stock.dry.pk])
    assert caught.value.code == "location_inactive"
    with pytest.raises(UnknownLocation):
        services.create_count(stock.walk_in.site, actor=SYSTEM, location_ids=[stock.freezer_b.pk])
    assert CountSheet.objects.count() == before


def test_a_location_closed_during_the_count_cannot_be_recorded(stock):
    _receive(stock, "10")
    sheet = _started(stock)
    line = CountLine.objects.get(sheet=sheet)
    services.update_location(stock.walk_in, actor=SYSTEM, is_active=False)
    with pytest.raises(BatchRejected) as caught:
        services.record_counts(sheet, [LineCount(line.pk, _entries(("kg", "1")))], actor=SYSTEM)
    assert caught.value.lines[0]["code"] == "location_inactive"


def test_a_big_variance_needs_approval_by_a_manager(stock, tree):
    _receive(stock, "100", "10")  # 10.00 per kg
    staff = make_user("store_staff", tree.store_a)  # count, no manage
    manager = make_user("region_manager", tree.region)  # count and manage
    sheet = _started(stock, actor=staff, kind="cycle", item_ids=[stock.flour.pk])
    line = CountLine.objects.get(sheet=sheet)
    services.record_counts(sheet, [LineCount(line.pk, _entries(("kg", "40")))], actor=staff)
    sheet = services.submit_count(sheet, actor=staff)
    assert sheet.requires_review is True  # −60 kg × 10.00 = −600 > 500
    before = _state()
    with pytest.raises(CountReviewRequired) as caught:
        services.post_count(sheet, actor=staff)
    assert caught.value.details["largest_variance_value"] == "600.0000"
    with pytest.raises(PermissionDenied):
        services.post_count(sheet, actor=staff, approved=True)
    assert _state() == before
    posted = services.post_count(sheet, actor=manager, approved=True)
    assert (posted.status, posted.approved_by_id) == ("posted", manager.pk)
    assert StockMove.objects.get(reason="count_variance").value == D(-600)


def test_a_sheet_threshold_overrides_the_default(stock):
    _receive(stock, "10", "2")
    sheet = _started(stock, review_threshold=D("1"))
    line = CountLine.objects.get(sheet=sheet)
    services.record_counts(sheet, [LineCount(line.pk, _entries(("kg", "9")))], actor=SYSTEM)
    assert services.submit_count(sheet, actor=SYSTEM).requires_review is True
    with pytest.raises(CountReviewRequired):
        services.post_count(sheet, actor=SYSTEM)


def test_store_b_cannot_count_store_a(stock, tree):
    _receive(stock, "10")
    other = make_user("store_manager", tree.store_b)
    nobody = make_user("technician", tree.store_a)
    before = CountSheet.objects.count()
    with pytest.raises(NotFound):
        services.create_count(stock.walk_in.site, actor=other)
    with pytest.raises(PermissionDenied):
        services.create_count(stock.walk_in.site, actor=nobody)
    assert CountSheet.objects.count() == before
    sheet = _started(stock)
    with pytest.raises(NotFound):
        services.record_counts(
            sheet, [LineCount(CountLine.objects.get(sheet=sheet).pk, [])], actor=other
        )


def test_a_cancelled_count_posts_nothing(stock):
    _receive(stock, "10")
    sheet = _started(stock)
    sheet = services.cancel_count(sheet, actor=SYSTEM, reason="wrong day")
    assert sheet.status == "cancelled"
    assert AuditEntry.objects.get(action="inventory.count.cancel").reason == "wrong day"
    with pytest.raises(CountStateError):
        services.post_count(sheet, actor=SYSTEM)
    assert not StockMove.objects.filter(reason="count_variance").exists()


# --- API -----------------------------------------------------------------------------------

BASE = "/api/v1/inventory"


def _post(client, url, body):
    return client.post(f"{BASE}{url}", data=json.dumps(body), content_type="application/json")


@pytest.fixture
def people(tree):
    return {
        "staff_a": make_user("store_staff", tree.store_a),  # view, move, count
        "manager": make_user("region_manager", tree.region),  # + manage
        "tech_a": make_user("technician", tree.store_a),  # no inventory permission
        "staff_b": make_user("store_staff", tree.store_b),
    }


def test_a_count_from_start_to_posting_through_the_api(stock, people):
    _receive(stock, "10", "2")
    client = client_for(people["staff_a"])
    created = _post(
        client, "/counts", {"site_id": stock.walk_in.site_id, "location_ids": [stock.walk_in.pk]}
    )
    assert created.status_code == 201, created.content
    sheet = created.json()
    assert (sheet["status"], sheet["location_ids"]) == ("counting", [stock.walk_in.pk])
    detail = client.get(f"{BASE}/counts/{sheet['id']}")
    assert detail.status_code == 200
    [line] = detail.json()["lines"]
    assert (line["sku"], line["unit"], D(line["theoretical_quantity"])) == ("FLOUR", "kg", D(10))
    bad = _post(
        client,
        f"/counts/{sheet['id']}/lines",
        {
            "lines": [
                {"line_id": line["id"], "entries": [{"unit": "crate", "quantity": "1"}]},
                {"line_id": 999999, "entries": [{"unit": "kg", "quantity": "1"}]},
            ]
        },
    )
    assert bad.status_code == 422
    assert bad.json()["code"] == "batch_rejected"
    assert [row["code"] for row in bad.json()["details"]["lines"]] == [
        "unknown_unit",
        "unknown_count_line",
    ]
    recorded = _post(
        client,
        f"/counts/{sheet['id']}/lines",
        {"lines": [{"line_id": line["id"], "entries": [{"unit": "kg", "quantity": "8"}]}]},
    )
    assert recorded.status_code == 200, recorded.content
    submitted = _post(client, f"/counts/{sheet['id']}/submit", {})
    assert submitted.json()["status"] == "submitted"
    posted = _post(client, f"/counts/{sheet['id']}/post", {})
    assert posted.status_code == 200, posted.content
    assert posted.json()["status"] == "posted"
    again = _post(client, f"/counts/{sheet['id']}/post", {})
    assert again.json()["posting_id"] == posted.json()["posting_id"]
    move = StockMove.objects.get(reason="count_variance")
    assert (move.quantity, move.value) == (D(-2), D(-4))
    listed = client.get(f"{BASE}/counts", {"site_id": stock.walk_in.site_id})
    assert [row["id"] for row in listed.json()["items"]] == [sheet["id"]]


def test_reading_a_sheet_costs_a_fixed_number_of_queries(
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
    _started(stock)
    client = client_for(people["staff_a"])
    with django_assert_max_num_queries(12):
        detail = client.get(f"{BASE}/counts/{sheet.pk}")
    assert len(detail.json()["lines"]) == 60
    with django_assert_max_num_queries(12):
        listed = client.get(f"{BASE}/counts")
    assert listed.json()["count"] == 2


def test_count_api_permissions(stock, people):
    _receive(stock, "10", "2")
    sheet = _started(stock)
    body = {"site_id": stock.walk_in.site_id}
    anonymous = _post(client_for(None), "/counts", body)
    assert anonymous.status_code == 401
    denied = _post(client_for(people["tech_a"]), "/counts", body)
    assert (denied.status_code, denied.json()["code"]) == (403, "permission_denied")
    other = client_for(people["staff_b"])
    assert _post(other, "/counts", body).status_code == 404
    assert other.get(f"{BASE}/counts/{sheet.pk}").status_code == 404
    assert _post(other, f"/counts/{sheet.pk}/submit", {}).status_code == 404
    assert other.get(f"{BASE}/counts").json()["items"] == []
    assert CountSheet.objects.count() == 1
    assert CountSheet.objects.get().status == "counting"


def test_approving_a_big_variance_through_the_api(stock, people):
    _receive(stock, "100", "10")
    sheet = _started(stock)
    line = CountLine.objects.get(sheet=sheet)
    services.record_counts(sheet, [LineCount(line.pk, _entries(("kg", "40")))], actor=SYSTEM)
    services.submit_count(sheet, actor=SYSTEM)
    staff = client_for(people["staff_a"])
    refused = _post(staff, f"/counts/{sheet.pk}/post", {})
    assert (refused.status_code, refused.json()["code"]) == (409, "count_review_required")
    not_allowed = _post(staff, f"/counts/{sheet.pk}/post", {"approved": True})
    assert not_allowed.status_code == 403
    assert not StockMove.objects.filter(reason="count_variance").exists()
    approved = _post(client_for(people["manager"]), f"/counts/{sheet.pk}/post", {"approved": True})
    assert approved.status_code == 200, approved.content
    assert approved.json()["approved_by_id"] == people["manager"].pk


def test_moves_during_the_count_are_applied_per_lot(stock):
    _receive(stock, "5", "2", lot_code="L1", expiry_date=dt.date(2099, 1, 1))
    _receive(stock, "5", "2", lot_code="L2", expiry_date=dt.date(2099, 6, 1))
    sheet = _started(stock)
    first, second = CountLine.objects.filter(sheet=sheet).order_by("shelf_order")
    assert (first.lot.code, second.lot.code) == ("L1", "L2")  # shelf order: FEFO
    services.consume(
        item=stock.flour, location=stock.walk_in, quantity=D(3), key=key(), actor=SYSTEM
    )  # FEFO: from L1
    _receive(stock, "2", "2", lot_code="L2")
    services.record_counts(
        sheet,
        [
            LineCount(first.pk, _entries(("kg", "1"))),  # books: 2 → −1
            LineCount(second.pk, _entries(("kg", "8"))),  # books: 7 → +1
        ],
        actor=SYSTEM,
    )
    services.submit_count(sheet, actor=SYSTEM)
    sheet = services.post_count(sheet, actor=SYSTEM)
    moves = StockMove.objects.filter(reason="count_variance").order_by("key_line")
    assert [(move.lot.code, move.quantity, move.value) for move in moves] == [
        ("L1", D(-1), D(-2)),
        ("L2", D(1), D(2)),
    ]
    balances = StockBalance.objects.filter(item=stock.flour, location=stock.walk_in)
    assert sorted((row.lot.code, row.quantity) for row in balances) == [("L1", D(1)), ("L2", D(8))]
    # The count's own moves are left out when the variances are worked out again.
    lines = list(CountLine.objects.filter(sheet=sheet).order_by("shelf_order"))
    _variances(sheet, lines)
    assert [line.variance_quantity for line in lines] == [D(-1), D(1)]
    assert all(not result.differences for result in run_ledger_checks())


def test_a_count_without_differences_posts_no_moves(stock):
    _receive(stock, "10", "2")
    sheet = _started(stock)
    line = CountLine.objects.get(sheet=sheet)
    services.record_counts(sheet, [LineCount(line.pk, _entries(("kg", "10")))], actor=SYSTEM)
    services.submit_count(sheet, actor=SYSTEM)
    moves, postings = StockMove.objects.count(), StockPosting.objects.count()
    sheet = services.post_count(sheet, actor=SYSTEM)
    assert (sheet.status, sheet.posting_id) == ("posted", None)
    assert (StockMove.objects.count(), StockPosting.objects.count()) == (moves, postings)
    payload = OutboxEvent.objects.get(event_type="inventory.count.posted").payload
    assert (payload["posting_id"], payload["variance_lines"]) == (None, 0)
