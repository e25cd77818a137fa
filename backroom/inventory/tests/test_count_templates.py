"""Count templates (盘点模板): create, update, archive through the services and the API; counts
started from a template follow its walk order and offer its count units."""

from __future__ import annotations

import json

import pytest

from backroom.audit.models import AuditEntry
from backroom.inventory import services
from backroom.inventory.counts import CountTemplateArchived, UnknownCountTemplate
from backroom.inventory.exceptions import BatchRejected
from backroom.inventory.models import CountLine, CountSheet, CountTemplate, CountTemplateLine
from backroom.inventory.services import TemplateLineInput
from backroom.inventory.tests.conftest import D, key, make_item
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import NotFound, PermissionDenied, ValidationFailed
from backroom.testing.factories import client_for, make_user
from backroom.testing.matrix import assert_matrix

BASE = "/api/v1/inventory"


@pytest.fixture
def people(tree):
    return {
        "manager": make_user("region_manager", tree.region),  # view, count, manage
        "store_manager": make_user("store_manager", tree.store_a),  # view, count (no manage)
        "tech_a": make_user("technician", tree.store_a),  # no inventory permission
        "manager_b": make_user("region_manager", tree.store_b),  # manage at store B only
    }


def _receive(stock, item, location, quantity, lot=None):
    services.receive(
        item=item,
        location=location,
        quantity=D(quantity),
        unit_cost=D(2),
        key=key(),
        actor=SYSTEM,
        **({"lot_code": lot} if lot else {}),
    )


def _template(stock, actor=SYSTEM, **extra):
    lines = extra.pop(
        "lines",
        [
            TemplateLineInput(stock.walk_in.pk, stock.milk.pk, shelf_order=2),
            TemplateLineInput(stock.dry.pk, stock.napkins.pk),
            TemplateLineInput(
                stock.walk_in.pk, stock.flour.pk, shelf_order=1, count_units=["bag", "kg"]
            ),
        ],
    )
    return services.create_count_template(
        stock.walk_in.site, actor=actor, name=extra.pop("name", "Weekly"), lines=lines, **extra
    )


def _rows(template):
    return list(
        CountTemplateLine.objects.filter(template=template)
        .order_by("shelf_order")
        .values_list("shelf_order", "location__code", "item__sku", "count_units")
    )


def test_a_template_lays_its_lines_out_in_walk_order(stock):
    template = _template(stock)
    # Walk-in first (it comes first), by shelf order there; then the dry store.
    assert _rows(template) == [
        (1, "WALKIN", "FLOUR", ["bag", "kg"]),
        (2, "WALKIN", "MILK", []),
        (3, "DRY", "NAPKIN", []),
    ]
    entry = AuditEntry.objects.get(action="inventory.count_template.create")
    assert entry.after["line_count"] == 3


def test_every_bad_line_of_a_template_is_reported_at_once(stock, tree):
    other = make_item("SOAP", "each", "supplies", kind="supplies")
    with pytest.raises(BatchRejected) as caught:
        services.create_count_template(
            stock.walk_in.site,
            actor=SYSTEM,
            name=" ",
            lines=[
                TemplateLineInput(stock.freezer_b.pk, stock.flour.pk),  # another store's
                TemplateLineInput(stock.walk_in.pk, stock.flour.pk, count_units=["crate"]),
                TemplateLineInput(stock.walk_in.pk, stock.flour.pk),  # twice
                TemplateLineInput(stock.walk_in.pk, 999999),
                TemplateLineInput(stock.walk_in.pk, other.pk, count_units=["kg"]),  # each ≠ kg
            ],
        )
    assert [(row["index"], row["code"]) for row in caught.value.lines] == [
        (0, "unknown_location"),
        (1, "unknown_unit"),
        (2, "invalid"),
        (3, "invalid"),
        (4, "missing_conversion"),
    ]
    assert caught.value.details["fields"] == {"name": ["Give the template a name."]}
    assert CountTemplate.objects.count() == 0
    assert not AuditEntry.objects.filter(action__startswith="inventory.count_template").exists()


