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


def test_rename_node_of_any_kind_is_audited_and_published(tree):
    admin = make_user("hq_admin", tree.group)
    node = services.rename_node(tree.region, name="  East China ", actor=admin, reason="reorg")
    assert OrgNode.objects.get(pk=tree.region.pk).name == "East China"
    entry = AuditEntry.objects.get(action="org.node.rename")
    assert (entry.before, entry.after, entry.reason) == (
        {"name": tree.region.name},
        {"name": "East China"},
        "reorg",
    )
    event = OutboxEvent.objects.get(event_type="org.node.updated", payload__code="EAST")
    assert event.payload["changed"] == ["name"]
    # The same name again changes nothing and records nothing.
    services.rename_node(node, name="East China", actor=admin)
    assert AuditEntry.objects.filter(action="org.node.rename").count() == 1


def test_rename_node_validates_and_needs_org_manage_at_the_parent(tree):
    admin = make_user("hq_admin", tree.group)
    with pytest.raises(ValidationFailed) as caught:
        services.rename_node(tree.entity, name=" ", actor=admin)
    assert set(caught.value.details["fields"]) == {"name"}
    region_admin = make_user("hq_admin", tree.region)
    with pytest.raises(PermissionDenied):  # as creating the region: org.manage at the entity
        services.rename_node(tree.region, name="Mine", actor=region_admin)
    services.rename_node(tree.store_a, name="Mine", actor=region_admin)
    assert OrgNode.objects.get(pk=tree.region.pk).name == tree.region.name
    assert not AuditEntry.objects.filter(action="org.node.rename", target_id=str(tree.region.pk))


def test_update_entity_changes_tax_id_country_and_currency_until_it_has_books(tree):
    admin = make_user("hq_admin", tree.group)
    entity = tree.entity.legal_entity
    changed = services.update_entity(
        entity, tax_id="91310000X", country="hk", base_currency="HKD", actor=admin
    )
    assert changed == ["tax_id", "country", "base_currency"]
    entity.refresh_from_db()
    assert (entity.tax_id, entity.country, entity.base_currency) == ("91310000X", "HK", "HKD")
    entry = AuditEntry.objects.get(action="org.entity.update")
    assert (entry.before["base_currency"], entry.after["base_currency"]) == ("CNY", "HKD")
    assert services.update_entity(entity, tax_id="91310000X", actor=admin) == []

    from backroom.finance.services.books import open_books

    open_books(entity, chart="ifrs", actor=SYSTEM)
    with pytest.raises(ValidationFailed) as caught:
        services.update_entity(entity, base_currency="CNY", tax_id="NEW", actor=admin)
    assert set(caught.value.details["fields"]) == {"base_currency"}
    entity.refresh_from_db()
    assert (entity.base_currency, entity.tax_id) == ("HKD", "91310000X")


def test_update_entity_validates_and_needs_org_manage_at_the_group(tree):
    admin = make_user("hq_admin", tree.group)
    entity = tree.entity.legal_entity
    with pytest.raises(ValidationFailed) as caught:
        services.update_entity(entity, country="CHN", base_currency="XXX", actor=admin)
    assert set(caught.value.details["fields"]) == {"country", "base_currency"}
    entity_admin = make_user("hq_admin", tree.entity)
    with pytest.raises(PermissionDenied):
        services.update_entity(entity, tax_id="X", actor=entity_admin)
    assert not AuditEntry.objects.filter(action="org.entity.update").exists()


def test_move_node_rewrites_the_paths_of_its_subtree(tree):
    admin = make_user("hq_admin", tree.group)
    west = services.create_node(
        services.NodeInput(kind="region", code="WEST", name="West", parent_id=tree.entity.pk),
        actor=admin,
    )
    moved = services.move_node(tree.region, parent=west, actor=admin, reason="reorg")
    assert (moved.parent_id, moved.path, moved.depth) == (
        west.pk,
        f"{west.path}{tree.region.pk:010d}/",
        west.depth + 1,
    )
    store = OrgNode.objects.get(pk=tree.store_a.pk)
    assert (store.path, store.depth) == (f"{moved.path}{store.pk:010d}/", moved.depth + 1)
    assert set(
        OrgNode.objects.filter(path__startswith=west.path).values_list("code", flat=True)
    ) == {
        "WEST",
        "EAST",
        "SHA001",
        "SHA002",
    }
    entry = AuditEntry.objects.get(action="org.node.move")
    assert (entry.before["parent"], entry.after["parent"], entry.reason) == (
        tree.entity.pk,
        west.pk,
        "reorg",
    )
    assert OutboxEvent.objects.filter(
        event_type="org.node.updated", payload__code="EAST", payload__changed=["parent"]
    ).exists()
    # Back again: the paths are as they were.
    services.move_node(moved, parent=tree.entity, actor=admin)
    assert OrgNode.objects.get(pk=tree.store_a.pk).path == tree.store_a.path


def test_move_node_refuses_bad_parents_and_needs_org_manage_at_both_ends(tree):
    admin = make_user("hq_admin", tree.group)
    cases = [
        (tree.region, tree.store_a),  # a region under a store
        (tree.region, tree.region),  # under itself
        (tree.store_a, tree.entity_hk),  # another legal entity
    ]
    for node, parent in cases:
        with pytest.raises(ValidationFailed) as caught:
            services.move_node(node, parent=parent, actor=admin)
        assert set(caught.value.details["fields"]) == {"parent_id"}
    inner = services.create_node(
        services.NodeInput(kind="region", code="INNER", name="Inner", parent_id=tree.region.pk),
        actor=admin,
    )
    with pytest.raises(ValidationFailed):  # under its own descendant
        services.move_node(tree.region, parent=inner, actor=admin)
    region_admin = make_user("hq_admin", tree.region)
    with pytest.raises(PermissionDenied):  # a site's move needs org.manage at its parent too
        services.move_node(tree.store_a, parent=inner, actor=make_user("hq_admin", tree.store_a))
    services.move_node(tree.store_a, parent=inner, actor=region_admin)
    with pytest.raises(NotFound):  # they cannot see the entity, let alone manage it
        services.move_node(inner, parent=tree.entity, actor=region_admin)
    with pytest.raises(PermissionDenied):  # nor a region hanging at the entity
        services.move_node(tree.region, parent=inner, actor=region_admin)
    assert OrgNode.objects.get(pk=tree.region.pk).path == tree.region.path
    assert AuditEntry.objects.filter(action="org.node.move").count() == 1
