"""Order guides and delivery calendars from a warehouse or central kitchen (配送): exactly one
source per guide and calendar (supplier or site), the distribution schedule's dates, the API's
permission matrix for the new endpoints, and another store's guide out of sight."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.db import IntegrityError, transaction

from backroom.audit.models import AuditEntry
from backroom.kernel import clock
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import ValidationFailed
from backroom.org.choices import NodeKind
from backroom.procurement import services
from backroom.procurement.models import (
    DeliveryCalendar,
    DeliveryException,
    OrderGuide,
    OrderGuideLine,
)
from backroom.procurement.tests.conftest import D
from backroom.testing.factories import client_for, make_node, make_user
from backroom.testing.matrix import assert_matrix

API = "/api/v1/procurement"
NOW = dt.datetime(2025, 3, 10, 1, 0, tzinfo=dt.UTC)  # Monday 09:00 in Shanghai


@pytest.fixture(autouse=True)
def _clock():
    with clock.at(NOW):
        yield


def guides_state() -> tuple[Any, ...]:
    return (
        list(
            OrderGuide.objects.order_by("pk").values_list(
                "pk", "store_id", "supplier_id", "source_site_id"
            )
        ),
        list(
            OrderGuideLine.objects.order_by("pk").values_list(
                "pk", "guide_id", "supplier_item_id", "item_id", "unit", "pack_size", "par_quantity"
            )
        ),
        list(
            DeliveryCalendar.objects.order_by("pk").values_list(
                "pk", "supplier_id", "source_site_id", "node_id", "weekdays", "lead_time_days"
            )
        ),
        DeliveryException.objects.count(),
    )


def _warehouse_guide(world, actor=SYSTEM):
    return services.set_distribution_guide(
        world.store,
        world.warehouse,
        [
            services.DistributionGuideLineInput(
                item_id=world.oil.pk, unit="bottle", pack_size=D(6), par_quantity=D(12)
            ),
            services.DistributionGuideLineInput(item_id=world.tomato.pk),
        ],
        actor=actor,
    )


# --- services and the database ----------------------------------------------------------------


def test_a_distribution_guide_names_items_in_their_units(world, tree):
    guide = _warehouse_guide(world)
    assert (guide.store, guide.supplier, guide.source_site) == (world.store, None, world.warehouse)
    rows = list(
        guide.lines.order_by("position").values_list(
            "supplier_item_id", "item__sku", "unit", "pack_size", "par_quantity", "position"
        )
    )
    assert rows == [
        (None, "OIL", "bottle", D(6), D(12), 0),
        (None, "TOMATO", "kg", None, None, 1),  # the base unit when none is given
    ]
    entry = AuditEntry.objects.get(action="procurement.order_guide.set")
    assert entry.after["source_site"] == "WH01"
    assert [line["item_id"] for line in entry.after["lines"]] == [world.oil.pk, world.tomato.pk]
    # Replacing keeps one guide per store × site.
    services.set_distribution_guide(
        world.store,
        world.warehouse,
        [services.DistributionGuideLineInput(item_id=world.milk.pk, unit="crate")],
        actor=SYSTEM,
    )
    assert OrderGuide.objects.get(source_site=world.warehouse).lines.get().item == world.milk


def test_supplier_guides_work_as_before_and_name_their_item(world, tree):
    guide = services.set_order_guide(
        world.store,
        world.supplier,
        [world.tomato_si.pk, world.oil_si.pk],
        pars={world.oil_si.pk: D(12)},
        actor=SYSTEM,
    )
    assert list(
        guide.lines.order_by("position").values_list("supplier_item_id", "item_id", "unit")
    ) == [(world.tomato_si.pk, world.tomato.pk, ""), (world.oil_si.pk, world.oil.pk, "")]
    line = guide.lines.select_related("supplier_item").get(item=world.oil)
    assert (line.order_unit, line.order_pack_size) == ("bottle", D(6))
    assert services.next_delivery_dates(world.supplier, world.store, NOW) == [
        dt.date(2025, 3, 11),
        dt.date(2025, 3, 12),
    ]


def test_every_bad_line_at_once_and_nothing_changed(world, tree):
    _warehouse_guide(world)
    before = guides_state()
    with pytest.raises(ValidationFailed) as caught:
        services.set_distribution_guide(
            world.store,
            world.warehouse,
            [
                services.DistributionGuideLineInput(item_id=world.oil.pk, unit="crate"),
                services.DistributionGuideLineInput(item_id=999_999),
                services.DistributionGuideLineInput(item_id=world.tomato.pk, pack_size=D(0)),
                services.DistributionGuideLineInput(item_id=world.tomato.pk),
                services.DistributionGuideLineInput(item_id=world.milk.pk, par_quantity=D(-1)),
            ],
            actor=SYSTEM,
        )
    assert set(caught.value.errors) == {
        "lines.0.unit",
        "lines.1.item_id",
        "lines.2.pack_size",
        "lines.3.item_id",
        "lines.4.par_quantity",
    }
    assert guides_state() == before


def test_a_store_is_not_a_source_and_neither_is_the_store_itself(world, tree):
    before = guides_state()
    for source in (world.store_b, world.store):
        with pytest.raises(ValidationFailed) as caught:
            services.set_distribution_guide(world.store, source, [], actor=SYSTEM)
        assert caught.value.errors == {"source_site_id": ["Choose a warehouse or central kitchen."]}
    assert guides_state() == before


def test_a_calendar_names_a_supplier_or_a_site_never_both_nor_neither(world, tree):
    data = services.CalendarInput(node_id=tree.region.pk, weekdays=[2, 5], cutoff_time=dt.time(14))
    before = guides_state()
    with pytest.raises(ValidationFailed) as both:
        services.set_delivery_calendar(
            world.supplier, data, actor=SYSTEM, source_site=world.warehouse
        )
    assert (both.value.http_status, both.value.errors) == (
        422,
        {"source_site_id": ["Name either a supplier or a warehouse / central kitchen, not both."]},
    )
    with pytest.raises(ValidationFailed) as neither:
        services.set_delivery_calendar(None, data, actor=SYSTEM)
    assert neither.value.errors == {
        "source_site_id": ["Name a supplier or a warehouse / central kitchen."]
    }
    with pytest.raises(ValidationFailed) as store:
        services.set_delivery_calendar(None, data, actor=SYSTEM, source_site=world.store_b)
    assert list(store.value.errors) == ["source_site_id"]
    assert guides_state() == before


@pytest.mark.parametrize("model", ["guide", "calendar"])
def test_the_database_refuses_both_or_neither_source(world, tree, model):
    def make(**source):
        if model == "guide":
            return OrderGuide.objects.create(store=world.store, **source)
        return DeliveryCalendar.objects.create(
            node=tree.region, weekdays=[1], cutoff_time=dt.time(10), **source
        )

    for source in ({}, {"supplier": world.supplier, "source_site": world.warehouse}):
        with pytest.raises(IntegrityError, match="one_source"), transaction.atomic():
            make(**source)
    make(source_site=world.warehouse)
    with pytest.raises(IntegrityError), transaction.atomic():
        make(source_site=world.warehouse)  # one per store (or node) × site


def test_the_database_refuses_a_line_without_item_and_unit(world, tree):
    guide = _warehouse_guide(world)
    with pytest.raises(IntegrityError, match="has_item"), transaction.atomic():
        OrderGuideLine.objects.create(guide=guide, item=world.milk, unit="")
    with pytest.raises(IntegrityError, match="pack_positive"), transaction.atomic():
        OrderGuideLine.objects.create(guide=guide, item=world.milk, unit="l", pack_size=D(0))


# --- the distribution schedule ------------------------------------------------------------------


def test_next_delivery_dates_from_a_sites_calendar(world, tree):
    """The warehouse delivers the region Tue/Fri, orders by 14:00 store time, lead time one day
    (none given); SH's own calendar delivers daily from day 2. Without a calendar: every
    day, a day ahead."""
    monday_morning = NOW
    monday_afternoon = dt.datetime(2025, 3, 10, 7, 0, tzinfo=dt.UTC)  # 15:00 in Shanghai
    assert services.next_delivery_dates(world.warehouse, world.store, monday_morning) == [
        dt.date(2025, 3, 11),
        dt.date(2025, 3, 12),
    ]
    services.set_delivery_calendar(
        None,
        services.CalendarInput(
            node_id=tree.region.pk,
            weekdays=[2, 5],
            cutoff_time=dt.time(14),
            exceptions={dt.date(2025, 3, 14): False, dt.date(2025, 3, 16): True},
        ),
        actor=SYSTEM,
        source_site=world.warehouse,
    )
    rule = services.calendar_for(world.warehouse, world.store)
    assert (rule.lead_time_days, rule.cutoff_time) == (1, dt.time(14))
    assert services.next_delivery_dates(world.warehouse, world.store, monday_morning, count=3) == [
        dt.date(2025, 3, 11),
        dt.date(2025, 3, 16),  # Friday the 14th off, Sunday the 16th extra
        dt.date(2025, 3, 18),
    ]
    assert services.next_delivery_dates(world.warehouse, world.store, monday_afternoon) == [
        dt.date(2025, 3, 16),  # ordered on Tuesday → from Wednesday
        dt.date(2025, 3, 18),
    ]
    services.set_delivery_calendar(
        None,
        services.CalendarInput(
            node_id=tree.store_a.pk,
            weekdays=[1, 2, 3, 4, 5, 6, 7],
            cutoff_time=dt.time(20),
            lead_time_days=2,
        ),
        actor=SYSTEM,
        source_site=world.warehouse,
    )
    assert services.next_delivery_dates(world.warehouse, world.store, monday_afternoon) == [
        dt.date(2025, 3, 12),
        dt.date(2025, 3, 13),
    ]
    # The supplier's calendars are apart: none set, so every day, its lead time.
    assert services.calendar_for(world.supplier, world.store).calendar_id is None


# --- the API --------------------------------------------------------------------------------


def test_put_distribution_guide_matrix(world, tree):
    result = assert_matrix(
        "PUT",
        f"{API}/stores/{world.store.pk}/order-guides/sites/{world.warehouse.pk}",
        payload={
            "lines": [
                {"item_id": world.oil.pk, "unit": "bottle", "pack_size": "6", "par_quantity": "12"},
                {"item_id": world.tomato.pk, "par_quantity": "20"},
            ]
        },
        allowed=make_user("buyer", tree.group),
        forbidden=make_user("store_manager", tree.store_a),  # sees the store, may not manage
        other_scope=make_user("buyer", tree.store_b),  # manages store B only
        snapshot=guides_state,
    )
    body = result.allowed.json()
    assert (body["supplier_id"], body["supplier_code"]) == (None, None)
    assert (body["source_site_id"], body["source_site_code"]) == (world.warehouse.pk, "WH01")
    assert [
        (row["sku"], row["supplier_item_id"], row["unit"], row["pack_size"], row["par_quantity"])
        for row in body["lines"]
    ] == [
        ("OIL", None, "bottle", "6.000000", "12.000000"),
        ("TOMATO", None, "kg", None, "20.000000"),
    ]
    guide = OrderGuide.objects.get(source_site=world.warehouse)
    assert guide.lines.count() == 2
    assert AuditEntry.objects.filter(action="procurement.order_guide.set").count() == 1


def test_put_distribution_guide_errors_are_coded(world, tree):
    buyer = client_for(make_user("buyer", tree.group))
    url = f"{API}/stores/{world.store.pk}/order-guides/sites"
    before = guides_state()

    def put(site_id, lines):
        return buyer.put(
            f"{url}/{site_id}", json.dumps({"lines": lines}), content_type="application/json"
        )

    store = put(world.store_b.pk, [{"item_id": world.oil.pk}])
    assert (store.status_code, store.json()["code"]) == (422, "invalid")
    assert store.json()["details"]["fields"] == {
        "source_site_id": ["Choose a warehouse or central kitchen."]
    }
    lines = put(
        world.warehouse.pk,
        [{"item_id": world.oil.pk, "unit": "sack"}, {"item_id": world.tomato.pk, "pack_size": "0"}],
    )
    assert lines.status_code == 422
    missing = put(999_999, [])
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    assert guides_state() == before


def test_another_stores_guides_are_out_of_sight(world, tree):
    _warehouse_guide(world)
    manager_b = client_for(make_user("store_manager", tree.store_b))
    listing = manager_b.get(f"{API}/stores/{world.store.pk}/order-guides")
    assert (listing.status_code, listing.json()["code"]) == (404, "not_found")
    own = manager_b.get(f"{API}/stores/{world.store_b.pk}/order-guides")
    assert own.json() == {"items": [], "count": 0}
    manager_a = client_for(make_user("store_manager", tree.store_a))
    rows = manager_a.get(f"{API}/stores/{world.store.pk}/order-guides").json()["items"]
    assert [(row["supplier_id"], row["source_site_code"]) for row in rows] == [(None, "WH01")]


def test_guides_list_suppliers_first_then_sites(world, tree):
    _warehouse_guide(world)
    kitchen = make_node(NodeKind.KITCHEN, tree.region, "CK01").site
    services.set_distribution_guide(
        world.store,
        kitchen,
        [services.DistributionGuideLineInput(item_id=world.milk.pk, unit="l")],
        actor=SYSTEM,
    )
    services.set_order_guide(world.store, world.supplier, [world.tomato_si.pk], actor=SYSTEM)
    rows = (
        client_for(make_user("store_staff", tree.store_a))
        .get(f"{API}/stores/{world.store.pk}/order-guides")
        .json()["items"]
    )
    assert [(row["supplier_code"], row["source_site_code"]) for row in rows] == [
        ("FRESH", None),
        (None, "CK01"),
        (None, "WH01"),
    ]
    assert rows[0]["lines"][0]["unit"] == "case" and rows[0]["lines"][0]["pack_size"] == "1.000000"


def test_put_distribution_calendar_matrix(world, tree):
    result = assert_matrix(
        "PUT",
        f"{API}/sites/{world.warehouse.pk}/calendars/{tree.region.pk}",
        payload={
            "weekdays": [2, 5],
            "cutoff_time": "14:00",
            "exceptions": [{"date": "2025-03-14", "delivers": False}],
        },
        allowed=make_user("buyer", tree.group),
        forbidden=make_user("region_manager", tree.region),  # sees the warehouse, no manage
        other_scope=make_user("buyer", tree.store_hk),  # another entity's buyer
        snapshot=guides_state,
    )
    body = result.allowed.json()
    assert (body["supplier_id"], body["source_site_id"], body["node_code"]) == (
        None,
        world.warehouse.pk,
        "EAST",
    )
    assert (body["weekdays"], body["lead_time_days"]) == ([2, 5], None)
    assert body["exceptions"] == [{"date": "2025-03-14", "delivers": False, "note": ""}]
    entry = AuditEntry.objects.get(action="procurement.calendar.set")
    assert (entry.after["source_site"], entry.after["node"]) == ("WH01", "EAST")


def test_list_distribution_calendars_and_dates_matrix(world, tree):
    services.set_delivery_calendar(
        None,
        services.CalendarInput(node_id=tree.region.pk, weekdays=[2, 5], cutoff_time=dt.time(14)),
        actor=SYSTEM,
        source_site=world.warehouse,
    )
    readers = {
        "allowed": make_user("store_manager", tree.region),
        "forbidden": make_user("technician", tree.region),
        "other_scope": make_user("store_manager", tree.store_hk),
    }
    listed = assert_matrix(
        "GET",
        f"{API}/sites/{world.warehouse.pk}/calendars",
        expect_forbidden=404,
        snapshot=guides_state,
        **readers,
    )
    assert [row["weekdays"] for row in listed.allowed.json()] == [[2, 5]]
    dates = assert_matrix(
        "GET",
        f"{API}/sites/{world.warehouse.pk}/delivery-dates?store_id={world.store.pk}&count=3",
        expect_forbidden=404,
        snapshot=guides_state,
        **readers,
    )
    assert dates.allowed.json() == {
        "source_site_id": world.warehouse.pk,
        "store_id": world.store.pk,
        "calendar_id": DeliveryCalendar.objects.get(source_site=world.warehouse).pk,
        "dates": ["2025-03-11", "2025-03-14", "2025-03-18"],
    }
    # A store is not a distribution site; a supplier's calendar list is unchanged.
    buyer = client_for(make_user("buyer", tree.group))
    assert buyer.get(f"{API}/sites/{world.store.pk}/calendars").status_code == 404
    assert buyer.get(f"{API}/suppliers/{world.supplier.pk}/calendars").json() == []
