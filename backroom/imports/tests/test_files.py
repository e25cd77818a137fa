"""Bad files and bad cells: each a clear message per row and column, nothing applied."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from backroom.imports.models import ImportMapping, ImportStatus
from backroom.imports.services import import_file, set_mapping, upload_import
from backroom.imports.testing import csv_file, problem_codes, run_import
from backroom.imports.tests.conftest import HEADER
from backroom.inventory.models import StockMove
from backroom.kernel.spreadsheets import UnreadableSheet

pytestmark = pytest.mark.django_db

ROW = ["SHA001", "WALKIN", "MILK", "L1", "2099-01-01", "2", "", "8.8"]


def xlsx(build) -> bytes:
    """A workbook written by openpyxl in normal mode (merges, formulas)."""
    workbook = Workbook()
    sheet = workbook.active
    build(sheet)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"%PDF-1.7 not a sheet", "CSV file or an Excel workbook"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500, ".xls"),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
            + b"\x00" * 200
            + "EncryptionInfo".encode("utf-16-le"),
            "password",
        ),
        (b"PK\x03\x04garbage", "damaged"),
        (b"", "empty"),
        (b"\xef\xbb\xbf  \r\n", "empty"),
        (b"\xff\xfe\x00\x00binary", "CSV file or an Excel workbook"),
    ],
)
def test_unreadable_files_are_refused_with_what_to_do(world, data, words):
    with pytest.raises(UnreadableSheet) as raised:
        upload_import("opening_stock", "x", data, actor=world.admin)
    assert words in raised.value.message


def test_a_workbook_encrypted_with_a_password_is_refused_with_what_to_do(world):
    from msoffcrypto.format.ooxml import OOXMLFile

    plain = io.BytesIO(xlsx(lambda sheet: sheet.append(HEADER)))
    encrypted = io.BytesIO()
    OOXMLFile(plain).encrypt("secret", encrypted)
    with pytest.raises(UnreadableSheet, match="protected with a password"):
        upload_import("opening_stock", "x.xlsx", encrypted.getvalue(), actor=world.admin)


def test_zip_that_is_not_a_workbook(world):
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("word/document.xml", "<w/>")
    with pytest.raises(UnreadableSheet, match="not an Excel workbook"):
        upload_import("opening_stock", "x.docx", out.getvalue(), actor=world.admin)


def test_merged_header_cells_and_merged_data_cells(world):
    def build(sheet):
        sheet.append(["Store code", None, *HEADER[2:]])
        sheet.merge_cells("A1:B1")
        sheet.append(ROW)

    job = import_file(
        "opening_stock",
        "m.xlsx",
        xlsx(build),
        actor=world.admin,
        dry_run=True,
        mapping={
            str(index): key
            for index, key in enumerate(
                [
                    "store_code",
                    "location_code",
                    "item_sku",
                    "lot_code",
                    "expiry_date",
                    "quantity",
                    "unit",
                    "unit_cost",
                ]
            )
        },
    )
    assert job.status == ImportStatus.INVALID
    assert (1, "store_code", "merged_cells") in problem_codes(job)
    assert "A1:B1" in job.problems[0]["message"]


def test_blank_rows_are_skipped_and_rows_keep_their_numbers(world):
    def build(sheet):
        sheet.append(HEADER)
        sheet.append(ROW)
        sheet.append([])
        sheet.append([None, "  "])
        sheet.append(["SHA001", "WALKIN", "GHOST", "", "", "1", "", "1"])

    job = import_file("opening_stock", "b.xlsx", xlsx(build), actor=world.admin, dry_run=True)
    assert job.total_rows == 2
    assert problem_codes(job) == [(5, "item_sku", "unknown_reference")]


def test_formula_without_a_saved_value(world):
    def build(sheet):
        sheet.append(HEADER)
        sheet.append([*ROW[:5], "=1+1", "", "8.8"])

    job = import_file("opening_stock", "f.xlsx", xlsx(build), actor=world.admin, dry_run=True)
    assert problem_codes(job) == [(2, "quantity", "formula")]
    assert "=1+1" in job.problems[0]["message"]
    assert StockMove.objects.count() == 0


def test_long_numbers_excel_shortened_and_dates_stored_as_text(world):
    rows = [
        ["SHA001", "WALKIN", "MILK", 1234567890123456.0, "", "1", "", "1"],  # a lot as a number
        ["SHA001", "WALKIN", "MILK", "1.23457E+15", "", "1", "", "1"],
        ["SHA001", "WALKIN", "MILK", "L3", "12/20/2099", "1", "", "1"],
        ["SHA001", "WALKIN", "MILK", "L4", "next week", "1", "", "1"],
        ["SHA001", "WALKIN", "MILK", "L5", "2099年12月20日", "1", "", "1"],
        ["SHA001", "WALKIN", "MILK", "L6", "2099-12-20", "1,000", "", "1"],
        ["SHA001", "WALKIN", "MILK", "L7", "", "1", "", "1.5e2"],
    ]
    job = run_import("opening_stock", HEADER, rows, actor=world.admin, dry_run=True)
    assert problem_codes(job) == [
        (2, "lot_code", "invalid_value"),
        (3, "lot_code", "invalid_value"),
        (4, "expiry_date", "invalid_date"),
        (5, "expiry_date", "invalid_date"),
        (7, "quantity", "invalid_number"),
        (8, "unit_cost", "invalid_number"),
    ]
    messages = {problem["row"]: problem["message"] for problem in job.problems}
    assert "format the column as text" in messages[2]
    assert "year first" in messages[4]
    assert "thousands separators" in messages[7]
    assert "scientific notation" in messages[8]


def test_gbk_csv_with_chinese_headers_imports(world):
    header = ["门店编码", "库位编码", "物料编码", "批次号", "到期日", "数量", "单位", "单位成本"]
    data = csv_file(header, [ROW], encoding="gbk")
    job = import_file("opening_stock", "期初库存.csv", data, actor=world.admin, dry_run=False)
    assert job.status == ImportStatus.APPLIED, job.problems
    assert job.created_count == 1


def test_semicolon_csv_and_a_title_row_above_the_header(world):
    text = "Opening stock, Dec 2026\n" + ";".join(HEADER) + "\n" + ";".join(ROW) + "\n"
    job = import_file("opening_stock", "s.csv", text.encode(), actor=world.admin, dry_run=True)
    assert job.header_row == 2
    assert job.status == ImportStatus.CHECKED, job.problems


def test_mapping_fixes_unknown_headers_and_is_remembered(world):
    header = ["门店", "Bin", "SKU", "Lot", "Expiry date", "Count", "Unit", "Cost"]
    data = csv_file(header, [ROW])
    job = upload_import("opening_stock", "odd.csv", data, actor=world.admin)
    assert job.mapping["1"] == "" and job.mapping["5"] == ""  # "Bin", "Count" unknown
    from backroom.imports.exceptions import MappingInvalid

    with pytest.raises(MappingInvalid) as raised:
        set_mapping(job, {**job.mapping, "2": "store_code"}, actor=world.admin)
    assert set(raised.value.errors) == {"2", "location_code", "item_sku", "quantity"}
    set_mapping(job, {**job.mapping, "1": "location_code", "5": "quantity"}, actor=world.admin)
    remembered = ImportMapping.objects.get(user=world.admin, kind="opening_stock").headers
    assert remembered["bin"] == "location_code"

    again = upload_import("opening_stock", "odd2.csv", data, actor=world.admin)
    assert again.mapping["1"] == "location_code" and again.mapping["5"] == "quantity"


def test_a_file_without_rows_or_without_a_required_column(world):
    job = import_file(
        "opening_stock", "e.csv", csv_file(HEADER, []), actor=world.admin, dry_run=True
    )
    assert problem_codes(job) == [(None, "", "empty_file")]
    with pytest.raises(Exception) as raised:
        import_file(
            "opening_stock",
            "n.csv",
            csv_file(HEADER[:5], [ROW[:5]]),
            actor=world.admin,
            dry_run=True,
        )
    assert raised.value.code == "invalid_mapping"
