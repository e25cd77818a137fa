"""Org tree import: nodes created, renamed, moved and updated through the org services, parents
first; what no service can change is refused; export → import round-trips."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import translation

from backroom.accounts.models import Role
from backroom.accounts.services import grant_membership
from backroom.audit.models import AuditEntry
from backroom.events.models import OutboxEvent
from backroom.imports.models import ImportStatus
from backroom.imports.services import export_file, get_importer, import_file, template_workbook
from backroom.imports.testing import problem_codes, run_import
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import PermissionDenied
from backroom.org.models import OrgNode, Site
from backroom.testing.factories import make_user

HEADER = [
    "Code",
    "Name",
    "Kind",
    "Parent code",
    "Time zone",
    "Business-day cut-off hour",
    "City",
    "Address",
    "Opening date",
    "Status",
    "Base currency",
    "Country",
]

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(tree):
    return make_user("hq_admin", tree.group)


def new_rows() -> list[list]:
    # The store comes before its region, the kitchen before its entity.
    return [
        [
            "SHA010",
            "Chunxi Road",
            "store",
            "WEST",
            "Asia/Shanghai",
            5,
            "Chengdu",
            "Chunxi 1",
            "2026-03-01",
            "planned",
            "",
            "",
        ],
        ["WEST", "West", "region", "CN-CO", "", "", "", "", "", "", "", ""],
        [
            "SZK01",
            "Shenzhen kitchen",
            "central kitchen",
            "SZ-CO",
            "",
            "",
            "Shenzhen",
            "",
            "",
            "",
            "",
            "",
        ],
        ["sz-co", "Shenzhen Co", "法人", "GRP", "", "", "", "", "", "", "CNY", "cn"],
    ]


def test_creates_parents_first_then_reimport_changes_nothing_then_updates(tree, admin):
    nodes_before = OrgNode.objects.count()
    job = run_import("stores", HEADER, new_rows(), actor=admin)
    assert job.status == ImportStatus.APPLIED, job.problems
    assert (job.created_count, job.updated_count, job.unchanged_count) == (4, 0, 0)
    assert OrgNode.objects.count() == nodes_before + 4
    west = OrgNode.objects.get(code="WEST")
    assert (west.kind, west.parent_id) == ("region", tree.entity.pk)
    store = Site.objects.select_related("node", "legal_entity").get(node__code="SHA010")
    assert (store.node.parent_id, store.legal_entity.node_id) == (west.pk, tree.entity.pk)
    assert (store.time_zone, store.cutoff_hour, store.city, store.address, store.status) == (
        "Asia/Shanghai",
        5,
        "Chengdu",
        "Chunxi 1",
        "planned",
    )
    assert store.opening_date == dt.date(2026, 3, 1)
    entity = OrgNode.objects.select_related("legal_entity").get(code="SZ-CO")
    assert (entity.legal_entity.base_currency, entity.legal_entity.country) == ("CNY", "CN")
    kitchen = Site.objects.get(node__code="SZK01")
    assert (kitchen.node.parent_id, kitchen.legal_entity.node_id) == (entity.pk, entity.pk)
    assert (kitchen.cutoff_hour, kitchen.status) == (4, "open")  # defaults
    assert AuditEntry.objects.filter(action="org.node.create", actor=admin).count() == 4
    assert OutboxEvent.objects.filter(event_type="org.node.created").count() == nodes_before + 4

    again = run_import("stores", HEADER, new_rows(), actor=admin, file_type="csv")
    assert again.status == ImportStatus.APPLIED, again.problems
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 4)
    assert OrgNode.objects.count() == nodes_before + 4
    assert not AuditEntry.objects.filter(action="org.site.update").exists()

    rows = new_rows()
    rows[0][1] = "Chunxi Road flagship"
    rows[0][5] = 6
    rows[0][7] = ""  # a blank address clears it
    rows[0][9] = "open"
    rows[2][4] = "Asia/Hong_Kong"
    updated = run_import("stores", HEADER, rows, actor=admin)
    assert updated.status == ImportStatus.APPLIED, updated.problems
    assert (updated.created_count, updated.updated_count, updated.unchanged_count) == (0, 2, 2)
    assert sorted(updated.changes, key=lambda change: change["row"]) == [
        {
            "row": 2,
            "action": "updated",
            "key": "SHA010",
            "fields": ["name", "cutoff_hour", "address", "status"],
        },
        {"row": 4, "action": "updated", "key": "SZK01", "fields": ["time_zone"]},
    ]
    store.refresh_from_db()
    store.node.refresh_from_db()
    assert (store.node.name, store.cutoff_hour, store.address, store.status, store.city) == (
        "Chunxi Road flagship",
        6,
        "",
        "open",
        "Chengdu",
    )
    assert AuditEntry.objects.filter(action="org.site.update", actor=admin).count() == 2
    assert OutboxEvent.objects.filter(event_type="org.node.updated").count() == 2


def test_export_then_import_changes_nothing(tree, admin):
    run_import("stores", HEADER, new_rows(), actor=admin)
    nodes = OrgNode.objects.count()
    data = export_file("stores", actor=admin, file_type="xlsx")
    job = import_file("stores", "org.xlsx", data, actor=admin, dry_run=False)
    assert job.status == ImportStatus.APPLIED, job.problems
    assert (job.created_count, job.updated_count, job.unchanged_count) == (0, 0, nodes)
    assert OrgNode.objects.count() == nodes

    csv = export_file("stores", actor=admin, file_type="csv")
    job = import_file("stores", "org.csv", csv, actor=admin, dry_run=False)
    assert (job.status, job.unchanged_count) == (ImportStatus.APPLIED, nodes), job.problems


def test_dry_run_reports_every_problem_and_changes_nothing(tree, admin):
    nodes, audit = OrgNode.objects.count(), AuditEntry.objects.count()
    rows = [
        ["SHA011", "Orphan", "store", "NOPE", "", "", "", "", "", "", "", ""],  # 2
        ["CYA", "Round A", "region", "CYB", "", "", "", "", "", "", "", ""],  # 3
        ["CYB", "Round B", "region", "CYA", "", "", "", "", "", "", "", ""],  # 4
        ["SHA012", "Under the group", "store", "GRP", "", "", "", "", "", "", "", ""],  # 5
        ["SHA001", "Store SHA001", "warehouse", "HK-CO", "", "", "", "", "", "", "", ""],  # 6
        ["EAST", "East renamed", "region", "SHA002", "", "", "", "", "", "", "", ""],  # 7
        ["SHA013", "Martian", "store", "EAST", "Mars/Base", 25, "", "", "", "", "", ""],  # 8
        ["NORTH", "North", "region", "CN-CO", "Asia/Shanghai", "", "", "", "", "", "CNY", ""],  # 9
        ["BJ-CO", "Beijing Co", "entity", "GRP", "", "", "", "", "", "", "", "CHN"],  # 10
        ["SHA014", "Nowhere", "planet", "EAST", "", "", "", "", "", "", "", ""],  # 11
        ["SHA015", "Parentless", "store", "", "", "", "", "", "", "shut", "", ""],  # 12
        ["bad code!", "Bad", "store", "EAST", "", "", "", "", "", "", "", ""],  # 13
        ["CYA", "Round A again", "region", "EAST", "", "", "", "", "", "", "", ""],  # 14
        ["SHA016", "", "store", "EAST", "", "", "", "", "31/12/2026", "", "", ""],  # 15
    ]
    job = run_import("stores", HEADER, rows, actor=admin, dry_run=True)
    assert job.status == ImportStatus.INVALID
    assert sorted(problem_codes(job)) == [
        (2, "parent_code", "unknown_reference"),
        (3, "parent_code", "cycle"),
        (4, "parent_code", "cycle"),
        (5, "parent_code", "invalid_parent"),
        (6, "kind", "cannot_change"),
        (6, "parent_code", "cannot_change"),
        (7, "parent_code", "invalid_parent"),
        (8, "cutoff_hour", "invalid_number"),
        (8, "time_zone", "invalid_value"),
        (9, "base_currency", "not_applicable"),
        (9, "time_zone", "not_applicable"),
        (10, "base_currency", "required"),
        (10, "country", "too_long"),
        (11, "kind", "invalid_choice"),
        (12, "parent_code", "required"),
        (12, "status", "invalid_choice"),
        (13, "code", "invalid_code"),
        (14, "code", "duplicate_key"),
        (15, "name", "required"),
        (15, "opening_date", "invalid_date"),
    ]
    assert (OrgNode.objects.count(), AuditEntry.objects.count() - 1) == (nodes, audit)  # upload


def test_permission_needs_imports_and_org_manage_at_the_node(tree):
    staff = make_user("store_staff", tree.store_a)
    with pytest.raises(PermissionDenied):
        get_importer("stores", staff)

    # Roles have no service yet: this catalogue row is made directly (as in the web tests).
    site_admin = Role.objects.create(
        code="site_admin", name="Site admin", permissions=["org.view", "org.manage", "imports.use"]
    )
    manager = make_user("store_manager", tree.store_a)
    grant_membership(manager, site_admin, tree.store_a, actor=SYSTEM)
    manager.forget_grants()
    rows = [
        ["SHA001", "A renamed", "store", "EAST", "", "", "", "", "", "", "", ""],
        ["SHA002", "B renamed", "store", "EAST", "", "", "", "", "", "", "", ""],
        ["SHA020", "New in East", "store", "EAST", "", "", "", "", "", "", "", ""],
    ]
    nodes = OrgNode.objects.count()
    job = run_import("stores", HEADER, rows, actor=manager)
    assert job.status == ImportStatus.INVALID
    assert sorted(problem_codes(job)) == [
        (3, "code", "permission_denied"),
        (4, "parent_code", "permission_denied"),
    ]
    assert OrgNode.objects.count() == nodes
    assert set(
        OrgNode.objects.filter(code__in=["SHA001", "SHA002"]).values_list("name", flat=True)
    ) == {"Store SHA001", "Store SHA002"}

    # Their export holds only their store, and imports back unchanged.
    data = export_file("stores", actor=manager, file_type="xlsx")
    job = import_file("stores", "mine.xlsx", data, actor=manager, dry_run=False)
    assert (job.status, job.unchanged_count, job.total_rows) == (ImportStatus.APPLIED, 1, 1)

    job = run_import("stores", HEADER, rows[:1], actor=manager)
    assert (job.status, job.updated_count) == (ImportStatus.APPLIED, 1), job.problems
    assert OrgNode.objects.get(code="SHA001").name == "A renamed"


def test_template_in_chinese_imports_its_sample_row_and_round_trips(tree, admin):
    with translation.override("zh-hans"):
        data = template_workbook("stores", actor=admin)
    job = import_file("stores", "模板.xlsx", data, actor=admin, dry_run=False)
    assert (job.status, job.created_count) == (ImportStatus.APPLIED, 1), job.problems
    site = Site.objects.select_related("node").get(node__code="SHA003")
    assert (site.node.parent_id, site.latitude, site.longitude, site.city) == (
        tree.region.pk,
        Decimal("31.2231"),
        Decimal("121.4452"),
        "上海",
    )

    data = export_file("stores", actor=admin, file_type="xlsx")
    job = import_file("stores", "org.xlsx", data, actor=admin, dry_run=False)
    assert (job.status, job.updated_count) == (ImportStatus.APPLIED, 0), job.problems


ENTITY_HEADER = [*HEADER, "Tax id"]


def test_renames_moves_and_updates_entities_and_says_what_changed(tree, admin):
    run_import("stores", HEADER, new_rows(), actor=admin)
    rows = [
        [
            "CN-CO",
            "China Co renamed",
            "entity",
            "GRP",
            "",
            "",
            "",
            "",
            "",
            "",
            "CNY",
            "CN",
            "9131X",
        ],
        ["EAST", "East China", "region", "WEST", "", "", "", "", "", "", "", "", ""],
        ["SHA002", "Store SHA002", "store", "WEST", "", "", "Shanghai", "", "", "", "", "", ""],
        ["SZ-CO", "Shenzhen Co", "entity", "GRP", "", "", "", "", "", "", "HKD", "HK", ""],
    ]
    job = run_import("stores", ENTITY_HEADER, rows, actor=admin)
    assert job.status == ImportStatus.APPLIED, job.problems
    assert (job.created_count, job.updated_count, job.unchanged_count) == (0, 4, 0)
    assert sorted(job.changes, key=lambda change: change["row"]) == [
        {"row": 2, "action": "updated", "key": "CN-CO", "fields": ["name", "tax_id"]},
        {"row": 3, "action": "updated", "key": "EAST", "fields": ["name", "parent_code"]},
        {"row": 4, "action": "updated", "key": "SHA002", "fields": ["parent_code"]},
        {
            "row": 5,
            "action": "updated",
            "key": "SZ-CO",
            "fields": ["base_currency", "country"],
        },
    ]
    west = OrgNode.objects.get(code="WEST")
    east = OrgNode.objects.get(code="EAST")
    store_a = OrgNode.objects.get(code="SHA001")
    store_b = OrgNode.objects.get(code="SHA002")
    assert (east.name, east.parent_id, east.path) == (
        "East China",
        west.pk,
        f"{west.path}{east.pk:010d}/",
    )
    assert store_a.path == f"{east.path}{store_a.pk:010d}/"  # moved with its region
    assert (store_b.parent_id, store_b.path) == (west.pk, f"{west.path}{store_b.pk:010d}/")
    entity = OrgNode.objects.select_related("legal_entity").get(code="CN-CO")
    assert (entity.name, entity.legal_entity.tax_id) == ("China Co renamed", "9131X")
    shenzhen = OrgNode.objects.select_related("legal_entity").get(code="SZ-CO").legal_entity
    assert (shenzhen.base_currency, shenzhen.country) == ("HKD", "HK")
    assert AuditEntry.objects.filter(action="org.node.rename", actor=admin).count() == 2
    assert AuditEntry.objects.filter(action="org.node.move", actor=admin).count() == 2
    assert AuditEntry.objects.filter(action="org.entity.update", actor=admin).count() == 2

    again = run_import("stores", ENTITY_HEADER, rows, actor=admin)
    assert (again.status, again.updated_count, again.unchanged_count) == (
        ImportStatus.APPLIED,
        0,
        4,
    ), again.problems


def test_refuses_moves_across_entities_into_moved_subtrees_and_currency_with_books(tree, admin):
    from backroom.finance.services.books import open_books

    open_books(tree.entity.legal_entity, chart="cn_small_business", actor=SYSTEM)
    run_import("stores", HEADER, new_rows(), actor=admin)
    rows = [
        ["SHA001", "Store SHA001", "store", "HK-CO", "", "", "", "", "", "", "", "", ""],  # 2
        ["CN-CO", "China Co", "entity", "", "", "", "", "", "", "", "USD", "", ""],  # 3
        ["EAST", "East", "region", "WEST", "", "", "", "", "", "", "", "", ""],  # 4
        ["WEST", "West", "region", "EAST", "", "", "", "", "", "", "", "", ""],  # 5
        ["SHA002", "Store SHA002", "store", "NOPE", "", "", "", "", "", "", "", "", ""],  # 6
    ]
    paths = dict(OrgNode.objects.values_list("code", "path"))
    job = run_import("stores", ENTITY_HEADER, rows, actor=admin, dry_run=True)
    assert job.status == ImportStatus.INVALID
    assert sorted(problem_codes(job)) == [
        (2, "parent_code", "cannot_change"),
        (3, "base_currency", "cannot_change"),
        (4, "parent_code", "invalid_parent"),
        (5, "parent_code", "invalid_parent"),
        (6, "parent_code", "unknown_reference"),
    ]
    assert dict(OrgNode.objects.values_list("code", "path")) == paths

    # An entity admin manages the region but not the entity itself: no rename, no move of it.
    entity_admin = make_user("hq_admin", tree.entity)
    rows = [
        ["CN-CO", "Mine", "entity", "GRP", "", "", "", "", "", "", "", "", "X"],
        ["SHA001", "Store SHA001", "store", "WEST", "", "", "", "", "", "", "", "", ""],
    ]
    job = run_import("stores", ENTITY_HEADER, rows, actor=entity_admin)
    assert job.status == ImportStatus.INVALID
    assert sorted(problem_codes(job)) == [
        (2, "name", "permission_denied"),
        (2, "tax_id", "permission_denied"),
    ]
