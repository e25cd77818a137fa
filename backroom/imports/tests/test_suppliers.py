"""Supplier import: created and updated through the procurement services, idempotent by code,
scoped by procurement.manage at the supplier's node."""

from __future__ import annotations

from decimal import Decimal

import pytest

from backroom.audit.models import AuditEntry
from backroom.events.models import OutboxEvent
from backroom.imports.models import ImportStatus
from backroom.imports.services import export_file, import_file
from backroom.imports.testing import csv_file, problem_codes, run_import
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import PermissionDenied
from backroom.procurement import services
from backroom.procurement.models import Supplier, SupplierContact
from backroom.testing.factories import make_user

HEADER = [
    "Supplier code",
    "Supplier name",
    "Defined at",
    "Currency",
    "Tax ID",
    "Order e-mail",
    "Payment terms (days)",
    "Lead time (days)",
    "Whole packs only",
    "Price alert %",
    "Active",
    "Contact",
    "Contact phone",
    "Contact e-mail",
]
ROWS = [
    [
        "FRESH",
        "Fresh Foods",
        "CN-CO",
        "CNY",
        "91310000MA1K000000",
        "orders@fresh.example",
        45,
        2,
        "yes",
        "7.5",
        "yes",
        "Wang",
        "13800138000",
        "wang@fresh.example",
    ],
    ["sea", "Sea Catch", "HK-CO", "港币", "", "", "", "", "", "", "", "", "", ""],
]

pytestmark = pytest.mark.django_db


def counts() -> tuple[int, int, int, int]:
    return (
        Supplier.objects.count(),
        SupplierContact.objects.count(),
        AuditEntry.objects.filter(action__startswith="procurement.").count(),
        OutboxEvent.objects.filter(event_type="procurement.supplier.saved").count(),
    )


@pytest.fixture
def admin(tree):
    return make_user("hq_admin", tree.group)


def test_imports_then_reimport_changes_nothing_and_edit_updates_fields(tree, admin):
    job = run_import("suppliers", HEADER, [list(row) for row in ROWS], actor=admin)
    assert job.status == ImportStatus.APPLIED, job.problems
    assert (job.created_count, job.updated_count, job.unchanged_count) == (2, 0, 0)
    fresh = Supplier.objects.get(code="FRESH")
    assert (fresh.name, fresh.node, fresh.currency, fresh.tax_id, fresh.order_email) == (
        "Fresh Foods",
        tree.entity,
        "CNY",
        "91310000MA1K000000",
        "orders@fresh.example",
    )
    assert (
        fresh.payment_terms_days,
        fresh.lead_time_days,
        fresh.requires_pack_multiples,
        fresh.price_alert_percent,
        fresh.is_active,
    ) == (45, 2, True, Decimal("7.5"), True)
    contact = SupplierContact.objects.get(supplier=fresh)
    assert (contact.name, contact.phone, contact.email, contact.is_primary) == (
        "Wang",
        "13800138000",
        "wang@fresh.example",
        True,
    )
    sea = Supplier.objects.get(code="SEA")
    assert (sea.node, sea.currency, sea.payment_terms_days, sea.lead_time_days) == (
        tree.entity_hk,
        "HKD",
        30,
        1,
    )
    assert not sea.contacts.exists()
    assert counts() == (2, 1, 3, 2)  # two suppliers and a contact audited, two events

    again = run_import(
        "suppliers", HEADER, [list(row) for row in ROWS], actor=admin, file_type="csv"
    )
    assert again.status == ImportStatus.APPLIED, again.problems
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 2)
    assert counts() == (2, 1, 3, 2)

    edited = [list(row) for row in ROWS]
    edited[0][1], edited[0][6], edited[0][4] = "Fresh Foods Ltd", 60, ""
    edited[1][10], edited[1][11] = "no", "Chan"
    updated = run_import("suppliers", HEADER, edited, actor=admin)
    assert (updated.created_count, updated.updated_count, updated.unchanged_count) == (0, 2, 0)
    assert updated.changes == [
        {
            "row": 2,
            "action": "updated",
            "key": "FRESH",
            "fields": ["name", "tax_id", "payment_terms_days"],
        },
        {"row": 3, "action": "updated", "key": "SEA", "fields": ["is_active", "contact_name"]},
    ]
    fresh.refresh_from_db()
    assert (fresh.name, fresh.tax_id, fresh.payment_terms_days, fresh.lead_time_days) == (
        "Fresh Foods Ltd",
        "",
        60,
        2,
    )
    assert Supplier.objects.get(code="SEA").is_active is False
    assert SupplierContact.objects.get(supplier__code="SEA").name == "Chan"
    entry = AuditEntry.objects.filter(action="procurement.supplier.update").get(
        target_label__contains="FRESH"
    )
    assert entry.reason == "Supplier import"
    assert counts() == (2, 2, 6, 4)


