"""The P&L by store, region, brand and entity: page, drill-down and API twin."""

from __future__ import annotations

import pytest

from backroom.finance.services.journals import create_journal
from backroom.finance.tests import test_pages
from backroom.finance.tests.conftest import DAY, D, line
from backroom.kernel.actors import SYSTEM
from backroom.org.models import Brand
from backroom.testing.factories import client_for
from backroom.testing.matrix import assert_matrix

pytestmark = pytest.mark.django_db
people, november = test_pages.people, test_pages.november  # fixtures shared with the pages


@pytest.fixture
def head_office(books):
    """50.00 of stationery booked without a store (a head-office cost)."""
    return create_journal(
        books.cn,
        actor=SYSTEM,
        date=DAY,
        description="Head-office stationery",
        lines=[line("5602.02", "50"), line("1002", "-50")],
        post=True,
    )


@pytest.fixture
def noodle_brand(tree):
    brand = Brand.objects.create(code="NOODLE", name="Noodle Bar")
    tree.store_b.site.brand = brand
    tree.store_b.site.save()
    return brand


def test_pnl_by_region_and_brand_on_the_page(
    books,
    tree,
    people,
    november,
    head_office,
    noodle_brand,
):
    """Golden numbers: store A's profit 523.40 and store B's −50.00 make the East region's
    473.40; the entity adds the head office's −50.00 (423.40); the Noodle Bar brand is store
    B alone (−50.00)."""
    client = client_for(people["finance"])
    base = f"/finance/pnl/?book={books.cn.pk}&start=2026-11"
    api = f"/api/v1/finance/books/{books.cn.pk}/pnl?start=2026-11-01"
    cases = [
        ("", D("423.40")),
        (f"&region={tree.region.pk}", D("473.40")),
        (f"&brand={noodle_brand.pk}", D("-50.00")),
        (f"&region={tree.region.pk}&brand={noodle_brand.pk}", D("-50.00")),
        (f"&store={november.pk}", D("523.40")),
    ]
    for query, expected in cases:
        data = client.get(
            api
            + query.replace("region=", "region_id=")
            .replace("brand=", "brand_id=")
            .replace("store=", "store_id=")
        ).json()
        assert D(data["profit"][0]) == expected, query
        page = client.get(base + query).content.decode()
        assert f"{expected:.2f}" in page, query
    page = client.get(base + f"&region={tree.region.pk}").content.decode()
    assert 'id="f-region"' in page and 'id="f-brand"' in page
    assert f"region={tree.region.pk}" in page  # the figures drill down within the region
    journals = client.get(
        f"/finance/?book={books.cn.pk}&account=5602.02&region={tree.region.pk}"
    ).content.decode()
    assert "Head-office stationery" not in journals
    journals = client.get(f"/finance/?book={books.cn.pk}&account=5602.02").content.decode()
    assert "Head-office stationery" in journals


def test_pnl_api_matrix(books, tree, people, november):
    url = f"/api/v1/finance/books/{books.cn.pk}/pnl?start=2026-11-01"
    result = assert_matrix(
        "GET",
        url,
        allowed=people["finance"],
        forbidden=people["staff"],
        other_scope=people["hk_finance"],
        expect_forbidden=404,
    )
    data = result.allowed.json()
    assert data["store_ids"] is None and data["currency"] == "CNY"
    assert [c["start"] for c in data["columns"]] == ["2026-11-01", "2026-10-01", "2025-11-01"]
    assert [line["account_code"] for line in data["revenue"]["lines"]] == ["5001.02"]
    assert data["food_cost_pct"][0] == "31.8"
    # The books are the entity's: a region manager (finance.view at the region) does not see
    # them; HQ finance chooses the region.
    assert client_for(people["region"]).get(url).status_code == 404
    by_region = client_for(people["finance"]).get(url + f"&region_id={tree.region.pk}").json()
    assert sorted(by_region["store_ids"]) == sorted([tree.store_a.site.pk, tree.store_b.site.pk])
    missing = client_for(people["finance"]).get(url + f"&store_id={tree.store_hk.site.pk}")
    assert missing.status_code == 404