def test_names_are_unique_among_a_stores_active_templates(stock):
    template = _template(stock)
    with pytest.raises(ValidationFailed) as caught:
        _template(stock)
    assert "name" in caught.value.errors
    services.archive_count_template(template, actor=SYSTEM)
    assert _template(stock).name == "Weekly"


def test_update_replaces_the_lines_and_archive_stops_new_counts(stock):
    template = _template(stock)
    services.update_count_template(
        template,
        actor=SYSTEM,
        name="Walk-in only",
        kind="cycle",
        lines=[TemplateLineInput(stock.walk_in.pk, stock.milk.pk, count_units=["l"])],
    )
    template.refresh_from_db()
    assert (template.name, template.kind) == ("Walk-in only", "cycle")
    assert _rows(template) == [(1, "WALKIN", "MILK", ["l"])]
    entry = AuditEntry.objects.get(action="inventory.count_template.update")
    assert (entry.before["name"], entry.after["name"]) == ("Weekly", "Walk-in only")
    services.archive_count_template(template, actor=SYSTEM)
    with pytest.raises(CountTemplateArchived):
        services.create_count_from_template(template, actor=SYSTEM)
    with pytest.raises(CountTemplateArchived):
        services.update_count_template(template, actor=SYSTEM, name="Again")
    assert CountSheet.objects.count() == 0


def test_a_full_count_follows_the_template_then_adds_what_else_is_held(stock):
    _receive(stock, stock.flour, stock.walk_in, "10", lot="A1")
    _receive(stock, stock.flour, stock.walk_in, "5", lot="A2")
    _receive(stock, stock.napkins, stock.walk_in, "100")  # held, not on the template
    template = _template(stock)
    sheet = services.create_count_from_template(template, actor=SYSTEM)
    assert (sheet.status, sheet.kind, sheet.template_id) == ("counting", "full", template.pk)
    lines = list(
        CountLine.objects.filter(sheet=sheet)
        .order_by("shelf_order")
        .values_list(
            "location__code", "item__sku", "lot__code", "theoretical_quantity", "count_units"
        )
    )
    assert lines == [
        ("WALKIN", "FLOUR", "A1", D(10), ["bag", "kg"]),
        ("WALKIN", "FLOUR", "A2", D(5), ["bag", "kg"]),
        ("WALKIN", "MILK", None, D(0), []),  # on the template, nothing on the books
        ("DRY", "NAPKIN", None, D(0), []),
        ("WALKIN", "NAPKIN", None, D(100), []),  # not on the template: at the end
    ]
    assert sorted(sheet.locations.values_list("code", flat=True)) == ["DRY", "WALKIN"]


def test_a_cycle_count_from_a_template_counts_its_lines_only(stock):
    _receive(stock, stock.flour, stock.walk_in, "10")
    _receive(stock, stock.milk, stock.walk_in, "4")
    template = _template(
        stock,
        kind="cycle",
        lines=[TemplateLineInput(stock.walk_in.pk, stock.flour.pk, count_units=["bag", "kg"])],
    )
    sheet = services.create_count_from_template(template, actor=SYSTEM)
    assert list(sheet.lines.values_list("item__sku", "count_units")) == [("FLOUR", ["bag", "kg"])]
    assert sheet.item_ids == [stock.flour.pk]
    line = sheet.lines.get()
    services.record_counts(
        sheet,
        [
            services.LineCount(
                line.pk, [services.CountEntry("bag", "0.5"), services.CountEntry("kg", "1")]
            )
        ],
        actor=SYSTEM,
    )
    line.refresh_from_db()
    assert line.counted_quantity == D("13.5")  # half a 25 kg bag + 1 kg


def test_template_writes_need_manage_at_the_store(stock, people):
    with pytest.raises(PermissionDenied):
        _template(stock, actor=people["store_manager"])
    with pytest.raises(NotFound):
        _template(stock, actor=people["manager_b"])
    template = _template(stock, actor=people["manager"])
    # A store manager counts from it but may not change it.
    services.create_count_from_template(template, actor=people["store_manager"])
    with pytest.raises(PermissionDenied):
        services.archive_count_template(template, actor=people["store_manager"])
    assert CountTemplate.objects.get().is_active is True


