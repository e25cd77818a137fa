"""Audit API: entries in the caller's scope, filters, one entry, chain verification."""

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from backroom.audit.models import AuditEntry
from backroom.kernel.actors import SYSTEM
from backroom.org import services as org_services
from backroom.testing.factories import client_for, make_user
from backroom.testing.matrix import assert_matrix

API = "/api/v1/audit"


@pytest.fixture
def people(tree):
    return {
        "auditor": make_user("finance", tree.group),  # audit.view at the group
        "region_manager": make_user("region_manager", tree.region),  # audit.view in the region
        "staff_a": make_user("store_staff", tree.store_a),  # no audit.view
        "auditor_hk": make_user("region_manager", tree.entity_hk),
    }


def _update_site(node, name, actor=SYSTEM):
    return org_services.update_site(node.site, org_services.SiteChanges(name=name), actor=actor)


def test_list_entries_matrix(tree, people):
    _update_site(tree.store_a, "A renamed")
    _update_site(tree.store_hk, "HK renamed")
    result = assert_matrix(
        "GET",
        f"{API}/entries",
        allowed=people["region_manager"],
        forbidden=people["staff_a"],
        other_scope=people["auditor_hk"],
        expect_forbidden=200,
        expect_other_scope=200,
    )
    region_paths = tree.region.path
    allowed = result.allowed.json()
    expected = AuditEntry.objects.filter(org_node__path__startswith=region_paths)
    assert allowed["count"] == expected.count()
    assert [row["id"] for row in allowed["items"]] == list(
        expected.order_by("-id").values_list("id", flat=True)
    )
    assert result.forbidden.json() == {"items": [], "count": 0}
    hk_codes = {row["org_node_code"] for row in result.other_scope.json()["items"]}
    assert hk_codes == {"HK-CO", "HKG001"}


def test_entries_without_a_node_are_for_the_group_only(tree, people):
    org_services.create_brand("NOODLE", "Noodle", actor=SYSTEM)
    brand_entry = AuditEntry.objects.get(action="org.brand.create")
    seen_by_group = client_for(people["auditor"]).get(f"{API}/entries").json()["items"]
    assert brand_entry.pk in [row["id"] for row in seen_by_group]
    seen_by_region = client_for(people["region_manager"]).get(f"{API}/entries").json()["items"]
    assert brand_entry.pk not in [row["id"] for row in seen_by_region]


def test_entry_filters(tree, people):
    editor = make_user("hq_admin", tree.group)
    before = timezone.now()
    _update_site(tree.store_a, "A renamed", actor=editor)
    _update_site(tree.store_b, "B renamed")
    client = client_for(people["auditor"])

    def ids(**params):
        return [row["id"] for row in client.get(f"{API}/entries", params).json()["items"]]

    updates = list(
        AuditEntry.objects.filter(action="org.site.update")
        .order_by("-id")
        .values_list("id", flat=True)
    )
    assert ids(action="org.site.update") == updates
    assert ids(actor_id=editor.pk) == [updates[1]]
    assert ids(
        target_type="org.orgnode", target_id=str(tree.store_b.pk), action="org.site.update"
    ) == [updates[0]]
    assert ids(occurred_from=before.isoformat(), action="org.site.update") == updates
    assert ids(occurred_to=before.isoformat(), action="org.site.update") == []
    later = (timezone.now() + dt.timedelta(hours=1)).isoformat()
    assert ids(occurred_from=later) == []
    # Offsets past PostgreSQL's ±15:59 are normalised to UTC rather than failing in the database.
    far_offset = before.astimezone(dt.timezone(-dt.timedelta(hours=20, minutes=32)))
    assert ids(occurred_from=far_offset.isoformat(), action="org.site.update") == updates
    assert (
        client.get(f"{API}/entries", {"occurred_to": "0001-01-01T00:00:00+20:32"}).status_code
        == 422
    )


def test_get_entry_matrix(tree, people):
    _update_site(tree.store_a, "A renamed")
    entry = AuditEntry.objects.get(action="org.site.update")
    result = assert_matrix(
        "GET",
        f"{API}/entries/{entry.pk}",
        allowed=people["region_manager"],
        forbidden=people["staff_a"],
        other_scope=people["auditor_hk"],
        expect_forbidden=404,
    )
    body = result.allowed.json()
    assert (body["id"], body["action"], body["org_node_code"]) == (
        entry.pk,
        "org.site.update",
        "SHA001",
    )
    assert body["after"]["name"] == "A renamed"
    assert body["hash"] == entry.hash


def test_verify_is_for_group_auditors(tree, people):
    _update_site(tree.store_a, "A renamed")
    result = assert_matrix(
        "GET",
        f"{API}/verify",
        allowed=people["auditor"],
        forbidden=people["region_manager"],  # audit.view, but not over the whole chain
        other_scope=people["staff_a"],
        expect_other_scope=403,
    )
    assert result.allowed.json() == {
        "checked": AuditEntry.objects.count(),
        "is_valid": True,
        "first_bad_id": None,
        "problem": "",
    }


def test_verify_reports_a_tampered_entry(tree, people):
    _update_site(tree.store_a, "A renamed")
    entry = AuditEntry.objects.get(action="org.site.update")
    # bypass the append-only guards, as an attacker with database access would
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditentry SET reason = 'forged' WHERE id = %s", [entry.pk])
    body = client_for(people["auditor"]).get(f"{API}/verify").json()
    assert body["is_valid"] is False
    assert body["first_bad_id"] == entry.pk
    assert "edited" in body["problem"]


def test_list_entries_query_count_is_flat(tree, people, django_assert_max_num_queries):
    for number in range(15):
        _update_site(tree.store_a, f"Name {number}")
    client = client_for(people["auditor"])
    client.get(f"{API}/entries")
    with django_assert_max_num_queries(8):
        response = client.get(f"{API}/entries")
    assert response.json()["count"] >= 15
