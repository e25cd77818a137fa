"""Moving in, in a browser: an HQ administrator uploads an opening-stock file whose columns
need mapping, runs a dry run that lists every problem, downloads the file with its problems,
fixes it, uploads it again (the mapping remembered) and applies it, watching the progress while
the worker runs; then the stock is in the ledger. A small chain, not the demo: the flow needs
one store, one location and one item (an HQ task, on a desktop)."""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from backroom.imports.models import ImportJob
from backroom.imports.testing import csv_file
from backroom.inventory.models import StockMove
from backroom.inventory.tests.conftest import make_class, make_item, make_location
from backroom.testing.factories import PASSWORD, make_tree, make_user
from tests.browser.conftest import DESKTOP, screenshot
from tests.browser.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HEADER = ["Store code", "Bin", "Item SKU", "Lot", "Expiry date", "Quantity", "Unit", "Unit cost"]


def _upload(page: Any, kind: str, path: str) -> None:
    form = page.locator(f"[data-testid=importer][data-kind={kind}] [data-testid=upload-form]")
    form.locator("[data-testid=upload-file]").set_input_files(path)
    form.locator("[data-testid=upload-submit]").click()


@pytest.mark.parametrize("viewport", [("desktop", DESKTOP)])
def test_upload_map_dry_run_fix_and_apply_with_progress(
    live_server, page_at, viewport, tmp_path, monkeypatch
):
    page = page_at
    tree = make_tree()
    make_class("food", "forbid")
    item = make_item("FLOUR", "kg", "food")
    location = make_location(tree.store_a, "DRY", "dry_store")
    make_user("hq_admin", tree.group, username="hq.admin")
    store = tree.store_a.code
    good = [store, location.code, item.sku, "OPEN-1", "2099-12-31", "3", "", "12.5"]
    bad = [store, location.code, "NO-SUCH-SKU", "", "", "2", "", "1,5"]
    wrong = tmp_path / "opening.csv"
    wrong.write_bytes(csv_file(HEADER, [good, bad]))
    fixed = tmp_path / "opening-fixed.csv"
    fixed.write_bytes(csv_file(HEADER, [good]))
    moves_before = StockMove.objects.count()

    sign_in(page, live_server.url, "hq.admin", PASSWORD)
    page.goto(f"{live_server.url}/imports/")
    _upload(page, "opening_stock", str(wrong))
    page.wait_for_selector("[data-testid=mapping-form]")
    bin_row = page.locator("[data-testid=mapping-row][data-header=Bin]")
    assert bin_row.locator("select").input_value() == ""  # not a known header
    bin_row.locator("select").select_option("location_code")
    screenshot(page, f"imports-mapping-{viewport[0]}")
    page.click("[data-testid=dry-run]")

    page.wait_for_selector("[data-testid=problems]")
    codes = page.locator("[data-testid=problem]").evaluate_all(
        "rows => rows.map(r => r.dataset.row + ':' + r.dataset.code)"
    )
    assert sorted(codes) == ["3:invalid_number", "3:unknown_reference"]
    assert "nothing was changed" in page.inner_text("[data-testid=problem-count]")
    with page.expect_download() as download:
        page.click("[data-testid=error-workbook]")
    data = Path(download.value.path()).read_bytes()
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    assert sheet.cell(1, 9).value == "Problems" and "NO-SUCH-SKU" in sheet.cell(3, 9).value
    screenshot(page, f"imports-problems-{viewport[0]}")
    assert StockMove.objects.count() == moves_before

    # The fixed file: the Bin column is mapped as last time; the worker is slow today.
    queued: list[tuple[int, str]] = []
    monkeypatch.setattr(
        "backroom.imports.services._enqueue", lambda job_id, token: queued.append((job_id, token))
    )
    page.locator("[data-testid=reupload-file]").set_input_files(str(fixed))
    page.click("[data-testid=reupload-submit]")
    page.wait_for_selector("[data-testid=mapping-form]")
    bin_row = page.locator("[data-testid=mapping-row][data-header=Bin]")
    assert bin_row.locator("select").input_value() == "location_code"
    page.click("[data-testid=check-and-apply]")
    page.wait_for_selector("[data-testid=import-progress][data-status=checking]")
    assert page.locator("[data-testid=progress-bar]").is_visible()
    screenshot(page, f"imports-progress-{viewport[0]}")

    from backroom.imports.services import run_job

    worker = threading.Thread(target=run_job, args=queued[0])
    worker.start()
    worker.join()
    page.wait_for_selector("[data-testid=created-count]", timeout=15_000)  # the page polls
    assert "1 created" in page.inner_text("[data-testid=created-count]")
    screenshot(page, f"imports-applied-{viewport[0]}")
    assert ImportJob.objects.filter(status="applied").count() == 1
    assert StockMove.objects.count() == moves_before + 1
    assert page.js_errors == []
