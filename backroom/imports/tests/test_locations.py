"""Storage locations: created and renamed through the inventory services; round-trips."""

from __future__ import annotations

import pytest

from backroom.imports.models import ImportStatus
from backroom.imports.services import export_file, import_file
from backroom.imports.testing import problem_codes, run_import
from backroom.inventory.models import Location
from backroom.kernel.exceptions import PermissionDenied

pytestmark = pytest.mark.django_db

HEADER = ["Store code", "Location code", "Name", "Kind", "Active"]


def test_locations_import_update_round_trip_and_refusals(world):
    rows = [
        ["SHA001", "FRZ", "Freezer", "freezer", "yes"],
        ["SHA002", "bar", "Bar", "吧台", ""],
    ]
    job = run_import("locations", HEADER, rows, actor=world.admin)
    assert job.status == ImportStatus.APPLIED, job.problems
    assert job.created_count == 2
    assert Location.objects.get(site__node__code="SHA002", code="BAR").kind == "bar"

    rows[0][2] = "Big freezer"
    again = run_import("locations", HEADER, rows, actor=world.admin)
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 1, 1)
    assert again.changes[0]["fields"] == ["name"]

    data = export_file("locations", actor=world.admin)
    round_trip = import_file("locations", "l.xlsx", data, actor=world.admin, dry_run=False)
    assert round_trip.status == ImportStatus.APPLIED
    assert round_trip.unchanged_count == round_trip.total_rows == 4  # with WALKIN, DRY

    bad = [
        ["SHA001", "FRZ", "Freezer", "dry store", "yes"],  # a kind cannot change
        ["NOPE", "X", "X", "bar", ""],
        ["SHA002", "Y", "Y", "garage", ""],
    ]
    refused = run_import("locations", HEADER, bad, actor=world.admin, dry_run=True)
    assert problem_codes(refused) == [
        (2, "kind", "cannot_change"),
        (3, "store_code", "unknown_reference"),
        (4, "kind", "invalid_choice"),
    ]
    # A store manager does not manage locations (inventory.manage), not even at their store.
    with pytest.raises(PermissionDenied):
        run_import("locations", HEADER, rows[:1], actor=world.manager_a, dry_run=True)
    assert Location.objects.count() == 4
