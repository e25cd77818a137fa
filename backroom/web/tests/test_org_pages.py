from django.urls import reverse

from backroom.audit.models import AuditEntry
from backroom.events.models import OutboxEvent
from backroom.org.models import OrgNode, Site
from backroom.testing.factories import client_for, make_user
from backroom.web.tests.conftest import counts

VALID_SITE = {
    "name": "People's Square",
    "time_zone": "Asia/Shanghai",
    "cutoff_hour": "5",
    "city": "Shanghai",
    "address": "300 East Nanjing Road",
    "status": "open",
    "reason": "moved the cut-off",
}


def test_tree_shows_the_visible_subtree_indented(tree, django_assert_max_num_queries):
    admin = make_user("hq_admin", tree.group)
    manager = make_user("store_manager", tree.store_a)
    client = client_for(admin)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("web:org_tree"))
    assert response.status_code == 200
    rows = response.context["rows"]
    assert [(row["node"].code, row["indent"]) for row in rows] == [
        ("GRP", 0),
        ("CN-CO", 1),
        ("EAST", 2),
        ("SHA001", 3),
        ("SHA002", 3),
        ("HK-CO", 1),
        ("HKG001", 2),
    ]
    assert response.context["can_manage"] is True
    response = client_for(manager).get(reverse("web:org_tree"))
    assert [(row["node"].code, row["indent"]) for row in response.context["rows"]] == [
        ("SHA001", 0)
    ]
    assert response.context["can_manage"] is False
    assert 'data-testid="new-node"' not in response.content.decode()


def test_tree_without_a_role_is_forbidden(tree):
    assert client_for(make_user()).get(reverse("web:org_tree")).status_code == 403


def test_site_of_another_store_is_not_found(tree):
    manager = make_user("store_manager", tree.store_a)
    client = client_for(manager)
    assert client.get(reverse("web:site_detail", args=[tree.store_b.site.pk])).status_code == 404
    before = counts()
    response = client.post(reverse("web:site_detail", args=[tree.store_b.site.pk]), VALID_SITE)
    assert response.status_code == 404
    assert counts() == before


def test_viewer_sees_details_without_a_form_and_cannot_post(tree):
    manager = make_user("store_manager", tree.store_a)
    client = client_for(manager)
    response = client.get(reverse("web:site_detail", args=[tree.store_a.site.pk]))
    assert response.status_code == 200
    assert response.context["form"] is None
    before = counts()
    response = client.post(reverse("web:site_detail", args=[tree.store_a.site.pk]), VALID_SITE)
    assert response.status_code == 403
    assert counts() == before
    assert Site.objects.get(pk=tree.store_a.site.pk).cutoff_hour == 4


def test_manager_of_org_edits_a_site(tree):
    admin = make_user("hq_admin", tree.region)
    site = tree.store_a.site
    before = counts()
    response = client_for(admin).post(reverse("web:site_detail", args=[site.pk]), VALID_SITE)
    assert response.status_code == 302
    assert response["Location"] == reverse("web:site_detail", args=[site.pk])
    site = Site.objects.select_related("node").get(pk=site.pk)
    assert (site.node.name, site.cutoff_hour, site.address) == (
        "People's Square",
        5,
        "300 East Nanjing Road",
    )
    entry = AuditEntry.objects.get(action="org.site.update", target_id=str(site.node_id))
    assert entry.actor_id == admin.pk
    assert entry.reason == "moved the cut-off"
    assert (entry.before["cutoff_hour"], entry.after["cutoff_hour"]) == (4, 5)
    event = OutboxEvent.objects.get(event_type="org.node.updated")
    assert sorted(event.payload["changed"]) == ["address", "cutoff_hour", "name"]
    assert counts().audit == before.audit + 1


def test_invalid_site_edit_shows_every_error_and_changes_nothing(tree):
    admin = make_user("hq_admin", tree.group)
    site = tree.store_a.site
    before = counts()
    response = client_for(admin).post(
        reverse("web:site_detail", args=[site.pk]),
        {**VALID_SITE, "name": " ", "time_zone": "Mars/Olympus", "cutoff_hour": "30"},
    )
    assert response.status_code == 422
    form = response.context["form"]
    assert set(form.errors) == {"name", "time_zone", "cutoff_hour"}
    assert "is-invalid" in response.content.decode()
    assert counts() == before
    assert Site.objects.get(pk=site.pk).cutoff_hour == 4


def test_org_manager_creates_a_store(tree):
    admin = make_user("hq_admin", tree.group)
    before = counts()
    response = client_for(admin).post(
        reverse("web:node_create"),
        {
            "kind": "store",
            "parent": tree.region.pk,
            "code": "sha009",
            "name": "Xintiandi",
            "time_zone": "Asia/Shanghai",
            "cutoff_hour": "3",
            "city": "Shanghai",
            "status": "planned",
        },
    )
    node = OrgNode.objects.get(code="SHA009")
    assert response.status_code == 302
    assert response["Location"] == reverse("web:site_detail", args=[node.site.pk])
    assert (node.parent_id, node.site.cutoff_hour, node.site.status) == (
        tree.region.pk,
        3,
        "planned",
    )
    AuditEntry.objects.get(action="org.node.create", target_id=str(node.pk), actor=admin)
    OutboxEvent.objects.get(event_type="org.node.created", payload__code="SHA009")
    after = counts()
    assert (after.nodes, after.sites, after.audit) == (
        before.nodes + 1,
        before.sites + 1,
        before.audit + 1,
    )


def test_new_node_is_forbidden_without_org_manage_and_invalid_input_changes_nothing(tree):
    manager = make_user("store_manager", tree.store_a)
    assert client_for(manager).get(reverse("web:node_create")).status_code == 403
    admin = make_user("hq_admin", tree.region)
    before = counts()
    response = client_for(admin).post(
        reverse("web:node_create"),
        {
            "kind": "entity",
            "parent": tree.region.pk,
            "code": "SHA001",
            "name": "Dup",
            "base_currency": "XXX",
            "country": "C1",
        },
    )
    assert response.status_code == 422
    assert set(response.context["form"].errors) == {
        "parent",
        "code",
        "base_currency",
        "country",
    }
    assert counts() == before


def test_new_node_parent_outside_scope_is_rejected(tree):
    admin = make_user("hq_admin", tree.region)
    before = counts()
    response = client_for(admin).post(
        reverse("web:node_create"),
        {"kind": "store", "parent": tree.entity_hk.pk, "code": "HKG009", "name": "Central"},
    )
    assert response.status_code == 422
    assert "parent" in response.context["form"].errors
    assert counts() == before
