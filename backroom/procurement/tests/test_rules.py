"""Golden numbers: pack rounding and MOQ, the delivery calendar, price validity."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from backroom.audit.models import AuditEntry
from backroom.events.models import OutboxEvent
from backroom.kernel.actors import SYSTEM
from backroom.procurement import services
from backroom.procurement.exceptions import NoValidPrice, PriceListOverlap
from backroom.procurement.models import PriceList, PriceListLine
from backroom.procurement.tests.conftest import D

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        ("0", "0"),
        ("-3", "0"),
        ("1", "12"),
        ("12", "12"),
        ("12.5", "18"),
        ("13", "18"),
        ("18", "18"),
        ("19", "24"),
    ],
)
def test_round_to_pack_with_packs_of_six_and_moq_twelve(world, quantity, expected):
    assert services.round_to_pack(D(quantity), world.oil_si) == D(expected)


@pytest.mark.parametrize(
    ("quantity", "expected"), [("0.2", "2"), ("2", "2"), ("2.1", "3"), ("7", "7")]
)
def test_round_to_pack_whole_cases_and_moq_two(world, quantity, expected):
    assert services.round_to_pack(D(quantity), world.tomato_si) == D(expected)


def test_order_quantity_problems_name_the_rounded_quantity(world):
    problems = services.order_quantity_problems(D(7), world.oil_si, line=0)
    assert [problem.code for problem in problems] == ["below_minimum_order", "not_pack_multiple"]
    assert problems[1].details["suggested"] == "12.000000"
    assert services.order_quantity_problems(D(18), world.oil_si) == []


def _calendar(world, node, weekdays, cutoff="14:00", lead=None, exceptions=None):
    return services.set_delivery_calendar(
        world.supplier,
        services.CalendarInput(
            node_id=node.pk,
            weekdays=weekdays,
            cutoff_time=dt.time.fromisoformat(cutoff),
            lead_time_days=lead,
            exceptions=exceptions or {},
        ),
        actor=SYSTEM,
    )


def test_delivery_dates_cutoff_and_lead_time(world, tree):
    # Region calendar: Mon, Wed, Fri; cut-off 14:00; the supplier's lead time (1 day).
    _calendar(world, tree.region, [1, 3, 5])
    monday_morning = dt.datetime(2025, 3, 10, 9, 0, tzinfo=SHANGHAI)
    monday_evening = dt.datetime(2025, 3, 10, 15, 0, tzinfo=SHANGHAI)
    # Before the cut-off: ordered Monday, earliest Tuesday → Wednesday, then Friday.
    assert services.next_delivery_dates(world.supplier, world.store, monday_morning) == [
        dt.date(2025, 3, 12),
        dt.date(2025, 3, 14),
    ]
    # After the cut-off the order counts for Tuesday: earliest Wednesday still.
    assert services.next_delivery_dates(world.supplier, world.store, monday_evening) == [
        dt.date(2025, 3, 12),
        dt.date(2025, 3, 14),
    ]
    tuesday_evening = dt.datetime(2025, 3, 11, 14, 1, tzinfo=SHANGHAI)
    # Past Tuesday's cut-off → order day Wednesday → earliest Thursday → Friday, Monday.
    assert services.next_delivery_dates(world.supplier, world.store, tuesday_evening) == [
        dt.date(2025, 3, 14),
        dt.date(2025, 3, 17),
    ]
    # The instant is read in the store's time zone: 06:59 UTC is 14:59 in Shanghai.
    utc = dt.datetime(2025, 3, 11, 6, 59, tzinfo=dt.UTC)
    assert services.next_delivery_dates(world.supplier, world.store, utc, count=1) == [
        dt.date(2025, 3, 14)
    ]


def test_store_calendar_overrides_region_with_lead_time_and_exceptions(world, tree):
    _calendar(world, tree.region, [1, 3, 5])
    _calendar(
        world,
        tree.store_a,
        [2, 4],
        cutoff="10:00",
        lead=2,
        exceptions={dt.date(2025, 3, 13): False, dt.date(2025, 3, 15): True},
    )
    monday = dt.datetime(2025, 3, 10, 9, 0, tzinfo=SHANGHAI)
    # Store A: Tue/Thu, lead 2 → earliest Wednesday; Thursday 13th is a holiday, Saturday
    # 15th an extra delivery, then Tuesday 18th.
    assert services.next_delivery_dates(world.supplier, world.store, monday, count=3) == [
        dt.date(2025, 3, 15),
        dt.date(2025, 3, 18),
        dt.date(2025, 3, 20),
    ]
    # Store B keeps the region's calendar.
    assert services.next_delivery_dates(world.supplier, world.store_b, monday) == [
        dt.date(2025, 3, 12),
        dt.date(2025, 3, 14),
    ]


def test_no_calendar_means_every_day_after_the_lead_time(world):
    assert services.next_delivery_dates(world.supplier, world.store, dt.date(2025, 3, 10)) == [
        dt.date(2025, 3, 11),
        dt.date(2025, 3, 12),
    ]


def test_price_validity_scope_and_gap(world, tree):
    services.create_price_list(
        world.supplier,
        services.PriceListInput(
            name="East spring",
            valid_from=dt.date(2025, 3, 1),
            valid_to=dt.date(2025, 3, 31),
            node_id=tree.region.pk,
            lines=[services.PriceLineInput(world.tomato.pk, D("78.00"))],
        ),
        actor=SYSTEM,
    )
    quote = services.price_for(world.supplier, world.tomato, world.store, dt.date(2025, 3, 31))
    assert (quote.price, quote.currency, quote.unit) == (D("78.0000"), "CNY", "case")
    # Outside the region's list the group list applies again.
    assert services.price_for(
        world.supplier, world.tomato, world.store, dt.date(2025, 4, 1)
    ).price == D("80.0000")
    # Before any list: a coded gap.
    with pytest.raises(NoValidPrice) as error:
        services.price_for(world.supplier, world.tomato, world.store, dt.date(2024, 12, 31))
    assert error.value.code == "no_valid_price"
    assert error.value.details["date"] == "2024-12-31"


def test_overlapping_price_list_is_refused_and_changes_nothing(world):
    before = (
        PriceList.objects.count(),
        PriceListLine.objects.count(),
        AuditEntry.objects.count(),
        OutboxEvent.objects.count(),
    )
    with pytest.raises(PriceListOverlap) as error:
        services.create_price_list(
            world.supplier,
            services.PriceListInput(
                name="Overlap",
                valid_from=dt.date(2025, 6, 1),
                lines=[services.PriceLineInput(world.tomato.pk, D("81"))],
            ),
            actor=SYSTEM,
        )
    assert error.value.code == "price_list_overlap"
    assert error.value.details["overlaps"][0]["sku"] == "TOMATO"
    assert before == (
        PriceList.objects.count(),
        PriceListLine.objects.count(),
        AuditEntry.objects.count(),
        OutboxEvent.objects.count(),
    )


def test_price_change_above_threshold_publishes_an_alert(world):
    from backroom.procurement.models import PriceList as Model

    Model.objects.filter(name="2025").update(valid_to=dt.date(2025, 5, 31))
    services.create_price_list(
        world.supplier,
        services.PriceListInput(
            name="June",
            valid_from=dt.date(2025, 6, 1),
            lines=[
                services.PriceLineInput(world.tomato.pk, D("92.00")),  # +15 %
                services.PriceLineInput(world.milk.pk, D("126.00")),  # +5 %
            ],
        ),
        actor=SYSTEM,
    )
    alert = OutboxEvent.objects.get(event_type="procurement.price.changed")
    assert [line["sku"] for line in alert.payload["lines"]] == ["TOMATO"]
    assert alert.payload["lines"][0]["change_percent"] == "15.00"
