"""Imports through the API, the pages and the CLI; who may do what; denied requests change
nothing."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from openpyxl import load_workbook

from backroom.imports.models import ImportJob, ImportStatus
from backroom.imports.testing import csv_file, workbook
from backroom.imports.tests.conftest import HEADER
from backroom.inventory.models import StockMove
from backroom.testing.factories import client_for, make_user

pytestmark = pytest.mark.django_db

GOOD = ["SHA001", "WALKIN", "MILK", "L1", "2099-01-01", "2", "", "8.8"]
BAD = ["SHA001", "WALKIN", "GHOST", "", "", "x", "", "8.8"]
API = "/api/v1/imports"


def upload(client, rows, name="stock.xlsx"):
    data = workbook(HEADER, rows)
    return client.post(
        f"{API}/importers/opening_stock/uploads", {"file": io.BytesIO(data) | _named(name)}
    )


def _named(name):
    class Named:
        def __ror__(self, handle):
            handle.name = name
            return handle

    return Named()


def test_api_upload_check_errors_fix_apply(world, django_capture_on_commit_callbacks):
    client = client_for(world.admin)
    kinds = [importer["kind"] for importer in client.get(f"{API}/importers").json()]
    assert "opening_stock" in kinds
    template = client.get(f"{API}/importers/opening_stock/template")
    assert template.status_code == 200
    sheet = load_workbook(io.BytesIO(template.content)).worksheets[0]
    assert [cell.value for cell in sheet[1]][:3] == [
        "Store code *",
        "Location code *",
        "Item SKU *",
    ]

    response = upload(client, [GOOD, BAD])
    assert response.status_code == 201, response.json()
    job = response.json()
    assert job["mapping"]["0"] == "store_code" and job["status"] == "uploaded"
    with django_capture_on_commit_callbacks(execute=True):
        checked = client.post(f"{API}/jobs/{job['id']}/check")
    assert checked.status_code == 202
    job = client.get(f"{API}/jobs/{job['id']}").json()
    assert job["status"] == "invalid"
    assert {(p["row"], p["code"]) for p in job["problems"]} == {
        (3, "unknown_reference"),
        (3, "invalid_number"),
    }
    errors = client.get(f"{API}/jobs/{job['id']}/errors")
    rows = list(load_workbook(io.BytesIO(errors.content)).worksheets[0].iter_rows(values_only=True))
    assert rows[0][-1] == "Problems" and rows[1][-1] in ("", None) and "GHOST" in rows[2][-1]

    fixed = upload(client, [GOOD]).json()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"{API}/jobs/{fixed['id']}/apply").status_code == 202
    done = client.get(f"{API}/jobs/{fixed['id']}").json()
    assert done["status"] == "applied" and done["created_count"] == 1
    assert client.post(f"{API}/jobs/{fixed['id']}/apply").json()["code"] == "import_not_ready"

    exported = client.get(f"{API}/importers/opening_stock/export?format=csv")
    assert exported.status_code == 200
    assert "SHA001,WALKIN,MILK,L1,2099-01-01,2,l,8.8" in exported.content.decode("utf-8-sig")


def test_who_may_import(world, tree, django_capture_on_commit_callbacks):
    anonymous = client_for(None)
    assert anonymous.get(f"{API}/importers").status_code == 401
    assert upload(anonymous, [GOOD]).status_code == 401
    staff = client_for(world.staff_a)  # store staff: no imports.use
    assert staff.get(f"{API}/importers").json() == []
    assert upload(staff, [GOOD]).status_code == 403
    assert staff.get(f"{API}/importers/opening_stock/template").status_code == 403
    assert staff.get(f"{API}/importers/opening_stock/export").status_code == 403
    assert staff.get("/imports/").status_code == 403
    assert ImportJob.objects.count() == 0

    job = upload(client_for(world.admin), [GOOD]).json()
    manager = client_for(world.manager_a)  # may import, but not someone else's file
    assert manager.get(f"{API}/jobs/{job['id']}").status_code == 404
    assert manager.post(f"{API}/jobs/{job['id']}/apply").status_code == 404
    assert manager.get(f"/imports/jobs/{job['id']}/").status_code == 404
    assert ImportJob.objects.get(pk=job["id"]).status == ImportStatus.UPLOADED

    # A store-A manager may post opening stock at store A only.
    other = make_user("store_manager", tree.store_b)
    rows = [GOOD, ["SHA002", "DRY", "MILK", "L2", "", "1", "", "1"]]
    mine = upload(manager, rows).json()
    with django_capture_on_commit_callbacks(execute=True):
        response = manager.post(f"{API}/jobs/{mine['id']}/apply")
    assert response.status_code == 202
    job = manager.get(f"{API}/jobs/{mine['id']}").json()
    assert job["status"] == "invalid"
    assert [(p["row"], p["code"]) for p in job["problems"]] == [(3, "permission_denied")]
    assert StockMove.objects.count() == 0
    assert client_for(other).get(f"{API}/jobs/{mine['id']}").status_code == 404


def test_pages_upload_map_check_apply(world, django_capture_on_commit_callbacks):
    client = client_for(world.admin)
    index = client.get("/imports/")
    assert index.status_code == 200 and b'data-kind="opening_stock"' in index.content
    data = csv_file(["Store", "Bin", *HEADER[2:]], [GOOD])
    response = client.post(
        "/imports/opening_stock/upload/", {"file": io.BytesIO(data) | _named("s.csv")}
    )
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response.url == f"/imports/jobs/{job.pk}/"
    page = client.get(response.url)
    assert b'data-testid="mapping-form"' in page.content
    form = {f"column-{index}": field for index, field in job.mapping.items()}
    missing = client.post(response.url, {**form, "mapping": "1", "action": "check"})
    assert missing.status_code == 422 and "Location code" in missing.content.decode()
    form["column-1"] = "location_code"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(response.url, {**form, "mapping": "1", "action": "apply"})
    job.refresh_from_db()
    assert job.status == ImportStatus.APPLIED and job.created_count == 1
    page = client.get(response.url)
    assert b'data-testid="created-count"' in page.content
    polled = client.get(response.url, HTTP_HX_REQUEST="true")
    assert polled["HX-Refresh"] == "true"
    assert client.get("/imports/opening_stock/export/?format=csv").status_code == 200
    assert client.get("/imports/opening_stock/template/").status_code == 200


def test_cli_import_dry_run_and_export(world, tmp_path, capsys):
    path = tmp_path / "stock.csv"
    path.write_bytes(csv_file(HEADER, [GOOD, BAD]))
    with pytest.raises(CommandError) as raised:
        call_command("import", "opening_stock", str(path), "--user", world.admin.username)
    assert raised.value.returncode == 2
    assert "row 3, Item SKU: There is no item GHOST." in capsys.readouterr().err
    assert StockMove.objects.count() == 0

    path.write_bytes(csv_file(HEADER, [GOOD]))
    call_command("import", "opening_stock", str(path), "--dry-run", "--user", world.admin.username)
    assert "no problems" in capsys.readouterr().out and StockMove.objects.count() == 0
    call_command("import", "opening_stock", str(path), "--user", world.admin.username)
    assert "1 created" in capsys.readouterr().out
    out = tmp_path / "export.xlsx"
    call_command("export", "opening_stock", str(out), "--user", world.admin.username)
    rows = list(load_workbook(out).worksheets[0].iter_rows(values_only=True))
    assert rows[1][:4] == ("SHA001", "WALKIN", "MILK", "L1")
    with pytest.raises(CommandError) as raised:
        call_command("import", "nonsense", str(path))
    assert raised.value.returncode == 2