def test_export_round_trips_unchanged(tree, admin):
    run_import("suppliers", HEADER, [list(row) for row in ROWS], actor=admin)
    before = counts()
    data = export_file("suppliers", actor=admin, file_type="xlsx")
    job = import_file("suppliers", "export.xlsx", data, actor=admin, dry_run=False)
    assert job.status == ImportStatus.APPLIED, job.problems
    assert (job.created_count, job.updated_count, job.unchanged_count) == (0, 0, 2)
    assert counts() == before


def test_dry_run_reports_every_problem_and_changes_nothing(tree, admin):
    services.create_supplier(
        services.SupplierInput(code="OLD", name="Old", node_id=tree.entity.pk, currency="CNY"),
        actor=SYSTEM,
    )
    services.add_contact(
        Supplier.objects.get(code="OLD"), services.ContactInput(name="Li", phone="1"), actor=SYSTEM
    )
    before = counts()
    rows = [
        ["BAD CODE", "A", "CN-CO", "CNY", "", "", "", "", "", "", "", "", "", ""],
        [
            "NEW1",
            "",
            "NOWHERE",
            "XYZ",
            "",
            "not-an-email",
            400,
            "1.5",
            "maybe",
            "-1",
            "",
            "",
            "555",
            "",
        ],
        ["NEW2", "B", "SHA001", "CNY", "", "", "", "", "", "", "", "", "", ""],
        ["OLD", "Old", "GRP", "CNY", "", "", "", "", "", "", "", "Li", "2", "x@"],
        ["new2", "C", "CN-CO", "CNY", "", "", "", "", "", "", "", "", "", ""],
    ]
    job = run_import("suppliers", HEADER, rows, actor=admin, dry_run=True)
    assert job.status == ImportStatus.INVALID
    assert sorted(problem_codes(job)) == [
        (2, "code", "invalid_value"),
        (3, "contact_name", "required"),
        (3, "currency", "invalid_choice"),
        (3, "lead_time_days", "invalid_number"),
        (3, "name", "required"),
        (3, "node_code", "unknown_reference"),
        (3, "order_email", "invalid_value"),
        (3, "payment_terms_days", "invalid_number"),
        (3, "price_alert_percent", "invalid_number"),
        (3, "requires_pack_multiples", "invalid_value"),
        (4, "node_code", "invalid_value"),
        (5, "contact_email", "invalid_value"),
        (5, "node_code", "node_changed"),
        (6, "code", "duplicate_key"),
    ]
    assert counts() == before


def test_gbk_csv_with_chinese_headers_imports(tree, admin):
    header = [
        "供应商编码",
        "供应商名称",
        "所属组织",
        "币种",
        "账期（天）",
        "启用",
        "联系人",
        "联系电话",
    ]
    rows = [["LVYUAN", "绿源蔬菜配送有限公司", "EAST", "人民币", 15, "是", "张三", "021-5555"]]
    data = csv_file(header, rows, encoding="gbk")
    job = import_file("suppliers", "供应商.csv", data, actor=admin, dry_run=False)
    assert job.status == ImportStatus.APPLIED, job.problems
    supplier = Supplier.objects.get(code="LVYUAN")
    assert (supplier.name, supplier.node, supplier.currency, supplier.payment_terms_days) == (
        "绿源蔬菜配送有限公司",
        tree.region,
        "CNY",
        15,
    )
    assert supplier.contacts.get().name == "张三"


