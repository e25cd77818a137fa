import pytest

from backroom.audit.models import AuditEntry
from backroom.events.models import OutboxEvent
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import NotFound, PermissionDenied, ValidationFailed
from backroom.org import services
from backroom.org.models import OrgNode, Site
from backroom.testing.factories import make_user


def test_create_store_records_node_site_audit_and_event(tree):
    before_audit = AuditEntry.objects.count()
    node = services.create_node(
        services.NodeInput(
            kind="store", code="sha003", name="  Jing'an  ", parent_id=tree.region.pk
        ),
        actor=SYSTEM,
        site=services.SiteDetails(city="Shanghai", cutoff_hour=5),
    )
    node.refresh_from_db()
    assert node.code == "SHA003"
    assert node.name == "Jing'an"
    assert node.path == f"{tree.region.path}{node.pk:010d}/"
    assert node.depth == tree.region.depth + 1
    site = Site.objects.get(node=node)
    assert site.legal_entity.node_id == tree.entity.pk
    assert site.cutoff_hour == 5
    entry = AuditEntry.objects.get(action="org.node.create", target_id=str(node.pk))
    assert entry.after["site"]["cutoff_hour"] == 5
    assert AuditEntry.objects.count() == before_audit + 1
    assert (
        OutboxEvent.objects.filter(event_type="org.node.created", payload__code="SHA003").count()
        == 1
    )


def test_create_node_reports_every_problem_at_once_and_changes_nothing(tree):
    nodes_before = OrgNode.objects.count()
    audit_before = AuditEntry.objects.count()
    with pytest.raises(ValidationFailed) as caught:
        services.create_node(
            services.NodeInput(kind="store", code="SHA001", name=" ", parent_id=tree.group.pk),
            actor=SYSTEM,
            site=services.SiteDetails(time_zone="Mars/Olympus", cutoff_hour=30),
        )
    fields = caught.value.details["fields"]
    assert set(fields) == {"parent_id", "code", "name", "time_zone", "cutoff_hour"}
    assert OrgNode.objects.count() == nodes_before
    assert AuditEntry.objects.count() == audit_before


def test_only_one_group(tree):
    with pytest.raises(ValidationFailed) as caught:
        services.create_node(
            services.NodeInput(kind="group", code="G2", name="Second"), actor=SYSTEM
        )
    assert "kind" in caught.value.details["fields"]


def test_store_manager_cannot_create_nodes_and_other_store_is_not_found(tree):
    manager = make_user("store_manager", tree.store_a)
    with pytest.raises(PermissionDenied):
        services.create_node(
            services.NodeInput(kind="store", code="X1", name="X", parent_id=tree.store_a.pk),
            actor=manager,
        )
    with pytest.raises(NotFound):
        services.update_site(
            tree.store_b.site, services.SiteChanges(name="Mine now"), actor=manager
        )
    tree.store_b.refresh_from_db()
    assert tree.store_b.name != "Mine now"


def test_region_admin_edits_a_store_in_region(tree):
    admin = make_user("hq_admin", tree.region)
    site = services.update_site(
        tree.store_a.site,
        services.SiteChanges(name="Renamed", cutoff_hour=3),
        actor=admin,
        reason="moved",
    )
    assert site.node.name == "Renamed"
    entry = AuditEntry.objects.get(action="org.site.update")
    assert entry.actor_id == admin.pk
    assert entry.before["cutoff_hour"] == 4
    assert entry.after["cutoff_hour"] == 3
    assert entry.reason == "moved"
