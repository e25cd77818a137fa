"""Opening stock import: posted through the ledger's batch service; idempotent by natural key."""

from __future__ import annotations

from decimal import Decimal

import pytest

from backroom.imports.models import ImportStatus
from backroom.imports.testing import problem_codes, run_import
from backroom.imports.tests.conftest import HEADER
from backroom.inventory.models import StockMove

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(world):
    return world.flour, world.milk, world.walk_in, world.admin


def on_hand(item, location) -> Decimal:
    return sum(
        (move.quantity for move in StockMove.objects.filter(item=item, location=location)),
        Decimal(0),
    )


def test_imports_then_reimport_changes_nothing_and_update_posts_difference(tree, setup):
    flour, milk, walk_in, admin = setup
    rows = [
        ["SHA001", "WALKIN", "FLOUR", "", "", 2, "bag", 250],
        ["SHA001", "WALKIN", "MILK", "L1", "2099-01-01", "12.5", "", "8.8"],
    ]
    job = run_import("opening_stock", HEADER, rows, actor=admin)
    assert job.status == ImportStatus.APPLIED, job.problems
    assert (job.created_count, job.updated_count, job.unchanged_count) == (2, 0, 0)
    assert on_hand(flour, walk_in) == Decimal(50)
    assert on_hand(milk, walk_in) == Decimal("12.5")

    again = run_import("opening_stock", HEADER, rows, actor=admin, file_type="csv")
    assert again.status == ImportStatus.APPLIED, again.problems
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 2)
    assert StockMove.objects.count() == 2

    rows[0][5] = 3
    updated = run_import("opening_stock", HEADER, rows, actor=admin)
    assert (updated.created_count, updated.updated_count, updated.unchanged_count) == (0, 1, 1)
    assert on_hand(flour, walk_in) == Decimal(75)
    assert updated.changes == [
        {"row": 2, "action": "updated", "key": "SHA001/WALKIN/FLOUR", "fields": ["quantity"]}
    ]


def test_dry_run_reports_every_problem_and_posts_nothing(tree, setup):
    _flour, _milk, _walk_in, admin = setup
    rows = [
        ["SHA999", "WALKIN", "FLOUR", "", "", 2, "bag", 250],
        ["SHA001", "NOPE", "FLOUR", "", "", 2, "bag", 250],
        ["SHA001", "WALKIN", "GHOST", "", "", 2, "", 250],
        ["SHA001", "WALKIN", "FLOUR", "", "", 2, "box", 250],
        ["SHA001", "WALKIN", "MILK", "L1", "2001-01-01", "1", "", "1e3"],
        ["SHA001", "WALKIN", "MILK", "L2", "2099-01-01", "-1", "", "1"],
        ["SHA001", "WALKIN", "MILK", "L2", "2099-01-01", "1", "", "1"],
    ]
    job = run_import("opening_stock", HEADER, rows, actor=admin, dry_run=False)
    assert job.status == ImportStatus.INVALID
    assert sorted(problem_codes(job)) == [
        (2, "store_code", "unknown_reference"),
        (3, "location_code", "unknown_reference"),
        (4, "item_sku", "unknown_reference"),
        (5, "unit", "unknown_unit"),
        (6, "unit_cost", "invalid_number"),
        (7, "quantity", "invalid_number"),
        (8, "lot_code", "duplicate_key"),
    ]
    assert StockMove.objects.count() == 0