def test_user_without_permission_is_refused(tree):
    nobody = make_user()
    with pytest.raises(PermissionDenied):
        run_import("suppliers", HEADER, [list(ROWS[0])], actor=nobody)
    store_manager = make_user("store_manager", tree.store_a)  # imports, but no procurement.manage
    with pytest.raises(PermissionDenied):  # no procurement.manage anywhere
        run_import("suppliers", HEADER, [list(ROWS[0])], actor=store_manager)
    assert counts() == (0, 0, 0, 0)


def test_buyer_of_one_entity_cannot_write_another_entitys_supplier(tree, admin):
    run_import("suppliers", HEADER, [list(ROWS[1])], actor=admin)  # SEA at HK-CO
    buyer = make_user("buyer", tree.entity)
    before = counts()
    rows = [
        ["SEA", "Sea Catch (renamed)", "HK-CO", "HKD", "", "", "", "", "", "", "", "", "", ""],
        ["HKNEW", "New in HK", "HK-CO", "HKD", "", "", "", "", "", "", "", "", "", ""],
        ["CNNEW", "New in CN", "CN-CO", "CNY", "", "", "", "", "", "", "", "", "", ""],
    ]
    job = run_import("suppliers", HEADER, rows, actor=buyer)
    assert job.status == ImportStatus.INVALID
    assert problem_codes(job) == [
        (2, "code", "permission_denied"),
        (3, "node_code", "permission_denied"),
    ]
    assert counts() == before
    assert Supplier.objects.get(code="SEA").name == "Sea Catch"
    # What the buyer may change is what they export.
    job = run_import("suppliers", HEADER, [rows[2]], actor=buyer)
    assert job.status == ImportStatus.APPLIED, job.problems
    data = export_file("suppliers", actor=buyer, file_type="csv")
    assert b"CNNEW" in data and b"SEA" not in data


def test_a_known_contacts_changed_phone_and_e_mail_are_updated(tree, admin):
    run_import("suppliers", HEADER, [list(ROWS[0])], actor=admin)
    before = counts()
    again = run_import("suppliers", HEADER, [list(ROWS[0])], actor=admin)
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 1)
    assert counts() == before

    edited = list(ROWS[0])
    edited[11], edited[12] = "wang", "+86 138-0013-9000"  # the name in another case
    job = run_import("suppliers", HEADER, [edited], actor=admin)
    assert job.status == ImportStatus.APPLIED, job.problems
    assert job.changes == [
        {"row": 2, "action": "updated", "key": "FRESH", "fields": ["contact_phone"]}
    ]
    contact = SupplierContact.objects.get(supplier__code="FRESH")
    assert (contact.name, contact.phone, contact.email) == (
        "Wang",
        "+86 138-0013-9000",
        "wang@fresh.example",
    )
    entry = AuditEntry.objects.get(action="procurement.supplier.contact.update")
    assert (entry.reason, entry.before["phone"], entry.after["phone"]) == (
        "Supplier import",
        "13800138000",
        "+86 138-0013-9000",
    )
    assert counts() == (before[0], before[1], before[2] + 1, before[3])  # no supplier event

    edited[12], edited[13] = "", "wang@fresh-foods.example"  # a blank phone leaves it
    job = run_import("suppliers", HEADER, [edited], actor=admin)
    assert job.changes == [
        {"row": 2, "action": "updated", "key": "FRESH", "fields": ["contact_email"]}
    ]
    contact.refresh_from_db()
    assert (contact.phone, contact.email) == ("+86 138-0013-9000", "wang@fresh-foods.example")


def test_a_bad_contact_phone_or_e_mail_is_a_problem_and_nothing_changes(tree, admin):
    run_import("suppliers", HEADER, [list(ROWS[0])], actor=admin)
    before = counts()
    edited = list(ROWS[0])
    edited[1], edited[12], edited[13] = "Fresh Foods Ltd", "call the office", "wang@"
    job = run_import("suppliers", HEADER, [edited], actor=admin)
    assert job.status == ImportStatus.INVALID
    assert sorted(problem_codes(job)) == [
        (2, "contact_email", "invalid_value"),
        (2, "contact_phone", "invalid_value"),
    ]
    assert counts() == before
    contact = SupplierContact.objects.get(supplier__code="FRESH")
    assert (contact.phone, contact.email) == ("13800138000", "wang@fresh.example")
    assert Supplier.objects.get(code="FRESH").name == "Fresh Foods"