def test_another_sites_template_is_refused(stock, tree):
    template = _template(stock)
    with pytest.raises(UnknownCountTemplate):
        services.create_count(tree.store_b.site, actor=SYSTEM, template=template)


# --- API -------------------------------------------------------------------------------------


def _body(stock, **extra):
    return {
        "site_id": stock.walk_in.site_id,
        "name": "Weekly",
        "kind": "full",
        "lines": [
            {
                "location_id": stock.walk_in.pk,
                "item_id": stock.flour.pk,
                "count_units": ["bag", "kg"],
            },
            {"location_id": stock.walk_in.pk, "item_id": stock.milk.pk},
        ],
        **extra,
    }


def _templates():
    return list(CountTemplate.objects.values_list("id", "name", "is_active"))


def test_create_template_api_matrix(stock, people):
    result = assert_matrix(
        "POST",
        f"{BASE}/count-templates",
        payload=_body(stock),
        allowed=people["manager"],
        forbidden=people["store_manager"],
        other_scope=people["manager_b"],
        expect_allowed=201,
        snapshot=_templates,
    )
    body = result.allowed.json()
    assert (body["name"], body["line_count"]) == ("Weekly", 2)
    assert [(line["sku"], line["count_units"]) for line in body["lines"]] == [
        ("FLOUR", ["bag", "kg"]),
        ("MILK", []),
    ]


def test_template_api_reads_updates_and_archives(stock, people):
    template = _template(stock)
    url = f"{BASE}/count-templates/{template.pk}"
    assert_matrix(
        "GET",
        url,
        allowed=people["store_manager"],
        forbidden=people["tech_a"],
        other_scope=people["manager_b"],
        expect_forbidden=404,  # no inventory.view: the template is not there for them
    )
    listed = client_for(people["store_manager"]).get(f"{BASE}/count-templates")
    assert [row["id"] for row in listed.json()["items"]] == [template.pk]
    assert client_for(people["manager_b"]).get(f"{BASE}/count-templates").json()["items"] == []
    result = assert_matrix(
        "PATCH",
        url,
        payload={"name": "Renamed"},
        allowed=people["manager"],
        forbidden=people["store_manager"],
        other_scope=people["manager_b"],
        snapshot=_templates,
    )
    assert result.allowed.json()["name"] == "Renamed"
    bad = client_for(people["manager"]).patch(
        url,
        json.dumps(
            {
                "lines": [
                    {
                        "location_id": stock.walk_in.pk,
                        "item_id": stock.flour.pk,
                        "count_units": ["crate"],
                    }
                ]
            }
        ),
        content_type="application/json",
    )
    assert (bad.status_code, bad.json()["code"]) == (422, "batch_rejected")
    assert len(_rows(template)) == 3
    result = assert_matrix(
        "POST",
        f"{url}/archive",
        allowed=people["manager"],
        forbidden=people["store_manager"],
        other_scope=people["manager_b"],
        snapshot=_templates,
    )
    assert result.allowed.json()["is_active"] is False
    archived = client_for(people["manager"]).get(
        f"{BASE}/count-templates", {"include_archived": True}
    )
    assert [row["is_active"] for row in archived.json()["items"]] == [False]


def test_starting_a_count_from_a_template_through_the_api(stock, people):
    _receive(stock, stock.flour, stock.walk_in, "10")
    template = _template(stock)
    client = client_for(people["store_manager"])
    created = client.post(
        f"{BASE}/counts",
        json.dumps({"site_id": stock.walk_in.site_id, "template_id": template.pk}),
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    assert (created.json()["template_id"], created.json()["kind"]) == (template.pk, "full")
    detail = client.get(f"{BASE}/counts/{created.json()['id']}").json()
    assert [(line["sku"], line["count_units"]) for line in detail["lines"]] == [
        ("FLOUR", ["bag", "kg"]),
        ("MILK", ["l"]),  # no template units: the item's base unit
        ("NAPKIN", ["each"]),
    ]
    other_site = client_for(people["manager"]).post(
        f"{BASE}/counts",
        json.dumps({"site_id": stock.freezer_b.site_id, "template_id": template.pk}),
        content_type="application/json",
    )
    assert (other_site.status_code, other_site.json()["code"]) == (422, "unknown_count_template")
